"""Stopping agent processes a previous hearth recorded: only when the pid still runs that command."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

from adapters.procfs import ProcFs
from core.model import ProcessRecord


def _record(pid: int, command: str) -> ProcessRecord:
    return ProcessRecord(key="k", pid=pid, started_at=datetime.now(UTC), node_id="n", command=command)


async def test_a_recorded_process_is_stopped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert await ProcFs().stop_recorded(_record(child.pid, sys.executable))
        assert await asyncio.to_thread(child.wait, 10) != 0
    finally:
        child.kill()
        child.wait()


async def test_a_reused_pid_running_something_else_is_left_alone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not await ProcFs().stop_recorded(_record(child.pid, "/opt/agents/opencode serve"))
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()
