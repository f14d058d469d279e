"""Who holds the memory: the host's process table charged to agent processes and the chats they serve, and the
work an agent left running in the background.

An agent process tree is its root (an ``opencode serve``, a warm ACP agent, a one-shot process) and every
descendant. A descendant whose working directory lies in a chat's worktree is that chat's own (OpenCode's
per-directory children, a claude child of claude-code-acp); the rest is the process's shared memory.

Background work of a chat is a process that runs in its worktree, started since its last turn began, and is
neither an agent process nor one of its direct children (those are the agent's own machinery: a session child,
a language server). A ``&`` job outlives the shell that started it, so it is found by where it runs, whether it
is still a descendant of the agent or was reparented when its shell exited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import Field

from core.lifecycle.budget import ChargedHandle, ProcessCharge
from core.model import Frozen
from core.ports.processes import HostProcess

START_SLACK = timedelta(seconds=2)  # process start times are derived from a whole-second boot time


class AgentRoot(Frozen):
    process: str  # a name unique among the roots, e.g. "qwen:1234"
    pid: int
    agent: str


class Tenant(Frozen):
    """A live (chat, agent) handle as the memory budget sees it."""

    chat_id: str
    agent: str
    process: str  # the root it lives in ("" when its agent runs no process)
    cwd: str
    last_used: datetime
    busy: bool = False
    turn_started: datetime | None = None  # when its last turn began
    agent_work: tuple[str, ...] = ()  # work the agent itself says still runs (an OpenCode session still busy)


class Attribution(Frozen):
    handles: tuple[ChargedHandle, ...]
    processes: tuple[ProcessCharge, ...]
    roots_bytes: dict[str, int] = Field(default_factory=dict)  # process name -> its whole tree


def _within(path: str, directory: str) -> bool:
    return bool(directory) and (path == directory or path.startswith(directory.rstrip("/") + "/"))


def _descendants(root: int, children: dict[int, list[int]]) -> list[int]:
    found, pending, seen = [], [root], {root}
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                pending.append(child)
    return found


def _background(tenant: Tenant, rows: Sequence[HostProcess], machinery: set[int]) -> tuple[str, ...]:
    if tenant.turn_started is None:
        return ()
    since = tenant.turn_started - START_SLACK
    return tuple(
        f"{row.pid} {row.command}"
        for row in sorted(rows, key=lambda r: r.pid)
        if row.pid not in machinery and row.started_at >= since and _within(row.cwd, tenant.cwd)
    )


def attribute(rows: Sequence[HostProcess], roots: Sequence[AgentRoot], tenants: Sequence[Tenant]) -> Attribution:
    by_pid = {row.pid: row for row in rows}
    children: dict[int, list[int]] = {}
    for row in rows:
        children.setdefault(row.ppid, []).append(row.pid)
    own: dict[tuple[str, str], int] = {}
    shared: dict[str, int] = {}
    whole: dict[str, int] = {}
    machinery = {root.pid for root in roots} | {c for root in roots for c in children.get(root.pid, ())}
    for root in sorted(roots, key=lambda r: r.process):
        if root.pid not in by_pid:
            continue
        users = [t for t in tenants if t.process == root.process]
        shared[root.process] = by_pid[root.pid].rss_bytes
        for pid in _descendants(root.pid, children):
            row = by_pid[pid]
            owner = next((t for t in sorted(users, key=lambda t: -len(t.cwd)) if _within(row.cwd, t.cwd)), None)
            if owner is None:
                shared[root.process] += row.rss_bytes
            else:
                own[(owner.chat_id, owner.agent)] = own.get((owner.chat_id, owner.agent), 0) + row.rss_bytes
        whole[root.process] = shared[root.process] + sum(own.get((t.chat_id, t.agent), 0) for t in users)
    handles = tuple(
        ChargedHandle(
            chat_id=t.chat_id,
            agent=t.agent,
            process=t.process or f"{t.agent}:none",
            own_bytes=own.get((t.chat_id, t.agent), 0),
            last_used=t.last_used,
            busy=t.busy,
            background=_background(t, rows, machinery) + t.agent_work,
        )
        for t in tenants
    )
    processes = tuple(ProcessCharge(process=name, shared_bytes=size) for name, size in sorted(shared.items()))
    return Attribution(handles=handles, processes=processes, roots_bytes=whole)
