"""The whole turn flow through real HTTP with the native agent against the scripted LLM, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.version import VERSION
from tests.plugins.service import Hearth

pytestmark = pytest.mark.agents


async def test_turn_flow_end_to_end(hearth_any_store: Hearth, git_repo: Path) -> None:
    hearth = hearth_any_store
    chat = await hearth.create_chat(git_repo, title="flow")
    chat_id = chat["id"]

    first = await hearth.run_turn(chat_id, "native", "THINK please WRITE notes.txt hello from hearth")
    assert first["status"] == "succeeded", first
    events = await hearth.events(first["events_url"])
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "turn_completed"
    assert "reasoning_delta" in kinds
    assert "tool_call" in kinds
    assert "text_delta" in kinds
    seqs = [int(e["_id"]) for e in events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    reasoning = "".join(e["text"] for e in events if e["type"] == "reasoning_delta")
    assert reasoning.count("Let me think step by step") >= 1

    changes = (await hearth.client.get(f"/api/chats/{chat_id}/changes")).json()
    (change,) = changes["changes"]
    assert change["path"] == "notes.txt"
    assert change["agent"] == "native"
    assert change["contributors"] == ["native"]
    assert "+hello from hearth" in change["diff"]

    second = await hearth.run_turn(chat_id, "native", "RECALL")
    assert second["status"] == "succeeded"
    reply = "".join(e.get("text", "") for e in await hearth.events(second["events_url"]) if e["type"] == "text_delta")
    assert "WRITE notes.txt hello from hearth" in reply  # turn 2 carried turn 1

    sessions = (await hearth.client.get(f"/api/chats/{chat_id}/agent-sessions")).json()
    (native,) = sessions["sessions"]
    assert native["agent"] == "native"
    assert native["turns"] == 2
    assert native["status"] in {"idle", "evicted"}
    assert sessions["chips"]["native"] == "resumed"
    assert sessions["chips"]["opencode"] == "history"

    applied = await hearth.client.post(f"/api/chats/{chat_id}/changes/apply", json={"paths": None})
    assert applied.status_code == 200, applied.text
    assert (git_repo / "notes.txt").read_text() == "hello from hearth\n"
    assert (await hearth.client.get(f"/api/chats/{chat_id}/changes")).json()["changes"] == []

    risk = (await hearth.client.get(f"/api/chats/{chat_id}/worktree-risk")).json()
    assert risk["safe"], risk
    closed = await hearth.client.post(f"/api/chats/{chat_id}/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    refused = await hearth.client.post(f"/api/chats/{chat_id}/turns", json={"agent": "native", "prompt": "more"})
    assert refused.status_code == 409
    assert refused.json()["field"] == "chat.status"

    chat_events = await hearth.events(f"/api/chats/{chat_id}/events", limit=len(events))
    assert [e["_id"] for e in chat_events] == [e["_id"] for e in events]

    metrics = (await hearth.client.get("/metrics")).text
    assert 'hearth_turns{status="succeeded"} 2' in metrics
    assert 'hearth_turn_latency_seconds_count{agent="native"} 2' in metrics
    for phase in ("prepare", "session", "handoff", "agent", "persist", "finish"):  # each turn's phases
        assert f'hearth_turn_phase_seconds_count{{phase="{phase}"}} 2' in metrics
    assert 'hearth_turn_phase_seconds_count{phase="diff"} 1' in metrics  # RECALL wrote nothing: no diff
    health = (await hearth.client.get("/api/health")).json()
    assert health["version"] == VERSION
    assert health["status"] == "ok"
    assert health["store"]["ok"]
