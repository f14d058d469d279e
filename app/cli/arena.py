"""``hearth arena``: one prompt to several agents in a chat, side by side, then adopt the winner (an HTTP client).

``hearth arena start CHAT PROMPT --agent qwen --agent opencode:MODEL`` forks a worktree per contestant, follows
their progress (one line per contestant event that matters) and prints each contestant's outcome: state, files,
tokens, cost, wall time, error. ``show`` prints an arena again (``--diff`` with the diffs), ``adopt`` makes one
contestant's changes the chat's pending changes, ``discard`` drops them all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any, TextIO

import httpx
from httpx_sse import aconnect_sse

from core.events import TERMINAL_EVENT_TYPES


def contestant_specs(agents: list[str]) -> list[dict[str, str]]:
    """``agent`` or ``agent:model``."""
    specs = []
    for item in agents:
        agent, _, model = item.partition(":")
        specs.append({"agent": agent, **({"model": model} if model else {})})
    return specs


def summary(arena: dict[str, Any], out: TextIO, with_diffs: bool = False) -> None:
    out.write(f"arena {arena['id']} ({arena['status']}) in chat {arena['chat_id']}\n")
    for c in arena["contestants"]:
        usage = c.get("usage") or {}
        tokens = f"{usage.get('input_tokens', 0)}+{usage.get('output_tokens', 0)} tokens" if usage else "no usage"
        cost = f", ${usage['cost_usd']:.4f}" if usage.get("cost_usd") is not None else ""
        wall = f", {c['wall_s']:.1f} s" if c.get("wall_s") is not None else ""
        files = ", ".join(f["path"] for f in c["files"]) or "no files"
        out.write(f"  {c['id']}  {c['agent']:<10} {c['state']:<10} {files} ({tokens}{cost}{wall})\n")
        if c.get("error"):
            out.write(f"      error: {c['error']}\n")
        if with_diffs:
            for f in c["files"]:
                out.write(f"--- {f['path']} ({c['agent']})\n{f['diff']}\n")
    out.flush()


async def follow(client: httpx.AsyncClient, arena: dict[str, Any], out: TextIO) -> None:
    """Prints each contestant's tool calls and end until the arena's stream ends (reconnecting if it drops)."""
    agents = {c["id"]: c["agent"] for c in arena["contestants"]}
    last_id: str | None = None
    for attempt in range(10):
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            async with aconnect_sse(client, "GET", arena["events_url"], headers=headers) as source:
                source.response.raise_for_status()
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue
                    last_id = sse.id or last_id
                    data = json.loads(sse.data)
                    who = agents.get(data["task_id"], data["task_id"])
                    if data["type"] == "tool_call" and data["status"] in ("completed", "failed"):
                        out.write(f"[{who}] tool {data['name']} {data['status']}\n")
                    elif data["type"] in TERMINAL_EVENT_TYPES:
                        out.write(f"[{who}] {data['type'].removeprefix('turn_')}\n")
                    out.flush()
            return
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            out.write(f"[stream interrupted ({exc}); reconnecting]\n")
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt))


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('title', '')}: {body.get('detail', response.text)}"
    except ValueError:
        return f"{response.status_code}: {response.text}"


async def run_arena(args: argparse.Namespace, client: httpx.AsyncClient, out: TextIO) -> int:
    base = f"/api/chats/{args.chat}/arena"
    if args.action == "start":
        body = {"prompt": args.prompt, "contestants": contestant_specs(args.agent)}
        response = await client.post(base, json=body)
        if response.status_code != 202:
            out.write(f"hearth: {_problem(response)}\n")
            return 1
        await follow(client, response.json(), out)
        response = await client.get(response.json()["url"])
    elif args.action == "show":
        response = await client.get(f"{base}/{args.arena}")
    elif args.action == "adopt":
        response = await client.post(f"{base}/{args.arena}/adopt", json={"contestant": args.contestant})
    else:
        response = await client.post(f"{base}/{args.arena}/discard")
    if response.status_code >= 300:
        out.write(f"hearth: {_problem(response)}\n")
        return 1
    summary(response.json(), out, with_diffs=getattr(args, "diff", False))
    return 0


async def _session(args: argparse.Namespace) -> int:
    base_url = args.url or os.environ.get("HEARTH_URL") or "http://127.0.0.1:8420"
    token = args.token or os.environ.get("HEARTH_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(connect=5.0, read=60.0, write=10.0, pool=5.0)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout) as client:
        try:
            return await run_arena(args, client, sys.stdout)
        except httpx.TransportError as exc:
            print(f"hearth: cannot reach {base_url} ({exc}); start it with `hearth serve`", file=sys.stderr)
            return 2


def register(subparsers: Any) -> None:
    arena = subparsers.add_parser("arena", help="one prompt to several agents side by side (needs `hearth serve`)")
    arena.add_argument("--url", help="hearth's URL (default $HEARTH_URL or http://127.0.0.1:8420)")
    arena.add_argument("--token", help="API token (default $HEARTH_API_TOKEN)")
    actions = arena.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="run PROMPT with each --agent in its own fork of the chat")
    start.add_argument("chat")
    start.add_argument("prompt")
    start.add_argument("--agent", action="append", required=True, help="a contestant: AGENT or AGENT:MODEL")
    show = actions.add_parser("show", help="an arena's contestants and outcomes")
    show.add_argument("chat")
    show.add_argument("arena")
    show.add_argument("--diff", action="store_true", help="print each contestant's diffs")
    adopt = actions.add_parser("adopt", help="the contestant's changes become the chat's pending changes")
    adopt.add_argument("chat")
    adopt.add_argument("arena")
    adopt.add_argument("contestant")
    discard = actions.add_parser("discard", help="drop every contestant's changes")
    discard.add_argument("chat")
    discard.add_argument("arena")
    arena.set_defaults(func=lambda args: asyncio.run(_session(args)))
