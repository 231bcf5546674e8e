"""Every Python block of the README's "Analysing the data" section runs against the demo output."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SECTION = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("## Analysing the data")[1].split("\n## ")[0]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, re.S)


def test_the_section_has_examples():
    assert len(BLOCKS) >= 3 and any("duckdb" in b for b in BLOCKS)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example_runs_on_demo_output(code, demo_output, tmp_path):
    (tmp_path / "data").symlink_to(demo_output, target_is_directory=True)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
