"""ESF-rådet's official export of the project bank (the "list of operations" the EU regulation requires)
-> rows of the ``operations`` table, and issues.

The export is a semicolon-separated UTF-8 text with one header row of bilingual names
(``Diarienummer / Operation ID``). A column is recognised by its whole name or by either half, case and
white space aside, so a reordered export or one with a header in one language reads the same. Every value
goes through the normalisers the project pages use (``parsers.values``), and the text as printed is kept
beside each normalised value (``<column>_raw``). What is not understood is an issue with its raw text: an
unknown column (its values kept in ``extra_fields``), a value that does not parse, a row that does not fit
the header, a row without a Diarienummer. Nothing is guessed. A personal identity number (a sole trader's
"organisation number") is never copied anywhere, not even into an issue.

Pure: text in, plain dicts out. ``read_operations(text, source)``; ``read_operations_bytes(data, source)`` for
the file's bytes as downloaded (UTF-8, so a line break inside a quoted field stays as it is in the file).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from parsers import values as v
from parsers.fields import NORMALISERS, _period_of_number
from parsers.lookups import codes
from parsers.text import clean, label_key, one_line


@dataclass(frozen=True)
class Column:
    field: str  # column of the operations table
    swedish: str  # the halves of the export's header, as ESF-rådet prints them
    english: str
    kind: str  # how the value is read, see _READERS


COLUMNS: tuple[Column, ...] = (
    Column("project_id", "Diarienummer", "Operation ID", "project_number"),
    Column("owner", "Stödmottagare", "Beneficiary", "text"),
    Column("owner_org_number", "Projektägare organisationsnummer", "Beneficiary ID", "org_number"),
    Column("beneficiary_city", "Projektägare ort", "Beneficiary city", "text"),
    Column("beneficiary_country", "Stödmottagarens land", "Beneficiary country", "text"),
    Column("name", "Namn på insatsen", "Operation Name", "text"),
    Column("programme_area", "Programområde", "Priority", "programme_area"),
    Column("specific_objective", "Specifikt mål", "Specific objective concerned", "specific_objective"),
    Column("intervention_code", "Interventionsområde", "Intervention field", "intervention_code"),
    Column("total_budget_sek", "Total projektbudget", "Total budget SEK", "sek"),
    Column("eu_cofinancing_rate", "Unionens medfinansieringsgrad", "Union co-financing rate", "rate"),
    Column("eu_contribution_sek", "EU-stöd i SEK", "EU contribution SEK", "sek"),
    Column("summary", "Sammanfattning", "Summary", "html"),
    Column("summary_en", "Sammanfattning engelsk", "Summary in english", "html"),
    Column("start_date", "Startdatum", "Start date", "date"),
    Column("end_date", "Slutdatum", "End date", "date"),
    Column("fund", "EU-fond", "EU fund", "text"),
    Column("programme_cci", "Program CCI", "Program CCI", "cci"),
)
BY_FIELD = {c.field: c for c in COLUMNS}
# Columns read as text (white space folded, nothing else changed): no _raw column beside them.
TEXT_FIELDS = frozenset(c.field for c in COLUMNS if c.kind == "text")
RAW_FIELDS = tuple(c.field for c in COLUMNS if c.kind != "text")
# Every column of an operations row, in the registry's order (pipeline/schema.py OPERATIONS follows it).
ROW_FIELDS = (
    "project_id",
    "project_id_raw",
    "source_line",
    "export_source",
    "owner",
    "owner_readable",
    "owner_org_number",
    "owner_org_number_raw",
    "beneficiary_city",
    "beneficiary_country",
    "name",
    "programme_period",
    "programme_area",
    "programme_area_raw",
    "specific_objective",
    "specific_objective_raw",
    "intervention_code",
    "intervention_code_raw",
    "fund",
    "programme_cci",
    "programme_cci_raw",
    "total_budget_sek",
    "total_budget_sek_raw",
    "eu_contribution_sek",
    "eu_contribution_sek_raw",
    "eu_cofinancing_rate",
    "eu_cofinancing_rate_raw",
    "start_date",
    "start_date_raw",
    "end_date",
    "end_date_raw",
    "summary",
    "summary_raw",
    "summary_en",
    "summary_en_raw",
    "extra_fields",
)
DEFAULT_SOURCE = "export"
_FRACTION_PLACES = Decimal("0.000001")  # operations.eu_cofinancing_rate is decimal(9, 6)


def _header_index() -> dict[str, str]:
    """Header key -> field: the whole bilingual name and each half."""
    index: dict[str, str] = {}
    for column in COLUMNS:
        for name in (f"{column.swedish} / {column.english}", column.swedish, column.english):
            key = label_key(name)
            assert index.get(key, column.field) == column.field, f"header {name!r} is ambiguous"
            index[key] = column.field
    return index


_HEADERS = _header_index()


# ---------------------------------------------------------------- values

_MARKUP = re.compile(r"<[a-zA-Z/!?]|&(?:#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_TAG_IN_TEXT = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
# Elements that end a paragraph, and those that end a line.
_BLOCKS = frozenset(
    "p div section article header footer blockquote pre table thead tbody tr h1 h2 h3 h4 h5 h6 ul ol dl".split()
)
_LINES = frozenset("li dt dd td th caption figcaption".split())  # and br
_SPACES = re.compile(r"\s+")


def html_to_text(raw: str | None) -> v.Parsed[str]:
    """An HTML summary (``<p>…</p>``) -> plain text: paragraphs joined by a blank line, list items and
    ``<br>`` on lines of their own, entities decoded, scripts, styles and comments left out. Text without
    markup is only white-space cleaned. Markup left in the text after decoding (an export that escaped its
    HTML twice) is kept as it is, with a warning."""
    if not one_line(raw):
        return v.Parsed()
    assert raw is not None
    if not _MARKUP.search(raw):
        text = clean(raw)
    else:
        from lxml import etree
        from lxml import html as lxml_html

        try:
            root = lxml_html.fragment_fromstring(raw, create_parent="div")
        except (etree.ParserError, ValueError) as exc:
            return v.Parsed(None, "unparseable_html", f"{type(exc).__name__}: {exc}")
        etree.strip_elements(
            root, etree.Comment, etree.ProcessingInstruction, "script", "style", "template", with_tail=False
        )
        parts: list[str] = []
        for event, element in etree.iterwalk(root, events=("start", "end")):
            tag = element.tag if isinstance(element.tag, str) else ""
            # White space inside HTML text is one space (a line break in the source is not one on the page).
            if event == "start":
                parts.append("\n\n" if tag in _BLOCKS else "\n" if tag == "br" else "")
                parts.append(_SPACES.sub(" ", element.text or ""))
            else:
                parts.append("\n\n" if tag in _BLOCKS else "\n" if tag in _LINES else "")
                if element is not root:
                    parts.append(_SPACES.sub(" ", element.tail or ""))
        text = clean("".join(parts))
        text = re.sub(r"\n{3,}", "\n\n", re.sub(r"\n[ \t]+|[ \t]+\n", "\n", text)).strip()
    if not text:
        return v.Parsed()
    if _TAG_IN_TEXT.search(text):
        return v.Parsed(
            text, "markup_in_text", "the text still holds markup after decoding (escaped twice?)", "warning"
        )
    return v.Parsed(text)


def _rate(raw: str) -> v.Parsed[Decimal]:
    """``90%`` -> 0.9, exact; a rate that needs more than six decimals of a fraction is not rounded."""
    parsed = v.parse_percentage(raw)
    if parsed.value is not None and parsed.value != parsed.value.quantize(_FRACTION_PLACES):
        return v.Parsed(None, "unparseable_percentage", "finer than a millionth of a fraction (decimal(9, 6))")
    return parsed


def _programme_area(raw: str) -> v.Parsed[str]:
    parsed = NORMALISERS["programme_area"](raw)
    return v.Parsed(parsed.value[0] if parsed.value else None, parsed.problem, parsed.note, parsed.severity)


_READERS: dict[str, Callable[[str], v.Parsed[Any]]] = {
    "project_number": v.parse_project_number,
    "text": v.parse_text,
    "org_number": v.parse_org_number,
    "programme_area": _programme_area,
    "specific_objective": NORMALISERS["specific_objective"],
    "intervention_code": NORMALISERS["intervention_code"],
    "sek": v.parse_sek,
    "rate": _rate,
    "html": html_to_text,
    "date": v.parse_date,
    "cci": NORMALISERS["cci"],
}

# A personal identity number anywhere in a text (YYMMDD-NNNN, with or without its century, separator and
# spaces): the raw text of a row that could not be read is published with these masked.
# (The day may be a coordination number's, plus 60. A phone number can have the same shape: it is masked too.)
_PERSONAL_NUMBER = re.compile(
    r"(?<![0-9])(?:1[89]|20)?[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
    r"\s?[-+]?\s?[0-9]{4}(?![0-9])"
)
WITHHELD_TEXT = "[personal identity number withheld]"


def mask_personal_numbers(text: str | None) -> str | None:
    """The text with everything shaped like a personal identity number replaced by ``WITHHELD_TEXT``."""
    return _PERSONAL_NUMBER.sub(WITHHELD_TEXT, text) if text else text


def _programme_period(row: dict[str, Any]) -> tuple[str | None, str | None]:
    """The programme period of a row: from its Program CCI (a known code, also with the three-digit
    programme suffix, ``2021SE05SFPR001``), else from its Diarienummer's shape. Returns (period, conflict note)."""
    known = codes()["programme_cci"]
    cci = row.get("programme_cci") or ""
    by_cci = known.get(cci) or (known.get(cci[:-3]) if re.fullmatch(r".+[0-9]{3}", cci) else None)
    by_number = _period_of_number(row.get("project_id") or "")
    if by_cci and by_number and by_cci != by_number:
        return by_cci, f"Program CCI says {by_cci}, the Diarienummer's shape {by_number}; the CCI kept"
    return by_cci or by_number, None


