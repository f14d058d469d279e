"""Many chats across opencode, qwen and claude under a memory budget, against no budget (ADR 0015).

Run: ``.venv/bin/python -m bench.memory_budget`` (6 chats, a 1.5 GiB budget: small enough for a 2-core machine;
below one process of each agent, about 1.2 GiB, every turn would wait for the others and start cold), or
``--chats 30 --budget-mib 2048`` for the full run. Starts its own scripted LLM and hearth (SQLite); needs the
agents in hearth's cache (``hearth agents install``).

Each mode runs the same script: every chat's first turn leaves a background job running in its worktree
(``sleep S; touch marker``), then ``--rounds`` rounds of one short turn per chat, three chats at a time (one per
agent). Printed per mode:

* peak total agent RSS: the sum of every agent process tree's resident memory, polled every 0.5 s from /proc
  independently of hearth's own sampler, against 1.1 x the budget;
* evictions by reason; turns failed (a busy eviction would fail its turn: there must be none);
* background jobs killed: markers missing once every job had time to finish;
* per agent, turn time (submit to terminal state, through the HTTP API) when its session was warm, and when it
  had been evicted (reopened and resumed), as min / median / max, with the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from adapters.procfs import tree_rss_bytes
from bench._stats import spread
from bench._trial import Context
from scripted_llm.llm import ScriptedLLM
from tests.plugins.service import Hearth, serve_hearth

MIB = 1024 * 1024
AGENTS = ("opencode", "qwen", "claude")


def background_prompt(agent: str, job: str) -> str:
    if agent == "qwen":  # qwen refuses a trailing "&": it runs background commands itself
        return "TOOL run_shell_command " + json.dumps({"command": job, "is_background": True, "description": "bg"})
    return f"BASH ({job}) > /dev/null 2>&1 &"


def _tree_sizes(pids: list[int]) -> list[int]:
    return [tree_rss_bytes(pid) for pid in pids]


async def _poll_rss(hearth: Hearth, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        pids = [info.pid for backend in hearth.node.jobs.backends.values() for info in backend.processes()]
        total = sum(await asyncio.to_thread(_tree_sizes, pids))
        peak[0] = max(peak[0], total)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def _timed_turn(hearth: Hearth, chat: str, agent: str, prompt: str) -> tuple[str, float, bool]:
    """(status, seconds, whether the session was live when the turn was submitted)."""
    warm = hearth.node.pool.find(chat, agent) is not None
    started = time.perf_counter()
    turn = await hearth.submit(chat, agent, prompt)
    done = await hearth.wait_turn(chat, turn["id"], timeout=300)
    return done["status"], time.perf_counter() - started, warm


async def run_mode(context: Context, label: str, args: argparse.Namespace, budget_mib: int) -> dict[str, Any]:
    settings = context.settings(
        context.directory(label),
        memory_budget_mib=budget_mib,
        memory_sample_interval_s=1.0,
        eviction_interval_s=5.0,
        max_live=1000,  # only the budget bounds the live sessions here
        admission_wait_s=120.0,
    )
    times: dict[tuple[str, bool], list[float]] = defaultdict(list)
    failed: list[str] = []
    peak, stop = [0], asyncio.Event()
    async with serve_hearth(settings) as hearth:
        poller = asyncio.create_task(_poll_rss(hearth, peak, stop))
        try:
            chats = [((await hearth.create_chat(context.repo))["id"], AGENTS[i % 3]) for i in range(args.chats)]
            markers: list[Path] = []
            for chat, agent in chats:
                worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
                markers.append(worktree / "job-finished")
                prompt = background_prompt(agent, f"sleep {args.job_s}; touch {markers[-1]}")
                status, _, _ = await _timed_turn(hearth, chat, agent, prompt)
                if status != "succeeded":
                    failed.append(f"{agent} {chat}: {status}")
            jobs_started = time.monotonic()
            for round_no in range(args.rounds):
                for start in range(0, len(chats), 3):
                    batch = chats[start : start + 3]
                    results = await asyncio.gather(
                        *(_timed_turn(hearth, chat, agent, f"round {round_no} hello") for chat, agent in batch)
                    )
                    for (chat, agent), (status, seconds, warm) in zip(batch, results, strict=True):
                        times[(agent, warm)].append(seconds)
                        if status != "succeeded":
                            failed.append(f"{agent} {chat}: {status}")
            await asyncio.sleep(max(0.0, args.job_s + 2 - (time.monotonic() - jobs_started)))
            killed = sum(1 for marker in markers if not marker.exists())
            evictions = dict(hearth.node.metrics.evictions_by_reason)
        finally:
            stop.set()
            await poller
    return {"peak": peak[0], "times": times, "failed": failed, "killed": killed, "evictions": evictions}


def report(label: str, budget_mib: int, result: dict[str, Any], warm_elsewhere: dict[str, list[float]]) -> None:
    peak_mib = result["peak"] / MIB
    bound = f"{1.1 * budget_mib:.0f} MiB (1.1 x budget)" if budget_mib else "no budget"
    print(f"\n== {label}: peak total agent RSS {peak_mib:.0f} MiB; bound {bound}")
    print(f"   evictions by (agent, reason): {result['evictions'] or 'none'}")
    print(f"   turns failed (a busy eviction would fail one): {len(result['failed'])} {result['failed'] or ''}")
    print(f"   background jobs killed: {result['killed']}")
    for agent in AGENTS:
        warm, cold = result["times"].get((agent, True), []), result["times"].get((agent, False), [])
        base = warm or warm_elsewhere.get(agent, [])  # every turn was cold: compare with the unbudgeted run
        ratio = f"{statistics.median(cold) / statistics.median(base):.1f}x" if base and cold else "-"
        print(f"   {agent:8} warm turn {spread(warm)}")
        print(f"   {agent:8} first turn after eviction {spread(cold)}; over the warm median: {ratio}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=6, help="chats, spread over opencode, qwen, claude (full: 30)")
    parser.add_argument("--budget-mib", type=int, default=1536, help="the budget (full run: 2048)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of one short turn per chat")
    parser.add_argument("--job-s", type=float, default=20.0, help="how long each background job runs")
    args = parser.parse_args()
    print(f"{args.chats} chats, {args.rounds} rounds, background jobs of {args.job_s:.0f} s")
    with ScriptedLLM() as llm, tempfile.TemporaryDirectory(prefix="hearth-bench-") as root:
        context = Context.create(llm, Path(root))
        budgeted = await run_mode(context, "budget", args, args.budget_mib)
        unbounded = await run_mode(context, "none", args, 0)
    warm = {agent: unbounded["times"].get((agent, True), []) for agent in AGENTS}
    report(f"budget {args.budget_mib} MiB", args.budget_mib, budgeted, warm)
    report("no budget", 0, unbounded, warm)


if __name__ == "__main__":
    asyncio.run(main())
