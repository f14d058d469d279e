"""Reliability as figures hearth measures itself: bounded trials on loopback against the scripted LLM.

Run: ``.venv/bin/python -m bench.trials [--only NAME ...] [--rounds N] [--chats N --turns N] [--sse-turns N]``.
Needs the agents in hearth's cache (``hearth agents install``) and PostgreSQL at ``HEARTH_TEST_PG_DSN`` (default
postgresql://root@127.0.0.1:5432/test; each trial creates and drops its own database); a trial that lacks one says
so and the others run. About four minutes on 2 cores with the defaults; ``--rounds`` scales the crash and fault trials,
``--chats``/``--turns`` the load. Figures go to stdout, hearth's own log lines to stderr.

* agent-kill: kill -9 of each agent's process mid-turn (opencode, qwen, claude); the next turn resumes;
* hearth-kill: kill -9 of ``hearth serve`` mid-turn and a restart, on SQLite and PostgreSQL: no orphan process, the
  same agent session afterwards;
* sse: SSE clients hanging up and reconnecting with Last-Event-ID: events lost or duplicated (must be 0);
* load: N chats x M turns on the native agent: all complete, in order per chat, no 5xx;
* failover: two ``hearth serve`` processes on one PostgreSQL, the node running a turn killed with kill -9;
* store-faults: the store out of reach mid-turn and healed, on SQLite and PostgreSQL: writes answer 503, the held
  turn ends, the chat goes on, nothing stored before is lost.

The trials drive hearth with the integration tests' own helpers (tests/plugins), so a trial and a test of the
same thing agree on what "held" means. Every try prints; none asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from bench._trial import Context, Trial, clock, why_not_run
from bench._trials_crashes import agent_kill, hearth_kill
from bench._trials_faults import store_faults
from bench._trials_service import failover, load, sse_reconnects
from scripted_llm.llm import ScriptedLLM

TRIALS = ("agent-kill", "hearth-kill", "sse", "load", "failover", "store-faults")
Run = Callable[[Context], Awaitable[Trial]]


def plan(args: argparse.Namespace) -> list[tuple[str, Run]]:
    runs: list[tuple[str, Run]] = []
    runs += [(f"agent-kill {a}", partial(agent_kill, agent=a, rounds=args.rounds)) for a in args.agents]
    runs += [
        (f"hearth-kill {s} {a}", partial(hearth_kill, store=s, agent=a, rounds=args.rounds))
        for s in args.stores
        for a in args.restart_agents
    ]
    runs += [(f"sse {s}", partial(sse_reconnects, store=s, turns=args.sse_turns)) for s in args.stores]
    runs.append(("load", partial(load, chats=args.chats, turns=args.turns)))
    runs.append(("failover", partial(failover, rounds=args.rounds)))
    runs += [(f"store-faults {s}", partial(store_faults, store=s, rounds=args.rounds)) for s in args.stores]
    return [(label, run) for label, run in runs if label.split()[0] in args.only]


async def run_all(args: argparse.Namespace) -> list[Trial]:
    trials: list[Trial] = []
    with ScriptedLLM() as llm, tempfile.TemporaryDirectory(prefix="hearth-trials-") as tmp:
        ctx = Context.create(llm, Path(tmp))
        for label, run in plan(args):
            started = clock()
            print(f"trials: {label} ...", file=sys.stderr, flush=True)
            try:
                trials.append(await run(ctx))
            except BaseException as error:  # a missing agent or database (the test plugins' skip), or a bug
                if isinstance(error, KeyboardInterrupt | asyncio.CancelledError):
                    raise
                reason = why_not_run(error)
                if reason is None:
                    traceback.print_exc()
                    reason = f"stopped by {type(error).__name__}: {error}"
                trials.append(Trial(label, "", not_run=reason))
            print(f"trials: {label} took {clock() - started:.1f} s", file=sys.stderr, flush=True)
    return trials


def report(trials: list[Trial], seconds: float) -> None:
    width = max(len(trial.name) for trial in trials)
    print(f"hearth reliability trials: loopback, scripted LLM, {seconds:.0f} s in all\n")
    print(f"{'trial':<{width}}  tried  held  time min / median / max     lost")
    for trial in trials:
        if trial.not_run is not None:
            print(f"{trial.name:<{width}}  not run: {trial.not_run}")
            continue
        line = f"{trial.name:<{width}}  {trial.tried:5}  {trial.held:4}  {trial.time_range():<27}  {len(trial.lost)}"
        print(line)
    for trial in trials:
        for note in trial.notes:
            print(f"  {trial.name}: {note}")
        for problem in trial.lost:
            print(f"  {trial.name}: LOST/WRONG: {problem}")
    print("\nwhat each trial includes:")
    families = {trial.name.split(":")[0]: trial.includes for trial in trials if trial.includes}
    for family, includes in families.items():
        print(f"- {family}: {includes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="+", choices=TRIALS, default=list(TRIALS))
    parser.add_argument("--agents", nargs="+", default=["opencode", "qwen", "claude"], help="for agent-kill")
    parser.add_argument("--restart-agents", nargs="+", default=["opencode", "qwen"], help="agents in hearth-kill")
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--rounds", type=int, default=1, help="tries of each crash and fault trial")
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--turns", type=int, default=5, help="turns per chat in the load trial")
    parser.add_argument("--sse-turns", type=int, default=6, help="slow turns read through reconnecting SSE clients")
    args = parser.parse_args()
    started = clock()
    trials = asyncio.run(run_all(args))
    report(trials, clock() - started)
    sys.exit(0 if all(t.not_run is None and not t.lost for t in trials) else 1)


if __name__ == "__main__":
    main()
