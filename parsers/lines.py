"""Classify text lines by the label and heading vocabulary: label (with or without its value),
known heading, unknown heading, boilerplate, or plain text."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from parsers.html import Line
from parsers.lookups import compact_label_index, heading_index, label_index, vocabulary
from parsers.text import label_key

# A line longer than this is prose, never a label line or a field value.
MAX_FIELD_LINE = 250
# No label, heading or boilerplate line is longer than this; longer text is not looked up (prose
# lines are long and many, and their lookup keys cost time for nothing).
LONGEST_KEY = 200


@dataclass
class Token:
    kind: str  # label | heading | municipalities | end | group | boiler | text
    line: Line
    field: str | None = None  # label: the field it fills
    label: str | None = None  # label or heading as printed
    value: str | None = None  # inline value or inline first paragraph; None when it is on the next line
    section: str | None = None  # heading: section kind, None for an unknown heading
    glued: bool = False  # label: glued to its value with no separator (the 2007–2013 text shape)


@functools.cache
def _boilerplate() -> tuple[frozenset[str], re.Pattern[str], frozenset[str], tuple[re.Pattern[str], ...]]:
    chrome = vocabulary()["chrome"]
    return (
        frozenset(label_key(x) for x in chrome["boilerplate_lines"]),
        re.compile("|".join(f"(?:{p})" for p in chrome["boilerplate_patterns"]), re.I),  # one pass, not one per pattern
        frozenset(label_key(x) for x in chrome["end_headings"]),
        tuple(re.compile(p, re.I) for p in chrome["group_heading_patterns"]),
    )


def _label_regex(label: str) -> str:
    parts = [re.escape(p) for p in re.split(r"\s+", label.strip())]
    return r"\s+".join(parts).replace(r"\-", r"\s*-\s*").replace("/", r"\s*/\s*")


# Short labels ("Tel", "Fas") glued to a value would match the start of too many ordinary words.
MIN_GLUED_LABEL = 6


@functools.cache
def _glued_labels() -> re.Pattern[str]:
    """Every field label as printed (case-sensitive), longest first, for labels glued to their value
    (``Projektperiod2009-08-03``): the 2007–2013 text shape."""
    labels = sorted(
        {lab for spec in vocabulary()["fields"].values() for lab in spec["labels"] if len(lab) >= MIN_GLUED_LABEL},
        key=len,
        reverse=True,
    )
    return re.compile("^(" + "|".join(_label_regex(lab) for lab in labels) + ")")


def _glue_plausible(field: str, label: str, rest: str) -> bool:
    """A glued value must start where a new word visibly starts: ``RegionNorra`` and
    ``Telefonnummer054`` yes; ``Regionen`` and ``KONTAKTER`` no."""
    if not rest or rest[0] in " :" or not label[-1].islower():
        return False
    if rest[0].isupper() or rest[0].isdigit():
        return True
    return vocabulary()["fields"][field]["kind"] == "email" and "@" in rest


def classify(line: Line) -> Token:
    text = line.text
    key = label_key(text) if len(text) <= LONGEST_KEY else ""
    boiler_lines, boiler_patterns, end_headings, group_patterns = _boilerplate()
    if key in boiler_lines or (len(text) <= LONGEST_KEY and boiler_patterns.fullmatch(text)):
        return Token("boiler", line)
    labels, headings = label_index(), heading_index()
    # A heading line of its own that ends the content ("Kontakt", "Läs vidare"); "Kontakt: Namn" is a label.
    if line.emphasised and key in end_headings and not text.rstrip().endswith(":"):
        return Token("end", line, label=text)
    # 1. The first element of the line is a whole label: <b>Region</b> Norra Mellansverige.
    if len(line.runs) >= 2 and len(line.runs[0]) <= LONGEST_KEY:
        first = label_key(line.runs[0])
        field = labels.get(first) or compact_label_index().get(first.replace(" ", ""))
        if field:
            return _inline_label(line, field, line.runs[0].rstrip(": "), _rest_after(text, line.runs[0]))
    # 2. The whole line is a label or a heading, with or without colon.
    if key in labels and len(text) <= MAX_FIELD_LINE:
        return Token("label", line, labels[key], text.rstrip(": "), None)
    if key and (field := compact_label_index().get(key.replace(" ", ""))) and len(text) <= MAX_FIELD_LINE:
        return Token("label", line, field, text.rstrip(": "), None)
    if key in headings:
        kind = headings[key]
        return Token(
            "municipalities" if kind == "municipalities" else "heading",
            line,
            label=text.rstrip(": "),
            section=None if kind == "municipalities" else kind,
        )
    if key in end_headings:
        return Token("end", line, label=text)
    if any(p.search(text) for p in group_patterns):
        return Token("group", line, label=text)
    # 3. "Label: value" in one text node (labels may contain a colon, as in "EU:s ...").
    if ":" in text:
        for match in re.finditer(":", text):
            if match.start() > LONGEST_KEY:
                break
            head, rest = text[: match.start()], text[match.end() :].strip()
            head_key = label_key(head)
            if head_key in labels:
                return _inline_label(line, labels[head_key], head.strip(), rest)
            if head_key in headings:
                kind = headings[head_key]
                return Token(
                    "municipalities" if kind == "municipalities" else "heading",
                    line,
                    label=head.strip(),
                    value=rest or None,
                    section=None if kind == "municipalities" else kind,
                )
    # 4. A label glued to its value with no separator (the 2007–2013 text shape).
    if len(text) <= MAX_FIELD_LINE and (match := _glued_labels().match(text)):
        field = labels.get(label_key(match[1]))
        rest = text[match.end() :]
        if field and _glue_plausible(field, match[1], rest):
            return Token("label", line, field, match[1], rest.strip(), glued=True)
    if line.emphasised and not line.item:
        return Token("heading", line, label=text, section=None)
    return Token("text", line)


def _inline_label(line: Line, field: str, label: str, value: str) -> Token:
    """A label and its value on one line. A value longer than a field line is kept whole, unless it reads
    as prose (``Kontakt: Hör av dig till oss …``): then the line stays prose, and the token names the label
    so the reader can report it (a ``text`` token with ``field`` set)."""
    if len(line.text) > MAX_FIELD_LINE and prose_like(value):
        return Token("text", line, field, label, value)
    return Token("label", line, field, label, value)


def _rest_after(text: str, first_run: str) -> str:
    index = text.find(first_run)
    rest = text[index + len(first_run) :] if index >= 0 else text
    return rest.lstrip(" :").strip()


def tokenize(lines: list[Line]) -> list[Token]:
    return [classify(line) for line in lines]


_UNKNOWN_LABEL = re.compile(r"^(?P<label>[A-ZÅÄÖ][\w\-åäöÅÄÖ.]*(?:[ \-][\w\-åäöÅÄÖ.]+){0,4})\s*:\s*(?P<value>.*)$")


def unknown_label(line: Line) -> tuple[str, str] | None:
    """``Något nytt fält: värde`` or ``Något nytt fält:`` -> (label, inline value), for lines in a
    field block that look like a label the vocabulary does not know."""
    match = _UNKNOWN_LABEL.match(line.text)
    if not match or len(line.text) > 160:
        return None
    value = match["value"].strip()
    if value.endswith((".", "!", "?")) and len(value) > 60:
        return None
    return match["label"], value


# ---------------------------------------------------------------- values over several lines

# A sentence ends inside the text and another starts ("… arbete. Projektet …").
_SENTENCE_BOUNDARY = re.compile(r"[.!?][\"'”’)]*\s+[A-ZÅÄÖ]")
# A prose sentence has at least this many words; a value that ends with a period has fewer
# ("Länsst. i VG-län", "Hofors kommun.").
MIN_SENTENCE_WORDS = 8


def prose_like(text: str) -> bool:
    """Does this text read as prose rather than a value? Two sentences, or one that ends with a full stop,
    question or exclamation mark and has at least MIN_SENTENCE_WORDS words. Only asked of the few lines
    next to a label, never of every prose line."""
    stripped = text.rstrip("\"'”’) ")
    if stripped.endswith((".", "!", "?")) and len(text.split()) >= MIN_SENTENCE_WORDS:
        return True
    return _SENTENCE_BOUNDARY.search(text) is not None


@functools.cache
def _joining_words() -> tuple[frozenset[str], frozenset[str]]:
    spec = vocabulary()["value_lines"]
    return frozenset(w.casefold() for w in spec["joining_words"]), frozenset(
        w.casefold() for w in spec["suspended_compound_words"]
    )


_DASHES = ("-", "\u2013", "\u2014")


def line_separator(before: str, after: str) -> str:
    """What stands between two lines of one value when they are read as one (the line break itself is
    markup, not text):

    - ``Social-`` + ``och omsorgsförvaltningen``: a suspended compound, the hyphen stays and a space follows;
    - ``ESF-`` + ``rådet``: a hyphenated word broken after its hyphen, joined as printed (``ESF-rådet``);
    - ``2017-02-15 –`` + ``2020-03-31``, ``… kommun,`` + ``Social- …``, ``… i`` + ``Hofors``, ``… 244`` +
      ``kr``: one phrase, a space;
    - ``Region Värmland`` + ``Regionens kansli``: two parts of one value, ``", "`` (as ``Org, Unit`` is printed).
    """
    joining, suspended = _joining_words()
    first_word = after.split(" ", 1)[0].casefold()
    if after[:1] in (",", ";", ".", ":", ")"):
        return ""
    if before.endswith(_DASHES) and len(before) >= 2 and before[-2].isalnum():
        # A word hyphen at the end of the line.
        return " " if first_word in suspended or after[:1] in _DASHES else ""
    if before.endswith(("(", "/")):
        return ""
    if before.endswith((",", ";", ":", "&", "+")) or before.endswith(_DASHES) or after.startswith(_DASHES):
        return " "
    last_word = before.rsplit(" ", 1)[-1].casefold()
    if last_word in joining or after[:1].islower():
        return " "
    return ", "


def join_value_lines(parts: list[str]) -> str:
    value = parts[0]
    for part in parts[1:]:
        value = value + line_separator(value, part) + part
    return value
