"""Time, handed in: core never reads a clock; the shell reads it here."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware wall time (UTC)."""
        ...

    def monotonic(self) -> float: ...
