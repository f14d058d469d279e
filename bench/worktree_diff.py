"""The git work on every turn's path: ``ensure`` of the chat's worktree before the agent, ``diff`` after it, by
repository size.

Run: ``.venv/bin/python -m bench.worktree_diff [--rounds N] [--sizes 100,2000,10000] [--large 4]``. For each
repository (N small files in folders of 100; and a few 20 MiB files), committed, with one chat worktree made by
``GitWorktrees`` as a turn makes it, it times with no change, with one file changed just before (this turn's
change: its blob is stored), and with that change two seconds old (a change from an earlier turn, still pending:
its stored blob is reused):

* ``ensure``: ``GitWorktrees.ensure`` of the existing worktree through asyncio, lock and worker thread included;
  ``unchanged`` is the worktree verified before and untouched since (answered from its fingerprint), ``full`` the
  checks a new process makes (an adapter that trusts no fingerprint);
* ``diff``: ``GitWorktrees.diff`` (per-file unified diffs against the base commit) after one warm-up diff (the
  first diff of a worktree builds its stat cache). ``watched``: nothing happened in the worktree since that diff,
  which inotify vouches for, so it is answered on the event loop (ADR 0017); ``stat cache``: an adapter with no
  watches, which diffs through asyncio, lock and worker thread (what a turn that touched any file costs);
* ``plain``: libgit2's tree -> working directory diff without a stat cache, which reads and hashes every file (what
  every diff did before the stat cache, and still the fallback when the cache cannot be used), in the thread;
* ``git``: the reference, ``git status --porcelain -uall`` then ``git diff <base>`` run as processes on the same
  worktree (git's own stat-cached index; includes two process starts).

The worktree's files are left to settle for two seconds before timing (more than the settle time: stat data of files
changed within it vouches for nothing). The machine is shared and noisy: compare the rows of one run, not runs.
Figures: min / median / max in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pygit2

from adapters.git.quiet import QuietWorktrees
from adapters.git.repos import commit_at, open_worktree
from adapters.git.statcache import plain_deltas
from adapters.git.state import WORKDIR_FLAGS
from adapters.git.worktrees import GitWorktrees
from bench._stats import spread
from core.model import Worktree

LARGE_MIB = 20


def make_repo(path: Path, small: int, large: int) -> str:
    repo = pygit2.init_repository(str(path), initial_head="main")
    for n in range(small):
        folder = path / f"d{n // 100}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{n}.txt").write_text(f"file {n}\n" * 20)
    for n in range(large):
        (path / f"large{n}.bin").write_bytes(os.urandom(1024 * 1024) * LARGE_MIB)
    (path / "README.md").write_text("# bench\n")
    repo.index.add_all()
    repo.index.write()
    who = pygit2.Signature("bench", "bench@hearth.invalid")
    repo.create_commit("HEAD", who, who, "initial", repo.index.write_tree(), [])
    return str(path)


async def timed(rounds: int, step: Callable[[], Awaitable[object]]) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await step()
        samples.append(time.perf_counter() - start)
    return samples


def plain(worktrees_dir: Path, worktree: Worktree) -> int:
    _, wrepo = open_worktree(worktrees_dir, worktree)
    return len(plain_deltas(commit_at(wrepo, worktree.base_commit, "base").tree, WORKDIR_FLAGS))


def git_reference(worktree: Worktree) -> None:
    for argv in (["status", "--porcelain", "-uall"], ["diff", worktree.base_commit]):
        subprocess.run(["git", "-C", worktree.path, *argv], check=True, capture_output=True)


async def measure(label: str, small: int, large: int, rounds: int, root: Path) -> None:
    repo = make_repo(root / f"repo-{small}-{large}", small, large)
    worktrees = GitWorktrees([root], root / "worktrees")
    unwatched = GitWorktrees([root], root / "worktrees", quiet=QuietWorktrees(max_dirs=0))
    distrustful = GitWorktrees([root], root / "worktrees", settle=timedelta(days=1))
    worktree = (await worktrees.ensure("bench", repo, None, None, datetime.now(UTC))).unwrap()
    await asyncio.sleep(2.1)
    (await worktrees.ensure("bench", repo, None, worktree, datetime.now(UTC))).unwrap()  # verified once
    changed = Path(worktree.path) / ("d0/f1.txt" if small else "README.md")
    for state in ("no change", "1 changed", "1 earlier"):
        if state == "1 changed":
            changed.write_text("changed by the agent\n")
        if state == "1 earlier":
            await asyncio.sleep(2.1)
        (await worktrees.diff(worktree)).unwrap()  # warm-up
        rows: dict[str, list[float]] = {
            "ensure unchanged": await timed(
                rounds, lambda: worktrees.ensure("bench", repo, None, worktree, datetime.now(UTC))
            ),
            "ensure full": await timed(
                rounds, lambda: distrustful.ensure("bench", repo, None, worktree, datetime.now(UTC))
            ),
            "diff (watched)": await timed(rounds, lambda: worktrees.diff(worktree)),
            "diff (stat cache)": await timed(rounds, lambda: unwatched.diff(worktree)),
            "plain (no stat cache)": await timed(
                rounds, lambda: asyncio.to_thread(plain, worktrees.worktrees_dir, worktree)
            ),
            "git status + git diff": await timed(rounds, lambda: asyncio.to_thread(git_reference, worktree)),
        }
        for name, samples in rows.items():
            print(f"{label:>24} | {state:9} | {name:22} | {spread(samples, 'ms', 1000, 2)}", flush=True)
    if worktrees.unchanged_ensures < 3 * rounds:
        print(f"{label:>24} | note: only {worktrees.unchanged_ensures} ensures answered from the fingerprint")
    if worktrees.quiet_diffs < 3 * rounds:
        print(f"{label:>24} | note: only {worktrees.quiet_diffs} diffs answered from the watches")
    worktrees.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sizes", default="100,2000,10000", help="small-file counts, comma-separated")
    parser.add_argument("--large", type=int, default=4, help=f"{LARGE_MIB} MiB files in the last repository")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for small in (int(size) for size in args.sizes.split(",") if size):
            await measure(f"{small} small files", small, 0, args.rounds, Path(tmp))
        if args.large:
            await measure(f"{args.large} x {LARGE_MIB} MiB files", 0, args.large, args.rounds, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
