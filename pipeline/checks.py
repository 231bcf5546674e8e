"""Data-quality checks on the output tables, over the table rows. The Dagster asset checks in
assets/tables.py run these while the tables are written, and before anything is published."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pipeline.schema import PROJECTS, REFERENCE_LISTS, CheckSpec, Field, Rule, Table


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    failures: list[Any] = field(default_factory=list)


_FAILURES_KEPT = 20

# The checks on ``projects`` made while the tables are written (assets/tables.py), in the order the UI
# lists them: first those the registry's constraints make (pipeline/schema.py: the key, the required
# columns, the rules across columns, the fields' values), then the run-level ones. Their thresholds are
# settings (pipeline/settings.py, output group): the descriptions name them.
RUN_CHECKS = (
    CheckSpec(
        "unknown_label_share",
        False,
        "Labels the vocabulary does not know stay at most "
        "ESF_MAX_UNKNOWN_LABEL_SHARE (default 0.2) per project; more means a site changed its labels "
        "(parse_issues rows with problem unknown_label name them). A warning.",
    ),
    CheckSpec(
        "project_count_not_collapsed",
        True,
        "The active projects are not more than ESF_MAX_PROJECT_DROP "
        "(default 50 %) below the previous run's: a crawl that lost most of a site is not published.",
    ),
    CheckSpec(
        "removals_within_limit",
        True,
        "No run removes more than ESF_MAX_REMOVED_SHARE (default 10 %) of a "
        "source's active projects (a single removal always passes); --allow-removals (allow_removals in the "
        "output_tables config) accepts a run that does.",
    ),
    CheckSpec(
        "sources_agree",
        False,
        "At most 10 % of the projects both in the official export and on the pages "
        "disagree on a value (budget, grant, rate, start, end, owner, organisation number, specific objective; "
        "project_discrepancies has each difference). A warning; it passes when the run has no export.",
    ),
    CheckSpec(
        "every_source_yields_projects",
        False,
        "Every source crawled in the run gives at least one project; one "
        "that gives none (a listing drawn by JavaScript, a search form) is named, with what to give it instead. "
        "A warning.",
    ),
)

CHECKS: dict[str, CheckSpec] = {spec.name: spec for spec in (*PROJECTS.check_specs, *RUN_CHECKS)}

# The check of the published tables' age (assets/freshness.py): run after each publish and on a schedule.
FRESHNESS = CheckSpec(
    "sources_fresh",
    False,
    "Each source the nightly run crawls had a complete crawl, and the "
    "tables were published, within ESF_FRESHNESS_HOURS (default 36 h): a site that has given only "
    "partial crawls, or a nightly run that no longer publishes, is flagged. A warning; it runs after "
    "each publish and on the freshness schedule.",
)


# ----------------------------------------------------------------------- row checks made from the registry
@dataclass(frozen=True)
class RowCheck:
    """A test of one row made from a constraint of the registry: ``failing(row)`` is True when the row
    breaks it. Null values never fail here (whether a column may be null is the required columns' check)."""

    name: str  # the check's name; for a constraint without a check, "<column>: <note>"
    note: str  # what it tests, in short (the outcome's description)
    columns: tuple[str, ...]  # the columns it reads
    failing: Callable[[dict[str, Any]], bool]
    check: CheckSpec | None


def _number(value: float) -> str:
    return f"{value:g}"


def _value_test(column: str, field: Field) -> tuple[str, Callable[[dict[str, Any]], bool]]:
    """A field's value constraints as one predicate (made once; each a single lambda, as cheap as a
    hand-written one) and its note."""
    from parsers.lookups import reference_values

    tests: list[Callable[[dict[str, Any]], bool]] = []
    notes: list[str] = []
    if field.enum:
        allowed = frozenset(field.enum)
        tests.append(lambda r: (v := r.get(column)) is not None and v not in allowed)
        notes.append(f"{column} is one of {', '.join(field.enum)}")
    if field.values_from is not None:
        known = reference_values(field.values_from)
        tests.append(lambda r: (v := r.get(column)) is not None and v not in known)
        notes.append(f"every {column} is {REFERENCE_LISTS[field.values_from]}")
    low, high = field.minimum, field.maximum
    # "not low <= v": a value that compares with nothing (NaN) is out of range too.
    if low is not None and high is not None:
        tests.append(lambda r: (v := r.get(column)) is not None and not low <= v <= high)
        notes.append(f"{column} between {_number(low)} and {_number(high)}")
    elif low is not None:
        tests.append(lambda r: (v := r.get(column)) is not None and not v >= low)
        notes.append(f"{column} >= {_number(low)}")
    elif high is not None:
        tests.append(lambda r: (v := r.get(column)) is not None and not v <= high)
        notes.append(f"{column} <= {_number(high)}")
    if len(tests) == 1:
        return notes[0], tests[0]
    return "; ".join(notes), lambda r: any(test(r) for test in tests)


def _rule_test(rule: Rule) -> Callable[[dict[str, Any]], bool]:
    """A rule as a predicate failing where both values are known and the comparison does not hold."""
    # left <= right fails on left > right; left >= right is right <= left; and the same for < and >.
    low, high = (rule.left, rule.right) if rule.op in ("<=", "<") else (rule.right, rule.left)
    if rule.op in ("<=", ">="):
        return lambda r: (a := r.get(low)) is not None and (b := r.get(high)) is not None and a > b
    return lambda r: (a := r.get(low)) is not None and (b := r.get(high)) is not None and a >= b


@functools.cache
def row_checks(table: Table, checked_only: bool = True) -> tuple[RowCheck, ...]:
    """The row checks the table's constraints make, in the order of ``table.check_specs``: its rules, then its
    fields' values. ``checked_only=False`` adds the constraints without a check (as the suite tests them)."""
    found = [RowCheck(r.check.name, r.text, (r.left, r.right), _rule_test(r), r.check) for r in table.rules]
    for f in table.fields:
        if f.has_value_constraints and (f.check is not None or not checked_only):
            note, failing = _value_test(f.name, f)
            found.append(RowCheck(f.check.name if f.check else f"{f.name}: {note}", note, (f.name,), failing, f.check))
    return tuple(found)


def _blocking(name: str) -> bool:
    return CHECKS[name].blocking


class ProjectChecks:
    """The checks, fed batch by batch as the tables are written, so the whole table never has to be
    in memory. Failures keep the first project ids (at most 20 per check)."""

    def __init__(self) -> None:
        assert PROJECTS.key == ("project_id",) and PROJECTS.key_check and PROJECTS.required_check
        self.key_check, self.required_check = PROJECTS.key_check.name, PROJECTS.required_check.name
        self.required = PROJECTS.required_columns
        self.row_checks = row_checks(PROJECTS)
        self._failing = [(check.name, check.failing) for check in self.row_checks]
        # The columns the checks read: rows with only these give the same outcomes as whole rows.
        self.columns = list(
            dict.fromkeys(
                [
                    "project_id",
                    "source",
                    "status",
                    *self.required,
                    *(c for check in self.row_checks for c in check.columns),
                ]
            )
        )
        self.by_source: Counter = Counter()  # (source, status) -> projects
        self.ids: set[str] = set()
        self.count = 0
        self.active = 0
        self.unknown_labels = 0
        self.duplicates: list[Any] = []
        self.failures: dict[str, list[Any]] = {
            name: [] for name in [self.required_check] + [c.name for c in self.row_checks]
        }

    def _fail(self, name: str, project_id: Any) -> None:
        if len(self.failures[name]) < _FAILURES_KEPT:
            self.failures[name].append(project_id)

    def add_projects(self, projects: Iterable[dict[str, Any]]) -> None:
        required_check = self.required_check
        for row in projects:
            pid = row.get("project_id")
            self.count += 1
            self.active += row.get("status") == "active"
            self.by_source[(row.get("source"), row.get("status"))] += 1
            if pid is None or pid in self.ids:
                if len(self.duplicates) < _FAILURES_KEPT:
                    self.duplicates.append(pid)
            else:
                self.ids.add(pid)
            if any(row.get(c) is None for c in self.required):
                self._fail(required_check, pid)
            for name, failing in self._failing:
                if failing(row):
                    self._fail(name, pid)

    def add_problem_counts(self, counts: dict[str, int]) -> None:
        """Issues seen, counted by problem."""
        self.unknown_labels += counts.get("unknown_label", 0)

    def outcomes(
        self,
        previous_active: int | None,
        max_drop: float = 0.5,
        max_unknown_label_share: float = 0.2,
        removals: RemovalGuard | None = None,
    ) -> list[CheckOutcome]:
        key, required = self.key_check, self.required_check
        outcomes = [
            CheckOutcome(
                key,
                not self.duplicates,
                _blocking(key),
                f"{', '.join(PROJECTS.key)} is unique and never null",
                sorted(set(self.duplicates), key=str),
            ),
            CheckOutcome(
                required,
                not self.failures[required],
                _blocking(required),
                f"{', '.join(self.required)} are never null",
                self.failures[required],
            ),
        ]
        outcomes += [
            CheckOutcome(c.name, not self.failures[c.name], _blocking(c.name), c.note, self.failures[c.name])
            for c in self.row_checks
        ]
        share = self.unknown_labels / max(1, self.count)
        outcomes.append(
            CheckOutcome(
                "unknown_label_share",
                share <= max_unknown_label_share,
                _blocking("unknown_label_share"),
                f"unknown labels per project at most {max_unknown_label_share}",
                [self.unknown_labels],
            )
        )
        if previous_active:
            dropped = self.active < previous_active * (1 - max_drop)
            outcomes.append(
                CheckOutcome(
                    "project_count_not_collapsed",
                    not dropped,
                    _blocking("project_count_not_collapsed"),
                    f"active projects not more than {max_drop:.0%} below the previous run ({previous_active})",
                    [self.active] if dropped else [],
                )
            )
        if removals is not None:
            outcomes.append(removals.outcome())
        return outcomes


@dataclass
class RemovalGuard:
    """A blocking check against mass removal: one run may remove at most ``max_share`` of a source's active
    projects (a single removal always passes: it has its own proof), unless an operator allows it."""

    removed: dict[str, list[str]]  # source -> projects this run would remove
    active_before: dict[str, int]  # source -> its active projects before the run
    max_share: float = 0.1
    allowed: bool = False

    def breaches(self) -> list[str]:
        found = []
        for source, ids in sorted(self.removed.items()):
            active = self.active_before.get(source, 0)
            if len(ids) > 1 and len(ids) > self.max_share * active:
                found.append(f"{source}: {len(ids)} of {active} active projects ({len(ids) / max(active, 1):.0%})")
        return found

    def outcome(self) -> CheckOutcome:
        breaches = self.breaches()
        description = f"no run removes more than {self.max_share:.0%} of a source's active projects" + (
            " (allowed for this run: --allow-removals)" if self.allowed else ""
        )
        return CheckOutcome(
            "removals_within_limit",
            self.allowed or not breaches,
            _blocking("removals_within_limit"),
            description,
            breaches,
        )


def project_checks(
    projects: list[dict[str, Any]],
    issues: list[dict[str, Any]],
    previous_active: int | None,
    max_drop: float = 0.5,
    max_unknown_label_share: float = 0.2,
    removals: RemovalGuard | None = None,
) -> list[CheckOutcome]:
    """All checks over whole lists of rows (the same checks as ``ProjectChecks``)."""
    checks = ProjectChecks()
    checks.add_projects(projects)
    checks.add_problem_counts(Counter(i.get("problem") for i in issues))
    return checks.outcomes(previous_active, max_drop, max_unknown_label_share, removals)
