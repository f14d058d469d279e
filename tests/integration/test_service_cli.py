"""The terminal client's streaming renderer against a live hearth, and ``hearth demo`` (native only)."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import pytest

from app.cli.chat import Renderer, stream_turn
from app.cli.demo import run_demo
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


async def test_hearth_chat_in_a_terminal_drives_a_whole_conversation(hearth: Hearth, git_repo: Path) -> None:
    """`hearth chat` as a user runs it (a process reading its stdin): a turn, a model switch, /diff, /apply."""
    script = "\n".join(
        [
            "WRITE chat.txt written from the terminal",
            "/model fake-small",
            "RECALL",
            "/model",
            "/diff",
            "/apply",
            "/quit",
        ]
    )
    command = [
        sys.executable,
        "-m",
        "app.cli.main",
        "chat",
        str(git_repo),
        "--agent",
        "native",
        "--url",
        hearth.base_url,
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate((script + "\n").encode())
    printed = out.decode()
    assert process.returncode == 0, err.decode()
    assert "[tool write completed]" in printed
    assert "next turns use fake-small" in printed
    assert "next turns use the agent default model" in printed
    assert "--- chat.txt (native)" in printed
    assert "applied" in printed
    assert (git_repo / "chat.txt").read_text() == "written from the terminal\n"

    (chat,) = (await hearth.client.get("/api/chats")).json()
    turns = (await hearth.client.get(f"/api/chats/{chat['id']}/turns")).json()
    assert [(t["prompt"], t["model"], t["status"]) for t in turns] == [
        ("WRITE chat.txt written from the terminal", None, "succeeded"),
        ("RECALL", "fake-small", "succeeded"),
    ]
