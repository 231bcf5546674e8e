"""The ESF pipeline: crawler, parse step, table assembly, storage, Dagster definitions and CLI."""

import os
import sys

__version__ = "0.1.0"  # the distribution's version (pyproject.toml reads it from here)

# Arrow reads this once, when pyarrow is first imported (so it is set here, before any module of the
# package imports pyarrow). Its jemalloc pool hands the table writers' freed buffers back sooner than
# the default mimalloc, so the main process peaks lower (docs/measurements.md). A value set by the user
# wins; Windows wheels have no jemalloc.
if sys.platform != "win32":
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
