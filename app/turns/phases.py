"""The phases of a turn, timed into ``/metrics`` (``hearth_turn_phase_seconds``), so hearth's own cost around an
agent's work is visible per phase: prepare (the chat and its worktree), session (checking the agent session out
and recording it), handoff (the bounded history read), agent (the agent's work, its events journaled as they
come), persist (the journal writes within it), diff (the worktree into pending changes), finish (the final state
and the terminal event)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.metrics import Metrics
from core.ports.clock import Clock


class TurnPhases:
    def __init__(self, clock: Clock, metrics: Metrics) -> None:
        self._clock = clock
        self._metrics = metrics

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started = self._clock.monotonic()
        try:
            yield
        finally:
            self._metrics.observe_phase(phase, self._clock.monotonic() - started)

    def observe(self, phase: str, seconds: float) -> None:
        self._metrics.observe_phase(phase, seconds)
