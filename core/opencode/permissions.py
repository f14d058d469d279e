"""OpenCode permission events (``permission.asked`` / ``permission.replied``) as AgentEvents.

OpenCode's replies are ``once | always | reject``; they become the option ids of the request, so the
shell answers ``POST /permission/{id}/reply {"reply": option_id}`` with the chosen option verbatim.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

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


# The kinds whose patterns are file paths (relative to the worktree or absolute); bash's are commands.
_PATH_KINDS = frozenset({"edit", "write", "read", "list", "glob", "grep", "external_directory"})
OUTSIDE_KIND = "external_directory"  # OpenCode asks it for any path outside the session's directory


@dataclass(frozen=True)
class AutoVerdict:
    """How hearth answers a question itself under ``permission = "auto"``: allow inside the worktree, reject
    anything that reaches outside it, with the reason the turn's events show."""

    reply: str  # an OpenCode reply: "once" or "reject"
    reason: str | None = None


def inside_worktree(worktree: str, path: str) -> bool:
    """Lexically, as OpenCode itself decides ``external_directory``: relative paths are the worktree's."""
    root = posixpath.normpath(worktree)
    target = posixpath.normpath(posixpath.join(root, path))
    return target == root or target.startswith(root.rstrip("/") + "/")


def asked_paths(props: raw.Raw) -> list[str]:
    """The paths a ``permission.asked`` names: its metadata's, and its patterns when they are paths."""
    metadata = raw.obj(props, "metadata")
    found = [p for p in (raw.text(metadata, "filepath"), raw.text(metadata, "parentDir")) if p]
    if (raw.text(props, "permission") or "") in _PATH_KINDS:
        patterns = (p for p in raw.items(props, "patterns") if isinstance(p, str))
        found.extend(p.removesuffix("/*").removesuffix("*") or "." for p in patterns)
    return list(dict.fromkeys(found))


def auto_verdict(props: raw.Raw, worktree: str) -> AutoVerdict:
    """Allow what stays inside the worktree, reject the rest (``external_directory`` always reaches out)."""
    permission = raw.text(props, "permission") or "permission"
    outside = [p for p in asked_paths(props) if not inside_worktree(worktree, p)]
    if permission == OUTSIDE_KIND or outside:
        where = ", ".join(outside) or ", ".join(p for p in raw.items(props, "patterns") if isinstance(p, str))
        reason = f"refused {permission} {where}: outside the worktree {worktree} (permission = auto)"
        return AutoVerdict(reply="reject", reason=reason)
    return AutoVerdict(reply="once")


def timed_out_reason(timeout_s: float) -> str:
    return (
        f"nobody answered within {timeout_s:.0f} s (permission_timeout_s), so hearth rejected it; answer sooner "
        "or raise HEARTH_PERMISSION_TIMEOUT_S"
    )
