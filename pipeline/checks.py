"""Data-quality checks on the output tables, over the table rows. The Dagster asset checks in
assets/tables.py run these while the tables are written, and before anything is published."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pipeline.schema import PROJECTS

KNOWN_NUTS2 = {"SE11", "SE12", "SE21", "SE22", "SE23", "SE31", "SE32", "SE33"}


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    failures: list[Any] = field(default_factory=list)


_FAILURES_KEPT = 20


@dataclass(frozen=True)
class CheckSpec:
    """An asset check on ``projects`` as the Dagster UI shows it: whether a failure stops the publish, and
    what it tests (the AssetCheckSpec's description)."""

    name: str
    blocking: bool
    description: str


_REQUIRED = ", ".join(f.name for f in PROJECTS.fields if not f.nullable)

# The checks on ``projects`` made while the tables are written (assets/tables.py), in the order the UI
# lists them. Their thresholds are settings (pipeline/settings.py, output group): the descriptions name them.
CHECKS: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        CheckSpec(
            "project_id_unique",
            True,
            "Every project row has a project_id and no two rows share one (the key every other table joins on).",
        ),
        CheckSpec(
            "required_columns_present", True, f"The columns the schema requires ({_REQUIRED}) are filled in every row."
        ),
        CheckSpec(
            "start_not_after_end",
            True,
            "No project starts after it ends: start_date <= end_date wherever both are known.",
        ),
        CheckSpec(
            "grant_within_budget",
            False,
            "The ESF grant is not larger than the total budget (esf_grant_sek <= "
            "total_budget_sek wherever both are known). A warning: a few pages really print them so.",
        ),
        CheckSpec(
            "rate_is_fraction",
            True,
            "The EU co-financing rate is a fraction between 0 and 1 (a percentage read as 53 instead of 0.53 fails).",
        ),
        CheckSpec("participants_not_negative", True, "The planned number of participants is never negative."),
        CheckSpec("nuts2_known", True, "Every region_nuts2 is one of Sweden's eight NUTS-2 regions (SE11 to SE33)."),
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
}

# The check of the published tables' age (assets/freshness.py): run after each publish and on a schedule.
FRESHNESS = CheckSpec(
    "sources_fresh",
    False,
    "Each source the nightly run crawls had a complete crawl, and the "
    "tables were published, within ESF_FRESHNESS_HOURS (default 36 h): a site that has given only "
    "partial crawls, or a nightly run that no longer publishes, is flagged. A warning; it runs after "
    "each publish and on the freshness schedule.",
)

# (name, short description, columns read, predicate on one project row): the row-wise checks.
_ROW_CHECKS: list[tuple[str, str, tuple[str, ...], Callable[[dict[str, Any]], bool]]] = [
    (
        "start_not_after_end",
        "start_date <= end_date",
        ("start_date", "end_date"),
        lambda r: bool(r.get("start_date") and r.get("end_date") and r["start_date"] > r["end_date"]),
    ),
    (
        "grant_within_budget",
        "esf_grant_sek <= total_budget_sek",
        ("esf_grant_sek", "total_budget_sek"),
        lambda r: (
            r.get("esf_grant_sek") is not None
            and r.get("total_budget_sek") is not None
            and r["esf_grant_sek"] > r["total_budget_sek"]
        ),
    ),
    (
        "rate_is_fraction",
        "eu_cofinancing_rate between 0 and 1",
        ("eu_cofinancing_rate",),
        lambda r: r.get("eu_cofinancing_rate") is not None and not 0 <= r["eu_cofinancing_rate"] <= 1,
    ),
    (
        "participants_not_negative",
        "planned_participants >= 0",
        ("planned_participants",),
        lambda r: r.get("planned_participants") is not None and r["planned_participants"] < 0,
    ),
    (
        "nuts2_known",
        "every region_nuts2 is a known Swedish NUTS-2 code",
        ("region_nuts2",),
        lambda r: r.get("region_nuts2") is not None and r["region_nuts2"] not in KNOWN_NUTS2,
    ),
]


def _blocking(name: str) -> bool:
    return CHECKS[name].blocking


class ProjectChecks:
    """The checks, fed batch by batch as the tables are written, so the whole table never has to be
    in memory. Failures keep the first project ids (at most 20 per check)."""

    def __init__(self) -> None:
        self.required = [f.name for f in PROJECTS.fields if not f.nullable]
        # The columns the checks read: rows with only these give the same outcomes as whole rows.
        self.columns = list(
            dict.fromkeys(
                ["project_id", "source", "status", *self.required, *(c for check in _ROW_CHECKS for c in check[2])]
            )
        )
        self.by_source: Counter = Counter()  # (source, status) -> projects
        self.ids: set[str] = set()
        self.count = 0
        self.active = 0
        self.unknown_labels = 0
        self.duplicates: list[Any] = []
        self.failures: dict[str, list[Any]] = {
            name: [] for name in ["required_columns_present"] + [c[0] for c in _ROW_CHECKS]
        }

    def _fail(self, name: str, project_id: Any) -> None:
        if len(self.failures[name]) < _FAILURES_KEPT:
            self.failures[name].append(project_id)

    def add_projects(self, projects: Iterable[dict[str, Any]]) -> None:
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
                self._fail("required_columns_present", pid)
            for name, _, _, failing in _ROW_CHECKS:
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
        required = ", ".join(self.required)
        outcomes = [
            CheckOutcome(
                "project_id_unique",
                not self.duplicates,
                _blocking("project_id_unique"),
                "project_id is unique and never null",
                sorted(set(self.duplicates), key=str),
            ),
            CheckOutcome(
                "required_columns_present",
                not self.failures["required_columns_present"],
                _blocking("required_columns_present"),
                f"{required} are never null",
                self.failures["required_columns_present"],
            ),
        ]
        outcomes += [
            CheckOutcome(name, not self.failures[name], _blocking(name), description, self.failures[name])
            for name, description, _, _ in _ROW_CHECKS
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
