"""Agents: which are configured and whether each can run here, each chat's agent sessions with their composer
chips, and the operator's reset of an agent that crashed too often (``dead``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from returns.result import Result, Success

from app.memory.budget import MemoryBudget
from app.pool import AgentPool
from app.usecases.chats import Chats
from app.usecases.errors import Refused
from core.agents import AgentSpec, model_per_turn
from core.errors import DomainError, NotFound
from core.model import AgentSession, BackendKind, Frozen
from core.ports.agents import AgentBackend
from core.ports.store import AgentSessionStore, HistoryStore
from core.routing import Chip, composer_chips

AgentLocator = Callable[[AgentSpec], Result[str, DomainError]]  # where the agent's command is, or how to install it


class Capabilities(Frozen):
    warm: bool
    one_shot: bool
    cancel: bool
    resume: bool
    model_per_turn: bool


class AgentInfo(Frozen):
    name: str
    backend: BackendKind
    found: bool
    path: str | None = None
    problem: str | None = None  # what is missing and the command that installs it
    provider: str
    permission: str
    sandbox: str  # "worktree": its shell commands are confined to the chat's worktree; "off": they are not
    capabilities: Capabilities
    live_sessions: int
    memory_bytes: int = 0  # its process trees at the memory budget's last sample (/api/agents/memory has more)


class Agents:
    def __init__(
        self,
        *,
        chats: Chats,
        sessions: AgentSessionStore,
        history: HistoryStore,
        specs: Mapping[str, AgentSpec],
        backends: Mapping[str, AgentBackend],
        pool: AgentPool,
        locate: AgentLocator,
        memory: MemoryBudget | None = None,
    ) -> None:
        self._chats = chats
        self._sessions = sessions
        self._history = history
        self._specs = specs
        self._backends = backends
        self._pool = pool
        self._locate = locate
        self._memory = memory

    def catalogue(self) -> list[AgentInfo]:
        """Blocking (it looks for each agent's command on disk): call it off the event loop."""
        live = self._pool.live_counts()
        charged = self._memory.charged()[0] if self._memory is not None else {}
        return [
            self._info(spec, live.get(name, 0)).model_copy(update={"memory_bytes": charged.get(name, 0)})
            for name, spec in sorted(self._specs.items())
        ]

    def _info(self, spec: AgentSpec, live_sessions: int) -> AgentInfo:
        located: Result[str, DomainError] = (
            Success("built in") if spec.backend is BackendKind.NATIVE else self._locate(spec)
        )
        found = isinstance(located, Success)
        return AgentInfo(
            name=spec.name,
            backend=spec.backend,
            found=found,
            path=located.unwrap() if found else None,
            problem=None if found else located.failure().detail,
            provider=spec.provider,
            permission=spec.permission,
            sandbox=spec.sandbox,
            capabilities=Capabilities(
                warm=spec.backend is not BackendKind.ONE_SHOT,
                one_shot=spec.backend is BackendKind.WARM_ACP,
                cancel=True,
                resume=spec.backend is not BackendKind.ONE_SHOT,
                model_per_turn=model_per_turn(spec),
            ),
            live_sessions=live_sessions,
        )

    async def sessions(self, chat_id: str) -> tuple[list[AgentSession], dict[str, Chip]]:
        """The chat's agent sessions, and per configured agent the chip a composer shows: ``core.routing.Chip``.

        Three indexed reads whatever the chat's length (the chat, its sessions, the agents that finished a turn)."""
        await self._chats.get(chat_id)
        sessions = await self._sessions.list_agent_sessions(chat_id)
        finished_by = await self._history.agents_with_finished_turns(chat_id)
        return sessions, dict(composer_chips(sorted(self._specs), sessions, finished_by))

    def background_work(self, chat_id: str) -> dict[str, list[str]]:
        """Per agent of the chat, the jobs it left running (pid and command) at the memory budget's last sample."""
        sampled = self._memory.state.attribution if self._memory is not None else None
        if sampled is None:
            return {}
        return {h.agent: list(h.background) for h in sampled.handles if h.chat_id == chat_id and h.background}

    def reset(self, name: str) -> bool:
        """Clear a dead agent's crash budget; False when it was not dead. The next turn starts it again."""
        backend = self._backends.get(name)
        if backend is None:
            known = ", ".join(sorted(self._backends))
            raise Refused(NotFound(detail=f"unknown agent {name!r}; configured agents: {known}", field="name"))
        return backend.reset()
