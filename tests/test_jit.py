"""fad.jit and fad.make_ir: differential tests against the eager transforms."""

from __future__ import annotations

import concurrent.futures
import itertools
import linecache
import math
import multiprocessing
import pickle
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad._emit import FLOAT_TABLE, TRACER_TABLE, emit

OPS = ("add", "mul", "sin", "branch", "abs", "max", "loop", "div", "tanh", "pow", "copysign")
BRANCHY = {"branch", "abs", "max", "loop", "copysign"}

Op = tuple[str, int, int, float]


def make_program(ops: list[Op]) -> Callable[[Any, Any], Any]:
    """A scalar program of two inputs with branches, loops and reuse of values."""

    def f(x: Any, y: Any) -> Any:
        vals = [x, y]
        for op, i, j, c in ops:
            a = vals[i % len(vals)]
            b = vals[j % len(vals)]
            if op == "add":
                v = a + b
            elif op == "mul":
                v = fad.math.tanh(a * b)
            elif op == "sin":
                v = fad.math.sin(a) * b
            elif op == "branch":
                v = a * b if a > b else a - c
            elif op == "abs":
                v = abs(a - c)
            elif op == "max":
                v = max(a, b + c)
            elif op == "loop":  # a trip count that depends on a value
                v = a
                k = 0
                while v < c and k < 4:
                    v = v + 0.75 * fad.math.cos(v)
                    k += 1
            elif op == "div":
                v = a / (1.0 + b * b)
            elif op == "tanh":
                v = fad.math.tanh(a + c)
            elif op == "pow":
                v = (a * a + 0.5) ** 1.5
            else:
                v = fad.math.copysign(a, b - c)
            vals.append(v)
        return vals[-1] + 0.5 * vals[-2] * vals[0]

    return f


op_st = st.tuples(
    st.sampled_from(OPS),
    st.integers(0, 10),
    st.integers(0, 10),
    st.floats(-1.5, 1.5, allow_nan=False).map(lambda c: round(c, 2)),
)
point_st = st.tuples(st.floats(-2, 2), st.floats(-2, 2))


def close(a: Any, b: Any) -> bool:
    """Equal to 1e-15 relative (bitwise, in practice), structures included."""
    if isinstance(a, (list, tuple)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(close(x, y) for x, y in zip(a, b, strict=True))
        )
    if a == b:
        return True
    return math.isclose(a, b, rel_tol=1e-15, abs_tol=1e-300)


@settings(max_examples=60)
@given(st.lists(op_st, min_size=1, max_size=7), point_st, st.lists(point_st, max_size=4))
def test_differential(
    ops: list[Op], p0: tuple[float, float], others: list[tuple[float, float]]
) -> None:
    f = make_program(ops)

    def g(v: list[Any]) -> Any:
        return f(v[0], v[1])

    def h(v: list[Any]) -> list[Any]:
        return [f(v[0], v[1]), f(v[1], v[0])]

    jf = fad.jit(f)
    jg = fad.jit(fad.grad(g))
    jh = fad.jit(fad.jacrev(h))
    gj = fad.grad(lambda v: fad.jit(f)(v[0], v[1]))
    jitted: list[Any] = [jf, jg, jh]
    points = [p0, *others]
    for _ in range(2):  # the second pass runs the cached specializations only
        for x, y in points:
            assert close(jf(x, y), f(x, y))
            assert close(jg([x, y]), fad.grad(g)([x, y]))
            assert close(jh([x, y]), fad.jacrev(h)([x, y]))
            assert close(gj([x, y]), fad.grad(g)([x, y]))
        counts = [j.n_recordings for j in jitted]
    for j in jitted:
        # one recording per specialization, never more than the points, no eager calls
        assert j.n_recordings == len(j.specializations) <= len(set(points))
        assert j.n_eager == 0
    assert counts == [j.n_recordings for j in jitted]
    if not BRANCHY & {op for op, *_ in ops}:
        assert [j.n_recordings for j in jitted] == [1, 1, 1]


