"""Claims queued turns and runs them: one chat strictly in order, different chats in parallel up to a bound.

The store's ``claim_next_task`` never hands out a chat that has a running turn or that another node holds the lease
of, and the dispatcher also skips the chats it is running itself, so a busy chat is skipped, never waited on. A
claim leases the chat to this node (``app.upkeep.leases`` keeps it). ``run`` owns every turn task in one
TaskGroup; ``shutdown`` stops taking work, gives in-flight turns a grace period, then cancels them.

A turn this node claimed is briefly unknown to the runner: before its job starts, and while the runner stores its
terminal status. A cancel in those windows is not "running on another node": before the start it is honoured
(the turn ends cancelled without running), while finishing it waits for the outcome. A cancel or permission answer
that reached another node's API is relayed through the store; each poll delivers those for the turns running here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from enum import StrEnum

from app.turns.runner import TurnRunner
from app.turns.stream import TurnJournal
from core.events import TurnCancelled
from core.model import Task, TaskStatus, TurnRequestKind, Usage
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Store

log = logging.getLogger(__name__)

FINISHING_WAIT_S = 10.0  # a turn the runner has let go of only has its terminal status left to store
CANCELLED_BEFORE_START = "cancelled before it started"


class CancelOutcome(StrEnum):
    DEQUEUED = "dequeued"  # it never started
    INTERRUPTING = "interrupting"  # the agent was asked to stop; the turn ends as cancelled shortly
    NOT_RUNNING_HERE = "not_running_here"  # running on another node, or already over


class Dispatcher:
    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        runner: TurnRunner,
        clock: Clock,
        node_id: str,
        max_parallel: int,
        lease_ttl_s: float,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._store = store
        self._bus = bus
        self._runner = runner
        self._clock = clock
        self._node_id = node_id
        self.max_parallel = max_parallel
        self._lease_ttl = timedelta(seconds=lease_ttl_s)
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._inflight: dict[str, tuple[str | None, asyncio.Task[None]]] = {}
        self._started: set[str] = set()  # in-flight turns handed to the runner
        self._cancel_before_start: set[str] = set()
        self.accepting = True

    def wake(self) -> None:
        """A turn was submitted (or one finished): look for work now instead of at the next poll."""
        self._wake.set()

    def inflight_chats(self) -> list[str]:
        return [chat for chat, _ in self._inflight.values() if chat is not None]

    def inflight_turns(self, chat_id: str) -> list[str]:
        return [turn for turn, (chat, _) in self._inflight.items() if chat == chat_id]

    def inflight_count(self) -> int:
        return len(self._inflight)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while not self._stopping.is_set():
                self._wake.clear()
                await self._fill(group)
                await self._deliver_relayed_requests()
                try:
                    async with asyncio.timeout(self._poll_interval_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _fill(self, group: asyncio.TaskGroup) -> None:
        while len(self._inflight) < self.max_parallel and not self._stopping.is_set():
            try:
                now = self._clock.now()
                task = await self._store.claim_next_task(
                    self._node_id, now, skip_chats=self.inflight_chats(), lease_until=now + self._lease_ttl
                )
            except Exception:
                log.exception("claiming a queued turn failed; retrying at the next poll")
                return
            if task is None:
                return
            job = group.create_task(self._run_one(task), name=f"turn-{task.id}")
            self._inflight[task.id] = (task.chat_id, job)

    async def _deliver_relayed_requests(self) -> None:
        """Cancels and permission answers that reached another node's API for the turns running here."""
        if not self._inflight:
            return
        try:
            requests = await self._store.take_turn_requests(self._node_id)
        except Exception:
            log.exception("reading relayed turn requests failed; retrying at the next poll")
            return
        for request in requests:
            if request.kind is TurnRequestKind.CANCEL:
                unstarted = request.task_id in self._inflight and request.task_id not in self._started
                if not await self._runner.cancel(request.task_id) and unstarted:
                    self._cancel_before_start.add(request.task_id)  # claimed here, its job not started yet
            elif not await self._runner.answer_permission(request.task_id, request.request_id or "", request.option_id):
                log.warning(
                    "a relayed answer to permission request %s of turn %s found no question waiting (answered or "
                    "timed out)",
                    request.request_id,
                    request.task_id,
                )

    async def _run_one(self, task: Task) -> None:
        try:
            if task.id in self._cancel_before_start:
                await self._finish_unstarted(task)
                return
            self._started.add(task.id)
            await self._runner.run(task)
        except asyncio.CancelledError:
            raise
        except Exception:
            # the store itself broke mid-turn; startup recovery fails the task if it stays running
            log.exception("turn %s could not be finished", task.id)
        finally:
            self._inflight.pop(task.id, None)
            self._started.discard(task.id)
            self._cancel_before_start.discard(task.id)
            self._wake.set()

    async def _finish_unstarted(self, task: Task) -> None:
        journal = TurnJournal(self._store, self._bus, task.id, task.chat_id)
        await journal.write([TurnCancelled(session_id="", turn_id=task.id, reason=CANCELLED_BEFORE_START)])
        await self._store.finish_task(task.id, TaskStatus.CANCELLED, CANCELLED_BEFORE_START, Usage(), self._clock.now())

    async def cancel(self, task: Task) -> CancelOutcome:
        dequeued = await self._store.cancel_queued_task(task.id, self._clock.now())
        if dequeued is not None:
            journal = TurnJournal(self._store, self._bus, task.id, task.chat_id)
            await journal.write([TurnCancelled(session_id="", turn_id=task.id, reason=CANCELLED_BEFORE_START)])
            return CancelOutcome.DEQUEUED
        if await self._runner.cancel(task.id):
            return CancelOutcome.INTERRUPTING
        inflight = self._inflight.get(task.id)
        if inflight is None:
            return CancelOutcome.NOT_RUNNING_HERE
        if task.id not in self._started:  # claimed here, its job not started yet
            self._cancel_before_start.add(task.id)
            return CancelOutcome.INTERRUPTING
        # the runner let go of it and is storing its terminal status: report that outcome, not a conflict
        await asyncio.wait({inflight[1]}, timeout=FINISHING_WAIT_S)
        return CancelOutcome.NOT_RUNNING_HERE

    async def shutdown(self, grace_s: float) -> None:
        """Stop claiming; let in-flight turns finish within ``grace_s``; then cancel them (they record why)."""
        self.accepting = False
        self._stopping.set()
        self._wake.set()
        jobs = [job for _, job in self._inflight.values()]
        if not jobs:
            return
        log.info("waiting up to %.0f s for %d running turn(s)", grace_s, len(jobs))
        _, pending = await asyncio.wait(jobs, timeout=grace_s)
        for job in pending:
            job.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace_s)
