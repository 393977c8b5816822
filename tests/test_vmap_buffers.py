"""The buffers of vmap's numpy programs: planned, reused, never clobbering a result.

Oracles: a simulation of the plan (each buffer holds the variable last written into
it, and every read must find its own variable there), and the Python loop of the
eager transform at each point of the batch.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import fad
import fad._vmap as V
from fad._numpy import plan_buffers

np = pytest.importorskip("numpy")

UNARY = [fad.math.sin, fad.math.tanh, fad.math.exp]


@st.composite
def programs(draw: Any) -> list[tuple[Any, ...]]:
    """Straight-line steps over two inputs, with Python branches and squares."""
    steps: list[tuple[Any, ...]] = []
    for k in range(draw(st.integers(1, 9))):
        kind = draw(st.sampled_from(["unary", "binary", "square", "branch", "const"]))
        i = draw(st.integers(0, k + 1))
        j = draw(st.integers(0, k + 1))
        c = draw(st.floats(-0.5, 0.5))
        steps.append((kind, draw(st.integers(0, 2)), i, j, c))
    return steps


def run(steps: list[tuple[Any, ...]], x: Any, y: Any) -> Any:
    vals = [x, y]
    for kind, u, i, j, c in steps:
        a, b = vals[i], vals[j]
        if kind == "unary":
            vals.append(UNARY[u](a * 0.5))
        elif kind == "binary":
            vals.append(a + b if u == 0 else a - b if u == 1 else a * b)
        elif kind == "square":
            vals.append(a**2 - b)
        elif kind == "branch":
            vals.append(a * b if a > c else b - a)  # guarded: partitioned under vmap
        else:
            vals.append(c * a + 1.5)
    out: Any = vals[-1] * vals[0] + vals[-2]
    return out


def close(a: Any, b: Any, rel: float) -> bool:
    fa, fb = float(a), float(b)
    return fa == fb or abs(fa - fb) <= rel * max(abs(fa), abs(fb), 1.0)


def rel_of(steps: list[tuple[Any, ...]]) -> float:
    # numpy's sin/tanh/exp may differ from libm's by an ulp: 1e-15 per call
    return 1e-15 * (1 + 2 * sum(1 for s in steps if s[0] == "unary"))


def check_plan(vg: Any) -> None:
    """Every read of a buffered variable finds it in its buffer (the simulation)."""
    for spec in vg.specializations:
        assert spec.ir is not None
        ir, batched = V._numpy_ir(spec, frozenset(range(spec.ir.n_inputs)))
        dests, size = plan_buffers(ir, batched)
        holder: dict[str, int] = {}
        for var, _prim, atoms in ir.equations():
            for a in atoms:
                if a in dests:
                    assert holder[dests[a]] == a, (a, dests[a])
            if var in dests:
                d = dests[var]
                if d.startswith("O["):
                    assert d not in holder  # each output row written once
                    assert ir.outputs[int(d[2:-1])] == var
                else:
                    assert int(d[2:-1]) < size
                holder[d] = var
        for a in ir.outputs:
            if a in dests:
                assert holder[dests[a]] == a


@settings(max_examples=30, deadline=None)
@given(
    programs(),
    st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=9),
    st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=5),
)
def test_buffers_are_reused_without_clobbering_a_result(
    steps: list[tuple[Any, ...]], xs: list[float], xs2: list[float]
) -> None:
    g = fad.grad(lambda x, y: run(steps, x, y), argnums=(0, 1))
    vg = fad.jit(fad.vmap(g))
    rel = rel_of(steps)

    def want(points: list[float]) -> list[Any]:
        return [g(x, 0.3 - 0.2 * x) for x in points]

    def call(points: list[float]) -> Any:
        a = np.array(points)
        return vg(a, 0.3 - 0.2 * a)

    first = call(xs)
    kept = (first[0].copy(), first[1].copy())
    second = call(xs2)  # another size: the pool is sliced, the first result kept
    third = call(list(reversed(xs)))  # the first's size again, `first` still held
    for got, points in ((first, xs), (second, xs2), (third, list(reversed(xs)))):
        for k, w in enumerate(want(points)):
            assert close(got[0][k], w[0], rel)
            assert close(got[1][k], w[1], rel)
    assert np.array_equal(first[0], kept[0])
    assert np.array_equal(first[1], kept[1])
    assert vg.n_eager == 0 or len(vg.specializations) == 8  # the programs ran
    check_plan(vg)


@settings(max_examples=15, deadline=None)
@given(programs(), st.lists(st.floats(-1.0, 1.0), min_size=12, max_size=30))
def test_runs_in_blocks_give_the_loop(steps: list[tuple[Any, ...]], xs: list[float]) -> None:
    g = fad.grad(lambda x, y: run(steps, x, y), argnums=(0, 1))
    block = V.BLOCK
    V.BLOCK = 5  # blocks of 5 points, the last one shorter
    try:
        a = np.array(xs)
        got = fad.vmap(g)(a, 0.3 - 0.2 * a)
    finally:
        V.BLOCK = block
    rel = rel_of(steps)
    for k, x in enumerate(xs):
        w = g(x, 0.3 - 0.2 * x)
        assert close(got[0][k], w[0], rel)
        assert close(got[1][k], w[1], rel)


def rosen(v: Any) -> Any:
    return sum(100.0 * (v[i + 1] - v[i] ** 2) ** 2 + (1 - v[i]) ** 2 for i in range(len(v) - 1))


def test_the_plan_reuses_buffers_and_writes_outputs_in_place() -> None:
    vg = fad.vmap(fad.grad(rosen))
    X = np.random.default_rng(0).uniform(-1, 1, (50, 12))
    got = vg(X)
    want = np.array([fad.grad(rosen)(list(x)) for x in X])
    assert np.allclose(got, want, rtol=1e-15, atol=0)
    assert vg.n_eager == 0
    (batched,) = vg._programs.values()
    source = batched.program.source
    assert batched.spec.ir is not None
    n_eq = batched.spec.ir.n_ops
    assert "out=O[" in source
    assert "out=W[" in source
    assert 0 < batched.n_buffers < n_eq / 2  # buffers are reused
    check_plan(vg)


def test_a_result_is_recycled_only_once_no_view_of_it_is_left() -> None:
    vg = fad.vmap(fad.grad(rosen))
    rng = np.random.default_rng(1)
    X1, X2, X3 = (rng.uniform(-1, 1, (20, 6)) for _ in range(3))
    r1 = vg(X1)
    row = r1[3]  # a view keeps the whole matrix
    want_row = row.copy()
    del r1
    r2 = vg(X2)
    assert np.array_equal(row, want_row)
    assert not np.shares_memory(row, r2)
    del row, r2
    r3 = vg(X3)  # nothing of r2 left: its memory may be reused, with the right numbers
    assert np.allclose(r3, [fad.grad(rosen)(list(x)) for x in X3], rtol=1e-15, atol=0)
    assert vg.n_eager == 0


def test_outputs_repeated_inputs_and_constants() -> None:
    def f(x: Any, y: Any) -> Any:
        z = x * y
        return (z, z, x, 3.0, fad.math.sin(z) + y)

    xs = np.linspace(-1.0, 1.0, 7)
    got = fad.vmap(f, in_axes=(0, None))(xs, 0.5)
    for k, x in enumerate(xs):
        want = f(float(x), 0.5)
        for j in range(5):
            assert close(got[j][k], want[j], 1e-15)
    assert isinstance(got[3], np.ndarray)
    assert got[3].tolist() == [3.0] * 7


def test_concurrent_calls_do_not_share_buffers() -> None:
    vg = fad.jit(fad.vmap(fad.grad(rosen)))
    rng = np.random.default_rng(2)
    batches = [rng.uniform(-1, 1, (300, 10)) for _ in range(4)]
    want = [vg(b).copy() for b in batches]
    errors: list[int] = []

    def work(k: int) -> None:
        for _ in range(15):
            if not np.array_equal(vg(batches[k]), want[k]):
                errors.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


SCALES = [2.0, 4.0, 1.0, 0.5, -3.0, 100.0, 1e300, 1e-300, 0.0, -1.0, 3, 2]
SPECIAL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-10.0, 10.0),
    st.sampled_from([5e-324, -1e-310, 2.2e-308, 1.7e308, -8.9e307, 0.0, -0.0]),
)


@st.composite
def scalings(draw: Any) -> list[tuple[str, int, Any]]:
    """Chains of constant scalings and negations (what `_fold_scalings` rewrites)."""
    cs = draw(st.lists(st.sampled_from(SCALES), min_size=1, max_size=8))
    # mostly a chain (each step on the previous value, used once), sometimes a reuse
    return [
        (
            draw(st.sampled_from(["cx", "xc", "neg", "add"])),
            draw(st.sampled_from([k, k, k, 0, k // 2])),
            c,
        )
        for k, c in enumerate(cs)
    ]


def scale_run(steps: list[tuple[str, int, Any]], x: Any) -> Any:
    vals = [x]
    for kind, i, c in steps:
        v = vals[i]
        vals.append(
            c * v if kind == "cx" else v * c if kind == "xc" else -v if kind == "neg" else v + x
        )
    return vals[-1], vals[len(vals) // 2] if len(vals) > 4 else x


@settings(max_examples=60, deadline=None)
@given(scalings(), st.lists(SPECIAL, min_size=1, max_size=4))
@example([("cx", 0, 2.0), ("xc", 1, 0.5)], [1.7e308])  # 2x overflows, x does not
@example([("cx", 0, 3.0), ("xc", 1, 5.0)], [0.1])  # 5 * (3 * x) is not 15 * x
def test_folded_scalings_give_the_same_bits(
    steps: list[tuple[str, int, Any]], xs: list[float]
) -> None:
    from fad._emit import FLOAT_TABLE, emit

    ir = fad.make_ir(lambda x: scale_run(steps, x))(1.5)
    folded = emit(V._fold_scalings(ir), FLOAT_TABLE)
    plain = emit(ir, FLOAT_TABLE)
    for x in xs:
        want = [repr(v) for v in plain([x])]
        assert [repr(v) for v in folded([x])] == want
    # and vmap's program, folded and scheduled, on arrays
    got = fad.vmap(lambda x: scale_run(steps, x))(np.array(xs))
    for k, x in enumerate(xs):
        for j, w in enumerate(plain([x])):
            assert repr(float(got[j][k])) == repr(float(w))


def test_mapped_views_of_any_layout() -> None:
    """Columns of a matrix, a transposed array and a mapped axis 1 give the loop."""
    rng = np.random.default_rng(3)
    A = rng.uniform(-1, 1, (9, 4))
    g = fad.grad(lambda v: fad.math.sin(v[0]) * v[1] + v[2] ** 2 - v[3])
    want = np.array([g(list(a)) for a in A])
    assert np.allclose(fad.vmap(g)(A), want, rtol=1e-15, atol=0)
    assert np.allclose(fad.vmap(g, in_axes=1)(np.asfortranarray(A.T)), want, rtol=1e-15, atol=0)
    h = fad.grad(lambda x, y: x * fad.math.exp(y), argnums=(0, 1))
    gx, gy = fad.vmap(h)(A[:, 0], A[:, 2])  # strided 1-D views
    for k, a in enumerate(A):
        wx, wy = h(float(a[0]), float(a[2]))
        assert abs(gx[k] - wx) <= 1e-15 * max(1.0, abs(wx))
        assert abs(gy[k] - wy) <= 1e-15 * max(1.0, abs(wy))


def test_a_large_result_is_not_kept(monkeypatch: Any) -> None:
    monkeypatch.setattr(V, "SPARE_BYTES", 100)
    vg = fad.vmap(fad.grad(rosen))
    X = np.random.default_rng(4).uniform(-1, 1, (20, 6))
    r = vg(X)
    assert vg._spare == {}
    assert np.allclose(r, [fad.grad(rosen)(list(x)) for x in X], rtol=1e-15, atol=0)


def test_a_primitive_named_like_the_programs_variables() -> None:
    """A custom primitive called ``O`` (or ``W``, ``OK``) does not shadow the buffers."""
    import math

    prims = [
        fad.primitive(math.sin, lambda ans, x: fad.math.cos(x), name=name)
        for name in ("O", "W", "OK")
    ]

    def f(x: Any) -> Any:
        return prims[0](x) * prims[1](x) + prims[2](x * x)

    xs = np.linspace(-1.0, 1.0, 9)
    vg = fad.vmap(fad.grad(f))
    got = vg(xs)
    assert vg.n_eager == 0  # the numpy program ran (no point fell back to the loop)
    for k, x in enumerate(xs):
        assert close(got[k], fad.grad(f)(float(x)), 1e-15)
