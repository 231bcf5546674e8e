"""The output location: raw pages by content hash, the parse cache, internal state, and the Parquet
tables. A location is a local path or any fsspec URL (``file:///data/esf``, ``s3://bucket/esf`` with
``s3fs`` installed, ``memory://esf`` in tests).

Nothing half-written is ever visible: locally every file is written to a temporary name and renamed
into place, so a run killed at any moment leaves the previous files whole; on object stores an object
appears only when its upload completes, and tables are uploaded under a temporary name and moved
into place only after every table of the run is complete."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Iterator

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipeline import codec
from pipeline.codec import StateError
from pipeline.schema import TABLES, Table

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs on one output location are not serialised there
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.table_writer import TableWriter


class _RecentStates:
    """Hands a state value from the asset that saved it (or loaded it first) to the next asset of the
    same process that loads it (every CLI run), instead of decoding the file again. Each value is kept with the identity of the file it matches (inode, size, modification
    time, taken from the open file itself) and only until its first hand-over, so a file replaced since
    is read again and no value outlives the step that uses it. The assets treat loaded states as
    read-only."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[tuple[int, int, int], Any]] = {}

    @staticmethod
    def identity(stat: os.stat_result) -> tuple[int, int, int]:
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    def take(self, path: str) -> tuple[bool, Any]:
        """(True, value) when the file at ``path`` is still the one the value was kept with."""
        cached = self.values.pop(path, None)
        if cached is None:
            return False, None
        try:
            current = self.identity(os.stat(path))
        except OSError:
            return False, None
        return (True, cached[1]) if current == cached[0] else (False, None)

    def keep(self, path: str, stat: os.stat_result, value: Any) -> None:
        self.values[path] = (self.identity(stat), value)


_recent_states = _RecentStates()


CURRENT_FILE = "CURRENT.json"


@dataclass
class CurrentRun:
    """The commit point: the run whose tables are current (runs/<run>/), when it was published, its tables."""

    run: str
    published_at: datetime
    tables: list[str]


def _swap_symlink(path: str, target: str) -> None:
    """Point ``path`` at ``target`` in one step (a new link renamed over the old one, or over a file)."""
    temp = f"{path}.{os.getpid()}-{uuid.uuid4().hex[:8]}.link"
    os.symlink(target, temp)
    os.replace(temp, path)


class OutputInUse(RuntimeError):
    """Another process is writing to the same output location."""


# The writer locks this process holds: lock file -> [open file, holders in this process]. Re-entrant, so
# that the CLI can hold the location for its whole run while the output resource takes it again.
_writer_locks: dict[str, list[Any]] = {}


