"""Step 5 of a turn: stream the backend's events, persist them in order, publish them, under a watchdog.

The terminal event is returned, never journaled here: the runner stores the turn's final state first (changes,
status, usage), then journals it, so whoever reacts to it reads a finished turn. The events of the terminal's own
batch are held (``TurnJournal.hold``) and journaled in that same finishing transaction.

A pump task owns the backend's event iterator and feeds a queue; the consumer drains whatever is queued in one
batch, coalesces it (``core.stream``), appends it to the journal in one transaction and publishes the stored rows.
Waiting on the queue (not on the iterator) lets the watchdog time out without tearing the backend's stream down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.turns.journal import TurnJournal
from core.events import AgentEvent, TerminalEvent, TurnCancelled, TurnFailed, is_terminal
from core.lifecycle import (
    WatchdogPolicy,
    WatchdogStep,
    silence_cancel_reason,
    silence_reason,
    step_due_at,
    watchdog_step,
)
from core.ports.agents import SessionHandle, TurnInput
from core.ports.clock import Clock
from core.stream import Coalescer, flush_due, push
from core.tool_closure import OpenTools, closing_updates, seal

log = logging.getLogger(__name__)

RestartAgent = Callable[[str], Awaitable[None]]  # AgentBackend.restart of the backend running the turn
DRAIN_AFTER_TERMINAL_S = 5.0
RESTART_TIMEOUT_S = 30.0  # stopping is SIGTERM, a bounded wait, SIGKILL: well inside this


@dataclass(frozen=True)
class StreamResult:
    terminal: TerminalEvent  # not journaled yet: the runner journals it once the turn's final state is stored
    agent_unresponsive: bool = False  # the watchdog gave up: the handle must not be reused


async def stream_turn(
    handle: SessionHandle,
    turn: TurnInput,
    journal: TurnJournal,
    clock: Clock,
    watchdog: WatchdogPolicy,
    restart: RestartAgent | None = None,
    *,
    drain_in: asyncio.TaskGroup | None = None,
) -> StreamResult:
    """The turn's result as soon as its terminal event arrived. The backend's iterator is closed afterwards
    (bounded by ``DRAIN_AFTER_TERMINAL_S``): before this returns, or, with ``drain_in``, in that group, so its
    owner can go on meanwhile (the runner diffs the worktree) and holds the handle until the group is done."""
    queue: asyncio.Queue[tuple[float, AgentEvent] | None] = asyncio.Queue()
    session_id = handle.backend_session_id

    async def pump() -> None:
        events = handle.run_turn(turn)
        try:
            async for event in events:
                queue.put_nowait((clock.monotonic(), event))
                if is_terminal(event):
                    break  # the turn is over: stop here, as the port promises the terminal event is the last
        except Exception as exc:  # the adapter broke mid-stream: the turn fails with what it said
            log.exception("agent stream of turn %s broke", turn.turn_id)
            error = f"agent stream broke: {exc!r}"
            queue.put_nowait((clock.monotonic(), TurnFailed(session_id=session_id, turn_id=turn.turn_id, error=error)))
        finally:
            queue.put_nowait(None)
            close = getattr(events, "aclose", None)
            if close is not None:  # run the generator's cleanup now rather than at garbage collection
                try:
                    await close()
                except Exception:
                    log.exception("closing the event stream of turn %s failed", turn.turn_id)

    if drain_in is not None:
        pump_task = drain_in.create_task(pump(), name=f"pump-{turn.turn_id}")
        try:
            return await _consume(queue, handle, turn, journal, clock, watchdog, restart)
        finally:
            drain_in.create_task(_drained(pump_task), name=f"drain-{turn.turn_id}")
    async with asyncio.TaskGroup() as group:
        pump_task = group.create_task(pump(), name=f"pump-{turn.turn_id}")
        result = await _consume(queue, handle, turn, journal, clock, watchdog, restart)
        await _drained(pump_task)
    return result


async def _drained(pump_task: asyncio.Task[None]) -> None:
    """The backend should finish its iterator right after the terminal event; never wait on it forever."""
    done, _ = await asyncio.wait({pump_task}, timeout=DRAIN_AFTER_TERMINAL_S)
    if not done:
        pump_task.cancel()


async def _consume(
    queue: asyncio.Queue[tuple[float, AgentEvent] | None],
    handle: SessionHandle,
    turn: TurnInput,
    journal: TurnJournal,
    clock: Clock,
    watchdog: WatchdogPolicy,
    restart: RestartAgent | None,
) -> StreamResult:
    session_id = handle.backend_session_id
    last_event_at = clock.monotonic()
    steps_taken = 0
    held = Coalescer()
    cancelled_by_watchdog: str | None = None  # the reason the turn's TurnCancelled gets: hearth cancelled it
    tools = OpenTools()  # tool calls not final yet: closed with the terminal (core.tool_closure)
    while True:
        deadline = step_due_at(steps_taken, last_event_at, watchdog)
        flush_at = held.deadline()
        wait_s = max(0.0, min(deadline, flush_at if flush_at is not None else deadline) - clock.monotonic())
        try:
            async with asyncio.timeout(wait_s):
                first = await queue.get()
        except TimeoutError:
            now = clock.monotonic()
            held, ready = flush_due(held, now)
            await journal.write(ready)
            step = watchdog_step(last_event_at, now, steps_taken, watchdog)
            if step is None:
                continue
            steps_taken += 1
            if step is WatchdogStep.PROBE and not handle.is_alive():
                error = "the agent process died mid-turn; the next turn restarts it"
                failed = TurnFailed(session_id=session_id, turn_id=turn.turn_id, error=error)
                await journal.write(closing_updates(tools, failed))  # the runner journals the terminal itself
                return StreamResult(failed, agent_unresponsive=True)
            if step is WatchdogStep.CANCEL:
                log.warning("turn %s: %s; cancelling it", turn.turn_id, f"silent for {now - last_event_at:.0f} s")
                cancelled_by_watchdog = silence_cancel_reason(last_event_at, now)
                try:  # a hung agent may not even take the cancel request: the next step must not wait on it
                    async with asyncio.timeout(watchdog.escalation_s):
                        await handle.cancel()
                except TimeoutError:
                    log.warning("turn %s: the cancel request itself hung", turn.turn_id)
            if step is WatchdogStep.RESTART:
                error = await _restart_agent(restart, turn.turn_id, last_event_at, now)
                failed = TurnFailed(session_id=session_id, turn_id=turn.turn_id, error=error)
                await journal.write(closing_updates(tools, failed))  # the runner journals the terminal itself
                return StreamResult(failed, agent_unresponsive=True)
            continue
        batch = [first]
        while not queue.empty():
            batch.append(queue.get_nowait())
        ready_events: list[AgentEvent] = []
        terminal: TerminalEvent | None = None
        for item in batch:
            if item is None:
                error = "the agent ended its stream without finishing the turn"
                terminal = TurnFailed(session_id=session_id, turn_id=turn.turn_id, error=error)
                item = (clock.monotonic(), terminal)
            at, event = item
            if cancelled_by_watchdog is not None and isinstance(event, TurnCancelled):
                event = event.model_copy(update={"reason": cancelled_by_watchdog})  # never "aborted by request"
            tools, sealed = seal(tools, event)
            for each in sealed:
                held, ready = push(held, each, at)
                # push flushed what it held, then the terminal event: keep that back for the runner
                ready_events.extend(ready[:-1] if is_terminal(each) else ready)
            if is_terminal(event):
                terminal = event
                break
        if terminal is not None:
            journal.hold(ready_events)  # stored with the turn's end, in the runner's one finishing transaction
            return StreamResult(terminal)
        await journal.write(ready_events)
        last_event_at = clock.monotonic()
        steps_taken = 0


async def _restart_agent(restart: RestartAgent | None, turn_id: str, last_event_at: float, now: float) -> str:
    """Stop the hung agent's process through its backend; the failure text of the turn says how that went."""
    if restart is not None:
        silent = f"a turn sent nothing for {now - last_event_at:.0f} s and ignored a cancel"
        log.warning("turn %s: %s; restarting the agent", turn_id, silent)
        try:
            async with asyncio.timeout(RESTART_TIMEOUT_S):
                await restart(silent)
        except Exception as exc:  # TimeoutError included: the turn still fails, saying the restart did not work
            log.exception("turn %s: restarting the agent failed", turn_id)
            return silence_reason(last_event_at, now, restart_error=repr(exc))
    return silence_reason(last_event_at, now)
