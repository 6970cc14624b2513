"""End-to-end latency as a user of the page gets it: headless Chromium, measured in the page.

For every file of the chosen sets, headless Chromium (Playwright, Debian's chromium) opens a
minimal measurement page (``bench/browser_page/``, written by this script into a document of
the server's own origin) whose fake microphone plays the file. The page speaks the signaling
protocol like the product page (``client/``: the same getUserMedia constraints as
``client/microphone.js``, a real RTCPeerConnection as ``client/peer.js``, the translated
track played by an ``<audio>`` element) and taps two tracks with AudioWorklets on
ONE AudioContext: the local microphone track and the remote translated track. Latency of a
phrase:

    first loud translated audio on the remote track (page clock)
    − end of that phrase's speech on the microphone track (page clock)

End of speech: the page finds, to the sample, the onset of each phrase on the microphone track
(first sample above -40 dBFS: the files are digital silence between phrases) and adds the
manifest's exact speech end to it (same definition of "end" as ``bench/latency.py``); the last
loud sample on the track is reported beside it as a check (``mic_end_error_ms``). First
translated audio: the first 128-frame render quantum of the remote track whose RMS passes the
aiortc benchmark's threshold (300 / 32768). Both are after Chromium's own buffers: the remote
one after NetEq (the jitter buffer and decoder a user's audio goes through); the audio output
device's latency (none in headless; 10-40 ms on real hardware) is not included.

The same files are also spoken by the aiortc client of ``bench/latency.py`` on the same server,
interleaved file by file (``--no-aiortc`` to skip), and the server's ``timing`` stages are
reported, so that what happens after the server sent the first packet is visible.

Usage:
    .venv/bin/python bench/browser_latency.py --sets en_piper --repeat 1
    .venv/bin/python bench/browser_latency.py --repeat 2 --json bench/results/browser_latency.json
Environment variables (LL_*) are passed to the server, as with bench/latency.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import (
    DATA,
    DEFAULT_SETS,
    SETS,
    ServerProcess,
    by_set,
    config,
    fmt,
    latency_stats,
    load_jobs,
    machine,
    run_file,
)
from lingolive.audio_files import decode, write_wav
from support.evaluation import Sample, answers, server_stages

PAGE = Path(__file__).resolve().parent / "browser_page"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RATE = 16_000

#: Silence added before the file: Chromium starts the fake microphone at getUserMedia, before
#: the offer; ICE + DTLS must be up before the speech starts (checked: ``late_connection``).
LEAD_IN_S = 3.0
#: Silence added after it, so that the fake capture (which loops the file) cannot replay the
#: speech before the page disables the track at the end of the first pass.
TAIL_PAD_S = 10.0
#: |sample| above which the microphone is speaking (-40 dBFS); the files are digital silence
#: between phrases, so the first sample above it is a phrase's onset, located to the sample.
ONSET_LEVEL = 0.01
#: RMS of a render quantum above which the remote track is translated speech: the aiortc
#: benchmark's threshold (RMS 300 of int16 per 20 ms frame, ``LoopbackClient.voiced``).
LOUD_LEVEL = 300 / 32768
#: Loud stretches of the remote track closer than this are one answer (as ``voiced_runs``).
JOIN_GAP_S = 0.3
#: Audio heard this long before its phrase's `timing` arrived was sent before it (queued).
SENT_SLACK_S = 0.05
#: How far from its predicted place a later phrase's onset is looked for on the microphone.
ONSET_SEARCH_S = 0.25

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


# --- the audio the fake microphone plays --------------------------------------------------


def padded_wav(wav: Path, tmp: Path, lead_s: float, tail_s: float) -> tuple[Path, np.ndarray]:
    """``wav`` with ``lead_s`` of silence before and ``tail_s`` after; and the original."""
    pcm = decode(wav, RATE)
    out = tmp / f"mic-{wav.name}"
    pad = [np.zeros(int(lead_s * RATE), np.int16), pcm, np.zeros(int(tail_s * RATE), np.int16)]
    write_wav(out, np.concatenate(pad), RATE)
    return out, pcm.astype(np.float32) / 32768.0


def file_marks(pcm: np.ndarray, spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per phrase, the first and last sample above ONSET_LEVEL inside its span (s in the file)."""
    out = []
    for start, end in spans:
        a, b = int(start * RATE), min(len(pcm), int(end * RATE) + 1)
        loud = np.nonzero(np.abs(pcm[a:b]) > ONSET_LEVEL)[0]
        if not loud.size:
            raise ValueError(f"no speech above {ONSET_LEVEL} in span {start}-{end}")
        out.append((float(a + loud[0]) / RATE, float(a + loud[-1]) / RATE))
    return out


