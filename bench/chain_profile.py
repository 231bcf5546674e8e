"""Where a crawl of the chained site shape spends its time, seen from outside the crawler.

    python -m bench.chain_profile --pages 3200 [--who pipeline|scrapy] [--concurrency 16] [--backlog 5] [--py-spy]

Generates the chained site (bench/sitegen.py --shape chained), serves it with bench/pyserver.py's server
(ThreadingHTTPServer, HTTP/1.0, listen backlog 5) extended by an access log that notes when each request
was read, and runs one crawl (the pipeline as `esf-pipeline run --delay 0 --concurrency C`, or the Scrapy
spider at C), optionally under `py-spy record --subprocesses` (raw stacks). Then it reports:

- the kernel's TCP counters over the run (ListenOverflows/ListenDrops: handshakes the listen queue had no
  room for; TCPSynRetrans: SYNs the client sent again, the first after 1 s);
- the listing chain: listing page k+1 can only be asked for once page k has been read, so the crawl can
  take no less than the sum of the steps from one listing request to the next; their distribution, how
  many took a second or more (a retransmitted SYN), and where in the burst that follows a listing page the
  next listing request arrives (FIFO order puts it behind the page's ten projects);
- how busy the server was: requests in flight at the server, seconds with no request at all;
- with --py-spy: the CPU samples by process and by step (crawl, hash and store, reading links, parsing,
  tables, start-up), in seconds and per page.

Writes bench/work/chain-profile-<who>-<N>.json (and the raw py-spy stacks beside it) and prints a summary.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"


# ---------------------------------------------------------------- the server, with an access log


def serve(port: int, directory: str, log_path: str, backlog: int) -> None:
    from bench import pyserver

    lock = threading.Lock()
    log = open(log_path, "w", buffering=1, encoding="utf-8")

    class LoggingHandler(pyserver.Handler):
        def handle_one_request(self) -> None:
            self._began = time.time()
            super().handle_one_request()
            if getattr(self, "path", None):
                with lock:
                    log.write(f"{self._began:.6f} {time.time():.6f} {self.client_address[1]} {self.path}\n")

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass

    pyserver.Server.request_queue_size = backlog
    with pyserver.Server(("127.0.0.1", port), functools.partial(LoggingHandler, directory=directory)) as httpd:
        httpd.serve_forever()


# ---------------------------------------------------------------- analysis


def read_log(path: Path, since: float = 0.0) -> list[tuple[float, float, str]]:
    """(read at, answered at, path) of each request read at or after ``since``, in the order read."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        began, ended, _port, url = line.split(" ", 3)
        if float(began) >= since:
            rows.append((float(began), float(ended), url))
    rows.sort()
    return rows


def _listing_number(path: str) -> int | None:
    if path.endswith("/projektbanken/") or path.endswith("/projektbanken/index.html"):
        return 1
    name = path.rsplit("/", 1)[-1]
    if name.startswith("sida-") and name.endswith(".html"):
        return int(name[5:-5])
    return None


def _quantiles(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "n": len(values),
        "sum": round(sum(values), 2),
        "median": round(statistics.median(values), 3),
        "p10": round(pick(0.10), 3),
        "p90": round(pick(0.90), 3),
        "max": round(ordered[-1], 3),
    }


def analyse_log(rows: list[tuple[float, float, str]], started: float, ended: float) -> dict:
    listings = [(t, _listing_number(p), p) for t, _, p in rows if _listing_number(p) is not None]
    first_seen: dict[int, float] = {}
    for t, k, _ in listings:
        first_seen.setdefault(k, t)
    ks = sorted(first_seen)
    steps = [first_seen[b] - first_seen[a] for a, b in zip(ks, ks[1:]) if b == a + 1]
    # Rank of listing k+1's request among the requests read after listing k's (0 = first of the burst).
    times = [t for t, _, _ in rows]
    ranks = []
    for a, b in zip(ks, ks[1:]):
        if b != a + 1:
            continue
        ranks.append(sum(1 for t in times if first_seen[a] < t < first_seen[b]))
    # Requests in flight at the server (read, not yet answered), sampled every 10 ms.
    span_start, span_end = rows[0][0], rows[-1][1]
    in_flight, idle_ms = [], 0
    events = sorted([(b, 1) for b, _, _ in rows] + [(e, -1) for _, e, _ in rows])
    level, i = 0, 0
    t = span_start
    while t < span_end:
        while i < len(events) and events[i][0] <= t:
            level += events[i][1]
            i += 1
        in_flight.append(level)
        idle_ms += 10 if level == 0 else 0
        t += 0.01
    service = [e - b for b, e, _ in rows]
    last_listing = first_seen[ks[-1]] if ks else None
    return {
        "requests": len(rows),
        "listing_pages": len(ks),
        "run_wall_seconds": round(ended - started, 2),
        "first_request_after_start_s": round(span_start - started, 2),
        "listing_chain_seconds": round(first_seen[ks[-1]] - first_seen[ks[0]], 2) if ks else None,
        "after_last_listing_s": round(ended - last_listing, 2) if last_listing else None,
        "chain_steps_s": _quantiles(steps),
        "chain_steps_over_0_9_s": sum(s >= 0.9 for s in steps),
        "chain_steps_over_2_9_s": sum(s >= 2.9 for s in steps),
        "chain_step_seconds_in_steps_over_0_9_s": round(sum(s for s in steps if s >= 0.9), 2),
        "next_listing_rank_in_burst": dict(sorted(Counter(min(r, 12) for r in ranks).items())),
        "server_service_time_s": _quantiles(service),
        "server_requests_in_flight_mean": round(statistics.mean(in_flight), 2) if in_flight else None,
        "server_idle_seconds": round(idle_ms / 1000, 2),
    }


