"""The state kept between runs and handed between assets, and how a run recovers it.

Committed state: one typed JSON file per source, ``_state/sources/<name>.json`` (a ``SourceState``),
written only after a run's tables are published. Hand-over within a run: ``_state/run/crawl.json``
(the crawl's pages and each source's completeness) and ``_state/run/parsed.json`` (the parse
outcome). Formats: docs/state-format.md. Nothing is ever unpickled: a missing, truncated or foreign
source state is named in one line and rebuilt from the published tables; an output directory of the
pickle era is upgraded the same way (statuses and history come from its tables) and its pickles are
deleted once the first run of this version is published."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any

from pipeline.codec import StateError, TableRow
from pipeline.pages import GONE, UNLISTED, FetchedPage, PageState, ParsedPage, SourceRun, SourceState
from pipeline.parse_step import GONE_STATUSES, page_id, parse_key
from pipeline.schema import PAGES, PROJECTS
from pipeline.sources import Source, normalise_url
from pipeline.storage import OutputDir

SOURCE_STATE, CRAWL_RESULT, PARSE_OUTCOME, PUBLISHED = "source-state", "crawl-result", "parse-outcome", "published"
CRAWL_FILE, PARSED_FILE, PUBLISHED_FILE = "run/crawl", "run/parsed", "published"
# Ids of projects without a number of their own: family prefix, slug, 8 hex digits of a hash.
_DERIVED_ID = re.compile(r"^(?P<prefix>[a-z0-9]+)-.*-[0-9a-f]{8}$")


@dataclass
class CrawlResult:
    """What the crawl asset hands to the parse asset."""

    pages: list[FetchedPage]
    sources: list[SourceRun]
    parsed: dict[str, ParsedPage] = field(default_factory=dict)  # parsed by the workers during the crawl
    id_renames: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # recovery of state files, said once in the log
    exports: ExportRead | None = None  # the official export, when a source names one


@dataclass
class ExportRead:
    """The official exports read in this run: their rows (the operations table) and what they did not fit."""

    operations: list[Annotated[dict[str, Any], TableRow("operations")]] = field(default_factory=list)
    issues: list[Annotated[dict[str, Any], TableRow("parse_issues")]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the sources whose export was read


@dataclass
class Published:
    """What the last published run was made of (its entries' fingerprint), for the unchanged fast path,
    and what its retention rule freed."""

    fingerprint: str
    published_at: datetime
    files_pruned: int = 0
    bytes_freed: int = 0


def referenced(states: dict[str, SourceState]) -> tuple[set[str], set[str]]:
    """The raw bodies and parse cache entries the states refer to: what the retention rule keeps."""
    raw, parsed = set(), set()
    for state in states.values():
        for page in state.pages.values():
            if page.content_sha256:
                raw.add(page.content_sha256)
            if page.parsed is not None and page.parsed.key:
                parsed.add(page.parsed.key)
    return raw, parsed


def source_state_name(source: str) -> str:
    return f"sources/{source}"


def load_states(out: OutputDir, sources: list[Source]) -> tuple[dict[str, SourceState], dict[str, str], list[str]]:
    """Every source's committed state; unreadable ones (and, with no state at all, an output written by
    an earlier version) rebuilt from the published tables. Returns the states, project id renames
    (old derived ids -> ids of this version) and one line per recovery."""
    notes: list[str] = []
    states: dict[str, SourceState] = {}
    unreadable: set[str] = set()
    for name in out.state_names("sources"):
        try:
            state = out.load_state(name, SOURCE_STATE, SourceState)
        except StateError as exc:
            notes.append(f"{exc}; rebuilt from the published tables")
            unreadable.add(name.split("/", 1)[1])
            continue
        states[state.name] = state
    legacy = not states and not unreadable and out.has_table(PAGES)
    if not (unreadable or legacy):
        return states, {}, notes
    rebuilt, renames = rebuild_from_tables(out, sources, None if legacy else unreadable)
    if legacy:
        notes.append(
            f"no state of this version in {out.state_url('sources')[:-5]}: state rebuilt from the published "
            f"tables ({sum(len(s.pages) for s in rebuilt.values())} pages); earlier pickles are never loaded"
        )
    states.update(rebuilt)
    return states, renames, notes


def _assign_source(url: str, recorded: str | None, sources: list[Source]) -> Source | None:
    for source in sources:
        if source.in_scope(url):
            return source
    path = normalise_url(url).split("/", 3)[-1]
    for source in sources:  # the same site at another host or port (the demo, a site that moved)
        if ("/" + path).startswith(source.scope[1]):
            return source
    if recorded and re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,79}", recorded) and not re.fullmatch(r"start_\d+", recorded):
        return Source(recorded, url)
    return None


def rebuild_from_tables(
    out: OutputDir, sources: list[Source], only: set[str] | None = None
) -> tuple[dict[str, SourceState], dict[str, str]]:
    """Source states from the published ``pages`` and ``projects`` tables: which page gives which
    project, its content hash and its status. No validators (the next fetch is a full one); each
    content's parse cache entry is checked before it is used (``rebuilt``). Tables of an earlier
    version (no ``page_key`` column) also get their derived project ids renamed to this version's."""
    from parsers.page import stable_id

    if not out.has_table(PAGES):
        return {}, {}
    pages = out.read_table(PAGES).to_pylist()
    legacy = "page_key" not in out.read_table(PAGES, columns=[]).schema.names
    projects = out.read_table(PROJECTS).to_pylist() if out.has_table(PROJECTS) else []
    by_url: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for project in projects:
        by_url[project["source_url"]].append(project)
    renames: dict[str, str] = {}
    states: dict[str, SourceState] = {}
    rows_by_url = {row["url"]: row for row in pages}
    for url in by_url:  # a page whose projects are kept but that was not reached in the last run
        rows_by_url.setdefault(url, {"url": url, "source": None})
    for url, row in sorted(rows_by_url.items()):
        source = _assign_source(url, row.get("source"), sources)
        if source is None or (only is not None and source.name not in only):
            continue
        key = row.get("page_key") if not legacy and row.get("page_key") is not None else source.page_key(url)
        identity = page_id(source.name, key)
        ids, ends, statuses = [], [], set()
        for project in by_url.get(url, ()):
            pid = project["project_id"]
            derived = _DERIVED_ID.match(pid)
            if legacy and derived and pid != project.get("project_number"):
                new = stable_id(derived["prefix"], identity, project.get("name") or url)
                if new != pid:
                    renames[pid] = new
                    pid = new
            ids.append(pid)
            statuses.add(project.get("status"))
            if project.get("end_date"):
                ends.append(project["end_date"])
        sha, content_type = row.get("content_sha256"), row.get("content_type")
        parsed = None
        if sha and (row.get("page_kind") or ids):
            parsed = ParsedPage(
                parse_key(url, sha, content_type, identity),
                row.get("page_kind") or "project",
                row.get("page_family"),
                row.get("encoding"),
                tuple(ids),
                max(ends) if ends else None,
            )
        elif ids:  # content not known (no hash): the projects are kept, the page is fetched in full next time
            parsed = ParsedPage("", "project", None, None, tuple(ids), max(ends) if ends else None)
        removed = None
        if ids and statuses == {"removed"}:
            removed = GONE if row.get("status") in GONE_STATUSES else UNLISTED
        state = states.setdefault(
            source.name, SourceState(source.name, source.start_url, rebuilt=True, root=source.key_root)
        )
        state.pages[key] = PageState(
            url=url,
            source=source.name,
            key=key,
            content_sha256=sha,
            content_type=content_type,
            status=row.get("status"),
            etag=None,
            last_modified=None,
            checked_at=row.get("fetched_at"),
            parsed=parsed,
            removed=removed,
        )
    return states, renames


