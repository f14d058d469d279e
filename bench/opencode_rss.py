"""Server RSS after 10 chats, each in its own worktree, with and without disposing idle chats' instances.

OpenCode keeps a per-directory instance (watchers, plugins, snapshot repo) until ``/instance/dispose``.
Run: ``.venv/bin/python -m bench.opencode_rss [--chats N]``. Each variant gets a fresh server; both
run in this one process, side by side. Starts its own scripted LLM; prints RSS and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from adapters.store.sqlite import SqliteStore
from bench._opencode import backend_at, git_dir, provider_for, runtime_for, turn
from core.ports.agents import SessionSpec
from scripted_llm.llm import ScriptedLLM


async def rss_after_chats(root: Path, llm: ScriptedLLM, chats: int, dispose: bool) -> tuple[int, int]:
    """(RSS right after spawn + first chat, RSS after all chats) in bytes for one fresh server."""
    store = await SqliteStore.open(root / "hearth.sqlite3")
    try:
        async with backend_at(runtime_for(root / "data", provider_for(llm)), store) as backend:
            first_rss = 0
            for index in range(chats):
                cwd = git_dir(root / f"worktree-{index}")
                spec = SessionSpec(chat_id=f"c{index}", agent="opencode", cwd=cwd)
                handle = (await backend.open_session(spec)).unwrap()
                await turn(handle, f"t{index}", f"WRITE note.txt chat {index} was here")
                if dispose:
                    await handle.close()  # the chat went idle and was evicted: its directory is released
                if index == 0:
                    first_rss = int(str((await backend.health())["rss_bytes"]))
            await asyncio.sleep(3.0)  # let the server settle (GC of disposed instances)
            return first_rss, int(str((await backend.health())["rss_bytes"]))
    finally:
        await store.close()


async def measure(chats: int) -> dict[bool, tuple[int, int]]:
    results: dict[bool, tuple[int, int]] = {}
    with ScriptedLLM() as llm:
        for dispose in (False, True):
            with tempfile.TemporaryDirectory(prefix="hearth-bench-rss-") as tmp:
                results[dispose] = await rss_after_chats(Path(tmp), llm, chats, dispose)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=10)
    args = parser.parse_args()
    results = asyncio.run(measure(args.chats))
    mib = 1024 * 1024
    for dispose, (first, last) in results.items():
        label = "with instance disposal   " if dispose else "without instance disposal"
        print(f"{label}: RSS after 1 chat {first / mib:7.1f} MiB, after {args.chats} chats {last / mib:7.1f} MiB")
    kept, disposed = results[False][1], results[True][1]
    saved = (kept - disposed) / mib
    print(f"RSS without / with disposal after {args.chats} chats: {kept / disposed:.2f}x ({saved:+.1f} MiB)")


if __name__ == "__main__":
    main()
