"""``hearth task REPO PROMPT``: give an agent work from outside a chat (``POST /api/tasks``) and follow it to its end.

The task runs one-shot in the chat its ``--creator`` key names (a chat id, or any key whose first task opened a
chat), or in a new chat; its changes wait there as pending changes (``hearth chat`` or the API apply them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import httpx

from app.cli.chat import Renderer, problem_of, stream_turn


async def run_task(
    base_url: str,
    token: str | None,
    body: dict[str, Any],
    out: TextIO = sys.stdout,
) -> int:
    """0 when the task succeeded, 1 when it failed or was refused, 2 when hearth is out of reach."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(connect=5.0, read=60.0, write=10.0, pool=5.0)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout) as client:
        try:
            submitted = await client.post("/api/tasks", json={"origin": "new_task", **body})
        except httpx.TransportError as exc:
            print(f"hearth: cannot reach {base_url} ({exc}); start it with `hearth serve`", file=sys.stderr)
            return 2
        if submitted.status_code != 202:
            print(f"hearth: the task was refused: {problem_of(submitted)}", file=sys.stderr)
            return 1
        task, chat = submitted.json()["task"], submitted.json()["chat"]
        opened = "a new chat" if submitted.json()["chat_created"] else "chat"
        out.write(f"task {task['id']} ({task['agent']}) in {opened} {chat['id']}\n")
        await stream_turn(client, task["events_url"], Renderer(out))
        final = (await client.get(task["url"])).json()
        out.write(f"\ntask {final['status']}" + (f": {final['error']}" if final.get("error") else "") + "\n")
        out.write(f"pending changes: {base_url}/api/chats/{chat['id']}/changes\n")
        return 0 if final["status"] == "succeeded" else 1


def _run(args: argparse.Namespace) -> int:
    base_url = args.url or os.environ.get("HEARTH_URL") or "http://127.0.0.1:8420"
    token = args.token or os.environ.get("HEARTH_API_TOKEN")
    body = {"repo_path": str(Path(args.repo).resolve()), "agent": args.agent, "prompt": args.prompt}
    body.update({key: value for key, value in (("creator", args.creator), ("model", args.model)) if value})
    return asyncio.run(run_task(base_url, token, body))


def register(subparsers: Any) -> None:
    task = subparsers.add_parser("task", help="give an agent a task from outside a chat (needs `hearth serve`)")
    task.add_argument("repo", help="path of the git repository")
    task.add_argument("prompt", help="what the agent should do")
    task.add_argument("--agent", default="opencode", help="the agent that does it")
    task.add_argument("--creator", help="chat id, or your own key: its first task opens a chat, later ones reuse it")
    task.add_argument("--model", help="model of the task (OpenCode and native agents)")
    task.add_argument("--url", help="hearth's URL (default $HEARTH_URL or http://127.0.0.1:8420)")
    task.add_argument("--token", help="API token (default $HEARTH_API_TOKEN)")
    task.set_defaults(func=_run)