# ---------------------------------------------------------------- the file


@dataclass
class _Header:
    fields: dict[int, str]  # cell position -> field
    unknown: dict[int, str]  # cell position -> header as printed


def _issue(
    source: str,
    problem: str,
    severity: str,
    field: str | None = None,
    raw: str | None = None,
    note: str | None = None,
    project_id: str | None = None,
) -> dict[str, Any]:
    """An issue row in the shape of ``parse_issues`` (pipeline/rows.py)."""
    return {
        "url": source,
        "project_id": project_id,
        "field": field,
        "raw_value": raw,
        "problem": problem,
        "severity": severity,
        "note": note,
    }


def _read_header(cells: list[str], line: int, source: str, issues: list[dict[str, Any]]) -> _Header:
    header = _Header({}, {})
    seen: dict[str, int] = {}
    for position, cell in enumerate(cells):
        printed = one_line(cell)
        key = label_key(printed)
        field = _HEADERS.get(key)
        reported = False
        if field is None and "/" in key:
            halves = [h for h in key.split("/") if h]
            matched = {_HEADERS[h] for h in halves if h in _HEADERS}
            if len(matched) == 1:
                field = matched.pop()
                issues.append(
                    _issue(
                        source,
                        "export_header_variant",
                        "info",
                        field,
                        printed,
                        f"line {line}: matched by one half of the name only",
                    )
                )
            elif len(matched) > 1:
                issues.append(
                    _issue(
                        source,
                        "ambiguous_column",
                        "error",
                        None,
                        printed,
                        f"line {line}: the halves name different columns ({', '.join(sorted(matched))}); "
                        "its values are in extra_fields",
                    )
                )
                reported = True
        if field is None:
            if printed:
                header.unknown[position] = printed
                if not reported:
                    issues.append(
                        _issue(
                            source,
                            "unknown_column",
                            "warning",
                            None,
                            printed,
                            f"line {line}, column {position + 1}: not a column of the export; its values "
                            "are kept in extra_fields",
                        )
                    )
            else:
                header.unknown[position] = ""  # an unnamed column: only a value in it is an issue
            continue
        if field in seen:
            issues.append(
                _issue(
                    source,
                    "duplicate_column",
                    "error",
                    field,
                    printed,
                    f"line {line}: column {position + 1} repeats column {seen[field] + 1}; the first one "
                    "is read, this one's values are in extra_fields",
                )
            )
            header.unknown[position] = printed
            continue
        seen[field] = position
        header.fields[position] = field
    for column in COLUMNS:
        if column.field not in seen:
            issues.append(
                _issue(
                    source,
                    "missing_column",
                    "error" if column.field == "project_id" else "info",
                    column.field,
                    None,
                    f"no column {column.swedish} / {column.english}",
                )
            )
    return header


