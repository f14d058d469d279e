"""``hearth mcp``: hearth's MCP tools over stdio, for a client that starts its MCP servers as commands.

It runs one hearth node in this process (the store, the agents, the dispatcher; no HTTP port) and serves that
node's use cases, the same ones the HTTP API and its ``/mcp`` endpoint call. So it works with no service running;
beside a running service it is one more node on the same store, coordinated by chat leases like any other. Its
node id is the host's with ``-mcp`` appended unless ``HEARTH_NODE_ID`` is set, because a node's start recovers
(fails) the turns its id left running and a service on this host must not lose its own. stdout carries the MCP
protocol only: every log line goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from app.api.mcp.server import mcp_server
from app.bootstrap.service import run_service
from app.settings import Settings

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Adds ``mcp`` to the ``hearth`` parser's subcommands."""
    command = subparsers.add_parser("mcp", help="serve hearth's MCP tools over stdio (runs a hearth node in-process)")
    command.set_defaults(func=_mcp)


def mcp_settings() -> Settings:
    settings = Settings()
    if "HEARTH_NODE_ID" not in os.environ:
        settings = settings.model_copy(update={"node_id": f"{settings.node_id}-mcp"})
    return settings


def _mcp(_: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="hearth mcp: %(levelname)s %(message)s")
    logging.getLogger("app").setLevel(logging.INFO)
    logging.getLogger("adapters").setLevel(logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in a terminal: the node has shut down already
        asyncio.run(_serve_stdio(mcp_settings()))
    return 0


async def _serve_stdio(settings: Settings) -> None:
    """Until the client closes stdin (or SIGTERM); then the node shuts down gracefully."""
    serving = asyncio.current_task()
    assert serving is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, serving.cancel)
    try:
        async with run_service(settings) as node:
            log.info("serving MCP over stdio as node %s (data in %s)", settings.node_id, settings.data_dir)
            await mcp_server(lambda: node.use_cases).run_stdio_async()
    except asyncio.CancelledError:
        log.info("stopped by SIGTERM")
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
