"""Settings from the environment (prefix HEARTH_) and an optional TOML config file for agents."""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.agents import BUILTIN_AGENTS, AgentSpec, ProviderConfig, merge_catalogue


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "hearth"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "hearth"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEARTH_", env_nested_delimiter="__", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8420
    api_token: str | None = None  # required whenever host is not loopback
    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path = Field(default_factory=_default_cache_dir)  # npm agents live in cache_dir/agents
    database_url: str | None = None  # postgresql://... ; default: SQLite file in data_dir
    # default data_dir/worktrees; nodes sharing one PostgreSQL point it at storage they all see at the same path
    worktrees_dir: Path | None = None
    # each agent's own state (its sessions), default data_dir/agents; nodes sharing one PostgreSQL point it at
    # storage they all see at the same path, so a chat that moves node resumes its agents' sessions there
    agent_state_dir: Path | None = None
    # hearth's /mcp as the agents reach it (e.g. http://127.0.0.1:8420/mcp): OpenCode and ACP agents that take MCP
    # servers get hearth's tools and can delegate work (submit_task). Unset: agents get no hearth tools
    agent_mcp_url: str | None = None
    config_file: Path | None = None  # TOML with [[agents]] tables for operator-configured agents
    # this machine's hostname: nodes sharing one PostgreSQL need distinct ids (set it for two nodes on one machine)
    node_id: str = Field(default_factory=socket.gethostname, min_length=1)
    lease_ttl_s: float = 30.0  # a node that has not renewed a chat's lease this long loses the chat
    repo_roots: list[Path] = Field(default_factory=lambda: [Path.home()])

    idle_ttl: float = 30 * 60  # seconds an idle (chat, agent) handle stays live
    max_live: int = 10  # LRU cap on live handles
    acp_recycle_mib: int = Field(default=512, ge=0)  # memory a warm ACP process may hold for evicted sessions
    # busy agent handles (= running turns) one node holds at once: a ceiling against runaways, not a throttle
    max_parallel_turns: int = Field(default=256, ge=0)
    # the memory budget over every agent process tree (ADR 0015); None: half of the host's MemTotal; 0: off
    memory_budget_mib: int | None = Field(default=None, ge=0)
    memory_floor: int = Field(default=1, ge=0)  # most recently used idle handles the budget never evicts
    memory_sample_interval_s: float = Field(default=10.0, gt=0)
    background_grace_s: float = Field(default=3600.0, ge=0)  # background work defers eviction this long
    admission_wait_s: float = Field(default=60.0, ge=0)  # a new session waits this long for room, then fails
    dispatch_poll_s: float = Field(default=1.0, gt=0)  # how often queued turns are looked for when nothing woke us
    max_prompt_chars: int = 200_000
    arena_max_parallel: int = Field(default=2, ge=1)  # arena contestants running at once on this node
    arena_max_contestants: int = Field(default=8, ge=1)  # contestants one arena may name
    # what a turn hands its agent of the chat so far (older turns are left out, and the agent is told so): the
    # handoff preamble of another agent's turns fits handoff_max_chars; a native agent's history keeps the newest
    # history_max_turns turns that fit history_max_chars
    handoff_max_chars: int = Field(default=16_000, ge=0)
    history_max_turns: int = Field(default=30, ge=0)
    history_max_chars: int = Field(default=32_000, ge=0)
    turn_watchdog_s: float = 300.0  # a busy turn with no event this long is probed, then cancelled
    permission_timeout_s: float = 300.0
    shutdown_grace_s: float = 10.0

    eviction_interval_s: float = 30.0
    health_interval_s: float = 15.0
    health_timeout_s: float = 5.0
    reaper_interval_s: float = 300.0
    reaper_grace_s: float = 3600.0
    snapshot_retention_days: float = 14.0
    llm_retry_limit: int = 3  # OpenCode retries a 5xx forever; hearth fails the turn after this many

    provider: ProviderConfig = Field(default_factory=ProviderConfig)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "hearth.sqlite3"

    @property
    def chat_worktrees_dir(self) -> Path:
        return self.worktrees_dir or self.data_dir / "worktrees"

    @property
    def agent_state_root(self) -> Path:
        return self.agent_state_dir or self.data_dir / "agents"

    @property
    def agents_dir(self) -> Path:
        return self.cache_dir / "agents"

    def agents(self) -> dict[str, AgentSpec]:
        return merge_catalogue(BUILTIN_AGENTS, load_configured_agents(self.config_file))


def load_configured_agents(path: Path | None) -> tuple[AgentSpec, ...]:
    if path is None:
        return ()
    data = tomllib.loads(path.read_text())
    builtin = {spec.name: spec.model_dump() for spec in BUILTIN_AGENTS}
    # an entry naming a built-in without a backend adjusts it (e.g. `sandbox = "off"`) instead of replacing it
    return tuple(
        AgentSpec.model_validate({**builtin[entry["name"]], **entry} if _adjusts_builtin(entry, builtin) else entry)
        for entry in data.get("agents", [])
    )


def _adjusts_builtin(entry: dict[str, object], builtin: Mapping[str, object]) -> bool:
    return "backend" not in entry and isinstance(entry.get("name"), str) and entry["name"] in builtin
