"""The wall and monotonic clocks, read only here and handed to everything else (core never reads time)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SystemClock:
    """The real clock; tests use it too (durations are never asserted, only orderings)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
