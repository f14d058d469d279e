"""``hearth arena`` against a live hearth: start (following the contestants), show with diffs, adopt."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.cli.arena import run_arena
from app.cli.main import build_parser
from tests.plugins.service import Hearth

pytestmark = pytest.mark.agents


async def test_hearth_arena_starts_shows_and_adopts(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    parser = build_parser()
    prompt = 'TOOL write {"path": "cli.txt", "content": "from the cli\\n"}'
    out = io.StringIO()
    start = parser.parse_args(["arena", "start", chat, prompt, "--agent", "native", "--agent", "native:fake-small"])
    assert await run_arena(start, hearth.client, out) == 0
    printed = out.getvalue()
    assert printed.count("[native] completed") == 2
    assert printed.count("succeeded  cli.txt") == 2
    arena_id = printed.split("arena ", 2)[1].split()[0]
    arena = (await hearth.client.get(f"/api/chats/{chat}/arena/{arena_id}")).json()
    assert [c["model"] for c in arena["contestants"]] == [None, "fake-small"]

    out = io.StringIO()
    assert await run_arena(parser.parse_args(["arena", "show", chat, arena_id, "--diff"]), hearth.client, out) == 0
    assert "+from the cli" in out.getvalue()

    winner = arena["contestants"][1]["id"]
    out = io.StringIO()
    assert await run_arena(parser.parse_args(["arena", "adopt", chat, arena_id, winner]), hearth.client, out) == 0
    assert f"arena {arena_id} (adopted)" in out.getvalue()
    changes = (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]
    assert [(c["path"], c["agent"]) for c in changes] == [("cli.txt", "native")]

    out = io.StringIO()
    assert await run_arena(parser.parse_args(["arena", "discard", chat, arena_id]), hearth.client, out) == 1
    assert "409" in out.getvalue()
