"""Canonical addresses and the scope check."""

from __future__ import annotations

import pytest

from pipeline.sources import Source
from pipeline.urls import MalformedURL, canonical_url


@pytest.mark.parametrize(
    "given, canonical",
    [
        ("HTTP://Example.SE:80/a/./b/../c?b=2&a=1#top", "http://example.se/a/c?a=1&b=2"),
        ("https://example.se:443/p?utm_source=x&id=3&fbclid=y", "https://example.se/p?id=3"),
        ("http://example.se/a/%2e%2e/b", "http://example.se/b"),
        ("http://example.se", "http://example.se/"),
    ],
)
def test_one_canonical_form_per_page(given, canonical):
    assert canonical_url(given) == canonical


@pytest.mark.parametrize("bad", ["http://[::1", "http://h:99999/", "ftp://h/x", "http:///nohost"])
def test_malformed_addresses_are_refused(bad):
    with pytest.raises(MalformedURL):
        canonical_url(bad)


def test_the_scope_is_the_host_and_the_directory_also_for_encoded_slashes():
    source = Source("bank", "http://h/bank/index.html")
    assert source.in_scope("http://h/bank/p/1.html") and not source.in_scope("http://h/other/")
    assert not source.in_scope("http://other/bank/p.html")
    assert not source.in_scope("http://h/bank/..%2Fadmin%2Fx.html")
    assert source.in_scope("http://h/bank/a%20b.html")
