"""Pages in UTF-8, UTF-8 with BOM, ISO-8859-1 and Windows-1252, declared in the header, in a meta tag
or not at all, all give correct å, ä, ö. Empty, truncated, huge and deeply nested pages do not crash."""

from __future__ import annotations

import pytest

from parsers.page import parse_page

PAGE = """<html><head>{meta}<title>2019/00077 - Ökad delaktighet</title></head><body>
<h1>2019/00077 - Ökad delaktighet</h1>
<p>Projektägare:</p><p>Åre kommun, Näringslivsenheten</p>
<p>Region:</p><p>Mellersta Norrland</p>
<p>Total projektbudget:</p><p>1 000 000</p>
<h2>Bakgrund</h2><p>Vi vill öka möjligheterna för unga i Åre – “så att fler får arbete”.</p>
</body></html>"""


def _check(result):
    [record] = result.records
    assert record.columns["owner"] == "Åre kommun, Näringslivsenheten"
    assert record.columns["name"] == "Ökad delaktighet"
    assert record.sections[0].text == "Vi vill öka möjligheterna för unga i Åre – “så att fler får arbete”."


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "iso-8859-1", "windows-1252"])
@pytest.mark.parametrize("declared", ["header", "meta", "none"])
def test_encodings(encoding, declared):
    label = {"utf-8-sig": "utf-8"}.get(encoding, encoding)
    meta = f'<meta charset="{label}">' if declared == "meta" else ""
    text = PAGE.format(meta=meta)
    if encoding == "iso-8859-1":
        text = text.replace("–", "-").replace("“", '"').replace("”", '"')  # not in Latin-1
    body = text.encode(encoding)
    content_type = f"text/html; charset={label}" if declared == "header" else "text/html"
    result = parse_page(body, "http://127.0.0.1/p.html", content_type)
    [record] = result.records
    assert record.columns["owner"] == "Åre kommun, Näringslivsenheten"
    assert record.columns["name"] == "Ökad delaktighet"
    assert "Åre" in record.sections[0].text and "Ã" not in record.sections[0].text


def test_mislabelled_utf8_is_still_read_as_utf8():
    body = PAGE.format(meta='<meta charset="iso-8859-1">').encode("utf-8")
    _check(parse_page(body, "http://127.0.0.1/p.html", "text/html; charset=iso-8859-1"))


@pytest.mark.parametrize("body", [b"", b"   ", b"<html", b"\xff\xfe\x00", b"<p>Projektnummer: 2019/0"])
def test_broken_bodies_do_not_raise(body):
    result = parse_page(body, "http://127.0.0.1/p.html", None)
    assert result.kind in ("other", "project", "listing")


def test_truncated_page_keeps_what_it_has():
    body = PAGE.format(meta="").encode()[:260]
    result = parse_page(body, "http://127.0.0.1/p.html", "text/html")
    assert result.records and result.records[0].columns["owner"] == "Åre kommun, Näringslivsenheten"


def test_deeply_nested_markup():
    body = ("<div>" * 5000 + "<p>Projektägare: Region Dalarna</p>" + "</div>" * 5000).encode()
    result = parse_page(body, "http://127.0.0.1/p.html", "text/html")
    assert result.kind in ("project", "other")


def test_multi_megabyte_page():
    prose = "<p>" + "Lång text om projektet och dess mål. " * 200 + "</p>"
    body = PAGE.format(meta="").replace("</body>", prose * 300 + "</body>").encode()
    assert len(body) > 2_000_000
    result = parse_page(body, "http://127.0.0.1/p.html", "text/html")
    assert result.records[0].columns["owner"] == "Åre kommun, Näringslivsenheten"
