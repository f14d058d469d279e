"""The ACP ``Client`` side hearth implements: one object per agent process, routing by session id.

Every ``Client`` method is implemented (the SDK calls any of them; a missing one crashes the connection); the
ones hearth does not offer answer
"method not found". Updates are handed to the session synchronously, before any await, so their order
survives the SDK running each notification in its own task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from acp import RequestError
from acp.interfaces import Agent
from acp.schema import (
    AgentMessageChunk,
    AgentPlanContentUpdate,
    AgentPlanRemovedUpdate,
    AgentPlanUpdate,
    AgentThoughtChunk,
    AllowedOutcome,
    AvailableCommandsUpdate,
    ConfigOptionUpdate,
    CreateElicitationResponse,
    CreateTerminalResponse,
    CurrentModeUpdate,
    DeniedOutcome,
    ElicitationMode,
    EnvVariable,
    KillTerminalResponse,
    PermissionOption,
    ReadTextFileResponse,
    ReleaseTerminalResponse,
    RequestPermissionResponse,
    SessionInfoUpdate,
    TerminalOutputResponse,
    ToolCallProgress,
    ToolCallStart,
    ToolCallUpdate,
    UsageUpdate,
    UserMessageChunk,
    WaitForTerminalExitResponse,
    WriteTextFileResponse,
)

from adapters.acp.confinement import inside


class SessionSink(Protocol):
    """What a live session offers the client: a worktree, an update sink, a permission decision."""

    @property
    def cwd(self) -> str: ...

    def on_update(self, update: dict[str, Any]) -> None:
        """Must not block: called in wire order."""
        ...

    async def decide_permission(self, tool_call: dict[str, Any], options: list[dict[str, Any]]) -> str | None:
        """The chosen option id, or None to refuse."""
        ...


class HearthAcpClient:
    def __init__(self, agent: str) -> None:
        self._agent = agent
        self._sessions: dict[str, SessionSink] = {}

    def attach(self, session_id: str, sink: SessionSink) -> None:
        self._sessions[session_id] = sink

    def detach(self, session_id: str, sink: SessionSink) -> None:
        if self._sessions.get(session_id) is sink:
            del self._sessions[session_id]

    def sinks(self) -> list[SessionSink]:
        return list(self._sessions.values())

    def _sink(self, session_id: str) -> SessionSink:
        sink = self._sessions.get(session_id)
        if sink is None:
            raise RequestError.invalid_params({"sessionId": session_id, "details": "unknown session"})
        return sink

    def on_connect(self, conn: Agent) -> None:
        return None

    async def session_update(
        self,
        session_id: str,
        update: UserMessageChunk
        | AgentMessageChunk
        | AgentThoughtChunk
        | ToolCallStart
        | ToolCallProgress
        | AgentPlanUpdate
        | AgentPlanContentUpdate
        | AgentPlanRemovedUpdate
        | AvailableCommandsUpdate
        | CurrentModeUpdate
        | ConfigOptionUpdate
        | SessionInfoUpdate
        | UsageUpdate,
        **kwargs: Any,
    ) -> None:
        sink = self._sessions.get(session_id)
        if sink is not None:  # updates for a session nobody holds (yet) carry nothing a turn needs
            sink.on_update(update.model_dump(mode="json", by_alias=True, exclude_none=True))

    async def request_permission(
        self, session_id: str, tool_call: ToolCallUpdate, options: list[PermissionOption], **kwargs: Any
    ) -> RequestPermissionResponse:
        sink = self._sink(session_id)
        chosen = await sink.decide_permission(
            tool_call.model_dump(mode="json", by_alias=True, exclude_none=True),
            [option.model_dump(mode="json", by_alias=True, exclude_none=True) for option in options],
        )
        if chosen is None:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=chosen))

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None, **kwargs: Any
    ) -> ReadTextFileResponse:
        target = self._confined(session_id, path)
        try:
            lines = target.read_text().splitlines(keepends=True)
        except OSError as error:
            raise RequestError.resource_not_found(path) from error
        start = max((line or 1) - 1, 0)
        end = start + limit if limit is not None else None
        return ReadTextFileResponse(content="".join(lines[start:end]))

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> WriteTextFileResponse | None:
        target = self._confined(session_id, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        return WriteTextFileResponse()

    def _confined(self, session_id: str, path: str) -> Path:
        root = self._sink(session_id).cwd
        target = inside(root, path)
        if target is None:
            raise RequestError.invalid_params({"path": path, "details": f"outside the worktree {root}"})
        return target

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[EnvVariable] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **kwargs: Any,
    ) -> CreateTerminalResponse:
        raise RequestError.method_not_found("terminal/create")

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> TerminalOutputResponse:
        raise RequestError.method_not_found("terminal/output")

    async def release_terminal(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> ReleaseTerminalResponse | None:
        raise RequestError.method_not_found("terminal/release")

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> WaitForTerminalExitResponse:
        raise RequestError.method_not_found("terminal/wait_for_exit")

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> KillTerminalResponse | None:
        raise RequestError.method_not_found("terminal/kill")

    async def create_elicitation(self, message: str, mode: ElicitationMode, **kwargs: Any) -> CreateElicitationResponse:
        raise RequestError.method_not_found("elicitation/create")

    async def complete_elicitation(self, elicitation_id: str, **kwargs: Any) -> None:
        raise RequestError.method_not_found("elicitation/complete")

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(method)

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None
