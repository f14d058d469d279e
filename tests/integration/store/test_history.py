"""A chat's history in bounded reads (``HistoryStore``, paged ``list_tasks``/``list_*events``), and the server time
each event was journaled (schema v4)."""

from __future__ import annotations

from collections.abc import Sequence

from core.changes import PendingUpdate
from core.events import AgentEvent, TextDelta, TurnCompleted, UsageReport
from core.model import PendingChange, TaskStatus, Worktree
from core.ports.store import Store
from tests.integration.store.records import T0, change, chat, delta, task


async def _finished(store: Store, task_id: str, agent: str, reply: str | None = "said") -> None:
    await store.enqueue_task(task(task_id, agent=agent))
    await store.claim_next_task("n1", T0)
    await store.finish_task(task_id, TaskStatus.SUCCEEDED, None, None, T0, reply=reply)


async def test_every_event_carries_the_time_it_was_journaled(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    first = await store.append_events("t1", "c1", [delta("a"), delta("b")])
    second = await store.append_events("t1", "c1", [delta("c")])
    listed = await store.list_chat_events("c1")
    assert listed == first + second
    stamps = [row.journaled_at for row in listed]
    assert all(stamp is not None and stamp.utcoffset() is not None for stamp in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]


async def test_turns_page_forward_and_back_by_turn_id(store: Store) -> None:
    await store.create_chat(chat())
    await store.create_chat(chat("c2"))
    ids = [f"t{n:02d}" for n in range(7)]
    for n, task_id in enumerate(ids):
        await store.enqueue_task(task(task_id))
        await store.enqueue_task(task(f"x{n}", "c2"))  # another chat's turns interleave in queue order
    page = [t.id for t in await store.page_tasks("c1", limit=3)]
    assert page == ids[-3:]
    assert [t.id for t in await store.page_tasks("c1", before=ids[4], limit=3)] == ids[1:4]
    assert [t.id for t in await store.page_tasks("c1", before=ids[1], limit=3)] == ids[:1]
    assert [t.id for t in await store.page_tasks("c1", after=ids[1], limit=3)] == ids[2:5]
    assert [t.id for t in await store.page_tasks("c1", after=ids[1], before=ids[3], limit=3)] == ids[2:3]
    assert [t.id for t in await store.page_tasks("c1", after=ids[6], limit=3)] == []


async def test_events_page_forward_and_back_by_seq(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.enqueue_task(task("t2"))
    rows = []
    for n in range(6):
        rows += await store.append_events("t1" if n % 2 else "t2", "c1", [delta(str(n))])
    seqs = [row.seq for row in rows]
    assert [r.seq for r in await store.list_chat_events("c1", limit=4)] == seqs[:4]
    assert [r.seq for r in await store.list_chat_events("c1", seqs[3], limit=4)] == seqs[4:]
    assert [r.seq for r in await store.list_chat_events("c1", before_seq=seqs[4], limit=2)] == seqs[2:4]
    assert [r.seq for r in await store.list_chat_events("c1", seqs[0], before_seq=seqs[4])] == seqs[1:4]
    t1 = [row.seq for row in rows if row.task_id == "t1"]
    assert [r.seq for r in await store.list_events("t1", before_seq=t1[-1], limit=1)] == t1[1:2]
    assert [r.seq for r in await store.list_events("t1", t1[0], limit=1)] == t1[1:2]


async def test_the_handoff_window_is_the_newest_finished_turns_after_the_agents_cursor(store: Store) -> None:
    await store.create_chat(chat())
    await _finished(store, "a1", "alpha", reply="alpha one")
    await _finished(store, "b1", "beta")
    await _finished(store, "a2", "alpha", reply="alpha two")
    for n in range(5):
        await _finished(store, f"b{n + 2}", "beta", reply=f"beta {n + 2}")
    await store.enqueue_task(task("now", agent="alpha"))  # the turn being prepared: still queued
    await store.enqueue_task(task("later", agent="beta"))
    since = await store.turn_history("c1", before="now", limit=3, since_agent="alpha")
    assert [e.task_id for e in since.entries] == ["b4", "b5", "b6"]
    assert since.earlier == 2  # b2 and b3: after alpha's cursor (a2), left out of the window
    assert [e.reply for e in since.entries] == ["beta 4", "beta 5", "beta 6"]
    everything = await store.turn_history("c1", before="now", limit=4)
    assert [e.task_id for e in everything.entries] == ["b3", "b4", "b5", "b6"]
    assert everything.earlier == 4
    whole = await store.turn_history("c1", before=None, limit=100)
    assert [e.task_id for e in whole.entries][:3] == ["a1", "b1", "a2"]
    assert whole.earlier == 0
    assert (await store.turn_history("c1", before="now", limit=10, since_agent="gamma")).earlier == 0
    none_left = await store.turn_history("c1", before="a1", limit=5, since_agent="alpha")
    assert none_left.entries == ()


async def test_the_handoff_window_reads_replies_of_turns_finished_without_one_and_their_files(store: Store) -> None:
    await store.create_chat(chat())
    await _finished(store, "t1", "alpha", reply=None)  # finished before schema v4 kept replies
    await store.append_events("t1", "c1", [delta("from "), delta("events")])
    await store.replace_pending_changes("c1", [change("b.py", task_id="t1"), change("a.py", task_id="t1")], [])
    (entry,) = (await store.turn_history("c1", before=None, limit=5)).entries
    assert entry.reply == "from events"
    assert entry.files == ("a.py", "b.py")


async def test_agents_with_finished_turns(store: Store) -> None:
    await store.create_chat(chat())
    await store.create_chat(chat("c2"))
    await _finished(store, "a1", "alpha")
    await _finished(store, "z1", "zeta")
    await store.enqueue_task(task("q1", agent="queued-only"))
    await store.enqueue_task(task("o1", "c2", agent="other-chat"))
    assert await store.agents_with_finished_turns("c1") == {"alpha", "zeta"}
    assert await store.agents_with_finished_turns("nope") == set()


async def test_finishing_a_turn_stores_its_end_and_journals_its_terminal_event_once(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.claim_next_task("n1", T0)
    terminal = TurnCompleted(session_id="s", turn_id="t1")
    finished, stored = await store.finish_turn(
        "t1", "c1", TaskStatus.SUCCEEDED, None, None, T0, "the reply", [terminal]
    )
    assert finished.status is TaskStatus.SUCCEEDED
    assert [row.event for row in stored] == [terminal]
    assert await store.list_events("t1") == stored
    (entry,) = (await store.turn_history("c1", before=None, limit=5)).entries
    assert entry.reply == "the reply"
    # a repeat (a commit whose answer was lost) finds the turn finished and journals nothing
    again, none = await store.finish_turn("t1", "c1", TaskStatus.FAILED, "late", None, T0, None, [terminal])
    assert again.status is TaskStatus.SUCCEEDED
    assert none == []
    assert len(await store.list_events("t1")) == 1


async def test_finishing_a_turn_journals_its_last_events_in_order_before_its_terminal_event(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.claim_next_task("n1", T0)
    (first,) = await store.append_events("t1", "c1", [TextDelta(session_id="s", turn_id="t1", part_id="p", text="a")])
    last: list[AgentEvent] = [
        TextDelta(session_id="s", turn_id="t1", part_id="p", text="b"),
        UsageReport(session_id="s", turn_id="t1", input_tokens=3, output_tokens=2),
        TurnCompleted(session_id="s", turn_id="t1"),
    ]
    _, stored = await store.finish_turn("t1", "c1", TaskStatus.SUCCEEDED, None, None, T0, "ab", last)
    assert [row.event for row in stored] == last
    assert [row.seq for row in stored] == sorted(row.seq for row in stored)
    assert stored[0].seq > first.seq
    assert await store.list_events("t1") == [first, *stored]


async def test_finishing_a_turn_brings_the_pending_changes_up_to_date_in_the_same_transaction(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t0"))
    await store.enqueue_task(task("t1"))
    await store.replace_pending_changes("c1", [change("kept.py", task_id="t0"), change("gone.py", task_id="t0")], [])
    await store.claim_next_task("n1", T0)
    await store.finish_task("t0", TaskStatus.SUCCEEDED, None, None, T0)
    await store.claim_next_task("n1", T0)
    seen: list[list[str]] = []

    def reconcile(current: Sequence[PendingChange]) -> PendingUpdate:
        seen.append([row.path for row in current])
        return PendingUpdate(upserts=(change("new.py", "+n", task_id="t1"),), removed_paths=("gone.py",))

    terminal = TurnCompleted(session_id="s", turn_id="t1")
    await store.finish_turn("t1", "c1", TaskStatus.SUCCEEDED, None, None, T0, None, [terminal], reconcile)
    assert seen == [["gone.py", "kept.py"]]  # it decided from the rows as they were, read inside the transaction
    assert [(row.path, row.task_id) for row in await store.list_pending_changes("c1")] == [
        ("kept.py", "t0"),
        ("new.py", "t1"),
    ]
    # a repeat finds the turn finished: it journals nothing, yet the worktree's diff is still what is pending
    await store.finish_turn(
        "t1",
        "c1",
        TaskStatus.SUCCEEDED,
        None,
        None,
        T0,
        None,
        [terminal],
        lambda _: PendingUpdate(removed_paths=("kept.py",)),
    )
    assert [row.path for row in await store.list_pending_changes("c1")] == ["new.py"]
    assert len(await store.list_events("t1")) == 1


async def test_a_chat_and_its_worktree_are_read_together(store: Store) -> None:
    assert await store.get_chat_and_worktree("c1") == (None, None)
    created = await store.create_chat(chat())
    assert await store.get_chat_and_worktree("c1") == (created, None)
    tree = Worktree(
        chat_id="c1", repo_path="/r", path="/w/c1", branch="hearth/chat-c1", base_commit="0" * 40, created_at=T0
    )
    await store.upsert_worktree(tree)
    found_chat, found_tree = await store.get_chat_and_worktree("c1")
    assert found_chat == created
    assert found_tree == await store.get_worktree("c1")
    assert found_tree is not None
    assert found_tree.path == "/w/c1"
