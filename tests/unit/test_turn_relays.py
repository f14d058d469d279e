"""Cancels and permission answers sent to a node that does not run the turn reach the node that does (relayed
through the store), in milliseconds, with two engines on one store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.events import TextDelta
from core.model import TaskOrigin, TaskStatus
from core.ports.store import Store
from tests.doubles.engine import AGENT, WAIT_S, running_engine
from tests.doubles.scripted_backend import Gate, ask


async def test_a_cancel_and_an_answer_sent_to_another_node_reach_the_turn(
    fast_store: Store, git_repo: Path, tmp_path: Path
) -> None:
    worktrees = tmp_path / "worktrees"
    async with (
        running_engine(fast_store, git_repo.parent, worktrees, node_id="node-a") as a,
        running_engine(fast_store, git_repo.parent, worktrees, node_id="node-b", max_parallel=0) as b,
    ):
        chat = (await a.chats.create(str(git_repo), None, None)).id
        gate = Gate()
        a.backend.script([*ask("r1"), TextDelta(session_id="", turn_id="", part_id="p", text="ok"), gate])
        turn = await a.turns.submit(chat, AGENT, "work", None, TaskOrigin.CHAT)
        await a.until(lambda: bool(a.backend.sessions) and bool(a.backend.sessions[0]._answers))

        assert await b.turns.answer_permission(chat, turn.id, "r1", "allow") == "node-a"  # relayed
        await a.until(lambda: gate.reached.is_set())
        _, outcome = await b.turns.cancel(chat, turn.id)
        assert outcome == "interrupting"

        done = await a.finished(turn.id)
        assert done.status is TaskStatus.CANCELLED
        types = [row.event.type for row in await fast_store.list_events(turn.id)]
        assert types[-1] == "turn_cancelled"
        assert "permission_resolved" in types


async def test_a_cancel_sent_anywhere_after_the_end_says_so(fast_store: Store, git_repo: Path, tmp_path: Path) -> None:
    async with (
        running_engine(fast_store, git_repo.parent, tmp_path / "w", node_id="node-a") as a,
        running_engine(fast_store, git_repo.parent, tmp_path / "w", node_id="node-b", max_parallel=0) as b,
    ):
        chat = (await a.chats.create(str(git_repo), None, None)).id
        turn = await a.turns.submit(chat, AGENT, "quick", None, TaskOrigin.CHAT)
        await a.finished(turn.id)
        _, outcome = await b.turns.cancel(chat, turn.id)
        assert outcome == "already_finished"


async def test_a_relayed_cancel_reaches_the_turn_at_the_poll_however_often_the_node_is_woken_locally(
    fast_store: Store, git_repo: Path, tmp_path: Path
) -> None:
    """Each node has its own bus here, so no announcement carries the cancel: only node-a's poll takes it; local
    wake-ups (turns queued or ending there) claim work but never postpone that poll."""
    worktrees = tmp_path / "worktrees"
    async with (
        running_engine(fast_store, git_repo.parent, worktrees, node_id="node-a", poll_s=0.2) as a,
        running_engine(fast_store, git_repo.parent, worktrees, node_id="node-b", max_parallel=0) as b,
    ):
        chat = (await a.chats.create(str(git_repo), None, None)).id
        gate = Gate()
        a.backend.script([TextDelta(session_id="", turn_id="", part_id="p", text="ok"), gate])
        turn = await a.turns.submit(chat, AGENT, "work", None, TaskOrigin.CHAT)
        await a.until(lambda: gate.reached.is_set())

        _, outcome = await b.turns.cancel(chat, turn.id)
        assert outcome == "interrupting"
        async with asyncio.timeout(WAIT_S):
            while a.registry.get(turn.id) is not None:
                a.dispatcher.wake()  # far more often than the poll
                await asyncio.sleep(0.01)
        done = await a.finished(turn.id)
        assert done.status is TaskStatus.CANCELLED
