"""fad.checkpoint: the same values and derivatives in every mode, a shorter tape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad._core import new_level
from fad.tracers.tape import TapeCodual

UNARY: list[Callable[[Any], Any]] = [fad.math.sin, fad.math.tanh, lambda v: v * v, fad.math.cos]


def block_of(ops: list[int], reps: int) -> Callable[[Any, Any], Any]:
    """A function of two scalars returning a pytree of three."""

    def block(x: Any, y: Any) -> Any:
        for _ in range(reps):
            for k in ops:
                x = UNARY[k](x) * y + 0.5 * x
                y = 0.9 * y + 0.1 * UNARY[k](x)
        return {"x": x, "pair": (y, x * y)}

    return block


def outer(block: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def f(x: Any, y: Any) -> Any:
        out = block(x, y)
        return out["x"] * out["pair"][0] + fad.math.sin(out["pair"][1])

    return f


def close(a: Any, b: Any, tol: float = 1e-10) -> bool:
    la, lb = fad.tree.tree_leaves(a), fad.tree.tree_leaves(b)
    return len(la) == len(lb) and all(
        abs(u - v) <= tol * (1.0 + abs(v)) for u, v in zip(la, lb, strict=True)
    )


ops_st = st.lists(st.integers(0, len(UNARY) - 1), min_size=1, max_size=3)
pts = st.floats(-1.2, 1.2)


@settings(max_examples=20)
@given(ops_st, st.integers(1, 3), pts, pts)
def test_checkpoint_changes_no_value_or_derivative(
    ops: list[int], reps: int, x: float, y: float
) -> None:
    block = block_of(ops, reps)
    ref, cut = outer(block), outer(fad.checkpoint(block))
    assert cut(x, y) == ref(x, y)
    assert fad.checkpoint(block)(x, y) == block(x, y)
    want = fad.grad(ref, (0, 1))(x, y)
    for mode in ("tape", "memo", "naive"):
        assert close(fad.grad(cut, (0, 1), mode=mode)(x, y), want), mode
    assert close(fad.jvp(cut, (x, y), (0.4, -1.0)), fad.jvp(ref, (x, y), (0.4, -1.0)))
    assert close(fad.taylor(lambda t: cut(t, y), x, 3), fad.taylor(lambda t: ref(t, y), x, 3))
    h = fad.hessian(ref, (0, 1))(x, y)
    assert close(fad.hessian(cut, (0, 1))(x, y), h)
    assert close(fad.jacfwd(fad.grad(cut, (0, 1)), (0, 1))(x, y), h)
    assert close(fad.jacrev(fad.grad(cut, (0, 1), mode="memo"), (0, 1))(x, y), h)
    assert close(
        fad.grad(lambda t: fad.jvp(cut, (t, y), (1.0, 0.0))[1])(x),
        fad.grad(lambda t: fad.jvp(ref, (t, y), (1.0, 0.0))[1])(x),
    )
    # vjp functions may be called twice; linearize sweeps the lazy entries forwards
    _, f_vjp = fad.vjp(fad.checkpoint(block), x, y)
    ct = {"x": 1.0, "pair": (0.5, -2.0)}
    assert f_vjp(ct) == f_vjp(ct)
    assert close(f_vjp(ct), fad.vjp(block, x, y)[1](ct))
    _, lin = fad.linearize(cut, x, y)
    assert close(lin(0.3, 0.2), fad.jvp(ref, (x, y), (0.3, 0.2))[1])


def tape_length(fun: Callable[[Any, Any], Any]) -> int:
    """Entries on the tape after ``fun`` runs on two fresh tape inputs (a private hook)."""
    (x, y), _ = TapeCodual.seed([0.3, 0.7], new_level())
    fun(x, y)
    return len(x.tape)


@pytest.mark.parametrize("reps", [1, 5, 20])
def test_checkpoint_keeps_one_tape_entry_per_output_leaf(reps: int) -> None:
    block = block_of([0, 1], reps)
    plain = tape_length(block)
    cut = tape_length(fad.checkpoint(block))
    # two inputs, then one entry (two edges) for each of the three output leaves
    assert cut == 2 + 3
    assert plain >= 2 + 10 * reps


def test_checkpoint_with_many_inputs_chains_its_edges() -> None:
    def f(v: Any) -> Any:
        return sum(v[i] * v[(i + 1) % 5] for i in range(5))

    def count(fun: Callable[[Any], Any]) -> int:
        xs, _ = TapeCodual.seed([0.1 * i for i in range(5)], new_level())
        fun(xs)
        return len(xs[0].tape)

    assert count(fad.checkpoint(f)) == 5 + 4  # one output, five edges: a chain of four
    v = [0.1, -0.3, 0.5, 0.2, 0.9]
    assert close(fad.grad(fad.checkpoint(f))(v), fad.grad(f)(v))


def test_static_arguments_integers_and_nesting() -> None:
    def f(x: Any, n: int, scale: str) -> Any:
        for _ in range(n):
            x = fad.math.sin(x)
        return x * (2.0 if scale == "double" else 1.0)

    cf = fad.checkpoint(f, static_argnums=(2,))
    assert cf(0.5, 3, "double") == f(0.5, 3, "double")
    assert fad.grad(cf)(0.5, 3, "double") == pytest.approx(fad.grad(f)(0.5, 3, "double"), rel=1e-15)

    @fad.checkpoint
    def inner(x: Any) -> Any:
        return fad.math.exp(fad.math.sin(x)) * x

    @fad.checkpoint
    def two(x: Any) -> Any:
        return inner(inner(x) + 1.0)

    def ref(x: Any) -> Any:
        e = fad.math.exp(fad.math.sin(x)) * x + 1.0
        return fad.math.exp(fad.math.sin(e)) * e

    assert two(0.4) == ref(0.4)
    assert fad.grad(two)(0.4) == pytest.approx(fad.grad(ref)(0.4), rel=1e-14)
    assert fad.hessian(two)(0.4) == pytest.approx(fad.hessian(ref)(0.4), rel=1e-12)


def test_closing_over_a_differentiated_value_warns_but_stays_right() -> None:
    def f(x: Any, w: Any) -> Any:
        return fad.checkpoint(lambda v: fad.math.sin(v * w) * w)(x)

    def g(x: Any, w: Any) -> Any:
        return fad.math.sin(x * w) * w

    with pytest.warns(fad.CheckpointWarning, match="Pass that value as an argument"):
        got = fad.grad(f, (0, 1))(0.3, 1.7)
    assert close(got, fad.grad(g, (0, 1))(0.3, 1.7))

    # an enclosing transform's tracer is a constant to the inner one, which checkpoints;
    # the enclosing one records the interior whole (and says so)
    def h(w: Any) -> Any:
        return fad.grad(lambda x: fad.checkpoint(lambda v: fad.math.sin(v * w) * w)(x))(0.3)

    with pytest.warns(fad.CheckpointWarning):
        got_h = fad.grad(h)(1.7)
    assert got_h == pytest.approx(fad.grad(lambda w: fad.grad(g)(0.3, w))(1.7), rel=1e-13)


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="decorates a function"):
        fad.checkpoint(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="only policy=None"):
        fad.checkpoint(lambda x: x, policy="dots")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"leaf of type str.*static_argnums"):
        fad.checkpoint(lambda x, s: x)(1.0, "s")
