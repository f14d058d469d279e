"""Tolerant readers for untyped wire payloads (OpenCode SSE events, ACP frames).

Agents add and drop fields between versions; a mapper must never crash on a missing or mistyped field,
it just sees "absent". These helpers turn ``Any`` into typed values or ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Raw = Mapping[str, Any]
EMPTY: Raw = {}


def obj(data: Raw | None, key: str) -> Raw:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, Mapping) else EMPTY


def text(data: Raw | None, key: str) -> str | None:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, str) else None


def number(data: Raw | None, key: str) -> float:
    value = data.get(key) if data is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def integer(data: Raw | None, key: str) -> int:
    return int(number(data, key))


def items(data: Raw | None, key: str) -> list[Any]:
    value = data.get(key) if data is not None else None
    return list(value) if isinstance(value, list | tuple) else []


def plain_dict(value: Any) -> dict[str, Any] | None:
    """A JSON object as a plain dict (for event fields typed ``dict[str, Any]``), else None."""
    return dict(value) if isinstance(value, Mapping) else None