@settings(max_examples=30)
@given(st.lists(op_st, min_size=1, max_size=7), point_st, st.lists(point_st, max_size=4))
def test_eager_after_the_cap(
    ops: list[Op], p0: tuple[float, float], others: list[tuple[float, float]]
) -> None:
    f = make_program(ops)
    jf = fad.jit(fad.grad(f, argnums=(0, 1)), max_specializations=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x, y in [p0, *others]:
            assert close(list(jf(x, y)), list(fad.grad(f, argnums=(0, 1))(x, y)))
    assert jf.n_recordings == 1
    assert jf.n_eager <= len(others)


@settings(max_examples=30)
@given(st.lists(op_st, min_size=1, max_size=9), point_st, st.integers(1, 5))
def test_chunks_and_tables(ops: list[Op], p: tuple[float, float], chunk: int) -> None:
    """Cut in chunks of any size, on floats or on tracers, the program gives the same."""
    f = make_program(ops)
    ir = fad.make_ir(fad.grad(f, argnums=(0, 1)))(*p)
    whole = emit(ir, FLOAT_TABLE)(list(p))
    assert emit(ir, FLOAT_TABLE, chunk=chunk)(list(p)) == whole
    assert emit(ir, TRACER_TABLE, chunk=chunk)(list(p)) == whole


def test_make_ir_prints_like_a_jaxpr() -> None:
    ir = fad.make_ir(lambda x, y: fad.math.sin(x) * y)(1.0, 2.0)
    assert str(ir) == "{ lambda a b. c = sin a; d = mul c b; return d }"
    assert ir.n_ops == 2
    ir = fad.make_ir(lambda x: x * 2.0 if x > 0 else -x)(1.0)
    assert str(ir) == "{ lambda a. b = gt a 0; guard b; c = mul a 2.0; return c }"
    assert len(ir.guards) == 1
    assert "x * 2.0 if x > 0" in ir.guards[0].where


def test_clean_up() -> None:
    def f(x: Any) -> Any:
        fad.math.exp(x)  # dead code
        a = fad.math.sin(x) * 1.0 - 0.0  # exact identities
        b = fad.math.sin(x)  # a common subexpression
        return a + b + 2.0 * 3.0

    text = "{ lambda a. b = sin a; c = add b b; d = add c 6.0; return d }"
    assert str(fad.make_ir(f)(0.5)) == text
    # x + 0.0 is not x at x = -0.0: kept
    ir = fad.make_ir(lambda x: x + 0.0)(-0.0)
    assert ir.n_ops == 1
    assert fad.jit(lambda x: x + 0.0)(-0.0) == 0.0
    assert math.copysign(1.0, fad.jit(lambda x: x + 0.0)(-0.0)) == 1.0
    assert fad.make_ir(lambda x: -(-(x * 1)) / 1.0)(2.0).n_ops == 0  # noqa: B002


def test_kinks_are_guarded() -> None:
    """abs, copysign, min and max decide in their partials: those decisions are guards."""
    for fun, points, n in [
        (abs, [1.0, -1.0, 0.0, 2.0], 3),
        (lambda x: fad.math.copysign(x, x - 1.0), [2.0, 0.5, 3.0], 1),  # signs computed
        (lambda x: max(x, 1.0 - x), [1.0, 0.0], 2),
        (lambda x: (x * x) ** 0.5, [1.0, -1.0, 0.0], 1),  # no decision but x*x == 0
        (lambda x: fad.math.fabs(x) * x, [1.0, -1.0], 2),
    ]:
        j = fad.jit(fad.grad(fun))
        for p in points * 2:
            if p == 0.0 and n == 1:
                with pytest.raises(ZeroDivisionError):
                    j(p)
                continue
            assert j(p) == fad.grad(fun)(p)
        assert len(j.specializations) == n


def test_trip_count_and_int() -> None:
    def f(n: Any, x: Any) -> Any:
        s = x
        for _ in range(n):
            s = s * x
        return s + int(x)

    j = fad.jit(f)
    points = [(2, 1.5), (2, 1.7), (3, 1.5), (3, 2.5)]
    assert [j(*p) for p in points] == [f(*p) for p in points]
    assert j.n_recordings == 3  # n = 2, 3; int(x) = 1, 2
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        fad.jit(lambda x: [1, 2][x])(1.0)


def test_the_cap_warns_once_naming_the_branch() -> None:
    j = fad.jit(lambda x: x * int(x), max_specializations=2)
    points = [0.5, 1.5, 2.5, 3.5, 4.5, 0.25]
    with pytest.warns(RuntimeWarning, match=r"test_jit.py:\d+") as record:
        values = [j(p) for p in points]
    assert values == [p * int(p) for p in points]
    assert len(record) == 1
    assert j.n_recordings == 2
    assert j.n_eager == 3
    assert "lambda x: x * int(x)" in str(record[0].message)


def test_structure_static_and_bad_input() -> None:
    j = fad.jit(lambda xs, scale: [x * scale for x in xs], static_argnums=1)
    assert j([1.0, 2.0], 3) == [3.0, 6.0]
    assert j((1.0, 2.0, 3.0), 3) == [3.0, 6.0, 9.0]  # another structure: recorded again
    assert j([1.0, 2.0], 4) == [4.0, 8.0]  # another static value
    assert j.n_recordings == 3
    with pytest.raises(TypeError, match="static argument 1 is a list"):
        j([1.0], [2.0])
    k = fad.jit(lambda x, opts: x * 2.0 if opts["double"] else x)
    assert k(1.0, {"double": True}) == 2.0
    assert k(1.0, {"double": False}) == 1.0  # a bool leaf is static
    with pytest.raises(TypeError, match="neither a real scalar"):
        k(1.0, {"double": {1}})
    # the eager transforms' own errors, unchanged
    with pytest.raises(TypeError, match="differentiated value must be real scalars"):
        fad.jit(fad.grad(lambda x: x))("a")
    with pytest.raises(TypeError, match="expects a function"):
        fad.jit(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="math domain error"):
        fad.jit(fad.math.log)(-1.0)


def test_a_method() -> None:
    class Model:
        def __init__(self, w: float) -> None:
            self.w = w

        @fad.jit
        def loss(self, x: Any) -> Any:
            return (x - self.w) ** 2

    m = Model(1.0)
    assert [m.loss(3.0), m.loss(2.0), Model(2.0).loss(3.0)] == [4.0, 1.0, 1.0]
    assert fad.grad(m.loss)(3.0) == 4.0


def test_side_effects_run_when_recording() -> None:
    seen: list[Any] = []

    def f(x: Any) -> Any:
        seen.append(x)
        return x * x

    j = fad.jit(f)
    assert [j(2.0), j(3.0)] == [4.0, 9.0]
    assert len(seen) == 1


def test_composition() -> None:
    def f(v: list[Any]) -> Any:
        return sum(fad.math.sin(a) * b for a, b in itertools.pairwise(v))

    x = [0.3, -1.2, 2.0]
    assert fad.jit(fad.value_and_grad(f))(x) == fad.value_and_grad(f)(x)
    assert fad.jit(fad.hessian(f))(x) == fad.hessian(f)(x)
    assert fad.hessian(fad.jit(f))(x) == fad.hessian(f)(x)
    assert fad.jvp(fad.jit(f), (x,), ([1.0, 0.5, 0.0],)) == fad.jvp(f, (x,), ([1.0, 0.5, 0.0],))
    assert fad.jit(fad.jit(f))(x) == f(x)
    assert fad.jit(fad.grad(fad.jit(f)))(x) == fad.grad(f)(x)
    # a closed-over tracer of an enclosing transform: correct, never cached
    inner = fad.jit(lambda a, b: a * b)
    assert fad.grad(lambda y: fad.jit(lambda a: a * y)(2.0) + inner(y, y))(3.0) == 8.0


def test_tracebacks_point_into_the_source() -> None:
    j = fad.jit(lambda x: fad.math.log(x - 1.0))
    j(3.0)
    with pytest.raises(ValueError, match="math domain error") as info:
        j(0.5)
    frames = traceback.extract_tb(info.value.__traceback__)
    emitted = [fr for fr in frames if fr.filename.startswith("<fad.jit")]
    assert emitted
    last = emitted[-1]
    assert "log(" in (last.line or linecache.getline(last.filename, last.lineno or 0))
    assert "log(" in j.source


def rosen(v: list[Any]) -> Any:
    return sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2 for a, b in itertools.pairwise(v))


jitted_rosen = fad.jit(rosen)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_pickles_into_a_process_pool() -> None:
    points = [[0.5, 1.0, 1.5], [1.0, 1.0, 1.0], [2.0, -1.0, 0.0]]
    j = fad.jit(rosen)
    j(points[0])
    clone = pickle.loads(pickle.dumps(j))
    assert len(clone.specializations) == 1
    assert clone(points[2]) == rosen(points[2])
    assert clone.n_recordings == 0  # the pickled program ran, nothing was recorded
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        assert list(pool.map(j, points)) == [rosen(p) for p in points]
        assert list(pool.map(jitted_rosen, points)) == [rosen(p) for p in points]
