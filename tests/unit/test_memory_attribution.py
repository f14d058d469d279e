"""Charging the process table to agent processes and chats, and finding the work an agent left running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.lifecycle.attribution import AgentRoot, Tenant, attribute
from core.lifecycle.budget import BudgetPolicy, BudgetReason, plan_budget
from core.ports.processes import HostProcess

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MIB = 1024 * 1024


def proc(pid: int, ppid: int, mib: int, cwd: str, started: datetime = T0, command: str = "x") -> HostProcess:
    return HostProcess(pid=pid, ppid=ppid, rss_bytes=mib * MIB, cwd=cwd, started_at=started, command=command)


def test_children_in_a_worktree_are_the_chats_own_and_the_rest_is_shared() -> None:
    rows = [
        proc(10, 1, 600, "/state/opencode"),
        proc(11, 10, 80, "/wt/a"),  # a language server of chat a
        proc(12, 10, 20, "/tmp"),
        proc(20, 1, 270, "/state/qwen"),
        proc(99, 1, 5, "/elsewhere"),
    ]
    roots = [AgentRoot(process="oc:10", pid=10, agent="opencode"), AgentRoot(process="qwen:20", pid=20, agent="qwen")]
    tenants = [
        Tenant(chat_id="a", agent="opencode", process="oc:10", cwd="/wt/a", last_used=T0),
        Tenant(chat_id="b", agent="opencode", process="oc:10", cwd="/wt/b", last_used=T0),
        Tenant(chat_id="a", agent="qwen", process="qwen:20", cwd="/wt/a", last_used=T0),
    ]
    result = attribute(rows, roots, tenants)
    own = {h.key: h.own_bytes for h in result.handles}
    assert own == {("a", "opencode"): 80 * MIB, ("b", "opencode"): 0, ("a", "qwen"): 0}
    assert {p.process: p.shared_bytes for p in result.processes} == {"oc:10": 620 * MIB, "qwen:20": 270 * MIB}
    assert result.roots_bytes == {"oc:10": 700 * MIB, "qwen:20": 270 * MIB}


def test_a_job_left_running_in_the_worktree_since_the_last_turn_is_background_work() -> None:
    turn = T0 + timedelta(minutes=5)
    rows = [
        proc(20, 1, 270, "/state/qwen"),
        proc(21, 20, 3, "/wt/a", turn),  # the agent's shell: its own machinery
        proc(22, 21, 1, "/wt/a", turn + timedelta(seconds=1), "sleep 30"),  # started by that shell
        proc(23, 1, 1, "/wt/a/web", turn + timedelta(seconds=2), "npm run dev"),  # reparented when its shell ended
        proc(24, 1, 1, "/wt/a", T0, "old"),  # older than the last turn: not this agent's doing
        proc(25, 1, 1, "/wt/b", turn, "sleep 9"),  # another chat's worktree
    ]
    tenants = [
        Tenant(chat_id="a", agent="qwen", process="qwen:20", cwd="/wt/a", last_used=turn, turn_started=turn),
    ]
    result = attribute(rows, [AgentRoot(process="qwen:20", pid=20, agent="qwen")], tenants)
    assert result.handles[0].background == ("22 sleep 30", "23 npm run dev")


def test_a_session_still_busy_at_its_agent_is_background_work_and_defers_eviction() -> None:
    busy = "session ses_1 still busy at opencode"
    tenants = [
        Tenant(chat_id="a", agent="opencode", process="oc:10", cwd="/wt/a", last_used=T0, agent_work=(busy,)),
        Tenant(chat_id="b", agent="opencode", process="oc:10", cwd="/wt/b", last_used=T0 - timedelta(minutes=1)),
    ]
    rows = [proc(10, 1, 600, "/state/opencode")]
    result = attribute(rows, [AgentRoot(process="oc:10", pid=10, agent="opencode")], tenants)
    assert {h.key: h.background for h in result.handles} == {("a", "opencode"): (busy,), ("b", "opencode"): ()}
    policy = BudgetPolicy(budget_bytes=MIB, floor=0, background_grace_s=600)
    plan = plan_budget(result.handles, result.processes, T0 + timedelta(minutes=1), policy)
    assert plan.deferred == (("a", "opencode"),)
    assert plan.evictions == ()  # b alone frees nothing while a keeps their server: neither goes
    past_grace = plan_budget(result.handles, result.processes, T0 + timedelta(hours=1), policy)
    forced = {e.key: e.reason for e in past_grace.evictions}
    assert forced == {("a", "opencode"): BudgetReason.FORCED, ("b", "opencode"): BudgetReason.BUDGET}
