"""Jacobians of jitted functions in one batched program, against the eager transforms.

``fad.jacrev`` / ``fad.jacfwd`` / ``fad.hessian`` of a ``fad.jit`` function compute
every row (column) in one run of a program made for the identity's seeds: a folded
float program, or a numpy sweep for dense maps (fad/_batched.py). The oracle is the
eager transform of the same function.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad import _batched
from fad._batched import BatchedJacobian
from fad.tree import tree_flatten

TRANSFORMS = {"jacrev": fad.jacrev, "jacfwd": fad.jacfwd}


def same(got: Any, want: Any, rel: float = 1e-13) -> bool:
    """The same pytree, leaves equal to ``rel`` relative (NaN equal to NaN)."""
    g_leaves, g_def = tree_flatten(got)
    w_leaves, w_def = tree_flatten(want)
    if g_def != w_def:
        return False
    for a, b in zip(g_leaves, w_leaves, strict=True):
        fa, fb = float(a), float(b)
        if fa == fb or (fa != fa and fb != fb):
            continue
        if not (math.isfinite(fa) and math.isfinite(fb)):
            return False
        if abs(fa - fb) > rel * max(abs(fa), abs(fb), 1.0):
            return False
    return True


@contextmanager
def numpy_path(on: bool) -> Iterator[None]:
    """Force the cost model's choice: the numpy sweep (``on``) or the folded program."""
    old = _batched.FLOAT_PER_NUMPY_OP
    _batched.FLOAT_PER_NUMPY_OP = -(10**9) if on else 10**9
    try:
        yield
    finally:
        _batched.FLOAT_PER_NUMPY_OP = old


@contextmanager
def without_numpy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "numpy", None)
        yield


def batched(jac: Any) -> BatchedJacobian:
    """``jac`` as the batched Jacobian it must be (a jitted function's)."""
    assert isinstance(jac, BatchedJacobian)
    return jac


# --- random programs with branches ---------------------------------------------------

OPS = ["add", "sub", "mul", "div", "sin", "exp", "tanh", "where", "branch"]
Instr = tuple[str, int, int, float]


def program(instrs: list[Instr], n_out: int) -> Callable[[Any], Any]:
    """A map of a list: each instruction appends a value computed from two earlier ones."""

    def f(v: Any) -> Any:
        vals = list(v)
        for op, i, j, c in instrs:
            x, y = vals[i % len(vals)], vals[j % len(vals)]
            if op == "add":
                r = x + y
            elif op == "sub":
                r = x - c * y
            elif op == "mul":
                r = x * y
            elif op == "div":
                r = x / (1.0 + y * y)
            elif op == "sin":
                r = fad.math.sin(x) * c
            elif op == "exp":
                r = fad.math.exp(0.1 * x) + y
            elif op == "tanh":
                r = fad.math.tanh(x * y)
            elif op == "where":  # a select: no guard
                r = fad.where(x > c, x * y, y - x)
            else:  # a branch on a traced value: a guard of the jitted program
                r = x * y if x > c else fad.math.sin(y) - x
            vals.append(r)
        return vals[-n_out:]

    return f


instrs_st = st.lists(
    st.tuples(
        st.sampled_from(OPS),
        st.integers(0, 40),
        st.integers(0, 40),
        st.floats(-1.0, 1.0),
    ),
    min_size=1,
    max_size=14,
)
points_st = st.lists(st.lists(st.floats(-2.0, 2.0), min_size=6, max_size=6), min_size=1, max_size=4)


@settings(max_examples=25)
@given(instrs_st, st.integers(1, 5), st.integers(1, 6), points_st, st.booleans())
def test_random_programs_against_the_eager_transforms(
    instrs: list[Instr], n_out: int, n_in: int, points: list[list[float]], dense: bool
) -> None:
    f = program(instrs, n_out)
    jf = fad.jit(f)
    with numpy_path(dense and "numpy" in sys.modules):
        for name, transform in TRANSFORMS.items():
            jac = batched(transform(jf))
            assert isinstance(jac, BatchedJacobian)
            eager = transform(f)
            for k, p in enumerate(points):  # points on both sides of the branches
                x = p[:n_in]
                got = jac(x)
                assert same(got, eager(x)), (name, x)
                assert jac.n_generic + jac.n_sweeps == k + 1  # one program run per call
            if jac.n_generic == 0 and jac.n_nonfinite == 0:
                assert jac.n_sweeps == len(points)
        h = batched(fad.hessian(fad.jit(lambda v: sum(f(v)))))
        eager_h = fad.hessian(lambda v: sum(f(v)))
        for p in points:
            assert same(h(p[:n_in]), eager_h(p[:n_in]))


def outcome(fun: Callable[[], Any]) -> Any:
    """``fun()``, or the type of the exception it raises."""
    try:
        return fun()
    except (ArithmeticError, ValueError) as e:
        return type(e)


