"""Server-sent events of a turn or a whole chat: replay from the journal, then live, losing nothing.

Subscribe first, then replay, so nothing published in between is missed. The bus is only a wake-up: every
delivery reads the journal after the last sent ``seq``, so a dropped or reordered notification cannot create a
gap, and a quiet period still polls the journal now and then. ``id:`` is the store's ``seq``; a client that
reconnects with ``Last-Event-ID`` gets exactly what it has not seen. A turn stream ends after the turn's
terminal event; keep-alive comments flow while nothing happens. Some writers store the terminal status before
journaling the terminal event (the cancel of a queued turn, startup recovery), so a finished turn whose journal
has no terminal event yet is given ``TERMINAL_GRACE_S`` for it before the stream ends without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from litestar.response import ServerSentEventMessage

from core.events import dump_event, is_terminal
from core.model import StoredEvent
from core.ports.bus import EventBus
from core.ports.store import Store

KEEPALIVE_S = 15.0
POLL_S = 2.0
TERMINAL_GRACE_S = 2.0


def parse_last_event_id(value: str | None) -> int:
    try:
        return max(0, int(value)) if value else 0
    except ValueError:
        return 0


def _message(row: StoredEvent) -> ServerSentEventMessage:
    data = {"seq": row.seq, "task_id": row.task_id, "chat_id": row.chat_id, **dump_event(row.event)}
    # no event name: plain "message" events reach EventSource.onmessage; the type is inside the data
    return ServerSentEventMessage(data=json.dumps(data), id=str(row.seq))


async def event_stream(
    store: Store,
    bus: EventBus,
    chat_id: str,
    task_id: str | None,
    after_seq: int,
    keepalive_s: float = KEEPALIVE_S,
) -> AsyncIterator[ServerSentEventMessage]:
    fetch: Callable[[int], Awaitable[list[StoredEvent]]] = (
        (lambda after: store.list_events(task_id, after))
        if task_id is not None
        else (lambda after: store.list_chat_events(chat_id, after))
    )
    last = after_seq
    yield ServerSentEventMessage(comment="connected", retry=1000, data=None)
    async with bus.subscribe(chat_id) as live:
        notifications = aiter(live)
        pending: asyncio.Future[StoredEvent] | None = asyncio.ensure_future(anext(notifications))
        try:
            loop = asyncio.get_running_loop()
            next_keepalive = loop.time() + keepalive_s
            over_since: float | None = None  # when the turn was first seen finished without its terminal event
            while True:
                for row in await fetch(last):
                    if row.seq <= last:
                        continue
                    last = row.seq
                    yield _message(row)
                    if task_id is not None and is_terminal(row.event):
                        return
                if task_id is not None and await _turn_over_without_terminal(store, task_id, last):
                    if over_since is not None and loop.time() - over_since >= TERMINAL_GRACE_S:
                        return
                    if over_since is None and await _has_terminal_event(store, task_id):
                        return  # the client saw it already (it reconnected after the end)
                    if over_since is None:
                        over_since = loop.time()
                timeout = max(0.0, min(POLL_S, next_keepalive - loop.time()))
                if over_since is not None:
                    timeout = min(timeout, max(0.0, over_since + TERMINAL_GRACE_S - loop.time()))
                if pending is None:
                    await asyncio.sleep(timeout)
                else:
                    await asyncio.wait({pending}, timeout=timeout)
                    if pending.done():
                        if pending.exception() is None:
                            pending = asyncio.ensure_future(anext(notifications))
                        elif getattr(live, "overflowed", False):
                            pending = None  # this reader fell behind: the journal poll carries on alone
                        else:
                            return  # the bus closed (shutdown): the client reconnects with Last-Event-ID
                if loop.time() >= next_keepalive:
                    yield ServerSentEventMessage(comment="keep-alive", data=None)
                    next_keepalive = loop.time() + keepalive_s
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending


async def _has_terminal_event(store: Store, task_id: str) -> bool:
    return any(is_terminal(row.event) for row in await store.list_events(task_id))


async def _turn_over_without_terminal(store: Store, task_id: str, last: int) -> bool:
    """A finished turn whose terminal event the client has already seen (or that never had one) ends the stream."""
    task = await store.get_task(task_id)
    if task is None:
        return True
    if not task.status.is_terminal:
        return False
    return not await store.list_events(task_id, last)