TCP = {
    "TcpExt": ("ListenOverflows", "ListenDrops", "TCPSynRetrans", "TCPTimeouts"),
    "Tcp": ("ActiveOpens", "RetransSegs"),
}


def tcp_counters() -> dict[str, int]:
    out = {}
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        lines = Path(path).read_text().splitlines()
        for head, values in zip(lines[::2], lines[1::2]):
            wanted = TCP.get(head.split(":", 1)[0], ())
            for name, value in zip(head.split()[1:], values.split()[1:]):
                if name in wanted:
                    out[name] = int(value)
    return out


# Steps of the pipeline's work, by the first matching frame (innermost first) of a sampled stack.
STEPS = [
    (
        "tables",
        (
            "assets/tables.py",
            "pipeline/table_writer.py",
            "pipeline/assemble.py",
            "pipeline/history.py",
            "pipeline/checks.py",
            "pyarrow",
        ),
    ),
    ("hash+store", ("put_raw", "atomic_write_bytes", "atomic_file", "hashlib", "(put_parsed")),
    (
        "parse",
        (
            "parsers/page.py",
            "parsers/fields.py",
            "parsers/lines.py",
            "parsers/text.py",
            "parsers/values.py",
            "parsers/lookups.py",
            "_parse_batch",
            "parse_into_cache",
        ),
    ),
    ("parse step in the main process (pool hand-off, cache)", ("pipeline/parse_step.py",)),
    ("BeautifulSoup and the spider's reader", ("bs4/", "read_page (", "read_pairs (")),
    ("read links", ("parsers/html.py", "looks_like_project_page")),
    ("crawl: httpx/httpcore", ("httpx/", "httpcore/", "h11/", "anyio/")),
    ("crawl: event loop and crawler", ("asyncio/", "pipeline/crawler.py", "assets/crawl.py", "twisted/", "scrapy/")),
    ("imports and start-up", ("<frozen importlib", "_find_and_load")),
    ("dagster and other", ("",)),
]


# Leaf frames of threads that wait (in select, on a lock, on a pipe) which py-spy still sampled as running.
WAITING_LEAVES = (
    "Selector.select (",
    "Condition.wait (",
    "Connection._recv (",
    "Connection._poll (",
    "SemLock.__enter__ (",
    "Event.wait (",
    "_wait_for_tstate_lock (",
    "Queue.get (",
    "wait (multiprocessing",
    "select (selectors",
)
WAITING = "waiting (threads in select, on locks or pipes)"


def step_of(stack: str) -> str:
    frames = stack.split(";")
    if any(frames[-1].startswith(w) or w in frames[-1] for w in WAITING_LEAVES):
        return WAITING
    for name, needles in STEPS[:-1]:
        if any(any(n in f for n in needles) for f in frames[1:]):
            return name
    return STEPS[-1][0]


