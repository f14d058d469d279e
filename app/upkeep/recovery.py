"""Startup recovery: what a previous hearth on this node left behind.

Turns it left ``running`` fail with "interrupted by restart" (a terminal event is journaled so open streams end)
and their chats continue; their agent sessions become ``evicted`` so the next turn reattaches. Agent processes it
recorded are stopped: the next turn respawns them and resumes the stored session. A recorded pid is only signalled
when it still runs the recorded command (``HostProcesses.stop_recorded``), so a reused pid is never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from app.turns.continuation import Continuations
from app.turns.journal import TurnJournal
from core.continuation import Interruption
from core.events import TurnFailed
from core.model import AgentSessionStatus, Task
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.processes import HostProcesses
from core.ports.store import AgentSessionStore, Journal, ProcessRegistry, TaskQueue

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted by restart"


@dataclass
class RecoveryReport:
    failed_turns: list[str] = field(default_factory=list)
    stopped_processes: list[int] = field(default_factory=list)
    forgotten_processes: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class LostTurns:
    """Turns the store failed behind their runner's back (a restart, a node that lost its lease)."""

    journal: Journal
    sessions: AgentSessionStore
    bus: EventBus

    async def record(self, task: Task, at: datetime) -> None:
        """Journal the turn's end so open streams close, and let its agent session reattach on the next turn."""
        writer = TurnJournal(self.journal, self.bus, task.id, task.chat_id)
        await writer.write([TurnFailed(session_id="", turn_id=task.id, error=task.error or INTERRUPTED)])
        if task.chat_id is not None:
            session = await self.sessions.get_agent_session(task.chat_id, task.agent)
            if session is not None and session.status is AgentSessionStatus.BUSY:
                await self.sessions.set_agent_session_status(task.chat_id, task.agent, AgentSessionStatus.EVICTED, at)


async def recover(
    queue: TaskQueue,
    registry: ProcessRegistry,
    processes: HostProcesses,
    lost: LostTurns,
    clock: Clock,
    node_id: str,
    continuations: Continuations | None = None,
) -> RecoveryReport:
    report = RecoveryReport()
    now = clock.now()
    for task in await queue.fail_running_tasks(INTERRUPTED, now, node_id=node_id):
        report.failed_turns.append(task.id)
        await lost.record(task, now)
        if continuations is not None:  # the chat may ask for its interrupted turn to be carried on
            await continuations.after(task, Interruption.RESTART)
    for record in await registry.list_processes(node_id):
        if await processes.stop_recorded(record):
            report.stopped_processes.append(record.pid)
        else:
            report.forgotten_processes.append(record.pid)
        await registry.forget_process(record.key, record.pid)
    if report.failed_turns or report.stopped_processes:
        log.warning(
            "recovered from a previous run: %d turn(s) failed as %r, %d agent process(es) stopped",
            len(report.failed_turns),
            INTERRUPTED,
            len(report.stopped_processes),
        )
    return report
