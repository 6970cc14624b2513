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


async def test_segments_play_in_order_with_marks() -> None:
    starts: list[int] = []
    ends: list[int] = []
    track = TranslatedAudioTrack(
        on_first_audio=lambda s, t: starts.append(s), on_last_audio=lambda s, t: ends.append(s)
    )
    tone = (np.ones(FRAME_SAMPLES * 3) * 1000).astype(np.int16)
    track.push(1, tone)
    track.close_segment(1)
    track.push(2, tone * 2)
    track.close_segment(2)
    out = [(await track.recv()).to_ndarray().reshape(-1) for _ in range(8)]
    levels = [int(np.abs(f).max()) for f in out]
    assert levels == [1000] * 3 + [2000] * 3 + [0, 0]
    assert starts == [1, 2] and ends == [1, 2]
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
    dropped: list[int] = []
    track = TranslatedAudioTrack(max_backlog_s=1.0, on_dropped=lambda s, t: dropped.append(s))
    second = np.ones(RATE // 2, np.int16)
    for seg in (1, 2, 3):
        track.push(seg, second)
        track.close_segment(seg)
    assert track.backlog_s == 1.5 - 0.5  # segment 1 went
    assert dropped == [1] and track.stats.dropped_segments == 1
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
