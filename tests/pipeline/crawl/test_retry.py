"""Retries over fake answers: which are tried again, and how long to wait."""

from __future__ import annotations

from datetime import datetime, timezone

from pipeline.crawl.retry import RetryPolicy, retry_after


def test_which_answers_are_tried_again():
    policy = RetryPolicy(retries=2, backoff_seconds=1.0)
    assert policy.retryable(None, 0) and policy.retryable(503, 1) and policy.retryable(429, 0)
    assert not policy.retryable(503, 2)  # the retries are spent
    assert not policy.retryable(404, 0) and not policy.retryable(200, 0)


def test_retry_after_in_seconds_or_as_a_date_capped():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after("7", 120) == 7 and retry_after("9999", 120) == 120
    assert retry_after("Thu, 01 Jan 2026 12:00:30 GMT", 120, now) == 30
    assert retry_after("Thu, 01 Jan 2026 11:00:00 GMT", 120, now) == 0
    assert retry_after("soon", 120) is None and retry_after(None, 120) is None


def test_the_wait_honours_retry_after_for_429_and_503_and_backs_off_otherwise():
    policy = RetryPolicy(retries=3, backoff_seconds=1.0, max_retry_after=60)
    assert policy.wait(429, {"retry-after": "5"}, 1) == 5
    for attempt in (1, 2, 3):
        wait = policy.wait(500, {"retry-after": "5"}, attempt)  # a 500's Retry-After is not a request to slow down
        assert 0.5 * 2 ** (attempt - 1) <= wait <= 1.5 * 2 ** (attempt - 1)
