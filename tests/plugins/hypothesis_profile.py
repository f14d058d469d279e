"""One hypothesis profile for the suite: shared CI machines are noisy, so no per-example deadline."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("hearth", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# CI: derandomized, so a red run is reproducible from its log; locally hypothesis explores new examples.
settings.register_profile("hearth-ci", parent=settings.get_profile("hearth"), derandomize=True, print_blob=True)
settings.load_profile("hearth-ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "hearth")
