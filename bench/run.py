"""End-to-end benchmark of esf-pipeline against a synthetic ESF project bank on loopback, and against a plain
Scrapy spider of the same job on two site shapes.

    python -m bench.run [--pages N] [--scale] [--concurrency C] [--shapes paged,chained]   (make bench BENCH_ARGS=...)

What it does, for N project pages (and 2N with --scale):
  1. generates the paged site (bench/sitegen.py) under bench/site/<N>/;
  2. serves it on 127.0.0.1 with nginx (generated config, access_log off), or Python's ThreadingHTTPServer
     (bench/pyserver.py, what `python -m http.server` runs) when nginx is not installed;
  3. runs the real CLI as a user would, as a subprocess:
       esf-pipeline run --start-url http://127.0.0.1:PORT/projektbanken/ --output DIR --delay 0 --concurrency C
     under /usr/bin/time -v, while sampling the RSS of its whole process tree from /proc;
  4. runs it again over the unchanged site into the same output directory (--second-runs times), and
     repeats 3-4 in --rounds rounds, each into a fresh directory; reports medians;
  5. times parsers.page.parse_page over the stored raw pages, in this one process (parse-only);
  6. runs the naive baseline (bench/baseline.py) over the same site;
  7. per shape (paged on nginx; chained, bench/site/chained-<N>/, on bench/pyserver.py with a listen backlog
     of 5): the pipeline at --compare-concurrency (16) and bench/scrapy_spider.py at 16, in turn, --rounds
     rounds, with the kernel's listen-overflow and SYN-retransmit counters per run; medians and ratios
     (steps 3-6 are skipped with --only-compare);
  8. prints the tables and writes bench/results/<date>-<N>.json and .md.

The sites and the outputs (bench/site/, bench/work/) are git-ignored and removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def _ensure_venv() -> None:
    """The parse-only step imports the project's parsers: re-run under the project's venv if needed."""
    try:
        import bs4  # noqa: F401
        import httpx  # noqa: F401
        import lxml  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        if VENV_PYTHON.exists() and Path(sys.executable).resolve() != VENV_PYTHON.resolve():
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), "-m", "bench.run", *sys.argv[1:]])
        raise


_ensure_venv()

import httpx  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench import sitegen  # noqa: E402

TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGETS = {"pages_per_second": 150.0, "speedup_vs_baseline": 3.0, "second_run_share": 0.15, "peak_rss_mb": 500.0}


# ---------------------------------------------------------------- helpers


def esf_pipeline_cli() -> str:
    for candidate in (Path(sys.executable).parent / "esf-pipeline", ROOT / ".venv" / "bin" / "esf-pipeline"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("esf-pipeline")
    if not found:
        sys.exit("bench: esf-pipeline is not installed (run `make install`)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, utime+stime ticks, rss pages) for every process we can read."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields[0] is state (field 3); ppid is field 4, utime 14, stime 15, rss 24
        table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]))
    return table


def _tree(root: int, table: dict[int, tuple[int, int, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_busy_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def machine_load(seconds: float = 1.0) -> float:
    """Cores kept busy by whatever runs on the machine, measured over ``seconds``."""
    busy0, _ = cpu_busy_seconds()
    time.sleep(seconds)
    busy1, _ = cpu_busy_seconds()
    return (busy1 - busy0) / seconds


def wait_idle(max_seconds: float, threshold: float = 0.25) -> dict:
    """Let the machine settle before a timed run: write the previous step's files out to disk (the
    first run leaves a few hundred MB for the kernel to write back, which otherwise happens during
    the second run and slows it by about 0.5 s; a nightly run starts long after that is done), then
    wait (up to max_seconds) until other work uses less than ``threshold`` cores."""
    started = time.monotonic()
    if hasattr(os, "sync"):
        os.sync()
    synced = time.monotonic() - started
    load = machine_load()
    while load > threshold and time.monotonic() - started < max_seconds:
        load = machine_load(2.0)
    return {
        "cores_busy_before": round(load, 2),
        "sync_seconds": round(synced, 2),
        "waited_seconds": round(time.monotonic() - started, 1),
    }


def warm_up() -> float:
    """Import what a pipeline run imports, in a throw-away process, so the timed run finds Dagster's,
    pyarrow's and the pipeline's files in the page cache, as on a machine that runs the pipeline every
    night. Measured here because this VM pages out file pages that go unused for a few seconds: a run
    after 30 s of idleness read 14-47 MB from disk and took 5.3-5.8 s, 4.4 s after this warm-up (two pairs).
    The runs report what they still read from disk (``disk_read_mb``)."""
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import dagster, pipeline.cli, pipeline.definitions; dagster.DagsterInstance.ephemeral()",
        ],
        cwd=ROOT,
        check=False,
        capture_output=True,
        timeout=300,
    )
    return round(time.perf_counter() - started, 2)


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_bytes = 0
        self.peak_processes = 0
        self.samples = 0
        self.cpu_ticks: dict[int, int] = {}  # last CPU ticks seen per process of the tree
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            table = _proc_table()
            pids = _tree(self.pid, table)
            if pids:
                self.peak_bytes = max(self.peak_bytes, sum(table[p][2] for p in pids) * PAGE_SIZE)
                self.peak_processes = max(self.peak_processes, len(pids))
                self.samples += 1
                for p in pids:
                    self.cpu_ticks[p] = max(self.cpu_ticks.get(p, 0), table[p][1])
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    @property
    def cpu_seconds(self) -> float:
        """CPU of every process of the tree, grandchildren too (time -v misses the workers of a
        forkserver, which the forkserver and not the CLI waits for); the last 100 ms of a process
        that ends between samples are missed."""
        return sum(self.cpu_ticks.values()) / CLK_TCK


def _time_v(stderr: str) -> dict:
    """Figures from GNU time -v."""
    out = {}
    patterns = {
        "max_rss_kb": r"Maximum resident set size \(kbytes\): (\d+)",
        "user_s": r"User time \(seconds\): ([\d.]+)",
        "system_s": r"System time \(seconds\): ([\d.]+)",
        "cpu_percent": r"Percent of CPU this job got: (\d+)%",
        "major_faults": r"Major \(requiring I/O\) page faults: (\d+)",
        "fs_inputs": r"File system inputs: (\d+)",
    }
    for key, pattern in patterns.items():
        match = re.search(pattern, stderr)
        if match:
            out[key] = float(match[1])
    return out


# ---------------------------------------------------------------- servers


class Server:
    def __init__(self, kind: str, port: int, proc: subprocess.Popen, tmp: Path | None, why: str) -> None:
        self.kind, self.port, self.proc, self.tmp, self.why = kind, port, proc, tmp, why
        self.url = f"http://127.0.0.1:{port}"

    def cpu_seconds(self) -> float:
        table = _proc_table()
        return sum(table[p][1] for p in _tree(self.proc.pid, table)) / CLK_TCK

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # nginx: fast shutdown; http.server: exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _wait_ready(url: str, proc: subprocess.Popen, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


NGINX_CONF = """\
{user}worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    open_file_cache max=50000 inactive=120s;
    types {{ text/html html; text/plain txt; }}
    default_type application/octet-stream;
    charset utf-8;
{temp_paths}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
        location / {{ try_files $uri $uri/ =404; }}
    }}
}}
"""
TEMP_PATHS = ["client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"]


def start_nginx(site: Path) -> Server | None:
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/nginx/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if not nginx:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="esf-bench-nginx-"))
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read bench/site/ as its owner does
    # Builds differ in which modules they have: try every temp path, then only the core one.
    for names in (TEMP_PATHS, TEMP_PATHS[:1]):
        conf = tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user=user,
                workers=max(1, min(4, os.cpu_count() or 1)),
                tmp=tmp,
                port=port,
                root=site.resolve(),
                temp_paths="\n".join(f"    {n} {tmp}/{n.split('_')[0]};" for n in names),
            ),
            encoding="utf-8",
        )
        test = subprocess.run(
            [nginx, "-t", "-q", "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
            capture_output=True,
            text=True,
        )
        if test.returncode == 0:
            break
    else:
        print(f"bench: nginx config test failed, falling back to Python: {test.stderr.strip()[:300]}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    proc = subprocess.Popen(
        [nginx, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "stderr.log", "wb"),
    )
    server = Server("nginx", port, proc, tmp, "nginx found: static files from a compiled, event-driven server")
    if not _wait_ready(server.url + "/robots.txt", proc):
        print("bench: nginx did not start, falling back to Python", file=sys.stderr)
        server.stop()
        return None
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    server.kind = version.replace("nginx version: ", "") or "nginx"
    return server


def start_python_server(site: Path, why: str | None = None, backlog: int = 5) -> Server:
    """bench/pyserver.py in its own process: what `python -m http.server` is (ThreadingHTTPServer, HTTP/1.0,
    no keep-alive, listen backlog 5), with those limits stated in the code."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.pyserver",
            "--port",
            str(port),
            "--directory",
            str(site),
            "--backlog",
            str(backlog),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(
        f"python http.server (ThreadingHTTPServer, HTTP/1.0, listen backlog {backlog})",
        port,
        proc,
        None,
        why or "nginx not available: Python's ThreadingHTTPServer in its own process (HTTP/1.0, no keep-alive)",
    )
    if not _wait_ready(server.url + "/robots.txt", proc):
        server.stop()
        sys.exit("bench: could not start the Python HTTP server")
    return server


