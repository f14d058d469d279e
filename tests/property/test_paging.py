"""Laws of cursor paging: following ``next`` from any start visits every item exactly once, in order; bad
parameters are refused naming the field."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from core.paging import next_cursor, page_of, read_limit, read_seq

RELAXED = settings(deadline=None)


def _fetch(items: list[int], after: int | None, before: int | None, limit: int) -> list[int]:
    """What the store returns for a cursor: ``limit`` items strictly beyond it, oldest first."""
    if after is not None:
        return [i for i in items if i > after][:limit]
    inside = [i for i in items if before is None or i < before]
    return inside[max(0, len(inside) - limit) :]


@RELAXED
@given(st.integers(min_value=0, max_value=300), st.integers(min_value=1, max_value=40), st.booleans())
def test_following_next_visits_every_item_once_in_order(count: int, limit: int, forward: bool) -> None:
    items = list(range(1, count + 1))
    seen: list[list[int]] = []
    cursor: int | None = 0 if forward else None
    for _ in range(count + 2):
        fetched = _fetch(items, cursor if forward else None, None if forward else cursor, limit + 1)
        page, more = page_of(fetched, limit, forward)
        assert len(page) <= limit
        assert page == sorted(page)
        seen.append(page)
        cursor = next_cursor(page, more, forward)
        if cursor is None:
            break
    walked = [i for page in (seen if forward else reversed(seen)) for i in page]
    assert walked == items
    assert all(seen[:-1])  # never an empty page before the end


@given(st.text(max_size=8) | st.none(), st.integers(min_value=1, max_value=1000))
def test_a_limit_is_a_whole_number_within_the_maximum(raw: str | None, maximum: int) -> None:
    read = read_limit(raw, maximum)
    if isinstance(read, Success):
        assert 1 <= read.unwrap() <= maximum
    else:
        assert isinstance(read, Failure)
        assert read.failure().field == "limit"
        assert str(maximum) in read.failure().detail


@given(st.text(max_size=8) | st.none(), st.sampled_from(["after", "before"]))
def test_an_event_cursor_is_a_positive_seq(raw: str | None, field: str) -> None:
    read = read_seq(raw, field)
    if raw is None:
        assert read == Success(None)
    elif isinstance(read, Success):
        assert read.unwrap() == int(raw)
        assert read.unwrap() >= 1
    else:
        assert read.failure().field == field
