"""The MCP tools: each a thin call of one use case, with inputs validated by their annotations and small
structured results. A refusal becomes a tool error that says what was wrong and what to do.

Adding a tool is a function here (or in a module of its own, like the arena's in ``arena_tools``) and one line in
``tools_of``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from app.api.mcp.arena_tools import ArenaTools, arena_tools_of
from app.api.mcp.tool_common import (
    WAIT_MAX_S,
    WAIT_POLL_S,
    AgentName,
    ChatId,
    Model,
    Prompt,
    ToolFunction,
    UseCasesOf,
    clipped_diff,
    refusals_as_tool_errors,
)
from core.model import PendingChange, Task, TaskOrigin

REPLY_MAX_CHARS = 4000

TurnId = Annotated[str, Field(min_length=1, max_length=200, description="the turn's (task's) id")]
Paths = Annotated[
    list[str] | None, Field(default=None, min_length=1, description="files to act on; omit for every pending change")
]


def _turn(task: Task) -> dict[str, Any]:
    usage = task.usage.model_dump(mode="json") if task.usage is not None else None
    return {
        "turn_id": task.id,
        "chat_id": task.chat_id,
        "agent": task.agent,
        "origin": task.origin.value,
        "status": task.status.value,
        "error": task.error,
        "usage": usage,
    }


def _change(change: PendingChange) -> dict[str, Any]:
    return {"path": change.path, "agent": change.agent, "turn_id": change.task_id, "diff": clipped_diff(change.diff)}


@dataclass(frozen=True)
class HearthTools:
    """The tool functions over the running hearth's use cases (looked up per call: the service may restart)."""

    use_cases: UseCasesOf

    async def create_chat(
        self,
        repo_path: Annotated[str, Field(min_length=1, max_length=4096, description="a git repository hearth may use")],
        title: Annotated[str | None, Field(default=None, max_length=200)] = None,
        ref: Annotated[
            str | None, Field(default=None, max_length=255, description="branch or commit to start from")
        ] = None,
    ) -> dict[str, Any]:
        """Open a chat on a repository: a worktree that every agent of the chat shares."""

        async def run() -> dict[str, Any]:
            chat = await self.use_cases().chats.create(repo_path, ref, title)
            return {"chat_id": chat.id, "repo_path": chat.repo_path, "title": chat.title}

        return await refusals_as_tool_errors(run())

    async def submit_task(
        self,
        repo_path: Annotated[str, Field(min_length=1, max_length=4096, description="the git repository to work on")],
        agent: AgentName,
        prompt: Prompt,
        creator: Annotated[
            str | None,
            Field(
                default=None,
                min_length=1,
                max_length=200,
                description="the chat to run in: a chat id, or your own key (its first task opens a chat, later "
                "tasks with the key reuse it); omit for a new chat",
            ),
        ] = None,
        origin: Annotated[
            Literal["mcp", "new_task"], Field(description="new_task when an agent delegates from its chat")
        ] = "mcp",
        model: Model = None,
    ) -> dict[str, Any]:
        """Give an agent a task from outside a chat; it runs one-shot in the creator's chat. Returns at once."""

        async def run() -> dict[str, Any]:
            submitted = await self.use_cases().tasks.submit(
                repo_path=repo_path, agent=agent, prompt=prompt, origin=TaskOrigin(origin), creator=creator, model=model
            )
            return {**_turn(submitted.task), "chat_created": submitted.chat_created}

        return await refusals_as_tool_errors(run())

    async def submit_turn(
        self, chat_id: ChatId, agent: AgentName, prompt: Prompt, model: Model = None
    ) -> dict[str, Any]:
        """Send a prompt to an agent in a chat (its warm session). Returns at once; see wait_for_turn."""

        async def run() -> dict[str, Any]:
            return _turn(await self.use_cases().turns.submit(chat_id, agent, prompt, model, TaskOrigin.CHAT))

        return await refusals_as_tool_errors(run())

    async def wait_for_turn(
        self,
        chat_id: ChatId,
        turn_id: TurnId,
        timeout_s: Annotated[
            float, Field(default=60.0, gt=0, le=WAIT_MAX_S, description="longest wait, seconds")
        ] = 60.0,
    ) -> dict[str, Any]:
        """Wait until the turn finishes (then with the agent's reply) or the timeout passes; ``done`` says which."""

        async def run() -> dict[str, Any]:
            turns = self.use_cases().turns
            task = await turns.get(chat_id, turn_id)
            try:
                async with asyncio.timeout(timeout_s):
                    while not task.status.is_terminal:
                        await asyncio.sleep(WAIT_POLL_S)
                        task = await turns.get(chat_id, turn_id)
            except TimeoutError:
                return {**_turn(task), "done": False}
            reply = await turns.reply(chat_id, turn_id)
            clipped = reply if len(reply) <= REPLY_MAX_CHARS else reply[:REPLY_MAX_CHARS] + "…"
            return {**_turn(task), "done": True, "reply": clipped}

        return await refusals_as_tool_errors(run())

    async def cancel_turn(self, chat_id: ChatId, turn_id: TurnId) -> dict[str, Any]:
        """Cancel a queued or running turn."""

        async def run() -> dict[str, Any]:
            task, outcome = await self.use_cases().turns.cancel(chat_id, turn_id)
            return {**_turn(task), "cancel": outcome}

        return await refusals_as_tool_errors(run())

    async def list_changes(self, chat_id: ChatId) -> dict[str, Any]:
        """The chat's pending changes, each stamped with the agent that made it (diffs clipped)."""

        async def run() -> dict[str, Any]:
            pending = await self.use_cases().changes.pending(chat_id)
            return {"chat_id": chat_id, "changes": [_change(change) for change in pending]}

        return await refusals_as_tool_errors(run())

    async def apply_changes(self, chat_id: ChatId, paths: Paths = None) -> dict[str, Any]:
        """Apply pending changes to the repository's checkout (all or nothing)."""

        async def run() -> dict[str, Any]:
            worktree = await self.use_cases().changes.apply(chat_id, paths)
            return {"chat_id": chat_id, "applied": paths or "all", "base_commit": worktree.base_commit}

        return await refusals_as_tool_errors(run())

    async def discard_changes(self, chat_id: ChatId, paths: Paths = None) -> dict[str, Any]:
        """Throw pending changes away (the worktree returns to its base)."""

        async def run() -> dict[str, Any]:
            await self.use_cases().changes.discard(chat_id, paths)
            return {"chat_id": chat_id, "discarded": paths or "all"}

        return await refusals_as_tool_errors(run())

    async def answer_permission(
        self,
        chat_id: ChatId,
        turn_id: TurnId,
        request_id: Annotated[str, Field(min_length=1, max_length=200, description="the permission request's id")],
        option_id: Annotated[str | None, Field(default=None, description="the chosen option; omit to reject")] = None,
    ) -> dict[str, Any]:
        """Answer an agent's permission question in a running turn."""

        async def run() -> dict[str, Any]:
            node = await self.use_cases().turns.answer_permission(chat_id, turn_id, request_id, option_id)
            return {"turn_id": turn_id, "request_id": request_id, "answered": True, "relayed_to": node}

        return await refusals_as_tool_errors(run())

    async def list_agents(self) -> dict[str, Any]:
        """The configured agents: whether each is installed, its backend and what it can do."""
        agents = self.use_cases().agents.catalogue()
        return {
            "agents": [
                {"name": a.name, "backend": a.backend.value, "found": a.found, "problem": a.problem} for a in agents
            ]
        }


def tools_of(tools: HearthTools) -> list[ToolFunction]:
    """Every tool, by its function's name; the docstring is its description."""
    return [
        tools.create_chat,
        tools.submit_task,
        tools.submit_turn,
        tools.wait_for_turn,
        tools.cancel_turn,
        tools.list_changes,
        tools.apply_changes,
        tools.discard_changes,
        tools.answer_permission,
        tools.list_agents,
        *arena_tools_of(ArenaTools(tools.use_cases)),
    ]
