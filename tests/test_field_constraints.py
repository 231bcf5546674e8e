"""The constraints of the field registry (pipeline/schema.py) and what is made from them: the row checks on
projects with today's names, blocking flags and outcomes, the reference lists read from parsers/data, the
constraints without a check holding on real output, and a column the previous table lacks not being a change."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import shutil
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from parsers.lookups import DATA_DIR, reference_values
from pipeline.checks import CHECKS, RUN_CHECKS, ProjectChecks, project_checks, row_checks
from pipeline.schema import PROJECTS, TABLES, CheckSpec, Field, Rule, Table

# The checks on projects as users know them: nothing changes for them when the checks are generated.
EXPECTED_BLOCKING = {
    "project_id_unique": True,
    "required_columns_present": True,
    "start_not_after_end": True,
    "grant_within_budget": False,
    "rate_is_fraction": True,
    "participants_not_negative": True,
    "nuts2_known": True,
    "unknown_label_share": False,
    "project_count_not_collapsed": True,
    "removals_within_limit": True,
    "sources_agree": False,
    "every_source_yields_projects": False,
}

# The hand-written predicates the generated ones replaced (pipeline/checks.py before the registry had
# constraints), with their notes and their columns: the generated ones must fail on exactly the same rows.
KNOWN_NUTS2 = {"SE11", "SE12", "SE21", "SE22", "SE23", "SE31", "SE32", "SE33"}
HAND_WRITTEN = {
    "start_not_after_end": (
        "start_date <= end_date",
        {"start_date", "end_date"},
        lambda r: bool(r.get("start_date") and r.get("end_date") and r["start_date"] > r["end_date"]),
    ),
    "grant_within_budget": (
        "esf_grant_sek <= total_budget_sek",
        {"esf_grant_sek", "total_budget_sek"},
        lambda r: (
            r.get("esf_grant_sek") is not None
            and r.get("total_budget_sek") is not None
            and r["esf_grant_sek"] > r["total_budget_sek"]
        ),
    ),
    "rate_is_fraction": (
        "eu_cofinancing_rate between 0 and 1",
        {"eu_cofinancing_rate"},
        lambda r: r.get("eu_cofinancing_rate") is not None and not 0 <= r["eu_cofinancing_rate"] <= 1,
    ),
    "participants_not_negative": (
        "planned_participants >= 0",
        {"planned_participants"},
        lambda r: r.get("planned_participants") is not None and r["planned_participants"] < 0,
    ),
    "nuts2_known": (
        "every region_nuts2 is a known Swedish NUTS-2 code",
        {"region_nuts2"},
        lambda r: r.get("region_nuts2") is not None and r["region_nuts2"] not in KNOWN_NUTS2,
    ),
}
CANDIDATES = {
    "start_date": [None, dt.date(2020, 1, 1), dt.date(2020, 6, 30), dt.date(2021, 1, 1)],
    "end_date": [None, dt.date(2020, 1, 1), dt.date(2020, 6, 30), dt.date(2021, 1, 1)],
    "esf_grant_sek": [None, Decimal(0), Decimal("1.00"), Decimal("2.50"), Decimal(3)],
    "total_budget_sek": [None, Decimal(0), Decimal("2.50"), Decimal(2)],
    "eu_cofinancing_rate": [None, 0, 0.0, 0.5, 1, 1.0, 1.0000001, 1.5, 53.0, -0.1, float("nan"), float("inf")],
    "planned_participants": [None, 0, 1, 3, -1],
    "region_nuts2": [None, "SE11", "SE33", "SE99", "SE01", "se11", "", "SE 11"],
}


def test_checks_keep_their_names_and_blocking_flags():
    assert {name: spec.blocking for name, spec in CHECKS.items()} == EXPECTED_BLOCKING
    assert list(CHECKS) == [s.name for s in PROJECTS.check_specs] + [s.name for s in RUN_CHECKS]
    assert all(len(spec.description) > 40 for spec in CHECKS.values())
    required = CHECKS["required_columns_present"].description
    assert "(project_id, page_family, source_url, status)" in required  # the registry's required columns


def test_generated_row_checks_fail_exactly_where_the_hand_written_ones_did():
    generated = {check.name: check for check in row_checks(PROJECTS)}
    assert set(generated) == set(HAND_WRITTEN)
    for name, (note, columns, failing) in HAND_WRITTEN.items():
        check = generated[name]
        assert (check.note, set(check.columns), check.check) == (note, columns, CHECKS[name])
        combos = list(itertools.product(*(CANDIDATES[c] for c in check.columns)))
        rows = [dict(zip(check.columns, values)) for values in combos] + [{}]
        assert [check.failing(r) for r in rows] == [failing(r) for r in rows], name
        assert any(check.failing(r) for r in rows) and not all(check.failing(r) for r in rows)


def test_row_checks_are_made_once_and_read_only_their_columns():
    assert row_checks(PROJECTS) is row_checks(PROJECTS)
    assert ProjectChecks().row_checks is ProjectChecks().row_checks
    columns = ProjectChecks().columns
    assert {c for check in row_checks(PROJECTS) for c in check.columns} <= set(columns)
    assert set(PROJECTS.required_columns) <= set(columns)


def test_nuts2_codes_come_from_parsers_data():
    with open(DATA_DIR / "regions.csv", encoding="utf-8", newline="") as handle:
        in_regions = {row["nuts2"] for row in csv.DictReader(handle) if row["nuts2"]}
    assert reference_values("nuts2") == in_regions == KNOWN_NUTS2
    import pipeline.checks

    assert not hasattr(pipeline.checks, "KNOWN_NUTS2")  # the reference data is not repeated
    nuts2 = next(check for check in row_checks(PROJECTS) if check.name == "nuts2_known")
    assert not any(nuts2.failing({"region_nuts2": code}) for code in in_regions)
    assert nuts2.failing({"region_nuts2": "SE01"})  # a pre-2008 code the parser maps, never published


def test_constraints_are_checked_when_the_registry_is_made():
    spec = CheckSpec("x_ok", True, "x is fine.")
    with pytest.raises(ValueError, match="no constraint"):
        Field("x", "string", "X.", check=spec)
    with pytest.raises(ValueError, match="values_from"):
        Field("x", "string", "X.", values_from="counties_of_norway")
    with pytest.raises(ValueError, match="operator"):
        Rule("a", "!=", "b", spec)
    with pytest.raises(ValueError, match="unknown"):
        Table("t", "T.", (Field("a", "int64", "A."),), rules=(Rule("a", "<=", "b", spec),))
    assert Field("x", "string", "X.", source="owner").source == ("owner",)


@pytest.mark.parametrize(
    "op, fails",
    [("<=", [(2, 1)]), ("<", [(1, 1), (2, 1)]), (">=", [(1, 2)]), (">", [(1, 2), (1, 1)])],
)
def test_rules_hold_as_written_wherever_both_values_are_known(op, fails):
    spec = CheckSpec("a_b", False, "a and b compare.")
    table = Table("t", "T.", (Field("a", "int64", "A."), Field("b", "int64", "B.")), rules=(Rule("a", op, "b", spec),))
    (check,) = row_checks(table)
    pairs = [(1, 2), (1, 1), (2, 1), (None, 1), (1, None), (None, None)]
    assert [pair for pair in pairs if check.failing({"a": pair[0], "b": pair[1]})] == fails
    assert check.note == f"a {op} b"


def test_a_field_with_several_constraints_fails_on_any_of_them():
    spec = CheckSpec("grade_ok", True, "A grade is a known letter and a count in range.")
    field = Field("grade", "string", "Grade.", enum=("A", "B", "C"), values_from="nuts2", check=spec)
    (check,) = row_checks(Table("t", "T.", (field,)))
    assert check.failing({"grade": "A"}) and check.failing({"grade": "SE11"})  # each list alone is not enough
    assert not check.failing({"grade": None})


def test_checks_on_projects_come_out_in_the_registry_order():
    outcomes = project_checks([], [], previous_active=None)
    names = [o.name for o in outcomes]
    assert names[: len(PROJECTS.check_specs)] == [s.name for s in PROJECTS.check_specs]
    notes = {o.name: o.description for o in outcomes}
    assert notes["project_id_unique"] == "project_id is unique and never null"
    assert notes["required_columns_present"] == "project_id, page_family, source_url, status are never null"


def test_every_constraint_holds_on_the_demo_output(demo_output):
    """The constraints without a check (the allowed statuses, severities, languages, period precisions,
    programme periods; the keys of the other tables) are kept by the code that fills the columns."""
    for name, table in TABLES.items():
        rows = pq.read_table(demo_output / f"{name}.parquet").to_pylist()
        for check in row_checks(table, checked_only=False):
            assert not [r for r in rows if check.failing(r)], f"{name}: {check.name}"
        if table.key:
            keys = Counter(tuple(r[c] for c in table.key) for r in rows)
            assert not [k for k, n in keys.items() if n > 1 or None in k], f"{name}: key {table.key}"
        for column in table.required_columns:
            assert all(r[column] is not None for r in rows), f"{name}.{column} is required"
    statuses = {r["status"] for r in pq.read_table(demo_output / "projects.parquet").to_pylist()}
    assert statuses == {"active"}  # the demo has values to check


def test_a_column_the_previous_table_lacks_is_not_a_change(tmp_path, demo_output):
    """A new column is not a change in history: publish over a previous projects table without funder
    (which this run fills), and no project_changes row names it; a value that did change still does."""
    from pipeline.publish import PublishPolicy, publish_tables
    from pipeline.storage import OutputDir

    out = tmp_path / "out"
    shutil.copytree(demo_output, out, symlinks=True)  # the tables' links, relative, stay links in the copy
    previous = pq.read_table(out / "projects.parquet")
    funders = previous.column("funder").to_pylist()
    assert any(funders)  # the run fills funder: compared, it would be a change from null
    owners = previous.column("owner").to_pylist()
    changed = next(i for i, owner in enumerate(owners) if owner)
    owners[changed] = "Äldre ägare AB"
    previous = previous.set_column(
        previous.schema.get_field_index("owner"), "owner", pa.array(owners, pa.string())
    ).drop_columns(["funder"])
    pq.write_table(previous, out / "projects.parquet")

    publish_tables(OutputDir(out), PublishPolicy(), datetime.now(timezone.utc).replace(microsecond=0))

    changes = pq.read_table(out / "project_changes.parquet").to_pylist()
    assert not [c for c in changes if c["field"] == "funder"]
    assert [(c["field"], c["old_value"]) for c in changes] == [("owner", "Äldre ägare AB")]
    published = pq.read_table(out / "projects.parquet")
    assert published.column("funder").to_pylist() == funders  # the new column is filled, just not a change
