"""One memory budget over every agent process tree: which idle handles to let go of, costliest first.

Memory is charged in two parts. A handle's *own* bytes are the processes attributed to its chat alone (children
of an OpenCode server or an ACP agent whose working directory is the chat's worktree): evicting the handle frees
them. A process's *shared* bytes (the agent process itself and whatever cannot be attributed) are freed only when
every handle using that process is gone and the process is then recycled (stopped; the next turn respawns it and
resumes its session). So the decision works over processes: it evicts idle handles in cost order until what the
chosen set frees, counting each process emptied by it, covers the overshoot.

A busy handle is never evicted; neither are the ``floor`` most recently used idle handles, nor a handle whose
agent still runs work it started in the background (a ``&`` job, a dev server): that one is deferred, up to
``background_grace_s`` after its last use, after which it may be forced (the caller stops and journals that work).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from core.events import BackgroundStopped, StoppedProcess, Waiting
from core.model import Frozen

HandleKey = tuple[str, str]  # (chat_id, agent)
MIB = 1024 * 1024


class BudgetPolicy(Frozen):
    budget_bytes: int = Field(ge=0)  # 0: no budget
    floor: int = Field(default=1, ge=0)  # the most recently used idle handles that always stay
    background_grace_s: float = Field(default=3600.0, ge=0)  # how long background work defers an eviction
    idle_weight_s: float = Field(default=600.0, gt=0)  # idle this long doubles a handle's cost


class ChargedHandle(Frozen):
    chat_id: str
    agent: str
    process: str  # the process (tree) it lives in; handles of one process share its memory
    own_bytes: int = Field(default=0, ge=0)  # freed by evicting this handle alone
    last_used: datetime
    busy: bool = False
    background: tuple[str, ...] = ()  # work it started that still runs (e.g. "1234 sleep 30")

    @property
    def key(self) -> HandleKey:
        return (self.chat_id, self.agent)


class ProcessCharge(Frozen):
    process: str
    shared_bytes: int = Field(default=0, ge=0)  # freed only when the process is emptied and recycled


class BudgetReason(StrEnum):
    BUDGET = "budget"  # over budget, this handle was among the costliest idle ones
    FORCED = "budget_forced"  # as BUDGET, but its background work outlived the grace and is stopped


class BudgetEviction(Frozen):
    chat_id: str
    agent: str
    reason: BudgetReason
    stops: tuple[str, ...] = ()  # the background work a forced eviction stops

    @property
    def key(self) -> HandleKey:
        return (self.chat_id, self.agent)


class BudgetPlan(Frozen):
    total_bytes: int
    overshoot_bytes: int  # total over budget (0 when within)
    evictions: tuple[BudgetEviction, ...] = ()
    recycle: tuple[str, ...] = ()  # processes emptied by the evictions: stop them to give their memory back
    frees_bytes: int = 0
    deferred: tuple[HandleKey, ...] = ()  # idle handles kept only because of their background work


def total_bytes(handles: Sequence[ChargedHandle], processes: Sequence[ProcessCharge]) -> int:
    return sum(h.own_bytes for h in handles) + sum(p.shared_bytes for p in processes)


def charge_of(handle: ChargedHandle, handles: Sequence[ChargedHandle], processes: Sequence[ProcessCharge]) -> float:
    """Bytes charged to a handle: its own plus an even share of its process's shared memory."""
    sharers = sum(1 for h in handles if h.process == handle.process)
    shared = sum(p.shared_bytes for p in processes if p.process == handle.process)
    return handle.own_bytes + shared / max(1, sharers)


def _cost(handle: ChargedHandle, charge: float, now: datetime, policy: BudgetPolicy) -> float:
    idle_s = max(0.0, (now - handle.last_used).total_seconds())
    return charge * (1.0 + idle_s / policy.idle_weight_s)


def _frees(chosen: set[HandleKey], handles: Sequence[ChargedHandle], processes: Sequence[ProcessCharge]) -> int:
    own = sum(h.own_bytes for h in handles if h.key in chosen)
    return own + sum(p.shared_bytes for p in processes if p.process in _emptied(chosen, handles, processes))


def _emptied(chosen: set[HandleKey], handles: Sequence[ChargedHandle], processes: Sequence[ProcessCharge]) -> list[str]:
    used = {h.process for h in handles}
    left = {h.process for h in handles if h.key not in chosen}
    return sorted(p.process for p in processes if p.process in used and p.process not in left)


