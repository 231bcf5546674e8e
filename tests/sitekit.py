"""A site on loopback whose pages a test changes between runs: routes of status, body and headers,
served over real HTTP with ETags and 304s, every request recorded."""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator


def project_page(number: str | None, owner: str, name: str | None = None, end: str = "2031-12-31") -> bytes:
    """A project page: labels as dt/dd, a Syfte section. Without a number, the project's id is derived
    from its source, its page key and its name."""
    number_row = f"<dt>Projektnummer:</dt><dd>{number}</dd>" if number else ""
    title = name or f"Projekt {number}"
    return f"""<html><head><meta charset="utf-8"><title>{title}</title></head><body>
    <h1>{title}</h1>
    <dl>{number_row}<dt>Namn:</dt><dd>{title}</dd><dt>Projektägare:</dt><dd>{owner}</dd>
    <dt>Projektperiod:</dt><dd>2021-01-01 - {end}</dd><dt>Beviljat ESF-stöd:</dt><dd>1 000 000</dd>
    <dt>Total projektbudget:</dt><dd>2 000 000</dd></dl>
    <h2>Syfte</h2><p>Att pröva något nytt i {owner}.</p></body></html>""".encode()


def listing(links: list[str], next_page: str | None = None) -> bytes:
    items = "".join(f'<li><a href="{href}">Projekt {n}</a></li>' for n, href in enumerate(links))
    more = f'<p><a href="{next_page}">Nästa sida</a></p>' if next_page else ""
    return f"<html><body><h1>Projektbanken</h1><ul>{items}</ul>{more}</body></html>".encode()


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    # Writes the whole answer itself (a trickle, a body cut short): called with the request handler.
    raw: Callable[[BaseHTTPRequestHandler], None] | None = None


def trickle(body: bytes, seconds_per_byte: float = 1.0) -> Response:
    """An answer whose body comes one byte at a time."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(seconds_per_byte)

    return Response(raw=write)


def cut_short(body: bytes, declared: int) -> Response:
    """An answer that declares ``declared`` bytes and sends ``body``, then closes the connection."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        handler.close_connection = True

    return Response(raw=write)


Route = Response | Callable[[], Response]


class RouteSite:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {"/robots.txt": Response(404, b"")}
        self.hits: list[str] = []
        self.lock = threading.Lock()
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.hits.append(handler.path)
            route = self.routes.get(handler.path, Response(404, b"<h1>Sidan finns inte</h1>"))
        response = route() if callable(route) else route
        if response.raw is not None:
            return response.raw(handler)
        etag = '"' + hashlib.sha256(response.body).hexdigest()[:16] + '"'
        if response.status == 200 and handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(response.body)))
        if response.status == 200:
            handler.send_header("ETag", etag)
        for key, value in response.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(response.body)


@contextmanager
def serve(site: RouteSite, port: int = 0, host: str = "127.0.0.1") -> Iterator[RouteSite]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - the stdlib's name
            site.handle(self)

        def log_message(self, *args):
            pass

        def finish(self):
            try:
                super().finish()
            except OSError:
                pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site.base = f"http://{host}:{server.server_address[1]}"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
