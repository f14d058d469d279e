"""The ``hearth`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from app.version import VERSION


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.api.auth import InsecureBinding
    from app.api.server import create_app
    from app.api.serving import HearthServer
    from app.bootstrap.service import run_service
    from app.settings import Settings

    settings = Settings()
    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    try:
        app = create_app(settings, run_service)
    except InsecureBinding as refused:
        print(f"hearth: {refused}", file=sys.stderr)
        return 2
    grace = int(settings.shutdown_grace_s) + 5
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=grace
    )
    # uvicorn stops cleanly on SIGTERM/SIGINT, then raises the signal again for the handler it found; with the
    # default one the process dies by the signal (status 143), which supervisors read as a crash
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stopped_cleanly)
    ready = f"hearth: serving on http://{settings.host}:{settings.port} (data in {settings.data_dir})"
    HearthServer(config, app, ready_message=ready).run()
    return 0


def _stopped_cleanly(signum: int, frame: FrameType | None) -> None:
    """Takes the signal uvicorn raises again after its clean shutdown; the exit status stays 0."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Keeps coding agents warm.")
    parser.add_argument("--version", action="version", version=f"hearth {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=_serve)
    from app.cli import agents, arena, chat, demo, mcp, task, worktrees

    chat.register(sub)
    demo.register(sub)
    agents.register(sub)
    worktrees.register(sub)
    mcp.register(sub)
    task.register(sub)
    arena.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
