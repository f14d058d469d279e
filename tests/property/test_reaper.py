"""Laws of the reaper (fail closed: never delete what could hold work) and of snapshot ref naming."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from core.model import (
    AgentSession,
    AgentSessionStatus,
    BackendKind,
    Chat,
    ChatStatus,
    Preflight,
    Worktree,
    WorktreeStatus,
)
from core.reaper import (
    DEFAULT_GRACE_S,
    SNAPSHOT_PREFIX,
    ChatPresence,
    ChatState,
    ReapAction,
    expired_snapshots,
    format_snapshot_time,
    latest_snapshot,
    parse_snapshot_ref,
    parse_snapshot_time,
    reap_verdict,
    snapshot_ref,
)

# Machines are noisy: no per-example deadline (never assert wall-clock time).
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

worktrees = st.builds(
    Worktree,
    chat_id=st.sampled_from(["c1", "c2", None]),
    repo_path=st.just("/repo"),
    path=st.just("/data/worktrees/c1"),
    branch=st.just("hearth/chat-c1"),
    base_commit=st.just("0" * 40),
    status=st.sampled_from(WorktreeStatus),
    created_at=st.just(NOW - timedelta(days=3)),
)
presences = st.builds(
    ChatPresence,
    state=st.sampled_from(ChatState),
    since=st.none() | st.integers(min_value=0, max_value=3 * 3600).map(lambda s: NOW - timedelta(seconds=s)),
)
sessions = st.lists(
    st.builds(
        AgentSession,
        chat_id=st.sampled_from(["c1", "c2"]),
        agent=st.sampled_from(["opencode", "qwen"]),
        backend=st.just(BackendKind.WARM_ACP),
        status=st.sampled_from(AgentSessionStatus),
        last_used_at=st.just(NOW),
    ),
    max_size=3,
)
preflights = st.none() | st.builds(
    Preflight,
    dirty_files=st.lists(st.sampled_from(["a.py", "b.py"]), unique=True, max_size=2).map(tuple),
    unpushed_commits=st.integers(min_value=0, max_value=2),
    unapplied_changes=st.integers(min_value=0, max_value=2),
    errors=st.lists(st.just("git status failed: index.lock exists"), max_size=1).map(tuple),
)


@RELAXED
@given(worktrees, presences, sessions, preflights)
def test_the_reaper_only_deletes_a_clean_orphan_past_the_grace_with_no_session(
    worktree: Worktree, chat: ChatPresence, chat_sessions: list[AgentSession], preflight: Preflight | None
) -> None:
    verdict = reap_verdict(worktree, chat, chat_sessions, preflight, NOW)
    assert verdict.reasons
    if verdict.action is not ReapAction.SOFT_DELETE:
        return
    assert preflight is not None
    assert not preflight.dirty_files
    assert preflight.unpushed_commits == 0
    assert preflight.unapplied_changes == 0
    assert not preflight.errors
    assert worktree.status is WorktreeStatus.ACTIVE
    assert chat.state is not ChatState.OPEN
    assert chat.since is not None
    assert NOW - chat.since >= timedelta(seconds=DEFAULT_GRACE_S)
    assert not any(s.chat_id == worktree.chat_id and s.status is not AgentSessionStatus.CLOSED for s in chat_sessions)


@RELAXED
@given(worktrees, presences, sessions, preflights)
def test_an_orphan_that_would_lose_work_is_reported_unsafe_never_kept_silently(
    worktree: Worktree, chat: ChatPresence, chat_sessions: list[AgentSession], preflight: Preflight | None
) -> None:
    clean = preflight is not None and preflight == Preflight()
    orphaned_verdict = reap_verdict(worktree, chat, chat_sessions, Preflight(), NOW)
    verdict = reap_verdict(worktree, chat, chat_sessions, preflight, NOW)
    if orphaned_verdict.action is ReapAction.SOFT_DELETE:  # an orphan: the preflight alone decides
        assert verdict.action is (ReapAction.SOFT_DELETE if clean else ReapAction.UNSAFE)
    else:
        assert verdict.action is ReapAction.KEEP


def test_examples_say_why() -> None:
    worktree = Worktree(
        chat_id="c1", repo_path="/r", path="/w/c1", branch="hearth/chat-c1", base_commit="0" * 40, created_at=NOW
    )
    closed = Chat(id="c1", repo_path="/r", status=ChatStatus.CLOSED, created_at=NOW, closed_at=NOW - timedelta(hours=2))
    presence = ChatPresence.of(closed, None)
    dirty = Preflight(dirty_files=("b", "a"), unapplied_changes=1)
    assert reap_verdict(worktree, presence, [], dirty, NOW).reasons == (
        "2 dirty files: a, b",
        "1 pending change not yet applied",
    )
    assert reap_verdict(worktree, presence, [], Preflight(), NOW).action is ReapAction.SOFT_DELETE
    evicted = AgentSession(
        chat_id="c1", agent="qwen", backend=BackendKind.WARM_ACP, status=AgentSessionStatus.EVICTED, last_used_at=NOW
    )
    kept = reap_verdict(worktree, presence, [evicted], Preflight(), NOW)
    assert kept.reasons == ("referenced by live or resumable agent sessions: qwen (evicted)",)
    fresh = ChatPresence.of(closed.model_copy(update={"closed_at": NOW - timedelta(minutes=10)}), None)
    assert reap_verdict(worktree, fresh, [], Preflight(), NOW).reasons == (
        "its chat is closed for 600 s, within the 3600 s grace",
    )
    gone = ChatPresence.of(None, NOW - timedelta(hours=1))
    assert reap_verdict(worktree, gone, [], None, NOW).action is ReapAction.UNSAFE
    assert ChatPresence.of(closed.model_copy(update={"status": ChatStatus.OPEN}), None).state is ChatState.OPEN


# Snapshot refs

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
chat_ids = st.text(st.characters(min_codepoint=ord("0"), max_codepoint=ord("z")), min_size=1, max_size=12).filter(
    lambda s: "/" not in s
)


@RELAXED
@given(times)
def test_snapshot_time_round_trips_to_the_second(at: datetime) -> None:
    assert parse_snapshot_time(format_snapshot_time(at)) == Success(at.replace(microsecond=0))


@RELAXED
@given(times, times)
def test_snapshot_times_sort_as_text_in_time_order(a: datetime, b: datetime) -> None:
    if a.replace(microsecond=0) < b.replace(microsecond=0):
        assert format_snapshot_time(a) < format_snapshot_time(b)


@RELAXED
@given(chat_ids, times)
def test_snapshot_refs_round_trip(chat_id: str, at: datetime) -> None:
    parsed = parse_snapshot_ref(snapshot_ref(chat_id, at))
    assert isinstance(parsed, Success)
    assert (parsed.unwrap().chat_id, parsed.unwrap().taken_at) == (chat_id, at.replace(microsecond=0))


@RELAXED
@given(st.lists(st.tuples(chat_ids, times)), st.lists(st.text(max_size=30)), st.integers(min_value=0, max_value=60))
def test_expiry_removes_exactly_the_snapshots_older_than_the_retention_and_never_unknown_refs(
    snapshots: list[tuple[str, datetime]], garbage: list[str], retention_days: int
) -> None:
    retention = timedelta(days=retention_days)
    now = datetime(2050, 1, 1, tzinfo=UTC)
    refs = [snapshot_ref(chat, at) for chat, at in snapshots]
    unknown = [ref for ref in garbage if isinstance(parse_snapshot_ref(ref), Failure)]
    expired = expired_snapshots(refs + unknown, now, retention)
    assert expired == [
        ref for ref, (_, at) in zip(refs, snapshots, strict=True) if now - at.replace(microsecond=0) > retention
    ]


def test_snapshot_examples() -> None:
    at = datetime(2026, 11, 25, 12, 30, 5, tzinfo=UTC)
    assert snapshot_ref("c1", at) == "refs/hearth/snapshots/c1/20261125T123005Z"
    refs = [snapshot_ref("c1", at), snapshot_ref("c1", at + timedelta(days=1)), snapshot_ref("c2", at), "refs/heads/x"]
    assert latest_snapshot(refs, "c1") == "refs/hearth/snapshots/c1/20261126T123005Z"
    assert latest_snapshot(refs, "c3") is None
    assert expired_snapshots(refs, at + timedelta(days=15)) == [refs[0], refs[2]]  # 14 days old is kept
    assert isinstance(parse_snapshot_time("2026112T123005Z"), Failure)  # strptime leniency is refused
    assert isinstance(parse_snapshot_ref(f"{SNAPSHOT_PREFIX}c1/yesterday"), Failure)
    assert isinstance(parse_snapshot_ref(f"{SNAPSHOT_PREFIX}a/b/20261125T123005Z"), Failure)


@RELAXED
@given(st.text(max_size=20) | times.map(format_snapshot_time))
def test_parsing_a_snapshot_time_never_raises_and_accepts_only_the_canonical_form(text: str) -> None:
    parsed = parse_snapshot_time(text)
    if isinstance(parsed, Success):
        assert format_snapshot_time(parsed.unwrap()) == text
