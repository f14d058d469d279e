"""Laws of ``core.admission.refusal``: the one place a node decides whether one more turn may start."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.admission import AdmissionView, Refusal, refusal

views = st.builds(
    AdmissionView,
    busy_handles=st.integers(min_value=0, max_value=10_000),
    max_busy_handles=st.integers(min_value=0, max_value=10_000),
    stopping=st.booleans(),
)


@given(views)
def test_admits_exactly_while_a_handle_is_free_and_the_node_runs(view: AdmissionView) -> None:
    admitted = refusal(view) is None
    assert admitted == (not view.stopping and view.busy_handles < view.max_busy_handles)


@given(views)
def test_a_stopping_node_says_so_before_anything_else(view: AdmissionView) -> None:
    if view.stopping:
        assert refusal(view) is Refusal.STOPPING


@given(st.integers(min_value=1, max_value=10_000))
def test_admitting_one_more_never_exceeds_the_bound(limit: int) -> None:
    busy = 0
    while refusal(AdmissionView(busy_handles=busy, max_busy_handles=limit)) is None:
        busy += 1
    assert busy == limit
