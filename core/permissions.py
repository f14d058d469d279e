"""Checking an answer to an agent's permission question against the options the question offered.

Every backend's question is journaled as a ``permission_request`` event listing its options, and its end as a
``permission_resolved`` event, so whichever node the API runs on can check an answer before it reaches the agent:
an option the question does not offer is refused (ACP agents would refuse it too, OpenCode would take it for
"once"). A question with no journaled request, or already resolved, is left to the delivery (which says it is not
waiting).
"""

from __future__ import annotations

from collections.abc import Iterable

from returns.result import Failure, Result, Success

from core.errors import DomainError, InvalidInput
from core.events import AgentEvent, PermissionRequest, PermissionResolved


def open_question_options(events: Iterable[AgentEvent], request_id: str) -> tuple[str, ...] | None:
    """The option ids of permission question ``request_id`` while it is open; None when it was never asked (in
    these events) or is resolved already."""
    offered: tuple[str, ...] | None = None
    for event in events:
        if isinstance(event, PermissionRequest) and event.request_id == request_id:
            offered = tuple(option.option_id for option in event.options)
        elif isinstance(event, PermissionResolved) and event.request_id == request_id:
            offered = None
    return offered


def check_option(request_id: str, option_id: str | None, offered: tuple[str, ...] | None) -> Result[None, DomainError]:
    """``option_id`` must be one the open question offers; None (reject) always is."""
    if option_id is None or offered is None or not offered or option_id in offered:
        return Success(None)
    choices = ", ".join(offered)
    detail = (
        f"permission request {request_id} does not offer option {option_id!r}; answer one of: {choices} "
        "(or null to reject)"
    )
    return Failure(InvalidInput(detail=detail, field="option_id"))
