"""Prometheus text and /proc sampling."""

from __future__ import annotations

import os

from adapters.procfs import ProcFs
from app.metrics import Metrics, render


def test_render_has_every_series_with_labels() -> None:
    metrics = Metrics()
    metrics.observe_turn("native", 0.3)
    metrics.observe_turn("native", 7.0)
    metrics.evictions["native"] += 2
    metrics.crashes["qwen"] += 1
    metrics.restarts["qwen"] += 1
    sample = ProcFs().sample(os.getpid())
    assert sample is not None
    text = render(metrics, {"native": 1}, {"succeeded": 2, "failed": 0}, [("self", sample)])
    assert 'hearth_live_handles{agent="native"} 1' in text
    assert 'hearth_turns{status="succeeded"} 2' in text
    assert 'hearth_evictions_total{agent="native"} 2' in text
    assert 'hearth_crashes_total{agent="qwen"} 1' in text
    assert 'hearth_restarts_total{agent="qwen"} 1' in text
    assert 'hearth_turn_latency_seconds_bucket{agent="native",le="0.5"} 1' in text
    assert 'hearth_turn_latency_seconds_bucket{agent="native",le="+Inf"} 2' in text
    assert 'hearth_turn_latency_seconds_count{agent="native"} 2' in text
    assert f'hearth_agent_process_rss_bytes{{agent="self",pid="{os.getpid()}"}}' in text
    assert sample.rss_bytes > 0


def test_turn_phases_are_histograms_with_millisecond_buckets() -> None:
    metrics = Metrics()
    metrics.observe_phase("handoff", 0.0004)
    metrics.observe_phase("handoff", 0.003)
    metrics.observe_phase("agent", 1.2)
    text = render(metrics, {}, {}, [])
    assert "# TYPE hearth_turn_phase_seconds histogram" in text
    assert 'hearth_turn_phase_seconds_bucket{phase="handoff",le="0.0005"} 1' in text
    assert 'hearth_turn_phase_seconds_bucket{phase="handoff",le="0.005"} 2' in text
    assert 'hearth_turn_phase_seconds_bucket{phase="agent",le="+Inf"} 1' in text
    assert 'hearth_turn_phase_seconds_count{phase="handoff"} 2' in text
    assert 'hearth_turn_latency_seconds_bucket{agent="native",le="0.5"}' not in text


def test_sampling_a_vanished_process_gives_none() -> None:
    assert ProcFs().sample(2**22 + 12345) is None
