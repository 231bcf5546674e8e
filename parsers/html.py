"""HTML in, a flat list of visible text lines out, whatever the markup.

The page parser never looks at CSS classes or tag names of the content: it reads the lines this
module produces. A line remembers only what matters for reading labels and headings: the separate
text runs it is made of (so ``<b>Region</b>Norra Mellansverige`` can be split where the elements
meet), whether it is a heading element, wholly bold, a list item or wholly a link.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import re
from dataclasses import dataclass, field
from html import escape
from typing import Iterator
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree

from parsers.fields import Issue
from parsers.lookups import vocabulary
from parsers.text import clean, join_clean, one_line

# ---------------------------------------------------------------- decoding

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# As browsers do (WHATWG Encoding): a page labelled Latin-1 or ASCII is decoded as Windows-1252.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
    "windows-1252": "cp1252",
    "x-cp1252": "cp1252",
}
_UTF16 = ("utf-16", "utf-16-le", "utf-16-be")
# UTF-16 without a byte-order mark is recognised from the first bytes: markup is ASCII, so every
# other byte is NUL (``<`` is ``3C 00`` in UTF-16LE). Swedish letters keep the pattern (å is ``E5 00``).
_UTF16_SNIFF_BYTES = 1024


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


def _sniff_utf16(body: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when the first bytes are ASCII markup in UTF-16 (a NUL in every
    other byte), whatever the page is labelled (browsers sniff the same way)."""
    if body.find(b"\x00", 0, _UTF16_SNIFF_BYTES) < 0:
        return None
    head = body[: _UTF16_SNIFF_BYTES & ~1]
    half = len(head) // 2
    if half < 2:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if odd >= half * 0.5 and even <= half * 0.1:
        return "utf-16-le"
    if even >= half * 0.5 and odd <= half * 0.1:
        return "utf-16-be"
    return None


_SURROGATE_RUN = re.compile("[\udc80-\udcff]+")


def _undecodable(count: int, encoding: str) -> Issue:
    return Issue(
        None,
        None,
        "undecodable_bytes",
        "warning",
        f"{count} replacement character{'s' if count != 1 else ''} (U+FFFD) for bytes that are not valid {encoding}",
    )


def _utf8_or_cp1252(body: bytes, issues: list[Issue]) -> tuple[str, str]:
    """Bytes that are not valid UTF-8: UTF-8 where they are, Windows-1252 for the bytes that are not.
    A page without a single valid UTF-8 sequence is simply a Windows-1252 page; a UTF-8 page with a
    pasted-in Latin-1 fragment keeps both its labels and the fragment's å, ä, ö (an issue says so)."""
    text = body.decode("utf-8", "surrogateescape")  # C speed: each invalid byte becomes U+DC80..U+DCFF
    if len(text) == len(body):  # not one multi-byte UTF-8 sequence: a legacy page
        text = body.decode("cp1252", "replace")
        if replaced := text.count("\ufffd"):
            issues.append(_undecodable(replaced, "cp1252"))
        return text, "cp1252"
    fallback = replaced = 0

    def legacy(match: re.Match[str]) -> str:
        nonlocal fallback, replaced
        raw = match[0].encode("utf-8", "surrogateescape")
        fallback += len(raw)
        text = raw.decode("cp1252", "replace")
        replaced += text.count("\ufffd")
        return text

    text = _SURROGATE_RUN.sub(legacy, text)
    issues.append(
        Issue(
            None,
            None,
            "mixed_encoding",
            "warning",
            f"{fallback} byte{'s' if fallback != 1 else ''} not valid UTF-8 in a UTF-8 page, read as Windows-1252",
        )
    )
    if replaced:
        issues.append(_undecodable(replaced, "utf-8 or cp1252"))
    return text, "utf-8"


