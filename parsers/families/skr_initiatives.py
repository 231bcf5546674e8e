"""SKL/SKR initiative articles: a dated article (Publicerad:) that introduces, in a sentence ending in a
colon ("… har beviljats medel för följande insatser:"), the initiatives granted, each a heading and its
paragraphs. One record per initiative; no project labels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers import values as v
from parsers.families.base import Family
from parsers.fields import Issue
from parsers.lines import Token
from parsers.lookups import family_vocabulary
from parsers.reading import Body, PageText, Reading, Section, label_value, record

NAME = "skr_initiatives"


@dataclass
class Article:
    start: int  # the intro sentence (token index)
    items: list[tuple[str, list[str]]]  # each initiative: its heading and paragraphs
    trailing: list[str]  # the article's own text after the last initiative


def detect(page: PageText) -> Article | None:
    """An intro sentence and at least one initiative under it."""
    tokens = page.tokens
    spec = family_vocabulary(NAME)
    intro = re.compile(spec["intro_pattern"], re.I)
    start = next((i for i, t in enumerate(tokens) if t.kind in ("text", "heading") and intro.search(t.line.text)), None)
    if start is None:
        return None
    # Each initiative is a heading and its paragraphs. After the last heading only its first
    # paragraph belongs to it: what follows is the article's own closing text.
    items: list[tuple[str, list[str]]] = []
    trailing: list[str] = []
    rest = tokens[start + 1 :]
    for k, token in enumerate(rest):
        if token.kind in ("end", "group"):
            break
        if token.kind == "boiler":
            continue
        text = token.line.text
        nxt = rest[k + 1] if k + 1 < len(rest) else None
        looks_like_heading = token.kind == "heading" or (
            token.kind == "text"
            and len(text) <= 150
            and not text.endswith((".", ":", "!", "?"))
            and nxt is not None
            and nxt.kind == "text"
            and len(nxt.line.text) > len(text)
        )
        if looks_like_heading:
            items.append((text, []))
        elif items and (not items[-1][1] or _more_headings_follow(rest, k)):
            items[-1][1].append(text)
        else:
            trailing.append(text)
    return Article(start, items, trailing) if items else None


def read(page: PageText, article: Article) -> Reading:
    """One record per initiative; the article's date, funding year, publisher and funder on each."""
    tokens, start = page.tokens, article.start
    spec = family_vocabulary(NAME)
    text_before = [t.line.text for t in tokens[: start + 1]]
    published = next(
        (label_value(tokens, i)[0] for i, t in enumerate(tokens) if t.kind == "label" and t.field == "published_date"),
        None,
    )
    year = re.search(spec["year_pattern"], tokens[start].line.text, re.I)
    publisher = re.search(spec["publisher_pattern"], " ".join(text_before))
    funder = next((m["funder"] for line in text_before if (m := re.search(spec["funder_pattern"], line))), None)
    common = {
        "published_date": v.parse_date(published).value if published else None,
        "funding_year": int(year["year"]) if year else None,
        "publisher": publisher["publisher"] if publisher else None,
        "funder": funder,
    }
    records = []
    for name, paragraphs in article.items:
        body = Body(sections=[Section(name, "description", paragraphs)] if paragraphs else [])
        records.append(record(body, FAMILY, page, name, None, common))
    if article.trailing and records:
        records[-1].issues.append(
            Issue(
                None, "\n\n".join(article.trailing), "unassigned_text", "info", "article text after the last initiative"
            )
        )
    return Reading(records)


def _more_headings_follow(tokens: list[Token], k: int) -> bool:
    for token in tokens[k + 1 :]:
        if token.kind in ("end", "group"):
            return False
        if token.kind == "heading":
            return True
    return False


FAMILY = Family(
    name=NAME,
    id_prefix="skr",
    detect=detect,
    read=read,
    where="SKL/SKR initiative articles",
)
