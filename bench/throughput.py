"""Throughput through the product: many chats at once against a scripted LLM, native agent, SQLite.

Run: ``.venv/bin/python -m bench.throughput [--chats 50] [--turns 5] [--rounds 3]``. hearth runs in this process
(uvicorn, the real dispatcher, journal and SSE); every time is taken by an HTTP client. Two figures:

* slow LLM: one turn whose LLM answer takes 2 s (20 chunks 0.1 s apart), alone, against ``--chats`` chats sending
  one such turn each at once; from the first ``POST …/turns`` to the last turn's terminal event on its chat's SSE
  stream. Target: the many within 2x the one (turns wait on the LLM, not on each other).
* instant LLM: ``--chats`` chats x ``--turns`` turns queued at once; the wall time from the first POST to the last
  terminal event against the sum of the turns' own times (``started_at`` to ``finished_at``, as stored) divided by
  the cores. Target: within 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench._hearth import Api, run_as_served, served, settings_for
from bench._opencode import git_dir
from bench._stats import spread
from scripted_llm.llm import ScriptedLLM

SLOW = "SLOW=0.1 answer slowly"  # 20 chunks, 0.1 s apart: a 2 s answer


async def _many(api: Api, chats: list[str], prompts: list[str]) -> tuple[float, list[dict[str, object]]]:
    async def send(chat: str) -> None:
        for prompt in prompts:  # one chat's turns in order; the chats side by side, as independent clients would
            await api.submit(chat, "native", prompt)

    started = time.perf_counter()
    await asyncio.gather(*(send(chat) for chat in chats))
    turns = await asyncio.gather(*(api.finished(chat, len(prompts)) for chat in chats))
    return time.perf_counter() - started, [turn for listed in turns for turn in listed]


def _own_time(turn: dict[str, object]) -> float:
    started, finished = str(turn["started_at"]), str(turn["finished_at"])
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


async def measure(chats: int, turns: int, rounds: int) -> None:
    with ScriptedLLM() as llm, tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        root = Path(tmp)
        repo = git_dir(root / "repo")
        async with served(settings_for(root, llm)) as api:
            one: list[float] = []
            many: list[float] = []
            for _ in range(rounds):
                one.append(await api.timed_turn(await api.chat(repo), "native", SLOW))
                group = [await api.chat(repo) for _ in range(chats)]
                wall, done = await _many(api, group, [SLOW])
                assert all(turn["status"] == "succeeded" for turn in done), done
                many.append(wall)
            print(f"slow LLM (2 s answer), one turn alone, POST to terminal SSE event: {spread(one)}")
            print(f"slow LLM, {chats} chats x 1 turn at once, first POST to last terminal: {spread(many)}")
            ratio = statistics.median(many) / statistics.median(one)
            print(f"  ratio many / one (medians; target <= 2.0): {ratio:.2f}x")
            cores = os.cpu_count() or 1
            ratios: list[float] = []
            walls: list[float] = []
            alone: list[float] = []
            for _ in range(rounds):
                chat = await api.chat(repo)
                for index in range(turns):  # a chat's own turns, each alone on the node: its uncontended cost
                    await api.timed_turn(chat, "native", f"alone {index}")
                alone += [_own_time(turn) for turn in (await api.client.get(f"/api/chats/{chat}/turns")).json()]
                group = [await api.chat(repo) for _ in range(chats)]
                wall, done = await _many(api, group, [f"instant turn {i}" for i in range(turns)])
                assert all(turn["status"] == "succeeded" for turn in done), done
                walls.append(wall)
                ratios.append(wall / (len(done) * statistics.median(alone) / cores))
            print(f"instant LLM, one turn alone, claim to finish as stored: {spread(alone, 'ms', 1000, 1)}")
            print(f"instant LLM, {chats} chats x {turns} turns queued at once, wall: {spread(walls)}")
            label = f"wall / ({chats * turns} x the median turn alone / {cores} cores)"
            print(f"  {label} (target <= 2.0): {spread(ratios, 'x', digits=2)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run_as_served(measure(args.chats, args.turns, args.rounds))


if __name__ == "__main__":
    main()
