"""custom_root, fixed_point and linear_solve against closed forms, in every mode and nesting."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad


def newton(f: Callable[[Any], Any], x: Any) -> Any:
    for _ in range(60):
        x = x - f(x) / fad.derivative(f)(x)
    return x


def scalar_solve(g: Callable[[Any], Any], y: Any) -> Any:
    return y / g(1.0)


def sqrt(a: Any) -> Any:
    return fad.custom_root(lambda x: x * x - a, 1.0, newton, scalar_solve)


def d_sqrt(a: float, k: int) -> float:
    """The k-th derivative of sqrt at a."""
    c = 1.0
    for j in range(k):
        c *= 0.5 - j
    return c * math.pow(a, 0.5 - k)


def close(a: Any, b: Any, tol: float = 1e-12) -> bool:
    la, lb = fad.tree.tree_leaves(a), fad.tree.tree_leaves(b)
    return len(la) == len(lb) and all(
        abs(u - v) <= tol * (1.0 + abs(v)) for u, v in zip(la, lb, strict=True)
    )


@settings(max_examples=20)
@given(st.floats(0.01, 100.0))
def test_sqrt_by_newton_has_the_closed_form_derivatives(a: float) -> None:
    assert sqrt(a) == newton(lambda x: x * x - a, 1.0)
    assert abs(fad.grad(sqrt)(a) - d_sqrt(a, 1)) <= 1e-14 * (1 + abs(d_sqrt(a, 1)))
    for mode in ("memo", "naive"):
        assert close(fad.grad(sqrt, mode=mode)(a), d_sqrt(a, 1), 1e-14)
    assert close(fad.jvp(sqrt, (a,), (1.0,))[1], d_sqrt(a, 1), 1e-14)
    d2 = d_sqrt(a, 2)
    assert close(fad.grad(fad.grad(sqrt))(a), d2)
    assert close(fad.hessian(sqrt)(a), d2)
    assert close(fad.jacfwd(fad.grad(sqrt))(a), d2)
    assert close(fad.grad(fad.derivative(sqrt))(a), d2)
    assert close(fad.derivative(fad.derivative(sqrt))(a), d2)
    assert close(fad.taylor(sqrt, a, 5), [d_sqrt(a, k) for k in range(6)], 1e-10)
    assert close(fad.derivative(fad.grad(fad.grad(sqrt)))(a), d_sqrt(a, 3), 1e-10)


@settings(max_examples=20)
@given(st.floats(-5.0, 5.0))
def test_cubic_root_against_the_implicit_closed_form(a: float) -> None:
    # x³ + x = a has one real root; x' = 1/(3x² + 1), x'' = -6x x'³
    def root(a: Any) -> Any:
        return fad.custom_root(lambda x: x**3 + x - a, 0.0, newton, scalar_solve)

    x = root(a)
    assert abs(x**3 + x - a) <= 1e-12 * (1 + abs(a))
    d1 = 1.0 / (3 * x * x + 1)
    assert close(fad.grad(root)(a), d1, 1e-14)
    assert close(fad.hessian(root)(a), -6 * x * d1**3)
    assert close(fad.derivative(root, 2)(a), -6 * x * d1**3)


def two_unknowns(a: Any, b: Any) -> Any:
    """x² + y = a, x − y = b, solved by Newton's method on pytrees."""

    def f(z: Any) -> Any:
        return {"x": z["x"] ** 2 + z["y"] - a, "y": z["x"] - z["y"] - b}

    def solve(f: Callable[[Any], Any], z: Any) -> Any:
        for _ in range(40):
            jac = fad.jacfwd(f)(z)

            def apply(v: Any, jac: Any = jac) -> Any:
                return {k: jac[k]["x"] * v["x"] + jac[k]["y"] * v["y"] for k in ("x", "y")}

            step = fad.linear_solve(apply, f(z))
            z = {k: z[k] - step[k] for k in z}
        return z

    return fad.custom_root(f, {"x": 1.0, "y": 1.0}, solve, fad.linear_solve)


@settings(max_examples=15)
@given(st.floats(0.0, 4.0), st.floats(0.0, 2.0))
def test_pytree_root_against_the_closed_form(a: float, b: float) -> None:
    def x_closed(a: Any, b: Any) -> Any:  # x² + x − (a + b) = 0, the positive root
        return (-1.0 + fad.math.sqrt(1.0 + 4.0 * (a + b))) / 2.0

    z = two_unknowns(a, b)
    assert close(z["x"], x_closed(a, b), 1e-13)
    assert close(z["y"], z["x"] - b, 1e-13)
    g = fad.grad(lambda a, b: two_unknowns(a, b)["x"], (0, 1))(a, b)
    assert close(g, fad.grad(x_closed, (0, 1))(a, b), 1e-12)
    h = fad.hessian(lambda a, b: two_unknowns(a, b)["y"], (0, 1))(a, b)
    assert close(h, fad.hessian(lambda a, b: x_closed(a, b) - b, (0, 1))(a, b), 1e-10)
    jac = fad.jacfwd(two_unknowns, (0, 1))(a, b)
    assert close(jac["x"], fad.grad(x_closed, (0, 1))(a, b), 1e-12)


def test_value_is_the_solvers_root_bit_for_bit() -> None:
    found: list[float] = []

    def solve(f: Callable[[Any], Any], x: Any) -> Any:
        r = newton(f, x) + 1e-17  # a root off by a rounding error
        found.append(r)
        return r

    out = fad.jvp(
        lambda a: fad.custom_root(lambda x: x * x - a, 1.0, solve, scalar_solve), (2.0,), (1.0,)
    )
    assert out[0] == found[-1]


