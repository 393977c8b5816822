"""Random programs with custom rules: one answer in every transform and mode, or an error.

Programs are straight-line code drawn by hypothesis, mixing ordinary operations with
calls of custom functions. Oracles:

- for rules that are exact (a ``custom_jvp`` or a ``custom_vjp`` with a ``bwd`` linear in
  g, equal to its body's derivative), the same program with the body in place of the
  custom function, differentiated by fad, and central differences of the body;
- for a straight-through estimator (``bwd`` passes g on), the body with the estimator
  written as ``x + stop_gradient(round(x) - x)``;
- for gradient clipping (``bwd`` not linear in g), JAX's semantics computed by a
  reverse sweep written out below, in which each clipped value's *summed* cotangent
  is clipped. The tape must match it; every other transform must match it or raise
  :class:`fad.CustomRuleError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm

MODES = ("tape", "memo", "naive")
BOUND = 0.75  # the clipping bound


# --- the custom functions and their twins -------------------------------------------------


@fad.custom_jvp
def cj_sin_mul(a: Any, b: Any) -> Any:
    return math.sin(a) * b  # plain floats only: fad never traces a custom_jvp body


@cj_sin_mul.defjvp
def _cj_rule(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (a, b), (a_dot, b_dot) = primals, tangents
    return cj_sin_mul(a, b), fm.cos(a) * b * a_dot + fm.sin(a) * b_dot


@fad.custom_vjp
def cv_exp_mul(a: Any, b: Any) -> Any:
    return fm.exp(0.5 * a) * b


def _cv_fwd(a: Any, b: Any) -> tuple[Any, Any]:
    e = fm.exp(0.5 * a)
    return e * b, (e, b)


def _cv_bwd(res: tuple[Any, Any], g: Any) -> tuple[Any, Any]:
    e, b = res
    return 0.5 * e * b * g, e * g


cv_exp_mul.defvjp(_cv_fwd, _cv_bwd)


@fad.custom_vjp
def cv_polar(r: Any, t: Any) -> tuple[Any, Any]:
    return r * fm.cos(t), r * fm.sin(t)


def _polar_fwd(r: Any, t: Any) -> tuple[Any, Any]:
    c, s = fm.cos(t), fm.sin(t)
    return (r * c, r * s), (r, c, s)


def _polar_bwd(res: tuple[Any, Any, Any], g: tuple[Any, Any]) -> tuple[Any, Any]:
    r, c, s = res
    gx, gy = g
    return c * gx + s * gy, -r * s * gx + r * c * gy


cv_polar.defvjp(_polar_fwd, _polar_bwd)


@fad.custom_jvp
def cj_polar(r: Any, t: Any) -> tuple[Any, Any]:
    return r * math.cos(t), r * math.sin(t)


@cj_polar.defjvp
def _cj_polar_rule(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (r, t), (r_dot, t_dot) = primals, tangents
    c, s = fm.cos(t), fm.sin(t)
    return cj_polar(r, t), (c * r_dot - r * s * t_dot, s * r_dot + r * c * t_dot)


@fad.custom_vjp
def straight_through(x: Any) -> Any:
    return fm.floor(4.0 * x) / 4.0


straight_through.defvjp(lambda x: (straight_through(x), None), lambda res, g: (g,))


@fad.custom_vjp
def clip(x: Any) -> Any:
    return x


clip.defvjp(lambda x: (x, None), lambda res, g: (min(max(g, -BOUND), BOUND),))


def _st_twin(x: Any) -> Any:
    return x + fad.stop_gradient(math.floor(4.0 * fad.stop_gradient(x)) / 4.0 - x)


# name -> (custom version, twin written without a rule); each maps (a, b) to a value
EXACT: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "cj_sin_mul": (cj_sin_mul, lambda a, b: fm.sin(a) * b),
    "cv_exp_mul": (lambda a, b: cv_exp_mul(a, 0.5 * b), lambda a, b: fm.exp(0.5 * a) * 0.5 * b),
    "cv_polar": (
        lambda a, b: (lambda p: p[0] - 0.5 * p[1])(cv_polar(a, b)),
        lambda a, b: a * fm.cos(b) - 0.5 * a * fm.sin(b),
    ),
    "cj_polar": (
        lambda a, b: (lambda p: p[0] * p[1])(cj_polar(a, b)),
        lambda a, b: a * fm.cos(b) * a * fm.sin(b),
    ),
    "st": (lambda a, b: straight_through(a) * b, lambda a, b: _st_twin(a) * b),
}
PLAIN: dict[str, Callable[[Any, Any], Any]] = {
    "avg": lambda a, b: 0.5 * (a + b),
    "sin_mul": lambda a, b: fm.sin(a) * b,
    "mul_tanh": lambda a, b: a * fm.tanh(b),
    "sq": lambda a, b: 0.5 * a * a,
}
VJP_NAMES = {"cv_exp_mul", "cv_polar", "st"}

Program = tuple[int, list[tuple[str, int, int]]]


@st.composite
def programs(draw: st.DrawFn, names: Sequence[str], max_inputs: int = 3) -> Program:
    """``n`` inputs and ops ``(name, i, j)`` on earlier values; at least one custom op."""
    n = draw(st.integers(1, max_inputs))
    n_ops = draw(st.integers(1, 7))
    ops = []
    for k in range(n, n + n_ops):
        i = draw(st.integers(0, k - 1))
        j = draw(st.one_of(st.integers(0, k - 1), st.just(i)))
        ops.append((draw(st.sampled_from([*names, *sorted(PLAIN)])), i, j))
    if not any(name in names for name, _, _ in ops):
        k = n + len(ops)
        ops.append((draw(st.sampled_from(sorted(names))), k - 1, draw(st.integers(0, k - 1))))
    return n, ops


def run(program: Program, xs: Sequence[Any], twin: bool = False) -> Any:
    _, ops = program
    values = list(xs)
    for name, i, j in ops:
        a, b = values[i], values[j]
        if name in PLAIN:
            values.append(PLAIN[name](a, b))
        elif name == "clip":
            values.append(clip(a) if not twin else a)
        else:
            values.append(EXACT[name][1 if twin else 0](a, b))
    return values[-1]


def close(a: Any, b: Any) -> bool:
    la, lb = fad.tree.tree_leaves(a), fad.tree.tree_leaves(b)
    return len(la) == len(lb) and all(
        math.isclose(x, y, rel_tol=1e-10, abs_tol=1e-10) for x, y in zip(la, lb, strict=True)
    )


POINTS = st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3)


# --- exact rules: every transform and mode agrees with the body --------------------------


@settings(max_examples=40, deadline=None)
@given(program=programs(sorted(EXACT)), point=POINTS)
def test_exact_rules_agree_with_the_body_everywhere(program: Program, point: list[float]) -> None:
    n = program[0]
    xs = point[:n]
    argnums = tuple(range(n))

    def f(*v: Any) -> Any:
        return run(program, v)

    def twin(*v: Any) -> Any:
        return run(program, v, twin=True)

    assert f(*xs) == pytest.approx(twin(*xs), rel=1e-12, abs=1e-12)
    want = fad.grad(twin, argnums=argnums)(*xs)
    for mode in MODES:
        assert close(fad.grad(f, argnums=argnums, mode=mode)(*xs), want), mode
    assert close(fad.jacfwd(f, argnums=argnums)(*xs), want)
    assert close(fad.jacrev(f, argnums=argnums)(*xs), want)
    assert close(fad.vjp(f, *xs)[1](1.0), want)
    v = [0.5 - 0.3 * k for k in range(n)]
    jv = sum(g * t for g, t in zip(want, v, strict=True))
    assert close(fad.jvp(f, xs, v)[1], jv)
    assert close(fad.linearize(f, *xs)[1](*v), jv)
    if n == 1:
        assert close(fad.derivative(f)(xs[0]), want[0])
    # second order: reverse over reverse (fad.hessian) and forward over reverse agree
    h_want = fad.hessian(twin, argnums=argnums)(*xs)
    assert close(fad.hessian(f, argnums=argnums)(*xs), h_want)
    assert close(fad.jacfwd(fad.jacrev(f, argnums=argnums), argnums=argnums)(*xs), h_want)
    assert close(
        fad.jacrev(fad.grad(f, argnums=argnums, mode="memo"), argnums=argnums)(*xs), h_want
    )


@settings(max_examples=25, deadline=None)
@given(program=programs(sorted(set(EXACT) - {"st"}), max_inputs=1), x=st.floats(-1.5, 1.5))
def test_exact_rules_against_central_differences(program: Program, x: float) -> None:
    def f(v: Any) -> Any:
        return run(program, [v])

    h = 1e-5
    fd = (f(x + h) - f(x - h)) / (2 * h)
    assert fad.grad(f)(x) == pytest.approx(fd, rel=1e-5, abs=1e-6)
    if any(name in VJP_NAMES for name, _, _ in program[1]):
        # bwd gives first derivatives only: Taylor mode refuses, naming custom_jvp
        with pytest.raises(fad.CustomRuleError, match="custom_jvp"):
            fad.taylor(f, x, 2)
    else:
        got = fad.taylor(f, x, 3)
        want = fad.taylor(lambda v: run(program, [v], twin=True), x, 3)
        assert close(got, want)


# --- a bwd not linear in g: JAX's answer on the tape, an error elsewhere -----------------


def jax_gradient(program: Program, xs: Sequence[float]) -> list[float]:
    """The gradient with each clipped value's summed cotangent clipped (JAX's rule)."""
    n, ops = program
    values = list(xs)
    for name, i, j in ops:
        values.append(run((2, [(name, 0, 1)]), [values[i], values[j]], twin=True))
    adj = [0.0] * len(values)
    adj[-1] = 1.0
    for k in range(len(values) - 1, n - 1, -1):
        name, i, j = ops[k - n]
        if name == "clip":
            adj[i] += min(max(adj[k], -BOUND), BOUND)
            continue
        op = PLAIN[name] if name in PLAIN else EXACT[name][1]
        da, db = fad.grad(op, argnums=(0, 1))(values[i], values[j])
        adj[i] += da * adj[k]
        adj[j] += db * adj[k]
    return adj[:n]


@settings(max_examples=40, deadline=None)
@given(program=programs(["clip", "cv_exp_mul", "cj_sin_mul"]), point=POINTS)
def test_nonlinear_bwd_matches_jax_or_raises(program: Program, point: list[float]) -> None:
    n = program[0]
    xs = point[:n]
    argnums = tuple(range(n))

    def f(*v: Any) -> Any:
        return run(program, v)

    want = jax_gradient(program, xs)
    assert close(fad.grad(f, argnums=argnums)(*xs), tuple(want))
    assert close(fad.vjp(f, *xs)[1](1.0), tuple(want))
    assert close(fad.jacrev(f, argnums=argnums)(*xs), tuple(want))
    has_clip = any(name == "clip" for name, _, _ in program[1])
    others: list[Callable[[], Any]] = [
        *(lambda m=m: fad.grad(f, argnums=argnums, mode=m)(*xs) for m in ("memo", "naive")),
        lambda: fad.jacfwd(f, argnums=argnums)(*xs),
        lambda: tuple(fad.jvp(f, xs, [float(k == i) for k in range(n)])[1] for i in range(n)),
    ]
    errors = []
    for transform in others:
        try:
            got = transform()
        except fad.CustomRuleError as e:
            errors.append(str(e))
        else:
            assert close(got, tuple(want))
    # second order: forward over reverse agrees with fad.hessian (reverse over
    # reverse, which applies the rule at both levels) or refuses
    h = fad.hessian(f, argnums=argnums)(*xs)
    try:
        h_fwd = fad.jacfwd(fad.jacrev(f, argnums=argnums), argnums=argnums)(*xs)
    except fad.CustomRuleError as e:
        errors.append(str(e))
    else:
        assert close(h_fwd, h)
    assert has_clip or not errors
    assert all("not linear" in e for e in errors)
