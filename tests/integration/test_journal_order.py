"""A chat's journal is read in ``seq`` order by the chat SSE stream, which then asks only for ``seq > last``.

So a row must never become visible after a row of the same chat with a higher ``seq``: on PostgreSQL two
transactions appending for one chat (a running turn's events and the cancel of a queued turn) used to commit
out of sequence order and the chat stream skipped the earlier one for good.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest

from adapters.store.postgres import Conn, PostgresStore
from core.events import TextDelta, TurnCancelled
from core.model import Chat, Task

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class PausingPostgres(PostgresStore):
    """Holds the first append_events transaction open between its statements until released."""

    paused: asyncio.Event
    release: asyncio.Event

    async def _fault_point(self, conn: Conn, name: str) -> None:
        if name == "append_events" and not self.paused.is_set():
            self.paused.set()
            await self.release.wait()


async def test_a_chat_reader_never_skips_a_row_committed_late(pg_dsn: str) -> None:
    store = await PausingPostgres.open(pg_dsn)
    store.paused, store.release = asyncio.Event(), asyncio.Event()
    try:
        await store.create_chat(Chat(id="c1", repo_path="/repos/app", created_at=T0))
        for task_id in ("running", "queued"):
            await store.enqueue_task(Task(id=task_id, chat_id="c1", agent="native", prompt="p", created_at=T0))
        deltas = [TextDelta(session_id="s", turn_id="running", part_id="p", text=t) for t in ("a", "b")]
        streaming = asyncio.create_task(store.append_events("running", "c1", deltas))
        async with asyncio.timeout(10):
            await store.paused.wait()  # its first row has a seq, uncommitted
        cancel = TurnCancelled(session_id="", turn_id="queued", reason="cancelled before it started")
        cancelling = asyncio.create_task(store.append_events("queued", "c1", [cancel]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(cancelling), 0.5)  # commits now unless it waits its turn

        seen = await store.list_chat_events("c1")  # what a chat SSE stream sends at this moment
        store.release.set()
        await asyncio.wait_for(asyncio.gather(streaming, cancelling), 10)

        last = max((row.seq for row in seen), default=0)
        later = await store.list_chat_events("c1", last)
        everything = await store.list_chat_events("c1")
        assert [row.seq for row in seen + later] == [row.seq for row in everything]
        assert len(everything) == 3
    finally:
        store.release.set()
        await store.close()
