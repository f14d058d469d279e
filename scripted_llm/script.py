"""Directive script: a normalized request in, a reply plan out (pure).

The protocol modules reduce their wire format to ``Request`` and render ``Reply`` back; everything an
agent can make the fake LLM do is decided here, once, for all three protocols.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.routing import PREAMBLE_SEPARATOR

REASONING_TEXT = "Let me think step by step about this request. It seems simple enough."
DEFAULT_WRITE_CONTENT = "hello from fake llm"
INTERRUPT_MARK = "[Request interrupted by user]"
USER_MARK = f"{PREAMBLE_SEPARATOR}[user]\n"  # where hearth's handoff preamble ends
FAST_CHUNKS = 4
SLOW_CHUNKS = 20
FAST_DELAY_S = 0.005
DEFAULT_SLOW_S = 0.5

WRITE_TOOLS = ("write", "write_file", "Write", "WriteFile", "mcp__acp__Write", "create_file")
BASH_TOOLS = ("bash", "run_shell_command", "Bash", "shell", "mcp__acp__Bash", "execute_command")
PATH_KEYS = ("filePath", "file_path", "absolute_path", "path")

_SLOW = re.compile(r"SLOW(?:=(\d+(?:\.\d+)?))?")
_WRITE = re.compile(r"WRITE[ \t]+(\S+)(?:[ \t]+([^\n]*))?")
_BASH = re.compile(r"BASH[ \t]+([^\n]+)")
_TOOL = re.compile(r"TOOL[ \t]+(\S+)[ \t]+(\{[^\n]*\})")
_CWD = re.compile(r"(?:Working directory:|working in the directory:|cwd)[ \t]*(/[^\s]*)")
TOOL_PLACEHOLDER = "{tool}"  # in a WRITE path: the write tool's name, so one prompt makes each agent write its own file


@dataclass(frozen=True)
class Request:
    """What every protocol's request is reduced to."""

    last_user: str
    prior_users: tuple[str, ...] = ()
    tools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tool_result: str | None = None
    system: str = ""
    json_mode: bool = False
    json_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Reply:
    """What to answer: optional reasoning, text, at most one tool call, or an HTTP error."""

    text: str = ""
    reasoning: str | None = None
    tool: tuple[str, dict[str, Any]] | None = None
    error: int | None = None
    chunks: int = FAST_CHUNKS
    delay_s: float = FAST_DELAY_S
    hold: bool = False  # HOLD: answer only once the test releases held requests (counting concurrency, not timing)

    def summary(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool": [self.tool[0], self.tool[1]] if self.tool else None,
            "thinking": self.reasoning is not None,
            "error": self.error,
        }


def interpreted_text(last_user: str) -> str:
    """Only the person's own words are a script.

    Claude Code merges a cancelled prompt into the next one, and hearth's handoff preamble quotes earlier
    prompts (with their directives) before the user's prompt: only the newest part counts.
    """
    if INTERRUPT_MARK in last_user:
        last_user = last_user.rsplit(INTERRUPT_MARK, 1)[1].strip()
    if USER_MARK in last_user:
        last_user = last_user.rsplit(USER_MARK, 1)[1]
    return last_user


def plan(request: Request) -> Reply:
    text = interpreted_text(request.last_user)
    error = 400 if "FAIL400" in text else 500 if "FAIL500" in text else None
    if request.json_mode:
        if error is not None and request.tool_result is None:
            return Reply(error=error)
        return Reply(text=json.dumps(minimal_value(request.json_schema), separators=(",", ":")))
    reasoning = REASONING_TEXT if "THINK" in text else None
    slow = _SLOW.search(text)
    chunks = SLOW_CHUNKS if slow else FAST_CHUNKS
    delay_s = float(slow.group(1) or DEFAULT_SLOW_S) if slow else FAST_DELAY_S
    if request.tool_result is not None:
        done = "Tool done: " + request.tool_result[:200].replace("\r", " ").replace("\n", " ")
        return Reply(text=done, reasoning=reasoning, chunks=chunks, delay_s=delay_s)
    if error is not None:
        return Reply(error=error)
    tool = _tool_call(text, request)
    if tool is not None:
        return Reply(reasoning=reasoning, tool=tool)
    if "HOLD" in text:
        return Reply(text="Released.", hold=True)
    if "RECALL" in text:
        answer = "I remember these earlier user messages: " + json.dumps(list(request.prior_users))
    elif slow:
        answer = " ".join(f"word{i}" for i in range(SLOW_CHUNKS))
    else:
        answer = "Hello from fake LLM. You said: " + text[:300]
    return Reply(text=answer, reasoning=reasoning, chunks=chunks, delay_s=delay_s)


