"""Service trials: SSE reconnects (nothing lost or repeated), many chats at once on the native agent, and a node
killed mid-turn while another node shares its PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from app.upkeep.leases import ABANDONED
from bench._trial import Context, Trial, clock, database
from tests.plugins.processes import NodeProcesses
from tests.plugins.service import TERMINAL, Hearth, serve_hearth

SSE = (
    "one chat, native turns streaming slowly, read through GET /api/chats/{chat}/events by a client that hangs up "
    "after 1-8 events and reconnects with Last-Event-ID; held: a reconnect whose events continue exactly where the "
    "last one stopped (checked against each turn's own full stream); time: reconnect to its first event"
)
LOAD = (
    "N chats x M turns on the native agent, every chat's turns submitted at once through the API; held: a chat "
    "whose turns all succeeded, one after another in submission order, with no 5xx answer anywhere; "
    "time: submit to finished, per turn"
)
FAILOVER = (
    "two `hearth serve` processes on one fresh PostgreSQL database (lease TTL 3 s, shared worktrees dir); a slow "
    "native turn, then kill -9 of the process group of the node running it; held: the other node fails that turn "
    "naming the dead node's lease and serves the chat's next turn, and nothing of the killed node still runs; "
    "time: kill to the next turn's success"
)
Hook = Callable[[httpx.Response], Awaitable[None]]


async def sse_reconnects(ctx: Context, store: str, turns: int) -> Trial:
    trial = Trial(f"SSE reconnects: {store}", SSE)
    rng = random.Random(17)  # the same hang-up points every run
    async with database(store) as dsn:
        settings = ctx.settings(ctx.directory(f"sse-{store}"), database_url=dsn)
        async with serve_hearth(settings) as hearth:
            chat = (await hearth.create_chat(ctx.repo))["id"]
            submitted = [await hearth.submit(chat, "native", f"SLOW=0.02 answer {n}") for n in range(turns)]
            last_turn = submitted[-1]["id"]
            connections: list[list[int]] = []
            last_id: str | None = None
            done = False
            while not done:
                started, received = clock(), list[int]()
                headers = {"Last-Event-ID": last_id} if last_id else {}
                async with (
                    asyncio.timeout(60),
                    aconnect_sse(hearth.client, "GET", f"/api/chats/{chat}/events", headers=headers) as source,
                ):
                    async for sse in source.aiter_sse():
                        if not sse.data:
                            continue
                        if not received and connections:
                            trial.times.append(clock() - started)
                        event = json.loads(sse.data)
                        received.append(int(sse.id))
                        last_id = sse.id
                        done = event["type"] in {"turn_completed", "turn_failed"} and event["turn_id"] == last_turn
                        if done or len(received) >= rng.randint(1, 8):
                            break
                connections.append(received)
            truth = sorted([int(e["_id"]) for turn in submitted for e in await hearth.events(turn["events_url"])])
    _judge_connections(trial, connections, truth)
    return trial


def _judge_connections(trial: Trial, connections: list[list[int]], truth: list[int]) -> None:
    position = 0
    for index, received in enumerate(connections):
        expected = truth[position : position + len(received)]
        problems = [] if received == expected else [f"connection {index}: got {received}, expected {expected}"]
        position += len(received)
        if index:  # the first connection is not a reconnect
            trial.record(problems, None)
        else:
            trial.lost.extend(problems)
    seen = [seq for received in connections for seq in received]
    trial.notes.append(
        f"events {len(truth)}, delivered {len(seen)}, lost {len(set(truth) - set(seen))}, "
        f"duplicated {len(seen) - len(set(seen))}"
    )


async def load(ctx: Context, chats: int, turns: int) -> Trial:
    trial = Trial(f"load: {chats} chats x {turns} turns, native", LOAD)
    server_errors: list[str] = []

    async def count_5xx(response: httpx.Response) -> None:
        if response.status_code >= 500:
            server_errors.append(f"{response.request.method} {response.request.url.path}: {response.status_code}")

    async with serve_hearth(ctx.settings(ctx.directory("load"))) as hearth:
        hearth.client.event_hooks["response"].append(count_5xx)
        gate = asyncio.Semaphore(10)  # clients submitting at once

        async def one_chat(index: int) -> tuple[str, list[str]]:
            async with gate:
                chat = (await hearth.create_chat(ctx.repo))["id"]
                ids = [(await hearth.submit(chat, "native", f"chat {index} turn {n}"))["id"] for n in range(turns)]
            return chat, ids

        started = clock()
        submitted = await asyncio.gather(*(one_chat(index) for index in range(chats)))
        for chat, ids in submitted:
            rows = await _finished(hearth, chat, len(ids))
            problems = _in_order(rows, ids)
            trial.record(problems, None)
            trial.times.extend(_seconds(row["finished_at"]) - _seconds(row["created_at"]) for row in rows)
        wall = clock() - started
    trial.lost.extend(server_errors)
    trial.notes.append(
        f"{chats * turns} turns in {wall:.1f} s ({chats * turns / wall:.1f} turns/s); 5xx: {len(server_errors)}"
    )
    return trial


async def _finished(hearth: Hearth, chat: str, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(600):
        while True:
            rows: list[dict[str, Any]] = (await hearth.client.get(f"/api/chats/{chat}/turns")).json()
            if len(rows) == count and all(row["status"] in TERMINAL for row in rows):
                return rows
            await asyncio.sleep(0.2)


def _in_order(rows: list[dict[str, Any]], submitted: list[str]) -> list[str]:
    by_id = {row["id"]: row for row in rows}
    problems = [
        f"turn {i} {by_id[t]['status']}: {by_id[t]['error']}"
        for i, t in enumerate(submitted)
        if by_id[t]["status"] != "succeeded"
    ]
    for before, after in itertools.pairwise(submitted):
        if _seconds(by_id[after]["started_at"]) < _seconds(by_id[before]["finished_at"]):
            problems.append(f"turn {after} started before {before} finished")
    return problems


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


async def failover(ctx: Context, rounds: int) -> Trial:
    trial = Trial("node failover: 2 processes, postgresql", FAILOVER)
    detected: list[float] = []
    for _ in range(rounds):
        directory = ctx.directory("failover")
        async with database("postgresql") as dsn, NodeProcesses(directory / "logs") as nodes:
            shared = {"database_url": dsn, "lease_ttl_s": 3.0, "worktrees_dir": directory / "worktrees"}
            a = await nodes.start("node-a", ctx.settings(directory / "a", node_id="node-a", **shared))
            b = await nodes.start("node-b", ctx.settings(directory / "b", node_id="node-b", **shared))
            chat = (await a.hearth.create_chat(ctx.repo))["id"]
            turn = await a.hearth.submit(chat, "native", "SLOW=2 a long answer")
            await a.hearth.wait_event(turn["events_url"], "text_delta")
            owner = (await a.hearth.client.get(turn["url"])).json()["node_id"]
            victim, survivor = (a, b) if owner == "node-a" else (b, a)
            victim.kill(group=True)
            started = clock()
            lost = await survivor.hearth.wait_turn(chat, turn["id"], timeout=120)
            detected.append(clock() - started)
            problems = [] if lost["error"] == ABANDONED.format(node=owner) else [f"lost turn: {lost['error']}"]
            after = await survivor.hearth.run_turn(chat, "native", "RECALL")
            if (after["status"], after["node_id"]) != ("succeeded", survivor.name):
                problems.append(f"next turn {after['status']} on {after['node_id']}: {after['error']}")
            seconds = clock() - started
            problems += [f"still running after the kill: pid {pid}" for pid in victim.orphans()]
            trial.record(problems, seconds)
    if detected:
        trial.notes.append(
            f"the other node failed the lost turn {min(detected):.2f} to {max(detected):.2f} s after the kill"
        )
    return trial
