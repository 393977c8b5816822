"""The three reverse strategies (naive, memo, tape) compute the same derivatives.

Programs are drawn by hypothesis as straight-line code in which every operation
combines earlier values, so most values are used many times (the case where naive
coduals re-run backpropagators and a memo or a tape is needed). The oracles are
the other strategies, forward mode (``fad.jvp``) and, for the deep chain, the closed
form of its derivative computed with plain floats.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad._core import FadRecursionError

MODES = ("tape", "memo", "naive")

# ---------------------------------------------------------------------------------
# Drawn programs
# ---------------------------------------------------------------------------------

# Each operation keeps |value| <= max |input|, so long programs neither overflow nor
# underflow and gradients stay of moderate size.
OPS: dict[str, Callable[[Any, Any], Any]] = {
    "avg": lambda a, b: 0.5 * (a + b),
    "half_diff": lambda a, b: 0.5 * (a - b),
    "sin_mul": lambda a, b: fad.math.sin(a) * b,
    "mul_tanh": lambda a, b: a * fad.math.tanh(b),
    "cos": lambda a, b: fad.math.cos(a),
    "sq_avg": lambda a, b: 0.5 * (a * a + b * b),
    "sq": lambda a, b: a * a * 0.5 + 0.25,
}

Program = tuple[int, list[tuple[str, int, int]]]


@st.composite
def programs(draw: st.DrawFn, max_ops: int = 16, max_inputs: int = 3) -> Program:
    """A program on ``n`` inputs: ops ``(name, i, j)`` reading values ``i`` and ``j``.

    Value ``k`` is input ``k`` for ``k < n`` and op ``k - n`` otherwise. Operands are
    drawn mostly among the last few values and among the inputs, so values are reused
    many times and the number of paths grows exponentially with the length.
    """
    n = draw(st.integers(1, max_inputs))
    n_ops = draw(st.integers(1, max_ops))
    ops: list[tuple[str, int, int]] = []
    for k in range(n, n + n_ops):
        recent = st.integers(max(0, k - 3), k - 1)
        anywhere = st.integers(0, k - 1)
        i = draw(st.one_of(recent, anywhere))
        j = draw(st.one_of(recent, anywhere, st.just(i)))
        ops.append((draw(st.sampled_from(sorted(OPS))), i, j))
        if paths((n, ops)) > MAX_PATHS:  # keep naive mode (and the suite) fast
            ops.pop()
            break
    return n, ops


# How many times each op uses its operands a and b (the naive strategy calls an
# operand's backpropagator once per use).
USES: dict[str, tuple[int, int]] = {
    "avg": (1, 1),
    "half_diff": (1, 1),
    "sin_mul": (1, 1),
    "mul_tanh": (1, 1),
    "cos": (1, 0),
    "sq_avg": (2, 2),
    "sq": (2, 0),
}
MAX_PATHS = 3000


def paths(program: Program) -> int:
    """Backpropagator calls of the naive strategy, about: the paths to every value.

    Counted from every value as an output (a vjp may seed any of the last few), so
    it bounds the work of any of the tests below.
    """
    n, ops = program
    total = 0
    for out in range(n + len(ops) - 1, max(n - 1, n + len(ops) - 4), -1):
        count = [0] * (out + 1)
        count[out] = 1
        for k in range(out, n - 1, -1):
            name, i, j = ops[k - n]
            ui, uj = USES[name]
            count[i] += ui * count[k]
            count[j] += uj * count[k]
        total += sum(count)
    return total


def run(program: Program, xs: Sequence[Any], n_out: int = 1) -> list[Any]:
    """Evaluate ``program`` on ``xs``; the last ``n_out`` values are its outputs."""
    n, ops = program
    values = list(xs)
    assert len(values) == n
    for name, i, j in ops:
        values.append(OPS[name](values[i], values[j]))
    return values[-n_out:]


def scalar_fun(program: Program) -> Callable[..., Any]:
    """``program`` as a function of its inputs, positionally, returning its last value."""

    def f(*xs: Any) -> Any:
        return run(program, xs)[0]

    return f


inputs = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False)


def close(a: float, b: float, scale: float = 1.0) -> bool:
    """Equal up to rounding: relative 1e-12, against the larger of |a|, |b|, ``scale``."""
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b), scale)


def assert_all_close(results: Mapping[str, Sequence[float]], scale: float = 1.0) -> None:
    """Every entry of ``results`` (one flat list per mode) equals the tape's."""
    ref = results["tape"]
    for mode, got in results.items():
        assert len(got) == len(ref)
        for r, g in zip(ref, got, strict=True):
            assert close(r, g, scale), f"mode={mode!r}: {g!r} != tape's {r!r} ({results})"


