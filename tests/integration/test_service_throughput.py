"""Parallel turns are bounded by agent handles, not a small fixed count, and a chat's queue drains without the poll.

Counted, never timed: the scripted LLM holds every ``HOLD`` request until the test releases them, so the number of
requests it answers at once is exactly the number of turns hearth runs at once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.settings import Settings
from core.agents import ProviderConfig
from scripted_llm.llm import ScriptedLLM
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents

CHATS = 12  # three times the old fixed bound of four parallel turns
WAIT_S = 60.0


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    """A scripted LLM of each test's own: the requests it counts at once are this test's only (an agent of an
    earlier test, an OpenCode naming its session, may still be asking the session-wide one)."""
    with ScriptedLLM() as own:
        yield own


@pytest.fixture
def provider_config(provider_config: ProviderConfig, llm: ScriptedLLM) -> ProviderConfig:
    urls = {"openai_base_url": llm.openai_base_url, "anthropic_base_url": llm.anthropic_base_url}
    return provider_config.model_copy(update=urls | {"gemini_base_url": llm.gemini_base_url})


async def _until(check: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_S):
            while not check():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


async def test_every_chat_turn_reaches_the_llm_at_once(hearth: Hearth, git_repo: Path, llm: ScriptedLLM) -> None:
    chats = [(await hearth.create_chat(git_repo))["id"] for _ in range(CHATS)]
    turns = [(chat, await hearth.submit(chat, "native", f"HOLD answer chat {i}")) for i, chat in enumerate(chats)]
    await _until(lambda: llm.in_flight() == CHATS, f"the LLM holds {CHATS} requests at once")
    assert hearth.node.registry.count() == CHATS
    llm.release_held()
    done = [await hearth.wait_turn(chat, turn["id"]) for chat, turn in turns]
    assert [t["status"] for t in done] == ["succeeded"] * CHATS
    assert llm.peak_in_flight() == CHATS


async def test_the_admission_bound_still_holds(hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM) -> None:
    settings = hearth_settings.model_copy(update={"max_parallel_turns": 3})
    async with serve_hearth(settings) as hearth:
        chats = [(await hearth.create_chat(git_repo))["id"] for _ in range(5)]
        turns = [(chat, await hearth.submit(chat, "native", "HOLD bounded")) for chat in chats]
        await _until(lambda: llm.in_flight() == 3, "three requests are held")
        queued = (await hearth.client.get(f"/api/chats/{chats[4]}/turns/{turns[4][1]['id']}")).json()
        assert queued["status"] == "queued"
        llm.release_held()
        done = [await hearth.wait_turn(chat, turn["id"]) for chat, turn in turns]
        assert [t["status"] for t in done] == ["succeeded"] * 5
        assert llm.peak_in_flight() == 3


async def test_a_chats_next_turn_starts_when_the_previous_ends_not_at_the_poll(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    settings = hearth_settings.model_copy(update={"dispatch_poll_s": 3600.0})  # only a wake-up can start a turn
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        turns = [await hearth.submit(chat, "native", f"turn {i}") for i in range(3)]
        done = [await hearth.wait_turn(chat, turn["id"]) for turn in turns]
        assert [t["status"] for t in done] == ["succeeded"] * 3
        assert [t["started_at"] >= prev["finished_at"] for prev, t in itertools.pairwise(done)] == [True] * 2
