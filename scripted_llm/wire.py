"""What the protocol modules share: the event sink they stream into and small JSON helpers."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any, Protocol


class Sink(Protocol):
    """One open SSE response: ``send`` writes and flushes one event; ``pause`` waits between events."""

    def send(self, data: bytes) -> None: ...
    def pause(self, seconds: float) -> None: ...


def as_dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def short_id(prefix: str, hex_chars: int = 8) -> str:
    return prefix + secrets.token_hex((hex_chars + 1) // 2)[:hex_chars]


def split_evenly(text: str, parts: int) -> list[str]:
    """Character-based split (for tool arguments, which need not fall on word boundaries)."""
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]
