"""The arena's request bodies and the JSON shape of an arena."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.api.dto import Body
from app.usecases.arena import ArenaView
from core.arena import ContestantSpec, contestant_state
from core.model import FileDiff, Usage


class ContestantRequest(Body):
    agent: str = Field(min_length=1, max_length=64)
    model: str | None = Field(default=None, max_length=200)


class ArenaCreate(Body):
    prompt: str = Field(min_length=1)
    contestants: list[ContestantRequest] = Field(max_length=64)

    def specs(self) -> list[ContestantSpec]:
        return [ContestantSpec(agent=c.agent, model=c.model) for c in self.contestants]


class AdoptRequest(Body):
    contestant: str = Field(min_length=1, max_length=200, description="the contestant's id (its task id)")


class ContestantView(BaseModel):
    id: str = Field(description="the contestant's id: its run's task id, what adopt takes")
    agent: str
    model: str | None
    state: str = Field(description="preparing, running, succeeded, failed, cancelled, adopted or discarded")
    error: str | None
    usage: Usage | None = Field(description="tokens and cost; null while running or when the agent reported none")
    wall_s: float | None = Field(description="from its start to its end; null while it runs")
    files: list[FileDiff] = Field(description="what it changed against the fork, each file with its diff")
    worktree: str | None = Field(description="its worktree directory while it exists")
    worktree_status: str | None
    snapshot_ref: str | None = Field(description="the protected ref its worktree was snapshotted to when removed")


class ArenaJson(BaseModel):
    id: str
    chat_id: str | None
    prompt: str
    status: str = Field(description="open, adopted or discarded")
    winner: str | None
    created_at: str
    decided_at: str | None
    contestants: list[ContestantView]
    url: str
    events_url: str


def arena_json(view: ArenaView) -> dict[str, Any]:
    arena = view.arena
    contestants = []
    for c in arena.contestants:
        task = view.tasks.get(c.task_id)
        worktree = c.worktree
        contestants.append(
            ContestantView(
                id=c.task_id,
                agent=c.agent,
                model=c.model,
                state=contestant_state(arena, c, task.status if task is not None else None).value,
                error=task.error if task is not None else None,
                usage=task.usage if task is not None else None,
                wall_s=c.wall_s,
                files=list(c.files),
                worktree=worktree.path if worktree is not None else None,
                worktree_status=worktree.status.value if worktree is not None else None,
                snapshot_ref=worktree.snapshot_ref if worktree is not None else None,
            )
        )
    base = f"/api/chats/{arena.chat_id}/arena/{arena.id}"
    return ArenaJson(
        id=arena.id,
        chat_id=arena.chat_id,
        prompt=arena.prompt,
        status=arena.status.value,
        winner=arena.winner,
        created_at=arena.created_at.isoformat(),
        decided_at=arena.decided_at.isoformat() if arena.decided_at is not None else None,
        contestants=contestants,
        url=base,
        events_url=f"{base}/events",
    ).model_dump(mode="json")
