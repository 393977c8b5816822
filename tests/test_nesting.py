"""Nesting transforms to any order, in every mix of modes, without perturbation confusion."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest

import fad
import fad.math as fm

Scalar = Callable[[Any], Any]

# every way to take d/dx of a scalar function: forward (Dual via derivative, via jvp,
# via jacfwd, via linearize) and every reverse strategy (grad, vjp, jacrev)


def d_derivative(f: Scalar) -> Scalar:
    return fad.derivative(f)


def d_jvp(f: Scalar) -> Scalar:
    return lambda x: fad.jvp(f, (x,), (1.0,))[1]


def d_linearize(f: Scalar) -> Scalar:
    return lambda x: fad.linearize(f, x)[1](1.0)


def d_jacfwd(f: Scalar) -> Scalar:
    return fad.jacfwd(f)


def d_grad(mode: str) -> Callable[[Scalar], Scalar]:
    return lambda f: fad.grad(f, mode=mode)


def d_vjp(mode: str) -> Callable[[Scalar], Scalar]:
    return lambda f: lambda x: fad.vjp(f, x, mode=mode)[1](1.0)[0]


def d_jacrev(mode: str) -> Callable[[Scalar], Scalar]:
    return lambda f: fad.jacrev(f, mode=mode)


FORWARD = {"derivative": d_derivative, "jvp": d_jvp, "linearize": d_linearize, "jacfwd": d_jacfwd}
REVERSE = {f"grad[{m}]": d_grad(m) for m in ("tape", "memo", "naive")}
REVERSE_MORE = {f"vjp[{m}]": d_vjp(m) for m in ("tape", "memo", "naive")} | {
    f"jacrev[{m}]": d_jacrev(m) for m in ("tape", "memo", "naive")
}
ALL = FORWARD | REVERSE | REVERSE_MORE
BASIC = {"fwd": d_derivative} | REVERSE  # one forward, every reverse strategy


@pytest.mark.parametrize(("outer", "inner"), list(itertools.product(ALL, ALL)))
def test_siskind_pearlmutter(outer: str, inner: str) -> None:
    """d/dx [x · (d/dy (x + y))(1)] = 1: the inner derivative must not see x's perturbation."""
    d_out, d_in = ALL[outer], ALL[inner]

    def f(x: Any) -> Any:
        return x * d_in(lambda y: x + y)(1.0)

    for x in (-2.0, 0.0, 1.0, 3.5):
        assert d_out(f)(x) == 1.0


@pytest.mark.parametrize("names", list(itertools.product(BASIC, repeat=3)), ids="-".join)
def test_third_order_all_mixes(names: tuple[str, str, str]) -> None:
    d1, d2, d3 = (BASIC[n] for n in names)
    f = lambda x: fm.sin(x) * x**3
    d3f = d1(d2(d3(f)))
    for x in (-0.7, 0.0, 1.3):
        s, c = math.sin(x), math.cos(x)
        want = -(x**3) * c - 9 * x * x * s + 18 * x * c + 6 * s
        assert abs(d3f(x) - want) <= 1e-9 * (1 + abs(want))


@pytest.mark.parametrize("names", list(itertools.product(BASIC, repeat=3)), ids="-".join)
def test_siskind_pearlmutter_third_order(names: tuple[str, str, str]) -> None:
    """d/dx [x · d/dy [y · d/dz (x + y + z)](1)](1) = 1 with three live perturbations."""
    d1, d2, d3 = (BASIC[n] for n in names)

    def f(x: Any) -> Any:
        def g(y: Any) -> Any:
            return y * d3(lambda z: x * y + z)(1.0)

        return x * d2(g)(1.0)

    # d/dz (x y + z) = 1; d/dy [y · 1] = 1; d/dx [x · 1] = 1
    for x in (-1.0, 0.5, 2.0):
        assert d1(f)(x) == 1.0


