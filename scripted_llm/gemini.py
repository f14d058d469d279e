"""Gemini generateContent / streamGenerateContent: normalisation, replies, errors."""

from __future__ import annotations

import json
from typing import Any

from scripted_llm.openai import MODELS
from scripted_llm.script import Reply, Request, Tokens, split_text
from scripted_llm.wire import Sink, as_dict, as_list, compact, short_id


def _parts(content: object) -> list[dict[str, Any]]:
    return [as_dict(p) for p in as_list(as_dict(content).get("parts"))]


def _text(content: object) -> str:
    return "\n".join(str(p["text"]) for p in _parts(content) if isinstance(p.get("text"), str) and not p.get("thought"))


def _declarations(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tools: dict[str, dict[str, Any]] = {}
    for tool in map(as_dict, as_list(body.get("tools"))):
        for decl in map(as_dict, as_list(tool.get("functionDeclarations") or tool.get("function_declarations"))):
            if name := decl.get("name"):
                tools[str(name)] = as_dict(decl.get("parametersJsonSchema") or decl.get("parameters"))
    return tools


def normalize(body: dict[str, Any]) -> Request:
    contents = [as_dict(c) for c in as_list(body.get("contents"))]
    users = [
        _text(c)
        for c in contents
        if c.get("role", "user") == "user" and not any("functionResponse" in p for p in _parts(c))
    ]
    tool_result = None
    if contents:
        responses = [as_dict(p["functionResponse"]) for p in _parts(contents[-1]) if "functionResponse" in p]
        if responses:
            tool_result = "\n".join(json.dumps(r.get("response")) for r in responses)
    system = _text(body.get("systemInstruction") or body.get("system_instruction"))
    config = as_dict(body.get("generationConfig") or body.get("generation_config"))
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    return Request(
        last_user=users[-1] if users else "",
        prior_users=tuple(users[:-1]),
        tools=_declarations(body),
        tool_result=tool_result,
        system=system,
        json_mode=config.get("responseMimeType") == "application/json",
        json_schema=as_dict(schema) if schema is not None else None,
    )


def error_body(status: int) -> dict[str, Any]:
    kind = "INVALID_ARGUMENT" if status < 500 else "INTERNAL"
    return {"error": {"code": status, "message": f"scripted error {status}", "status": kind}}


def _usage(tokens: Tokens) -> dict[str, int]:
    usage = {
        "promptTokenCount": tokens.prompt,
        "candidatesTokenCount": tokens.completion - tokens.reasoning,
        "totalTokenCount": tokens.prompt + tokens.completion,
    }
    if tokens.reasoning:
        usage["thoughtsTokenCount"] = tokens.reasoning
    return usage


def _response(
    model: str, response_id: str, parts: list[dict[str, Any]], usage: dict[str, int] | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    result: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": response_id}
    if usage is not None:
        candidate["finishReason"] = "STOP"
        result["usageMetadata"] = usage
    return result


def complete(reply: Reply, model: str, tokens: Tokens) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if reply.reasoning:
        parts.append({"text": reply.reasoning, "thought": True})
    if reply.text:
        parts.append({"text": reply.text})
    if reply.tool:
        parts.append({"functionCall": {"name": reply.tool[0], "args": reply.tool[1]}})
    return _response(model, short_id("resp-", 16), parts or [{"text": ""}], _usage(tokens))


def stream(reply: Reply, model: str, tokens: Tokens, sink: Sink) -> None:
    response_id = short_id("resp-", 16)

    def event(parts: list[dict[str, Any]], final: bool) -> None:
        payload = _response(model, response_id, parts, _usage(tokens) if final else None)
        sink.send(f"data: {compact(payload)}\r\n\r\n".encode())

    if reply.reasoning:
        event([{"text": reply.reasoning, "thought": True}], final=False)
    pieces = split_text(reply.text, reply.chunks)
    for i, piece in enumerate(pieces):
        sink.pause(reply.delay_s)
        event([{"text": piece}], final=reply.tool is None and i == len(pieces) - 1)
    if reply.tool:
        event([{"functionCall": {"name": reply.tool[0], "args": reply.tool[1]}}], final=True)
    elif not pieces:
        event([{"text": ""}], final=True)


def models() -> dict[str, Any]:
    return {"models": [{"name": f"models/{m}"} for m in MODELS]}
