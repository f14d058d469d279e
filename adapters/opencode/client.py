"""The HTTP side of one OpenCode server: REST calls and the per-directory event stream, all authenticated.

Every call carries HTTP basic auth (the server refuses anything else with 401, SSE included) and the
chat's directory as ``?directory=`` (without it OpenCode would silently use the server's cwd).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
from httpx_sse import aconnect_sse

from adapters.opencode.config import SERVER_USER
from adapters.opencode.event_stream import EventStreamError, open_event_stream

Json = dict[str, Any]


class OpenCodeClient:
    def __init__(self, base_url: str, password: str, request_timeout_s: float = 30.0) -> None:
        self.base_url = base_url
        credentials = base64.b64encode(f"{SERVER_USER}:{password}".encode()).decode()
        self._authorization = {"Authorization": f"Basic {credentials}"}
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=httpx.BasicAuth(SERVER_USER, password),
            timeout=httpx.Timeout(request_timeout_s, connect=5.0),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def health(self, timeout_s: float) -> Json:
        response = await self._http.get("/global/health", timeout=timeout_s)
        response.raise_for_status()
        return cast(Json, response.json())

    async def create_session(self, directory: str, title: str) -> Json:
        response = await self._http.post("/session", params={"directory": directory}, json={"title": title})
        response.raise_for_status()
        return cast(Json, response.json())

    async def get_session(self, session_id: str, directory: str) -> Json | None:
        """The session, or None when the server does not know it (404; malformed ids make it answer 500)."""
        if not session_id.startswith("ses_"):
            return None
        response = await self._http.get(f"/session/{session_id}", params={"directory": directory})
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        response.raise_for_status()
        return cast(Json, response.json())

    async def prompt_async(self, session_id: str, directory: str, text: str, model: Json | None) -> None:
        body: Json = {"parts": [{"type": "text", "text": text}]}
        if model is not None:
            body["model"] = model
        response = await self._http.post(
            f"/session/{session_id}/prompt_async", params={"directory": directory}, json=body
        )
        response.raise_for_status()

    async def abort(self, session_id: str, directory: str, timeout_s: float = 10.0) -> bool:
        response = await self._http.post(
            f"/session/{session_id}/abort", params={"directory": directory}, timeout=timeout_s
        )
        response.raise_for_status()
        return bool(response.json())

    async def messages(self, session_id: str, directory: str) -> list[Json]:
        response = await self._http.get(f"/session/{session_id}/message", params={"directory": directory})
        response.raise_for_status()
        return cast(list[Json], response.json())

    async def busy(self, session_id: str, directory: str) -> bool:
        """Whether the session is running (or retrying) a turn: ``GET /session/status`` lists only those."""
        response = await self._http.get("/session/status", params={"directory": directory})
        response.raise_for_status()
        return session_id in response.json()

    async def reply_permission(self, request_id: str, directory: str, reply: str) -> bool:
        response = await self._http.post(
            f"/permission/{request_id}/reply", params={"directory": directory}, json={"reply": reply}
        )
        if response.status_code == httpx.codes.NOT_FOUND:
            return False
        response.raise_for_status()
        return bool(response.json())

    async def dispose_instance(self, directory: str) -> bool:
        response = await self._http.post("/instance/dispose", params={"directory": directory})
        response.raise_for_status()
        return bool(response.json())

    @asynccontextmanager
    async def events(self, directory: str, read_timeout_s: float) -> AsyncIterator[AsyncIterator[Json]]:
        """Subscribe to ``/event?directory=``; entered only once the server confirmed the subscription.

        ``read_timeout_s`` bounds the silence between bytes: the server sends a heartbeat every ~10 s, so a
        longer silence means a hung server or a dead connection (``httpx.ReadTimeout``).
        """
        timeout = httpx.Timeout(10.0, read=read_timeout_s)
        async with aconnect_sse(
            self._http, "GET", "/event", params={"directory": directory}, timeout=timeout
        ) as source:
            source.response.raise_for_status()
            stream = source.aiter_sse()
            async for first in stream:  # wait for server.connected so no event of our prompt can be missed
                if first.data and json.loads(first.data).get("type") == "server.connected":
                    break
            else:
                raise httpx.RemoteProtocolError("event stream closed before server.connected")

            async def payloads() -> AsyncIterator[Json]:
                async for sse in stream:
                    if sse.data:  # httpx-sse yields spurious empty events
                        yield cast(Json, json.loads(sse.data))

            yield payloads()

    @asynccontextmanager
    async def global_events(self, read_timeout_s: float) -> AsyncIterator[AsyncIterator[Json]]:
        """Subscribe to ``/global/event`` (every directory, each event wrapped with its ``directory``); entered
        once the server confirmed the subscription. ``read_timeout_s`` as for ``events``. Read off the connection
        directly (``event_stream``): every event of the server passes here. Failures: ``EventStreamError``."""
        async with open_event_stream(
            self.base_url, "/global/event", self._authorization, connect_timeout_s=10.0, read_timeout_s=read_timeout_s
        ) as stream:
            async for first in stream:
                if _payload_type(first) == "server.connected":
                    break
            else:
                raise EventStreamError("global event stream closed before server.connected")
            yield stream


def _payload_type(frame: Json) -> object:
    payload = frame.get("payload")
    return (payload if isinstance(payload, dict) else frame).get("type")
