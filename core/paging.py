"""Cursor paging of a chat's turns and events: reading the query parameters and deciding the next page's cursor.

A page is asked for with ``after`` (forward: the oldest ``limit`` items after that cursor), ``before`` (back: the
newest ``limit`` before it), or neither (the newest ``limit``); it always lists oldest first. ``next`` is the
cursor of the following page in the same direction, or None at the end. Turn cursors are turn ids, event cursors
the journal's ``seq``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from returns.result import Failure, Result, Success

from core.errors import InvalidInput

C = TypeVar("C")
T = TypeVar("T")

MAX_TURNS_PAGE = 500
MAX_EVENTS_PAGE = 1000
DEFAULT_PAGE = 100


def read_limit(raw: str | None, maximum: int) -> Result[int, InvalidInput]:
    if raw is None:
        return Success(min(DEFAULT_PAGE, maximum))
    if not raw.strip().isdecimal() or not 1 <= int(raw) <= maximum:
        return Failure(
            InvalidInput(detail=f"limit must be a whole number from 1 to {maximum}, got {raw!r}", field="limit")
        )
    return Success(int(raw))


def read_seq(raw: str | None, field: str) -> Result[int | None, InvalidInput]:
    """An event cursor: a journal ``seq`` (a positive whole number, as an SSE ``id:`` carries it)."""
    if raw is None:
        return Success(None)
    if not raw.strip().isdecimal() or int(raw) < 1 or int(raw) >= 2**62:
        detail = f"{field} must be an event's seq (a whole number of 1 or more), got {raw!r}"
        return Failure(InvalidInput(detail=detail, field=field))
    return Success(int(raw))


def page_of(fetched: Sequence[T], limit: int, forward: bool) -> tuple[list[T], bool]:
    """A page from ``limit + 1`` fetched items (oldest first): the page, and whether more lie beyond it in the
    direction of travel (forward: after its newest item; back: before its oldest)."""
    more = len(fetched) > limit
    if not more:
        return list(fetched), False
    return (list(fetched[:limit]) if forward else list(fetched[len(fetched) - limit :])), True


def next_cursor(page: Sequence[C], more: bool, forward: bool) -> C | None:
    """The cursor of the next page in the direction of travel, or None when this page is the last."""
    if not more or not page:
        return None
    return page[-1] if forward else page[0]
