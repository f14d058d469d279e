"""Claims queued turns and runs them: one chat strictly in order, different chats in parallel as far as admitted.

The store's ``claim_next_task`` never hands out a chat that has a running turn or that another node holds the lease
of, and the dispatcher also skips the chats it is running itself, so a busy chat is skipped, never waited on. A
claim leases the chat to this node (``app.upkeep.leases`` keeps it). ``run`` owns every turn job in one TaskGroup;
``shutdown`` stops taking work, gives in-flight turns a grace period, then cancels them. Every claimed turn is in
the ``TurnRegistry`` until its job is over; each poll also delivers the cancels and permission answers that reached
another node's API for the turns running here. ``core.admission`` decides whether one more turn may start (``_admits``
is the one place it is asked); a turn that ends wakes the loop at once, so its chat's next queued turn is claimed the
moment the chat is free, not at the next poll.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from app.turns.journal import CANCELLED_BEFORE_START, TurnJournal
from app.turns.registry import TurnRegistry
from app.turns.runner import TurnRunner
from core.admission import AdmissionView, refusal
from core.events import TurnCancelled
from core.model import Task, TaskStatus, TurnRequestKind
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Journal, TaskQueue, TurnRequestRelay

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        *,
        queue: TaskQueue,
        relay: TurnRequestRelay,
        journal: Journal,
        bus: EventBus,
        registry: TurnRegistry,
        runner: TurnRunner,
        clock: Clock,
        node_id: str,
        max_parallel: int,
        lease_ttl_s: float,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._queue = queue
        self._relay = relay
        self._journal = journal
        self._bus = bus
        self._registry = registry
        self._runner = runner
        self._clock = clock
        self._node_id = node_id
        self.max_parallel = max_parallel
        self._lease_ttl = timedelta(seconds=lease_ttl_s)
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.accepting = True

    def wake(self) -> None:
        """A turn was submitted (or one finished): look for work now instead of at the next poll."""
        self._wake.set()

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

    def _admits(self) -> bool:
        """The single admission point of a turn on this node (``core.admission``)."""
        view = AdmissionView(
            busy_handles=self._registry.count(), max_busy_handles=self.max_parallel, stopping=self._stopping.is_set()
        )
        return refusal(view) is None

    async def _fill(self, group: asyncio.TaskGroup) -> None:
        while self._admits():
            try:
                now = self._clock.now()
                task = await self._queue.claim_next_task(
                    self._node_id, now, skip_chats=self._registry.chats(), lease_until=now + self._lease_ttl
                )
            except Exception:
                log.exception("claiming a queued turn failed; retrying at the next poll")
                return
            if task is None:
                return
            turn = self._registry.claim(task)
            turn.job = group.create_task(self._run_one(task), name=f"turn-{task.id}")

    async def _deliver_relayed_requests(self) -> None:
        """Cancels and permission answers that reached another node's API for the turns running here."""
        if not self._registry.count():
            return
        try:
            requests = await self._relay.take_turn_requests(self._node_id)
        except Exception:
            log.exception("reading relayed turn requests failed; retrying at the next poll")
            return
        for request in requests:
            if request.kind is TurnRequestKind.CANCEL:
                await self._registry.cancel(request.task_id)
            elif not await self._registry.answer_permission(
                request.task_id, request.request_id or "", request.option_id
            ):
                log.warning(
                    "a relayed answer to permission request %s of turn %s found no question waiting (answered or "
                    "timed out)",
                    request.request_id,
                    request.task_id,
                )

    async def _run_one(self, task: Task) -> None:
        try:
            if self._registry.start(task.id):
                await self._runner.run(task)
            else:
                await self._finish_unstarted(task)
        except asyncio.CancelledError:
            raise
        except Exception:
            # the runner retried storing the end while the store was out (app.turns.settle) and gave up
            log.exception(
                "turn %s could not be finished: it stays running in the store until startup recovery fails it at "
                "the next start of hearth (its chat takes no new turn until then); restart hearth once the store "
                "is back",
                task.id,
            )
        finally:
            self._registry.release(task.id)
            self._wake.set()

    async def _finish_unstarted(self, task: Task) -> None:
        """Cancelled between its claim and its start: stored first, then journaled, as every turn ends."""
        await self._queue.finish_task(task.id, TaskStatus.CANCELLED, CANCELLED_BEFORE_START, None, self._clock.now())
        journal = TurnJournal(self._journal, self._bus, task.id, task.chat_id)
        await journal.write([TurnCancelled(session_id="", turn_id=task.id, reason=CANCELLED_BEFORE_START)])

    async def shutdown(self, grace_s: float) -> None:
        """Stop claiming; let in-flight turns finish within ``grace_s``; then cancel them (they record why)."""
        self.accepting = False
        self._stopping.set()
        self._wake.set()
        jobs = self._registry.jobs()
        if not jobs:
            return
        log.info("waiting up to %.0f s for %d running turn(s)", grace_s, len(jobs))
        _, pending = await asyncio.wait(jobs, timeout=grace_s)
        for job in pending:
            job.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace_s)
