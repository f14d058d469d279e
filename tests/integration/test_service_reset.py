"""An agent that crashed too often is dead until the operator resets it: through the API or `hearth agents reset`,
without restarting hearth."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import Hearth, serve_hearth

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")


def _flaky_qwen(folder: Path, fixed: Path) -> Path:
    """A command named qwen (so it gets qwen's settings) that dies at start until ``fixed`` exists."""
    folder.mkdir(parents=True)
    wrapper = folder / "qwen"
    real = AGENTS_DIR / "node_modules" / ".bin" / "qwen"
    wrapper.write_text(
        f'#!/bin/sh\nif [ -f "{fixed}" ]; then exec "{real}" "$@"; fi\necho "no API key configured" >&2\nexit 3\n'
    )
    wrapper.chmod(0o755)
    return wrapper


async def _turn_error(hearth: Hearth, chat: str) -> str:
    done = await hearth.run_turn(chat, "flaky", "hello")
    assert done["status"] == "failed", done
    error: str = done["error"]
    return error


async def test_a_dead_agent_comes_back_after_a_reset_without_a_restart(
    hearth_settings: Settings, git_repo: Path, tmp_path: Path
) -> None:
    require_agent(QWEN)
    fixed = tmp_path / "fixed"
    wrapper = _flaky_qwen(tmp_path / "bin", fixed)
    config = tmp_path / "agents.toml"
    config.write_text(
        f'[[agents]]\nname = "flaky"\nbackend = "warm-acp"\ncommand = "{wrapper}"\nargs = ["--acp"]\n'
        'env = { QWEN_CODE_NO_RELAUNCH = "1" }\n'
    )
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent, "config_file": config})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        errors = [await _turn_error(hearth, chat) for _ in range(3)]
        assert all("no API key configured" in error for error in errors), errors
        dead = await _turn_error(hearth, chat)
        assert "flaky is dead" in dead
        assert "hearth agents reset flaky" in dead  # the refusal says how to come back

        fixed.touch()  # the operator fixed the cause
        still_dead = await _turn_error(hearth, chat)
        assert "flaky is dead" in still_dead  # fixing alone does not bring it back: the budget is spent

        command = [sys.executable, "-m", "app.cli.main", "agents", "reset", "flaky", "--url", hearth.base_url]
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, err.decode()
        assert "flaky was dead and is reset" in out.decode()

        assert (await hearth.run_turn(chat, "flaky", "hello"))["status"] == "succeeded"
        again = await hearth.client.post("/api/agents/flaky/reset")
        assert again.status_code == 200
        assert again.json() == {"agent": "flaky", "reset": False}  # alive: nothing to reset
        unknown = await hearth.client.post("/api/agents/nobody/reset")
        assert unknown.status_code == 404
        assert unknown.json()["field"] == "name"
