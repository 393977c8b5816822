"""``fad.custom_jvp`` / ``fad.custom_vjp``: JAX's documented examples, every transform.

Oracles: closed forms, finite differences (``fad.testing.check_grads``), and the
derivative of the same function without a custom rule.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
from fad.testing import check_grads

MODES = ("tape", "memo", "naive")


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --- log1pexp: a rule that keeps the gradient exact -------------------------------------------


def log1pexp_naive(x: Any) -> Any:
    return fm.log(1.0 + fm.exp(x))


@fad.custom_jvp
def log1pexp(x: Any) -> Any:
    return fm.log(1.0 + fm.exp(x))


@log1pexp.defjvp
def log1pexp_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    ans = log1pexp(x)
    return ans, (1.0 - 1.0 / (1.0 + fm.exp(x))) * x_dot


@fad.custom_jvp
def log1pexp_float(x: float) -> float:
    """The body on plain floats only (stable for large x): fad never traces it."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


@log1pexp_float.defjvp
def log1pexp_float_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    return log1pexp_float(x), x_dot / (1.0 + fm.exp(-x))


@pytest.mark.parametrize("mode", MODES)
def test_log1pexp_gradient_exact(mode: str) -> None:
    assert fad.grad(log1pexp, mode=mode)(100.0) == 1.0
    assert fad.grad(log1pexp, mode=mode)(3.0) == pytest.approx(sigmoid(3.0), rel=1e-15)
    assert fad.grad(log1pexp_float, mode=mode)(1000.0) == 1.0
    with pytest.raises(OverflowError):  # the naive gradient cannot even be evaluated
        fad.grad(log1pexp_naive, mode=mode)(1000.0)


def test_log1pexp_forward_and_higher_orders() -> None:
    x = 0.7
    s = sigmoid(x)
    assert fad.jvp(log1pexp, (x,), (2.0,)) == pytest.approx((math.log1p(math.exp(x)), 2.0 * s))
    # the rule is differentiated: second and third derivatives of log1pexp
    d2, d3 = s * (1 - s), s * (1 - s) * (1 - 2 * s)
    for mode in MODES:
        assert fad.grad(fad.grad(log1pexp, mode=mode), mode=mode)(x) == pytest.approx(d2)
    assert fad.hessian(log1pexp)(x) == pytest.approx(d2)
    assert fad.derivative(log1pexp, order=2)(x) == pytest.approx(d2)
    assert fad.taylor(log1pexp, x, 3)[2:] == pytest.approx([d2, d3])
    assert fad.taylor(log1pexp_float, 900.0, 3) == pytest.approx([900.0, 1.0, 0.0, 0.0], abs=1e-12)


@settings(max_examples=20)
@given(st.floats(-20, 20))
def test_log1pexp_check_grads(x: float) -> None:
    check_grads(log1pexp, (x,), order=2)
    check_grads(log1pexp_float, (x,), order=2)


# --- JAX's second example: a convention at a singular point ---------------------------------


@fad.custom_jvp
def f_sqrt(x: Any) -> Any:
    return x / (1.0 + fm.sqrt(x))


@f_sqrt.defjvp
def f_sqrt_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    ans = f_sqrt(x)
    return ans, ((fm.sqrt(x) + 2.0) / (2.0 * (fm.sqrt(x) + 1.0) ** 2)) * x_dot


def test_rule_at_a_point_where_the_body_is_not_differentiable() -> None:
    with pytest.raises(ZeroDivisionError):
        fad.grad(lambda x: x / (1.0 + fm.sqrt(x)))(0.0)
    for mode in MODES:
        assert fad.grad(f_sqrt, mode=mode)(0.0) == 1.0
    assert fad.jvp(f_sqrt, (0.0,), (1.0,)) == (0.0, 1.0)


# --- gradient clipping: a bwd rule nonlinear in the cotangent -------------------------------------


@fad.custom_vjp
def clip_gradient(lo: Any, hi: Any, x: Any) -> Any:
    return x  # the identity function


