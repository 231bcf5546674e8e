"""One GET: a deadline for the whole exchange (connect, headers and body), the body streamed and cut
above a size limit after decompression (so gzip bombs too), a body shorter than its Content-Length
reported, and no cookies kept."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Mapping

import httpx


@dataclass
class Answer:
    status: int | None  # None: no answer (timeout, reset, protocol error, deadline)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    retryable: bool = False  # a failure another try may mend (a timeout, a reset), not one it would repeat
    timed_out: bool = False  # the host was too slow: the gate spaces requests further apart


async def get(client: httpx.AsyncClient, url: str, headers: dict[str, str], max_bytes: int, deadline: float) -> Answer:
    try:
        return await asyncio.wait_for(_get(client, url, headers, max_bytes), deadline)
    except asyncio.TimeoutError:
        return Answer(None, error=f"no complete answer within the deadline of {deadline:g} s", timed_out=True)
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        return Answer(
            None,
            error=f"{type(exc).__name__}: {exc}",
            retryable=True,
            timed_out=isinstance(exc, httpx.TimeoutException),
        )
    except httpx.HTTPError as exc:  # a body that does not decompress, a malformed header: not worth another try
        return Answer(None, error=f"{type(exc).__name__}: {exc}")


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str], max_bytes: int) -> Answer:
    async with client.stream("GET", url, headers=headers) as response:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            return Answer(response.status_code, response.headers, error=f"body larger than {max_bytes} bytes")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():  # decompressed: the limit holds for gzip bombs too
            size += len(chunk)
            if size > max_bytes:
                return Answer(response.status_code, response.headers, error=f"body larger than {max_bytes} bytes")
            chunks.append(chunk)
        if declared and declared.isdigit() and response.num_bytes_downloaded < int(declared):
            return Answer(
                response.status_code,
                response.headers,
                error=f"body cut short: {response.num_bytes_downloaded} of the {declared} bytes its "
                "Content-Length declares",
                retryable=True,
            )
        return Answer(response.status_code, response.headers, b"".join(chunks))


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing a response or a caller hands it."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        pass


class CookielessClient(httpx.AsyncClient):
    """A client that keeps no cookies from responses, so sends none back. Public pages need none, and a
    page's content must not depend on which pages were fetched before it. It is also cheaper: httpx
    hands every response to the standard library's cookie jar, through adapters that copy its headers.
    A site that insists on a cookie (a consent redirect that sets one) shows up as a redirect loop, not
    as silently different content."""

    def __init__(self, **kwargs: Any) -> None:
        self._jar = _NoCookies()
        super().__init__(**kwargs)

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, value: object) -> None:
        pass
