"""The permission side of an ACP session: the questions an agent asks during a turn, answered by the session's
policy (``auto``: inside the worktree allowed, else refused) or by a person through ``answer_permission``.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from adapters.acp.confinement import outside_paths, pick_option
from adapters.acp.turn import ActiveTurn
from core.acp import events as acp_events
from core.agents import PermissionPolicy
from core.events import AgentEvent, PermissionRequest, PermissionResolved

_request_ids = itertools.count(1)


class SessionPermissions:
    """Mixed into ``AcpSession``, which owns these attributes."""

    _session_id: str
    _cwd: str
    _permission: PermissionPolicy
    _permission_timeout_s: float
    _turn: ActiveTurn | None
    _state: acp_events.AcpState

    async def answer_permission(self, request_id: str, option_id: str | None) -> bool:
        active = self._turn
        entry = active.permissions.get(request_id) if active else None
        if entry is None or entry[0].done():
            return False
        future, options = entry
        if option_id is not None and option_id not in {o.get("optionId") for o in options}:
            return False
        future.set_result(option_id)
        return True

    async def decide_permission(self, tool_call: dict[str, Any], options: list[dict[str, Any]]) -> str | None:
        active = self._turn
        if active is None or active.cancel_requested_at is not None:
            return None
        request_id = f"perm-{next(_request_ids)}"
        self._state, events = acp_events.on_permission_request(self._state, request_id, tool_call, options)
        if self._permission == "auto":  # decided here and now: the tool call is shown, no question asked
            self._emit(active, [e for e in events if not isinstance(e, PermissionRequest)])
            outside = outside_paths(self._cwd, tool_call)
            if outside:
                self._refuse(active, tool_call, f"refused: outside the worktree {self._cwd}: {', '.join(outside)}")
            return pick_option(options, allow=not outside)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        active.permissions[request_id] = (future, options)
        self._emit(active, events)
        outcome: str
        try:
            chosen = await asyncio.wait_for(future, timeout=self._permission_timeout_s)
        except TimeoutError:
            chosen, outcome = None, "timed_out"
        else:
            kinds = {o.get("optionId"): str(o.get("kind")) for o in options}
            outcome = kinds.get(chosen, "rejected") if chosen is not None else "rejected"
        finally:
            active.permissions.pop(request_id, None)
        if _cancelling(active):  # ACP: while a turn is being cancelled its questions answer "cancelled"
            chosen, outcome = None, "cancelled"
        resolved = PermissionResolved(
            session_id=self._session_id, turn_id=active.turn_id, request_id=request_id, outcome=outcome
        )
        self._emit(active, [resolved])
        if not outcome.startswith("allow"):
            self._refuse(active, tool_call, f"refused: permission {outcome.replace('_', ' ')}")
        if outcome == "cancelled":
            return None
        return chosen if chosen is not None else pick_option(options, allow=False)

    def _emit(self, active: ActiveTurn, events: list[AgentEvent]) -> None:
        for event in events:
            active.queue.put_nowait(event)

    def _refuse(self, active: ActiveTurn, tool_call: dict[str, Any], why: str) -> None:
        """A refused tool never runs, and some agents (qwen) never say so: mark it failed ourselves."""
        failed = {"sessionUpdate": "tool_call_update", "toolCallId": tool_call.get("toolCallId"), "status": "failed"}
        self._state, events = acp_events.fold_acp_update(self._state, {**failed, "rawOutput": why})
        self._emit(active, events)


def _cancelling(active: ActiveTurn) -> bool:
    """Read afresh after an await (a cancel may have arrived meanwhile)."""
    return active.cancel_requested_at is not None
