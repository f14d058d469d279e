"""The reaper and arena worktrees: like a chat's (grace, preflight, snapshot), and a decided arena's always go."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pygit2
import pytest

from core.model import WorktreeStatus
from tests.plugins.service import TURN_TIMEOUT_S, Hearth

pytestmark = pytest.mark.agents


async def _arena(hearth: Hearth, chat: str, prompt: str) -> dict[str, Any]:
    body = {"prompt": prompt, "contestants": [{"agent": "native"}]}
    started = await hearth.client.post(f"/api/chats/{chat}/arena", json=body)
    assert started.status_code == 202, started.text
    async with asyncio.timeout(TURN_TIMEOUT_S):
        while True:
            arena: dict[str, Any] = (await hearth.client.get(started.json()["url"])).json()
            if arena["contestants"][0]["state"] not in ("preparing", "running"):
                return arena
            await asyncio.sleep(0.05)


async def test_orphaned_arena_worktrees_are_reaped_only_when_nothing_would_be_lost(
    hearth: Hearth, git_repo: Path
) -> None:
    service = hearth.node
    chat = (await hearth.create_chat(git_repo))["id"]
    dirty = await _arena(hearth, chat, 'TOOL write {"path": "wip.txt", "content": "unadopted\\n"}')
    clean = await _arena(hearth, chat, "just talk")
    await service.jobs.reap()
    assert Path(clean["contestants"][0]["worktree"]).is_dir()  # its chat is open: kept

    long_ago = service.clock.now() - timedelta(seconds=hearth.settings.reaper_grace_s * 2)
    await service.pool.close_chat(chat)
    await service.store.close_chat(chat, long_ago)
    await service.jobs.reap()

    assert Path(dirty["contestants"][0]["worktree"]).is_dir()  # unadopted work: reported, never deleted
    unsafe = (await hearth.client.get("/api/health")).json()["jobs"]["unsafe_worktrees"]
    assert dirty["contestants"][0]["worktree"] in [u["path"] for u in unsafe]
    reaped = (await hearth.client.get(clean["url"])).json()["contestants"][0]
    assert reaped["worktree_status"] == "archived"
    assert not Path(reaped["worktree"]).exists()
    assert reaped["snapshot_ref"] in pygit2.Repository(str(git_repo)).references


async def test_the_reaper_finishes_an_interrupted_removal_of_an_arena_worktree(hearth: Hearth, git_repo: Path) -> None:
    service = hearth.node
    chat = (await hearth.create_chat(git_repo))["id"]
    arena = await _arena(hearth, chat, 'TOOL write {"path": "w.txt", "content": "w\\n"}')
    stored = await service.store.get_arena(arena["id"])
    assert stored is not None
    (contestant,) = stored.contestants
    assert contestant.worktree is not None
    interrupted = contestant.worktree.model_copy(update={"status": WorktreeStatus.DELETING})
    await service.store.save_contestant(contestant.model_copy(update={"worktree": interrupted}))  # a crash mid-way

    await service.jobs.reap()

    after = (await hearth.client.get(arena["url"])).json()["contestants"][0]
    assert after["worktree_status"] == "archived"
    assert not Path(after["worktree"]).exists()
