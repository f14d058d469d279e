"""The scripted LLM's HTTP side: one threaded HTTP/1.1 server speaking OpenAI, Anthropic and Gemini.

Routes requests to the protocol modules, streams SSE with chunked encoding (flushed per event), and
records a summary of every generation request. Clients that hang up mid-stream are tolerated silently.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from scripted_llm import anthropic, gemini, openai
from scripted_llm.script import Reply, Request, Tokens, plan
from scripted_llm.wire import Sink, as_dict, as_list

_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
_LOGGED_HEADERS = ("user-agent", "authorization", "x-api-key", "anthropic-version", "x-goog-api-key")
HOLD_LIMIT_S = 60.0
_GEMINI = re.compile(r"^(?:/v1beta|/v1alpha|/v1)?/models/([^/:]+):(streamGenerateContent|generateContent|countTokens)$")


class _Stopping(Exception):
    """The server is shutting down: end the stream now instead of sleeping through it."""


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, record_bodies: bool, log_file: str | None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.stopping = threading.Event()
        self.record_bodies = record_bodies
        self.log_file = log_file
        self.lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []
        self.in_flight = 0  # generation requests being answered now
        self.peak_in_flight = 0  # the most answered at once since the last reset
        self.connections = 0  # TCP connections accepted since the start: a client that reuses one adds none
        self.release = threading.Event()  # HOLD requests wait for it

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.entries.append(entry)
            if self.log_file:
                with open(self.log_file, "a", encoding="utf-8") as out:
                    out.write(json.dumps(entry) + "\n")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished is normal here (aborts, cancels); anything else is reported."""
        if not isinstance(sys.exc_info()[1], _DISCONNECTS):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real LLM APIs stream: with Nagle on, each small SSE chunk after the first waits for the
    # client's delayed ACK (up to 40 ms on Linux), which would make a turn's time mostly the kernel's timers
    disable_nagle_algorithm = True
    server: ScriptedServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``/_log`` instead of stderr."""

    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _guarded(self, handler: Callable[[str], None]) -> None:
        try:
            handler(urlsplit(self.path).path.rstrip("/") or "/")
        except (*_DISCONNECTS, _Stopping):
            self.close_connection = True
        except Exception as exc:  # a bug in the fake itself: say so loudly, to stderr and to the client
            traceback.print_exc()
            self.close_connection = True
            with contextlib.suppress(*_DISCONNECTS):
                self._json(
                    500, {"error": {"message": f"scripted LLM internal error: {exc!r}", "type": "scripted_llm_bug"}}
                )

    # --- routes -------------------------------------------------------------------------------------------
    def _get(self, path: str) -> None:
        if path in ("/", "/health"):
            self._json(200, {"ok": True})
        elif path == "/_stats":
            with self.server.lock:
                stats = {
                    "in_flight": self.server.in_flight,
                    "peak_in_flight": self.server.peak_in_flight,
                    "connections": self.server.connections,
                }
            self._json(200, stats)
        elif path == "/_log":
            with self.server.lock:
                entries = list(self.server.entries)
            self._json(200, entries)
        elif path in ("/v1/models", "/models"):
            self._json(200, openai.models())
        elif path in ("/v1beta/models", "/v1alpha/models"):
            self._json(200, gemini.models())
        else:
            self._not_found(path)

    def _post(self, path: str) -> None:
        raw = self._read_body()
        if path == "/_reset":
            with self.server.lock:
                self.server.entries.clear()
                self.server.peak_in_flight = self.server.in_flight
            self.server.release.clear()
            self._json(200, {"ok": True})
            return
        if path == "/_release":
            self.server.release.set()
            self._json(200, {"ok": True})
            return
        try:
            body = as_dict(json.loads(raw or "{}"))
        except json.JSONDecodeError as exc:
            self._json(400, {"error": {"message": f"request body is not JSON: {exc}"}})
            return
        if path in ("/v1/chat/completions", "/chat/completions"):
            include_usage = bool(as_dict(body.get("stream_options")).get("include_usage"))
            self._generate(
                "openai",
                path,
                raw,
                body,
                openai.normalize(body),
                str(body.get("model", "")),
                bool(body.get("stream")),
                error_body=openai.error_body,
                complete=openai.complete,
                stream=lambda r, m, t, s: openai.stream(r, m, t, s, include_usage),
            )
        elif path in ("/v1/messages", "/messages"):
            model = str(body.get("model", ""))
            self._generate(
                "anthropic",
                path,
                raw,
                body,
                anthropic.normalize(body),
                model,
                bool(body.get("stream")),
                error_body=anthropic.error_body,
                complete=anthropic.complete,
                stream=anthropic.stream,
            )
        elif path in ("/v1/messages/count_tokens", "/messages/count_tokens"):
            self._json(200, {"input_tokens": max(1, len(raw) // 4)})
        elif match := _GEMINI.match(path):
            model, action = match.groups()
            if action == "countTokens":
                self._json(200, {"totalTokens": max(1, len(raw) // 4)})
                return
            self._generate(
                "gemini",
                path,
                raw,
                body,
                gemini.normalize(body),
                model,
                action == "streamGenerateContent",
                error_body=gemini.error_body,
                complete=gemini.complete,
                stream=gemini.stream,
            )
        else:
            self._not_found(path)

    def _generate(
        self,
        api: str,
        path: str,
        raw: str,
        body: dict[str, Any],
        request: Request,
        model: str,
        streaming: bool,
        *,
        error_body: Callable[[int], dict[str, Any]],
        complete: Callable[[Reply, str, Tokens], dict[str, Any]],
        stream: Callable[[Reply, str, Tokens, Sink], None],
    ) -> None:
        reply = plan(request)
        tokens = Tokens.of(raw, reply)
        self.server.record(self._summary(api, path, body, request, model, streaming, reply))
        self.server.enter()
        try:
            if reply.hold and not self.server.release.wait(HOLD_LIMIT_S):
                raise _Stopping  # nobody released it: hang up rather than hold a thread forever
            self._answer(reply, model, tokens, streaming, error_body, complete, stream)
        finally:
            self.server.leave()

    def _answer(
        self,
        reply: Reply,
        model: str,
        tokens: Tokens,
        streaming: bool,
        error_body: Callable[[int], dict[str, Any]],
        complete: Callable[[Reply, str, Tokens], dict[str, Any]],
        stream: Callable[[Reply, str, Tokens, Sink], None],
    ) -> None:
        if reply.error is not None:
            self._json(reply.error, error_body(reply.error))
        elif streaming:
            self._sse(lambda sink: stream(reply, model, tokens, sink))
        else:
            self._json(200, complete(reply, model, tokens))

    def _summary(
        self, api: str, path: str, body: dict[str, Any], request: Request, model: str, streaming: bool, reply: Reply
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "t": time.time(),
            "api": api,
            "path": path,
            "model": model,
            "stream": streaming,
            "n_messages": len(as_list(body.get("messages") or body.get("contents"))),
            "last_user": request.last_user[:500],
            "prior_users": [text[:200] for text in request.prior_users],
            "tools": sorted(request.tools),
            "after_tool": request.tool_result[:500] if request.tool_result is not None else None,
            "reply": reply.summary(),
            "headers": {name: self.headers[name] for name in _LOGGED_HEADERS if self.headers[name] is not None},
        }
        if self.server.record_bodies:
            entry["body"] = body
        return entry

    # --- HTTP plumbing ------------------------------------------------------------------------------------
    def _read_body(self) -> str:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data.decode("utf-8", "replace")
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8", "replace") if length else ""

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _not_found(self, path: str) -> None:
        self._json(404, {"error": {"message": f"no route {self.command} {path}"}})

    def _sse(self, produce: Callable[[Sink], None]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        produce(_ChunkedSink(self))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _ChunkedSink:
    def __init__(self, handler: _Handler) -> None:
        self._handler = handler

    def send(self, data: bytes) -> None:
        out = self._handler.wfile
        out.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        out.flush()

    def pause(self, seconds: float) -> None:
        if self._handler.server.stopping.wait(seconds):
            raise _Stopping
