"""How every benchmark prints a set of measurements: min / median / max and how many, never a median alone."""

from __future__ import annotations

import statistics


def spread(values: list[float], unit: str = "s", scale: float = 1.0, digits: int = 3) -> str:
    """``min 0.812 / median 0.900 / max 1.200 s (n=3)``; ``scale`` converts (1000 for seconds shown as ms)."""
    if not values:
        return "no samples"
    low, mid, high = (v * scale for v in (min(values), statistics.median(values), max(values)))
    return f"min {low:.{digits}f} / median {mid:.{digits}f} / max {high:.{digits}f} {unit} (n={len(values)})"
