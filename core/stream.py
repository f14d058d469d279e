"""Coalescing of streamed text: fewer, larger deltas for delivery and storage, same text, same order.

Backends emit a delta per token or so; storing and fanning out each one costs a row and a frame.
``push`` merges consecutive text (or reasoning) deltas of one part of one turn arriving within a window
(about 33 ms, one display frame). A delta of another part, another kind or another turn, and any
non-delta event (tool call, terminal) first flushes what is held, so order is never changed and
nothing is merged across parts, turns or a final event. A usage report, which nobody watches arrive and which an
agent sends just before its turn ends, waits behind what is held (or is held itself) within the same window: the
turn's end then stores it with the terminal event in one write instead of a write of its own. Time is a parameter
(monotonic seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.events import AgentEvent, ReasoningDelta, TextDelta, UsageReport

DEFAULT_WINDOW_S = 0.033

Delta = TextDelta | ReasoningDelta


@dataclass(frozen=True)
class Coalescer:
    window_s: float = DEFAULT_WINDOW_S
    held: Delta | None = None
    held_since: float = 0.0  # when the first event now held arrived
    trailing: tuple[UsageReport, ...] = ()  # usage reports held after ``held``, in order

    def deadline(self) -> float | None:
        """When what is held must be flushed (call ``flush_due`` then); None when nothing is held."""
        return None if self.held is None and not self.trailing else self.held_since + self.window_s


def _same_run(a: Delta, b: Delta) -> bool:
    return type(a) is type(b) and (a.session_id, a.turn_id, a.part_id) == (b.session_id, b.turn_id, b.part_id)


def push(state: Coalescer, event: AgentEvent, now: float) -> tuple[Coalescer, list[AgentEvent]]:
    """Feed one event; returns the events ready for delivery, in order."""
    if isinstance(event, TextDelta | ReasoningDelta):
        if event.text == "":
            return state, []
        held = state.held
        mergeable = held is not None and not state.trailing and _same_run(held, event)
        if held is not None and mergeable and now - state.held_since < state.window_s:
            merged = held.model_copy(update={"text": held.text + event.text})
            return Coalescer(state.window_s, merged, state.held_since), []
        _, ready = flush(state)
        return Coalescer(state.window_s, event, now), ready
    if isinstance(event, UsageReport):
        if state.held is None and not state.trailing:
            return Coalescer(state.window_s, None, now, (event,)), []
        if now - state.held_since < state.window_s:
            return Coalescer(state.window_s, state.held, state.held_since, (*state.trailing, event)), []
        _, ready = flush(state)
        return Coalescer(state.window_s, None, now, (event,)), ready
    flushed, ready = flush(state)
    return flushed, [*ready, event]


def flush_due(state: Coalescer, now: float) -> tuple[Coalescer, list[AgentEvent]]:
    """Flush the held delta if its window has passed (for a timer in the shell)."""
    deadline = state.deadline()
    if deadline is not None and now >= deadline:
        return flush(state)
    return state, []


def flush(state: Coalescer) -> tuple[Coalescer, list[AgentEvent]]:
    """Release whatever is held (end of stream, or before something that must not wait)."""
    if state.held is None and not state.trailing:
        return state, []
    held: list[AgentEvent] = [] if state.held is None else [state.held]
    return Coalescer(state.window_s), [*held, *state.trailing]


def coalesce_all(timed: list[tuple[float, AgentEvent]], window_s: float = DEFAULT_WINDOW_S) -> list[AgentEvent]:
    """Coalesce a whole recorded stream of (time, event) pairs; handy for replays and storage batches."""
    state = Coalescer(window_s)
    out: list[AgentEvent] = []
    for now, event in timed:
        state, ready = push(state, event, now)
        out.extend(ready)
    state, ready = flush(state)
    out.extend(ready)
    return out
