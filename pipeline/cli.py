"""esf-pipeline: run the Dagster asset graph in-process from the command line.

esf-pipeline run [--start-url [NAME=]URL ...] [--output DIR]   crawl real sites (sources.toml by default)
esf-pipeline demo [--output DIR]                        crawl the bundled demo site on loopback
esf-pipeline reparse [--output DIR]                     rebuild the tables from the stored pages (no HTTP)
esf-pipeline parse FILE_OR_URL [--url U]                one page's records as JSON on stdout (writes nothing)
esf-pipeline gc [--output DIR] [--keep-days N]          delete what no state refers to
esf-pipeline dev                                        the Dagster UI, wired to the demo site
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pipeline.demo import DEMO_SOURCE, DEMO_START_PATH, demo_port, serve_directory
from pipeline.schema import TABLES
from pipeline.storage import OutputDir, OutputInUse

if TYPE_CHECKING:
    from pipeline.crawl.crawler import CrawlStats

log = logging.getLogger("esf_pipeline")


def _finite_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, 0 or more: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """A usage error is one line (and exit status 2), with where to read more."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


LOG_LEVELS = ("debug", "info", "warning", "error")

EXIT_CODES = """exit status:
  0    the run completed (pages that failed are rows in parse_issues and pages)
  1    a start URL is unreachable, another run holds the output, or a blocking check stopped the publish
       (the previous tables stay as they were)
  2    usage error (an argument or ESF_* variable that does not fit, an output that cannot be written)
  130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM: nothing was changed
"""


def _user_agent(text: str) -> str:
    if not text.strip() or not all(" " <= c <= "~" for c in text):
        raise argparse.ArgumentTypeError(f"must be printable ASCII and not empty: {text!r}")
    return text


def _add_log_level(parser: argparse.ArgumentParser, top: bool) -> None:
    # On a command it is SUPPRESSed unless given, so the top-level value is not overwritten by its default.
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.lower,
        default=None if top else argparse.SUPPRESS,
        help="the command line's log level and that of Dagster's console log (default: info for "
        "this command's own lines, Dagster's log only for failures)",
    )


