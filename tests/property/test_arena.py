"""Laws of the arena: which contestants a request may name, a contestant's state, adoption conflicts, removal."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from returns.result import Failure, Success

from core.arena import (
    Arena,
    ArenaStatus,
    Contestant,
    ContestantReap,
    ContestantSpec,
    ContestantState,
    adopt_conflicts,
    check_adoption,
    check_contestants,
    contestant_reap,
    contestant_state,
    to_remove,
)
from core.model import FileDiff, TaskStatus, Worktree, WorktreeStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AGENTS = ("qwen", "opencode", "native", "claude")
paths = st.sampled_from(("a.txt", "b.txt", "c/d.txt", "e.txt"))
diffs = st.sampled_from(("+1", "+2", "-3"))
file_diffs = st.builds(
    lambda path, diff, renamed: FileDiff(path=path, diff=diff, status="modified", old_path=renamed),
    paths,
    diffs,
    st.none() | paths,
)
worktree_statuses = st.none() | st.sampled_from(WorktreeStatus)
task_statuses = st.none() | st.sampled_from(TaskStatus)


def worktree(status: WorktreeStatus) -> Worktree:
    return Worktree(
        chat_id="arena-k", repo_path="/r", path="/w", branch="b", base_commit="c", status=status, created_at=T0
    )


@st.composite
def arenas(draw: st.DrawFn) -> Arena:
    count = draw(st.integers(1, 4))
    contestants = tuple(
        Contestant(
            arena_id="a",
            task_id=f"k{n}",
            position=n,
            agent=draw(st.sampled_from(AGENTS)),
            worktree=None if (status := draw(worktree_statuses)) is None else worktree(status),
            files=tuple(draw(st.lists(file_diffs, max_size=3))),
        )
        for n in range(count)
    )
    status = draw(st.sampled_from(ArenaStatus))
    winner = draw(st.sampled_from([c.task_id for c in contestants])) if status is ArenaStatus.ADOPTED else None
    forked = tuple(draw(st.lists(file_diffs, max_size=3)))
    return Arena(
        id="a", chat_id="c", prompt="p", status=status, winner=winner, forked_pending=forked, created_at=T0,
        contestants=contestants,
    )  # fmt: skip


@given(st.lists(st.sampled_from((*AGENTS, "ghost")), max_size=6), st.integers(1, 5))
def test_contestants_are_refused_naming_the_field_at_fault(agents: list[str], limit: int) -> None:
    configured = AGENTS[:3]
    result = check_contestants([ContestantSpec(agent=a) for a in agents], configured, limit)
    if not agents or len(agents) > limit:
        assert isinstance(result, Failure)
        assert result.failure().field == "contestants"
    elif any(a not in configured for a in agents):
        first = next(i for i, a in enumerate(agents) if a not in configured)
        assert isinstance(result, Failure)
        assert result.failure().field == f"contestants[{first}].agent"
    else:
        assert isinstance(result, Success)
        assert [s.agent for s in result.unwrap()] == agents


@given(arenas(), task_statuses)
def test_a_decision_outranks_the_run_and_exactly_one_contestant_is_adopted(
    arena: Arena, status: TaskStatus | None
) -> None:
    states = [contestant_state(arena, c, status) for c in arena.contestants]
    if arena.status is ArenaStatus.ADOPTED:
        assert states.count(ContestantState.ADOPTED) == 1
        assert set(states) <= {ContestantState.ADOPTED, ContestantState.DISCARDED}
    elif arena.status is ArenaStatus.DISCARDED:
        assert set(states) == {ContestantState.DISCARDED}
    else:
        assert ContestantState.ADOPTED not in states
        assert ContestantState.DISCARDED not in states
        if status is not None and status.is_terminal:
            assert set(states) == {ContestantState(status.value)}


@given(st.lists(file_diffs, max_size=4), st.lists(file_diffs, max_size=4), st.lists(file_diffs, max_size=4))
def test_conflicts_are_exactly_the_winners_paths_the_chat_changed_since_the_fork(
    winner: list[FileDiff], forked: list[FileDiff], current: list[FileDiff]
) -> None:
    clashes = adopt_conflicts(winner, forked, current)
    assert list(clashes) == sorted(set(clashes))
    touched = {p for f in winner for p in (f.path, f.old_path) if p is not None}
    then = {f.path: f.diff for f in forked}
    now = {f.path: f.diff for f in current}
    for path in touched:
        assert (path in clashes) == (then.get(path) != now.get(path))
    assert set(clashes) <= touched
    assert adopt_conflicts(winner, forked, forked) == ()  # nothing changed since the fork: never a conflict


@given(arenas(), st.sampled_from(("k0", "k1", "nobody")), task_statuses, st.lists(file_diffs, max_size=3))
def test_only_an_open_arenas_finished_contestant_with_work_and_no_clash_is_adopted(
    arena: Arena, pick: str, status: TaskStatus | None, current: list[FileDiff]
) -> None:
    statuses = {c.task_id: status for c in arena.contestants if status is not None}
    result = check_adoption(arena, pick, statuses, current)
    winner = arena.contestant(pick)
    if isinstance(result, Success):
        assert arena.status is ArenaStatus.OPEN
        assert result.unwrap() == winner
        assert status is not None
        assert status.is_terminal
        assert winner is not None
        assert winner.files
        assert adopt_conflicts(winner.files, arena.forked_pending, current) == ()
    elif arena.status is ArenaStatus.OPEN and winner is None:
        assert result.failure().field == "contestant"
        assert result.failure().kind == "invalid_input"


@given(arenas(), task_statuses)
def test_decided_arenas_remove_only_finished_worktrees(arena: Arena, status: TaskStatus | None) -> None:
    statuses = {c.task_id: status for c in arena.contestants if status is not None}
    removed = to_remove(arena, statuses)
    if arena.status is ArenaStatus.OPEN or status is None or not status.is_terminal:
        assert removed == ()  # undecided, or still running: nothing goes
    else:
        archived = WorktreeStatus.ARCHIVED
        left = [c for c in arena.contestants if c.worktree is not None and c.worktree.status is not archived]
        assert list(removed) == left
    for contestant in arena.contestants:
        action, why = contestant_reap(arena, contestant, status)
        assert why
        gone = contestant.worktree is None or contestant.worktree.status is WorktreeStatus.ARCHIVED
        if gone:
            assert action is ContestantReap.KEEP
        elif contestant.worktree is not None and contestant.worktree.status is WorktreeStatus.DELETING:
            assert action is ContestantReap.REMOVE  # an interrupted removal is finished
        elif status is None or not status.is_terminal:
            assert action is ContestantReap.KEEP  # never under a running agent
        elif arena.status is not ArenaStatus.OPEN:
            assert action is ContestantReap.REMOVE
        elif action is ContestantReap.JUDGE:
            assert status is not None
            assert status.is_terminal
        if status is None or not status.is_terminal:  # a running contestant's worktree is never judged
            assert action is not ContestantReap.JUDGE