def _records(text: str) -> tuple[list[tuple[int, list[str]]], str | None]:
    """(first line of the record, its cells) for every record; the error that stopped the reading, if any."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))  # HTML summaries can be long
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"', doublequote=True, strict=True)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        return records, f"line {line}: {exc}; the rest of the file was not read"
    return records, None


def read_operations(text: str, source: str = DEFAULT_SOURCE) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The export's text -> (operations rows, issue rows). ``source`` (the file or address the text came
    from) is every issue's ``url`` and every row's ``export_source``. One row per Diarienummer, in file
    order; a repeated Diarienummer keeps its first row (the others are issues)."""
    issues: list[dict[str, Any]] = []
    text = text[1:] if text.startswith("\ufeff") else text
    first_line = text.split("\n", 1)[0].strip()
    offset = 0
    if first_line.casefold().replace(" ", "") == "sep=;":  # a spreadsheet's hint for the separator
        text = text.split("\n", 1)[1] if "\n" in text else ""
        offset = 1
    records, error = _records(text)
    records = [(line + offset, cells) for line, cells in records]
    if error:
        issues.append(_issue(source, "malformed_export", "error", None, None, error))
    records = [(line, cells) for line, cells in records if any(c.strip() for c in cells)]
    if not records:
        issues.append(_issue(source, "empty_export", "error", None, None, "no header row"))
        return [], issues
    header_line, header_cells = records[0]
    if len(header_cells) == 1 and any(sep in header_cells[0] for sep in (",", "\t")):
        issues.append(
            _issue(
                source,
                "not_semicolon_separated",
                "error",
                None,
                mask_personal_numbers(header_cells[0]),
                f"line {header_line}: the header has no semicolons; nothing was read",
            )
        )
        return [], issues
    header = _read_header(header_cells, header_line, source, issues)
    if "project_id" not in header.fields.values():
        return [], issues
    rows: list[dict[str, Any]] = []
    first: dict[str, int] = {}  # project id -> line of the row kept
    for line, cells in records[1:]:
        row = _read_row(cells, line, len(header_cells), header, source, issues)
        if row is None:
            continue
        pid = row["project_id"]
        if pid in first:
            issues.append(
                _issue(
                    source,
                    "duplicate_operation",
                    "warning",
                    "project_id",
                    row["project_id_raw"],
                    f"line {line}: the Diarienummer is on line {first[pid]} too; that row kept",
                    project_id=pid,
                )
            )
            continue
        first[pid] = line
        rows.append(row)
    return rows, issues


