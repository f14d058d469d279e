"""A turn's cost as its chat grows: a native no-op turn through the API in an empty chat and after 1,000 turns of
history, on SQLite and PostgreSQL, side by side; and ``GET …/agent-sessions`` against ``GET /api/chats/{id}`` at
1,000 turns.

Run: ``.venv/bin/python -m bench.turn_history [--rounds N] [--history N] [--reads N]``. Needs PostgreSQL at
``HEARTH_TEST_PG_DSN`` (default postgresql://root@127.0.0.1:5432/test) for its half; about a minute on 2 cores.

What it includes: hearth serving in this process on loopback (the client's own HTTP handling is in the times), the
scripted LLM answering at once from a process of its own (as a provider is not inside hearth). A turn is timed from
``POST …/turns`` to its terminal event as the node's event bus hands it to the chat's SSE streams (in-process, so
the SSE layer's own wake-up, which the end-to-end benchmark measures, is not in these times). The history is written
through the store (each turn with its reply and three journaled events), then every timed turn goes through the API;
the rounds interleave the two chats, after one untimed warm-up turn in each. "Beyond the LLM" is a turn's time minus
the time of the same chat-completion request (the body the native agent sent, replayed from the LLM's log) sent
straight to the scripted LLM from this process, measured the same way; the per-phase figures are the server's own
``hearth_turn_phase_seconds`` means over the timed turns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench._hearth import run_as_served
from bench._stats import spread
from bench._trial import Context, database
from core.events import AgentEvent, TextDelta, TurnCompleted, UsageReport, is_terminal
from core.model import Task, TaskStatus
from scripted_llm.process import ScriptedLLMProcess
from tests.plugins.service import Hearth, serve_hearth

PHASES = ("prepare", "session", "handoff", "agent", "persist", "diff", "finish")


async def write_history(hearth: Hearth, chat_id: str, turns: int) -> None:
    """Finished native turns written through the store, each as the runner leaves one: a reply and its events."""
    store = hearth.node.store
    for n in range(turns):
        task_id = f"turn_hist_{chat_id[-6:]}_{n:05d}"
        now = datetime.now(UTC)
        running = Task(
            id=task_id, chat_id=chat_id, agent="native", prompt=f"earlier prompt {n}", status=TaskStatus.RUNNING,
            created_at=now, started_at=now, node_id="bench",
        )  # fmt: skip
        await store.enqueue_task(running)
        reply = f"earlier reply {n}"
        events: list[AgentEvent] = [
            TextDelta(session_id="s", turn_id=task_id, part_id="p", text=reply),
            UsageReport(session_id="s", turn_id=task_id, input_tokens=10, output_tokens=5),
            TurnCompleted(session_id="s", turn_id=task_id),
        ]
        await store.append_events(task_id, chat_id, events)
        await store.finish_task(task_id, TaskStatus.SUCCEEDED, None, None, now, reply=reply)


async def timed_turn(hearth: Hearth, chat_id: str, prompt: str) -> float:
    """``POST …/turns`` to its terminal event, as the node's bus hands it to the chat's SSE streams."""
    async with hearth.node.bus.subscribe(chat_id) as live:
        started = time.perf_counter()
        response = await hearth.client.post(f"/api/chats/{chat_id}/turns", json={"agent": "native", "prompt": prompt})
        response.raise_for_status()
        async with asyncio.timeout(30):
            async for stored in live:
                if stored.task_id == response.json()["id"] and is_terminal(stored.event):
                    elapsed = time.perf_counter() - started
                    assert isinstance(stored.event, TurnCompleted), stored.event
                    return elapsed
    raise AssertionError("the bus closed before the turn's terminal event")


async def llm_round_trip(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> float:
    """The chat completion the native agent sent, sent again straight to the scripted LLM and read to its end."""
    started = time.perf_counter()
    async with client.stream("POST", url, json=body) as response:
        async for _ in response.aiter_bytes():
            pass
    return time.perf_counter() - started


async def timed_get(hearth: Hearth, url: str) -> float:
    started = time.perf_counter()
    (await hearth.client.get(url)).raise_for_status()
    return time.perf_counter() - started


def phase_sums(metrics: str) -> dict[str, tuple[float, int]]:
    found = {}
    for phase in PHASES:
        total = re.search(rf'hearth_turn_phase_seconds_sum{{phase="{phase}"}} (\S+)', metrics)
        count = re.search(rf'hearth_turn_phase_seconds_count{{phase="{phase}"}} (\S+)', metrics)
        found[phase] = (float(total.group(1)) if total else 0.0, int(count.group(1)) if count else 0)
    return found


async def measure(ctx: Context, store: str, rounds: int, history: int, reads: int) -> dict[str, Any]:
    async with database(store) as dsn:
        settings = ctx.settings(ctx.directory(f"history-{store}"), database_url=dsn)
        async with serve_hearth(settings) as hearth, httpx.AsyncClient(timeout=30) as direct:
            empty = (await hearth.create_chat(ctx.repo))["id"]
            long = (await hearth.create_chat(ctx.repo))["id"]
            await write_history(hearth, long, history)
            for chat in (empty, long):  # warm-up: the native session, connections, caches
                await timed_turn(hearth, chat, "warm up")
            # a worktree made less than a second ago is checked in full at every turn (its files' timestamps do not
            # vouch for it yet, ADR 0016); any chat's is past that by its second turn but not in a benchmark's loop
            await asyncio.sleep(1.1)
            before = phase_sums((await hearth.client.get("/metrics")).text)
            times: dict[str, list[float]] = {"empty": [], "long": []}
            llm: dict[str, list[float]] = {"empty": [], "long": []}
            url = ctx.llm.openai_base_url + "/chat/completions"
            for n in range(rounds):
                for label, chat in (
                    (("empty", empty), ("long", long)) if n % 2 == 0 else (("long", long), ("empty", empty))
                ):
                    times[label].append(await timed_turn(hearth, chat, f"no-op {n}"))
                    body = ctx.llm.log()[-1]["body"]
                    llm[label].append(await llm_round_trip(direct, url, body))
            after = phase_sums((await hearth.client.get("/metrics")).text)
            reads_of: dict[str, list[float]] = {"chat": [], "sessions": []}
            for _ in range(reads):
                reads_of["chat"].append(await timed_get(hearth, f"/api/chats/{long}"))
                reads_of["sessions"].append(await timed_get(hearth, f"/api/chats/{long}/agent-sessions"))
    phases = {
        phase: (after[phase][0] - before[phase][0]) / max(1, after[phase][1] - before[phase][1]) for phase in PHASES
    }
    return {"times": times, "llm": llm, "reads": reads_of, "phases": phases}


def report(results: dict[str, dict[str, Any]], history: int) -> None:
    med = statistics.median
    print(f"\nno-op native turn through the API (POST to its terminal event on the bus), empty chat vs {history} turns")
    for store, r in results.items():
        t, llm = r["times"], r["llm"]
        print(f"  {store:8} empty     {spread(t['empty'], 'ms', 1000, 1)}")
        print(f"  {store:8} {history:<5} {spread(t['long'], 'ms', 1000, 1)}")
        print(
            f"  {store:8} ratio {history}/empty: medians {med(t['long']) / med(t['empty']):.2f}x, minimums "
            f"{min(t['long']) / min(t['empty']):.2f}x  (target <= 1.10x)"
        )
        for label in ("empty", "long"):
            beyond = [turn - rtt for turn, rtt in zip(t[label], llm[label], strict=True)]
            print(
                f"  {store:8} beyond the LLM call ({label}): {spread(beyond, 'ms', 1000, 1)}"
                f"  [LLM round trip alone: {spread(llm[label], 'ms', 1000, 1)}]; least disturbed (min turn - min "
                f"round trip): {(min(t[label]) - min(llm[label])) * 1000:.1f} ms  (target <= 5 ms on SQLite)"
            )
        own = {p: v * 1000 for p, v in r["phases"].items()}
        bookkeeping = sum(v for p, v in own.items() if p not in ("agent",))
        print(
            f"  {store:8} server phases, mean ms per turn: "
            + ", ".join(f"{p} {v:.2f}" for p, v in own.items())
            + f"; hearth's own (all but agent, persist included) {bookkeeping:.2f} ms"
        )
    print(f"\nreads at {history} turns of history: GET /api/chats/{{id}}/agent-sessions vs GET /api/chats/{{id}}")
    for store, r in results.items():
        chat, sessions = r["reads"]["chat"], r["reads"]["sessions"]
        print(f"  {store:8} GET chat        {spread(chat, 'ms', 1000, 2)}")
        print(f"  {store:8} agent-sessions  {spread(sessions, 'ms', 1000, 2)}")
        print(
            f"  {store:8} ratio: medians {med(sessions) / med(chat):.2f}x, minimums {min(sessions) / min(chat):.2f}x"
            "  (target <= 2x)"
        )


async def main(args: argparse.Namespace) -> None:
    results: dict[str, dict[str, Any]] = {}
    print(f"load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (2 cores: above 2 is contention)")
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as root, ScriptedLLMProcess(record_bodies=True) as llm:
        ctx = Context.create(llm, Path(root))
        for store in args.stores:
            print(f"measuring {store} ...", file=sys.stderr)
            results[store] = await measure(ctx, store, args.rounds, args.history, args.reads)
    report(results, args.history)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12, help="timed turns per chat (interleaved)")
    parser.add_argument("--history", type=int, default=1000, help="turns of history in the long chat")
    parser.add_argument("--reads", type=int, default=50, help="timed GETs of each read at that history")
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_as_served(main(parse(sys.argv[1:])))
