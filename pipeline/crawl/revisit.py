"""What a known page needs in this run: nothing (the revisit policy leaves a long-ended project alone),
a conditional request (validators of its last content), or a full one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.pages import PageState
from pipeline.settings import default

# Answers whose body is the page's content (304: the content last fetched).
CONTENT_STATUSES = frozenset(range(200, 300)) | {304}


@dataclass
class RevisitPolicy:
    """Projects that ended long ago are re-checked less often than running ones."""

    ended_grace_days: int = default("crawler", "ended_grace_days")
    ended_revisit_days: int = default("crawler", "ended_revisit_days")

    def skip(self, state: PageState | None, today: date) -> bool:
        if (
            state is None
            or state.page_kind != "project"
            or state.latest_end_date is None
            or state.checked_at is None
            or state.removed is not None
        ):
            return False
        ended_long_ago = state.latest_end_date < today - timedelta(days=self.ended_grace_days)
        checked_recently = state.checked_at.date() > today - timedelta(days=self.ended_revisit_days)
        return ended_long_ago and checked_recently


def links_kept(state: PageState | None, scope: tuple[str, str]) -> bool:
    """A followed page whose links were kept for this scope: a 304 then means the same links."""
    return usable(state) and state.links is not None and state.links_scope == scope  # type: ignore[union-attr]


def usable(state: PageState | None) -> bool:
    """A page whose last answer was its content and that still gives its projects."""
    return state is not None and state.removed is None and state.status in CONTENT_STATUSES


def conditional_headers(state: PageState | None, scope: tuple[str, str]) -> dict[str, str]:
    """If-None-Match / If-Modified-Since for a project page, or a followed page whose links were kept."""
    if not usable(state) or not state.content_sha256:  # type: ignore[union-attr]
        return {}
    if state.page_kind != "project" and not links_kept(state, scope):  # type: ignore[union-attr]
        return {}
    headers = {}
    if state.etag:  # type: ignore[union-attr]
        headers["If-None-Match"] = state.etag  # type: ignore[union-attr]
    if state.last_modified:  # type: ignore[union-attr]
        headers["If-Modified-Since"] = state.last_modified  # type: ignore[union-attr]
    return headers