@pytest.mark.parametrize("names", list(itertools.product(BASIC, repeat=2)), ids="-".join)
def test_closure_over_outer_variable(names: tuple[str, str]) -> None:
    """d/dx d/dy [sin(x y)] at (x, y) = cos(xy) − x y sin(xy), the inner one closing over x."""
    d_out, d_in = (BASIC[n] for n in names)

    def f(x: Any) -> Any:
        return d_in(lambda y: fm.sin(x * y))(0.8)

    for x in (-0.5, 0.3, 1.2):
        xy = x * 0.8
        want = math.cos(xy) - xy * math.sin(xy)
        assert abs(d_out(f)(x) - want) <= 1e-12


@pytest.mark.parametrize("mode", ["tape", "memo", "naive"])
def test_gradient_of_a_gradient_over_pytrees(mode: str) -> None:
    # f(p) = (w·x)^2 / 2 for p = {"w": [...]}: grad = (w·x) x; Hessian-vector product = (x·v) x
    x = [1.0, 2.0, 3.0]
    v = {"w": [0.5, -1.0, 2.0]}

    def f(p: dict[str, list[Any]]) -> Any:
        s = sum((wi * xi for wi, xi in zip(p["w"], x, strict=True)), 0.0)
        return s * s / 2

    hvp = fad.jvp(fad.grad(f, mode=mode), ({"w": [0.1, 0.2, 0.3]},), (v,))[1]
    xv = sum(a * b for a, b in zip(x, v["w"], strict=True))
    assert hvp == {"w": [xv * xi for xi in x]}
    # reverse over reverse: grad of <grad f, v>
    g = fad.grad(
        lambda p: sum(a * b for a, b in zip(fad.grad(f, mode=mode)(p)["w"], v["w"], strict=True)),
        mode=mode,
    )
    assert g({"w": [0.1, 0.2, 0.3]}) == {"w": [xv * xi for xi in x]}


def test_fourth_order_reverse_nesting() -> None:
    f = lambda x: fm.exp(2.0 * x)
    d4 = fad.grad(fad.grad(fad.grad(fad.grad(f, mode="tape"), mode="memo"), mode="naive"))
    assert abs(d4(0.3) - 16 * math.exp(0.6)) <= 1e-12


def test_transform_of_a_transformed_function_with_tuple_outputs() -> None:
    # jacrev of a function that itself calls vjp and returns the whole cotangent tuple
    def pulled(x: Any, y: Any) -> Any:
        _, f_vjp = fad.vjp(lambda a, b: a * a * b, x, y)
        return f_vjp(1.0)  # (2ab, a^2)

    jac = fad.jacrev(pulled, argnums=(0, 1))(2.0, 3.0)
    assert jac == ((6.0, 4.0), (4.0, 0.0))
    assert fad.jacfwd(pulled, argnums=(0, 1))(2.0, 3.0) == jac


def test_hand_made_dual_outside_a_transform() -> None:
    # a Dual made by hand (level 0) is a constant to every transform inside it
    x = fad.Dual(2.0, 1.0)
    g = fad.grad(lambda y: x * y * y)(3.0)
    assert isinstance(g, fad.Dual)
    assert (g.primal, g.tangent) == (12.0, 6.0)


@pytest.mark.parametrize("mode", ["tape", "memo", "naive"])
def test_pullbacks_and_linear_maps_are_differentiable_after_the_fact(mode: str) -> None:
    # vjp_fun and linearize's jvp_fun are linear in their argument: differentiating
    # them (outside the transform that made them) gives the derivative they carry
    _, f_vjp = fad.vjp(lambda x: 3.0 * x * x, 2.0, mode=mode)
    assert fad.grad(lambda c: f_vjp(c)[0], mode=mode)(1.0) == 12.0
    assert fad.jvp(lambda c: f_vjp(c)[0], (1.0,), (1.0,)) == (12.0, 12.0)
    _, f_jvp = fad.linearize(lambda x: 3.0 * x * x, 2.0)
    assert fad.grad(lambda t: f_jvp(t), mode=mode)(1.0) == 12.0
    assert fad.derivative(lambda t: f_jvp(t))(5.0) == 12.0
