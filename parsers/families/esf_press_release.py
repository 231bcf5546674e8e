"""ESF-rådet's press releases on granted projects -> grant announcements (the ``esf_press_release`` family).

A release lists, under each call (``Utlysningen “Vägar till arbete”``, ``Utlyst belopp: 40 miljoner
kronor``, ``Beviljade projekt``), sentences such as ``Exempelby kommun får 4,2 miljoner kronor till
projektet Vägen vidare.`` Each becomes one announcement. Its amounts are rounded as printed: the value
is kept with the place of its last printed digit (``grant_precision``), never as an exact amount, and
never in the exact money columns of ``projects``. Whatever does not fit is an issue with its raw text.
A release gives no project records; its announcements are linked to projects by parsers/press_release.py.

Pure functions: tokens in, plain dicts and issues out.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from parsers import values as v
from parsers.families.base import Family
from parsers.fields import Issue
from parsers.lines import Token
from parsers.lookups import family_vocabulary, vocabulary
from parsers.reading import PageText, Reading
from parsers.text import label_key, one_line

NAME = "esf_press_release"
QUOTES = "\"'“”„‘’«»‹›"


@dataclass(frozen=True)
class _Grammar:
    call: re.Pattern[str]  # "Utlysningen “Vägar till arbete”"
    call_plain: re.Pattern[str]  # "Utlysningen Vägar till arbete" (only on a heading line of its own)
    amount: re.Pattern[str]  # "Utlyst belopp: 40 miljoner kronor"
    granted: frozenset[str]  # "Beviljade projekt" (label keys)
    sentence: re.Pattern[str]  # "<owner> får <amount> till projektet <name>"
    clause: re.Pattern[str]  # ", som …" or "… och X får 3 miljoner …" after a project name: more than a name


@functools.cache
def _grammar() -> _Grammar:
    spec = family_vocabulary(NAME)
    quote = f"[{re.escape(QUOTES)}]"
    prefixes = "|".join(re.escape(p) for p in spec["call_prefixes"])
    verbs = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(spec["grant_verbs"], key=len, reverse=True))
    projects = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in spec["project_words"])
    amounts = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in spec["call_amount_labels"])
    clause_words = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in spec["clause_words"])
    # "får ca 3 miljoner kronor": the sentence fits; the amount is then reported as approximate, not guessed.
    fillers = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in spec["amount_fillers"])
    approximate = "|".join(
        re.escape(w.rstrip(":")).replace(r"\ ", r"\s+")
        for w in sorted(vocabulary()["grammar"]["approximation_words"], key=len, reverse=True)
    )
    return _Grammar(
        call=re.compile(
            rf"^(?:{prefixes})\s*:?\s*{quote}\s*(?P<name>[^{re.escape(QUOTES)}]+?)\s*{quote}\s*[:.]?$", re.I
        ),
        call_plain=re.compile(rf"^(?:{prefixes})\s*:?\s+(?P<name>[^.!?]+?)\s*:?$", re.I),
        amount=re.compile(rf"^(?:{amounts})\s*:?\s*(?P<amount>.*)$", re.I),
        granted=frozenset(label_key(h) for h in spec["granted_headings"]),
        sentence=re.compile(
            rf"^(?P<owner>\S.*?)\s+(?:{verbs})\s+(?:(?:{fillers})\s+)?(?P<amount>(?:(?:{approximate})\s+)?\d.*?)\s+(?:{projects})\s+(?P<name>\S.*?)\s*$",
            re.I,
        ),
        clause=re.compile(rf",\s+(?:{clause_words})\b|\s(?:{verbs})\s+(?:(?:{fillers}|{approximate})\s+)?\d", re.I),
    )


# Where one sentence ends and the next begins on one line ("… Vägen vidare. Lilleby folkhögskola får …").
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ0-9“\"„«])")
_BULLET = "•·-–—*▪◦ "


@functools.cache
def _marker_starts() -> frozenset[str]:
    """The first five letters of every call, call amount and granted-projects line ("utlys", "bevil", …):
    the cheap first test on every line of every page; only lines that start so are looked at further."""
    spec = family_vocabulary(NAME)
    words = [*spec["call_prefixes"], *spec["call_amount_labels"], *spec["granted_headings"]]
    assert all(len(w) >= 5 for w in words), "a marker word shorter than five letters"
    return frozenset(w[:5].casefold() for w in words)


def _call_name(token: Token, following: Token | None) -> str | None:
    """The call a line opens, as printed without its quotes: ``Utlysningen “Vägar till arbete”``, or
    ``Utlysning: Vägar till arbete`` (the call label with a name instead of a number)."""
    grammar = _grammar()
    text = token.line.text
    if token.kind == "label" and token.field == "call_number":
        value = token.value or (following.line.text if following is not None and following.kind == "text" else "")
        return value.strip(QUOTES + " ") or None
    if (match := grammar.call.match(text)) is not None:
        return match["name"]
    if (
        token.line.emphasised
        and not text.rstrip().endswith((".", "!", "?"))
        and (match := grammar.call_plain.match(text))
    ):
        return match["name"].strip(QUOTES + " ")
    return None


@dataclass
class _Markers:
    calls: dict[int, str]  # token index -> call name
    amounts: dict[int, str]  # token index -> the amount as printed
    granted: list[int]  # "Beviljade projekt" lines
    end: int  # first line after the content (a "Kontakt" heading, ...)
    values: set[int]  # lines that are the value of a call or amount label above them (<dt>/<dd>)


def _markers(tokens: list[Token]) -> _Markers:
    grammar = _grammar()
    found = _Markers({}, {}, [], len(tokens), set())
    starts = _marker_starts()
    initials = {w[0] for w in starts} | {w[0].upper() for w in starts}
    for i, token in enumerate(tokens):
        text = token.line.text
        if token.kind == "end":
            found.end = i
            break
        if text[:1] not in initials or text[:5].casefold() not in starts:
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if (name := _call_name(token, following)) is not None:
            found.calls[i] = name
            if token.kind == "label" and not token.value:
                found.values.add(i + 1)
        elif (match := grammar.amount.match(text)) is not None:
            amount = match["amount"].strip()
            if not amount and following is not None and following.kind == "text":
                amount = following.line.text
                found.values.add(i + 1)
            found.amounts[i] = amount
        elif len(text) <= 40 and label_key(text) in grammar.granted:
            found.granted.append(i)
    return found


def read_press_release(tokens: list[Token]) -> tuple[list[dict[str, Any]], list[Issue]] | None:
    """The announcements of a press release on granted projects, and the issues met; ``None`` when the
    page is no such release. Told from its content: a call line ("Utlysningen “…”") and a list of granted
    projects, or at least one announcement sentence under a call or a list of granted projects."""
    markers = _markers(tokens)
    if not markers.calls and not markers.granted:
        return None
    issues: list[Issue] = []
    first = min([*markers.calls, *markers.granted])
    announced_on = _page_date(tokens, first)
    rows: list[dict[str, Any]] = []
    # One block per call (and one for a list of granted projects above the first call).
    starts = sorted(set(markers.calls) | {g for g in markers.granted if not any(c < g for c in markers.calls)})
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else markers.end
        call = _call(markers, start, stop, issues)
        granted = next((g for g in markers.granted if start <= g < stop), None)
        amount_line = next((a for a in markers.amounts if start <= a < stop), None)
        # The sentences follow "Beviljade projekt"; without it the call amount, or else the call line.
        scope = (granted if granted is not None else amount_line if amount_line is not None else start) + 1
        for i in range(scope, stop):
            token = tokens[i]
            if i in markers.amounts or i in markers.granted or i in markers.values or token.kind == "boiler":
                continue
            if token.kind in ("label", "end", "municipalities") or (token.kind == "heading" and token.section):
                break
            text = token.line.text.strip(_BULLET)
            if token.line.emphasised and not _fits(text):
                break  # a heading after the list ("Om Svenska ESF-rådet"): the release's own text
            for sentence in _SENTENCE_SPLIT.split(text):
                row = _announcement(sentence, issues)
                if row is not None:
                    rows.append({"announced_on": announced_on, **call, **row, "position": len(rows)})
    if not rows and not (markers.calls and markers.granted):
        # "Beviljade projekt" also heads a theme page's list, and a call's own page names its amount: a
        # release lists granted projects under a call, or at least one announcement.
        return None
    if announced_on is None:
        issues.insert(
            0,
            Issue(
                "announced_on",
                None,
                "missing_announcement_date",
                "warning",
                "no date of the release found above its first call: announcements kept without a date",
            ),
        )
    return rows, issues


def _call(markers: _Markers, start: int, stop: int, issues: list[Issue]) -> dict[str, Any]:
    """The call columns of one block: its name and announced amount (rounded as printed)."""
    amount_raw = next((markers.amounts[a] for a in markers.amounts if start <= a < stop), None)
    amount = v.parse_rounded_sek(amount_raw) if amount_raw else v.Parsed()
    if amount.problem:
        issues.append(Issue("call_amount_sek", amount_raw, amount.problem, "error", amount.note))
    return {
        "call_name": markers.calls.get(start),
        "call_amount_sek": amount.value.value if amount.value else None,
        "call_amount_precision": amount.value.step if amount.value else None,
        "call_amount_raw": amount_raw,
    }


def _fits(sentence: str) -> bool:
    return _grammar().sentence.match(sentence.strip(_BULLET).rstrip(".")) is not None


def _announcement(sentence: str, issues: list[Issue]) -> dict[str, Any] | None:
    """``<owner> får <amount> till projektet <name>.`` -> the announcement's own columns; any other
    sentence is an issue with its raw text."""
    grammar = _grammar()
    sentence = one_line(sentence).strip(_BULLET)
    if not sentence:
        return None
    match = grammar.sentence.match(sentence[:-1] if sentence.endswith(".") else sentence)
    name = match["name"] if match else ""
    if len(name) >= 2 and name[0] in QUOTES and name[-1] in QUOTES:
        name = name[1:-1].strip()
    elif any(q in name for q in QUOTES[2:]) and not name.endswith(tuple(QUOTES)):
        match = None  # words after a quoted name: more than a name
    if match is None or not name or grammar.clause.search(name) or match["owner"][0].islower():
        issues.append(
            Issue(
                "grant_announcement",
                sentence,
                "unparseable_announcement",
                "error",
                "not read as '<owner> får <amount> till projektet <name>.'",
            )
        )
        return None
    amount_raw = match["amount"]
    amount = v.parse_rounded_sek(amount_raw)
    if amount.problem:
        issues.append(
            Issue(
                "grant_sek",
                amount_raw,
                amount.problem,
                "error",
                f"{amount.note or amount.problem}; announcement kept without an amount: {sentence}",
            )
        )
    return {
        "owner": match["owner"],
        "project_name": name,
        "grant_sek": amount.value.value if amount.value else None,
        "grant_precision": amount.value.step if amount.value else None,
        "grant_raw": amount_raw,
        "sentence": sentence,
    }


_DATE_IN_LINE = re.compile(r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}\s+[a-zåäö]+\.?,?\s+\d{4})\b", re.I)


def _page_date(tokens: list[Token], stop: int) -> date | None:
    """The release's date: its Publicerad label (wherever it stands), or a short line above the first call that shows a date,
    alone or beside words such as "Pressmeddelande" or a time ("Pressmeddelande · 12 mars 2024 kl. 09.00")."""
    labelled = [i for i, t in enumerate(tokens) if t.kind == "label" and t.field == "published_date"]
    for i in [*labelled, *range(stop)]:
        token = tokens[i]
        text = token.line.text
        if token.kind == "label" and token.field == "published_date":
            text = token.value or (tokens[i + 1].line.text if i + 1 < len(tokens) else "")
        elif len(text) > 60:
            continue
        for found in _DATE_IN_LINE.findall(text):
            if (parsed := v.parse_date(found)).value:
                return parsed.value
    return None


def detect(page: PageText) -> tuple[list[dict[str, Any]], list[Issue]] | None:
    return read_press_release(page.tokens)


def read(page: PageText, release: tuple[list[dict[str, Any]], list[Issue]]) -> Reading:
    announcements, issues = release
    return Reading(issues=issues, announcements=announcements)


FAMILY = Family(
    name=NAME,
    id_prefix=None,  # a release gives announcements, no project records
    detect=detect,
    read=read,
    kind="press_release",
    where="ESF-rådet's press releases on granted projects",
)
