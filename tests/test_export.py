"""The official export (list of operations) -> operations rows and issues (parsers/export.py)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from parsers.export import (
    COLUMNS,
    ROW_FIELDS,
    html_to_text,
    mask_personal_numbers,
    read_operations,
    read_operations_bytes,
)
from pipeline.schema import OPERATIONS, TABLES
from pipeline.table_writer import to_arrow
from tests.conftest import FIXTURES

EXPORT = FIXTURES / "export"
PERSONAL = ("8112289874", "811228-9874", "811228")  # the invented sole trader's number, in any form


def _read(name: str):
    return read_operations_bytes((EXPORT / name).read_bytes(), name)


def _by_id(rows):
    return {r["project_id"]: r for r in rows}


def _problems(issues):
    return sorted((i["problem"], i["project_id"] or "", i["field"] or "") for i in issues)


def test_row_fields_are_the_registry_columns():
    assert list(ROW_FIELDS) == OPERATIONS.column_names


def test_bilingual_export_values_are_normalised_with_raw_kept():
    rows, _ = _read("operations.csv")
    ops = _by_id(rows)
    assert list(ops) == ["23-017-S01", "23-042-S02", "24-110-S03", "24-111-S01", "24-112-S02"]
    first = ops["23-017-S01"]
    assert first["total_budget_sek"] == Decimal("4973906") and first["total_budget_sek_raw"] == "4 973 906"
    assert first["eu_contribution_sek"] == Decimal("4476515")
    assert first["eu_cofinancing_rate"] == Decimal("0.9") and first["eu_cofinancing_rate_raw"] == "90%"
    assert first["start_date"] == date(2023, 9, 1) and first["end_date"] == date(2026, 8, 31)
    assert first["end_date_raw"] == "2026-08-31"
    assert first["owner"] == "Exempelby kommun" and first["owner_org_number"] == "2120009994"
    assert first["owner_org_number_raw"] == "212000-9994"
    assert (
        first["programme_area"] == "A" and first["specific_objective"] == "A2A" and first["intervention_code"] == "138"
    )
    assert first["programme_cci"] == "2021SE05SFPR001" and first["programme_period"] == "2021-2027"
    assert (
        first["fund"] == "ESF+"
        and first["beneficiary_city"] == "EXEMPELBY"
        and first["beneficiary_country"] == "Sverige"
    )
    # HTML summaries as text: no tags, entities decoded, paragraphs apart, the semicolon inside the quotes kept.
    assert first["summary"] == "Projektet ska hjälpa unga vuxna; i Exempelby närmare arbete.\n\nAndra stycket & mer."
    assert first["summary_raw"].startswith("<p>Projektet ska hjälpa unga vuxna; i")
    assert first["summary_en"] == "The project helps young adults in Exempelby towards work."
    assert first["source_line"] == 2 and first["export_source"] == "operations.csv"


def test_quoted_semicolons_line_breaks_and_quotes_stay_in_their_field():
    rows, _ = _read("operations.csv")
    second = _by_id(rows)["23-042-S02"]
    assert second["name"] == "Digital kompetens; i Norrbyn"
    assert second["summary"] == 'Rad ett rad två; med semikolon och "citat"'
    assert second["summary_raw"] == '<p>Rad ett\r\nrad två; med semikolon och "citat"</p>'
    assert second["eu_contribution_sek"] is None and second["eu_contribution_sek_raw"] is None  # empty is not an error
    assert second["start_date"] == date(2023, 5, 1)  # the fields after the quoted line break are in place
    assert json.loads(second["extra_fields"]) == {"Kommentar / Comment": "Budget ändrad"}
    # The row after the record that spans two lines starts on line 5 of the file.
    assert _by_id(rows)["24-110-S03"]["source_line"] == 5


def test_problems_are_issue_rows_with_raw_text():
    rows, issues = _read("operations.csv")
    assert _problems(issues) == [
        ("approximate_amount", "24-112-S02", "total_budget_sek"),
        ("missing_project_id", "", "project_id"),
        ("org_number_checksum", "24-111-S01", "owner_org_number"),
        ("personal_identity_number", "24-110-S03", "owner_org_number"),
        ("unknown_column", "", ""),
    ]
    by_problem = {i["problem"]: i for i in issues}
    assert by_problem["unknown_column"]["raw_value"] == "Kommentar / Comment"
    assert by_problem["approximate_amount"]["raw_value"] == "ca 3 miljoner"
    assert by_problem["missing_project_id"]["raw_value"].startswith(";SAKNAR DIARIENUMMER AB;")
    assert "line 7" in by_problem["missing_project_id"]["note"]
    assert all(i["url"] == "operations.csv" and set(i) == set(TABLES["parse_issues"].column_names) for i in issues)
    assert all(r["owner"] != "SAKNAR DIARIENUMMER AB" for r in rows)
    approximate = _by_id(rows)["24-112-S02"]
    assert approximate["total_budget_sek"] is None and approximate["total_budget_sek_raw"] == "ca 3 miljoner"
    # A number whose check digit fails is kept, reported (and gets no organisations row).
    assert _by_id(rows)["24-111-S01"]["owner_org_number"] == "8024001236"


def test_a_personal_identity_number_appears_nowhere():
    rows, issues = _read("operations.csv")
    sole_trader = _by_id(rows)["24-110-S03"]
    assert sole_trader["owner_org_number"] is None and sole_trader["owner_org_number_raw"] is None
    text = json.dumps([rows, issues], default=str, ensure_ascii=False)
    assert not any(p in text for p in PERSONAL)


def test_english_only_header_in_another_order_reads_the_same():
    rows, issues = _read("operations_english.csv")
    ops = _by_id(rows)
    assert list(ops) == ["23-017-S01", "23-042-S02"]
    bilingual = _by_id(_read("operations.csv")[0])
    for field in (
        "total_budget_sek",
        "eu_contribution_sek",
        "eu_cofinancing_rate",
        "start_date",
        "owner_org_number",
        "specific_objective",
        "programme_cci",
        "name",
    ):
        assert ops["23-017-S01"][field] == bilingual["23-017-S01"][field], field
    assert ops["23-042-S02"]["end_date"] == date(2026, 12, 31)
    assert ops["23-017-S01"]["summary"] == "Young adults; towards work."
    # Columns the file does not have are reported once each, as information; nothing else is an issue.
    assert {i["problem"] for i in issues} == {"missing_column"}
    assert {i["field"] for i in issues} == {
        "beneficiary_city",
        "beneficiary_country",
        "programme_area",
        "intervention_code",
        "summary_en",
        "fund",
    }
    assert all(i["severity"] == "info" for i in issues)


def test_rows_convert_to_the_registry_schema():
    rows, _ = _read("operations.csv")
    table = to_arrow(OPERATIONS, rows)
    assert table.num_rows == 5
    assert table.column("eu_cofinancing_rate").to_pylist()[0] == Decimal("0.900000")


def _csv(*lines: str, bom: bool = False, newline: str = "\r\n") -> str:
    return ("\ufeff" if bom else "") + newline.join(lines) + newline


HEADER = "Diarienummer / Operation ID;Stödmottagare / Beneficiary;Total projektbudget / Total budget SEK"


@pytest.mark.parametrize(
    "header",
    [
        HEADER,
        "Operation ID;Beneficiary;Total budget SEK",
        "Diarienummer;Stödmottagare;Total projektbudget",
        "  DIARIENUMMER  /  operation id ;stödmottagare/BENEFICIARY;total   projektbudget / total budget sek",
    ],
)
def test_a_header_matches_by_either_half_case_and_space_aside(header):
    rows, issues = read_operations(_csv(header, "23-001-S01;X AB;1 000"))
    assert rows[0]["project_id"] == "23-001-S01" and rows[0]["owner"] == "X AB"
    assert rows[0]["total_budget_sek"] == Decimal(1000)
    assert not [i for i in issues if i["problem"] != "missing_column"]


def test_a_header_half_that_is_unknown_is_reported_but_the_column_read():
    rows, issues = read_operations(_csv("Diarienummer / Operation number;Stödmottagare", "23-001-S01;X AB"))
    assert rows[0]["project_id"] == "23-001-S01"
    assert [i["raw_value"] for i in issues if i["problem"] == "export_header_variant"] == [
        "Diarienummer / Operation number"
    ]


def test_halves_that_name_different_columns_are_not_guessed():
    rows, issues = read_operations(_csv("Diarienummer;Stödmottagare / Operation Name", "23-001-S01;X AB"))
    assert rows[0]["owner"] is None and rows[0]["name"] is None
    assert json.loads(rows[0]["extra_fields"]) == {"Stödmottagare / Operation Name": "X AB"}
    assert [i["problem"] for i in issues if i["severity"] != "info"] == ["ambiguous_column"]


def test_a_row_that_does_not_fit_the_header_is_not_read():
    rows, issues = read_operations(_csv(HEADER, "23-001-S01;X AB;1 000", "23-002-S01;Y; AB;2 000", "23-003-S01;Z AB"))
    assert [r["project_id"] for r in rows] == ["23-001-S01"]
    malformed = [i for i in issues if i["problem"] == "malformed_row"]
    assert [i["raw_value"] for i in malformed] == ["23-002-S01;Y; AB;2 000", "23-003-S01;Z AB"]
    assert "line 3" in malformed[0]["note"] and "line 4" in malformed[1]["note"]


def test_a_repeated_diarienummer_keeps_the_first_row():
    rows, issues = read_operations(_csv(HEADER, "23-001-S01;X AB;1 000", "23-001-S01;Y AB;2 000"))
    assert [(r["project_id"], r["owner"]) for r in rows] == [("23-001-S01", "X AB")]
    assert [i["problem"] for i in issues if i["severity"] != "info"] == ["duplicate_operation"]


def test_bom_crlf_and_a_separator_hint_are_read():
    rows, issues = read_operations(_csv("sep=;", HEADER, "23-001-S01;X AB;1 000", bom=True))
    assert rows[0]["project_id"] == "23-001-S01" and rows[0]["source_line"] == 3
    assert not [i for i in issues if i["problem"] != "missing_column"]


def test_a_file_that_is_not_semicolon_separated_gives_no_rows():
    rows, issues = read_operations(_csv("Diarienummer,Stödmottagare", "23-001-S01,X AB"))
    assert rows == [] and [i["problem"] for i in issues] == ["not_semicolon_separated"]


def test_without_a_diarienummer_column_nothing_is_read():
    rows, issues = read_operations(_csv("Stödmottagare;Total projektbudget", "X AB;1 000"))
    assert rows == []
    assert [(i["problem"], i["severity"]) for i in issues if i["field"] == "project_id"] == [
        ("missing_column", "error")
    ]


def test_an_unclosed_quote_stops_with_an_issue_not_a_guess():
    rows, issues = read_operations(_csv(HEADER, "23-001-S01;X AB;1 000", '23-002-S01;"Y AB;2 000'))
    assert [r["project_id"] for r in rows] == ["23-001-S01"]
    assert [i["problem"] for i in issues if i["severity"] == "error"] == ["malformed_export"]


def test_bytes_that_are_not_utf8_are_not_guessed_at():
    rows, issues = read_operations_bytes(_csv(HEADER, "23-001-S01;Malmö stad;1 000").encode("cp1252"), "x.csv")
    assert rows == [] and [(i["problem"], i["url"]) for i in issues] == [("export_not_utf8", "x.csv")]


def test_empty_text_is_an_issue():
    assert read_operations("")[0] == [] and read_operations("\ufeff\r\n")[1][0]["problem"] == "empty_export"


@pytest.mark.parametrize(
    "raw, problem",
    [
        ("90", "unparseable_percentage"),  # no percent sign: not guessed to be 90 %
        ("0,9", "unparseable_percentage"),
        ("33,3333333%", "unparseable_percentage"),  # finer than decimal(9, 6)
        ("120%", "percentage_out_of_range"),
    ],
)
def test_rates_that_are_not_exact_percentages_are_issues(raw, problem):
    rows, issues = read_operations(_csv("Diarienummer;Unionens medfinansieringsgrad", f"23-001-S01;{raw}"))
    assert rows[0]["eu_cofinancing_rate"] is None and rows[0]["eu_cofinancing_rate_raw"] == raw
    assert [(i["problem"], i["raw_value"]) for i in issues if i["severity"] != "info"] == [(problem, raw)]


def test_a_start_after_the_end_keeps_neither_date():
    rows, issues = read_operations(_csv("Diarienummer;Startdatum;Slutdatum", "23-001-S01;2025-01-01;2024-01-01"))
    assert rows[0]["start_date"] is None and rows[0]["end_date"] is None
    assert rows[0]["start_date_raw"] == "2025-01-01"
    assert "start_after_end" in {i["problem"] for i in issues}


def test_a_value_under_an_unnamed_column_is_kept_and_reported():
    rows, issues = read_operations(_csv("Diarienummer;;Stödmottagare", "23-001-S01;oväntat;X AB", "23-002-S01;;Y AB"))
    assert json.loads(rows[0]["extra_fields"]) == {"column 2": "oväntat"} and rows[1]["extra_fields"] is None
    assert [i["project_id"] for i in issues if i["problem"] == "value_in_unnamed_column"] == ["23-001-S01"]


def test_personal_numbers_are_masked_in_every_raw_text():
    text = _csv(
        "Diarienummer;Stödmottagare;Projektägare organisationsnummer;Sammanfattning;Okänt",
        "23-001-S01;A B;19811228-9874;<p>Ring 811228-9874</p>;8112289874",
        ";Utan nummer;811228-9874;;",
    )
    rows, issues = read_operations(text)
    dump = json.dumps([rows, issues], ensure_ascii=False)
    assert not any(p in dump for p in PERSONAL)
    assert rows[0]["summary"] == "Ring [personal identity number withheld]"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<ul><li>ett</li><li>två</li></ul>", "ett\ntvå"),
        ("rad<br>rad<br/>rad", "rad\nrad\nrad"),
        ("<p>A&nbsp;&amp;&#160;B</p>", "A & B"),
        ("<p>x<script>alert(1)</script><!-- kommentar -->y</p><style>p{}</style>", "xy"),
        ("Ren text utan taggar\nmed två rader", "Ren text utan taggar\nmed två rader"),
        ("Mindre än <5 år", "Mindre än <5 år"),
        ("<div><p>stycke</p>svans</div>", "stycke\n\nsvans"),
    ],
)
def test_html_to_text(text, expected):
    assert html_to_text(text).value == expected and html_to_text(text).ok


def test_markup_escaped_twice_is_kept_with_a_warning():
    parsed = html_to_text("&lt;p&gt;dubbel&lt;/p&gt;")
    assert parsed.value == "<p>dubbel</p>" and parsed.problem == "markup_in_text" and parsed.severity == "warning"


def test_every_column_has_both_halves_of_its_header():
    assert len({c.field for c in COLUMNS}) == len(COLUMNS) == 18
    assert mask_personal_numbers("2021-2027, 4 973 906 kr, 212000-9994") == "2021-2027, 4 973 906 kr, 212000-9994"


def test_a_repeated_column_is_read_once_and_reported():
    rows, issues = read_operations(_csv("Diarienummer;Startdatum;Start date", "23-001-S01;2024-01-01;2024-02-01"))
    assert rows[0]["start_date"] == date(2024, 1, 1)
    assert json.loads(rows[0]["extra_fields"]) == {"Start date": "2024-02-01"}
    assert [i["problem"] for i in issues if i["severity"] == "error"] == ["duplicate_column"]


def test_free_text_columns_mask_personal_numbers_too():
    rows, _ = read_operations(_csv("Diarienummer;Stödmottagare", "23-001-S01;Anna Exempelsson 811228-9874"))
    assert rows[0]["owner"] == "Anna Exempelsson [personal identity number withheld]"


def test_two_unknown_columns_of_one_name_are_both_kept():
    rows, _ = read_operations(_csv("Diarienummer;Not;Not", "23-001-S01;a;b"))
    assert json.loads(rows[0]["extra_fields"]) == {"Not": "a", "Not (column 3)": "b"}


def test_an_empty_cell_is_an_unknown_value_not_an_issue():
    text = (
        "Diarienummer / Operation ID;Interventionsområde / Intervention field;EU-stöd i SEK / EU contribution SEK\n"
        "23-017-S01;;\n"
    )
    rows, issues = read_operations(text)
    assert rows[0]["intervention_code"] is None and rows[0]["eu_contribution_sek"] is None
    assert not [i for i in issues if i.get("project_id") == "23-017-S01"]
