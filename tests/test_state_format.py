"""State is data: typed JSON, never unpickled. Planted files run nothing; missing, truncated or foreign
files are named in one line and rebuilt; an output of the pickle era upgrades from its tables."""

from __future__ import annotations

import os
import pickle
import shutil
import typing
from pathlib import Path

import pandas as pd
import pytest

from pipeline import codec
from pipeline.codec import StateError
from pipeline.pages import PageState, ParsedPage, SourceState
from tests.conftest import FIXTURES, run_assets
from tests.sitekit import RouteSite, serve
from tests.test_trustworthy_runs import bank, crawl, tables

LEGACY = FIXTURES / "legacy_output_v0"


class _Plant:
    """A pickle that, when loaded, creates a marker file (what a malicious file in a shared output could do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _plant_everywhere(out: Path, marker: Path) -> int:
    payload = pickle.dumps(_Plant(marker))
    planted = 0
    for path in [*out.glob("_state/**/*.json"), *out.glob("_parsed/*/*.json")]:
        path.write_bytes(payload)  # the file the next run reads, replaced by a pickle
        planted += 1
    for name in ("_state/pages_state.pickle", "_state/crawl.pickle", "_parsed/00/planted.pickle"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(payload)
        planted += 1
    return planted


def test_codec_round_trips_typed_state_and_rejects_what_does_not_fit():
    from datetime import date, datetime, timezone

    state = SourceState(
        "bank",
        "http://x/bank/",
        {
            "p/1.html": PageState(
                "http://x/bank/p/1.html",
                "bank",
                "p/1.html",
                "ab" * 32,
                "text/html",
                200,
                '"e"',
                None,
                datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                ParsedPage("k" * 64, "project", "esf_2014_2020", "utf-8", ("2022/00001",), date(2027, 1, 1)),
                links=None,
                links_scope=("x", "/bank/"),
            )
        },
    )
    data = codec.dumps("source-state", state)
    assert codec.loads("source-state", SourceState, data, "f") == state
    with pytest.raises(StateError, match="truncated or foreign"):
        codec.loads("source-state", SourceState, data[: len(data) // 2], "f")
    with pytest.raises(StateError, match="not an esf-pipeline/source-state file"):
        codec.loads("source-state", SourceState, codec.dumps("parse-cache", {}), "f")
    with pytest.raises(StateError, match="format version"):
        codec.loads("source-state", SourceState, data.replace(b'"version":1', b'"version":99'), "f")
    with pytest.raises(StateError, match="does not hold a valid"):
        codec.loads("source-state", SourceState, data.replace(b'"status":200', b'"status":"200"'), "f")


@pytest.mark.parametrize(
    ("tp", "value", "message"),
    [
        (int, True, "int expected, got bool"),
        (int, "3", "int expected, got str"),
        (float, "1.5", "float expected"),
        (bool, 1, "a boolean was expected"),
        (str | None, 3, "fits none of"),
        (int, None, "None"),
        (list[int], {"a": 1}, "a list was expected"),
        (tuple[int, str], [1], "a list of 2 was expected"),
        (tuple[int, ...], [1, "x"], "int expected, got str"),
        (dict[str, int], [1], "an object was expected"),
        (PageState, {"url": "x", "colour": "red"}, "unknown fields"),
        (PageState, [], "PageState must be an object"),
    ],
)
def test_every_decoder_rejects_what_does_not_fit_its_type(tp, value, message):
    with pytest.raises((TypeError, ValueError, KeyError), match=message):
        codec.decode(tp, value)


def test_values_are_written_as_plain_json():
    from datetime import date, datetime, timezone
    from decimal import Decimal

    value = {
        "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "day": date(2026, 1, 2),
        "sek": Decimal("100.50"),
        "ids": {"b", "a"},
        "pair": ("x", 1),
        "page": ParsedPage("k", "project", None, "utf-8", ("2022/00001",), None),
    }
    assert codec.encode(value) == {
        "when": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
        "sek": "100.50",
        "ids": ["a", "b"],
        "pair": ["x", 1],
        "page": {
            "key": "k",
            "kind": "project",
            "family": None,
            "encoding": "utf-8",
            "project_ids": ["2022/00001"],
            "latest_end_date": None,
            "error": None,
            "retry": False,
        },
    }
    with pytest.raises(TypeError, match="cannot encode object"):
        codec.dumps("x", {"a": object()})


def test_decoded_values_have_their_declared_types():
    from datetime import date, datetime
    from decimal import Decimal

    assert codec.decode(float, 3) == 3.0 and type(codec.decode(float, 3)) is float
    assert codec.decode(tuple[int, ...], [1, 2]) == (1, 2)
    assert codec.decode(frozenset[str], ["b", "a"]) == frozenset({"a", "b"})
    assert codec.decode(date | None, "2026-01-02") == date(2026, 1, 2)
    assert codec.decode(dict[str, datetime], {"t": "2026-01-02T03:04:05+00:00"})["t"].tzinfo is not None
    assert codec.decode(Decimal, "1234567.89") == Decimal("1234567.89")
    row = codec.decode(
        typing.Annotated[dict[str, typing.Any], codec.TableRow("projects")],
        {"esf_grant_sek": "100.50", "start_date": "2020-01-01", "unknown": 1},
    )
    assert row == {"esf_grant_sek": Decimal("100.50"), "start_date": date(2020, 1, 1), "unknown": 1}


def test_planted_pickles_run_nothing_and_the_tables_survive(tmp_path):
    out, marker = tmp_path / "out", tmp_path / "marker"
    with serve(RouteSite()) as site:
        bank(site)
        first = crawl(site, out)
        assert _plant_everywhere(out, marker) >= 5
        second = crawl(site, out)
    assert not marker.exists()
    assert not list(out.glob("**/*.pickle"))  # the pickles are gone after the run
    assert sorted(second["projects"]["project_id"]) == sorted(first["projects"]["project_id"])
    assert set(second["projects"]["status"]) == {"active"} and second["project_changes"].empty
    assert second["projects"]["first_seen_at"].tolist() == first["projects"]["first_seen_at"].tolist()


def test_a_truncated_state_file_is_named_and_rebuilt(tmp_path):
    import dagster as dg

    out = tmp_path / "out"
    with serve(RouteSite()) as site:
        bank(site)
        crawl(site, out)
        state = out / "_state" / "sources" / "bank.json"
        state.write_bytes(state.read_bytes()[:100])
        instance = dg.DagsterInstance.ephemeral()
        result = run_assets([f"bank={site.url('/bank/')}"], out, instance=instance)
        assert result.success
        said = [entry.user_message for entry in instance.all_logs(result.run_id)]
        assert any(
            "bank.json is not a readable state file" in line and "rebuilt from the published tables" in line
            for line in said
        )
        after = tables(out)
    assert set(after["projects"]["status"]) == {"active"} and after["project_changes"].empty
    codec.loads("source-state", SourceState, state.read_bytes(), "bank")  # whole again


@pytest.mark.parametrize("lost", ["_parsed", "_parsed and raw", "_state"])
def test_a_lost_cache_or_state_is_recovered_without_touching_the_tables(tmp_path, lost):
    out = tmp_path / "out"
    with serve(RouteSite()) as site:
        bank(site)
        first = crawl(site, out)
        for folder in lost.replace(" and ", " ").split():
            shutil.rmtree(out / folder)
        second = crawl(site, out)
        third = crawl(site, out)  # and the run after it finds what it needs
    for after in (second, third):
        assert sorted(after["projects"]["project_id"]) == sorted(first["projects"]["project_id"])
        assert set(after["projects"]["status"]) == {"active"} and after["project_changes"].empty
        assert (after["projects"]["owner"].values == first["projects"]["owner"].values).all()
    children = pd.read_parquet(out / "project_sections.parquet")
    assert len(children) == len(pd.read_parquet(out / "project_sections.parquet"))
    assert set(children["project_id"]) == set(first["projects"]["project_id"])


def test_an_output_of_the_pickle_era_upgrades_from_its_tables(tmp_path, demo_site_url):
    """The demo's output written by the version before this one (fixtures/legacy_output_v0), crawled on
    another port: statuses and first-seen times carry over, derived ids move to the new scheme with a
    history row each, no pickle is loaded (each is replaced by a planted one) and all are removed."""
    out, marker = tmp_path / "out", tmp_path / "marker"
    shutil.copytree(LEGACY, out)
    for path in out.glob("**/*.pickle"):
        path.write_bytes(pickle.dumps(_Plant(marker)))
    old = pd.read_parquet(LEGACY / "projects.parquet")
    assert run_assets([demo_site_url], out).success
    assert not marker.exists() and not list(out.glob("**/*.pickle"))
    new = pd.read_parquet(out / "projects.parquet")
    assert len(new) == len(old) == 14 and set(new["status"]) == {"active"}
    renames = pd.read_parquet(out / "project_changes.parquet").query("field == 'project_id'")
    derived = old[old["project_id"] != old["project_number"]]
    assert sorted(renames["old_value"]) == sorted(derived["project_id"])
    assert set(renames["new_value"]) <= set(new["project_id"])
    # First seen where the old output first saw them, under old and new ids alike.
    first_seen = dict(
        zip(
            old["project_id"].map(dict(zip(renames["old_value"], renames["new_value"]))).fillna(old["project_id"]),
            old["first_seen_at"],
        )
    )
    assert all(first_seen[pid] == seen for pid, seen in zip(new["project_id"], new["first_seen_at"]))
    assert not set(pd.read_parquet(out / "project_changes.parquet")["field"]) - {"project_id", "source_url"}
