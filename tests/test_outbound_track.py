"""The outgoing track: paced frames, silence when idle, segment marks, bounded backlog."""

from __future__ import annotations

import fractions
import time

import numpy as np

from lingolive.rtc.outbound import FRAME_SAMPLES, RATE, TranslatedAudioTrack


async def test_frames_are_paced_to_the_wall_clock() -> None:
    track = TranslatedAudioTrack()
    start = time.monotonic()
    frames = [await track.recv() for _ in range(50)]  # 1 s of audio
    elapsed = time.monotonic() - start
    assert 0.95 <= elapsed <= 1.2, elapsed
    assert [f.pts for f in frames] == [i * FRAME_SAMPLES for i in range(50)]
    for f in frames:
        assert f.time_base == fractions.Fraction(1, RATE)
        assert f.sample_rate == RATE and f.samples == FRAME_SAMPLES
        assert f.format.name == "s16" and f.layout.name == "mono"
        assert not f.to_ndarray().any()  # silence when there is nothing to say
    track.stop()


async def test_segments_play_in_order_and_their_handles_say_when() -> None:
    track = TranslatedAudioTrack()
    tone = (np.ones(FRAME_SAMPLES * 3) * 1000).astype(np.int16)
    first = track.open_segment(1)
    track.push(1, tone)
    track.close_segment(1)
    second = track.open_segment(2)
    track.push(2, tone * 2)
    track.close_segment(2)
    assert not first.started.done()  # nothing plays before the track is pulled
    out = [(await track.recv()).to_ndarray().reshape(-1) for _ in range(8)]
    levels = [int(np.abs(f).max()) for f in out]
    assert levels == [1000] * 3 + [2000] * 3 + [0, 0]
    for playback in (first, second):
        assert playback.started.done() and playback.finished.done()
        assert not playback.dropped.done()
    # 3 frames each; the second starts where the first ends.
    assert first.started.result() < first.finished.result() <= second.started.result()
    assert second.started.result() < second.finished.result()
    assert track.stats.speech_frames == 6 and track.stats.underruns == 0
    track.stop()


async def test_underrun_is_counted_while_a_segment_is_open() -> None:
    track = TranslatedAudioTrack()
    track.push(1, np.ones(FRAME_SAMPLES, np.int16))
    await track.recv()  # plays the only frame; the segment stays open (TTS still working)
    await track.recv()
    assert track.stats.underruns == 1
    track.close_segment(1)
    await track.recv()
    assert track.stats.underruns == 1
    track.stop()


async def test_backlog_drops_oldest_unplayed_segment() -> None:
    track = TranslatedAudioTrack(max_backlog_s=1.0)
    half_second = np.ones(RATE // 2, np.int16)
    handles = []
    for seg in (1, 2, 3):
        handles.append(track.open_segment(seg))
        track.push(seg, half_second)
        track.close_segment(seg)
    assert track.backlog_s == 1.5 - 0.5  # segment 1 went
    assert [h.dropped.done() for h in handles] == [True, False, False]
    assert not handles[0].started.done()  # dropped unplayed: it never starts
    assert track.stats.dropped_segments == 1
    track.stop()


async def test_stall_reanchors_instead_of_bursting() -> None:
    track = TranslatedAudioTrack()
    await track.recv()
    time.sleep(0.3)  # noqa: ASYNC251 - the point: the event loop stalls
    t = time.monotonic()
    await track.recv()
    assert track.stats.late_frames == 1
    await track.recv()  # next frame waits its 20 ms again: no catch-up burst
    assert time.monotonic() - t >= 0.015
    track.stop()


async def test_sources_are_mixed_with_gain() -> None:
    """Two speakers at once: both are heard, scaled so the sum does not clip harshly."""
    from lingolive.rtc.outbound import LiveQueue

    track = TranslatedAudioTrack()
    first = track.speech_source("ann")
    voice = LiveQueue()
    track.add_source("bob", voice)
    first.push(1, np.full(FRAME_SAMPLES * 2, 20_000, np.int16))
    first.close_segment(1)
    voice.push(np.full(FRAME_SAMPLES, 20_000, np.int16))
    both = (await track.recv()).to_ndarray().reshape(-1)
    alone = (await track.recv()).to_ndarray().reshape(-1)
    assert int(both.max()) == int(40_000 / np.sqrt(2))  # two sources: summed, 1/sqrt(2)
    assert int(alone.max()) == 20_000  # one source: untouched
    track.remove_source("ann")
    assert int((await track.recv()).to_ndarray().max()) == 0
    track.stop()
