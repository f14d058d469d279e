"""The arena: one prompt to several agents at once, each in a worktree forked from the chat, then adopt one or none.

``start`` forks every contestant's worktree from the chat worktree as it is (its HEAD plus the pending changes),
stores each contestant's run as a chat-less task and hands them to the ``ContestRunner``. ``adopt`` copies the
winner's files into the chat's worktree, where they become pending changes stamped with the winner's agent, and
records the adoption as a finished turn of the chat (origin ``arena``) so the next turn of every agent hears of it
in its handoff preamble. ``adopt`` and ``discard`` then snapshot every contestant worktree to a protected ref and
remove it. The pure decisions are ``core.arena``'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

from returns.result import Success

from app.ids import new_id
from app.turns.contests import Contest, ContestRunner
from app.turns.journal import TurnJournal
from app.upkeep.arena_reaping import soft_delete_contestant
from app.usecases.arena_streams import follow_arena
from app.usecases.chats import Chats
from app.usecases.errors import Refused, ShuttingDown, ok
from app.usecases.streams import EventStreams
from core.agents import AgentSpec, ProviderConfig, check_turn_model
from core.arena import (
    Arena,
    ArenaStatus,
    Contestant,
    ContestantSpec,
    check_adoption,
    check_contestants,
    to_remove,
    worktree_key,
)
from core.changes import attribution_stamp, reconcile_pending
from core.errors import Conflict, InvalidInput, NotFound, TooLarge
from core.events import TextDelta, TurnCompleted
from core.model import BackendKind, Chat, StoredEvent, Task, TaskOrigin, TaskStatus, Worktree
from core.ports.arenas import ArenaStore
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Journal, PendingChangeStore, TaskQueue, WorktreeStore
from core.ports.worktrees import Worktrees

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArenaView:
    """An arena with each contestant's task (its status, error, usage, times)."""

    arena: Arena
    tasks: Mapping[str, Task]


