"""The transforms against closed forms, finite differences and each other."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
from fad.testing import check_grads
from fad.tree import tree_leaves, tree_structure

MODES = ["tape", "memo", "naive"]


def close(a: float, b: float, tol: float = 1e-9) -> bool:
    return abs(a - b) <= tol * (1.0 + abs(b))


def tree_close(a: Any, b: Any, tol: float = 1e-9) -> bool:
    return tree_structure(a) == tree_structure(b) and all(
        close(x, y, tol) for x, y in zip(tree_leaves(a), tree_leaves(b), strict=True)
    )


# ------------------------------------------------------------------ grad, value_and_grad


@pytest.mark.parametrize("mode", MODES)
def test_grad_closed_forms(mode: str) -> None:
    x = 0.7
    assert close(fad.grad(fm.sin, mode=mode)(x), math.cos(x))
    assert close(fad.grad(lambda x: x**3 + 2 * x, mode=mode)(x), 3 * x**2 + 2)
    assert close(
        fad.grad(lambda x: fm.exp(fm.sin(x)), mode=mode)(x), math.cos(x) * math.exp(math.sin(x))
    )
    assert close(fad.grad(lambda x: x / (1 + x * x), mode=mode)(x), (1 - x * x) / (1 + x * x) ** 2)


@pytest.mark.parametrize("mode", MODES)
def test_grad_argnums(mode: str) -> None:
    def f(x: float, y: float, z: float) -> float:
        return x * y * y + fm.sin(z)

    assert fad.grad(f, 1, mode=mode)(2.0, 3.0, 0.0) == 12.0
    assert fad.grad(f, (0, 2), mode=mode)(2.0, 3.0, 0.0) == (9.0, 1.0)
    assert fad.grad(f, -3, mode=mode)(2.0, 3.0, 0.0) == 9.0
    assert fad.grad(f, (2,), mode=mode)(2.0, 3.0, 0.0) == (1.0,)
    assert fad.value_and_grad(f, (0, 1), mode=mode)(2.0, 3.0, 0.0) == (18.0, (9.0, 12.0))


def test_grad_has_aux_and_kwargs() -> None:
    def f(x: float, scale: float = 1.0) -> tuple[float, dict[str, float]]:
        return scale * x * x, {"x": x}

    g, aux = fad.grad(f, has_aux=True)(3.0, scale=2.0)
    assert g == 12.0
    assert aux == {"x": 3.0}
    assert type(aux["x"]) is float  # the tracer is taken off the aux data
    (v, aux2), g2 = fad.value_and_grad(f, has_aux=True)(3.0)
    assert (v, aux2, g2) == (9.0, {"x": 3.0}, 6.0)


def test_grad_integer_input_is_differentiated_as_float() -> None:
    g = fad.grad(lambda x: x * x)(3)
    assert g == 6.0
    assert type(g) is float


def test_grad_constant_function_is_zero() -> None:
    assert fad.grad(lambda x: 5.0)(1.0) == 0.0
    assert fad.grad(lambda p: 5.0)({"a": 1.0, "b": [2.0]}) == {"a": 0.0, "b": [0.0]}


def test_grad_of_pytree_argument_with_none() -> None:
    g = fad.grad(lambda p: p["w"][0] * p["w"][1] + p["b"])({"w": (2.0, 3.0), "b": 1.0, "n": None})
    assert g == {"b": 1.0, "n": None, "w": (3.0, 2.0)}


def test_grad_does_not_mutate_arguments() -> None:
    args = [1.0, 2.0]
    fad.grad(lambda v: v[0] * v[1])(args)
    assert args == [1.0, 2.0]


# ------------------------------------------------------------------ jvp


def test_jvp_closed_form_and_pytrees() -> None:
    y, t = fad.jvp(fm.sin, (0.3,), (2.0,))
    assert close(y, math.sin(0.3))
    assert close(t, 2 * math.cos(0.3))
    out, tan = fad.jvp(
        lambda p: (p["a"] * p["b"], [p["a"]]), ({"a": 2.0, "b": 5.0},), ({"a": 1.0, "b": 0.5},)
    )
    assert out == (10.0, [2.0])
    assert tan == (5.0 + 1.0, [1.0])


def test_jvp_has_aux_and_constant_outputs() -> None:
    y, t, aux = fad.jvp(lambda x: (x * x, x), (3.0,), (1.0,), has_aux=True)
    assert (y, t, aux) == (9.0, 6.0, 3.0)
    assert type(aux) is float
    assert fad.jvp(lambda x: (x, 2.0), [1.0], [1.0]) == ((1.0, 2.0), (1.0, 0.0))


# ------------------------------------------------------------------ vjp


@pytest.mark.parametrize("mode", MODES)
def test_vjp_many_calls_one_cotangent_per_primal(mode: str) -> None:
    def f(x: float, p: dict[str, float]) -> tuple[float, float]:
        return x * p["a"], fm.sin(p["b"])

    out, f_vjp = fad.vjp(f, 2.0, {"a": 3.0, "b": 0.0}, mode=mode)
    assert out == (6.0, 0.0)
    first = f_vjp((1.0, 0.0))
    assert first == (3.0, {"a": 2.0, "b": 0.0})
    assert f_vjp((0.0, 1.0)) == (0.0, {"a": 0.0, "b": 1.0})
    assert f_vjp((1.0, 0.0)) == first  # calling again gives the same answer
    assert f_vjp((2.0, 2.0)) == (6.0, {"a": 4.0, "b": 2.0})


@pytest.mark.parametrize("mode", MODES)
def test_vjp_has_aux(mode: str) -> None:
    out, f_vjp, aux = fad.vjp(lambda x: (x * x, "note"), 3.0, has_aux=True, mode=mode)
    assert (out, aux) == (9.0, "note")
    assert f_vjp(1.0) == (6.0,)


def test_vjp_single_primal_gives_one_tuple() -> None:
    _, f_vjp = fad.vjp(lambda v: v[0] * v[1], [2.0, 3.0])
    assert f_vjp(1.0) == ([3.0, 2.0],)


# ------------------------------------------------------------------ linearize


def test_linearize_runs_fun_once_and_matches_jvp() -> None:
    calls = []

    def f(x: float, p: dict[str, float]) -> list[float]:
        calls.append(1)
        return [fm.sin(x) * p["a"], x * x + p["b"], 4.0]

    primals = (0.5, {"a": 2.0, "b": 1.0})
    y, f_jvp = fad.linearize(f, *primals)
    assert len(calls) == 1
    assert y == f(*primals)
    for tangents in [
        (1.0, {"a": 0.0, "b": 0.0}),
        (0.0, {"a": 1.0, "b": 0.0}),
        (0.3, {"a": -1.0, "b": 2.0}),
    ]:
        calls.clear()
        got = f_jvp(*tangents)
        assert not calls
        want = fad.jvp(f, primals, tangents)[1]
        assert tree_close(got, want)


def test_linearize_has_aux_and_linearity() -> None:
    y, f_jvp, aux = fad.linearize(lambda x, y: (x * y * y, x), 2.0, 3.0, has_aux=True)
    assert (y, aux) == (18.0, 2.0)
    assert f_jvp(1.0, 0.0) == 9.0
    assert f_jvp(0.0, 1.0) == 12.0
    assert f_jvp(2.0, 1.0) == 2 * 9.0 + 12.0
    assert f_jvp(0.0, 0.0) == 0.0


def test_linearize_inside_grad() -> None:
    # d/dx of the jvp of sin at x along 1: d/dx cos(x) = -sin(x)
    def h(x: float) -> float:
        _, f_jvp = fad.linearize(fm.sin, x)
        return f_jvp(1.0)

    assert close(fad.grad(h)(0.4), -math.sin(0.4))


# ------------------------------------------------------------------ jacobians


def test_jacobian_layout_as_jax() -> None:
    def f(x: float, y: list[float]) -> dict[str, Any]:
        return {"s": x * y[0], "v": (y[1], x + y[1])}

    args = (2.0, [3.0, 5.0])
    want1 = {"s": 3.0, "v": (0.0, 1.0)}  # argnums=0: input is a scalar
    want01 = {
        "s": (3.0, [2.0, 0.0]),
        "v": ((0.0, [0.0, 1.0]), (1.0, [0.0, 1.0])),
    }
    for jac in (fad.jacfwd, fad.jacrev):
        assert jac(f)(*args) == want1
        assert jac(f, argnums=(0, 1))(*args) == want01
        assert jac(f, argnums=1)(*args) == {"s": [2.0, 0.0], "v": ([0.0, 1.0], [0.0, 1.0])}


@pytest.mark.parametrize("mode", MODES)
def test_jacrev_modes_and_has_aux(mode: str) -> None:
    def f(v: list[float]) -> tuple[list[float], str]:
        return [v[0] * v[1], fm.exp(v[0])], "aux"

    jac, aux = fad.jacrev(f, has_aux=True, mode=mode)([0.0, 2.0])
    assert aux == "aux"
    assert jac == [[2.0, 0.0], [1.0, 0.0]]
    assert fad.jacfwd(f, has_aux=True)([0.0, 2.0]) == (jac, "aux")


def test_jacobian_of_a_function_without_inputs_leaves() -> None:
    assert fad.jacfwd(lambda p, x: x * 2.0, argnums=0)(None, 1.0) is None
    assert fad.jacrev(lambda p, x: [x, x], argnums=0)(None, 1.0) == [None, None]
    assert fad.jacfwd(lambda p: [1.0, 2.0])(()) == [(), ()]
    assert fad.jacrev(lambda p: [1.0, 2.0])(()) == [(), ()]


def rosenbrock(x: list[float]) -> float:
    return sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def rosenbrock_hessian(x: list[float]) -> list[list[float]]:
    n = len(x)
    h = [[0.0] * n for _ in range(n)]
    for i in range(n - 1):
        h[i][i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        h[i + 1][i + 1] += 200.0
        h[i][i + 1] += -400.0 * x[i]
        h[i + 1][i] += -400.0 * x[i]
    return h


@pytest.mark.parametrize("mode", MODES)
def test_hessian_rosenbrock_10d(mode: str) -> None:
    x = [0.1 * i - 0.3 for i in range(10)]
    h = fad.hessian(rosenbrock, mode=mode)(x)
    assert tree_close(h, rosenbrock_hessian(x))
    assert tree_close(
        fad.jacrev(fad.jacrev(rosenbrock, mode=mode), mode=mode)(x), rosenbrock_hessian(x)
    )
    assert tree_close(fad.jacfwd(fad.jacfwd(rosenbrock))(x), rosenbrock_hessian(x))


def test_hessian_has_aux_and_none_outputs() -> None:
    h, aux = fad.hessian(lambda v: (v[0] ** 3 * v[1], {"n": v[0]}), has_aux=True)([1.0, 2.0])
    assert h == [[12.0, 3.0], [3.0, 0.0]]
    assert aux == {"n": 1.0}
    assert type(aux["n"]) is float
    # None in the output is an empty subtree in the Jacobian too
    for jac in (fad.jacfwd, fad.jacrev):
        assert jac(lambda x: (None, 2.0 * x))(1.0) == (None, 2.0)


def test_hessian_tuple_argnums() -> None:
    h = fad.hessian(lambda x, y: x * x * y, argnums=(0, 1))(2.0, 3.0)
    assert h == ((6.0, 4.0), (4.0, 0.0))


# ------------------------------------------------------------------ derivative, stop_gradient


def exp_sin_derivatives(x: float) -> list[float]:
    s, c = math.sin(x), math.cos(x)
    f = math.exp(s)
    return [
        f,
        c * f,
        (c * c - s) * f,
        (c**3 - 3 * s * c - c) * f,
        (c**4 - 6 * s * c * c - 4 * c * c + 3 * s * s + s) * f,
    ]


@pytest.mark.parametrize("x", [-1.3, 0.0, 0.4, 2.0])
def test_derivative_order_4_of_exp_sin(x: float) -> None:
    f = lambda x: fm.exp(fm.sin(x))
    want = exp_sin_derivatives(x)
    for order in range(5):
        assert close(fad.derivative(f, order)(x), want[order])


def test_derivative_of_constant_and_integer_input() -> None:
    assert fad.derivative(lambda x: 3.0)(1.0) == 0.0
    assert fad.derivative(lambda x: 3.0, order=3)(1.0) == 0.0
    assert fad.derivative(lambda x: x * x)(2) == 4.0


def test_derivative_high_order_inside_grad() -> None:
    # d/dx f''(x) = f'''(x), for f = exp∘sin
    f = lambda x: fm.exp(fm.sin(x))
    for mode in MODES:
        assert close(fad.grad(fad.derivative(f, 2), mode=mode)(0.4), exp_sin_derivatives(0.4)[3])
    assert close(fad.derivative(fad.derivative(f, 2), 2)(0.4), exp_sin_derivatives(0.4)[4])


@pytest.mark.parametrize("mode", MODES)
def test_stop_gradient(mode: str) -> None:
    assert fad.grad(lambda x: x * fad.stop_gradient(x * x), mode=mode)(3.0) == 9.0
    # it stops every level: no derivative from an outer transform flows through
    inner = lambda x: fad.grad(lambda y: fad.stop_gradient(x) * y, mode=mode)(1.0)
    assert fad.grad(inner, mode=mode)(2.0) == 0.0
    assert fad.stop_gradient({"a": fad.Dual(fad.Dual(1.0, 2.0), 3.0), "s": "x"}) == {
        "a": 1.0,
        "s": "x",
    }


# ------------------------------------------------------------------ drawn functions

UNARY: list[Callable[[Any], Any]] = [
    fm.sin,
    fm.cos,
    fm.tanh,
    lambda a: a * a,
    lambda a: 1.0 / (1.0 + a * a),
]
BINARY: list[Callable[[Any, Any], Any]] = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (1.5 + fm.sin(b)),
]


@st.composite
def programs(draw: st.DrawFn) -> tuple[Callable[..., Any], int, int]:
    """A random straight-line program of n inputs and m outputs, built of smooth ops."""
    n = draw(st.integers(1, 4))
    steps = []
    for k in range(draw(st.integers(1, 10))):
        size = n + k
        if draw(st.booleans()):
            steps.append((draw(st.integers(0, len(UNARY) - 1)), draw(st.integers(0, size - 1)), -1))
        else:
            steps.append(
                (
                    draw(st.integers(0, len(BINARY) - 1)),
                    draw(st.integers(0, size - 1)),
                    draw(st.integers(0, size - 1)),
                )
            )
    m = draw(st.integers(1, 3))
    outs = [draw(st.integers(0, n + len(steps) - 1)) for _ in range(m)]

    def f(*xs: Any) -> list[Any]:
        vals = list(xs)
        for op, i, j in steps:
            vals.append(UNARY[op](vals[i]) if j < 0 else BINARY[op](vals[i], vals[j]))
        return [vals[o] for o in outs]

    return f, n, m


points = st.floats(-2.0, 2.0, allow_nan=False)


@settings(max_examples=40)
@given(
    programs(),
    st.lists(points, min_size=4, max_size=4),
    st.lists(points, min_size=4, max_size=4),
    st.lists(points, min_size=3, max_size=3),
    st.sampled_from(MODES),
)
def test_vjp_jvp_transpose_identity(
    prog: tuple[Callable[..., Any], int, int],
    x: list[float],
    v: list[float],
    u: list[float],
    mode: str,
) -> None:
    f, n, m = prog
    _, jv = fad.jvp(f, tuple(x[:n]), tuple(v[:n]))
    _, f_vjp = fad.vjp(f, *x[:n], mode=mode)
    ju = f_vjp(u[:m])
    lhs = sum(a * b for a, b in zip(u[:m], jv, strict=True))
    rhs = sum(a * b for a, b in zip(ju, v[:n], strict=True))
    assert close(lhs, rhs, 1e-8)


@settings(max_examples=40)
@given(programs(), st.lists(points, min_size=4, max_size=4), st.sampled_from(MODES))
def test_jacfwd_equals_jacrev(
    prog: tuple[Callable[..., Any], int, int], x: list[float], mode: str
) -> None:
    f, n, _ = prog
    nums = tuple(range(n))
    assert tree_close(fad.jacfwd(f, nums)(*x[:n]), fad.jacrev(f, nums, mode=mode)(*x[:n]), 1e-8)


@settings(max_examples=15)
@given(programs(), st.lists(points, min_size=4, max_size=4))
def test_check_grads_on_drawn_programs(
    prog: tuple[Callable[..., Any], int, int], x: list[float]
) -> None:
    f, n, _ = prog
    check_grads(f, x[:n], order=2, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------ check_grads


def test_check_grads_passes_on_correct_functions() -> None:
    check_grads(lambda x, y: fm.exp(x) * fm.sin(y), (0.3, 1.1), order=3)
    check_grads(
        lambda p: {"r": fm.sqrt(p["a"] ** 2 + p["b"] ** 2)}, ({"a": 1.0, "b": 2.0},), order=2
    )
    check_grads(lambda x: fm.log(x) / x, (1.7,), order=2, modes=("fwd",))
    check_grads(lambda x: fm.atan(x), (0.2,), order=2, modes=("tape", "naive"))


def test_check_grads_catches_a_wrong_rule() -> None:
    bad_cube = fad.primitive(lambda x: x**3, lambda ans, x: 2.0 * x * x, name="bad_cube")
    for modes in [("fwd",), ("tape",), ("memo",), ("naive",)]:
        with pytest.raises(AssertionError, match="finite differences"):
            check_grads(bad_cube, (1.5,), order=1, modes=modes)
    # a right first derivative with a wrong second one is caught at order 2 only
    odd_square = fad.primitive(
        lambda x: x * x, lambda ans, x: 2.0 * fad.stop_gradient(x), name="odd_square"
    )
    check_grads(odd_square, (1.5,), order=1)
    with pytest.raises(AssertionError):
        check_grads(odd_square, (1.5,), order=2)


def test_check_grads_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        check_grads(fm.sin, (1.0,), modes=("sideways",))
    with pytest.raises(ValueError, match="order"):
        check_grads(fm.sin, (1.0,), order=0)
