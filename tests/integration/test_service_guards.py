"""Bearer token, insecure binding, permission answers, the turn watchdog and graceful shutdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.api.auth import InsecureBinding
from app.api.server import create_app
from app.bootstrap.service import run_service
from app.settings import Settings
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents


def test_refuses_to_listen_beyond_loopback_without_a_token(hearth_settings: Settings) -> None:
    with pytest.raises(InsecureBinding, match="HEARTH_API_TOKEN"):
        create_app(hearth_settings.model_copy(update={"host": "0.0.0.0"}), run_service)
    create_app(hearth_settings.model_copy(update={"host": "0.0.0.0", "api_token": "s3cret"}), run_service)


async def test_bearer_token_is_required_when_configured(hearth_settings: Settings) -> None:
    async with serve_hearth(hearth_settings.model_copy(update={"api_token": "s3cret"})) as hearth:
        assert (await hearth.client.get("/api/chats")).status_code == 200
        anonymous = await hearth.client.get("/api/chats", headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        wrong = await hearth.client.get("/api/chats", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert (await hearth.client.get("/api/health", headers={"Authorization": ""})).status_code == 200


async def test_permission_answer_for_nothing_waiting_is_a_problem(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    turn = await hearth.run_turn(chat, "native", "hello")
    url = f"/api/chats/{chat}/turns/{turn['id']}/permissions/req-1"
    response = await hearth.client.post(url, json={"option_id": "allow"})
    assert response.status_code == 409
    assert response.json()["field"] == "turn.status"


async def test_watchdog_cancels_a_silent_turn(hearth_settings: Settings, git_repo: Path) -> None:
    async with serve_hearth(hearth_settings.model_copy(update={"turn_watchdog_s": 1.0})) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        silent = await hearth.run_turn(chat, "native", "SLOW=5 so slow")
        assert silent["status"] in {"cancelled", "failed"}, silent
        assert (await hearth.run_turn(chat, "native", "next"))["status"] == "succeeded"


async def test_shutdown_gives_a_grace_then_fails_the_running_turn(hearth_settings: Settings, git_repo: Path) -> None:
    settings = hearth_settings.model_copy(update={"shutdown_grace_s": 0.5})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        turn = await hearth.submit(chat, "native", "SLOW=1 a long answer")
        await hearth.events(turn["events_url"], limit=1)
    async with serve_hearth(settings) as again:
        ended = await again.wait_turn(chat, turn["id"])
        assert ended["status"] in {"failed", "cancelled"}, ended
        events = await again.events(ended["events_url"])
        assert events[-1]["type"] in {"turn_failed", "turn_cancelled"}
        assert again.node.recovery.failed_turns == []  # the first hearth finished it itself


async def test_one_shot_origin_runs_outside_the_pool(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    submitted = await hearth.client.post(
        f"/api/chats/{chat}/turns", json={"agent": "native", "prompt": "WRITE arena.txt one shot", "origin": "arena"}
    )
    assert submitted.status_code == 202, submitted.text
    done = await hearth.wait_turn(chat, submitted.json()["id"])
    assert done["status"] == "succeeded", done
    assert hearth.node.pool.live_counts() == {}
    assert (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"] == []
    (change,) = (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]
    assert change["path"] == "arena.txt"


async def test_agents_endpoint_lists_the_catalogue(hearth: Hearth) -> None:
    agents = {a["name"]: a for a in (await hearth.client.get("/api/agents")).json()}
    assert {"opencode", "qwen", "claude", "gemini", "opencode-acp", "native"} <= set(agents)
    assert agents["native"]["found"] is True
    assert agents["qwen"]["backend"] == "warm-acp"
    assert agents["qwen"]["capabilities"]["one_shot"] is True
