"""Storing a turn's end through a store fault: retried with growing pauses, within a bound, then given up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.turns.settle import StoreRetry, retry_store, store_fault
from core.ports.store import StoreUnavailable

POLICY = StoreRetry(first_s=1.0, max_s=4.0, give_up_after_s=20.0)


class FakeTime:
    """A clock whose monotonic time moves only when the retry sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


async def test_a_store_fault_is_retried_with_growing_pauses_until_the_store_answers() -> None:
    time = FakeTime()
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise StoreUnavailable("database is locked")
        return "finished"

    assert await retry_store("finishing turn t1", attempt, time, POLICY, time.sleep) == "finished"
    assert time.sleeps == [1.0, 2.0, 4.0, 4.0]


async def test_the_retry_gives_up_past_its_bound_with_the_store_error(caplog: pytest.LogCaptureFixture) -> None:
    time = FakeTime()

    async def attempt() -> None:
        raise StoreUnavailable("connection refused")

    with pytest.raises(StoreUnavailable, match="connection refused"):
        await retry_store("finishing turn t2", attempt, time, POLICY, time.sleep)
    assert sum(time.sleeps) <= POLICY.give_up_after_s
    assert "finishing turn t2 failed, the store is unavailable (connection refused); retrying in 1.0 s" in caplog.text
    assert "the store is still unavailable after" in caplog.text
    assert "giving up" in caplog.text


async def test_other_errors_are_not_retried() -> None:
    time = FakeTime()

    async def attempt() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await retry_store("finishing turn t3", attempt, time, POLICY, time.sleep)
    assert time.sleeps == []


def test_a_store_fault_is_found_inside_a_task_groups_exception_group() -> None:
    fault = StoreUnavailable("disk I/O error")
    assert store_fault(ExceptionGroup("turn", [ValueError("x"), ExceptionGroup("inner", [fault])])) is fault
    assert store_fault(ExceptionGroup("turn", [ValueError("x")])) is None
    assert store_fault(RuntimeError("other")) is None