def _wrapped(text: str) -> str:
    """A paragraph of help, folded to the terminal's width (the raw formatter keeps the exit status tables)."""
    import shutil
    import textwrap

    return textwrap.fill(text, min(100, shutil.get_terminal_size().columns - 2))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="esf-pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    _add_log_level(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    raw = argparse.RawDescriptionHelpFormatter
    run = commands.add_parser(
        "run",
        help="crawl, parse and write the tables",
        formatter_class=raw,
        epilog=EXIT_CODES,
        description=_wrapped(
            "Crawl the sources (pipeline/sources.toml, ESF_START_URLS or --start-url), "
            "parse the pages and publish the Parquet tables: the crawl_and_publish job "
            "of the Dagster definitions, run in this process."
        ),
    )
    run.add_argument(
        "--start-url",
        action="append",
        default=[],
        metavar="[NAME=]URL",
        help="a listing or project page, optionally named (the name is the source's identity; "
        "default: derived from the address); repeatable (default: the sites in pipeline/sources.toml)",
    )
    demo = commands.add_parser(
        "demo",
        help="serve fixtures/site on loopback and run against it",
        formatter_class=raw,
        epilog=EXIT_CODES,
        description=_wrapped(
            "Serve the bundled demo site (fixtures/site) on "
            "127.0.0.1 (ESF_DEMO_PORT) and run the crawl against it, as 'run' does."
        ),
    )
    for sub in (run, demo):
        sub.add_argument("--output", default=None, help="output directory or URL (default: $ESF_OUTPUT_DIR or data)")
        sub.add_argument(
            "--delay",
            type=_finite_seconds,
            default=None,
            metavar="SECONDS",
            help="minimum delay between requests to one host (default 1, demo 0)",
        )
        sub.add_argument(
            "--concurrency",
            type=_positive_int,
            default=None,
            metavar="N",
            help="concurrent requests per host (default 2, demo 4)",
        )
        sub.add_argument(
            "--max-pages",
            type=_positive_int,
            default=None,
            metavar="N",
            help="at most N addresses per run (default 50000); a crawl that reaches it is partial",
        )
        sub.add_argument(
            "--user-agent",
            type=_user_agent,
            default=None,
            metavar="UA",
            help="the User-Agent sent with every request (default: $ESF_USER_AGENT or esf-pipeline's own, "
            "with a contact URL)",
        )
        sub.add_argument(
            "--full-refresh", action="store_true", help="check every known page again, whatever the revisit policy says"
        )
        sub.add_argument(
            "--allow-removals",
            action="store_true",
            help="publish even when the run removes more than 10%% of a source's active projects",
        )
        sub.add_argument(
            "--without-personal-data",
            action="store_true",
            help="leave the contacts table (names, e-mail, phone) out of the output",
        )
        sub.add_argument(
            "--limit",
            type=_positive_int,
            default=None,
            metavar="N",
            help="a sample run: at most N project pages (a partial crawl: nothing is removed)",
        )
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="crawl only this source of pipeline/sources.toml (repeatable); the others keep their state",
    )
    run.add_argument(
        "--urls-from", metavar="FILE", help="a file of addresses, one per line, fetched besides the listings"
    )
    run.add_argument(
        "--export",
        metavar="FILE_OR_URL",
        help="the official export (CSV list of operations): the operations table, and its projects "
        "crawled through --project-url",
    )
    run.add_argument(
        "--project-url",
        metavar="TEMPLATE",
        help="a project page's address, {dnr} standing for the export's Diarienummer "
        "(https://www.esf.se/resultat/projektbanken/projekt/?dnr={dnr})",
    )
    reparse = commands.add_parser(
        "reparse",
        help="rebuild the tables from the stored raw pages, without fetching anything",
        formatter_class=raw,
        epilog=EXIT_CODES.replace("a start URL is unreachable, ", "the output holds no crawl, "),
        description=_wrapped(
            "Parse every page of the last crawl again from raw/ (after a parser fix) and publish "
            "the tables: the reparse_from_raw job of the Dagster definitions. Makes no HTTP request."
        ),
    )
    reparse.add_argument("--output", default=None, help="output directory or URL (default: $ESF_OUTPUT_DIR or data)")
    parse = commands.add_parser(
        "parse",
        help="print one page's records as JSON (writes nothing)",
        formatter_class=raw,
        description=_wrapped(
            "Parse one page, a file or an http(s) URL ('-' reads standard input), and print what the pipeline "
            "reads from it as JSON on stdout: its kind and family, each project record (columns, raw fields, "
            "sections, municipalities, contacts, issues), the page's own issues, announcements and links. "
            "Amounts and dates are strings. Nothing is written anywhere."
        ),
        epilog="exit status:\n  0  parsed (a page that gives nothing is still 0)\n"
        "  1  the file or URL cannot be read (one line on stderr)\n  2  usage error",
    )
    parse.add_argument("page", metavar="FILE_OR_URL", help="a file, an http(s) URL or - (standard input)")
    parse.add_argument(
        "--content-type",
        default=None,
        metavar="TYPE",
        help="the page's Content-Type, e.g. 'text/html; charset=windows-1252' (default: the server's, "
        "or from the file's extension)",
    )
    parse.add_argument(
        "--url",
        default=None,
        metavar="URL",
        help="the page's address, for links and the ids of projects without a number (default: the "
        "URL fetched, or the file's file:// address)",
    )
    parse.add_argument(
        "--without-personal-data",
        action="store_true",
        help="leave contacts, and contact values under any label, out, as a run without personal data does",
    )
    gc_command = commands.add_parser(
        "gc",
        help="delete raw bodies and parse cache entries no state refers to",
        description=_wrapped(
            "Apply the retention rule of a successful run now: delete "
            "raw bodies and parse cache entries that no source's state "
            "refers to."
        ),
    )
    gc_command.add_argument("--output", default="data", help="output directory (default: data)")
    gc_command.add_argument(
        "--keep-days",
        type=_finite_seconds,
        default=30.0,
        metavar="DAYS",
        help="keep unreferenced files younger than this (default 30; 0 deletes them all)",
    )
    commands.add_parser(
        "dev",
        help="open the Dagster UI with the demo site as the source",
        description=_wrapped(
            "Serve the demo site and start the Dagster UI (dg dev) on http://127.0.0.1:3000 with it as the source."
        ),
    )
    for sub in commands.choices.values():
        _add_log_level(sub, top=False)
    return parser