def draw_point(data: st.DataObject, n: int) -> list[float]:
    return [data.draw(inputs) for _ in range(n)]


# ---------------------------------------------------------------------------------
# First order: grad, vjp, Jacobians
# ---------------------------------------------------------------------------------


@settings(max_examples=60)
@given(programs(), st.data())
def test_grad_is_the_same_in_every_mode(program: Program, data: st.DataObject) -> None:
    n = program[0]
    xs = draw_point(data, n)
    f = scalar_fun(program)
    argnums = tuple(range(n))
    results = {m: list(fad.grad(f, argnums, mode=m)(*xs)) for m in MODES}
    assert_all_close(results)
    # Forward mode, one input at a time, is an independent oracle.
    fwd = [
        fad.jvp(f, tuple(xs), tuple(1.0 if i == k else 0.0 for i in range(n)))[1] for k in range(n)
    ]
    assert_all_close({"tape": results["tape"], "jvp": fwd})


@settings(max_examples=40)
@given(programs(), st.integers(1, 3), st.data())
def test_vjp_is_the_same_in_every_mode(program: Program, n_out: int, data: st.DataObject) -> None:
    n = program[0]
    xs = draw_point(data, n)
    n_out = min(n_out, n + len(program[1]))
    cts = tuple(data.draw(inputs) for _ in range(n_out))

    def f(*xs: Any) -> tuple[Any, ...]:
        return tuple(run(program, xs, n_out))

    results: dict[str, list[float]] = {}
    outs: dict[str, Any] = {}
    for mode in MODES:
        y, f_vjp = fad.vjp(f, *xs, mode=mode)
        first = f_vjp(cts)
        assert f_vjp(cts) == first, f"mode={mode!r}: vjp_fun gave two answers"
        results[mode] = list(first)
        outs[mode] = y
    assert outs["naive"] == outs["memo"] == outs["tape"] == f(*xs)
    assert_all_close(results)


def jacobian_by_vjp(fun: Callable[..., Any], xs: Sequence[float], mode: str) -> list[list[float]]:
    """Rows of the Jacobian of ``fun`` (tuple out, scalars in), one vjp per output."""
    y, f_vjp = fad.vjp(fun, *xs, mode=mode)
    m = len(y)
    return [list(f_vjp(tuple(1.0 if i == r else 0.0 for i in range(m)))) for r in range(m)]


def jacobian_by_jvp(fun: Callable[..., Any], xs: Sequence[float]) -> list[list[float]]:
    """The same Jacobian from forward mode, one jvp per input, transposed."""
    n = len(xs)
    cols = [
        fad.jvp(fun, tuple(xs), tuple(1.0 if i == c else 0.0 for i in range(n)))[1]
        for c in range(n)
    ]
    return [[cols[c][r] for c in range(n)] for r in range(len(cols[0]))]


@settings(max_examples=30)
@given(programs(max_inputs=3), st.integers(1, 3), st.data())
def test_jacobian_is_the_same_in_every_mode(
    program: Program, n_out: int, data: st.DataObject
) -> None:
    n = program[0]
    xs = draw_point(data, n)
    n_out = min(n_out, n + len(program[1]))

    def f(*xs: Any) -> tuple[Any, ...]:
        return tuple(run(program, xs, n_out))

    jacs = {m: jacobian_by_vjp(f, xs, m) for m in MODES}
    jacs["jvp"] = jacobian_by_jvp(f, xs)
    for m in MODES:
        jac = fad.jacrev(f, argnums=tuple(range(n)), mode=m)(*xs)
        jacs[f"jacrev-{m}"] = [list(row) for row in jac]
    jac = fad.jacfwd(f, argnums=tuple(range(n)))(*xs)
    jacs["jacfwd"] = [list(row) for row in jac]
    flat = {k: [v for row in jac for v in row] for k, jac in jacs.items()}
    assert_all_close(flat)


