"""A warm turn through hearth's API against the same agent driven directly, interleaved, side by side.

Run: ``.venv/bin/python -m bench.e2e_turn [--rounds 30] [--agents opencode qwen] [--cold-rounds 3] [--apart]``.
Starts its own scripted LLM in a process of its own, as a provider is not inside hearth (answers at once: 4 chunks
5 ms apart); needs the agents in hearth's cache (``hearth agents install``). Same binary, same provider environment,
same LLM on both sides, and the same kind of working directory (a linked git worktree, as a chat's); each round runs
one hearth turn and one direct turn, alternating which goes first. Printed as min / median / max and the ratio of
the medians. Everything in this process runs on the event loop ``hearth serve`` runs on (uvicorn's pick: uvloop).
Both sides' timed requests go through one small HTTP/1.1 client (``bench._lean_http``), so neither figure carries
httpx's own cost (about 0.6 ms of Python a request here).

* hearth: ``POST /api/chats/{id}/turns`` to the turn's terminal event parsed from the chat's SSE stream (opened
  before the chat's first turn and kept open, as a front end keeps it): HTTP, queue, claim, worktree, session
  checkout, handoff, the agent's turn, journaling every batch, the diff of the worktree, finishing the turn, SSE
  delivery. hearth runs in this process (uvicorn, SQLite), so the client's own parsing shares its event loop; with
  ``--apart`` it runs as ``hearth serve`` in a process of its own (with its access log), as in production.
* direct, OpenCode: the same client on its own ``opencode serve`` (spawned the way hearth spawns it): one
  ``/event`` stream kept open, ``prompt_async``, until the session's ``session.idle``.
* direct, qwen: hearth's ACP adapter called in process (one warm ``qwen --acp``, ``session/prompt`` until the turn
  ends): the agent's own cost with no API, queue, journal or diff.
* qwen cold vs warm through the API: the first turn of a fresh hearth (spawn + initialize + session/new + turn)
  against the next turns of that chat.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from adapters.acp.warm import WarmAcpBackend
from adapters.opencode.config import PROVIDER_ID, SERVER_USER
from adapters.store.sqlite import SqliteStore
from bench._apart import served_apart
from bench._hearth import Api, provider_for, run_as_served, served, settings_for
from bench._lean_http import LeanHttp
from bench._opencode import SPEC as OPENCODE
from bench._opencode import backend_at, git_dir, linked_worktree, runtime_for
from bench._stats import spread
from core.agents import BUILTIN_AGENTS
from core.events import is_terminal
from core.ports.agents import SessionHandle, SessionSpec, TurnInput
from scripted_llm.llm import ScriptedLLM
from scripted_llm.process import ScriptedLLMProcess

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")
Turn = Callable[[int], Awaitable[float]]


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@asynccontextmanager
async def _direct_opencode(root: Path, llm: ScriptedLLM, store: SqliteStore) -> AsyncIterator[Turn]:
    runtime = runtime_for(root / "direct-opencode", provider_for(llm))
    async with backend_at(runtime, store) as backend:  # only to spawn `opencode serve` as hearth does
        server, client = (await backend.ensure_server()).unwrap()
        cwd = linked_worktree(root / "direct-opencode" / "worktrees")  # where its sandbox lets it write
        session = str((await client.create_session(cwd, "bench"))["id"])
        model = {"providerID": PROVIDER_ID, "modelID": backend.default_model}
        credentials = base64.b64encode(f"{SERVER_USER}:{server.password}".encode()).decode()
        lean = LeanHttp(server.base_url, {"Authorization": f"Basic {credentials}"})
        where = f"?directory={quote(cwd, safe='')}"
        async with lean.events(f"/event{where}") as stream:
            if (await anext(stream)).get("type") != "server.connected":  # subscribed: no event of a prompt is lost
                raise RuntimeError("the OpenCode event stream did not start with server.connected")

            async def run(index: int) -> float:
                started = time.perf_counter()
                body = {"parts": [{"type": "text", "text": f"hello again {index}"}], "model": model}
                status, _ = await lean.post_json(f"/session/{session}/prompt_async{where}", body)
                if status >= 300:
                    raise RuntimeError(f"prompt_async answered {status}")
                async for raw in stream:
                    props = raw.get("properties") or {}
                    if raw.get("type") == "session.idle" and props.get("sessionID") == session:
                        return time.perf_counter() - started
                raise RuntimeError("the OpenCode event stream ended")

            try:
                await run(-1)  # the first turn of the session is not a warm one
                yield run
            finally:
                await lean.aclose()


@asynccontextmanager
async def _direct_qwen(root: Path, llm: ScriptedLLM, store: SqliteStore) -> AsyncIterator[Turn]:
    runtime = runtime_for(root / "direct-qwen", provider_for(llm))
    backend = WarmAcpBackend(QWEN, runtime, store, _Clock())
    try:
        cwd = linked_worktree(root / "direct-qwen" / "worktrees")
        handle = (await backend.open_session(SessionSpec(chat_id="direct", agent="qwen", cwd=cwd))).unwrap()

        async def run(index: int) -> float:
            started = time.perf_counter()
            await _adapter_turn(handle, f"direct-{index}", f"hello again {index}")
            return time.perf_counter() - started

        await run(-1)
        yield run
    finally:
        await backend.aclose()


async def _adapter_turn(handle: SessionHandle, turn_id: str, prompt: str) -> None:
    async with asyncio.timeout(120), aclosing(handle.run_turn(TurnInput(turn_id=turn_id, prompt=prompt))) as events:
        async for event in events:
            if is_terminal(event):
                if event.type != "turn_completed":
                    raise RuntimeError(f"turn {turn_id} did not complete: {event!r}")
                return
    raise RuntimeError(f"turn {turn_id} ended without a terminal event")


async def _chat_turns(api: Api, repo: str, agent: str) -> Callable[[str], Awaitable[float]]:
    """A new chat's turns, each timed by ``Api.timed_turn``."""
    chat = await api.chat(repo)
    return lambda prompt: api.timed_turn(chat, agent, prompt)


