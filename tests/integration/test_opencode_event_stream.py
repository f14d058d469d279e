"""The event stream reader on a real loopback socket: events split across chunks and reads anywhere (inside a CRLF
too) come out whole; comments, other fields and empty events are skipped; a refused subscription, a server that
goes silent and one that cuts the stream mid-chunk are each an ``EventStreamError`` the feed reconnects on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from adapters.opencode.event_stream import EventStreamError, open_event_stream

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


@asynccontextmanager
async def _server(handler: Handler) -> AsyncIterator[str]:
    requests: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _read_all(base_url: str, read_timeout_s: float = 5.0) -> list[object]:
    headers = {"Authorization": "Basic c2VjcmV0"}
    async with open_event_stream(
        base_url, "/global/event", headers, connect_timeout_s=5.0, read_timeout_s=read_timeout_s
    ) as events:
        return [event async for event in events]


async def test_events_split_anywhere_come_out_whole() -> None:
    body = (
        b": a comment\r\n\r\n"
        b'event: message\r\ndata: {"type": "server.connected"}\r\n\r\n'
        b'data: {"type": "a",\r\ndata:  "text": "two lines"}\r\n\r\n'
        b"id: 7\r\n\r\n"  # no data: nothing to yield
        b'data:{"type": "b", "text": "caf\xc3\xa9"}\n\n'
    )

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(CHUNKED_HEAD)
        for start in range(0, len(body), 7):  # 7-byte chunks: every boundary, a CR and its LF apart too
            writer.write(_chunk(body[start : start + 7]))
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(b"0\r\n\r\n")

    async with _server(handler) as url:
        events = await _read_all(url)
    assert events == [
        {"type": "server.connected"},
        {"type": "a", "text": "two lines"},
        {"type": "b", "text": "café"},
    ]


async def test_a_close_delimited_body_is_read_too() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
        writer.write(b"".join(f"data: {json.dumps({'n': n})}\n\n".encode() for n in range(3)))

    async with _server(handler) as url:
        assert await _read_all(url) == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_the_request_carries_the_credentials() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")

    async def recording(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(recording, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        assert await _read_all(f"http://127.0.0.1:{port}") == []
    assert seen[0].startswith(b"GET /global/event HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Basic c2VjcmV0\r\n" in seen[0]
    assert b"\r\nAccept: text/event-stream\r\n" in seen[0]

    async with _server(handler) as url:
        with pytest.raises(EventStreamError, match="HTTP 401"):
            await _read_all(url)


async def test_a_silent_server_and_a_cut_stream_are_stream_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(CHUNKED_HEAD + _chunk(b'data: {"n": 1}\n\n'))
        await writer.drain()
        await asyncio.sleep(5)

    async with _server(silent) as url:
        with pytest.raises(EventStreamError, match="broke"):
            await _read_all(url, read_timeout_s=0.2)

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(CHUNKED_HEAD + b"40\r\n" + b'data: {"n"')  # a chunk announced longer than what comes

    async with _server(cut) as url:
        with pytest.raises(EventStreamError, match="broke"):
            await _read_all(url)


async def test_nothing_listening_is_a_stream_error(unused_tcp_port: int) -> None:
    with pytest.raises(EventStreamError, match="cannot connect"):
        await _read_all(f"http://127.0.0.1:{unused_tcp_port}")
