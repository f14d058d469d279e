"""What an `opencode serve` child is started with, and how its death is described (no process needed)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from adapters.opencode.config import config_content, server_env, state_dirs
from adapters.opencode.leftovers import is_our_server
from adapters.opencode.process import describe_exit
from core.agents import BUILTIN_AGENTS, ProviderConfig
from core.ports.agents import McpEndpoint

SPEC = next(spec for spec in BUILTIN_AGENTS if spec.name == "opencode")
PROVIDER = ProviderConfig(openai_base_url="http://127.0.0.1:9999/v1", openai_api_key="sk-test", openai_model="m1")


def test_the_environment_is_built_from_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_SECRET_FOR_TEST", "must-not-leak")

    env = server_env(SPEC, PROVIDER, state_dirs(str(tmp_path / "agents"), "opencode"), "pw-123")

    assert "HEARTH_SECRET_FOR_TEST" not in env
    assert env["OPENCODE_SERVER_PASSWORD"] == "pw-123"
    assert env["HOME"] == str(tmp_path / "agents" / "opencode" / "home")
    assert all(env[key].startswith(env["HOME"]) for key in env if key.startswith("XDG_"))
    assert env["OPENCODE_DISABLE_AUTOUPDATE"] == env["OPENCODE_DISABLE_MODELS_FETCH"] == "1"
    assert json.loads(env["OPENCODE_CONFIG_CONTENT"])["model"] == "hearth/m1"


def test_the_config_points_the_provider_at_the_configured_endpoint() -> None:
    config = json.loads(config_content(SPEC, PROVIDER))

    provider = config["provider"]["hearth"]
    assert provider["npm"] == "@ai-sdk/openai-compatible"
    assert provider["options"] == {"baseURL": "http://127.0.0.1:9999/v1", "apiKey": "sk-test"}
    assert list(provider["models"]) == ["m1"]
    assert config["enabled_providers"] == ["hearth"]
    assert config["permission"]["edit"] == "allow"
    assert config["snapshot"] is False  # hearth diffs the worktree itself; OpenCode's snapshots only cost time
    asking = json.loads(config_content(SPEC.model_copy(update={"permission": "ask"}), PROVIDER))
    assert asking["permission"]["edit"] == asking["permission"]["bash"] == "ask"


def test_hearth_mcp_is_configured_only_when_an_endpoint_is_given() -> None:
    assert "mcp" not in json.loads(config_content(SPEC, PROVIDER))
    endpoint = McpEndpoint(url="http://127.0.0.1:8420/mcp", headers={"Authorization": "Bearer t"})
    config = json.loads(config_content(SPEC, PROVIDER, endpoint))
    assert config["mcp"] == {
        "hearth": {
            "type": "remote",
            "url": "http://127.0.0.1:8420/mcp",
            "headers": {"Authorization": "Bearer t"},
            "enabled": True,
        }
    }


def test_a_death_is_described_with_its_signal_and_last_output() -> None:
    killed = describe_exit(-signal.SIGKILL, ["booting", "listening"])
    assert "killed by signal SIGKILL" in killed
    assert "booting | listening" in killed
    assert "exited with code 1" in describe_exit(1, [])
    assert "(no output)" in describe_exit(1, [])


def test_a_process_that_is_not_our_server_is_never_claimed(tmp_path: Path) -> None:
    own_command = " ".join(Path(f"/proc/{os.getpid()}/cmdline").read_bytes().decode().split("\0")).strip()
    assert not is_our_server(os.getpid(), "/some/opencode serve", tmp_path)  # other command line
    assert not is_our_server(os.getpid(), own_command, tmp_path)  # same command line, other HOME
    assert not is_our_server(2**22 + 12345, "/some/opencode serve", tmp_path)  # no such pid
