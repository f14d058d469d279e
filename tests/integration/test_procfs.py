"""The /proc reader on real processes: liveness (zombies included), what a pid runs, memory and CPU, and stops."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters import procfs
from adapters.procfs import ProcFs
from core.model import ProcessRecord
from core.ports.processes import HostProcesses

SLEEP = shutil.which("sleep") or "/bin/sleep"
GONE = 2**22 + 12345  # above the kernel's pid_max ceiling: never a pid


def _record(pid: int, command: str) -> ProcessRecord:
    return ProcessRecord(key="k", pid=pid, started_at=datetime.now(UTC), node_id="n", command=command)


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


def _wait_until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "the process never got there"
        time.sleep(0.02)


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([SLEEP, "60"], env={"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")})
    _wait_until(lambda: procfs.cmdline(child.pid).endswith("60"))  # exec'd: /proc shows sleep, not the fork
    yield child
    child.kill()
    child.wait()


def test_a_running_process_is_alive_and_says_what_it_runs(sleeper: subprocess.Popen[bytes], tmp_path: Path) -> None:
    assert procfs.alive(sleeper.pid)
    assert procfs.argv(sleeper.pid) == [SLEEP, "60"]
    assert procfs.cmdline(sleeper.pid) == f"{SLEEP} 60"
    environ = procfs.environ(sleeper.pid)
    assert environ is not None
    assert environ["HOME"] == str(tmp_path)


def test_a_zombie_or_a_vanished_pid_is_not_alive(sleeper: subprocess.Popen[bytes]) -> None:
    sleeper.kill()  # not reaped yet: it stays a zombie until wait()
    _wait_until(lambda: _state(sleeper.pid) == "Z")
    assert not procfs.alive(sleeper.pid)
    assert procfs.rss_bytes(sleeper.pid) == 0  # a zombie holds no memory
    sleeper.wait()
    assert not procfs.alive(sleeper.pid)
    assert procfs.argv(sleeper.pid) is None
    assert procfs.cmdline(sleeper.pid) == ""
    assert procfs.environ(sleeper.pid) is None
    assert not procfs.alive(GONE)


def test_a_sample_has_memory_and_cpu_time_and_none_once_gone() -> None:
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        _wait_until(lambda: (s := procfs.sample(child.pid)) is not None and s.cpu_seconds >= 0.25)
        sample = procfs.sample(child.pid)
        assert sample is not None
        assert sample.pid == child.pid
        assert sample.rss_bytes > 1 << 20
    finally:
        child.kill()
        child.wait()
    assert procfs.sample(child.pid) is None
    assert procfs.sample(GONE) is None


def test_tree_rss_counts_every_descendant(sleeper: subprocess.Popen[bytes]) -> None:
    own = os.getpid()
    assert procfs.tree_rss_bytes(own) >= procfs.rss_bytes(own) + procfs.rss_bytes(sleeper.pid)
    assert procfs.rss_bytes(sleeper.pid) > 0
    assert procfs.tree_rss_bytes(sleeper.pid) == procfs.rss_bytes(sleeper.pid)  # sleep has no children
    assert procfs.tree_rss_bytes(GONE) == 0


async def test_a_process_hearth_does_not_parent_is_stopped_with_sigterm() -> None:
    # the shell exits at once, so the sleep is orphaned: hearth can neither wait for it nor reap it
    launcher = subprocess.run(["sh", "-c", f"{SLEEP} 60 >/dev/null 2>&1 & echo $!"], capture_output=True, check=True)
    orphan = int(launcher.stdout)
    assert procfs.alive(orphan)
    assert os.getppid() != orphan

    assert await procfs.stop_unparented(orphan, grace_s=5.0)
    assert not procfs.alive(orphan)


async def test_a_process_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    stubborn = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint(1, flush=True)\ntime.sleep(9)"
    child = subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child.stdout.readline()  # the handler is installed
        assert await procfs.stop_unparented(child.pid, grace_s=0.3)
        assert await asyncio.to_thread(child.wait, 10) == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()


async def test_a_recorded_process_is_stopped_only_while_it_matches_its_record(sleeper: subprocess.Popen[bytes]) -> None:
    assert not await procfs.stop_recorded(_record(sleeper.pid, "/opt/agents/opencode serve"))  # a reused pid
    assert sleeper.poll() is None
    assert not await procfs.stop_recorded(_record(sleeper.pid, ""))  # a record without a command proves nothing
    assert sleeper.poll() is None

    assert await procfs.stop_recorded(_record(sleeper.pid, f"{SLEEP} 60"))
    assert await asyncio.to_thread(sleeper.wait, 10) == -signal.SIGTERM
    assert not await procfs.stop_recorded(_record(sleeper.pid, f"{SLEEP} 60"))  # gone: nothing was stopped


async def test_procfs_is_the_host_processes_port(sleeper: subprocess.Popen[bytes]) -> None:
    host: HostProcesses = ProcFs()
    sample = host.sample(sleeper.pid)
    assert sample is not None
    assert sample.rss_bytes > 0
    assert await host.stop_recorded(_record(sleeper.pid, SLEEP))
    assert await asyncio.to_thread(sleeper.wait, 10) == -signal.SIGTERM
    assert host.sample(sleeper.pid) is None


async def test_the_process_table_has_each_process_parent_directory_start_and_memory(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    child = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        rows = {row.pid: row for row in await asyncio.to_thread(ProcFs().table)}
        row = rows[child.pid]
        assert (row.ppid, row.cwd, row.command) == (os.getpid(), str(tmp_path), "sleep 30")
        assert row.rss_bytes > 0
        assert abs((row.started_at - before).total_seconds()) < 60  # a wrong conversion is off by hours
        assert rows[os.getpid()].cwd == os.getcwd()
        assert procfs.memory_total_bytes() > 0
        assert await ProcFs().terminate(child.pid)
        child.wait(5)
    finally:
        child.kill()
        child.wait()
