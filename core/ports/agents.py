"""How hearth drives an agent: a backend opens sessions, a session runs turns as streams of AgentEvents."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import PurePath
from typing import Protocol

from returns.result import Result

from core.agents import ProviderConfig
from core.errors import DomainError
from core.events import AgentEvent
from core.model import BackendKind, Frozen, TranscriptEntry


class SessionSpec(Frozen):
    chat_id: str | None
    agent: str
    cwd: str  # the chat worktree (absolute)
    resume_id: str | None = None  # the stored backend session id, if any


class TurnInput(Frozen):
    turn_id: str
    prompt: str  # already prefixed with the handoff preamble when one is due
    # the newest finished turns of the chat within the history budget (the native agent's history), oldest first
    transcript: tuple[TranscriptEntry, ...] = ()
    earlier_turns: int = 0  # finished turns before ``transcript`` left out of it: the agent is told so
    model: str | None = None  # this turn's model (checked by core.agents.check_turn_model); None: the default


class ProcessInfo(Frozen):
    key: str
    pid: int
    agent: str


class SessionHandle(Protocol):
    """A live session of one agent in one chat."""

    @property
    def backend_session_id(self) -> str: ...

    @property
    def resumed(self) -> bool:
        """True when the stored session was resumed rather than created."""
        ...

    @property
    def context_reset_reason(self) -> str | None:
        """Why a stored session could not be resumed (a new one was made), else None."""
        ...

    def run_turn(self, turn: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        """Streams the turn's events; the last one is terminal (completed, failed or cancelled).

        An async generator, so a consumer that stops early can ``aclose()`` it (contextlib.aclosing).
        """
        ...

    async def cancel(self) -> None:
        """Interrupt the running turn (abort / session/cancel). Never kills the agent process."""
        ...

    async def answer_permission(self, request_id: str, option_id: str | None) -> bool:
        """None rejects. False when no such request is waiting."""
        ...

    def is_alive(self) -> bool: ...
    async def working(self) -> bool:
        """Whether the agent itself still runs work in this session while hearth runs no turn on it (OpenCode:
        its session status route lists it busy or retrying). Asked before the session is let go of; an agent
        that cannot tell answers False."""
        ...

    async def close(self) -> None:
        """Release the session (evict/close). Disposes per-directory resources when nothing else uses them."""
        ...


class AgentBackend(Protocol):
    kind: BackendKind

    async def open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]: ...
    async def health(self) -> dict[str, object]: ...
    def processes(self) -> list[ProcessInfo]: ...
    def wants_drain(self) -> bool:
        """Its process keeps so many sessions hearth let go of that it should be emptied (core.lifecycle
        ``recycle_step``): the pool then evicts this agent's idle handles, each resuming on its next turn, and the
        backend stops the emptied process to give its memory back. False where closing a session frees it."""
        ...

    async def recycle_if_empty(self) -> bool:
        """The memory budget let go of every session of this agent's warm process: stop the process to give its
        memory back (not a crash; the next turn starts one and resumes its session). False when nothing was stopped
        (no such process, or a session of it is open or being opened)."""
        ...

    async def restart(self, reason: str) -> None:
        """Stop the agent's process(es) (SIGTERM, bounded wait, SIGKILL) so the next open_session respawns and
        resumes; counts as a crash for the crash budget (core.lifecycle ``TurnStalled``). The turn watchdog calls
        it when a busy turn stayed silent through a probe and a cancel; ``reason`` says so."""
        ...

    def reset(self) -> bool:
        """The operator fixed what kept crashing the agent: a spent crash budget (``dead``) is cleared, so the next
        turn starts it again. False when the agent was not dead (nothing to reset)."""
        ...

    async def aclose(self) -> None:
        """Stop every process this backend started and wait for them."""
        ...


class McpEndpoint(Frozen):
    """hearth's own MCP endpoint as the agents reach it, so a warm agent can delegate work (``submit_task``)."""

    url: str
    headers: dict[str, str] = {}


class BackendRuntime(Frozen):
    """What every backend is constructed with, besides its AgentSpec, the registry and a clock."""

    data_dir: str
    agents_dir: str  # hearth's npm cache (node_modules inside)
    node_id: str
    provider: ProviderConfig
    permission_timeout_s: float = 300.0
    health_interval_s: float = 15.0
    health_timeout_s: float = 5.0
    llm_retry_limit: int = 3
    acp_recycle_mib: int = 512  # memory a warm ACP process may hold for sessions hearth let go of (then recycled)
    # None: data_dir/agents. Nodes sharing one store point it at storage they all see, so that a chat moving to
    # another node resumes its agents' own sessions there instead of starting them afresh
    agent_state_dir: str | None = None
    worktrees_dir: str | None = None  # None: data_dir/worktrees; a sandboxed agent may write only inside it

    @property
    def worktrees_root(self) -> str:
        return self.worktrees_dir or str(PurePath(self.data_dir, "worktrees"))

    hearth_mcp: McpEndpoint | None = None  # None: agents get no hearth tools

    @property
    def agent_state_root(self) -> str:
        """Each agent keeps its own state (its sessions, HOME, logs) in ``agent_state_root/<agent name>``."""
        return self.agent_state_dir or str(PurePath(self.data_dir, "agents"))
