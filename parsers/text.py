"""Small text helpers shared by the HTML reader and the value normalisers."""
from __future__ import annotations

import re
import unicodedata

# Characters that render as a space (or nothing) but are not ASCII space.
_SPACE_LIKE = re.compile("[\u00a0\u2007\u2009\u202f\u2002\u2003\u2004\u2005\u2006\u2008\u200a\u3000\t\r\f\v]")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_MULTI_SPACE = re.compile(r" {2,}")


def clean(text: str | None) -> str:
    """Unicode-normalise, turn exotic spaces into plain ones, drop soft hyphens and
    zero-width characters, collapse runs of spaces and strip. Newlines are kept."""
    if not text:
        return ""
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        text = _INVISIBLE.sub("", text)
    text = _SPACE_LIKE.sub(" ", text)
    if "\n" not in text:
        return _MULTI_SPACE.sub(" ", text).strip()
    lines = [_MULTI_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def one_line(text: str | None) -> str:
    """``clean`` and fold all white space, newlines included, into single spaces."""
    return " ".join(clean(text).split())


_KEY_HYPHEN = re.compile(r"\s*-\s*")
_KEY_SLASH = re.compile(r"\s*/\s*")


def label_key(label: str) -> str:
    """The comparison key of a label or heading: case-folded, one-spaced, without the
    trailing colon, with spaces around hyphens and slashes removed (``E- post`` = ``E-post``)."""
    key = one_line(label).rstrip(":").strip().casefold()
    key = _KEY_HYPHEN.sub("-", key)
    key = _KEY_SLASH.sub("/", key)
    return key


def slug(text: str) -> str:
    """ASCII slug for identifiers (``Förbättra förutsättningarna`` -> ``forbattra-forutsattningarna``)."""
    decomposed = unicodedata.normalize("NFKD", one_line(text).casefold())
    ascii_text = decomposed.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