# ---------------------------------------------------------------------------------
# Nesting with forward mode, and reverse over reverse
# ---------------------------------------------------------------------------------


@settings(max_examples=30)
@given(programs(max_ops=8, max_inputs=2), st.data())
def test_modes_agree_nested_inside_forward_mode(program: Program, data: st.DataObject) -> None:
    """jvp of grad (forward over reverse): a Hessian-vector product, in every mode."""
    n = program[0]
    xs = draw_point(data, n)
    v = draw_point(data, n)
    f = scalar_fun(program)
    argnums = tuple(range(n))
    results: dict[str, list[float]] = {}
    for mode in MODES:
        g, hv = fad.jvp(fad.grad(f, argnums, mode=mode), tuple(xs), tuple(v))
        results[mode] = [*g, *hv]
    assert_all_close(results)


@settings(max_examples=30)
@given(programs(max_ops=8, max_inputs=2), st.data())
def test_modes_agree_outside_forward_mode(program: Program, data: st.DataObject) -> None:
    """grad of a function that calls jvp (reverse over forward): H·v again, by symmetry."""
    n = program[0]
    xs = draw_point(data, n)
    v = draw_point(data, n)
    f = scalar_fun(program)
    argnums = tuple(range(n))

    def directional(*xs: Any) -> Any:
        return fad.jvp(f, xs, tuple(v))[1]

    results = {m: list(fad.grad(directional, argnums, mode=m)(*xs)) for m in MODES}
    # The same Hessian-vector product by forward over reverse (H is symmetric).
    _, hv = fad.jvp(fad.grad(f, argnums), tuple(xs), tuple(v))
    results["jvp-of-grad"] = list(hv)
    assert_all_close(results)


@settings(max_examples=20)
@given(programs(max_ops=6, max_inputs=1), inputs)
def test_modes_agree_reverse_over_reverse(program: Program, x: float) -> None:
    """grad of grad, each mode over itself and over the tape, against jvp of jvp."""
    f = scalar_fun(program)
    results = {m: [fad.grad(fad.grad(f, mode=m), mode=m)(x)] for m in MODES}
    for m in MODES:
        results[f"{m}-over-tape"] = [fad.grad(fad.grad(f), mode=m)(x)]
        results[f"tape-over-{m}"] = [fad.grad(fad.grad(f, mode=m))(x)]

    def first(x: Any) -> Any:
        return fad.jvp(f, (x,), (1.0,))[1]

    results["jvp-of-jvp"] = [fad.jvp(first, (x,), (1.0,))[1]]
    assert_all_close(results)


# ---------------------------------------------------------------------------------
# Closed forms on the benchmark programs
# ---------------------------------------------------------------------------------


def sin_chain(x: Any, d: int) -> Any:
    """``y = sin(y) * y + 0.5`` repeated ``d`` times: each use of y gets its own cotangent."""
    y = x
    for _ in range(d):
        y = fad.math.sin(y) * y + 0.5
    return y


def sin_chain_derivative(x: float, d: int) -> float:
    dy, y = 1.0, x
    for _ in range(d):
        dy *= math.cos(y) * y + math.sin(y)
        y = math.sin(y) * y + 0.5
    return dy


@pytest.mark.parametrize("mode", MODES)
def test_reuse_chain_matches_its_closed_form(mode: str) -> None:
    d = 12 if mode == "naive" else 200  # naive costs 2**d here
    for x in (-1.0, 0.3, 1.2):
        got = fad.grad(lambda x: sin_chain(x, d), mode=mode)(x)
        assert math.isclose(got, sin_chain_derivative(x, d), rel_tol=1e-10, abs_tol=1e-300)


