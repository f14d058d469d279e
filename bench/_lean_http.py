"""A small HTTP/1.1 client on asyncio streams, for the requests a benchmark times.

httpx costs about 0.6 ms of Python per request on this machine (URL parsing, h11, anyio), in the benchmark's own
process; a browser's HTTP stack, what hearth's web console runs on, costs a fraction of that. The benchmarks that
compare hearth with an agent driven directly time both sides through this client, so neither side's figure carries
httpx's cost: one kept-alive connection for requests, one connection per event stream. It speaks only what those
servers answer: a status line, headers, then a body of ``Content-Length`` bytes or chunked (read as hearth reads
OpenCode's event stream, ``adapters.opencode.event_stream``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from adapters.opencode.event_stream import chunks, raw, response_head, sse_data

Json = dict[str, Any]


class LeanHttp:
    def __init__(self, base_url: str, headers: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._headers = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._exchange = asyncio.Lock()  # one request and its response at a time on the kept-alive connection

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection[1].close()
            self._connection = None

    async def post_json(self, path: str, body: Json) -> tuple[int, Any]:
        """The status and the parsed JSON body (None when empty) of ``POST path`` with ``body``."""
        async with self._exchange:
            return await self._post(path, body)

    async def _post(self, path: str, body: Json) -> tuple[int, Any]:
        payload = json.dumps(body).encode()
        request = self._head("POST", path, f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n")
        reused = self._connection is not None
        try:
            reader, status, headers = await self._send(request + payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            # the server closed the kept-alive connection while it was idle, before reading this request
            await self.aclose()
            reader, status, headers = await self._send(request + payload)
        if headers.get("transfer-encoding") == "chunked":
            raw = b"".join([chunk async for chunk in chunks(reader)])
        else:
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
        return status, json.loads(raw) if raw else None

    async def _send(self, request: bytes) -> tuple[asyncio.StreamReader, int, dict[str, str]]:
        if self._connection is None:
            self._connection = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._connection
        writer.write(request)
        status, headers = await response_head(reader)
        return reader, status, headers

    @asynccontextmanager
    async def events(self, path: str) -> AsyncIterator[AsyncIterator[Json]]:
        """``GET path`` as an event stream, entered once its response head arrived: each event's JSON data."""
        reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            writer.write(self._head("GET", path, "Accept: text/event-stream\r\n"))
            status, headers = await response_head(reader)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}")
            chunked = headers.get("transfer-encoding") == "chunked"
            yield sse_data(chunks(reader) if chunked else raw(reader))
        finally:
            writer.close()

    def _head(self, method: str, path: str, extra: str) -> bytes:
        return f"{method} {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{self._headers}{extra}\r\n".encode()