class Arenas:
    def __init__(
        self,
        *,
        chats: Chats,
        arenas: ArenaStore,
        queue: TaskQueue,
        journal: Journal,
        pending: PendingChangeStore,
        worktree_rows: WorktreeStore,
        bus: EventBus,
        worktrees: Worktrees,
        runner: ContestRunner,
        streams: EventStreams,
        specs: Mapping[str, AgentSpec],
        kind_of: Callable[[str], BackendKind | None],
        provider: ProviderConfig,
        clock: Clock,
        node_id: str,
        max_contestants: int,
        max_prompt_chars: int,
    ) -> None:
        self._chats = chats
        self._arenas = arenas
        self._queue = queue
        self._journal = journal
        self._pending = pending
        self._rows = worktree_rows
        self._bus = bus
        self._worktrees = worktrees
        self._runner = runner
        self._streams = streams
        self._specs = specs
        self._kind_of = kind_of
        self._provider = provider
        self._clock = clock
        self._node_id = node_id
        self._max_contestants = max_contestants
        self._max_prompt_chars = max_prompt_chars
        self._deciding: dict[str, asyncio.Lock] = {}

    async def start(self, chat_id: str, prompt: str, contestants: Sequence[ContestantSpec]) -> ArenaView:
        if len(prompt) > self._max_prompt_chars:
            limit = self._max_prompt_chars
            detail = f"the prompt has {len(prompt)} characters; the limit is {limit} (HEARTH_MAX_PROMPT_CHARS)"
            raise Refused(TooLarge(detail=detail, field="prompt", limit=limit))
        if not prompt.strip():
            raise Refused(InvalidInput(detail="the prompt is empty", field="prompt"))
        if not self._runner.accepting:
            raise ShuttingDown()
        specs = ok(check_contestants(contestants, self._specs.keys(), self._max_contestants))
        for index, spec in enumerate(specs):
            checked = check_turn_model(self._specs[spec.agent], self._provider, spec.model)
            if not isinstance(checked, Success):
                error = checked.failure()
                raise Refused(error.model_copy(update={"field": f"contestants[{index}].model"}))
        chat = await self._chats.get_open(chat_id)
        await self._refuse_while_a_turn_runs(chat.id, "fork the chat")
        source = await self._chat_worktree(chat)
        forked = ok(await self._worktrees.diff(source))
        arena_id, now = new_id("arena"), self._clock.now()
        tasks = [
            Task(
                id=new_id("contestant"),
                chat_id=None,
                agent=spec.agent,
                origin=TaskOrigin.ARENA,
                status=TaskStatus.RUNNING,
                prompt=prompt,
                model=spec.model,
                created_at=now,
                started_at=now,
                node_id=self._node_id,
            )
            for spec in specs
        ]
        members = await self._fork_all(arena_id, source, tasks)
        for task in tasks:
            await self._queue.enqueue_task(task)
        arena = Arena(
            id=arena_id,
            chat_id=chat.id,
            prompt=prompt,
            forked_pending=tuple(forked),
            created_at=now,
            contestants=members,
        )
        await self._arenas.create_arena(arena)
        for task, member in zip(tasks, members, strict=True):
            assert member.worktree is not None
            self._runner.submit(Contest(arena=arena, contestant=member, task=task, worktree=member.worktree))
        return ArenaView(arena, {t.id: t for t in tasks})

    async def _fork_all(self, arena_id: str, source: Worktree, tasks: Sequence[Task]) -> tuple[Contestant, ...]:
        members: list[Contestant] = []
        for position, task in enumerate(tasks):
            fork = await self._worktrees.fork(source, worktree_key(task.id), self._clock.now())
            if not isinstance(fork, Success):
                for made in members:  # nothing half-made stays behind
                    assert made.worktree is not None
                    await self._worktrees.soft_delete(made.worktree, self._clock.now())
                raise Refused(fork.failure())
            member = Contestant(
                arena_id=arena_id,
                task_id=task.id,
                position=position,
                agent=task.agent,
                model=task.model,
                worktree=fork.unwrap(),
            )
            members.append(member)
        return tuple(members)

    async def _chat_worktree(self, chat: Chat) -> Worktree:
        existing = await self._rows.get_worktree(chat.id)
        worktree = ok(await self._worktrees.ensure(chat.id, chat.repo_path, chat.ref, existing, self._clock.now()))
        if worktree != existing:
            await self._rows.upsert_worktree(worktree)
        return worktree

    async def _refuse_while_a_turn_runs(self, chat_id: str, what: str) -> None:
        running = [t.id for t in await self._queue.list_tasks(chat_id) if t.status is TaskStatus.RUNNING]
        if running:
            detail = f"turn {running[0]} is running in chat {chat_id}; {what} once it has finished"
            raise Refused(Conflict(detail=detail, field="chat"))

    async def get(self, chat_id: str, arena_id: str) -> ArenaView:
        await self._chats.get(chat_id)
        arena = await self._arenas.get_arena(arena_id)
        if arena is None or arena.chat_id != chat_id:
            raise Refused(NotFound(detail=f"arena {arena_id} does not exist in chat {chat_id}", field="arena_id"))
        tasks = {c.task_id: t for c in arena.contestants if (t := await self._queue.get_task(c.task_id)) is not None}
        return ArenaView(arena, tasks)

    async def follow(self, chat_id: str, arena_id: str, after_seq: int) -> AsyncIterator[StoredEvent | None]:
        """The contestants' events (the chat's stream, filtered), ending once every contestant has ended."""
        view = await self.get(chat_id, arena_id)
        return follow_arena(self._streams, self._journal, view.arena, after_seq)

    async def adopt(self, chat_id: str, arena_id: str, contestant_id: str) -> ArenaView:
        async with self._deciding.setdefault(arena_id, asyncio.Lock()):
            view = await self.get(chat_id, arena_id)
            chat = await self._chats.get_open(chat_id)
            await self._refuse_while_a_turn_runs(chat.id, "adopt")
            target = await self._chat_worktree(chat)
            current = ok(await self._worktrees.diff(target))
            statuses = {task_id: task.status for task_id, task in view.tasks.items()}
            winner = ok(check_adoption(view.arena, contestant_id, statuses, current))
            assert winner.worktree is not None
            ok(await self._worktrees.copy_changes(winner.worktree, target, winner.files))
            record = await self._record_adoption(view, winner)
            await self._stamp(chat.id, target, winner, record)
            decided = await self._arenas.decide_arena(arena_id, ArenaStatus.ADOPTED, winner.task_id, self._clock.now())
            if decided is None:  # another node decided meanwhile; its decision stands, the files are here now
                raise Refused(Conflict(detail=f"arena {arena_id} was decided meanwhile", field="arena"))
            await self._remove_worktrees(decided, statuses)
            return await self.get(chat_id, arena_id)

    async def discard(self, chat_id: str, arena_id: str) -> ArenaView:
        async with self._deciding.setdefault(arena_id, asyncio.Lock()):
            view = await self.get(chat_id, arena_id)
            running = [t.id for t in view.tasks.values() if not t.status.is_terminal]
            if running:
                detail = f"contestant {running[0]} is still running; discard the arena once every contestant ended"
                raise Refused(Conflict(detail=detail, field="arena"))
            decided = await self._arenas.decide_arena(arena_id, ArenaStatus.DISCARDED, None, self._clock.now())
            if decided is None:
                detail = f"arena {arena_id} is already {view.arena.status.value}"
                raise Refused(Conflict(detail=detail, field="arena"))
            await self._remove_worktrees(decided, {task_id: task.status for task_id, task in view.tasks.items()})
            return await self.get(chat_id, arena_id)

    async def _record_adoption(self, view: ArenaView, winner: Contestant) -> Task:
        """The adoption as a finished turn of the chat by the winner's agent: transcripts and preambles see it."""
        arena, ran = view.arena, view.tasks[winner.task_id]
        assert arena.chat_id is not None
        now = self._clock.now()
        record = Task(
            id=new_id("turn"),
            chat_id=arena.chat_id,
            agent=winner.agent,
            origin=TaskOrigin.ARENA,
            status=TaskStatus.SUCCEEDED,
            prompt=arena.prompt,
            model=winner.model,
            usage=ran.usage,
            created_at=now,
            started_at=ran.started_at,
            finished_at=now,
            node_id=self._node_id,
        )
        await self._queue.enqueue_task(record)
        journal = TurnJournal(self._journal, self._bus, record.id, arena.chat_id)
        rivals = ", ".join(c.agent for c in arena.contestants)
        files = ", ".join(f.path for f in winner.files)
        adopted = (
            f"[hearth] arena {arena.id} ({rivals}) ran this prompt; {winner.agent}'s changes were adopted: {files}"
        )
        await journal.write(
            [
                TextDelta(session_id="", turn_id=record.id, part_id="arena", text=adopted),
                TurnCompleted(session_id="", turn_id=record.id),
            ]
        )
        return record

    async def _stamp(self, chat_id: str, target: Worktree, winner: Contestant, record: Task) -> None:
        diffs = ok(await self._worktrees.diff(target))
        current = await self._pending.list_pending_changes(chat_id)
        stamp = attribution_stamp(winner.agent, self._kind_of(winner.agent))
        update = reconcile_pending(chat_id, current, diffs, stamp, record.id, self._clock.now())
        await self._pending.replace_pending_changes(chat_id, update.upserts, update.removed_paths)

    async def _remove_worktrees(self, arena: Arena, statuses: Mapping[str, TaskStatus]) -> None:
        """Every finished contestant's worktree: snapshot to a protected ref, then removed (the reaper retries a
        failure; a contestant still running is removed by its runner when it ends)."""
        for contestant in to_remove(arena, statuses):
            removed = await soft_delete_contestant(self._arenas, self._worktrees, contestant, self._clock.now())
            if not isinstance(removed, Success):
                log.warning("arena %s: removing %s's worktree failed; the reaper retries", arena.id, contestant.task_id)
