"""The streaming recognition policy: segmenter events and pass results in, actions out.

It decides what was said and when a phrase is committed, and nothing else: it runs no pass,
awaits nothing and knows no clock (every instant comes in with the data), so each decision
can be tested on hand-made events and scripted pass results (tests/test_streaming_policy.py).
``recognizer.StreamingRecognizer`` executes its actions: it runs the passes it asks for, on
the STT queue all speakers share, and feeds their results back.

* **Partials** (``SpeechProgress``): the growing utterance is transcribed when nothing else
  waits; LocalAgreement confirms the words two passes agree on (``stable`` in the caption).
  When a finished sentence is confirmed and the speaker goes on, it is committed as its own
  segment at once, and the audio is cut where Whisper's segment ended (whisper_streaming),
  so a long utterance is spoken sentence by sentence while the speaker talks.
* **Pausing** (``SpeechPausing``, a short silence): the final pass starts speculatively; if
  it (or a partial that heard everything) has the text before the pause is decided, the
  phrase is prepared (rendered ahead, unheard).
* **Quiet** (``SpeechQuiet``, a shorter silence, when an end-of-turn model is installed):
  once the text heard so far (speculative pass or covering partial) reads as a finished
  sentence, the model is asked whether the phrase is finished (``AskTurn``); if it says so
  with ``turn_threshold``, the phrase is committed then, without waiting for the hangover;
  otherwise nothing changes and the pause decides as below. Text first, model second: a
  text that reads unfinished needs no model, and on 2 cores the model's CPU beside the
  speculative pass slowed that pass by a sixth (docs/benchmarks.md, "End of turn").
* **Pause** (``SpeechPaused``, after the hangover): the final pass (or the speculative one)
  is forced to begin with the confirmed words. If its text reads as a finished sentence
  (``sentence_end.complete_at_pause``) it is committed at once; otherwise it is held.
* **Resume** (``SpeechResumed``): the held result and the speculation are dropped and
  whatever was prepared is withdrawn: a pause inside a sentence does not split it.
* **End** (``SpeechEnded``): the held result is committed, or the remaining audio is
  transcribed and committed; the last words are never dropped.

A pass is *awaited* (``AwaitPass``: the executor handles no further event until its result
is in) for partials and decisions, so that events pile up in the job queue while it runs
and back-pressure can see them (``recognition_jobs``); only the speculative pass runs
beside later events. What the executor's queues look like right now reaches every
decision as ``Conditions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lingolive.config import RecognizerConfig
from lingolive.engines.base import MODEL_RATE, Float32Array, Transcript
from lingolive.pipeline.agreement import LocalAgreement, common_prefix, words
from lingolive.pipeline.commit_points import commit_point, settled_point
from lingolive.pipeline.events import Caption, FinalPass, StageFailed
from lingolive.pipeline.phrase import Phrase, Stage
from lingolive.pipeline.segmenter import (
    SegmenterEvent,
    SpeechEnded,
    SpeechPaused,
    SpeechPausing,
    SpeechProgress,
    SpeechQuiet,
    SpeechResumed,
    SpeechStarted,
)
from lingolive.pipeline.sentence_end import complete_at_pause, ends_sentence

#: Audio Whisper's language detection looks at ("the first second").
DETECT_SAMPLES = MODEL_RATE
#: Audio left after a commit that is only the VAD tail, not speech worth a pass.
MIN_REST_SAMPLES = int(0.25 * MODEL_RATE)
#: Acoustic context kept before a segment: at most this many words and seconds.
CONTEXT_WORDS = 12
CONTEXT_SAMPLES = 8 * MODEL_RATE
#: Interpreting without agreement: words this much older than the end of a pass's audio
#: are taken as heard (a later pass rarely changes them).
SETTLED_S = 1.2
#: A cut between two words falls at most this long after the first one ends: where a pass
#: shows a long gap, it may have skipped words there (robotic speech), and audio past the
#: cut is never heard again.
CUT_AFTER_S = 0.15
#: Session text kept as Whisper's prompt, and the part of it a pass is given.
SAID_CHARS = 400
PROMPT_CHARS = 200


# -- what goes in ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conditions:
    """The executor's queues at the moment of a decision."""

    #: A ``SpeechResumed`` waits to be handled: the speaker went on after this pause.
    resume_waiting: bool = False
    #: Other events of this speaker wait to be handled.
    events_waiting: bool = False
    #: Recognition passes (any speaker's) wait or run.
    stt_busy: bool = False
    #: A whole batch of final passes waits already: optional work would only add to it.
    stt_behind: bool = False


