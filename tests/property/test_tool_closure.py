"""Law of ``core.tool_closure``: after a terminal event, every tool call of the turn is in a final state."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.events import AgentEvent, TextDelta, ToolCall, TurnCancelled, TurnCompleted, TurnFailed, is_terminal
from core.tool_closure import FINAL_STATUSES, OpenTools, seal

IDS = {"session_id": "s", "turn_id": "t"}
tool_calls = st.builds(
    lambda call, status, output: ToolCall(**IDS, tool_call_id=call, name="bash", status=status, output=output),
    st.sampled_from(["c1", "c2", "c3"]),
    st.sampled_from(["pending", "running", "completed", "failed"]),
    st.none() | st.text(max_size=10),
)
others = st.builds(lambda text: TextDelta(**IDS, part_id="p", text=text), st.text(min_size=1, max_size=5))
terminals = st.sampled_from(
    [TurnCompleted(**IDS), TurnFailed(**IDS, error="boom"), TurnCancelled(**IDS, reason="aborted by request")]
)


def _last_states(events: list[AgentEvent]) -> dict[str, ToolCall]:
    last: dict[str, ToolCall] = {}
    for event in events:
        if isinstance(event, ToolCall):
            last[event.tool_call_id] = event
    return last


@given(st.lists(tool_calls | others, max_size=30), terminals)
def test_after_the_terminal_every_tool_call_of_the_turn_is_final(
    before: list[AgentEvent], terminal: AgentEvent
) -> None:
    tools, out = OpenTools(), list[AgentEvent]()
    for event in [*before, terminal]:
        tools, more = seal(tools, event)
        out.extend(more)
    assert out[-1] == terminal
    assert sum(is_terminal(e) for e in out) == 1
    assert all(call.status in FINAL_STATUSES for call in _last_states(out).values())
    assert set(_last_states(out)) == set(_last_states(before))  # no call invented, none lost
    closed = out[len(before) : -1]  # hearth's own updates, only for calls left open, each saying why
    assert all(isinstance(e, ToolCall) and e.status == "failed" and e.output for e in closed)
    assert out[: len(before)] == before  # the agent's events pass unchanged and in order
