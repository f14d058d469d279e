"""``hearth chat REPO --agent NAME``: an interactive terminal client over the HTTP API.

Streams text, reasoning (dimmed) and tool calls live. Commands: ``/agent NAME`` switches agent, ``/model NAME``
picks the model of the next turns (``/model`` alone: the agent's default), ``/diff`` shows the pending changes,
``/apply`` applies them, ``/cancel`` (or Ctrl-C while a turn streams) interrupts the turn, ``/quit`` leaves. The
rendering helpers are shared with ``hearth demo``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

import httpx
from httpx_sse import aconnect_sse

from core.events import TERMINAL_EVENT_TYPES

DIM, BOLD, RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


class Renderer:
    """Prints one turn's events as they arrive: text as is, reasoning dimmed, one line per tool-call state."""

    def __init__(self, out: TextIO = sys.stdout, color: bool | None = None) -> None:
        self.out = out
        self.color = out.isatty() if color is None else color
        self._mode = ""
        self._tool_states: dict[str, str] = {}

    def _style(self, style: str, text: str) -> str:
        return f"{style}{text}{RESET}" if self.color else text

    def _switch(self, mode: str) -> None:
        if self._mode and self._mode != mode:
            self.out.write("\n")
        self._mode = mode

    def event(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "text_delta":
            self._switch("text")
            self.out.write(str(data["text"]))
        elif kind == "reasoning_delta":
            self._switch("reasoning")
            self.out.write(self._style(DIM, str(data["text"])))
        elif kind == "tool_call":
            status = str(data["status"])
            if self._tool_states.get(str(data["tool_call_id"])) != status:
                self._tool_states[str(data["tool_call_id"])] = status
                self._switch("tool")
                title = data.get("title") or json.dumps(data.get("input") or {})[:120]
                self.out.write(self._style(BOLD, f"[tool {data['name']} {status}]") + f" {title}\n")
                self._mode = ""
        elif kind == "permission_request":
            self._switch("notice")
            options = ", ".join(o["option_id"] for o in data.get("options", []))
            self.out.write(f"[permission requested: {data['title']} ({options}); request {data['request_id']}]\n")
            self._mode = ""
        elif kind in {"context_reset", "retry", "waiting"}:
            self._switch("notice")
            self.out.write(f"[{kind}: {data.get('reason') or data.get('message')}]\n")
            self._mode = ""
        elif kind in TERMINAL_EVENT_TYPES:
            self._switch("end")
            detail = data.get("error") or data.get("reason") or data.get("stop_reason") or ""
            self.out.write(
                self._style(DIM, f"[{kind.removeprefix('turn_')}{': ' + str(detail) if detail else ''}]") + "\n"
            )
            self._mode = ""
        self.out.flush()


async def stream_turn(client: httpx.AsyncClient, events_url: str, renderer: Renderer) -> str:
    """Follows the turn's SSE stream to its end, reconnecting with Last-Event-ID; returns the terminal type."""
    last_id: str | None = None
    for attempt in range(10):
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            async with aconnect_sse(client, "GET", events_url, headers=headers) as source:
                source.response.raise_for_status()
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue
                    last_id = sse.id or last_id
                    data = json.loads(sse.data)
                    renderer.event(data)
                    if data.get("type") in TERMINAL_EVENT_TYPES:
                        return str(data["type"])
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            renderer.out.write(f"\n[stream interrupted ({exc}); reconnecting]\n")
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
    return "unknown"


def problem_of(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('title', '')}: {body.get('detail', response.text)}"
    except ValueError:
        return f"{response.status_code}: {response.text}"


async def chat_session(base_url: str, token: str | None, repo: str, agent: str, model: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(connect=5.0, read=60.0, write=10.0, pool=5.0)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout) as client:
        try:
            created = await client.post("/api/chats", json={"repo_path": repo})
        except httpx.TransportError as exc:
            print(f"hearth: cannot reach {base_url} ({exc}); start it with `hearth serve`", file=sys.stderr)
            return 2
        if created.status_code != 201:
            print(f"hearth: cannot open a chat on {repo}: {problem_of(created)}", file=sys.stderr)
            return 1
        chat_id = created.json()["id"]
        print(f"chat {chat_id} on {repo} with {agent}. /agent NAME, /model NAME, /diff, /apply, /cancel, /quit")
        renderer = Renderer()
        current: dict[str, str] = {}
        while True:
            try:
                line = (await asyncio.to_thread(input, f"{agent}> ")).strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if not line:
                continue
            if line in {"/quit", "/exit"}:
                return 0
            if line.startswith("/agent"):
                agent = line.removeprefix("/agent").strip() or agent
                chips = (await client.get(f"/api/chats/{chat_id}/agent-sessions")).json().get("chips", {})
                print(f"now talking to {agent} ({chips.get(agent, 'unknown agent')})")
                continue
            if line.startswith("/model"):
                model = line.removeprefix("/model").strip() or None
                print(f"next turns use {model or 'the agent default model'}")
                continue
            if line == "/diff":
                changes = (await client.get(f"/api/chats/{chat_id}/changes")).json()["changes"]
                for change in changes:
                    print(f"--- {change['path']} ({change['agent'] or 'manual'})\n{change['diff']}")
                print(f"{len(changes)} pending change(s)")
                continue
            if line == "/apply":
                applied = await client.post(f"/api/chats/{chat_id}/changes/apply", json={})
                print("applied" if applied.status_code == 200 else problem_of(applied))
                continue
            if line == "/cancel":
                if "turn" in current:
                    response = await client.post(f"/api/chats/{chat_id}/turns/{current['turn']}/cancel")
                    print(response.json().get("cancel", problem_of(response)))
                continue
            body = {"agent": agent, "prompt": line, **({"model": model} if model else {})}
            submitted = await client.post(f"/api/chats/{chat_id}/turns", json=body)
            if submitted.status_code != 202:
                print(problem_of(submitted))
                continue
            turn = submitted.json()
            current["turn"] = turn["id"]
            await _stream_with_interrupt(client, chat_id, turn, renderer)


async def _stream_with_interrupt(
    client: httpx.AsyncClient, chat_id: str, turn: dict[str, Any], renderer: Renderer
) -> None:
    """Ctrl-C while the turn streams cancels the turn (the agent is interrupted, not killed)."""
    loop = asyncio.get_running_loop()
    cancel_requested = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, cancel_requested.set)
    try:
        async with asyncio.TaskGroup() as group:
            streaming = group.create_task(stream_turn(client, turn["events_url"], renderer))

            async def cancel_on_interrupt() -> None:
                waiting = asyncio.ensure_future(cancel_requested.wait())
                await asyncio.wait({waiting, streaming}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if cancel_requested.is_set() and not streaming.done():
                    await client.post(f"/api/chats/{chat_id}/turns/{turn['id']}/cancel")

            group.create_task(cancel_on_interrupt())
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


def _run(args: argparse.Namespace) -> int:
    base_url = args.url or os.environ.get("HEARTH_URL") or "http://127.0.0.1:8420"
    token = args.token or os.environ.get("HEARTH_API_TOKEN")
    return asyncio.run(chat_session(base_url, token, str(Path(args.repo).resolve()), args.agent, args.model))


def register(subparsers: Any) -> None:
    chat = subparsers.add_parser("chat", help="interactive chat with an agent on a repository (needs `hearth serve`)")
    chat.add_argument("repo", help="path of the git repository")
    chat.add_argument("--agent", default="opencode", help="agent to talk to (switch later with /agent NAME)")
    chat.add_argument("--model", help="model of every turn (OpenCode and native agents; change with /model NAME)")
    chat.add_argument("--url", help="hearth's URL (default $HEARTH_URL or http://127.0.0.1:8420)")
    chat.add_argument("--token", help="API token (default $HEARTH_API_TOKEN)")
    chat.set_defaults(func=_run)
