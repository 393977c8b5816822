"""The duality (a, b) ↦ (a, λk. k·b) and (a, B) ↦ (a, B(1)): round trips and commutation."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_primitives import CASES

import fad
import fad.math as fm
from fad import Codual, Dual, to_codual, to_dual
from fad._core import FadRecursionError
from fad._primitives import REGISTRY

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
levels = st.integers(0, 3)


def scale_by(t: float) -> Callable[[Any], Any]:
    """The backpropagator k ↦ k·t."""
    return lambda k: k * t


def close(a: Any, b: Any) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@given(primal=finite, tangent=finite, level=levels)
def test_dual_to_codual_to_dual_is_the_identity(primal: float, tangent: float, level: int) -> None:
    d = Dual(primal, tangent, level)
    back = to_dual(to_codual(d))
    assert type(back) is Dual
    assert (back.primal, back.tangent, back.level) == (primal, tangent, level)


@given(x=st.floats(-3, 3), b=finite, k=finite, level=levels)
def test_codual_to_dual_to_codual_backpropagates_the_same(
    x: float, b: float, k: float, level: int
) -> None:
    # A codual built by hand, through a few primitives: its backprop is linear in k.
    c = Codual(x, lambda ct: ct * b, level)
    c = fm.sin(c) * c + fm.exp(c / 4.0)
    round_trip = to_codual(to_dual(c))
    assert round_trip.primal == c.primal
    assert round_trip.level == level
    assert close(round_trip.backprop(k), c.backprop(k))


def test_nested_duals_keep_their_primal_tracer() -> None:
    inner = Dual(2.0, 1.0, 1)
    c = to_codual(Dual(inner, 3.0, 2))
    assert c.primal is inner
    assert c.level == 2
    assert c.backprop(2.0) == 6.0


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=20)
@given(data=st.data())
def test_the_mapping_commutes_with_every_primitive(name: str, data: st.DataObject) -> None:
    """to_codual(op(d₁, d₂)) backpropagates as op(to_codual(d₁), to_codual(d₂)), and back."""
    case = CASES[name]
    args = data.draw(case.domain)
    level = data.draw(levels)
    tangents = data.draw(st.tuples(*[st.floats(-10, 10)] * len(args)))
    k = data.draw(st.floats(-10, 10))
    diff = [i not in case.const for i in range(len(args))]

    duals = [Dual(a, t, level) if d else a for a, t, d in zip(args, tangents, diff, strict=True)]
    out = case.fun(*duals)
    mapped_in = case.fun(*[to_codual(a) if isinstance(a, Dual) else a for a in duals])
    if not isinstance(out, Dual):  # zero derivative: both sides are the plain value
        assert not isinstance(mapped_in, Codual)
        assert out == mapped_in
        return
    mapped_out = to_codual(out)
    assert mapped_out.primal == mapped_in.primal
    assert mapped_out.level == mapped_in.level == level
    assert math.isclose(mapped_out.backprop(k), mapped_in.backprop(k), rel_tol=1e-12, abs_tol=1e-9)

    coduals = [
        Codual(a, scale_by(t), level) if d else a
        for a, t, d in zip(args, tangents, diff, strict=True)
    ]
    out_c = case.fun(*coduals)
    assert isinstance(out_c, Codual)
    back_out = to_dual(out_c)
    back_in = case.fun(*[to_dual(c) if isinstance(c, Codual) else c for c in coduals])
    assert back_out.primal == back_in.primal
    assert back_out.level == back_in.level == level
    assert math.isclose(back_out.tangent, back_in.tangent, rel_tol=1e-12, abs_tol=1e-9)


def test_to_dual_of_a_one_input_tape_codual() -> None:
    seen: list[Dual] = []

    def f(x: Any) -> Any:
        y = fm.sin(x) * 2.0
        seen.append(to_dual(y))
        return y

    fad.grad(f, mode="tape")(0.5)
    (d,) = seen
    assert d.primal == math.sin(0.5) * 2.0
    assert d.tangent == pytest.approx(2.0 * math.cos(0.5), rel=1e-15)


def test_to_dual_refuses_what_is_not_one_tangent() -> None:
    def two_inputs(x: Any, y: Any) -> Any:
        to_dual(x * y)
        return x * y

    with pytest.raises(TypeError, match="over 2 inputs"):
        fad.grad(two_inputs, argnums=(0, 1), mode="tape")(1.0, 2.0)
    for mode in ("memo", "naive"):
        with pytest.raises(TypeError, match="not one number"):
            fad.grad(two_inputs, argnums=(0, 1), mode=mode)(1.0, 2.0)
    with pytest.raises(TypeError, match=r"takes a fad\.Codual"):
        to_dual(Dual(1.0, 1.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"takes a fad\.Dual"):
        to_codual(Codual(1.0, lambda k: k))  # type: ignore[arg-type]


def test_to_dual_of_a_chain_too_deep_for_recursion_names_the_tape() -> None:
    c = fad.Codual(0.5, lambda k: k)
    for _ in range(sys.getrecursionlimit() + 100):
        c = c * 1.0 + 0.0
    with pytest.raises(FadRecursionError, match='mode="tape"'):
        fad.to_dual(c)
