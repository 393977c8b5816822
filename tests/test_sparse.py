"""Sparsity detection and sparse derivatives against the construction and the dense ones.

Programs are drawn by hypothesis from a known structure (banded, block-sparse, sums
of small nonlinear terms), so the pattern the program implies is known exactly:
the detected pattern must equal it, the dense ``fad.jacfwd``/``fad.hessian`` at a
random point must be zero outside it, and the sparse values must equal the dense
ones.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
from fad import _coloring
from fad._sparse_ad import run_sweeps
from fad._sparse_args import flat_call
from fad.sparse import SparseMatrix

UNARY: list[Callable[[Any], Any]] = [
    fm.sin,
    fm.cos,
    fm.exp,
    fm.tanh,
    fm.atan,
    lambda x: x**2,
    lambda x: x**3,
    lambda x: 1.0 / (2.0 + fm.sin(x)),
]

Program = tuple[Callable[[list[Any]], Any], int, set[tuple[int, int]]]


def close(a: float, b: float, tol: float = 1e-13) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def dense_pattern(dense: list[list[float]]) -> set[tuple[int, int]]:
    return {(i, j) for i, row in enumerate(dense) for j, v in enumerate(row) if v != 0.0}


def as_set(p: SparseMatrix) -> set[tuple[int, int]]:
    return set(zip(p.rows, p.cols, strict=True))


@st.composite
def banded_programs(draw: st.DrawFn) -> Program:
    """out_i = Σ_{j in the band of i} c_ij · g_ij(x_j), plus x_i · x_{i+u} products."""
    n = draw(st.integers(1, 9))
    lower = draw(st.integers(0, 3))
    upper = draw(st.integers(0, 3))
    seed = draw(st.integers(0, 2**32))
    rng = random.Random(seed)
    terms: list[list[tuple[int, float, Callable[[Any], Any]]]] = []
    pattern = set()
    for i in range(n):
        row = []
        for j in range(max(0, i - lower), min(n, i + upper + 1)):
            row.append((j, rng.uniform(0.5, 2.0), rng.choice(UNARY)))
            pattern.add((i, j))
        terms.append(row)

    def fun(x: list[Any]) -> Any:
        out = []
        for row in terms:
            acc: Any = 0.0
            for j, c, g in row:
                acc = acc + c * g(x[j])
            out.append(acc)
        return out

    return fun, n, pattern


@st.composite
def block_programs(draw: st.DrawFn) -> Program:
    """Blocks of outputs, each a nonlinear function of one block of the inputs."""
    n_blocks = draw(st.integers(1, 4))
    sizes = [draw(st.integers(1, 3)) for _ in range(n_blocks)]
    out_sizes = [draw(st.integers(0, 3)) for _ in range(n_blocks)]
    rng = random.Random(draw(st.integers(0, 2**32)))
    order = list(range(sum(sizes)))
    rng.shuffle(order)  # the blocks' inputs are scattered over the vector
    blocks = []
    start = 0
    for size in sizes:
        blocks.append(order[start : start + size])
        start += size
    pattern: set[tuple[int, int]] = set()
    plan = []
    row = 0
    for b, m_b in zip(blocks, out_sizes, strict=True):
        for _ in range(m_b):
            g = rng.choice(UNARY)
            plan.append((b, g))
            pattern.update((row, j) for j in b)
            row += 1

    def fun(x: list[Any]) -> Any:
        out = []
        for b, g in plan:
            prod: Any = 1.0
            for j in b:
                prod = prod * (1.5 + fm.sin(x[j]))
            out.append(g(prod))
        return out

    return fun, sum(sizes), pattern


# A scalar function as a sum of terms, each with its exact second-order structure:
# (kind, inputs) -> the pairs with a nonzero second derivative (for generic points).
def _term(kind: str, idx: list[int], x: list[Any]) -> Any:
    a, b = x[idx[0]], x[idx[1]]
    if kind == "linear":
        return 3.0 * a - 2.0 * b
    if kind == "product":
        return a * b
    if kind == "square":
        return a * a
    if kind == "sin_product":
        return fm.sin(a * b)
    if kind == "exp_times":
        return fm.exp(a) * b
    return fm.log1p(a * a + b * b)  # "log1p_norm"


KINDS = ["linear", "product", "square", "sin_product", "exp_times", "log1p_norm"]


def _term_pairs(kind: str, idx: list[int]) -> set[tuple[int, int]]:
    a, b = idx
    if kind == "linear":
        return set()
    if kind == "product":
        return {(a, b), (b, a)} if a != b else {(a, a)}
    if kind == "square":
        return {(a, a)}
    if kind == "exp_times":
        return {(a, a), (a, b), (b, a)} if a != b else {(a, a)}
    return {(p, q) for p in (a, b) for q in (a, b)}


@st.composite
def scalar_programs(draw: st.DrawFn) -> Program:
    n = draw(st.integers(1, 8))
    k = draw(st.integers(0, 8))
    rng = random.Random(draw(st.integers(0, 2**32)))
    band = draw(st.integers(1, n))  # terms couple inputs at most `band` apart
    terms = []
    pairs: set[tuple[int, int]] = set()
    for _ in range(k):
        a = rng.randrange(n)
        b = min(n - 1, a + rng.randrange(band))
        kind = rng.choice(KINDS)
        terms.append((kind, [a, b]))
        pairs |= _term_pairs(kind, [a, b])

    def fun(x: list[Any]) -> Any:
        s: Any = 0.0
        for kind, idx in terms:
            s = s + _term(kind, idx, x)
        return s

    return fun, n, pairs


def point(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-1.0, 1.0) for _ in range(n)]


# --- Jacobians ------------------------------------------------------------------------


@pytest.mark.parametrize("programs", [banded_programs, block_programs], ids=["banded", "block"])
@given(data=st.data(), seed=st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_jacobian_pattern_and_values(programs: Any, data: st.DataObject, seed: int) -> None:
    fun, n, expected = data.draw(programs())
    x = point(n, seed)
    pattern = fad.jacobian_sparsity(fun)(x)
    assert pattern.data is None
    assert as_set(pattern) == expected  # no more and no less than the program implies
    dense = fad.jacfwd(fun)(x)
    m = len(dense)
    assert pattern.shape == (m, n)
    assert dense_pattern(dense) <= as_set(pattern)
    for mode in ("auto", "fwd", "rev"):
        transform = fad.sparse_jacobian(fun, mode=mode)
        transform(point(n, seed + 1))  # recorded there; at x the compiled program runs
        jac = transform(x)
        assert jac.pattern == pattern
        assert jac.n_colors is not None
        assert jac.n_colors <= (n if mode == "fwd" else m)
        got = jac.todense()
        for i in range(m):
            for j in range(n):
                assert close(got[i][j], dense[i][j]), (mode, i, j)


@given(prog=banded_programs(), seed=st.integers(0, 2**32))
@settings(max_examples=20, deadline=None)
def test_auto_takes_the_side_with_fewer_colours(prog: Program, seed: int) -> None:
    fun, n, _ = prog
    x = point(n, seed)
    rows = fad.jacobian_sparsity(fun)(x).row_cols()
    fwd = _coloring.n_colors(_coloring.column_coloring(rows, n))
    rev = _coloring.n_colors(_coloring.row_coloring(rows, n))
    assert fad.sparse_jacobian(fun)(x).n_colors == min(fwd, rev)
    assert fad.sparse_jacobian(fun, mode="fwd")(x).n_colors == fwd
    assert fad.sparse_jacobian(fun, mode="rev")(x).n_colors == rev


def test_tridiagonal_needs_three_colours() -> None:
    def residual(u: list[Any]) -> list[Any]:
        pad = [0.0, *u, 0.0]
        return [pad[i] - 2 * pad[i + 1] + pad[i + 2] + fm.sin(u[i]) for i in range(len(u))]

    x = point(50, 1)
    jac = fad.sparse_jacobian(residual)(x)
    assert jac.n_colors == 3
    dense = fad.jacfwd(residual)(x)
    assert jac.todense() == dense  # the same sums, in the same order: equal exactly


# --- Hessians -------------------------------------------------------------------------


@given(prog=scalar_programs(), seed=st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_hessian_pattern_and_values(prog: Program, seed: int) -> None:
    fun, n, expected = prog
    x = point(n, seed)
    pattern = fad.hessian_sparsity(fun)(x)
    assert as_set(pattern) == expected
    assert pattern == pattern.T
    # another route to the same structure: the Jacobian pattern of the tape gradient
    assert as_set(fad.jacobian_sparsity(fad.grad(fun))(x)) == expected
    dense = fad.hessian(fun)(x)
    assert dense_pattern(dense) <= expected
    transform = fad.sparse_hessian(fun)
    transform(point(n, seed + 1))  # recorded there; at x the compiled program runs
    hess = transform(x)
    assert hess.pattern == pattern
    assert _coloring.is_valid_star_coloring(pattern.row_cols(), _star(pattern))
    got = hess.todense()
    for i in range(n):
        for j in range(n):
            assert close(got[i][j], dense[i][j]), (i, j)


def _star(p: SparseMatrix) -> list[int]:
    return _coloring.star_coloring(p.row_cols())


@given(prog=scalar_programs(), seed=st.integers(0, 2**32))
@settings(max_examples=20, deadline=None)
def test_hvp_sweeps_agree(prog: Program, seed: int) -> None:
    """Reverse over reverse (the default) and forward over reverse give the same H s."""
    fun, n, _ = prog
    call = flat_call(fun, 0, (0,), (point(n, seed),), {}, "test")
    rng = random.Random(seed)
    seeds = [[rng.choice([0.0, 1.0]) for _ in range(n)] for _ in range(3)]
    rev_rev, fwd_rev = run_sweeps(call, "hvp", seeds), run_sweeps(call, "hvp_fwd", seeds)
    for a, b in zip(rev_rev, fwd_rev, strict=True):
        assert all(close(u, v) for u, v in zip(a, b, strict=True))


def rosenbrock(x: list[Any]) -> Any:
    s: Any = 0.0
    for i in range(len(x) - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def test_rosenbrock_hessian_closed_form() -> None:
    x = point(30, 7)
    h = fad.sparse_hessian(rosenbrock)(x)
    assert h.n_colors == 3
    assert h.nnz == 3 * 30 - 2
    for i, j, v in h.entries():
        if i == j:
            want = (1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0 if i < 29 else 0.0) + (
                200.0 if i > 0 else 0.0
            )
        else:
            want = -400.0 * x[min(i, j)]
        assert close(v, want, 1e-12), (i, j)


# --- structure, arguments, caching ----------------------------------------------------


def test_pytrees_in_and_out_follow_the_leaf_order() -> None:
    def f(p: dict[str, Any], scale: float) -> Any:
        return {"u": p["a"] * p["b"][1] * scale, "v": (fm.sin(p["b"][0]),)}

    p = {"a": 2.0, "b": [0.5, 3.0]}
    pattern = fad.jacobian_sparsity(f)(p, 2.0)
    # inputs: a, b[0], b[1]; outputs: u, v[0]
    assert pattern.todense() == [[1, 0, 1], [0, 1, 0]]
    jac = fad.sparse_jacobian(f)(p, 2.0)
    dense = fad.jacfwd(f)(p, 2.0)
    assert jac.todense() == [
        [dense["u"]["a"], dense["u"]["b"][0], dense["u"]["b"][1]],
        [dense["v"][0]["a"], dense["v"][0]["b"][0], dense["v"][0]["b"][1]],
    ]


def test_argnums_tuple_and_negative() -> None:
    f = lambda a, b, c: [a * c, b + c]
    assert fad.jacobian_sparsity(f, argnums=(0, 2))(1.0, 2.0, 3.0).todense() == [[1, 1], [0, 1]]
    assert fad.sparse_jacobian(f, argnums=-1)(1.0, 2.0, 3.0).todense() == [[1.0], [1.0]]
    h = fad.sparse_hessian(lambda a, b: a * b * b, argnums=(0, 1))(2.0, 3.0)
    assert h.todense() == fad.hessian(lambda v: v[0] * v[1] * v[1])([2.0, 3.0])


def test_integers_are_differentiated_as_floats() -> None:
    assert fad.sparse_jacobian(lambda x: [x[0] * x[1]])([2, 3]).todense() == [[3.0, 2.0]]


def test_pattern_is_detected_at_the_point() -> None:
    def f(x: list[Any]) -> list[Any]:
        return [x[0] * 2.0 if x[1] > 0 else x[2] * 3.0]

    assert fad.jacobian_sparsity(f)([1.0, 1.0, 1.0]).todense() == [[1, 0, 0]]
    assert fad.jacobian_sparsity(f)([1.0, -1.0, 1.0]).todense() == [[0, 0, 1]]
    # an explicit pattern covering both branches is right at both points
    both = SparseMatrix([0, 0], [0, 2], (1, 3))
    g = fad.sparse_jacobian(f, sparsity=both)
    assert g([1.0, 1.0, 1.0]).todense() == [[2.0, 0.0, 0.0]]
    assert g([1.0, -1.0, 1.0]).todense() == [[0.0, 0.0, 3.0]]


def test_pattern_and_colouring_are_cached_per_structure() -> None:
    calls = 0

    def f(x: list[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        return [x[i] * x[i + 1] for i in range(len(x) - 1)]

    jac = fad.sparse_jacobian(f, mode="fwd")
    first = jac([1.0, 2.0, 3.0, 4.0, 5.0])
    assert first.n_colors == 2
    assert calls == 1 + 2  # recorded for detection, then for the sweeps (one per colour)
    second = jac([2.0, 2.0, 2.0, 2.0, 2.0])
    assert calls == 3  # the compiled program of the sweeps runs; f does not
    jac([1.0, 2.0, 3.0])  # a new structure: detected again
    assert calls == 3 + 1 + 2
    assert second.todense() == fad.jacfwd(f)([2.0, 2.0, 2.0, 2.0, 2.0])


def branchy(x: list[Any]) -> list[Any]:
    """A residual whose pattern changes with the signs of the inputs."""
    n = len(x)
    out = []
    for i in range(n):
        if x[i] > 0:
            out.append(x[i] * x[(i + 1) % n] + fm.sin(x[i]))
        else:
            out.append(x[i] ** 3 - 2.0 * x[(i + 2) % n])
    return out


def branchy_energy(x: list[Any]) -> Any:
    return sum(fm.exp(0.1 * y) * y for y in branchy(x)) + sum(y * y for y in x)


@given(
    signs=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=2, max_size=5),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=10, deadline=None)
def test_cached_plans_follow_the_branches(signs: list[list[bool]], seed: int) -> None:
    """The jitted sweeps equal the eager ones (and dense) where the branches flip; a
    cached pattern is used only where its guards hold, never a stale one."""
    rng = random.Random(seed)
    points = [[rng.uniform(0.1, 2.0) * (1 if s else -1) for s in ss] for ss in signs]
    calls = 0

    def counted(x: list[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        return branchy(x)

    jac, hess = fad.sparse_jacobian(counted), fad.sparse_hessian(branchy_energy)
    got_j, got_h = [], []
    seen: set[tuple[bool, ...]] = set()
    for ss, x in zip(signs, points, strict=True):
        before = calls
        got_j.append(jac(x))
        # f runs (detection, recording) only at a new branch signature
        assert (calls > before) == (tuple(ss) not in seen)
        seen.add(tuple(ss))
        got_h.append(hess(x))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(fad._sparse_ad, "_MAX_SPECIALIZATIONS", 0)  # the eager path
        eager_j = [fad.sparse_jacobian(branchy)(x) for x in points]
        eager_h = [fad.sparse_hessian(branchy_energy)(x) for x in points]
    for x, gj, ej, gh, eh in zip(points, got_j, eager_j, got_h, eager_h, strict=True):
        assert gj.pattern == ej.pattern == fad.jacobian_sparsity(branchy)(x)
        assert gh.pattern == eh.pattern == fad.hessian_sparsity(branchy_energy)(x)
        dj, dh = fad.jacfwd(branchy)(x), fad.hessian(branchy_energy)(x)
        for sp, ep, dense in ((gj, ej, dj), (gh, eh, dh)):
            assert dense_pattern(dense) <= as_set(sp)
            for i, j, v in sp.entries():
                assert close(v, ep[i, j])
                assert close(v, dense[i][j])


def test_the_detected_pattern_names_its_branches() -> None:
    p = fad.jacobian_sparsity(branchy)([1.0, -1.0, 1.0, 1.0, -1.0, 1.0])
    assert len(p.branches) == 6
    assert all("if x[i] > 0" in w for w in p.branches)
    assert fad.jacobian_sparsity(lambda x: [x[0] * x[1]])([1.0, 2.0]).branches == ()


def test_a_function_closing_over_a_tracer_falls_back_to_the_tracers() -> None:
    def outer(s: Any) -> Any:
        def f(x: list[Any]) -> list[Any]:
            return [s * x[0] * x[1], s * s * x[1]]

        jac = fad.sparse_jacobian(f)([2.0, 3.0])
        hes = fad.sparse_hessian(lambda x: s * x[0] * x[1] ** 2)([2.0, 3.0])
        assert jac.data is not None
        assert hes.data is not None
        return sum(jac.data) + sum(hes.data)

    # jac = [s·x1, s·x0; 0, s²], hes = s·[0, 2x1; 2x1, 2x0] at x = (2, 3)
    s = 1.5
    value = s * 3.0 + s * 2.0 + s * s + s * (6.0 + 6.0 + 4.0)
    assert close(outer(s), value)
    assert close(fad.grad(outer)(s), 3.0 + 2.0 + 2 * s + 16.0)


@given(data=st.data(), seed=st.integers(0, 2**32))
@settings(max_examples=30, deadline=None)
def test_ir_patterns_equal_the_tracer_patterns(data: st.DataObject, seed: int) -> None:
    from fad.tracers.sparsity import (
        _hessian_pattern,
        _hessian_pattern_traced,
        _jacobian_pattern,
        _jacobian_pattern_traced,
    )

    fun, n, _ = data.draw(st.one_of(banded_programs(), block_programs()))
    x = point(n, seed)
    call = flat_call(fun, 0, (0,), (x,), {}, "jacobian_sparsity")
    assert _jacobian_pattern(call) == _jacobian_pattern_traced(call)
    sfun, n, _ = data.draw(scalar_programs())
    x = point(n, seed)
    call = flat_call(sfun, 0, (0,), (x,), {}, "hessian_sparsity")
    assert _hessian_pattern(call) == _hessian_pattern_traced(call)


def test_non_differentiated_arguments_are_part_of_the_cache_key() -> None:
    def f(x: list[Any], flag: bool) -> list[Any]:
        return [x[0] * 2.0] if flag else [x[1] * 3.0]

    jac = fad.sparse_jacobian(f)
    assert jac([1.0, 1.0], True).todense() == [[2.0, 0.0]]
    assert jac([1.0, 1.0], False).todense() == [[0.0, 3.0]]


def test_given_sparsity_is_used_as_is() -> None:
    f = lambda x: [x[0] * x[1], x[1] ** 2, x[2]]
    x = [1.0, 2.0, 3.0]
    detected = fad.jacobian_sparsity(f)(x)
    for given_ in (detected, detected.todense()):
        assert fad.sparse_jacobian(f, sparsity=given_)(x) == fad.sparse_jacobian(f)(x)
    # a superset is fine: the extra entries come out as zeros
    full = [[1, 1, 1]] * 3
    assert fad.sparse_jacobian(f, sparsity=full)(x).todense() == fad.jacfwd(f)(x)
    h = fad.sparse_hessian(rosenbrock, sparsity=[[1, 1, 0], [0, 1, 1], [0, 0, 1]])  # symmetrised
    assert h(x).todense() == fad.hessian(rosenbrock)(x)


def test_given_sparsity_from_scipy() -> None:
    sp = pytest.importorskip("scipy.sparse")
    f = lambda x: [x[0] * x[1], x[1] ** 2]
    pattern = fad.jacobian_sparsity(f)([1.0, 2.0])
    jac = fad.sparse_jacobian(f, sparsity=pattern.to_scipy())([1.0, 2.0])
    assert jac.todense() == fad.jacfwd(f)([1.0, 2.0])
    assert isinstance(jac.to_scipy(), sp.csr_array)
    assert jac.to_scipy().toarray().tolist() == jac.todense()


# --- errors ---------------------------------------------------------------------------


def test_wrong_shape_of_a_given_pattern() -> None:
    f = lambda x: [x[0], x[1]]
    with pytest.raises(ValueError, match=r"has shape \(2, 3\).*needs shape \(2, 2\)"):
        fad.sparse_jacobian(f, sparsity=[[1, 0, 0], [0, 1, 0]])([1.0, 2.0])
    with pytest.raises(ValueError, match=r"fad\.sparse_hessian.*needs shape \(2, 2\)"):
        fad.sparse_hessian(rosenbrock, sparsity=[[1]])([1.0, 2.0])
    with pytest.raises(TypeError, match=r"sparsity must be a fad\.sparse\.SparseMatrix"):
        fad.sparse_jacobian(f, sparsity="dense")([1.0, 2.0])


def test_sparse_hessian_of_a_vector_function() -> None:
    f = lambda x: [x[0] * x[1], x[1]]
    with pytest.raises(TypeError, match=r"fad\.sparse_hessian: fun must return one real scalar"):
        fad.sparse_hessian(f)([1.0, 2.0])
    with pytest.raises(TypeError, match=r"fad\.sparse_hessian: fun must return one real scalar"):
        fad.sparse_hessian(f, sparsity=[[1, 1], [1, 0]])([1.0, 2.0])
    with pytest.raises(TypeError, match=r"fad\.hessian_sparsity: fun must return one real scalar"):
        fad.hessian_sparsity(f)([1.0, 2.0])


@pytest.mark.parametrize(
    "transform",
    [fad.jacobian_sparsity, fad.hessian_sparsity, fad.sparse_jacobian, fad.sparse_hessian],
)
def test_non_numeric_leaves(transform: Any) -> None:
    name = transform.__name__
    with pytest.raises(TypeError, match=rf"fad.{name}: argument 0 at path \['b'\]\[1\] is a str"):
        transform(lambda p: p["a"])({"a": 1.0, "b": [2.0, "x"]})
    with pytest.raises(TypeError, match=rf"fad.{name}: argument 0 at path \[0\] is a bool"):
        transform(lambda x: x[1])([True, 1.0])
    with pytest.raises(TypeError, match=rf"fad.{name}: the output of fun.* is a str"):
        transform(lambda x: ("a", x))(1.0)
    with pytest.raises(TypeError, match=rf"fad.{name} expects a function"):
        transform(3.0)


def test_bad_mode_and_argnums() -> None:
    with pytest.raises(ValueError, match=r'mode=.*"auto", "fwd" or "rev"'):
        fad.sparse_jacobian(lambda x: x, mode="tape")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        fad.sparse_jacobian(lambda x: x, argnums="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs at least 3 positional arguments"):
        fad.jacobian_sparsity(lambda x: x, argnums=2)(1.0)


# --- the detectors and the matrix type ------------------------------------------------


def test_zero_derivative_and_constant_outputs() -> None:
    f = lambda x: [fm.floor(x[0]) * x[1], 2.0, x[0] - x[0]]
    # floor has no derivative; x - x is structurally x (the pattern never cancels)
    assert fad.jacobian_sparsity(f)([1.5, 2.0]).todense() == [[0, 1], [0, 0], [1, 0]]


def test_a_partial_without_a_finite_value_is_conservative() -> None:
    f = lambda x: fm.sqrt(x[0]) + x[1]
    assert fad.hessian_sparsity(f)([0.0, 1.0]).todense() == [[1, 0], [0, 0]]


def test_detection_runs_through_other_transforms() -> None:
    """Sparsity tracers under fad.jvp over fad.grad: the pattern of x ↦ H(x) e₀ contains
    every nonzero of its dense Jacobian (more: zero tangents are numbers, not symbols)."""

    def hvp_row(x: list[Any]) -> list[Any]:
        tangent: list[Any] = fad.jvp(fad.grad(rosenbrock), (x,), ([1.0, 0.0, 0.0, 0.0],))[1]
        return tangent

    x = point(4, 3)
    pattern = as_set(fad.jacobian_sparsity(hvp_row)(x))
    assert dense_pattern(fad.jacfwd(hvp_row)(x)) <= pattern
    assert (0, 0) in pattern


def test_sparse_matrix_type() -> None:
    a = SparseMatrix([1, 0, 1], [0, 1, 1], (2, 2), [3.0, 1.0, 4.0])
    assert (a.rows, a.cols, a.data) == ((0, 1, 1), (1, 0, 1), (1.0, 3.0, 4.0))
    assert a.todense() == [[0.0, 1.0], [3.0, 4.0]]
    assert a.T.todense() == [[0.0, 3.0], [1.0, 4.0]]
    assert a[1, 0] == 3.0
    assert a[0, 0] == 0.0
    assert a == SparseMatrix.from_dense(a.todense())
    assert a != a.pattern
    assert hash(a) == hash(SparseMatrix.from_dense(a.todense()))
    assert repr(a) == "SparseMatrix(shape=(2, 2), nnz=3)"
    assert repr(a.pattern) == "SparseMatrix(shape=(2, 2), nnz=3, pattern)"
    assert str(a) == "2×2 matrix, nnz=3\n· ●\n● ●"
    with pytest.raises(ValueError, match=r"entry \(2, 0\) lies outside the shape \(2, 2\)"):
        SparseMatrix([2], [0], (2, 2))
    with pytest.raises(ValueError, match="a position is given twice"):
        SparseMatrix([0, 0], [0, 0], (1, 1), [1.0, 2.0])
    with pytest.raises(IndexError):
        a[2, 0]
    np = pytest.importorskip("numpy")
    assert np.array_equal(a.todense(numpy=True), np.array([[0.0, 1.0], [3.0, 4.0]]))
    assert a.pattern.todense(numpy=True).dtype == bool


def test_import_without_numpy_or_scipy() -> None:
    """fad, its sparse transforms and the matrix type work with numpy and SciPy absent."""
    code = (
        "import sys; sys.modules['numpy'] = None; sys.modules['scipy'] = None\n"
        "import fad\n"
        "j = fad.sparse_jacobian(lambda x: [x[0] * x[1], x[1]])([2.0, 3.0])\n"
        "print(j.todense())\n"
        "try:\n"
        "    j.to_scipy()\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [
        "[[3.0, 2.0], [0.0, 1.0]]",
        "SparseMatrix.to_scipy needs SciPy: pip install scipy.",
    ]


def test_custom_rules_and_stop_gradient() -> None:
    """Functions with custom rules are primitives whose partials come from the rule."""

    @fad.custom_jvp
    def f(x: Any, y: Any) -> Any:
        return fm.sin(x) * y

    @f.defjvp
    def f_jvp(primals: Any, tangents: Any) -> Any:
        (x, y), (x_dot, y_dot) = primals, tangents
        return f(x, y), fm.cos(x) * y * x_dot + fm.sin(x) * y_dot

    def fun(v: list[Any]) -> list[Any]:
        return [f(v[0], v[1]), fad.stop_gradient(v[2]) * v[0]]

    x = [1.0, 2.0, 3.0]
    assert fad.jacobian_sparsity(fun)(x).todense() == [[1, 1, 0], [1, 0, 0]]
    assert fad.sparse_jacobian(fun)(x).todense() == fad.jacfwd(fun)(x)
    # the second-order structure comes from the rule evaluated at unit tangents, whose
    # zeros are numbers: a superset of the body's own pattern, never less
    body = as_set(fad.hessian_sparsity(lambda v: fm.sin(v[0]) * v[1])(x))
    assert body == {(0, 0), (0, 1), (1, 0)}
    assert body <= as_set(fad.hessian_sparsity(lambda v: fun(v)[0])(x))
    h = fad.sparse_hessian(lambda v: fun(v)[0])(x).todense()
    assert h == fad.hessian(lambda v: fun(v)[0])(x)


def test_empty_patterns_need_no_sweeps() -> None:
    calls = 0

    def f(x: list[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        return [1.0, fm.floor(x[0])]

    sparse = fad.sparse_jacobian(f)
    jac = sparse([1.5, 2.0])
    # recorded for detection, then once more for a program that only checks branches
    assert (jac.shape, jac.nnz, jac.n_colors, calls) == ((2, 2), 0, 0, 2)
    assert sparse([2.5, 1.0]) == jac
    assert calls == 2
    assert fad.sparse_jacobian(lambda x: [])([1.0]).shape == (0, 1)
    assert fad.sparse_jacobian(lambda x: [2.0])([]).todense() == [[]]
    hess = fad.sparse_hessian(lambda x: 3.0 * x[0] - x[1])([1.0, 2.0])
    assert (hess.nnz, hess.n_colors) == (0, 0)
    assert hess.todense() == [[0.0, 0.0], [0.0, 0.0]]


@given(
    coefs=st.lists(st.sampled_from([0.0, -0.0, 1.0, 2.5, -1.0]), min_size=4, max_size=4),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=40, deadline=None)
def test_pruning_the_zeros_keeps_the_values(coefs: list[float], seed: int) -> None:
    """The structural-zero pass over a recorded program changes no finite value."""
    from fad._emit import FLOAT_TABLE, emit
    from fad._ir import schedule
    from fad._sparse_ir import prune_zeros

    c0, c1, c2, c3 = coefs

    def f(x: list[Any]) -> list[Any]:
        a = fm.sin(x[0]) * c0 + x[1] * c1
        b = c2 - fm.exp(x[2]) * c3
        return [a, b, a / (2.0 + b * b), c0 / (1.0 + x[0] ** 2), x[1] * 0.0 - a]

    ir = fad.make_ir(f)(point(3, seed))
    pruned = prune_zeros(ir)
    assert pruned.n_ops <= ir.n_ops
    program = emit(schedule(pruned), FLOAT_TABLE)
    x = point(3, seed + 1)
    for got, want in zip(program.run(x), f(x), strict=True):
        assert got == want  # equal (a zero's sign aside: 0.0 == -0.0)
