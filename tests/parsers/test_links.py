"""What the crawler reads from a page before following it: whether it paginates (a project page that does is
a listing's last page, and its links are followed)."""

from __future__ import annotations

import re

import pytest

from parsers.links import paginates, vocabulary

WORDS = "|".join(re.escape(w) for w in sorted(vocabulary()["listing"]["pagination_words"], key=len, reverse=True))
# The rule as first written: one case-insensitive pattern over the page as it is.
CASE_INSENSITIVE = re.compile(
    rf"""<a\b[^>]*>(?:\s|<[^>]*>)*(?:{WORDS})(?:\s|<[^>]*>)*</a>|\brel\s*=\s*["']?next\b""", re.I
)

PAGES = [
    ('<p>Hem › Projekt › Ett projekt</p><a href="/a">Ansök</a>', False),  # a breadcrumb, not a link
    ('<a href="?sida=2">Nästa sida</a>', True),
    ('<A HREF="?sida=2"> <SPAN>NÄSTA</SPAN> </A>', True),
    ('<a href="/p/2">Nästa projekt</a>', False),  # more than the word
    ('<link rel="NEXT" href="?page=2">', True),
    ("<a rel=next href=x>2</a>", True),
    ('<a class="pager" href="?p=3">»</a>', True),
    ('<a href="?p=3"><abbr title="följande">›</abbr></a>', True),
    ("<nav>Föregående</nav>", False),
    ("<a href=x>Next</a >", False),  # not a closing tag the pattern knows: as before
    ("<area rel='nextpage'>", False),
    ("", False),
    ('<a href="?p=2">N\u00e4sta \u017fida</a>', True),  # a long s, which a case-insensitive match reads as s
    ('<a href="?p=2">PREV\u0130OUS</a>', True),  # a dotted capital I
]


@pytest.mark.parametrize(("page", "expected"), PAGES)
def test_pagination_is_found_in_any_letter_case_as_the_case_insensitive_rule_found_it(
    page: str, expected: bool
) -> None:
    assert paginates(page) is expected
    assert (CASE_INSENSITIVE.search(page) is not None) is expected
