"""Run ``mypy --strict`` over the user programs of tests/typing/ (and one that must fail).

Skipped cleanly when mypy is not installed (it is in the ``test`` extra).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "tests" / "typing").glob("*.py"))

BAD = """\
from collections.abc import Callable

import fad

f: Callable[[float], float] = lambda x: x
s: str = fad.grad(f)(1.0)
fad.grad(f)("a")
fad.jvp(f, (1.0,), (1.0,), has_aux=True)
"""
BAD_LINES = {6, 7, 8}

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed"
)


def test_user_programs_type_check_and_errors_are_caught(tmp_path: Path) -> None:
    assert PROGRAMS, "no programs in tests/typing/"
    bad = tmp_path / "bad_program.py"
    bad.write_text(BAD)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            *(str(p.relative_to(ROOT)) for p in PROGRAMS),
            str(bad),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if ": error:" in line]
    # (match the file by name: mypy's cache may report the path of an earlier run)
    bad_lines = {int(m[1]) for line in lines if (m := re.search(r"bad_program\.py:(\d+):", line))}
    # errors inside fad itself are the package's own mypy run's business (a user's
    # mypy does not report them for an installed package); here only the programs count
    others = [line for line in lines if line.startswith("tests")]
    assert not others, "\n".join(others)
    assert bad_lines == BAD_LINES, result.stdout
