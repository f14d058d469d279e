"""Laws of the usage ledger (``core.usage``): one pricing for every backend, unknown never shown as 0."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from core.agents import ModelPrice
from core.events import UsageReport
from core.model import Usage
from core.usage import combine, priced, tally

tokens = st.integers(min_value=0, max_value=2_000_000)
dollars = st.floats(min_value=0, max_value=1_000, allow_nan=False)
prices = st.builds(ModelPrice, input=dollars, output=dollars, cache_read=dollars, cache_write=dollars)


def _report(input_tokens: int, output_tokens: int, reasoning_tokens: int, cost: float = 0.0) -> UsageReport:
    return UsageReport(
        session_id="s",
        turn_id="t",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        reasoning_tokens=reasoning_tokens,
        cost_usd=cost,
    )


token_reports = st.lists(st.builds(_report, tokens, tokens, tokens), max_size=6)
costed_reports = st.lists(
    st.builds(_report, tokens, tokens, tokens, st.floats(min_value=1e-6, max_value=10)), min_size=1, max_size=6
)
usages = st.none() | st.builds(Usage, input_tokens=tokens, output_tokens=tokens, cost_usd=st.none() | dollars)


@given(token_reports, prices)
def test_tokens_are_priced_once_from_their_sums(reports: list[UsageReport], price: ModelPrice) -> None:
    usage = priced(tally(reports), price)
    if not reports:
        assert usage is None  # nothing reported stays unknown
        return
    assert usage is not None
    inputs = sum(r.input_tokens for r in reports)
    outputs = sum(r.output_tokens + r.reasoning_tokens for r in reports)
    assert usage.cost_usd is not None
    assert math.isclose(usage.cost_usd, (inputs * price.input + outputs * price.output) / 1e6, rel_tol=1e-9)
    per_report = sum(price.cost(r.input_tokens, r.output_tokens, r.reasoning_tokens) for r in reports)
    assert math.isclose(usage.cost_usd, per_report, rel_tol=1e-9, abs_tol=1e-12)  # splitting a turn changes nothing


@given(token_reports)
def test_tokens_without_a_price_have_an_unknown_cost(reports: list[UsageReport]) -> None:
    usage = priced(tally(reports), None)
    assert (usage is None) == (not reports)
    if usage is not None:
        assert usage.cost_usd is None
        assert usage.input_tokens == sum(r.input_tokens for r in reports)


@given(token_reports, costed_reports, st.none() | prices)
def test_a_cost_the_agent_states_is_kept(
    plain: list[UsageReport], costed: list[UsageReport], price: ModelPrice | None
) -> None:
    usage = priced(tally([*plain, *costed]), price)
    assert usage is not None
    assert usage.cost_usd is not None
    assert math.isclose(usage.cost_usd, sum(r.cost_usd for r in costed), rel_tol=1e-9)


@given(usages, usages, usages)
def test_combining_is_a_sum_where_unknown_adds_nothing(a: Usage | None, b: Usage | None, c: Usage | None) -> None:
    assert combine(a, None) == a == combine(None, a)
    left, right = combine(combine(a, b), c), combine(a, combine(b, c))
    assert (left is None) == (right is None) == (a is None and b is None and c is None)
    if left is not None and right is not None:
        assert left.input_tokens == right.input_tokens == sum(u.input_tokens for u in (a, b, c) if u is not None)
        known = [u.cost_usd for u in (a, b, c) if u is not None and u.cost_usd is not None]
        assert (left.cost_usd is None) == (right.cost_usd is None) == (not known)
        if known:
            assert math.isclose(left.cost_usd or 0, sum(known), rel_tol=1e-9, abs_tol=1e-9)
