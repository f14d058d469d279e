"""Throughput through the product: many chats at once against a scripted LLM, native agent, SQLite.

Run: ``.venv/bin/python -m bench.throughput [--chats 50] [--turns 5] [--rounds 3]``. hearth runs in this process
(uvicorn, the real dispatcher, journal and SSE); the scripted LLM in a process of its own, as a provider is not
inside hearth. Every time is taken by the small HTTP client (``bench._lean_http``): each chat's stream is opened
first, as a front end's is, then its turns are posted. Two figures:

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
from core.events import TERMINAL_EVENT_TYPES
from scripted_llm.process import ScriptedLLMProcess

SLOW = "SLOW=0.1 answer slowly"  # 20 chunks, 0.1 s apart: a 2 s answer


async def _many(api: Api, chats: list[str], prompts: list[str]) -> tuple[float, list[dict[str, object]]]:
    """Each chat as a front end drives it: its stream opened, its turns submitted in order, then read until the last
    one's terminal event; the chats side by side. The wall time runs from the first POST to the last terminal event
    (the turns as stored are read after it)."""
    turns_at = {chat: f"/api/chats/{chat}/turns" for chat in chats}

    async def drive(chat: str, opened: asyncio.Event) -> float:
        async with api.lean.events(f"/api/chats/{chat}/events") as stream:
            opened.set()
            await go.wait()
            for prompt in prompts:
                status, body = await api.lean.post_json(turns_at[chat], {"agent": "native", "prompt": prompt})
                if status != 202:
                    raise RuntimeError(f"POST {turns_at[chat]} answered {status}: {body}")
            finished = 0
            async for data in stream:
                if data["type"] in TERMINAL_EVENT_TYPES:
                    finished += 1
                    if finished == len(prompts):
                        return time.perf_counter()
        raise RuntimeError(f"the stream of chat {chat} ended early")

    go = asyncio.Event()
    ready = [asyncio.Event() for _ in chats]
    driving = [asyncio.create_task(drive(chat, opened)) for chat, opened in zip(chats, ready, strict=True)]
    await asyncio.gather(*(opened.wait() for opened in ready))
    started = time.perf_counter()
    go.set()
    ends = await asyncio.gather(*driving)
    turns = [(await api.client.get(turns_at[chat])).json() for chat in chats]
    return max(ends) - started, [turn for listed in turns for turn in listed]


def _own_time(turn: dict[str, object]) -> float:
    started, finished = str(turn["started_at"]), str(turn["finished_at"])
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


async def measure(chats: int, turns: int, rounds: int) -> None:
    with ScriptedLLMProcess() as llm, tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
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
