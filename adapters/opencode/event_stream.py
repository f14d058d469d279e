"""A server-sent event stream read straight off an asyncio connection: the HTTP/1.1 response head, then a chunked
(or close-delimited) body split into events with bytes operations, each event's ``data`` parsed as JSON.

OpenCode's ``/global/event`` is the busiest read in hearth: every event of every session of a server passes
through it, about 40 on a turn with no tool call. Through httpx, httpcore, h11, anyio and httpx-sse each event
cost several layers of Python generators, and that CPU is taken while the agent itself works on the same cores.
Requests and their responses stay on httpx; this reads only what an event stream answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

Json = dict[str, Any]

_HEAD_LIMIT = 64 * 1024
_STREAM_LIMIT = 16 * 1024 * 1024  # one event's data (a long tool output) fits in the reader's buffer
# what a dead, silent or garbled connection raises while it is read
_BROKEN = (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class EventStreamError(Exception):
    """The stream could not be opened, or it broke or fell silent: the caller reconnects."""


@asynccontextmanager
async def open_event_stream(
    base_url: str, path: str, headers: Mapping[str, str], *, connect_timeout_s: float, read_timeout_s: float
) -> AsyncIterator[AsyncIterator[Json]]:
    """``GET path`` as an event stream, entered once a 200 response head arrived; yields each event's JSON data.
    ``read_timeout_s`` bounds the silence between chunks; every failure is an ``EventStreamError`` (a ``data``
    that is not JSON a ``json.JSONDecodeError``)."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
    request = "\r\n".join([*lines, *(f"{name}: {value}" for name, value in headers.items()), "", ""]).encode()
    try:
        async with asyncio.timeout(connect_timeout_s):
            reader, writer = await asyncio.open_connection(host, port, limit=_STREAM_LIMIT)
    except (OSError, TimeoutError) as exc:
        raise EventStreamError(f"cannot connect to {host}:{port}: {exc!r}") from exc
    try:
        try:
            writer.write(request)
            async with asyncio.timeout(read_timeout_s):
                status, head = await response_head(reader)
        except _BROKEN as exc:
            raise EventStreamError(f"GET {path}: no response head ({exc!r})") from exc
        if status != 200:
            raise EventStreamError(f"GET {path} answered HTTP {status}")
        body = chunks(reader, read_timeout_s) if head.get("transfer-encoding") == "chunked" else raw(reader)
        yield _guarded(sse_data(body), path)
    finally:
        writer.close()


async def _guarded(events: AsyncIterator[Json], path: str) -> AsyncIterator[Json]:
    try:
        async for event in events:
            yield event
    except _BROKEN as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise EventStreamError(f"the stream of GET {path} broke: {exc!r}") from exc


async def response_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and the headers (names and values lowercased) of an HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > _HEAD_LIMIT:
        raise ValueError("response head too large")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    return status, headers


async def chunks(reader: asyncio.StreamReader, read_timeout_s: float | None = None) -> AsyncIterator[bytes]:
    """A chunked body's chunks; ends at the last chunk (size 0)."""
    while True:
        async with asyncio.timeout(read_timeout_s):
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return
            chunk = await reader.readexactly(size + 2)
        yield chunk[:-2]


async def raw(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """A body delimited by the connection's close."""
    while piece := await reader.read(65536):
        yield piece


async def sse_data(pieces: AsyncIterator[bytes]) -> AsyncIterator[Json]:
    """Each event's ``data`` lines joined, parsed as JSON; comments, other fields and events with no data skipped."""
    buffer = b""
    async for piece in pieces:
        buffer = (buffer + piece).replace(b"\r\n", b"\n")  # a CR and its LF may arrive in two pieces
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            data = b"\n".join(_field_value(line) for line in event.split(b"\n") if line.startswith(b"data:"))
            if data:
                yield json.loads(data)


def _field_value(line: bytes) -> bytes:
    value = line[5:]
    return value[1:] if value.startswith(b" ") else value
