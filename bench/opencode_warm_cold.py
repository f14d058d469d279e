"""OpenCode turns three ways: a true cold start, a restart on a warm disk, and a warm turn.

Run: ``.venv/bin/python -m bench.opencode_warm_cold [--rounds N] [--warm-turns M]``. Starts its own scripted
LLM; needs opencode in hearth's agent cache (``hearth agents install opencode``). Each figure is measured from
``open_session`` (or the turn's start, for warm turns) to the turn's terminal event and printed as min / median /
max:

* cold: spawn ``opencode serve`` on a fresh, empty data dir (as on a new node) + new session + first turn;
* warm-disk restart: the same, on a data dir an earlier server already filled (its database, caches) - what a
  hearth restart or a respawn after a crash costs;
* warm: the next turn on the same session of a running server.

Every round after the first runs with opencode's files in the OS page cache: the first-ever start of a machine
is slower than any cold figure here. Every figure calls hearth's OpenCode adapter directly (no API, queue, journal
or SSE; ``bench.e2e_turn`` measures through the product), and the warm-disk restarts reuse the data dir the first
server filled.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from adapters.store.sqlite import SqliteStore
from bench._opencode import backend_at, git_dir, provider_for, runtime_for, timer, turn
from bench._stats import spread
from core.ports.agents import BackendRuntime, SessionSpec
from scripted_llm.llm import ScriptedLLM


async def _round(
    runtime: BackendRuntime, store: SqliteStore, cwd: str, name: str, warm_turns: int, warm: list[float]
) -> float:
    """One server: spawn + session + first turn (returned), then ``warm_turns`` more turns (into ``warm``)."""
    async with backend_at(runtime, store) as backend:
        started = timer()
        handle = (await backend.open_session(SessionSpec(chat_id=name, agent="opencode", cwd=cwd))).unwrap()
        await turn(handle, f"{name}-first", "hello, first turn")
        first = timer() - started
        for index in range(warm_turns):
            started = timer()
            await turn(handle, f"{name}-warm-{index}", f"hello again {index}")
            warm.append(timer() - started)
    return first


async def measure(rounds: int, warm_turns: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"cold": [], "restart": [], "warm": []}
    with ScriptedLLM() as llm, tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        root = Path(tmp)
        store = await SqliteStore.open(root / "hearth.sqlite3")
        provider = provider_for(llm)
        shared = runtime_for(root / "data-shared", provider)  # filled by its first server, reused by the restarts
        try:
            await _round(shared, store, git_dir(root / "chat-fill"), "fill", 0, [])
            for number in range(rounds):
                fresh = runtime_for(root / f"data-cold-{number}", provider)  # nothing on disk yet
                cold = await _round(fresh, store, git_dir(root / f"chat-cold-{number}"), f"cold{number}", 0, [])
                found["cold"].append(cold)
                cwd = git_dir(root / f"chat-restart-{number}")
                found["restart"].append(await _round(shared, store, cwd, f"restart{number}", warm_turns, found["warm"]))
        finally:
            await store.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="cold starts, and as many warm-disk restarts")
    parser.add_argument("--warm-turns", type=int, default=5, help="warm turns after each restart")
    args = parser.parse_args()
    found = asyncio.run(measure(args.rounds, args.warm_turns))
    print("hearth's OpenCode adapter called directly (no API); warm-disk restarts reuse the data dir of round 1")
    print(f"cold (fresh data dir: spawn + session + turn):   {spread(found['cold'])}")
    print(f"warm-disk restart (used data dir: same steps):   {spread(found['restart'])}")
    print(f"warm (next turn, same session, server running):  {spread(found['warm'])}")
    warm = statistics.median(found["warm"])
    cold, restart = statistics.median(found["cold"]), statistics.median(found["restart"])
    print(
        f"median ratios: cold / warm {cold / warm:.1f}x (aim: >= 15x), warm-disk restart / warm {restart / warm:.1f}x"
    )


if __name__ == "__main__":
    main()
