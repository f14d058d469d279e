"""What the API does to chats, turns and pending changes, as ``Result`` values the controllers translate.

Every guard runs before anything is written, so a refused request changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from app.bootstrap import Service
from app.ids import new_id
from app.turns.dispatcher import CancelOutcome
from app.turns.transcript import load_transcript
from app.upkeep.reaping import risk_of, soft_delete
from core.agents import check_turn_model
from core.changes import WorktreeRisk, attribution_stamp, reconcile_pending
from core.errors import Conflict, DomainError, InvalidInput, NotFound
from core.model import (
    Chat,
    ChatStatus,
    PendingChange,
    PendingChangeStatus,
    Task,
    TaskOrigin,
    TaskStatus,
    TurnRequest,
    TurnRequestKind,
    Worktree,
    WorktreeStatus,
)
from core.routing import Chip, composer_chips

log = logging.getLogger(__name__)

ANNOUNCE_TIMEOUT_S = 5.0


class RiskConflict(Conflict):
    """Closing or deleting would lose work: the risk says what."""

    risk: WorktreeRisk


async def get_chat(service: Service, chat_id: str) -> Result[Chat, DomainError]:
    chat = await service.store.get_chat(chat_id)
    if chat is None:
        return Failure(NotFound(detail=f"chat {chat_id} does not exist", field="chat_id"))
    return Success(chat)


async def get_open_chat(service: Service, chat_id: str) -> Result[Chat, DomainError]:
    found = await get_chat(service, chat_id)
    if is_successful(found) and found.unwrap().status is not ChatStatus.OPEN:
        return Failure(Conflict(detail=f"chat {chat_id} is closed; open a new chat", field="chat.status"))
    return found


async def create_chat(
    service: Service, repo_path: str, ref: str | None, title: str | None
) -> Result[Chat, DomainError]:
    valid = await service.worktrees.validate_repo(repo_path)
    if not is_successful(valid):
        return Failure(valid.failure())
    chat = Chat(id=new_id("chat"), repo_path=valid.unwrap(), ref=ref, title=title, created_at=service.clock.now())
    return Success(await service.store.create_chat(chat))


async def _running_turn(service: Service, chat_id: str) -> Task | None:
    return next((t for t in await service.store.list_tasks(chat_id) if t.status is TaskStatus.RUNNING), None)


async def _guard_idle(service: Service, chat_id: str) -> Result[None, DomainError]:
    running = await _running_turn(service, chat_id)
    if running is not None:
        detail = f"turn {running.id} is running in this chat; cancel it or wait for it to finish"
        return Failure(Conflict(detail=detail, field="turn.status"))
    return Success(None)


async def close_chat(service: Service, chat_id: str, force: bool) -> Result[Chat, DomainError]:
    """Close hook: evict the chat's handles, archive and remove its worktree, unless work would be lost."""
    found = await get_chat(service, chat_id)
    if not is_successful(found):
        return found
    chat = found.unwrap()
    idle = await _guard_idle(service, chat_id)
    if not is_successful(idle):
        return Failure(idle.failure())
    worktree = await service.store.get_worktree(chat_id)
    risk = await risk_of(service.store, service.worktrees, worktree, chat_id)
    if not risk.safe and not force:
        detail = "closing would lose work: " + "; ".join(risk.reasons) + ". Apply or discard it, or pass force=true"
        return Failure(RiskConflict(detail=detail, field="worktree", risk=risk))
    await service.pool.close_chat(chat_id)
    for task in await service.store.list_tasks(chat_id):
        if task.status is TaskStatus.QUEUED:
            await service.dispatcher.cancel(task)
    closed = await service.store.close_chat(chat_id, service.clock.now()) or chat
    if worktree is not None and worktree.status is WorktreeStatus.ACTIVE:
        error = await soft_delete(service.store, service.worktrees, worktree, service.clock.now())
        if error is not None:
            return Failure(Conflict(detail=f"chat closed, but removing its worktree failed: {error}", field="worktree"))
    return Success(closed)


async def delete_chat(service: Service, chat_id: str, force: bool) -> Result[None, DomainError]:
    found = await get_chat(service, chat_id)
    if not is_successful(found):
        return Failure(found.failure())
    if found.unwrap().status is ChatStatus.OPEN:
        closed = await close_chat(service, chat_id, force)
        if not is_successful(closed):
            return Failure(closed.failure())
    await service.store.delete_chat(chat_id)
    return Success(None)


async def submit_turn(
    service: Service, chat_id: str, agent: str, prompt: str, model: str | None, origin: TaskOrigin
) -> Result[Task, DomainError]:
    if not service.dispatcher.accepting:
        return Failure(Conflict(detail="hearth is shutting down; submit the turn again after it restarts"))
    if agent not in service.specs:
        known = ", ".join(sorted(service.specs))
        return Failure(InvalidInput(detail=f"unknown agent {agent!r}; configured agents: {known}", field="agent"))
    if not prompt.strip():
        return Failure(InvalidInput(detail="the prompt is empty", field="prompt"))
    usable = check_turn_model(service.specs[agent], service.settings.provider, model)
    if not is_successful(usable):
        return Failure(usable.failure())
    found = await get_open_chat(service, chat_id)
    if not is_successful(found):
        return Failure(found.failure())
    task = Task(
        id=new_id("turn"),
        chat_id=chat_id,
        agent=agent,
        origin=origin,
        prompt=prompt,
        model=model,
        created_at=service.clock.now(),
    )
    queued = await service.store.enqueue_task(task)
    service.dispatcher.wake()
    await announce_work(service)  # the chat may be leased to another node
    return Success(queued)


