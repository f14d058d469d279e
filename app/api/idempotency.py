"""``Idempotency-Key`` on mutating endpoints: a retry with the same key returns the first result, does nothing twice.

Only successful results are remembered (a refused request changed nothing, so retrying it is harmless). A
per-key lock keeps two concurrent retries on this node from both running; the store's first-wins insert decides
across nodes. The key is bound to its request (a digest of the query and the JSON body): the same key with a
different request is refused with 422 instead of silently answering with the first request's result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response

from app.usecases.errors import Refused
from app.usecases.replays import Replays
from core.errors import InvalidInput

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200


class Idempotency:
    def __init__(self, replays: Replays) -> None:
        self._replays = replays
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def run(
        self,
        request: Request[Any, Any, Any],
        action: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> Response[dict[str, Any]]:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            status, body = await action()
            return Response(body, status_code=status)
        key = key[:MAX_KEY_LENGTH]
        scope = f"{request.method} {request.url.path}"
        fingerprint = await _fingerprint(request)
        async with self._locks.setdefault((scope, key), asyncio.Lock()):
            stored = await self._replays.recall(scope, key)
            if stored is None:
                status, body = await action()
                remembered = {"status": status, "body": body, "request": fingerprint}
                stored = await self._replays.remember(scope, key, remembered)
        first_request = stored.get("request")
        if first_request is not None and first_request != fingerprint:
            detail = (
                f"Idempotency-Key {key!r} was already used for a different request to {scope}; "
                "send a new key for a new request (a retry must repeat the first request exactly)"
            )
            raise Refused(InvalidInput(detail=detail, field="Idempotency-Key"))
        replayed_status = stored.get("status")
        replayed_body = stored.get("body")
        return Response(
            replayed_body if isinstance(replayed_body, dict) else {},
            status_code=replayed_status if isinstance(replayed_status, int) else 200,
        )


async def _fingerprint(request: Request[Any, Any, Any]) -> str:
    """Digest of what the request asks for: its query and its body (JSON canonicalised, so key order is no change)."""
    raw = await request.body()
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode() if raw else b""
    except (ValueError, UnicodeDecodeError):
        body = raw
    digest = hashlib.sha256(str(sorted(request.query_params.multi_items())).encode() + b"\0" + body)
    return digest.hexdigest()
