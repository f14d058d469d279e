"""DomainError: every expected failure as a tagged, frozen value returned inside ``Result``.

The ``kind`` tag doubles as the problem+json ``type`` suffix and its ``status`` as the HTTP status, so
the API maps errors without a lookup table. ``detail`` says what happened and what to do about it;
``field`` names the request field or state at fault when there is one.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Error(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    detail: str
    field: str | None = None

    TITLE: ClassVar[str] = "Error"

    @property
    def title(self) -> str:
        return self.TITLE


class NotFound(_Error):
    TITLE: ClassVar[str] = "Not found"
    kind: Literal["not_found"] = "not_found"
    status: Literal[404] = 404


class InvalidInput(_Error):
    TITLE: ClassVar[str] = "Invalid input"
    kind: Literal["invalid_input"] = "invalid_input"
    status: Literal[422] = 422


class Conflict(_Error):
    """The request clashes with current state (chat closed, work would be lost, turn already over)."""

    TITLE: ClassVar[str] = "Conflict with the current state"
    kind: Literal["conflict"] = "conflict"
    status: Literal[409] = 409


class GitError(_Error):
    """A repository or worktree operation failed (not a repo, no commits, apply conflict, ...)."""

    TITLE: ClassVar[str] = "Repository operation failed"
    kind: Literal["git_error"] = "git_error"
    status: Literal[422] = 422
    paths: tuple[str, ...] = ()


class AgentUnavailable(_Error):
    """The agent cannot run: binary missing, crashed over budget (dead), failed to start."""

    TITLE: ClassVar[str] = "Agent unavailable"
    kind: Literal["agent_unavailable"] = "agent_unavailable"
    status: Literal[503] = 503


class StoreError(_Error):
    TITLE: ClassVar[str] = "Store failure"
    kind: Literal["store_error"] = "store_error"
    status: Literal[500] = 500


DomainError = Annotated[
    NotFound | InvalidInput | Conflict | GitError | AgentUnavailable | StoreError,
    Field(discriminator="kind"),
]