def clip_gradient_fwd(lo: Any, hi: Any, x: Any) -> tuple[Any, Any]:
    return x, (lo, hi)  # save the bounds as residuals


def clip_gradient_bwd(res: Any, g: Any) -> tuple[Any, Any, Any]:
    lo, hi = res
    return None, None, min(max(g, lo), hi)  # None: zero cotangents for lo and hi


clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)


def clip_sin(x: Any) -> Any:
    x = clip_gradient(-0.75, 0.75, x)
    return fm.sin(x)


@settings(max_examples=25)
@given(x=st.floats(-10, 10))
def test_gradient_clipping(x: float) -> None:
    """JAX's example: the cotangent reaching clip_gradient is cos(x), and it is clipped."""
    assert fad.grad(clip_sin)(x) == min(max(math.cos(x), -0.75), 0.75)
    assert clip_sin(x) == math.sin(x)


@pytest.mark.parametrize("mode", ["memo", "naive"])
def test_gradient_clipping_refused_where_bwd_cannot_see_the_summed_cotangent(mode: str) -> None:
    # memo scales B(1) and naive calls a backprop once per path: neither can hand bwd
    # the summed cotangent, so a bwd that is not linear in g is refused, naming the mode
    with pytest.raises(fad.CustomRuleError, match=r'not linear.*mode="tape"'):
        fad.grad(clip_sin, mode=mode)(2.0)


def test_gradient_clipping_scales_with_the_cotangent() -> None:
    # 3·clip(x): the cotangent reaching the rule is 3, clipped to 0.75
    assert fad.grad(lambda x: 3.0 * clip_gradient(-0.75, 0.75, x))(2.0) == 0.75
    assert fad.vjp(lambda x: clip_gradient(-1.0, 1.0, x), 2.0)[1](0.5) == (0.5,)
    assert fad.vjp(lambda x: clip_gradient(-1.0, 1.0, x), 2.0)[1](5.0) == (1.0,)


def test_gradient_clipping_gets_the_summed_cotangent() -> None:
    # the issue's example: 4·clip(x)·... used twice; JAX clips the sum of the uses
    def f(x: Any) -> Any:
        y = clip_gradient(-0.75, 0.75, x)
        return 4.0 * fm.sin(y) + y * y

    x = 0.3
    want = min(max(4.0 * math.cos(x) + 2.0 * x, -0.75), 0.75)
    assert fad.grad(f)(x) == want
    assert fad.vjp(f, x)[1](1.0) == (want,)
    assert fad.jacrev(f)(x) == want


def test_clipping_in_forward_mode_is_refused() -> None:
    # JAX refuses forward mode on a custom_vjp; fad takes the Jacobian from bwd at unit
    # cotangents, which a bwd nonlinear in g cannot give: it raises, naming custom_jvp
    for transform in (
        lambda: fad.jvp(clip_sin, (2.0,), (1.0,)),
        lambda: fad.jacfwd(clip_sin)(2.0),
        lambda: fad.derivative(clip_sin)(2.0),
        lambda: fad.jacfwd(fad.jacrev(clip_sin))(2.0),
        lambda: fad.linearize(clip_sin, 2.0)[1](1.0),
    ):
        with pytest.raises(fad.CustomRuleError, match="custom_jvp"):
            transform()
    with pytest.raises(fad.CustomRuleError, match=r"Taylor mode.*custom_jvp"):
        fad.taylor(clip_sin, 2.0, 2)
    # reverse-over-reverse (fad.hessian) applies the rule at the outer level too, so
    # the outer cotangent -sin(2) reaching clip_gradient is clipped to -0.75
    assert fad.hessian(clip_sin)(2.0) == max(-math.sin(2.0), -0.75)
    assert fad.jacrev(fad.jacrev(clip_sin))(2.0) == max(-math.sin(2.0), -0.75)
    assert fad.hessian(clip_sin)(0.2) == 0.0


