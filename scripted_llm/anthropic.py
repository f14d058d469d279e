"""Anthropic Messages: request normalisation, JSON and SSE replies, errors."""

from __future__ import annotations

from typing import Any

from scripted_llm.script import Reply, Request, Tokens, split_text
from scripted_llm.wire import Sink, as_dict, as_list, compact, short_id, split_evenly

SIGNATURE = "fake-signature"


def _blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [as_dict(block) for block in as_list(content)]


def _text(content: object) -> str:
    return "\n".join(str(b.get("text", "")) for b in _blocks(content) if b.get("type") == "text")


def normalize(body: dict[str, Any]) -> Request:
    messages = [as_dict(m) for m in as_list(body.get("messages"))]
    users = [
        text
        for m in messages
        if m.get("role") == "user"
        and not any(b.get("type") == "tool_result" for b in _blocks(m.get("content")))
        and (text := _text(m.get("content"))).strip()
    ]
    tools = {
        str(t["name"]): as_dict(t.get("input_schema")) for t in map(as_dict, as_list(body.get("tools"))) if "name" in t
    }
    tool_result = None
    if messages and messages[-1].get("role") == "user":
        results = [b for b in _blocks(messages[-1].get("content")) if b.get("type") == "tool_result"]
        if results:
            tool_result = "\n".join(_text(b.get("content")) for b in results)
    return Request(
        last_user=users[-1] if users else "",
        prior_users=tuple(users[:-1]),
        tools=tools,
        tool_result=tool_result,
        system=_text(body.get("system")),
    )


def error_body(status: int) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "api_error"
    return {"type": "error", "error": {"type": kind, "message": f"scripted error {status}"}}


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool else "end_turn"


def _start_usage(tokens: Tokens, output: int) -> dict[str, int]:
    return {
        "input_tokens": tokens.prompt,
        "output_tokens": output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def complete(reply: Reply, model: str, tokens: Tokens) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.reasoning:
        content.append({"type": "thinking", "thinking": reply.reasoning, "signature": SIGNATURE})
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    if reply.tool:
        content.append(
            {"type": "tool_use", "id": short_id("toolu_", 24), "name": reply.tool[0], "input": reply.tool[1]}
        )
    return {
        "id": short_id("msg_", 24),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": _start_usage(tokens, tokens.completion),
    }


def stream(reply: Reply, model: str, tokens: Tokens, sink: Sink) -> None:
    def event(name: str, data: dict[str, Any]) -> None:
        sink.send(f"event: {name}\ndata: {compact({'type': name, **data})}\n\n".encode())

    message: dict[str, Any] = {
        "id": short_id("msg_", 24),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _start_usage(tokens, 1),
    }
    event("message_start", {"message": message})
    index = 0
    if reply.reasoning:
        event("content_block_start", {"index": index, "content_block": {"type": "thinking", "thinking": ""}})
        for piece in split_text(reply.reasoning, 4):
            sink.pause(0.02)
            event("content_block_delta", {"index": index, "delta": {"type": "thinking_delta", "thinking": piece}})
        event("content_block_delta", {"index": index, "delta": {"type": "signature_delta", "signature": SIGNATURE}})
        event("content_block_stop", {"index": index})
        index += 1
    if reply.text:
        event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
        for piece in split_text(reply.text, reply.chunks):
            sink.pause(reply.delay_s)
            event("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}})
        event("content_block_stop", {"index": index})
        index += 1
    if reply.tool:
        name, args = reply.tool
        block = {"type": "tool_use", "id": short_id("toolu_", 24), "name": name, "input": {}}
        event("content_block_start", {"index": index, "content_block": block})
        for piece in split_evenly(compact(args), 3):
            sink.pause(reply.delay_s)
            event("content_block_delta", {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})
        event("content_block_stop", {"index": index})
    delta = {"stop_reason": _stop_reason(reply), "stop_sequence": None}
    event("message_delta", {"delta": delta, "usage": {"output_tokens": tokens.completion}})
    event("message_stop", {})