@dataclass(frozen=True, slots=True)
class PassRequest:
    """One STT pass the policy wants run."""

    audio: Float32Array  # from the acoustic context on
    language: str | None  # None: detect it first, among ``detect_among`` (None: any)
    detect_among: frozenset[str] | None
    prompt: str | None  # what was said before (the executor adds the glossary's names)
    prefix: str | None  # forced start: the acoustic context's words, then confirmed words
    partial: bool
    #: Words at the start of the result that belong to the acoustic context, not the segment.
    context_words: int
    #: Ask for every word's time: where the audio can be cut after a commit (partials).
    word_times: bool = False


@dataclass(frozen=True, slots=True)
class PassResult:
    """One STT pass over a segment, as the executor reports it."""

    text: str  # the segment's own text (context words removed, glossary applied)
    transcript: Transcript  # the engine's raw result, context words included
    language: str  # the language it ran in (given, or detected first)
    started_at: float
    ended_at: float


def own_words(transcript: Transcript, context_words: int) -> str:
    """The segment's words of a pass: the acoustic context's words removed."""
    return " ".join(words(transcript.text)[context_words:])


# -- what comes out -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartPass:
    pass_id: int
    request: PassRequest


@dataclass(frozen=True, slots=True)
class AwaitPass:
    """Handle no further event until this pass's result (or failure) is in."""

    pass_id: int


@dataclass(frozen=True, slots=True)
class CancelPass:
    pass_id: int


@dataclass(frozen=True, slots=True)
class Emit:
    """Tell the pipeline's sink (captions, final-pass sizes, failures)."""

    event: Caption | FinalPass | StageFailed


@dataclass(frozen=True, slots=True)
class Prepare:
    """Render ``phrase`` ahead, unheard: it is likely to be committed with this text."""

    phrase: Phrase


@dataclass(frozen=True, slots=True)
class Withdraw:
    """What was prepared will not be committed as it was."""


@dataclass(frozen=True, slots=True)
class Commit:
    phrase: Phrase


@dataclass(frozen=True, slots=True)
class AskTurn:
    """Have the end-of-turn model hear ``quiet.heard``; its answer goes to ``on_turn``."""

    quiet: SpeechQuiet


Action = StartPass | AwaitPass | CancelPass | Emit | Prepare | Withdraw | Commit | AskTurn


@dataclass(frozen=True, slots=True)
class TurnHeard:
    """The end-of-turn model's answer to an ``AskTurn`` and when it ran (monotonic)."""

    quiet: SpeechQuiet
    probability: float
    started_at: float
    ended_at: float


# -- state ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Heard:
    """A pass result and how many utterance samples it heard."""

    samples: int
    result: PassResult


@dataclass
class _Segment:
    """The segment being recognized inside the open utterance (not yet committed)."""

    offset: int  # first utterance sample that belongs to it
    start_at: float
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    shown: bool = False  # a partial caption was sent for it
    last_partial: _Heard | None = None
    segment_id: int = 0  # given when the segment first shows (0: none yet)


@dataclass
class _Held:
    """The pass at a pause whose text did not read as finished: committed at the end if no
    voice came back (``samples``: the utterance audio it heard), dropped if it did."""

    samples: int
    result: PassResult
    pause: SpeechPaused


