"""Every worker's metrics in one scrape: each sample keeps its labels and gains the worker's
index, a worker that did not answer shows as down, and the result is valid exposition text.
With real processes: test_workers.py."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from lingolive.metrics import Metrics
from lingolive.worker_metrics import combine, sibling_urls


def exposition(sessions: int, refused: int) -> str:
    metrics = Metrics()
    metrics.sessions.set(sessions)
    for _ in range(refused):
        metrics.sessions_refused.labels(reason="busy").inc()
    metrics.stage_seconds.labels(stage="stt").observe(0.25)
    return metrics.render().decode()


def test_samples_of_every_worker_with_its_index() -> None:
    text = combine({0: exposition(3, 1), 1: exposition(2, 4), 2: None}).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    sessions = {s.labels["worker"]: s.value for s in families["lingolive_active_sessions"].samples}
    assert sessions == {"0": 3.0, "1": 2.0}
    refused = {
        (s.labels["worker"], s.labels["reason"]): s.value
        for s in families["lingolive_sessions_refused"].samples
        if s.name.endswith("_total")
    }
    assert refused == {("0", "busy"): 1.0, ("1", "busy"): 4.0}
    counts = [s for s in families["lingolive_stage_seconds"].samples if s.name.endswith("_count")]
    assert {(s.labels["worker"], s.labels["stage"], s.value) for s in counts} == {
        ("0", "stt", 1.0),
        ("1", "stt", 1.0),
    }
    up = {s.labels["worker"]: s.value for s in families["lingolive_worker_up"].samples}
    assert up == {"0": 1.0, "1": 1.0, "2": 0.0}


def test_siblings_are_asked_on_their_loopback_ports() -> None:
    assert sibling_urls(9000, 3, 1) == {
        0: "http://127.0.0.1:9000/metrics?scope=worker",
        2: "http://127.0.0.1:9002/metrics?scope=worker",
    }
