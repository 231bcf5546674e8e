"""ESF-rådet's press releases on granted projects -> grant announcements, and their link to projects.

A release lists, under each call (``Utlysningen “Vägar till arbete”``, ``Utlyst belopp: 40 miljoner
kronor``, ``Beviljade projekt``), sentences such as ``Exempelby kommun får 4,2 miljoner kronor till
projektet Vägen vidare.`` Each becomes one announcement. Its amounts are rounded as printed: the value
is kept with the place of its last printed digit (``grant_precision``), never as an exact amount, and
never in the exact money columns of ``projects``. Whatever does not fit is an issue with its raw text.

Pure functions: tokens in, plain dicts and issues out; ``link_announcements`` takes plain dicts.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

from parsers import values as v
from parsers.fields import Issue
from parsers.lines import Token
from parsers.lookups import lookup_municipality, vocabulary
from parsers.text import label_key, one_line

FAMILY = "esf_press_release"
_QUOTES = "\"'“”„‘’«»‹›"


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
    spec = vocabulary()["press_release"]
    quote = f"[{re.escape(_QUOTES)}]"
    prefixes = "|".join(re.escape(p) for p in spec["call_prefixes"])
    verbs = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(spec["grant_verbs"], key=len, reverse=True))
    projects = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in spec["project_words"])
    amounts = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in spec["call_amount_labels"])
    clause_words = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in spec["clause_words"])
    # "får ca 3 miljoner kronor": the sentence fits; the amount is then reported as approximate, not guessed.
    fillers = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in spec["amount_fillers"])
    approximate = "|".join(re.escape(w.rstrip(":")).replace(r"\ ", r"\s+")
                           for w in sorted(vocabulary()["grammar"]["approximation_words"], key=len, reverse=True))
    return _Grammar(
        call=re.compile(rf"^(?:{prefixes})\s*:?\s*{quote}\s*(?P<name>[^{re.escape(_QUOTES)}]+?)\s*{quote}\s*[:.]?$", re.I),
        call_plain=re.compile(rf"^(?:{prefixes})\s*:?\s+(?P<name>[^.!?]+?)\s*:?$", re.I),
        amount=re.compile(rf"^(?:{amounts})\s*:?\s*(?P<amount>.*)$", re.I),
        granted=frozenset(label_key(h) for h in spec["granted_headings"]),
        sentence=re.compile(rf"^(?P<owner>\S.*?)\s+(?:{verbs})\s+(?:(?:{fillers})\s+)?(?P<amount>(?:(?:{approximate})\s+)?\d.*?)\s+(?:{projects})\s+(?P<name>\S.*?)\s*$",
                            re.I),
        clause=re.compile(rf",\s+(?:{clause_words})\b|\s(?:{verbs})\s+(?:(?:{fillers}|{approximate})\s+)?\d", re.I),
    )


# Where one sentence ends and the next begins on one line ("… Vägen vidare. Lilleby folkhögskola får …").
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ0-9“\"„«])")
_BULLET = "•·-–—*▪◦ "


@functools.cache
def _marker_starts() -> frozenset[str]:
    """The first five letters of every call, call amount and granted-projects line ("utlys", "bevil", …):
    the cheap first test on every line of every page; only lines that start so are looked at further."""
    spec = vocabulary()["press_release"]
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
        return value.strip(_QUOTES + " ") or None
    if (match := grammar.call.match(text)) is not None:
        return match["name"]
    if token.line.emphasised and not text.rstrip().endswith((".", "!", "?")) and (match := grammar.call_plain.match(text)):
        return match["name"].strip(_QUOTES + " ")
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
        issues.insert(0, Issue("announced_on", None, "missing_announcement_date", "warning",
                               "no date of the release found above its first call: announcements kept without a date"))
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
    if len(name) >= 2 and name[0] in _QUOTES and name[-1] in _QUOTES:
        name = name[1:-1].strip()
    elif any(q in name for q in _QUOTES[2:]) and not name.endswith(tuple(_QUOTES)):
        match = None  # words after a quoted name: more than a name
    if match is None or not name or grammar.clause.search(name) or match["owner"][0].islower():
        issues.append(Issue("grant_announcement", sentence, "unparseable_announcement", "error",
                            "not read as '<owner> får <amount> till projektet <name>.'"))
        return None
    amount_raw = match["amount"]
    amount = v.parse_rounded_sek(amount_raw)
    if amount.problem:
        issues.append(Issue("grant_sek", amount_raw, amount.problem, "error",
                            f"{amount.note or amount.problem}; announcement kept without an amount: {sentence}"))
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


# ---------------------------------------------------------------- linking to projects

def match_key(text: str | None) -> str:
    """A name as compared between a release and the project bank: case, white space, quotes, dashes and
    a final full stop do not count ("“Vägen  vidare”." = "vägen vidare")."""
    key = one_line(text).casefold()
    key = key.translate({ord(q): None for q in _QUOTES})
    key = re.sub(r"\s*[\u2010-\u2015\u2212-]\s*", "-", key)
    return " ".join(key.rstrip(" .").split())


_PUBLIC_BODY = re.compile(r"^(?P<place>.+?)s?\s+(?P<kind>kommun|stad)$")


def owner_keys(owner: str | None) -> frozenset[str]:
    """The keys an owner matches on: the whole name and its organisation part (``Hudiksvalls kommun,
    Social- och omsorgsförvaltningen`` also matches ``Hudiksvalls kommun``), a municipality by its code
    (``HOFORS KOMMUN``, ``Hofors kommun``, ``Göteborgs Stad`` …) and the genitive s before
    ``kommun``/``stad`` left out (``Exempelbys kommun`` = ``Exempelby kommun``)."""
    if not one_line(owner):
        return frozenset()
    keys: set[str] = set()
    for part in {owner or "", (owner or "").split(",", 1)[0]}:
        key = match_key(part)
        if not key:
            continue
        keys.add(key)
        if match := _PUBLIC_BODY.match(key):
            keys.add(f"{match['place']} {match['kind']}")
            municipality = lookup_municipality(key.removesuffix(" stad") + " kommun" if key.endswith(" stad") else key)
            if municipality is not None:
                keys.add(f"municipality:{municipality.code}")
    return frozenset(keys)


def link_announcements(announcements: Iterable[dict[str, Any]], projects: Iterable[dict[str, Any]]) -> list[str | None]:
    """The ``project_id`` of each announcement (in order), or ``None``: the project whose name matches
    the announced project name and whose owner matches the announced owner (see ``match_key`` and
    ``owner_keys``). Never a guess: no match, or more than one project, is ``None``.

    ``announcements``: dicts with ``owner`` and ``project_name``; ``projects``: dicts with
    ``project_id``, ``owner`` and ``name`` (rows of the two tables)."""
    by_name: dict[str, list[tuple[frozenset[str], str]]] = {}
    for project in projects:
        if project.get("project_id") and project.get("name"):
            by_name.setdefault(match_key(project["name"]), []).append((owner_keys(project.get("owner")), project["project_id"]))
    linked: list[str | None] = []
    for announcement in announcements:
        wanted = owner_keys(announcement.get("owner"))
        found = {pid for keys, pid in by_name.get(match_key(announcement.get("project_name")), []) if keys & wanted}
        linked.append(found.pop() if len(found) == 1 else None)
    return linked
