"""robots.txt as RFC 9309 says, over fake answers: what each answer allows, redirects, one fetch per origin."""

from __future__ import annotations

import asyncio

from pipeline.crawl.robots import RobotsAnswer, RobotsPolicy, rules_from


def test_a_2xx_applies_its_rules_a_4xx_allows_everything_a_5xx_or_no_answer_disallows_everything():
    rules = rules_from(RobotsAnswer(200, b"User-agent: *\nDisallow: /privat/\nSitemap: http://h/s.xml\n"))
    assert rules.allowed("http://h/bank/p.html", "esf") and not rules.allowed("http://h/privat/x", "esf")
    assert rules.sitemaps == ("http://h/s.xml",)
    assert rules_from(RobotsAnswer(404)).allowed("http://h/privat/x", "esf")
    for answer in (RobotsAnswer(503), RobotsAnswer(None, error="ConnectError")):
        refused = rules_from(answer)
        assert not refused.allowed("http://h/bank/p.html", "esf") and "disallowed for this run" in refused.disallow_all


def test_redirects_are_followed_up_to_five_and_each_origin_is_fetched_once():
    asked: list[str] = []

    async def fetch(address: str) -> RobotsAnswer:
        asked.append(address)
        await asyncio.sleep(0.01)
        if address.endswith("/robots.txt"):
            return RobotsAnswer(301, redirect_to="/real.txt")
        return RobotsAnswer(200, b"User-agent: *\nDisallow: /bank/p2")

    async def main() -> list[str | None]:
        policy = RobotsPolicy(fetch, "esf")
        return await asyncio.gather(*(policy.check(f"http://h/bank/p{n}.html") for n in range(1, 4)))

    assert asyncio.run(main()) == [None, "disallowed by robots.txt", None]
    assert asked == ["http://h/robots.txt", "http://h/real.txt"]  # one fetch for three pages


def test_a_redirect_chain_longer_than_five_is_unreachable():
    async def fetch(address: str) -> RobotsAnswer:
        return RobotsAnswer(302, redirect_to=address + "x")

    refused = asyncio.run(RobotsPolicy(fetch, "esf").check("http://h/p"))
    assert refused is not None and "more than 5 redirects" in refused


def test_not_obeying_allows_everything_without_fetching():
    async def fetch(address: str) -> RobotsAnswer:
        raise AssertionError("not asked")

    assert asyncio.run(RobotsPolicy(fetch, "esf", obey=False).check("http://h/privat/x")) is None
