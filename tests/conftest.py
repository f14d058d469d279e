"""Shared test set-up. Each area keeps its fixtures in its own module under tests/plugins/."""

from __future__ import annotations

from pathlib import Path

import pytest

# Plugins import each other (environment first); register them all for assertion rewriting up front.
pytest.register_assert_rewrite("tests.plugins")

pytest_plugins = sorted(
    f"tests.plugins.{path.stem}" for path in (Path(__file__).parent / "plugins").glob("*.py") if path.stem != "__init__"
)