async def announce_work(service: Service) -> None:
    """Wake every node's dispatcher now; a lost wake-up only costs the next poll."""
    try:
        async with asyncio.timeout(ANNOUNCE_TIMEOUT_S):
            await service.bus.announce_work()
    except Exception as error:
        log.warning(
            "could not wake the other nodes (%s: %s); they find the work at their next poll",
            type(error).__name__,
            error,
        )


async def get_turn(service: Service, chat_id: str, turn_id: str) -> Result[Task, DomainError]:
    task = await service.store.get_task(turn_id)
    if task is None or task.chat_id != chat_id:
        return Failure(NotFound(detail=f"turn {turn_id} does not exist in chat {chat_id}", field="turn_id"))
    return Success(task)


async def cancel_turn(service: Service, chat_id: str, turn_id: str) -> Result[tuple[Task, str], DomainError]:
    found = await get_turn(service, chat_id, turn_id)
    if not is_successful(found):
        return Failure(found.failure())
    task = found.unwrap()
    if task.status.is_terminal:
        return Success((task, "already_finished"))
    answer = (await service.dispatcher.cancel(task)).value
    if answer == CancelOutcome.NOT_RUNNING_HERE:
        # it runs on another node, which the announcement wakes to take the request; or it is over already
        request = TurnRequest(task_id=turn_id, kind=TurnRequestKind.CANCEL)
        answer = "already_finished"
        if await service.store.relay_turn_request(request, service.clock.now()) is not None:
            await announce_work(service)
            answer = CancelOutcome.INTERRUPTING.value
    return Success(((await service.store.get_task(turn_id)) or task, answer))


async def answer_permission(
    service: Service, chat_id: str, turn_id: str, request_id: str, option_id: str | None
) -> Result[str | None, DomainError]:
    """None when answered here; the node's id when the turn runs on another node (the answer is relayed there)."""
    found = await get_turn(service, chat_id, turn_id)
    if not is_successful(found):
        return Failure(found.failure())
    task = found.unwrap()
    if task.status.is_terminal:
        return Failure(Conflict(detail=f"turn {turn_id} is already {task.status.value}", field="turn.status"))
    if await service.runner.answer_permission(turn_id, request_id, option_id):
        return Success(None)
    if task.node_id is not None and task.node_id != service.settings.node_id:
        kind = TurnRequestKind.PERMISSION
        answer = TurnRequest(task_id=turn_id, kind=kind, request_id=request_id, option_id=option_id)
        node = await service.store.relay_turn_request(answer, service.clock.now())
        if node is not None:
            await announce_work(service)
            return Success(node)
    detail = f"no permission request {request_id} is waiting in turn {turn_id} (answered or timed out)"
    return Failure(NotFound(detail=detail, field="request_id"))


async def chips(service: Service, chat_id: str) -> dict[str, Chip]:
    transcript = await load_transcript(service.store, chat_id, None)
    sessions = await service.store.list_agent_sessions(chat_id)
    return dict(composer_chips(sorted(service.specs), sessions, transcript))


async def _worktree_of(service: Service, chat_id: str) -> Result[Worktree, DomainError]:
    found = await get_open_chat(service, chat_id)
    if not is_successful(found):
        return Failure(found.failure())
    idle = await _guard_idle(service, chat_id)
    if not is_successful(idle):
        return Failure(idle.failure())
    worktree = await service.store.get_worktree(chat_id)
    if worktree is None or worktree.status is not WorktreeStatus.ACTIVE:
        return Failure(NotFound(detail=f"chat {chat_id} has no worktree yet (no turn ran)", field="worktree"))
    return Success(worktree)


async def apply_changes(service: Service, chat_id: str, paths: Sequence[str] | None) -> Result[Worktree, DomainError]:
    found = await _worktree_of(service, chat_id)
    if not is_successful(found):
        return found
    applied = await service.worktrees.apply(found.unwrap(), paths)
    if not is_successful(applied):
        return applied
    await service.store.upsert_worktree(applied.unwrap())
    await service.store.set_pending_status(chat_id, paths, PendingChangeStatus.APPLIED, service.clock.now())
    return applied


async def discard_changes(service: Service, chat_id: str, paths: Sequence[str] | None) -> Result[Worktree, DomainError]:
    found = await _worktree_of(service, chat_id)
    if not is_successful(found):
        return found
    discarded = await service.worktrees.discard(found.unwrap(), paths)
    if not is_successful(discarded):
        return discarded
    await service.store.upsert_worktree(discarded.unwrap())
    await service.store.set_pending_status(chat_id, paths, PendingChangeStatus.DISCARDED, service.clock.now())
    return discarded


async def edit_file(
    service: Service, chat_id: str, path: str, content: str
) -> Result[list[PendingChange], DomainError]:
    """A manual edit through the API: written into the worktree, the pending change stamps no agent."""
    found = await _worktree_of(service, chat_id)
    if not is_successful(found):
        return Failure(found.failure())
    worktree = found.unwrap()
    written = await service.worktrees.write_file(worktree, path, content)
    if not is_successful(written):
        return Failure(written.failure())
    diffs = await service.worktrees.diff(worktree)
    if not is_successful(diffs):
        return Failure(diffs.failure())
    current = await service.store.list_pending_changes(chat_id)
    now = service.clock.now()
    update = reconcile_pending(chat_id, current, diffs.unwrap(), attribution_stamp(None, None), None, now)
    await service.store.replace_pending_changes(chat_id, update.upserts, update.removed_paths)
    return Success(await service.store.list_pending_changes(chat_id))
