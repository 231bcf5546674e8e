"""Small text helpers shared by the HTML reader and the value normalisers."""
from __future__ import annotations

import functools
import re
import unicodedata

# Characters that render as nothing: soft hyphen, zero-width spaces and joiners, BOM.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def _visible(text: str) -> str:
    """NFC, without soft hyphens and zero-width characters (ASCII text has none: the fast path)."""
    if text.isascii():
        return text
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return _INVISIBLE.sub("", text)


def clean(text: str | None) -> str:
    """Unicode-normalise, turn exotic spaces into plain ones, drop soft hyphens and
    zero-width characters, collapse runs of spaces and strip. Newlines are kept."""
    if not text:
        return ""
    text = _visible(text)
    if "\n" not in text:
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(lines).strip()


def one_line(text: str | None) -> str:
    """``clean`` and fold all white space, newlines included, into single spaces."""
    # str.split() splits at every Unicode space (no-break, thin, ideographic ...) and at newlines.
    return " ".join(_visible(text).split()) if text else ""


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
