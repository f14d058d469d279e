"""When an event stream (SSE) of a turn or a chat ends: a pure decision the streaming loop asks after each read.

A turn stream ends once it delivered the turn's terminal event. Every writer stores a turn's terminal status before
it journals its terminal event (the runner, the cancel of a queued turn, startup recovery, a lease takeover), so
whoever reacts to that event reads a finished turn; a finished turn whose journal has nothing unread is therefore
given a grace period for that event (and ends without it if its writer died in between); a client that reconnects
after the end (the terminal event is journaled, it already saw it) ends at once. A chat stream never ends on its
own. Either ends when the bus closes (shutdown: the client reconnects with ``Last-Event-ID``); a bus that
overflowed (this reader fell behind) only stops waking the loop, which keeps polling the journal, so nothing is
lost either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BusState(StrEnum):
    OPEN = "open"
    OVERFLOWED = "overflowed"  # the reader fell behind: poll the journal alone from now on
    CLOSED = "closed"  # shutdown


class StreamEnd(StrEnum):
    TERMINAL_DELIVERED = "terminal_delivered"
    ALREADY_SEEN = "already_seen"  # reconnected after the end: the terminal event was delivered before
    GRACE_OVER = "grace_over"  # finished, and no terminal event came within the grace
    BUS_CLOSED = "bus_closed"


@dataclass(frozen=True)
class StreamView:
    """What the loop knows after a read of the journal."""

    turn_stream: bool  # a turn's stream (else a whole chat's)
    delivered_terminal: bool  # the read just delivered the turn's terminal event
    turn_finished: bool  # the turn's stored status is terminal
    unread: bool  # the journal holds events of the turn after the last one delivered
    terminal_journaled: bool  # the journal holds the turn's terminal event (read only when it matters)
    bus: BusState
    now: float
    over_since: float | None = None  # when the turn was first seen finished with nothing unread


@dataclass(frozen=True)
class StreamStep:
    end: StreamEnd | None  # None: go on
    over_since: float | None  # carry into the next view
    listen: bool  # keep waiting on the bus (else poll the journal alone)


def stream_step(view: StreamView, grace_s: float) -> StreamStep:
    listen = view.bus is BusState.OPEN
    if view.turn_stream and view.delivered_terminal:
        return StreamStep(StreamEnd.TERMINAL_DELIVERED, view.over_since, listen)
    if view.bus is BusState.CLOSED:
        return StreamStep(StreamEnd.BUS_CLOSED, view.over_since, listen)
    if not (view.turn_stream and view.turn_finished and not view.unread):
        return StreamStep(None, view.over_since, listen)
    if view.over_since is None:
        if view.terminal_journaled:
            return StreamStep(StreamEnd.ALREADY_SEEN, None, listen)
        return StreamStep(None, view.now, listen)
    if view.now - view.over_since >= grace_s:
        return StreamStep(StreamEnd.GRACE_OVER, view.over_since, listen)
    return StreamStep(None, view.over_since, listen)


@dataclass(frozen=True)
class RingView:
    """What a chat's in-memory ring of recent events can vouch for (``app.usecases.fanout``)."""

    epoch: int  # bumped when the bus lost events (the ring holds nothing trustworthy from before)
    dropped: int  # highest seq let go of for capacity (0: none)
    base: int | None  # every event of the chat after this seq is held (None: not known)


def ring_covers(view: RingView, last: int, synced_epoch: int | None) -> bool:
    """Whether a reader that delivered up to ``last`` finds everything it has not seen in the ring (else it reads
    the store once). Either the ring is known complete after ``last``, or the reader read the store after the ring
    started listening, in the same epoch, and nothing after ``last`` was let go of since."""
    if last < view.dropped:
        return False
    if view.base is not None and last >= view.base:
        return True
    return synced_epoch is not None and synced_epoch == view.epoch
