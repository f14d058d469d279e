"""The arena through hearth with real agents: qwen and opencode race on one prompt, qwen's work is adopted.

One scenario per store on purpose (every agent start costs seconds): the fork carries the chat's pending work, each
contestant writes its own file and sees only its own, adopting brings exactly the winner's diff stamped with its
agent, the worktrees go (their snapshots stay), the chat's agent sessions never move, and the next opencode turn's
handoff preamble names the adopted file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pygit2
import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.postgres import fresh_database
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")
PROMPT = "WRITE {tool}.txt arena work"  # qwen's tool is write_file, opencode's write: each writes its own file


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def arena_hearth(
    request: pytest.FixtureRequest, hearth_settings: Settings, opencode_agents_dir: Path
) -> AsyncIterator[Hearth]:
    require_agent(QWEN)
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent})
    if request.param == "sqlite":
        async with serve_hearth(settings) as running:
            yield running
        return
    async with fresh_database() as dsn, serve_hearth(settings.model_copy(update={"database_url": dsn})) as running:
        yield running


async def _sessions(hearth: Hearth, chat: str) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    return sorted(sessions, key=lambda s: s["agent"])


async def test_an_arena_of_qwen_and_opencode_adopts_qwens_work(
    arena_hearth: Hearth, git_repo: Path, llm: ScriptedLLM
) -> None:
    hearth = arena_hearth
    chat = (await hearth.create_chat(git_repo))["id"]
    first = await hearth.run_turn(chat, "opencode", "WRITE base.txt pending before the arena")
    assert first["status"] == "succeeded", first
    chat_dir = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
    sessions_before = await _sessions(hearth, chat)

    started = await hearth.client.post(
        f"/api/chats/{chat}/arena", json={"prompt": PROMPT, "contestants": [{"agent": "qwen"}, {"agent": "opencode"}]}
    )
    assert started.status_code == 202, started.text
    arena = started.json()
    events = await hearth.events(arena["events_url"])  # ends once both contestants ended
    qwen_id, opencode_id = (c["id"] for c in arena["contestants"])
    ended = {e["task_id"] for e in events if e["type"] in ("turn_completed", "turn_failed", "turn_cancelled")}
    assert ended == {qwen_id, opencode_id}

    arena = (await hearth.client.get(arena["url"])).json()
    qwen, opencode = arena["contestants"]
    assert (qwen["state"], opencode["state"]) == ("succeeded", "succeeded"), arena
    assert [f["path"] for f in qwen["files"]] == ["write_file.txt"]
    assert [f["path"] for f in opencode["files"]] == ["write.txt"]
    for contestant in (qwen, opencode):  # what each cost, side by side
        assert contestant["wall_s"] is not None
        assert contestant["usage"]["output_tokens"] > 0
        assert contestant["error"] is None
    qwen_dir, opencode_dir = Path(qwen["worktree"]), Path(opencode["worktree"])
    assert (qwen_dir / "base.txt").read_text() == (chat_dir / "base.txt").read_text()  # forked with pending work
    assert (qwen_dir / "write_file.txt").is_file()
    assert not (opencode_dir / "write_file.txt").exists()  # A's file is not in B's worktree ...
    assert not (chat_dir / "write_file.txt").exists()  # ... nor in the chat's
    assert not (chat_dir / "write.txt").exists()
    assert await _sessions(hearth, chat) == sessions_before  # the contestants never touched the chat's sessions

    adopted = await hearth.client.post(f"{arena['url']}/adopt", json={"contestant": qwen_id})
    assert adopted.status_code == 200, adopted.text
    arena = adopted.json()
    assert arena["status"] == "adopted"
    assert arena["winner"] == qwen_id
    changes = {c["path"]: c for c in (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]}
    assert set(changes) == {"base.txt", "write_file.txt"}
    assert changes["write_file.txt"]["agent"] == "qwen"
    assert changes["write_file.txt"]["diff"] == qwen["files"][0]["diff"]  # exactly the winner's diff
    assert changes["base.txt"]["agent"] == "opencode"  # the chat's own pending work keeps its stamp
    assert (chat_dir / "write_file.txt").read_text() == "arena work\n"

    repo = pygit2.Repository(str(git_repo))
    for contestant in arena["contestants"]:
        assert not Path(contestant["worktree"]).exists()
        assert contestant["worktree_status"] == "archived"
        assert contestant["snapshot_ref"] in repo.references
    assert [c["state"] for c in arena["contestants"]] == ["adopted", "discarded"]
    assert await _sessions(hearth, chat) == sessions_before

    again = await hearth.client.post(f"{arena['url']}/adopt", json={"contestant": qwen_id})
    assert again.status_code == 409, again.text

    seen = len(llm.log())
    after = await hearth.run_turn(chat, "opencode", "what changed meanwhile?")
    assert after["status"] == "succeeded", after
    heard = [str(e.get("last_user", "")) for e in llm.log()[seen:]]  # the log keeps 500 chars: the preamble's
    assert any("1. qwen" in text and "Files touched: write_file.txt" in text for text in heard), heard