def source_runs(
    sources: list[Source],
    pages: list[FetchedPage],
    previous: dict[str, SourceState],
    unfinished: dict[str, str],
    limit_reason: str | None = None,
) -> list[SourceRun]:
    """Each crawled source's completeness as far as the crawl can tell: the start page and every page
    that may lead to projects fetched, no budget reached. (The parse step adds what only the content
    shows: a known listing that no longer reads as one.)"""
    runs = []
    for source in sources:
        own = [p for p in pages if p.source == source.name]
        known = previous.get(source.name)
        reasons: list[str] = []
        for page in own:
            if page.is_start and (page.error or page.status is None):
                reasons.append(f"the start page failed ({page.error or 'no answer'})")
                continue
            if not page.error or page.outcome == "disallowed":
                continue
            before = known.pages.get(page.key) if known is not None else None
            if before is not None and before.page_kind == "project":
                continue  # a project page that failed keeps its values; it lists nothing
            if page.status in GONE_STATUSES and (before is None or before.page_kind != "listing"):
                continue  # a dead link
            reasons.append(f"{page.url} failed ({page.error})")
        if known is not None and known.pages and known.start_url:
            start_before = source.page_key(known.start_url)
            if start_before != source.page_key(source.start_url):
                reasons.append(f"the start URL changed (it was {known.start_url})")
        if source.name in unfinished:
            reasons.append(unfinished[source.name])
        if limit_reason:
            reasons.append(limit_reason)
        if len(reasons) > 3:
            reasons = reasons[:3] + [f"and {len(reasons) - 3} more"]
        start_ok = any(p.is_start and not p.error and p.status is not None for p in own)
        runs.append(SourceRun(source.name, source.start_url, not reasons, reasons, len(own), source.key_root, start_ok))
    return runs


def without_lost_bodies(states: dict[str, SourceState], present: set[str]) -> tuple[dict[str, SourceState], int]:
    """States whose pages' raw bodies are gone lose those pages' validators, so the next fetch is a full
    one and the archive is whole again (a 304 would leave it without the body for good)."""
    lost = 0
    mended: dict[str, SourceState] = {}
    for name, state in states.items():
        pages = dict(state.pages)
        for key, page in state.pages.items():
            if page.content_sha256 and page.content_sha256 not in present and (page.etag or page.last_modified):
                pages[key] = replace(page, etag=None, last_modified=None)
                lost += 1
        mended[name] = replace(state, pages=pages) if pages != state.pages else state
    return mended, lost
