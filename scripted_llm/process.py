"""``ScriptedLLMProcess``: the scripted LLM served by a process of its own (``python -m scripted_llm``).

A real provider answers from another machine; a benchmark that serves the double from a thread of its own process
would make it share that process's interpreter lock with hearth, so the double's chunks would wait on hearth's work
and hearth's on the double's. Same server, same scripts; ``log``, ``reset`` and the HOLD controls go over HTTP.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from typing import Any

import httpx

from scripted_llm.llm import ScriptedLLM

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class ScriptedLLMProcess(ScriptedLLM):
    def __init__(self, *, record_bodies: bool = False) -> None:
        super().__init__(record_bodies=record_bodies)
        self._process: subprocess.Popen[str] | None = None
        self._served_port: int | None = None

    def start(self) -> str:
        if self._process is None:
            argv = [sys.executable, "-m", "scripted_llm", "--port", "0"]
            if self._record_bodies:
                argv.append("--record-bodies")
            self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
            self._served_port = self._await_listening(self._process)
        return self.base_url

    def stop(self) -> None:
        process, self._process, self._served_port = self._process, None, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
        if process.stdout is not None:
            process.stdout.close()

    @property
    def port(self) -> int:
        if self._served_port is None:
            raise RuntimeError("ScriptedLLMProcess is not started; call start() first")
        return self._served_port

    def log(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self._call("GET", "/_log")
        return entries

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def in_flight(self) -> int:
        return int(self._call("GET", "/_stats")["in_flight"])

    def peak_in_flight(self) -> int:
        return int(self._call("GET", "/_stats")["peak_in_flight"])

    def connections(self) -> int:
        return int(self._call("GET", "/_stats")["connections"])

    def release_held(self) -> None:
        self._call("POST", "/_release")

    def _call(self, method: str, path: str) -> Any:
        response = httpx.request(method, self.base_url + path, content=b"{}" if method == "POST" else None)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def _await_listening(process: subprocess.Popen[str]) -> int:
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([process.stdout], [], [], left)
            line = process.stdout.readline() if ready else ""
            if found := _LISTENING.search(line):
                return int(found.group(1))
            if process.poll() is not None:
                break
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
        raise RuntimeError(
            f"the scripted LLM process did not say where it listens within {START_TIMEOUT_S:.0f} s "
            f"(exit code {process.returncode}); run `python -m scripted_llm` to see why"
        )