# --- what the page recorded ------------------------------------------------------------------


def quanta(flat: list[float]) -> np.ndarray:
    """The taps' flat [t, rms, peak, first, last]* as an (n, 5) array."""
    return np.asarray(flat, dtype=np.float64).reshape(-1, 5)


def onsets(q: np.ndarray, rate: float) -> np.ndarray:
    """Instants of the first sample above ONSET_LEVEL of every quantum that has one."""
    has = q[:, 3] >= 0
    return q[has, 0] + q[has, 3] / rate


def offsets(q: np.ndarray, rate: float) -> np.ndarray:
    """Instants of the last sample above ONSET_LEVEL of every quantum that has one."""
    has = q[:, 4] >= 0
    return q[has, 0] + q[has, 4] / rate


def loud_runs(q: np.ndarray, rate: float) -> list[tuple[float, float]]:
    """(start, end) page instants of loud stretches of the remote track, gaps < 0.3 s joined."""
    runs: list[tuple[float, float]] = []
    for t, rms in q[:, :2]:
        if rms <= LOUD_LEVEL:
            continue
        end = t + 128 / rate
        if runs and t - runs[-1][1] < JOIN_GAP_S:
            runs[-1] = (runs[-1][0], float(end))
        else:
            runs.append((float(t), float(end)))
    return runs


def speech_ends(
    mic: np.ndarray,
    rate: float,
    spans: list[tuple[float, float]],
    marks: list[tuple[float, float]],
    lead_s: float,
) -> list[dict[str, Any]]:
    """Each phrase's end of speech on the page clock, aligned on its own onset.

    page instant of file time x = onset on the page − (lead_s + the file's onset) + lead_s + x;
    the first phrase's onset is the first loud sample; a later one's is looked for within
    ONSET_SEARCH_S of where the first predicts it (a drift or glitch of the fake capture then
    shows as ``drift_ms`` instead of skewing the result).
    """
    ons, offs = onsets(mic, rate), offsets(mic, rate)
    if not ons.size:
        raise RuntimeError("the microphone track never carried speech")
    origin0 = float(ons[0]) - (lead_s + marks[0][0])  # page instant of the padded file's start
    out = []
    for (start, end), (on, off) in zip(spans, marks, strict=True):
        predicted = origin0 + lead_s + on
        near = ons[(ons >= predicted - ONSET_SEARCH_S) & (ons <= predicted + ONSET_SEARCH_S)]
        origin = float(near[0]) - (lead_s + on) if near.size else origin0
        speech_end = origin + lead_s + end
        expected_last = origin + lead_s + off
        lasts = offs[(offs >= speech_end - 0.6) & (offs <= speech_end + 0.3)]
        out.append(
            {
                "speech_start": origin + lead_s + start,
                "speech_end": speech_end,
                "onset_found": bool(near.size),
                "drift_ms": (origin - origin0) * 1000,
                "mic_end_error_ms": float(lasts[-1] - expected_last) * 1000 if lasts.size else None,
            }
        )
    return out


def inbound_summary(stats: dict[str, Any] | None) -> dict[str, Any]:
    """Chromium's receive side of the session, from getStats() at its end."""
    inbound = (stats or {}).get("inbound") or {}
    emitted = inbound.get("jitterBufferEmittedCount") or 0

    def per_sample_ms(key: str) -> float | None:
        value = inbound.get(key)
        return None if value is None or not emitted else 1000 * value / emitted

    pair = (stats or {}).get("pair") or {}
    rtt = pair.get("currentRoundTripTime")
    received = inbound.get("totalSamplesReceived") or 0
    return {
        "jitter_buffer_ms": per_sample_ms("jitterBufferDelay"),
        "jitter_buffer_target_ms": per_sample_ms("jitterBufferTargetDelay"),
        "jitter_buffer_minimum_ms": per_sample_ms("jitterBufferMinimumDelay"),
        "concealed_fraction": (inbound.get("concealedSamples", 0) / received) if received else None,
        "packets_lost": inbound.get("packetsLost"),
        "rtt_ms": None if rtt is None else rtt * 1000,
    }