def version() -> str:
    """The installed distribution's version; the package's own where it is not installed (a source tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("esf-pipeline")
    except PackageNotFoundError:
        from pipeline import __version__

        return __version__


@dataclass
class RunOptions:
    """What the command line says; None leaves the setting to the environment (ESF_*) or its default."""

    output: str | None = None
    delay: float | None = None
    concurrency: int | None = None
    max_pages: int | None = None
    full_refresh: bool = False
    allow_removals: bool = False
    without_personal_data: bool = False
    limit: int | None = None
    only_sources: list[str] = field(default_factory=list)
    urls_from: str | None = None
    export: str | None = None
    project_url: str | None = None
    user_agent: str | None = None
    log_level: str | None = None  # None: this command's lines at info, Dagster's console log only for failures


def run_and_exit() -> None:
    """The console script: ``main``, then exit without the interpreter's teardown of the two thousand
    modules Dagster imports (0.5 to 0.9 s per run, measured). Every file is closed by then.
    The garbage collector stays off while those modules are imported (``run_pipeline`` turns it back
    on): their objects are long-lived, and collections during the import walk them again and again
    (0.35 s of the 2 s import, median of 8 interleaved runs; about 3,000 objects of import-time
    garbage stay behind). Modules that are imported only to look around are refused (see ``_Refused``)."""
    gc.disable()
    sys.meta_path.insert(0, _Refused())
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = getattr(logging, (args.log_level or "info").upper())
    logging.basicConfig(level=max(level, logging.WARNING), format="%(asctime)s %(message)s", stream=sys.stderr)
    log.setLevel(level)
    if args.command == "dev":
        return _dev()
    if args.command == "gc":
        return _gc(args.output, args.keep_days)
    if args.command == "parse":
        return _parse_page(args.page, args.content_type, args.url, not args.without_personal_data)
    if args.command == "reparse":
        return reparse(RunOptions(args.output, log_level=args.log_level))
    options = RunOptions(
        args.output,
        args.delay,
        args.concurrency,
        args.max_pages,
        args.full_refresh,
        args.allow_removals,
        args.without_personal_data,
        limit=args.limit,
        only_sources=getattr(args, "source", []),
        urls_from=getattr(args, "urls_from", None),
        export=getattr(args, "export", None),
        project_url=getattr(args, "project_url", None),
        user_agent=args.user_agent,
        log_level=args.log_level,
    )
    if args.command == "demo":  # a loopback site: no delay needed
        options.delay = 0.0 if args.delay is None else args.delay
        options.concurrency = args.concurrency or 4
        with serve_directory(port=demo_port()) as base:
            return run_pipeline([f"{DEMO_SOURCE}={base}{DEMO_START_PATH}"], options)
    return run_pipeline(args.start_url, options)


def _gc(output: str, keep_days: float) -> int:
    """The retention rule of a successful run, on demand: what no source's state refers to goes."""
    from pipeline.run_state import load_states, referenced

    out = OutputDir(output)
    if not out.has_state("published") and not out.state_names("sources"):
        return _fail(f"{output} holds no published run: nothing to keep or delete")
    try:
        out.lock_for_writing()
    except OutputInUse as exc:
        return _fail(str(exc), 1)
    try:
        states, _, notes = load_states(out, [])
        for note in notes:
            log.warning(note)
        files, freed = out.prune(*referenced(states), keep_days)
    finally:
        out.unlock_for_writing()
    print(f"Deleted {files} raw bodies and parse cache entries no state refers to ({freed / 1e6:.1f} MB freed)")
    return 0


