"""Eviction and reattach, close/delete guards, the reaper, and restarting hearth mid-session."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.store.sqlite import SqliteStore
from app.settings import Settings
from core.model import AgentSessionStatus, ProcessRecord, Task, WorktreeStatus
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents


async def test_evicted_session_reattaches(hearth_settings: Settings, git_repo: Path) -> None:
    async with serve_hearth(hearth_settings.model_copy(update={"idle_ttl": 0.0})) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(chat, "native", "remember BLUE"))["status"] == "succeeded"
        (session,) = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
        assert session["status"] == "evicted"  # idle TTL 0: dropped right after its turn
        assert hearth.node.pool.live_counts() == {}
        second = await hearth.run_turn(chat, "native", "RECALL")
        assert second["status"] == "succeeded"
        (again,) = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
        assert again["backend_session_id"] == session["backend_session_id"]
        assert again["turns"] == 2
        metrics = (await hearth.client.get("/metrics")).text
        assert 'hearth_evictions_total{agent="native"} 2' in metrics


async def test_close_and_delete_refuse_to_lose_work_unless_forced(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(chat, "native", "WRITE draft.txt keep me"))["status"] == "succeeded"
    worktree = (await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]
    for attempt in (
        hearth.client.post(f"/api/chats/{chat}/close"),
        hearth.client.delete(f"/api/chats/{chat}"),
    ):
        refused = await attempt
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["risk"]["safe"] is False
        assert any("pending change" in reason for reason in problem["risk"]["reasons"])
    assert (await hearth.client.get(f"/api/chats/{chat}")).json()["status"] == "open"
    assert Path(worktree["path"]).is_dir()
    risk = (await hearth.client.get(f"/api/chats/{chat}/worktree-risk")).json()
    assert risk["safe"] is False

    closed = await hearth.client.post(f"/api/chats/{chat}/close", json={"force": True})
    assert closed.status_code == 200, closed.text
    assert not Path(worktree["path"]).exists()
    (session,) = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    assert session["status"] == "closed"
    deleted = await hearth.client.delete(f"/api/chats/{chat}")
    assert deleted.status_code == 200, deleted.text
    assert (await hearth.client.get(f"/api/chats/{chat}")).status_code == 404


async def test_delete_with_force_removes_an_open_chat(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(chat, "native", "WRITE draft.txt keep me"))["status"] == "succeeded"
    worktree = (await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]
    deleted = await hearth.client.delete(f"/api/chats/{chat}", params={"force": "true"})
    assert deleted.status_code == 200, deleted.text
    assert not Path(worktree["path"]).exists()
    assert (await hearth.client.get(f"/api/chats/{chat}")).status_code == 404
    assert [c["id"] for c in (await hearth.client.get("/api/chats")).json()] == []


async def test_manual_edit_stamps_no_agent_and_keeps_contributors(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(chat, "native", "WRITE a.txt from the agent"))["status"] == "succeeded"
    edited = await hearth.client.put(f"/api/chats/{chat}/files", json={"path": "a.txt", "content": "by hand\n"})
    assert edited.status_code == 200, edited.text
    (change,) = edited.json()["changes"]
    assert change["agent"] is None
    assert change["contributors"] == ["native"]
    escape = await hearth.client.put(f"/api/chats/{chat}/files", json={"path": "../../evil.txt", "content": "x"})
    assert 400 <= escape.status_code < 500
    discarded = await hearth.client.post(f"/api/chats/{chat}/changes/discard", json={"paths": None})
    assert discarded.status_code == 200, discarded.text
    assert (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"] == []


async def test_reaper_removes_only_safe_orphans(hearth_any_store: Hearth, git_repo: Path) -> None:
    hearth = hearth_any_store
    service = hearth.node
    dirty = (await hearth.create_chat(git_repo))["id"]
    clean = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(dirty, "native", "WRITE wip.txt unfinished"))["status"] == "succeeded"
    assert (await hearth.run_turn(clean, "native", "just talk"))["status"] == "succeeded"
    long_ago = service.clock.now() - timedelta(seconds=hearth.settings.reaper_grace_s * 2)
    for chat in (dirty, clean):  # orphaned by a close that never removed the worktree (e.g. a crash)
        await service.pool.close_chat(chat)
        await service.store.close_chat(chat, long_ago)
    dirty_path = Path((await service.store.get_worktree(dirty)).path)  # type: ignore[union-attr]
    clean_path = Path((await service.store.get_worktree(clean)).path)  # type: ignore[union-attr]

    await service.jobs.reap()

    assert dirty_path.is_dir()
    assert not clean_path.exists()
    health = (await hearth.client.get("/api/health")).json()
    unsafe = health["jobs"]["unsafe_worktrees"]
    assert [u["chat_id"] for u in unsafe] == [dirty]
    assert unsafe[0]["reasons"]


async def test_restart_mid_session_reattaches_and_fails_interrupted_turns(
    hearth_settings: Settings, git_repo: Path
) -> None:
    async with serve_hearth(hearth_settings) as first:
        chat = (await first.create_chat(git_repo))["id"]
        assert (await first.run_turn(chat, "native", "remember GREEN"))["status"] == "succeeded"
        (before,) = (await first.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]

    # a turn left running by a hearth that died (claimed, never finished)
    store = await SqliteStore.open(hearth_settings.sqlite_path)
    try:
        stuck = Task(id="turn-stuck", chat_id=chat, agent="native", prompt="lost", created_at=before_time(before))
        await store.enqueue_task(stuck)
        claimed = await store.claim_next_task(hearth_settings.node_id, stuck.created_at)
        assert claimed is not None
        assert claimed.id == stuck.id
        await store.set_agent_session_status(chat, "native", AgentSessionStatus.BUSY, stuck.created_at)
    finally:
        await store.close()

    async with serve_hearth(hearth_settings) as second:
        interrupted = await second.wait_turn(chat, "turn-stuck")
        assert interrupted["status"] == "failed"
        assert interrupted["error"] == "interrupted by restart"
        events = await second.events(interrupted["events_url"])
        assert events[-1]["type"] == "turn_failed"
        after = await second.run_turn(chat, "native", "RECALL")
        assert after["status"] == "succeeded"
        (session,) = (await second.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
        assert session["backend_session_id"] == before["backend_session_id"]
        assert session["turns"] == 2
        reply = "".join(e["text"] for e in await second.events(after["events_url"]) if e["type"] == "text_delta")
        assert "remember GREEN" in reply


def before_time(session: dict[str, object]) -> datetime:
    value = session["last_used_at"]
    assert isinstance(value, str)
    return datetime.fromisoformat(value) + timedelta(seconds=1)


async def test_apply_selected_paths_keeps_the_rest_pending(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(chat, "native", "WRITE first.txt one"))["status"] == "succeeded"
    assert (await hearth.run_turn(chat, "native", "WRITE second.txt two"))["status"] == "succeeded"
    applied = await hearth.client.post(f"/api/chats/{chat}/changes/apply", json={"paths": ["first.txt"]})
    assert applied.status_code == 200, applied.text
    assert (git_repo / "first.txt").read_text() == "one\n"
    assert not (git_repo / "second.txt").exists()
    remaining = (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]
    assert [c["path"] for c in remaining] == ["second.txt"]
    assert (await hearth.run_turn(chat, "native", "WRITE third.txt three"))["status"] == "succeeded"
    after = (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]
    assert sorted(c["path"] for c in after) == ["second.txt", "third.txt"]  # re-baselined: first.txt is not back


async def test_reaper_finishes_a_soft_delete_a_crash_interrupted(hearth: Hearth, git_repo: Path) -> None:
    service = hearth.node
    chat = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(chat, "native", "WRITE lost.txt in flight"))["status"] == "succeeded"
    worktree = await service.store.get_worktree(chat)
    assert worktree is not None
    await service.store.upsert_worktree(worktree.model_copy(update={"status": WorktreeStatus.DELETING}))

    await service.jobs._tracked("reaper", service.jobs.reap)()

    finished = await service.store.get_worktree(chat)
    assert finished is not None
    assert finished.status is WorktreeStatus.ARCHIVED
    assert finished.snapshot_ref  # the work is kept in a snapshot ref
    assert not Path(worktree.path).exists()
    state = (await hearth.client.get("/api/health")).json()["jobs"]["jobs"]["reaper"]
    assert state["runs"] >= 1
    assert state["ok"] is True


async def test_start_stops_agent_processes_a_previous_hearth_left_behind(hearth_settings: Settings) -> None:
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        store = await SqliteStore.open(hearth_settings.sqlite_path)
        try:
            record = ProcessRecord(
                key="acp:qwen:1",
                pid=orphan.pid,
                started_at=datetime.now(UTC),
                node_id=hearth_settings.node_id,
                command=sys.executable,
            )
            await store.record_process(record)
        finally:
            await store.close()
        async with serve_hearth(hearth_settings) as hearth:
            assert await asyncio.to_thread(orphan.wait, 10) is not None
            recovery = (await hearth.client.get("/api/health")).json()["recovery"]
            assert recovery["stopped_processes"] == [orphan.pid]
            assert await hearth.node.store.list_processes(hearth_settings.node_id) == []
    finally:
        orphan.kill()
        orphan.wait()
