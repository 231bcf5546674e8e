"""HTML in, a flat list of visible text lines out, whatever the markup.

The page parser never looks at CSS classes or tag names of the content: it reads the lines this
module produces. A line remembers only what matters for reading labels and headings: the separate
text runs it is made of (so ``<b>Region</b>Norra Mellansverige`` can be split where the elements
meet), whether it is a heading element, wholly bold, a list item or wholly a link.
"""
from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urldefrag

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

from parsers.lookups import vocabulary
from parsers.text import clean, one_line

# ---------------------------------------------------------------- decoding

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# As browsers do (WHATWG Encoding): a page labelled Latin-1 or ASCII is decoded as Windows-1252.
_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
            "iso8859-1": "cp1252", "l1": "cp1252", "windows-1252": "cp1252", "x-cp1252": "cp1252"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    match = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type or "", re.I)
    return match[1] if match else None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Bytes -> (text, encoding used). A byte-order mark wins; then text that is valid UTF-8 is
    UTF-8 whatever the label says (Latin-1 text with å, ä, ö is practically never valid UTF-8,
    while mislabelled UTF-8 is common); then the HTTP header, the meta tag, and Windows-1252."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, errors="replace"), encoding
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(body[:8192])
    for candidate in (charset_from_content_type(content_type), meta[1].decode("ascii", "ignore") if meta else None):
        encoding = _codec(candidate)
        if encoding and encoding not in ("utf-8", "utf-16", "utf-16-le", "utf-16-be"):
            return body.decode(encoding, errors="replace"), encoding
    return body.decode("cp1252", errors="replace"), "cp1252"


# ---------------------------------------------------------------- lines

@dataclass
class Line:
    text: str
    runs: list[str] = field(default_factory=list)
    heading: int | None = None  # 1..6 when the whole line is inside a heading element
    bold: bool = False  # the whole line is strong/b
    item: bool = False  # inside a list item
    link: bool = False  # the whole line is link text
    block: int = 0  # the block element the line stands in: lines split by <br> share it

    @property
    def emphasised(self) -> bool:
        return self.heading is not None or self.bold


_BLOCK = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "html",
    "li", "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    "header", "footer", "br", "legend", "label-block",
}
_NEVER_CONTENT = {
    "script", "style", "noscript", "template", "svg", "iframe", "nav", "button", "select", "option", "input",
    "textarea", "head", "title", "meta", "link", "object", "embed", "canvas", "map", "dialog", "picture", "video",
    "audio",
    "aside",  # sidebars: related projects, share boxes, staff contacts; never the project's own facts
}
_BOLD = {"strong", "b"}
_CONTENT = {"article", "main"}
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


@functools.cache
def _chrome_pattern() -> re.Pattern[str]:
    return re.compile(vocabulary()["chrome"]["chrome_class_pattern"], re.I)


def _is_chrome(tag: Tag, chrome: re.Pattern[str], in_content: bool) -> bool:
    """``in_content``: the tag is inside an article or main element, where a header holds the title."""
    name = tag.name
    if name in _NEVER_CONTENT:
        return True
    attrs = tag.attrs
    if not attrs:
        return name in ("header", "footer") and not in_content
    if "hidden" in attrs or attrs.get("aria-hidden") == "true" or _HIDDEN_STYLE.search(attrs.get("style", "") or ""):
        return True
    role = attrs.get("role")
    if role in ("navigation", "search", "dialog", "alertdialog"):
        return True
    if role in ("banner", "contentinfo") and not in_content:
        return True
    classes = attrs.get("class") or []
    ident = " ".join([*(classes if isinstance(classes, list) else [classes]), attrs.get("id", "") or ""])
    if ident and chrome.search(ident):
        return True
    # The page's own header and footer are chrome; an article's header holds its title.
    return name in ("header", "footer") and not in_content


# Elements whose content is never text of the page; <script> and <style> cannot nest, so a regular
# expression removes them exactly, before BeautifulSoup has to build nodes for them.
_RAW_TEXT_ELEMENTS = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.I | re.S)


# Navigation menus are chrome and often most of a page's elements (mega-menus of hundreds of links).
# Removed before the tree is built, innermost first, so a nested menu cannot leak its outer part.
_NAVIGATION = re.compile(r"<nav\b(?:(?!<nav\b).)*?</nav\s*>", re.I | re.S)


