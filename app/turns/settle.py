"""Storing a turn's end through a store fault: retried with backoff until the store is back, within a bound.

A turn that ends while the store is out of reach (``StoreUnavailable``: the SQLite file unwritable or locked,
PostgreSQL refusing connections) would otherwise stay ``running`` for good, and its chat's queue with it. Its
terminal event and ``finish_task`` are retried, first after ``first_s`` and then twice as long each time up to
``max_s``, for up to ``give_up_after_s``; every failure is logged with what failed and when the next try comes.
The turn stays in the ``TurnRegistry`` meanwhile, so its chat is not claimed twice. After giving up the error
propagates: the task stays ``running`` in the store until startup recovery fails it at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from core.ports.clock import Clock
from core.ports.store import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class StoreRetry:
    first_s: float = 0.5
    max_s: float = 5.0  # a healed store is noticed within this
    give_up_after_s: float = 300.0  # past this an operator is needed; startup recovery cleans up


NO_RETRY = StoreRetry(give_up_after_s=0.0)  # shutting down: the next start's recovery fails the turn instead


def store_fault(error: BaseException) -> StoreUnavailable | None:
    """The ``StoreUnavailable`` behind ``error``, also from inside a TaskGroup's exception group."""
    if isinstance(error, StoreUnavailable):
        return error
    if isinstance(error, BaseExceptionGroup):
        return next((found for inner in error.exceptions if (found := store_fault(inner)) is not None), None)
    return None


async def retry_store(
    what: str, attempt: Callable[[], Awaitable[T]], clock: Clock, policy: StoreRetry, sleep: Sleep = asyncio.sleep
) -> T:
    """``attempt()``'s result, trying again while it raises ``StoreUnavailable`` (other errors propagate at once).

    ``attempt`` must be safe to repeat: each store call is one transaction, so a failed one changed nothing.
    """
    started = clock.monotonic()
    delay = policy.first_s
    failures = 0
    while True:
        try:
            return await attempt()
        except StoreUnavailable as error:
            failures += 1
            waited = clock.monotonic() - started
            if waited + delay > policy.give_up_after_s:
                if policy.give_up_after_s > 0:
                    # the dispatcher logs the traceback with what happens to the turn next
                    log.error("%s: the store is still unavailable after %.0f s (%s); giving up", what, waited, error)  # noqa: TRY400
                raise
            log.warning(
                "%s failed, the store is unavailable (%s); retrying in %.1f s (failure %d, giving up after %.0f s)",
                what,
                error,
                delay,
                failures,
                policy.give_up_after_s,
            )
        await sleep(delay)
        delay = min(delay * 2, policy.max_s)
