"""The layers of the code (README, "Layout") hold: parsers are pure, the engine in pipeline/ knows no
Dagster, assets/ do not import the entry points, and no package's modules import each other in a
circle. The contracts are in pyproject.toml ([tool.importlinter]); import-linter checks them."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import ROOT


def test_the_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(ROOT / ".venv" / "bin")) or shutil.which("lint-imports")
    assert lint, "import-linter is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def test_the_parsers_import_no_io_library_at_run_time():
    """The contract above reads import statements; this runs the code: parsing a page loads none of them."""
    code = (
        "import sys; from parsers.page import parse_page; "
        "parse_page(b'<dl><dt>Projektnummer:</dt><dd>2016/00418</dd></dl>', 'http://x/p.html'); "
        "print(sorted({'dagster', 'httpx', 'pyarrow', 'fsspec', 'pandas', 'pipeline'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
