"""SQLite transactions a turn's bookkeeping marks ``inline`` run on the event loop without ever waiting there: a
write lock held by another process sends them to the connection's thread, which waits as every transaction does;
checkpoints stay on the thread, so the write-ahead log does not grow without end."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from adapters.store.sqlite import SqliteStore
from adapters.store.sqlite_conn import CHECKPOINT_EVERY
from core.model import AgentSessionStatus
from tests.integration.store.records import T0, chat, session
from tests.plugins.outages import sqlite_write_lock


async def test_an_inline_write_waits_off_the_loop_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "hearth.db")
    try:
        await store.create_chat(chat("c1"))
        await store.upsert_agent_session(session(status=AgentSessionStatus.IDLE))
        ran_inline = store._db.inline_runs
        await store.get_chat_and_worktree("c1")
        assert store._db.inline_runs == ran_inline + 1  # a turn's read: on the loop

        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async with asyncio.TaskGroup() as group:
            clock = group.create_task(ticking())
            async with sqlite_write_lock(store.path):
                write = group.create_task(
                    store.set_agent_session_status("c1", "opencode", AgentSessionStatus.BUSY, T0 + timedelta(1))
                )
                await asyncio.sleep(0.3)
                assert not write.done()  # the lock is held elsewhere: the write waits, on the thread
                assert ticks >= 10  # while the event loop goes on
            await write  # the lock is released: it goes through
            clock.cancel()
        assert store._db.inline_runs == ran_inline + 1  # that write fell back to the thread
        stored = await store.get_agent_session("c1", "opencode")
        assert stored is not None
        assert stored.status is AgentSessionStatus.BUSY
    finally:
        await store.close()


async def test_checkpoints_keep_the_write_ahead_log_bounded(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "hearth.db")
    try:
        await store.create_chat(chat("c1"))
        await store.upsert_agent_session(session())
        wal = tmp_path / "hearth.db-wal"
        sizes = []
        for round_ in range(4):
            for n in range(CHECKPOINT_EVERY):
                status = AgentSessionStatus.BUSY if n % 2 else AgentSessionStatus.IDLE
                await store.set_agent_session_status(
                    "c1", "opencode", status, T0 + timedelta(seconds=round_ * 1000 + n)
                )
            sizes.append(wal.stat().st_size)
        # a checkpoint lets later commits reuse the log from its start: it stops growing after the first round
        assert sizes[-1] <= sizes[0]
    finally:
        await store.close()
