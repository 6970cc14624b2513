"""The worker pools every session shares, one small pool per stage, sized for 2 cores.

One STT call at a time (CTranslate2 with ``LL_STT_THREADS``), whose passes wait
in one ``SttQueue`` so that speakers who stop together are recognized in one batch; short
MT/TTS calls beside it; the end-of-turn model in a thread of its own (~50 ms a call, off the
VAD thread's 32 ms windows).
"""

from __future__ import annotations

from dataclasses import dataclass

from lingolive.pipeline.stage_pool import StagePool
from lingolive.pipeline.stt_queue import SttQueue


@dataclass
class Workers:
    """The pools every session shares."""

    vad: StagePool
    stt: StagePool
    mt: StagePool
    tts: StagePool
    turn: StagePool
    #: Every recognition pass goes through it (it runs them in ``stt``).
    recognition: SttQueue

    @classmethod
    def create(cls, *, stt_max_batch: int = 8) -> Workers:
        stt = StagePool("stt", 1)
        return cls(
            vad=StagePool("vad", 1),
            stt=stt,
            mt=StagePool("mt", 2),
            tts=StagePool("tts", 2),
            turn=StagePool("turn", 1),
            recognition=SttQueue(stt, stt_max_batch),
        )

    def shutdown(self) -> None:
        self.recognition.close()
        for pool in (self.vad, self.stt, self.mt, self.tts, self.turn):
            pool.shutdown()
