"""One fetched page -> its kind, its project records and the issues met on the way.

``parse_page`` is the pure entry point the pipeline calls: it decodes the page, reads its visible lines
and their tokens, and asks the page families, in order (parsers/families/__init__.py), what the page is.
A family that recognises it reads its records (one project, many on a theme page, one per initiative of
an article) or a press release's announcements; a list of project cards is a listing; anything else
yields nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parsers.families import recognise
from parsers.fields import Issue
from parsers.html import (
    decode_page,
    links,
    no_text_issue,
    page_title,
    plain_text_as_html,
    read_document,
    strip_controls,
    visible_lines,
)
from parsers.lines import tokenize
from parsers.listing import is_listing

# Records and ids: parsers/reading.py (imported from here by the pipeline).
from parsers.reading import PageText, ProjectRecord, Section, address_identity, stable_id  # noqa: F401


@dataclass
class PageResult:
    kind: str  # project | listing | press_release | other
    family: str | None
    records: list[ProjectRecord]
    issues: list[Issue]  # page-level issues (no project)
    links: list[tuple[str, str]]
    encoding: str
    title: str
    # A press release on granted projects: one dict per announcement (parsers/families/esf_press_release.py), in page order.
    announcements: list[dict[str, Any]] = field(default_factory=list)


def parse_page(body: bytes | str, url: str, content_type: str | None = None, page_id: str | None = None) -> PageResult:
    """Parse one page. Never raises on bad input: a page that cannot be read is ``other`` with an issue.
    ``page_id`` is the page's identity independent of where the site is served (``source:path``, see
    pipeline/sources.py); projects without a number of their own get ids derived from it. Without it,
    the address's path and query stand in."""
    # Page-level issues of reading the page at all: encoding, control characters, limits, no text.
    if isinstance(body, bytes):
        html, encoding, page_issues = decode_page(body, content_type)
    else:
        (html, page_issues), encoding = strip_controls(body), "str"
    html = plain_text_as_html(html, content_type)
    identity = page_id or address_identity(url)
    if not html.strip():
        return PageResult("other", None, [], [*page_issues, Issue(None, None, "empty_page")], [], encoding, "")
    root, document_issues = read_document(html)
    page_issues += document_issues
    title = page_title(root)
    lines = visible_lines(root)
    if not lines:
        page_issues.append(no_text_issue(root))
    page = PageText(tokenize(lines), lines, root, url, title, identity)
    family, reading = recognise(page)
    records = reading.records
    if family is not None and family.kind != "project":
        kind = family.kind
    else:
        kind = "project" if records else ("listing" if reading.issues or is_listing(lines) else "other")
    # Links matter for listings; resolving every menu link of a project page is wasted work.
    page_links = links(root, url) if not records else []
    return PageResult(
        kind,
        family.name if family else None,
        records,
        page_issues + reading.issues,
        page_links,
        encoding,
        title,
        reading.announcements,
    )
