"""The scripted LLM's Anthropic and Gemini surfaces, its request log and its plumbing, over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest

from scripted_llm.llm import ScriptedLLM

CLAUDE_WRITE = {
    "name": "Write",
    "input_schema": {"type": "object", "properties": {"file_path": {}, "content": {}}},
}
GEMINI_TOOLS = [
    {
        "functionDeclarations": [
            {"name": "write_file", "parametersJsonSchema": {"properties": {"file_path": {}, "content": {}}}},
            {"name": "run_shell_command", "parameters": {"properties": {"command": {}, "description": {}}}},
        ]
    }
]


def anthropic_events(llm: ScriptedLLM, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    url = f"{llm.anthropic_base_url}/v1/messages?beta=true"
    with httpx.stream("POST", url, json={**body, "stream": True}, timeout=10) as response:
        assert response.headers["content-type"] == "text/event-stream"
        lines = [line for line in response.iter_lines() if line]
    names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    data = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]
    assert [d["type"] for d in data] == names
    return list(zip(names, data, strict=True))


def gemini_events(llm: ScriptedLLM, body: dict[str, Any]) -> list[dict[str, Any]]:
    url = f"{llm.gemini_base_url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=abc"
    with httpx.stream("POST", url, json=body, timeout=10) as response:
        raw = response.read().decode()
    assert raw.endswith("\r\n\r\n")
    return [json.loads(block.removeprefix("data: ")) for block in raw.split("\r\n\r\n") if block]


def test_anthropic_stream_has_thinking_text_blocks_and_end_turn(llm: ScriptedLLM) -> None:
    events = anthropic_events(
        llm, {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "THINK hi"}]}
    )

    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert events[0][1]["message"]["usage"]["cache_read_input_tokens"] == 0
    starts = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert starts == ["thinking", "text"]
    thinking = "".join(d["delta"].get("thinking", "") for n, d in events if n == "content_block_delta")
    text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert thinking.startswith("Let me think")
    assert text == "Hello from fake LLM. You said: THINK hi"
    assert any(d["delta"]["type"] == "signature_delta" for n, d in events if n == "content_block_delta")
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert [d["index"] for n, d in events if n == "content_block_stop"] == [0, 1]


def test_anthropic_write_tool_use_and_tool_result_round_trip(llm: ScriptedLLM) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "WRITE /tmp/cc/hello.txt Hello from Claude"}]}
    ]
    events = anthropic_events(llm, {"model": "c", "messages": messages, "tools": [CLAUDE_WRITE]})

    block = next(d["content_block"] for n, d in events if n == "content_block_start")
    assert (block["type"], block["name"]) == ("tool_use", "Write")
    partial = "".join(d["delta"]["partial_json"] for n, d in events if n == "content_block_delta")
    assert json.loads(partial) == {"file_path": "/tmp/cc/hello.txt", "content": "Hello from Claude\n"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"

    messages += [
        {"role": "assistant", "content": [{"type": "tool_use", "id": block["id"], "name": "Write", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block["id"], "content": "File created"}]},
    ]
    reply = httpx.post(
        f"{llm.anthropic_base_url}/v1/messages", json={"model": "c", "messages": messages, "tools": [CLAUDE_WRITE]}
    ).json()
    assert reply["content"] == [{"type": "text", "text": "Tool done: File created"}]
    assert reply["stop_reason"] == "end_turn"
    assert llm.log()[-1]["after_tool"] == "File created"


def test_anthropic_only_the_text_after_an_interruption_counts(llm: ScriptedLLM) -> None:
    content = "SLOW=5 long story\n[Request interrupted by user]\nRECALL"
    first = {"role": "user", "content": "<system-reminder>ctx</system-reminder> first"}
    body = {"model": "c", "messages": [first, {"role": "user", "content": content}]}
    reply = httpx.post(f"{llm.base_url}/messages", json=body).json()

    assert reply["content"][0]["text"].endswith('["<system-reminder>ctx</system-reminder> first"]')


@pytest.mark.parametrize(("status", "kind"), [(400, "invalid_request_error"), (500, "api_error")])
def test_anthropic_errors(llm: ScriptedLLM, status: int, kind: str) -> None:
    body = {"model": "c", "stream": True, "messages": [{"role": "user", "content": f"FAIL{status}"}]}
    reply = httpx.post(f"{llm.anthropic_base_url}/v1/messages", json=body)

    assert reply.status_code == status
    assert reply.json() == {"type": "error", "error": {"type": kind, "message": f"scripted error {status}"}}


def test_anthropic_count_tokens(llm: ScriptedLLM) -> None:
    reply = httpx.post(f"{llm.base_url}/v1/messages/count_tokens", json={"messages": []}).json()
    assert reply["input_tokens"] >= 1


def test_gemini_stream_thought_text_pieces_and_final_usage(llm: ScriptedLLM) -> None:
    events = gemini_events(llm, {"contents": [{"role": "user", "parts": [{"text": "THINK hello"}]}]})

    parts = [e["candidates"][0]["content"]["parts"][0] for e in events]
    assert parts[0]["thought"] is True
    assert "".join(p["text"] for p in parts[1:]) == "Hello from fake LLM. You said: THINK hello"
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    assert events[-1]["usageMetadata"]["thoughtsTokenCount"] > 0
    assert all("finishReason" not in e["candidates"][0] for e in events[:-1])


def test_gemini_function_call_then_function_response(llm: ScriptedLLM) -> None:
    user = {"role": "user", "parts": [{"text": "WRITE /tmp/gm/a.txt Hi"}]}
    events = gemini_events(llm, {"contents": [user], "tools": GEMINI_TOOLS})

    call = events[-1]["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call == {"name": "write_file", "args": {"file_path": "/tmp/gm/a.txt", "content": "Hi\n"}}
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"

    response = {"functionResponse": {"name": "write_file", "response": {"output": "ok"}}}
    contents = [user, {"role": "model", "parts": [{"functionCall": call}]}, {"role": "user", "parts": [response]}]
    url = f"{llm.gemini_base_url}/v1beta/models/gemini-2.5-pro:generateContent"
    reply = httpx.post(url, json={"contents": contents, "tools": GEMINI_TOOLS}).json()
    assert reply["candidates"][0]["content"]["parts"] == [{"text": 'Tool done: {"output": "ok"}'}]


def test_gemini_bash_uses_run_shell_command_with_description(llm: ScriptedLLM) -> None:
    body = {"contents": [{"parts": [{"text": "BASH echo hi"}]}], "tools": GEMINI_TOOLS}
    reply = httpx.post(f"{llm.base_url}/v1beta/models/g:generateContent", json=body).json()

    call = reply["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call == {"name": "run_shell_command", "args": {"command": "echo hi", "description": "run a command"}}


def test_gemini_router_json_mode_gets_valid_json(llm: ScriptedLLM) -> None:
    schema = {
        "type": "OBJECT",
        "properties": {"complexity_reasoning": {"type": "STRING"}, "complexity_score": {"type": "INTEGER"}},
    }
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    body = {"contents": [{"parts": [{"text": "THINK WRITE x"}]}], "generationConfig": config, "tools": GEMINI_TOOLS}
    reply = httpx.post(f"{llm.base_url}/v1beta/models/g:generateContent", json=body).json()

    text = reply["candidates"][0]["content"]["parts"][0]["text"]
    assert json.loads(text) == {"complexity_reasoning": "fake", "complexity_score": 1}


def test_gemini_errors_models_and_count_tokens(llm: ScriptedLLM) -> None:
    body = {"contents": [{"parts": [{"text": "FAIL400"}]}]}
    failed = httpx.post(f"{llm.base_url}/v1beta/models/g:streamGenerateContent?alt=sse", json=body)
    assert failed.status_code == 400
    assert failed.json() == {"error": {"code": 400, "message": "scripted error 400", "status": "INVALID_ARGUMENT"}}
    names = [m["name"] for m in httpx.get(f"{llm.base_url}/v1beta/models").json()["models"]]
    assert "models/gemini-2.5-pro" in names
    counted = httpx.post(f"{llm.base_url}/v1beta/models/g:countTokens", json=body).json()
    assert counted["totalTokens"] >= 1


def test_log_summarises_each_generation_request_and_reset_clears_it(llm: ScriptedLLM) -> None:
    messages = [{"role": "user", "content": "turn one"}, {"role": "user", "content": "RECALL"}]
    headers = {"Authorization": "Bearer fake-key", "User-Agent": "probe/1"}
    httpx.post(
        f"{llm.openai_base_url}/chat/completions", json={"model": "fake-small", "messages": messages}, headers=headers
    )
    httpx.post(f"{llm.base_url}/v1/messages", json={"model": "c", "messages": messages, "tools": [CLAUDE_WRITE]})

    entries = httpx.get(f"{llm.base_url}/_log").json()
    assert entries == llm.log()
    assert [e["api"] for e in entries] == ["openai", "anthropic"]
    first = entries[0]
    assert first["model"] == "fake-small"
    assert first["stream"] is False
    assert first["n_messages"] == 2
    assert first["last_user"] == "RECALL"
    assert first["prior_users"] == ["turn one"]
    assert first["headers"] == {"authorization": "Bearer fake-key", "user-agent": "probe/1"}
    assert first["reply"] == {
        "text": 'I remember these earlier user messages: ["turn one"]',
        "tool": None,
        "thinking": False,
        "error": None,
    }
    assert entries[1]["tools"] == ["Write"]

    assert httpx.post(f"{llm.base_url}/_reset").json() == {"ok": True}
    assert llm.log() == []


def test_unknown_routes_get_404_and_chunked_request_bodies_are_read(llm: ScriptedLLM) -> None:
    missing = httpx.get(f"{llm.base_url}/nowhere")
    assert missing.status_code == 404
    assert "no route" in missing.json()["error"]["message"]

    def body() -> Any:
        yield b'{"model": "m", "messages": [{"role": "user",'
        yield b' "content": "chunked hi"}]}'

    reply = httpx.post(f"{llm.openai_base_url}/chat/completions", content=body())
    assert reply.json()["choices"][0]["message"]["content"] == "Hello from fake LLM. You said: chunked hi"


def test_module_entry_point_prints_its_url_and_serves() -> None:
    process = subprocess.Popen([sys.executable, "-m", "scripted_llm", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("scripted LLM listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert httpx.get(f"{url}/health", timeout=10).json() == {"ok": True}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_stop_ends_an_open_slow_stream_and_frees_the_port() -> None:
    server = ScriptedLLM()
    base = server.start()
    with httpx.stream(
        "POST",
        f"{base}/v1/chat/completions",
        json={"stream": True, "messages": [{"role": "user", "content": "SLOW=30"}]},
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        server.stop()
        with pytest.raises(httpx.HTTPError):
            for _ in lines:
                pass
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/health")
