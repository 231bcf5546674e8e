"""The revisit policy and conditional requests over fake states."""

from __future__ import annotations

from datetime import date, datetime, timezone

from pipeline.crawl.revisit import RevisitPolicy, conditional_headers
from pipeline.pages import PageState, ParsedPage


def _state(
    kind: str = "project",
    end: date | None = date(2015, 1, 1),
    status: int = 200,
    removed: str | None = None,
    links=None,
) -> PageState:
    return PageState(
        "http://h/b/p.html",
        "b",
        "p.html",
        "ab" * 32,
        "text/html",
        status,
        '"e1"',
        "Mon, 01 Jan 2024",
        datetime(2026, 11, 20, tzinfo=timezone.utc),
        ParsedPage("k", kind, "esf_2014_2020", "utf-8", ("2016/00418",), end),
        links=links,
        links_scope=("h", "/b/"),
        removed=removed,
    )


def test_a_long_ended_project_checked_recently_is_left_alone():
    policy = RevisitPolicy(ended_grace_days=365, ended_revisit_days=30)
    today = date(2026, 12, 1)
    assert policy.skip(_state(), today)
    assert not policy.skip(_state(end=date(2026, 6, 1)), today)  # ended within the year
    assert not policy.skip(_state(kind="listing"), today)
    assert not policy.skip(_state(removed="gone"), today)


def test_validators_are_sent_for_project_pages_and_kept_listings_only():
    assert conditional_headers(_state(), ("h", "/b/")) == {
        "If-None-Match": '"e1"',
        "If-Modified-Since": "Mon, 01 Jan 2024",
    }
    assert conditional_headers(_state(kind="listing"), ("h", "/b/")) == {}  # its links were not kept
    assert conditional_headers(_state(kind="listing", links=("http://h/b/p.html",)), ("h", "/b/"))
    assert conditional_headers(_state(status=404), ("h", "/b/")) == {}
    assert conditional_headers(_state(removed="unlisted"), ("h", "/b/")) == {}
