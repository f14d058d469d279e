"""Laws of ``core.streaming.stream_step``: when a turn's or a chat's event stream ends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.streaming import BusState, RingView, StreamEnd, StreamView, ring_covers, stream_step

GRACE_S = 2.0

views = st.builds(
    StreamView,
    turn_stream=st.booleans(),
    delivered_terminal=st.booleans(),
    turn_finished=st.booleans(),
    unread=st.booleans(),
    terminal_journaled=st.booleans(),
    bus=st.sampled_from(list(BusState)),
    now=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    over_since=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
)


@given(views)
def test_a_chat_stream_ends_only_when_the_bus_closes(view: StreamView) -> None:
    if view.turn_stream:
        return
    step = stream_step(view, GRACE_S)
    assert (step.end is not None) == (view.bus is BusState.CLOSED)


@given(views)
def test_a_turn_stream_never_ends_while_the_turn_runs_or_has_unread_events(view: StreamView) -> None:
    step = stream_step(view, GRACE_S)
    unfinished = not view.turn_finished or view.unread
    if view.turn_stream and unfinished and not view.delivered_terminal and view.bus is not BusState.CLOSED:
        assert step.end is None


@given(views)
def test_delivering_the_terminal_event_ends_a_turn_stream(view: StreamView) -> None:
    if view.turn_stream and view.delivered_terminal:
        assert stream_step(view, GRACE_S).end is StreamEnd.TERMINAL_DELIVERED


@given(views)
def test_only_an_open_bus_is_listened_to(view: StreamView) -> None:
    """An overflowed reader keeps going on journal polls alone: overflow never ends a stream by itself."""
    step = stream_step(view, GRACE_S)
    assert step.listen == (view.bus is BusState.OPEN)
    if view.bus is BusState.OVERFLOWED and step.end is not None:
        assert step.end is not StreamEnd.BUS_CLOSED


@given(st.floats(min_value=0, max_value=1e5, allow_nan=False), st.lists(st.floats(0, 10), max_size=20))
def test_a_finished_turn_without_its_terminal_event_ends_once_the_grace_is_over(
    start: float, gaps: list[float]
) -> None:
    """Polled at any moments after the turn finished, the stream goes on before the grace and ends after it."""
    view = StreamView(
        turn_stream=True,
        delivered_terminal=False,
        turn_finished=True,
        unread=False,
        terminal_journaled=False,
        bus=BusState.OPEN,
        now=start,
    )
    first = stream_step(view, GRACE_S)
    assert first.end is None
    assert first.over_since == start
    now = start
    for gap in gaps:
        now += gap
        step = stream_step(StreamView(**{**view.__dict__, "now": now, "over_since": first.over_since}), GRACE_S)
        assert (step.end is StreamEnd.GRACE_OVER) == (now - start >= GRACE_S)


@given(views)
def test_a_client_reconnecting_after_the_end_ends_at_once(view: StreamView) -> None:
    """The turn is over, nothing is unread and its terminal event is in the journal: the client saw it already."""
    fresh = StreamView(**{**view.__dict__, "turn_stream": True, "delivered_terminal": False, "over_since": None})
    if fresh.turn_finished and not fresh.unread and fresh.terminal_journaled and fresh.bus is not BusState.CLOSED:
        assert stream_step(fresh, GRACE_S).end is StreamEnd.ALREADY_SEEN


rings = st.builds(
    RingView,
    epoch=st.integers(min_value=0, max_value=5),
    dropped=st.integers(min_value=0, max_value=1000),
    base=st.none() | st.integers(min_value=0, max_value=1000),
)


@given(rings, st.integers(min_value=0, max_value=1000), st.none() | st.integers(min_value=0, max_value=5))
def test_a_ring_never_vouches_for_what_it_let_go_of(ring: RingView, last: int, synced: int | None) -> None:
    if last < ring.dropped:
        assert not ring_covers(ring, last, synced)


@given(rings, st.integers(min_value=0, max_value=1000), st.none() | st.integers(min_value=0, max_value=5))
def test_a_reader_synced_in_another_epoch_relies_only_on_the_rings_base(
    ring: RingView, last: int, synced: int | None
) -> None:
    if synced != ring.epoch:
        assert ring_covers(ring, last, synced) == (ring.base is not None and last >= ring.base and last >= ring.dropped)


@given(rings, st.integers(min_value=0, max_value=1000))
def test_a_reader_synced_in_this_epoch_is_covered_unless_it_fell_behind(ring: RingView, last: int) -> None:
    assert ring_covers(ring, last, ring.epoch) == (last >= ring.dropped)
