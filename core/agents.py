"""Agents are configuration, not code: a name, a backend kind, a command, and how it reaches its LLM.

The built-in catalogue pins each npm package to the exact version whose behaviour hearth relies on and its tests
verify (protocol, tool names, usage shapes, cancel, resume); another version may differ, so a bump re-runs the
backend contract suite. An operator adds any other ACP agent in the config file; nothing here needs to change for
it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from returns.result import Failure, Result, Success

from core.errors import DomainError, InvalidInput
from core.model import BackendKind, Frozen
from core.sandbox import SandboxMode

Provider = Literal["openai", "anthropic", "gemini", "none"]
PermissionPolicy = Literal["auto", "ask"]


class AgentSpec(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    backend: BackendKind
    command: str = ""  # executable name (looked up in hearth's agent cache, then PATH) or absolute path
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    npm_package: str | None = None  # "name@version" that provides ``command``
    provider: Provider = "openai"
    permission: PermissionPolicy = "auto"
    # "worktree": every shell command the agent runs is confined to the chat's worktree (core.sandbox, ADR 0009)
    sandbox: SandboxMode = "worktree"


class ModelPrice(Frozen):
    """USD per million tokens, as providers publish them. Reasoning tokens bill as output."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0

    def cost(self, input_tokens: int, output_tokens: int, reasoning_tokens: int = 0) -> float:
        return (input_tokens * self.input + (output_tokens + reasoning_tokens) * self.output) / 1_000_000


class ProviderConfig(Frozen):
    """Where agents send their LLM requests. Tests and ``hearth demo`` point all three at the scripted LLM."""

    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: str = ""
    openai_model: str = "gpt-4o-mini"
    openai_models: tuple[str, ...] = ()  # more models the same endpoint serves, selectable per turn
    openai_price: ModelPrice | None = None  # unknown prices report cost 0 rather than a guess
    anthropic_base_url: str = "https://api.anthropic.com"  # without /v1: Claude Code adds it
    anthropic_api_key: str = ""
    anthropic_model: str = "claude-sonnet-4-5"
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    gemini_api_key: str = ""
    gemini_model: str = "gemini-2.5-flash"

    def openai_model_choices(self) -> tuple[str, ...]:
        """The default model first, then the others, each once."""
        return tuple(dict.fromkeys((self.openai_model, *self.openai_models)))


OPENCODE_PACKAGE = "opencode-ai@1.18.33"

BUILTIN_AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec(
        name="opencode",
        backend=BackendKind.OPENCODE_SERVER,
        command="opencode",
        args=("serve",),
        npm_package=OPENCODE_PACKAGE,
    ),
    AgentSpec(
        name="opencode-acp",
        backend=BackendKind.WARM_ACP,
        command="opencode",
        args=("acp",),
        npm_package=OPENCODE_PACKAGE,
    ),
    AgentSpec(
        name="qwen",
        backend=BackendKind.WARM_ACP,
        command="qwen",
        args=("--acp",),
        env={"QWEN_CODE_NO_RELAUNCH": "1"},
        npm_package="@qwen-code/qwen-code@0.15.10",
    ),
    AgentSpec(
        name="claude",
        backend=BackendKind.WARM_ACP,
        command="claude-code-acp",
        provider="anthropic",
        env={
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
        },
        npm_package="@zed-industries/claude-code-acp@0.16.2",
    ),
    AgentSpec(
        name="gemini",
        backend=BackendKind.WARM_ACP,
        command="gemini",
        args=("--acp",),
        provider="gemini",
        env={"GEMINI_CLI_TRUST_WORKSPACE": "true", "GEMINI_CLI_NO_RELAUNCH": "true"},
        npm_package="@google/gemini-cli@0.61.0",
    ),
    AgentSpec(name="native", backend=BackendKind.NATIVE),
)


def provider_env(spec: AgentSpec, provider: ProviderConfig) -> dict[str, str]:
    """The provider variables an agent process needs, on purpose and nothing else (its env is trimmed)."""
    match spec.provider:
        case "openai":
            env = {
                "OPENAI_BASE_URL": provider.openai_base_url,
                "OPENAI_API_KEY": provider.openai_api_key,
                "OPENAI_MODEL": provider.openai_model,
            }
        case "anthropic":
            env = {
                "ANTHROPIC_BASE_URL": provider.anthropic_base_url,
                "ANTHROPIC_API_KEY": provider.anthropic_api_key,
                "ANTHROPIC_MODEL": provider.anthropic_model,
                "ANTHROPIC_SMALL_FAST_MODEL": provider.anthropic_model,
            }
        case "gemini":
            env = {
                "GOOGLE_GEMINI_BASE_URL": provider.gemini_base_url,
                "GEMINI_API_KEY": provider.gemini_api_key,
                "GEMINI_MODEL": provider.gemini_model,
            }
        case "none":
            env = {}
    return {**env, **spec.env}


def merge_catalogue(builtin: tuple[AgentSpec, ...], configured: tuple[AgentSpec, ...]) -> dict[str, AgentSpec]:
    """Operator-configured agents add to the built-ins and override one of the same name."""
    return {spec.name: spec for spec in (*builtin, *configured)}


def check_turn_model(spec: AgentSpec, provider: ProviderConfig, model: str | None) -> Result[None, DomainError]:
    """Whether ``spec`` can run one turn on ``model``; refused before it is queued, never silently ignored.

    The native agent sends any model name to its endpoint; an OpenCode server knows only the models in its
    generated config; an ACP agent reads its model from the environment it was started with, once per process.
    """
    if model is None or spec.backend is BackendKind.NATIVE:
        return Success(None)
    if spec.backend is BackendKind.OPENCODE_SERVER:
        choices = provider.openai_model_choices()
        if model in choices:
            return Success(None)
        detail = (
            f"agent {spec.name!r} knows the models {', '.join(choices)}; add {model!r} to "
            "HEARTH_PROVIDER__OPENAI_MODELS to choose it per turn"
        )
        return Failure(InvalidInput(detail=detail, field="model"))
    detail = (
        f"agent {spec.name!r} ({spec.backend.value}) takes its model from hearth's provider settings when it starts, "
        "not per turn: omit model, or use an OpenCode or native agent for a per-turn model"
    )
    return Failure(InvalidInput(detail=detail, field="model"))


def model_per_turn(spec: AgentSpec) -> bool:
    return spec.backend in (BackendKind.NATIVE, BackendKind.OPENCODE_SERVER)
