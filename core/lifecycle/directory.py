"""When an OpenCode directory instance may be disposed (``POST /instance/dispose?directory=D``).

Disposing tears down the per-directory state of the shared server; doing it while anything still uses
that directory would break a running turn or silently end a subscriber's event stream.
"""

from __future__ import annotations

from pydantic import Field

from core.model import Frozen


class DirectoryUse(Frozen):
    """What still uses one worktree directory on an OpenCode server."""

    turns_in_flight: int = Field(default=0, ge=0)
    open_event_streams: int = Field(default=0, ge=0)
    busy_sessions: int = Field(default=0, ge=0)


def dispose_blockers(use: DirectoryUse) -> tuple[str, ...]:
    """Why the directory must stay, in words (empty: nothing uses it)."""
    blockers = (
        (use.turns_in_flight, "turn in flight", "turns in flight"),
        (use.open_event_streams, "open event stream", "open event streams"),
        (use.busy_sessions, "busy session", "busy sessions"),
    )
    return tuple(f"{count} {one if count == 1 else many}" for count, one, many in blockers if count > 0)


def may_dispose_directory(use: DirectoryUse) -> bool:
    return not dispose_blockers(use)
