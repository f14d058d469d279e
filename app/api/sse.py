"""Server-sent events: a use case's event stream on the wire.

``id:`` is the journal's ``seq``, so a client that reconnects with ``Last-Event-ID`` gets exactly what it has not
seen; no event name, so plain "message" events reach ``EventSource.onmessage`` (the type is inside the data).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.api.dto import event_json
from core.model import StoredEvent

EVENT_STREAM = "text/event-stream"  # the media type SSE routes declare, so the OpenAPI schema says it


def parse_last_event_id(value: str | None) -> int:
    try:
        return max(0, int(value)) if value else 0
    except ValueError:
        return 0


def _message(row: StoredEvent) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps(event_json(row)), id=str(row.seq))


async def sse_messages(rows: AsyncIterator[StoredEvent | None]) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(comment="connected", retry=1000, data=None)
    async for row in rows:
        yield ServerSentEventMessage(comment="keep-alive", data=None) if row is None else _message(row)


def event_stream(rows: AsyncIterator[StoredEvent | None]) -> ServerSentEvent:
    return ServerSentEvent(sse_messages(rows))