def test_clip_bounds_as_nondiff_argnums() -> None:
    @partial(fad.custom_vjp, nondiff_argnums=(0, 1))
    def clip(lo: float, hi: float, x: Any) -> Any:
        return x

    def fwd(lo: float, hi: float, x: Any) -> tuple[Any, Any]:
        return x, None

    def bwd(lo: float, hi: float, res: Any, g: Any) -> tuple[Any]:
        return (min(max(g, lo), hi),)

    clip.defvjp(fwd, bwd)
    assert fad.grad(lambda x: fm.sin(clip(-0.75, 0.75, x)))(3.0) == -0.75
    with pytest.raises(TypeError, match="nondiff_argnums"):
        fad.grad(lambda lo: clip(lo, 0.75, 1.0))(-0.5)


# --- custom_vjp with a linear bwd: every mode, nesting -----------------------------------------


@fad.custom_vjp
def f_vjp(x: Any, y: Any) -> Any:
    return fm.sin(x) * y


def f_vjp_fwd(x: Any, y: Any) -> tuple[Any, Any]:
    return f_vjp(x, y), (fm.cos(x), fm.sin(x), y)


def f_vjp_bwd(res: Any, g: Any) -> tuple[Any, Any]:
    cos_x, sin_x, y = res
    return cos_x * g * y, sin_x * g


f_vjp.defvjp(f_vjp_fwd, f_vjp_bwd)


@pytest.mark.parametrize("mode", MODES)
def test_custom_vjp_every_mode(mode: str) -> None:
    x, y = 2.0, 3.0
    gx, gy = fad.grad(f_vjp, argnums=(0, 1), mode=mode)(x, y)
    assert (gx, gy) == pytest.approx((math.cos(x) * y, math.sin(x)))
    # reverse over reverse differentiates bwd
    assert fad.grad(fad.grad(f_vjp, mode=mode), mode=mode)(x, y) == pytest.approx(-math.sin(x) * y)


def test_custom_vjp_check_grads() -> None:
    check_grads(f_vjp, (0.7, -1.3), order=2)
    # clipping at ±10 is not linear in g: reverse mode only (forward mode raises)
    # (check_grads' "rev" runs memo and naive too, which refuse it: tape against the
    # closed form, to second order)
    clipped_exp = lambda x: clip_gradient(-10.0, 10.0, fm.exp(x))
    assert fad.grad(clipped_exp)(0.3) == pytest.approx(math.exp(0.3), rel=1e-15)
    assert fad.hessian(clipped_exp)(0.3) == pytest.approx(math.exp(0.3), rel=1e-15)
    with pytest.raises(fad.CustomRuleError, match="custom_jvp"):
        check_grads(lambda x: clip_gradient(-10.0, 10.0, fm.exp(x)), (0.3,), modes=("fwd",))


def test_custom_vjp_bwd_runs_with_actual_cotangent() -> None:
    seen: list[Any] = []

    @fad.custom_vjp
    def ident(x: Any) -> Any:
        return x

    def bwd(res: Any, g: Any) -> tuple[Any]:
        seen.append(g)
        return (g,)

    ident.defvjp(lambda x: (x, None), bwd)
    assert fad.grad(lambda x: 5.0 * ident(x))(1.0) == 5.0
    assert seen == [5.0]
    assert ident(2.0) == 2.0  # outside a transform: only the function runs
    assert seen == [5.0]


# --- custom_jvp: nondiff_argnums, defjvps, pytrees, several outputs ----------------------------


def test_custom_jvp_nondiff_argnums() -> None:
    @partial(fad.custom_jvp, nondiff_argnums=(0,))
    def app(f: Any, x: Any) -> Any:
        return f(x)

    @app.defjvp
    def app_jvp(f: Any, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x,), (x_dot,) = primals, tangents
        return f(x), 2.0 * x_dot

    assert app(lambda y: y * y, 3.0) == 9.0
    for mode in MODES:
        assert fad.grad(lambda x: app(lambda y: y * y, x), mode=mode)(3.0) == 2.0
    assert fad.jvp(lambda x: app(fm.sin, x), (1.0,), (1.0,)) == (math.sin(1.0), 2.0)


