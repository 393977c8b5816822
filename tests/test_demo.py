"""``python -m fad``: the demo runs, quickly, and shows the right numbers."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

import fad
from fad import __main__ as cli
from fad import _demo


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fad", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="module")
def demo() -> str:
    proc = run()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def test_sections(demo: str) -> None:
    lines = demo.splitlines()
    assert lines[0].startswith("fad ")
    for heading in (
        "1. Dual and codual numbers: one number, both ways",
        "2. Differentiating Newton's square root (20 steps of X = (X + a/X) / 2)",
        "3. The transforms, as in JAX (floats rounded to 6 places)",
        "4. Three reverse strategies on y = sin(y) * y + 0.5, repeated d times",
    ):
        assert heading in lines
        assert lines[lines.index(heading) + 1] == "-" * len(heading)
    assert lines[-1].startswith("Done in ")


def test_duality(demo: str) -> None:
    assert "  d = fad.Dual(3.0, 0.5)            Dual(3.0, 0.5)   (value, tangent)" in demo
    assert "  c.backprop(2.0)                   1.0   (k * tangent)" in demo
    assert "  fad.to_dual(c)                    Dual(3.0, 0.5)   (value, backprop(1))" in demo
    expected = f"{0.5 * math.cos(3.0):.12f}"
    assert f"  to_codual(sin(d)).backprop(1.0)   {expected}" in demo
    assert f"  sin(to_codual(d)).backprop(1.0)   {expected}   (= 0.5 * cos(3))" in demo


def test_newton_every_tracer_agrees(demo: str) -> None:
    rows = [line for line in demo.splitlines() if "0.353553390593274" in line]
    names = [
        "Dual(2.0, 1.0): forward mode",
        "Codual(2.0, k -> k): naive codual",
        'fad.grad(newton_sqrt, mode="tape")',
        'fad.grad(newton_sqrt, mode="memo")',
        'fad.grad(newton_sqrt, mode="naive")',
    ]
    for name in names:
        row = next(r for r in rows if name in r)
        error = float(row.split()[-1])
        assert error < 1e-12, row


def test_session(demo: str) -> None:
    expected = """\
  >>> f = lambda x, y: fad.math.sin(x) * y + x * x
  >>> f(1.0, 2.0)
  2.682942
  >>> fad.grad(f)(1.0, 2.0)
  3.080605
  >>> fad.grad(f, argnums=(0, 1))(1.0, 2.0)
  (3.080605, 0.841471)
  >>> fad.jvp(f, (1.0, 2.0), (1.0, 0.0))
  (2.682942, 3.080605)
  >>> y, f_vjp = fad.vjp(f, 1.0, 2.0)
  >>> f_vjp(1.0)
  (3.080605, 0.841471)
  >>> fad.hessian(lambda p: p[0] ** 2 * p[1] + p[1] ** 3)([1.0, 2.0])
  [[4.0, 2.0], [2.0, 12.0]]
"""
    assert expected in demo


def test_growth_table(demo: str) -> None:
    lines = demo.splitlines()
    header = lines.index("       d      naive       memo       tape")
    rows = [  # fixed-width columns: "  {d:>6} {naive:>10} {memo:>10} {tape:>10}"
        [line[2:8].strip(), line[9:19].strip(), line[20:30].strip(), line[31:].strip()]
        for line in lines[header + 1 : header + 9]
    ]
    assert [int(r[0]) for r in rows] == [4, 8, 12, 16, 100, 1000, 10000, 100000]
    for r in rows:
        for cell in r[1:]:
            assert cell in ("skipped", "too deep") or float(cell) > 0
    assert all(r[1] != "skipped" for r in rows[:4])
    assert all(r[1] == "skipped" for r in rows[4:])
    # memo (on an explicit stack) and tape go all the way
    assert all(r[2] not in ("skipped", "too deep") for r in rows)
    assert all(r[3] not in ("skipped", "too deep") for r in rows)


def test_newton_sqrt_is_plain_python() -> None:
    assert _demo.newton_sqrt(2.0) == pytest.approx(math.sqrt(2.0), rel=1e-15)
    assert fad.grad(_demo.newton_sqrt)(2.0) == pytest.approx(1 / (2 * math.sqrt(2.0)), rel=1e-12)


def test_help_lists_commands() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for word in ("demo", "bench", "viz", "--version"):
        assert word in proc.stdout


def test_viz_command() -> None:
    proc = run("viz", "--steps", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("digraph fad {")
    assert 'label="a\\nvalue = 2\\ncotangent = 0.5"' in proc.stdout
    assert proc.stdout.count(" -> ") == 3


def test_bench_not_found(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "find_benchmarks", lambda: None)
    assert cli.main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "benchmarks/run_all.py" in err
    assert "not found" in err


def test_find_benchmarks(tmp_path: Path) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "run_all.py").write_text("")
    (tmp_path / "sub").mkdir()
    found = cli.find_benchmarks(tmp_path / "sub", package_parent=tmp_path / "site-packages")
    assert found == tmp_path / "benchmarks" / "run_all.py"
    assert cli.find_benchmarks(tmp_path / "sub", package_parent=tmp_path / "sub") == found
    assert cli.find_benchmarks(Path("/"), package_parent=tmp_path / "sub") is None


def test_bench_help_goes_to_the_suite() -> None:
    if cli.find_benchmarks() is None:
        pytest.skip("not a checkout of the repository")
    proc = run("bench", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout
