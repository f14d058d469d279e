"""Bugs found in review, each pinned through real HTTP: idempotency keys bound to their request, path confinement."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from adapters.store.postgres import Conn, PostgresStore
from app.settings import Settings
from tests.plugins.postgres import fresh_database
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents


async def test_an_idempotency_key_reused_with_another_body_is_refused(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    url = f"/api/chats/{chat}/turns"
    key = {"Idempotency-Key": "submit-once"}
    first = await hearth.client.post(url, json={"agent": "native", "prompt": "first prompt"}, headers=key)
    assert first.status_code == 202, first.text
    retried = await hearth.client.post(url, json={"agent": "native", "prompt": "first prompt"}, headers=key)
    assert retried.json()["id"] == first.json()["id"]  # a true retry still replays

    other = await hearth.client.post(url, json={"agent": "native", "prompt": "a different prompt"}, headers=key)
    assert other.status_code == 422, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    problem = other.json()
    assert problem["field"] == "Idempotency-Key"
    assert "different request" in problem["detail"]
    await hearth.wait_turn(chat, first.json()["id"])
    assert [t["prompt"] for t in (await hearth.client.get(url)).json()] == ["first prompt"]


async def test_manual_edit_through_a_symlink_to_the_git_link_is_refused(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(chat, "native", "just talk"))["status"] == "succeeded"
    root = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
    git_link = root / ".git"  # a linked worktree's ".git" is a file naming its admin dir
    before = git_link.read_bytes()
    os.symlink(".git", root / "innocent.txt")  # e.g. left there by an agent or committed in the repository

    response = await hearth.client.put(f"/api/chats/{chat}/files", json={"path": "innocent.txt", "content": "x"})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "path"
    assert git_link.read_bytes() == before
    nested = await hearth.client.put(f"/api/chats/{chat}/files", json={"path": "sub/.git/config", "content": "x"})
    assert nested.status_code == 422, nested.text
    assert not (root / "sub").exists()


async def test_apply_or_discard_of_an_empty_path_list_is_refused_not_reported_as_all(
    hearth: Hearth, git_repo: Path
) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    assert (await hearth.run_turn(chat, "native", "WRITE kept.txt keep me"))["status"] == "succeeded"
    for action in ("apply", "discard"):
        response = await hearth.client.post(f"/api/chats/{chat}/changes/{action}", json={"paths": []})
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "paths"
    changes = (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]
    assert [c["path"] for c in changes] == ["kept.txt"]
    assert not (git_repo / "kept.txt").exists()


@pytest.mark.postgres
async def test_cancel_while_the_turn_is_being_finished_reports_its_outcome(
    hearth_settings: Settings, git_repo: Path
) -> None:
    """The runner lets go of a turn, then stores its terminal status: a cancel in between used to be a 409
    "runs on another node" (PostgreSQL: the cancel's reads do not wait for the finishing transaction)."""
    async with (
        fresh_database() as dsn,
        serve_hearth(hearth_settings.model_copy(update={"database_url": dsn})) as hearth,
    ):
        store = hearth.node.store
        assert isinstance(store, PostgresStore)
        finishing, release = asyncio.Event(), asyncio.Event()

        async def hold_the_finish(conn: Conn, name: str) -> None:
            if name == "finish_task":
                finishing.set()
                await asyncio.wait_for(release.wait(), 30)

        store._fault_point = hold_the_finish  # type: ignore[method-assign]  # the store's own test hook
        chat = (await hearth.create_chat(git_repo))["id"]
        turn = await hearth.submit(chat, "native", "hello there")
        await asyncio.wait_for(finishing.wait(), 60)
        cancel = asyncio.create_task(hearth.client.post(f"/api/chats/{chat}/turns/{turn['id']}/cancel"))
        await asyncio.sleep(0.5)  # the cancel reaches the turn while its finish is held
        release.set()
        response = await cancel
        assert response.status_code == 202, response.text
        assert response.json()["cancel"] == "already_finished"
        assert response.json()["status"] == "succeeded"


async def test_open_health_shows_no_details_without_the_token(hearth_settings: Settings, git_repo: Path) -> None:
    async with serve_hearth(hearth_settings.model_copy(update={"api_token": "s3cret"})) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(chat, "native", "hello"))["status"] == "succeeded"
        anonymous = await hearth.client.get("/api/health", headers={"Authorization": ""})
        assert anonymous.status_code == 200
        assert anonymous.json() == {"status": "ok"}  # a liveness probe, not the chat ids and paths inside
        assert chat in (await hearth.client.get("/api/health")).text  # the token holder sees the pool
