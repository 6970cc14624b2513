"""Prometheus metrics of one server process (``GET /metrics``).

One ``Metrics`` object per app, holding its own ``CollectorRegistry`` (no process-global
default registry), so two apps in one process — as in tests — never share counters.

The pipeline's counters are fed from the same events the clients' messages are made of
(``observe``, a pipeline ``EventSink``): latency histograms from the stage marks every phrase
carries (the ``timing`` message's data), so what an operator sees is what a client is told.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from lingolive.pipeline.events import (
    AudioShed,
    FinalPass,
    PhraseCommitted,
    PhraseTimed,
    PipelineEvent,
    RecognitionBehind,
    RenderedAhead,
    StageFailed,
    SynthesisStarted,
    Translated,
)
from lingolive.pipeline.phrase import Marks, Stage

_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)
_CHUNK_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0)
_BACKLOG_BUCKETS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0)
_SPEED_BUCKETS = (1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3)

#: (histogram label, start mark, end mark) of each stage.
STAGES = (
    ("vad_end_of_speech", Stage.SPEECH_END, Stage.VAD_END),
    ("stt", Stage.STT_START, Stage.STT_END),
    ("mt", Stage.MT_START, Stage.MT_END),
    ("tts_first_audio", Stage.TTS_START, Stage.TTS_FIRST_AUDIO),
    ("tts_to_first_packet", Stage.TTS_FIRST_AUDIO, Stage.FIRST_AUDIO_OUT),
)


@dataclass(frozen=True)
class ProcessTree:
    """Memory of a process and all its descendants, now."""

    uss_bytes: int
    pss_bytes: int
    children: int  # descendants, at any depth


def descendants(pid: int) -> list[int]:
    """Every process under ``pid``, at any depth.

    Read from ``/proc/PID/task/TID/children`` (a handful of small files, ~1 ms), not from a
    scan of every process on the machine (psutil's way, several times slower); psutil where
    the kernel lacks those files.
    """
    if not Path(f"/proc/{pid}/task/{pid}/children").exists():
        try:
            return [child.pid for child in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            return []
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:  # exited meanwhile
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            found += map(int, children)
            stack += map(int, children)
    return found


def process_tree(pid: int | None = None) -> ProcessTree:
    """USS and PSS summed over ``pid`` (default: this process) and its descendants.

    Reads ``/proc/PID/smaps_rollup`` once per process (the kernel walks its page tables):
    10–25 ms on the project's 2-core machine for a fresh server and the 26 programs of its
    two warm pipelines, once per scrape; each further running pair adds ~0.5 ms per program.
    A process that exits while it is read is left out.
    """
    root = os.getpid() if pid is None else pid
    pids = [root, *descendants(root)]
    uss = pss = 0
    for each in pids:
        try:
            info = psutil.Process(each).memory_full_info()
        except psutil.Error:
            continue
        uss += info.uss
        pss += getattr(info, "pss", 0)
    return ProcessTree(uss_bytes=uss, pss_bytes=pss, children=len(pids) - 1)


class ProcessTreeCollector:
    """``lingolive_process_tree_*``: read at scrape time, one walk for the three gauges."""

    def collect(self) -> Iterator[Metric]:
        tree = process_tree()
        yield GaugeMetricFamily(
            "lingolive_process_tree_uss_bytes",
            "Memory only this server's processes hold (USS), summed over the process and "
            "its children (Apertium pipelines, …).",
            value=tree.uss_bytes,
        )
        yield GaugeMetricFamily(
            "lingolive_process_tree_pss_bytes",
            "Proportional set size (shared pages split among their users) of the process "
            "and its children: what this server costs the machine.",
            value=tree.pss_bytes,
        )
        yield GaugeMetricFamily(
            "lingolive_child_processes",
            "Processes started by this server and still running, at any depth.",
            value=tree.children,
        )


class BatchCollector:
    """``lingolive_stt_batches_total`` and ``lingolive_stt_batched_passes_total``, read from
    the recognition queue at scrape time: their ratio is the mean batch size (1.0: nobody
    ever finished speaking together; well above 1: batching is what keeps up)."""

    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        batches, passes = self._counts()
        yield CounterMetricFamily(
            "lingolive_stt_batches", "Recognition calls (one batch each).", value=batches
        )
        yield CounterMetricFamily(
            "lingolive_stt_batched_passes",
            "Recognition passes run, in all batches together.",
            value=passes,
        )


@dataclass(frozen=True)
class SfuCounts:
    """What the SFU rooms report (``rooms.janus.SfuRooms.counts``)."""

    rooms: int
    recovering: int
    listeners: int
    feeds: int
    speakers: int
    rebuilt: int
    failed: int


class SfuCollector:
    """``lingolive_sfu_*``: the SFU rooms (``LL_SFU=janus``), read at scrape time. What an
    operator of a large event watches: listeners (the audience, no media on this node),
    feeds (one translation + synthesis each), speakers (one recognition each), rooms being
    rebuilt after Janus went away, and how rebuilds ended."""

    def __init__(self, counts: Callable[[], SfuCounts]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        c = self._counts()
        gauges = (
            ("lingolive_sfu_rooms", "SFU rooms this process holds.", c.rooms),
            ("lingolive_sfu_rooms_recovering", "SFU rooms being rebuilt now.", c.recovering),
            ("lingolive_sfu_listeners", "Sockets listening to SFU rooms.", c.listeners),
            ("lingolive_sfu_feeds", "Translated feeds published to Janus.", c.feeds),
            ("lingolive_sfu_speakers", "Janus speakers being recognized.", c.speakers),
        )
        for name, help_text, value in gauges:
            yield GaugeMetricFamily(name, help_text, value=value)
        rebuilds = CounterMetricFamily(
            "lingolive_sfu_rebuilds",
            "SFU rooms whose translation stopped by itself, by how the rebuild ended.",
            labels=["outcome"],
        )
        rebuilds.add_metric(["rebuilt"], c.rebuilt)
        rebuilds.add_metric(["failed"], c.failed)
        yield rebuilds


class Metrics:
    """Every metric LingoLive exports."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.sessions = Gauge("lingolive_active_sessions", "Live sessions.", registry=r)
        self.rooms = Gauge("lingolive_active_rooms", "Rooms with participants.", registry=r)
        self.worker_restarts = Gauge(
            "lingolive_worker_restarts",
            "Times this worker's slot (`serve --workers`) was started again after its "
            "process died.",
            registry=r,
        )
        self.sessions_started = Counter(
            "lingolive_sessions_started", "Sessions started.", registry=r
        )
        self.sessions_refused = Counter(
            "lingolive_sessions_refused", "Offers refused, by reason.", ["reason"], registry=r
        )
        self.stage_seconds = Histogram(
            "lingolive_stage_seconds",
            "Duration of each pipeline stage per segment.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.first_audio_out_seconds = Histogram(
            "lingolive_first_audio_out_seconds",
            "End of speech to the first translated frame sent (server side of end-to-end).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.output_backlog_seconds = Histogram(
            "lingolive_output_backlog_seconds",
            "Translated speech queued for the listener, not yet played, when a segment's "
            "speech was made: how far behind the speaker the listener is.",
            buckets=_BACKLOG_BUCKETS,
            registry=r,
        )
        self.speech_speed = Histogram(
            "lingolive_speech_speed",
            "Pace of each segment's translated speech, x the voice's own rate (> 1: sped up "
            "to catch up with the speaker).",
            buckets=_SPEED_BUCKETS,
            registry=r,
        )
        self.voiced_seconds = Histogram(
            "lingolive_voiced_chunk_seconds",
            "Duration of recognized speech per final recognition pass.",
            buckets=_CHUNK_BUCKETS,
            registry=r,
        )
        self.segments = Counter(
            "lingolive_segments", "Segments whose translated audio went out.", registry=r
        )
        self.recognized_segments = Counter(
            "lingolive_recognized_segments",
            "Segments committed by recognition (once per phrase, however many listen).",
            registry=r,
        )
        self.translations = Counter(
            "lingolive_translations",
            "Segments translated, by target language.",
            ["target"],
            registry=r,
        )
        self.syntheses = Counter(
            "lingolive_syntheses", "Segments synthesized, by language.", ["target"], registry=r
        )
        self.speech_ahead = Counter(
            "lingolive_speech_ahead",
            "Phrases translated and synthesized before their commit, by outcome: used (spoken "
            "the moment it was committed) or withdrawn (the speaker went on).",
            ["outcome"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "lingolive_queue_depth",
            "Calls waiting or running per stage pool.",
            ["stage"],
            registry=r,
        )
        self.underruns = Counter(
            "lingolive_track_underruns",
            "Outgoing frames padded with silence in the middle of a segment.",
            registry=r,
        )
        self.late_frames = Counter(
            "lingolive_track_late_frames",
            "Times the outgoing track fell behind the clock and re-anchored.",
            registry=r,
        )
        self.dropped_segments = Counter(
            "lingolive_dropped_segments",
            "Translated segments dropped because playback fell too far behind.",
            registry=r,
        )
        self.dropped_input_seconds = Counter(
            "lingolive_dropped_input_audio_seconds",
            "Incoming audio dropped because the VAD could not keep up.",
            registry=r,
        )
        self.merged_utterances = Counter(
            "lingolive_merged_utterances",
            "Utterances merged into a waiting one because recognition fell behind.",
            registry=r,
        )
        self.engine_errors = Counter(
            "lingolive_engine_errors", "Engine failures, by stage.", ["engine"], registry=r
        )
        self.rtt_seconds = Histogram(
            "lingolive_webrtc_rtt_seconds",
            "Round-trip time of the media connections (ICE candidate pair), sampled each s.",
            buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
            registry=r,
        )
        self.jitter_seconds = Histogram(
            "lingolive_webrtc_jitter_seconds",
            "Jitter of incoming audio (RTCP receiver reports), sampled each second.",
            buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2),
            registry=r,
        )
        self.packets_lost = Counter(
            "lingolive_webrtc_packets_lost", "Incoming RTP packets lost.", registry=r
        )
        r.register(ProcessTreeCollector())

    def watch_queue(self, stage: str, depth: Callable[[], float]) -> None:
        self.queue_depth.labels(stage).set_function(depth)

    def watch_batches(self, counts: Callable[[], tuple[int, int]]) -> None:
        """Export the recognition queue's (batches, passes) counts."""
        self.registry.register(BatchCollector(counts))

    def watch_sfu(self, counts: Callable[[], SfuCounts]) -> None:
        """Export the SFU rooms' counts (``LL_SFU=janus``)."""
        self.registry.register(SfuCollector(counts))

    def observe(self, event: PipelineEvent) -> None:
        """Count one pipeline event (an ``EventSink``)."""
        match event:
            case PhraseTimed() if Stage.FIRST_AUDIO_OUT in event.marks.at:
                self._played(event.marks)
                self.output_backlog_seconds.observe(event.backlog_s)
                self.speech_speed.observe(event.speed)
            case StageFailed():
                self.engine_errors.labels(event.stage).inc()
            case FinalPass():
                self.voiced_seconds.observe(event.voiced_s)
            case RecognitionBehind():
                self.merged_utterances.inc()
            case AudioShed():
                self.dropped_input_seconds.inc(event.seconds)
            case PhraseCommitted():
                self.recognized_segments.inc()
            case Translated(by_engine=True):
                self.translations.labels(event.lang).inc()
            case SynthesisStarted():
                self.syntheses.labels(event.lang).inc()
            case RenderedAhead():
                self.speech_ahead.labels("used" if event.used else "withdrawn").inc()

    def _played(self, marks: Marks) -> None:
        """The stage durations of a segment whose first audio went out."""
        self.segments.inc()
        for label, start, end in STAGES:
            span = marks.span_ms(start, end)
            if span is not None and span >= 0:
                self.stage_seconds.labels(label).observe(span / 1000)
        total = marks.span_ms(Stage.SPEECH_END, Stage.FIRST_AUDIO_OUT)
        if total is not None and total >= 0:
            self.first_audio_out_seconds.observe(total / 1000)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