@dataclass
class _OpenUtterance:
    """The utterance being recognized (the segmenter's ``utterance_id``)."""

    utterance_id: int
    audio_t0: float
    lang: str | None
    segment: _Segment
    # Acoustic context: passes start at context_offset, forced to begin with context_text
    # (committed words spoken since then), so a short phrase after a pause is heard with
    # the words before it instead of alone.
    context_offset: int = 0
    context_text: str = ""
    held: _Held | None = None
    #: Silence since ``SpeechPausing``: the speculative pass covers the speech.
    pausing: bool = False
    #: The short silence the end-of-turn model is (to be) asked about (None: none, or
    #: voice came back); ``asked``: the question went out.
    quiet: SpeechQuiet | None = None
    asked: bool = False
    #: The model called this silence the end of a finished phrase (asked only once the
    #: text read finished: ``_finished`` commits it at once).
    finished: TurnHeard | None = None


@dataclass(frozen=True, slots=True)
class _Decision:
    """A pause or an end, waiting for the pass that decides it."""

    event: SpeechPaused | SpeechEnded


PassKind = Literal["partial", "speculative", "final"]


@dataclass
class _InFlight:
    pass_id: int
    kind: PassKind
    utt: _OpenUtterance
    segment: _Segment
    samples: int  # utterance audio the pass hears
    speech_end_at: float = 0.0  # speculative: the pause it speculates on
    decision: _Decision | None = None  # the pause or end waiting for it
    result: PassResult | None = None  # speculative: heard before the decision came


# -- the policy -----------------------------------------------------------------------------


