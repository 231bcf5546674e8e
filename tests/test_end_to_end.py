"""The whole path over real HTTP on loopback: crawl -> parse -> normalise -> Parquet."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.schema import TABLES
from tests.conftest import ROOT, run_assets


def test_every_table_has_the_registry_schema(demo_output):
    for name, table in TABLES.items():
        schema = pq.read_schema(demo_output / f"{name}.parquet")
        assert schema.names == table.column_names
        for field in table.schema:
            assert schema.field(field.name).type == field.type, (name, field.name)


def test_pages_table_records_listing_project_and_other_pages(demo_tables):
    pages = demo_tables["pages"].set_index("url")
    kinds = pages["page_kind"].value_counts().to_dict()
    assert kinds.get("listing") == 2  # index.html and sida-2.html (pagination followed)
    assert kinds.get("project") == 5
    assert kinds.get("other") == 1  # om-projektbanken.html has no labels
    assert (pages["status"] == 200).all()
    assert pages["content_sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert pages.loc[pages["page_kind"] == "other", "records"].eq(0).all()


def test_raw_html_is_kept_by_content_hash(demo_output, demo_tables):
    for sha in demo_tables["pages"]["content_sha256"]:
        assert (demo_output / "raw" / sha[:2] / f"{sha}.html").exists()


def test_projects_per_family(demo_tables):
    families = demo_tables["projects"]["page_family"].value_counts().to_dict()
    assert families == {"tillvaxtverket_theme": 8, "skr_initiatives": 3, "esf_2014_2020": 2, "esf_2007_2013": 1}
    assert demo_tables["projects"]["project_id"].is_unique


def test_liv_sparet(demo_tables):
    p = demo_tables["projects"].set_index("project_id").loc["2016/00418"]
    assert p["project_number"] == "2016/00418"
    assert p["name"] == "LiV-spåret"
    assert p["total_budget_sek"] == 9845203 and p["esf_grant_sek"] == 4627244
    assert isinstance(p["esf_grant_sek"], Decimal)
    assert p["planned_participants"] == 39
    assert (p["start_date"], p["end_date"]) == (dt.date(2017, 2, 15), dt.date(2020, 3, 31))
    assert p["period_precision"] == "day"
    assert p["eu_cofinancing_rate"] == 0.5
    assert (p["region"], p["region_nuts2"]) == ("Norra Mellansverige", "SE31")
    assert (p["programme_area"], p["specific_objective"], p["intervention_code"]) == ("2", "2.1", "102")
    assert p["postal_code"] == "65182"
    assert p["programme_period"] == "2014-2020"
    assert p["owner"] == "Region Värmland, Regionens kansli"
    sections = demo_tables["project_sections"].query("project_id == '2016/00418'")
    assert len(sections) >= 1 and sections["heading"].isna().all()
    assert "LiV-spåret syftar till" in " ".join(sections["text"])
    contacts = demo_tables["project_contacts"].query("project_id == '2016/00418'")
    assert contacts["email"].tolist() == ["daniel.thunberg@liv.se"]


def test_no_personal_data_in_projects(demo_tables):
    projects = demo_tables["projects"]
    text = projects.astype(str).to_string()
    assert "@" not in text
    assert "Daniel Thunberg" not in text


def test_inkluderingsmetoden_empty_dates_do_not_hide_the_period(demo_tables):
    p = demo_tables["projects"].set_index("project_id").loc["2017/00375"]
    assert (p["start_date"], p["end_date"]) == (dt.date(2017, 12, 22), dt.date(2020, 6, 21))
    assert pd.isna(p["region_nuts2"]) and p["national"]
    kinds = demo_tables["project_sections"].query("project_id == '2017/00375'")["kind"].tolist()
    assert kinds == ["background", "purpose", "goal"]


def test_arena_for_nyorientering(demo_tables):
    projects = demo_tables["projects"]
    p = projects[projects["name"] == "Arena för nyorientering"].iloc[0]
    assert p["page_family"] == "esf_2007_2013" and p["programme_period"] == "2007-2013"
    assert p["total_budget_sek"] == 299614 and p["esf_grant_sek"] == 299614
    assert (p["start_date"], p["end_date"]) == (dt.date(2009, 8, 3), dt.date(2010, 2, 2))
    assert p["project_phase"] == "Förprojektering" and p["programme_area"] == "1"
    sections = demo_tables["project_sections"].query("project_id == @p.project_id")
    assert sections["heading"].tolist()[-5:] == [
        "Sammanfattning",
        "Bakgrund",
        "Syfte",
        "Målsättning",
        "Tillgänglighet för personer med funktionsnedsättning",
    ]
    municipalities = demo_tables["project_municipalities"].query("project_id == @p.project_id")
    assert len(municipalities) == 16
    assert municipalities["municipality_code"].notna().all()
    assert municipalities.set_index("municipality_name").loc["Säffle", "municipality_code"] == "1785"
    assert set(municipalities["county_code"]) == {"17"}
    contact = demo_tables["project_contacts"].query("project_id == @p.project_id").iloc[0]
    assert contact["phone"] == "+4654614310"


def test_tillvaxtverket_theme_page(demo_tables):
    projects = demo_tables["projects"].query("page_family == 'tillvaxtverket_theme'")
    assert len(projects) == 8
    assert (projects["start_date"] == dt.date(2018, 1, 1)).all()
    assert (projects["end_date"] == dt.date(2020, 12, 31)).all()
    assert (projects["period_precision"] == "year").all()
    assert not projects["name"].str.contains("inriktning").any()  # intro headings are not projects
    orebro = projects.set_index("region").loc["Örebro"]
    assert orebro["name"] == "Integration i regional kompetensförsörjning"
    assert (orebro["county_code"], orebro["region_nuts2"]) == ("18", "SE12")


def test_skl_initiatives(demo_tables):
    projects = demo_tables["projects"].query("page_family == 'skr_initiatives'")
    assert sorted(projects["name"]) == sorted(
        [
            "Utveckla arbetet med snabbspår för lärare och förskollärare",
            "Förbättra förutsättningarna för utländsk vårdpersonal",
            "Kommunicera samlad och likvärdig information",
        ]
    )
    assert (projects["published_date"] == dt.date(2017, 12, 8)).all()
    sections = demo_tables["project_sections"].merge(projects[["project_id"]])
    assert len(sections) == 3 and sections["text"].str.len().gt(200).all()


def test_broken_page_never_stops_the_run(tmp_path):
    from pipeline.demo import serve_directory

    site = tmp_path / "site" / "lista"
    site.mkdir(parents=True)
    (site / "index.html").write_text(
        '<html><body><a href="bra.html">bra</a> <a href="tom.html">tom</a> <a href="saknas.html">saknas</a>'
        ' <a href="trasig.html">trasig</a></body></html>',
        encoding="utf-8",
    )
    (site / "bra.html").write_text(
        "<p>Projektnummer:</p><p>2019/00001</p><p>Beviljat ESF-stöd:</p><p>ungefär mycket</p>", encoding="utf-8"
    )
    (site / "tom.html").write_bytes(b"")
    (site / "trasig.html").write_bytes(b"<html><body><div><p>Projektnummer: 2019/00002<div><table><tr><td>Region")
    with serve_directory(tmp_path / "site") as base:
        result = run_assets([base + "/lista/"], tmp_path / "out")
    assert result.success
    pages = pq.read_table(tmp_path / "out" / "pages.parquet").to_pandas().set_index("url")
    assert pages.loc[base + "/lista/saknas.html", "status"] == 404
    assert pages.loc[base + "/lista/tom.html", "page_kind"] == "other"
    projects = pq.read_table(tmp_path / "out" / "projects.parquet").to_pandas().set_index("project_id")
    assert {"2019/00001", "2019/00002"} <= set(projects.index)
    assert projects.loc["2019/00001", "esf_grant_sek"] is None
    issues = pq.read_table(tmp_path / "out" / "parse_issues.parquet").to_pandas()
    bad_amount = issues.query("project_id == '2019/00001' and field == 'esf_grant_sek'")
    assert bad_amount["raw_value"].tolist() == ["ungefär mycket"]
    assert "fetch_failed" in set(issues["problem"])


def _cli(*args: str, cwd=ROOT, **env_vars: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_vars)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_cli_demo_prints_a_summary_and_writes_tables(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = _cli("demo", "--output", str(tmp_path / "out"), TMPDIR=str(temp))
    assert done.returncode == 0, done.stderr
    assert "Projects: 14" in done.stdout
    assert "tillvaxtverket_theme: 8" in done.stdout
    assert (tmp_path / "out" / "projects.parquet").exists()
    assert not list(temp.iterdir())  # Dagster's temporary instance directory is removed


@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/x", "http://"])
def test_cli_malformed_start_url_is_a_one_line_error(tmp_path, url):
    done = _cli("run", "--start-url", url, "--output", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "malformed start URL" in done.stderr


def test_cli_unreachable_start_url_fails_and_keeps_previous_output(tmp_path, demo_output):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(demo_output, out)
    before = (out / "projects.parquet").read_bytes()
    done = _cli("run", "--start-url", "http://127.0.0.1:9/nowhere/", "--output", str(out), "--delay", "0")
    assert done.returncode == 1
    assert "unreachable" in done.stderr.strip().splitlines()[-1]
    assert (out / "projects.parquet").read_bytes() == before


def test_cli_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = _cli("run", "--start-url", "http://127.0.0.1:9/x/", "--output", str(blocker / "out"))
    assert done.returncode == 2 and "cannot write output directory" in done.stderr


def test_cli_output_url_without_a_driver_is_a_one_line_error(tmp_path):
    done = _cli("run", "--start-url", "http://127.0.0.1:9/x/", "--output", "nosuchfs://bucket/esf")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "cannot use output location nosuchfs://bucket/esf" in done.stderr


def test_a_run_on_an_output_another_run_is_writing_fails_and_changes_nothing(tmp_path, demo_site_url):
    """One run at a time per output location: the CLI and a Dagster run both refuse while another
    process holds it, and leave the tables as they were; once the holder is gone (killed: the kernel drops
    its lock) a run goes through."""
    import dagster as dg

    out = tmp_path / "out"
    assert _cli("demo", "--output", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pipeline.storage import OutputDir\n"
            "OutputDir(sys.argv[1]).lock_for_writing()\nprint('held', flush=True)\ntime.sleep(300)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        done = _cli("demo", "--output", str(out))
        assert done.returncode == 1
        message = done.stderr.strip().splitlines()[-1]
        assert "another run is writing to" in message and f"pid {holder.pid} " in message
        with dg.DagsterInstance.ephemeral() as instance:  # a Dagster run (the UI, the schedule) too
            assert not run_assets([demo_site_url], out, instance=instance).success
        assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before
    finally:
        holder.kill()
        holder.wait()
    assert _cli("demo", "--output", str(out)).returncode == 0


@pytest.mark.parametrize("every_seconds", [0.0, 1e9])
def test_the_crawl_logs_progress_at_most_every_few_seconds_and_its_total(
    demo_site_url, tmp_path, monkeypatch, every_seconds
):
    import dagster as dg

    import assets.crawl

    monkeypatch.setattr(assets.crawl, "PROGRESS_LOG_SECONDS", every_seconds)
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_assets([demo_site_url], tmp_path, instance=instance)
        assert result.success
        messages = [e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None]
    pages = pq.read_metadata(tmp_path / "pages.parquet").num_rows
    progress = [m for m in messages if " pages done, " in m]
    assert len(progress) == (pages if every_seconds == 0 else 0)
    assert [m.split(",")[0] for m in messages if m.startswith("crawl done: ")] == [f"crawl done: {pages} pages"]


def test_definitions_load():
    from pipeline.definitions import defs

    type(defs).validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {"crawl_and_publish", "reparse_from_raw"} <= {j.name for j in repo.get_all_jobs()}
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipeline.definitions"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_cli_without_personal_data_leaves_contacts_out(tmp_path, demo_output):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(demo_output, out)  # an older contacts file must not survive either
    done = _cli("demo", "--output", str(out), "--without-personal-data")
    assert done.returncode == 0, done.stderr
    assert not (out / "project_contacts.parquet").exists()
    assert (out / "projects.parquet").exists()
    # Nor are the contact values anywhere else: not among the raw fields, not in the issues.
    personal = {"contact_name", "contact_email", "contact_phone"}
    before = pd.read_parquet(demo_output / "project_fields.parquet")
    assert personal & set(before["field"])  # the demo pages do name contacts
    fields = pd.read_parquet(out / "project_fields.parquet")
    assert not personal & set(fields["field"])
    assert len(fields) == (~before["field"].isin(personal)).sum()
    issues = pd.read_parquet(out / "parse_issues.parquet")
    assert issues.loc[issues["field"].isin(personal), "raw_value"].isna().all()
