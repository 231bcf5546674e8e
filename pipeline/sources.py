"""Sources: what is crawled, under which name, and how an address becomes a page key.

A source is identified by its name, never by its address or its position on a command line: the
name in pipeline/sources.toml, ``NAME=URL`` on the command line, or one derived from the start URL's
host (without port and ``www.``) and path. A page of a source is identified by its key: its path
and query relative to the source's root directory (``projekt/2016-00418.html``), or its absolute
path (``/other/place``) when it lies outside the root. So a site that moves to another host, port or
root directory keeps its pages' identities, and so do the projects read from them."""

from __future__ import annotations

import functools
import posixpath
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipeline.urls import MalformedURL, canonical_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCES_FILE = Path(__file__).with_name("sources.toml")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
_NAMED_URL = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]{0,79})=(?P<url>https?://.+)$", re.I)


class SourceError(ValueError):
    """A source that cannot be crawled as given (malformed start URL, bad or clashing name)."""


def normalise_url(url: str) -> str:
    """The canonical form of an address (pipeline/crawl/scope.py)."""
    return canonical_url(url)


def validate_start_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"malformed start URL (need http:// or https:// and a host): {url!r}")
    try:
        canonical_url(url)
    except MalformedURL as exc:
        raise SourceError(f"malformed start URL: {exc}") from None


@dataclass(frozen=True)
class Source:
    name: str
    start_url: str
    # The directory page keys are relative to: the start URL's directory, or the one of earlier runs when
    # the start URL now lies under it (a narrower crawl of the same source keeps its pages' identities).
    root: str = ""
    sitemaps: bool = True  # read the sitemaps robots.txt names (or the usual places) for more addresses
    seeds: tuple[tuple[str, str], ...] = ()  # (address, how it was given: list | export) fetched besides the links
    export: str | None = None  # the official export (a path or a URL): its projects are fetched through project_url
    project_url: str | None = None  # a project page's address, with {dnr} for the export's Diarienummer

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SourceError(f"source name {self.name!r} must be lower-case letters, digits, '-' or '_' (at most 80)")
        validate_start_url(self.start_url)

    @functools.cached_property
    def scope(self) -> tuple[str, str]:
        """(host with port, directory path): only addresses under both are fetched."""
        parts = urlsplit(normalise_url(self.start_url))
        directory = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
        return parts.netloc, directory or "/"

    @functools.cached_property
    def origin(self) -> str:
        parts = urlsplit(normalise_url(self.start_url))
        return f"{parts.scheme}://{parts.netloc}"

    def in_scope(self, url: str) -> bool:
        parts = urlsplit(url)
        host, directory = self.scope
        if (
            parts.scheme not in ("http", "https")
            or parts.netloc.lower() != host
            or not parts.path.startswith(directory)
        ):
            return False
        # A server may decode an encoded slash or backslash (..%2F, %5C) and climb out of the directory:
        # the path as such a server would read it must stay inside too.
        if "%" in parts.path or "\\" in parts.path:
            decoded = unquote(parts.path).replace("\\", "/")
            resolved = posixpath.normpath(decoded) + ("/" if decoded.endswith("/") else "")
            return resolved.startswith(directory) or resolved + "/" == directory
        return True

    @property
    def key_root(self) -> str:
        return self.root or self.scope[1]

    def page_key(self, url: str) -> str:
        """The address's identity within the source, independent of host, port and root directory."""
        parts = urlsplit(url)
        directory = self.key_root
        path = parts.path[len(directory) :] if parts.path.startswith(directory) else parts.path
        return path + (f"?{parts.query}" if parts.query else "")

    def url_for(self, key: str) -> str:
        """The address of a page key at the source's current location."""
        if key.startswith("/"):
            return self.origin + key
        return self.origin + self.key_root + key


def with_earlier_root(source: Source, earlier_root: str | None) -> Source:
    """The source with the key root of its earlier runs, when its start URL now lies under that root."""
    if (
        earlier_root
        and earlier_root != source.scope[1]
        and urlsplit(normalise_url(source.start_url)).path.startswith(earlier_root)
    ):
        return replace(source, root=earlier_root)
    return source


def derived_name(url: str) -> str:
    """A source name from a start URL: host without port and ``www.``, then the path, as a slug."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    words = re.findall(r"[a-z0-9]+", f"{host} {parts.path} {parts.query}".lower())
    return "-".join(words)[:80].strip("-") or "site"


def configured_sources(path: Path = SOURCES_FILE) -> list[Source]:
    with open(path, "rb") as handle:
        listed = tomllib.load(handle).get("sources", [])
    known = {"name", "start_url", "sitemaps", "urls_from", "export", "project_url", "generation"}
    sources = []
    for entry in listed:
        unknown = set(entry) - known
        if unknown:
            raise SourceError(f"{path}: source {entry.get('name')!r} has unknown keys {sorted(unknown)}")
        seeds = tuple((url, "list") for url in read_url_list(entry["urls_from"])) if entry.get("urls_from") else ()
        sources.append(
            Source(
                entry["name"],
                entry["start_url"],
                sitemaps=entry.get("sitemaps", True),
                seeds=seeds,
                export=entry.get("export"),
                project_url=entry.get("project_url"),
            )
        )
    return sources


def read_url_list(path: str) -> list[str]:
    """A list of addresses, one per line; blank lines and lines starting with # are left out."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]
    except OSError as exc:
        raise SourceError(f"cannot read the URL list {path}: {exc.strerror or exc}") from None


def with_discovery(
    sources: list[Source], urls_from: str | None = None, export: str | None = None, project_url: str | None = None
) -> list[Source]:
    """Sources with the command line's discovery options: a URL list, the official export and the
    project page template (each source gets them; run one source when they belong to one)."""
    seeds = tuple((url, "list") for url in read_url_list(urls_from)) if urls_from else ()
    if project_url is not None and "{dnr}" not in project_url:
        raise SourceError(f"the project URL template {project_url!r} has no {{dnr}}")
    return [
        replace(s, seeds=s.seeds + seeds, export=export or s.export, project_url=project_url or s.project_url)
        for s in sources
    ]


def sources_from_arguments(arguments: list[str], configured: list[Source] | None = None) -> list[Source]:
    """``--start-url`` values -> sources. ``NAME=URL`` names a source; a URL that is the start URL of a
    configured source takes that source's name; any other gets a name derived from its address."""
    configured = configured_sources() if configured is None else configured
    by_url = {normalise_url(s.start_url): s.name for s in configured}
    sources: list[Source] = []
    for argument in arguments:
        named = _NAMED_URL.match(argument.strip())
        url = named["url"] if named else argument.strip()
        validate_start_url(url)
        name = named["name"].lower() if named else by_url.get(normalise_url(url)) or derived_name(url)
        sources.append(Source(name, url))
    names = [s.name for s in sources]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash is not None:
        urls = [s.start_url for s in sources if s.name == clash]
        raise SourceError(
            f"start URLs {urls} would share the source name {clash!r}: name them, as --start-url NAME=URL"
        )
    return sources
