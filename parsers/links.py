"""What the crawler needs from a page's content, without parsing it as a project: is it a page of one
project (read, not followed) or one that lists (followed), which addresses it links to, which hrefs
lead nowhere, and the address it names as its canonical one. The crawler holds no Swedish words: the
labels that tell a project page are in parsers/data/vocabulary.toml ([crawl])."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

from parsers.lookups import vocabulary
from parsers.text import label_key


@dataclass
class PageLinks:
    follow: bool  # a page that lists projects (its links are followed); False for a page of one project
    links: list[str] = field(default_factory=list)  # absolute addresses without fragment, in page order
    malformed: list[str] = field(default_factory=list)  # hrefs that lead nowhere, as printed
    canonical: str | None = None  # <link rel="canonical">, absolute
    pagination: list[str] = field(default_factory=list)  # the links that page through a listing (discovery first)
    shape: str | None = None  # of a page that paginates: its content without numbers, hashed (see _shape)


@functools.cache
def _hint_shapes() -> tuple[tuple[str, ...], ...]:
    words = tuple(vocabulary()["crawl"]["project_hint_labels"])
    return words, tuple(w.lower() for w in words), tuple(w.upper() for w in words)


def looks_like_project_page(text: str) -> bool:
    """A page of one project names a project label, but not on every card of a list. The usual
    spellings are looked up first, in the order of the vocabulary, and only the first label found is
    counted (plain substring tests: a case-insensitive regular expression over a 44 KB page costs ten
    times as much); only pages without any (listings) pay for a look at the lower-cased text."""
    repeats = vocabulary()["crawl"]["listing_repeats"]
    shapes = _hint_shapes()
    for words in shapes:
        for hint in words:
            if hint in text:
                return text.count(hint) < repeats
    lowered = text.lower()
    for hint in shapes[1]:
        if hint in lowered:
            return lowered.count(hint) < repeats
    return False


_LINK_TAG = re.compile(r"<link\b[^>]*>", re.I)
_REL_CANONICAL = re.compile(r"""\brel\s*=\s*["']?[^"'>]*\bcanonical\b""", re.I)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


def canonical_address(text: str, url: str) -> str | None:
    """The address a page names as its canonical one (``<link rel="canonical" href>`` in its head),
    absolute; read without building the page's tree (project pages are not parsed by the crawler)."""
    end = text.find("</head>")
    for tag in _LINK_TAG.finditer(text, 0, end if end >= 0 else min(len(text), 65536)):
        if _REL_CANONICAL.search(tag[0]) and (href := _HREF.search(tag[0])):
            value = html.unescape(next(g for g in href.groups() if g is not None)).strip()
            if not value:
                return None
            try:
                absolute = urljoin(url, value)
                urlsplit(absolute).port  # noqa: B018 - raises for a malformed address
            except ValueError:
                return None
            return urldefrag(absolute)[0]
    return None


@functools.cache
def _pagination() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A link whose whole text is a pagination word (``Nästa sida``, ``»``), and a rel="next" link, both
    to be searched in lower-cased text: a case-insensitive pattern, and one of two branches, cannot start
    from a literal and tries every position of the page."""
    anchor = re.compile(rf"""<a\b[^>]*>(?:\s|<[^>]*>)*(?:{_word_alternation(str.lower)})(?:\s|<[^>]*>)*</a>""")
    return anchor, re.compile(r"""\brel\s*=\s*["']?next\b""")


def _word_alternation(spelling=str) -> str:
    """The pagination words as one alternation, longest first (``Nästa sida`` before ``Nästa``)."""
    words = sorted(vocabulary()["listing"]["pagination_words"], key=len, reverse=True)
    return "|".join(re.escape(spelling(w)) for w in words)


def paginates(text: str) -> bool:
    """Whether a page has a pagination link (see ``_pagination``)."""
    anchor, rel_next = _pagination()
    lowered = text.lower()
    if anchor.search(lowered) is not None or ("next" in lowered and rel_next.search(lowered) is not None):
        return True
    # Letters that a case-insensitive match folds but lower() does not (long s, dotless i, dotted I):
    # only then the slow pattern, so the answer is the case-insensitive one.
    return any(c in text for c in "\u017f\u0131\u0130") and _case_insensitive_pagination().search(text) is not None


@functools.cache
def _case_insensitive_pagination() -> re.Pattern[str]:
    words = _word_alternation()
    return re.compile(rf"""<a\b[^>]*>(?:\s|<[^>]*>)*(?:{words})(?:\s|<[^>]*>)*</a>|\brel\s*=\s*["']?next\b""", re.I)


def read_links(body: bytes, content_type: str | None, url: str) -> PageLinks:
    """A fetched body -> what the crawler follows from it. Bodies that are not HTML (nor HTML served as
    text/plain) lead nowhere."""
    from parsers.html import anchors, decode_html, parse_document, plain_text_as_html

    kind = (content_type or "").lower()
    if kind and "html" not in kind and "text/plain" not in kind:
        return PageLinks(False)
    text, _ = decode_html(body, content_type)
    if "text/plain" in kind:
        text = plain_text_as_html(text, content_type)
    canonical = canonical_address(text, url)
    # A page with project labels is one project's, unless it paginates: a list of one or two cards
    # (the last page of a listing) names the labels as often as a project page does.
    if looks_like_project_page(text) and not paginates(text):
        return PageLinks(False, canonical=canonical)
    root = parse_document(text)
    malformed: list[str] = []
    found = anchors(root, url, malformed)
    words = _pagination_words()
    paging = [href for href, label in found if label_key(label) in words or label.strip().isdigit()]
    return PageLinks(True, [href for href, _ in found], malformed, canonical, paging, _shape(text) if paging else None)


_DIGITS = re.compile(r"\d+")


def _shape(text: str) -> str:
    """A page's content with its numbers left out, hashed: two pages of a listing past its end (no items,
    or the last items again) differ only in page numbers."""
    import hashlib

    return hashlib.blake2b(_DIGITS.sub("", text).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@functools.cache
def _pagination_words() -> frozenset[str]:
    return frozenset(label_key(w) for w in vocabulary()["listing"]["pagination_words"])


@dataclass
class SitemapEntries:
    sitemaps: list[str] = field(default_factory=list)  # a sitemap index's sitemaps
    pages: list[tuple[str, str | None]] = field(default_factory=list)  # (address, lastmod as printed)
    error: str | None = None


def read_sitemap(body: bytes) -> SitemapEntries:
    """A sitemap (urlset) or a sitemap index, gzipped or not (sitemaps.org 0.9); never raises."""
    import gzip
    import zlib

    from lxml import etree

    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            return SitemapEntries(error=f"not a readable gzip file: {exc}")
    try:
        root = etree.fromstring(
            body, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, recover=True)
        )
    except etree.XMLSyntaxError as exc:
        return SitemapEntries(error=f"not a sitemap: {exc}")
    if root is None:
        return SitemapEntries(error="not a sitemap: no XML")
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        return SitemapEntries(error=f"not a sitemap: <{kind}>")
    entries = SitemapEntries()
    for item in root:
        if not isinstance(item.tag, str):
            continue
        values = {
            etree.QName(child).localname: (child.text or "").strip() for child in item if isinstance(child.tag, str)
        }
        if not values.get("loc"):
            continue
        if kind == "sitemapindex":
            entries.sitemaps.append(values["loc"])
        else:
            entries.pages.append((values["loc"], values.get("lastmod") or None))
    return entries
