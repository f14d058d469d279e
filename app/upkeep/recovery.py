"""Startup recovery: what a previous hearth on this node left behind.

Turns it left ``running`` fail with "interrupted by restart" (a terminal event is journaled so open streams end)
and their chats continue; their agent sessions become ``evicted`` so the next turn reattaches. Agent processes it
recorded are stopped: the next turn respawns them and resumes the stored session. A recorded pid is only signalled
when its command line still matches the record, so a pid reused by an unrelated process is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from app.turns.stream import TurnJournal
from core.events import TurnFailed
from core.model import AgentSessionStatus, ProcessRecord, Task
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Store

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted by restart"
STOP_TIMEOUT_S = 5.0


@dataclass
class RecoveryReport:
    failed_turns: list[str] = field(default_factory=list)
    stopped_processes: list[int] = field(default_factory=list)
    forgotten_processes: list[int] = field(default_factory=list)


async def recover(store: Store, bus: EventBus, clock: Clock, node_id: str) -> RecoveryReport:
    report = RecoveryReport()
    now = clock.now()
    for task in await store.fail_running_tasks(INTERRUPTED, now, node_id=node_id):
        report.failed_turns.append(task.id)
        await journal_lost_turn(store, bus, task, now)
    for record in await store.list_processes(node_id):
        if await stop_recorded_process(record):
            report.stopped_processes.append(record.pid)
        else:
            report.forgotten_processes.append(record.pid)
        await store.forget_process(record.key, record.pid)
    if report.failed_turns or report.stopped_processes:
        log.warning(
            "recovered from a previous run: %d turn(s) failed as %r, %d agent process(es) stopped",
            len(report.failed_turns),
            INTERRUPTED,
            len(report.stopped_processes),
        )
    return report


async def journal_lost_turn(store: Store, bus: EventBus, task: Task, at: datetime) -> None:
    """A turn the store already failed behind its runner's back: journal its end so open streams close, and let
    its agent session reattach on the chat's next turn."""
    journal = TurnJournal(store, bus, task.id, task.chat_id)
    await journal.write([TurnFailed(session_id="", turn_id=task.id, error=task.error or INTERRUPTED)])
    if task.chat_id is not None:
        session = await store.get_agent_session(task.chat_id, task.agent)
        if session is not None and session.status is AgentSessionStatus.BUSY:
            await store.set_agent_session_status(task.chat_id, task.agent, AgentSessionStatus.EVICTED, at)


def _alive(pid: int, proc: Path = Path("/proc")) -> bool:
    """Running (a zombie or a vanished pid is not)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :][:1] not in {"Z", "X", ""}


def _cmdline(pid: int, proc: Path = Path("/proc")) -> str:
    try:
        return (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


async def _matches(record: ProcessRecord) -> bool:
    """The pid still runs the recorded executable. Some kernels briefly show an empty cmdline: look again."""
    executable = Path(record.command.split()[0]).name if record.command.strip() else ""
    for _ in range(20):
        if not _alive(record.pid):
            return False
        cmdline = _cmdline(record.pid)
        if cmdline:
            return bool(executable) and executable in cmdline
        await asyncio.sleep(0.05)
    return False


async def stop_recorded_process(record: ProcessRecord) -> bool:
    """SIGTERM, then SIGKILL after a timeout; True when a live matching process was stopped."""
    if not await _matches(record):
        return False
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(record.pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            log.warning("cannot signal recorded agent process %d (%s): not ours", record.pid, record.command)
            return False
        deadline = loop.time() + STOP_TIMEOUT_S
        while loop.time() < deadline:
            if not _alive(record.pid):
                return True
            await asyncio.sleep(0.05)
    log.error("recorded agent process %d survived SIGKILL", record.pid)
    return True