@settings(max_examples=25)
@given(
    instrs_st,
    st.integers(1, 4),
    st.lists(st.floats(-2.0, 2.0), min_size=4, max_size=4),
    st.integers(0, 3),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e200, -1e300]),
    st.booleans(),
)
def test_random_programs_at_infinite_and_huge_points(
    instrs: list[Instr], n_out: int, x: list[float], k: int, bad: float, dense: bool
) -> None:
    # infinite partials and overflows: the batched program gives the eager answer, or
    # raises the eager error
    f = program(instrs, n_out)
    x = [*x[:k], bad, *x[k + 1 :]]
    with numpy_path(dense and "numpy" in sys.modules):
        for transform in TRANSFORMS.values():
            got = outcome(functools.partial(transform(fad.jit(f)), x))
            want = outcome(functools.partial(transform(f), x))
            if isinstance(want, type):
                assert got is want
            else:
                assert same(got, want)


def branchy(v: Any) -> Any:
    out = []
    for i in range(len(v)):
        a, b = v[i], v[(i + 1) % len(v)]
        out.append(a * fad.math.sin(b) if a > 0 else fad.math.exp(b) - a * a)
    return out


@pytest.mark.parametrize("kind", ["folded", "numpy"])
def test_guards_re_record_on_each_side_of_a_branch(kind: str) -> None:
    if kind == "numpy":
        pytest.importorskip("numpy")
    jf = fad.jit(branchy)
    with numpy_path(kind == "numpy"):
        for name, transform in TRANSFORMS.items():
            jac = batched(transform(jf))
            eager = transform(branchy)
            for x in ([1.0, 2.0, 3.0], [-1.0, 2.0, 3.0], [1.5, 0.5, 2.5], [-2.0, 1.0, 1.0]):
                assert same(jac(x), eager(x)), name
            plans = next(iter(jac.plans.values()))
            assert [p.kind for p in plans] == [kind, kind]
            assert jac.n_recordings == 2
            assert jac.n_sweeps == 4
            assert jac.n_generic == 0


def cyc(v: Any) -> Any:
    n = len(v)
    return [
        fad.math.sin(v[i]) * v[(i + 1) % n] + fad.math.exp(0.1 * v[(i + 7) % n]) * v[i]
        for i in range(n)
    ]


def test_a_sparse_jacobian_is_one_folded_program_of_its_rows_only() -> None:
    x = [0.01 * i + 0.3 for i in range(60)]
    jf = fad.jit(cyc)
    for name, transform in TRANSFORMS.items():
        jac = batched(transform(jf))
        assert same(jac(x), transform(cyc)(x)), name
        assert same(jac(x[::-1]), transform(cyc)(x[::-1])), name
        plan = jac.last_plan
        assert plan is not None
        assert plan.kind == "folded"
        assert plan.ir is not None
        assert jac.n_sweeps == 2
        assert jac.n_recordings == 1
        # each row reaches 3 inputs: the program is about one reverse sweep, not 60
        assert plan.ir.n_ops < 2 * plan.linear.n_ops
        assert len(plan.ir.outputs) == 3 * len(x)  # the structural zeros are constants


def dense(v: Any) -> Any:
    s = sum(fad.math.sin(a) for a in v)
    return [s * a for a in v]


def test_a_dense_jacobian_takes_the_numpy_sweep() -> None:
    np = pytest.importorskip("numpy")
    x = [0.01 * i - 0.7 for i in range(150)]  # 150 rows of 150: folding would cost more
    jf = fad.jit(dense)
    for transform in TRANSFORMS.values():
        jac = batched(transform(jf))
        assert same(jac(x), transform(dense)(x))
        assert jac.last_plan is not None
        assert jac.last_plan.kind == "numpy"
        assert jac.n_sweeps == 1
    with numpy_path(True):
        h = batched(fad.hessian(fad.jit(lambda v: sum(dense(v)))))
        assert same(h(x[:20]), fad.hessian(lambda v: sum(dense(v)))(x[:20]))
    assert h.last_plan is not None
    assert h.last_plan.kind == "numpy"
    arr = np.array(x[:4])
    assert same(fad.jacrev(jf)(arr), fad.jacrev(dense)(arr))


def test_without_numpy_the_folded_program_serves_every_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = [0.1 * i - 0.7 for i in range(12)]
    with without_numpy(monkeypatch):
        for f in (dense, cyc, branchy):
            for transform in TRANSFORMS.values():
                jac = batched(transform(fad.jit(f)))
                assert same(jac(x), transform(f)(x))
                assert jac.last_plan is not None
                assert jac.last_plan.kind == "folded"
                assert jac.n_sweeps == 1