def analyse_pyspy(raw: Path, rate: int, pages: int) -> dict:
    by_process: Counter = Counter()
    by_step: Counter = Counter()
    by_process_step: dict[str, Counter] = defaultdict(Counter)
    leaf: Counter = Counter()
    other: Counter = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        # py-spy labels every stack with the root process; the parse workers' stacks start in the forkserver.
        role = "parse workers" if "forkserver.py" in stack else "main process" if stack.count(";") > 1 else "other"
        step = step_of(stack)
        by_process[role] += n
        by_step[step] += n
        by_process_step[role][step] += n
        if step != WAITING:
            leaf[stack.rsplit(";", 1)[-1][:120]] += n
            if step == STEPS[-1][0]:
                other[";".join(f.split(" (")[0] for f in stack.split(";")[-4:])[:160]] += n
    seconds = lambda n: round(n / rate, 2)  # noqa: E731
    working = {k: v for k, v in by_step.items() if k != WAITING}
    return {
        "samples_per_second": rate,
        "cpu_seconds_sampled": seconds(sum(working.values())),
        "waiting_sampled_as_running_s": seconds(by_step.get(WAITING, 0)),
        "by_process_s": {k: seconds(v) for k, v in by_process.most_common()},
        "by_step_s": {k: seconds(v) for k, v in by_step.most_common()},
        "by_step_ms_per_page": {k: round(1000 * v / rate / pages, 2) for k, v in Counter(working).most_common()},
        "by_process_step_s": {p: {k: seconds(v) for k, v in c.most_common()} for p, c in by_process_step.items()},
        "top_leaf_frames_s": {k: seconds(v) for k, v in leaf.most_common(15)},
        "top_other_stacks_s": {k: seconds(v) for k, v in other.most_common(12)},
    }


# ---------------------------------------------------------------- one profiled crawl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=3200)
    parser.add_argument("--who", choices=["pipeline", "scrapy"], default="pipeline")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backlog", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--py-spy", action="store_true", help="record CPU stacks with py-spy (100 Hz, subprocesses)")
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--keep-site", action="store_true")
    parser.add_argument(
        "--analyse",
        type=Path,
        metavar="JSON",
        help="analyse the py-spy stacks beside an earlier report again, and rewrite it",
    )
    parser.add_argument("--serve", nargs=4, metavar=("PORT", "DIR", "LOG", "BACKLOG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        port, directory, log, backlog = args.serve
        serve(int(port), directory, log, int(backlog))
        return 0

    if args.analyse:
        report = json.loads(args.analyse.read_text(encoding="utf-8"))
        raw = args.analyse.with_suffix(".pyspy.txt")
        report["cpu"] = analyse_pyspy(raw, args.rate, report["server_log"]["requests"] - 1)
        args.analyse.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(report["cpu"], indent=2))
        return 0

    from bench import sitegen
    from bench.run import _wait_ready, esf_pipeline_cli, free_port

    WORK.mkdir(parents=True, exist_ok=True)
    site = ROOT / "bench" / "site" / f"chained-{args.pages}"
    if not (site / "robots.txt").exists():
        sitegen.generate(site, args.pages, args.seed, shape="chained")
    stem = WORK / f"chain-profile-{args.who}-c{args.concurrency}-b{args.backlog}-{args.pages}"
    log = stem.with_suffix(".access.log")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.chain_profile", "--serve", str(port), str(site), str(log), str(args.backlog)],
        cwd=ROOT,
    )
    try:
        if not _wait_ready(f"http://127.0.0.1:{port}/robots.txt", server):
            sys.exit("chain_profile: the server did not start")
        time.sleep(0.2)
        out = stem.with_name(stem.name + "-out")
        shutil.rmtree(out, ignore_errors=True)
        start_url = f"http://127.0.0.1:{port}/{sitegen.SITE_DIR}/"
        if args.who == "pipeline":
            cmd = [
                esf_pipeline_cli(),
                "run",
                "--start-url",
                start_url,
                "--output",
                str(out),
                "--delay",
                "0",
                "--concurrency",
                str(args.concurrency),
            ]
        else:
            cmd = [
                sys.executable,
                "-m",
                "bench.scrapy_spider",
                "--start-url",
                start_url,
                "--output",
                str(out),
                "--concurrency",
                str(args.concurrency),
            ]
        raw = stem.with_suffix(".pyspy.txt")
        if args.py_spy:
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            cmd = [
                spy,
                "record",
                "--subprocesses",
                "--format",
                "raw",
                "--rate",
                str(args.rate),
                "-o",
                str(raw),
                "--",
            ] + cmd
        tcp0 = tcp_counters()
        started = time.time()
        with open(stem.with_suffix(".stderr"), "wb") as err:
            code = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err).returncode
        ended = time.time()
        tcp1 = tcp_counters()
        time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(10)
    rows = read_log(log, since=started)  # not the readiness probe
    pages = sum(1 for _, _, p in rows if p != "/robots.txt")
    report = {
        "who": args.who,
        "concurrency": args.concurrency,
        "backlog": args.backlog,
        "pages": args.pages,
        "exit_code": code,
        "command": " ".join(cmd),
        "tcp": {k: tcp1[k] - tcp0.get(k, 0) for k in tcp1},
        "server_log": analyse_log(rows, started, ended),
    }
    if args.py_spy and raw.exists():
        report["cpu"] = analyse_pyspy(raw, args.rate, pages)
    shutil.rmtree(stem.with_name(stem.name + "-out"), ignore_errors=True)
    if not args.keep_site:
        shutil.rmtree(site, ignore_errors=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