class StreamingPolicy:
    """Recognition decisions for one speaker's speech, in the order it was spoken."""

    def __init__(
        self,
        config: RecognizerConfig,
        source_lang: str | None,
        candidates: frozenset[str] | None = None,
    ) -> None:
        """``source_lang`` None: detect it per utterance, among ``candidates`` (None: any)."""
        self._cfg = config
        self._source = source_lang
        self.candidates = candidates  # may change mid-session (listen, rooms)
        self._utt: _OpenUtterance | None = None
        self._next_segment = 1
        self._next_pass = 1
        self._said = ""  # recent committed text of the session (prompt context)
        self._passes: dict[int, _InFlight] = {}
        self._spec: _InFlight | None = None  # the speculative pass of the current pause

    # -- inputs ---------------------------------------------------------------------------

    def on_event(self, event: SegmenterEvent, now: Conditions) -> list[Action]:
        """A segmenter event, in order."""
        if isinstance(event, SpeechStarted):
            self._utt = _OpenUtterance(
                utterance_id=event.utterance_id,
                audio_t0=event.audio_t0,
                lang=self._source,
                segment=_Segment(offset=0, start_at=event.at),
            )
            return []
        utt = self._utt
        if utt is None or utt.utterance_id != event.utterance_id:
            return []
        if isinstance(event, SpeechProgress):
            return self._partial(utt, event, now)
        if isinstance(event, SpeechPausing):
            utt.pausing = True
            return self._speculate(utt, event, now)
        if isinstance(event, SpeechQuiet):
            if len(event.audio) - utt.segment.offset < MIN_REST_SAMPLES:
                return []
            utt.quiet, utt.asked = event, False
            return self._ask_turn(utt)
        if isinstance(event, SpeechPaused):
            if len(event.audio) - utt.segment.offset < MIN_REST_SAMPLES:
                return []
            return self._decide(utt, _Decision(event), now)
        if isinstance(event, SpeechResumed):
            utt.held = None  # the phrase goes on: undo the pause decision
            utt.pausing = False
            utt.quiet = utt.finished = None
            utt.asked = False
            return [*self._drop_speculation(), Withdraw()]
        return self._end(utt, event, now)

    def on_pass(self, pass_id: int, result: PassResult, now: Conditions) -> list[Action]:
        """The result of a pass this policy started (one it cancelled is never reported)."""
        flight = self._passes.pop(pass_id, None)
        if flight is None:
            return []
        utt = flight.utt
        if utt.lang is None:
            utt.lang = result.language
        heard = _Heard(flight.samples, result)
        if flight.decision is not None:
            return self._decided(flight, heard, now)
        if flight.kind == "partial":
            return self._partial_heard(flight, heard)
        if self._spec is flight:  # speculative, and the pause is not decided yet
            flight.result = result
            if utt is self._utt and flight.segment is utt.segment:
                prepared = self._prepare(utt, result, flight.speech_end_at, now)
                return [*prepared, *self._ask_turn(utt)]
        return []

    def on_turn(self, heard: TurnHeard, now: Conditions) -> list[Action]:
        """The end-of-turn model's answer to an ``AskTurn`` this policy gave."""
        utt = self._utt
        if utt is None or utt.quiet is not heard.quiet or now.resume_waiting:
            return []  # voice came back, or the phrase was decided meanwhile
        if heard.probability < self._cfg.turn_threshold or not self._cfg.early_commit:
            return []  # not finished: the pause decides, as without a model
        utt.finished = heard
        return self._finished(utt, now)

    def on_pass_failed(self, pass_id: int, message: str) -> list[Action]:
        """A pass this policy started failed: only that phrase is lost."""
        flight = self._passes.pop(pass_id, None)
        if flight is None:
            return []
        if self._spec is flight:
            self._spec = None
        if flight.kind == "speculative" and flight.decision is None:
            return []  # nothing waited for it: the pause runs its own pass
        ending = flight.decision is not None and isinstance(flight.decision.event, SpeechEnded)
        return self.failed(message, ended=ending)

    def failed(self, message: str, *, ended: bool) -> list[Action]:
        """Recognition of the current segment failed (``ended``: at its utterance's end,
        which is then forgotten)."""
        utt = self._utt
        segment_id = self._id(utt.segment) if utt is not None else None
        if ended:
            self._utt = None
        return [Emit(StageFailed("stt", f"speech recognition failed: {message}", segment_id))]

    def typed(self, text: str, lang: str) -> list[Action]:
        """A phrase typed instead of spoken: shown and committed as it is, numbered like the
        spoken ones (so captions and speech keep one order of segment ids)."""
        segment_id = self._next_segment
        self._next_segment += 1
        return [
            Emit(Caption(segment_id, lang, text, final=True, stable=text)),
            Commit(Phrase(segment_id, source_lang=lang, text=text, detected_lang=lang)),
        ]

    def close(self) -> list[Action]:
        """Stop: every pass in flight is cancelled."""
        actions: list[Action] = [CancelPass(p) for p in self._passes]
        self._passes.clear()
        self._spec = None
        return actions

    # -- passes ---------------------------------------------------------------------------

    def _start(
        self,
        kind: PassKind,
        utt: _OpenUtterance,
        audio: Float32Array,
        *,
        confirmed: str,
        decision: _Decision | None = None,
        speech_end_at: float = 0.0,
    ) -> StartPass:
        context = utt.context_text
        # Whisper's prompt: what was said before the acoustic context, across utterances.
        before = self._said[: len(self._said) - len(context)].strip()[-PROMPT_CHARS:]
        request = PassRequest(
            audio=audio[utt.context_offset :],
            language=utt.lang,
            detect_among=self.candidates,
            prompt=before or None,
            prefix=f"{context} {confirmed}".strip() or None,
            partial=kind == "partial",
            context_words=len(words(context)),
            # Word times cost a partial pass 20-60 ms (measured): only where a commit may cut
            # the audio while the speaker goes on, past a short phrase's length.
            word_times=kind == "partial"
            and self._cfg.sentence_commit
            and len(audio) / MODEL_RATE >= self._cfg.clause_min_audio_s,
        )
        pass_id = self._next_pass
        self._next_pass += 1
        self._passes[pass_id] = _InFlight(
            pass_id, kind, utt, utt.segment, len(audio), speech_end_at, decision
        )
        return StartPass(pass_id, request)

    def _drop_speculation(self) -> list[Action]:
        spec, self._spec = self._spec, None
        if spec is None:
            return []
        self._passes.pop(spec.pass_id, None)
        return [CancelPass(spec.pass_id)]  # frees the STT queue if it has not started yet

    # -- partials -------------------------------------------------------------------------

    def _partial(self, utt: _OpenUtterance, job: SpeechProgress, now: Conditions) -> list[Action]:
        if (
            not self._cfg.partials
            or utt.pausing
            or job.trailing_silence_ms >= 100
            or now.events_waiting
            or now.stt_busy  # another speaker's recognition runs: do not queue behind it
        ):
            return []  # optional work: skip it when the phrase may be ending or more waits
        if utt.lang is None and len(job.audio) < DETECT_SAMPLES:
            return []  # detect the language on a full first second
        start = self._start("partial", utt, job.audio, confirmed="")
        return [start, AwaitPass(start.pass_id)]

    def _partial_heard(self, flight: _InFlight, heard: _Heard) -> list[Action]:
        utt, seg = flight.utt, flight.segment
        if utt.held is not None or utt is not self._utt or seg is not utt.segment:
            return []
        result = heard.result
        confirmed = seg.agreement.update(result.text)
        if self._cfg.sentence_commit:
            committed = self._commit_confirmed(utt, result, heard.samples)
            if committed:
                return committed
        seg.last_partial = heard
        self._trim_context(utt, result.transcript)
        if not result.text:
            return []
        seg.shown = True
        caption = Caption(
            segment_id=self._id(seg),
            lang=result.transcript.language,
            text=result.text,
            final=False,
            stable=" ".join(confirmed),
        )
        return [Emit(caption)]

    def _commit_confirmed(
        self, utt: _OpenUtterance, heard: PassResult, samples: int
    ) -> list[Action]:
        """Commit the confirmed words that form a unit (a sentence, or a clause when
        interpreting: ``commit_points``) while the speaker goes on.

        Clauses are committed only once the utterance has gone on for ``clause_min_audio_s``:
        a phrase of a few seconds ("When I arrived at the hotel, the room was not ready.")
        is translated whole, as before, and only a speaker who goes on is interpreted.

        Interpreting, when recognition keeps changing its mind (two passes never agree:
        robotic or noisy speech) and ``clause_max_wait_s`` of the segment's audio has
        waited, the words of the latest pass that ended ``SETTLED_S`` before its end are
        committed anyway: the listener must not wait for an utterance's end.

        The audio is cut between the last committed word and the next (word times), or
        where Whisper put a segment boundary right after them, if this pass heard the
        committed words as they are; without that, the words stay in the audio as forced
        context until a later pass shows a boundary (``_trim_context``).
        """
        seg = utt.segment
        cfg = self._cfg
        hypothesis = words(heard.text)
        # A short utterance is a phrase, not a talk: it is committed whole, as a sentence.
        long_enough = samples / MODEL_RATE >= cfg.clause_min_audio_s
        count = commit_point(
            seg.agreement.confirmed,
            len(hypothesis),
            utt.lang,
            mode=cfg.interpret if long_enough else "sentence",
            min_words=cfg.clause_min_words,
            max_words=cfg.clause_max_words,
        )
        chosen = seg.agreement.confirmed
        waited = (samples - seg.offset) / MODEL_RATE
        if count is None and cfg.interpret == "clause" and waited >= cfg.clause_max_wait_s:
            settled = _settled(utt, heard, (samples - utt.context_offset) / MODEL_RATE)
            count = settled_point(hypothesis[:settled], hypothesis, utt.lang, cfg.clause_min_words)
            chosen = hypothesis
        if count is None:
            return []
        text = " ".join(chosen[:count])
        # This pass's word times place the cut only if it heard these words as they are
        # committed (it may hear two words as one where earlier passes confirmed them).
        same = common_prefix(hypothesis, chosen[:count]) == count
        cut = (
            _boundary(utt, heard.transcript, len(words(utt.context_text)) + count) if same else None
        )
        end_at = None if cut is None else utt.audio_t0 + cut / MODEL_RATE
        phrase = self._phrase(utt, text, heard, end_at)
        phrase.marks.mark(Stage.SPEECH_START, seg.start_at)
        seg.agreement.drop(count)
        self._remember(text)
        nxt = _Segment(seg.offset if cut is None else cut, end_at or heard.ended_at)
        nxt.agreement = seg.agreement
        utt.segment = nxt
        if cut is None:
            utt.context_text = f"{utt.context_text} {text}".strip()
        else:
            utt.context_offset, utt.context_text = cut, ""
        return self._finish(seg, phrase, continues=not ends_sentence(text, utt.lang))

    @staticmethod
    def _trim_context(utt: _OpenUtterance, result: Transcript) -> None:
        """A pass showed where some of the context words end: drop those from the audio
        (the rest stay forced context), so passes keep hearing a short window."""
        context = words(utt.context_text)
        if not context:
            return
        inside = [(n, at) for n, at in _boundaries(utt, result) if n <= len(context)]
        if inside:
            count, cut = inside[-1]
            utt.context_offset, utt.context_text = cut, " ".join(context[count:])
            utt.segment.offset = max(utt.segment.offset, cut)

    # -- pauses and ends --------------------------------------------------------------------

    def _speculate(self, utt: _OpenUtterance, job: SpeechPausing, now: Conditions) -> list[Action]:
        """Start the final pass now, without waiting for the decision (``SpeechPaused``)."""
        seg = utt.segment
        if len(job.audio) - seg.offset < MIN_REST_SAMPLES or now.stt_behind:
            # Speculation must never delay work that is certainly needed. While a pass runs
            # it waits and goes in the next batch with the other speakers' finals (cheap:
            # a batch costs far less than its passes one by one), unless a whole batch of
            # finals waits already.
            return []
        covering = _covering_partial(seg, job.speech_samples)
        if covering is not None:  # the last partial already heard all of it
            return self._prepare(utt, covering, job.speech_end_at, now)
        dropped = self._drop_speculation()
        start = self._start(
            "speculative",
            utt,
            job.audio,
            confirmed=seg.agreement.text,
            speech_end_at=job.speech_end_at,
        )
        self._spec = self._passes[start.pass_id]
        return [*dropped, start]

    def _prepare(
        self, utt: _OpenUtterance, heard: PassResult, speech_end_at: float, now: Conditions
    ) -> list[Action]:
        """Have the phrase this pass heard rendered ahead, unless the voice is back."""
        if not heard.text or now.resume_waiting:
            return []
        return [Prepare(self._phrase(utt, heard.text, heard, speech_end_at))]

    def _decide(self, utt: _OpenUtterance, decision: _Decision, now: Conditions) -> list[Action]:
        """A pause or an end needs the final pass: a partial or the speculative pass that
        heard all this speech, if there is one; else a pass of its own."""
        event = decision.event
        covering = _covering_partial(utt.segment, event.speech_samples)
        if covering is not None:
            return self._decided_by(utt, decision, _Heard(len(event.audio), covering), now)
        spec, self._spec = self._spec, None
        if (
            spec is not None
            and spec.segment is utt.segment
            and spec.speech_end_at == event.speech_end_at
        ):
            if spec.result is not None:  # it is in already
                return self._decided_by(utt, decision, _Heard(len(event.audio), spec.result), now)
            spec.decision = decision
            return [AwaitPass(spec.pass_id)]
        actions: list[Action] = []
        if spec is not None:
            self._passes.pop(spec.pass_id, None)
            actions.append(CancelPass(spec.pass_id))
        start = self._start(
            "final", utt, event.audio, confirmed=utt.segment.agreement.text, decision=decision
        )
        return [*actions, start, AwaitPass(start.pass_id)]

    def _heard_at(self, utt: _OpenUtterance, quiet: SpeechQuiet) -> PassResult | None:
        """The text of the speech before ``quiet``: a partial that covers it, or the
        speculative pass of this silence once it reported (None: not known yet)."""
        heard = _covering_partial(utt.segment, quiet.speech_samples)
        spec = self._spec
        if (
            heard is None
            and spec is not None
            and spec.segment is utt.segment
            and spec.speech_end_at == quiet.speech_end_at
        ):
            heard = spec.result
        return heard

    def _ask_turn(self, utt: _OpenUtterance) -> list[Action]:
        """Asks the model about ``utt.quiet`` once the text before it is known and reads
        finished (a text that reads unfinished is held by the pause anyway)."""
        quiet = utt.quiet
        if quiet is None or utt.asked or not self._cfg.early_commit:
            return []
        heard = self._heard_at(utt, quiet)
        if heard is None:
            return []  # asked when the speculative pass reports
        if not complete_at_pause(heard.text, heard.transcript.language):
            utt.quiet = None
            return []  # reads unfinished ("When I arrived"): the pause decides
        utt.asked = True
        return [AskTurn(quiet)]

    def _finished(self, utt: _OpenUtterance, now: Conditions) -> list[Action]:
        """The model heard a finished phrase: commit it now if the text heard so far (a
        partial that covers the speech or the speculative pass) reads finished too."""
        turn = utt.finished
        if turn is None or now.resume_waiting:
            return []
        quiet = turn.quiet
        heard = self._heard_at(utt, quiet)
        if heard is None:
            return []  # the text it was asked on is gone: the pause decides
        utt.finished = None
        if not complete_at_pause(heard.text, heard.transcript.language):
            return []  # reads unfinished ("When I arrived"): the pause decides
        spec = self._spec
        actions = self._drop_speculation() if spec is not None and spec.result is None else []
        self._spec = None
        utt.quiet = None
        committed = self._commit_final(
            utt, heard, quiet.speech_end_at, turn.ended_at, cut=len(quiet.audio)
        )
        for action in committed:
            if isinstance(action, Commit):
                action.phrase.marks.mark(Stage.TURN_START, turn.started_at)
                action.phrase.marks.mark(Stage.TURN_END, turn.ended_at)
        return [*actions, *committed]

    def _decided(self, flight: _InFlight, heard: _Heard, now: Conditions) -> list[Action]:
        assert flight.decision is not None
        if flight.utt is not self._utt:
            return []
        return self._decided_by(flight.utt, flight.decision, heard, now)

    def _decided_by(
        self, utt: _OpenUtterance, decision: _Decision, heard: _Heard, now: Conditions
    ) -> list[Action]:
        event = decision.event
        result = heard.result
        if isinstance(event, SpeechEnded):
            actions = self._commit_final(
                utt, result, event.speech_end_at, event.decided_at, cut=len(event.audio)
            )
            self._utt = None
            return actions
        if now.resume_waiting:
            return []  # the speaker went on while we listened: the pause is void
        if self._cfg.early_commit and complete_at_pause(result.text, result.transcript.language):
            return self._commit_final(
                utt, result, event.speech_end_at, event.decided_at, cut=len(event.audio)
            )
        utt.held = _Held(len(event.audio), result, event)
        return []

    def _end(self, utt: _OpenUtterance, job: SpeechEnded, now: Conditions) -> list[Action]:
        seg = utt.segment
        held = utt.held
        if held is not None and held.samples == len(job.audio):
            pause = held.pause
            self._utt = None
            return self._commit_final(
                utt, held.result, pause.speech_end_at, pause.decided_at, cut=len(job.audio)
            )
        if len(job.audio) - seg.offset < MIN_REST_SAMPLES:
            self._utt = None
            if not seg.shown:
                return []
            text = seg.agreement.text  # close the caption the client is showing
            return [Emit(Caption(self._id(seg), utt.lang or "", text, final=True, stable=text))]
        return self._decide(utt, _Decision(job), now)

    # -- commits --------------------------------------------------------------------------

    def _id(self, seg: _Segment) -> int:
        """The segment's id, numbered when it first shows (no gaps for silence)."""
        if not seg.segment_id:
            seg.segment_id = self._next_segment
            self._next_segment += 1
        return seg.segment_id

    def _remember(self, text: str) -> None:
        self._said = f"{self._said} {text}".strip()[-SAID_CHARS:]

    def _phrase(
        self, utt: _OpenUtterance, text: str, heard: PassResult, end_at: float | None
    ) -> Phrase:
        phrase = Phrase(
            segment_id=self._id(utt.segment) if text or utt.segment.shown else 0,
            source_lang=utt.lang,
            text=text,
            detected_lang=heard.transcript.language,
        )
        if end_at is not None:  # unknown for a sentence committed without a boundary
            phrase.marks.mark(Stage.SPEECH_END, end_at)
        phrase.marks.mark(Stage.STT_START, heard.started_at)
        phrase.marks.mark(Stage.STT_END, heard.ended_at)
        return phrase

    def _commit_final(
        self,
        utt: _OpenUtterance,
        heard: PassResult,
        speech_end_at: float,
        decided_at: float,
        *,
        cut: int,
    ) -> list[Action]:
        seg = utt.segment
        voiced = Emit(FinalPass(voiced_s=max(0, cut - seg.offset) / MODEL_RATE))
        phrase = self._phrase(utt, heard.text, heard, speech_end_at)
        phrase.marks.mark(Stage.SPEECH_START, seg.start_at)
        phrase.marks.mark(Stage.VAD_END, decided_at)
        self._remember(heard.text)
        utt.held = None
        utt.quiet = utt.finished = None
        # Speech that follows (after a pause commit) is a new segment of the same utterance,
        # heard with this one as acoustic context while that context stays short.
        utt.segment = _Segment(cut, decided_at)
        utt.context_text = f"{utt.context_text} {heard.text}".strip()
        if len(words(utt.context_text)) > CONTEXT_WORDS or cut - utt.context_offset > (
            CONTEXT_SAMPLES
        ):
            utt.context_offset, utt.context_text = cut, ""
        return [voiced, *self._finish(seg, phrase)]

    def _finish(self, seg: _Segment, phrase: Phrase, *, continues: bool = False) -> list[Action]:
        """The segment's final caption (``continues``: a clause its sentence goes on
        after) and its commit."""
        actions: list[Action] = []
        if phrase.text or seg.shown:
            text = phrase.text
            lang = phrase.detected_lang or ""
            caption = Caption(phrase.segment_id, lang, text, True, text, continues=continues)
            actions.append(Emit(caption))
        if phrase.text:
            actions.append(Commit(phrase))
        return actions


