"""The memory budget's series for ``GET /metrics`` (Prometheus text), appended to ``app.metrics.render``."""

from __future__ import annotations

from collections.abc import Iterable

from app.memory.budget import MemoryBudget
from app.metrics import Metrics


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_memory(budget: MemoryBudget, metrics: Metrics) -> str:
    out: list[str] = []

    def series(name: str, kind: str, help_text: str, rows: Iterable[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{labels} {value:g}" for labels, value in rows)

    agents, chats = budget.charged()
    series(
        "hearth_memory_budget_bytes",
        "gauge",
        "The memory budget over every agent process tree (0: off).",
        [("", budget.policy.budget_bytes)],
    )
    series(
        "hearth_memory_charged_bytes",
        "gauge",
        "Resident memory of every agent process tree, last sample.",
        [("", budget.total_bytes())],
    )
    series(
        "hearth_memory_agent_bytes",
        "gauge",
        "Resident memory of each agent's process trees.",
        ((f'{{agent="{_label(a)}"}}', n) for a, n in sorted(agents.items())),
    )
    series(
        "hearth_memory_chat_bytes",
        "gauge",
        "Memory charged to each chat (its own processes and shares).",
        ((f'{{chat="{_label(c)}"}}', n) for c, n in sorted(chats.items())),
    )
    series(
        "hearth_memory_admissions_waiting",
        "gauge",
        "Agent sessions waiting for the budget to make room.",
        [("", len(budget.state.waiting))],
    )
    series(
        "hearth_memory_background_deferred",
        "gauge",
        "Idle handles kept because their agent runs background work.",
        [("", len(budget.state.plan.deferred) if budget.state.plan else 0)],
    )
    series(
        "hearth_memory_recycled_total",
        "counter",
        "Agent processes stopped by the budget once emptied.",
        ((f'{{agent="{_label(a)}"}}', n) for a, n in sorted(budget.state.recycled.items())),
    )
    series(
        "hearth_evictions_by_reason_total",
        "counter",
        "Evicted agent session handles by reason.",
        (
            (f'{{agent="{_label(a)}",reason="{_label(r)}"}}', n)
            for (a, r), n in sorted(metrics.evictions_by_reason.items())
        ),
    )
    return "\n".join(out) + "\n"
