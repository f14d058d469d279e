"""One turn end to end.

1. ensure the chat worktree; 2. resume or create the agent session (``app.turns.sessions``; a ContextReset event
says why a stored one could not be resumed); 3. handoff preamble; 4-5. stream, persist, publish
(``app.turns.stream``); 6. diff the worktree into pending changes with attribution (``core.changes``); 7. finish
the task with its usage (the store adds it to the agent session and sets it idle), store the pending changes the
diff made and journal the agent's last events and the turn's terminal event, all in one transaction, so whoever
reacts to that event reads the turn's final state. The turn is in the
``TurnRegistry`` throughout, so a cancel or a permission answer reaches whichever phase it is in. A store that is
out of reach mid-turn fails the turn ("the store failed: ..."), stored once the store is back (``app.turns.settle``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from returns.result import Failure, Result, Success

from app.metrics import Metrics
from app.turns.continuation import Continuations
from app.turns.journal import TurnJournal
from app.turns.phases import TurnPhases
from app.turns.registry import TurnRegistry
from app.turns.sessions import OpenSession, TurnSessions
from app.turns.settle import NO_RETRY, StoreRetry, retry_store, store_fault
from app.turns.stream import StreamResult, stream_turn
from core.agents import ModelPrice
from core.changes import attribution_stamp, reconcile_pending, worktree_may_have_changed
from core.continuation import Interruption
from core.errors import Conflict, DomainError
from core.events import ContextReset, TerminalEvent, TurnCancelled, TurnCompleted, TurnFailed
from core.handoff import HistoryBudget, fit_budget
from core.lifecycle import WatchdogPolicy
from core.model import BackendKind, Chat, ChatStatus, Task, TaskStatus, Worktree
from core.ports.agents import TurnInput
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import HistoryStore, Journal, TaskQueue, WorktreeStore
from core.ports.turns import ReconcilePending
from core.ports.worktrees import Worktrees
from core.routing import PREAMBLE_MAX_CHARS, PREAMBLE_MAX_TURNS, compose_prompt, handoff_preamble

log = logging.getLogger(__name__)

SHUTDOWN_ERROR = "hearth shut down during the turn; submit it again"
NATIVE_HISTORY = HistoryBudget(max_turns=30, max_chars=32_000)  # HEARTH_HISTORY_MAX_TURNS / _MAX_CHARS


def outcome_of(terminal: TerminalEvent) -> tuple[TaskStatus, str | None]:
    """The stored status and error of a turn that ended with ``terminal``."""
    match terminal:
        case TurnCompleted():
            return TaskStatus.SUCCEEDED, None
        case TurnCancelled(reason=reason):
            return TaskStatus.CANCELLED, reason
        case TurnFailed(error=error):
            return TaskStatus.FAILED, error


class TurnRunner:
    def __init__(
        self,
        *,
        worktree_rows: WorktreeStore,
        queue: TaskQueue,
        journal: Journal,
        history: HistoryStore,
        bus: EventBus,
        worktrees: Worktrees,
        sessions: TurnSessions,
        registry: TurnRegistry,
        clock: Clock,
        metrics: Metrics,
        watchdog: WatchdogPolicy,
        prices: Mapping[str, ModelPrice],
        store_retry: StoreRetry = StoreRetry(),
        native_history: HistoryBudget = NATIVE_HISTORY,
        handoff_max_chars: int = PREAMBLE_MAX_CHARS,
        continuations: Continuations | None = None,
    ) -> None:
        self._worktree_rows = worktree_rows
        self._queue = queue
        self._journal = journal
        self._history = history
        self._native_history = native_history
        self._handoff_max_chars = handoff_max_chars
        self._bus = bus
        self._worktrees = worktrees
        self._sessions = sessions
        self._registry = registry
        self._clock = clock
        self._metrics = metrics
        self._phases = TurnPhases(clock, metrics)
        self._watchdog = watchdog
        self._prices = prices  # agent -> its provider's price, for the usage ledger (``core.usage``)
        self._store_retry = store_retry
        self.continuations = continuations
        self._crashed: set[str] = set()  # turns whose agent process died under them

    async def run(self, task: Task) -> Task:
        """Runs a claimed task to a terminal state; always finishes the task (shutdown included) before returning."""
        journal = TurnJournal(self._journal, self._bus, task.id, task.chat_id, self._prices.get(task.agent))
        started = self._clock.monotonic()
        reconcile: ReconcilePending | None = None  # the turn's diff, stored with its end
        try:
            terminal, reconcile = await self._steps(task, journal)
        except asyncio.CancelledError:
            shutdown = TurnFailed(session_id="", turn_id=task.id, error=SHUTDOWN_ERROR)
            await asyncio.shield(self._finish(task, journal, shutdown, retry=NO_RETRY))
            raise
        except Exception as exc:
            if (fault := store_fault(exc)) is not None:
                # the agent's events could not be journaled (persist first), so the turn cannot go on
                log.warning("turn %s: the store failed (%s); the turn fails once the store is back", task.id, fault)
                error = f"the store failed: {fault}"
            else:
                log.exception("turn %s failed inside hearth", task.id)
                error = f"hearth failed running the turn: {exc!r}"
            terminal = TurnFailed(session_id="", turn_id=task.id, error=error)
        with self._phases.timed("finish"):
            finished = await self._finish(task, journal, terminal, retry=self._store_retry, reconcile=reconcile)
        self._phases.observe("persist", journal.persist_s)
        self._metrics.observe_turn(task.agent, self._clock.monotonic() - started)
        if task.id in self._crashed:
            self._crashed.discard(task.id)
            if self.continuations is not None:
                await self.continuations.after(finished, Interruption.AGENT_CRASH)
        return finished

    async def _finish(
        self,
        task: Task,
        journal: TurnJournal,
        terminal: TerminalEvent,
        *,
        retry: StoreRetry,
        reconcile: ReconcilePending | None = None,
    ) -> Task:
        """Store the final state (status, error, usage, reply) and the pending changes the turn's diff made, and
        journal the terminal event, in one transaction, then publish it: whoever reacts to that event (an SSE client
        reading the turn or its changes at once) reads a finished turn. Exactly one terminal event: the store
        journals it only when this call finished the task. Retried while the store is out of reach; each try is one
        transaction, so a repeat never finishes the task twice."""
        self._registry.finishing(task.id)
        status, error = outcome_of(terminal)

        async def store_final_state_and_terminal() -> Task:
            if journal.ended:  # the agent's own stream carried a terminal event already
                await journal.write_held()
                return await self._queue.finish_task(task.id, status, error, journal.usage, self._clock.now())
            last = journal.last_events(terminal)  # the agent's last batch, held for this transaction, then terminal
            finished, stored = await self._queue.finish_turn(
                task.id, task.chat_id, status, error, journal.usage, self._clock.now(), journal.reply, last, reconcile
            )
            await journal.published(stored)
            return finished

        return await retry_store(f"finishing turn {task.id}", store_final_state_and_terminal, self._clock, retry)

    async def _steps(self, task: Task, journal: TurnJournal) -> tuple[TerminalEvent, ReconcilePending | None]:
        """Steps 1 to 6; returns the turn's terminal event and what its diff makes of the chat's pending changes,
        both still to be stored (``_finish``)."""
        # 1. the chat's worktree, shared by every agent and turn
        with self._phases.timed("prepare"):
            prepared = await self._prepare(task)
        if not isinstance(prepared, Success):
            return TurnFailed(session_id="", turn_id=task.id, error=prepared.failure().detail), None
        chat, worktree = prepared.unwrap()
        # 2. resume or create the agent session
        with self._phases.timed("session"):
            opened = await self._sessions.open(task, worktree.path)
        if not isinstance(opened, Success):
            return TurnFailed(session_id="", turn_id=task.id, error=opened.failure().detail), None
        session = opened.unwrap()
        self._registry.attach(task.id, session.handle)
        unresponsive = False
        reconcile: ReconcilePending | None = None
        try:
            # the agent's stream is closed in this group while the worktree is diffed: the handle goes back after
            async with asyncio.TaskGroup() as group:
                result = await self._converse(task, journal, chat, session, group)
                self._registry.finishing(task.id)  # the agent's turn is over: a cancel no longer reaches it
                unresponsive = result.agent_unresponsive
                if isinstance(result.terminal, TurnFailed) and not unresponsive and not session.handle.is_alive():
                    self._crashed.add(task.id)
                # 6. every turn may have edited files, even a failed or cancelled one (not a native turn that only read)
                if worktree_may_have_changed(self._sessions.kind(task.agent), journal.tools_used):
                    reconcile = await self._changes(task, worktree)  # the stream closes in the group, meanwhile or next
        except asyncio.CancelledError:
            await asyncio.shield(session.handle.cancel())  # shutdown: interrupt the agent, never leave it working
            raise
        finally:
            self._registry.finishing(task.id)
            await self._sessions.release(session, task.id, discard=unresponsive)
        return result.terminal, reconcile

    async def _prepare(self, task: Task) -> Result[tuple[Chat, Worktree], DomainError]:
        if task.chat_id is None:
            detail = "a turn needs a chat (its worktree is the agent's working directory)"
            return Failure(Conflict(detail=detail, field="chat_id"))
        chat, existing = await self._worktree_rows.get_chat_and_worktree(task.chat_id)
        if chat is None or chat.status is not ChatStatus.OPEN:
            detail = f"chat {task.chat_id} is closed or deleted; open a new chat"
            return Failure(Conflict(detail=detail, field="chat.status"))
        ensured = await self._worktrees.ensure(chat.id, chat.repo_path, chat.ref, existing, self._clock.now())
        if not isinstance(ensured, Success):
            error = ensured.failure()
            detail = f"could not prepare the chat worktree: {error.detail}"
            return Failure(error.model_copy(update={"detail": detail}))
        worktree = ensured.unwrap()
        if worktree != existing:
            await self._worktree_rows.upsert_worktree(worktree)
        return Success((chat, worktree))

    async def _converse(
        self, task: Task, journal: TurnJournal, chat: Chat, session: OpenSession, group: asyncio.TaskGroup
    ) -> StreamResult:
        """Steps 3 to 5: the prompt with its handoff preamble, streamed to the agent under the watchdog."""
        handle = session.handle
        if handle.context_reset_reason is not None:
            reset = ContextReset(
                session_id=handle.backend_session_id, turn_id=task.id, reason=handle.context_reset_reason
            )
            await journal.write([reset])
        with self._phases.timed("handoff"):
            turn = await self._handoff(task, chat.id, session)
        if self._registry.cancel_requested(task.id):  # cancelled while the session was being opened
            return StreamResult(TurnCancelled(session_id=handle.backend_session_id, turn_id=task.id))
        with self._phases.timed("agent"):
            restart = session.backend.restart
            return await stream_turn(handle, turn, journal, self._clock, self._watchdog, restart, drain_in=group)

    async def _changes(self, task: Task, worktree: Worktree) -> ReconcilePending | None:
        """The worktree's diff, as what it makes of the chat's pending rows (``core.changes.reconcile_pending``),
        stored with the turn's end in one transaction; None when the diff failed (the pending rows stay)."""
        with self._phases.timed("diff"):
            diffs = await self._worktrees.diff(worktree)
        if not isinstance(diffs, Success):
            log.warning("turn %s: diffing the worktree failed: %s", task.id, diffs.failure().detail)
            return None
        files = diffs.unwrap()
        stamp = attribution_stamp(task.agent, self._sessions.kind(task.agent))
        now = self._clock.now()
        assert task.chat_id is not None, "a turn with a worktree has a chat"
        chat_id = task.chat_id
        return lambda current: reconcile_pending(chat_id, current, files, stamp, task.id, now)

    async def _handoff(self, task: Task, chat_id: str, session: OpenSession) -> TurnInput:
        """What the agent is told of the chat, read in one bounded query: a native agent gets the newest turns as
        its history; another agent a preamble of what it has not seen since its own last turn (its cursor), or of
        the newest turns when its session remembers nothing."""
        if self._sessions.kind(task.agent) is BackendKind.NATIVE:
            budget = self._native_history
            window = await self._history.turn_history(chat_id, before=task.id, limit=budget.max_turns)
            shown, omitted = fit_budget(window.entries, window.earlier, budget)
            return TurnInput(
                turn_id=task.id, prompt=task.prompt, transcript=shown, earlier_turns=omitted, model=task.model
            )
        handle = session.handle
        remembers = session.kept_warm or (handle.resumed and handle.context_reset_reason is None)
        since_agent = task.agent if remembers else None
        window = await self._history.turn_history(
            chat_id, before=task.id, limit=PREAMBLE_MAX_TURNS, since_agent=since_agent
        )
        # a new session remembers nothing: it is told about its own earlier turns too
        include_own = not remembers and any(entry.agent == task.agent for entry in window.entries)
        preamble = handoff_preamble(
            task.agent,
            window.entries,
            None,
            include_own=include_own,
            earlier=window.earlier,
            max_chars=self._handoff_max_chars,
        )
        return TurnInput(turn_id=task.id, prompt=compose_prompt(preamble, task.prompt), model=task.model)
