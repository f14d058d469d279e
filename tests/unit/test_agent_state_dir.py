"""HEARTH_AGENT_STATE_DIR: where every agent keeps its own state, as each kind of backend sees it.

Unset, nothing moves (data_dir/agents/<agent>, as before the setting existed); set, OpenCode's HOME and an ACP
agent's HOME both live below it, so nodes that share it resume each other's agent sessions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.acp.environment import agent_home
from adapters.opencode.config import state_dirs
from app.bootstrap.node import backend_runtime
from app.settings import Settings
from core.agents import BUILTIN_AGENTS

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")


def test_unset_it_keeps_each_agent_under_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HEARTH_AGENT_STATE_DIR", raising=False)
    runtime = backend_runtime(Settings())

    assert agent_home(QWEN, runtime) == tmp_path / "data" / "agents" / "qwen"
    assert state_dirs(runtime.agent_state_root, "opencode").home == tmp_path / "data" / "agents" / "opencode" / "home"


def test_set_it_moves_every_agents_state_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEARTH_AGENT_STATE_DIR", str(tmp_path / "shared"))
    settings = Settings()
    runtime = backend_runtime(settings)

    assert agent_home(QWEN, runtime) == tmp_path / "shared" / "qwen"
    assert state_dirs(runtime.agent_state_root, "opencode").home == tmp_path / "shared" / "opencode" / "home"
    assert settings.sqlite_path.parent == tmp_path / "data"  # the store and the worktrees stay where they were
    assert settings.chat_worktrees_dir == tmp_path / "data" / "worktrees"
