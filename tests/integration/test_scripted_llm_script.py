"""The fake LLM's directive script (pure) and its optional request recording."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from core.model import TaskStatus, TranscriptEntry
from core.routing import compose_prompt, handoff_preamble
from scripted_llm.llm import ScriptedLLM
from scripted_llm.process import ScriptedLLMProcess
from scripted_llm.script import Request, interpreted_text, minimal_value, plan, split_text

WRITE_SCHEMA: dict[str, object] = {"properties": {"file_path": {}, "content": {}}}


def test_write_prefers_known_names_then_a_case_insensitive_suffix_match() -> None:
    exact = plan(Request(last_user="WRITE /a.txt hi", tools={"write_file": WRITE_SCHEMA, "Write": {}}))
    suffixed = plan(Request(last_user="WRITE /a.txt hi", tools={"myserver__WRITE_FILE": WRITE_SCHEMA}))

    assert exact.tool == ("write_file", {"file_path": "/a.txt", "content": "hi\n"})
    assert suffixed.tool is not None
    assert suffixed.tool[0] == "myserver__WRITE_FILE"


def test_relative_paths_use_the_cwd_line_and_directives_count_only_after_an_interruption() -> None:
    reply = plan(Request(last_user="WRITE x.txt", tools={"write": {}}, system="env\ncwd /srv/repo\n"))
    interrupted = plan(Request(last_user="FAIL400 old\n[Request interrupted by user]\nnew question"))

    assert reply.tool == ("write", {"path": "/srv/repo/x.txt", "content": "hello from fake llm\n"})
    assert (interrupted.error, interrupted.text) == (None, "Hello from fake LLM. You said: new question")


def test_think_applies_to_the_post_tool_answer_and_slow_paces_it() -> None:
    reply = plan(Request(last_user="THINK SLOW=0.25 WRITE a", tool_result="done\nok"))

    assert reply.text == "Tool done: done ok"
    assert reply.reasoning is not None
    assert (reply.chunks, reply.delay_s) == (20, 0.25)


def test_minimal_values_and_text_splitting() -> None:
    assert minimal_value({"enum": ["a", "b"]}) == "a"
    assert minimal_value({"type": "number", "minimum": 0}) == 1
    assert minimal_value(None) == {}
    deep: dict[str, object] = {"type": "object", "properties": {}}
    cursor = deep
    for _ in range(12):
        child: dict[str, object] = {"type": "object", "properties": {}}
        cursor["properties"] = {"next": child}
        cursor = child
    assert json.dumps(minimal_value(deep)).count("next") <= 10  # depth is capped
    assert split_text("a b c d e f g h", 4) == ["a b ", "c d ", "e f ", "g h"]
    assert "".join(split_text("  one  two three ", 2)) == "  one  two three "
    assert split_text("", 4) == []


def test_log_file_and_request_bodies_are_recorded_when_asked(tmp_path: Path) -> None:
    log_file = tmp_path / "requests.jsonl"
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with ScriptedLLM(record_bodies=True, log_file=str(log_file)) as llm:
        httpx.post(f"{llm.openai_base_url}/chat/completions", json=body)
        entries = llm.log()

    assert entries[0]["body"] == body
    assert [json.loads(line) for line in log_file.read_text().splitlines()] == entries


def test_directives_quoted_in_a_handoff_preamble_are_not_obeyed() -> None:
    preamble = handoff_preamble(
        "opencode",
        (
            TranscriptEntry(
                task_id="t1", agent="native", prompt="WRITE notes.md hi", reply="ok", status=TaskStatus.SUCCEEDED
            ),
        ),
        None,
    )
    prompt = compose_prompt(preamble, "RECALL")
    assert "WRITE notes.md" in prompt
    assert interpreted_text(prompt) == "RECALL"


def test_the_llm_served_by_a_process_of_its_own_answers_logs_and_stops() -> None:
    with ScriptedLLMProcess(record_bodies=True) as llm:
        body = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}
        answer = httpx.post(f"{llm.openai_base_url}/chat/completions", json=body, timeout=30).json()
        assert "You said: hello there" in answer["choices"][0]["message"]["content"]
        (entry,) = llm.log()
        assert entry["body"]["messages"] == body["messages"]
        assert llm.peak_in_flight() == 1
        llm.reset()
        assert llm.log() == []
        served = llm.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(served + "/health", timeout=5)
