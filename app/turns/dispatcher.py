"""Claims queued turns and runs them: one chat strictly in order, different chats in parallel as far as admitted.

The store's ``claim_next_runnable`` never hands out a chat that has a running turn or that another node holds the
lease of, and the dispatcher also skips the chats it is running itself, so a busy chat is skipped, never waited on. A
claim leases the chat to this node (``app.upkeep.leases`` keeps it). ``run`` owns every turn job in one TaskGroup;
``shutdown`` stops taking work, gives in-flight turns a grace period, then cancels them. Every claimed turn is in
the ``TurnRegistry`` until its job is over. ``core.admission`` decides whether one more turn may start (``_admits``
is the one place it is asked); a turn that ends wakes the loop at once, so its chat's next queued turn is claimed the
moment the chat is free, not at the next poll.

A submitted turn this node admits, whose chat runs nothing here, is claimed in the write that queues it (``enqueue``)
and its job starts at once, without a hop through the loop; a submission that could not claim wakes the loop as
before. The loop asks the store again only while it says more is runnable, and polls the requests relayed from other
nodes' APIs (cancels, permission answers) when one may have arrived: at each poll, or when the bus announces work.
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
from core.ports.store import ClaimFor, Journal, TaskQueue, TurnRequestRelay

log = logging.getLogger(__name__)

# How long a shutdown waits for the submissions claiming at that moment (one store write each) before it gives the
# running turns their grace; a claim that lands later still runs its turn in the group, just without that grace
CLAIMS_SETTLE_S = 30.0


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
        self._fill_due = True  # work may be queued for this node: claim
        self._relay_due = True  # a request may have been relayed to a turn here: poll
        self._stopping = asyncio.Event()
        self._group: asyncio.TaskGroup | None = None  # the turn jobs' group, while ``run`` runs
        self._claiming = 0  # submissions claiming now: each holds the admission of one turn
        self._claims_settled = asyncio.Event()
        self._claims_settled.set()
        self.accepting = True

    def wake(self) -> None:
        """A turn was queued (or one finished): look for work now instead of at the next poll."""
        self._fill_due = True
        self._wake.set()

    def work_announced(self) -> None:
        """The bus says some node queued a turn or relayed a request: claim, and poll the relayed requests."""
        self._relay_due = True
        self.wake()

    async def enqueue(self, task: Task) -> Task:
        """Queue a submitted turn; claim it in the same write when this node admits one more turn and runs nothing of
        its chat (the store claims it only at the head of its chat's queue), and start its job at once. Returns the
        task as stored: ``running`` here, or ``queued`` for the loop (and the other nodes) to claim."""
        group = self._group
        if group is None or task.chat_id is None or self._registry.turns_of(task.chat_id) or not self._admits():
            return self._queued(await self._queue.enqueue_task(task))
        self._claiming += 1  # holds one admission until the turn is in the registry; a shutdown waits for it
        self._claims_settled.clear()
        # the write may commit even if this request is cancelled meanwhile (a shutdown cancels the requests still
        # open), so the claim is a child of the group, shielded: a turn claimed here always gets its job
        claiming = group.create_task(self._claim_at_submission(group, task), name=f"claim-{task.id}")
        outcome = await asyncio.shield(claiming)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _claim_at_submission(self, group: asyncio.TaskGroup, task: Task) -> Task | Exception:
        try:
            now = self._clock.now()
            stored = await self._queue.enqueue_task(task, ClaimFor(self._node_id, now, now + self._lease_ttl))
            if stored.status is TaskStatus.RUNNING:
                self._start(group, stored)
            else:
                self.wake()
            return stored
        except Exception as error:  # the submission reports it; the group must not fail with it
            return error
        finally:
            self._claiming -= 1
            if not self._claiming:
                self._claims_settled.set()

    def _queued(self, task: Task) -> Task:
        self.wake()
        return task

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as group:
            self._group = group
            next_poll = loop.time()
            while not self._stopping.is_set():
                self._wake.clear()
                polling = loop.time() >= next_poll
                if polling:
                    next_poll = loop.time() + self._poll_interval_s
                if polling or self._fill_due:
                    self._fill_due = False
                    await self._fill(group)
                if polling or self._relay_due:
                    self._relay_due = False
                    await self._deliver_relayed_requests()
                try:
                    async with asyncio.timeout(max(0.0, next_poll - loop.time())):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            self._group = None  # no new claim at submission; those under way finish in the group

    def _admits(self) -> bool:
        """The single admission point of a turn on this node (``core.admission``)."""
        view = AdmissionView(
            busy_handles=self._registry.count() + self._claiming,
            max_busy_handles=self.max_parallel,
            stopping=self._stopping.is_set(),
        )
        return refusal(view) is None

    async def _fill(self, group: asyncio.TaskGroup) -> None:
        while self._admits():
            try:
                now = self._clock.now()
                claimed = await self._queue.claim_next_runnable(
                    self._node_id, now, skip_chats=self._registry.chats(), lease_until=now + self._lease_ttl
                )
            except Exception:
                log.exception("claiming a queued turn failed; retrying at the next poll")
                return
            if claimed.task is not None:
                self._start(group, claimed.task)
            if not claimed.more:
                return

    def _start(self, group: asyncio.TaskGroup, task: Task) -> None:
        turn = self._registry.claim(task)
        turn.job = group.create_task(self._run_one(task), name=f"turn-{task.id}")

    async def _settle_claims(self) -> None:
        try:
            async with asyncio.timeout(CLAIMS_SETTLE_S):
                await self._claims_settled.wait()
        except TimeoutError:
            log.warning(
                "%d submission(s) still claiming after %.0f s: their turns run once claimed, outside the grace period",
                self._claiming,
                CLAIMS_SETTLE_S,
            )

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
            self.wake()

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
        await self._settle_claims()  # their turns were admitted before the shutdown: they get the grace too
        jobs = self._registry.jobs()
        if not jobs:
            return
        log.info("waiting up to %.0f s for %d running turn(s)", grace_s, len(jobs))
        _, pending = await asyncio.wait(jobs, timeout=grace_s)
        for job in pending:
            job.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace_s)
