"""fad.vmap, fad.where / fad.cond, batched Jacobians and map_chunks, against loops."""

from __future__ import annotations

import itertools
import math
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad._batched import BatchedJacobian
from fad.parallel import map_chunks

np = pytest.importorskip("numpy")


def close(a: Any, b: Any, rel: float = 1e-15) -> bool:
    """Equal to ``rel`` relative to the larger of them and 1 (the programs' scale).

    Where terms of size ~1 cancel, an ulp of difference in numpy's ``sin`` against
    the C library's is an absolute error of ~1e-16 on a small result: the floor 1
    keeps that from reading as a large relative error.
    """
    fa, fb = float(a), float(b)
    if fa == fb:
        return True
    return abs(fa - fb) <= rel * max(abs(fa), abs(fb), 1.0)


# --- random programs with branches ---------------------------------------------------

UNARY = [fad.math.sin, fad.math.cos, fad.math.tanh, fad.math.exp, fad.math.atan]
BINARY = ["add", "sub", "mul"]


@st.composite
def programs(draw: Any) -> list[tuple[Any, ...]]:
    steps: list[tuple[Any, ...]] = []
    for k in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(["unary", "binary", "branch", "where"]))
        i = draw(st.integers(0, k + 1))
        j = draw(st.integers(0, k + 1))
        if kind == "unary":
            steps.append((kind, draw(st.integers(0, len(UNARY) - 1)), i))
        elif kind == "binary":
            steps.append((kind, draw(st.sampled_from(BINARY)), i, j))
        else:
            steps.append((kind, i, j, draw(st.floats(-0.5, 0.5))))
    return steps


def run(steps: list[tuple[Any, ...]], x: Any, y: Any) -> Any:
    vals = [x, y]
    for s in steps:
        if s[0] == "unary":
            vals.append(UNARY[s[1]](vals[s[2]] * 0.5))
        elif s[0] == "binary":
            a, b = vals[s[2]], vals[s[3]]
            vals.append(a + b if s[1] == "add" else a - b if s[1] == "sub" else a * b)
        elif s[0] == "branch":
            a, b, c = vals[s[1]], vals[s[2]], s[3]
            if a > c:  # a Python branch: guarded
                vals.append(a * b)
            else:
                vals.append(b - a)
        else:
            a, b, c = vals[s[1]], vals[s[2]], s[3]
            vals.append(fad.where(a > c, a * b, b - a))
    return vals[-1] * vals[0] + vals[-1]


@settings(max_examples=25, deadline=None)
@given(programs(), st.lists(st.floats(-1.0, 1.0), min_size=6, max_size=6))
def test_vmap_grad_of_random_programs_equals_the_loop(
    steps: list[tuple[Any, ...]], xs: list[float]
) -> None:
    ys = [0.3 - 0.2 * v for v in xs]
    g = fad.grad(lambda x, y: run(steps, x, y), argnums=(0, 1))
    want = [g(x, y) for x, y in zip(xs, ys, strict=True)]
    vg = fad.vmap(g)
    got = vg(np.array(xs), np.array(ys))
    # numpy's sin/cos/exp/tanh/atan may differ from libm's by an ulp: 1e-15 per call
    rel = 1e-15 * (1 + 2 * sum(s[0] == "unary" for s in steps))
    for k in range(len(xs)):
        assert close(got[0][k], want[k][0], rel)
        assert close(got[1][k], want[k][1], rel)
    # lists give the same numbers as arrays
    got_l = fad.vmap(g)(xs, ys)
    assert got_l == (got[0].tolist(), got[1].tolist())
    # the values too, and under jit
    f = fad.jit(fad.vmap(lambda x, y: run(steps, x, y)))
    vals = f(np.array(xs), np.array(ys))
    for k in range(len(xs)):
        assert close(vals[k], run(steps, xs[k], ys[k]), rel)


def test_points_on_both_sides_of_a_branch_are_partitioned() -> None:
    def f(x: Any) -> Any:
        return fad.math.sin(x) * x if x > 0 else x * x * x

    vg = fad.vmap(fad.grad(f))
    xs = [-2.0, 1.0, -0.5, 0.25, 3.0, -1.0]
    got = vg(np.array(xs))
    assert got.tolist() == [fad.grad(f)(x) for x in xs]
    assert len(vg.specializations) == 2
    vg(np.array(xs))
    assert len(vg.specializations) == 2  # no new recording
    assert vg.n_eager == 0


