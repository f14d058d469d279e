"""What the sandbox adds: per shell command and per warm turn, sandboxed vs not, side by side.

Run: ``.venv/bin/python -m bench.sandbox_cost [--commands N] [--turns M] [--agents native,qwen,...]``. Starts
its own scripted LLM and a git repository with a linked worktree laid out as hearth lays chat worktrees out;
needs bubblewrap and the agents in hearth's agent cache. Figures are min / median / max:

* per command: ``bash -c true`` started directly, under ``bwrap`` with the argument list ``core.sandbox``
  decides, and through the sandboxed shell stand-in agents run (a Python start that plans, then ``bwrap``):
  wall time, CPU time and the peak RSS of that command's processes (GNU time);
* per warm turn: one turn whose scripted LLM asks for ``BASH true`` on a warm session, from the turn's start to
  its terminal event (the LLM round trips, the tool call and the command), for each built-in agent (native in
  process; OpenCode's server; warm ACP processes for the others), each with ``sandbox="off"`` and ``"worktree"``.

The machine is shared and noisy: compare the columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

import pygit2

from adapters.acp.warm import WarmAcpBackend
from adapters.native.agent import NativeBackend
from adapters.opencode.backend import OpenCodeServerBackend
from adapters.sandbox.layout import bash_path, sandboxed_argv
from adapters.sandbox.shim import agent_policy, sandbox_env
from adapters.store.sqlite import SqliteStore
from app.clock import SystemClock
from bench._opencode import git_dir
from bench._stats import spread
from core.agents import BUILTIN_AGENTS, AgentSpec, ProviderConfig
from core.events import TurnCompleted, is_terminal
from core.ports.agents import AgentBackend, BackendRuntime, SessionSpec, TurnInput
from scripted_llm.llm import ScriptedLLM

SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}
ALL_AGENTS = ("native", "opencode", "qwen", "claude", "gemini", "opencode-acp")


def linked_worktree(root: Path) -> tuple[Path, Path]:
    """A repository and a worktree of it at ``<root>/worktrees/<repo>/<name>``, as hearth makes for a chat."""
    repo_dir = Path(git_dir(root / "repo"))
    repo = pygit2.Repository(str(repo_dir))
    branch = repo.branches.local.create("hearth/chat-bench", repo.head.peel(pygit2.Commit))
    worktree = root / "worktrees" / "repo" / "chat-bench"
    worktree.parent.mkdir(parents=True)
    repo.add_worktree("chat-bench", str(worktree), branch)
    return root / "worktrees", worktree


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "RSS %M CPU %U %S", *argv], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - started
    found = re.search(r"RSS (\d+) CPU ([\d.]+) ([\d.]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no figures from /usr/bin/time: {done.stderr[-300:]}")
    return elapsed, float(found.group(1)) / 1024, float(found.group(2)) + float(found.group(3))


def per_command(root: Path, rounds: int) -> dict[str, tuple[list[float], list[float], list[float]]]:
    worktrees, worktree = linked_worktree(root)
    policy = agent_policy(root / "agents" / "bench", worktrees)
    env = {**os.environ, **sandbox_env(policy, os.environ.get("PATH", os.defpath))}
    command = (bash_path(), "-c", "true")
    routes = {
        "direct bash -c true": list(command),
        "bwrap (core.sandbox argv)": sandboxed_argv(policy, str(worktree), command).unwrap(),
        "sandboxed shell stand-in": [str(Path(policy.shim_dir) / "bash"), "-c", "true"],
    }
    found: dict[str, tuple[list[float], list[float], list[float]]] = {name: ([], [], []) for name in routes}
    for _ in range(rounds):
        for name, argv in routes.items():  # interleaved, so machine noise hits every route alike
            for into, value in zip(found[name], _time(argv, worktree, env), strict=True):
                into.append(value)
    return found


async def _turns(backend: AgentBackend, cwd: Path, name: str, rounds: int) -> list[float]:
    handle = (await backend.open_session(SessionSpec(chat_id=name, agent=name, cwd=str(cwd)))).unwrap()
    times = []
    for index in range(rounds + 1):  # the first turn warms the session up and is not counted
        started = time.perf_counter()
        async with aclosing(handle.run_turn(TurnInput(turn_id=f"{name}-{index}", prompt="BASH true"))) as events:
            async for event in events:
                if is_terminal(event):
                    if not isinstance(event, TurnCompleted):
                        raise RuntimeError(f"{name} turn {index} did not complete: {event!r}")
                    break
        if index:
            times.append(time.perf_counter() - started)
    await handle.close()
    return times


async def per_turn(root: Path, rounds: int, agents: list[str]) -> dict[str, list[float]]:
    worktrees, worktree = linked_worktree(root / "turns")
    found: dict[str, list[float]] = {}
    with ScriptedLLM() as llm:
        provider = ProviderConfig(
            openai_base_url=llm.openai_base_url,
            openai_api_key="fake",
            openai_model="fake-model",
            anthropic_base_url=llm.anthropic_base_url,
            anthropic_api_key="fake",
            gemini_base_url=llm.gemini_base_url,
            gemini_api_key="fake",
        )
        store = await SqliteStore.open(root / "hearth.sqlite3")
        try:
            for agent in agents:
                for mode in ("off", "worktree"):
                    spec: AgentSpec = SPECS[agent].model_copy(update={"sandbox": mode})
                    runtime = BackendRuntime(
                        data_dir=str(root / f"data-{agent}-{mode}"),
                        agents_dir=str(Path.home() / ".cache" / "hearth" / "agents"),
                        node_id="bench",
                        provider=provider,
                        worktrees_dir=str(worktrees),
                    )
                    backend: AgentBackend
                    if agent == "native":
                        backend = NativeBackend(spec, runtime)
                    elif agent == "opencode":
                        backend = OpenCodeServerBackend(spec, runtime, store, SystemClock())
                    else:
                        backend = WarmAcpBackend(spec, runtime, store, SystemClock())
                    try:
                        found[f"{agent} sandbox={mode}"] = await _turns(backend, worktree, f"{agent}-{mode}", rounds)
                    finally:
                        await backend.aclose()
        finally:
            await store.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=30, help="commands per route")
    parser.add_argument("--turns", type=int, default=5, help="warm turns per agent and mode")
    parser.add_argument("--agents", default=",".join(ALL_AGENTS), help="comma-separated built-in agents")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hearth-bench-sandbox-") as tmp:
        commands = per_command(Path(tmp) / "commands", args.commands)
        turns = asyncio.run(per_turn(Path(tmp), args.turns, args.agents.split(",")))
    base = statistics.median(commands["direct bash -c true"][0])
    print("per command: wall time, CPU (user+sys, 10 ms ticks), peak RSS of the command's processes:")
    for name, (times, rss, cpu) in commands.items():
        extra = statistics.median(times) - base
        print(f"  {name:<28} wall {spread(times, 'ms', 1000, 1)}  +{extra * 1000:.1f} ms")
        print(f"  {'':<28} CPU  {spread(cpu, 'ms', 1000, 0)}  RSS {spread(rss, 'MiB', 1, 1)}")
    print("per warm turn with one BASH true (turn start to terminal event):")
    for agent in args.agents.split(","):
        off, on = turns.get(f"{agent} sandbox=off"), turns.get(f"{agent} sandbox=worktree")
        if off and on:
            ratio = statistics.median(on) / statistics.median(off)
            print(f"  {agent:<12} off      {spread(off, 'ms', 1000, 1)}")
            print(f"  {agent:<12} worktree {spread(on, 'ms', 1000, 1)}  ratio {ratio:.2f}x")


if __name__ == "__main__":
    main()
