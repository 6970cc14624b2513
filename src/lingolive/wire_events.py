"""The one place where the pipeline's events become wire messages.

The pipeline speaks ``pipeline.events``; a client understands ``protocol``. This mapping is
the only code that knows both, so a new event (or a new transport that wants other words)
changes one function. Events that only the metrics care about map to nothing. Rooms tag
what comes out with the speaker (``rooms.direct``, ``rooms.janus``).
"""

from __future__ import annotations

from lingolive.pipeline.events import (
    AudioShed,
    Caption,
    PhraseTimed,
    PipelineEvent,
    RecognitionBehind,
    SpeechActivity,
    SpeechDropped,
    StageFailed,
    Translated,
    VoiceFallback,
)
from lingolive.pipeline.phrase import Stage
from lingolive.protocol import (
    ErrorCode,
    ErrorMsg,
    NoticeCode,
    NoticeMsg,
    ServerMessage,
    SpeakingMsg,
    TimingMsg,
    TranscriptMsg,
    TranslationMsg,
)


def timing(event: PhraseTimed) -> TimingMsg:
    """A phrase's stage marks as the client's ``timing`` message (docs/protocol.md)."""
    m = event.marks
    return TimingMsg(
        segment_id=event.segment_id,
        speech_end_ms=m.span_ms(Stage.SPEECH_END, Stage.VAD_END),
        stt_ms=m.span_ms(Stage.STT_START, Stage.STT_END),
        mt_ms=m.span_ms(Stage.MT_START, Stage.MT_END),
        tts_first_audio_ms=m.span_ms(Stage.TTS_START, Stage.TTS_FIRST_AUDIO),
        first_audio_out_ms=m.span_ms(Stage.SPEECH_END, Stage.FIRST_AUDIO_OUT),
        audio_ms=round(event.audio_out_s * 1000.0, 1) if event.audio_out_s else None,
        backlog_ms=round(event.backlog_s * 1000.0, 1),
        speed=event.speed,
        stages=m.relative_ms(Stage.SPEECH_END),
        lang=event.lang,
    )


def to_wire(event: PipelineEvent) -> ServerMessage | None:
    """The message a client gets for ``event``, or None if clients are not told."""
    match event:
        case SpeechActivity():
            return SpeakingMsg(speaking=event.speaking)
        case Caption():
            return TranscriptMsg(
                segment_id=event.segment_id,
                lang=event.lang,
                text=event.text,
                final=event.final,
                stable=event.stable,
                continues=event.continues,
            )
        case Translated():
            return TranslationMsg(segment_id=event.segment_id, lang=event.lang, text=event.text)
        case PhraseTimed():
            return timing(event)
        case StageFailed():
            return ErrorMsg(
                code=ErrorCode.ENGINE, message=event.message, segment_id=event.segment_id
            )
        case SpeechDropped():
            return ErrorMsg(
                code=ErrorCode.ENGINE,
                message="translated speech dropped: playback fell too far behind",
                segment_id=event.segment_id,
            )
        case VoiceFallback():
            return NoticeMsg(
                code=NoticeCode.TTS_FALLBACK, message=event.message, segment_id=event.segment_id
            )
        case RecognitionBehind():
            return NoticeMsg(
                code=NoticeCode.RECOGNITION_BEHIND,
                message="recognition fell behind: the next phrases are merged into one",
            )
        case AudioShed(tell=True):
            return NoticeMsg(code=NoticeCode.AUDIO_DROPPED, message=event.reason)
    return None
