"""ACP ``session/update`` payloads -> AgentEvents, as one pure fold per agent session.

Payloads are plain camelCase dicts as on the wire (``update.model_dump(by_alias=True, exclude_none=True)``
or the raw frame's ``params.update``). The shell drives the state with ``begin_turn`` before
``session/prompt``, ``request_cancel`` when it sends ``session/cancel``, ``begin_replay``/``end_replay``
around ``session/load``, ``on_permission_request`` for ``session/request_permission`` and
``finish_prompt``/``fail_prompt`` when the prompt returns.

* Updates outside a turn, during a load replay, or of another session yield no events; session-level
  facts (mode, commands, title, config, plan) are recorded in the state whatever the phase.
* Chunks: empty ones are dropped (but qwen's ``_meta.usage`` on them is read). Consecutive chunks of one
  kind and one ``messageId`` form one part; a new kind, a new message id or a tool call in between
  starts a new part id.
* Tool calls are upserted by id (``core.acp.tools``); only a visible change is emitted again.
* Cost from OpenCode's cumulative ``usage_update`` becomes an increment against ``cost_total``: seed it
  with the session's recorded cost when resuming a session in a new process.
* The stale-terminal guard (``core.turn_guard``) lives in the state, as in OpenCode's fold, and these
  functions drive it: ``begin_turn`` starts a turn, ``request_cancel`` arms it, an update of the running
  turn is its activity, ``finish_prompt``/``fail_prompt`` are its terminals. The result of
  ``session/prompt`` answers that very request (JSON-RPC ids pair them), so it always ends its own turn:
  the guard never withholds it, and only counts, in ``guard.consumed``, a terminal it would have taken
  for a stray.
* gemini-cli starts every thought chunk with its bold title, empty here (``****\n``): the shell seeds
  ``thought_prefix`` with ``thought_prefix_for(agentInfo.name)`` and the prefix is cut from each reasoning
  chunk once, so the thought reads as the model wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core import raw
from core.acp.tools import cost_increment, merge_tool_call, usage_from_meta, usage_from_response
from core.events import (
    AgentEvent,
    PermissionOption,
    PermissionRequest,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    UsageReport,
)
from core.turn_guard import TurnGuard, admit_terminal, arm, note_activity, start_turn

_CHUNK_KINDS = {"agent_message_chunk": "text", "agent_thought_chunk": "reasoning"}
_OPTION_KINDS = ("allow_once", "allow_always", "reject_once", "reject_always")
_CANCEL_WORDS = ("abort", "cancel", "interrupt")
GEMINI_THOUGHT_PREFIX = "****\n"


def thought_prefix_for(agent_name: str | None) -> str:
    """What the agent puts before each thought chunk, by its ``initialize`` ``agentInfo.name`` (or command)."""
    return GEMINI_THOUGHT_PREFIX if agent_name is not None and agent_name.lower().startswith("gemini") else ""


@dataclass(frozen=True)
class OpenPart:
    kind: str  # "text" | "reasoning"
    message_id: str | None
    part_id: str


@dataclass(frozen=True)
class AcpState:
    session_id: str
    turn_id: str | None = None
    replaying: bool = False
    cancel_requested: bool = False
    parts_started: int = 0  # numbering of part ids within the session
    part: OpenPart | None = None
    tools: Mapping[str, ToolCall] = field(default_factory=dict)  # this turn's calls, by id
    cost_total: float = 0.0  # OpenCode's cumulative session cost as last reported
    replayed_updates: int = 0  # updates seen during session/load replays (the history the agent kept)
    mode: str | None = None
    commands: tuple[str, ...] = ()
    title: str | None = None
    plan: tuple[str, ...] = ()
    config: Mapping[str, str] = field(default_factory=dict)
    thought_prefix: str = ""  # cut from the start of every reasoning chunk (gemini: ``****\n``)
    guard: TurnGuard = field(default_factory=TurnGuard)


def begin_turn(state: AcpState, turn_id: str) -> AcpState:
    """Call before ``session/prompt``."""
    guard = start_turn(state.guard)
    return replace(state, turn_id=turn_id, cancel_requested=False, part=None, tools={}, replaying=False, guard=guard)


def request_cancel(state: AcpState) -> AcpState:
    """Call for every cancel request, a turn running or not: either way the guard is armed."""
    running = state.turn_id is not None
    return replace(state, cancel_requested=running, guard=arm(state.guard, turn_running=running))


def begin_replay(state: AcpState) -> AcpState:
    return replace(state, replaying=True)


def end_replay(state: AcpState) -> AcpState:
    return replace(state, replaying=False, part=None)


def fold_acp_update(
    state: AcpState, update: Mapping[str, Any], session_id: str | None = None
) -> tuple[AcpState, list[AgentEvent]]:
    """Fold one ``session/update``; ``session_id`` is the notification's (None: already demuxed)."""
    if session_id is not None and session_id != state.session_id:
        return state, []
    kind = raw.text(update, "sessionUpdate") or ""
    state = _note_session_facts(state, kind, update)
    if state.replaying:
        return replace(state, replayed_updates=state.replayed_updates + 1), []
    turn_id = state.turn_id
    if turn_id is None:
        return state, []
    state = replace(state, guard=note_activity(state.guard))  # any update of the running turn shows it lives
    if kind in _CHUNK_KINDS:
        return _on_chunk(state, _CHUNK_KINDS[kind], update, turn_id)
    if kind in ("tool_call", "tool_call_update"):
        return _upsert_tool(state, update, turn_id)
    if kind == "usage_update":
        increment, total = cost_increment(update, state.cost_total)
        report: list[AgentEvent] = [UsageReport(session_id=state.session_id, turn_id=turn_id, cost_usd=increment)]
        return replace(state, cost_total=total), report if increment > 0 else []
    return state, []  # user_message_chunk (the prompt echoed), plan, commands, mode, config, info