def _parse_page(page: str, content_type: str | None, url: str | None, personal_data: bool) -> int:
    """``esf-pipeline parse``: one page through parse_page, its records as JSON on stdout; nothing written."""
    from urllib.parse import urlsplit

    from parsers.page import parse_page
    from pipeline.page_json import page_document, to_json

    for given in filter(None, (url, page if "://" in page else None)):
        try:
            parts = urlsplit(given)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            return _fail(f"not a URL: {given!r} ({exc})")
        if (
            parts.scheme not in ("http", "https", "file")
            or (parts.scheme != "file" and not parts.hostname)
            or (given == page and parts.scheme == "file")
        ):
            return _fail(f"not an http(s) URL: {given!r}")
    if content_type is not None and not content_type.strip():
        return _fail("--content-type is empty")
    try:
        if "://" in page:
            body, fetched_type, final_url = _fetch(page)
        elif page == "-":
            body, fetched_type, final_url = sys.stdin.buffer.read(), None, "file:///dev/stdin"
        else:
            body, fetched_type, final_url = Path(page).read_bytes(), _file_type(page), Path(page).resolve().as_uri()
    except OSError as exc:
        return _fail(f"cannot read {page}: {exc.strerror or exc}", 1)
    except _Unreadable as exc:
        return _fail(f"cannot read {page}: {exc}", 1)
    address = url or final_url
    result = parse_page(body, address, content_type or fetched_type)
    sys.stdout.write(to_json(page_document(result, address, personal_data)) + "\n")
    return 0


class _Unreadable(Exception):
    """A page that could not be fetched: an error status, a connection or protocol failure, its deadline."""


def _fetch(url: str) -> tuple[bytes, str | None, str]:
    """One GET with the crawler's settings (User-Agent, timeouts, the request deadline, the size limit, the
    redirect limit); robots.txt is not asked, as a browser would not: this is one page an operator names."""
    import httpx

    from pipeline.settings import values

    settings = values("crawler", os.environ)
    deadline = time.monotonic() + settings["request_deadline_seconds"]
    timeout = httpx.Timeout(settings["read_timeout"], connect=settings["connect_timeout"])
    try:
        with httpx.Client(
            headers={"User-Agent": settings["user_agent"]},
            timeout=timeout,
            follow_redirects=True,
            max_redirects=settings["max_redirects"],
        ) as client:
            with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise _Unreadable(f"HTTP {response.status_code}")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > settings["max_bytes"]:
                        raise _Unreadable(f"the body is larger than {settings['max_bytes']} bytes")
                    if time.monotonic() > deadline:
                        raise _Unreadable(f"no whole answer within {settings['request_deadline_seconds']:g} s")
                    chunks.append(chunk)
                return b"".join(chunks), response.headers.get("content-type"), str(response.url)
    except httpx.HTTPError as exc:
        raise _Unreadable(str(exc) or type(exc).__name__) from None


def _file_type(path: str) -> str | None:
    """A Content-Type from the file's extension: .txt is text/plain, the rest is left to the parser's sniffing."""
    import mimetypes

    guessed, _ = mimetypes.guess_type(path)
    return guessed if guessed in ("text/plain", "text/html") else None


def _fail(message: str, code: int = 2) -> int:
    print(f"esf-pipeline: error: {message}", file=sys.stderr)
    return code


def _interrupted(signum: int, published: bool) -> None:
    """Ctrl-C or SIGTERM: stop the parse workers and end now (every file is written under a temporary
    name first, so the previous output is whole); the kernel drops the output lock with the process."""
    from pipeline.interrupts import stop_children

    stop_children()
    print(
        "esf-pipeline: interrupted; " + ("the tables had just been published" if published else "nothing was changed"),
        file=sys.stderr,
    )
    sys.stderr.flush()
    os._exit(128 + signum)


