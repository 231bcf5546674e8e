"""Small text helpers shared by the HTML reader and the value normalisers."""

from __future__ import annotations

import functools
import re
import unicodedata

# Characters that render as nothing: soft hyphen, zero-width spaces and joiners, BOM, and the
# direction marks and embeddings an editor leaves in (inside a label they would hide it).
# C1 control characters (U+0080..U+009F) are Windows-1252 punctuation that went through a Latin-1
# conversion (U+0096 for the en dash of "2017-01-01 \x96 2019-12-31"): read as Windows-1252, as
# browsers read the same characters written as references (&#150;).
_INVISIBLE = re.compile("[\x80-\x9f\u00ad\u200b\u200c\u200d\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_C1 = {chr(c): bytes([c]).decode("cp1252", "ignore") for c in range(0x80, 0xA0)}


def _invisible(match: re.Match[str]) -> str:
    return _C1.get(match[0], "")


# Above this length white space is collapsed piece by piece: one list of the words of a huge text node
# costs many times the page (docs/measurements.md). (\s and str.split() agree on what white space is.)
LONG_TEXT = 1 << 16
_SPACE = re.compile(r"\s")


def _one_spaced_long(text: str) -> str:
    """``" ".join(text.split())`` for long text, with memory bounded."""
    pieces, start, end = [], 0, len(text)
    while start < end:
        stop = start + LONG_TEXT
        if stop < end:  # cut at white space, never inside a word
            space = _SPACE.search(text, stop)
            stop = space.start() if space else end
        if piece := " ".join(text[start:stop].split()):
            pieces.append(piece)
        start = stop
    return " ".join(pieces)


def _visible(text: str) -> str:
    """Without soft hyphens, zero-width characters and direction marks, C1 controls read as
    Windows-1252, then NFC (ASCII text has none of them: the fast path). In this order a second pass
    changes nothing: a mark removed between a letter and its accent lets the two compose."""
    if text.isascii():
        return text
    text = _INVISIBLE.sub(_invisible, text)
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def join_clean(text: str) -> str:
    """``one_line`` for a concatenation of pieces each already ``clean``: only NFC across the seams and
    the white space between them are left to do."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split()) if len(text) <= LONG_TEXT else _one_spaced_long(text)


def clean(text: str | None) -> str:
    """Unicode-normalise, turn exotic spaces into plain ones, drop soft hyphens and
    zero-width characters, collapse runs of spaces and strip. Newlines are kept."""
    if not text:
        return ""
    text = _visible(text)
    if "\n" not in text:
        return " ".join(text.split()) if len(text) <= LONG_TEXT else _one_spaced_long(text)
    lines = [" ".join(line.split()) if len(line) <= LONG_TEXT else _one_spaced_long(line) for line in text.split("\n")]
    return "\n".join(lines).strip()


def one_line(text: str | None) -> str:
    """``clean`` and fold all white space, newlines included, into single spaces."""
    # str.split() splits at every Unicode space (no-break, thin, ideographic ...) and at newlines.
    if not text:
        return ""
    text = _visible(text)
    return " ".join(text.split()) if len(text) <= LONG_TEXT else _one_spaced_long(text)


_KEY_HYPHEN = re.compile(r"\s*-\s*")
_KEY_SLASH = re.compile(r"\s*/\s*")


def label_key(label: str) -> str:
    """The comparison key of a label or heading: case-folded, one-spaced, without the
    trailing colon, with spaces around hyphens and slashes removed (``E- post`` = ``E-post``)."""
    # Labels and headings are short and recur on every page; prose lines are long and unique, and
    # caching them would only grow memory.
    return _cached_label_key(label) if len(label) <= 80 else _label_key(label)


def _label_key(label: str) -> str:
    key = one_line(label).rstrip(":").strip().casefold()
    if "-" in key:
        key = _KEY_HYPHEN.sub("-", key)
    if "/" in key:
        key = _KEY_SLASH.sub("/", key)
    return key


_cached_label_key = functools.lru_cache(maxsize=8192)(_label_key)


def slug(text: str) -> str:
    """ASCII slug for identifiers (``Förbättra förutsättningarna`` -> ``forbattra-forutsattningarna``)."""
    decomposed = unicodedata.normalize("NFKD", one_line(text).casefold())
    ascii_text = decomposed.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