def read_operations_bytes(
    data: bytes, source: str = DEFAULT_SOURCE
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The export's bytes -> (operations rows, issue rows). The export is UTF-8 (with or without a BOM); bytes
    that are not UTF-8 are not guessed at (a spreadsheet's re-save in Windows-1252, say): one error, no rows."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [
            _issue(
                source,
                "export_not_utf8",
                "error",
                None,
                None,
                f"byte {exc.start}: not UTF-8 ({exc.reason}); nothing was read",
            )
        ]
    return read_operations(text, source)


def _read_row(
    cells: list[str], line: int, width: int, header: _Header, source: str, issues: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if len(cells) != width:
        # A semicolon outside quotes (or a lost one) shifts every value after it: nothing of the row is trusted.
        issues.append(
            _issue(
                source,
                "malformed_row",
                "error",
                None,
                mask_personal_numbers(";".join(cells)),
                f"line {line}: {len(cells)} cells where the header has {width}; row not read",
            )
        )
        return None
    raw = {field: cells[position] for position, field in header.fields.items()}
    pid_parsed = v.parse_project_number(raw.get("project_id"))
    if pid_parsed.value is None:
        issues.append(
            _issue(
                source,
                "missing_project_id",
                "error",
                "project_id",
                mask_personal_numbers(";".join(cells)),
                f"line {line}: a row without a Diarienummer; row not read",
            )
        )
        return None
    pid = pid_parsed.value
    row: dict[str, Any] = dict.fromkeys(ROW_FIELDS)
    row.update(source_line=line, export_source=source)
    row_issues: list[dict[str, Any]] = []
    for field, value in raw.items():
        column = BY_FIELD[field]
        if not value.strip():  # an empty cell is an unknown value, not a value the reader failed on
            row[field] = None
            if field not in TEXT_FIELDS:
                row[f"{field}_raw"] = None
            continue
        parsed = _READERS[column.kind](value)
        withheld = parsed.problem in v.WITHHELD_PROBLEMS
        printed = value if value.strip() else None  # exactly as in the file
        if field not in TEXT_FIELDS:
            row[f"{field}_raw"] = None if withheld else mask_personal_numbers(printed)
        if parsed.problem:
            row_issues.append(
                _issue(
                    source,
                    parsed.problem,
                    parsed.severity,
                    field,
                    None if withheld else mask_personal_numbers(printed),
                    f"line {line}" + (f": {parsed.note}" if parsed.note else ""),
                    pid,
                )
            )
        value_out = parsed.value
        if isinstance(value_out, str) and column.kind in ("html", "text"):
            value_out = mask_personal_numbers(value_out)  # free text: a personal identity number in it is withheld
        row[field] = value_out
    if row["start_date"] and row["end_date"] and row["start_date"] > row["end_date"]:
        row_issues.append(
            _issue(
                source,
                "start_after_end",
                "error",
                "start_date",
                f"{row['start_date_raw']} / {row['end_date_raw']}",
                f"line {line}: the start is after the end; both dates left out",
                pid,
            )
        )
        row["start_date"] = row["end_date"] = None
    row["owner_readable"] = v.readable_name(row["owner"])
    row["programme_period"], conflict = _programme_period(row)
    if conflict:
        row_issues.append(
            _issue(
                source,
                "conflicting_values",
                "warning",
                "programme_period",
                row["programme_cci_raw"],
                f"line {line}: {conflict}",
                pid,
            )
        )
    extra: dict[str, str] = {}
    for p in sorted(header.unknown):
        if not one_line(cells[p]):
            continue
        name = header.unknown[p] or f"column {p + 1}"
        if name in extra:  # two columns of one name: both kept
            name = f"{name} (column {p + 1})"
        extra[name] = mask_personal_numbers(cells[p]) or ""
        if not header.unknown[p]:
            row_issues.append(
                _issue(
                    source,
                    "value_in_unnamed_column",
                    "warning",
                    None,
                    extra[name],
                    f"line {line}: a value under an empty header ({name}); kept in extra_fields",
                    pid,
                )
            )
    row["extra_fields"] = json.dumps(extra, ensure_ascii=False) if extra else None
    issues.extend(row_issues)
    return row
