"""EventBus across nodes: PostgreSQL LISTEN/NOTIFY carrying ids, the store carrying the events.

``publish`` sends ``<chat_id>:<seq>`` on a channel (NOTIFY payloads are limited to ~8000 bytes, events
are not). Every node keeps one dedicated, non-pooled LISTEN connection; on a notification it loads the
event rows from the store and hands them to its local subscribers, so any node's API streams any chat.
The local node gets its own events the same way, so every node sees one order.

If the LISTEN connection dies (or stops answering the keep-alive probe) the bus reconnects with backoff
and ends every current subscription as ``overflowed``: notifications sent meanwhile are lost, and the
readers replay from the store by seq (see ``adapters.bus.memory``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Self

import asyncpg

from adapters.bus.memory import DEFAULT_BUFFER, InMemoryEventBus, Subscription
from adapters.store.postgres import redact
from core.model import StoredEvent
from core.ports.bus import FeedSink
from core.ports.store import Journal

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "hearth_events"
APPLICATION_NAME = "hearth-event-listener"
CONNECT_TIMEOUT_S = 10.0
PROBE_INTERVAL_S = 10.0
PROBE_TIMEOUT_S = 5.0
RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
_NOTIFICATION_BACKLOG = 10_000
_WAKE = ""  # queued to wake the listener loop; never a real payload (those are "<chat>:<seq>")
WORK = "!work"  # a turn was queued or a request relayed somewhere: wake this node's dispatcher


class PostgresEventBus:
    """Implements ``core.ports.bus.EventBus`` over LISTEN/NOTIFY; owns its listener task until ``close()``.

    NOTIFY reaches every listener of the database: hearths sharing one database in separate schemas
    should each pass their own ``channel``.
    """

    def __init__(self, dsn: str, store: Journal, channel: str, buffer: int) -> None:
        self._dsn = dsn
        self._store = store
        self.channel = channel
        self._local = InMemoryEventBus(buffer)
        self._notifications: asyncio.Queue[str] = asyncio.Queue(_NOTIFICATION_BACKLOG)
        self._notify_conn: asyncpg.Connection | None = None
        self._notify_lock = asyncio.Lock()  # one asyncpg connection runs one query at a time
        self._connected = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.last_error: str | None = None

    @classmethod
    async def open(
        cls,
        dsn: str,
        store: Journal,
        *,
        channel: str = DEFAULT_CHANNEL,
        buffer: int = DEFAULT_BUFFER,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> Self:
        """Returns once the LISTEN connection is up, so nothing published after this returns is missed."""
        bus = cls(dsn, store, channel, buffer)
        bus._listener = asyncio.create_task(bus._listen_forever(), name=f"hearth-listen-{channel}")
        connected = asyncio.create_task(bus._connected.wait())
        try:
            done, _ = await asyncio.wait(
                {connected, bus._listener}, timeout=connect_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            connected.cancel()
        if connected not in done:
            await bus.close()
            raise ConnectionError(
                f"event bus could not LISTEN on PostgreSQL at {redact(dsn)} within {connect_timeout_s:g} s: "
                f"check that the database is up and HEARTH_DATABASE_URL is right (last error: {bus.last_error})"
            )
        return bus

    async def publish(self, event: StoredEvent) -> None:
        if event.chat_id is None:
            return  # nobody can subscribe to a chat-less task's events
        await self._notify(f"{event.chat_id}:{event.seq}")

    async def announce_work(self) -> None:
        await self._notify(WORK)

    def on_work(self, wake: Callable[[], None]) -> None:
        self._local.on_work(wake)

    async def _notify(self, payload: str) -> None:
        async with self._notify_lock:
            for attempt in (1, 2):
                conn = await self._notifier()
                try:
                    await conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)
                    return
                except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
                    conn.terminate()  # a dead connection: open a fresh one once, then give up loudly
                    self._notify_conn = None
                    if attempt == 2:
                        raise

    def subscribe(self, chat_id: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        return self._local.subscribe(chat_id)

    def tap(self, chat_id: str, sink: FeedSink) -> contextlib.AbstractContextManager[None]:
        return self._local.tap(chat_id, sink)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._notify_conn is not None:
            await self._notify_conn.close(timeout=CONNECT_TIMEOUT_S)
            self._notify_conn = None
        await self._local.close()

    async def _notifier(self) -> asyncpg.Connection:
        """One connection for NOTIFY, reopened when it is gone (publishers must not need the store's pool)."""
        if self._notify_conn is None or self._notify_conn.is_closed():
            self._notify_conn = await asyncpg.connect(
                self._dsn, timeout=CONNECT_TIMEOUT_S, command_timeout=PROBE_TIMEOUT_S
            )
        return self._notify_conn

    async def _listen_forever(self) -> None:
        failures = 0
        first = True
        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn,
                    timeout=CONNECT_TIMEOUT_S,
                    command_timeout=PROBE_TIMEOUT_S,
                    server_settings={"application_name": APPLICATION_NAME},
                )
            except (OSError, TimeoutError, asyncpg.PostgresError) as error:
                self.last_error = f"{type(error).__name__}: {error}"
                delay = RECONNECT_BACKOFF_S[min(failures, len(RECONNECT_BACKOFF_S) - 1)]
                failures += 1
                log.warning("event bus: LISTEN connect failed (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            try:
                await self._serve(conn, first)
            except Exception as error:  # the store or the connection failed: never let the listener die
                log.warning("event bus: listener failed (%s: %s); reconnecting", type(error).__name__, error)
            finally:
                self._connected.clear()
                conn.terminate()
            first = False
            self.reconnects += 1

    async def _serve(self, conn: asyncpg.Connection, first: bool) -> None:
        lost = asyncio.Event()

        def on_termination(_conn: Any) -> None:
            lost.set()
            self._wake()

        conn.add_termination_listener(on_termination)
        await conn.add_listener(self.channel, self._on_notification)
        if not first:
            self._local.mark_gap()  # whatever was notified while we were away is gone
        self._connected.set()
        while True:
            try:
                payload = await asyncio.wait_for(self._notifications.get(), timeout=PROBE_INTERVAL_S)
            except TimeoutError:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=PROBE_TIMEOUT_S)
                continue
            if lost.is_set():
                raise ConnectionError("the LISTEN connection was terminated")
            payloads = [p for p in (payload, *self._drain()) if p != _WAKE]
            if WORK in payloads:
                self._local.work_announced()
            await self._deliver([p for p in payloads if p != WORK])

    def _wake(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._notifications.put_nowait(_WAKE)

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        try:
            self._notifications.put_nowait(str(payload))
        except asyncio.QueueFull:
            log.warning("event bus: notification backlog full; subscribers will replay from the store")
            self._drain()
            self._local.mark_gap()

    def _drain(self) -> list[str]:
        drained = []
        while not self._notifications.empty():
            drained.append(self._notifications.get_nowait())
        return drained

    async def _deliver(self, payloads: list[str]) -> None:
        wanted: dict[str, set[int]] = {}
        for payload in payloads:
            chat_id, _, seq = payload.rpartition(":")
            if chat_id and seq.isdigit() and self._local.has_subscribers(chat_id):
                wanted.setdefault(chat_id, set()).add(int(seq))
        for chat_id, seqs in wanted.items():
            for event in await self._store.list_chat_events(chat_id, after_seq=min(seqs) - 1):
                if event.seq in seqs:
                    self._local.deliver(event)

    def subscriber_count(self, chat_id: str | None = None) -> int:
        return self._local.subscriber_count(chat_id)


@asynccontextmanager
async def opened(dsn: str, store: Journal, **options: Any) -> AsyncIterator[PostgresEventBus]:
    """``async with opened(dsn, store) as bus``: the bus closed on exit."""
    bus = await PostgresEventBus.open(dsn, store, **options)
    try:
        yield bus
    finally:
        await bus.close()
