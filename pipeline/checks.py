"""Data-quality checks on the output tables, as pure functions of the table rows. The Dagster
asset checks in assets/tables.py call these before anything is published."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pipeline.schema import PROJECTS

KNOWN_NUTS2 = {"SE11", "SE12", "SE21", "SE22", "SE23", "SE31", "SE32", "SE33"}


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    failures: list[Any] = field(default_factory=list)


def _failing(rows: list[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]) -> list[Any]:
    return [r.get("project_id") for r in rows if predicate(r)][:20]


def project_checks(projects: list[dict[str, Any]], issues: list[dict[str, Any]],
                   previous_count: int | None, max_drop: float = 0.5,
                   max_unknown_label_share: float = 0.2) -> list[CheckOutcome]:
    ids = [p["project_id"] for p in projects]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(ids) != len(set(ids)) else []
    required = [f.name for f in PROJECTS.fields if not f.nullable]
    outcomes = [
        CheckOutcome("project_id_unique", not duplicates and None not in ids, True,
                     "project_id is unique and never null", duplicates),
        CheckOutcome("required_columns_present", True, True, f"{', '.join(required)} are never null",
                     _failing(projects, lambda r: any(r.get(c) is None for c in required))),
        CheckOutcome("start_not_after_end", True, True, "start_date <= end_date",
                     _failing(projects, lambda r: r.get("start_date") and r.get("end_date") and r["start_date"] > r["end_date"])),
        CheckOutcome("grant_within_budget", True, False, "esf_grant_sek <= total_budget_sek",
                     _failing(projects, lambda r: r.get("esf_grant_sek") is not None and r.get("total_budget_sek") is not None
                              and r["esf_grant_sek"] > r["total_budget_sek"])),
        CheckOutcome("rate_is_fraction", True, True, "eu_cofinancing_rate between 0 and 1",
                     _failing(projects, lambda r: r.get("eu_cofinancing_rate") is not None and not 0 <= r["eu_cofinancing_rate"] <= 1)),
        CheckOutcome("participants_not_negative", True, True, "planned_participants >= 0",
                     _failing(projects, lambda r: r.get("planned_participants") is not None and r["planned_participants"] < 0)),
        CheckOutcome("nuts2_known", True, True, "every region_nuts2 is a known Swedish NUTS-2 code",
                     _failing(projects, lambda r: r.get("region_nuts2") is not None and r["region_nuts2"] not in KNOWN_NUTS2)),
    ]
    for outcome in outcomes[1:]:
        outcome.passed = not outcome.failures
    unknown = sum(1 for i in issues if i.get("problem") == "unknown_label")
    labelled = max(1, len(projects))
    outcomes.append(CheckOutcome("unknown_label_share", unknown / labelled <= max_unknown_label_share, False,
                                 f"unknown labels per project at most {max_unknown_label_share}", [unknown]))
    if previous_count:
        dropped = len(projects) < previous_count * (1 - max_drop)
        outcomes.append(CheckOutcome("project_count_not_collapsed", not dropped, True,
                                     f"project count not more than {max_drop:.0%} below the previous run ({previous_count})",
                                     [len(projects)] if dropped else []))
    return outcomes
