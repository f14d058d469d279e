"""Runs arena contestants: each one-shot in its own forked worktree, in parallel up to a bound.

A contestant is a chat-less task (so the chat's one-running-turn rule and its lease do not serialize the
contestants) whose events are journaled under the arena's chat, so the chat's stream and the arena's show them. It
opens a fresh one-shot session in its own worktree: no pool handle and no agent session row of the chat are ever
touched. When it ends, its diff against the fork is recorded on the contestant, then the task is finished and only
then its terminal event journaled (the order every turn follows). ``run`` owns every job in one TaskGroup for the
service's lifetime; ``shutdown`` gives running contestants a grace period, then cancels them (they record why).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from returns.result import Success

from app.turns.journal import TurnJournal
from app.turns.runner import SHUTDOWN_ERROR, outcome_of
from app.turns.sessions import TurnSessions
from app.turns.stream import stream_turn
from app.upkeep.arena_reaping import soft_delete_contestant
from core.agents import ModelPrice
from core.arena import Arena, Contestant, to_remove
from core.events import TerminalEvent, TurnFailed
from core.lifecycle import WatchdogPolicy
from core.model import Task, Worktree
from core.ports.agents import TurnInput
from core.ports.arenas import ArenaStore
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Journal, TaskQueue
from core.ports.worktrees import Worktrees

log = logging.getLogger(__name__)

POLL_S = 1.0


@dataclass(frozen=True)
class Contest:
    arena: Arena
    contestant: Contestant
    task: Task
    worktree: Worktree


class ContestRunner:
    def __init__(
        self,
        *,
        queue: TaskQueue,
        journal: Journal,
        arenas: ArenaStore,
        bus: EventBus,
        worktrees: Worktrees,
        sessions: TurnSessions,
        clock: Clock,
        watchdog: WatchdogPolicy,
        prices: Mapping[str, ModelPrice],
        max_parallel: int,
    ) -> None:
        self._queue = queue
        self._journal = journal
        self._arenas = arenas
        self._bus = bus
        self._worktrees = worktrees
        self._sessions = sessions
        self._clock = clock
        self._watchdog = watchdog
        self._prices = prices
        self._slots = asyncio.Semaphore(max(1, max_parallel))
        self._waiting: asyncio.Queue[Contest] = asyncio.Queue()
        self._jobs: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self.accepting = True

    def submit(self, contest: Contest) -> None:
        self._waiting.put_nowait(contest)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while not self._stopping.is_set():
                try:
                    async with asyncio.timeout(POLL_S):
                        contest = await self._waiting.get()
                except TimeoutError:
                    continue
                job = group.create_task(self._run_one(contest), name=f"contestant-{contest.task.id}")
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)

    async def shutdown(self, grace_s: float) -> None:
        """Stop taking contestants; let running ones finish within ``grace_s``; then cancel them."""
        self.accepting = False
        self._stopping.set()
        while not self._waiting.empty():  # never started: they fail like a turn hearth shut down under
            contest = self._waiting.get_nowait()
            journal = self._journal_of(contest)
            await self._finish(
                contest, journal, TurnFailed(session_id="", turn_id=contest.task.id, error=SHUTDOWN_ERROR)
            )
        jobs = set(self._jobs)
        if not jobs:
            return
        _, pending = await asyncio.wait(jobs, timeout=grace_s)
        for job in pending:
            job.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace_s)

    def _journal_of(self, contest: Contest) -> TurnJournal:
        price = self._prices.get(contest.task.agent)
        return TurnJournal(self._journal, self._bus, contest.task.id, contest.arena.chat_id, price)

    async def _run_one(self, contest: Contest) -> None:
        journal = self._journal_of(contest)
        try:
            async with self._slots:
                started = self._clock.monotonic()
                try:
                    terminal = await self._converse(contest, journal)
                finally:
                    await asyncio.shield(self._record(contest, self._clock.monotonic() - started))
        except asyncio.CancelledError:
            shutdown = TurnFailed(session_id="", turn_id=contest.task.id, error=SHUTDOWN_ERROR)
            await asyncio.shield(self._finish(contest, journal, shutdown))
            raise
        except Exception as exc:
            log.exception("arena contestant %s failed inside hearth", contest.task.id)
            terminal = TurnFailed(session_id="", turn_id=contest.task.id, error=f"hearth failed running it: {exc!r}")
        finished = await self._finish(contest, journal, terminal)
        await self._remove_if_decided(contest, finished)

    async def _remove_if_decided(self, contest: Contest, finished: Task) -> None:
        """Adopted or discarded while it ran: its worktree goes now that it has ended (snapshot kept)."""
        arena = await self._arenas.get_arena(contest.arena.id)
        if arena is None:
            return
        for contestant in to_remove(arena, {finished.id: finished.status}):
            await soft_delete_contestant(self._arenas, self._worktrees, contestant, self._clock.now())

    async def _converse(self, contest: Contest, journal: TurnJournal) -> TerminalEvent:
        task = contest.task
        opened = await self._sessions.open_oneshot(task.agent, contest.worktree.path)
        if not isinstance(opened, Success):
            return TurnFailed(session_id="", turn_id=task.id, error=opened.failure().detail)
        session = opened.unwrap()
        unresponsive = False
        try:
            turn = TurnInput(turn_id=task.id, prompt=task.prompt, model=task.model)
            result = await stream_turn(
                session.handle, turn, journal, self._clock, self._watchdog, session.backend.restart
            )
            unresponsive = result.agent_unresponsive
            return result.terminal
        except asyncio.CancelledError:
            await asyncio.shield(session.handle.cancel())
            raise
        finally:
            await self._sessions.release(session, task.id, discard=unresponsive)

    async def _record(self, contest: Contest, wall_s: float) -> None:
        """Its diff against the fork, kept on the contestant: readable after its worktree is gone."""
        diffs = await self._worktrees.diff(contest.worktree)
        if not isinstance(diffs, Success):
            log.warning("arena contestant %s: diffing its worktree failed: %s", contest.task.id, diffs.failure().detail)
        files = tuple(diffs.unwrap()) if isinstance(diffs, Success) else ()
        await self._arenas.save_contestant(contest.contestant.model_copy(update={"files": files, "wall_s": wall_s}))

    async def _finish(self, contest: Contest, journal: TurnJournal, terminal: TerminalEvent) -> Task:
        status, error = outcome_of(terminal)
        finished = await self._queue.finish_task(contest.task.id, status, error, journal.usage, self._clock.now())
        if not journal.ended:
            await journal.write([terminal])
        return finished
