"""What an OpenCode session needs from whoever runs the shared server (the backend)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from returns.result import Result

from adapters.opencode.client import Json, OpenCodeClient
from adapters.opencode.process import ServerProcess
from core.errors import DomainError

if TYPE_CHECKING:
    from adapters.opencode.session import OpenCodeSession

Server = tuple[ServerProcess, OpenCodeClient]


class ServerHost(Protocol):
    """What a session needs from whoever runs the shared server (the backend). The settings are read on every
    use, so a change on the host reaches the sessions already open."""

    @property
    def stream_idle_timeout_s(self) -> float:
        """Silence on the event stream longer than this means a dropped stream or a hung server."""
        ...

    @property
    def llm_retry_limit(self) -> int:
        """OpenCode retries a failing LLM forever: the turn is aborted and failed after this many retries."""
        ...

    @property
    def default_model(self) -> str: ...

    @property
    def permission_auto(self) -> bool:
        """``permission = "auto"``: hearth answers every question itself (inside the worktree allow, else reject)."""
        ...

    @property
    def permission_timeout_s(self) -> float:
        """Under ``ask``, a question nobody answered this long is rejected."""
        ...

    def server_alive(self) -> bool: ...

    def running_client(self) -> OpenCodeClient | None:
        """The client of the running server, or None: never starts one."""
        ...

    async def ensure_server(self) -> Result[Server, DomainError]:
        """The running server and its client, (re)spawned when needed."""
        ...

    async def diagnose(self, server: ServerProcess, client: OpenCodeClient, busy: bool) -> str | None:
        """None when the server is fine after a dropped stream, else why the turn must fail."""
        ...

    def note_stream_resync(self) -> None: ...

    def session_events(self, session_id: str, directory: str) -> AbstractAsyncContextManager[AsyncIterator[Json]]:
        """The session's slice of the server's event stream, entered once the stream is connected (else
        ``FeedDropped``)."""
        ...

    async def session_closed(self, session: OpenCodeSession) -> None:
        """Forget the session; free what its directory holds on the server when nothing else uses it."""
        ...
