"""``ScriptedLLM``: start, stop and inspect the scripted LLM server.

Tests start it on port 0 and point agents at it; every generation request is summarised in ``log()``.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from scripted_llm.server import ScriptedServer


class ScriptedLLM:
    """``with ScriptedLLM() as llm:`` serves on ``llm.base_url`` until the block ends."""

    def __init__(self, port: int = 0, *, record_bodies: bool = False, log_file: str | None = None) -> None:
        self._port = port
        self._record_bodies = record_bodies
        self._log_file = log_file
        self._server: ScriptedServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        if self._server is None:
            self._server = ScriptedServer(self._port, self._record_bodies, self._log_file)
            self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.stopping.set()
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLM:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("ScriptedLLM is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    @property
    def gemini_base_url(self) -> str:
        return self.base_url

    def log(self) -> list[dict[str, Any]]:
        if self._server is None:
            return []
        with self._server.lock:
            return [dict(entry) for entry in self._server.entries]

    def reset(self) -> None:
        if self._server is not None:
            with self._server.lock:
                self._server.entries.clear()
                self._server.peak_in_flight = self._server.in_flight
            self._server.release.clear()

    def in_flight(self) -> int:
        """Generation requests being answered right now (HOLD ones included)."""
        return self._server.in_flight if self._server is not None else 0

    def peak_in_flight(self) -> int:
        """The most generation requests answered at once since the last reset."""
        return self._server.peak_in_flight if self._server is not None else 0

    def connections(self) -> int:
        """TCP connections accepted since the start (a client that keeps its connection alive adds none)."""
        return self._server.connections if self._server is not None else 0

    def release_held(self) -> None:
        """Every request held by a HOLD directive answers now, and later ones at once (until the next reset)."""
        if self._server is not None:
            self._server.release.set()
