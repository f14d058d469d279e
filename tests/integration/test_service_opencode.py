"""The switch round trip opencode -> native -> opencode through hearth, then a hearth restart that reattaches.

One test on purpose: every opencode start costs seconds, so the scenario shares one data dir and one chat.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from scripted_llm.llm import ScriptedLLM
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents


async def _chips(hearth: Hearth, chat: str) -> dict[str, str]:
    chips: dict[str, str] = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["chips"]
    return chips


async def _session(hearth: Hearth, chat: str, agent: str) -> dict[str, Any]:
    sessions = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    found: dict[str, Any] = next(s for s in sessions if s["agent"] == agent)
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _requests_with(llm: ScriptedLLM, text: str) -> list[dict[str, Any]]:
    return [entry for entry in llm.log() if text in str(entry.get("last_user", ""))]


async def test_switch_round_trip_and_restart_reattach(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM, opencode_agents_dir: Path
) -> None:
    settings = hearth_settings.model_copy(update={"cache_dir": opencode_agents_dir.parent})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await _chips(hearth, chat))["opencode"] == "new"

        one = await hearth.run_turn(chat, "opencode", "WRITE one.txt from opencode")
        assert one["status"] == "succeeded", one
        chips = await _chips(hearth, chat)
        assert chips["opencode"] == "resumed"
        assert chips["native"] == "history"
        opencode_session = (await _session(hearth, chat, "opencode"))["backend_session_id"]

        two = await hearth.run_turn(chat, "native", 'TOOL write {"path": "two.txt", "content": "from native\\n"}')
        assert two["status"] == "succeeded", two
        native_request = _requests_with(llm, "TOOL write")[-1]
        assert any("WRITE one.txt from opencode" in prior for prior in native_request["prior_users"])  # saw history
        assert (await _chips(hearth, chat))["native"] == "resumed"

        three = await hearth.run_turn(chat, "opencode", "WRITE three.txt back to opencode")
        assert three["status"] == "succeeded", three
        back_request = _requests_with(llm, "WRITE three.txt")[-1]
        assert any("WRITE one.txt" in prior for prior in back_request["prior_users"])  # same session: memory
        assert "two.txt" in back_request["last_user"]  # the handoff preamble told it what native did
        assert (await _session(hearth, chat, "opencode"))["backend_session_id"] == opencode_session

        changes = (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]
        stamps = {c["path"]: c["agent"] for c in changes}
        assert stamps == {"one.txt": "opencode", "two.txt": "native", "three.txt": "opencode"}
        pids = [p.pid for _, backend in hearth.node.all_backends() for p in backend.processes()]
        assert pids

    assert not [pid for pid in pids if _running(pid)]  # shutdown left no agent process behind

    async with serve_hearth(settings) as restarted:
        four = await restarted.run_turn(chat, "opencode", "RECALL")
        assert four["status"] == "succeeded", four
        session = await _session(restarted, chat, "opencode")
        assert session["backend_session_id"] == opencode_session  # reattached, not a new session
        assert session["turns"] == 3
        reply = "".join(e["text"] for e in await restarted.events(four["events_url"]) if e["type"] == "text_delta")
        assert "WRITE one.txt from opencode" in reply


async def test_killed_agent_fails_the_turn_and_the_next_turn_resumes(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM, opencode_agents_dir: Path
) -> None:
    settings = hearth_settings.model_copy(update={"cache_dir": opencode_agents_dir.parent})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(chat, "opencode", "remember RED"))["status"] == "succeeded"
        session_id = (await _session(hearth, chat, "opencode"))["backend_session_id"]
        live_metrics = (await hearth.client.get("/metrics")).text
        assert 'hearth_agent_process_rss_bytes{agent="opencode"' in live_metrics
        assert 'hearth_live_handles{agent="opencode"} 1' in live_metrics
        turn = await hearth.submit(chat, "opencode", "SLOW=0.5 a long answer")
        await hearth.events(turn["events_url"], limit=1)  # streaming now
        for process in hearth.node.backends["opencode"].processes():
            os.kill(process.pid, signal.SIGKILL)
        killed = await hearth.wait_turn(chat, turn["id"])
        assert killed["status"] == "failed"
        assert "SIGKILL" in killed["error"] or "-9" in killed["error"], killed["error"]
        assert (await _chips(hearth, chat))["opencode"] == "restarted"  # not a plain "resumed": the process died

        after = await hearth.run_turn(chat, "opencode", "RECALL")
        assert after["status"] == "succeeded", after
        assert (await _chips(hearth, chat))["opencode"] == "resumed"
        assert (await _session(hearth, chat, "opencode"))["backend_session_id"] == session_id
        assert "remember RED" in llm.log()[-1]["reply"]["text"]
        metrics = (await hearth.client.get("/metrics")).text
        assert 'hearth_crashes_total{agent="opencode"} 1' in metrics
        assert 'hearth_restarts_total{agent="opencode"} 1' in metrics


async def test_a_model_chosen_per_turn_reaches_the_llm_or_is_refused_before_queueing(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM, opencode_agents_dir: Path
) -> None:
    provider = hearth_settings.provider.model_copy(update={"openai_models": ("fake-small",)})
    settings = hearth_settings.model_copy(update={"cache_dir": opencode_agents_dir.parent, "provider": provider})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        turns = f"/api/chats/{chat}/turns"
        for agent, model, prompt in [
            ("opencode", "fake-small", "first on the small model"),
            ("opencode", None, "then on the default one"),  # the same warm session, another model
            ("opencode", "fake-small", "small again"),
            ("native", "any-model-name", "native sends whatever it is given"),
        ]:
            body = {"agent": agent, "prompt": prompt, **({"model": model} if model else {})}
            submitted = await hearth.client.post(turns, json=body)
            assert submitted.status_code == 202, submitted.text
            done = await hearth.wait_turn(chat, submitted.json()["id"])
            assert (done["status"], done["model"]) == ("succeeded", model), done
            assert {entry["model"] for entry in _requests_with(llm, prompt)} == {model or "fake-model"}

        before = (await hearth.client.get(turns)).json()
        for agent, model, names in [("opencode", "gpt-9", "fake-model, fake-small"), ("qwen", "fake-small", None)]:
            refused = await hearth.client.post(turns, json={"agent": agent, "prompt": "hi", "model": model})
            assert refused.status_code == 422, refused.text
            problem = refused.json()
            assert problem["field"] == "model"
            assert (names or "not per turn") in problem["detail"]
        assert (await hearth.client.get(turns)).json() == before  # nothing was queued
        agents = {a["name"]: a["capabilities"] for a in (await hearth.client.get("/api/agents")).json()}
        assert (agents["opencode"]["model_per_turn"], agents["qwen"]["model_per_turn"]) == (True, False)
