"""Cold turn (spawn `opencode serve` + new session + first turn) vs warm turn (next turn, same session).

Run: ``.venv/bin/python -m bench.opencode_warm_cold [--rounds N]``. Starts its own scripted LLM; needs
opencode in hearth's agent cache (``hearth agents install opencode``). Prints medians and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from adapters.store.sqlite import SqliteStore
from bench._opencode import backend_at, git_dir, median, provider_for, runtime_for, timer, turn
from core.ports.agents import SessionSpec
from scripted_llm.llm import ScriptedLLM


async def measure(rounds: int, warm_turns: int) -> tuple[list[float], list[float]]:
    cold: list[float] = []
    warm: list[float] = []
    with ScriptedLLM() as llm, tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        root = Path(tmp)
        store = await SqliteStore.open(root / "hearth.sqlite3")
        runtime = runtime_for(root / "data", provider_for(llm))
        try:
            for round_no in range(rounds):
                cwd = git_dir(root / f"chat-{round_no}")
                async with backend_at(runtime, store) as backend:
                    started = timer()
                    handle = (
                        await backend.open_session(SessionSpec(chat_id=f"c{round_no}", agent="opencode", cwd=cwd))
                    ).unwrap()
                    await turn(handle, f"cold-{round_no}", "hello, cold start")
                    cold.append(timer() - started)
                    for index in range(warm_turns):
                        started = timer()
                        await turn(handle, f"warm-{round_no}-{index}", f"hello again {index}")
                        warm.append(timer() - started)
        finally:
            await store.close()
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="cold starts (each followed by warm turns)")
    parser.add_argument("--warm-turns", type=int, default=5)
    args = parser.parse_args()
    cold, warm = asyncio.run(measure(args.rounds, args.warm_turns))
    print(f"cold turn (spawn + session + turn): median {median(cold):.3f} s  {[f'{c:.3f}' for c in cold]}")
    print(f"warm turn (same session):           median {median(warm):.3f} s  {[f'{w:.3f}' for w in warm]}")
    print(f"cold / warm ratio: {median(cold) / median(warm):.1f}x  (aim: >= 15x)")


if __name__ == "__main__":
    main()
