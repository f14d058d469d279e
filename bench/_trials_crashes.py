"""Crash trials: an agent killed with SIGKILL mid-turn, and hearth itself killed with SIGKILL mid-turn and started
again (on SQLite and on PostgreSQL). Each try checks that the chat carries on with the same agent session."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from bench._trial import Context, Trial, clock, database
from core.agents import BUILTIN_AGENTS
from tests.plugins.backends import require_agent
from tests.plugins.processes import NodeProcesses, running, tree
from tests.plugins.service import Hearth, serve_hearth

SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}
LONG_ANSWER = "SLOW=0.5 a long answer"  # 20 chunks, half a second apart: it is still streaming when killed

AGENT_KILL = (
    "a warm turn, then a slow turn killed with kill -9 of the agent's process(es) once it streams; held: the killed "
    "turn fails with a reason and the next turn succeeds on the same agent session, without a context reset, the "
    "agent still remembers the first turn, and no child of the killed process is left running; time: kill to the "
    "next turn's success (respawn and resume included)"
)
HEARTH_KILL = (
    "a warm turn, then a slow turn during which `hearth serve` itself gets kill -9 (its agents live on as "
    "orphans), then hearth started again on the same data; held: the turn is failed as interrupted by restart, "
    "every agent process of the killed hearth is gone, and the next turn succeeds on the same agent session with "
    "its memory; time: restart to the next turn's success"
)


async def _session(hearth: Hearth, chat: str, agent: str) -> dict[str, Any]:
    sessions = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    found: dict[str, Any] = next(s for s in sessions if s["agent"] == agent)
    return found


async def _carries_on(ctx: Context, hearth: Hearth, chat: str, agent: str, session_id: str, word: str) -> list[str]:
    """The chat's next turn: succeeded, same session, no context reset, the agent's memory intact."""
    mark = len(ctx.llm.log())
    after = await hearth.run_turn(chat, agent, "RECALL")
    if after["status"] != "succeeded":
        return [f"the turn after the crash {after['status']}: {after['error']}"]
    problems = []
    if (await _session(hearth, chat, agent))["backend_session_id"] != session_id:
        problems.append("the agent session changed after the crash")
    if "context_reset" in [event["type"] for event in await hearth.events(after["events_url"])]:
        problems.append("the agent's context was reset")
    if not ctx.recalled(mark, word):
        problems.append("the agent forgot the first turn")
    return problems


async def _warm_then_slow(hearth: Hearth, ctx: Context, agent: str, word: str) -> tuple[str, str, dict[str, Any]]:
    chat = (await hearth.create_chat(ctx.repo))["id"]
    first = await hearth.run_turn(chat, agent, f"remember {word}")
    if first["status"] != "succeeded":
        raise RuntimeError(f"the warm-up turn of {agent} {first['status']}: {first['error']}")
    session_id = (await _session(hearth, chat, agent))["backend_session_id"]
    turn = await hearth.submit(chat, agent, LONG_ANSWER)
    await hearth.wait_event(turn["events_url"], "text_delta")
    return chat, session_id, turn


async def agent_kill(ctx: Context, agent: str, rounds: int) -> Trial:
    trial = Trial(f"agent kill -9 mid-turn: {agent}", AGENT_KILL)
    require_agent(SPECS[agent])
    async with serve_hearth(ctx.settings(ctx.directory(f"kill-{agent}"))) as hearth:
        for index in range(rounds):
            word = f"KIWI{index}"
            chat, session_id, turn = await _warm_then_slow(hearth, ctx, agent, word)
            victims = hearth.node.backends[agent].processes()
            children = {child for process in victims for child in tree(process.pid)}
            started = clock()
            for process in victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
            killed = await hearth.wait_turn(chat, turn["id"])
            problems = [] if killed["status"] == "failed" else [f"the killed turn {killed['status']}"]
            problems += await _carries_on(ctx, hearth, chat, agent, session_id, word)
            seconds = clock() - started
            problems += [f"a child of the killed agent still runs: pid {pid}" for pid in running(children)]
            trial.record(problems, seconds)
    return trial


async def hearth_kill(ctx: Context, store: str, agent: str, rounds: int) -> Trial:
    trial = Trial(f"hearth kill -9 + restart: {store}, {agent}", HEARTH_KILL)
    require_agent(SPECS[agent])
    for index in range(rounds):
        directory = ctx.directory(f"restart-{store}")
        async with database(store) as dsn, NodeProcesses(directory / "logs") as nodes:
            settings = ctx.settings(directory / "data", database_url=dsn, node_id="trial-node")
            first = await nodes.start("first", settings)
            word = f"PLUM{index}"
            chat, session_id, turn = await _warm_then_slow(first.hearth, ctx, agent, word)
            first.kill(group=False)  # hearth alone: its agent processes are orphaned, as in a real crash
            started = clock()
            second = await nodes.start("restarted", settings)
            lost = await second.hearth.wait_turn(chat, turn["id"])
            problems = []
            if (lost["status"], lost["error"]) != ("failed", "interrupted by restart"):
                problems.append(f"the interrupted turn ended {lost['status']}: {lost['error']}")
            problems += await _carries_on(ctx, second.hearth, chat, agent, session_id, word)
            seconds = clock() - started
            stopped = (await second.hearth.client.get("/api/health")).json()["recovery"]["stopped_processes"]
            trial.notes.append(
                f"{len(first.seen)} agent process(es) ran under the killed hearth; the restart stopped "
                f"{len(stopped)}, the others had exited on their own"
            )
            if not first.seen:
                problems.append("no agent process of the killed hearth was seen: nothing to check for orphans")
            if orphans := first.orphans():
                problems.append(f"{len(orphans)} agent process(es) of the killed hearth still run: {orphans}")
            trial.record(problems, seconds)
    return trial
