"""Tasks: work given to hearth from outside a chat (a new-task request, an MCP client, the arena).

A task is a turn whose chat is found for it: the creator key names the chat it runs in (the calling chat's own
id, or a key such as an MCP client id that resolves to the chat it created first), and without a key a new chat
is opened. From there it is an ordinary turn: queued, claimed with the chat's lease, streamed on the chat's SSE
endpoints, its diff stamped with its agent; ``core.routing`` runs it one-shot (no pooled handle, no agent
session row), because its origin is not ``chat``.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.ids import new_id
from app.usecases.chats import Chats
from app.usecases.errors import Refused, ok
from app.usecases.turns import Turns
from core.errors import Conflict, InvalidInput
from core.model import Chat, Task, TaskOrigin
from core.ports.clock import Clock
from core.ports.store import ChatCreators
from core.ports.worktrees import Worktrees


@dataclass(frozen=True)
class SubmittedTask:
    task: Task
    chat: Chat
    chat_created: bool  # the task opened this chat (no key, or the key's first task)


class Tasks:
    def __init__(
        self, *, chats: Chats, turns: Turns, creators: ChatCreators, worktrees: Worktrees, clock: Clock
    ) -> None:
        self._chats = chats
        self._turns = turns
        self._creators = creators
        self._worktrees = worktrees
        self._clock = clock

    async def submit(
        self,
        *,
        repo_path: str,
        agent: str,
        prompt: str,
        origin: TaskOrigin,
        creator: str | None = None,
        model: str | None = None,
    ) -> SubmittedTask:
        """Every refusal comes before a chat is created or a task queued, so a refused request changes nothing."""
        if origin is TaskOrigin.CHAT:
            detail = "a task's origin is new_task, mcp or arena; a chat turn is POST /api/chats/{chat}/turns"
            raise Refused(InvalidInput(detail=detail, field="origin"))
        if creator is not None and not creator.strip():
            raise Refused(InvalidInput(detail="the creator key is blank; omit it to open a new chat", field="creator"))
        self._turns.check(agent, prompt, model)
        resolved = ok(await self._worktrees.validate_repo(repo_path))
        chat, created = await self._chat_for(creator, resolved, origin)
        if chat.repo_path != resolved:
            detail = f"creator {creator!r} works in chat {chat.id} on {chat.repo_path}, not on {resolved}"
            raise Refused(Conflict(detail=detail, field="repo_path"))
        task = await self._turns.submit(chat.id, agent, prompt, model, origin)
        return SubmittedTask(task=task, chat=chat, chat_created=created)

    async def _chat_for(self, creator: str | None, repo_path: str, origin: TaskOrigin) -> tuple[Chat, bool]:
        title = f"{origin.value} tasks" if creator is None else f"{origin.value} tasks of {creator}"
        if creator is None:
            return await self._chats.create(repo_path, None, title), True
        own = await self._chats.find(creator)
        if own is not None:  # the calling chat delegates into itself
            return await self._chats.get_open(own.id), False
        candidate = Chat(id=new_id("chat"), repo_path=repo_path, title=title[:200], created_at=self._clock.now())
        return await self._creators.resolve_creator_chat(creator, candidate)