def phrase_samples(
    entry: dict[str, Any], got: dict[str, Any], marks: list[tuple[float, float]], lead_s: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Samples (as bench/latency.py's, plus browser fields) of one page session."""
    rate = float(got["sampleRate"])
    spans = [(float(a), float(b)) for a, b in entry["speech"]]
    ends = speech_ends(quanta(got["mic"]), rate, spans, marks, lead_s)
    end_at = [e["speech_end"] for e in ends]
    runs = loud_runs(quanta(got["remote"]), rate)
    events = got["events"]
    of_type = lambda kind: [e for e in events if e["type"] == kind]  # noqa: E731
    finals = [e for e in of_type("transcript") if e["final"] and e["text"]]
    by_phrase: dict[int, list[dict[str, Any]]] = {}
    for event in finals:  # a segment belongs to the last phrase that had ended when it came
        ended = [i for i, end in enumerate(end_at) if end <= event["_at"]]
        by_phrase.setdefault(ended[-1] if ended else 0, []).append(event)
    timings = {e["segment_id"]: e for e in of_type("timing")}
    translations = {e["segment_id"]: e for e in of_type("translation")}
    connected = got["marks"].get("pc_connected")
    late = connected is None or connected > ends[0]["speech_start"] - 0.1
    session = {
        "file": entry["file"],
        "late_connection": late,
        "connected_before_speech_ms": None
        if connected is None
        else (ends[0]["speech_start"] - connected) * 1000,
        **inbound_summary(got.get("stats")),
        # Page instants relative to the first phrase's onset, to see what was matched.
        "speech_ends_s": [round(e["speech_end"] - ends[0]["speech_start"], 3) for e in ends],
        "remote_runs_s": [
            [round(a - ends[0]["speech_start"], 3), round(b - ends[0]["speech_start"], 3)]
            for a, b in runs
        ],
        "base_latency_ms": None if got["baseLatency"] is None else got["baseLatency"] * 1000,
        "output_latency_ms": None if got["outputLatency"] is None else got["outputLatency"] * 1000,
    }
    samples = []
    for i, (end, (run, queued)) in enumerate(zip(ends, answers(runs, end_at), strict=True)):
        segs = by_phrase.get(i, [])
        last = segs[-1]["segment_id"] if segs else None
        server = server_stages(timings.get(last, {}))
        # When the server sent the phrase's first translated frame, on the page clock: its
        # `timing` comes over the WebSocket as that frame leaves (localhost: ~1 ms).
        sent_at = timings.get(segs[0]["segment_id"], {}).get("_at") if segs else None
        if run is not None and sent_at is not None and run[0] < sent_at - SENT_SLACK_S:
            # Heard before the server sent it: the previous translation going on after a
            # pause, so this phrase waited behind it (*queued*), as bench/latency.py counts.
            # (Not latency.py's test of the server's first_audio_out_ms against the e2e: the
            # browser's audio processing trims the speech's soft tail, so the server's end of
            # speech can come up to ~100 ms before the true one and that test misfires.)
            run, queued = None, True
        heard_ms = None if run is None else (run[0] - end["speech_end"]) * 1000
        sample = Sample(
            file=entry["file"],
            index=i,
            speech_end_s=spans[i][1],
            latency_ms=heard_ms,
            queued=queued,
            last_audio_ms=None if run is None else (run[1] - end["speech_end"]) * 1000,
            server=server,
            text=" ".join(e["text"] for e in segs),
            translation=" ".join(
                translations[e["segment_id"]]["text"]
                for e in segs
                if e["segment_id"] in translations
            ),
            segments=len(segs),
        )
        out = server.get("first_audio_out_ms")
        samples.append(
            {
                **asdict(sample),
                "after_server_ms": None if heard_ms is None or out is None else heard_ms - out,
                "downlink_ms": None
                if run is None or sent_at is None
                else (run[0] - sent_at) * 1000,
                "mic_end_error_ms": end["mic_end_error_ms"],
                "drift_ms": end["drift_ms"],
                "onset_found": end["onset_found"],
                "late_connection": late,
            }
        )
    return samples, session


# --- one page session --------------------------------------------------------------------


def page_html() -> str:
    """The measurement page with its two scripts inlined.

    It is written into a document the LingoLive server itself served (``/ready``), so that it
    has the server's origin and address space, as the product page has: a page that Playwright
    fulfils from a route counts as public to Chromium, whose Local Network Access checks then
    block its WebSocket to 127.0.0.1 (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS); and a
    worklet's module fetch is not routed anyway.
    """
    html = (PAGE / "index.html").read_text()
    html = html.replace("TAP_JS", (PAGE / "tap.js").read_text())
    return html.replace("PROBE_JS", (PAGE / "probe.js").read_text())


def chromium_cpu_seconds() -> float:
    """CPU time of the Chromium processes under this one (one browser runs at a time)."""
    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" in proc.name():
                t = proc.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def settled(events: list[dict[str, Any]]) -> bool:
    """As ``LoopbackClient.settled``: something committed, and every translation timed."""
    finals = [e for e in events if e["type"] == "transcript" and e["final"] and e["text"]]
    done = {e.get("segment_id") for e in events if e["type"] in ("timing", "error")}
    pending = [e for e in events if e["type"] == "translation" and e["segment_id"] not in done]
    return bool(finals) and not pending


async def browser_file(
    pw: Any,
    url: str,
    entry: dict[str, Any],
    source: str,
    target: str,
    tmp: Path,
    args: argparse.Namespace,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    wav, pcm = padded_wav(DATA / entry["file"], tmp, args.lead_in, TAIL_PAD_S)
    spans = [(float(a), float(b)) for a, b in entry["speech"]]
    marks = file_marks(pcm, spans)
    duration = len(pcm) / RATE
    browser = await pw.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
    )
    launched = time.monotonic()
    try:
        page = await browser.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text))
        await page.goto(f"{url}/ready")
        await page.set_content(page_html())
        await page.wait_for_function(
            "window.bench && document.getElementById('status').textContent === 'ready'"
        )
        opts = {
            "source": source,
            "target": target,
            "onsetLevel": ONSET_LEVEL,
            "loudLevel": LOUD_LEVEL,
            "apm": not args.no_apm,
        }
        await page.evaluate("(o) => window.bench.start(o)", opts)
        started = time.monotonic()
        speech_over = None  # page instant at which the original file has played (one pass)
        silenced = False
        settled_since = None
        while True:
            p = await page.evaluate("window.bench.progress()")
            if p["error"]:
                raise RuntimeError(f"page: {p['error']} {console}")
            if speech_over is None and p["micOnset"] is not None:
                speech_over = p["micOnset"] - (args.lead_in + marks[0][0]) + args.lead_in + duration
            if speech_over is None:
                if time.monotonic() - started > 30:
                    raise RuntimeError(f"no speech on the microphone track in 30 s: {p} {console}")
            elif p["now"] >= speech_over:
                if not silenced:
                    await page.evaluate("window.bench.silenceMic()")
                    silenced = True
                events = await page.evaluate("window.bench.events.map(({sdp, ...e}) => e)")
                quiet = [p["lastEventAt"], p["remoteLastLoud"]]
                is_quiet = all(q is None or p["now"] - q >= 1.5 for q in quiet)
                if settled(events) and is_quiet:
                    settled_since = settled_since or time.monotonic()
                    if time.monotonic() - settled_since >= 0.5:
                        break
                else:
                    settled_since = None
                if p["now"] - speech_over > 30:
                    print(f"  {entry['file']}: not settled 30 s after the speech", flush=True)
                    break
            await asyncio.sleep(0.2)
        got = await page.evaluate("window.bench.finish()")
        version = browser.version
        cpu = chromium_cpu_seconds() / (time.monotonic() - launched)
    finally:
        await browser.close()
    samples, session = phrase_samples(entry, got, marks, args.lead_in)
    if session["late_connection"]:
        print(f"  {entry['file']}: media connected after the speech started", flush=True)
    session["chromium"] = version
    session["chromium_cpu_percent"] = round(100 * cpu, 1)
    return samples, session