def _tool_call(text: str, request: Request) -> tuple[str, dict[str, Any]] | None:
    if (write := _WRITE.search(text)) and (name := find_tool(request.tools, WRITE_TOOLS)):
        props = _properties(request.tools[name])
        key = next((k for k in PATH_KEYS if k in props), "path")
        content = (write.group(2) or DEFAULT_WRITE_CONTENT).rstrip() + "\n"
        path = write.group(1).replace(TOOL_PLACEHOLDER, name)
        return name, {key: _absolute(path, "\n".join((request.system, *request.prior_users))), "content": content}
    if (bash := _BASH.search(text)) and (name := find_tool(request.tools, BASH_TOOLS)):
        args: dict[str, Any] = {"command": bash.group(1).strip()}
        if "description" in _properties(request.tools[name]):
            args["description"] = "run a command"
        return name, args
    if (tool := _TOOL.search(text)) and tool.group(1) in request.tools:
        try:
            parsed = json.loads(tool.group(2))
        except json.JSONDecodeError:
            return None
        if isinstance(parsed, dict):
            return tool.group(1), parsed
    return None


def find_tool(tools: Mapping[str, object], wanted: tuple[str, ...]) -> str | None:
    for name in wanted:
        if name in tools:
            return name
    lowered = [name.lower() for name in wanted]
    return next((name for name in tools if any(name.lower().endswith(w) for w in lowered)), None)


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    props = schema.get("properties") if isinstance(schema, Mapping) else None
    return props if isinstance(props, Mapping) else {}


def _absolute(path: str, context: str) -> str:
    """OpenCode names its directory in the system prompt, qwen in its first user message (a context block)."""
    if path.startswith("/"):
        return path
    cwd = _CWD.search(context)
    return f"{cwd.group(1).rstrip('/')}/{path}" if cwd else path


def minimal_value(schema: Mapping[str, Any] | None, depth: int = 0) -> Any:
    """The smallest value satisfying ``schema`` (for JSON-mode requests)."""
    if not isinstance(schema, Mapping) or depth > 8:
        return {} if depth == 0 else None
    if isinstance(enum := schema.get("enum"), list) and enum:
        return "user" if "user" in enum else enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        kind = kind.lower()  # Gemini's responseSchema spells types in capitals
    if kind is None and "properties" in schema:
        kind = "object"
    match kind:
        case "object":
            return {name: minimal_value(sub, depth + 1) for name, sub in _properties(schema).items()}
        case "array":
            return []
        case "integer" | "number":
            minimum = schema.get("minimum")
            return max(1, minimum) if isinstance(minimum, int | float) else 1
        case "boolean":
            return False
        case "string":
            return "fake"
        case "null":
            return None
    return {} if depth == 0 else "fake"


def split_text(text: str, parts: int) -> list[str]:
    """``parts`` roughly equal pieces cut at word boundaries (fewer when there are fewer words)."""
    if not text:
        return []
    words = re.findall(r"\s*\S+\s*", text) or [text]
    if len(words) <= parts:
        return words
    size, extra = divmod(len(words), parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append("".join(words[start:end]))
        start = end
    return pieces


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass(frozen=True)
class Tokens:
    """Crude token estimates (≈ characters / 4); agents only pass them through."""

    prompt: int
    completion: int
    reasoning: int

    @classmethod
    def of(cls, raw_request: str, reply: Reply) -> Tokens:
        produced = reply.text + (json.dumps(reply.tool[1]) if reply.tool else "")
        reasoning = estimate_tokens(reply.reasoning) if reply.reasoning else 0
        return cls(estimate_tokens(raw_request), estimate_tokens(produced) + reasoning, reasoning)