def run_pipeline(start_urls: list[str], options: RunOptions | None = None) -> int:
    """The job ``crawl_and_publish`` of the same Definitions the UI loads (pipeline/definitions.py), with
    the settings of the environment (ESF_*) and of the command line, run in this process."""
    options = options or RunOptions()
    from pipeline.settings import SettingError, values
    from pipeline.sources import SourceError, configured_sources, sources_from_arguments, with_discovery

    try:
        start_urls = start_urls or list(values("sources", os.environ)["start_urls"])
        sources = sources_from_arguments(start_urls) if start_urls else configured_sources()
        unknown = set(options.only_sources) - {s.name for s in sources}
        if unknown:
            raise SourceError(f"unknown source(s) {sorted(unknown)}; known: {[s.name for s in sources]}")
        if options.only_sources:
            sources = [s for s in sources if s.name in options.only_sources]
        with_discovery(sources, options.urls_from, None, options.project_url)  # a bad list or template: usage error
    except (SettingError, SourceError) as exc:
        return _fail(str(exc))
    ops = {
        "crawled_pages": {"config": {"full_refresh": options.full_refresh, "sample_projects": options.limit}},
        "output_tables": {"config": {"allow_removals": options.allow_removals}},
    }
    return _run_job("crawl_and_publish", [f"{s.name}={s.start_url}" for s in sources], options, ops)


def reparse(options: RunOptions | None = None) -> int:
    """The job ``reparse_from_raw`` of the same Definitions: every stored page of the last crawl parsed again
    from raw/, the tables published; no HTTP request. The sources are those of the published tables."""
    options = options or RunOptions()
    from pipeline.run_state import CRAWL_FILE
    from pipeline.schema import SOURCES
    from pipeline.settings import SettingError, values

    try:
        output = values("output", os.environ, path=options.output)["path"]
    except SettingError as exc:
        return _fail(str(exc))
    try:
        out = OutputDir(output)
        crawled = out.has_state(CRAWL_FILE)
        sources = out.read_table(SOURCES, columns=["source", "start_url"]).to_pylist() if out.has_table(SOURCES) else []
    except (ImportError, ValueError) as exc:
        return _fail(f"cannot use output location {output}: {exc}")
    except OSError as exc:
        return _fail(f"cannot read {output}: {exc.strerror or exc}", 1)
    if not crawled:
        return _fail(f"{out.url()} holds no crawl to re-parse: run 'esf-pipeline run' first", 1)
    return _run_job(
        "reparse_from_raw", [f"{s['source']}={s['start_url']}" for s in sources if s["start_url"]], options, {}
    )


def _run_job(job_name: str, start_urls: list[str], options: RunOptions, ops: dict) -> int:
    """One job of make_definitions, in this process, holding the output for the run; the summary after."""
    from pipeline import interrupts
    from pipeline.settings import SettingError, values

    try:
        output_settings = values(
            "output", os.environ, path=options.output, personal_data=False if options.without_personal_data else None
        )
        crawler = values(
            "crawler",
            os.environ,
            delay_seconds=options.delay,
            concurrency=options.concurrency,
            max_pages=options.max_pages,
            user_agent=options.user_agent,
        )
        progress_seconds = values("orchestration", os.environ)["progress_line_seconds"]
    except SettingError as exc:
        return _fail(str(exc))
    output = output_settings["path"]
    try:
        out = OutputDir(output)
        out.ensure()
    except OSError as exc:
        return _fail(f"cannot write output directory {output}: {exc.strerror or exc}")
    except (ImportError, ValueError) as exc:  # an fsspec protocol without its driver, or an unknown one
        return _fail(f"cannot use output location {output}: {exc} (drivers: pip install 'esf-pipeline[s3]' or '[gcs]')")
    try:
        out.lock_for_writing()  # for the whole run (the output resource takes it again inside)
    except OutputInUse as exc:
        return _fail(str(exc), 1)
    interrupts.install(_interrupted)

    import dagster as dg

    from pipeline.definitions import make_definitions

    display = _Progress(sys.stderr.isatty(), progress_seconds)
    started = time.monotonic()
    # The instance is disposed of on leaving the block, which removes its temporary directory (the
    # process ends with os._exit, so nothing would clean up after it).
    try:
        defs = make_definitions(
            os.environ,
            crawler=crawler,
            output=output_settings,
            start_urls=start_urls,
            progress=display.update,
            discovery={"urls_from": options.urls_from, "export": options.export, "project_url": options.project_url},
        )
        job = defs.resolve_job_def(job_name)
        with dg.DagsterInstance.ephemeral() as instance:
            _collect_garbage_rarely()
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={
                    # Dagster's console log: only what fails, unless --log-level asks for more.
                    "loggers": {"console": {"config": {"log_level": (options.log_level or "critical").upper()}}},
                    "ops": ops,
                },
            )
    except SettingError as exc:
        return _fail(str(exc))
    finally:
        display.close()
        out.unlock_for_writing()
    if not result.success:
        return _fail(_failure_message(result), 1)
    _summary(output, time.monotonic() - started, reparsed=job_name == "reparse_from_raw")
    return 0


