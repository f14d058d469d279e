"""The turn watchdog's last step reaches the agent process: a hung agent is probed, cancelled, then restarted.

The agent is frozen with SIGSTOP after its first streamed text (a real hang: it neither streams nor answers
the cancel). The watchdog then fails the turn saying so, its backend stops the process (counted as a crash),
and the next turn runs in a new process that resumed the same session.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")
# silence before the probe; cancel and restart follow a second apart (app.bootstrap's escalation)
WATCHDOG_S = 4.0
OPENCODE_WATCHDOG_S = 20.0  # a new server's first turn is silent for several seconds while OpenCode starts up


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _pids(hearth: Hearth, agent: str) -> list[int]:
    return [info.pid for info in hearth.node.backends[agent].processes()]


async def _session(hearth: Hearth, chat: str, agent: str) -> dict[str, Any]:
    sessions = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    found: dict[str, Any] = next(s for s in sessions if s["agent"] == agent)
    return found


async def _hang_then_restart(
    hearth: Hearth, chat: str, agent: str, freeze: Callable[[int, signal.Signals], None]
) -> tuple[dict[str, Any], int]:
    """A slow turn whose agent is frozen at its first text; returns the finished turn and the frozen pid."""
    (victim,) = _pids(hearth, agent)
    turn = await hearth.submit(chat, agent, "SLOW=0.3 this answer never finishes")
    await hearth.wait_event(turn["events_url"], "text_delta")
    freeze(victim, signal.SIGSTOP)
    try:
        ended = await hearth.wait_turn(chat, turn["id"])
    finally:
        with contextlib.suppress(ProcessLookupError):
            freeze(victim, signal.SIGCONT)  # only matters when the watchdog did not stop it
    return ended, victim


async def _assert_failed_for_silence(hearth: Hearth, ended: dict[str, Any]) -> None:
    assert ended["status"] == "failed", ended
    error = ended["error"]
    for said in ("sent nothing for", "did not react to a cancel", "restarted the agent process", "next turn resumes"):
        assert said in error, error
    events = await hearth.events(ended["events_url"])
    assert events[-1]["type"] == "turn_failed"
    assert events[-1]["error"] == error


async def test_qwen_hung_mid_turn_is_restarted_and_the_next_turn_loads_its_session(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    require_agent(QWEN)
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent, "turn_watchdog_s": WATCHDOG_S})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(chat, "qwen", "remember BLUE"))["status"] == "succeeded"
        before = await _session(hearth, chat, "qwen")

        ended, victim = await _hang_then_restart(hearth, chat, "qwen", os.killpg)
        await _assert_failed_for_silence(hearth, ended)
        assert not _running(victim), "the hung agent process was stopped"
        supervision = hearth.node.backends["qwen"].supervision  # type: ignore[attr-defined]
        assert len(supervision.crash_times) == 1, supervision  # the restart counts against the crash budget

        after = await hearth.run_turn(chat, "qwen", "RECALL")
        assert after["status"] == "succeeded", after
        (respawned,) = _pids(hearth, "qwen")
        assert respawned != victim
        assert "context_reset" not in [e["type"] for e in await hearth.events(after["events_url"])]
        assert "remember BLUE" in llm.log()[-1]["reply"]["text"]  # session/load kept the conversation
        assert (await _session(hearth, chat, "qwen"))["backend_session_id"] == before["backend_session_id"]
        assert (await hearth.node.backends["qwen"].health())["state"] == "healthy"


async def test_opencode_server_hung_mid_turn_is_restarted_and_the_next_turn_resumes(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM, opencode_agents_dir: Path
) -> None:
    settings = hearth_settings.model_copy(
        update={"cache_dir": opencode_agents_dir.parent, "turn_watchdog_s": OPENCODE_WATCHDOG_S}
    )
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(chat, "opencode", "remember GREEN"))["status"] == "succeeded"
        before = await _session(hearth, chat, "opencode")

        ended, victim = await _hang_then_restart(hearth, chat, "opencode", os.kill)  # the server is no group leader
        await _assert_failed_for_silence(hearth, ended)
        assert not _running(victim), "the hung server was stopped"
        health = await hearth.node.backends["opencode"].health()
        assert health["supervision"]["recent_crashes"] == 1, health  # type: ignore[index]

        after = await hearth.run_turn(chat, "opencode", "RECALL")
        assert after["status"] == "succeeded", after
        (respawned,) = _pids(hearth, "opencode")
        assert respawned != victim
        assert "context_reset" not in [e["type"] for e in await hearth.events(after["events_url"])]
        assert "remember GREEN" in llm.log()[-1]["reply"]["text"]  # the same OpenCode session, resumed
        assert (await _session(hearth, chat, "opencode"))["backend_session_id"] == before["backend_session_id"]
