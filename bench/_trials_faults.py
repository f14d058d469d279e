"""Store fault trial: the store out of reach while a turn streams, then healed, on SQLite and on PostgreSQL.

The faults are the integration tests' own (tests/plugins/outages.py), so the trial and
tests/integration/test_service_store_outage.py agree on what a fault is and what surviving it means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from bench._trial import Context, Trial, clock, database
from tests.plugins.outages import postgres_refusing, settle_log, sqlite_write_lock
from tests.plugins.service import Hearth, serve_hearth

STORE_FAULT = (
    "hearth in process, a native turn, then a slow native turn (about 10 s of streaming) during which the store "
    "goes out of reach (SQLite: another connection holds the write lock past the busy timeout; PostgreSQL: the "
    "database refuses connections and hearth's are terminated) until that turn has failed to store its end at "
    "least once; held: a write during the fault answers 503 with Retry-After and /api/health says degraded, after "
    "healing the held turn ends (succeeded, or failed with the store's reason), the chat's next turn succeeds, "
    "health is back to 200, and the turn stored before the fault is unchanged (status and events); time: healing "
    "to the next turn's success"
)
HELD_PROMPT = "SLOW=0.5 a long answer"  # 20 chunks half a second apart: still streaming when the fault starts
FAULT_TIMEOUT_S = 90.0  # the held turn meets the fault within seconds; this only bounds a hang
Outage = Callable[[], AbstractAsyncContextManager[None]]


async def store_faults(ctx: Context, store: str, rounds: int) -> Trial:
    trial = Trial(f"store fault + heal: {store}", STORE_FAULT)
    outcomes: list[str] = []
    for _ in range(rounds):
        directory = ctx.directory(f"fault-{store}")
        async with database(store) as dsn:
            settings = ctx.settings(directory / "data", database_url=dsn)
            async with serve_hearth(settings) as hearth:
                problems, seconds, outcome = await _one_round(ctx.repo, hearth, _outage(settings.sqlite_path, dsn))
        trial.record(problems, seconds)
        outcomes.append(outcome)
    trial.notes.append("the held turn ended " + ", ".join(outcomes))
    return trial


def _outage(sqlite_path: Path, dsn: str | None) -> Outage:
    if dsn is None:
        return lambda: sqlite_write_lock(sqlite_path)
    return lambda: postgres_refusing(dsn)


async def _one_round(repo: Path, hearth: Hearth, outage: Outage) -> tuple[list[str], float | None, str]:
    chat = (await hearth.create_chat(repo))["id"]
    before = await hearth.run_turn(chat, "native", "before the fault")
    if before["status"] != "succeeded":
        return [f"the turn before the fault {before['status']}: {before['error']}"], None, "-"
    events_before = await hearth.events(before["events_url"])
    held = await hearth.submit(chat, "native", HELD_PROMPT)
    await hearth.wait_event(held["events_url"], "text_delta")
    with settle_log() as messages:
        async with outage():
            problems = await _during(hearth, repo)
            # the fault lasts until the held turn has failed to store its end at least once
            if not await _logged(messages, f"finishing turn {held['id']} failed"):
                problems.append(f"the held turn did not meet the fault within {FAULT_TIMEOUT_S:.0f} s")
    healed = clock()
    ended = await hearth.wait_turn(chat, held["id"], timeout=FAULT_TIMEOUT_S)
    outcome = ended["status"]
    if outcome == "failed" and not str(ended["error"]).startswith("the store failed: "):
        problems.append(f"the held turn failed for another reason: {ended['error']}")
    elif outcome not in {"succeeded", "failed"}:
        problems.append(f"the held turn ended {outcome}")
    after = await hearth.run_turn(chat, "native", "after the fault")
    seconds = clock() - healed
    if after["status"] != "succeeded":
        problems.append(f"the next turn {after['status']}: {after['error']}")
    if (health := await hearth.client.get("/api/health")).status_code != 200:
        problems.append(f"health after healing: {health.status_code} {health.text}")
    problems += await _kept(hearth, before, events_before)
    return problems, seconds, outcome


async def _during(hearth: Hearth, repo: Path) -> list[str]:
    """A write answers 503 with Retry-After and health says degraded."""
    problems = []
    write = await hearth.client.post("/api/chats", json={"repo_path": str(repo)})
    retry_after = write.headers.get("retry-after", "")
    if write.status_code != 503 or not retry_after.isdigit() or int(retry_after) <= 0:
        problems.append(f"a write during the fault: {write.status_code}, Retry-After {retry_after!r}")
    health = await hearth.client.get("/api/health")
    status = health.json().get("status") if health.headers.get("content-type", "").endswith("json") else None
    if (health.status_code, status) != (503, "degraded"):
        problems.append(f"health during the fault: {health.status_code} {status}")
    return problems


async def _logged(messages: list[str], needle: str) -> bool:
    try:
        async with asyncio.timeout(FAULT_TIMEOUT_S):
            while True:
                if any(needle in message for message in messages):
                    return True
                await asyncio.sleep(0.05)
    except TimeoutError:
        return False


async def _kept(hearth: Hearth, before: dict[str, Any], events_before: list[dict[str, Any]]) -> list[str]:
    """What was stored before the fault: the turn's row and its events, unchanged."""
    again = (await hearth.client.get(before["url"])).json()
    problems = [] if again["status"] == "succeeded" else [f"the turn before the fault is now {again['status']}"]
    if await hearth.events(before["events_url"]) != events_before:
        problems.append("the events of the turn before the fault changed")
    return problems