class OutputDir:
    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.location = os.fspath(location)
        self.fs, root = fsspec.core.url_to_fs(self.location)
        self.local = isinstance(self.fs, LocalFileSystem)
        self.root = root.rstrip("/") or "/"
        # fsspec's memory filesystem lives inside one process: worker processes would not see it.
        protocols = self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,)
        self.shared_between_processes = "memory" not in protocols

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def url(self, *parts: str) -> str:
        """A path as the user should see it: plain for local files, with the protocol otherwise."""
        path = self.path(*parts)
        return path if self.local else self.fs.unstrip_protocol(path)

    def ensure(self) -> None:
        """Create the directory tree, or fail with a clear message if it cannot be written."""
        for directory in ("", "raw", "_state", "_parsed"):
            self.fs.makedirs(self.path(directory) if directory else self.root, exist_ok=True)
        probe = self.path("_state", f".write-test-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        self._write(probe, b"", durable=False)  # a test of the permissions, removed at once: no fsync
        self.fs.rm(probe)

    # ------------------------------------------------------------ one writer at a time
    def _writer_lock_path(self) -> str | None:
        """The lock file, or None where there is no lock (object stores, no fcntl)."""
        if not self.local or fcntl is None:
            return None
        return os.path.realpath(self.path("_state", ".writer.lock"))

    def lock_for_writing(self) -> None:
        """Hold this location for one run: a nightly run and a run started by hand must not interleave
        their state files. An advisory lock (flock) on _state/.writer.lock, which the kernel drops when the
        holder ends, however it ends. Local locations only: on object stores runs are serialised by the
        Dagster instance's ``esf_crawl`` pool. Raises OutputInUse, naming the holder."""
        path = self._writer_lock_path()
        if path is None:
            return
        if path in _writer_locks:
            _writer_locks[path][1] += 1
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip() or "another process"
            handle.close()
            raise OutputInUse(
                f"another run is writing to {self.url()} ({holder}); nothing was changed: "
                "start this one when it has finished"
            ) from None
        handle.truncate(0)
        handle.write(
            f"pid {os.getpid()} on {os.uname().nodename}, since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
        )
        handle.flush()
        _writer_locks[path] = [handle, 1]

    def unlock_for_writing(self) -> None:
        path = self._writer_lock_path()
        held = _writer_locks.get(path) if path is not None else None
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _writer_locks[path]
            held[0].close()  # closing the file drops the lock

    # ------------------------------------------------------------ bytes, atomically
    def _write(self, path: str, data: bytes, durable: bool = True) -> None:
        if self.local:
            try:
                atomic_write_bytes(path, data, durable)
            except FileNotFoundError:  # its folder is new (looked at only then: a stat a page otherwise)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                atomic_write_bytes(path, data, durable)
        else:
            with self.fs.open(path, "wb") as handle:
                handle.write(data)

    def _read(self, path: str) -> bytes:
        if self.local:
            with open(path, "rb") as handle:
                return handle.read()
        return self.fs.cat_file(path)

    def _exists(self, path: str) -> bool:
        return os.path.exists(path) if self.local else self.fs.exists(path)

    # ------------------------------------------------------------ raw pages
    def raw_path(self, sha: str) -> str:
        return self.path("raw", sha[:2], f"{sha}.html")

    def put_raw(self, body: bytes) -> str:
        sha = hashlib.sha256(body).hexdigest()
        path = self.raw_path(sha)
        if not self._exists(path):
            # No fsync: a raw page lost to a power cut is fetched again next night.
            self._write(path, body, durable=False)
        return sha

    def get_raw(self, sha: str) -> bytes:
        return self._read(self.raw_path(sha))

    def raw_hashes(self) -> set[str]:
        """The content hashes whose raw body is in the archive (one listing of raw/, not a look per page)."""
        folder = self.path("raw")
        if self.local:
            if not os.path.isdir(folder):
                return set()
            found = set()
            for bucket in os.scandir(folder):
                if bucket.is_dir():
                    found.update(entry.name[:-5] for entry in os.scandir(bucket.path) if entry.name.endswith(".html"))
            return found
        if not self._exists(folder):
            return set()
        return {path.rsplit("/", 1)[-1][:-5] for path in self.fs.find(folder) if path.endswith(".html")}

    # ------------------------------------------------------------ parse cache (rows of one page's content)
    def parsed_path(self, key: str) -> str:
        return self.path("_parsed", key[:2], f"{key}.json")

    def has_parsed(self, key: str) -> bool:
        return self._exists(self.parsed_path(key))

    def put_parsed(self, key: str, value: Any) -> None:
        self._write(self.parsed_path(key), codec.dumps("parse-cache", value), durable=False)

    def get_parsed(self, key: str) -> Any:
        """The cached (ParsedPage, Rows) of a content; StateError when the entry is missing or unreadable."""
        from pipeline.rows import CacheEntry

        name = self.url("_parsed", key[:2], f"{key}.json")
        try:
            data = self._read(self.parsed_path(key))
        except FileNotFoundError:
            raise StateError(f"{name} is missing") from None
        entry = codec.loads("parse-cache", CacheEntry, data, name)
        if entry.summary.key != key:
            raise StateError(f"{name} holds the entry of another content ({entry.summary.key[:16]}…)")
        return entry.summary, entry.rows

    # ------------------------------------------------------------ internal state between assets and runs
    def _state_path(self, name: str) -> str:
        return self.path("_state", f"{name}.json")

    def state_url(self, name: str) -> str:
        return self.url("_state", f"{name}.json")

    def save_state(self, name: str, kind: str, value: Any) -> str:
        """Write a typed JSON state file (pipeline/codec.py) atomically."""
        path = self._state_path(name)
        data = codec.dumps(kind, value)
        if self.local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with atomic_file(path) as handle:
                handle.write(data)
                handle.flush()  # the rename that follows keeps this inode, size and time
                _recent_states.keep(path, os.fstat(handle.fileno()), value)
        else:
            self._write(path, data)
        return path

    def remove_state(self, name: str) -> None:
        if self.has_state(name):
            self.fs.rm(self._state_path(name))

    def has_state(self, name: str) -> bool:
        return self._exists(self._state_path(name))

    def state_names(self, folder: str) -> list[str]:
        """The states saved under _state/<folder>/, as names for load_state."""
        directory = self.path("_state", folder)
        if not self._exists(directory):
            return []
        names = [info.rstrip("/").rsplit("/", 1)[-1] for info in self.fs.ls(directory, detail=False)]
        return sorted(f"{folder}/{n[:-5]}" for n in names if n.endswith(".json") and not n.startswith("."))

    def load_state(self, name: str, kind: str, tp: Any) -> Any:
        """Read a typed JSON state file; StateError (one line naming the file) when it is missing,
        truncated, foreign or of another version. Nothing in it is executed."""
        path = self._state_path(name)
        if self.local:
            found, value = _recent_states.take(path)
            if found:
                return value
            try:
                with open(path, "rb") as handle, gc_paused():
                    stat = os.fstat(handle.fileno())
                    value = codec.loads(kind, tp, handle.read(), self.state_url(name))
            except FileNotFoundError:
                raise StateError(f"{self.state_url(name)} is missing") from None
            _recent_states.keep(path, stat, value)  # for the next asset that loads it
            return value
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            raise StateError(f"{self.state_url(name)} is missing") from None
        with gc_paused():
            return codec.loads(kind, tp, data, self.state_url(name))

    def prune(self, keep_raw: set[str], keep_parsed: set[str], older_than_days: float) -> tuple[int, int]:
        """Delete raw bodies and parse cache entries that no state refers to and that are older than
        ``older_than_days``; returns (files, bytes) freed."""
        cutoff = time.time() - older_than_days * 86400
        files = freed = 0
        for folder, keep in (("raw", keep_raw), ("_parsed", keep_parsed)):
            if not self._exists(self.path(folder)):
                continue
            for bucket in self.fs.ls(self.path(folder), detail=False):
                for name, info in self._unreferenced(bucket, keep):
                    modified = _modified_at(info)
                    if name.startswith(".") or modified is None or modified >= cutoff:
                        continue
                    self.fs.rm(info["name"])
                    files += 1
                    freed += int(info.get("size") or 0)
        return files, freed

    def _unreferenced(self, bucket: str, keep: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """The entries of one archive folder whose content hash is not in ``keep``, with their listing
        details; locally only those are looked at (a stat for each of tens of thousands of kept files
        would be most of an unchanged run's clean-up)."""
        try:
            if not self.local:
                for info in self.fs.ls(bucket, detail=True):
                    name = info["name"].rstrip("/").rsplit("/", 1)[-1]
                    if name.split(".", 1)[0] not in keep:
                        yield name, info
                return
            with os.scandir(bucket) as entries:
                for entry in entries:
                    if entry.name.split(".", 1)[0] in keep:
                        continue
                    try:
                        stat = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    yield entry.name, {"name": entry.path, "mtime": stat.st_mtime, "size": stat.st_size}
        except (FileNotFoundError, NotADirectoryError):
            return

    def remove_legacy_pickles(self) -> int:
        """Delete the pickled state and parse cache of versions before the typed JSON format. They are
        never loaded (a pickle can run code): their content is rebuilt from the published tables."""
        found = self.fs.glob(self.path("_state/*.pickle"))
        if found:  # an output of that era: its parse cache first (a cache of pickles without its state is pruned)
            found = self.fs.glob(self.path("_parsed/*/*.pickle")) + found
        for path in found:
            self.fs.rm(path)
        return len(found)

    # ------------------------------------------------------------ tables: run folders and the commit point
    # Each run writes its tables into runs/<run>/, invisible to readers, and makes them current in one step:
    # CURRENT.json names the run (one atomic write: a rename here, one PUT on an object store). Locally the
    # symlink ``current`` is swapped to runs/<run> in the same step, and each top-level <table>.parquet is a
    # fixed symlink to current/<table>.parquet, so readers of data/projects.parquet see the new run's tables
    # all at once. The previous run's folder stays readable until the next commit.

    def current_run(self) -> str | None:
        """The run whose tables are current; None for an output of the flat layout (or none yet)."""
        try:
            data = self._read(self.path(CURRENT_FILE))
        except (FileNotFoundError, OSError):
            return None
        try:
            return codec.loads("current", CurrentRun, data, self.url(CURRENT_FILE)).run
        except StateError:
            return None

    def table_path(self, table: Table, run: str | None = None) -> str:
        run = run or self.current_run()
        return self.path("runs", run, f"{table.name}.parquet") if run else self.path(f"{table.name}.parquet")

    def new_run(self, when: datetime) -> str:
        """A run folder for the tables of a run that is not published yet."""
        run = f"{when:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
        self.fs.makedirs(self.path("runs", run), exist_ok=True)
        return run

    def carry_table(self, table: Table, run: str) -> None:
        """The current file of a table that did not change, into the run's folder (a hard link locally)."""
        source, target = self.table_path(table), self.table_path(table, run)
        if self.local:
            os.link(os.path.realpath(source), target)
        else:
            self.fs.copy(source, target)

    def commit(self, run: str, tables: list[str], when: datetime) -> None:
        """Make the run's tables current, all at once; then drop every run folder but this run's and the
        previous current run's (readers that opened it keep reading it), including those of killed runs."""
        previous = self.current_run()
        self._write(self.path(CURRENT_FILE), codec.dumps("current", CurrentRun(run, when, tables)))
        if self.local:
            current = self.path("current")
            if os.path.isdir(current) and not os.path.islink(current):
                # An output copied by a tool that follows links (shutil.copytree, cp -L) holds a real folder
                # here; the tables are in runs/ as well, so the copy is dropped before the link takes its place.
                shutil.rmtree(current)
            _swap_symlink(current, os.path.join("runs", run))
            for name in TABLES:
                top = self.path(f"{name}.parquet")
                if name in tables:
                    if not (os.path.islink(top) and os.readlink(top) == os.path.join("current", f"{name}.parquet")):
                        _swap_symlink(top, os.path.join("current", f"{name}.parquet"))
                elif os.path.lexists(top):
                    os.unlink(top)
        else:  # no symlinks: a copy at the top for convenience; CURRENT.json is the atomic view
            for name in TABLES:
                top = self.path(f"{name}.parquet")
                if name in tables:
                    self.fs.copy(self.path("runs", run, f"{name}.parquet"), top)
                elif self.fs.exists(top):
                    self.fs.rm(top)
        for folder in self.fs.ls(self.path("runs"), detail=False):
            if folder.rstrip("/").rsplit("/", 1)[-1] not in (run, previous):
                self.fs.rm(folder, recursive=True)

    def has_table(self, table: Table) -> bool:
        return self._exists(self.table_path(table))

    @contextmanager
    def _parquet_file(self, table: Table) -> Iterator[pq.ParquetFile]:
        # pyarrow is imported here, not at the top: the parse workers use this module without it.
        # ParquetFile, not pq.read_table: the latter imports pyarrow.dataset (docs/measurements.md).
        import pyarrow.parquet as pq

        with self.fs.open(self.table_path(table), "rb") as handle:
            yield pq.ParquetFile(handle)

    def table_modified_at(self, table: Table) -> float | None:
        """When the table's file was last written (Unix time), None where the filesystem does not say."""
        return _modified_at(self.fs.info(self.table_path(table)))

    def read_table(self, table: Table, columns: list[str] | None = None) -> pa.Table:
        with self._parquet_file(table) as parquet:
            return parquet.read(columns=columns)

    def table_rows(self, table: Table) -> int:
        with self._parquet_file(table) as parquet:
            return parquet.metadata.num_rows

    def table_batches(self, table: Table, batch_size: int = 4096) -> Iterator[pa.RecordBatch]:
        """The rows of a published table, a batch at a time (nothing when it does not exist)."""
        if not self.has_table(table):
            return
        with self._parquet_file(table) as parquet:
            yield from parquet.iter_batches(batch_size=batch_size)

    def table_writer(self, table: Table, run: str | None = None) -> TableWriter:
        """A writer of the table into ``run``'s folder (without one: over the current run's file, for tests
        and repairs, or at the top of an output of the flat layout)."""
        from pipeline.table_writer import TableWriter

        return TableWriter(self, table, run=run)

    def remove_stale_temp_files(self, older_than_seconds: float = 6 * 3600) -> list[str]:
        """Temporary table and state files left by a run that was killed mid-write (never read, but
        as large as the tables). Only old ones: a run writing right now keeps its own."""
        cutoff = time.time() - older_than_seconds
        removed = []
        folders = [self.root, self.path("_state")]
        if self._exists(self.path("runs")):
            folders += self.fs.ls(self.path("runs"), detail=False)
        for folder in folders:
            if not self._exists(folder):
                continue
            for info in self.fs.ls(folder, detail=True):
                name = info["name"].rstrip("/").rsplit("/", 1)[-1]
                modified = _modified_at(info)
                if name.startswith(".") and name.endswith(".tmp") and modified is not None and modified < cutoff:
                    self.fs.rm(info["name"])
                    removed.append(self.url(info["name"][len(self.root) :].strip("/")))
        return removed

    def write_table(self, table: Table, rows: Iterable[dict[str, Any]]) -> int:
        """Write a whole table at once (small tables, tests)."""
        writer = self.table_writer(table)
        try:
            writer.write(rows)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        writer.publish()
        return writer.rows


def _modified_at(info: dict[str, Any]) -> float | None:
    """A listing entry's modification time as a Unix time; the key differs between filesystems
    (local: mtime, s3fs: LastModified, gcsfs: updated, adlfs: last_modified, memory: created)."""
    for key in ("mtime", "LastModified", "updated", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Files are as readable as the user's umask lets a new file be (not private, as mkstemp makes them): a team folder
# or a web server reads the tables, CURRENT.json and the catalog.
_FILE_MODE = 0o666 & ~_umask()


_TEMP_NUMBERS = itertools.count()


def _open_temp(path: str) -> tuple[str, int]:
    """A new file beside ``path`` (named by this process and a counter, so writers never share one), open for
    writing, as readable as the umask lets a new file be: one system call, where mkstemp, chmod, close and
    open again were four."""
    directory, name = os.path.split(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    while True:
        temp = os.path.join(directory, f".{name}.{os.getpid()}-{next(_TEMP_NUMBERS)}.tmp")
        try:
            return temp, os.open(temp, flags, _FILE_MODE)
        except FileExistsError:  # left by a killed process that had this process id
            continue


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a state file is decoded: its tens of thousands of new
    objects otherwise set off collections that walk every object of the process (Dagster's included)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def atomic_file(path: str | os.PathLike[str], durable: bool = True) -> Iterator[BinaryIO]:
    """Write to a temporary file beside ``path``, then rename it into place: readers see the old
    file or the whole new one, never a part, even if the process is killed. ``durable`` also
    flushes it to disk (against power loss); raw pages skip that, being cheap to fetch again."""
    tmp, fd = _open_temp(os.fspath(path))
    replaced = False
    try:
        with open(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
        replaced = True
    finally:
        if not replaced:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, durable: bool = True) -> None:
    with atomic_file(path, durable) as handle:
        handle.write(data)