# ---------------------------------------------------------------------------------
# Deep chains: tape and memo loop, the naive strategy fails with a fad error
# ---------------------------------------------------------------------------------


def damped_chain(x: Any, d: int) -> Any:
    """``y = 0.999*y + 0.001*sin(y)``, ``d`` times (four recorded operations a step)."""
    y = x
    for _ in range(d):
        y = 0.999 * y + 0.001 * fad.math.sin(y)
    return y


def damped_chain_derivative(x: float, d: int) -> float:
    dy, y = 1.0, x
    for _ in range(d):
        dy *= 0.999 + 0.001 * math.cos(y)
        y = 0.999 * y + 0.001 * math.sin(y)
    return dy


def plain_chain(x: Any, d: int) -> Any:
    """``y = 0.9*sin(y) + 0.1``, ``d`` times: deep, but each value is used once."""
    y = x
    for _ in range(d):
        y = 0.9 * fad.math.sin(y) + 0.1
    return y


def plain_chain_derivative(x: float, d: int) -> float:
    dy, y = 1.0, x
    for _ in range(d):
        dy *= 0.9 * math.cos(y)
        y = 0.9 * math.sin(y) + 0.1
    return dy


def test_tape_differentiates_a_deep_chain_without_recursion() -> None:
    d = 20_000  # 80 000 operations; benchmarks/strategies.py runs 1 000 000 steps
    assert d > 10 * sys.getrecursionlimit()
    value, g = fad.value_and_grad(lambda x: damped_chain(x, d))(0.7)
    assert value == damped_chain(0.7, d)
    assert math.isclose(g, damped_chain_derivative(0.7, d), rel_tol=1e-9)
    (g_vjp,) = fad.vjp(lambda x: damped_chain(x, d), 0.7, mode="tape")[1](1.0)
    assert g_vjp == g


def test_memo_differentiates_a_chain_of_a_million_steps() -> None:
    """memo's sensitivities are computed on an explicit stack: no recursion limit."""
    d = 1_000_000
    c = 1.0 + 1e-7

    def chain(x: Any) -> Any:
        y = x
        for _ in range(d):
            y = y * c
        return y

    g = fad.grad(chain, mode="memo")(0.7)
    assert math.isclose(g, c**d, rel_tol=1e-9)


@pytest.mark.parametrize("mode", ["memo", "tape"])
def test_memo_and_tape_go_past_the_recursion_limit(mode: str) -> None:
    d = sys.getrecursionlimit() * 3
    got = fad.grad(lambda x: damped_chain(x, d), mode=mode)(0.7)
    assert math.isclose(got, damped_chain_derivative(0.7, d), rel_tol=1e-9)


@pytest.mark.parametrize("mode", ["naive"])
def test_recursive_modes_raise_a_fad_error_naming_the_tape(mode: str) -> None:
    d = sys.getrecursionlimit() + 100

    def deep(x: Any) -> Any:
        return damped_chain(x, d)

    with pytest.raises(FadRecursionError) as info:
        fad.grad(deep, mode=mode)(0.7)
    assert type(info.value) is FadRecursionError  # never a bare RecursionError
    assert 'mode="tape"' in str(info.value)
    assert f'mode="{mode}"' in str(info.value)
    # Under forward mode too (the error crosses the outer transform unchanged).
    with pytest.raises(FadRecursionError, match='mode="tape"'):
        fad.jvp(fad.grad(deep, mode=mode), (0.7,), (1.0,))
    # A shallow program still works afterwards.
    assert fad.grad(lambda x: plain_chain(x, 50), mode=mode)(0.7) == pytest.approx(
        plain_chain_derivative(0.7, 50), rel=1e-12
    )


@pytest.mark.parametrize("mode", MODES)
def test_recursive_modes_work_below_the_limit(mode: str) -> None:
    """A chain of a hundred-odd steps (three frames each) is within every mode's reach."""
    d = sys.getrecursionlimit() // 8
    got = fad.grad(lambda x: plain_chain(x, d), mode=mode)(0.7)
    assert math.isclose(got, plain_chain_derivative(0.7, d), rel_tol=1e-12)
