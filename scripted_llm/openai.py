"""OpenAI chat completions: request normalisation, JSON and SSE replies, errors."""

from __future__ import annotations

import time
from typing import Any

from scripted_llm.script import Reply, Request, Tokens, split_text
from scripted_llm.wire import Sink, as_dict, as_list, compact, short_id, split_evenly

MODELS = ("fake-model", "fake-small", "claude-sonnet-4-5", "gemini-2.5-pro", "gemini-2.5-flash", "gpt-4o-mini")


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    parts = [as_dict(p) for p in as_list(content)]
    return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") in ("text", "input_text"))


def normalize(body: dict[str, Any]) -> Request:
    messages = [as_dict(m) for m in as_list(body.get("messages"))]
    users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    tools = {}
    for tool in as_list(body.get("tools")):
        function = as_dict(as_dict(tool).get("function"))
        if name := function.get("name"):
            tools[str(name)] = as_dict(function.get("parameters"))
    last = messages[-1] if messages else {}
    tool_result = _text(last.get("content")) if last.get("role") == "tool" else None
    response_format = as_dict(body.get("response_format"))
    json_mode = response_format.get("type") in ("json_schema", "json_object")
    schema = as_dict(response_format.get("json_schema")).get("schema")
    return Request(
        last_user=users[-1] if users else "",
        prior_users=tuple(users[:-1]),
        tools=tools,
        tool_result=tool_result,
        system=system,
        json_mode=json_mode,
        json_schema=as_dict(schema) if schema is not None else None,
    )


def error_body(status: int) -> dict[str, Any]:
    return {"error": {"message": f"scripted error {status}", "type": "invalid_request_error", "code": None}}


def _usage(tokens: Tokens) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.completion,
        "total_tokens": tokens.prompt + tokens.completion,
    }
    if tokens.reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": tokens.reasoning}
    return usage


def _finish(reply: Reply) -> str:
    return "tool_calls" if reply.tool else "stop"


def complete(reply: Reply, model: str, tokens: Tokens) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or (None if reply.tool else "")}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool:
        name, args = reply.tool
        call = {"id": short_id("call_"), "type": "function", "function": {"name": name, "arguments": compact(args)}}
        message["tool_calls"] = [call]
    return {
        "id": short_id("chatcmpl-", 24),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply)}],
        "usage": _usage(tokens),
    }


def stream(reply: Reply, model: str, tokens: Tokens, sink: Sink, include_usage: bool) -> None:
    base = {"id": short_id("chatcmpl-", 24), "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = model

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        sink.send(f"data: {compact({**base, 'choices': [choice], **extra})}\n\n".encode())

    chunk({"role": "assistant", "content": ""})
    for piece in split_text(reply.reasoning or "", 4):
        sink.pause(0.02)
        chunk({"reasoning_content": piece})
    for piece in split_text(reply.text, reply.chunks):
        sink.pause(reply.delay_s)
        chunk({"content": piece})
    if reply.tool:
        name, args = reply.tool
        head = {"index": 0, "id": short_id("call_"), "type": "function", "function": {"name": name, "arguments": ""}}
        chunk({"tool_calls": [head]})
        for piece in split_evenly(compact(args), 3):
            sink.pause(reply.delay_s)
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    chunk({}, _finish(reply), usage=_usage(tokens))
    if include_usage:
        sink.send(f"data: {compact({**base, 'choices': [], 'usage': _usage(tokens)})}\n\n".encode())
    sink.send(b"data: [DONE]\n\n")


def models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in MODELS]}