async def _through_hearth(api: Api, repo: str, agent: str) -> Turn:
    turn = await _chat_turns(api, repo, agent)
    await turn("hello, first turn")  # starts the agent: not a warm turn
    # a worktree made less than a second ago is checked in full at every turn (its files' timestamps do not
    # vouch for it yet, ADR 0016); any chat's is past that by its second turn but not in a benchmark's loop
    await asyncio.sleep(1.1)

    async def run(index: int) -> float:
        return await turn(f"hello again {index}")

    return run


async def _interleaved(hearth: Turn, direct: Turn, rounds: int) -> tuple[list[float], list[float]]:
    via: list[float] = []
    bare: list[float] = []
    for index in range(rounds):
        if index % 2:
            via.append(await hearth(index))
            bare.append(await direct(index))
        else:
            bare.append(await direct(index))
            via.append(await hearth(index))
    return via, bare


def _report(agent: str, via: list[float], bare: list[float]) -> None:
    ratio = statistics.median(via) / statistics.median(bare)
    print(f"{agent:8} warm turn through hearth: {spread(via, 'ms', 1000, 1)}")
    print(f"{agent:8} warm turn direct:         {spread(bare, 'ms', 1000, 1)}")
    per_round = [h / d for h, d in zip(via, bare, strict=True)]
    rounds = spread(per_round, "x", digits=2)
    print(f"{agent:8} hearth / direct: medians {ratio:.2f}x; per round {rounds} (target <= 1.10)")


async def _cold_vs_warm(root: Path, llm: ScriptedLLM, rounds: int, apart: bool) -> None:
    cold: list[float] = []
    warm: list[float] = []
    for index in range(rounds):
        fresh = root / f"cold-{index}"
        async with _hearth(fresh, llm, apart) as api:  # a fresh hearth: no qwen process, empty agent home
            turn = await _chat_turns(api, git_dir(fresh / "repo"), "qwen")
            cold.append(await turn("hello, cold start"))
            for index in range(3):
                warm.append(await turn(f"hello again {index}"))
    print(f"qwen     cold turn through the API (a fresh hearth, spawn to the end): {spread(cold, 'ms', 1000, 0)}")
    print(f"qwen     warm turn through the API (the next turns of that chat):     {spread(warm, 'ms', 1000, 0)}")
    print(f"qwen     median cold / median warm: {statistics.median(cold) / statistics.median(warm):.1f}x (goal >= 18)")


def _hearth(root: Path, llm: ScriptedLLM, apart: bool) -> AbstractAsyncContextManager[Api]:
    settings = settings_for(root, llm)
    return served_apart(settings, root / "hearth.log") if apart else served(settings)


async def measure(agents: list[str], rounds: int, cold_rounds: int, apart: bool) -> None:
    where = "by `hearth serve` in a process of its own" if apart else "in this process"
    print(f"hearth served {where}; the scripted LLM in a process of its own")
    with ScriptedLLMProcess() as llm, tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        root = Path(tmp)
        store = await SqliteStore.open(root / "direct.sqlite3")
        try:
            async with _hearth(root / "hearth", llm, apart) as api, AsyncExitStack() as stack:
                repo = git_dir(root / "hearth" / "repo")
                for agent in agents:
                    opened = _direct_opencode if agent == OPENCODE.name else _direct_qwen
                    direct = await stack.enter_async_context(opened(root, llm, store))
                    hearth = await _through_hearth(api, repo, agent)
                    via, bare = await _interleaved(hearth, direct, rounds)
                    _report(agent, via, bare)
            if "qwen" in agents and cold_rounds:
                await _cold_vs_warm(root, llm, cold_rounds, apart)
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved warm turns per agent")
    parser.add_argument("--agents", nargs="+", default=["opencode", "qwen"], choices=["opencode", "qwen"])
    parser.add_argument("--cold-rounds", type=int, default=3, help="fresh hearths for qwen cold vs warm (0: skip)")
    parser.add_argument(
        "--apart", action="store_true", help="run `hearth serve` as a process of its own (its logs included)"
    )
    args = parser.parse_args()
    run_as_served(measure(args.agents, args.rounds, args.cold_rounds, args.apart))


if __name__ == "__main__":
    main()