# --- the run ---------------------------------------------------------------------------------


def show(client: str, s: dict[str, Any]) -> None:
    srv = s["server"]
    extra = (
        f"  after server {fmt(s.get('after_server_ms')):>5} ms"
        f"  mic end err {fmt(s.get('mic_end_error_ms')):>3} ms"
        if client == "chromium"
        else ""
    )
    print(
        f"{client:8} {s['file']:24} #{s['index']}  e2e {fmt(s['latency_ms']):>7} ms"
        f"{'(queued)' if s['queued'] else '        '}  server "
        f"{fmt(srv.get('first_audio_out_ms')):>6} ms (vad {fmt(srv.get('speech_end_ms'))}, "
        f"stt {fmt(srv.get('stt_ms'))}, mt {fmt(srv.get('mt_ms'))}, "
        f"tts {fmt(srv.get('tts_first_audio_ms'))}){extra}  {s['text'][:32]!r}",
        flush=True,
    )


def as_samples(rows: list[dict[str, Any]]) -> list[Sample]:
    fields = Sample.__dataclass_fields__
    return [Sample(**{k: v for k, v in r.items() if k in fields}) for r in rows]


def median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(statistics.median(vals)) if vals else None


def stage_medians(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the measured phrases: where the time between speech end and ear goes."""
    measured = [r for r in rows if r["latency_ms"] is not None]
    srv = lambda key: median([r["server"].get(key) for r in measured])  # noqa: E731
    return {
        "phrases": len(measured),
        "vad_end_decision_ms": srv("speech_end_ms"),
        "stt_ms": srv("stt_ms"),
        "mt_ms": srv("mt_ms"),
        "tts_first_audio_ms": srv("tts_first_audio_ms"),
        "server_first_audio_out_ms": srv("first_audio_out_ms"),
        "after_server_ms": median([r.get("after_server_ms") for r in measured]),
        "downlink_ms": median([r.get("downlink_ms") for r in measured]),
        "e2e_ms": median([r["latency_ms"] for r in measured]),
        "ready_ahead": sum(r["server"].get("ready_ahead_ms", -1) > 0 for r in measured),
    }


def summary(rows: list[dict[str, Any]], sets: list[str]) -> dict[str, Any]:
    samples = as_samples(rows)
    groups = by_set(samples, sets)
    for name, group in groups.items():
        files = (
            set(SETS[name][2])
            if name in SETS
            else {f for s in sets if f"{SETS[s][0]}->{SETS[s][1]}" == name for f in SETS[s][2]}
        )
        group["stages"] = stage_medians([r for r in rows if r["file"] in files])
    return {**latency_stats(samples), "by_set": groups, "stages": stage_medians(rows)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    jobs = load_jobs(args.sets)
    if args.files:
        jobs = [job for job in jobs if job[0]["file"] in args.files]
    if args.limit:
        per_set: dict[str, int] = {}
        kept = []
        for job in jobs:
            name = next(n for n in args.sets if job[0]["file"] in SETS[n][2])
            per_set[name] = per_set.get(name, 0) + 1
            if per_set[name] <= args.limit:
                kept.append(job)
        jobs = kept
    server = ServerProcess({})
    chromium_rows: list[dict[str, Any]] = []
    aiortc_rows: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    try:
        server.wait_ready()
        sampler = threading.Thread(target=server.sample_rss, daemon=True)
        sampler.start()
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        ws_url = server.url.replace("http", "ws") + "/ws"
        with tempfile.TemporaryDirectory(prefix="ll-browser-") as tmp:
            async with async_playwright() as pw:
                for rep in range(args.repeat):
                    for n, (entry, source, target) in enumerate(jobs):
                        # Alternate which client goes first, so neither always follows the other.
                        order = ["chromium", "aiortc"]
                        if (rep + n) % 2:
                            order.reverse()
                        for client in order:
                            if client == "aiortc":
                                if args.no_aiortc:
                                    continue
                                got = await run_file(ws_url, entry, source, target)
                                rows = [asdict(s) for s in got]
                                for r in rows:
                                    out = r["server"].get("first_audio_out_ms")
                                    r["after_server_ms"] = (
                                        None
                                        if r["latency_ms"] is None or out is None
                                        else r["latency_ms"] - out
                                    )
                                aiortc_rows.extend(rows)
                            else:
                                rows, session = await browser_file(
                                    pw, server.url, entry, source, target, Path(tmp), args
                                )
                                session["repeat"] = rep
                                sessions.append(session)
                                chromium_rows.extend(rows)
                            for r in rows:
                                show(client, r)
        cpu = server.cpu_seconds() - cpu0
        wall = time.monotonic() - wall0
    finally:
        server.stop()
    result: dict[str, Any] = {
        "client": "chromium",
        "chromium": sessions[0]["chromium"] if sessions else None,
        "machine": machine(),
        "config": config(),
        "sets": args.sets,
        "repeat": args.repeat,
        "method": {
            "speech_end": "microphone track onset of each phrase (first sample > onset_level, "
            "AudioWorklet, page AudioContext clock) + manifest speech end",
            "first_audio": "first 128-frame quantum of the remote track with RMS > loud_level "
            "(AudioWorklet on the same AudioContext; after Chromium's jitter buffer)",
            "onset_level": ONSET_LEVEL,
            "loud_level": LOUD_LEVEL,
            "lead_in_s": args.lead_in,
            "audio_processing": not args.no_apm,
        },
        **summary(chromium_rows, args.sets),
        "server_cpu_percent": round(100 * cpu / wall, 1),
        "server_peak_rss_mib": round(server.peak_rss / 2**20),
        "browser": {
            "jitter_buffer_p50_ms": median([s["jitter_buffer_ms"] for s in sessions]),
            "jitter_buffer_target_p50_ms": median([s["jitter_buffer_target_ms"] for s in sessions]),
            "rtt_p50_ms": median([s["rtt_ms"] for s in sessions]),
            "chromium_cpu_percent_p50": median([s["chromium_cpu_percent"] for s in sessions]),
            "mic_end_error_p50_ms": median([r["mic_end_error_ms"] for r in chromium_rows]),
            "late_connections": sum(s["late_connection"] for s in sessions),
            "onsets_not_found": sum(not r["onset_found"] for r in chromium_rows),
            "sessions": sessions,
        },
        "samples": chromium_rows,
    }
    if not args.no_aiortc:
        result["aiortc"] = {**summary(aiortc_rows, args.sets), "samples": aiortc_rows}
    return result


def print_report(result: dict[str, Any]) -> None:
    print()
    print(f"machine:  {result['machine']}; {result['chromium']}")
    print(f"config:   {result['config']}")
    b = result["browser"]
    print(
        f"browser:  jitter buffer p50 {fmt(b['jitter_buffer_p50_ms'])} ms (target "
        f"{fmt(b['jitter_buffer_target_p50_ms'])} ms), RTT p50 {fmt(b['rtt_p50_ms'])} ms, "
        f"Chromium CPU p50 {fmt(b['chromium_cpu_percent_p50'])} % of a core, "
        f"mic end check p50 {fmt(b['mic_end_error_p50_ms'])} ms, late connections "
        f"{b['late_connections']}, onsets not found {b['onsets_not_found']}"
    )
    clients = [("chromium", result)]
    if "aiortc" in result:
        clients.append(("aiortc", result["aiortc"]))
    print(
        "\n| client | set | measured / queued | e2e p50 | e2e p95 | VAD end | STT | MT "
        "| TTS first | server out | after server | downlink |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for client, res in clients:
        groups = {**res["by_set"], "pooled": {**res, "stages": res["stages"]}}
        for group, st in groups.items():
            sg = st["stages"]
            print(
                f"| {client} | {group} | {st['utterances'] - st['queued'] - st['missed']} / "
                f"{st['queued']} | {fmt(st['e2e_p50_ms'])} ms | {fmt(st['e2e_p95_ms'])} ms "
                f"| {fmt(sg['vad_end_decision_ms'])} | {fmt(sg['stt_ms'])} | {fmt(sg['mt_ms'])} "
                f"| {fmt(sg['tts_first_audio_ms'])} | {fmt(sg['server_first_audio_out_ms'])} "
                f"| {fmt(sg['after_server_ms'])} | {fmt(sg['downlink_ms'])} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", default=DEFAULT_SETS, choices=sorted(SETS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument(
        "--no-aiortc", action="store_true", help="skip the aiortc client run beside each file"
    )
    parser.add_argument(
        "--no-apm",
        action="store_true",
        help="getUserMedia without echo cancellation, noise suppression and AGC "
        "(the product page turns them on)",
    )
    parser.add_argument("--files", nargs="+", help="only these files (paths under tests/data)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N files of each set")
    parser.add_argument(
        "--lead-in", type=float, default=LEAD_IN_S, help="silence before the file (s)"
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM} (scripts/setup.sh --dev installs it)")
    result = asyncio.run(main_async(args))
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
