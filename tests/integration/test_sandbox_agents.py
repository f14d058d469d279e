"""Every built-in agent's shell commands run in the sandbox: writes outside the chat's worktree are refused
(relative ``../``, absolute, through a symlink planted in the worktree, into the user's own checkout), the
refusal is visible in the turn's tool-call events, and the next turn, writing and committing inside, works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygit2
import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS, AgentSpec
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents

REFUSED = "Read-only file system"
SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}
AGENTS = ["native", "opencode", "qwen", "claude", "gemini", "opencode-acp"]
# gemini 0.61's ACP tool-call updates carry only the command's description, never its output: the refusal
# reaches the model as the tool result and is visible in its reply (the scripted LLM quotes the result)
REPLY_ONLY = {"gemini"}


def _spec(name: str) -> AgentSpec:
    spec = SPECS[name]
    if spec.npm_package:
        require_agent(spec)
    return spec


async def _shell_outputs(hearth: Hearth, chat: str, agent: str, command: str) -> tuple[dict[str, Any], str]:
    turn = await hearth.run_turn(chat, agent, f"BASH {command}")
    events = await hearth.events(turn["events_url"])
    shown = "tool_call" if agent not in REPLY_ONLY else "text_delta"
    outputs = "\n".join(e.get("output") or e.get("text") or "" for e in events if e["type"] == shown)
    return turn, outputs


@pytest.mark.parametrize("agent", AGENTS)
async def test_shell_writes_outside_the_worktree_are_refused_and_inside_ones_commit(
    agent: str, hearth_settings: Settings, git_repo: Path, tmp_path: Path
) -> None:
    _spec(agent)
    outside = tmp_path / "outside"
    outside.mkdir()
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
        (worktree / "escape").symlink_to(outside, target_is_directory=True)
        attempts = {
            "relative": ("echo x > ../escaped-relative", worktree.parent / "escaped-relative"),
            "absolute": (f"echo x > {outside}/absolute", outside / "absolute"),
            "symlink": ("echo x > escape/through-link", outside / "through-link"),
            "checkout": (f"echo x > {git_repo}/in-checkout", git_repo / "in-checkout"),
        }
        for how, (command, target) in attempts.items():
            turn, outputs = await _shell_outputs(hearth, chat, agent, command)
            assert not target.exists(), f"{agent}: the {how} write escaped to {target}"
            assert turn["status"] in ("succeeded", "failed"), turn
            assert REFUSED in outputs, f"{agent} {how}: no visible refusal in the tool output: {outputs!r}"

        commit = (
            "echo inside > inside.txt && git add inside.txt && "
            "git -c user.name=agent -c user.email=agent@example.com commit -q -m sandboxed-commit && echo COMMITTED"
        )
        turn, outputs = await _shell_outputs(hearth, chat, agent, commit)
        assert turn["status"] == "succeeded", turn
        assert "COMMITTED" in outputs, outputs
        assert (worktree / "inside.txt").read_text() == "inside\n"
        repo = pygit2.Repository(str(git_repo))
        branch = repo.branches.local[f"hearth/chat-{chat}"]
        head = branch.peel(pygit2.Commit)
        assert head.message.strip() == "sandboxed-commit"
        assert not (git_repo / "inside.txt").exists()  # the user's checkout is untouched
