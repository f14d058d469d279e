"""Laws of recycling a warm agent process that keeps the memory of sessions hearth let go of."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.lifecycle import MIB, ProcessLoad, RecyclePolicy, RecycleStep, recycle_step

counts = st.integers(min_value=0, max_value=50)
memory = st.integers(min_value=0, max_value=64 * 1024 * MIB)
loads = st.builds(ProcessLoad, open=counts, busy=counts, detached=counts, rss_bytes=memory, baseline_bytes=memory)
policies = st.builds(RecyclePolicy, max_detached_bytes=st.integers(min_value=0, max_value=4096 * MIB))


@given(loads, policies)
def test_a_busy_process_or_one_without_detached_sessions_is_kept(load: ProcessLoad, policy: RecyclePolicy) -> None:
    if load.busy or not load.detached:
        assert recycle_step(load, policy) is RecycleStep.KEEP


@given(loads, policies)
def test_stop_only_with_nothing_open_and_drain_only_with_something_open(
    load: ProcessLoad, policy: RecyclePolicy
) -> None:
    step = recycle_step(load, policy)
    if step is RecycleStep.STOP:
        assert load.open == 0
    if step is RecycleStep.DRAIN:
        assert load.open > 0
    if step is not RecycleStep.KEEP:
        assert load.detached_bytes() >= policy.max_detached_bytes


@given(loads, policies, st.integers(min_value=1, max_value=10))
def test_more_detached_sessions_never_turn_a_recycle_into_keep(
    load: ProcessLoad, policy: RecyclePolicy, more: int
) -> None:
    """With the same memory growth, letting go of more sessions only makes recycling more due."""
    grown = load.model_copy(update={"detached": load.detached + more})
    if recycle_step(load, policy) is not RecycleStep.KEEP:
        assert recycle_step(grown, policy) is not RecycleStep.KEEP


@given(counts, counts, memory)
def test_detached_memory_is_their_share_of_the_growth(open_: int, detached: int, growth: int) -> None:
    load = ProcessLoad(open=open_, detached=detached, rss_bytes=100 * MIB + growth, baseline_bytes=100 * MIB)
    held = open_ + detached
    expected = growth * detached / held if held else 0.0
    assert abs(load.detached_bytes() - expected) <= 1e-6 * max(1.0, expected)


def test_measured_claude_sessions_are_recycled_and_qwen_sessions_are_not() -> None:
    """The ADR 0004 numbers against the default budget: qwen +9 MiB a session, claude-code-acp +228 MiB."""
    qwen = ProcessLoad(open=1, detached=8, rss_bytes=(235 + 9 * 9) * MIB, baseline_bytes=235 * MIB)
    claude = ProcessLoad(open=1, detached=3, rss_bytes=(314 + 228 * 4) * MIB, baseline_bytes=314 * MIB)
    assert recycle_step(qwen) is RecycleStep.KEEP
    assert recycle_step(claude) is RecycleStep.DRAIN
    assert recycle_step(claude.model_copy(update={"open": 0, "detached": 4})) is RecycleStep.STOP
