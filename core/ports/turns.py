"""The turn roles of the store: the task queue, the journal of each turn's events, and the history read from them.

Part of the store's role ports (``core.ports.store``, which re-exports them); one adapter class per database
implements them with every other role.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.changes import PendingUpdate
from core.events import AgentEvent
from core.model import PendingChange, StoredEvent, Task, TaskStatus, TurnHistory, Usage

# what a turn's diff makes of the chat's pending rows (``core.changes.reconcile_pending`` with the diff bound)
ReconcilePending = Callable[[Sequence[PendingChange]], PendingUpdate]


@dataclass(frozen=True)
class ClaimFor:
    """Who claims a task at its submission, when, and until when the chat's lease then runs."""

    node_id: str
    at: datetime
    lease_until: datetime


@dataclass(frozen=True)
class Claimed:
    """A claim's outcome: the task claimed (None: nothing runnable), and whether another task was still runnable
    for the same node right after it, read in the same transaction (False: asking again finds nothing until new
    work arrives)."""

    task: Task | None
    more: bool = False


class TaskQueue(Protocol):
    """Turns (tasks): queued, claimed by one node, finished once."""

    async def enqueue_task(self, task: Task, claim: ClaimFor | None = None) -> Task:
        """Queue ``task``. With ``claim``, in the same transaction, claim it as ``claim_next_task`` would when it
        is the head of its chat's queue: nothing of its chat running, no earlier queued task of its chat, no other
        node's live lease on the chat (a chat-less task is always the head); the chat is then leased to
        ``claim.node_id`` until ``claim.lease_until``. Returns the task as stored: ``running`` when claimed, else
        ``queued`` (the claim is left to the dispatchers)."""
        ...

    async def get_task(self, task_id: str) -> Task | None: ...
    async def list_tasks(self, chat_id: str, limit: int = 200) -> list[Task]:
        """The newest ``limit`` turns of the chat, oldest first."""
        ...

    async def page_tasks(
        self, chat_id: str, *, after: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[Task]:
        """One page of the chat's turns in queue order, oldest first, strictly between the turns ``after`` and
        ``before`` (turn ids of this chat): with ``after`` the oldest ``limit`` of them, else the newest."""
        ...

    async def claim_next_task(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Task | None:
        """Atomically move the oldest queued task of a chat with nothing running to ``running``.

        Chat-less tasks are always runnable. Never returns a task twice, across connections and nodes. A chat
        leased to another node (its lease not expired at ``at``) is not claimed; with ``lease_until`` the claimed
        task's chat is leased to ``node_id`` until then, in the same transaction.
        """
        ...

    async def claim_next_runnable(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Claimed:
        """``claim_next_task``, and in the same transaction whether another task is still runnable for ``node_id``
        (``skip_chats`` and the claimed task's chat passed over), so a dispatcher knows when to stop asking."""
        ...

    async def finish_task(
        self,
        task_id: str,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None = None,
    ) -> Task:
        """Terminal status plus usage added to the (chat, agent) session, turn counted, session idle: one tx.

        ``usage`` None: the agent reported none; the task keeps None and the session's usage is unchanged.
        A task whose origin is not ``chat`` ran one-shot: the (chat, agent) session is left as it was.
        ``reply`` is the turn's visible text, kept for the handoff (None: read from its events when needed)."""
        ...

    async def finish_turn(
        self,
        task_id: str,
        chat_id: str | None,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None,
        last_events: Sequence[AgentEvent],
        reconcile: ReconcilePending | None = None,
    ) -> tuple[Task, list[StoredEvent]]:
        """``finish_task``, then the turn's last events journaled in order, its terminal event last, in one
        transaction: a reader never sees the terminal event before the final state, and the agent's last batch
        costs no transaction of its own. The events are journaled only when this call finished the task (a repeat
        after a commit whose answer was lost, or a turn someone else finished, journals nothing); their stored rows
        are returned. ``reconcile`` (the turn's diff, a pure decision) brings the chat's pending changes up to date
        in that same transaction, whether or not this call finished the task: the worktree changed either way."""
        ...

    async def cancel_queued_task(self, task_id: str, at: datetime) -> Task | None:
        """queued -> cancelled atomically; None when the task was no longer queued."""
        ...

    async def fail_running_tasks(self, reason: str, at: datetime, node_id: str | None = None) -> list[Task]:
        """Startup recovery: every task left ``running`` (by this node, or by anyone when node_id is None)."""
        ...

    async def count_tasks_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks (chat-less and deleted chats' included) are in each status; every status is a key."""
        ...


class Journal(Protocol):
    """The turn journal: every event of every turn, in one store-wide order."""

    async def append_events(self, task_id: str, chat_id: str | None, events: Sequence[AgentEvent]) -> list[StoredEvent]:
        """Appends in order; returns the stored rows with their store-wide increasing ``seq``."""
        ...

    async def list_events(
        self, task_id: str, after_seq: int = 0, *, before_seq: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        """The turn's events with ``after_seq < seq < before_seq``, oldest first; with a ``limit``, the oldest
        ``limit`` of them, or the newest when ``after_seq`` is 0 and ``before_seq`` is given (paging back)."""
        ...

    async def list_chat_events(
        self, chat_id: str, after_seq: int = 0, *, before_seq: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        """As ``list_events``, for every turn of the chat."""
        ...


class HistoryStore(Protocol):
    """What a turn hands its agent about the chat so far, read in bounded queries whatever the chat's length."""

    async def turn_history(
        self, chat_id: str, *, before: str | None, limit: int, since_agent: str | None = None
    ) -> TurnHistory:
        """The newest ``limit`` finished turns of the chat queued before turn ``before`` (every one when None),
        with their replies and files; with ``since_agent`` only those after that agent's last finished turn there
        (its cursor). ``earlier`` counts the finished turns of that range the window leaves out. One transaction."""
        ...

    async def agents_with_finished_turns(self, chat_id: str) -> set[str]:
        """The agents that finished at least one turn in the chat."""
        ...
