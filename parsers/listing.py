"""Pages that show project labels but list projects, each read from its own page: lists of project
cards. Two rules of the registry (parsers/families/__init__.py) stand between the families: a list of
cards told by its shape (``CARD_LIST``) and one told by a card field with several values
(``CARD_FIELDS``). ``is_listing`` tells a listing without any project label (links, pagination)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from parsers.fields import Issue
from parsers.lines import MAX_FIELD_LINE, Token
from parsers.lookups import vocabulary
from parsers.reading import PageText
from parsers.text import label_key, one_line


def _card_listing_field(tokens: list[Token]) -> str | None:
    """The project field a list of project cards repeats with different values, if the page is one."""
    listing = vocabulary()["listing"]
    values: dict[str, set[str]] = {}
    for n, t in enumerate(tokens):
        if t.kind == "label" and t.field in listing["card_fields"]:
            following = tokens[n + 1] if n + 1 < len(tokens) and tokens[n + 1].kind == "text" else None
            value = t.value or (following.line.text if following is not None else None)
            if value:
                values.setdefault(t.field, set()).add(value)
    return next((f for f in listing["card_fields"] if len(values.get(f, ())) >= listing["min_card_values"]), None)


@dataclass
class _Card:
    """The labels between two link lines of a page: a project card, if the page is a list of them."""

    fields: list[str] = field(default_factory=list)
    link_before: bool = False  # a link line (the card's title) just above its first label, or one plain line above
    link_after: bool = False  # a link line ("Läs mer") ends it
    prose: bool = False  # a known section heading or a paragraph: a project's own text, not a card


def _cards(tokens: list[Token]) -> list[_Card]:
    """Split the page at its link lines (a line that is wholly a link and not a label's value) and keep
    the stretches that hold labels."""
    cards: list[_Card] = []
    card = _Card()
    since_link: int | None = None  # lines since the last link line, before the card's first label
    bare_label = False  # the previous line is a label whose value is on the next line
    for t in tokens:
        if t.kind == "end":
            break
        if t.kind == "boiler":
            continue
        if t.line.link and t.kind in ("text", "heading") and not bare_label:
            if card.fields:
                card.link_after = True
                cards.append(card)
            card, since_link = _Card(), 0
            continue
        if t.kind == "label":
            if not card.fields and since_link is not None and since_link <= 1:
                card.link_before = True
            card.fields.append(t.field or "")
            bare_label = not t.value
            continue
        bare_label = False
        if (t.kind == "heading" and t.section) or len(t.line.text) > MAX_FIELD_LINE:
            card.prose = True
        if since_link is not None and not card.fields:
            # One plain line may stand between a card's title link and its labels (a date, a number); a
            # title of its own (a heading, a bold line) means the labels belong to that title, not the link.
            since_link = None if t.line.emphasised else since_link + 1
    if card.fields:
        cards.append(card)
    return cards


def _card_list(tokens: list[Token], root: Any) -> str | None:
    """The card field a list of project cards shows, if the page is one, however many cards it has and
    wherever it stands in the pagination. A card is a stretch of labels, without prose, between link
    lines (its title links to the project's own page, or a "read more" link follows it). A list is two or
    more such cards that show the same labels (or each next to its link) and share a card field, or a
    single small card under its title link on a page with pagination (the last page of a listing)."""
    listing = vocabulary()["listing"]
    card_fields = listing["card_fields"]
    cards = [c for c in _cards(tokens) if not c.prose and any(f in card_fields for f in c.fields)]
    if len(cards) >= 2:
        shapes: dict[tuple[str, ...], int] = {}
        for c in cards:
            shapes[tuple(c.fields)] = shapes.get(tuple(c.fields), 0) + 1
        same = [list(shape) for shape, n in shapes.items() if n >= 2]
        if same or all(c.link_before or c.link_after for c in cards):
            shared = set(same[0]) if same else set.intersection(*(set(c.fields) for c in cards))
            found = next((f for f in card_fields if f in shared), None)
            if found is not None:
                return found
    if (
        len(cards) == 1
        and cards[0].link_before
        and len(cards[0].fields) <= listing["max_single_card_labels"]
        and _has_pagination(root)
    ):
        return next(f for f in card_fields if f in cards[0].fields)
    return None


def _has_pagination(root: Any) -> bool:
    """A link of the page (menus included: pagination often stands in a <nav>) is a pagination word or a
    page number (two or more links that are only digits)."""
    listing = vocabulary()["listing"]
    pagination = {label_key(word) for word in listing["pagination_words"]}
    numbers = 0
    for anchor in root.iter("a"):
        text = one_line("".join(anchor.itertext()))
        if not text or len(text) > 20:
            continue
        if label_key(text) in pagination or any(label_key(part) in pagination for part in text.split()):
            return True
        numbers += text.isdigit()
    return numbers >= 2


def is_listing(lines: list) -> bool:
    """A listing shows several links in its content, or pagination; menus and footers (chrome) do not
    count, and a lone "back to the list" link does not make a page a listing."""
    listing = vocabulary()["listing"]
    pagination = {label_key(word) for word in listing["pagination_words"]}
    content_links = [line for line in lines if line.link]
    return len(content_links) >= listing["min_content_links"] or any(
        label_key(link.text) in pagination for link in content_links
    )


def _card_list_issue(page: PageText) -> Issue | None:
    card_field = _card_list(page.tokens, page.root)
    if card_field is None:
        return None
    return Issue(
        card_field,
        None,
        "labels_on_listing",
        "info",
        f"'{card_field}' is shown on project cards, each with a link to its project: read as a "
        "list of projects (each is read from its own page), not as one project",
    )


def _card_fields_issue(page: PageText) -> Issue | None:
    card_field = _card_listing_field(page.tokens)
    if card_field is None:
        return None
    return Issue(
        card_field,
        None,
        "labels_on_listing",
        "info",
        f"'{card_field}' has several values, one per card: read as a list of projects "
        "(each is read from its own page), not as one project",
    )


@dataclass(frozen=True)
class Listing:
    """An entry of the registry (parsers/families/__init__.py) that is no family: a page that shows
    project labels but lists projects, each read from its own page. No family, no records; one issue
    that says why (``labels_on_listing``)."""

    name: str
    detect: Callable[[PageText], Issue | None]


CARD_LIST = Listing("card_list", _card_list_issue)
CARD_FIELDS = Listing("card_fields", _card_fields_issue)
