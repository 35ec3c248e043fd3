"""Where the compatibility tests find the pinned side venvs that `.ci/run` makes.

A DuckDB 1.x reader and dbt cannot live in the product's venv (they would move its duckdb), so
each has its own venv at the repository root, pinned by `.ci/venv-<name>.txt`. Without one a test
is skipped on a laptop but fails under CI (`CI` set), so CI cannot pass by silently losing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def side_venv_bin(name: str) -> Path:
    """The bin/ folder of `.venv-<name>`, or skip (fail under CI) with the command that makes it."""
    bin_dir = REPO_ROOT / f".venv-{name}" / "bin"
    if (bin_dir / "python").exists():
        return bin_dir
    make_it = f"python3 -m venv .venv-{name} && .venv-{name}/bin/pip install -r .ci/venv-{name}.txt"
    if os.environ.get("CI"):
        pytest.fail(f"{bin_dir.parent} is missing and CI is set: `bash .ci/run` makes it ({make_it})")
    pytest.skip(f"{bin_dir.parent} is missing ({make_it}); under CI this fails instead")
