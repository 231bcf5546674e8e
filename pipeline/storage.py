"""The output directory: raw pages by content hash, internal state, and the Parquet tables.
Every file is written to a temporary name and renamed into place, so a run killed at any moment
leaves the previous files whole."""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schema import Table


class OutputDir:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path)

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def state_dir(self) -> Path:
        return self.root / "_state"

    def ensure(self) -> None:
        """Create the directory tree, or fail with a clear message if it cannot be written."""
        for directory in (self.root, self.raw_dir, self.state_dir):
            directory.mkdir(parents=True, exist_ok=True)
        probe = self.state_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()

    # ------------------------------------------------------------ raw pages
    def raw_path(self, sha: str) -> Path:
        return self.raw_dir / sha[:2] / f"{sha}.html"

    def put_raw(self, body: bytes) -> str:
        sha = hashlib.sha256(body).hexdigest()
        path = self.raw_path(sha)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, body, durable=False)
        return sha

    def get_raw(self, sha: str) -> bytes:
        return self.raw_path(sha).read_bytes()

    # ------------------------------------------------------------ internal state between assets
    def save_state(self, name: str, value: Any) -> Path:
        """Pickled straight into a temporary file (no second copy in memory), then renamed into place."""
        path = self.state_dir / f"{name}.pickle"
        with atomic_file(path) as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    def has_state(self, name: str) -> bool:
        return (self.state_dir / f"{name}.pickle").exists()

    def load_state(self, name: str) -> Any:
        path = self.state_dir / f"{name}.pickle"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: materialise the upstream asset first")
        with open(path, "rb") as handle:
            return pickle.load(handle)

    # ------------------------------------------------------------ tables
    def table_path(self, table: Table) -> Path:
        return self.root / f"{table.name}.parquet"

    def write_table(self, table: Table, rows: Iterable[dict[str, Any]]) -> pa.Table:
        arrow = to_arrow(table, rows)
        path = self.table_path(table)
        tmp = _temp_name(path)
        try:
            pq.write_table(arrow, tmp, compression="zstd", write_statistics=True)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return arrow

    def read_table(self, table: Table) -> pa.Table:
        return pq.read_table(self.table_path(table))


def to_arrow(table: Table, rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Rows -> an Arrow table with the registry's exact schema (also when there are no rows)."""
    rows = list(rows)
    names = table.column_names
    columns = {name: [row.get(name) for row in rows] for name in names}
    return pa.Table.from_pydict(columns, schema=table.schema)


def _temp_name(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


@contextmanager
def atomic_file(path: Path, durable: bool = True) -> Iterator[BinaryIO]:
    """Write to a temporary file beside ``path``, then rename it into place: readers see the old
    file or the whole new one, never a part, even if the process is killed. ``durable`` also
    flushes it to disk (against power loss); raw pages skip that, being cheap to fetch again."""
    tmp = _temp_name(path)
    try:
        with open(tmp, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    with atomic_file(path, durable) as handle:
        handle.write(data)
