"""hearth's own agent: a tool-calling loop over any OpenAI-compatible chat-completions endpoint.

No process: each turn streams chat completions with httpx, runs the file tools (confined to the chat
worktree) the model asks for, and repeats until the model answers without a tool call or ``max_steps``
is reached. Its history is the chat transcript, other agents' turns included.

Cancel works like ``asyncio.timeout`` (``adapters.native.interrupt``): while the turn awaits the network,
``cancel()`` cancels the task running the turn and the turn swallows exactly that cancellation and ends
``cancelled``; while the turn is handing an event to its consumer, only a flag is set and checked on resumption.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
from returns.result import Failure, Result, Success

from adapters.native import shell_tool
from adapters.native.interrupt import Interrupt, Interrupted
from adapters.native.stream import DONE, StepOutcome, error_message, history_messages, parse_data_line
from adapters.native.tools import ToolError, Workspace, openai_tools
from core.agents import AgentSpec
from core.errors import DomainError
from core.events import (
    AgentEvent,
    ReasoningDelta,
    Retry,
    TextDelta,
    ToolCall,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    UsageReport,
)
from core.model import BackendKind
from core.ports.agents import BackendRuntime, ProcessInfo, SessionHandle, SessionSpec, TurnInput

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)
DRAIN_AFTER_DONE_S = 1.0
SYSTEM_PROMPT = (
    "You are hearth's native coding agent working in a git worktree.\n"
    "Working directory: {cwd}\n"
    "Use the tools read, write, edit, list and search to inspect and change files; paths are relative to the "
    "working directory and cannot leave it. Earlier turns of this chat, including other agents' turns, are in "
    "the history. Answer concisely."
)


class NativeSession:
    def __init__(
        self, backend: NativeBackend, spec: SessionSpec, workspace: Workspace, shell: shell_tool.ShellTool
    ) -> None:
        self._backend = backend
        self._spec = spec
        self._workspace = workspace
        self._shell = shell
        self._session_id = spec.resume_id or f"native-{spec.chat_id or uuid.uuid4().hex[:12]}"
        self._interrupt: Interrupt | None = None
        self._closed = False

    @property
    def backend_session_id(self) -> str:
        return self._session_id

    @property
    def resumed(self) -> bool:
        return self._spec.resume_id is not None

    @property
    def context_reset_reason(self) -> str | None:
        return None  # the transcript is the history: nothing can be lost by a restart

    def is_alive(self) -> bool:
        return not self._closed

    async def working(self) -> bool:
        return False  # its turns run inside hearth and end with them

    async def answer_permission(self, request_id: str, option_id: str | None) -> bool:
        return False  # the native tools never ask: they are confined to the worktree instead

    async def cancel(self) -> None:
        if self._interrupt is not None:
            self._interrupt.request()

    async def close(self) -> None:
        self._closed = True
        await self.cancel()
        self._backend.forget(self)

    def run_turn(self, turn: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        # The interrupt exists from this call on, before the generator first runs: a cancel that arrives in
        # between is honoured (the first model call raises Interrupted) instead of finding nothing to interrupt.
        interrupt = self._interrupt = Interrupt()
        return self._run_turn(turn, interrupt)

    async def _run_turn(self, turn: TurnInput, interrupt: Interrupt) -> AsyncGenerator[AgentEvent, None]:
        ids = {"session_id": self._session_id, "turn_id": turn.turn_id}
        if self._closed:
            yield TurnFailed(**ids, error="the native agent session is closed; open a new one")
            return
        system = {"role": "system", "content": SYSTEM_PROMPT.format(cwd=self._workspace.root)}
        history = history_messages(turn.transcript, self._backend.spec.name, turn.turn_id, turn.earlier_turns)
        messages = [system, *history, {"role": "user", "content": turn.prompt}]
        try:
            for step in range(self._backend.max_steps):
                outcome = StepOutcome()
                async with contextlib.aclosing(self._model_call(turn, step, messages, outcome, interrupt)) as events:
                    async for event in events:
                        yield event
                if outcome.cancelled or interrupt.was_requested():
                    yield TurnCancelled(**ids)
                    return
                if outcome.error is not None:
                    yield TurnFailed(**ids, error=outcome.error)
                    return
                if not outcome.calls:
                    yield TurnCompleted(**ids, stop_reason=outcome.finish_reason or "stop")
                    return
                messages.append(outcome.assistant_message())
                for _, call in sorted(outcome.calls.items()):
                    args = call.parsed()
                    title = f"{call.name} {(args or {}).get('path') or (args or {}).get('command', '')}".strip()
                    base = {**ids, "tool_call_id": call.id, "name": call.name, "title": title, "input": args}
                    yield ToolCall(**base, status="pending")
                    yield ToolCall(**base, status="running")
                    try:
                        output, status = await self._run_tool(call.name, call.arguments, args, interrupt), "ok"
                    except ToolError as exc:
                        output, status = f"Error: {exc}", "error"
                    yield ToolCall(**base, status="completed" if status == "ok" else "failed", output=output)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
                if interrupt.was_requested():
                    yield TurnCancelled(**ids)
                    return
            limit = self._backend.max_steps
            yield TurnFailed(**ids, error=f"the native agent stopped after {limit} model calls without a final answer")
        finally:
            if self._interrupt is interrupt:
                self._interrupt = None

    async def _run_tool(self, name: str, arguments: str, args: dict[str, Any] | None, interrupt: Interrupt) -> str:
        if name != "bash":
            return await asyncio.to_thread(self._workspace.run, name, arguments)
        if args is None:
            raise ToolError("arguments must be a JSON object")
        try:
            with interrupt.armed():
                return await self._shell.run(args)
        except Interrupted:
            raise ToolError("cancelled: the command was stopped") from None

    async def _model_call(
        self, turn: TurnInput, step: int, messages: list[dict[str, Any]], outcome: StepOutcome, interrupt: Interrupt
    ) -> AsyncGenerator[AgentEvent, None]:
        """One streamed completion; 5xx and transport errors are retried up to ``llm_retry_limit``."""
        ids = {"session_id": self._session_id, "turn_id": turn.turn_id}
        backend = self._backend
        body = {
            "model": turn.model or backend.runtime.provider.openai_model,
            "messages": messages,
            "tools": openai_tools({"bash": (shell_tool.DESCRIPTION, shell_tool.SCHEMA)}),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        retries = backend.runtime.llm_retry_limit
        try:
            for attempt in range(retries + 1):
                retry_reason: str | None = None
                request = backend.http.build_request("POST", backend.url, json=body, headers=backend.headers)
                try:
                    with interrupt.armed():
                        response = await backend.http.send(request, stream=True)
                except httpx.TransportError as exc:
                    retry_reason = f"could not reach the LLM at {backend.url}: {exc!r}"
                else:
                    try:
                        if response.status_code != 200:
                            with interrupt.armed():
                                raw = await response.aread()
                            failure = f"HTTP {response.status_code}: {error_message(response.status_code, raw)}"
                            if response.status_code < 500:
                                outcome.error = f"LLM request to {backend.url} failed with {failure}"
                                return
                            retry_reason = failure
                        else:
                            chunks = self._read_stream(response, turn, step, outcome, interrupt)
                            async with contextlib.aclosing(chunks) as events:
                                async for event in events:
                                    yield event
                            return
                    finally:
                        await response.aclose()
                if attempt == retries:
                    outcome.error = f"LLM request to {backend.url} failed after {retries + 1} attempts: {retry_reason}"
                    return
                yield Retry(**ids, attempt=attempt + 1, message=retry_reason or "retrying")
                with interrupt.armed():
                    await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
        except Interrupted:
            outcome.cancelled = True

    async def _read_stream(
        self, response: httpx.Response, turn: TurnInput, step: int, outcome: StepOutcome, interrupt: Interrupt
    ) -> AsyncGenerator[AgentEvent, None]:
        ids = {"session_id": self._session_id, "turn_id": turn.turn_id}
        lines = response.aiter_lines()
        try:
            while True:
                with interrupt.armed():
                    line = await anext(lines, None)
                if line is None:
                    break
                data = parse_data_line(line)
                if data == DONE:
                    await _drain(lines)
                    break
                if not isinstance(data, dict):
                    continue
                reasoning, text = outcome.feed(data)
                if reasoning:
                    yield ReasoningDelta(**ids, part_id=f"{turn.turn_id}-reasoning-{step}", text=reasoning)
                if text:
                    yield TextDelta(**ids, part_id=f"{turn.turn_id}-text-{step}", text=text)
        except httpx.HTTPError as exc:
            outcome.error = f"the LLM stream from {self._backend.url} broke: {exc!r}"
            return
        finally:
            close = getattr(lines, "aclose", None)
            if close is not None:
                await close()  # finish the line generator here, not in the loop's finaliser
        if outcome.usage:
            details = outcome.usage.get("completion_tokens_details") or {}
            input_tokens = int(outcome.usage.get("prompt_tokens") or 0)
            output_tokens = int(outcome.usage.get("completion_tokens") or 0)
            reasoning_tokens = int(details.get("reasoning_tokens") or 0)
            # tokens only: the turn's usage is priced once for every backend (core.usage)
            yield UsageReport(
                **ids, input_tokens=input_tokens, output_tokens=output_tokens, reasoning_tokens=reasoning_tokens
            )


async def _drain(lines: AsyncIterator[str]) -> None:
    """Reads the body to its end after ``[DONE]`` (normally only the chunked terminator is left): a response read
    to its end gives its connection back to the pool, while one closed early costs the next model call a new
    connection (to a real provider, a TLS handshake). Bounded: a server that keeps sending is cut off."""
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(DRAIN_AFTER_DONE_S):
            async for _ in lines:
                pass


class NativeBackend:
    kind = BackendKind.NATIVE

    def __init__(
        self, spec: AgentSpec, runtime: BackendRuntime, http: httpx.AsyncClient | None = None, *, max_steps: int = 20
    ) -> None:
        self.spec = spec
        self.runtime = runtime
        self.max_steps = max_steps
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
        self.url = runtime.provider.openai_base_url.rstrip("/") + "/chat/completions"
        key = runtime.provider.openai_api_key
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._sessions: set[NativeSession] = set()

    async def open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]:
        prepared = await asyncio.to_thread(shell_tool.tools_for, self.spec, self.runtime, spec.cwd)
        if isinstance(prepared, Failure):
            return Failure(prepared.failure())
        workspace, shell = prepared.unwrap()
        session = NativeSession(self, spec, workspace, shell)
        self._sessions.add(session)
        return Success(session)

    def forget(self, session: NativeSession) -> None:
        self._sessions.discard(session)

    async def health(self) -> dict[str, object]:
        return {"ok": True, "kind": self.kind.value, "endpoint": self.url, "sessions": len(self._sessions)}

    def processes(self) -> list[ProcessInfo]:
        return []

    def reset(self) -> bool:
        return False  # it keeps no crash budget: nothing to reset

    def wants_drain(self) -> bool:
        return False  # closing a session frees what it held

    async def recycle_if_empty(self) -> bool:
        return False  # no warm process: nothing outlives its sessions

    async def restart(self, reason: str) -> None:
        """No process to respawn: cancel every session's in-flight work; the sessions stay usable."""
        for session in list(self._sessions):
            await session.cancel()

    async def aclose(self) -> None:
        for session in list(self._sessions):
            await session.close()
        if self._owns_http:
            await self.http.aclose()