def test_a_branch_on_an_unmapped_argument() -> None:
    f = fad.vmap(lambda w, x: x * w if w > 0 else -x, in_axes=(None, 0))
    assert f(-1.0, np.array([1.0, 2.0])).tolist() == [-1.0, -2.0]
    assert f(2.0, np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    assert f(-3.0, np.array([1.0, 2.0])).tolist() == [-1.0, -2.0]
    assert len(f.specializations) == 2
    assert f.n_eager == 0


def test_a_branch_written_with_where_records_once() -> None:
    def f(x: Any) -> Any:
        return fad.where(x > 0, fad.math.sin(x) * x, x * x * x)

    vg = fad.vmap(fad.grad(f))
    xs = np.array([-2.0, 1.0, -0.5, 0.25])
    assert vg(xs).tolist() == [fad.grad(f)(float(x)) for x in xs]
    assert len(vg.specializations) == 1
    jg = fad.jit(fad.grad(f))
    assert [jg(float(x)) for x in xs] == vg(xs).tolist()
    assert len(jg.specializations) == 1


def test_where_and_cond() -> None:
    assert fad.where(True, 1.0, 2.0) == 1.0
    assert fad.grad(lambda x: fad.where(x > 1, x * x, 3 * x))(2.0) == 4.0
    assert fad.cond(False, lambda x: x, lambda x: -x, 2.0) == -2.0
    assert fad.where(np.array([True, False]), np.array([1.0, 2.0]), 0.0).tolist() == [1.0, 0.0]

    def f(x: Any) -> Any:
        return fad.cond(x > 0, fad.math.sqrt, lambda x: -x, x)

    v = fad.vmap(f)
    assert v([4.0, -3.0, 9.0]) == [2.0, 3.0, 3.0]
    assert len(v.specializations) == 1
    j = fad.jit(fad.grad(f))
    assert (j(4.0), j(-3.0)) == (0.25, -1.0)

    def g(x: Any) -> Any:
        c = x > 0  # computed apart from the call: stays a guard (re-recorded, correct)
        return fad.where(c, x, -x)

    jg = fad.jit(g)
    assert (jg(1.0), jg(-1.0)) == (1.0, 1.0)
    assert len(jg.specializations) == 2


# --- axes -----------------------------------------------------------------------------


def test_in_axes_and_out_axes() -> None:
    x = np.arange(12.0).reshape(3, 4)
    f = fad.vmap(lambda v: v * 2.0, in_axes=1)
    assert f(x).shape == (4, 3)
    assert fad.vmap(lambda v: v * 2.0, in_axes=-1, out_axes=1)(x).tolist() == (2 * x).tolist()
    s = fad.vmap(lambda v, c: np.sum(v) * c, in_axes=(0, None))(x, 2.0)
    assert s.tolist() == [2 * sum(r) for r in x.tolist()]
    d = fad.vmap(lambda p: p["a"] * p["b"], in_axes=({"a": 0, "b": None},))
    assert d({"a": np.array([1.0, 2.0]), "b": 3.0}).tolist() == [3.0, 6.0]
    out = fad.vmap(lambda a: (a, a * a), out_axes=(0, None))
    with pytest.raises(ValueError, match="out_axes=None"):
        out([1.0, 2.0])
    assert fad.vmap(lambda a: (a, 1.0), out_axes=(0, None))([1.0, 2.0]) == ([1.0, 2.0], 1.0)
    # nested lists stand in for 2-D arrays
    g = fad.vmap(fad.grad(lambda v: v[0] * v[1]))
    assert g([[1.0, 2.0], [3.0, 4.0]]) == [[2.0, 1.0], [4.0, 3.0]]
    assert g(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert fad.vmap(lambda v: v[0] - v[1], in_axes=1)([[1.0, 2.0], [3.0, 5.0]]) == [-2.0, -3.0]


@settings(max_examples=20)
@given(
    xs=st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=5),
    data=st.data(),
    jitted=st.booleans(),
)
def test_keyword_arguments_are_mapped_along_axis_0(
    xs: list[float], data: st.DataObject, jitted: bool
) -> None:
    ys = data.draw(st.lists(st.floats(-2.0, 2.0), min_size=len(xs), max_size=len(xs)))

    def f(x: Any, *, y: Any, scale: Any) -> Any:
        return fad.math.sin(x * y) * scale[0] + scale[1] * y

    g = fad.grad(f)
    v: Any = fad.jit(fad.vmap(g)) if jitted else fad.vmap(g)
    scale = (np.array([1.5] * len(xs)), np.array([-0.5] * len(xs)))
    got = v(np.array(xs), y=np.array(ys), scale=scale)
    want = [g(x, y=y, scale=(1.5, -0.5)) for x, y in zip(xs, ys, strict=True)]
    assert got.tolist() == pytest.approx(want, rel=1e-15, abs=1e-300)
    assert fad.vmap(f)(xs, y=ys, scale=([1.5] * len(xs), [0.0] * len(xs))) == pytest.approx(
        [f(x, y=y, scale=(1.5, 0.0)) for x, y in zip(xs, ys, strict=True)], rel=1e-15
    )


def test_a_scalar_keyword_argument_is_refused_with_the_way_out() -> None:
    with pytest.raises(ValueError, match=r"keyword argument 'y'.*functools\.partial"):
        fad.vmap(lambda x, y=1.0: x * y)(np.array([1.0, 2.0]), y=3.0)
    with pytest.raises(ValueError, match=r"keyword argument 'y' has size 3"):
        fad.vmap(lambda x, y=1.0: x * y)(np.array([1.0, 2.0]), y=np.ones(3))


def test_bad_input_names_the_argument() -> None:
    f = fad.vmap(lambda a, b: a * b)
    with pytest.raises(ValueError, match=r"inconsistent sizes(.|\n)*argument 0(.|\n)*size 3"):
        f([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="has 1 entries"):
        fad.vmap(lambda a, b: a * b, in_axes=(0,))([1.0], [2.0])
    with pytest.raises(ValueError, match="argument 0 along axis 2"):
        fad.vmap(lambda a: a, in_axes=2)(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"argument 0 is a ragged list.*item 1 has shape \(1,\)"):
        fad.vmap(lambda a: a)([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="scalar"):
        f(1.0, [2.0])
    with pytest.raises(ValueError, match=r"argument 0\['b'\]"):
        fad.vmap(lambda p: p)({"a": [1.0, 2.0], "b": [1.0]})
    with pytest.raises(ValueError, match="tree prefix"):
        fad.vmap(lambda p: p, in_axes=({"a": 0},))([1.0, 2.0])
    with pytest.raises(TypeError, match="in_axes"):
        fad.vmap(lambda a: a, in_axes="0")
    with pytest.raises(ValueError, match="no argument is mapped"):
        fad.vmap(lambda a: a, in_axes=None)(1.0)


# --- composition ------------------------------------------------------------------------


def loss(w: Any, point: Any) -> Any:
    x, y = point[0], point[1]
    r = fad.math.tanh(w[0] * x + w[1]) - y
    return r * r


def test_composition_orders() -> None:
    data = np.array([[0.1, 0.5], [0.4, -0.2], [-0.3, 0.8]])
    w = [0.7, -0.2]
    g = fad.grad(loss)
    want = [g(w, p) for p in data.tolist()]
    a = fad.vmap(g, in_axes=(None, 0))(w, data)
    b = fad.jit(fad.vmap(g, in_axes=(None, 0)))(w, data)
    c = fad.vmap(fad.jit(g), in_axes=(None, 0))(w, data)
    for got in (a, b, c):  # a per-point list of numbers stacks as rows of an array
        assert np.asarray(got).tolist() == want
    assert fad.vmap(g, in_axes=(None, 0))(w, data.tolist()) == want  # lists: lists

    # tracers in an unmapped argument: the loss of the batch, differentiated
    def total(w: Any) -> Any:
        return sum(fad.vmap(loss, in_axes=(None, 0))(w, data))

    def total_loop(w: Any) -> Any:
        return sum(loss(w, p) for p in data.tolist())

    assert fad.grad(total)(w) == pytest.approx(fad.grad(total_loop)(w), rel=1e-15)
    assert fad.jit(fad.vmap(g, in_axes=(None, 0))) is not None


def test_non_finite_points_are_computed_by_the_function() -> None:
    f = fad.vmap(fad.math.log)
    assert f(np.array([1.0, math.e])).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="math domain error"):
        f(np.array([1.0, -2.0]))


def test_the_cap_falls_back_to_the_loop() -> None:
    def f(x: Any) -> Any:
        return x * float(fad.stop_gradient(x))  # an equality guard: one point each

    vf = fad.vmap(f, max_specializations=2)
    xs = [1.0, 2.0, 3.0, 4.0]
    assert vf(xs) == [x * x for x in xs]
    assert len(vf.specializations) <= 2
    assert vf.n_eager >= 2


# --- batched seeds ----------------------------------------------------------------------


def cyc(v: Any) -> Any:
    n = len(v)
    return [
        fad.math.sin(v[i]) * v[(i + 1) % n] - fad.math.exp(0.1 * v[(i + 3) % n]) for i in range(n)
    ]


def test_jacobians_of_a_jitted_map_take_one_batched_sweep() -> None:
    x = [0.05 * i + 0.2 for i in range(100)]
    jf = fad.jit(cyc)
    for transform in (fad.jacrev, fad.jacfwd):
        jac = transform(jf)
        assert isinstance(jac, BatchedJacobian)
        got = jac(x)
        assert jac.n_sweeps == 1
        assert jac.n_generic == 0
        want = transform(cyc)(x)
        assert np.allclose(got, want, rtol=1e-15, atol=0)

    def s(v: Any) -> Any:
        return sum(a * fad.math.sin(b) for a, b in itertools.pairwise(v))

    h = fad.hessian(fad.jit(s))
    assert isinstance(h, BatchedJacobian)
    assert np.allclose(h(x[:10]), fad.hessian(s)(x[:10]), rtol=1e-15, atol=1e-300)
    assert h.n_sweeps == 1
    assert np.allclose(fad.jacrev(jf)(np.array(x[:3])), fad.jacrev(cyc)(np.array(x[:3])))
    # the ordinary path where the batched one does not apply (int leaves)
    jac = fad.jacrev(jf)
    assert isinstance(jac, BatchedJacobian)
    assert np.allclose(jac([1, 2, 3]), fad.jacrev(cyc)([1.0, 2.0, 3.0]))
    assert jac.n_generic == 1
    assert jac.n_sweeps == 0


# --- chunks over processes ---------------------------------------------------------------


def point_grad(v: Any) -> Any:
    return fad.grad(lambda u: fad.math.sin(u[0]) * u[1])(v)


def test_map_chunks_over_two_processes() -> None:
    batch = np.array([[0.1 * i, 1.0 + 0.2 * i] for i in range(20)])
    f = fad.vmap(point_grad)
    f(batch[:2])  # recorded here: the programs travel with the pickled function
    g = pickle.loads(pickle.dumps(f))
    assert len(g.specializations) == len(f.specializations) == 1
    assert g(batch).tolist() == f(batch).tolist()
    assert g.n_recordings == 0
    with ProcessPoolExecutor(2) as ex:
        got = map_chunks(f, batch, executor=ex, n_chunks=2)
        assert got.tolist() == f(batch).tolist()
        with pytest.raises(TypeError, match="does not pickle"):
            map_chunks(fad.vmap(lambda v: v), batch, executor=ex, n_chunks=2)
    with pytest.raises(ValueError, match="differ in length"):
        map_chunks(f, batch, batch[:3], executor=ex, n_chunks=2)


def test_without_numpy_lists_stand_in_for_arrays() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import fad\n"
        "g = fad.vmap(fad.grad(lambda x: fad.where(x > 0, x * x, -x)))\n"
        "assert g([1.0, -2.0, 3.0]) == [2.0, -1.0, 6.0], g([1.0, -2.0, 3.0])\n"
        "assert fad.vmap(lambda v: v[0] * v[1])([[1.0, 2.0], [3.0, 4.0]]) == [2.0, 12.0]\n"
        "assert 'numpy' not in sys.modules or sys.modules['numpy'] is None\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=str(Path(fad.__file__).parent.parent)
    )