def decode_page(body: bytes, content_type: str | None = None) -> tuple[str, str, list[Issue]]:
    """Bytes -> (text, encoding used, issues). A byte-order mark wins; then UTF-16 recognised from
    its NUL bytes; then text that is valid UTF-8 is UTF-8 whatever the label says (Latin-1 text
    with å, ä, ö is practically never valid UTF-8, while mislabelled UTF-8 is common); then the
    HTTP header, the meta tag, and UTF-8 with Windows-1252 for the bytes that are not UTF-8.
    Replacement characters (U+FFFD) for bytes that fit no encoding are counted in an issue,
    control characters are removed (see ``strip_controls``), never silently."""
    issues: list[Issue] = []
    text, encoding = _decode(body, content_type, issues)
    # The cheap tests on the bytes (C speed) spare the common page a scan of its text.
    if (
        encoding not in ("utf-8", "cp1252")
        or len(body.translate(None, _C0_BYTES)) != len(body)
        or _CONTROL_REF_BYTES.search(body)
    ):
        text, control_issues = strip_controls(text)
        issues.extend(control_issues)
    return text, encoding, issues


def _decode(body: bytes, content_type: str | None, issues: list[Issue]) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(encoding, errors="replace")
            break
    else:
        encoding = _sniff_utf16(body)
        if encoding is None:
            try:
                return body.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                pass
            meta = _META_CHARSET.search(body[:8192])
            for candidate in (
                charset_from_content_type(content_type),
                meta[1].decode("ascii", "ignore") if meta else None,
            ):
                declared = _codec(candidate)
                if declared and declared != "utf-8" and declared not in _UTF16:
                    encoding = declared
                    break
            else:
                return _utf8_or_cp1252(body, issues)
        text = body.decode(encoding, errors="replace")
    if "\ufffd" in text and (replaced := text.count("\ufffd")):
        issues.append(_undecodable(replaced, encoding))
    return text, encoding


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Bytes -> (text, encoding used), as ``decode_page`` without its issues."""
    text, encoding, _ = decode_page(body, content_type)
    return text, encoding


# ---------------------------------------------------------------- control characters

# C0 controls and DEL render as nothing (NUL as U+FFFD in libxml2) and would split or hide a label
# ("Projekt\0nummer"); tab, line feed, form feed and carriage return are white space and stay.
_C0 = "".join(chr(c) for c in (*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F))
_C0_BYTES = _C0.encode("ascii")
# The same characters written as numeric character references (&#0; &#x1F;); libxml2 keeps them
# (&#0; as U+FFFD). C1 references (&#150;) are read as Windows-1252 by libxml2 already, as in
# browsers, and raw C1 characters by ``parsers.text.clean``.
_CONTROL_REF = (
    r"&#(?:[xX]0*(?:[0-8bBeEfF]|1[0-9a-fA-F]|7[fF])(?![0-9a-fA-F])|0*(?:[0-8]|11|1[4-9]|2[0-9]|3[01]|127)(?![0-9]));?"
)
_CONTROL_REF_BYTES = re.compile(_CONTROL_REF.encode("ascii"))
_CONTROLS = re.compile(f"[{re.escape(_C0)}]|{_CONTROL_REF}")


def strip_controls(text: str) -> tuple[str, list[Issue]]:
    """``text`` without C0 control characters and DEL, raw or as character references, and the
    issue that says how many of which were removed."""
    removed: dict[str, int] = {}

    def remove(match: re.Match[str]) -> str:
        removed[match[0]] = removed.get(match[0], 0) + 1
        return ""

    text = _CONTROLS.sub(remove, text)
    if not removed:
        return text, []
    return text, [
        Issue(
            None,
            None,
            "control_characters_removed",
            "warning",
            f"{sum(removed.values())} control characters removed ({_tally(removed)}); the text around them is kept",
        )
    ]


def _tally(found: dict[str, int]) -> str:
    def name(char: str) -> str:
        return char if char.startswith("&") else f"U+{ord(char):04X}"

    return ", ".join(f"{name(c)} ×{n}" for c, n in sorted(found.items(), key=lambda kv: -kv[1])[:8])


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
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "html",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
    "header",
    "footer",
    "br",
    "legend",
    "label-block",
}
_NEVER_CONTENT = {
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "nav",
    "button",
    "select",
    "option",
    "input",
    "textarea",
    "head",
    "title",
    "meta",
    "link",
    "object",
    "embed",
    "canvas",
    "map",
    "dialog",
    "picture",
    "video",
    "audio",
    "aside",  # sidebars: related projects, share boxes, staff contacts; never the project's own facts
}
_BOLD = {"strong", "b"}
# Preformatted text: a line break in it is a line (a page served as text/plain is read as one <pre>).
_PRE = {"pre", "listing", "plaintext", "xmp"}
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
# Elements that mark the lines inside them: heading, bold, list item, link, preformatted.
_ROLES = {*_HEADINGS, *_BOLD, "li", "a", *_PRE}
_CONTENT = {"article", "main"}
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
    ident = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    if ident != " " and chrome.search(ident):
        return True
    # The page's own header and footer are chrome; an article's header holds its title.
    return name in ("header", "footer") and not in_content


# ---------------------------------------------------------------- the tree

# Limits on the work one page may cost. Every limit is a module-level name, so tests (and a
# deployment) can set it; the issue it gives names it.
#
# MAX_ELEMENTS: start tags read per page. Each element costs a tree node, a line and a token, so
# a page of a million tiny elements would cost gigabytes and seconds; at this cap a page's cost is
# bounded whatever its elements are (figures in docs/measurements.md). The page is read up to its
# MAX_ELEMENTS-th start tag, the rest is not read, and an ``element_cap_reached`` issue (error) says
# where it stopped. Real pages have a few thousand elements at most; the crawler's body limit
# bounds the text. There is no time limit: libxml2 cannot be interrupted, and with the elements
# bounded the time is too.
MAX_ELEMENTS = 100_000
# MAX_DEPTH: nesting kept when libxml2 gives up on a page. libxml2 stops at 2048 levels even
# with huge_tree (a fatal error, and the rest of the page is lost); such a page is parsed again
# with a parser target that builds the tree itself and puts elements deeper than MAX_DEPTH into
# their ancestor at that depth: their text is kept, a block element among them becomes a line
# break, chrome among them (scripts, menus, hidden elements) stays out. A ``page_too_deep`` issue
# (warning) says so. Pages within libxml2's limit keep every level.
MAX_DEPTH = 1_000

# An XML declaration (XHTML pages) may name an encoding the text no longer has: it is decoded already.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_START_TAG = re.compile(r"<[a-zA-Z]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_document(html: str) -> etree._Element:
    """The tree of a page, as ``read_document`` without its issues."""
    return read_document(html)[0]


def read_document(html: str) -> tuple[etree._Element, list[Issue]]:
    """The tree of a page (lxml's HTML parser, libxml2: forgiving, and the whole tree is built in C,
    so menus, scripts and styles cost little; the walk below skips them), and the issues met: a
    page cut at MAX_ELEMENTS, a page too deep for libxml2 (read again by ``_FlatteningTarget``),
    a parse libxml2 stopped for another reason. A document without any element gives an empty
    <html>."""
    issues: list[Issue] = []
    html = _cap_elements(_XML_DECLARATION.sub("", html, count=1), issues)
    try:
        # As UTF-8 bytes with the encoding given (as fast as a str; a meta tag cannot change it),
        # so that a lone surrogate is found here: in a str, libxml2 stops at it with a fatal error.
        data = html.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: only a str caller can hand them in
        html, count = _LONE_SURROGATE.subn("\ufffd", html)
        issues.append(
            Issue(
                None,
                None,
                "undecodable_bytes",
                "warning",
                f"{count} lone surrogate{'s' if count != 1 else ''} replaced by U+FFFD",
            )
        )
        data = html.encode("utf-8")
    # huge_tree: without it libxml2 stops at 256 levels of nesting and at 10 MB text nodes. Comments
    # stay in the tree (the walk skips them, itertext too): an unclosed one is seen by ``_unclosed``.
    parser = etree.HTMLParser(remove_pis=True, no_network=True, huge_tree=True, encoding="utf-8")
    try:
        root = etree.fromstring(data, parser)
    except (etree.ParserError, etree.XMLSyntaxError):
        root = None
    fatal = unfinished_comment = None
    for error in parser.error_log:  # empty for most pages with libxml2 2.14
        if error.level == etree.ErrorLevels.FATAL:
            fatal = fatal or error
        elif error.type == etree.ErrorTypes.ERR_COMMENT_NOT_FINISHED:  # libxml2 < 2.14 drops such a comment
            unfinished_comment = error
    if fatal is not None:
        root = _read_again(data, fatal, issues)
    root = root if root is not None else etree.Element("html")
    _unclosed(html, root, issues, unfinished_comment is not None)
    return root, issues


# Elements whose content is text up to their end tag: never closed, they take the rest of the page.
_RAW_TEXT = {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"}


def _unclosed(html: str, root: etree._Element, issues: list[Issue], comment_not_finished: bool = False) -> None:
    """A comment or a raw-text element (script, style, textarea, title ...) never closed runs to the
    end of the page and hides the rest of it, in a browser as here: not silently. Either is the
    last node of the tree, holding the end of the page (libxml2 before 2.14 drops the comment and
    says so in its error log: ``comment_not_finished``)."""
    last = root
    while len(last):
        last = last[-1]
    if comment_not_finished or last.tag is etree.Comment:
        hidden = len(last.text or "") if last.tag is etree.Comment else len(html) - html.rfind("<!--")
        if not comment_not_finished and (
            html.rstrip().endswith("-->") or not html.rstrip().endswith((last.text or "").rstrip()[-64:])
        ):
            return
        issues.append(
            Issue(
                None,
                None,
                "unclosed_comment",
                "warning",
                f"a comment is never closed: the remaining {hidden} characters of the page are "
                "hidden in it (as in a browser)",
            )
        )
    elif last.tag in _RAW_TEXT and last.text and "<" in last.text and html.rstrip().endswith(last.text.rstrip()[-64:]):
        issues.append(
            Issue(
                None,
                None,
                "unclosed_element",
                "warning",
                f"a <{last.tag}> is never closed: the remaining {len(last.text)} characters of the page "
                "are its content, not page text (as in a browser)",
            )
        )


def _cap_elements(html: str, issues: list[Issue]) -> str:
    """``html`` up to its MAX_ELEMENTS-th start tag (a ``<`` followed by a letter: tags in scripts
    and comments count too, so a page may be cut a little early, never late)."""
    # A start tag takes at least two characters and one "<": most pages are ruled out by their length.
    if len(html) <= 2 * MAX_ELEMENTS or html.count("<") <= MAX_ELEMENTS:
        return html
    cut = next(itertools.islice(_START_TAG.finditer(html), MAX_ELEMENTS, None), None)
    if cut is None:
        return html
    issues.append(
        Issue(
            None,
            None,
            "element_cap_reached",
            "error",
            f"more than MAX_ELEMENTS = {MAX_ELEMENTS} elements: the page is read up to its "
            f"{MAX_ELEMENTS}th start tag (the first {cut.start()} of {len(html)} characters); "
            f"the remaining {len(html) - cut.start()} characters are not read",
        )
    )
    return html[: cut.start()]


def _read_again(data: bytes, error: etree._LogEntry, issues: list[Issue]) -> etree._Element | None:
    """libxml2 stopped with a fatal error (the rest of the page would be lost): parse again with a
    parser target (libxml2's tokenizer, our tree builder), which has no depth limit."""
    target = _FlatteningTarget(MAX_DEPTH)
    parser = etree.HTMLParser(target=target, no_network=True, huge_tree=True, encoding="utf-8")
    try:
        root = etree.fromstring(data, parser)
    except (etree.ParserError, etree.XMLSyntaxError):
        root = None
    if root is None:
        root = target.close_all()
    still = [e for e in parser.error_log if e.level == etree.ErrorLevels.FATAL]
    too_deep = "depth" in error.message.lower() or target.deepest > MAX_DEPTH
    if too_deep:
        issues.append(
            Issue(
                None,
                None,
                "page_too_deep",
                "warning",
                f"elements nested {target.deepest} levels deep, more than libxml2 reads "
                f"({error.message.strip()}); read again, {target.flattened} elements deeper than "
                f"MAX_DEPTH = {MAX_DEPTH} put into their ancestor: their text is kept",
            )
        )
    if still:
        issues.append(
            Issue(
                None,
                None,
                "parse_stopped",
                "error",
                f"libxml2 stopped reading the page at line {still[0].line}: {still[0].message.strip()}; "
                "the text before that point is read",
            )
        )
    elif not too_deep:
        issues.append(
            Issue(
                None,
                None,
                "parse_stopped",
                "info",
                f"libxml2 stopped reading the page at line {error.line} ({error.message.strip()}); "
                "read again to its end",
            )
        )
    return root


class _Shim:
    """What ``_is_chrome`` looks at, for an element the flattening target does not create."""

    __slots__ = ("tag", "attrib")

    def __init__(self, tag: str, attrib: dict[str, str]) -> None:
        self.tag, self.attrib = tag, attrib


def _line_break(builder: etree.TreeBuilder) -> None:
    builder.start("br", {})
    builder.end("br")


class _FlatteningTarget:
    """A parser target building the tree as lxml would, except that elements deeper than
    ``max_depth`` are not created: their text goes to the element at that depth, a block element
    among them becomes a <br> (lines stay apart), and the text of chrome among them (a script, a
    menu, a hidden element) is left out, as the walk would leave it out."""

    def __init__(self, max_depth: int) -> None:
        self.builder = etree.TreeBuilder()
        self.max_depth = max_depth
        self.open: list[str] = []  # the elements created and not yet ended
        self.depth = self.deepest = self.flattened = 0
        self.hidden_from = 0  # depth of the flattened chrome element whose text is left out, or 0
        self.chrome = _chrome_pattern()

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        self.deepest = max(self.deepest, self.depth)
        if self.depth <= self.max_depth:
            self.builder.start(tag, attrib)
            self.open.append(tag)
            return
        self.flattened += 1
        if not self.hidden_from and _is_chrome(_Shim(tag, attrib), self.chrome, True):  # type: ignore[arg-type]
            self.hidden_from = self.depth
        if tag in _BLOCK and not self.hidden_from:
            _line_break(self.builder)

    def end(self, tag: str) -> None:
        if self.depth <= self.max_depth:
            self.builder.end(tag)
            self.open.pop()
        else:
            if tag in _BLOCK and tag != "br" and not self.hidden_from:
                _line_break(self.builder)
            if self.hidden_from == self.depth:
                self.hidden_from = 0
        self.depth -= 1

    def data(self, data: str) -> None:
        if not self.hidden_from:
            self.builder.data(data)

    def close(self) -> etree._Element:
        return self.close_all()

    def close_all(self) -> etree._Element | None:
        """The tree so far, every element still open ended."""
        while self.open:
            self.builder.end(self.open.pop())
        try:
            return self.builder.close()
        except Exception:  # nothing was built
            return None


_MARKUP = re.compile(r"<[a-zA-Z!/?]")


def plain_text_as_html(text: str, content_type: str | None) -> str:
    """A page served as ``text/plain`` that holds no markup is text, and each of its lines a line: it
    is read as one <pre>. One that holds markup is an HTML page on a misconfigured server, read as
    HTML (so is every page served under another type)."""
    if content_type and "text/plain" in content_type.lower() and not _MARKUP.search(text):
        return "<pre>" + escape(text, quote=False) + "</pre>"
    return text


def no_text_issue(root: etree._Element) -> Issue:
    """The issue of a page that shows no text: say whether it has none or hides all of it."""
    hidden = sum(len(t.strip()) for t in root.itertext())
    where = (
        f"its {hidden} characters of text are all in the head, scripts, styles, templates, menus or hidden elements"
        if hidden
        else "it has no text at all"
    )
    return Issue(None, None, "no_visible_text", "warning", f"the page shows no text: {where}")


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
    bold = item = link = content = pre = 0
    skipped = None

    def flush() -> None:
        if not runs:
            return
        # Runs are clean already (``_run_text``): a run's own text is itself without its edge spaces.
        text = join_clean("".join([r[0] for r in runs]))
        if text:
            visible = [r for r in runs if r[0].strip()]
            if len(visible) == 1:  # most lines are one text run
                run = visible[0]
                lines.append(Line(text, [run[0].strip()], run[1], run[2], run[3], run[4], blocks[-1]))
            else:
                levels = {r[1] for r in visible}
                lines.append(
                    Line(
                        text=text,
                        runs=[r[0].strip() for r in visible],
                        heading=levels.pop() if len(levels) == 1 else None,
                        bold=all(r[2] for r in visible),
                        item=any(r[3] for r in visible),
                        link=all(r[4] for r in visible),
                        block=blocks[-1],
                    )
                )
        runs.clear()

    def add(raw: str | None) -> None:
        if raw:
            if pre and "\n" in raw:  # preformatted text: its line breaks are lines, as <br> would be
                for n, part in enumerate(raw.split("\n")):
                    if n:
                        flush()
                    if part:
                        runs.append((_run_text(part), headings[-1] if headings else None, bold > 0, item > 0, link > 0))
                return
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
            if name in _ROLES:  # one look-up for the many elements that have none of these roles
                if name in _HEADINGS:
                    headings.append(_HEADINGS[name])
                elif name in _BOLD:
                    bold += 1
                elif name == "li":
                    item += 1
                elif name == "a":
                    link += 1
                else:
                    pre += 1
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
        if name in _ROLES:
            if name in _HEADINGS:
                headings.pop()
            elif name in _BOLD:
                bold -= 1
            elif name == "li":
                item -= 1
            elif name == "a":
                link -= 1
            else:
                pre -= 1
        add(element.tail)
    flush()
    return lines


def _anchors(
    root: etree._Element, base_url: str, malformed: list[str] | None = None
) -> Iterator[tuple[str, etree._Element]]:
    """Every ``<a href>`` that leads to a page, as (absolute URL without fragment, the element); the
    hrefs that lead nowhere (``http://[oops/``) go to ``malformed`` when it is given."""
    base = root.find(".//base[@href]")
    if base is not None:
        try:
            declared = urljoin(base_url, base.get("href").strip())
            urlsplit(declared)
            base_url = declared
        except ValueError:  # a malformed <base href> ("http://[x/"): links resolve against the page's address
            pass
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
            continue
        try:
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
            if "[" in url:
                urlsplit(url)  # raises for a malformed IPv6 host
        except ValueError:  # "http://[oops/" leads nowhere; parsing the whole page used to fail on it
            if malformed is not None:
                malformed.append(href)
            continue
        yield url, anchor


def hrefs(root: etree._Element, base_url: str, malformed: list[str] | None = None) -> list[str]:
    """Every link's absolute URL without fragment, in page order (what a crawler follows); hrefs that
    lead nowhere go to ``malformed`` when it is given."""
    return [url for url, _ in _anchors(root, base_url, malformed)]


def anchors(root: etree._Element, base_url: str, malformed: list[str] | None = None) -> list[tuple[str, str]]:
    """Every ``<a href>`` as (absolute URL without fragment, link text as printed, unnormalised), in page
    order; hrefs that lead nowhere go to ``malformed`` when it is given."""
    return [(url, _text_of(anchor)) for url, anchor in _anchors(root, base_url, malformed)]


def links(root: etree._Element, base_url: str) -> list[tuple[str, str]]:
    """Every ``<a href>`` as (absolute URL without fragment, link text), in page order."""
    return [(url, one_line(_text_of(anchor))) for url, anchor in _anchors(root, base_url)]
