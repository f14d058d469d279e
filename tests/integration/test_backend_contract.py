"""The backend contract: what every backend and agent must do to be accepted.

Parametrized over every built-in agent and its backend (warm ACP for qwen, claude, gemini and
opencode-acp; the OpenCode server; the native agent). For an operator-configured agent:

    HEARTH_CONTRACT_AGENT_CONFIG=path/to/agents.toml .venv/bin/pytest tests/integration/test_backend_contract.py

runs the same scenarios against every agent of that file instead (see tests/plugins/backends.py). This is the
behaviour contract: its prompts are scripts for hearth's scripted LLM (remember, write a file, think, go slow), so
an agent passes only if it calls its LLM through hearth's provider settings. What any ACP agent must do, LLM or
not, is the protocol contract: tests/integration/test_acp_protocol_contract.py.
One backend and one session per case for the whole module; the scenarios run in order like a chat.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
import pytest
import pytest_asyncio
from returns.result import Success

from adapters.store.sqlite import SqliteStore
from core.agents import ProviderConfig
from core.events import AgentEvent, TextDelta, TurnCancelled, TurnCompleted, TurnFailed, UsageReport
from core.model import TaskStatus, TranscriptEntry
from core.ports.agents import AgentBackend, SessionHandle, SessionSpec
from tests.plugins.backends import BackendCase, SystemClock, TurnResult, contract_cases, make_runtime, require_agent
from tests.plugins.backends import run_turn as drive

pytestmark = [pytest.mark.agents, pytest.mark.asyncio(loop_scope="module")]

CASES = contract_cases()


@dataclass
class Live:
    case: BackendCase
    backend: AgentBackend
    handle: SessionHandle
    worktree: Path
    transcript: list[TranscriptEntry] = field(default_factory=list)

    async def turn(self, turn_id: str, prompt: str, **kwargs: object) -> TurnResult:
        """One turn with the chat so far as transcript (what the app hands every backend)."""
        result = await drive(self.handle, turn_id, prompt, self.transcript, **kwargs)  # type: ignore[arg-type]
        terminal = result.terminal
        status = TaskStatus.SUCCEEDED if isinstance(terminal, TurnCompleted) else TaskStatus.FAILED
        if isinstance(terminal, TurnCancelled):
            status = TaskStatus.CANCELLED
        self.transcript.append(
            TranscriptEntry(
                task_id=turn_id,
                agent=self.case.spec.name,
                prompt=prompt,
                reply=result.text,
                status=status,
            )
        )
        return result

    def session_spec(self, resume_id: str | None = None) -> SessionSpec:
        name = self.case.spec.name
        return SessionSpec(chat_id=f"contract-{name}", agent=name, cwd=str(self.worktree), resume_id=resume_id)


def _git_worktree(path: Path) -> Path:
    path.mkdir(parents=True)
    repo = pygit2.init_repository(str(path), initial_head="main")
    (path / "README.md").write_text("# contract\n")
    repo.index.add("README.md")
    repo.index.write()
    who = pygit2.Signature("hearth contract", "contract@hearth.invalid")
    repo.create_commit("HEAD", who, who, "initial", repo.index.write_tree(), [])
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=CASES, ids=[case.id for case in CASES])
async def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    provider_config: ProviderConfig,
    process_registry: SqliteStore,
) -> AsyncIterator[Live]:
    case: BackendCase = request.param
    require_agent(case.spec)
    root = tmp_path_factory.mktemp(f"contract-{case.id}")
    worktree = _git_worktree(root / "worktree")
    backend = case.build(make_runtime(root / "data", provider_config), process_registry, SystemClock())
    try:
        state = Live(case, backend, handle=None, worktree=worktree)  # type: ignore[arg-type]
        opened = await backend.open_session(state.session_spec())
        assert isinstance(opened, Success), opened
        state.handle = opened.unwrap()
        yield state
    finally:
        await backend.aclose()


async def test_two_turns_remember(live: Live) -> None:
    session_id, pids = live.handle.backend_session_id, [p.pid for p in live.backend.processes()]
    first = await live.turn("c1", f"Please remember the word contract-{live.case.id}-alpha")
    assert isinstance(first.terminal, TurnCompleted), first.events
    second = await live.turn("c2", "RECALL")
    assert isinstance(second.terminal, TurnCompleted), second.events
    assert f"contract-{live.case.id}-alpha" in second.text
    assert live.handle.backend_session_id == session_id, "a warm session is reused, not recreated"
    assert [p.pid for p in live.backend.processes()] == pids, "the warm process is reused"


async def test_write_lands_in_the_worktree(live: Live) -> None:
    target = live.worktree / "contract.txt"
    turn = await live.turn("c3", f"WRITE {target} written by {live.case.id}")
    assert isinstance(turn.terminal, TurnCompleted), turn.events
    assert target.read_text() == f"written by {live.case.id}\n"


async def test_usage_is_reported_or_declared_absent(live: Live) -> None:
    turn = await live.turn("c4", "THINK how much did this cost")
    assert isinstance(turn.terminal, TurnCompleted), turn.events
    usage = [e for e in turn.events if isinstance(e, UsageReport)]
    assert all(min(u.input_tokens, u.output_tokens, u.reasoning_tokens, u.cost_usd) >= 0 for u in usage), usage
    if live.case.usage == "reported":
        assert any(u.input_tokens + u.output_tokens > 0 or u.cost_usd > 0 for u in usage), turn.events
    elif live.case.usage == "absent":
        assert usage == [], f"{live.case.id} is declared to report no usage"


async def test_cancel_then_the_next_turn_completes(live: Live) -> None:
    async def cancel_on_first_text(event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            await live.handle.cancel()

    cancelled = await live.turn("c5", "SLOW=0.3 take your time", on_event=cancel_on_first_text)
    assert isinstance(cancelled.terminal, TurnCancelled), cancelled.events
    after = await live.turn("c6", "hello after the cancel")
    assert isinstance(after.terminal, TurnCompleted), after.events
    assert "hello after the cancel" in after.text


async def test_crash_then_respawn(live: Live) -> None:
    if not live.case.has_process:
        assert live.backend.processes() == [], f"{live.case.id} declares no process that could crash"
        return
    (victim,) = {p.pid for p in live.backend.processes()}

    def kill_on_first_text(event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            os.kill(victim, signal.SIGKILL)

    crashed = await live.turn("c7", "SLOW=0.3 this turn will not finish", on_event=kill_on_first_text)
    assert isinstance(crashed.terminal, TurnFailed), crashed.events
    assert crashed.terminal.error, "a crash must say what happened"
    reopened = await live.backend.open_session(live.session_spec(resume_id=live.handle.backend_session_id))
    assert isinstance(reopened, Success), reopened
    live.handle = reopened.unwrap()
    assert victim not in {p.pid for p in live.backend.processes()}
    if not live.handle.resumed:
        assert live.handle.context_reset_reason, "a fresh start after a crash must say why"
    recalled = await live.turn("c8", "RECALL after the crash")
    assert isinstance(recalled.terminal, TurnCompleted), recalled.events
    if live.case.memory_survives_crash:
        assert f"contract-{live.case.id}-alpha" in recalled.text


async def test_restart_stops_a_hung_agent_and_the_next_turn_resumes(live: Live) -> None:
    """What the turn watchdog's last step does: the agent is frozen mid-turn, ``restart`` stops it for good."""
    victims = {p.pid for p in live.backend.processes()}
    restarted: list[bool] = []

    async def freeze_then_restart(event: AgentEvent) -> None:
        if isinstance(event, TextDelta) and not restarted:
            restarted.append(True)
            for pid in victims:
                os.kill(pid, signal.SIGSTOP)  # hung: it neither streams nor answers a cancel any more
            await live.backend.restart("contract: the turn went silent and ignored a cancel")

    hung = await live.turn("c9", "SLOW=0.3 this turn hangs", on_event=freeze_then_restart)
    assert restarted, hung.events
    if not live.case.has_process:  # nothing to respawn: the in-flight work is cancelled
        assert isinstance(hung.terminal, TurnCancelled), hung.events
    else:
        assert isinstance(hung.terminal, TurnFailed), hung.events
        assert hung.terminal.error, "a restarted agent's turn must say what happened"
        assert not victims & {p.pid for p in live.backend.processes()}
        assert not live.handle.is_alive()
        reopened = await live.backend.open_session(live.session_spec(resume_id=live.handle.backend_session_id))
        assert isinstance(reopened, Success), reopened
        live.handle = reopened.unwrap()
        assert victims.isdisjoint({p.pid for p in live.backend.processes()}), "a new process serves the session"
    recalled = await live.turn("c10", "RECALL after the restart")
    assert isinstance(recalled.terminal, TurnCompleted), recalled.events
    if live.case.memory_survives_crash:
        assert f"contract-{live.case.id}-alpha" in recalled.text
