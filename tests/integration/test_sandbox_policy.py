"""The sandbox policy: "off" is visible (``/api/agents``, ``hearth doctor``) and really off; a sandboxed agent
on a machine where bubblewrap cannot run is refused with the fix, never run unconfined."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli.main import main
from app.settings import Settings
from tests.plugins.service import serve_hearth

NATIVE_OFF = """
[[agents]]
name = "native"
sandbox = "off"
"""


async def test_sandbox_off_is_shown_in_the_api_and_leaves_commands_unconfined(
    hearth_settings: Settings, git_repo: Path, tmp_path: Path
) -> None:
    config = tmp_path / "agents.toml"
    config.write_text(NATIVE_OFF)
    outside = tmp_path / "outside-by-choice"
    async with serve_hearth(hearth_settings.model_copy(update={"config_file": config})) as hearth:
        agents = {info["name"]: info for info in (await hearth.client.get("/api/agents")).json()}
        assert agents["native"]["sandbox"] == "off"
        assert agents["native"]["backend"] == "native"  # the built-in, adjusted, not replaced
        assert {agents[name]["sandbox"] for name in agents if name != "native"} == {"worktree"}
        chat = (await hearth.create_chat(git_repo))["id"]
        turn = await hearth.run_turn(chat, "native", f"BASH echo unconfined > {outside}")
        assert turn["status"] == "succeeded", turn
        assert outside.read_text() == "unconfined\n"


async def test_a_sandboxed_agent_without_bubblewrap_is_refused_with_the_fix(
    hearth_settings: Settings, git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "must-not-exist"
    async with serve_hearth(hearth_settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no bwrap to be found
        refused = await hearth.run_turn(chat, "native", f"BASH echo escaped > {outside}")
        assert refused["status"] == "failed", refused
        assert "apt-get install bubblewrap" in (refused["error"] or ""), refused
        assert not outside.exists()
        monkeypatch.undo()
        again = await hearth.run_turn(chat, "native", "BASH echo fine > inside.txt")
        assert again["status"] == "succeeded", again


def test_doctor_probes_the_sandbox_and_names_unconfined_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agents.toml"
    config.write_text(NATIVE_OFF)
    monkeypatch.setenv("HEARTH_CONFIG_FILE", str(config))
    main(["doctor"])
    out = capsys.readouterr().out
    assert "confines writes to the worktree" in out
    assert "native" in next(line for line in out.splitlines() if "sandbox off" in line)

    monkeypatch.setenv("PATH", str(tmp_path))  # node and bwrap both missing now
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "apt-get install bubblewrap" in out
    assert "these agents refuse to run: opencode" in out


async def test_cancelling_a_long_sandboxed_command_ends_the_turn_and_kills_it(
    hearth_settings: Settings, git_repo: Path
) -> None:
    async with serve_hearth(hearth_settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        turn = await hearth.submit(chat, "native", "BASH sleep 600; echo late > late.txt")
        running = await hearth.wait_event(turn["events_url"], "tool_call")
        assert running["name"] == "bash"
        cancelled = await hearth.client.post(f"/api/chats/{chat}/turns/{turn['id']}/cancel")
        assert cancelled.status_code in (200, 202), cancelled.text
        done = await hearth.wait_turn(chat, turn["id"])
        assert done["status"] == "cancelled", done
        worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
        assert not (worktree / "late.txt").exists()
        again = await hearth.run_turn(chat, "native", "BASH echo next > next.txt")
        assert again["status"] == "succeeded", again
        assert (worktree / "next.txt").read_text() == "next\n"
