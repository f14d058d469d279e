"""The explicit, minimal environment and state directory of one ACP agent process.

``acp`` inherits only HOME/LOGNAME/PATH/SHELL/TERM/USER, so everything an agent needs is passed on purpose:
the provider variables from ``core.agents.provider_env``, a private HOME/XDG tree under
``data_dir/agents/<name>/`` (agents keep sessions there, so ``session/load`` works after a respawn), and the
settings files some agents read instead of variables (qwen and gemini take their auth type and switch off
telemetry and update checks in ``settings.json``; OpenCode takes its provider from a config variable).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from adapters.opencode.config import OFFLINE_SWITCHES
from core.agents import AgentSpec, ProviderConfig, provider_env
from core.ports.agents import BackendRuntime

# Inherited from hearth's own environment when present: the agents are Node programs that need PATH to find
# node, and a locale; nothing else leaks through.
_INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "SHELL", "TERM", "USER", "LOGNAME")


def agent_home(spec: AgentSpec, runtime: BackendRuntime) -> Path:
    return Path(runtime.agent_state_root) / spec.name


def agent_environment(spec: AgentSpec, runtime: BackendRuntime) -> dict[str, str]:
    """Create the agent's state tree and settings files; return the complete child environment."""
    root = agent_home(spec, runtime)
    home = root / "home"
    xdg = {
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_STATE_HOME": home / ".local" / "state",
    }
    for directory in (home, *xdg.values()):
        directory.mkdir(parents=True, exist_ok=True)
    env = {key: value for key in _INHERITED if (value := os.environ.get(key)) is not None}
    env.update({"HOME": str(home), **{key: str(path) for key, path in xdg.items()}})
    env.update(_settings_for(spec, runtime.provider, home, delegating=runtime.hearth_mcp is not None))
    env.update(provider_env(spec, runtime.provider))
    return env


def _settings_for(spec: AgentSpec, provider: ProviderConfig, home: Path, *, delegating: bool) -> dict[str, str]:
    """Per-agent settings files (written every spawn: the provider may have changed) and extra variables."""
    program = Path(spec.command).name
    if program == "qwen":
        settings: dict[str, object] = {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": provider.openai_model},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        }
        if delegating:
            # qwen hides MCP tools behind its tool_search tool until the model searches for them; without that tool
            # it declares them directly, and hearth's few tools (session/new mcpServers) are then always in reach
            settings["tools"] = {"exclude": ["tool_search"]}
        _write_json(home / ".qwen" / "settings.json", settings)
    elif program == "gemini":
        _write_json(
            home / ".gemini" / "settings.json",
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": False},
                "telemetry": {"enabled": False},
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            },
        )
    elif program == "opencode":
        return {**OFFLINE_SWITCHES, "OPENCODE_CONFIG_CONTENT": json.dumps(opencode_config(spec, provider))}
    return {}


def opencode_config(spec: AgentSpec, provider: ProviderConfig) -> dict[str, object]:
    """OpenCode reads its provider from config, not variables: an OpenAI-compatible provider named hearth."""
    edit = "ask" if spec.permission == "ask" else "allow"
    return {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "model": f"hearth/{provider.openai_model}",
        "small_model": f"hearth/{provider.openai_model}",
        "enabled_providers": ["hearth"],
        "provider": {
            "hearth": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "hearth provider",
                "options": {"baseURL": provider.openai_base_url, "apiKey": provider.openai_api_key},
                "models": {provider.openai_model: {"name": provider.openai_model}},
            }
        },
        # external_directory keeps OpenCode's own tools inside the session directory (the worktree).
        "permission": {"edit": edit, "bash": edit, "webfetch": "deny", "external_directory": "deny"},
    }


def _write_json(path: Path, content: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n")
