"""Warm vs cold ACP turns, memory per warm session, and what one crash takes down.

Run: ``.venv/bin/python -m bench.acp_warm_cold [--agents qwen claude] [--rounds 3] [--sessions 4]``.
Starts its own scripted LLM; needs the agents in hearth's cache (``hearth agents install``).

Times are printed as min / median / max over the rounds; every figure says what it includes. Every figure calls
hearth's ACP adapters directly (no API, queue, journal or SSE; ``bench.e2e_turn`` measures through the product).

* cold turn: spawn + ``initialize`` + ``session/new`` + first turn (the one-shot path), to the terminal event,
  each round in a fresh data dir (the agent's home: settings, session files); rounds after the first find the
  agent's files in the OS page cache, so a machine's first-ever start is slower;
* warm turn: the next turn on the same warm session, its process already running;
* memory: RSS of the agent's process tree (the agent and its children) with 1 warm session, then with N sessions
  in the same process (one process per agent), against N processes holding one session each;
* blast radius: kill -9 of the shared process and count the sessions whose handles died;
* eviction: the memory the agent still holds after all N sessions were evicted, never recycling against a
  recycling budget low enough that it must trigger (1 MiB), with the count of processes it stopped; and whether
  the default budget would have (it recycles only once evicted sessions hold more than it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import tempfile
import time
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path

from adapters.acp.oneshot import OneShotAcpBackend
from adapters.acp.warm import WarmAcpBackend
from adapters.procfs import tree_rss_bytes
from adapters.store.sqlite import SqliteStore
from bench._stats import spread
from core.agents import BUILTIN_AGENTS, AgentSpec, ProviderConfig
from core.events import is_terminal
from core.lifecycle import RecyclePolicy
from core.model import BackendKind
from core.ports.agents import BackendRuntime, SessionHandle, SessionSpec, TurnInput
from scripted_llm.llm import ScriptedLLM

MIB = 1024 * 1024


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


async def _turn(handle: SessionHandle, turn_id: str, prompt: str) -> float:
    """Run one turn; return when its terminal event arrived (a one-shot process stops after that)."""
    async with asyncio.timeout(120), aclosing(handle.run_turn(TurnInput(turn_id=turn_id, prompt=prompt))) as stream:
        async for event in stream:
            if is_terminal(event):
                assert event.type == "turn_completed", event
                return time.perf_counter()
    raise AssertionError("the turn ended without a terminal event")


def _provider(llm: ScriptedLLM) -> ProviderConfig:
    return ProviderConfig(
        openai_base_url=llm.openai_base_url,
        openai_api_key="bench",
        openai_model="fake-model",
        anthropic_base_url=llm.anthropic_base_url,
        anthropic_api_key="bench",
        gemini_base_url=llm.gemini_base_url,
        gemini_api_key="bench",
    )


async def _open(backend: WarmAcpBackend | OneShotAcpBackend, cwd: Path, chat: str) -> SessionHandle:
    await asyncio.to_thread(cwd.mkdir, parents=True, exist_ok=True)
    return (await backend.open_session(SessionSpec(chat_id=chat, agent=backend.spec.name, cwd=str(cwd)))).unwrap()


async def warm_vs_cold(spec: AgentSpec, runtime: BackendRuntime, store: SqliteStore, root: Path, rounds: int) -> None:
    cold: list[float] = []
    for index in range(rounds):
        fresh = runtime.model_copy(update={"data_dir": str(root / f"data-cold-{index}")})  # an empty agent home
        kind = spec.model_copy(update={"backend": BackendKind.ONE_SHOT})
        one_shot = OneShotAcpBackend(kind, fresh, store, _Clock())
        try:
            started = time.perf_counter()
            handle = await _open(one_shot, root / f"cold-{index}", f"cold-{index}")
            cold.append(await _turn(handle, f"cold-{index}", "hello, cold start") - started)
        finally:
            await one_shot.aclose()
    warm: list[float] = []
    backend = WarmAcpBackend(spec, runtime, store, _Clock())
    try:
        handle = await _open(backend, root / "warm", "warm")
        await _turn(handle, "warm-first", "hello, first turn")
        for index in range(rounds * 3):
            started = time.perf_counter()
            warm.append(await _turn(handle, f"warm-{index}", f"hello again {index}") - started)
    finally:
        await backend.aclose()
    print(
        f"{spec.name:8} cold turn (fresh data dir: spawn + initialize + session/new + turn): "
        f"{spread(cold, 'ms', 1000, 0)}",
        flush=True,
    )
    print(
        f"{spec.name:8} warm turn (next turn, same session, process running):            {spread(warm, 'ms', 1000, 0)}",
        flush=True,
    )
    print(
        f"{spec.name:8} median cold / median warm: {statistics.median(cold) / statistics.median(warm):.1f}x", flush=True
    )


async def memory_and_blast(
    spec: AgentSpec, runtime: BackendRuntime, store: SqliteStore, root: Path, sessions: int
) -> None:
    shared = WarmAcpBackend(spec, runtime, store, _Clock())
    singles = [WarmAcpBackend(spec, runtime, store, _Clock()) for _ in range(sessions)]
    try:
        handles = [await _open(shared, root / "shared-0", "shared-0")]
        await _turn(handles[0], "mem-0", "hello")
        (info,) = shared.processes()
        one = tree_rss_bytes(info.pid)
        for index in range(1, sessions):
            handles.append(await _open(shared, root / f"shared-{index}", f"shared-{index}"))
            await _turn(handles[-1], f"mem-{index}", "hello")
        many = tree_rss_bytes(info.pid)
        per_session = (many - one) / max(sessions - 1, 1)
        each: list[float] = []
        for index, single in enumerate(singles):
            await _turn(await _open(single, root / f"single-{index}", f"single-{index}"), f"single-{index}", "hello")
            each.append(sum(tree_rss_bytes(p.pid) for p in single.processes()))
        separate = sum(each)
        print(
            f"{spec.name:8} one process: {one / MIB:6.0f} MiB with 1 session, {many / MIB:6.0f} MiB with {sessions} "
            f"(+{per_session / MIB:5.1f} MiB per extra session);  {sessions} processes x 1 session: "
            f"{separate / MIB:6.0f} MiB (each: {spread(each, 'MiB', 1 / MIB, 0)})",
            flush=True,
        )
        os.kill(info.pid, signal.SIGKILL)
        async with asyncio.timeout(10):
            while any(h.is_alive() for h in handles):  # noqa: ASYNC110 - the handles expose no exit event
                await asyncio.sleep(0.05)
        print(
            f"{spec.name:8} kill -9 of the shared process: {sum(not h.is_alive() for h in handles)}/{sessions} "
            f"sessions down (one process per session: 1/{sessions}); each resumes on its next turn via session/load",
            flush=True,
        )
    finally:
        await shared.aclose()
        for single in singles:
            await single.aclose()


async def eviction_memory(
    spec: AgentSpec, runtime: BackendRuntime, store: SqliteStore, root: Path, sessions: int
) -> None:
    """What evicting every session gives back. The agent keeps a closed session's memory until its process ends;
    recycling (core.lifecycle.RecyclePolicy) stops a process once nothing in it is open and its evicted sessions
    hold more than the budget. Compared: a budget never reached, one of 1 MiB that any session exceeds."""
    held: dict[str, float] = {}
    recycled: dict[str, int] = {}
    growth = 0.0
    for label, policy in (
        ("never", RecyclePolicy(max_detached_bytes=1 << 62)),
        ("low", RecyclePolicy(max_detached_bytes=MIB)),
    ):
        backend = WarmAcpBackend(spec, runtime, store, _Clock(), recycle_policy=policy)
        try:
            handles = []
            for index in range(sessions):
                handles.append(await _open(backend, root / f"evict-{label}-{index}", f"evict-{label}-{index}"))
                await _turn(handles[-1], f"evict-{label}-{index}", "hello")
                if index == 0:
                    (info,) = backend.processes()
                    after_one = tree_rss_bytes(info.pid)
            with_all = sum(tree_rss_bytes(p.pid) for p in backend.processes())
            if label == "never":
                growth = (with_all - after_one) / max(sessions - 1, 1)  # what one more session costs
            for handle in handles:
                await handle.close()  # what the pool's eviction does
            held[label] = sum(tree_rss_bytes(p.pid) for p in backend.processes()) / MIB
            recycled[label] = backend.recycled
        finally:
            await backend.aclose()
    default = RecyclePolicy().max_detached_bytes
    print(
        f"{spec.name:8} RSS still held after evicting all {sessions} sessions: {held['never']:6.0f} MiB never "
        f"recycling ({recycled['never']} processes stopped), {held['low']:6.0f} MiB with a 1 MiB budget "
        f"({recycled['low']} stopped)",
        flush=True,
    )
    needed = default / growth if growth > 0 else float("inf")
    print(
        f"{spec.name:8} default budget {default // MIB} MiB: at ~{growth / MIB:.1f} MiB per session it recycles only "
        f"after ~{needed:.0f} evicted sessions in one process ({sessions} here)",
        flush=True,
    )


async def main(agents: list[str], rounds: int, sessions: int) -> None:
    catalogue = {spec.name: spec for spec in BUILTIN_AGENTS}
    with ScriptedLLM() as llm, tempfile.TemporaryDirectory(prefix="hearth-bench-acp-") as tmp:
        root = Path(tmp)
        store = await SqliteStore.open(root / "hearth.sqlite3")
        try:
            for name in agents:
                runtime = BackendRuntime(
                    data_dir=str(root / "data"),
                    agents_dir=str(Path.home() / ".cache" / "hearth" / "agents"),
                    node_id="bench",
                    provider=_provider(llm),
                )
                await warm_vs_cold(catalogue[name], runtime, store, root / name, rounds)
                await memory_and_blast(catalogue[name], runtime, store, root / name, sessions)
                await eviction_memory(catalogue[name], runtime, store, root / name, sessions)
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--agents", nargs="+", default=["qwen", "claude"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.agents, args.rounds, args.sessions))
