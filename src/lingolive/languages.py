"""Language codes: the ISO 639-1 codes of our protocol and the names each engine uses.

The wire protocol speaks ISO 639-1 (``en``, ``es``) like Whisper does; Apertium names modes
with a mix of ISO 639-1 and 639-3 codes (``eng-spa``, ``fr-es``) and espeak-ng has its own
voice names. Keeping the mapping here means no engine has to know another engine's codes.
"""

from __future__ import annotations

# ISO 639-3 (and the odd Apertium spelling) -> ISO 639-1, for the languages where Whisper,
# espeak-ng and at least one Apertium pair overlap.
ISO3_TO_ISO1: dict[str, str] = {
    "eng": "en",
    "spa": "es",
    "fra": "fr",
    "cat": "ca",
    "por": "pt",
    "ita": "it",
    "glg": "gl",
    "eus": "eu",
    "oci": "oc",
    "ron": "ro",
    "nld": "nl",
    "afr": "af",
    "dan": "da",
    "nob": "no",
    "nno": "nn",
    "swe": "sv",
    "isl": "is",
    "rus": "ru",
    "ukr": "uk",
    "bel": "be",
    "mkd": "mk",
    "bul": "bg",
    "hbs": "sr",
    "slv": "sl",
    "pol": "pl",
    "ind": "id",
    "zlm": "ms",
    "hin": "hi",
    "urd": "ur",
    "epo": "eo",
    "bre": "br",
}

NAMES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "ca": "Catalan",
    "pt": "Portuguese",
    "it": "Italian",
    "gl": "Galician",
    "eu": "Basque",
    "oc": "Occitan",
    "ro": "Romanian",
    "nl": "Dutch",
    "af": "Afrikaans",
    "da": "Danish",
    "no": "Norwegian",
    "nn": "Norwegian Nynorsk",
    "sv": "Swedish",
    "is": "Icelandic",
    "ru": "Russian",
    "uk": "Ukrainian",
    "be": "Belarusian",
    "mk": "Macedonian",
    "bg": "Bulgarian",
    "sr": "Serbian",
    "sl": "Slovenian",
    "pl": "Polish",
    "id": "Indonesian",
    "ms": "Malay",
    "hi": "Hindi",
    "ur": "Urdu",
    "eo": "Esperanto",
    "br": "Breton",
}


def to_iso1(code: str) -> str | None:
    """Map an Apertium language code (``eng``, ``es``, ``spa``) to ISO 639-1, or None."""
    code = code.lower()
    if len(code) == 2:
        return code if code in NAMES else None
    return ISO3_TO_ISO1.get(code)


def language_name(code: str) -> str:
    """Human-readable name for an ISO 639-1 code (the code itself when unknown)."""
    return NAMES.get(code, code)
