"""One event stream per OpenCode server: turns of several sessions, in several directories, share it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.agents import ProviderConfig
from core.events import TextDelta, TurnCompleted
from core.ports.agents import SessionSpec
from scripted_llm.llm import ScriptedLLM
from tests.plugins.opencode import make_git_repo, opencode_backend, opencode_runtime, run_turn, sqlite_registry

pytestmark = pytest.mark.agents


async def test_turns_of_two_chats_share_the_servers_one_event_stream(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig, llm: ScriptedLLM
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config)
    async with sqlite_registry(tmp_path / "hearth.sqlite3") as store, opencode_backend(runtime, store) as backend:
        handles = [
            (
                await backend.open_session(
                    SessionSpec(chat_id=name, agent="opencode", cwd=str(make_git_repo(tmp_path / name)))
                )
            ).unwrap()
            for name in ("a", "b")
        ]
        for round_ in range(2):
            results = await asyncio.gather(
                *(run_turn(handle, f"{i}-{round_}", f"say hello {i} {round_}") for i, handle in enumerate(handles))
            )
            for i, events in enumerate(results):
                assert isinstance(events[-1], TurnCompleted), events[-1]
                text = "".join(e.text for e in events if isinstance(e, TextDelta))
                assert f"say hello {i} {round_}" in text  # each turn got its own session's events, not the other's
        assert backend.stream_connections == 1
