"""Addresses: one canonical form per page, and which addresses a source may fetch.

Canonical: scheme and host lower-cased, the default port dropped, dot segments resolved (also written as
``%2e%2e``), percent-encoding normalised, query arguments sorted, tracking parameters dropped, the
fragment dropped (w3lib's ``canonicalize_url``, Scrapy's). Two spellings of one address are then fetched
once. The scope check runs on the canonical form, so ``/bank/%2e%2e/admin`` is out of ``/bank/``."""

from __future__ import annotations

import fnmatch
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

from pipeline.settings import default

# Parameters that say where a visitor came from, never which page it is (pipeline/settings.py).
DEFAULT_TRACKING_PARAMETERS: tuple[str, ...] = default("crawler", "tracking_parameters")


class MalformedURL(ValueError):
    """An address that cannot be fetched (a bad port, a broken IPv6 host, no host)."""


def canonical_url(url: str, tracking: tuple[str, ...] = DEFAULT_TRACKING_PARAMETERS) -> str:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise MalformedURL(f"{url!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise MalformedURL(f"{url!r}: not an http(s) address with a host")
    if tracking and parts.query:
        kept = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not any(fnmatch.fnmatchcase(k.lower(), pattern) for pattern in tracking)
        ]
        parts = parts._replace(query=urlencode(kept))
    try:
        canonical = canonicalize_url(urlunsplit(parts))
    except ValueError as exc:
        raise MalformedURL(f"{url!r}: {exc}") from None
    parts = urlsplit(canonical)
    netloc = parts.netloc
    if (parts.scheme, parts.port) in (("http", 80), ("https", 443)):
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


_DIGITS = re.compile(r"\d+")


def same_path_shape(url: str, other: str) -> bool:
    """Whether two addresses are pages of one pager: the same host, the same path but for its numbers, and
    where both have a query the same parameter names (``sida-2.html`` and ``sida-3.html``, ``/projekt/``
    and ``/projekt/?page=3``; not ``?page=2`` and ``?id=123``, a project on the listing's path)."""
    a, b = urlsplit(url), urlsplit(other)
    if a.netloc != b.netloc or _DIGITS.sub("", a.path) != _DIGITS.sub("", b.path):
        return False
    names = [{name for name, _ in parse_qsl(q, keep_blank_values=True)} for q in (a.query, b.query)]
    return not (names[0] and names[1]) or names[0] == names[1]
