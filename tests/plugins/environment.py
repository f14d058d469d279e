"""What a test may assume about the machine, and what happens when it is missing.

With CI=true a missing agent or database is a failure, never a skip: CI must prove the real thing.
Locally a developer without them gets a skip that names the command to fix it.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

PG_DSN = os.environ.get("HEARTH_TEST_PG_DSN", "postgresql://root@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(why: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{why} (CI=true: required, not skipped)", pytrace=False)
    pytest.skip(why)