def test_pytrees_and_several_arguments() -> None:
    def f(d: Any, w: Any) -> Any:
        a, b = d["a"], d["b"]
        return {"y": a[0] * b * w, "z": (fad.math.sin(a[1]) * w, a[0] - b)}

    d = {"a": [0.5, -1.5], "b": 2.0}
    jf = fad.jit(f)
    for transform in TRANSFORMS.values():
        for argnums in (0, 1, (0, 1), (1, 0)):
            jac = batched(transform(jf, argnums=argnums))
            for w in (3.0, -0.25):
                assert same(jac(d, w), transform(f, argnums=argnums)(d, w))
            assert jac.n_generic == 0
            assert jac.n_sweeps == 2

    def s(d: Any, w: Any) -> Any:
        return d["a"][0] * d["a"][1] * d["b"] * w + fad.math.sin(d["b"] * w)

    for argnums in (0, (0, 1)):
        h = batched(fad.hessian(fad.jit(s), argnums=argnums))
        assert same(h(d, 0.5), fad.hessian(s, argnums=argnums)(d, 0.5))
        assert h.n_generic == 0
        assert h.n_sweeps == 1


def test_infinite_partials_give_the_eager_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # ∂(v0·v1)/∂v0 = v1 = inf. Eagerly, a row whose cotangent never reaches that
    # product skips it (no 0 · inf); so do the folded program's structural zeros. A
    # Jacobian with a non-finite entry is computed again by the ordinary path.
    def f(v: Any) -> Any:
        return [v[0] * v[1] + v[3], v[2] * v[3], v[3] * v[0]]

    def g(v: Any) -> Any:
        return v[0] * v[0] * v[1] + v[2] * v[2]

    x = [2.0, math.inf, 3.0, 0.0]
    y = [2.0, math.nan, 3.0, 0.0]
    for forced in (False, True):
        with numpy_path(forced and "numpy" in sys.modules):
            for transform in TRANSFORMS.values():
                jac = batched(transform(fad.jit(f)))
                assert same(jac(x), transform(f)(x))
                assert same(jac(y), transform(f)(y))
            h = batched(fad.hessian(fad.jit(g)))
            assert same(h(x), fad.hessian(g)(x))
    for transform in TRANSFORMS.values():  # a non-finite entry: the eager sweeps decide
        jac = batched(transform(fad.jit(f)))
        assert same(jac(x), transform(f)(x))
        assert jac.n_nonfinite == 1
        assert jac.n_generic == 1
        assert jac.n_sweeps == 1
    with without_numpy(monkeypatch):
        assert same(fad.jacrev(fad.jit(f))(x), fad.jacrev(f)(x))


def test_an_overflowing_partial_with_finite_rows() -> None:
    # v0 · v1 overflows its partials' product to inf only where a cotangent reaches it
    def f(v: Any) -> Any:
        return [v[0] * v[1] * v[2], v[2] + v[3]]

    x = [1e200, 1e200, 0.0, 1.0]
    for transform in TRANSFORMS.values():
        assert same(transform(fad.jit(f))(x), transform(f)(x))


def test_ordinary_path_where_the_batched_one_does_not_apply() -> None:
    jf = fad.jit(cyc)
    jac = batched(fad.jacrev(jf))
    assert same(jac([1, 2, 3]), fad.jacrev(cyc)([1.0, 2.0, 3.0]))  # int leaves
    assert jac.n_generic == 1
    assert jac.n_sweeps == 0
    with pytest.raises(TypeError, match="argnums=3 requires at least 4 positional"):
        fad.jacrev(jf, argnums=3)([1.0, 2.0])  # the ordinary path's message
    with pytest.raises(TypeError, match="argnums=0 requires at least 1 positional"):
        jac(v=[1.0, 2.0])
    assert jac.n_generic == 2


def test_constant_outputs_and_entries() -> None:
    def f(v: Any) -> Any:
        return [3 * v[0], 0, v[1] * 2.5, v[0] - v[0]]

    for transform in TRANSFORMS.values():
        jac = batched(transform(fad.jit(f)))
        for x in ([1.0, 2.0], [-3.0, 0.5]):
            got = jac(x)
            assert got == transform(f)(x)
            assert all(type(e) is float for row in got for e in row)
        assert jac.n_sweeps == 2
        assert jac.n_generic == 0


def test_a_structure_that_cannot_be_batched_is_not_recorded_again() -> None:
    jac = batched(fad.jacrev(fad.jit(lambda v: [v[0], "label"])))
    for _ in range(3):
        with pytest.raises(TypeError, match="str"):
            jac([1.0, 2.0])
    assert jac.n_recordings == 0
    assert jac.n_generic == 3


def test_where_selects_without_recording_again() -> None:
    def f(v: Any) -> Any:
        return [
            fad.where(v[0] > 0, v[0] * v[1], fad.math.sin(v[2])),
            fad.where(v[1] > v[2], v[2], 2.0),
            v[0] * v[2],
        ]

    for transform in TRANSFORMS.values():
        jac = batched(transform(fad.jit(f)))
        for x in ([1.0, 2.0, 3.0], [-1.0, 4.0, 0.5], [0.5, -1.0, 2.0]):
            assert same(jac(x), transform(f)(x))
        assert jac.n_recordings == 1
        assert jac.n_sweeps == 3
