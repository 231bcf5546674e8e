"""Random sequences of site changes (pages appear, vanish, fail, move, come back; runs complete or
partial), each run a real crawl of a loopback site, checked against a small reference model of what
the statuses and the history must be."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pandas as pd
import pytest

from tests.sitekit import Response, RouteSite, listing, project_page, serve
from tests.test_trustworthy_runs import crawl

PROJECTS = 8
PER_PAGE = 4
CONFIRMATIONS = 2  # complete runs that must miss a page (the OutputResource default)


def number(i: int) -> str:
    return f"2025/{i + 1:05d}"


@dataclass
class Model:
    """The site as the test changes it, and what the published tables must say."""

    listed: set[int] = field(default_factory=lambda: set(range(PROJECTS)))
    gone: set[int] = field(default_factory=set)  # pages answering 404
    address: dict[int, str] = field(default_factory=lambda: {i: f"/m/p/{i}-0.html" for i in range(PROJECTS)})
    owner: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(PROJECTS), 0))
    # What a run knows: address -> (project, misses, live); a project's status.
    pages: dict[str, list] = field(default_factory=dict)
    status: dict[int, str] = field(default_factory=dict)
    shown_owner: dict[int, int] = field(default_factory=dict)

    def serve(self, site: RouteSite, fault: str | None) -> None:
        site.routes.clear()
        site.routes["/robots.txt"] = Response(404, b"")
        order = sorted(self.listed)
        first, rest = order[:PER_PAGE], order[PER_PAGE:]
        site.routes["/m/"] = Response(
            200, listing([self.address[i] for i in first], "/m/sida-2.html" if rest else None)
        )
        site.routes["/m/sida-2.html"] = Response(200, listing([self.address[i] for i in rest]))
        for i, path in self.address.items():
            site.routes[path] = (
                Response(404, b"")
                if i in self.gone
                else Response(200, project_page(number(i), f"Ägare {i} v{self.owner[i]}"))
            )
        if fault == "start fails":
            site.routes["/m/"] = Response(500, b"")
        elif fault == "page 2 fails":
            site.routes["/m/sida-2.html"] = Response(503, b"")

    def run(self, fault: str | None) -> None:
        """What a run must conclude: only reached pages count, only complete runs count misses."""
        order = sorted(self.listed)
        has_page_two = len(order) > PER_PAGE
        reached = [] if fault == "start fails" else order[:PER_PAGE] if fault == "page 2 fails" else order
        complete = fault is None or (fault == "page 2 fails" and not has_page_two)
        lost: set[int] = set()
        seen: set[int] = set()
        reached_paths = set()
        for i in reached:
            path = self.address[i]
            reached_paths.add(path)
            page = self.pages.setdefault(path, [i, 0, False])
            if i in self.gone:
                if page[2]:
                    lost.add(i)
                page[1], page[2] = 0, False
            else:
                page[1], page[2] = 0, True
                seen.add(i)
                self.shown_owner[i] = self.owner[i]
        if complete:
            for path, page in self.pages.items():
                if path in reached_paths or not page[2]:
                    continue
                page[1] += 1
                if page[1] >= CONFIRMATIONS:
                    page[2] = False
                    lost.add(page[0])
        live = {page[0] for page in self.pages.values() if page[2]}
        for i in lost - live:
            self.status[i] = "removed"
        for i in seen:
            self.status[i] = "active"

    def change(self, rng: random.Random) -> str:
        i = rng.randrange(PROJECTS)
        if i not in self.listed:
            action = rng.choice(["list", "list", "move", "back" if i in self.gone else "gone"])
        else:
            action = rng.choice(["delist", "delist", "back" if i in self.gone else "gone", "owner", "move"])
        if action == "delist":
            self.listed.discard(i)
        elif action == "list":
            self.listed.add(i)
        elif action == "gone":
            self.gone.add(i)
        elif action == "back":
            self.gone.discard(i)
        elif action == "owner":
            self.owner[i] += 1
        else:
            version = int(self.address[i].rsplit("-", 1)[1][:-5]) + 1
            self.address[i] = f"/m/p/{i}-{version}.html"
        return f"{action} {i}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_statuses_and_history_follow_the_reference_model(tmp_path, seed):
    rng = random.Random(seed)
    model = Model()
    out = tmp_path / "out"
    transitions: list[tuple[str, str, str]] = []
    steps: list[str] = []
    with serve(RouteSite()) as site:
        for step in range(14):
            actions = [model.change(rng) for _ in range(rng.randint(1, 3))] if step else []
            fault = rng.choice([None, None, None, "page 2 fails", "start fails"]) if step else None
            steps.append(f"{actions} fault={fault}")
            before = dict(model.status)
            model.serve(site, fault)
            model.run(fault)
            crawl(site, out, path="/m/", name="m", allow_removals=True, retries=0)
            transitions += [
                (number(i), before.get(i), s) for i, s in model.status.items() if i in before and before[i] != s
            ]
            projects = pd.read_parquet(out / "projects.parquet").set_index("project_id")
            where = f"seed {seed}, after {steps}"
            assert {pid: projects.loc[pid, "status"] for pid in projects.index} == {
                number(i): s for i, s in model.status.items()
            }, where
            for i, status in model.status.items():
                row = projects.loc[number(i)]
                assert pd.isna(row["removed_at"]) == (status == "active"), where
                assert row["owner"] == f"Ägare {i} v{model.shown_owner[i]}", where
    changes = pd.read_parquet(out / "project_changes.parquet").query("field == 'status'")
    assert sorted(map(tuple, changes[["project_id", "old_value", "new_value"]].values.tolist())) == sorted(transitions)