def _collect_garbage_rarely() -> None:
    """The two thousand modules imported by now live as long as the process: frozen, the garbage
    collector no longer walks them on every full collection during the run. The run makes millions
    of short-lived rows and requests that reference counting frees; collecting every 50,000 new
    objects instead of every 700 makes the second run about 0.4 s shorter (A/B, 6 runs each) and
    leaves the peak memory as it was."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    gc.enable()


class _Refused:
    """A meta-path finder that refuses modules the console script's process never needs and that are
    imported only to look around:
    - pandas: pyarrow imports it on the first ``pa.array`` of Python values only to ask whether they are
      pandas objects (0.4 s, a tenth of a run over an unchanged site);
    - numpy: pyarrow imports it when it is installed (70 ms); the pipeline hands pyarrow only Python values;
    - httpx._main: httpx's own command line (with rich and pygments; 30 ms), which httpx imports if it can.
    Refused, each takes its plain path (a missing optional dependency). Installed only by the console
    script, whose process ends with the run: the libraries remember the refusal for the rest of the process.
    tests/test_scale.py runs a whole demo with them refused."""

    MODULES = ("pandas", "numpy", "httpx._main")

    def find_spec(self, name: str, path=None, target=None):
        if any(name == module or name.startswith(module + ".") for module in self.MODULES):
            raise ModuleNotFoundError(f"{name} is not imported in an esf-pipeline process", name=name)
        return None


def _failure_message(result) -> str:
    from assets.alerts import failure_line

    return failure_line([event for event in result.all_events if event.is_step_failure])


def _summary(output: str, seconds: float, reparsed: bool = False) -> None:
    from pipeline.run_state import Published

    out = OutputDir(output)
    pages = out.read_table(TABLES["pages"], columns=["status", "error", "parsed_in_run"]).to_pylist()
    projects = out.read_table(TABLES["projects"], columns=["page_family", "status"]).to_pylist()
    issues = out.read_table(TABLES["parse_issues"], columns=["severity"]).to_pylist()
    sources = out.read_table(TABLES["sources"]).to_pylist()
    fetched = sum(p["status"] is not None for p in pages)
    failed = sum(p["error"] is not None for p in pages)
    families = Counter(p["page_family"] for p in projects)
    removed = sum(p["status"] == "removed" for p in projects)
    severities = Counter(i["severity"] for i in issues)
    if reparsed:
        print(f"Pages re-parsed from raw/: {sum(bool(p['parsed_in_run']) for p in pages)} in {seconds:.1f} s")
    else:
        print(f"Pages fetched: {fetched} ({failed} failed) in {seconds:.1f} s")
    print(f"Projects: {len(projects)}" + (f" ({removed} removed)" if removed else ""))
    for family, count in sorted(families.items()):
        print(f"  {family}: {count}")
    for source in sources:
        if not source["crawled_in_run"]:
            continue
        state = (
            "complete"
            if source["crawl_complete"]
            else f"PARTIAL (nothing removed for want of being listed): {source['partial_reason']}"
        )
        removed_now = f", {source['removed_in_run']} removed in this run" if source["removed_in_run"] else ""
        print(f"Source {source['source']}: {source['projects_active']} active{removed_now}; crawl {state}")
        if source.get("note"):
            print(f"  {source['source']} yielded no project: {source['note']}")
    print("Issues: " + (", ".join(f"{n} {s}" for s, n in sorted(severities.items())) or "none"))
    published = out.load_state("published", "published", Published)
    if published.files_pruned:
        print(
            f"Retention: deleted {published.files_pruned} raw bodies and cache entries no state refers to "
            f"({published.bytes_freed / 1e6:.1f} MB freed)"
        )
    print(f"Tables written to {out.url()}/ ({', '.join(t + '.parquet' for t in TABLES if out.has_table(TABLES[t]))})")


class _Progress:
    """A live display on a terminal. Otherwise (nightly runs, CI) plain log lines: at most one every
    ``every`` seconds (progress_line_seconds, ESF_PROGRESS_LINE_SECONDS) while the crawl goes on, and one
    closing line with the crawl's totals."""

    def __init__(self, live: bool, every: float = 5.0) -> None:
        self.live = live
        self.every = every
        self.last_log = time.monotonic()  # a crawl shorter than ``every`` gives the closing line only
        self.last: CrawlStats | None = None
        self.last_at = 0.0
        self.progress = None
        if live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
            )
            self.task = self.progress.add_task("starting")
            self.progress.start()

    def update(self, stats: CrawlStats) -> None:
        # Called for every page (thousands a second when pages answer 304): the line is made only when shown.
        if self.progress is not None:
            self.progress.update(self.task, description=self._line(stats))
            return
        now = time.monotonic()
        self.last, self.last_at = stats, now
        if now - self.last_log >= self.every:
            self.last_log = now
            log.info(self._line(stats))

    @staticmethod
    def _line(stats: CrawlStats) -> str:
        return f"{stats.done} pages done, {stats.queued} queued, {stats.rate:.1f} pages/s, {stats.failed} failed"

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        elif self.last is not None:
            stats = self.last
            seconds = max(self.last_at - stats.started, 1e-6)
            log.info(
                f"crawl done: {stats.done} pages in {seconds:.1f} s ({stats.done / seconds:.1f} pages/s), "
                f"{stats.failed} failed, {stats.retried} retried"
            )
            self.last = None


