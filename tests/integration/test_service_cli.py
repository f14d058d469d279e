"""The terminal client's streaming renderer against a live hearth, and ``hearth demo`` (native only)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.cli_chat import Renderer, stream_turn
from app.cli_demo import run_demo
from tests.plugins.service import Hearth

pytestmark = pytest.mark.agents


async def test_chat_client_streams_text_reasoning_and_tools(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    turn = await hearth.submit(chat, "native", "THINK please WRITE cli.txt from the client")
    out = io.StringIO()
    outcome = await stream_turn(hearth.client, turn["events_url"], Renderer(out, color=False))
    assert outcome == "turn_completed"
    text = out.getvalue()
    assert "Let me think step by step" in text
    assert "[tool write completed]" in text
    assert "Tool done:" in text
    assert text.rstrip().endswith("]")


async def test_demo_runs_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_demo(keep=False, native_only=True) == 0
    printed = capsys.readouterr().out
    assert "warm/cold speed-up" in printed
    assert "notes.md: by native" in printed
