"""Does the text heard so far end a sentence, or only the audio window?

Whisper punctuates whatever audio it is given as if the speaker had finished: cut at a comma
pause, "Good morning, I would like…" comes back as "Good morning." and "When I arrived at
the hotel, the room…" as "When I arrived at the hotel.". Committing on that punctuation
splits one sentence into two phrases, each translated and spoken alone, and the second
heard without its start ("por favor" became "Famboy.").

Two decisions use the punctuation:

* ``ends_sentence``: a finished sentence among the confirmed words while the speaker goes on
  (the words after it are already heard, so the full stop is not the window's edge);
* ``complete_at_pause``: the phrase heard up to a short pause may be committed at once
  (early commit), before the undo window proves the speaker stopped. Here the full stop is
  always at the window's edge, so the text must look finished on its own: a sentence of
  ``MIN_WORDS_AT_PAUSE`` words or more, not ending on a word no sentence ends on, and not
  an opening clause waiting for its main clause. Shorter or open phrases wait for the undo
  window (a few hundred ms later), which costs that much latency and never a split.

The rules and their cost are measured in docs/benchmarks.md ("Sentences split at a pause").
"""

from __future__ import annotations

from lingolive.pipeline.agreement import norm, words

_TERMINAL = (".", "?", "!", "。", "？", "！")

#: Fewest words of a phrase committed at a pause: one or two words ending in a full stop are
#: nearly always a greeting or an address before a comma ("Good morning.", "Excuse me.").
MIN_WORDS_AT_PAUSE = 3

#: Words a sentence does not end on (articles, prepositions, conjunctions, possessives…).
#: Whisper puts a full stop wherever the audio stops, so "a table for." at a pause is a
#: sentence cut by the pause, not a finished one.
DANGLING: dict[str, frozenset[str]] = {
    lang: frozenset(ws.split())
    for lang, ws in {
        "en": "a an the to for of and or but with in on at from by into about my your his her "
        "its our their because if than",
        "es": "el la los las un una unos unas de del a al en con por para y o u pero que mi "
        "mis tu tus su sus sin sobre entre hasta desde porque",
        "fr": "le la les un une des de du à au aux en et ou mais que pour avec dans sur par "
        "mon ma mes ton ta tes son sa ses notre votre leur ce cette sans",
        "ca": "el la els les un una uns unes de del al a en amb per i o però que meu meva teu "
        "seu seva sense",
        "pt": "o a os as um uma uns umas de do da dos das ao à em no na nos nas com por para e "
        "ou mas que meu minha teu tua seu sua sem",
        "it": "il lo la i gli le un uno una di del della dei a al alla in nel nella con per e "
        "o ma che mio mia tuo tua suo sua senza",
    }.items()
}

#: Subordinating conjunctions that open a clause whose main clause follows ("When I arrived
#: at the hotel, the room was not ready."). Words that also start complete sentences or
#: questions ("As…", "Como quieras.") are left out.
OPENERS: dict[str, frozenset[str]] = {
    lang: frozenset(ws.split())
    for lang, ws in {
        "en": "when if because although though while unless once whenever whereas",
        "es": "cuando si porque aunque mientras",
        "fr": "quand si lorsque puisque parce quoique",
        "ca": "quan si perquè mentre",
        "pt": "quando se porque embora enquanto",
        "it": "quando se perché sebbene benché mentre",
    }.items()
}


def ends_sentence(text: str, lang: str | None = None) -> bool:
    """Whisper's punctuation says the phrase is complete, and its last word agrees.

    An ellipsis is Whisper hearing speech trail off mid-sentence ("a table for..."): the
    opposite of an end; so is a full stop after a word no sentence ends on.
    """
    text = text.rstrip().rstrip("\"')»”")
    if not text.endswith(_TERMINAL) or text.endswith(("...", "…")):
        return False
    last = norm(text.split()[-1]) if text.split() else ""
    return last not in DANGLING.get(lang or "", frozenset())


def opening_clause(text: str, lang: str | None = None) -> bool:
    """An opening clause alone: it starts with a subordinating conjunction, has no comma
    (so no main clause has begun) and is not a question ("When does it leave?")."""
    found = words(text)
    if not found or "," in text or text.rstrip().rstrip("\"')»”").endswith("?"):
        return False
    return norm(found[0]) in OPENERS.get(lang or "", frozenset())


def complete_at_pause(text: str, lang: str | None = None) -> bool:
    """The phrase heard up to a pause can be committed before the undo window ends."""
    return (
        ends_sentence(text, lang)
        and len(words(text)) >= MIN_WORDS_AT_PAUSE
        and not opening_clause(text, lang)
    )
