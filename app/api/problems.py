"""problem+json (RFC 9457) for every error: use-case refusals, validation failures, HTTP errors and crashes.

The one place where an error becomes HTTP: a ``Refused`` from a use case carries a ``DomainError`` whose ``kind``
picks the status (``STATUS``) and becomes the problem ``type``, with the ``field`` at fault and the detail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from app.usecases.errors import Refused, StoreUnavailable, WorkAtRisk
from core.errors import DomainError, TooLarge

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://hearth.dev/problems/"
STORE_RETRY_AFTER_S = 5  # a store fault that heals (a restart, a lock let go) is usually over within seconds


@dataclass
class ProblemDetails:
    """The problem+json body every error has (RFC 9457), for the OpenAPI schema."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None


STATUS: dict[str, int] = {
    "not_found": 404,
    "invalid_input": 422,
    "conflict": 409,
    "git_error": 422,
    "agent_unavailable": 503,
    "too_large": 413,
}
TITLE: dict[str, str] = {
    "not_found": "Not found",
    "invalid_input": "Invalid input",
    "conflict": "Conflict with the current state",
    "git_error": "Repository operation failed",
    "agent_unavailable": "Agent unavailable",
    "too_large": "Too large",
}

_MEANING = {
    400: "the request is malformed: not JSON, an unknown or mistyped field (named in field; errors lists each)",
    404: "the chat, turn or request does not exist",
    409: "the chat or turn is in a state that refuses this (the detail says which, and what to do)",
    413: "an input is over a configured limit (named in field; the limit is in limit)",
    422: "a field is invalid for this chat or agent (named in field)",
    503: "the agent cannot run here now (the detail says what to install, fix or reset)",
}
_STORE_UNAVAILABLE = (
    "the store is unavailable for a while (type store_unavailable, with a Retry-After header in seconds): retry "
    "after that; or the agent cannot run here now (the detail says what to install, fix or reset)"
)


def documented_problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses a route can give. 400 is always among them: a route with a path
    parameter or a body can get a malformed request, and Litestar's own 400 entry would say application/json. Every
    such route reads or writes the store, so each also documents the 503 of a store that is out of reach."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=_STORE_UNAVAILABLE if status == 503 else _MEANING[status],
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in sorted({400, *statuses, 503})
    }


def problem_response(
    status: int, kind: str, title: str, detail: str, field: str | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def error_response(error: DomainError, **extra: Any) -> Response[dict[str, Any]]:
    if isinstance(error, TooLarge):
        extra["limit"] = error.limit
    return problem_response(STATUS[error.kind], error.kind, TITLE[error.kind], error.detail, error.field, **extra)


def _refused(_: Request[Any, Any, Any], exc: Refused) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    if isinstance(exc, WorkAtRisk):
        extra["risk"] = exc.risk.model_dump(mode="json")
    return error_response(exc.error, **extra)


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    keys = [str(e.get("key")) for e in errors if isinstance(e, dict) and e.get("key")]
    messages = "; ".join(f"{e.get('key') or 'body'}: {e.get('message')}" for e in errors if isinstance(e, dict)) or str(
        exc.detail
    )
    return problem_response(
        400,
        "invalid_request",
        "Invalid request",
        f"the request is malformed: {messages}",
        keys[0] if keys else "body",
        errors=errors,
    )


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    kind = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
        exc.status_code, "http_error"
    )
    return problem_response(exc.status_code, kind, kind.replace("_", " ").capitalize(), str(exc.detail))


def _store_unavailable(request: Request[Any, Any, Any], exc: StoreUnavailable) -> Response[dict[str, Any]]:
    log.warning("%s %s: the store is unavailable: %s", request.method, request.url.path, exc)
    detail = f"the store is unavailable ({exc}); retry in {STORE_RETRY_AFTER_S} s"
    response = problem_response(503, "store_unavailable", "Store unavailable", detail)
    response.set_header("Retry-After", str(STORE_RETRY_AFTER_S))
    return response


def _crash(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500, "internal", "Internal error", f"hearth failed: {type(exc).__name__}: {exc}. See the server log."
    )


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    Refused: _refused,
    ValidationException: _validation,
    HTTPException: _http,
    StoreUnavailable: _store_unavailable,
    Exception: _crash,
}
