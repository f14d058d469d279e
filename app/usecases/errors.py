"""The exceptions use cases raise: a refusal carries the ``DomainError`` that says why, and changed nothing.

Core and adapters return ``Result`` values; a use case unwraps them with ``ok`` so its code reads straight
through, and its caller (an HTTP controller, the CLI) renders the one exception family: the API maps
``error.kind`` to problem+json in ``app.api.problems``. Anything else raised is a bug or broken infrastructure;
``StoreUnavailable`` (re-exported here for the edge, which may not import the store's port) is the store being out
of reach for a while, which the API answers with 503 and Retry-After.
"""

from __future__ import annotations

from typing import TypeVar

from returns.pipeline import is_successful
from returns.result import Result

from core.changes import WorktreeRisk
from core.errors import Conflict, DomainError
from core.ports.store import StoreUnavailable

__all__ = ["Refused", "ShuttingDown", "StoreUnavailable", "WorkAtRisk", "ok"]

T = TypeVar("T")


class Refused(Exception):
    """The request was refused; ``error`` says why and what to do."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.detail)
        self.error = error


class WorkAtRisk(Refused):
    """Closing or deleting would lose work; ``risk`` says what."""

    def __init__(self, detail: str, risk: WorktreeRisk) -> None:
        super().__init__(Conflict(detail=detail, field="worktree"))
        self.risk = risk


class ShuttingDown(Refused):
    """hearth is stopping and takes no new work (a conflict whose detail says to submit again after the restart)."""

    def __init__(self) -> None:
        super().__init__(Conflict(detail="hearth is shutting down; submit the turn again after it restarts"))


def ok(result: Result[T, DomainError]) -> T:
    """The value, or ``Refused`` with the error."""
    if not is_successful(result):
        raise Refused(result.failure())
    return result.unwrap()
