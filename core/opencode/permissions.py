"""OpenCode permission events (``permission.asked`` / ``permission.replied``) as AgentEvents.

OpenCode's replies are ``once | always | reject``; they become the option ids of the request, so the
shell answers ``POST /permission/{id}/reply {"reply": option_id}`` with the chosen option verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping

from core import raw
from core.events import PermissionOption, PermissionRequest, PermissionResolved
from core.opencode.parts import Ids

_REPLY_KIND: Mapping[str, str] = {"once": "allow_once", "always": "allow_always", "reject": "rejected"}


def permission_request(props: raw.Raw, ids: Ids) -> PermissionRequest:
    patterns = ", ".join(p for p in raw.items(props, "patterns") if isinstance(p, str))
    permission = raw.text(props, "permission") or "permission"
    return PermissionRequest(
        session_id=ids.session_id,
        turn_id=ids.turn_id,
        request_id=raw.text(props, "id") or "",
        tool_call_id=raw.text(raw.obj(props, "tool"), "callID"),
        title=f"{permission} {patterns}".strip(),
        options=(
            PermissionOption(option_id="once", kind="allow_once", name="Allow once"),
            PermissionOption(option_id="always", kind="allow_always", name="Always allow"),
            PermissionOption(option_id="reject", kind="reject_once", name="Reject"),
        ),
    )


def permission_resolved(props: raw.Raw, ids: Ids) -> PermissionResolved:
    reply = raw.text(props, "reply") or ""
    return PermissionResolved(
        session_id=ids.session_id,
        turn_id=ids.turn_id,
        request_id=raw.text(props, "requestID") or "",
        outcome=_REPLY_KIND.get(reply, reply or "rejected"),
    )
