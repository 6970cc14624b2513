"""One ``/metrics`` scrape for every worker of ``serve --workers N``.

Each worker keeps its own registry (its sessions, its pipelines); the kernel hands a scrape
to whichever worker accepts it, so a plain scrape would see one worker at random. The worker
that answers asks each sibling for its own metrics over loopback (its private port, the one
rooms are relayed through: ``/metrics?scope=worker``), labels every sample with the worker's
index and serves them together; ``sum without (worker) (...)`` gives the server's totals.
``lingolive_worker_up`` says which workers answered (a dead one's metrics are missing, not
stale). Why not prometheus-client's multiprocess mode: it cannot carry the callback gauges
(sessions, queue depths, memory) this server exports.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

#: How long the answering worker waits for a sibling's metrics.
SIBLING_TIMEOUT_S = 2.0


def sibling_urls(port_base: int, count: int, me: int) -> dict[int, str]:
    """Each other worker's own metrics, on its loopback port."""
    return {
        i: f"http://127.0.0.1:{port_base + i}/metrics?scope=worker" for i in range(count) if i != me
    }


async def fetch(urls: dict[int, str], key: str) -> dict[int, str | None]:
    """Each sibling's exposition text (None: it did not answer in time), asked at once."""
    # Loopback: never through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def one(url: str) -> str | None:
        request = urllib.request.Request(url)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with opener.open(request, timeout=SIBLING_TIMEOUT_S) as response:
                return bytes(response.read()).decode()
        except (OSError, urllib.error.URLError):
            return None

    texts = await asyncio.gather(*(asyncio.to_thread(one, u) for u in urls.values()))
    return dict(zip(urls, texts, strict=True))


class _Labelled:
    """A collector over already-parsed families, each sample labelled with its worker."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def combine(texts: dict[int, str | None]) -> bytes:
    """Every worker's metrics (``texts``: index → its exposition, None if it is down) as
    one exposition, each sample with a ``worker`` label."""
    merged: dict[str, Metric] = {}
    up = GaugeMetricFamily(
        "lingolive_worker_up", "Whether the worker answered this scrape.", labels=["worker"]
    )
    for index, text in sorted(texts.items()):
        up.add_metric([str(index)], 0.0 if text is None else 1.0)
        for family in text_string_to_metric_families(text or ""):
            into = merged.setdefault(
                family.name, Metric(family.name, family.documentation, family.type, family.unit)
            )
            for sample in family.samples:
                labels = {**sample.labels, "worker": str(index)}
                into.add_sample(sample.name, labels, sample.value, sample.timestamp)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Labelled([*merged.values(), up]))
    return bytes(generate_latest(registry))