def test_solve_runs_on_plain_numbers() -> None:
    seen: list[type] = []

    def solve(f: Callable[[Any], Any], x: Any) -> Any:
        for _ in range(50):
            r = f(x)
            seen.append(type(r))
            x = x - r / (2 * x)
        return x

    def root(a: Any) -> Any:
        return fad.custom_root(lambda x: x * x - a, 1.0, solve, scalar_solve)

    assert fad.grad(root)(9.0) == pytest.approx(1 / 6, rel=1e-14)
    assert set(seen) == {float}


def test_has_aux() -> None:
    def solve(f: Callable[[Any], Any], x: Any) -> Any:
        return newton(f, x), {"iterations": 60}

    def root(a: Any) -> Any:
        x, aux = fad.custom_root(lambda x: x * x - a, 1.0, solve, scalar_solve, has_aux=True)
        assert aux == {"iterations": 60}
        return x

    assert fad.grad(root)(4.0) == 0.25


def test_singular_jacobian_raises_a_clear_error() -> None:
    def double_root(a: Any) -> Any:  # (x − a)² has a root where f'(x) = 0
        return fad.custom_root(lambda x: (x - a) ** 2, 0.0, lambda f, x: 2.0, scalar_solve)

    assert double_root(2.0) == 2.0  # the value needs no derivative
    with pytest.raises(ValueError, match=r"custom_root: the Jacobian of f .* is singular"):
        fad.grad(double_root)(2.0)
    with pytest.raises(ValueError, match=r"singular"):
        fad.jvp(double_root, (2.0,), (1.0,))

    def pair(a: Any) -> Any:
        def f(z: Any) -> Any:
            return (z[0] + z[1] - a, 2 * z[0] + 2 * z[1] - 2 * a)

        return fad.custom_root(f, (0.0, 0.0), lambda f, z: (a * 0.5, a * 0.5), fad.linear_solve)

    with pytest.raises(ValueError, match=r"custom_root.*singular.*no pivot in column 1"):
        fad.grad(lambda a: pair(a)[0])(1.0)


# typed Any: the calls below are wrong on purpose
custom_root: Any = fad.custom_root
fixed_point: Any = fad.fixed_point


def test_custom_root_bad_input() -> None:
    with pytest.raises(TypeError, match="solve must be a function"):
        custom_root(lambda x: x, 1.0, 2.0, scalar_solve)
    with pytest.raises(TypeError, match="tangent_solve returned"):
        fad.grad(
            lambda a: fad.custom_root(lambda x: x - a, 1.0, lambda f, x: a, lambda g, y: (y, y))
        )(1.0)
    with pytest.raises(TypeError, match="pair"):
        fad.custom_root(lambda x: x, 1.0, lambda f, x: x, scalar_solve, has_aux=True)


def babylonian(x: Any, a: Any) -> Any:
    return 0.5 * (x + a / x)


@settings(max_examples=20)
@given(st.floats(0.1, 50.0))
def test_fixed_point_of_the_babylonian_map(a: float) -> None:
    def root(a: Any) -> Any:
        return fad.fixed_point(babylonian, 1.0, a)

    assert root(a) == pytest.approx(math.sqrt(a), rel=1e-15)
    assert close(fad.grad(root)(a), d_sqrt(a, 1), 1e-14)
    assert close(fad.grad(root, mode="memo")(a), d_sqrt(a, 1), 1e-14)
    assert close(fad.hessian(root)(a), d_sqrt(a, 2))
    assert close(fad.taylor(root, a, 3), [d_sqrt(a, k) for k in range(4)], 1e-10)


def test_fixed_point_with_a_pytree_and_closed_over_parameters() -> None:
    # x = 0.5 y + p, y = 0.25 x + q: x = (p + 0.5 q) / 0.875, y = (0.25 p + q) / 0.875
    def solution(p: Any, q: Any) -> Any:
        return fad.fixed_point(
            lambda z, q: {"x": 0.5 * z["y"] + p, "y": 0.25 * z["x"] + q}, {"x": 0.0, "y": 0.0}, q
        )

    z = solution(1.0, 2.0)
    assert close(z, {"x": 2.0 / 0.875, "y": 2.25 / 0.875}, 1e-13)
    jac = fad.jacrev(solution, (0, 1))(1.0, 2.0)
    assert close(jac, {"x": (1 / 0.875, 0.5 / 0.875), "y": (0.25 / 0.875, 1 / 0.875)}, 1e-13)


def test_fixed_point_errors() -> None:
    with pytest.raises(ValueError, match=r"did not converge in 50 steps.*contraction"):
        fad.fixed_point(lambda x, a: 2.0 * x + a, 1.0, 1.0, max_iter=50)
    with pytest.raises(ValueError, match=r"fixed_point: the Jacobian"):
        # x = x + (x - a)² has the fixed point a, where its slope is exactly 1
        fad.grad(lambda a: fad.fixed_point(lambda x, a: x + (x - a) ** 2, a, a, max_iter=1))(1.0)
    with pytest.raises(TypeError, match="must return x's structure"):
        fixed_point(lambda x, a: (x, x), 1.0, 1.0)


def test_linear_solve() -> None:
    x = fad.linear_solve(
        lambda v: (
            2.0 * v[0] + v[1],
            v[0] - v[1],
        ),
        (5.0, 1.0),
    )
    assert close(x, (2.0, 1.0), 1e-15)
    assert fad.linear_solve(lambda v: 4.0 * v, 2.0) == 0.5
    with pytest.raises(ValueError, match="singular"):
        fad.linear_solve(lambda v: (v[0] + v[1], v[0] + v[1]), (1.0, 1.0))
    with pytest.raises(TypeError, match="must map that structure"):
        fad.linear_solve(lambda v: v[0], (1.0, 1.0))
