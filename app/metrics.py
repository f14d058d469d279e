"""Prometheus text exposition for ``GET /metrics``, hand-rolled (a handful of series needs no extra dependency).

Counters live in one ``Metrics`` object owned by the node (``app.bootstrap.node.Node``); gauges (live handles, turns by
status, process RSS/CPU) are read at scrape time from the pool, the store and the host processes port.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.ports.processes import ProcessSample

LATENCY_BUCKETS_S: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# hearth's own bookkeeping around a turn takes micro- to milliseconds; the agent phase reaches the turn's scale
PHASE_BUCKETS_S: tuple[float, ...] = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5, 10.0, 60.0)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        self.total += value
        self.n += 1
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1


@dataclass
class Metrics:
    """Process-lifetime counters. Labels are agent names (a small, operator-configured set)."""

    turn_latency: dict[str, Histogram] = field(default_factory=dict)
    evictions: Counter[str] = field(default_factory=Counter)
    evictions_by_reason: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agent, reason)
    crashes: Counter[str] = field(default_factory=Counter)
    restarts: Counter[str] = field(default_factory=Counter)
    turn_phases: dict[str, Histogram] = field(default_factory=dict)  # by phase (``app.turns.phases``)

    def observe_turn(self, agent: str, seconds: float) -> None:
        self.turn_latency.setdefault(agent, Histogram()).observe(seconds)

    def observe_phase(self, phase: str, seconds: float) -> None:
        self.turn_phases.setdefault(phase, Histogram(PHASE_BUCKETS_S)).observe(seconds)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(
    metrics: Metrics,
    live_handles: Mapping[str, int],
    turns_by_status: Mapping[str, int],
    processes: Iterable[tuple[str, ProcessSample]],
) -> str:
    out: list[str] = []

    def series(name: str, kind: str, help_text: str, rows: Iterable[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{labels} {value:g}" for labels, value in rows)

    series(
        "hearth_live_handles",
        "gauge",
        "Live agent session handles per agent.",
        ((f'{{agent="{_label(a)}"}}', n) for a, n in sorted(live_handles.items())),
    )
    series(
        "hearth_turns",
        "gauge",
        "Turns in the store by status.",
        ((f'{{status="{_label(s)}"}}', n) for s, n in sorted(turns_by_status.items())),
    )
    for name, counter, text in (
        ("hearth_evictions_total", metrics.evictions, "Evicted agent session handles."),
        ("hearth_crashes_total", metrics.crashes, "Agent sessions found dead (crashed process or server)."),
        ("hearth_restarts_total", metrics.restarts, "Agent sessions reopened after a crash."),
    ):
        series(name, "counter", text, ((f'{{agent="{_label(a)}"}}', n) for a, n in sorted(counter.items())))
    out.append("# HELP hearth_turn_latency_seconds Time from claim to terminal event per turn.")
    out.append("# TYPE hearth_turn_latency_seconds histogram")
    for agent, hist in sorted(metrics.turn_latency.items()):
        a = _label(agent)
        for bound, count in zip(hist.buckets, hist.counts, strict=True):
            out.append(f'hearth_turn_latency_seconds_bucket{{agent="{a}",le="{bound:g}"}} {count}')
        out.append(f'hearth_turn_latency_seconds_bucket{{agent="{a}",le="+Inf"}} {hist.n}')
        out.append(f'hearth_turn_latency_seconds_sum{{agent="{a}"}} {hist.total:g}')
        out.append(f'hearth_turn_latency_seconds_count{{agent="{a}"}} {hist.n}')
    _histograms(
        out,
        "hearth_turn_phase_seconds",
        "Time each phase of a turn took (prepare, session, handoff, agent, persist, diff, finish); persist is the "
        "journal writes inside the agent phase.",
        "phase",
        metrics.turn_phases,
    )
    samples = list(processes)  # (agent, sample)
    series(
        "hearth_agent_process_rss_bytes",
        "gauge",
        "Resident memory of each agent process.",
        ((f'{{agent="{_label(a)}",pid="{s.pid}"}}', s.rss_bytes) for a, s in samples),
    )
    series(
        "hearth_agent_process_cpu_seconds_total",
        "counter",
        "CPU time (user+system) of each agent process.",
        ((f'{{agent="{_label(a)}",pid="{s.pid}"}}', s.cpu_seconds) for a, s in samples),
    )
    return "\n".join(out) + "\n"


def _histograms(out: list[str], name: str, help_text: str, label: str, by: Mapping[str, Histogram]) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} histogram")
    for key, hist in sorted(by.items()):
        value = _label(key)
        for bound, count in zip(hist.buckets, hist.counts, strict=True):
            out.append(f'{name}_bucket{{{label}="{value}",le="{bound:g}"}} {count}')
        out.append(f'{name}_bucket{{{label}="{value}",le="+Inf"}} {hist.n}')
        out.append(f'{name}_sum{{{label}="{value}"}} {hist.total:g}')
        out.append(f'{name}_count{{{label}="{value}"}} {hist.n}')
