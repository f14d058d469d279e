"""One `opencode serve` child: spawn, wait for the ready line, report how it died, stop it, sample its use.

The server's stdout and stderr go to a log file under its state dir (not a pipe), so a chatty server can
never block on a full pipe and the last lines survive for error reports. The ``asyncio`` process object
is the single owner of the child: only ``stop`` signals it and only ``wait_exit``/``stop`` reap it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from pathlib import Path

from returns.result import Failure, Result, Success

from adapters import procfs

_READY = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


def read_tail(log_file: Path, lines: int = 15) -> list[str]:
    try:
        text = log_file.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def describe_exit(code: int | None, tail: list[str]) -> str:
    if code is None:
        how = "is still running"
    elif code < 0:
        how = f"was killed by signal {signal.Signals(-code).name} (exit code {code})"
    else:
        how = f"exited with code {code}"
    shown = " | ".join(tail) if tail else "(no output)"
    return f"opencode server {how}; last output: {shown}"


class ServerProcess:
    """A running `opencode serve`, with the URL and password to reach it."""

    def __init__(self, proc: asyncio.subprocess.Process, base_url: str, port: int, password: str, log_file: Path):
        self._proc = proc
        self.base_url = base_url
        self.port = port
        self.password = password
        self.log_file = log_file
        self._cpu_mark: tuple[float, float] | None = None  # (monotonic, cpu seconds) at the last usage report

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def running(self) -> bool:
        return self._proc.returncode is None

    def exit_report(self) -> str:
        return describe_exit(self._proc.returncode, read_tail(self.log_file))

    @classmethod
    async def spawn(
        cls,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        log_file: Path,
        password: str,
        ready_timeout_s: float,
    ) -> Result[ServerProcess, str]:
        """Start the server and wait for its ``listening on`` line; on failure say why with its last output."""
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("wb") as log:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
                )
            except OSError as exc:
                return Failure(f"could not start {argv[0]}: {exc}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout_s
        while True:
            match = _READY.search(log_file.read_text(errors="replace"))  # noqa: ASYNC240 (a small local file)
            if match:
                return Success(cls(proc, match.group(1), int(match.group(2)), password, log_file))
            if proc.returncode is not None:
                return Failure(f"opencode serve failed to start: {describe_exit(proc.returncode, read_tail(log_file))}")
            if loop.time() >= deadline:
                server = cls(proc, "", 0, password, log_file)
                await server.stop(grace_s=2.0)
                return Failure(
                    f"opencode serve printed no ready line within {ready_timeout_s:.0f} s and was stopped; "
                    f"last output: {' | '.join(read_tail(log_file)) or '(no output)'}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=0.03)

    async def wait_exit(self, timeout_s: float) -> int | None:
        """The exit code if the process ends within ``timeout_s``, else None (it keeps running)."""
        try:
            return await asyncio.wait_for(self._proc.wait(), timeout=timeout_s)
        except TimeoutError:
            return None

    async def stop(self, grace_s: float = 5.0) -> int:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; always reaps the child."""
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
                self._proc.send_signal(signal.SIGCONT)  # a stopped (SIGSTOP) server acts on SIGTERM once continued
            if await self.wait_exit(grace_s) is None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
        return await self._proc.wait()

    def kill(self) -> None:
        """SIGKILL without waiting (a hung server); the reaping happens in ``stop``/``wait_exit``."""
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()

    def usage(self, now: float) -> dict[str, float]:
        """RSS and CPU seconds, and the CPU percent since the previous report ({} once it has exited)."""
        sample = procfs.sample(self.pid) if self.running() else None
        if sample is None:
            return {}
        usage: dict[str, float] = {"rss_bytes": sample.rss_bytes, "cpu_seconds": sample.cpu_seconds}
        if self._cpu_mark is not None and now > self._cpu_mark[0]:
            usage["cpu_percent"] = 100 * (sample.cpu_seconds - self._cpu_mark[1]) / (now - self._cpu_mark[0])
        self._cpu_mark = (now, sample.cpu_seconds)
        return usage
