"""Serve a directory the way `python -m http.server` does, with its limits stated rather than inherited:
a thread per request (``ThreadingHTTPServer``), HTTP/1.0 with no keep-alive (every request opens and
closes a TCP connection), and a listen backlog of 5 (``request_queue_size``; the kernel keeps at most
that many finished handshakes waiting for ``accept()``, and drops the rest, which the client sees as a
SYN or ACK retransmitted a second or more later).

    python -m bench.pyserver --port 8000 --directory bench/site/chained-3200

This is the server of the bench's "chained" site shape: a small, slow origin, as many real project
banks are behind. Like `python -m http.server` it answers If-Modified-Since with 304 (no ETag) and logs
one line per request to stderr (the bench sends that to /dev/null).
"""

from __future__ import annotations

import argparse
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the default, stated: the connection closes after each answer


class Server(ThreadingHTTPServer):
    request_queue_size = 5  # socketserver's default, stated: listen(5)
    daemon_threads = True
    allow_reuse_address = True


def serve(port: int, directory: str, bind: str = "127.0.0.1", backlog: int = 5) -> None:
    Server.request_queue_size = backlog
    handler = functools.partial(Handler, directory=directory)
    with Server((bind, port), handler) as httpd:
        httpd.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--backlog", type=int, default=5, help="listen backlog (request_queue_size; default 5)")
    args = parser.parse_args(argv)
    try:
        serve(args.port, args.directory, args.bind, args.backlog)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
