"""One event stream per OpenCode server, opened when the server starts and shared by every turn on it.

The backend owns one ``ServerFeed`` per running server: a reader task follows ``/global/event`` (every directory,
wrapped) and hands each event to the slices of the session it is about (``core.opencode.demux``); an event of no
session goes to every slice of its directory. A turn subscribes to its session's slice (``subscribe``), which
returns once the stream is connected, so nothing of the prompt it sends next is missed, without a connection of
its own. When the stream drops (silence past the idle limit, a closed connection) every slice raises
``FeedDropped`` and the reader reconnects; each turn then diagnoses the server and resyncs from its messages, as
it did with a stream of its own. The feed ends when its server is buried or the backend closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from adapters.opencode.client import Json, OpenCodeClient
from adapters.opencode.event_stream import EventStreamError
from core import raw
from core.opencode.demux import event_session_id, unwrap_global_event

log = logging.getLogger(__name__)

_QUIET = {"server.connected", "server.heartbeat"}
_RECONNECT_S = (0.02, 0.1, 0.25, 0.5, 1.0)
_READ_LIMIT_S = 3600.0  # the transport's own limit; the idle limit is enforced per event, below


class FeedDropped(Exception):
    """The server's event stream dropped: what happened meanwhile must be resynced from the session's messages."""


_DROP = object()


class _Slice:
    def __init__(self, session_id: str, directory: str) -> None:
        self.session_id = session_id
        self.directory = directory
        self.queue: asyncio.Queue[object] = asyncio.Queue()

    async def events(self) -> AsyncIterator[Json]:
        while True:  # the reader's idle limit bounds this wait: silence past it drops every slice
            item = await self.queue.get()
            if item is _DROP:
                raise FeedDropped("the OpenCode event stream dropped")
            assert isinstance(item, dict)
            yield item


class ServerFeed:
    def __init__(self, client: OpenCodeClient, idle_timeout_s: Callable[[], float], alive: Callable[[], bool]) -> None:
        self._client = client
        self._idle_timeout_s = idle_timeout_s  # read at every wait: a change applies at once
        self._alive = alive
        self._slices: dict[str, set[_Slice]] = {}
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._waiting: asyncio.Timeout | None = None  # the reader's current wait for the next event
        self._stopped = False
        self.connections = 0

    def start(self) -> None:
        """Starts the reader; ``stop`` is its one owner's way to end it (the backend calls it with the server)."""
        self._reader = asyncio.get_running_loop().create_task(self._run(), name="opencode-feed")

    async def stop(self) -> None:
        self._stopped = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        self._connected.clear()
        self._drop_all()

    @asynccontextmanager
    async def subscribe(self, session_id: str, directory: str) -> AsyncIterator[AsyncIterator[Json]]:
        """The events of one session from now on; entered once the stream is connected (else ``FeedDropped``)."""
        piece = _Slice(session_id, directory)
        self._slices.setdefault(session_id, set()).add(piece)
        self._restart_idle_clock()
        try:
            if self._stopped:
                raise FeedDropped("the OpenCode server's event stream is closed")
            try:
                async with asyncio.timeout(max(self._idle_timeout_s(), 10.0)):
                    await self._connected.wait()
            except TimeoutError:
                raise FeedDropped("the OpenCode event stream did not (re)connect") from None
            yield piece.events()
        finally:
            pieces = self._slices.get(session_id)
            if pieces is not None:
                pieces.discard(piece)
                if not pieces:
                    del self._slices[session_id]

    def _restart_idle_clock(self) -> None:
        """A new subscriber gets a whole idle limit of silence before the stream counts as dropped, as a
        connection of its own would: a drop just after it subscribed would tell it nothing about the server."""
        waiting = self._waiting
        when = waiting.when() if waiting is not None else None
        if waiting is not None and when is not None:
            waiting.reschedule(max(when, asyncio.get_running_loop().time() + self._idle_timeout_s()))

    async def _run(self) -> None:
        failures = 0
        while not self._stopped and self._alive():
            try:
                async with self._client.global_events(_READ_LIMIT_S) as frames:
                    self.connections += 1
                    self._connected.set()
                    failures = 0
                    while True:
                        # the idle limit is read at every wait, so a change applies to the open stream at once
                        try:
                            async with asyncio.timeout(self._idle_timeout_s()) as self._waiting:
                                frame = await anext(frames, None)
                        finally:
                            self._waiting = None
                        if frame is None:
                            break
                        self._route(frame)
            except (httpx.HTTPError, EventStreamError, json.JSONDecodeError, TimeoutError) as exc:
                log.debug("the OpenCode event stream dropped: %r", exc)
            self._connected.clear()
            self._drop_all()
            await asyncio.sleep(_RECONNECT_S[min(failures, len(_RECONNECT_S) - 1)])
            failures += 1

    def _route(self, frame: Json) -> None:
        event = unwrap_global_event(frame)
        if event is None or raw.text(event, "type") in _QUIET:
            return
        session_id = event_session_id(event)
        if session_id is not None:
            for piece in list(self._slices.get(session_id, ())):
                piece.queue.put_nowait(dict(event))
            return
        directory = raw.text(frame, "directory")
        for pieces in list(self._slices.values()):
            for piece in list(pieces):
                if piece.directory == directory:
                    piece.queue.put_nowait(dict(event))

    def _drop_all(self) -> None:
        for pieces in list(self._slices.values()):
            for piece in list(pieces):
                piece.queue.put_nowait(_DROP)
