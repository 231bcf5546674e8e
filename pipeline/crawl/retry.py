"""Which failures are tried again, and how long to wait first: exponential backoff with jitter, or the
server's Retry-After (seconds or an HTTP date, capped) for 429 and 503."""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

from pipeline.settings import default

RETRY_STATUSES = frozenset(default("crawler", "retry_statuses"))
THROTTLE_STATUSES = frozenset({429, 503})  # the server asks us to slow down


def retry_after(value: str | None, cap: float, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, at most ``cap``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, min((when - (now or datetime.now(timezone.utc))).total_seconds(), cap))


@dataclass
class RetryPolicy:
    retries: int = default("crawler", "retries")
    backoff_seconds: float = default("crawler", "backoff_seconds")
    max_retry_after: float = default("crawler", "max_retry_after")
    statuses: frozenset[int] = RETRY_STATUSES

    def retryable(self, status: int | None, attempt: int) -> bool:
        """``status`` None is a timeout, a reset or a protocol error (no answer)."""
        return attempt < self.retries and (status is None or status in self.statuses)

    def wait(self, status: int | None, headers: Mapping[str, str], attempt: int) -> float:
        """Seconds before try number ``attempt`` (1 for the first retry)."""
        if status in THROTTLE_STATUSES:
            asked = retry_after(headers.get("retry-after"), self.max_retry_after)
            if asked is not None:
                return asked
        return self.backoff_seconds * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
