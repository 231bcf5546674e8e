"""The one registry of output tables and their fields. It drives the pyarrow schemas (with the
descriptions stored in the Parquet metadata), the Dagster column schemas and docs/data-dictionary.md."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# Field types by their Arrow names (what str() of the Arrow type gives, so the data dictionary and the
# Dagster column schemas show them as they are). The registry is plain data: the parse workers import
# it without pyarrow (60 MB of memory in a process that imports it); the Arrow types are made where tables are.
S, I, D, B, F, TS = "string", "int64", "date32[day]", "bool", "double", "timestamp[ms, tz=UTC]"
MONEY = "decimal128(18, 2)"  # exact kronor and öre
SHARE = "decimal128(9, 6)"  # an exact fraction


@functools.cache
def arrow_type(name: str) -> pa.DataType:
    import pyarrow as pa

    types = {S: pa.string(), I: pa.int64(), D: pa.date32(), B: pa.bool_(), F: pa.float64(),
             TS: pa.timestamp("ms", tz="UTC"), MONEY: pa.decimal128(18, 2), SHARE: pa.decimal128(9, 6)}
    return types[name]


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # an Arrow type name, see arrow_type
    description: str
    unit: str | None = None
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ()
    personal_data: bool = False

    @functools.cached_property  # built once: to_arrow asks for it on every batch
    def schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema(
            [pa.field(f.name, arrow_type(f.type), nullable=f.nullable,
                      metadata={"description": f.description, **({"unit": f.unit} if f.unit else {})})
             for f in self.fields],
            metadata={"description": self.description, "table": self.name},
        )

    @functools.cached_property
    def column_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _raw(name: str, what: str) -> Field:
    return Field(f"{name}_raw", S, f"{what} exactly as printed on the page, before normalisation.")


PROJECTS = Table(
    "projects",
    "One row per project (or initiative) found on a page. No personal data.",
    (
        Field("project_id", S, "Stable identifier: the site's own project number where there is one, otherwise "
              "a prefix for the family, a slug of the name and a hash of the page address and name.", nullable=False),
        Field("project_number", S, "Project number as the site gives it (2016/00418, 22-025-S02); Diarienummer or Projektnummer."),
        Field("name", S, "Project name (Namn, or the page heading)."),
        Field("page_family", S, "Page family the project was read from (esf_2014_2020, esf_2014_2020_old, "
              "esf_2007_2013, esf_plus_2021_2027, tillvaxtverket_theme, skr_initiatives).", nullable=False),
        Field("source_url", S, "Address of the page the project was read from (a change is a row of project_changes).",
              nullable=False),
        Field("source", S, "Name of the source whose crawl read the project (pipeline/sources.toml, or derived from "
              "the start URL)."),
        Field("programme_period", S, "ESF programme period: 2007-2013, 2014-2020 or 2021-2027; null when the page does not show it."),
        Field("owner", S, "Project owner (Projektägare) as printed, white space normalised."),
        Field("owner_readable", S, "Owner with UPPERCASE names turned into ordinary capitalisation; otherwise as printed."),
        Field("owner_org_number", S, "Owner's organisation number, ten digits."),
        Field("region", S, "Region as printed (ESF region, county, or the region part of a theme-page heading)."),
        Field("region_name", S, "Canonical ESF region name for the printed region (Nationellt for national projects)."),
        Field("national", B, "True for a national project (ESF Nationellt)."),
        Field("region_nuts2", S, "NUTS-2 code (SE11 … SE33), from NUTS-2 kod or the region; null for national projects."),
        Field("county", S, "County as printed in a theme-page heading (Örebro län)."),
        Field("county_code", S, "SCB county code, two digits."),
        Field("planned_participants", I, "Planned number of participants (Planerat antal deltagare / Antal deltagare).", "persons"),
        Field("start_date", D, "First day of the project period."),
        Field("end_date", D, "Last day of the project period (31 December for a year-precision period)."),
        Field("period_precision", S, "Precision of the printed period: day, month or year."),
        Field("total_budget_sek", MONEY, "Total project budget (Total projektbudget), exact.", "SEK"),
        Field("esf_grant_sek", MONEY, "Granted ESF support (Beviljat ESF-stöd), exact.", "SEK"),
        Field("grant_share_of_budget", SHARE, "esf_grant_sek / total_budget_sek as computed here; "
              "not the decided EU co-financing rate.", "fraction"),
        Field("eu_cofinancing_rate", F, "Union co-financing rate as decided (Unionens medfinansieringsgrad), 50% -> 0.5.", "fraction"),
        Field("programme_area", S, "Programme area code (1, 2, 3 for 2007-2020; A-F for ESF+)."),
        Field("programme_area_name", S, "Swedish name of the programme area."),
        Field("specific_objective", S, "Specific objective code (2.1, A2A)."),
        Field("specific_objective_name", S, "Swedish name of the specific objective (or of its sub-area)."),
        Field("intervention_code", S, "Intervention type code (Interventionstyp), e.g. 102."),
        Field("intervention_code_name", S, "Meaning of the intervention code."),
        Field("project_phase", S, "Project phase (Projektfas) for 2007-2013: Förprojektering or Genomförande."),
        Field("postal_code", S, "Beneficiary postcode, five digits."),
        Field("postal_municipality_code", S, "SCB municipality code of the beneficiary postcode."),
        Field("call_number", S, "Call number (Utlysning), e.g. 2015/00123."),
        Field("fund", S, "Fund (Fond / Berörd fond) as printed."),
        Field("programme_cci", S, "Programme CCI number as printed (2021SE05SFPR)."),
        Field("beneficiary_address", S, "Beneficiary street address as printed."),
        Field("beneficiary_city", S, "Beneficiary town as printed (often UPPERCASE)."),
        Field("beneficiary_country", S, "Beneficiary country as printed."),
        Field("country_concerned", S, "Country concerned (Land som berörs)."),
        Field("secondary_theme_child_poverty", B, "Secondary theme: counteract child poverty (Ja/Nej)."),
        Field("strategic_importance", B, "Operation of strategic importance (Ja/Nej)."),
        Field("published_date", D, "Publication date of the article the record comes from (initiative pages)."),
        Field("funding_year", I, "Year the funding was granted, from the article text (initiative pages)."),
        Field("publisher", S, "Publisher named in the article (initiative pages)."),
        Field("funder", S, "Funder named in the article (initiative pages)."),
        Field("extra_fields", S, "JSON object of labels the parser does not know -> their raw values (never lost)."),
        Field("status", S, "active, or removed: only on proof, when its page answered 404/410, or when two complete "
              "crawls in a row no longer reached it (last known data kept). A failed or partial crawl changes no status.",
              nullable=False),
        Field("removed_at", D, "Day the project was found removed; null while it is active (cleared when it comes back)."),
        Field("first_seen_at", TS, "First run that saw the project (UTC)."),
        Field("last_seen_at", TS, "Last run that saw the project on the site (UTC)."),
        Field("last_changed_at", TS, "Last run in which one of its values changed (UTC)."),
        _raw("total_budget_sek", "Total budget"),
        _raw("esf_grant_sek", "ESF grant"),
        _raw("period", "Project period"),
        _raw("eu_cofinancing_rate", "Co-financing rate"),
        _raw("planned_participants", "Planned participants"),
    ),
    key=("project_id",),
)

CONTACTS = Table(
    "project_contacts",
    "Contact persons. Personal data (GDPR): kept apart so analysts can leave it out.",
    (
        Field("project_id", S, "Project the contact belongs to.", nullable=False),
        Field("name", S, "Contact person's name as printed."),
        Field("email", S, "E-mail address, lower-cased and validated."),
        Field("phone", S, "Phone number in E.164 form (+4654614310)."),
    ),
    personal_data=True,
)

SECTIONS = Table(
    "project_sections",
    "Prose sections of each project page, in page order.",
    (
        Field("project_id", S, "Project the section belongs to.", nullable=False),
        Field("position", I, "Order of the section on the page, from 0.", nullable=False),
        Field("heading", S, "Heading as printed; null for untitled prose."),
        Field("kind", S, "Normalised kind: summary, background, purpose, goal, description, accessibility, "
              "english_summary, other.", nullable=False),
        Field("language", S, "Language of the text (sv or en).", nullable=False),
        Field("text", S, "Text of the section, paragraphs joined by a blank line.", nullable=False),
    ),
    key=("project_id", "position"),
)

MUNICIPALITIES = Table(
    "project_municipalities",
    "Municipalities a project lists (Kommun).",
    (
        Field("project_id", S, "Project.", nullable=False),
        Field("municipality_name", S, "Municipality as printed.", nullable=False),
        Field("municipality_code", S, "SCB municipality code, four digits; null when the name is not known."),
        Field("county_code", S, "SCB county code, two digits."),
    ),
)

FIELDS = Table(
    "project_fields",
    "Every label and its raw value as printed, in page order: the lossless record behind projects.",
    (
        Field("project_id", S, "Project.", nullable=False),
        Field("position", I, "Order on the page.", nullable=False),
        Field("field", S, "Field the label fills; null for a label the parser does not know."),
        Field("label", S, "Label as printed.", nullable=False),
        Field("raw_value", S, "Value as printed (empty string for an empty value).", nullable=False),
    ),
)

PAGES = Table(
    "pages",
    "One row per address visited in the run.",
    (
        Field("url", S, "Address fetched.", nullable=False),
        Field("source", S, "Name of the source the page belongs to."),
        Field("page_key", S, "The page's identity within its source: its path and query relative to the source's "
              "root, independent of host and port."),
        Field("via", S, "How the page was reached: start (the source's start URL), link (a link or a redirect), or "
              "known (a page of the state, checked again by --full-refresh)."),
        Field("source_crawl", S, "complete, or partial with the reasons, for the page's source in this run: only a "
              "complete crawl may count a project as no longer listed."),
        Field("status", I, "HTTP status; null when no response was received."),
        Field("fetched_at", TS, "When the response was received (UTC)."),
        Field("content_sha256", S, "SHA-256 of the body; the raw HTML is stored under raw/ by this hash."),
        Field("content_type", S, "Content-Type header."),
        Field("encoding", S, "Text encoding the body was decoded with."),
        Field("page_kind", S, "project, listing, press_release (grants announced, see grant_announcements) or other "
              "(decided from the content); null when not fetched."),
        Field("page_family", S, "Page family of a project page."),
        Field("records", I, "How many projects the page gave.", nullable=False),
        Field("error", S, "Why the page could not be fetched or parsed; null when it was."),
        Field("fetch_outcome", S, "fetched, not_modified (304), revisit_skipped (left alone by the revisit policy), "
              "disallowed (robots.txt), redirected or failed."),
        Field("redirect_to", S, "For a redirect: the address it pointed to (crawled as a page of its own)."),
        Field("parsed_in_run", B, "True when the page was parsed in this run; false when its rows were carried over "
              "unchanged from the previous run."),
    ),
    key=("url",),
)

ISSUES = Table(
    "parse_issues",
    "Everything the parser met and did not fully understand, with the raw text.",
    (
        Field("url", S, "Page.", nullable=False),
        Field("project_id", S, "Project, when the issue belongs to one."),
        Field("field", S, "Field or label concerned."),
        Field("raw_value", S, "The raw text."),
        Field("problem", S, "Machine-readable problem code (unknown_label, unparseable_amount, fetch_failed, …).", nullable=False),
        Field("severity", S, "error (value lost), warning (value kept, doubtful) or info.", nullable=False),
        Field("note", S, "Human-readable detail."),
    ),
)

CHANGES = Table(
    "project_changes",
    "History: one row per project field whose value changed between two runs, kept across runs.",
    (
        Field("project_id", S, "Project.", nullable=False),
        Field("field", S, "Column of projects that changed (or status).", nullable=False),
        Field("old_value", S, "Previous value, as text."),
        Field("new_value", S, "New value, as text."),
        Field("observed_at", TS, "Run that saw the change (UTC).", nullable=False),
    ),
)

SOURCES = Table(
    "sources",
    "One row per source known to the output: whether this run crawled it, and whether that crawl was complete.",
    (
        Field("source", S, "Name of the source.", nullable=False),
        Field("start_url", S, "Start URL the source was last crawled from."),
        Field("crawled_in_run", B, "True when this run crawled the source.", nullable=False),
        Field("crawl_complete", B, "True when this run's crawl of the source was complete (every listing and "
              "pagination page fetched and read, no budget reached); null when it was not crawled."),
        Field("partial_reason", S, "Why the crawl was partial; null when complete or not crawled."),
        Field("pages_reached", I, "Addresses of the source visited in this run.", nullable=False),
        Field("projects_active", I, "Projects of the source that are active after this run.", nullable=False),
        Field("projects_removed", I, "Projects of the source that are removed after this run.", nullable=False),
        Field("removed_in_run", I, "Projects this run removed (each with proof).", nullable=False),
        Field("last_complete_at", TS, "When the source's last complete crawl ran (UTC)."),
    ),
    key=("source",),
)

GRANT_ANNOUNCEMENTS = Table(
    "grant_announcements",
    "Grants announced in ESF-rådet's press releases, one row per sentence \"<owner> får <amount> till projektet "
    "<name>\", in page order. They come weeks before the project bank shows the project. Amounts here are ROUNDED "
    "as printed (4,2 miljoner kronor): each comes with its precision and its raw text, and none of them is ever "
    "copied into the exact money columns of projects.",
    (
        Field("source_url", S, "Address of the press release.", nullable=False),
        Field("position", I, "Order of the announcement on the page, from 0.", nullable=False),
        Field("announced_on", D, "Date of the press release (its Publicerad label or the date above its first call); "
              "null when the page shows none (an issue says so)."),
        Field("call_name", S, "Call the grant was made under, as printed without its quotes (Utlysningen “…”); null "
              "when the release names none."),
        Field("call_amount_sek", MONEY, "Amount the call announced (Utlyst belopp), ROUNDED as printed: 40 miljoner "
              "kronor -> 40000000.00. Not exact: the real amount lies within call_amount_sek ± call_amount_precision / 2.",
              "SEK"),
        Field("call_amount_precision", MONEY, "Place of the last printed digit of call_amount_sek, in kronor "
              "(40 miljoner kronor -> 1000000.00; 42,5 miljoner kronor -> 100000.00).", "SEK"),
        Field("call_amount_raw", S, "The call amount exactly as printed."),
        Field("owner", S, "Project owner as printed in the sentence.", nullable=False),
        Field("project_name", S, "Project name as printed in the sentence, without surrounding quotes.", nullable=False),
        Field("grant_sek", MONEY, "Grant announced, ROUNDED as printed: 4,2 miljoner kronor -> 4200000.00. Not exact: the "
              "real grant lies within grant_sek ± grant_precision / 2 (compare with projects.esf_grant_sek, which is "
              "exact). Null when the amount could not be read (an issue holds its raw text).", "SEK"),
        Field("grant_precision", MONEY, "Place of the last printed digit of grant_sek, in kronor: 4,2 miljoner kronor -> "
              "100000.00 (rounded to 0.1 million), 12 miljoner kronor -> 1000000.00, 850 000 kronor -> 1.00 (printed to "
              "the krona).", "SEK"),
        Field("grant_raw", S, "The grant amount exactly as printed.", nullable=False),
        Field("sentence", S, "The whole sentence as printed.", nullable=False),
        Field("project_id", S, "Project of projects.parquet announced here: the one project whose name and owner "
              "match (case, white space, quotes, dashes, a municipality's spellings and an owner's unit do not count); "
              "null until the project bank shows it, or when more than one project matches."),
    ),
    key=("source_url", "position"),
)

TABLES: dict[str, Table] = {t.name: t for t in (PROJECTS, CONTACTS, SECTIONS, MUNICIPALITIES, FIELDS, PAGES, ISSUES,
                                               CHANGES, GRANT_ANNOUNCEMENTS, SOURCES)}
