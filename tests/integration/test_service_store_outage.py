"""The store out of reach mid-turn, then healed, through the real service (native agent, scripted LLM).

SQLite: another connection holds the database's write lock (as a stuck writer or a backup would) longer than the
busy timeout; making the file read-only would not do, since hearth's open connection keeps writing through its
descriptor. PostgreSQL: the database stops accepting connections and hearth's are terminated. During the fault a
write answers 503 with Retry-After and health says degraded; after healing the turn that ran during the fault
ends, the chat's next turn succeeds, and nothing stored before the fault is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from app.settings import Settings
from tests.plugins.outages import postgres_refusing, settle_log, sqlite_write_lock
from tests.plugins.postgres import fresh_database
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents

FAULT_TIMEOUT_S = 90.0
Outage = Callable[[], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def hearth_with_outage(kind: str, settings: Settings) -> AsyncIterator[tuple[Hearth, Outage]]:
    if kind == "sqlite":
        async with serve_hearth(settings) as hearth:
            yield hearth, lambda: sqlite_write_lock(settings.sqlite_path)
        return
    async with fresh_database() as dsn, serve_hearth(settings.model_copy(update={"database_url": dsn})) as hearth:
        yield hearth, lambda: postgres_refusing(dsn)


async def wait_running(hearth: Hearth, chat: str, turn: str) -> None:
    async with asyncio.timeout(FAULT_TIMEOUT_S):
        while (await hearth.client.get(f"/api/chats/{chat}/turns/{turn}")).json()["status"] != "running":
            await asyncio.sleep(0.05)


async def wait_message(messages: list[str], needle: str) -> None:
    async with asyncio.timeout(FAULT_TIMEOUT_S):
        while not any(needle in message for message in messages):
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_turn_running_through_a_store_outage_ends_and_its_chat_moves_on(
    kind: str, hearth_settings: Settings, git_repo: Path
) -> None:
    async with hearth_with_outage(kind, hearth_settings) as (hearth, outage):
        chat = (await hearth.create_chat(git_repo))["id"]
        before = await hearth.run_turn(chat, "native", "before the fault")
        assert before["status"] == "succeeded", before
        events_before = await hearth.events(f"/api/chats/{chat}/turns/{before['id']}/events")

        during = await hearth.submit(chat, "native", "SLOW=0.5 a long answer")  # about 10 s of streaming
        await wait_running(hearth, chat, during["id"])
        with settle_log() as messages:
            async with outage():
                write = await hearth.client.post("/api/chats", json={"repo_path": str(git_repo)})
                assert write.status_code == 503, write.text
                assert write.headers["content-type"].startswith("application/problem+json")
                assert int(write.headers["retry-after"]) > 0
                problem = write.json()
                assert problem["type"].endswith("/store_unavailable"), problem
                assert "retry" in problem["detail"], problem
                health = await hearth.client.get("/api/health")
                assert (health.status_code, health.json()["status"]) == (503, "degraded")
                # the fault lasts until the turn has failed to store its end at least once
                await wait_message(messages, f"finishing turn {during['id']} failed")
        assert any("retrying in" in message for message in messages), messages

        ended = await hearth.wait_turn(chat, during["id"], timeout=FAULT_TIMEOUT_S)
        assert ended["status"] in {"succeeded", "failed"}, ended
        if ended["status"] == "failed":
            assert ended["error"].startswith("the store failed: "), ended
        stream = await hearth.events(f"/api/chats/{chat}/turns/{during['id']}/events")
        assert stream[-1]["type"] in {"turn_completed", "turn_failed"}, stream[-3:]

        after = await hearth.run_turn(chat, "native", "after the fault")
        assert after["status"] == "succeeded", after
        assert (await hearth.client.get("/api/health")).status_code == 200
        again = (await hearth.client.get(f"/api/chats/{chat}/turns/{before['id']}")).json()
        assert again["status"] == "succeeded"
        assert await hearth.events(f"/api/chats/{chat}/turns/{before['id']}/events") == events_before
