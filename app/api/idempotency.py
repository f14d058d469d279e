"""``Idempotency-Key`` on mutating endpoints: a retry with the same key returns the first result, does nothing twice.

Only successful results are remembered (a refused request changed nothing, so retrying it is harmless). A
per-key lock keeps two concurrent retries on this node from both running; the store's first-wins insert decides
across nodes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response

from core.ports import Store

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200


class Idempotency:
    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def run(
        self,
        store: Store,
        request: Request[Any, Any, Any],
        action: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> Response[dict[str, Any]]:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            status, body = await action()
            return Response(body, status_code=status)
        key = key[:MAX_KEY_LENGTH]
        scope = f"{request.method} {request.url.path}"
        async with self._locks.setdefault((scope, key), asyncio.Lock()):
            stored = await store.recall_idempotent(scope, key)
            if stored is None:
                status, body = await action()
                stored = await store.remember_idempotent(scope, key, {"status": status, "body": body})
        replayed_status = stored.get("status")
        replayed_body = stored.get("body")
        return Response(
            replayed_body if isinstance(replayed_body, dict) else {},
            status_code=replayed_status if isinstance(replayed_status, int) else 200,
        )
