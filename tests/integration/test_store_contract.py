"""The Store contract, run against both stores (fixture ``store``: sqlite and postgres)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.events import TextDelta, TurnCompleted, UsageReport
from core.model import (
    AgentSession,
    AgentSessionStatus,
    BackendKind,
    Chat,
    ChatStatus,
    PendingChange,
    PendingChangeStatus,
    ProcessRecord,
    Task,
    TaskOrigin,
    TaskStatus,
    Usage,
    Worktree,
    WorktreeStatus,
)
from core.ports.store import Store

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def chat(chat_id: str = "c1", **fields: object) -> Chat:
    return Chat.model_validate({"id": chat_id, "repo_path": "/repos/app", "created_at": T0, **fields})


def task(task_id: str, chat_id: str | None = "c1", agent: str = "opencode", **fields: object) -> Task:
    return Task.model_validate(
        {"id": task_id, "chat_id": chat_id, "agent": agent, "prompt": f"do {task_id}", "created_at": T0, **fields}
    )


def session(chat_id: str = "c1", agent: str = "opencode", **fields: object) -> AgentSession:
    return AgentSession.model_validate(
        {"chat_id": chat_id, "agent": agent, "backend": BackendKind.OPENCODE_SERVER, "last_used_at": T0, **fields}
    )


def worktree(chat_id: str | None = "c1", path: str = "/wt/c1", **fields: object) -> Worktree:
    return Worktree.model_validate(
        {
            "chat_id": chat_id,
            "repo_path": "/repos/app",
            "path": path,
            "branch": f"hearth/chat-{chat_id}",
            "base_commit": "a" * 40,
            "created_at": T0,
            **fields,
        }
    )


def change(path: str, diff: str = "+x", chat_id: str = "c1", **fields: object) -> PendingChange:
    return PendingChange.model_validate(
        {"chat_id": chat_id, "path": path, "diff": diff, "agent": "opencode", "updated_at": T0, **fields}
    )


def delta(text: str, turn: str = "t1") -> TextDelta:
    return TextDelta(session_id="s1", turn_id=turn, part_id="p1", text=text)


async def test_ping_and_chat_round_trip(store: Store) -> None:
    await store.ping()
    created = await store.create_chat(chat(title="fix the bug", ref="main"))
    assert await store.get_chat("c1") == created
    assert await store.get_chat("missing") is None
    await store.create_chat(chat("c2", created_at=at(1)))
    assert [c.id for c in await store.list_chats()] == ["c1", "c2"]


async def test_close_chat_sets_status_and_time(store: Store) -> None:
    await store.create_chat(chat())
    closed = await store.close_chat("c1", at(9))
    assert closed is not None
    assert (closed.status, closed.closed_at) == (ChatStatus.CLOSED, at(9))
    assert await store.get_chat("c1") == closed
    assert await store.close_chat("missing", at(9)) is None


async def test_times_come_back_as_utc_whatever_offset_went_in(store: Store) -> None:
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    await store.create_chat(chat(created_at=plus_two))
    stored = await store.get_chat("c1")
    assert stored is not None
    assert stored.created_at == T0
    assert stored.created_at.utcoffset() == timedelta(0)


async def test_delete_chat_keeps_history_with_chat_id_null(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_worktree(worktree())
    await store.upsert_agent_session(session())
    await store.enqueue_task(task("t1"))
    await store.append_events("t1", "c1", [delta("hi")])
    await store.replace_pending_changes("c1", [change("a.py")], [])

    assert await store.delete_chat("c1") is True
    assert await store.delete_chat("c1") is False

    kept_task = await store.get_task("t1")
    assert kept_task is not None
    assert kept_task.chat_id is None
    events = await store.list_events("t1")
    assert [e.chat_id for e in events] == [None]
    assert [w.chat_id for w in await store.list_worktrees()] == [None]
    # sessions and pending changes belong to the chat and go with it
    assert await store.list_agent_sessions("c1") == []
    assert await store.list_pending_changes("c1", None) == []


async def test_worktree_upsert_get_and_filter(store: Store) -> None:
    await store.create_chat(chat())
    await store.create_chat(chat("c2"))
    await store.upsert_worktree(worktree())
    await store.upsert_worktree(worktree("c2", "/wt/c2", created_at=at(1)))
    archived = worktree(status=WorktreeStatus.ARCHIVED, archived_at=at(5), snapshot_ref="refs/hearth/snapshots/c1/x")
    await store.upsert_worktree(archived)
    assert await store.get_worktree("c1") == archived
    assert await store.get_worktree("nope") is None
    assert [w.path for w in await store.list_worktrees()] == ["/wt/c1", "/wt/c2"]
    assert [w.path for w in await store.list_worktrees(WorktreeStatus.ACTIVE)] == ["/wt/c2"]
    # a chat has at most one worktree: recreating it elsewhere replaces the row
    moved = worktree(path="/wt/c1-again")
    await store.upsert_worktree(moved)
    assert await store.get_worktree("c1") == moved
    assert sorted(w.path for w in await store.list_worktrees()) == ["/wt/c1-again", "/wt/c2"]


async def test_agent_sessions_unique_per_chat_and_agent(store: Store) -> None:
    await store.create_chat(chat())
    first = session(backend_session_id="ses_1", node_id="n1")
    await store.upsert_agent_session(first)
    await store.upsert_agent_session(session(agent="native", backend=BackendKind.NATIVE))
    updated = first.model_copy(update={"backend_session_id": "ses_2", "turns": 4, "usage": Usage(input_tokens=7)})
    await store.upsert_agent_session(updated)
    assert await store.get_agent_session("c1", "opencode") == updated
    assert await store.get_agent_session("c1", "qwen") is None
    assert [s.agent for s in await store.list_agent_sessions("c1")] == ["native", "opencode"]

    await store.set_agent_session_status("c1", "opencode", AgentSessionStatus.EVICTED, at(3))
    evicted = await store.get_agent_session("c1", "opencode")
    assert evicted is not None
    assert (evicted.status, evicted.last_used_at) == (AgentSessionStatus.EVICTED, at(3))
    await store.set_agent_session_status("c1", "missing", AgentSessionStatus.IDLE, at(3))  # no row: no-op


async def test_tasks_enqueue_get_list_oldest_first(store: Store) -> None:
    await store.create_chat(chat())
    queued = await store.enqueue_task(task("t1", model="m", origin=TaskOrigin.ARENA))
    assert await store.get_task("t1") == queued
    assert await store.get_task("nope") is None
    for n in range(2, 6):
        await store.enqueue_task(task(f"t{n}"))
    assert [t.id for t in await store.list_tasks("c1")] == ["t1", "t2", "t3", "t4", "t5"]
    assert [t.id for t in await store.list_tasks("c1", limit=2)] == ["t4", "t5"]  # the newest, oldest first


async def test_claim_takes_chat_heads_in_order_and_one_per_chat(store: Store) -> None:
    await store.create_chat(chat("a"))
    await store.create_chat(chat("b"))
    for task_id, chat_id in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("x1", None), ("x2", None)]:
        await store.enqueue_task(task(task_id, chat_id))

    claimed = await store.claim_next_task("n1", at(1))
    assert claimed is not None
    assert (claimed.id, claimed.status, claimed.node_id, claimed.started_at) == ("a1", TaskStatus.RUNNING, "n1", at(1))
    following = [await store.claim_next_task("n1", at(2)) for _ in range(4)]
    # a2 waits for a1; chat-less tasks are always runnable
    assert [t.id if t else None for t in following] == ["b1", "x1", "x2", None]

    await store.finish_task("a1", TaskStatus.SUCCEEDED, None, Usage(), at(3))
    assert await store.claim_next_task("n1", at(4), skip_chats=["a"]) is None
    next_of_a = await store.claim_next_task("n1", at(4))
    assert next_of_a is not None
    assert next_of_a.id == "a2"


async def test_a_skipped_or_cancelled_head_never_lets_the_next_jump_the_queue(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.enqueue_task(task("t2"))
    assert await store.claim_next_task("n", at(1), skip_chats=["c1"]) is None
    cancelled = await store.cancel_queued_task("t1", at(2))
    assert cancelled is not None
    assert (cancelled.status, cancelled.finished_at) == (TaskStatus.CANCELLED, at(2))
    assert await store.cancel_queued_task("t1", at(2)) is None  # no longer queued
    claimed = await store.claim_next_task("n", at(3))
    assert claimed is not None
    assert claimed.id == "t2"
    assert await store.cancel_queued_task("t2", at(4)) is None  # running: not cancellable here


async def test_finish_task_adds_usage_and_a_turn_to_the_session(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_agent_session(session(status=AgentSessionStatus.BUSY, turns=2, usage=Usage(input_tokens=10)))
    await store.enqueue_task(task("t1"))
    await store.claim_next_task("n", at(1))
    usage = Usage(input_tokens=5, output_tokens=6, reasoning_tokens=7, cost_usd=0.25)

    finished = await store.finish_task("t1", TaskStatus.FAILED, "boom", usage, at(9))
    assert (finished.status, finished.error, finished.usage, finished.finished_at) == (
        TaskStatus.FAILED,
        "boom",
        usage,
        at(9),
    )
    assert await store.get_task("t1") == finished
    stored = await store.get_agent_session("c1", "opencode")
    assert stored is not None
    assert (stored.status, stored.turns, stored.last_used_at) == (AgentSessionStatus.IDLE, 3, at(9))
    assert stored.usage == Usage(input_tokens=15, output_tokens=6, reasoning_tokens=7, cost_usd=0.25)

    again = await store.finish_task("t1", TaskStatus.SUCCEEDED, None, usage, at(10))
    assert again == finished  # finishing twice never counts twice
    assert (await store.get_agent_session("c1", "opencode")) == stored


async def test_finish_task_without_a_session_or_chat_just_finishes(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.enqueue_task(task("solo", None))
    for task_id in ("t1", "solo"):
        done = await store.finish_task(task_id, TaskStatus.SUCCEEDED, None, Usage(output_tokens=1), at(1))
        assert done.status is TaskStatus.SUCCEEDED
    assert await store.list_agent_sessions("c1") == []
    with pytest.raises(LookupError):
        await store.finish_task("missing", TaskStatus.SUCCEEDED, None, Usage(), at(1))
    with pytest.raises(ValueError, match="terminal"):
        await store.finish_task("t1", TaskStatus.RUNNING, None, Usage(), at(1))


async def test_finishing_a_task_that_never_ran_counts_no_turn(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_agent_session(session())
    await store.enqueue_task(task("t1"))
    done = await store.finish_task("t1", TaskStatus.CANCELLED, "cancelled before it started", Usage(), at(1))
    assert done.status is TaskStatus.CANCELLED
    assert await store.get_agent_session("c1", "opencode") == session()


async def test_finish_keeps_a_crashed_session_crashed(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_agent_session(session(status=AgentSessionStatus.CRASHED))
    await store.enqueue_task(task("t1"))
    await store.claim_next_task("n", at(0))
    await store.finish_task("t1", TaskStatus.FAILED, "agent died", Usage(), at(1))
    stored = await store.get_agent_session("c1", "opencode")
    assert stored is not None
    assert (stored.status, stored.turns) == (AgentSessionStatus.CRASHED, 1)


async def test_fail_running_tasks_by_node_or_all(store: Store) -> None:
    for chat_id in ("a", "b", "c"):
        await store.create_chat(chat(chat_id))
        await store.enqueue_task(task(f"{chat_id}1", chat_id))
    await store.claim_next_task("n1", at(1))
    await store.claim_next_task("n2", at(1))
    mine = await store.fail_running_tasks("interrupted by restart", at(2), node_id="n1")
    assert [(t.id, t.status, t.error) for t in mine] == [("a1", TaskStatus.FAILED, "interrupted by restart")]
    await store.claim_next_task("n3", at(3))
    everyone = await store.fail_running_tasks("interrupted by restart", at(4))
    assert sorted(t.id for t in everyone) == ["b1", "c1"]
    assert await store.fail_running_tasks("again", at(5)) == []


async def test_count_tasks_by_status_covers_every_status_and_every_chat(store: Store) -> None:
    assert await store.count_tasks_by_status() == dict.fromkeys(TaskStatus, 0)
    for chat_id in ("a", "b", "gone"):
        await store.create_chat(chat(chat_id))
    for task_id, owner in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("g1", "gone"), ("solo", None), ("q", "b")]:
        await store.enqueue_task(task(task_id, owner))
    await store.claim_next_task("n", at(1))  # a1 runs
    await store.finish_task("g1", TaskStatus.SUCCEEDED, None, Usage(), at(2))
    await store.finish_task("solo", TaskStatus.FAILED, "boom", Usage(), at(2))
    await store.cancel_queued_task("q", at(2))
    await store.delete_chat("gone")  # its task keeps counting, with chat_id NULL

    assert await store.count_tasks_by_status() == {
        TaskStatus.QUEUED: 2,  # a2, b1
        TaskStatus.RUNNING: 1,
        TaskStatus.SUCCEEDED: 1,
        TaskStatus.FAILED: 1,
        TaskStatus.CANCELLED: 1,
    }


async def test_events_append_in_order_and_list_after_seq(store: Store) -> None:
    await store.create_chat(chat())
    await store.create_chat(chat("c2"))
    await store.enqueue_task(task("t1"))
    await store.enqueue_task(task("t2", "c2"))
    first = await store.append_events("t1", "c1", [delta("a"), delta("b")])
    other = await store.append_events("t2", "c2", [delta("z", "t2")])
    last = await store.append_events("t1", "c1", [UsageReport(session_id="s1", turn_id="t1", input_tokens=3)])
    final = await store.append_events("t1", "c1", [TurnCompleted(session_id="s1", turn_id="t1")])
    assert await store.append_events("t1", "c1", []) == []

    seqs = [e.seq for e in first + other + last + final]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 5
    listed = await store.list_events("t1")
    assert listed == first + last + final
    assert listed[0].event == delta("a")
    assert await store.list_events("t1", after_seq=first[1].seq) == last + final
    assert await store.list_chat_events("c1", after_seq=first[0].seq) == [first[1], *last, *final]
    assert await store.list_chat_events("c2") == other
    assert await store.list_events("nope") == []


async def test_events_with_nul_characters_are_stored(store: Store) -> None:
    """Agents stream raw tool output (a binary file read): a NUL must not break the journal (PostgreSQL's text
    and jsonb refuse it, so it may come back as U+FFFD)."""
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    stored = await store.append_events("t1", "c1", [delta("a\x00b")])
    (listed,) = await store.list_events("t1")
    assert listed == stored[0]
    assert isinstance(listed.event, TextDelta)
    assert listed.event.text in {"a\x00b", "a\ufffdb"}


async def test_pending_changes_latest_wins_per_path_and_removal(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.replace_pending_changes("c1", [change("a.py", "+1"), change("b.py", "+2")], [])
    newer = change("a.py", "+1\n+3", agent="qwen", contributors=("opencode", "qwen"), task_id="t1", updated_at=at(5))
    await store.replace_pending_changes("c1", [newer], ["b.py", "never-there.py"])
    assert await store.list_pending_changes("c1") == [newer]
    with pytest.raises(ValueError, match="belongs to chat"):
        await store.replace_pending_changes("c1", [change("x.py", chat_id="other")], [])


async def test_pending_status_for_some_paths_or_all(store: Store) -> None:
    await store.create_chat(chat())
    await store.replace_pending_changes("c1", [change("a.py"), change("b.py"), change("c.py")], [])
    await store.set_pending_status("c1", ["a.py"], PendingChangeStatus.APPLIED, at(1))
    assert [c.path for c in await store.list_pending_changes("c1")] == ["b.py", "c.py"]
    await store.set_pending_status("c1", None, PendingChangeStatus.DISCARDED, at(2))
    assert await store.list_pending_changes("c1") == []
    every = await store.list_pending_changes("c1", None)
    assert [(c.path, c.status, c.updated_at) for c in every] == [
        ("a.py", PendingChangeStatus.APPLIED, at(1)),
        ("b.py", PendingChangeStatus.DISCARDED, at(2)),
        ("c.py", PendingChangeStatus.DISCARDED, at(2)),
    ]
    assert [c.path for c in await store.list_pending_changes("c1", PendingChangeStatus.APPLIED)] == ["a.py"]
    # a new diff of an applied file makes it pending again (latest wins)
    await store.replace_pending_changes("c1", [change("a.py", "+again", updated_at=at(3))], [])
    assert [c.diff for c in await store.list_pending_changes("c1")] == ["+again"]


async def test_idempotency_first_response_wins(store: Store) -> None:
    assert await store.recall_idempotent("submit", "k1") is None
    first: dict[str, object] = {"task_id": "t1", "nested": {"n": [1, 2]}}
    assert await store.remember_idempotent("submit", "k1", first) == first
    assert await store.remember_idempotent("submit", "k1", {"task_id": "t2"}) == first
    assert await store.recall_idempotent("submit", "k1") == first
    assert await store.recall_idempotent("cancel", "k1") is None  # keys are per scope


async def test_process_registry_per_node(store: Store) -> None:
    server = ProcessRecord(key="opencode-server", pid=100, port=4096, started_at=T0, node_id="n1", command="opencode")
    acp = ProcessRecord(key="acp:qwen:1", pid=200, started_at=at(1), node_id="n1", command="qwen --acp")
    elsewhere = server.model_copy(update={"node_id": "n2", "pid": 300})
    for record in (server, acp, elsewhere):
        await store.record_process(record)
    moved = server.model_copy(update={"port": 5000})
    await store.record_process(moved)  # the same process again: updated, not duplicated
    assert await store.list_processes("n1") == [moved, acp]
    await store.forget_process("opencode-server", 100)
    assert await store.list_processes("n1") == [acp]
    assert await store.list_processes("n2") == [elsewhere]


async def test_exclusive_yields_a_verdict(store: Store) -> None:
    async with store.exclusive("reaper") as leader:
        assert leader is True
