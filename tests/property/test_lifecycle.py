"""Laws of eviction, the turn watchdog and directory disposal (supervision: test_supervision.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.lifecycle import (
    ESCALATION,
    DirectoryUse,
    EvictionPolicy,
    EvictionReason,
    LiveHandle,
    WatchdogPolicy,
    WatchdogStep,
    choose_evictions,
    dispose_blockers,
    may_dispose_directory,
    step_due_at,
    watchdog_step,
)

# Machines are noisy: no per-example deadline (never assert wall-clock time).
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CHATS = ["c1", "c2", "c3", "c4", "c5", "c6"]
AGENTS = ["opencode", "qwen", "claude", "gemini"]

ages = st.integers(min_value=0, max_value=4 * 3600)  # seconds since last use


@st.composite
def live_handles(draw: st.DrawFn) -> list[LiveHandle]:
    keys = draw(st.lists(st.tuples(st.sampled_from(CHATS), st.sampled_from(AGENTS)), unique=True, max_size=20))
    return [
        LiveHandle(chat_id=chat, agent=agent, last_used=NOW - timedelta(seconds=draw(ages)), busy=draw(st.booleans()))
        for chat, agent in keys
    ]


policies = st.builds(
    EvictionPolicy,
    idle_ttl_s=st.sampled_from([0.0, 60.0, 1800.0, 7200.0]),
    max_live=st.integers(min_value=0, max_value=12),
)


@RELAXED
@given(live_handles(), policies)
def test_eviction_never_picks_a_busy_handle(handles: list[LiveHandle], policy: EvictionPolicy) -> None:
    busy = {h.key for h in handles if h.busy}
    assert not busy & {e.key for e in choose_evictions(handles, NOW, policy)}


@RELAXED
@given(live_handles(), policies)
def test_at_most_the_cap_stays_live_unless_busy_handles_exceed_it(
    handles: list[LiveHandle], policy: EvictionPolicy
) -> None:
    evicted = choose_evictions(handles, NOW, policy)
    busy = sum(h.busy for h in handles)
    assert len(handles) - len(evicted) <= max(policy.max_live, busy)


@RELAXED
@given(live_handles(), policies)
def test_ttl_expired_idle_handles_are_always_evicted_for_that_reason(
    handles: list[LiveHandle], policy: EvictionPolicy
) -> None:
    reasons = {e.key: e.reason for e in choose_evictions(handles, NOW, policy)}
    for handle in handles:
        if not handle.busy and NOW - handle.last_used >= timedelta(seconds=policy.idle_ttl_s):
            assert reasons.get(handle.key) is EvictionReason.IDLE_TTL


@RELAXED
@given(live_handles(), policies)
def test_the_cap_evicts_no_more_than_needed_and_least_recently_used_first(
    handles: list[LiveHandle], policy: EvictionPolicy
) -> None:
    evicted = choose_evictions(handles, NOW, policy)
    by_cap = [e for e in evicted if e.reason is EvictionReason.LRU_CAP]
    remaining_after_ttl = len(handles) - (len(evicted) - len(by_cap))
    assert len(by_cap) <= max(0, remaining_after_ttl - policy.max_live)
    evicted_keys = {e.key for e in evicted}
    kept_idle = [h for h in handles if not h.busy and h.key not in evicted_keys]
    last_used = {h.key: h.last_used for h in handles}
    for eviction in by_cap:
        assert all(last_used[eviction.key] <= kept.last_used for kept in kept_idle)


@RELAXED
@given(live_handles(), policies)
def test_evictions_are_unique_and_ordered_least_recently_used_first_per_reason(
    handles: list[LiveHandle], policy: EvictionPolicy
) -> None:
    evicted = choose_evictions(handles, NOW, policy)
    assert len({e.key for e in evicted}) == len(evicted)
    last_used = {h.key: h.last_used for h in handles}
    for reason in EvictionReason:
        times = [last_used[e.key] for e in evicted if e.reason is reason]
        assert times == sorted(times)
    reasons = [e.reason for e in evicted]
    assert reasons == sorted(reasons, key=lambda r: r is EvictionReason.LRU_CAP)  # TTL ones come first


@RELAXED
@given(live_handles(), policies, st.randoms(use_true_random=False))
def test_eviction_does_not_depend_on_the_order_handles_are_listed(
    handles: list[LiveHandle], policy: EvictionPolicy, random: Random
) -> None:
    shuffled = list(handles)
    random.shuffle(shuffled)
    assert choose_evictions(shuffled, NOW, policy) == choose_evictions(handles, NOW, policy)


def test_defaults_are_thirty_minutes_and_ten_handles() -> None:
    policy = EvictionPolicy()
    assert (policy.idle_ttl_s, policy.max_live) == (1800, 10)
    fresh = [LiveHandle(chat_id=f"c{i}", agent="qwen", last_used=NOW - timedelta(minutes=i)) for i in range(12)]
    evicted = choose_evictions(fresh, NOW)
    assert [(e.chat_id, e.reason) for e in evicted] == [("c11", "lru_cap"), ("c10", "lru_cap")]


# The turn watchdog

watchdog_policies = st.builds(
    WatchdogPolicy,
    silence_s=st.floats(min_value=1, max_value=600),
    escalation_s=st.floats(min_value=1, max_value=120),
)


@RELAXED
@given(
    watchdog_policies,
    st.floats(min_value=0, max_value=1e6),
    st.lists(st.floats(min_value=0, max_value=2000), min_size=1, max_size=30),
)
def test_watchdog_escalates_probe_cancel_restart_in_order_never_early(
    policy: WatchdogPolicy, last_event_at: float, gaps: list[float]
) -> None:
    taken: list[WatchdogStep] = []
    now = last_event_at
    for gap in gaps:
        now += gap
        step = watchdog_step(last_event_at, now, len(taken), policy)
        if step is not None:
            assert now >= step_due_at(len(taken), last_event_at, policy) >= last_event_at + policy.silence_s
            taken.append(step)
    assert tuple(taken) == ESCALATION[: len(taken)]


@RELAXED
@given(watchdog_policies, st.floats(min_value=0, max_value=1e6), st.integers(min_value=0, max_value=3))
def test_a_due_step_stays_due_and_nothing_follows_the_last(
    policy: WatchdogPolicy, last_event_at: float, steps_taken: int
) -> None:
    due = step_due_at(steps_taken, last_event_at, policy)
    later = watchdog_step(last_event_at, due + 1000, steps_taken, policy)
    if steps_taken < len(ESCALATION):
        assert watchdog_step(last_event_at, due, steps_taken, policy) is ESCALATION[steps_taken]
        assert later is ESCALATION[steps_taken]
        assert watchdog_step(last_event_at, last_event_at + policy.silence_s * 0.99, 0, policy) is None
    else:
        assert later is None


# Directory disposal

counts = st.integers(min_value=0, max_value=3)


@RELAXED
@given(counts, counts, counts)
def test_a_directory_is_disposable_only_when_nothing_uses_it(turns: int, streams: int, busy: int) -> None:
    use = DirectoryUse(turns_in_flight=turns, open_event_streams=streams, busy_sessions=busy)
    assert may_dispose_directory(use) == (turns == streams == busy == 0)
    assert len(dispose_blockers(use)) == sum(1 for n in (turns, streams, busy) if n > 0)


def test_dispose_blockers_say_what_holds_the_directory() -> None:
    use = DirectoryUse(turns_in_flight=1, open_event_streams=2)
    assert dispose_blockers(use) == ("1 turn in flight", "2 open event streams")