def start_server(site: Path, kind: str) -> Server:
    if kind in ("auto", "nginx"):
        server = start_nginx(site)
        if server:
            return server
        if kind == "nginx":
            sys.exit("bench: nginx requested but not usable (apt-get install -y nginx-light)")
    return start_python_server(site)


async def _fetch_all(urls: list[str], concurrency: int) -> tuple[int, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    total = 0
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def one(url: str) -> int:
            async with sem:
                return len((await client.get(url)).content)

        for size in await asyncio.gather(*(one(u) for u in urls)):
            total += size
    return len(urls), total


def server_ceiling(server: Server, pages: int, concurrency: int, sample: int = 1000) -> dict:
    """Fetch only (async httpx, no parsing, no storage): what the server plus one Python client can do."""
    step = max(1, pages // sample)
    urls = [f"{server.url}/{sitegen.SITE_DIR}/projekt/{n}.html" for n in range(1, pages + 1, step)][:sample]
    cpu0 = server.cpu_seconds()
    started = time.perf_counter()
    count, size = asyncio.run(_fetch_all(urls, concurrency))
    seconds = time.perf_counter() - started
    return {
        "pages": count,
        "seconds": round(seconds, 3),
        "pages_per_second": round(count / seconds, 1),
        "mb_per_second": round(size / seconds / 1e6, 1),
        "server_cpu_share": round((server.cpu_seconds() - cpu0) / seconds, 3),
    }


# ---------------------------------------------------------------- the pipeline


STALL_WINDOW = 120.0  # seconds
STALL_PAGES = 10  # fewer pages than this done in the window, with pages still queued, is a stall


def _progress(stderr: str) -> list[tuple[float, int, int]]:
    """(timestamp, pages done, queued) from the CLI's plain progress log lines."""
    out = []
    for match in re.finditer(
        r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(\d{3}) (\d+) pages done, (\d+) queued", stderr, re.M
    ):
        stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").timestamp() + int(match[2]) / 1000
        out.append((stamp, int(match[3]), int(match[4])))
    return out


def _stalled(stderr_path: Path) -> str | None:
    """The crawl still has pages queued but has done almost nothing for STALL_WINDOW seconds."""
    progress = _progress(stderr_path.read_text(errors="replace"))
    if not progress or progress[-1][2] == 0:
        return None
    now = time.time()
    recent = [p for p in progress if p[0] >= now - STALL_WINDOW]
    before = [p for p in progress if p[0] < now - STALL_WINDOW]
    if not before:
        return None
    done_in_window = progress[-1][1] - before[-1][1]
    if done_in_window < STALL_PAGES:
        return (
            f"crawl stalled: {done_in_window} pages done in the last {STALL_WINDOW:.0f} s with "
            f"{progress[-1][2]} still queued (at {progress[-1][1]} pages done; {len(recent)} log lines in window)"
        )
    return None


def _terminate_tree(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, to the process we started and its descendants (by pid)."""
    import signal

    pids = _tree(proc.pid, _proc_table())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in reversed(pids):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(5)
            return
        except subprocess.TimeoutExpired:
            continue


def run_pipeline(start_url: str, output: Path, concurrency: int, log_prefix: Path, timeout: float = 900.0) -> dict:
    cmd = [
        esf_pipeline_cli(),
        "run",
        "--start-url",
        start_url,
        "--output",
        str(output),
        "--delay",
        "0",
        "--concurrency",
        str(concurrency),
    ]
    full = ([TIME, "-v"] if TIME else []) + cmd
    before = os.times()
    busy0, steal0 = cpu_busy_seconds()
    started_wall = time.time()
    started = time.perf_counter()
    stopped_because = None
    with open(f"{log_prefix}.stdout", "wb") as out, open(f"{log_prefix}.stderr", "wb") as err:
        proc = subprocess.Popen(full, stdout=out, stderr=err, cwd=ROOT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        # A thread blocks in wait() and the end is seen the moment it comes: Popen.wait(timeout) polls,
        # with sleeps that grow to 50 ms, which a 2-second run would carry as error.
        waiter = threading.Thread(target=proc.wait, daemon=True)
        waiter.start()
        while True:
            waiter.join(timeout=2.0)
            if not waiter.is_alive():
                code, ended = proc.returncode, time.perf_counter()
                break
            elapsed = time.perf_counter() - started
            if elapsed > timeout:
                stopped_because = f"timed out after {timeout:.0f} s"
            elif elapsed > STALL_WINDOW + 10:
                stopped_because = _stalled(Path(f"{log_prefix}.stderr"))
            if stopped_because:
                print(f"bench: stopping the pipeline run: {stopped_because}", file=sys.stderr, flush=True)
                _terminate_tree(proc)
                code, ended = proc.wait(), time.perf_counter()
                break
        sampler.stop()
    wall = ended - started
    after = os.times()
    busy1, steal1 = cpu_busy_seconds()
    stderr = Path(f"{log_prefix}.stderr").read_text(errors="replace")
    progress = _progress(stderr)
    result: dict = {
        "command": " ".join(cmd),
        "exit_code": code,
        "wall_seconds": round(wall, 3),
        "stopped_by_bench": stopped_because,
        "progress": [[round(t - started_wall, 1), done, queued] for t, done, queued in progress],
        "peak_rss_tree_mb": round(sampler.peak_bytes / 2**20, 1),
        "peak_processes": sampler.peak_processes,
        "rss_samples": sampler.samples,
    }
    timed = _time_v(stderr) if TIME else {}
    if "max_rss_kb" in timed:
        result["peak_rss_largest_process_mb"] = round(timed["max_rss_kb"] / 1024, 1)
        # Sampling every 100 ms can miss a short peak: the tree is at least its largest process.
        result["peak_rss_tree_mb"] = max(result["peak_rss_tree_mb"], result["peak_rss_largest_process_mb"])
    if "fs_inputs" in timed:  # the main process's reads from disk (512-byte blocks): a cold page cache shows here
        result["disk_read_mb"] = round(timed["fs_inputs"] * 512 / 2**20, 1)
        result["major_page_faults"] = int(timed["major_faults"])
    waited = (
        timed["user_s"] + timed["system_s"]
        if "user_s" in timed
        else (after.children_user - before.children_user) + (after.children_system - before.children_system)
    )
    result["cpu_seconds"] = round(max(waited, sampler.cpu_seconds), 2)
    result["cpu_utilisation"] = round(result["cpu_seconds"] / wall, 2)
    result["machine_busy_cpu_seconds"] = round(busy1 - busy0, 2)
    result["steal_cpu_seconds"] = round(steal1 - steal0, 2)
    if code != 0:
        result["error_tail"] = stderr.strip().splitlines()[-5:]
        return result
    pages = pq.read_table(output / "pages.parquet").to_pylist()
    result["pages"] = len(pages)
    result["pages_per_second"] = round(len(pages) / wall, 1)
    result["projects"] = pq.read_metadata(output / "projects.parquet").num_rows
    result["failed_pages"] = sum(p["error"] is not None for p in pages)
    result["pages_by_kind"] = _count(p["page_kind"] for p in pages)
    result["pages_by_outcome"] = _count(p["fetch_outcome"] for p in pages)
    result["pages_parsed_in_run"] = sum(bool(p["parsed_in_run"]) for p in pages)
    issues = pq.read_table(output / "parse_issues.parquet", columns=["severity", "problem"]).to_pylist()
    result["issues_by_problem"] = _count(i["problem"] for i in issues)
    # Phases, from the pages' answer times and the files each step leaves behind (docs/state-format.md):
    # the crawl's and the parse step's hand-over files, and the commit point of the tables.
    answered = [p["fetched_at"].timestamp() for p in pages if p["fetched_at"] is not None]
    marks = {
        "first_page_done": min(answered, default=None),
        "crawl_done": _mtime(output / "_state" / "run" / "crawl.json"),
        "parse_done": _mtime(output / "_state" / "run" / "parsed.json"),
        "tables_written": _mtime(output / "CURRENT.json")
        or max((_mtime(p) for p in output.glob("*.parquet")), default=None),
    }
    result["phases_seconds"] = _phases(started_wall, marks, started_wall + wall)
    return result


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _phases(start: float, marks: dict, end: float) -> dict:
    phases, last = {}, start
    names = {
        "first_page_done": "startup_to_first_page",
        "crawl_done": "crawl",
        "parse_done": "parse",
        "tables_written": "checks_and_write",
    }
    for key, name in names.items():
        mark = marks.get(key)
        if mark is None or mark < last:
            continue
        phases[name] = round(mark - last, 2)
        last = mark
    phases["exit"] = round(end - last, 2)
    return phases


def _count(values) -> dict:
    counts: dict = {}
    for v in values:
        counts[str(v)] = counts.get(str(v), 0) + 1
    return dict(sorted(counts.items()))


def output_size(output: Path) -> dict:
    raw = sum(f.stat().st_size for f in (output / "raw").rglob("*.html"))
    tables = sum(f.stat().st_size for f in output.glob("*.parquet"))
    state = sum(f.stat().st_size for f in (output / "_state").glob("*"))
    return {
        "raw_mb": round(raw / 2**20, 1),
        "parquet_mb": round(tables / 2**20, 2),
        "state_mb": round(state / 2**20, 1),
    }


# ---------------------------------------------------------------- parse-only and profile


def _stored_pages(output: Path) -> list[tuple[bytes, str, str | None, str | None]]:
    from pipeline.storage import OutputDir

    out = OutputDir(output)
    rows = pq.read_table(
        output / "pages.parquet", columns=["url", "content_sha256", "content_type", "page_kind"]
    ).to_pylist()
    return [
        (out.get_raw(r["content_sha256"]), r["url"], r["content_type"], r["page_kind"])
        for r in rows
        if r["content_sha256"]
    ]


def parse_only(output: Path, sample: int) -> dict:
    """parse_page over the stored raw bodies (read from disk before timing), single process."""
    from parsers.page import parse_page

    pages = _stored_pages(output)
    if sample and len(pages) > sample:
        step = len(pages) / sample
        pages = [pages[int(i * step)] for i in range(sample)]
    parse_page(pages[0][0], pages[0][1], pages[0][2])  # warm the vocabulary and lookup caches
    busy0, _ = cpu_busy_seconds()
    started = time.perf_counter()
    kinds: dict[str, int] = {}
    for body, url, content_type, _ in pages:
        result = parse_page(body, url, content_type)
        kinds[result.kind] = kinds.get(result.kind, 0) + 1
    seconds = time.perf_counter() - started
    busy1, _ = cpu_busy_seconds()
    return {
        "pages": len(pages),
        "seconds": round(seconds, 3),
        "pages_per_second": round(len(pages) / seconds, 1),
        "machine_cores_busy": round((busy1 - busy0) / seconds, 2),
        "ms_per_page": round(1000 * seconds / len(pages), 2),
        "kinds": kinds,
        "processes": 1,
        "bytes_mean": int(sum(len(p[0]) for p in pages) / len(pages)),
    }


def profile_parse(output: Path, pages: int = 30, top: int = 12) -> dict:
    """cProfile of parse_page over a few project pages: where the parse time goes."""
    from parsers.page import parse_page

    stored = [p for p in _stored_pages(output) if p[3] == "project"][:pages]
    parse_page(stored[0][0], stored[0][1], stored[0][2])
    profiler = cProfile.Profile()
    profiler.enable()
    for body, url, content_type, _ in stored:
        parse_page(body, url, content_type)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]

    def rows(key: str) -> list[dict]:
        entries = []
        for (file, line, func), (_, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
            entries.append(
                {
                    "function": f"{_short(file)}:{line}({func})",
                    "calls": nc,
                    "tottime_s": round(tt, 3),
                    "cumtime_s": round(ct, 3),
                    "share": round((tt if key == "tt" else ct) / total, 3),
                }
            )
        entries.sort(key=lambda e: e["tottime_s" if key == "tt" else "cumtime_s"], reverse=True)
        return entries[:top]

    # Where parse_page's time goes among the project's own steps.
    own = {}
    for (file, _line, func), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "/parsers/" in file and func in (
            "parse_document",
            "links",
            "visible_lines",
            "tokenize",
            "_project_page",
            "page_title",
            "decode_html",
        ):
            own[func] = round(ct / total, 3)
    return {
        "pages": len(stored),
        "profiled_seconds": round(total, 3),
        "ms_per_page_under_profiler": round(1000 * total / len(stored), 1),
        "steps_share": dict(sorted(own.items(), key=lambda kv: -kv[1])),
        "top_by_tottime": rows("tt"),
        "top_by_cumtime": rows("ct"),
    }


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


# ---------------------------------------------------------------- baseline


def run_baseline(start_url: str, output: Path, log_prefix: Path) -> dict:
    cmd = [sys.executable, "-m", "bench.baseline", "--start-url", start_url, "--output", str(output)]
    busy0, _ = cpu_busy_seconds()
    started = time.perf_counter()
    with open(f"{log_prefix}.stderr", "wb") as err:
        proc = subprocess.Popen(([TIME, "-v"] if TIME else []) + cmd, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        stdout, _ = proc.communicate()
        sampler.stop()
    wall = time.perf_counter() - started
    busy1, _ = cpu_busy_seconds()
    stderr = Path(f"{log_prefix}.stderr").read_text(errors="replace")
    timed = _time_v(stderr) if TIME else {}
    result = {
        "command": " ".join(cmd[1:]),
        "exit_code": proc.returncode,
        "wall_seconds": round(wall, 3),
        "peak_rss_tree_mb": round(sampler.peak_bytes / 2**20, 1),
        "cpu_seconds": round(timed["user_s"] + timed["system_s"], 2) if "user_s" in timed else None,
        "machine_busy_cpu_seconds": round(busy1 - busy0, 2),
    }
    if proc.returncode != 0:
        result["error_tail"] = Path(f"{log_prefix}.stderr").read_text(errors="replace").strip().splitlines()[-5:]
        return result
    inner = json.loads(stdout.decode().strip().splitlines()[-1])
    result.update(inner)
    result["pages"] = inner["pages_fetched"]
    result["pages_per_second"] = round(inner["pages_fetched"] / wall, 1)
    return result


# ---------------------------------------------------------------- pipeline against Scrapy

# Kernel TCP counters (machine-wide) read before and after each run: a listen queue that overflows shows
# as ListenOverflows/ListenDrops on the server side and TCPSynRetrans (a SYN sent again after the 1 s
# initial retransmission timeout) on the client side.
TCP_COUNTERS = {
    "TcpExt": ("ListenOverflows", "ListenDrops", "TCPSynRetrans", "TCPTimeouts"),
    "Tcp": ("ActiveOpens", "RetransSegs"),
}


def tcp_counters() -> dict[str, int]:
    out: dict[str, int] = {}
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        for head, values in zip(lines[::2], lines[1::2]):
            wanted = TCP_COUNTERS.get(head.split(":", 1)[0])
            if not wanted:
                continue
            for name, value in zip(head.split()[1:], values.split()[1:]):
                if name in wanted:
                    out[name] = int(value)
    return out


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


def run_measured(cmd: list[str], log_prefix: Path, timeout: float) -> tuple[dict, str]:
    """A subprocess under /usr/bin/time -v with its process tree's RSS and CPU sampled from /proc, as the
    pipeline's runs are measured; stopped (SIGTERM, then SIGKILL) after ``timeout`` seconds."""
    busy0, steal0 = cpu_busy_seconds()
    started = time.perf_counter()
    stopped = None
    with open(f"{log_prefix}.stdout", "wb") as out, open(f"{log_prefix}.stderr", "wb") as err:
        proc = subprocess.Popen(([TIME, "-v"] if TIME else []) + cmd, stdout=out, stderr=err, cwd=ROOT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        waiter = threading.Thread(target=proc.wait, daemon=True)
        waiter.start()
        waiter.join(timeout)
        if waiter.is_alive():
            stopped = f"timed out after {timeout:.0f} s"
            print(f"bench: stopping {cmd[2] if len(cmd) > 2 else cmd[0]}: {stopped}", file=sys.stderr, flush=True)
            _terminate_tree(proc)
        code, ended = proc.wait(), time.perf_counter()
        sampler.stop()
    wall = ended - started
    busy1, steal1 = cpu_busy_seconds()
    stderr = Path(f"{log_prefix}.stderr").read_text(errors="replace")
    timed = _time_v(stderr) if TIME else {}
    result: dict = {
        "command": " ".join(cmd),
        "exit_code": code,
        "wall_seconds": round(wall, 3),
        "stopped_by_bench": stopped,
        "peak_rss_tree_mb": round(sampler.peak_bytes / 2**20, 1),
        "peak_processes": sampler.peak_processes,
    }
    if "max_rss_kb" in timed:
        result["peak_rss_largest_process_mb"] = round(timed["max_rss_kb"] / 1024, 1)
        result["peak_rss_tree_mb"] = max(result["peak_rss_tree_mb"], result["peak_rss_largest_process_mb"])
    waited = timed["user_s"] + timed["system_s"] if "user_s" in timed else 0.0
    result["cpu_seconds"] = round(max(waited, sampler.cpu_seconds), 2)
    result["cpu_utilisation"] = round(result["cpu_seconds"] / wall, 2)
    result["machine_busy_cpu_seconds"] = round(busy1 - busy0, 2)
    result["steal_cpu_seconds"] = round(steal1 - steal0, 2)
    if code != 0:
        result["error_tail"] = [line for line in stderr.strip().splitlines() if not line.startswith("\t")][-5:]
    return result, Path(f"{log_prefix}.stdout").read_text(errors="replace")


def run_scrapy(start_url: str, output: Path, concurrency: int, log_prefix: Path, timeout: float) -> dict:
    """bench/scrapy_spider.py as a subprocess: the same job as the pipeline, written with Scrapy."""
    cmd = [
        sys.executable,
        "-m",
        "bench.scrapy_spider",
        "--start-url",
        start_url,
        "--output",
        str(output),
        "--concurrency",
        str(concurrency),
    ]
    result, stdout = run_measured(cmd, log_prefix, timeout)
    lines = stdout.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        inner = json.loads(lines[-1])
        result.update(inner)
        result["pages"] = inner["pages_parsed"]
        result["pages_per_second"] = round(inner["pages_parsed"] / result["wall_seconds"], 1)
    return result


def warm_up_scrapy() -> float:
    """The Scrapy run's imports in a throw-away process, as warm_up() does for the pipeline's."""
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import scrapy.crawler, bs4, lxml.html, bench.scrapy_spider as s; s.make_spider_class()",
        ],
        cwd=ROOT,
        check=False,
        capture_output=True,
        timeout=300,
    )
    return round(time.perf_counter() - started, 2)


def scrapy_available() -> str | None:
    """Scrapy's version, or None when the bench extra is not installed."""
    from importlib import metadata

    try:
        return metadata.version("scrapy")
    except metadata.PackageNotFoundError:
        return None


def compare(
    shape: str, server: Server, start_url: str, args: argparse.Namespace, work_dir: Path, expected: int
) -> dict:
    """The pipeline (--delay 0 --concurrency C) and the Scrapy spider (C concurrent requests) over the same
    site, taken in turn (the order swapped every round, so the machine's drift over minutes falls on both),
    --rounds rounds, each into a fresh output directory; medians and the ratio of the medians. On the
    chained shape also the pipeline at --concurrency (default 4), once per round. A run that exits 0 with
    fewer than the site's `expected` projects did not do the job: its status says so and no ratio is taken."""
    c = args.compare_concurrency
    work_dir.mkdir(parents=True, exist_ok=True)
    contenders = ["pipeline"] + (["scrapy"] if not args.no_scrapy else [])
    contenders_extra = ["pipeline_c4"] if shape == "chained" and args.concurrency != c else []
    runs: dict[str, list[dict]] = {who: [] for who in contenders + contenders_extra}
    fingerprints = [code_fingerprint()]
    print(f"-- {shape}: pipeline vs Scrapy at {c} concurrent requests on {server.kind}", flush=True)
    for round_number in range(1, max(1, args.rounds) + 1):
        turn = contenders if round_number % 2 else contenders[::-1]
        for who in turn + contenders_extra:
            key = f"round_{round_number}_{who}"
            idle = wait_idle(args.wait_idle) if args.wait_idle else None
            warm = warm_up_scrapy() if who == "scrapy" else warm_up()
            output = work_dir / who
            shutil.rmtree(output, ignore_errors=True)
            tcp0, cpu0 = tcp_counters(), server.cpu_seconds()
            if who == "scrapy":
                run = run_scrapy(start_url, output, c, work_dir / key, args.timeout)
            else:
                concurrency = c if who == "pipeline" else args.concurrency
                run = run_pipeline(start_url, output, concurrency, work_dir / key, args.timeout)
                run["concurrency"] = concurrency
                fingerprints.append(code_fingerprint())
            run.update(
                {
                    "expected_projects": expected,
                    "round": round_number,
                    "idle_wait": idle,
                    "warm_up_seconds": warm,
                    "server_cpu_seconds": round(server.cpu_seconds() - cpu0, 2),
                    "tcp": _delta(tcp0, tcp_counters()),
                }
            )
            run["other_cpu_seconds"] = round(
                max(0.0, run["machine_busy_cpu_seconds"] - run["cpu_seconds"] - run["server_cpu_seconds"]), 2
            )
            runs[who].append(run)
            if not args.keep:
                shutil.rmtree(output, ignore_errors=True)
            if run["exit_code"] != 0:
                print(
                    f"{shape} {key} FAILED (exit {run['exit_code']}"
                    f"{'; ' + run['stopped_by_bench'] if run.get('stopped_by_bench') else ''}): {run.get('error_tail')}",
                    flush=True,
                )
                continue
            print(
                f"{shape} {key}: {run.get('pages')} pages in {run['wall_seconds']} s = {run.get('pages_per_second')} pages/s, "
                f"peak RSS {run['peak_rss_tree_mb']} MB, CPU {run['cpu_seconds']} s, "
                f"listen overflows {run['tcp'].get('ListenOverflows')}, SYN retransmits {run['tcp'].get('TCPSynRetrans')}",
                flush=True,
            )
    out: dict = {
        "shape": shape,
        "concurrency": c,
        "server": server.kind,
        "start_url": start_url,
        "rounds": max(1, args.rounds),
    }
    for who, done in runs.items():
        if done:
            median = _median_run(done)
            median["all_tcp"] = [r.get("tcp") for r in done]
            median["all_cpu_seconds"] = [r.get("cpu_seconds") for r in done]
            out[who] = median
    p, q = out.get("pipeline"), out.get("scrapy")
    incomplete = [r for who in contenders for r in runs[who] if _status(r).startswith("INCOMPLETE")]
    if incomplete:
        out["not_comparable"] = f"{len(incomplete)} run(s) did not fetch all {expected} projects: " + ", ".join(
            f"round {r['round']} {_status(r)}" for r in incomplete
        )
        print(f"{shape}: {out['not_comparable']}; no ratio taken", flush=True)
    if p and q and p["exit_code"] == 0 and q["exit_code"] == 0 and not incomplete:
        out["ratio"] = round(p["wall_seconds"] / q["wall_seconds"], 3)
        by_round = []
        for r in range(1, max(1, args.rounds) + 1):
            a = [x for x in runs["pipeline"] if x["round"] == r and x["exit_code"] == 0]
            b = [x for x in runs["scrapy"] if x["round"] == r and x["exit_code"] == 0]
            if a and b:
                by_round.append(round(a[0]["wall_seconds"] / b[0]["wall_seconds"], 3))
        out["ratio_by_round"] = by_round
        out["same_job"] = {
            "pipeline_projects": p.get("projects"),
            "scrapy_items": q.get("items"),
            "pipeline_pages": p.get("pages"),
            "scrapy_pages": q.get("pages"),
        }
    out["code_fingerprint_measured"] = fingerprints[0]
    out["code_changed_while_measured"] = len(set(fingerprints)) > 1
    if "ratio" in out:
        print(
            f"{shape}: pipeline {p['wall_seconds']} s, Scrapy {q['wall_seconds']} s (medians): ratio {out['ratio']} "
            f"(by round {out['ratio_by_round']})",
            flush=True,
        )
    return out


def bench_chained(pages: int, args: argparse.Namespace, work: Path) -> dict:
    """The chained shape: its own site (listing pages of ten, linked by `Nästa sida`), served by Python's
    ThreadingHTTPServer with a listen backlog of 5, the pipeline against Scrapy."""
    site = BENCH / "site" / f"chained-{pages}"
    started = time.perf_counter()
    summary = sitegen.generate(site, pages, args.seed, shape="chained")
    summary["generate_seconds"] = round(time.perf_counter() - started, 2)
    print(
        f"\n== chained shape, {pages} project pages: {summary['listing_pages']} listing pages of "
        f"{summary['projects_per_listing']} in a chain, {summary['bytes_total'] / 2**20:.0f} MB ==",
        flush=True,
    )
    server = start_python_server(
        site,
        "the chained shape's server: a small origin (Python, one thread per request, "
        "HTTP/1.0, no keep-alive, listen backlog 5)",
        backlog=args.chained_backlog,
    )
    try:
        ceiling = {}
        for c in sorted({args.concurrency, args.compare_concurrency}):
            tcp0 = tcp_counters()
            ceiling[str(c)] = server_ceiling(server, pages, c)
            ceiling[str(c)]["tcp"] = _delta(tcp0, tcp_counters())
        print(
            "server: "
            + server.kind
            + "; fetch-only ceiling (async httpx): "
            + ", ".join(f"C={c} {v['pages_per_second']} pages/s" for c, v in ceiling.items()),
            flush=True,
        )
        result = compare(
            "chained",
            server,
            f"{server.url}/{sitegen.SITE_DIR}/",
            args,
            work / f"chained-{pages}",
            summary["project_pages"],
        )
        result["site"] = summary
        result["fetch_only_ceiling"] = ceiling
        return result
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(site, ignore_errors=True)
            shutil.rmtree(work / f"chained-{pages}", ignore_errors=True)


# ---------------------------------------------------------------- one size


def bench_size(pages: int, args: argparse.Namespace, work: Path, full: bool) -> dict:
    if args.only_compare and "paged" not in args.shapes:
        result: dict = {"pages_requested": pages}
        if full or args.scale_compare:
            result["comparison"] = {"chained": bench_chained(pages, args, work)}
        return result
    site = BENCH / "site" / str(pages)
    print(f"\n== {pages} project pages ==", flush=True)
    started = time.perf_counter()
    summary = sitegen.generate(site, pages, args.seed)
    summary["generate_seconds"] = round(time.perf_counter() - started, 2)
    print(
        f"site: {summary['project_pages']} projects + {summary['listing_pages']} listing pages, "
        f"{summary['bytes_total'] / 2**20:.0f} MB (median {summary['bytes_median'] / 1024:.0f} KB) "
        f"in {summary['generate_seconds']} s",
        flush=True,
    )
    result = {"pages_requested": pages, "site": summary}
    fingerprints = [code_fingerprint()]
    server = start_server(site, args.server)
    try:
        start_url = f"{server.url}/{sitegen.SITE_DIR}/"
        result["server"] = {"kind": server.kind, "why": server.why}
        result["server"]["fetch_only_ceiling"] = server_ceiling(server, pages, args.concurrency)
        print(
            f"server: {server.kind}; fetch-only ceiling (async httpx, C={args.concurrency}): "
            f"{result['server']['fetch_only_ceiling']['pages_per_second']} pages/s",
            flush=True,
        )
        if (full or args.scale_compare) and "paged" in args.shapes and args.compare_concurrency != args.concurrency:
            result["server"]["fetch_only_ceiling_compare"] = server_ceiling(server, pages, args.compare_concurrency)
            print(
                f"fetch-only ceiling at C={args.compare_concurrency}: "
                f"{result['server']['fetch_only_ceiling_compare']['pages_per_second']} pages/s",
                flush=True,
            )
        size_dir = work / str(pages)
        shutil.rmtree(size_dir, ignore_errors=True)
        size_dir.mkdir(parents=True)
        # Rounds: a first run into a fresh output directory, then second runs over the unchanged site.
        # This VM's speed drifts by tens of percent over minutes; first and second runs taken in turn,
        # and their medians, keep that drift out of the share.
        firsts, seconds, output = [], [], size_dir / "out"
        classic_rounds = 0 if args.only_compare else max(1, args.rounds)
        for round_number in range(1, classic_rounds + 1):
            shutil.rmtree(output, ignore_errors=True)  # the previous round's output: 0.2 GB per 5000 pages
            labels = ["first_run"] + [f"second_run_{n}" for n in range(1, max(1, args.second_runs) + 1)]
            for label in labels:
                key = f"round_{round_number}_{label}"
                if args.wait_idle:
                    result.setdefault("idle_wait", {})[key] = wait_idle(args.wait_idle)
                result.setdefault("warm_up_seconds", {})[key] = warm_up()
                cpu0 = server.cpu_seconds()
                run = run_pipeline(start_url, output, args.concurrency, size_dir / key, args.timeout)
                run["round"] = round_number
                run["code_fingerprint_after"] = code_fingerprint()
                fingerprints.append(run["code_fingerprint_after"])
                run["server_cpu_seconds"] = round(server.cpu_seconds() - cpu0, 2)
                # CPU used on the machine by anything else during the run (other jobs, this bench's sampler):
                run["other_cpu_seconds"] = round(
                    max(0.0, run["machine_busy_cpu_seconds"] - run["cpu_seconds"] - run["server_cpu_seconds"]), 2
                )
                (firsts if label == "first_run" else seconds).append(run)
                if run["exit_code"] != 0:
                    print(
                        f"pipeline {key} FAILED (exit {run['exit_code']}"
                        f"{'; ' + run['stopped_by_bench'] if run.get('stopped_by_bench') else ''}): "
                        f"{run.get('error_tail')}",
                        flush=True,
                    )
                    break
                print(
                    f"pipeline {key}: {run['pages']} pages in {run['wall_seconds']} s = {run['pages_per_second']} pages/s, "
                    f"peak RSS {run['peak_rss_tree_mb']} MB (tree), phases {run['phases_seconds']}",
                    flush=True,
                )
            if any(r["exit_code"] != 0 for r in firsts + seconds):
                break
        if firsts:
            result["first_run"] = _median_run(firsts)
        if seconds:
            result["second_run"] = _median_run(seconds)
        if firsts and result["first_run"]["exit_code"] == 0:
            result["output_size"] = output_size(output)
        if (
            firsts
            and result["first_run"]["exit_code"] == 0
            and "second_run" in result
            and result["second_run"]["exit_code"] == 0
        ):
            result["second_run_share"] = round(
                result["second_run"]["wall_seconds"] / result["first_run"]["wall_seconds"], 3
            )
            result["second_run_share_by_round"] = [
                round(
                    _median_run([s for s in seconds if s["round"] == f["round"]])["wall_seconds"] / f["wall_seconds"], 3
                )
                for f in firsts
                if any(s["round"] == f["round"] for s in seconds)
            ]
        if full and (output / "pages.parquet").exists():
            if args.wait_idle:
                result.setdefault("idle_wait", {})["parse_only"] = wait_idle(args.wait_idle)
            result["parse_only"] = parse_only(output, args.parse_sample)
            result["parse_only"]["code_fingerprint_after"] = code_fingerprint()
            print(
                f"parse-only (one process): {result['parse_only']['pages_per_second']} pages/s "
                f"over {result['parse_only']['pages']} pages",
                flush=True,
            )
            result["profile"] = profile_parse(output)
        fingerprints.append(code_fingerprint())
        # The pipeline runs, parse-only and profile above all measured this code (the baseline does not use it).
        result["code_fingerprint_measured"] = fingerprints[0]
        result["code_changed_while_measured"] = len(set(fingerprints)) > 1
        if (full or args.scale_baseline) and not args.no_baseline and not args.only_compare:
            if args.wait_idle:
                result.setdefault("idle_wait", {})["baseline"] = wait_idle(args.wait_idle)
            result["baseline"] = run_baseline(start_url, size_dir / "baseline", size_dir / "baseline")
            b = result["baseline"]
            if b["exit_code"] == 0:
                print(
                    f"baseline: {b['pages']} pages in {b['wall_seconds']} s = {b['pages_per_second']} pages/s",
                    flush=True,
                )
                if firsts and result["first_run"]["exit_code"] == 0:
                    result["pipeline_over_baseline"] = {
                        "speedup": round(result["first_run"]["pages_per_second"] / b["pages_per_second"], 2),
                        "time_ratio": round(result["first_run"]["wall_seconds"] / b["wall_seconds"], 3),
                    }
        if (full or args.scale_compare) and "paged" in args.shapes:
            result.setdefault("comparison", {})["paged"] = compare(
                "paged", server, start_url, args, size_dir / "compare", summary["project_pages"]
            )
            result["comparison"]["paged"]["site"] = summary
            result["comparison"]["paged"]["fetch_only_ceiling"] = {
                str(args.concurrency): result["server"]["fetch_only_ceiling"],
                **(
                    {str(args.compare_concurrency): result["server"]["fetch_only_ceiling_compare"]}
                    if "fetch_only_ceiling_compare" in result["server"]
                    else {}
                ),
            }
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(site, ignore_errors=True)
    if (full or args.scale_compare) and "chained" in args.shapes:
        result.setdefault("comparison", {})["chained"] = bench_chained(pages, args, work)
    return result


# ---------------------------------------------------------------- machine, report


def _median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (of an even number, the slower of the two middle runs; the first
    failure, if any run failed), with every run's wall time and peak memory beside it."""
    failed = [r for r in runs if r["exit_code"] != 0]
    ordered = sorted(runs, key=lambda r: r["wall_seconds"])
    chosen = dict(failed[0] if failed else ordered[len(ordered) // 2])
    chosen["all_wall_seconds"] = [r["wall_seconds"] for r in runs]
    chosen["all_peak_rss_tree_mb"] = [r.get("peak_rss_tree_mb") for r in runs]
    chosen["max_peak_rss_tree_mb"] = max((r.get("peak_rss_tree_mb") or 0 for r in runs), default=None)
    return chosen


def code_fingerprint() -> str:
    """A hash of the code being measured (pipeline/, parsers/, assets/ and the vocabulary), so results from
    different code can be told apart without asking git."""
    import hashlib

    digest = hashlib.sha256()
    files = sorted(
        [
            *ROOT.glob("pipeline/*.py"),
            *ROOT.glob("parsers/*.py"),
            *ROOT.glob("assets/*.py"),
            *ROOT.glob("parsers/data/*.toml"),
            ROOT / "pyproject.toml",
        ]
    )
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def machine_info() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    versions = {}
    from importlib import metadata

    for package in ("dagster", "httpx", "beautifulsoup4", "lxml", "pandas", "pyarrow", "scrapy", "twisted"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "ram_gb": round(mem / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "time_v": bool(TIME),
    }


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value}{unit}"


def table_rows(report: dict) -> list[tuple[str, list[str]]]:
    runs = report["runs"]
    get = lambda r, *path: _dig(r, path)  # noqa: E731
    rows = [
        (
            "project pages + listing pages",
            [f"{get(r, 'site', 'project_pages')} + {get(r, 'site', 'listing_pages')}" for r in runs],
        ),
        (
            "site size (median page)",
            [
                f"{get(r, 'site', 'bytes_total') / 2**20:.0f} MB ({get(r, 'site', 'bytes_median') / 1024:.0f} KB)"
                for r in runs
            ],
        ),
        (
            "server / fetch-only ceiling",
            [
                f"{get(r, 'server', 'kind')} / {_fmt(get(r, 'server', 'fetch_only_ceiling', 'pages_per_second'))} pages/s"
                for r in runs
            ],
        ),
        ("1st run: status", [_status(get(r, "first_run")) for r in runs]),
        (
            "1st run: wall time, median",
            [
                _fmt(get(r, "first_run", "wall_seconds"), " s") + _all_text(get(r, "first_run", "all_wall_seconds"))
                for r in runs
            ],
        ),
        ("1st run: pages in pages.parquet", [_fmt(get(r, "first_run", "pages")) for r in runs]),
        ("1st run: pages/s end to end", [_fmt(get(r, "first_run", "pages_per_second")) for r in runs]),
        ("1st run: phases (s)", [_phases_text(get(r, "first_run", "phases_seconds")) for r in runs]),
        (
            "1st run: CPU s (utilisation)",
            [
                f"{_fmt(get(r, 'first_run', 'cpu_seconds'))} ({_fmt(get(r, 'first_run', 'cpu_utilisation'))} cores)"
                for r in runs
            ],
        ),
        (
            "1st run: peak RSS, process tree (sum), highest run",
            [
                _fmt(get(r, "first_run", "max_peak_rss_tree_mb"), " MB")
                + _all_text(get(r, "first_run", "all_peak_rss_tree_mb"), " MB")
                for r in runs
            ],
        ),
        (
            "1st run: peak RSS, largest process (median run)",
            [_fmt(get(r, "first_run", "peak_rss_largest_process_mb"), " MB") for r in runs],
        ),
        ("1st run: read from disk (main process)", [_fmt(get(r, "first_run", "disk_read_mb"), " MB") for r in runs]),
        ("1st run: server CPU s", [_fmt(get(r, "first_run", "server_cpu_seconds")) for r in runs]),
        (
            "1st run: other CPU s on the machine (steal)",
            [
                f"{_fmt(get(r, 'first_run', 'other_cpu_seconds'))} ({_fmt(get(r, 'first_run', 'steal_cpu_seconds'))})"
                for r in runs
            ],
        ),
        ("2nd run: status", [_status(get(r, "second_run")) for r in runs]),
        (
            "2nd run (unchanged site): wall time, median",
            [
                _fmt(get(r, "second_run", "wall_seconds"), " s") + _all_text(get(r, "second_run", "all_wall_seconds"))
                for r in runs
            ],
        ),
        (
            "2nd run: share of 1st (medians; by round)",
            [
                _pct(get(r, "second_run_share"))
                + (
                    " (" + " / ".join(_pct(v) for v in get(r, "second_run_share_by_round")) + ")"
                    if get(r, "second_run_share_by_round")
                    else ""
                )
                for r in runs
            ],
        ),
        ("2nd run: fetch outcomes", [_dict_text(get(r, "second_run", "pages_by_outcome")) for r in runs]),
        ("2nd run: pages parsed again", [_fmt(get(r, "second_run", "pages_parsed_in_run")) for r in runs]),
        ("2nd run: read from disk (median run)", [_fmt(get(r, "second_run", "disk_read_mb"), " MB") for r in runs]),
        (
            "2nd run: peak RSS, tree (highest run)",
            [_fmt(get(r, "second_run", "max_peak_rss_tree_mb"), " MB") for r in runs],
        ),
        (
            "parse-only, 1 process: pages/s",
            [
                _fmt(get(r, "parse_only", "pages_per_second"))
                + (f" ({get(r, 'parse_only', 'ms_per_page')} ms/page)" if get(r, "parse_only") else "")
                for r in runs
            ],
        ),
        ("baseline: wall time", [_fmt(get(r, "baseline", "wall_seconds"), " s") for r in runs]),
        ("baseline: pages/s", [_fmt(get(r, "baseline", "pages_per_second")) for r in runs]),
        ("baseline: peak RSS", [_fmt(get(r, "baseline", "peak_rss_tree_mb"), " MB") for r in runs]),
        ("baseline: CPU s", [_fmt(get(r, "baseline", "cpu_seconds")) for r in runs]),
        (
            "pipeline / baseline speed (time ratio)",
            [
                f"{_fmt(get(r, 'pipeline_over_baseline', 'speedup'), 'x')} ({_fmt(get(r, 'pipeline_over_baseline', 'time_ratio'))})"
                for r in runs
            ],
        ),
        (
            "output: raw / parquet",
            [
                f"{_fmt(get(r, 'output_size', 'raw_mb'), ' MB')} / {_fmt(get(r, 'output_size', 'parquet_mb'), ' MB')}"
                for r in runs
            ],
        ),
    ]
    return rows


def _all_text(values, unit: str = " s") -> str:
    """`` (of 3.4 / 3.5 / 3.9 s)`` when there was more than one run."""
    if not values or len(values) < 2:
        return ""
    return " (of " + " / ".join(_fmt(v) for v in values) + unit + ")"


def _dig(value, path):
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _status(run) -> str:
    if not run:
        return "not run"
    if run.get("stopped_by_bench"):
        return f"STOPPED: {run['stopped_by_bench']}"
    if run.get("exit_code") != 0:
        return f"FAILED (exit {run.get('exit_code')})"
    done = run.get("projects", run.get("items"))
    if run.get("expected_projects") is not None and done != run["expected_projects"]:
        return f"INCOMPLETE ({done} of {run['expected_projects']} projects)"
    return "ok"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _phases_text(phases) -> str:
    if not phases:
        return "–"
    short = {
        "startup_to_first_page": "start",
        "crawl": "crawl",
        "parse": "parse",
        "checks_and_write": "write",
        "exit": "exit",
    }
    return " / ".join(f"{short.get(k, k)} {v}" for k, v in phases.items())


def _dict_text(value) -> str:
    return "–" if not value else ", ".join(f"{k} {v}" for k, v in value.items())


def growth(report: dict) -> dict | None:
    runs = [r for r in report["runs"] if r.get("first_run", {}).get("exit_code") == 0]
    if len(runs) < 2:
        return None
    a, b = runs[0], runs[1]
    ratio = lambda *path: round(_dig(b, path) / _dig(a, path), 2) if _dig(a, path) and _dig(b, path) else None  # noqa: E731
    return {
        "pages": ratio("first_run", "pages"),
        "first_run_wall": ratio("first_run", "wall_seconds"),
        "second_run_wall": ratio("second_run", "wall_seconds"),
        "peak_rss_tree": ratio("first_run", "max_peak_rss_tree_mb"),
        "peak_rss_largest_process": ratio("first_run", "peak_rss_largest_process_mb"),
    }


def targets(report: dict) -> dict:
    """The issue's targets, against what this bench run measured (None: not measured in this run), at each
    size the run measured. Stated for 3200 and 10000 pages (the ratios), 10000 pages (pages/s), 5000 -> 10000
    pages (memory growth)."""
    out: dict = {}
    sizes = report["runs"]
    for r in sizes:
        at = f" (N={r['pages_requested']})" if len(sizes) > 1 else ""
        comp = r.get("comparison", {})
        first_rss = [_dig(r, ("first_run", "max_peak_rss_tree_mb"))] + [
            _dig(c, ("pipeline", "max_peak_rss_tree_mb")) for c in comp.values()
        ]
        first_rss = [v for v in first_rss if v is not None]
        checks = [
            ("pipeline/Scrapy wall time <= 0.33, paged shape (nginx)", _dig(comp, ("paged", "ratio")), 0.33, False),
            (
                "pipeline/Scrapy wall time <= 0.33, chained shape (http.server)",
                _dig(comp, ("chained", "ratio")),
                0.33,
                False,
            ),
            (
                f"pages/s end to end >= 400, paged shape, --concurrency {report['settings']['concurrency']}",
                _dig(r, ("first_run", "pages_per_second")),
                400,
                True,
            ),
            (
                f"pages/s end to end >= 400, paged shape, --concurrency {report['settings']['compare_concurrency']}",
                _dig(comp, ("paged", "pipeline", "pages_per_second")),
                400,
                True,
            ),
            ("second run share <= 0.15", _dig(r, ("second_run_share",)), 0.15, False),
            ("peak RSS of the tree <= 500 MB (highest first run)", max(first_rss) if first_rss else None, 500, False),
            ("speed-up over the naive baseline >= 3", _dig(r, ("pipeline_over_baseline", "speedup")), 3, True),
        ]
        for name, value, limit, higher in checks:
            out[name + at] = {
                "measured": value,
                "met": None if value is None else (value >= limit if higher else value <= limit),
            }
    growth_value = _dig(report, ("growth", "peak_rss_tree"))
    out["peak RSS growth N -> 2N <= 1.2"] = {
        "measured": growth_value,
        "met": None if growth_value is None else growth_value <= 1.2,
    }
    out["note"] = (
        "targets are stated for 3200 and 10000 pages (ratios), 10000 pages (pages/s, memory growth from "
        f"5000 to 10000); this run: {', '.join(str(r['pages_requested']) for r in sizes)} pages"
    )
    return out


def comparison_columns(report: dict) -> list[tuple[int, str, dict]]:
    return [(r["pages_requested"], shape, c) for r in report["runs"] for shape, c in r.get("comparison", {}).items()]


def _runs_text(c: dict, who: str, key: str) -> str:
    values = _dig(c, (who, f"all_{key}"))
    return " / ".join(_fmt(v) for v in values) if values else "–"


def _tcp_text(c: dict, who: str) -> str:
    runs = _dig(c, (who, "all_tcp")) or []
    return " / ".join(f"{t.get('ListenOverflows', '–')}, {t.get('TCPSynRetrans', '–')}" for t in runs if t) or "–"


def comparison_rows(report: dict) -> list[tuple[str, list[str]]]:
    cols = comparison_columns(report)
    get = lambda c, *path: _dig(c, path)  # noqa: E731

    def ceiling(c: dict) -> str:
        return ", ".join(f"C={k} {v['pages_per_second']}" for k, v in (c.get("fetch_only_ceiling") or {}).items())

    rows = [
        ("server", [c.get("server") or "–" for _, _, c in cols]),
        (
            "project pages + listing pages",
            [f"{get(c, 'site', 'project_pages')} + {get(c, 'site', 'listing_pages')}" for _, _, c in cols],
        ),
        ("concurrent requests (both)", [str(c.get("concurrency")) for _, _, c in cols]),
    ]
    for who, label in (("pipeline", "pipeline"), ("scrapy", "Scrapy")):
        rows += [
            (f"{label}: status", [_status(c.get(who)) for _, _, c in cols]),
            (
                f"{label}: wall time, median (all runs)",
                [
                    _fmt(get(c, who, "wall_seconds"), " s") + f" ({_runs_text(c, who, 'wall_seconds')})"
                    for _, _, c in cols
                ],
            ),
            (
                f"{label}: pages/s",
                [_fmt(get(c, who, "pages_per_second")) + f" ({_fmt(get(c, who, 'pages'))} pages)" for _, _, c in cols],
            ),
            (f"{label}: CPU s of the tree (all runs)", [_runs_text(c, who, "cpu_seconds") for _, _, c in cols]),
            (
                f"{label}: peak RSS, tree (highest run)",
                [_fmt(get(c, who, "max_peak_rss_tree_mb"), " MB") for _, _, c in cols],
            ),
            (f"{label}: listen overflows, SYN retransmits (each run)", [_tcp_text(c, who) for _, _, c in cols]),
        ]
    rows += [
        (
            "**pipeline / Scrapy wall time (medians; by round)**",
            [
                ("not comparable: " + c["not_comparable"] if c.get("not_comparable") else _fmt(c.get("ratio")))
                + (
                    " (" + " / ".join(_fmt(v) for v in c.get("ratio_by_round", [])) + ")"
                    if c.get("ratio_by_round")
                    else ""
                )
                for _, _, c in cols
            ],
        ),
        (
            "pipeline --concurrency 4: wall time, median (all runs)",
            [
                (
                    _fmt(get(c, "pipeline_c4", "wall_seconds"), " s")
                    + f" ({_runs_text(c, 'pipeline_c4', 'wall_seconds')})"
                )
                if c.get("pipeline_c4")
                else "–"
                for _, _, c in cols
            ],
        ),
        (
            "pipeline --concurrency 4: listen overflows, SYN retransmits",
            [_tcp_text(c, "pipeline_c4") if c.get("pipeline_c4") else "–" for _, _, c in cols],
        ),
        (
            "same job: pipeline projects / Scrapy items",
            [
                f"{_fmt(get(c, 'same_job', 'pipeline_projects'))} / {_fmt(get(c, 'same_job', 'scrapy_items'))}"
                for _, _, c in cols
            ],
        ),
        ("fetch-only ceiling, pages/s (async httpx)", [ceiling(c) or "–" for _, _, c in cols]),
    ]
    return rows


def markdown(report: dict) -> str:
    m = report["machine"]
    runs = report["runs"]
    lines = [
        f"# esf-pipeline benchmark, {report['date']}, N={report['settings']['pages']}",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpus_usable']} usable), {m['cpu_model']}, {m['ram_gb']} GB RAM, "
        f"Linux {m['kernel']}, Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        "",
        f"Code fingerprint (sha256 of pipeline/, parsers/, assets/, vocabulary) measured: "
        f"{', '.join(sorted({str(r.get('code_fingerprint_measured')) for r in runs}))}"
        + (" – CHANGED during the bench, figures mix code versions" if report.get("code_changed_during_bench") else "")
        + ".",
        "",
        f"Settings: `esf-pipeline run --delay 0 --concurrency {report['settings']['concurrency']}` as a subprocess; "
        f"site seed {report['settings']['seed']}; parse-only sample {report['settings']['parse_sample'] or 'all'} pages. "
        f"Server: {runs[0].get('server', {}).get('kind')} ({runs[0].get('server', {}).get('why')}).",
        "",
    ]
    cols = comparison_columns(report)
    if cols:
        lines += [
            "## Pipeline against Scrapy",
            "",
            f"Each shape: `esf-pipeline run --delay 0 --concurrency {report['settings']['compare_concurrency']}` and "
            f"`bench/scrapy_spider.py` (Scrapy {report['settings'].get('scrapy')}, CONCURRENT_REQUESTS and "
            f"CONCURRENT_REQUESTS_PER_DOMAIN {report['settings']['compare_concurrency']}, DOWNLOAD_DELAY 0, robots.txt "
            "obeyed, AutoThrottle off; BeautifulSoup over lxml) as subprocesses, taken in turn (the order swapped "
            f"every round), {report['settings']['rounds']} rounds, each into a fresh output directory; medians. "
            "Listen overflows and SYN retransmits are the kernel's counters (/proc/net/netstat) over each run.",
            "",
            "| figure | " + " | ".join(f"{shape}, N={n}" for n, shape, _ in cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        for name, values in comparison_rows(report):
            lines.append(f"| {name} | " + " | ".join(v.replace("|", "/") for v in values) + " |")
        lines += [""]
    if any(r.get("first_run") for r in runs):
        lines += [
            f"## The paged shape at --concurrency {report['settings']['concurrency']}: first run, second runs, "
            "parse-only, baseline",
            "",
            "| figure | " + " | ".join(f"N={r['pages_requested']}" for r in runs) + " |",
            "|---|" + "---|" * len(runs),
        ]
        for name, values in table_rows(report):
            lines.append(f"| {name} | " + " | ".join(v.replace("|", "/") for v in values) + " |")
    if report.get("growth"):
        g = report["growth"]
        lines += [
            "",
            f"Growth from N to 2N: pages x{g['pages']}, first-run wall time x{g['first_run_wall']}, "
            f"second-run wall time x{g['second_run_wall']}, peak RSS (tree) x{g['peak_rss_tree']}, "
            f"peak RSS (largest process) x{g['peak_rss_largest_process']}.",
        ]
    lines += ["", f"Targets ({report['targets']['note']}):", ""]
    for name, check in report["targets"].items():
        if name == "note":
            continue
        verdict = {True: "met", False: "not met", None: "not measured"}[check["met"]]
        lines.append(f"- {name}: measured {check['measured']} – {verdict}")
    prof = runs[0].get("profile")
    if prof:
        lines += [
            "",
            f"## Where parse time goes (cProfile, {prof['pages']} project pages, "
            f"{prof['ms_per_page_under_profiler']} ms/page under the profiler)",
            "",
            "Share of parse_page time by step: "
            + ", ".join(f"{k} {100 * v:.0f}%" for k, v in prof["steps_share"].items()),
            "",
            "| function | calls | tottime s | cumtime s |",
            "|---|---|---|---|",
        ]
        for e in prof["top_by_tottime"]:
            lines.append(f"| `{e['function']}` | {e['calls']} | {e['tottime_s']} | {e['cumtime_s']} |")
    lines += [
        "",
        "Notes:",
        "",
        "- pages/s end to end = rows in pages.parquet (projects + listing pages) / wall time of the CLI process, "
        "including interpreter start, Dagster start-up, crawl, parse, checks and writing.",
        "- Peak RSS (tree) is the sum over the CLI process and its children (the parse process pool), sampled "
        "from /proc every 100 ms; the largest single process is from /usr/bin/time -v.",
        "- Parse-only runs parse_page in one process over bodies already read into memory.",
        "- The baseline (bench/baseline.py) does far less work (no chrome removal, no normalisation, no raw archive, "
        "no checks), so the comparison is against a floor, not a like-for-like program.",
        '- "Other CPU s" is CPU time the machine spent on anything but the pipeline and the server during the '
        "run (other jobs; this bench's /proc sampler costs a little). A large figure means the run was "
        "slowed by other work and its times are pessimistic; steal is time the hypervisor gave elsewhere.",
        "- The second run reuses the output directory: project pages that ended over a year ago are left alone by "
        "the revisit policy; listing pages and the other project pages get conditional requests (304; a "
        "listing's links come from the state). "
        "The bench runs `--rounds` rounds (default 3): a first run into a fresh output directory, then "
        "`--second-runs` runs over the unchanged site (default 3). Times are medians over the rounds (every "
        "run's wall time is listed), peak memory is the highest run's; the share is median second run / median "
        "first run, and per round beside it. Taking first and second runs in turn keeps the machine's drift "
        "in speed over minutes out of the share.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pages",
        type=int,
        default=1000,
        help="project pages in each site shape (default 1000, so a default bench ends within about "
        "15 minutes on 2 cores; the issue's figures are at 3200 and 10000)",
    )
    parser.add_argument("--scale", action="store_true", help="also run 2N to show how time and memory grow")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="--concurrency passed to esf-pipeline (default 4: on loopback 4 requests in flight keep nginx busy, and httpcore spends CPU per open connection on every request)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", choices=["auto", "nginx", "python"], default="auto")
    parser.add_argument(
        "--parse-sample",
        type=int,
        default=1000,
        help="pages timed in the parse-only step, spread evenly (0 = all; default 1000)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        metavar="M",
        help="first runs, each into a fresh output directory and followed by its second runs; "
        "the median is reported (default 3)",
    )
    parser.add_argument(
        "--second-runs",
        type=int,
        default=3,
        metavar="K",
        help="runs over the unchanged site after each first run; the median of all is reported (default 3)",
    )
    parser.add_argument("--scale-baseline", action="store_true", help="with --scale, run the baseline at 2N too")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="before each timed step wait up to this long for other work on the machine to stop "
        "(0 = do not wait; default 120)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="stop a pipeline run that takes longer (default 900); a crawl that does fewer than "
        f"{STALL_PAGES} pages in {STALL_WINDOW:.0f} s with pages queued is stopped as stalled",
    )
    parser.add_argument(
        "--shapes",
        default="paged,chained",
        help="site shapes for the comparison with Scrapy, comma-separated: paged (listing pages of 50 "
        "with a pager, nginx) and chained (listing pages of 10 linked by 'Nästa sida', Python's "
        "http.server with a listen backlog of 5); default both",
    )
    parser.add_argument(
        "--compare-concurrency",
        type=int,
        default=16,
        metavar="C",
        help="concurrent requests of the pipeline (--concurrency C) and of Scrapy "
        "(CONCURRENT_REQUESTS and _PER_DOMAIN) in the comparison (default 16)",
    )
    parser.add_argument("--no-scrapy", action="store_true", help="run the pipeline's side of the comparison only")
    parser.add_argument(
        "--only-compare",
        action="store_true",
        help="only the comparison with Scrapy: skip the paged shape's runs at --concurrency, the "
        "second runs, parse-only and the baseline",
    )
    parser.add_argument("--scale-compare", action="store_true", help="with --scale, compare at 2N too")
    parser.add_argument(
        "--chained-backlog",
        type=int,
        default=5,
        metavar="B",
        help="listen backlog of the chained shape's Python server (default 5, as http.server)",
    )
    parser.add_argument("--tag", default="", help="appended to the results' file names (<date>-<N>-<tag>)")
    parser.add_argument("--keep", action="store_true", help="keep bench/site/<N> and bench/work/<N> afterwards")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    args.shapes = [x.strip() for x in args.shapes.split(",") if x.strip()]
    unknown = set(args.shapes) - set(sitegen.SHAPES)
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(sorted(unknown))}: use {', '.join(sitegen.SHAPES)}")
    if args.only_compare and not args.shapes:
        parser.error("--only-compare with no --shapes leaves nothing to measure")
    if args.shapes and not args.no_scrapy and not scrapy_available():
        sys.exit(
            "bench: Scrapy is not installed: `make bench` installs the bench extra "
            "(.venv/bin/pip install -e '.[dev,bench]'), or pass --no-scrapy"
        )

    work = BENCH / "work"
    started = time.perf_counter()
    report = {
        "date": date.today().isoformat(),
        "started_at": datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "machine_cores_busy_at_start": round(machine_load(), 2),
        "code_fingerprint": code_fingerprint(),
        "settings": {
            "pages": args.pages,
            "scale": args.scale,
            "concurrency": args.concurrency,
            "seed": args.seed,
            "parse_sample": args.parse_sample,
            "parse_workers": min(os.cpu_count() or 1, 8),
            "server": args.server,
            "shapes": args.shapes,
            "compare_concurrency": args.compare_concurrency,
            "rounds": args.rounds,
            "second_runs": args.second_runs,
            "only_compare": args.only_compare,
            "chained_backlog": args.chained_backlog,
            "scrapy": scrapy_available(),
            "wait_idle": args.wait_idle,
            "timeout": args.timeout,
        },
        "runs": [],
    }
    sizes = [args.pages, 2 * args.pages] if args.scale else [args.pages]
    try:
        for i, size in enumerate(sizes):
            report["runs"].append(bench_size(size, args, work, full=(i == 0)))
    finally:
        if not args.keep:
            for size in sizes:
                shutil.rmtree(work / str(size), ignore_errors=True)
                shutil.rmtree(work / f"chained-{size}", ignore_errors=True)
            if work.exists() and not any(work.iterdir()):
                work.rmdir()
            site_root = BENCH / "site"
            if site_root.exists() and not any(site_root.iterdir()):
                site_root.rmdir()
    report["code_fingerprint_at_end"] = code_fingerprint()
    compared = [c for r in report["runs"] for c in r.get("comparison", {}).values()]
    report["code_changed_during_bench"] = (
        any(r.get("code_changed_while_measured") for r in report["runs"] + compared)
        or len({r.get("code_fingerprint_measured") for r in report["runs"] + compared} - {None}) > 1
    )
    if report["code_changed_during_bench"]:
        print(
            "bench: WARNING: pipeline/parsers code changed while the pipeline was measured; figures mix versions",
            file=sys.stderr,
        )
    report["growth"] = growth(report)
    report["targets"] = targets(report)
    report["bench_seconds"] = round(time.perf_counter() - started, 1)

    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / (f"{report['date']}-{args.pages}" + (f"-{args.tag}" if args.tag else ""))
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    text = markdown(report)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    print()
    if any(r.get("first_run") for r in report["runs"]):
        width = max(len(name) for name, _ in table_rows(report))
        header = "figure".ljust(width) + " | " + " | ".join(f"N={r['pages_requested']}" for r in report["runs"])
        print(header)
        print("-" * len(header))
        for name, values in table_rows(report):
            print(name.ljust(width) + " | " + " | ".join(values))
        print()
    cols = comparison_columns(report)
    if cols:
        rows = comparison_rows(report)
        width = max(len(name) for name, _ in rows)
        header = "pipeline vs Scrapy".ljust(width) + " | " + " | ".join(f"{shape}, N={n}" for n, shape, _ in cols)
        print(header)
        print("-" * len(header))
        for name, values in rows:
            print(name.replace("**", "").ljust(width) + " | " + " | ".join(values))
    if report["growth"]:
        print(f"growth N -> 2N: {report['growth']}")
    for name, check in report["targets"].items():
        if name != "note":
            print(
                f"target {name}: {check['measured']} -> {'met' if check['met'] else 'not met' if check['met'] is False else 'n/a'}"
            )
    print(f"\nresults: {stem}.json, {stem}.md  (bench took {report['bench_seconds']} s)")
    failed = any(r.get("first_run", {}).get("exit_code") not in (0, None) for r in report["runs"]) or any(
        (c.get(who) or {}).get("exit_code") not in (0, None)
        for _, _, c in comparison_columns(report)
        for who in ("pipeline", "scrapy", "pipeline_c4")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
