"""The scripted LLM's OpenAI chat-completions surface, driven over real HTTP with httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scripted_llm.llm import ScriptedLLM

WRITE_TOOL = {
    "type": "function",
    "function": {
        "name": "write",
        "parameters": {"type": "object", "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}}},
    },
}
BASH_TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "parameters": {"type": "object", "properties": {"command": {}, "description": {}}},
    },
}


@pytest.fixture
def client(llm: ScriptedLLM) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=llm.openai_base_url, timeout=10) as http:
        yield http


def chat(*users: str | list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"model": "fake-model", "messages": [{"role": "user", "content": u} for u in users], **extra}


def stream_chunks(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    with client.stream("POST", "/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        assert line.startswith("data: ")
        chunks.append(json.loads(line.removeprefix("data: ")))
    return chunks


def deltas(chunks: list[dict[str, Any]], key: str) -> str:
    return "".join(c["choices"][0]["delta"].get(key) or "" for c in chunks if c["choices"])


def test_streaming_echo_has_role_chunk_text_pieces_finish_and_usage(client: httpx.Client) -> None:
    chunks = stream_chunks(client, chat("hello there"))

    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert deltas(chunks, "content") == "Hello from fake LLM. You said: hello there"
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) == 4
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["usage"]["total_tokens"] == final["usage"]["prompt_tokens"] + final["usage"]["completion_tokens"]
    assert {c["model"] for c in chunks} == {"fake-model"}
    assert all(c["id"].startswith("chatcmpl-") for c in chunks)


def test_include_usage_adds_a_choiceless_usage_chunk(client: httpx.Client) -> None:
    chunks = stream_chunks(client, chat("hi", stream_options={"include_usage": True}))

    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] >= 1


def test_think_streams_reasoning_content_before_text_and_counts_reasoning_tokens(client: httpx.Client) -> None:
    chunks = stream_chunks(client, chat("THINK about it"))

    reasoning = deltas(chunks, "reasoning_content")
    assert reasoning == "Let me think step by step about this request. It seems simple enough."
    first_text = next(i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["delta"].get("content"))
    last_reasoning = max(
        i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["delta"].get("reasoning_content")
    )
    assert last_reasoning < first_text
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_write_streams_a_tool_call_with_path_made_absolute_from_the_system_prompt(client: httpx.Client) -> None:
    messages = [
        {"role": "system", "content": "You are helpful.\nWorking directory: /tmp/proj\n"},
        {"role": "user", "content": "please WRITE notes/a.txt Hello from turn one"},
    ]
    chunks = stream_chunks(client, {"model": "m", "messages": messages, "tools": [WRITE_TOOL, BASH_TOOL]})

    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["function"] == {"name": "write", "arguments": ""}
    arguments = "".join(call["function"]["arguments"] for call in calls)
    assert json.loads(arguments) == {"filePath": "/tmp/proj/notes/a.txt", "content": "Hello from turn one\n"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_write_names_its_file_after_the_tool_and_finds_qwens_directory_in_its_context_block(
    client: httpx.Client,
) -> None:
    """One prompt, each agent its own file (the arena's tests); qwen names its directory in a first user message."""
    parameters = {"type": "object", "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}}}
    qwen_tool = {"type": "function", "function": {"name": "write_file", "parameters": parameters}}
    messages = [
        {"role": "user", "content": "This is the Qwen Code. I'm currently working in the directory: /tmp/q\n"},
        {"role": "user", "content": "WRITE {tool}.txt from the arena"},
    ]
    reply = client.post("/chat/completions", json={"model": "m", "messages": messages, "tools": [qwen_tool]}).json()

    call = reply["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == "write_file"
    assert json.loads(call["arguments"]) == {"filePath": "/tmp/q/write_file.txt", "content": "from the arena\n"}


def test_tool_result_gets_tool_done_text(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "WRITE a.txt"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "call_1", "content": "Wrote file\nsuccessfully"},
    ]
    reply = client.post("/chat/completions", json={"model": "m", "messages": messages, "tools": [WRITE_TOOL]}).json()

    assert reply["choices"][0]["message"]["content"] == "Tool done: Wrote file successfully"
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_bash_adds_a_description_when_the_schema_has_one(client: httpx.Client) -> None:
    reply = client.post("/chat/completions", json=chat("BASH ls -la", tools=[BASH_TOOL])).json()

    call = reply["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "bash"
    assert json.loads(call["function"]["arguments"]) == {"command": "ls -la", "description": "run a command"}


def test_tool_directive_calls_exactly_the_named_tool_only_when_offered(client: httpx.Client) -> None:
    offered = client.post("/chat/completions", json=chat('TOOL bash {"command": "pwd"}', tools=[BASH_TOOL])).json()
    absent = client.post("/chat/completions", json=chat('TOOL grep {"pattern": "x"}', tools=[BASH_TOOL])).json()

    call = offered["choices"][0]["message"]["tool_calls"][0]["function"]
    assert (call["name"], json.loads(call["arguments"])) == ("bash", {"command": "pwd"})
    assert "tool_calls" not in absent["choices"][0]["message"]
    assert absent["choices"][0]["message"]["content"].startswith("Hello from fake LLM.")


def test_write_without_a_write_tool_falls_through_to_text(client: httpx.Client) -> None:
    reply = client.post("/chat/completions", json=chat("WRITE a.txt title please")).json()

    assert reply["choices"][0]["message"]["content"] == "Hello from fake LLM. You said: WRITE a.txt title please"


def test_non_streaming_reply_carries_reasoning_tool_calls_and_usage(client: httpx.Client) -> None:
    reply = client.post("/v1/chat/completions".removeprefix("/v1"), json=chat("THINK WRITE x.txt", tools=[WRITE_TOOL]))
    body = reply.json()

    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert message["reasoning_content"].startswith("Let me think")
    args = json.loads(message["tool_calls"][0]["function"]["arguments"])
    assert args == {"filePath": "x.txt", "content": "hello from fake llm\n"}
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


@pytest.mark.parametrize("status", [400, 500])
def test_fail_directives_answer_with_openai_errors(client: httpx.Client, status: int) -> None:
    reply = client.post("/chat/completions", json=chat(f"please FAIL{status}", stream=True))

    assert reply.status_code == status
    assert reply.json() == {
        "error": {"message": f"scripted error {status}", "type": "invalid_request_error", "code": None}
    }


def test_recall_lists_earlier_user_messages(client: httpx.Client) -> None:
    reply = client.post("/chat/completions", json=chat("first", [{"type": "text", "text": "second"}], "RECALL")).json()

    assert reply["choices"][0]["message"]["content"] == ('I remember these earlier user messages: ["first", "second"]')


def test_json_mode_answers_a_minimal_value_and_ignores_directives(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "role": {"enum": ["system", "user"]},
            "score": {"type": ["null", "integer"], "minimum": 3},
            "tags": {"type": "array"},
            "ok": {"type": "boolean"},
            "nested": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    reply = client.post("/chat/completions", json=chat("THINK SLOW WRITE a", response_format=fmt, tools=[WRITE_TOOL]))

    message = reply.json()["choices"][0]["message"]
    assert json.loads(message["content"]) == {
        "role": "user",
        "score": 3,
        "tags": [],
        "ok": False,
        "nested": {"name": "fake"},
    }
    assert "tool_calls" not in message
    assert "reasoning_content" not in message


def test_slow_streams_twenty_words_and_a_disconnect_mid_stream_is_tolerated(llm: ScriptedLLM) -> None:
    with (
        httpx.Client(base_url=llm.openai_base_url, timeout=10) as client,
        client.stream("POST", "/chat/completions", json=chat("SLOW=0.05 go", stream=True)) as response,
    ):
        pieces = []
        for line in response.iter_lines():
            if line.startswith("data: {"):
                delta = json.loads(line.removeprefix("data: "))["choices"][0]["delta"]
                if delta.get("content"):
                    pieces.append(delta["content"])
            if len(pieces) == 3:
                break  # hang up mid-stream, like an abort
    assert "".join(pieces) == "word0 word1 word2 "

    full = stream_chunks(httpx.Client(base_url=llm.openai_base_url, timeout=10), chat("SLOW=0.01"))
    assert deltas(full, "content") == " ".join(f"word{i}" for i in range(20))
    assert httpx.get(f"{llm.base_url}/health").json() == {"ok": True}


def test_models_are_listed_with_and_without_v1(llm: ScriptedLLM) -> None:
    for url in (f"{llm.base_url}/v1/models", f"{llm.base_url}/models"):
        ids = [m["id"] for m in httpx.get(url).json()["data"]]
        assert {"fake-model", "fake-small", "gpt-4o-mini"} <= set(ids)


def test_concurrent_requests_are_served_while_a_slow_stream_is_open(llm: ScriptedLLM) -> None:
    with (
        httpx.Client(base_url=llm.openai_base_url, timeout=10) as slow_client,
        slow_client.stream("POST", "/chat/completions", json=chat("SLOW=0.02", stream=True)) as slow,
    ):
        lines = slow.iter_lines()
        assert next(lines).startswith("data: ")  # the slow stream is open and mid-reply
        quick = httpx.post(f"{llm.openai_base_url}/chat/completions", json=chat("quick"), timeout=10).json()
        rest = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    assert quick["choices"][0]["message"]["content"] == "Hello from fake LLM. You said: quick"
    assert deltas(rest, "content") == " ".join(f"word{i}" for i in range(20))
