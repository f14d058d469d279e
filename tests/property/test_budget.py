"""Laws of the memory budget (core.lifecycle.budget): busy handles and the floor stay, background work defers,
the chosen set frees the overshoot whenever evicting everything evictable could, and the plan is deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.lifecycle.budget import (
    BudgetEviction,
    BudgetPolicy,
    BudgetReason,
    ChargedHandle,
    ProcessCharge,
    admission_wait,
    admits,
    forced_notice,
    idle_with_background,
    plan_budget,
    total_bytes,
)

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CHATS = [f"c{i}" for i in range(8)]
AGENTS = ["opencode", "qwen", "claude"]
MIB = 1024 * 1024


@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[ChargedHandle], list[ProcessCharge]]:
    keys = draw(st.lists(st.tuples(st.sampled_from(CHATS), st.sampled_from(AGENTS)), unique=True, max_size=16))
    handles = [
        ChargedHandle(
            chat_id=chat,
            agent=agent,
            process=f"{agent}:{draw(st.integers(1, 2))}",
            own_bytes=draw(st.integers(0, 300)) * MIB,
            last_used=NOW - timedelta(seconds=draw(st.integers(0, 7200))),
            busy=draw(st.booleans()),
            background=("42 sleep 30",) if draw(st.integers(0, 4)) == 0 else (),
        )
        for chat, agent in keys
    ]
    names = sorted({h.process for h in handles} | {"orphan:1"})
    processes = [ProcessCharge(process=name, shared_bytes=draw(st.integers(0, 900)) * MIB) for name in names]
    return handles, processes


policies = st.builds(
    BudgetPolicy,
    budget_bytes=st.integers(0, 4096).map(lambda mib: mib * MIB),
    floor=st.integers(0, 3),
    background_grace_s=st.sampled_from([0.0, 60.0, 3600.0]),
)


@RELAXED
@given(fleets(), policies)
def test_never_evicts_a_busy_handle_nor_the_floor(
    fleet: tuple[list[ChargedHandle], list[ProcessCharge]], policy: BudgetPolicy
) -> None:
    handles, processes = fleet
    chosen = {e.key for e in plan_budget(handles, processes, NOW, policy).evictions}
    assert not chosen & {h.key for h in handles if h.busy}
    idle = sorted((h for h in handles if not h.busy), key=lambda h: (h.last_used, h.key), reverse=True)
    assert not chosen & {h.key for h in idle[: policy.floor]}


@RELAXED
@given(fleets(), policies)
def test_frees_the_overshoot_whenever_that_is_possible(
    fleet: tuple[list[ChargedHandle], list[ProcessCharge]], policy: BudgetPolicy
) -> None:
    handles, processes = fleet
    plan = plan_budget(handles, processes, NOW, policy)
    chosen = {e.key for e in plan.evictions}
    idle = sorted((h for h in handles if not h.busy), key=lambda h: (h.last_used, h.key), reverse=True)
    evictable = [h for h in idle[policy.floor :] if h.key not in plan.deferred]
    # the most that can be freed: every evictable handle gone, every process they empty recycled
    left = {h.process for h in handles if h not in evictable}
    used = {h.process for h in handles}
    most = sum(h.own_bytes for h in evictable) + sum(
        p.shared_bytes for p in processes if p.process in used and p.process not in left
    )
    if plan.overshoot_bytes and most >= plan.overshoot_bytes:
        assert plan.frees_bytes >= plan.overshoot_bytes
    assert plan.frees_bytes <= most
    if plan.overshoot_bytes == 0:
        assert not chosen
    assert plan.total_bytes == total_bytes(handles, processes)
    # a recycled process is one the evictions emptied
    for name in plan.recycle:
        assert all(h.key in chosen for h in handles if h.process == name)


@RELAXED
@given(fleets(), policies)
def test_background_work_defers_until_its_grace_is_over(
    fleet: tuple[list[ChargedHandle], list[ProcessCharge]], policy: BudgetPolicy
) -> None:
    handles, processes = fleet
    plan = plan_budget(handles, processes, NOW, policy)
    young = set(idle_with_background(handles, NOW, policy))
    assert not young & {e.key for e in plan.evictions}
    for eviction in plan.evictions:
        handle = next(h for h in handles if h.key == eviction.key)
        assert (eviction.reason is BudgetReason.FORCED) == bool(handle.background)
        assert eviction.stops == handle.background


@RELAXED
@given(fleets(), policies, st.integers(0, 2**32))
def test_deterministic_for_equal_inputs(
    fleet: tuple[list[ChargedHandle], list[ProcessCharge]], policy: BudgetPolicy, seed: int
) -> None:
    handles, processes = fleet
    shuffled_handles, shuffled_processes = list(handles), list(processes)
    Random(seed).shuffle(shuffled_handles)
    Random(seed).shuffle(shuffled_processes)
    assert plan_budget(handles, processes, NOW, policy) == plan_budget(
        shuffled_handles, shuffled_processes, NOW, policy
    )


def test_the_costliest_idle_handle_goes_first() -> None:
    handles = [
        ChargedHandle(chat_id="a", agent="opencode", process="oc", own_bytes=50 * MIB, last_used=NOW),
        ChargedHandle(chat_id="b", agent="qwen", process="qwen", last_used=NOW - timedelta(seconds=60)),
        ChargedHandle(chat_id="c", agent="claude", process="claude", last_used=NOW - timedelta(seconds=30)),
        ChargedHandle(chat_id="d", agent="claude", process="claude2", last_used=NOW, busy=True),
    ]
    processes = [
        ProcessCharge(process="oc", shared_bytes=600 * MIB),
        ProcessCharge(process="qwen", shared_bytes=270 * MIB),
        ProcessCharge(process="claude", shared_bytes=450 * MIB),
        ProcessCharge(process="claude2", shared_bytes=450 * MIB),
    ]
    policy = BudgetPolicy(budget_bytes=1500 * MIB, floor=1)
    plan = plan_budget(handles, processes, NOW, policy)
    assert [e.key for e in plan.evictions] == [("c", "claude")]  # the floor keeps "a", the busy "d" stays
    assert plan.recycle == ("claude",)
    assert plan.frees_bytes == 450 * MIB


def test_a_handle_whose_eviction_frees_nothing_stays() -> None:
    handles = [
        ChargedHandle(chat_id="a", agent="qwen", process="qwen", last_used=NOW - timedelta(seconds=600)),
        ChargedHandle(chat_id="b", agent="qwen", process="qwen", last_used=NOW, busy=True),
        ChargedHandle(chat_id="c", agent="qwen", process="qwen", last_used=NOW),
    ]
    plan = plan_budget(
        handles,
        [ProcessCharge(process="qwen", shared_bytes=900 * MIB)],
        NOW,
        BudgetPolicy(budget_bytes=100 * MIB, floor=0),
    )
    assert plan.evictions == ()  # the busy handle keeps the shared process alive: nothing would be freed
    assert plan.overshoot_bytes == 800 * MIB


def test_admission() -> None:
    policy = BudgetPolicy(budget_bytes=1000 * MIB)
    assert admits(0, 2000 * MIB, policy)
    assert admits(600 * MIB, 400 * MIB, policy)
    assert not admits(700 * MIB, 400 * MIB, policy)
    assert admits(10_000 * MIB, 400 * MIB, BudgetPolicy(budget_bytes=0))


@given(
    st.lists(
        st.tuples(st.integers(1, 4_000_000), st.text(max_size=40)),
        max_size=6,
    )
)
def test_a_forced_eviction_journals_every_process_it_stopped(work: list[tuple[int, str]]) -> None:
    entries = tuple(f"{pid} {command}" for pid, command in work)
    eviction = BudgetEviction(chat_id="c", agent="qwen", reason=BudgetReason.FORCED, stops=entries)
    notice = forced_notice(eviction, entries, turn_id="t", session_id="s", grace_s=60)
    assert [(p.pid, p.command) for p in notice.processes] == work
    assert (notice.turn_id, notice.agent, notice.type) == ("t", "qwen", "background_stopped")
    assert "60 s" in notice.reason


@given(st.integers(0, 8192 * MIB), st.integers(1, 1024 * MIB), st.integers(1, 4096))
def test_a_waiting_turn_says_what_it_needs_and_what_is_free(held: int, expected: int, budget_mib: int) -> None:
    policy = BudgetPolicy(budget_bytes=budget_mib * MIB)
    wait = admission_wait(held, expected, policy, turn_id="t", agent="claude")
    assert wait.free_bytes == max(0, policy.budget_bytes - held)
    assert wait.needs_bytes == expected
    assert wait.reason.startswith(f"memory budget: a new claude session needs {-(-expected // MIB)} MiB, ")
    assert f"{wait.free_bytes // MIB} MiB free of {budget_mib} MiB" in wait.reason


def test_a_forced_eviction_names_a_session_busy_at_its_agent_in_its_reason() -> None:
    busy = "session ses_1 still busy at opencode"
    eviction = BudgetEviction(chat_id="c", agent="opencode", reason=BudgetReason.FORCED, stops=("7 sleep 9", busy))
    notice = forced_notice(eviction, eviction.stops, turn_id="t", session_id="ses_1", grace_s=60)
    assert [(p.pid, p.command) for p in notice.processes] == [(7, "sleep 9")]
    assert notice.reason.endswith(f"; ended: {busy}")
