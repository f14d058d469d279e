"""One turn end to end, the seven steps of the design.

1. ensure the chat worktree; 2. resume or create the agent session (a ContextReset event says why a stored one
could not be resumed); 3. handoff preamble; 4-5. stream, persist, publish (``app.turns.stream``); 6. diff the
worktree into pending changes with attribution (``core.changes``); 7. finish the task with its usage (the store
adds it to the agent session and sets it idle). One-shot routing (``core.routing``) picks a fresh session that is
closed after the turn instead of the pooled warm one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from returns.pipeline import is_successful

from app.metrics import Metrics
from app.pool import AgentPool, LiveSession
from app.turns.stream import StreamResult, TurnJournal, stream_turn
from app.turns.transcript import load_transcript
from core.changes import attribution_stamp, reconcile_pending
from core.events import ContextReset, TurnCancelled, TurnCompleted, TurnFailed
from core.lifecycle import WatchdogPolicy
from core.model import (
    AgentSession,
    AgentSessionStatus,
    BackendKind,
    Chat,
    ChatStatus,
    Task,
    TaskStatus,
    TranscriptEntry,
    Worktree,
)
from core.ports.agents import AgentBackend, SessionHandle, SessionSpec, TurnInput
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Store
from core.ports.worktrees import Worktrees
from core.routing import compose_prompt, handoff_preamble, last_turn_of, should_use_warm_backend

log = logging.getLogger(__name__)

SHUTDOWN_ERROR = "hearth shut down during the turn; submit it again"


@dataclass
class TurnContext:
    task: Task
    journal: TurnJournal
    live: LiveSession | None = None  # pooled (warm) session
    oneshot: SessionHandle | None = None  # fresh session closed after the turn
    backend: AgentBackend | None = None  # whichever runs the session (the watchdog restarts its process)
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def handle(self) -> SessionHandle | None:
        return self.live.handle if self.live is not None else self.oneshot


class TurnRunner:
    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        worktrees: Worktrees,
        pool: AgentPool,
        oneshot_backends: Mapping[str, AgentBackend],
        clock: Clock,
        metrics: Metrics,
        node_id: str,
        watchdog: WatchdogPolicy,
    ) -> None:
        self._store = store
        self._bus = bus
        self._worktrees = worktrees
        self._pool = pool
        self._oneshot = oneshot_backends
        self._clock = clock
        self._metrics = metrics
        self._node_id = node_id
        self._watchdog = watchdog
        self._running: dict[str, TurnContext] = {}

    def is_running(self, task_id: str) -> bool:
        return task_id in self._running

    async def cancel(self, task_id: str) -> bool:
        """Interrupt a running turn of this node (abort / session/cancel; never a kill). False if not running here."""
        ctx = self._running.get(task_id)
        if ctx is None:
            return False
        ctx.cancel_requested.set()
        handle = ctx.handle
        if handle is not None:
            await handle.cancel()
        return True

    async def answer_permission(self, task_id: str, request_id: str, option_id: str | None) -> bool:
        ctx = self._running.get(task_id)
        handle = ctx.handle if ctx is not None else None
        return handle is not None and await handle.answer_permission(request_id, option_id)

    async def run(self, task: Task) -> Task:
        """Runs a claimed task to a terminal state; always finishes the task (shutdown included) before returning."""
        ctx = TurnContext(task, TurnJournal(self._store, self._bus, task.id, task.chat_id))
        self._running[task.id] = ctx
        started = self._clock.monotonic()
        try:
            status, error = await self._steps(ctx)
        except asyncio.CancelledError:
            await asyncio.shield(self._finish_interrupted(ctx))
            raise
        except Exception as exc:
            log.exception("turn %s failed inside hearth", task.id)
            status, error = TaskStatus.FAILED, f"hearth failed running the turn: {exc!r}"
            await ctx.journal.write([TurnFailed(session_id="", turn_id=task.id, error=error)])
        finally:
            self._running.pop(task.id, None)
        finished = await self._store.finish_task(task.id, status, error, ctx.journal.usage, self._clock.now())
        self._metrics.observe_turn(task.agent, self._clock.monotonic() - started)
        return finished

    async def _finish_interrupted(self, ctx: TurnContext) -> None:
        await self._release(ctx)
        error = TurnFailed(session_id="", turn_id=ctx.task.id, error=SHUTDOWN_ERROR)
        await ctx.journal.write([error])
        await self._store.finish_task(
            ctx.task.id, TaskStatus.FAILED, SHUTDOWN_ERROR, ctx.journal.usage, self._clock.now()
        )

    async def _fail(self, ctx: TurnContext, error: str) -> tuple[TaskStatus, str]:
        await ctx.journal.write([TurnFailed(session_id="", turn_id=ctx.task.id, error=error)])
        return TaskStatus.FAILED, error

    async def _steps(self, ctx: TurnContext) -> tuple[TaskStatus, str | None]:
        task = ctx.task
        if task.chat_id is None:
            return await self._fail(ctx, "a turn needs a chat (its worktree is the agent's working directory)")
        chat = await self._store.get_chat(task.chat_id)
        if chat is None or chat.status is not ChatStatus.OPEN:
            return await self._fail(ctx, f"chat {task.chat_id} is closed or deleted; open a new chat")
        # 1. the chat's worktree, shared by every agent and turn
        worktree = await self._ensure_worktree(chat)
        if not isinstance(worktree, Worktree):
            return await self._fail(ctx, worktree)
        # 2. resume or create the agent session
        stored = await self._store.get_agent_session(chat.id, task.agent)
        resumable = stored is not None and stored.status is not AgentSessionStatus.CLOSED
        spec = SessionSpec(
            chat_id=chat.id,
            agent=task.agent,
            cwd=worktree.path,
            resume_id=stored.backend_session_id if stored is not None and resumable else None,
        )
        opened = await self._open(ctx, spec)
        if opened is not None:
            return await self._fail(ctx, opened)
        handle = ctx.handle
        assert handle is not None
        unresponsive = False
        try:
            if ctx.live is not None:  # a one-shot session is thrown away: the chat's agent session stays as it was
                await self._record_session(chat.id, task, handle, stored if resumable else None)
            if handle.context_reset_reason is not None:
                await ctx.journal.write(
                    [
                        ContextReset(
                            session_id=handle.backend_session_id, turn_id=task.id, reason=handle.context_reset_reason
                        )
                    ]
                )
            # 3. what the other agents did since this agent's last turn
            transcript = await load_transcript(self._store, chat.id, task)
            preamble = self._preamble(task.agent, ctx, handle, transcript)
            prompt = compose_prompt(preamble, task.prompt)
            turn = TurnInput(turn_id=task.id, prompt=prompt, transcript=transcript, model=task.model)
            # 4-5. stream, persist, publish
            if ctx.cancel_requested.is_set():
                result = StreamResult(TurnCancelled(session_id=handle.backend_session_id, turn_id=task.id))
                await ctx.journal.write([result.terminal])
            else:
                restart = ctx.backend.restart if ctx.backend is not None else None
                result = await stream_turn(handle, turn, ctx.journal, self._clock, self._watchdog, restart)
                unresponsive = result.agent_unresponsive
        except asyncio.CancelledError:
            await asyncio.shield(handle.cancel())  # shutdown: interrupt the agent, never leave it working
            raise
        finally:
            await self._release(ctx, discard=unresponsive)
        # 6. every turn may have edited files, even a failed or cancelled one
        await self._record_changes(chat.id, task, worktree)
        # 7. the terminal status; usage is added to the agent session by finish_task
        match result.terminal:
            case TurnCompleted():
                return TaskStatus.SUCCEEDED, None
            case TurnCancelled(reason=reason):
                return TaskStatus.CANCELLED, reason
            case TurnFailed(error=error):
                return TaskStatus.FAILED, error

    async def _ensure_worktree(self, chat: Chat) -> Worktree | str:
        existing = await self._store.get_worktree(chat.id)
        ensured = await self._worktrees.ensure(chat.id, chat.repo_path, chat.ref, existing, self._clock.now())
        if not is_successful(ensured):
            return f"could not prepare the chat worktree: {ensured.failure().detail}"
        worktree = ensured.unwrap()
        if worktree != existing:
            await self._store.upsert_worktree(worktree)
        return worktree

    async def _open(self, ctx: TurnContext, spec: SessionSpec) -> str | None:
        """Opens the session into ``ctx``; returns the error text when it cannot be opened."""
        if should_use_warm_backend(ctx.task):
            checked_out = await self._pool.checkout(spec, ctx.task.id)
            if not is_successful(checked_out):
                return checked_out.failure().detail
            ctx.live = checked_out.unwrap()
            ctx.backend = self._pool.backend(spec.agent)
            return None
        backend = self._oneshot.get(spec.agent) or self._pool.backend(spec.agent)
        if backend is None:
            return f"agent {spec.agent!r} is not configured"
        opened = await backend.open_session(spec.model_copy(update={"resume_id": None}))
        if not is_successful(opened):
            return opened.failure().detail
        ctx.oneshot = opened.unwrap()
        ctx.backend = backend
        return None

    async def _release(self, ctx: TurnContext, *, discard: bool = False) -> None:
        """Back to the pool, or dropped when the watchdog gave up on it (the next turn starts it afresh)."""
        if ctx.live is not None:
            live, ctx.live = ctx.live, None
            if discard:
                await self._pool.discard(live, crashed=True)
            else:
                await self._pool.checkin(live)
        if ctx.oneshot is not None:
            handle, ctx.oneshot = ctx.oneshot, None
            try:
                await handle.close()
            except Exception:
                log.exception("closing the one-shot session of turn %s failed", ctx.task.id)

    async def _record_session(
        self, chat_id: str, task: Task, handle: SessionHandle, stored: AgentSession | None
    ) -> None:
        backend = self._pool.backend(task.agent)
        kind = backend.kind if backend is not None else stored.backend if stored is not None else None
        if kind is None:
            return
        base = stored or AgentSession(chat_id=chat_id, agent=task.agent, backend=kind, last_used_at=self._clock.now())
        await self._store.upsert_agent_session(
            base.model_copy(
                update={
                    "backend": kind,
                    "backend_session_id": handle.backend_session_id,
                    "status": AgentSessionStatus.BUSY,
                    "last_used_at": self._clock.now(),
                    "node_id": self._node_id,
                }
            )
        )

    async def _record_changes(self, chat_id: str, task: Task, worktree: Worktree) -> None:
        diffs = await self._worktrees.diff(worktree)
        if not is_successful(diffs):
            log.warning("turn %s: diffing the worktree failed: %s", task.id, diffs.failure().detail)
            return
        current = await self._store.list_pending_changes(chat_id)
        stamp = attribution_stamp(task.agent, self._kind(task.agent))
        update = reconcile_pending(chat_id, current, diffs.unwrap(), stamp, task.id, self._clock.now())
        await self._store.replace_pending_changes(chat_id, update.upserts, update.removed_paths)

    def _kind(self, agent: str) -> BackendKind | None:
        backend = self._pool.backend(agent)
        return backend.kind if backend is not None else None

    def _preamble(
        self, agent: str, ctx: TurnContext, handle: SessionHandle, transcript: tuple[TranscriptEntry, ...]
    ) -> str | None:
        """Native agents get the whole transcript as history; others a preamble of what they have not seen."""
        if self._kind(agent) is BackendKind.NATIVE:
            return None
        own_last = last_turn_of(agent, transcript)
        kept_warm = ctx.live is not None and not ctx.live.fresh
        if kept_warm or (handle.resumed and handle.context_reset_reason is None):
            return handoff_preamble(agent, transcript, own_last)
        # a new session remembers nothing: tell it about its own earlier turns too
        return handoff_preamble(agent, transcript, None, include_own=own_last is not None)
