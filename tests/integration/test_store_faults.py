"""The Store under stress, for both stores: concurrent claimers, crashes mid-transaction, leadership, refused opens.

The schema's upgrades are tested in test_store_migrations.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.store.postgres import Conn, PostgresStore
from adapters.store.schema import StoreUnavailableError
from adapters.store.sqlite import SqliteStore
from core.events import TextDelta
from core.model import AgentSession, AgentSessionStatus, BackendKind, Chat, PendingChange, Task, TaskStatus, Usage
from core.ports.store import Store, StoreUnavailable

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Crash(RuntimeError):
    pass


class CrashingSqlite(SqliteStore):
    crash_at: str | None = None

    def _fault_point(self, name: str) -> None:
        if name == self.crash_at:
            raise Crash(name)


class CrashingPostgres(PostgresStore):
    crash_at: str | None = None
    kill_connection = False  # True: the database connection dies instead of Python raising

    async def _fault_point(self, conn: Conn, name: str) -> None:
        if name != self.crash_at:
            return
        if not self.kill_connection:
            raise Crash(name)
        victim = conn.get_server_pid()
        async with self._pool.acquire() as killer:
            await killer.execute("SELECT pg_terminate_backend($1)", victim)


async def open_store(kind: str, where: str, crashing: bool = False) -> SqliteStore | PostgresStore:
    if kind == "sqlite":
        return await (CrashingSqlite if crashing else SqliteStore).open(Path(where))
    return await (CrashingPostgres if crashing else PostgresStore).open(where)


def task(task_id: str, chat_id: str | None) -> Task:
    return Task(id=task_id, chat_id=chat_id, agent="native", prompt=task_id, created_at=T0)


async def test_concurrent_claimers_never_double_claim_and_keep_chat_order(locations: tuple[str, str]) -> None:
    kind, where = locations
    nodes = [await open_store(kind, where), await open_store(kind, where)]  # two nodes on one database
    try:
        chats = [f"chat{n}" for n in range(6)]
        expected: dict[str | None, list[str]] = {chat_id: [] for chat_id in chats}
        expected[None] = []
        for chat_id in chats:
            await nodes[0].create_chat(Chat(id=chat_id, repo_path="/r", created_at=T0))
        for round_ in range(5):
            for owner in [*chats, None]:
                task_id = f"{owner or 'solo'}-{round_}"
                await nodes[round_ % 2].enqueue_task(task(task_id, owner))
                expected[owner].append(task_id)
        total = sum(len(ids) for ids in expected.values())

        running: dict[str, str] = {}
        claimed: list[Task] = []
        finished = attempts = 0

        async def run_while_others_claim() -> None:
            """Keep the task "running" until other claimers tried a few times (bounded: they may all be busy)."""
            target = attempts + 4
            for _ in range(100):
                if attempts >= target:
                    return
                await asyncio.sleep(0.002)

        async def claim_loop(store: Store, worker: str) -> None:
            nonlocal finished, attempts
            while finished < total:
                got = await store.claim_next_task(worker, T0)
                attempts += 1
                if got is None:
                    await asyncio.sleep(0.002)
                    continue
                claimed.append(got)
                if got.chat_id is not None:
                    assert got.chat_id not in running, f"{got.id} started while {running.get(got.chat_id)} runs"
                    running[got.chat_id] = got.id
                await run_while_others_claim()
                if got.chat_id is not None:
                    del running[got.chat_id]
                await store.finish_task(got.id, TaskStatus.SUCCEEDED, None, Usage(), T0)
                finished += 1

        async with asyncio.timeout(120), asyncio.TaskGroup() as group:
            for n in range(8):
                group.create_task(claim_loop(nodes[n % 2], f"worker{n}"))

        ids = [t.id for t in claimed]
        assert len(ids) == total
        assert len(set(ids)) == total, "a task was claimed twice"
        for chat_id in chats:
            assert [t.id for t in claimed if t.chat_id == chat_id] == expected[chat_id]
        states = {t.status for chat_id in chats for t in await nodes[1].list_tasks(chat_id)}
        assert states == {TaskStatus.SUCCEEDED}
    finally:
        for node in nodes:
            await node.close()


async def seed(store: Store) -> None:
    await store.create_chat(Chat(id="c1", repo_path="/r", created_at=T0))
    await store.upsert_agent_session(
        AgentSession(
            chat_id="c1", agent="native", backend=BackendKind.NATIVE, status=AgentSessionStatus.BUSY, last_used_at=T0
        )
    )
    await store.enqueue_task(task("t1", "c1"))
    await store.claim_next_task("n1", T0)
    change = PendingChange(chat_id="c1", path="a.py", diff="+old", agent="native", updated_at=T0)
    await store.replace_pending_changes("c1", [change], [])


async def test_a_crash_mid_transaction_leaves_nothing_half_written(locations: tuple[str, str]) -> None:
    store = await open_store(*locations, crashing=True)
    try:
        await crash_everywhere_and_check(store)
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_connection_killed_mid_transaction_leaves_nothing_half_written(pg_dsn: str) -> None:
    store = await CrashingPostgres.open(pg_dsn)
    store.kill_connection = True
    try:
        await crash_everywhere_and_check(store)
    finally:
        await store.close()


async def crash_everywhere_and_check(store: SqliteStore | PostgresStore) -> None:
    assert isinstance(store, CrashingSqlite | CrashingPostgres)
    failure = (Crash, StoreUnavailable)  # a killed connection is an outage the app answers 503 for
    await seed(store)
    before = (await store.get_task("t1"), await store.list_agent_sessions("c1"), await store.list_pending_changes("c1"))

    store.crash_at = "finish_task"
    with pytest.raises(failure):
        await store.finish_task("t1", TaskStatus.SUCCEEDED, None, Usage(input_tokens=9), T0)
    store.crash_at = "append_events"
    events = [TextDelta(session_id="s", turn_id="t1", part_id="p", text=str(n)) for n in range(3)]
    with pytest.raises(failure):
        await store.append_events("t1", "c1", events)
    store.crash_at = "replace_pending_changes"
    changes = [
        PendingChange(chat_id="c1", path=path, diff="+new", agent="native", updated_at=T0) for path in ("a.py", "b.py")
    ]
    with pytest.raises(failure):
        await store.replace_pending_changes("c1", changes, [])

    store.crash_at = None
    after = (await store.get_task("t1"), await store.list_agent_sessions("c1"), await store.list_pending_changes("c1"))
    assert after == before
    assert await store.list_events("t1") == []
    # the store keeps working after the failed transactions
    done = await store.finish_task("t1", TaskStatus.SUCCEEDED, None, Usage(input_tokens=9), T0)
    assert done.status is TaskStatus.SUCCEEDED
    written = await store.append_events("t1", "c1", events)
    assert written == await store.list_events("t1")
    assert len(await store.list_pending_changes("c1")) == 1


@pytest.mark.postgres
async def test_exclusive_has_one_holder_across_nodes(pg_dsn: str) -> None:
    node_a, node_b = await PostgresStore.open(pg_dsn), await PostgresStore.open(pg_dsn)
    try:
        async with (
            node_a.exclusive("reaper") as a_leads,
            node_b.exclusive("reaper") as b_leads,
            node_b.exclusive("expiry") as b_other,
        ):
            assert (a_leads, b_leads, b_other) == (True, False, True)
        async with node_b.exclusive("reaper") as b_after:
            assert b_after is True  # released when the holder's block ended
    finally:
        await node_a.close()
        await node_b.close()


@pytest.mark.postgres
async def test_schemas_keep_two_hearths_apart_in_one_database(pg_dsn: str) -> None:
    team_a = await PostgresStore.open(pg_dsn, schema="team_a")
    team_b = await PostgresStore.open(pg_dsn, schema="team_b")
    try:
        await team_a.create_chat(Chat(id="c1", repo_path="/r", created_at=T0))
        assert [c.id for c in await team_a.list_chats()] == ["c1"]
        assert await team_b.list_chats() == []
    finally:
        await team_a.close()
        await team_b.close()


async def test_an_unusable_sqlite_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    garbage = tmp_path / "hearth.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreUnavailableError, match=r"cannot open the SQLite database .*hearth\.db.*move a damaged"):
        await SqliteStore.open(garbage)
    (tmp_path / "plain-file").write_text("x")
    with pytest.raises(StoreUnavailableError, match="data directory is writable"):
        await SqliteStore.open(tmp_path / "plain-file" / "hearth.db")


async def test_an_unreachable_postgres_is_refused_with_what_to_do() -> None:
    with pytest.raises(
        StoreUnavailableError, match=r"cannot reach PostgreSQL at postgresql://root:\*\*\*@127\.0\.0\.1:1/"
    ):
        await PostgresStore.open("postgresql://root:secret@127.0.0.1:1/none")
