"""Several hearth nodes on one store: a chat's turns go to the node whose agents are warm; a node that stops
renewing its lease loses its chats to the next node, which fails the turn it left running and carries on; a turn,
cancel or permission answer sent to any node's API wakes the node running the chat at once (no poll is waited)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.store.postgres import PostgresStore
from adapters.store.sqlite import SqliteStore
from app.settings import Settings
from app.upkeep.leases import ABANDONED
from core.model import Task
from core.ports.store import Store
from tests.integration.test_service_acp import ASK_CONFIG, QWEN
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.postgres import fresh_database
from tests.plugins.service import Hearth, serve_hearth

LEASE_TTL_S = 3.0  # renewed every second: room for a loaded machine, short enough to watch expire
NO_POLL = 300.0  # dispatchers poll this rarely: every turn and relayed request here must arrive by a wake-up
NODE_A: dict[str, object] = {"node_id": "node-a", "dispatch_poll_s": NO_POLL}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def shared(request: pytest.FixtureRequest, hearth_settings: Settings) -> AsyncIterator[Settings]:
    """Settings of node-a; node-b (``node_b``) differs in its node id and, on PostgreSQL, its data dir."""
    base = hearth_settings.model_copy(update={**NODE_A, "lease_ttl_s": LEASE_TTL_S})
    if request.param == "sqlite":
        yield base
        return
    async with fresh_database() as dsn:
        yield base.model_copy(update={"database_url": dsn})


def node_b(settings: Settings, tmp_path: Path) -> Settings:
    if settings.database_url is None:  # one SQLite file is the shared store
        return settings.model_copy(update={"node_id": "node-b"})
    # its own data dir (agent state), the shared worktrees directory (storage every node sees at the same path)
    shared_worktrees = settings.chat_worktrees_dir
    return settings.model_copy(
        update={"node_id": "node-b", "data_dir": tmp_path / "node-b", "worktrees_dir": shared_worktrees}
    )


async def open_store(settings: Settings) -> Store:
    if settings.database_url:
        return await PostgresStore.open(settings.database_url)
    return await SqliteStore.open(settings.sqlite_path)


async def test_a_node_that_stops_renewing_loses_its_running_turn_and_the_chat(
    shared: Settings, tmp_path: Path, git_repo: Path
) -> None:
    async with serve_hearth(shared) as a:
        chat = (await a.create_chat(git_repo))["id"]
        first = await a.run_turn(chat, "native", "remember AMBER")
        assert (first["status"], first["node_id"]) == ("succeeded", "node-a")

    # node-a comes back, claims the chat's next turn and dies with it running: nobody renews its lease
    store = await open_store(shared)
    try:
        ghost = Task(id="turn-ghost", chat_id=chat, agent="native", prompt="lost with node-a", created_at=a_moment())
        await store.enqueue_task(ghost)
        claimed = await store.claim_next_task("node-a", ghost.created_at, lease_until=ghost.created_at)
        assert claimed is not None
        assert claimed.id == ghost.id
    finally:
        await store.close()

    async with serve_hearth(node_b(shared, tmp_path)) as b:
        after = await b.submit(chat, "native", "RECALL")
        lost = await b.wait_turn(chat, "turn-ghost")
        assert lost["status"] == "failed"
        assert lost["error"].startswith("node node-a stopped renewing its lease on this chat")
        assert "submit it again" in lost["error"]
        events = await b.events(lost["events_url"])
        assert (events[-1]["type"], events[-1]["error"]) == ("turn_failed", lost["error"])

        done = await b.wait_turn(chat, after["id"])
        assert (done["status"], done["node_id"]) == ("succeeded", "node-b"), done["error"]
        reply = "".join(e["text"] for e in await b.events(done["events_url"]) if e["type"] == "text_delta")
        assert "remember AMBER" in reply  # the chat's session carried over to node-b
        health = (await b.client.get("/api/health")).json()
        assert health["jobs"]["jobs"]["chat_leases"]["ok"] is True


@pytest.mark.postgres
async def test_turns_follow_the_warm_node_until_it_lets_go(
    hearth_settings: Settings, tmp_path: Path, git_repo: Path
) -> None:
    async with fresh_database() as dsn:
        settings_a = hearth_settings.model_copy(update={**NODE_A, "lease_ttl_s": LEASE_TTL_S, "database_url": dsn})
        async with serve_hearth(node_b(settings_a, tmp_path)) as b:
            async with serve_hearth(settings_a) as a:
                chat = (await a.create_chat(git_repo))["id"]
                warm = await a.run_turn(chat, "native", "remember TEAL")
                assert warm["node_id"] == "node-a"
                await asyncio.sleep(LEASE_TTL_S * 2)  # several renewals: node-a keeps its warm chat
                for word in ("one", "two"):
                    # submitted through node-b's API, run by node-a, streamed by either
                    turn = await b.submit(chat, "native", f"WRITE {word}.txt {word}")
                    done = await b.wait_turn(chat, turn["id"])
                    assert (done["status"], done["node_id"]) == ("succeeded", "node-a")
                    assert (await b.events(done["events_url"]))[-1]["type"] == "turn_completed"
                (session,) = (await b.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
                assert session["turns"] == 3
            # node-a shut down and released its leases: node-b takes the chat at once, no lease to wait out
            probe = await PostgresStore.open(dsn)
            try:
                now = datetime.now(UTC)
                assert await probe.renew_chat_leases("probe", [chat], now, now) == []  # free (and free again)
            finally:
                await probe.close()
            moved = await b.submit(chat, "native", "RECALL")
            async with asyncio.timeout(LEASE_TTL_S * 10):
                done = await b.wait_turn(chat, moved["id"])
            assert (done["status"], done["node_id"]) == ("succeeded", "node-b")
            reply = "".join(e["text"] for e in await b.events(done["events_url"]) if e["type"] == "text_delta")
            assert "remember TEAL" in reply


def a_moment() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


@pytest.mark.postgres
async def test_a_cancel_sent_to_another_node_stops_the_turn_where_it_runs(
    hearth_settings: Settings, tmp_path: Path, git_repo: Path
) -> None:
    async with fresh_database() as dsn:
        settings_a = hearth_settings.model_copy(update={**NODE_A, "database_url": dsn})
        async with serve_hearth(settings_a) as a, serve_hearth(node_b(settings_a, tmp_path)) as b:
            chat = (await a.create_chat(git_repo))["id"]
            assert (await a.run_turn(chat, "native", "warm up"))["node_id"] == "node-a"
            turn = await a.submit(chat, "native", "SLOW=2 take your time")
            await b.wait_event(turn["events_url"], "text_delta")  # running on node-a, streamed through node-b

            cancelled = await b.client.post(f"/api/chats/{chat}/turns/{turn['id']}/cancel")
            assert cancelled.status_code == 202, cancelled.text
            assert (cancelled.json()["cancel"], cancelled.json()["node_id"]) == ("interrupting", "node-a")
            done = await b.wait_turn(chat, turn["id"])
            assert done["status"] == "cancelled"
            assert (await b.events(done["events_url"]))[-1]["type"] == "turn_cancelled"
            again = await b.client.post(f"/api/chats/{chat}/turns/{turn['id']}/cancel")
            assert again.json()["cancel"] == "already_finished"
            assert (await b.run_turn(chat, "native", "still here?"))["status"] == "succeeded"


@pytest.mark.postgres
async def test_a_permission_answer_sent_to_another_node_reaches_the_waiting_agent(
    hearth_settings: Settings, tmp_path: Path, git_repo: Path
) -> None:
    require_agent(QWEN)
    config = tmp_path / "agents.toml"
    config.write_text(ASK_CONFIG)
    async with fresh_database() as dsn:
        settings_a = hearth_settings.model_copy(
            update={
                **NODE_A,
                "database_url": dsn,
                "cache_dir": AGENTS_DIR.parent,
                "config_file": config,
            }
        )
        async with serve_hearth(settings_a) as a, serve_hearth(node_b(settings_a, tmp_path)) as b:
            chat = (await a.create_chat(git_repo))["id"]
            assert (await a.run_turn(chat, "qwen-ask", "hello"))["node_id"] == "node-a"
            worktree = Path((await a.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
            turn = await a.submit(chat, "qwen-ask", f"WRITE {worktree / 'relayed.txt'} content")
            request = await b.wait_event(turn["events_url"], "permission_request")
            option = next(o["option_id"] for o in request["options"] if o["kind"] == "allow_once")

            url = f"/api/chats/{chat}/turns/{turn['id']}/permissions/{request['request_id']}"
            answered = await b.client.post(url, json={"option_id": option})
            assert answered.status_code == 202, answered.text
            assert answered.json()["relayed_to"] == "node-a"
            done = await b.wait_turn(chat, turn["id"])
            assert (done["status"], done["node_id"]) == ("succeeded", "node-a")
            assert (worktree / "relayed.txt").exists()
            resolved = [e for e in await b.events(turn["events_url"]) if e["type"] == "permission_resolved"]
            assert resolved[0]["outcome"] == "allow_once"


async def test_a_node_that_finds_its_chat_taken_over_stops_its_turn_and_agents_there(
    shared: Settings, git_repo: Path
) -> None:
    """node-a was cut off long enough for node-b to take its chat over; when it gets through again it lets go."""
    async with serve_hearth(shared) as a:
        chat = (await a.create_chat(git_repo))["id"]
        assert (await a.run_turn(chat, "native", "warm up"))["status"] == "succeeded"
        turn = await a.submit(chat, "native", "SLOW=2 a long answer")
        await a.wait_event(turn["events_url"], "text_delta")

        later = datetime.now(UTC) + timedelta(hours=1)  # as node-b sees it after node-a went silent
        store = a.node.store
        (taken,) = await store.take_over_abandoned_chats("node-b", ABANDONED, later, later + timedelta(hours=1))
        assert taken.id == turn["id"]

        done = await a.wait_turn(chat, turn["id"])
        assert done["status"] == "failed"
        assert done["error"].startswith("node node-a stopped renewing")
        async with asyncio.timeout(30):  # node-a's next renewal stops the turn and lets go of the chat's agents
            while a.node.pool.find(chat, "native") is not None or a.node.registry.turns_of(chat):
                await asyncio.sleep(0.1)
        assert await store.renew_chat_leases("node-a", [chat], datetime.now(UTC), later) == [chat]


@pytest.mark.postgres
async def test_closing_a_chat_through_another_node_frees_its_agents_where_they_run(
    hearth_settings: Settings, tmp_path: Path, git_repo: Path
) -> None:
    async with fresh_database() as dsn:
        settings_a = hearth_settings.model_copy(update={**NODE_A, "lease_ttl_s": LEASE_TTL_S, "database_url": dsn})
        async with serve_hearth(settings_a) as a, serve_hearth(node_b(settings_a, tmp_path)) as b:
            chat = (await a.create_chat(git_repo))["id"]
            assert (await a.run_turn(chat, "native", "hello"))["node_id"] == "node-a"
            assert a.node.pool.find(chat, "native") is not None
            closed = await b.client.post(f"/api/chats/{chat}/close", json={"force": True})
            assert closed.status_code == 200, closed.text
            async with asyncio.timeout(30):  # node-a's next renewal finds the chat closed and lets go
                while a.node.pool.find(chat, "native") is not None:
                    await asyncio.sleep(0.1)
            (session,) = (await a.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
            assert session["status"] == "closed"  # letting go keeps what the close recorded


@pytest.mark.postgres
async def test_a_node_that_cannot_see_the_chat_worktree_says_how_to_share_it(
    hearth_settings: Settings, tmp_path: Path, git_repo: Path
) -> None:
    async with fresh_database() as dsn:
        settings_a = hearth_settings.model_copy(update={**NODE_A, "database_url": dsn})
        async with serve_hearth(settings_a) as a:
            chat = (await a.create_chat(git_repo))["id"]
            assert (await a.run_turn(chat, "native", "hello"))["status"] == "succeeded"
        # node-b has a data dir of its own and, misconfigured, no shared worktrees directory
        alone = settings_a.model_copy(update={"node_id": "node-b", "data_dir": tmp_path / "node-b"})
        async with serve_hearth(alone) as b:
            failed = await b.run_turn(chat, "native", "hello again")
            assert (failed["status"], failed["node_id"]) == ("failed", "node-b")
            assert "HEARTH_WORKTREES_DIR" in failed["error"]
            assert (await a_worktree(b, chat)).is_dir()  # refused, never touched


async def a_worktree(hearth: Hearth, chat: str) -> Path:
    return Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
