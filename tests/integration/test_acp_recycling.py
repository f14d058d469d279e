"""A warm ACP process that keeps the memory of sessions hearth let go of is recycled (real qwen, scripted LLM).

The budget is 0 here, so any detached session counts; the measured default (512 MiB) and why are in
``core/lifecycle/recycling.py`` and ADR 0004.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from returns.result import Success

from adapters.acp.warm import WarmAcpBackend
from adapters.store.sqlite import SqliteStore
from app.settings import Settings
from core.agents import BUILTIN_AGENTS, ProviderConfig
from core.events import TurnCompleted
from core.lifecycle import RecyclePolicy, SupervisorState
from core.ports.agents import SessionHandle, SessionSpec
from tests.plugins.backends import AGENTS_DIR, SystemClock, make_runtime, require_agent, run_turn
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")
ANY_DETACHED_SESSION = RecyclePolicy(max_detached_bytes=0)


async def open_chat(backend: WarmAcpBackend, root: Path, chat: str, resume_id: str | None = None) -> SessionHandle:
    worktree = root / chat
    worktree.mkdir(exist_ok=True)
    opened = await backend.open_session(SessionSpec(chat_id=chat, agent="qwen", cwd=str(worktree), resume_id=resume_id))
    assert isinstance(opened, Success), opened
    handle: SessionHandle = opened.unwrap()
    return handle


async def test_the_process_is_stopped_once_nothing_in_it_is_open_and_sessions_load_in_the_next(
    tmp_path: Path, provider_config: ProviderConfig
) -> None:
    require_agent(QWEN)
    store = await SqliteStore.open(tmp_path / "hearth.sqlite3")
    runtime = make_runtime(tmp_path / "data", provider_config)
    backend = WarmAcpBackend(QWEN, runtime, store, SystemClock(), recycle_policy=ANY_DETACHED_SESSION)
    try:
        first = await open_chat(backend, tmp_path, "chat-1")
        assert isinstance((await run_turn(first, "t1", "remember the word heron")).terminal, TurnCompleted)
        second = await open_chat(backend, tmp_path, "chat-2")
        assert isinstance((await run_turn(second, "t2", "hello")).terminal, TurnCompleted)
        (process,) = backend.processes()

        await second.close()  # evicted: qwen still holds the session, chat-1 is still open
        assert backend.processes() == [process]
        assert backend.wants_drain()  # the pool should empty it

        await first.close()  # nothing open any more: stopped, not crashed
        assert backend.processes() == []
        assert backend.recycled == 1
        assert backend.supervision.state is SupervisorState.HEALTHY
        assert await store.list_processes("test-node") == []  # reaped and forgotten

        again = await open_chat(backend, tmp_path, "chat-1", resume_id=first.backend_session_id)
        assert (again.resumed, again.context_reset_reason) == (True, None)  # session/load in the new process
        assert backend.processes()[0].pid != process.pid
        recalled = await run_turn(again, "t3", "RECALL")
        assert "remember the word heron" in recalled.text
        assert not backend.wants_drain()
    finally:
        await backend.aclose()
        await store.close()


async def test_the_pool_drains_an_agent_that_holds_evicted_sessions(
    hearth_settings: Settings, git_repo: Path, tmp_path: Path
) -> None:
    """max_live 1: each new chat evicts the last one's handle, whose session qwen keeps; the pool then drains
    qwen, the process stops, and every chat resumes its own session on its next turn."""
    require_agent(QWEN)
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent, "max_live": 1, "acp_recycle_mib": 0})
    async with serve_hearth(settings) as hearth:
        service = hearth.node
        chats = [(await hearth.create_chat(git_repo, title=f"chat {n}"))["id"] for n in range(2)]
        for n, chat in enumerate(chats):
            assert (await hearth.run_turn(chat, "qwen", f"remember the word bird{n}"))["status"] == "succeeded"
        # chat 0's handle was evicted at chat 1's end (LRU cap); qwen still holds its session: drain
        assert service.backends["qwen"].wants_drain()
        assert await service.pool.evict_idle() == [(chats[1], "qwen")]
        assert service.backends["qwen"].processes() == []

        for n, chat in enumerate(chats):
            turn = await hearth.run_turn(chat, "qwen", "RECALL")
            assert turn["status"] == "succeeded", turn
            reply = "".join(e["text"] for e in await hearth.events(turn["events_url"]) if e["type"] == "text_delta")
            assert f"remember the word bird{n}" in reply
        metrics = (await hearth.client.get("/metrics")).text
        assert 'hearth_crashes_total{agent="qwen"}' not in metrics or 'hearth_crashes_total{agent="qwen"} 0' in metrics
        sessions = (await hearth.client.get(f"/api/chats/{chats[0]}/agent-sessions")).json()["sessions"]
        assert sessions[0]["turns"] == 2
