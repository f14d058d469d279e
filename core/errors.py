"""DomainError: every expected failure as a tagged, frozen value returned inside ``Result``.

``kind`` tags what went wrong (the HTTP edge maps it to a status and a problem ``type``; core knows nothing of
HTTP). ``detail`` says what happened and what to do about it; ``field`` names the request field or state at fault
when there is one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Error(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    detail: str
    field: str | None = None


class NotFound(_Error):
    kind: Literal["not_found"] = "not_found"


class InvalidInput(_Error):
    kind: Literal["invalid_input"] = "invalid_input"


class Conflict(_Error):
    """The request clashes with current state (chat closed, work would be lost, turn already over)."""

    kind: Literal["conflict"] = "conflict"


class GitError(_Error):
    """A repository or worktree operation failed (not a repo, no commits, apply conflict, ...)."""

    kind: Literal["git_error"] = "git_error"
    paths: tuple[str, ...] = ()


class AgentUnavailable(_Error):
    """The agent cannot run: binary missing, crashed over budget (dead), failed to start."""

    kind: Literal["agent_unavailable"] = "agent_unavailable"


class TooLarge(_Error):
    """An input is over a configured limit (named in ``limit``)."""

    kind: Literal["too_large"] = "too_large"
    limit: int


DomainError = Annotated[
    NotFound | InvalidInput | Conflict | GitError | AgentUnavailable | TooLarge,
    Field(discriminator="kind"),
]
