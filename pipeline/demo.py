"""Serve the bundled demo site (fixtures/site) on loopback: port 8765 (ESF_DEMO_PORT), or a free one."""

from __future__ import annotations

import functools
import logging
import os
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

from pipeline.settings import values

DEMO_SITE = Path(__file__).resolve().parents[1] / "fixtures" / "site"
DEMO_START_PATH = "/projektbanken/"
DEMO_SOURCE = "demo"


def demo_port() -> int:
    """A fixed port (pipeline/settings.py), so that the demo's addresses (pages.url, projects.source_url)
    are the same in every run; identities do not depend on it (pipeline/sources.py), only addresses shown."""
    return values("orchestration", os.environ)["demo_port"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@contextmanager
def serve_directory(directory: Path = DEMO_SITE, port: int = 0) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 and yield its base URL: on ``port``, or on a free port
    when it is 0 or taken."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        logging.getLogger("esf_pipeline").warning(
            f"port {port} is taken: the demo is served on another one "
            "(its addresses in pages and source_url change with it)"
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