def test_defjvps() -> None:
    @fad.custom_jvp
    def f(x: Any, y: Any) -> Any:
        return fm.sin(x) * y

    f.defjvps(
        lambda x_dot, ans, x, y: fm.cos(x) * x_dot * y,
        lambda y_dot, ans, x, y: fm.sin(x) * y_dot,
    )
    x, y = 1.0, 2.0
    want = (math.cos(x) * y, math.sin(x))
    assert fad.grad(f, argnums=(0, 1))(x, y) == pytest.approx(want)
    assert fad.jvp(f, (x, y), (1.0, 1.0))[1] == pytest.approx(sum(want))
    check_grads(f, (x, y), order=2)

    @fad.custom_jvp
    def g(x: Any, y: Any) -> Any:
        return x * 0.0 + y

    g.defjvps(None, lambda y_dot, ans, x, y: y_dot)
    assert fad.grad(g, argnums=(0, 1))(1.0, 2.0) == (0.0, 1.0)


def test_pytrees_and_several_outputs() -> None:
    @fad.custom_jvp
    def polar(p: dict[str, Any]) -> tuple[Any, Any]:
        r, t = p["r"], p["t"]
        return r * fm.cos(t), r * fm.sin(t)

    @polar.defjvp
    def polar_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (p,), (p_dot,) = primals, tangents
        r, t, r_dot, t_dot = p["r"], p["t"], p_dot["r"], p_dot["t"]
        c, s = fm.cos(t), fm.sin(t)
        return polar(p), (c * r_dot - r * s * t_dot, s * r_dot + r * c * t_dot)

    def plain(p: dict[str, Any]) -> tuple[Any, Any]:
        return p["r"] * fm.cos(p["t"]), p["r"] * fm.sin(p["t"])

    p = {"r": 2.0, "t": 0.5}
    for mode in MODES:
        assert fad.jacrev(polar, mode=mode)(p) == fad.jacrev(plain, mode=mode)(p)
    assert fad.jacfwd(polar)(p) == fad.jacfwd(plain)(p)
    h = fad.hessian(lambda q: polar(q)[0])(p)
    assert h["t"]["t"] == pytest.approx(-2.0 * math.cos(0.5))
    check_grads(polar, (p,), order=2)


def test_custom_vjp_pytrees() -> None:
    @fad.custom_vjp
    def dot(a: list[Any], b: list[Any]) -> Any:
        return a[0] * b[0] + a[1] * b[1]

    def fwd(a: list[Any], b: list[Any]) -> tuple[Any, Any]:
        return dot(a, b), (a, b)

    def bwd(res: Any, g: Any) -> tuple[Any, Any]:
        a, b = res
        return [g * b[0], g * b[1]], [g * a[0], g * a[1]]

    dot.defvjp(fwd, bwd)
    ga, gb = fad.grad(dot, argnums=(0, 1))([1.0, 2.0], [3.0, 4.0])
    assert (ga, gb) == ([3.0, 4.0], [1.0, 2.0])
    check_grads(dot, ([1.0, 2.0], [3.0, 4.0]), order=2)


def test_keyword_and_default_arguments() -> None:
    @fad.custom_jvp
    def scale(x: Any, k: float = 3.0) -> Any:
        return k * x

    @scale.defjvp
    def scale_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x, k), (x_dot, k_dot) = primals, tangents
        return scale(x, k), k * x_dot + x * k_dot

    assert fad.grad(scale)(2.0) == 3.0
    assert fad.grad(lambda x: scale(x, k=4.0))(2.0) == 4.0
    assert fad.grad(scale, argnums=1)(2.0, 5.0) == 2.0


def test_custom_inside_taylor_and_derivative() -> None:
    # a custom_jvp exp: the rule refers to the function itself, every order follows
    @fad.custom_jvp
    def my_exp(x: Any) -> Any:
        return fm.exp(x)

    @my_exp.defjvp
    def my_exp_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x,), (x_dot,) = primals, tangents
        ans = my_exp(x)
        return ans, ans * x_dot

    assert fad.taylor(my_exp, 0.5, 8) == pytest.approx([math.exp(0.5)] * 9, rel=1e-12)
    # bwd gives first derivatives only: Taylor mode refuses a custom_vjp
    with pytest.raises(fad.CustomRuleError, match="custom_jvp"):
        fad.taylor(lambda x: f_vjp(x, 3.0), 2.0, 4)
    with pytest.raises(fad.CustomRuleError, match="custom_jvp"):
        fad.derivative(lambda x: f_vjp(x, 3.0), 2)(2.0)