def _note_session_facts(state: AcpState, kind: str, update: raw.Raw) -> AcpState:
    if kind == "current_mode_update":
        return replace(state, mode=raw.text(update, "currentModeId") or state.mode)
    if kind == "available_commands_update":
        names = tuple(
            raw.text(c, "name") or "" for c in raw.items(update, "availableCommands") if isinstance(c, Mapping)
        )
        return replace(state, commands=names)
    if kind == "session_info_update":
        return replace(state, title=raw.text(update, "title") or state.title)
    if kind == "plan":
        entries = tuple(raw.text(e, "content") or "" for e in raw.items(update, "entries") if isinstance(e, Mapping))
        return replace(state, plan=entries)
    if kind == "config_option_update":
        options = raw.items(update, "configOptions")
        values = {raw.text(o, "id") or "": str(o.get("currentValue")) for o in options if isinstance(o, Mapping)}
        return replace(state, config={**state.config, **values})
    if kind == "usage_update" and (state.replaying or state.turn_id is None):  # keep the baseline current
        _, total = cost_increment(update, state.cost_total)
        return replace(state, cost_total=total)
    return state


def _on_chunk(state: AcpState, kind: str, update: raw.Raw, turn_id: str) -> tuple[AcpState, list[AgentEvent]]:
    events: list[AgentEvent] = []
    usage = usage_from_meta(update, state.session_id, turn_id)
    content = raw.obj(update, "content")
    text = raw.text(content, "text") if raw.text(content, "type") in (None, "text") else None
    if text and kind == "reasoning" and state.thought_prefix:
        text = text.removeprefix(state.thought_prefix)
    if text:
        message_id = raw.text(update, "messageId")
        part = state.part
        if part is None or part.kind != kind or part.message_id != message_id:
            part = OpenPart(kind, message_id, f"{turn_id}.{state.parts_started + 1}")
            state = replace(state, parts_started=state.parts_started + 1, part=part)
        delta_type = ReasoningDelta if kind == "reasoning" else TextDelta
        events.append(delta_type(session_id=state.session_id, turn_id=turn_id, part_id=part.part_id, text=text))
    if usage is not None:
        events.append(usage)
    return state, events


def _upsert_tool(state: AcpState, update: raw.Raw, turn_id: str) -> tuple[AcpState, list[AgentEvent]]:
    call_id = raw.text(update, "toolCallId")
    if not call_id:
        return state, []
    before = state.tools.get(call_id)
    call = merge_tool_call(before, update, state.session_id, turn_id)
    state = replace(state, tools={**state.tools, call_id: call}, part=None)
    return state, [] if call == before else [call]


def on_permission_request(
    state: AcpState, request_id: str, tool_call: Mapping[str, Any], options: Sequence[Mapping[str, Any]]
) -> tuple[AcpState, list[AgentEvent]]:
    """``session/request_permission``: upsert its ``toolCall`` (qwen/gemini sent no start) and ask."""
    if state.turn_id is None:
        return state, []
    state, events = _upsert_tool(state, tool_call, state.turn_id)
    call = state.tools.get(raw.text(tool_call, "toolCallId") or "")
    choices = tuple(
        PermissionOption(option_id=raw.text(o, "optionId") or "", kind=o["kind"], name=raw.text(o, "name") or o["kind"])
        for o in options
        if raw.text(o, "kind") in _OPTION_KINDS
    )
    title = raw.text(tool_call, "title") or (call.title or call.name if call else None) or "permission requested"
    request = PermissionRequest(
        session_id=state.session_id,
        turn_id=state.turn_id,
        request_id=request_id,
        tool_call_id=call.tool_call_id if call else None,
        title=title,
        options=choices,
    )
    return state, [*events, request]


def _ended(state: AcpState) -> AcpState:
    guard, _its_own = admit_terminal(state.guard)  # always its own: see the module docstring
    return replace(state, turn_id=None, cancel_requested=False, part=None, tools={}, guard=guard)


def finish_prompt(state: AcpState, response: Mapping[str, Any]) -> tuple[AcpState, list[AgentEvent]]:
    """The ``session/prompt`` result: usage it carries (OpenCode, gemini), then the terminal event."""
    turn_id = state.turn_id
    if turn_id is None:
        return state, []
    sid = state.session_id
    events: list[AgentEvent] = []
    usage = usage_from_response(response, sid, turn_id)
    if usage is not None:
        events.append(usage)
    stop = raw.text(response, "stopReason") or "end_turn"
    if stop == "cancelled":
        events.append(TurnCancelled(session_id=sid, turn_id=turn_id))
    elif stop == "refusal":
        events.append(TurnFailed(session_id=sid, turn_id=turn_id, error="the agent refused the prompt (refusal)"))
    else:
        events.append(TurnCompleted(session_id=sid, turn_id=turn_id, stop_reason=stop))
    return _ended(state), events


def fail_prompt(state: AcpState, error: str) -> tuple[AcpState, list[AgentEvent]]:
    """The prompt failed with a JSON-RPC error. One that means "aborted" after a cancel is a cancel."""
    turn_id = state.turn_id
    if turn_id is None:
        return state, []
    sid = state.session_id
    if state.cancel_requested and any(word in error.lower() for word in _CANCEL_WORDS):
        return _ended(state), [TurnCancelled(session_id=sid, turn_id=turn_id, reason=f"cancelled by request ({error})")]
    return _ended(state), [TurnFailed(session_id=sid, turn_id=turn_id, error=error)]