def parse_document(html: str, keep_navigation: bool = False) -> BeautifulSoup:
    """The tree of a page for reading its content. ``keep_navigation`` keeps <nav> menus, for link
    discovery (pagination often sits in a <nav>)."""
    html = _RAW_TEXT_ELEMENTS.sub(" ", html)
    if not keep_navigation:
        html = _NAVIGATION.sub(" ", html)
    # Class lists stay plain strings: splitting them costs 15% of the tree building and is not needed.
    return BeautifulSoup(html, "lxml", multi_valued_attributes=None)


def page_title(soup: BeautifulSoup) -> str:
    title = soup.find("title")
    return one_line(title.get_text()) if title else ""


def visible_lines(soup: BeautifulSoup) -> list[Line]:
    """The visible text of the page as lines, chrome left out. Iterative, so deeply nested
    markup cannot exhaust the recursion limit."""
    chrome = _chrome_pattern()
    root = soup.body or soup
    lines: list[Line] = []
    runs: list[tuple[str, int | None, bool, bool, bool]] = []  # text, heading, bold, item, link
    blocks: list[int] = [0]  # innermost block element, by a running number
    counter = [0]
    context = {"heading": [], "bold": 0, "item": 0, "link": 0, "content": 0}

    def flush() -> None:
        if not runs:
            return
        text = one_line("".join(r[0] for r in runs))
        if text:
            visible = [r for r in runs if r[0].strip()]
            headings = {r[1] for r in visible}
            lines.append(Line(
                text=text,
                runs=[one_line(r[0]) for r in visible],
                heading=headings.pop() if len(headings) == 1 else None,
                bold=all(r[2] for r in visible),
                item=any(r[3] for r in visible),
                link=all(r[4] for r in visible),
                block=blocks[-1],
            ))
        runs.clear()

    # Each stack entry is a node to enter, or a ("exit", tag) marker.
    stack: list[object] = [child for child in reversed(list(root.children))]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            tag = node[1]
            if tag.name in _BLOCK:
                flush()
                if tag.name != "br":
                    blocks.pop()
            if tag.name in _CONTENT:
                context["content"] -= 1
            if tag.name in _HEADINGS:
                context["heading"].pop()
            elif tag.name in _BOLD:
                context["bold"] -= 1
            elif tag.name == "li":
                context["item"] -= 1
            elif tag.name == "a":
                context["link"] -= 1
            continue
        if isinstance(node, NavigableString):
            if isinstance(node, (Comment, Doctype, Declaration, ProcessingInstruction)) and not isinstance(node, CData):
                continue
            text = clean(str(node).replace("\n", " ")) if str(node).strip() else " "
            if str(node)[:1].isspace():
                text = " " + text
            if str(node)[-1:].isspace():
                text = text + " "
            heading = context["heading"][-1] if context["heading"] else None
            runs.append((text, heading, context["bold"] > 0, context["item"] > 0, context["link"] > 0))
            continue
        if not isinstance(node, Tag) or _is_chrome(node, chrome, context["content"] > 0):
            continue
        if node.name in _CONTENT:
            context["content"] += 1
        if node.name in _BLOCK:
            flush()
            if node.name != "br":
                counter[0] += 1
                blocks.append(counter[0])
        if node.name in _HEADINGS:
            context["heading"].append(_HEADINGS[node.name])
        elif node.name in _BOLD:
            context["bold"] += 1
        elif node.name == "li":
            context["item"] += 1
        elif node.name == "a":
            context["link"] += 1
        stack.append(("exit", node))
        stack.extend(reversed(list(node.children)))
    flush()
    return lines


def links(soup: BeautifulSoup, base_url: str) -> list[tuple[str, str]]:
    """Every ``<a href>`` as (absolute URL without fragment, link text), in page order."""
    base = soup.find("base", href=True)
    base_url = urljoin(base_url, base["href"]) if base else base_url
    found = []
    for anchor in soup.find_all("a", href=True):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
            continue
        url, _ = urldefrag(urljoin(base_url, href))
        found.append((url, one_line(anchor.get_text())))
    return found