# --- errors -------------------------------------------------------------------------------


def test_errors() -> None:
    @fad.custom_jvp
    def no_rule(x: Any) -> Any:
        return x

    with pytest.raises(AttributeError, match="No JVP defined"):
        no_rule(1.0)

    @fad.custom_vjp
    def no_vjp(x: Any) -> Any:
        return x

    with pytest.raises(AttributeError, match="No VJP defined"):
        no_vjp(1.0)

    @fad.custom_jvp
    def bad(x: Any, flag: str) -> Any:
        return x

    bad.defjvp(lambda primals, tangents: (primals[0], tangents[0]))
    assert bad(1.0, "a") == 1.0
    with pytest.raises(TypeError, match="nondiff_argnums"):
        fad.grad(bad)(1.0, "a")

    @partial(fad.custom_jvp, nondiff_argnums=(1,))
    def nd(x: Any, k: float) -> Any:
        return x * k

    with pytest.raises(TypeError, match="defjvps cannot be used with nondiff_argnums"):
        nd.defjvps(None)

    @fad.custom_vjp
    def wrong(x: Any) -> Any:
        return x

    wrong.defvjp(lambda x: (x, None), lambda res, g: g)
    with pytest.raises(TypeError, match="one cotangent per differentiated argument"):
        fad.grad(wrong)(1.0)

    @fad.custom_jvp
    def wrong_jvp(x: Any) -> Any:
        return x

    wrong_jvp.defjvp(lambda primals, tangents: tangents[0])
    with pytest.raises(TypeError, match="pair"):
        fad.grad(wrong_jvp)(1.0)


