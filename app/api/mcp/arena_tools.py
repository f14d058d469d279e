"""The arena as MCP tools: run one prompt by several agents, wait for them, adopt the winner or discard them all.

Each calls ``Arenas`` as the HTTP API does (``app/api/arena.py``); a result is the arena in short: its status, and
per contestant its id (what ``adopt`` takes), agent, state, error and the files it changed (diffs clipped).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.mcp.tool_common import (
    WAIT_POLL_S,
    AgentName,
    ChatId,
    Model,
    Prompt,
    ToolFunction,
    UseCasesOf,
    WaitSeconds,
    clipped_diff,
    refusals_as_tool_errors,
)
from app.usecases.arena import ArenaView
from core.arena import ContestantSpec, ContestantState, contestant_state

ArenaId = Annotated[str, Field(min_length=1, max_length=200, description="the arena's id, from run_arena")]
UNDECIDED = (ContestantState.PREPARING, ContestantState.RUNNING)


class ArenaContestant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: AgentName
    model: Model = None


def _states(view: ArenaView) -> list[ContestantState]:
    arena = view.arena
    return [
        contestant_state(arena, c, task.status if (task := view.tasks.get(c.task_id)) is not None else None)
        for c in arena.contestants
    ]


def _arena(view: ArenaView) -> dict[str, Any]:
    arena = view.arena
    contestants = []
    for contestant, state in zip(arena.contestants, _states(view), strict=True):
        task = view.tasks.get(contestant.task_id)
        contestants.append(
            {
                "id": contestant.task_id,
                "agent": contestant.agent,
                "model": contestant.model,
                "state": state.value,
                "error": task.error if task is not None else None,
                "files": [{"path": f.path, "status": f.status, "diff": clipped_diff(f.diff)} for f in contestant.files],
            }
        )
    return {
        "arena_id": arena.id,
        "chat_id": arena.chat_id,
        "status": arena.status.value,
        "winner": arena.winner,
        "contestants": contestants,
    }


@dataclass(frozen=True)
class ArenaTools:
    use_cases: UseCasesOf

    async def run_arena(
        self,
        chat_id: ChatId,
        prompt: Prompt,
        contestants: Annotated[
            list[ArenaContestant],
            Field(max_length=64, description="the agents to race, each in its own worktree forked from the chat"),
        ],
    ) -> dict[str, Any]:
        """Give one prompt to several agents at once, each in a fork of the chat's worktree (its HEAD plus pending
        changes); the chat's own worktree is untouched. Returns at once; see wait_for_arena, then adopt."""

        async def run() -> dict[str, Any]:
            specs = [ContestantSpec(agent=c.agent, model=c.model) for c in contestants]
            return _arena(await self.use_cases().arenas.start(chat_id, prompt, specs))

        return await refusals_as_tool_errors(run())

    async def wait_for_arena(self, chat_id: ChatId, arena_id: ArenaId, timeout_s: WaitSeconds = 60.0) -> dict[str, Any]:
        """Wait until every contestant has ended or the timeout passes (``done`` says which), with what each changed."""

        async def run() -> dict[str, Any]:
            arenas = self.use_cases().arenas
            view = await arenas.get(chat_id, arena_id)
            try:
                async with asyncio.timeout(timeout_s):
                    while any(state in UNDECIDED for state in _states(view)):
                        await asyncio.sleep(WAIT_POLL_S)
                        view = await arenas.get(chat_id, arena_id)
            except TimeoutError:
                return {**_arena(view), "done": False}
            return {**_arena(view), "done": True}

        return await refusals_as_tool_errors(run())

    async def adopt(
        self,
        chat_id: ChatId,
        arena_id: ArenaId,
        contestant: Annotated[
            str, Field(min_length=1, max_length=200, description="the winner: a contestant id from the arena")
        ],
    ) -> dict[str, Any]:
        """Adopt a finished contestant: its files become the chat's pending changes, stamped with its agent (see
        list_changes, apply_changes); every contestant's worktree is then snapshotted and removed."""

        async def run() -> dict[str, Any]:
            return _arena(await self.use_cases().arenas.adopt(chat_id, arena_id, contestant))

        return await refusals_as_tool_errors(run())

    async def discard_arena(self, chat_id: ChatId, arena_id: ArenaId) -> dict[str, Any]:
        """Adopt nobody: every contestant's worktree is snapshotted and removed (once all have ended)."""

        async def run() -> dict[str, Any]:
            return _arena(await self.use_cases().arenas.discard(chat_id, arena_id))

        return await refusals_as_tool_errors(run())


def arena_tools_of(tools: ArenaTools) -> list[ToolFunction]:
    return [tools.run_arena, tools.wait_for_arena, tools.adopt, tools.discard_arena]
