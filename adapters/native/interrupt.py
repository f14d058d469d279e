"""Cancelling a native turn the way ``asyncio.timeout`` cuts an await short.

While the turn awaits the network inside ``armed()``, ``request()`` cancels the task running the turn, and
``armed()`` swallows exactly that one cancellation (``uncancel``) and raises ``Interrupted`` instead, so a
cancellation from anywhere else still propagates. While the turn is handing an event to its consumer (never
inside ``armed()``), ``request()`` only sets a flag the turn checks when it resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any


class Interrupted(Exception):
    """The running turn was cancelled on request."""


class Interrupt:
    def __init__(self) -> None:
        self.requested = False
        self.fired = False
        self._armed: asyncio.Task[Any] | None = None

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Around an await that ``request()`` may cut short (never around a ``yield``)."""
        if self.requested:
            raise Interrupted
        self._armed = asyncio.current_task()
        try:
            yield
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.fired and task is not None and task.uncancel() == 0:
                raise Interrupted from None
            raise
        finally:
            self._armed = None

    def was_requested(self) -> bool:
        return self.requested

    def request(self) -> None:
        self.requested = True
        if self._armed is not None and not self.fired:
            self.fired = True
            self._armed.cancel()
