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
from typing import Iterator
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree

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


def _is_chrome(tag: etree._Element, chrome: re.Pattern[str], in_content: bool) -> bool:
    """``in_content``: the tag is inside an article or main element, where a header holds the title."""
    name = tag.tag
    if name in _NEVER_CONTENT:
        return True
    attrs = tag.attrib
    if not attrs:
        return name in ("header", "footer") and not in_content
    if "hidden" in attrs or attrs.get("aria-hidden") == "true" or _HIDDEN_STYLE.search(attrs.get("style", "") or ""):
        return True
    role = attrs.get("role")
    if role in ("navigation", "search", "dialog", "alertdialog"):
        return True
    if role in ("banner", "contentinfo") and not in_content:
        return True
    ident = f'{attrs.get("class") or ""} {attrs.get("id") or ""}'
    if ident != " " and chrome.search(ident):
        return True
    # The page's own header and footer are chrome; an article's header holds its title.
    return name in ("header", "footer") and not in_content


# lxml refuses a str that carries an XML encoding declaration (XHTML pages); the text is decoded already.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")


def parse_document(html: str) -> etree._Element:
    """The tree of a page (lxml's HTML parser, libxml2: forgiving, and the whole tree is built in C,
    so menus, scripts and styles cost little; the walk below skips them). A document without any
    element gives an empty <html>."""
    # huge_tree: without it libxml2 stops at 256 levels of nesting and silently drops the rest of the page.
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(_XML_DECLARATION.sub("", html, count=1), parser)
    except (etree.ParserError, etree.XMLSyntaxError):
        root = None
    return root if root is not None else etree.Element("html")


def _text_of(element: etree._Element) -> str:
    return "".join(element.itertext())


def page_title(root: etree._Element) -> str:
    title = root.find(".//title")
    return one_line(_text_of(title)) if title is not None else ""


def _run_text(raw: str) -> str:
    """A text node as a run: cleaned, but a leading or trailing space stays (it separates words
    from the neighbouring element's text)."""
    if not raw.strip():
        return " "
    text = clean(raw.replace("\n", " "))
    if raw[:1].isspace():
        text = " " + text
    if raw[-1:].isspace():
        text = text + " "
    return text


def visible_lines(root: etree._Element) -> list[Line]:
    """The visible text of the page as lines, chrome left out. One pass of lxml's ``iterwalk``
    (start and end events), so deeply nested markup cannot exhaust the recursion limit; a text
    node belongs to the element it is in (``text``) or, after an element ends, to its parent
    (``tail``)."""
    chrome = _chrome_pattern()
    body = root.find("body")
    if body is None:
        body = root
    lines: list[Line] = []
    runs: list[tuple[str, int | None, bool, bool, bool]] = []  # text, heading, bold, item, link
    blocks: list[int] = [0]  # innermost block element, by a running number
    counter = 0
    headings: list[int] = []
    bold = item = link = content = 0
    skipped = None

    def flush() -> None:
        if not runs:
            return
        text = one_line("".join(r[0] for r in runs))
        if text:
            visible = [r for r in runs if r[0].strip()]
            levels = {r[1] for r in visible}
            lines.append(Line(
                text=text,
                runs=[one_line(r[0]) for r in visible],
                heading=levels.pop() if len(levels) == 1 else None,
                bold=all(r[2] for r in visible),
                item=any(r[3] for r in visible),
                link=all(r[4] for r in visible),
                block=blocks[-1],
            ))
        runs.clear()

    def add(raw: str | None) -> None:
        if raw:
            runs.append((_run_text(raw), headings[-1] if headings else None, bold > 0, item > 0, link > 0))

    walker = etree.iterwalk(body, events=("start", "end"))
    for event, element in walker:
        if element is body:
            if event == "start":
                add(body.text)
            continue
        name = element.tag
        if event == "start":
            if not isinstance(name, str) or _is_chrome(element, chrome, content > 0):
                # Skipped with everything inside: its end event follows at once, and the text
                # after it still belongs to the parent.
                walker.skip_subtree()
                skipped = element
                continue
            if name in _CONTENT:
                content += 1
            if name in _BLOCK:
                flush()
                if name != "br":
                    counter += 1
                    blocks.append(counter)
            if name in _HEADINGS:
                headings.append(_HEADINGS[name])
            elif name in _BOLD:
                bold += 1
            elif name == "li":
                item += 1
            elif name == "a":
                link += 1
            add(element.text)
            continue
        if element is skipped:
            add(element.tail)
            continue
        if name in _BLOCK:
            flush()
            if name != "br":
                blocks.pop()
        if name in _CONTENT:
            content -= 1
        if name in _HEADINGS:
            headings.pop()
        elif name in _BOLD:
            bold -= 1
        elif name == "li":
            item -= 1
        elif name == "a":
            link -= 1
        add(element.tail)
    flush()
    return lines


def _anchors(root: etree._Element, base_url: str) -> Iterator[tuple[str, etree._Element]]:
    """Every ``<a href>`` that leads to a page, as (absolute URL without fragment, the element)."""
    base = root.find(".//base[@href]")
    base_url = urljoin(base_url, base.get("href").strip()) if base is not None else base_url
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
            continue
        # Menus repeat hundreds of plain absolute and root-relative links; urljoin only for the rest.
        if "/." in href or "\\" in href:
            url = urljoin(base_url, href)
        elif href.startswith(("http://", "https://")):
            url = href
        elif href.startswith("/") and not href.startswith("//"):
            url = origin + href
        else:
            url = urljoin(base_url, href)
        if "#" in url:
            url, _ = urldefrag(url)
        yield url, anchor


def hrefs(root: etree._Element, base_url: str) -> list[str]:
    """Every link's absolute URL without fragment, in page order (what a crawler follows)."""
    return [url for url, _ in _anchors(root, base_url)]


def links(root: etree._Element, base_url: str) -> list[tuple[str, str]]:
    """Every ``<a href>`` as (absolute URL without fragment, link text), in page order."""
    return [(url, one_line(_text_of(anchor))) for url, anchor in _anchors(root, base_url)]
