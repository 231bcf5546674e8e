"""The one registry of output tables and their fields. It drives the pyarrow schemas (with the
descriptions stored in the Parquet metadata), the Dagster column schemas and docs/data-dictionary.md, and
its constraints (allowed values, ranges, required columns, the key, rules across columns) drive the
checks on projects (pipeline/checks.py makes the row checks and the Dagster check specs from them).

A constraint with a ``check`` is tested on every run: a blocking one stops the publish, the others warn.
A constraint without one is documented (docs/data-dictionary.md) and tested on the demo output by the
suite (tests/test_field_constraints.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import pyarrow as pa

# Field types by their Arrow names (what str() of the Arrow type gives, so the data dictionary and the
# Dagster column schemas show them as they are). The registry is plain data: the parse workers import
# it without pyarrow (docs/measurements.md); the Arrow types are made where tables are.
S, I, D, B, F, TS = "string", "int64", "date32[day]", "bool", "double", "timestamp[ms, tz=UTC]"
MONEY = "decimal128(18, 2)"  # exact kronor and öre
SHARE = "decimal128(9, 6)"  # an exact fraction
STRINGS = "list<item: string>"  # a list of texts


@functools.cache
def arrow_type(name: str) -> pa.DataType:
    import pyarrow as pa

    types = {
        S: pa.string(),
        I: pa.int64(),
        D: pa.date32(),
        B: pa.bool_(),
        F: pa.float64(),
        TS: pa.timestamp("ms", tz="UTC"),
        MONEY: pa.decimal128(18, 2),
        SHARE: pa.decimal128(9, 6),
        STRINGS: pa.list_(pa.string()),
    }
    return types[name]


@dataclass(frozen=True)
class CheckSpec:
    """A check a constraint makes (or a run-level check, pipeline/checks.py), as the Dagster UI shows it:
    its name, whether a failure stops the publish, and what it tests (the AssetCheckSpec's description)."""

    name: str
    blocking: bool
    description: str


# The reference lists a field's ``values_from`` may name: what a value of the list is (the checks'
# notes say "every <column> is <this>"). The values themselves are read from parsers/data by
# parsers.lookups.reference_values when the checks are built, never repeated here.
REFERENCE_LISTS = {
    "nuts2": "a known Swedish NUTS-2 code",
    "programme_periods": "a known ESF programme period",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # an Arrow type name, see arrow_type
    description: str
    unit: str | None = None
    nullable: bool = True  # False: required, never null (the required columns' check, when the table has one)
    # Constraints on the values (null is always allowed here; ``nullable`` says whether it may be null):
    enum: tuple[str, ...] = ()  # the only values allowed
    minimum: float | None = None  # value >= minimum
    maximum: float | None = None  # value <= maximum
    values_from: str | None = None  # a reference list of parsers/data (REFERENCE_LISTS)
    # The check that tests them on every run; None: documented and tested on the demo output only.
    check: CheckSpec | None = None
    # The vocabulary field(s) (parsers/data/vocabulary.toml [fields]) the column is read from or derived
    # from, when not only the one of its own name. A column of projects named as a vocabulary field
    # comes from it without saying so (the parser's columns land in projects by name).
    source: str | tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.source, str):
            object.__setattr__(self, "source", (self.source,))
        if self.values_from is not None and self.values_from not in REFERENCE_LISTS:
            raise ValueError(f"{self.name}: values_from={self.values_from!r} is not one of {sorted(REFERENCE_LISTS)}")
        if self.check is not None and not self.has_value_constraints:
            raise ValueError(f"{self.name}: check {self.check.name} has no constraint to test")

    @property
    def required(self) -> bool:
        return not self.nullable

    @property
    def has_value_constraints(self) -> bool:
        return bool(self.enum) or self.minimum is not None or self.maximum is not None or self.values_from is not None


# The comparisons a rule may make, and the symbol the checks' notes and the data dictionary show.
RULE_OPERATORS = ("<=", "<", ">=", ">")


@dataclass(frozen=True)
class Rule:
    """A rule across two columns of a row: ``left <op> right`` wherever both are known."""

    left: str
    op: str  # one of RULE_OPERATORS
    right: str
    check: CheckSpec

    def __post_init__(self) -> None:
        if self.op not in RULE_OPERATORS:
            raise ValueError(f"{self.check.name}: operator {self.op!r} is not one of {RULE_OPERATORS}")

    @property
    def text(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ()  # unique in the table, and never null
    personal_data: bool = False
    # Checks of the table's key (unique and never null) and of its required columns (nullable=False), run
    # on every run; None: documented only. "{columns}" in a description names the columns.
    key_check: CheckSpec | None = None
    required_check: CheckSpec | None = None
    rules: tuple[Rule, ...] = ()  # rules across columns, each with its check

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        unknown = [c for c in (*self.key, *(c for r in self.rules for c in (r.left, r.right))) if c not in names]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"{self.name}: unknown or repeated columns {unknown or names}")

    @functools.cached_property  # built once: to_arrow asks for it on every batch
    def schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema(
            [
                pa.field(
                    f.name,
                    arrow_type(f.type),
                    nullable=f.nullable,
                    metadata={"description": f.description, **({"unit": f.unit} if f.unit else {})},
                )
                for f in self.fields
            ],
            metadata={"description": self.description, "table": self.name},
        )

    @functools.cached_property
    def column_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @functools.cached_property
    def required_columns(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @functools.cached_property
    def check_specs(self) -> list[CheckSpec]:
        """The checks the table's constraints make, in the order the UI lists them: the key's, the
        required columns', the rules', then the fields' in column order."""
        specs = []
        for check, columns in ((self.key_check, self.key), (self.required_check, self.required_columns)):
            if check is not None:
                specs.append(replace(check, description=check.description.format(columns=", ".join(columns))))
        specs += [rule.check for rule in self.rules]
        specs += [f.check for f in self.fields if f.check is not None]
        return specs


def _raw(name: str, what: str) -> Field:
    return Field(f"{name}_raw", S, f"{what} exactly as printed on the page, before normalisation.", source=name)


PROJECTS = Table(
    "projects",
    "One row per project (or initiative) found on a page. No personal data.",
    (
        Field(
            "project_id",
            S,
            "Stable identifier: the site's own project number where there is one, otherwise "
            "a prefix for the family, a slug of the name and a hash of the page address and name.",
            nullable=False,
        ),
        Field(
            "project_number",
            S,
            "Project number as the site gives it (2016/00418, 22-025-S02); Diarienummer or Projektnummer.",
        ),
        Field("name", S, "Project name (Namn, or the page heading)."),
        Field(
            "page_family",
            S,
            "Page family the project was read from (esf_2014_2020, esf_2014_2020_old, "
            "esf_2007_2013, esf_plus_2021_2027, tillvaxtverket_theme, skr_initiatives).",
            nullable=False,
        ),
        Field(
            "source_url",
            S,
            "Address of the page the project was read from (a change is a row of project_changes).",
            nullable=False,
        ),
        Field(
            "source",
            S,
            "Name of the source whose crawl read the project (pipeline/sources.toml, or derived from the start URL).",
        ),
        Field(
            "programme_period",
            S,
            "ESF programme period: 2007-2013, 2014-2020 or 2021-2027; null when the page does not show it.",
            values_from="programme_periods",
            source=("programme_period_label", "programme_cci", "project_number"),
        ),
        Field("owner", S, "Project owner (Projektägare) as printed, white space normalised."),
        Field(
            "owner_readable",
            S,
            "Owner with UPPERCASE names turned into ordinary capitalisation; otherwise as printed.",
            source="owner",
        ),
        Field("owner_org_number", S, "Owner's organisation number, ten digits."),
        Field("region", S, "Region as printed (ESF region, county, or the region part of a theme-page heading)."),
        Field(
            "region_name",
            S,
            "Canonical ESF region name for the printed region (Nationellt for national projects).",
            source="region",
        ),
        Field("national", B, "True for a national project (ESF Nationellt).", source="region"),
        Field(
            "region_nuts2",
            S,
            "NUTS-2 code (SE11 … SE33), from NUTS-2 kod or the region; null for national projects.",
            values_from="nuts2",
            check=CheckSpec(
                "nuts2_known", True, "Every region_nuts2 is one of Sweden's eight NUTS-2 regions (SE11 to SE33)."
            ),
            source=("region_nuts2", "region"),
        ),
        Field("county", S, "County as printed in a theme-page heading (Örebro län)."),
        Field("county_code", S, "SCB county code, two digits."),
        Field(
            "planned_participants",
            I,
            "Planned number of participants (Planerat antal deltagare / Antal deltagare).",
            "persons",
            minimum=0,
            check=CheckSpec("participants_not_negative", True, "The planned number of participants is never negative."),
        ),
        Field("start_date", D, "First day of the project period.", source=("start_date", "period")),
        Field(
            "end_date",
            D,
            "Last day of the project period (31 December for a year-precision period).",
            source=("end_date", "period"),
        ),
        Field(
            "period_precision",
            S,
            "Precision of the printed period: day, month or year.",
            enum=("day", "month", "year"),
            source=("period", "start_date", "end_date"),
        ),
        Field("total_budget_sek", MONEY, "Total project budget (Total projektbudget), exact.", "SEK"),
        Field("esf_grant_sek", MONEY, "Granted ESF support (Beviljat ESF-stöd), exact.", "SEK"),
        Field(
            "grant_share_of_budget",
            SHARE,
            "esf_grant_sek / total_budget_sek as computed here; not the decided EU co-financing rate.",
            "fraction",
            source=("esf_grant_sek", "total_budget_sek"),
        ),
        Field(
            "eu_cofinancing_rate",
            F,
            "Union co-financing rate as decided (Unionens medfinansieringsgrad), 50% -> 0.5.",
            "fraction",
            minimum=0,
            maximum=1,
            check=CheckSpec(
                "rate_is_fraction",
                True,
                "The EU co-financing rate is a fraction between 0 and 1 (a percentage read as 53 instead of 0.53 fails).",
            ),
        ),
        Field("programme_area", S, "Programme area code (1, 2, 3 for 2007-2020; A-F for ESF+)."),
        Field("programme_area_name", S, "Swedish name of the programme area.", source="programme_area"),
        Field(
            "specific_objective",
            S,
            "Specific objective code (2.1, A2A).",
            source=("specific_objective", "programme_area"),
        ),
        Field(
            "specific_objective_name",
            S,
            "Swedish name of the specific objective (or of its sub-area).",
            source=("specific_objective", "programme_area"),
        ),
        Field("intervention_code", S, "Intervention type code (Interventionstyp), e.g. 102."),
        Field("intervention_code_name", S, "Meaning of the intervention code.", source="intervention_code"),
        Field("project_phase", S, "Project phase (Projektfas) for 2007-2013: Förprojektering or Genomförande."),
        Field("postal_code", S, "Beneficiary postcode, five digits."),
        Field(
            "postal_municipality_code", S, "SCB municipality code of the beneficiary postcode.", source="postal_code"
        ),
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
        Field(
            "status",
            S,
            "active, or removed: only on proof, when its page answered 404/410, or when two complete "
            "crawls in a row no longer reached it (last known data kept). A failed or partial crawl changes no status.",
            nullable=False,
            enum=("active", "removed"),
        ),
        Field(
            "removed_at", D, "Day the project was found removed; null while it is active (cleared when it comes back)."
        ),
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
    key_check=CheckSpec(
        "project_id_unique",
        True,
        "Every project row has a {columns} and no two rows share one (the key every other table joins on).",
    ),
    required_check=CheckSpec(
        "required_columns_present", True, "The columns the schema requires ({columns}) are filled in every row."
    ),
    rules=(
        Rule(
            "start_date",
            "<=",
            "end_date",
            CheckSpec(
                "start_not_after_end",
                True,
                "No project starts after it ends: start_date <= end_date wherever both are known.",
            ),
        ),
        Rule(
            "esf_grant_sek",
            "<=",
            "total_budget_sek",
            CheckSpec(
                "grant_within_budget",
                False,
                "The ESF grant is not larger than the total budget (esf_grant_sek <= "
                "total_budget_sek wherever both are known). A warning: a few pages really print them so.",
            ),
        ),
    ),
)

CONTACTS = Table(
    "project_contacts",
    "Contact persons. Personal data (GDPR): kept apart so analysts can leave it out.",
    (
        Field("project_id", S, "Project the contact belongs to.", nullable=False),
        Field("name", S, "Contact person's name as printed.", source="contact_name"),
        Field("email", S, "E-mail address, lower-cased and validated.", source="contact_email"),
        Field("phone", S, "Phone number in E.164 form (+4654614310).", source="contact_phone"),
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
        Field(
            "kind",
            S,
            "Normalised kind: summary, background, purpose, goal, description, accessibility, english_summary, other.",
            nullable=False,
        ),
        Field("language", S, "Language of the text (sv or en).", nullable=False, enum=("sv", "en")),
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
        Field(
            "page_key",
            S,
            "The page's identity within its source: its path and query relative to the source's "
            "root, independent of host and port.",
        ),
        Field(
            "via",
            S,
            "How the page was reached: start (the source's start URL), link (a link or a redirect), or "
            "known (a page of the state, checked again by --full-refresh).",
        ),
        Field(
            "source_crawl",
            S,
            "complete, or partial with the reasons, for the page's source in this run: only a "
            "complete crawl may count a project as no longer listed.",
        ),
        Field("status", I, "HTTP status; null when no response was received."),
        Field("fetched_at", TS, "When the response was received (UTC)."),
        Field("content_sha256", S, "SHA-256 of the body; the raw HTML is stored under raw/ by this hash."),
        Field("content_type", S, "Content-Type header."),
        Field("encoding", S, "Text encoding the body was decoded with."),
        Field(
            "page_kind",
            S,
            "project, listing, press_release (grants announced, see grant_announcements) or other "
            "(decided from the content); null when not fetched.",
        ),
        Field("page_family", S, "Page family of a project page."),
        Field("records", I, "How many projects the page gave.", nullable=False),
        Field("error", S, "Why the page could not be fetched or parsed; null when it was."),
        Field(
            "fetch_outcome",
            S,
            "fetched, not_modified (304), revisit_skipped (left alone by the revisit policy), "
            "disallowed (robots.txt), redirected or failed.",
        ),
        Field("redirect_to", S, "For a redirect: the address it pointed to (crawled as a page of its own)."),
        Field(
            "parsed_in_run",
            B,
            "True when the page was parsed in this run; false when its rows were carried over "
            "unchanged from the previous run.",
        ),
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
        Field(
            "problem",
            S,
            "Machine-readable problem code (unknown_label, unparseable_amount, fetch_failed, …).",
            nullable=False,
        ),
        Field(
            "severity",
            S,
            "error (value lost), warning (value kept, doubtful) or info.",
            nullable=False,
            enum=("error", "warning", "info"),
        ),
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
        Field(
            "crawl_complete",
            B,
            "True when this run's crawl of the source was complete (every listing and "
            "pagination page fetched and read, no budget reached); null when it was not crawled.",
        ),
        Field("partial_reason", S, "Why the crawl was partial; null when complete or not crawled."),
        Field("pages_reached", I, "Addresses of the source visited in this run.", nullable=False),
        Field("projects_active", I, "Projects of the source that are active after this run.", nullable=False),
        Field("projects_removed", I, "Projects of the source that are removed after this run.", nullable=False),
        Field("removed_in_run", I, "Projects this run removed (each with proof).", nullable=False),
        Field("last_complete_at", TS, "When the source's last complete crawl ran (UTC)."),
        Field(
            "note",
            S,
            "What the operator should know: a source crawled in this run that gave no project, and "
            "what to give it instead (its sitemap, a list of addresses, the official export).",
        ),
    ),
    key=("source",),
)

GRANT_ANNOUNCEMENTS = Table(
    "grant_announcements",
    "Grants announced in ESF-rådet's press releases, one row per sentence \"<owner> får <amount> till projektet "
    '<name>", in page order. They come weeks before the project bank shows the project. Amounts here are ROUNDED '
    "as printed (4,2 miljoner kronor): each comes with its precision and its raw text, and none of them is ever "
    "copied into the exact money columns of projects.",
    (
        Field("source_url", S, "Address of the press release.", nullable=False),
        Field("position", I, "Order of the announcement on the page, from 0.", nullable=False),
        Field(
            "announced_on",
            D,
            "Date of the press release (its Publicerad label or the date above its first call); "
            "null when the page shows none (an issue says so).",
            source="published_date",
        ),
        Field(
            "call_name",
            S,
            "Call the grant was made under, as printed without its quotes (Utlysningen “…”); null "
            "when the release names none.",
        ),
        Field(
            "call_amount_sek",
            MONEY,
            "Amount the call announced (Utlyst belopp), ROUNDED as printed: 40 miljoner "
            "kronor -> 40000000.00. Not exact: the real amount lies within call_amount_sek ± call_amount_precision / 2.",
            "SEK",
        ),
        Field(
            "call_amount_precision",
            MONEY,
            "Place of the last printed digit of call_amount_sek, in kronor "
            "(40 miljoner kronor -> 1000000.00; 42,5 miljoner kronor -> 100000.00).",
            "SEK",
        ),
        Field("call_amount_raw", S, "The call amount exactly as printed."),
        Field("owner", S, "Project owner as printed in the sentence.", nullable=False),
        Field(
            "project_name", S, "Project name as printed in the sentence, without surrounding quotes.", nullable=False
        ),
        Field(
            "grant_sek",
            MONEY,
            "Grant announced, ROUNDED as printed: 4,2 miljoner kronor -> 4200000.00. Not exact: the "
            "real grant lies within grant_sek ± grant_precision / 2 (compare with projects.esf_grant_sek, which is "
            "exact). Null when the amount could not be read (an issue holds its raw text).",
            "SEK",
        ),
        Field(
            "grant_precision",
            MONEY,
            "Place of the last printed digit of grant_sek, in kronor: 4,2 miljoner kronor -> "
            "100000.00 (rounded to 0.1 million), 12 miljoner kronor -> 1000000.00, 850 000 kronor -> 1.00 (printed to "
            "the krona).",
            "SEK",
        ),
        Field("grant_raw", S, "The grant amount exactly as printed.", nullable=False),
        Field("sentence", S, "The whole sentence as printed.", nullable=False),
        Field(
            "project_id",
            S,
            "Project of projects.parquet announced here: the one project whose name and owner "
            "match (case, white space, quotes, dashes, a municipality's spellings and an owner's unit do not count); "
            "null until the project bank shows it, or when more than one project matches.",
        ),
    ),
    key=("source_url", "position"),
)


def _export_raw(name: str, what: str) -> Field:
    return Field(f"{name}_raw", S, f"{what} exactly as in the export, before normalisation.")


OPERATIONS = Table(
    "operations",
    "ESF-rådet's official export of the project bank (the list of operations the EU regulation requires), one row "
    "per Diarienummer: a second source beside the pages, read with the same normalisers (parsers/export.py). "
    "Every normalised value has the text as printed beside it; what could not be read is a row of parse_issues "
    "(url = the export). Compared with projects in project_discrepancies.",
    (
        Field(
            "project_id",
            S,
            "Diarienummer / Operation ID, spaces removed (2016/00418, 23-017-S01); equals "
            "projects.project_id and projects.project_number for the project's page. Another shape is kept as "
            "printed, with an issue.",
            nullable=False,
        ),
        _export_raw("project_id", "Diarienummer"),
        Field("source_line", I, "Line of the export where the row starts (the header is line 1).", nullable=False),
        Field("export_source", S, "File or address the export was read from.", nullable=False),
        Field("owner", S, "Stödmottagare / Beneficiary as printed (often UPPERCASE), white space folded."),
        Field(
            "owner_readable", S, "Owner with UPPERCASE names turned into ordinary capitalisation; otherwise as printed."
        ),
        Field(
            "owner_org_number",
            S,
            "Projektägare organisationsnummer / Beneficiary ID: ten digits. A number whose "
            "Luhn check digit does not match is kept, with an org_number_checksum issue (and no organisations row); "
            "a personal identity number (a sole trader's) is never published: null, and an issue without the value.",
        ),
        Field(
            "owner_org_number_raw",
            S,
            "Organisation number exactly as in the export; null when it was withheld (a personal identity number).",
        ),
        Field("beneficiary_city", S, "Projektägare ort / Beneficiary city as printed."),
        Field("beneficiary_country", S, "Stödmottagarens land / Beneficiary country as printed."),
        Field("name", S, "Namn på insatsen / Operation Name as printed."),
        Field(
            "programme_period",
            S,
            "ESF programme period (2021-2027 …) from the Program CCI, else from the shape "
            "of the Diarienummer; null when neither tells.",
        ),
        Field("programme_area", S, "Programområde / Priority: the programme area code (A-F for ESF+, 1-3 before)."),
        _export_raw("programme_area", "Programme area"),
        Field("specific_objective", S, "Specifikt mål / Specific objective concerned: its code (A2A, 1.1)."),
        _export_raw("specific_objective", "Specific objective"),
        Field("intervention_code", S, "Interventionsområde / Intervention field: its code (e.g. 138)."),
        _export_raw("intervention_code", "Intervention field"),
        Field("fund", S, "EU-fond / EU fund as printed."),
        Field("programme_cci", S, "Program CCI, upper case without spaces (2021SE05SFPR001)."),
        _export_raw("programme_cci", "Program CCI"),
        Field("total_budget_sek", MONEY, "Total projektbudget / Total budget SEK, exact.", "SEK"),
        _export_raw("total_budget_sek", "Total budget"),
        Field(
            "eu_contribution_sek",
            MONEY,
            "EU-stöd i SEK / EU contribution SEK, exact; null when the export leaves "
            "it empty. The EU's share only: the pages' Beviljat ESF-stöd (projects.esf_grant_sek) may include the "
            "Swedish state co-financing paid out with it.",
            "SEK",
        ),
        _export_raw("eu_contribution_sek", "EU contribution"),
        Field(
            "eu_cofinancing_rate",
            SHARE,
            "Unionens medfinansieringsgrad / Union co-financing rate as an exact "
            "fraction (90% -> 0.900000); as decided, not eu_contribution_sek / total_budget_sek.",
            "fraction",
        ),
        _export_raw("eu_cofinancing_rate", "Co-financing rate"),
        Field("start_date", D, "Startdatum / Start date."),
        _export_raw("start_date", "Start date"),
        Field("end_date", D, "Slutdatum / End date."),
        _export_raw("end_date", "End date"),
        Field(
            "summary",
            S,
            "Sammanfattning / Summary as plain text: the export's HTML without tags, paragraphs "
            "joined by a blank line, list items and line breaks on lines of their own.",
        ),
        _export_raw("summary", "Summary (HTML)"),
        Field("summary_en", S, "Sammanfattning engelsk / Summary in english as plain text (as summary)."),
        _export_raw("summary_en", "English summary (HTML)"),
        Field(
            "extra_fields",
            S,
            "JSON object of columns the export has and this reader does not know -> their raw "
            "values (never lost; each such column is an unknown_column issue).",
        ),
    ),
    key=("project_id",),
)

DISCREPANCIES = Table(
    "project_discrepancies",
    "Where the official export (operations) and the project pages (projects) disagree: one row per project and "
    "field whose values differ when both sources give one, and one row (field = presence) per project only one "
    "source has. Each source's value is kept; neither is corrected from the other. Compared: total_budget_sek; "
    "esf_grant_sek (page) against eu_contribution_sek (export); eu_cofinancing_rate; start_date; end_date; owner; "
    "owner_org_number; specific_objective. Equal means: money as exact decimals, the rate as exact fractions, dates as "
    "dates (a page period printed to the month or the year agrees with any export date in that month or year), "
    "the owner with case, white space, quotes, dashes and a final full stop not counting (UPPSALA KOMMUN = Uppsala "
    "kommun), codes and organisation numbers as strings. A value one source leaves empty is no disagreement.",
    (
        Field(
            "project_id",
            S,
            "projects.project_id of the page's project; the export's Diarienummer for a project only the export has.",
            nullable=False,
        ),
        Field(
            "field",
            S,
            "Column compared (named as in projects: total_budget_sek, esf_grant_sek, eu_cofinancing_rate, "
            "start_date, end_date, owner, owner_org_number, specific_objective), or presence.",
            nullable=False,
        ),
        Field(
            "page_value",
            S,
            "The page's normalised value as text (money 4973906.00, rates 0.9, dates ISO); for "
            "presence: present or absent.",
        ),
        Field(
            "export_value",
            S,
            "The export's normalised value as text, in the same form; for presence: present or absent.",
        ),
        Field(
            "page_raw",
            S,
            "The page's value as printed where projects keeps it (total_budget_sek_raw, "
            "esf_grant_sek_raw, eu_cofinancing_rate_raw, period_raw; the owner as printed); otherwise null.",
        ),
        Field("export_raw", S, "The export's value exactly as in the export (its _raw column; the owner as printed)."),
        Field(
            "source_url", S, "Address of the page the project was read from; null for a project only the export has."
        ),
        Field("export_line", I, "Line of the export the row comes from; null for a project only the pages have."),
        Field(
            "note",
            S,
            "What the difference is, in words (a grant against an EU contribution, a page period's "
            "precision, a removed project, …).",
        ),
    ),
    key=("project_id", "field"),
)

ORGANISATIONS = Table(
    "organisations",
    "One row per organisation number that a project page or the official export gives for a project owner: ten "
    "digits with a valid Luhn check digit (any other number is an issue, not a row). A personal identity number (a "
    "sole trader's) is never published: not here, not in any other table, not in an issue. Names are kept as printed, "
    "every spelling.",
    (
        Field("org_number", S, "Organisation number, ten digits (Luhn checked).", nullable=False),
        Field("name", S, "The name printed most often with the number (ties: the first seen), as printed."),
        Field(
            "names",
            STRINGS,
            "Every distinct name printed with the number, as printed (white space folded), in the "
            "order first seen: pages first, then the export. UPPSALA KOMMUN and Uppsala kommun are two entries.",
        ),
        Field("legal_form_code", S, "First digit of the number: the group of legal forms (Skatteverket, SKV 709)."),
        Field(
            "legal_form_group",
            S,
            "The group the first digit names: 1 estate, 2 state, region, municipality or "
            "parish, 3 foreign company, 5 limited company, 6 simple partnership, 7 economic association, 8 non-profit "
            "association or foundation, 9 trading or limited partnership; null for 0 and 4, which are not assigned "
            "(an issue).",
        ),
        Field(
            "project_count",
            I,
            "Distinct projects (by project number) whose owner a page or the export gives this "
            "number; a project whose sources give two numbers counts under both (see project_discrepancies).",
            nullable=False,
        ),
        Field(
            "esf_grant_sek",
            MONEY,
            "Sum of projects.esf_grant_sek over the projects whose page gives this number, "
            "exact; null when none of them shows a grant.",
            "SEK",
        ),
        Field(
            "esf_grant_projects", I, "How many of those projects show a grant (the sum is over these).", nullable=False
        ),
        Field(
            "eu_contribution_sek",
            MONEY,
            "Sum of operations.eu_contribution_sek over the export rows that give "
            "this number, exact; null when none of them has one.",
            "SEK",
        ),
        Field("eu_contribution_projects", I, "How many of those export rows have an EU contribution.", nullable=False),
        Field(
            "project_ids",
            STRINGS,
            "The projects counted (projects.project_id, or the Diarienummer of a project only the export has), sorted.",
        ),
    ),
    key=("org_number",),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        PROJECTS,
        CONTACTS,
        SECTIONS,
        MUNICIPALITIES,
        FIELDS,
        PAGES,
        ISSUES,
        CHANGES,
        GRANT_ANNOUNCEMENTS,
        SOURCES,
        OPERATIONS,
        DISCREPANCIES,
        ORGANISATIONS,
    )
}

# The parser's columns land in projects by name (pipeline/rows.py): a vocabulary field named as a column
# of projects fills it without a ``source``.
PAGE_COLUMNS_TABLE = PROJECTS

# Vocabulary fields (parsers/data/vocabulary.toml [fields]) that fill no column of any table, each with
# the reason. Every other vocabulary field is a column's ``source`` or the name of a column of projects
# (tests/test_registry.py), so none vanishes silently. Empty today: the contact fields are the sources of
# project_contacts, ``period`` of start_date, end_date and period_precision, ``programme_period_label``
# of programme_period.
INTERNAL_FIELDS: dict[str, str] = {}


def column_sources(table: Table, vocabulary_fields: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Column -> the vocabulary fields it comes from: its ``source``, or in projects the field of its own
    name (``vocabulary_fields``: the names in parsers/data/vocabulary.toml [fields])."""
    known = set(vocabulary_fields)
    found = {}
    for f in table.fields:
        own = (f.name,) if table is PAGE_COLUMNS_TABLE and f.name in known and f.name not in f.source else ()
        if f.source or own:
            found[f.name] = own + tuple(f.source)
    return found


def unmapped_vocabulary_fields(vocabulary_fields: Iterable[str]) -> list[str]:
    """The vocabulary fields no column comes from and INTERNAL_FIELDS does not name: each would vanish
    silently (the parser reads it, no table keeps it)."""
    names = list(vocabulary_fields)
    mapped = {s for table in TABLES.values() for sources in column_sources(table, names).values() for s in sources}
    return [name for name in names if name not in mapped and name not in INTERNAL_FIELDS]