def _dev() -> int:
    """Serve the demo site and start `dagster dev` with it as the source."""
    gc.enable()  # this process serves the demo site for the whole session
    home = Path(os.environ.get("DAGSTER_HOME", ".dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text((Path(__file__).with_name("dagster.yaml")).read_text())
    with serve_directory(port=demo_port()) as base:
        env = dict(
            os.environ,
            DAGSTER_HOME=str(home),
            ESF_START_URLS=f"{DEMO_SOURCE}={base}{DEMO_START_PATH}",
            ESF_DELAY_SECONDS="0",
            ESF_OUTPUT_DIR=os.environ.get("ESF_OUTPUT_DIR", "data"),
            # the UI's own address, for the link in an alert (ESF_ALERT_WEBHOOK)
            ESF_WEBSERVER_URL=os.environ.get("ESF_WEBSERVER_URL") or "http://127.0.0.1:3000",
        )
        print(f"Demo site at {base}{DEMO_START_PATH}; Dagster UI starting (Ctrl-C to stop)", file=sys.stderr)
        try:
            return subprocess.call([sys.executable, "-m", *_dev_command(), "-m", "pipeline.definitions"], env=env)
        except KeyboardInterrupt:
            return 0


def _dev_command() -> list[str]:
    """``dg dev`` (the dagster-dg-cli package of the dev extra), which Dagster recommends; ``dagster dev``
    (which prints a SupersessionWarning) where only dagster-webserver is installed."""
    import importlib.util

    if importlib.util.find_spec("dagster_dg_cli") is not None:
        return ["dagster_dg_cli.cli", "dev"]
    return ["dagster", "dev"]