def test_nondiff_argnames_and_jax_options() -> None:
    @partial(fad.custom_jvp, nondiff_argnames=("fn",))
    def app(fn: Any, x: Any) -> Any:
        return fn(x)

    @partial(app.defjvp, symbolic_zeros=False)
    def app_jvp(fn: Any, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        return fn(primals[0]), 3.0 * tangents[0]

    assert app.nondiff_argnums == (0,)
    assert fad.grad(lambda x: app(fm.exp, x))(0.0) == 3.0
    with pytest.raises(ValueError, match="not a parameter"):
        fad.custom_vjp(lambda x: x, nondiff_argnames=("y",))
    with pytest.raises(NotImplementedError, match="symbolic_zeros"):
        app.defjvp(app_jvp, symbolic_zeros=True)


def test_custom_vjp_several_outputs_and_linearize() -> None:
    @fad.custom_vjp
    def polar(r: Any, t: Any) -> tuple[Any, Any]:
        return r * fm.cos(t), r * fm.sin(t)

    def fwd(r: Any, t: Any) -> tuple[Any, Any]:
        c, s = fm.cos(t), fm.sin(t)
        return (r * c, r * s), (r, c, s)

    def bwd(res: Any, g: tuple[Any, Any]) -> tuple[Any, Any]:
        r, c, s = res
        gx, gy = g
        return c * gx + s * gy, -r * s * gx + r * c * gy

    polar.defvjp(fwd, bwd)
    r, t = 2.0, 0.5
    want = fad.jacfwd(polar, argnums=(0, 1))(r, t)  # the body, differentiated
    for mode in MODES:
        got = fad.jacrev(polar, argnums=(0, 1), mode=mode)(r, t)
        for row_g, row_w in zip(got, want, strict=True):
            assert row_g == pytest.approx(row_w)
    check_grads(polar, (r, t), order=2)
    _, f_jvp = fad.linearize(f_vjp, 2.0, 3.0)
    assert f_jvp(1.0, 0.0) == pytest.approx(math.cos(2.0) * 3.0)


def test_forward_mode_calls_the_rule_once_with_the_tangents() -> None:
    seen: list[Any] = []

    @fad.custom_jvp
    def total(xs: list[Any]) -> Any:
        return fm.fsum(xs)

    @total.defjvp
    def total_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        seen.append(tangents[0])
        return total(*primals), 2.0 * fm.fsum(tangents[0])

    xs = [1.0, 2.0, 3.0, 4.0]
    assert fad.jvp(total, (xs,), ([1.0, 0.5, 0.0, 0.0],)) == (10.0, 3.0)
    assert seen == [[1.0, 0.5, 0.0, 0.0]]
    seen.clear()
    assert fad.jacfwd(total)(xs) == [2.0] * 4
    assert len(seen) == 4  # one per jvp, not one per jvp and input
    assert fad.grad(total)(xs) == [2.0] * 4
    assert fad.hessian(lambda v: total(v) * v[0])(xs)[0] == [4.0, 2.0, 2.0, 2.0]


# --- issue 16: one answer in every transform --------------------------------------------------


@fad.custom_vjp
def straight_through_floor(x: Any) -> Any:
    return fm.floor(x)


straight_through_floor.defvjp(lambda x: (straight_through_floor(x), None), lambda res, g: (g,))


def test_straight_through_estimator_gives_one_answer_everywhere() -> None:
    # floor in the forward pass, identity in the backward: d/dx (floor(x)·x) := x + floor(x)
    def f(x: Any) -> Any:
        return straight_through_floor(x) * x

    want = 2.3 + 2.0
    got = [
        *(fad.grad(f, mode=mode)(2.3) for mode in MODES),
        fad.vjp(f, 2.3)[1](1.0)[0],
        fad.jacrev(f)(2.3),
        fad.linearize(f, 2.3)[1](1.0),
        fad.jvp(f, (2.3,), (1.0,))[1],
        fad.jacfwd(f)(2.3),
        fad.derivative(f)(2.3),
    ]
    assert got == pytest.approx([want] * len(got), rel=1e-15)
    # second order: d²/dx² = 2 (bwd passes g on, so d/dx of x + floor(x)'s rule is 1 + 1)
    assert fad.hessian(f)(2.3) == fad.jacfwd(fad.jacrev(f))(2.3) == 2.0
    with pytest.raises(fad.CustomRuleError, match="custom_jvp"):
        fad.taylor(f, 2.3, 2)


def test_issue_gradient_clipping_example() -> None:
    # 4·clip(sin x) at 0.3: the cotangent 4 reaching the rule is clipped to 0.75 (JAX)
    def f(x: Any) -> Any:
        return 4.0 * clip_gradient(-0.75, 0.75, fm.sin(x))

    assert fad.grad(f)(0.3) == pytest.approx(0.75 * math.cos(0.3), rel=1e-15)
    for mode in ("memo", "naive"):
        with pytest.raises(fad.CustomRuleError, match='mode="tape"'):
            fad.grad(f, mode=mode)(0.3)


def test_custom_vjp_several_outputs_gets_all_cotangents_in_one_bwd_call() -> None:
    # JAX calls bwd once with the cotangents of every output: a bwd that clips their sum
    calls: list[Any] = []

    @fad.custom_vjp
    def pair(x: Any) -> tuple[Any, Any]:
        return x, x

    def bwd(res: Any, g: tuple[Any, Any]) -> tuple[Any]:
        calls.append(g)
        return (min(max(g[0] + g[1], -1.0), 1.0),)

    pair.defvjp(lambda x: (pair(x), None), bwd)
    a, b = 0.75, 0.5
    # two calls of pair: each bwd sees its own cotangents (and clips nothing here)
    assert fad.grad(lambda x: a * pair(x)[0] + b * pair(x)[1])(2.0) == a + b
    assert sorted(tuple(c) for c in calls) == [(0.0, b), (a, 0.0)]
    calls.clear()
    # one call: one bwd with both cotangents, whose sum is clipped
    assert fad.grad(lambda x: (lambda p: a * p[0] + b * p[1])(pair(x)))(2.0) == 1.0
    assert [tuple(c) for c in calls] == [(a, b)]