def plan_budget(
    handles: Sequence[ChargedHandle], processes: Sequence[ProcessCharge], now: datetime, policy: BudgetPolicy
) -> BudgetPlan:
    """What to evict (and which emptied processes to recycle) to bring the total back within the budget.

    Handle keys and process names are expected to be unique; the result never depends on their order.
    """
    total = total_bytes(handles, processes)
    overshoot = max(0, total - policy.budget_bytes) if policy.budget_bytes else 0
    idle = sorted((h for h in handles if not h.busy), key=lambda h: (h.last_used, h.key), reverse=True)
    protected = {h.key for h in idle[: policy.floor]}
    candidates = [h for h in idle if h.key not in protected]
    deferred = tuple(
        sorted(
            h.key
            for h in candidates
            if h.background and (now - h.last_used).total_seconds() < policy.background_grace_s
        )
    )
    if overshoot == 0:
        return BudgetPlan(total_bytes=total, overshoot_bytes=0, deferred=deferred)
    evictable = [h for h in candidates if h.key not in deferred]
    charges = {h.key: charge_of(h, handles, processes) for h in handles}
    ranked = sorted(evictable, key=lambda h: (-_cost(h, charges[h.key], now, policy), h.key))
    chosen: set[HandleKey] = set()
    order: list[ChargedHandle] = []
    for handle in ranked:
        if _frees(chosen, handles, processes) >= overshoot:
            break
        chosen.add(handle.key)
        order.append(handle)
    # a handle whose eviction frees nothing, alone or by emptying its process, is not worth a cold start
    for handle in list(order):
        without = chosen - {handle.key}
        if _frees(without, handles, processes) >= _frees(chosen, handles, processes):
            chosen = without
            order.remove(handle)
    evictions = tuple(
        BudgetEviction(
            chat_id=h.chat_id,
            agent=h.agent,
            reason=BudgetReason.FORCED if h.background else BudgetReason.BUDGET,
            stops=h.background,
        )
        for h in order
    )
    return BudgetPlan(
        total_bytes=total,
        overshoot_bytes=overshoot,
        evictions=evictions,
        recycle=tuple(_emptied(chosen, handles, processes)),
        frees_bytes=_frees(chosen, handles, processes),
        deferred=deferred,
    )


def admits(total: int, expected_bytes: int, policy: BudgetPolicy) -> bool:
    """A new agent process may start when the total with its expected size stays within the budget (a budget of
    0 is off), or when nothing runs at all (a single agent larger than the budget must still be able to run)."""
    return policy.budget_bytes == 0 or total == 0 or total + expected_bytes <= policy.budget_bytes


def admission_wait(held: int, expected_bytes: int, policy: BudgetPolicy, *, turn_id: str, agent: str) -> Waiting:
    """What a turn whose new ``agent`` session waits for room says on its journal: what it needs, what is free."""
    free = max(0, policy.budget_bytes - held)
    return Waiting(
        session_id="",
        turn_id=turn_id,
        reason=(
            f"memory budget: a new {agent} session needs {-(-expected_bytes // MIB)} MiB, {free // MIB} MiB free of "
            f"{policy.budget_bytes // MIB} MiB; waiting for an idle agent to be let go of"
        ),
        needs_bytes=expected_bytes,
        free_bytes=free,
    )


def idle_with_background(
    handles: Sequence[ChargedHandle], now: datetime, policy: BudgetPolicy
) -> tuple[HandleKey, ...]:
    """Idle handles whose background work must keep them (and their process) alive, for any eviction reason."""
    return tuple(
        sorted(
            h.key
            for h in handles
            if not h.busy and h.background and (now - h.last_used).total_seconds() < policy.background_grace_s
        )
    )


def forced_notice(
    eviction: BudgetEviction, stopped: Sequence[str], *, turn_id: str, session_id: str, grace_s: float
) -> BackgroundStopped:
    """The journal's word on a forced eviction: which agent went, why, and every process of its background work
    that was stopped (``stopped`` entries are "pid command", as the sampler reports background work)."""
    processes, other = [], []  # other: work with no pid of its own (a session still busy at the agent)
    for entry in stopped:
        pid, _, command = entry.partition(" ")
        if pid.isdigit():
            processes.append(StoppedProcess(pid=int(pid), command=command))
        else:
            other.append(entry)
    reason = (
        f"over the memory budget; the background work this turn left running outlived its grace of "
        f"{grace_s:.0f} s and was stopped with its agent"
    )
    return BackgroundStopped(
        session_id=session_id,
        turn_id=turn_id,
        agent=eviction.agent,
        reason=reason + "".join(f"; ended: {entry}" for entry in other),
        processes=tuple(processes),
    )
