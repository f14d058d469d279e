"""The MCP endpoint inside the HTTP API: mounted at ``/mcp`` behind the API's bearer guard, its session manager
running for as long as the service does (the SDK's task group lives in the service lifespan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import asgi
from litestar.handlers.asgi_handlers import ASGIRouteHandler
from litestar.handlers.base import BaseRouteHandler
from mcp.server import MCPServer
from starlette.applications import Starlette

from app.api.auth import has_token
from app.api.mcp.server import mcp_http, mcp_server
from app.api.mcp.tool_common import UseCasesOf

MCP_PATH = "/mcp"


@dataclass(frozen=True)
class McpMount:
    server: MCPServer
    app: Starlette
    handler: ASGIRouteHandler

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            yield


async def _no_event_stream(send: Any) -> None:
    body = b"hearth's MCP endpoint offers no server-initiated stream; POST JSON-RPC requests to it"
    headers = [(b"allow", b"POST"), (b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": 405, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _token_required(token: str | None) -> list[Any]:
    """Its own guard, whatever paths the app-wide guard leaves open: inside a mount the request's path is the mount's
    remainder ("/"), which the app-wide guard would take for the console's open page."""
    if not token:
        return []

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not has_token(connection, token):
            raise NotAuthorizedException("missing or wrong bearer token: send 'Authorization: Bearer <token>'")

    return [guard]


def mcp_mount(use_cases: UseCasesOf, host: str, token: str | None) -> McpMount:
    server = mcp_server(use_cases)
    app = mcp_http(server, host)

    @asgi(MCP_PATH, is_mount=True, copy_scope=True, guards=_token_required(token))
    async def mcp_endpoint(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("method") == "GET":  # stateless: no server-initiated stream to hold open (the spec's 405)
            await _no_event_stream(send)
            return
        await app(scope, receive, send)

    return McpMount(server, app, mcp_endpoint)
