"""The official export of a source (ESF-rådet's list of operations, a CSV): read from a path or an
address, parsed on the parse side (parsers/export.py), and its Diarienummer turned into the addresses of
the project pages (the source's project_url), so every project it lists is crawled even when the
listing is drawn by JavaScript."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import httpx

from pipeline.run_state import ExportRead
from pipeline.sources import Source


def load(location: str, user_agent: str, deadline: float, max_bytes: int) -> bytes:
    """The export's bytes; OSError or httpx.HTTPError (with what went wrong) when they cannot be had."""
    if location.startswith(("http://", "https://")):
        with httpx.Client(timeout=deadline, headers={"User-Agent": user_agent}, follow_redirects=True) as client:
            with client.stream("GET", location) as response:
                response.raise_for_status()
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise OSError(f"larger than {max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
    with open(location, "rb") as handle:
        return handle.read(max_bytes + 1)[: max_bytes + 1]


def read_exports(
    sources: list[Source], user_agent: str, deadline: float, max_bytes: int
) -> tuple[list[Source], ExportRead, dict[str, str]]:
    """The sources with the export's project pages as seeds, the exports' rows and issues, and the
    sources whose export could not be read (their crawl is partial: the export is how projects are found)."""
    from parsers.export import read_operations_bytes

    read = ExportRead()
    failed: dict[str, str] = {}
    done: list[Source] = []
    for source in sources:
        if not source.export:
            done.append(source)
            continue
        try:
            data = load(source.export, user_agent, deadline, max_bytes)
        except (OSError, httpx.HTTPError) as exc:
            failed[source.name] = f"the export {source.export} could not be read ({exc})"
            done.append(source)
            continue
        if len(data) > max_bytes:
            failed[source.name] = f"the export {source.export} is larger than {max_bytes} bytes"
            done.append(source)
            continue
        rows, issues = read_operations_bytes(data, source.export)
        read.operations += rows
        read.issues += issues
        read.sources.append(source.name)
        if source.project_url:
            seeds = tuple(
                (source.project_url.replace("{dnr}", quote(row["project_id"], safe="/-")), "export")
                for row in rows
                if row.get("project_id")
            )
            source = replace(source, seeds=source.seeds + seeds)
        done.append(source)
    return done, read, failed
