"""Laws of pending changes: latest wins per path, stamps and contributors, and the worktree-risk verdict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.changes import (
    NATIVE_STAMP,
    PendingUpdate,
    add_contributor,
    attribution_stamp,
    reconcile_pending,
    worktree_risk,
)
from core.model import BackendKind, FileDiff, PendingChange, PendingChangeStatus, Preflight


def merge_pending(current: Sequence[PendingChange], update: PendingUpdate) -> list[PendingChange]:
    """Test oracle: the pending rows after ``update`` is written, ordered by path (what a store ends up holding)."""
    rows = {row.path: row for row in current if row.status is PendingChangeStatus.PENDING}
    for path in update.removed_paths:
        rows.pop(path, None)
    rows.update({row.path: row for row in update.upserts})
    return [rows[path] for path in sorted(rows)]


# Machines are noisy: no per-example deadline (never assert wall-clock time).
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PATHS = ["a.py", "b.py", "src/c.py", "d.md"]
STAMPS = [None, "native", "opencode", "qwen", "claude"]

file_diffs = st.builds(
    FileDiff,
    path=st.sampled_from(PATHS),
    diff=st.sampled_from(["@@ -1 +1 @@\n-x\n+y\n", "@@ -0,0 +1 @@\n+new\n", "@@ -1,2 +1 @@\n-a\n-b\n+c\n"]),
    status=st.just("modified"),
)
worktree_diffs = st.lists(file_diffs, max_size=6)
turns = st.lists(st.tuples(worktree_diffs, st.sampled_from(STAMPS)), min_size=1, max_size=8)


def replay(chat_id: str, sequence: list[tuple[list[FileDiff], str | None]]) -> list[list[PendingChange]]:
    """The pending rows after each turn, as a store applying each update would hold them."""
    rows: list[PendingChange] = []
    history = []
    for n, (diff, stamp) in enumerate(sequence):
        update = reconcile_pending(chat_id, rows, diff, stamp, f"t{n}", T0 + timedelta(minutes=n))
        rows = merge_pending(rows, update)
        history.append(rows)
    return history


def last_per_path(diff: list[FileDiff]) -> dict[str, str]:
    return {file.path: file.diff for file in diff}


@RELAXED
@given(turns)
def test_latest_wins_applying_diffs_in_sequence_equals_applying_only_the_last(
    sequence: list[tuple[list[FileDiff], str | None]],
) -> None:
    rows = replay("c", sequence)[-1]
    only_last = merge_pending([], reconcile_pending("c", [], *sequence[-1], "t", T0))
    assert {r.path: r.diff for r in rows} == {r.path: r.diff for r in only_last} == last_per_path(sequence[-1][0])


@RELAXED
@given(turns)
def test_stamps_credit_the_last_turn_that_changed_each_file(sequence: list[tuple[list[FileDiff], str | None]]) -> None:
    expected_stamp: dict[str, str | None] = {}
    expected_contributors: dict[str, tuple[str, ...]] = {}
    previous: dict[str, str] = {}
    for (diff, stamp), rows in zip(sequence, replay("c", sequence), strict=True):
        now = last_per_path(diff)
        for path, text in now.items():
            if previous.get(path) != text:
                expected_stamp[path] = stamp
                earlier = expected_contributors.get(path, ()) if path in previous else ()
                expected_contributors[path] = earlier + ((stamp,) if stamp and stamp not in earlier else ())
        previous = now
        assert {r.path: r.agent for r in rows} == {p: expected_stamp[p] for p in now}
        assert {r.path: r.contributors for r in rows} == {p: expected_contributors[p] for p in now}


@RELAXED
@given(turns)
def test_contributors_are_unique_and_contain_the_stamp_of_every_upsert(
    sequence: list[tuple[list[FileDiff], str | None]],
) -> None:
    rows: list[PendingChange] = []
    for n, (diff, stamp) in enumerate(sequence):
        update = reconcile_pending("c", rows, diff, stamp, f"t{n}", T0)
        for row in update.upserts:
            assert len(set(row.contributors)) == len(row.contributors)
            assert row.agent == stamp
            assert row.task_id == f"t{n}"
            if stamp is not None:
                assert stamp in row.contributors
        assert set(update.removed_paths) == {r.path for r in rows} - set(last_per_path(diff))
        rows = merge_pending(rows, update)


@RELAXED
@given(worktree_diffs, st.sampled_from(STAMPS))
def test_a_rerun_with_the_same_diff_changes_nothing(diff: list[FileDiff], stamp: str | None) -> None:
    rows = merge_pending([], reconcile_pending("c", [], diff, "qwen", "t1", T0))
    assert reconcile_pending("c", rows, diff, stamp, "t2", T0) == PendingUpdate()


@RELAXED
@given(worktree_diffs)
def test_applied_rows_do_not_carry_contributors_into_new_work(diff: list[FileDiff]) -> None:
    rows = merge_pending([], reconcile_pending("c", [], diff, "qwen", "t1", T0))
    applied = [row.model_copy(update={"status": PendingChangeStatus.APPLIED}) for row in rows]
    update = reconcile_pending("c", applied, diff, "claude", "t2", T0)
    assert update.removed_paths == ()
    assert all(row.contributors == ("claude",) for row in update.upserts)
    assert {row.path for row in update.upserts} == set(last_per_path(diff))


@RELAXED
@given(st.lists(st.sampled_from(STAMPS[1:])), st.sampled_from(STAMPS))
def test_add_contributor_keeps_first_touch_order(contributors: list[str], stamp: str | None) -> None:
    result = add_contributor(contributors, stamp)
    assert len(set(result)) == len(result)
    assert list(result[: len(dict.fromkeys(contributors))]) == list(dict.fromkeys(contributors))
    assert set(result) == set(contributors) | ({stamp} if stamp else set())


def test_attribution_native_external_manual() -> None:
    assert attribution_stamp("native", BackendKind.NATIVE) == NATIVE_STAMP
    assert attribution_stamp("my-native", BackendKind.NATIVE) == NATIVE_STAMP
    assert attribution_stamp("qwen", BackendKind.WARM_ACP) == "qwen"
    assert attribution_stamp("opencode", BackendKind.OPENCODE_SERVER) == "opencode"
    assert attribution_stamp(None, None) is None


def test_two_agents_on_one_file_are_both_listed_and_the_last_is_credited() -> None:
    first = [FileDiff(path="a.py", diff="+1\n", status="modified")]
    second = [FileDiff(path="a.py", diff="+2\n", status="modified")]
    rows = replay("c", [(first, "opencode"), (second, "qwen"), (second, None)])[-1]
    assert [(r.agent, r.contributors, r.task_id) for r in rows] == [("qwen", ("opencode", "qwen"), "t1")]


# The worktree-risk verdict

paths = st.lists(st.sampled_from(["a", "b", "c", "d/e.py", "f g.txt"]), unique=True, max_size=5)
preflights = st.builds(
    Preflight,
    dirty_files=paths.map(tuple),
    unpushed_commits=st.integers(min_value=0, max_value=3),
    unapplied_changes=st.integers(min_value=0, max_value=3),
    errors=st.lists(st.sampled_from(["git status failed: index locked", "not a git repository"]), max_size=2).map(
        tuple
    ),
)


@RELAXED
@given(preflights, st.integers(min_value=0, max_value=3))
def test_risk_is_safe_exactly_when_nothing_would_be_lost_or_unknown(preflight: Preflight, pending: int) -> None:
    risk = worktree_risk(preflight, pending)
    nothing = not (
        preflight.dirty_files
        or preflight.unpushed_commits
        or preflight.unapplied_changes
        or pending
        or preflight.errors
    )
    assert risk.safe == nothing
    assert bool(risk.reasons) == (not risk.safe)
    for path in preflight.dirty_files:
        assert any(path in reason for reason in risk.reasons)
    assert sum("unknown is not clean" in reason for reason in risk.reasons) == len(preflight.errors)


def test_risk_reasons_are_precise_human_text() -> None:
    preflight = Preflight(dirty_files=("c", "a", "b"), unpushed_commits=1, unapplied_changes=2)
    assert worktree_risk(preflight, 2).reasons == (
        "3 dirty files: a, b, c",
        "1 unpushed commit on the chat branch",
        "2 pending changes not yet applied",
    )
    many = Preflight(dirty_files=tuple(f"f{n:02}" for n in range(12)))
    assert worktree_risk(many).reasons == (
        "12 dirty files: f00, f01, f02, f03, f04, f05, f06, f07, f08, f09 and 2 more",
    )
    assert worktree_risk(Preflight()).safe
