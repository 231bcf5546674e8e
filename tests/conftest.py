"""Shared fixtures: the demo site served over real HTTP on loopback, and one real Dagster run over it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.demo import DEMO_SITE, DEMO_SOURCE, DEMO_START_PATH, serve_directory

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="session")
def demo_site_url():
    """The demo site's start URL, named as the CLI's demo names it (the source name is its identity)."""
    with serve_directory(DEMO_SITE) as base:
        yield f"{DEMO_SOURCE}={base}{DEMO_START_PATH}"


def run_assets(
    start_urls: list[str],
    output: Path,
    instance=None,
    full_refresh: bool = False,
    allow_removals: bool = False,
    output_options: dict | None = None,
    job: str = "crawl_and_publish",
    only_sources: list[str] | None = None,
    **crawler,
):
    """One real run of a job of the project's Definitions (the same factory the UI and the CLI use), in
    this process, with the test's settings over the defaults (the environment is left out)."""
    import dagster as dg

    from pipeline.definitions import make_definitions

    settings = {"delay_seconds": 0.0, "concurrency": 4, "retries": 1, **crawler}
    defs = make_definitions(
        {}, crawler=settings, output={"path": str(output), **(output_options or {})}, start_urls=start_urls
    )
    ops = {"output_tables": {"config": {"allow_removals": allow_removals}}}
    if job == "crawl_and_publish":
        ops["crawled_pages"] = {"config": {"full_refresh": full_refresh, "only_sources": only_sources or []}}
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}, "ops": ops},
    )


@pytest.fixture(scope="session")
def demo_output(demo_site_url, tmp_path_factory):
    """One real materialisation of the whole graph against the demo site."""
    output = tmp_path_factory.mktemp("demo-output")
    result = run_assets([demo_site_url], output)
    assert result.success
    return output


@pytest.fixture(scope="session")
def demo_tables(demo_output):
    return {
        name: pd.read_parquet(demo_output / f"{name}.parquet")
        for name in (
            "projects",
            "project_contacts",
            "project_sections",
            "project_municipalities",
            "project_fields",
            "pages",
            "parse_issues",
        )
    }
