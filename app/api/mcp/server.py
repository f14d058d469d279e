"""The MCP server over hearth's use cases, built with the official MCP SDK (ADR 0012).

``mcp_server`` registers every tool of ``app.api.mcp.tools``; ``mcp_http`` is the streamable HTTP endpoint the
service mounts at ``/mcp`` (stateless, JSON answers: each call is one request, so any node can answer it, and the
bearer guard of the API sees every request); ``hearth mcp`` runs the same server over stdio.
"""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from app.api.auth import is_loopback
from app.api.mcp.tool_common import UseCasesOf
from app.api.mcp.tools import HearthTools, tools_of
from app.version import VERSION

INSTRUCTIONS = (
    "hearth keeps coding agents warm in chats that share one git worktree. Open a chat (create_chat) or give work "
    "from outside one (submit_task), wait for the turn (wait_for_turn), review what the agents changed "
    "(list_changes), then apply or discard it. To compare agents, run_arena gives one prompt to several, each in "
    "a fork of the chat; wait_for_arena, then adopt the best one (or discard_arena)."
)


def mcp_server(use_cases: UseCasesOf) -> MCPServer:
    server: MCPServer = MCPServer(name="hearth", version=VERSION, instructions=INSTRUCTIONS, log_level="WARNING")
    for tool in tools_of(HearthTools(use_cases)):
        server.add_tool(tool, name=tool.__name__, description=tool.__doc__, structured_output=True)
    return server


def mcp_http(server: MCPServer, host: str) -> Starlette:
    """The ASGI app answering at its root; its session manager runs inside the service lifespan."""
    security = None
    if is_loopback(host):  # DNS rebinding: a browser page must not reach a loopback hearth by another name
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    else:
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return server.streamable_http_app(
        streamable_http_path="/", stateless_http=True, json_response=True, transport_security=security, host=host
    )
