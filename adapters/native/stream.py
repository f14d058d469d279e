"""Reading an OpenAI chat-completions SSE stream: chunk parsing and tool-call assembly (no I/O here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.handoff import left_out_note
from core.model import TaskStatus, TranscriptEntry

DONE = "[DONE]"


@dataclass
class PendingCall:
    id: str
    name: str = ""
    arguments: str = ""

    def parsed(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class StepOutcome:
    """What one model call produced, assembled from its chunks."""

    text: str = ""
    reasoning: str = ""
    calls: dict[int, PendingCall] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    error: str | None = None
    cancelled: bool = False

    def feed(self, chunk: dict[str, Any]) -> tuple[str, str]:
        """Absorb one chunk; returns the (reasoning, text) pieces it carried for live events."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return "", ""
        choice = choices[0]
        self.finish_reason = choice.get("finish_reason") or self.finish_reason
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        text = delta.get("content") or ""
        self.reasoning += reasoning
        self.text += text
        for piece in delta.get("tool_calls") or []:
            index = int(piece.get("index", len(self.calls)))
            call = self.calls.setdefault(index, PendingCall(id=piece.get("id") or f"call_{index}"))
            if piece.get("id"):
                call.id = piece["id"]
            function = piece.get("function") or {}
            call.name += function.get("name") or ""
            call.arguments += function.get("arguments") or ""
        return str(reasoning), str(text)

    def assistant_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.calls:
            message["tool_calls"] = [call.wire() for _, call in sorted(self.calls.items())]
        return message


def parse_data_line(line: str) -> dict[str, Any] | str | None:
    """A ``data:`` line's JSON, ``DONE`` at the end marker, None for anything else (comments, events)."""
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == DONE:
        return DONE
    try:
        value = json.loads(payload)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def error_message(status: int, body: bytes) -> str:
    """The provider's own words for an HTTP error (OpenAI ``error.message``), else the raw body's start."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text.strip()[:500] or f"HTTP {status}"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return text.strip()[:500]


def history_messages(
    transcript: tuple[TranscriptEntry, ...], me: str, skip_task: str, earlier: int = 0
) -> list[dict[str, Any]]:
    """The chat so far as chat messages; other agents' replies are labelled so the model knows who spoke, and a
    history that leaves out older turns says so first."""
    messages: list[dict[str, Any]] = []
    if (note := left_out_note(earlier)) is not None:
        messages.append({"role": "user", "content": note})
        messages.append({"role": "assistant", "content": "Understood."})
    for entry in transcript:
        if entry.task_id == skip_task:
            continue
        reply = entry.reply or "(no reply)"
        if entry.agent != me:
            reply = f"[reply by agent {entry.agent}] {reply}"
        if entry.status != TaskStatus.SUCCEEDED:
            reply += f"\n(turn ended: {entry.status.value})"
        if entry.files:
            reply += f"\n(files changed: {', '.join(entry.files)})"
        messages += [{"role": "user", "content": entry.prompt}, {"role": "assistant", "content": reply}]
    return messages
