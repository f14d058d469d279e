"""What an `opencode serve` process is started with: isolated state dirs, a trimmed env, generated config.

State lives under ``<data_dir>/agents/<agent>/`` and persists across hearth restarts, so stored OpenCode
session ids stay resumable. The environment is built from scratch (never inherited wholesale): PATH, the
isolated HOME/XDG dirs, the switches that keep OpenCode offline and quiet, the per-spawn password and the
provider config. OpenCode reads its whole configuration from ``OPENCODE_CONFIG_CONTENT`` and guards the
server with ``OPENCODE_SERVER_PASSWORD`` (HTTP basic auth, user ``opencode``); the isolated HOME keeps it from
reading the user's own config, auth or sessions.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.agents import AgentSpec, ProviderConfig
from core.ports.agents import McpEndpoint

PROVIDER_ID = "hearth"
SERVER_USER = "opencode"

# No auto-update, no models.dev fetch, no sharing, no LSP downloads, no plugins or ~/.claude reading. Every
# OpenCode hearth starts gets them: `opencode serve` and `opencode acp` alike.
OFFLINE_SWITCHES = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",
    "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
}


@dataclass(frozen=True)
class StateDirs:
    """The persistent per-agent directory tree: one HOME with its XDG dirs, plus the server log."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def xdg(self) -> dict[str, str]:
        home = self.home
        return {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
        }

    def create(self) -> None:
        for path in self.xdg().values():
            Path(path).mkdir(parents=True, exist_ok=True)


def state_dirs(agent_state_root: str, agent: str) -> StateDirs:
    return StateDirs(Path(agent_state_root) / agent)


def config_content(spec: AgentSpec, provider: ProviderConfig, hearth_mcp: McpEndpoint | None = None) -> str:
    """OpenCode config JSON for one OpenAI-compatible provider (the only shape verified offline)."""
    model = provider.openai_model
    permission = "allow" if spec.permission == "auto" else "ask"
    config = {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "model": f"{PROVIDER_ID}/{model}",
        "small_model": f"{PROVIDER_ID}/{model}",
        "enabled_providers": [PROVIDER_ID],
        "provider": {
            PROVIDER_ID: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "hearth provider",
                "options": {"baseURL": provider.openai_base_url, "apiKey": provider.openai_api_key or "none"},
                "models": {name: _model_entry(name) for name in provider.openai_model_choices()},
            }
        },
        "permission": {"edit": permission, "bash": permission, "webfetch": "deny"},
        # hearth diffs the worktree itself (pending changes), so OpenCode's per-step snapshot repo is pure cost.
        "snapshot": False,
        "lsp": False,
        "formatter": False,  # the file an agent writes is the file hearth diffs, not a reformatted one
    }
    if hearth_mcp is not None:  # hearth's tools (OpenCode names them hearth_<tool>), for delegating work
        config["mcp"] = {
            "hearth": {"type": "remote", "url": hearth_mcp.url, "headers": hearth_mcp.headers, "enabled": True}
        }
    return json.dumps(config)


def _model_entry(model: str) -> dict[str, object]:
    # no "cost": OpenCode then states 0 per step and hearth prices the tokens like every backend's (core.usage)
    return {"name": model, "limit": {"context": 128000, "output": 8192}}


def server_env(
    spec: AgentSpec, provider: ProviderConfig, dirs: StateDirs, password: str, hearth_mcp: McpEndpoint | None = None
) -> dict[str, str]:
    """The whole environment of the server process: nothing else leaks in from hearth's own."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **dirs.xdg(),
        **OFFLINE_SWITCHES,
        "OPENCODE_CONFIG_CONTENT": config_content(spec, provider, hearth_mcp),
        "OPENCODE_SERVER_PASSWORD": password,
        "OPENCODE_SERVER_USERNAME": SERVER_USER,
        **spec.env,
    }