def _boundaries(utt: _OpenUtterance, result: Transcript) -> list[tuple[int, int]]:
    """Where the audio may be cut: (words before the cut, utterance sample).

    Between every two words when the pass has word times (halfway between the end of one
    and the start of the next, at most ``CUT_AFTER_S`` after the end: never inside a word,
    and never past words the pass may have skipped in a long gap), else only where
    Whisper's segments end (sentence ends, mostly; their end stamps run late, so a cut
    there can take the next words' onset with it).
    """
    timed = result.words
    if timed and len(timed) == len(words(result.text)):
        out = []
        for n in range(1, len(timed) + 1):
            end = timed[n - 1].end
            if n < len(timed):
                at = end + min((timed[n].start - end) / 2, CUT_AFTER_S)
            else:
                at = end + 0.05
            out.append((n, utt.context_offset + int(max(at, end - 0.02) * MODEL_RATE)))
        return out
    out = []
    seen = 0
    for segment in result.segments:
        seen += len(words(segment.text))
        out.append((seen, utt.context_offset + int(segment.end * MODEL_RATE)))
    return out


def _boundary(utt: _OpenUtterance, result: Transcript, word_count: int) -> int | None:
    """Utterance sample where Whisper's segments end exactly after ``word_count`` words."""
    return next((at for n, at in _boundaries(utt, result) if n == word_count), None)


def _settled(utt: _OpenUtterance, heard: PassResult, heard_s: float) -> int:
    """How many of the segment's words (of this pass) ended ``SETTLED_S`` or more before the
    end of the ``heard_s`` of audio it heard: old enough not to change with the next words
    (0 without word times)."""
    timed = heard.transcript.words
    if not timed or len(timed) != len(words(heard.transcript.text)):
        return 0
    own = timed[len(words(utt.context_text)) :]
    return sum(1 for w in own if w.end <= heard_s - SETTLED_S)


def _covering_partial(seg: _Segment, speech_samples: int) -> PassResult | None:
    """The last partial, if it heard all the speech and agrees with the confirmed words."""
    last = seg.last_partial
    if last is None or last.samples < speech_samples:
        return None
    confirmed = seg.agreement.confirmed
    result = last.result
    return result if words(result.text)[: len(confirmed)] == confirmed else None
