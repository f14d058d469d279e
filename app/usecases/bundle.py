"""Every use case of one running hearth, as the edges (HTTP API, console, MCP) receive them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.usecases.agents import Agents
from app.usecases.arena import Arenas
from app.usecases.changes import Changes
from app.usecases.chats import Chats
from app.usecases.history import History
from app.usecases.replays import Replays
from app.usecases.streams import EventStreams
from app.usecases.system import System
from app.usecases.tasks import Tasks
from app.usecases.turns import Turns


@dataclass(frozen=True)
class UseCases:
    chats: Chats
    turns: Turns
    changes: Changes
    agents: Agents
    streams: EventStreams
    system: System
    replays: Replays
    tasks: Tasks
    arenas: Arenas
    history: History


class ServesUseCases(Protocol):
    """What an edge needs of a running hearth: its use cases (the composition root's ``Node`` is one)."""

    @property
    def use_cases(self) -> UseCases: ...
