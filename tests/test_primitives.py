"""Every primitive of the registry, in every tracer and mode, against finite differences.

The table :data:`CASES` gives each registry entry its public entry point (a
``fad.math`` function or an operator) and a hypothesis strategy for points of its
domain, away from jumps and singular points so that finite differences are
meaningful there. ``test_every_primitive_has_a_case`` fails when an entry is added to
the registry without a row here, so a new primitive cannot half-succeed.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
import fad.special as fs
from fad import Codual, Dual
from fad._primitives import REGISTRY

MODES = ("tape", "memo", "naive")
Args = tuple[Any, ...]


# --- domains ---------------------------------------------------------------------------


def real(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Finite floats in [lo, hi]."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Floats with lo <= |x| <= hi, either sign."""
    return st.builds(lambda v, neg: -v if neg else v, real(lo, hi), st.booleans())


def off_integers(kmin: int, kmax: int, margin: float = 0.1) -> st.SearchStrategy[float]:
    """Floats k + f with k in [kmin, kmax] and f in [margin, 1 - margin]."""
    return st.builds(lambda k, f: k + f, st.integers(kmin, kmax), real(margin, 1.0 - margin))


def unary(s: st.SearchStrategy[float]) -> st.SearchStrategy[Args]:
    return st.tuples(s)


def binary(a: st.SearchStrategy[Any], b: st.SearchStrategy[Any]) -> st.SearchStrategy[Args]:
    return st.tuples(a, b)


def remainder_args(lo: float, hi: float) -> st.SearchStrategy[Args]:
    """(x, y) with x/y = n + f, f in [lo, hi]: away from the jumps of mod/fmod/remainder."""
    return st.builds(
        lambda n, f, y: ((n + f) * y, y), st.integers(-5, 5), real(lo, hi), away_from_zero(0.5, 3.0)
    )


def not_origin(args: Args) -> bool:
    return math.hypot(*args) > 0.1


def off_branch_cut(args: Args) -> bool:
    """atan2(y, x) jumps by 2π across the negative x axis."""
    y, x = args
    return not_origin(args) and not (x < 0 and abs(y) < 0.1)


GAMMA_DOMAIN = st.one_of(real(0.1, 15.0), off_integers(-5, -1))
LGAMMA_DOMAIN = st.one_of(real(0.1, 30.0), off_integers(-6, -1))
POSITIVE = real(0.01, 100.0)


@dataclass(frozen=True)
class Case:
    """How to test one primitive: its public entry point and points of its domain."""

    fun: Callable[..., Any]
    domain: st.SearchStrategy[Args]
    const: frozenset[int] = frozenset()  # argument positions that are not differentiated


CASES: dict[str, Case] = {
    # arithmetic
    "add": Case(operator.add, binary(real(-10, 10), real(-10, 10))),
    "sub": Case(operator.sub, binary(real(-10, 10), real(-10, 10))),
    "mul": Case(operator.mul, binary(real(-10, 10), real(-10, 10))),
    "truediv": Case(operator.truediv, binary(real(-10, 10), away_from_zero(0.1, 10))),
    "neg": Case(operator.neg, unary(real(-10, 10))),
    "pos": Case(operator.pos, unary(real(-10, 10))),
    "pow": Case(operator.pow, binary(real(0.1, 5), real(-3, 3))),
    "abs": Case(operator.abs, unary(away_from_zero(0.01, 100))),
    "floordiv": Case(operator.floordiv, remainder_args(0.05, 0.95)),
    "mod": Case(operator.mod, remainder_args(0.05, 0.95)),
    # piecewise constant
    "floor": Case(fm.floor, unary(off_integers(-10, 10))),
    "ceil": Case(fm.ceil, unary(off_integers(-10, 10))),
    "trunc": Case(fm.trunc, unary(off_integers(-10, 10))),
    # trigonometric
    "sin": Case(fm.sin, unary(real(-10, 10))),
    "cos": Case(fm.cos, unary(real(-10, 10))),
    "tan": Case(fm.tan, unary(real(-1.4, 1.4))),
    "asin": Case(fm.asin, unary(real(-0.95, 0.95))),
    "acos": Case(fm.acos, unary(real(-0.95, 0.95))),
    "atan": Case(fm.atan, unary(real(-50, 50))),
    "atan2": Case(fm.atan2, binary(real(-5, 5), real(-5, 5)).filter(off_branch_cut)),
    "degrees": Case(fm.degrees, unary(real(-100, 100))),
    "radians": Case(fm.radians, unary(real(-1000, 1000))),
    # hyperbolic
    "sinh": Case(fm.sinh, unary(real(-10, 10))),
    "cosh": Case(fm.cosh, unary(real(-10, 10))),
    "tanh": Case(fm.tanh, unary(real(-5, 5))),
    "asinh": Case(fm.asinh, unary(real(-50, 50))),
    "acosh": Case(fm.acosh, unary(real(1.05, 50))),
    "atanh": Case(fm.atanh, unary(real(-0.95, 0.95))),
    # exponentials and logarithms
    "exp": Case(fm.exp, unary(real(-20, 20))),
    "exp2": Case(fm.exp2, unary(real(-30, 30))),
    "expm1": Case(fm.expm1, unary(real(-20, 20))),
    "log": Case(fm.log, unary(POSITIVE)),
    "log2": Case(fm.log2, unary(POSITIVE)),
    "log10": Case(fm.log10, unary(POSITIVE)),
    "log1p": Case(fm.log1p, unary(real(-0.95, 100))),
    "sqrt": Case(fm.sqrt, unary(POSITIVE)),
    "cbrt": Case(fm.cbrt, unary(away_from_zero(0.01, 100))),
    "math_pow": Case(fm.pow, binary(real(0.1, 5), real(-3, 3))),
    "fma": Case(fm.fma, st.tuples(real(-10, 10), real(-10, 10), real(-10, 10))),
    # sign and remainders
    "fabs": Case(fm.fabs, unary(away_from_zero(0.01, 100))),
    "copysign": Case(fm.copysign, binary(away_from_zero(0.1, 10), away_from_zero(0.1, 10))),
    "fmod": Case(fm.fmod, remainder_args(0.05, 0.95)),
    "remainder": Case(fm.remainder, remainder_args(-0.45, 0.45)),
    "ldexp": Case(fm.ldexp, binary(real(-10, 10), st.integers(-5, 5)), frozenset({1})),
    # special functions
    "erf": Case(fm.erf, unary(real(-4, 4))),
    "erfc": Case(fm.erfc, unary(real(-4, 4))),
    "gamma": Case(fm.gamma, unary(GAMMA_DOMAIN)),
    "lgamma": Case(fm.lgamma, unary(LGAMMA_DOMAIN)),
    "digamma": Case(fm.digamma, unary(LGAMMA_DOMAIN)),
    "polygamma": Case(fm.polygamma, binary(st.integers(0, 3), real(0.3, 30.0)), frozenset({0})),
    # any number of arguments (the registry holds the two-argument forms)
    "hypot": Case(fm.hypot, binary(real(-5, 5), real(-5, 5)).filter(not_origin)),
    "fsum": Case(lambda a, b: fm.fsum([a, b]), binary(real(-10, 10), real(-10, 10))),
    "sumprod": Case(
        lambda a, b, c, d: fm.sumprod([a, b], [c, d]),
        st.tuples(real(-5, 5), real(-5, 5), real(-5, 5), real(-5, 5)),
    ),
    # fad.special (the registry holds logsumexp of two terms a and two weights b)
    "sigmoid": Case(fs.sigmoid, unary(real(-30, 30))),
    "softplus": Case(fs.softplus, unary(real(-30, 30))),
    "logaddexp": Case(fs.logaddexp, binary(real(-20, 20), real(-20, 20))),
    "logsumexp": Case(
        lambda a0, a1, b0, b1: fs.logsumexp([a0, a1], b=[b0, b1]),
        st.tuples(real(-10, 10), real(-10, 10), real(0.1, 3), real(0.1, 3)),
    ),
    "xlogy": Case(fs.xlogy, binary(real(-5, 5), real(0.1, 10))),
    "xlog1py": Case(fs.xlog1py, binary(real(-5, 5), real(-0.9, 10))),
    "erfinv": Case(fs.erfinv, unary(real(-0.95, 0.95))),
    "ndtr": Case(fs.ndtr, unary(real(-8, 8))),
    "ndtri": Case(fs.ndtri, unary(real(0.02, 0.98))),
    "log_ndtr": Case(fs.log_ndtr, unary(real(-30, 8))),
    "betaln": Case(fs.betaln, binary(real(0.2, 20), real(0.2, 20))),
    "gammainc": Case(fs.gammainc, binary(real(0.5, 10), real(0.1, 20)), frozenset({0})),
    "gammaincc": Case(fs.gammaincc, binary(real(0.5, 10), real(0.1, 20)), frozenset({0})),
}

NAMES = sorted(REGISTRY)
DIFFERENTIABLE = sorted(name for name in REGISTRY if REGISTRY[name].partials is not None)


# --- derivatives by each route ------------------------------------------------------------


def central_difference(f: Callable[[float], float], x: float) -> tuple[float, float]:
    """f'(x) by a Richardson-extrapolated central difference, and the scale |f(x)|."""
    h = 1e-4 * max(abs(x), 0.1)

    def d(step: float) -> float:
        return (f(x + step) - f(x - step)) / (2.0 * step)

    return (4.0 * d(h / 2.0) - d(h)) / 3.0, abs(f(x))


def close(ad: Any, fd: float, scale: float) -> bool:
    return math.isclose(float(ad), fd, rel_tol=1e-8, abs_tol=1e-9 * (1.0 + scale))


def along(fun: Callable[..., Any], args: Args, i: int) -> Callable[[Any], Any]:
    """``fun`` as a function of its argument ``i``, the others fixed."""

    def f(x: Any) -> Any:
        return fun(*args[:i], x, *args[i + 1 :])

    return f


def tangent(out: Any) -> Any:
    """The tangent of a Dual result; a zero-derivative primitive gives a plain number."""
    return out.tangent if isinstance(out, Dual) else 0.0


def cotangent(out: Any) -> Any:
    """The backprop of 1 of a hand-built Codual result (0 for a plain number)."""
    return out.backprop(1.0) if isinstance(out, Codual) else 0.0


def first_derivatives(f: Callable[[Any], Any], x: float) -> dict[str, Any]:
    """f'(x) by Dual, a hand-built Codual and fad.grad in every reverse mode."""
    routes: dict[str, Any] = {
        "Dual": tangent(f(Dual(x, 1.0))),
        "Codual": cotangent(f(Codual(x, lambda k: k))),
        "jvp": fad.jvp(f, (x,), (1.0,))[1],
    }
    for mode in MODES:
        routes[mode] = fad.grad(f, mode=mode)(x)
    return routes


def second_derivatives(f: Callable[[Any], Any], x: float) -> dict[str, Any]:
    """f''(x) by nesting: Dual over Dual, Dual over Codual, and both ways in between."""

    def fwd(z: Any) -> Any:
        return fad.jvp(f, (z,), (1.0,))[1]

    routes: dict[str, Any] = {
        "Dual(Dual)": tangent(tangent(f(Dual(Dual(x, 1.0, 1), Dual(1.0, 0.0, 1), 2)))),
        "Dual(Codual)": cotangent(tangent(f(Dual(Codual(x, lambda k: k, 1), 1.0, 2)))),
        "Codual(Dual)": tangent(cotangent(f(Codual(Dual(x, 1.0, 1), lambda k: k, 2)))),
        "fwd(fwd)": fad.jvp(fwd, (x,), (1.0,))[1],
    }
    for mode in MODES:
        routes[f"fwd({mode})"] = fad.jvp(fad.grad(f, mode=mode), (x,), (1.0,))[1]
        routes[f"{mode}(fwd)"] = fad.grad(fwd, mode=mode)(x)
        routes[f"{mode}({mode})"] = fad.grad(fad.grad(f, mode=mode), mode=mode)(x)
    return routes


def differentiated(case: Case, args: Args) -> list[int]:
    return [i for i in range(len(args)) if i not in case.const]


# --- the tests ------------------------------------------------------------------------------


# Registry entries that are Python operators (the rest are fad.math functions).
OPERATORS = {"abs", "add", "floordiv", "mod", "mul", "neg", "pos", "pow", "sub", "truediv"}
WRAPPER_NAMES = {"math_pow": "pow"}  # registry name -> fad.math name, where they differ


def test_every_primitive_has_a_case_and_a_public_entry_point() -> None:
    assert set(CASES) == set(REGISTRY), "each registry entry needs a row in CASES, and only they"
    for name, prim in REGISTRY.items():
        assert prim.name == name
        assert callable(prim.impl), name
        if name in OPERATORS:
            assert hasattr(Dual, f"__{name}__"), f"no operator for the primitive {name}"
        else:
            public = WRAPPER_NAMES.get(name, name)
            assert public in fm.__all__ or public in fs.__all__, (
                f"neither fad.math nor fad.special has a wrapper for the primitive {name}"
            )


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=15, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_entry_point_is_the_primitive(name: str, data: st.DataObject) -> None:
    """On floats, the public entry point returns exactly the primitive's impl."""
    case = CASES[name]
    args = data.draw(case.domain)
    partials = REGISTRY[name].partials
    assert partials is None or len(partials) == len(args), "one partial per argument"
    expected = REGISTRY[name].impl(*args)
    got = case.fun(*args)
    assert type(got) is type(expected)
    assert got == expected or (math.isnan(got) and math.isnan(expected))


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=15)
@given(data=st.data())
def test_first_derivative_matches_finite_differences(name: str, data: st.DataObject) -> None:
    case = CASES[name]
    args = data.draw(case.domain)
    for i in differentiated(case, args):
        f = along(case.fun, args, i)
        fd, scale = central_difference(f, float(args[i]))
        for route, ad in first_derivatives(f, float(args[i])).items():
            assert close(ad, fd, scale), (name, i, route, ad, fd)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=8)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(name: str, data: st.DataObject) -> None:
    case = CASES[name]
    args = data.draw(case.domain)
    for i in differentiated(case, args):
        f = along(case.fun, args, i)

        def first(x: float, f: Callable[[Any], Any] = f) -> float:
            return float(tangent(f(Dual(x, 1.0))))

        fd, scale = central_difference(first, float(args[i]))
        for route, ad in second_derivatives(f, float(args[i])).items():
            assert close(ad, fd, scale), (name, i, route, ad, fd)


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - set(DIFFERENTIABLE)))
@settings(max_examples=10)
@given(data=st.data())
def test_zero_derivative_primitives_return_plain_values(name: str, data: st.DataObject) -> None:
    case = CASES[name]
    args = data.draw(case.domain)
    expected = case.fun(*args)
    for i in range(len(args)):
        f = along(case.fun, args, i)
        out = f(Dual(args[i], 1.0))
        assert out == expected
        assert not isinstance(out, Dual)
        for mode in MODES:
            assert fad.grad(f, mode=mode)(args[i]) == 0.0


# --- random compositions: Dual and every Codual mode agree ------------------------------------


def squash(z: Any, lo: float, hi: float) -> Any:
    """Map any real into [lo, hi] smoothly (with fad ops), to stay inside a domain."""
    return lo + (hi - lo) * (0.5 + 0.5 * fm.sin(z))


UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": operator.neg,
    "abs": abs,
    "sin": fm.sin,
    "cos": fm.cos,
    "tan": lambda z: fm.tan(squash(z, -1.2, 1.2)),
    "asin": lambda z: fm.asin(squash(z, -0.9, 0.9)),
    "acos": lambda z: fm.acos(squash(z, -0.9, 0.9)),
    "atan": fm.atan,
    "sinh": lambda z: fm.sinh(squash(z, -3, 3)),
    "cosh": lambda z: fm.cosh(squash(z, -3, 3)),
    "tanh": fm.tanh,
    "asinh": fm.asinh,
    "acosh": lambda z: fm.acosh(squash(z, 1.1, 5)),
    "atanh": lambda z: fm.atanh(squash(z, -0.9, 0.9)),
    "exp": lambda z: fm.exp(squash(z, -3, 3)),
    "exp2": lambda z: fm.exp2(squash(z, -3, 3)),
    "expm1": lambda z: fm.expm1(squash(z, -3, 3)),
    "log": lambda z: fm.log(squash(z, 0.1, 10)),
    "log2": lambda z: fm.log2(squash(z, 0.1, 10)),
    "log10": lambda z: fm.log10(squash(z, 0.1, 10)),
    "log1p": lambda z: fm.log1p(squash(z, -0.9, 10)),
    "sqrt": lambda z: fm.sqrt(squash(z, 0.1, 10)),
    "cbrt": lambda z: fm.cbrt(squash(z, 0.1, 10)),
    "erf": fm.erf,
    "erfc": fm.erfc,
    "gamma": lambda z: fm.gamma(squash(z, 0.2, 5)),
    "lgamma": lambda z: fm.lgamma(squash(z, 0.2, 5)),
    "digamma": lambda z: fm.digamma(squash(z, 0.2, 5)),
    "degrees": fm.degrees,
    "radians": fm.radians,
    "fabs": fm.fabs,
    "floor": fm.floor,
    "sigmoid": fs.sigmoid,
    "softplus": fs.softplus,
    "ndtr": fs.ndtr,
    "log_ndtr": fs.log_ndtr,
    "erfinv": lambda z: fs.erfinv(squash(z, -0.9, 0.9)),
    "ndtri": lambda z: fs.ndtri(squash(z, 0.05, 0.95)),
    "gammainc": lambda z: fs.gammainc(2.5, squash(z, 0.1, 5)),
    "gammaincc": lambda z: fs.gammaincc(0.7, squash(z, 0.1, 5)),
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": lambda a, b: a / squash(b, 0.5, 3),
    "pow": lambda a, b: squash(a, 0.5, 3) ** squash(b, -2, 2),
    "math_pow": lambda a, b: fm.pow(squash(a, 0.5, 3), squash(b, -2, 2)),
    "atan2": lambda a, b: fm.atan2(a, squash(b, 0.5, 3)),
    "hypot": lambda a, b: fm.hypot(a, squash(b, 0.5, 3)),
    "copysign": fm.copysign,
    "fmod": lambda a, b: fm.fmod(a, squash(b, 0.5, 3)),
    "mod": lambda a, b: a % squash(b, 0.5, 3),
    "remainder": lambda a, b: fm.remainder(a, squash(b, 0.5, 3)),
    "fsum": lambda a, b: fm.fsum([a, b, a]),
    "sumprod": lambda a, b: fm.sumprod([a, b], [b, 2.0]),
    "dist": lambda a, b: fm.dist([a, 1.0], [b, -1.0]),
    "prod": lambda a, b: fm.prod([a, b, 0.5]),
    "logaddexp": fs.logaddexp,
    "logsumexp": lambda a, b: fs.logsumexp([a, b, 0.5], b=[1.0, 2.0, squash(a, 0.5, 1)]),
    "xlogy": lambda a, b: fs.xlogy(a, squash(b, 0.5, 3)),
    "xlog1py": lambda a, b: fs.xlog1py(a, squash(b, -0.5, 3)),
    "betaln": lambda a, b: fs.betaln(squash(a, 0.5, 3), squash(b, 0.5, 3)),
}

Tree = Any
leaf = st.one_of(st.sampled_from([("x",), ("y",)]), st.builds(lambda c: ("c", c), real(-3, 3)))
trees: st.SearchStrategy[Tree] = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), children),
        st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), children, children),
    ),
    max_leaves=6,
)


def evaluate(tree: Tree, x: Any, y: Any) -> Any:
    kind = tree[0]
    if kind == "x":
        return x
    if kind == "y":
        return y
    if kind == "c":
        return tree[1]
    if kind == "u":
        return UNARY[tree[1]](evaluate(tree[2], x, y))
    return BINARY[tree[1]](evaluate(tree[2], x, y), evaluate(tree[3], x, y))


def agree(a: Any, b: Any) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=150)
@given(tree=trees, x=real(-2, 2), y=real(-2, 2))
def test_dual_and_coduals_agree_on_random_compositions(tree: Tree, x: float, y: float) -> None:
    def f(a: Any, b: Any) -> Any:
        return evaluate(tree, a, b)

    try:
        value = f(x, y)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):  # TypeError: complex
        assume(False)
    assume(math.isfinite(value) and abs(value) < 1e12)
    try:
        forward = [fad.jvp(f, (x, y), t)[1] for t in ((1.0, 0.0), (0.0, 1.0))]
    except ZeroDivisionError:  # an infinite derivative (e.g. fmod's jump hit exactly)
        assume(False)
    assume(all(math.isfinite(d) and abs(d) < 1e12 for d in forward))
    for mode in MODES:
        reverse = fad.grad(f, argnums=(0, 1), mode=mode)(x, y)
        assert all(agree(r, d) for r, d in zip(reverse, forward, strict=True)), (mode, reverse)
    by_hand = cotangent(f(Codual(x, lambda k: k), y))
    assert agree(by_hand, forward[0]), ("Codual", by_hand, forward)


# --- points where the derivative is infinite: a clear error, never a wrong number ---------------


@pytest.mark.parametrize(
    ("fun", "x", "name"),
    [
        (fm.sqrt, 0.0, "fad.math.sqrt"),
        (fm.cbrt, 0.0, "fad.math.cbrt"),
        (fm.asin, 1.0, "fad.math.asin"),
        (fm.asin, -1.0, "fad.math.asin"),
        (fm.acos, 1.0, "fad.math.acos"),
        (fm.acosh, 1.0, "fad.math.acosh"),
        (lambda x: x**0.5, 0.0, "x ** y"),
        (lambda x: fm.pow(x, 0.5), 0.0, "fad.math.pow"),
        (lambda x: fm.atan2(x, 0.0), 0.0, "fad.math.atan2"),
    ],
)
def test_infinite_derivative_raises_naming_function_and_point(
    fun: Callable[[Any], Any], x: float, name: str
) -> None:
    assert math.isfinite(fun(x))  # the value itself is fine
    routes: Sequence[Callable[[], Any]] = [
        lambda: fun(Dual(x, 1.0)),
        lambda: fun(Codual(x, lambda k: k)),
        *[lambda mode=mode: fad.grad(fun, mode=mode)(x) for mode in MODES],
    ]
    for route in routes:
        with pytest.raises(ZeroDivisionError, match="no finite derivative") as info:
            route()
        assert name in str(info.value)
        assert repr(x) in str(info.value)
    # Without a derivative asked for, nothing is evaluated and nothing raises.
    assert math.isfinite(fad.grad(lambda z: fun(fad.stop_gradient(z)) + z)(x))


def test_kinks_have_derivative_zero() -> None:
    for fun in (abs, fm.fabs, lambda x: fm.hypot(x, 0.0), lambda x: fm.copysign(x, -2.0)):
        assert tangent(fun(Dual(0.0, 1.0))) == 0.0
        for mode in MODES:
            assert fad.grad(fun, mode=mode)(0.0) == 0.0


def test_pow_special_points() -> None:
    # d/dy 0**y = 0 for y > 0 (as JAX); x**0 has x-derivative 0 even at x = 0.
    assert fad.grad(lambda y: 0.0**y)(2.0) == 0.0
    assert fad.grad(lambda x: x**0.0)(0.0) == 0.0
    assert fad.grad(lambda x: x**2)(0.0) == 0.0
    # A negative base with an integer exponent differentiates in the base...
    assert fad.grad(lambda x: x**3)(-2.0) == 12.0
    assert fad.grad(lambda x: fm.pow(x, 3.0))(-2.0) == 12.0
    # ...but not in the exponent: log(x) is not real there.
    with pytest.raises(ValueError, match="not real for x < 0"):
        fad.grad(lambda y: (-2.0) ** y)(2.0)
    with pytest.raises(ValueError, match=r"fad\.math\.pow"):
        fad.grad(lambda y: fm.pow(-2.0, y))(2.0)


def test_polygamma_closed_forms() -> None:
    euler = 0.5772156649015329
    assert math.isclose(fm.digamma(1.0), -euler, rel_tol=1e-14)
    assert math.isclose(fm.digamma(0.5), -euler - 2 * math.log(2), rel_tol=1e-14)
    assert math.isclose(fm.digamma(-0.5), fm.digamma(1.5), rel_tol=1e-13)
    assert math.isclose(fm.polygamma(1, 1.0), math.pi**2 / 6, rel_tol=1e-14)
    assert math.isclose(fm.polygamma(1, 0.5), math.pi**2 / 2, rel_tol=1e-14)
    assert math.isclose(fm.polygamma(2, 1.0), -2 * 1.2020569031595942, rel_tol=1e-13)
    assert math.isclose(fm.polygamma(3, 1.0), math.pi**4 / 15, rel_tol=1e-13)
    # reflection: ψ'(1-x) + ψ'(x) = π² / sin²(πx)
    for x in (-3.3, -0.7, 0.25):
        lhs = fm.polygamma(1, 1 - x) + fm.polygamma(1, x)
        assert math.isclose(lhs, (math.pi / math.sin(math.pi * x)) ** 2, rel_tol=1e-12)
    for pole in (0.0, -1.0, -7.0):
        with pytest.raises(ValueError, match="math domain error"):
            fm.digamma(pole)
    with pytest.raises(TypeError, match="int order"):
        fm.polygamma(1.0, 2.0)  # type: ignore[call-overload]
    # Nested to third order: d³/dx³ lgamma = ψ''.
    d3 = fad.grad(fad.grad(fad.grad(fm.lgamma)))(2.5)
    assert math.isclose(d3, fm.polygamma(2, 2.5), rel_tol=1e-12)


def test_variadic_forms() -> None:
    for n in (1, 3, 5):
        xs = [0.5 * (i + 1) for i in range(n)]
        g = fad.grad(lambda *a: fm.hypot(*a), argnums=tuple(range(n)))(*xs)
        norm = math.hypot(*xs)
        assert all(math.isclose(gi, xi / norm, rel_tol=1e-14) for gi, xi in zip(g, xs, strict=True))
        g = fad.grad(lambda *a: fm.fsum(a), argnums=tuple(range(n)))(*xs)
        assert list(g) == [1.0] * n
        rev = xs[::-1]
        g = fad.grad(lambda *a, rev=rev: fm.sumprod(a, rev), argnums=tuple(range(n)))(*xs)
        assert list(g) == rev
        g = fad.grad(lambda *a: fm.prod(a, start=2.0), argnums=tuple(range(n)))(*xs)
        for i, gi in enumerate(g):
            assert math.isclose(gi, 2.0 * math.prod(xs[:i] + xs[i + 1 :]), rel_tol=1e-14)
    assert fm.hypot() == 0.0
    g = fad.grad(lambda p: fm.dist([p, 0.0], [3.0, 4.0]))(0.0)
    assert math.isclose(g, -0.6, rel_tol=1e-14)


# --- x ** y near base 0: every transform raises the clear error, or all agree ---------------
# Programs built around ``**`` / ``fad.math.pow`` with bases and exponents that are exactly 0,
# ±tiny, integers. The oracles: every route to the same derivative agrees (or every one
# raises ZeroDivisionError "no finite derivative"), a closed form (second-order forward
# propagation by hand) where no base is 0, and one-sided finite differences where a base is
# exactly 0 at a regular point.

TINY = (5e-324, -5e-324, 1e-300, -1e-300, 1e-8, -1e-8)
REGULAR = (0.0, -0.0, 1.0, -1.0, 2.0, 3.0, 0.5, -2.0)
POW_POINT = st.sampled_from(REGULAR + TINY)
POW_CONST = st.sampled_from([0.0, 1.0, 2.0, 3.0, 0.5, -1.0, 2, 1, 0])

pow_leaf = st.one_of(st.sampled_from([("x",), ("y",)]), st.builds(lambda c: ("c", c), POW_CONST))


def _pow_node(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    return st.tuples(st.sampled_from(["pow", "mpow"]), children, children)


pow_trees: st.SearchStrategy[Tree] = _pow_node(
    st.recursive(
        pow_leaf,
        lambda children: st.one_of(
            _pow_node(children),
            st.tuples(st.sampled_from(["add", "sub", "mul"]), children, children),
            st.tuples(st.sampled_from(["exp", "sin", "neg"]), children),
        ),
        max_leaves=4,
    )
)


def pow_eval(tree: Tree, x: Any, y: Any) -> Any:
    op = tree[0]
    if op == "x":
        return x
    if op == "y":
        return y
    if op == "c":
        return tree[1]
    args = [pow_eval(t, x, y) for t in tree[1:]]
    if op == "pow":
        return args[0] ** args[1]
    if op == "mpow":
        return fm.pow(args[0], args[1])
    if op == "add":
        return args[0] + args[1]
    if op == "sub":
        return args[0] - args[1]
    if op == "mul":
        return args[0] * args[1]
    if op == "exp":
        return fm.exp(args[0])
    if op == "sin":
        return fm.sin(args[0])
    return -args[0]


def has_variable(tree: Tree) -> bool:
    return tree[0] in ("x", "y") or (tree[0] != "c" and any(map(has_variable, tree[1:])))


class NoClosedForm(Exception):
    """A base is 0 (or the closed form overflows): no closed-form oracle here."""


Jet2 = tuple[float, float, float, float, float]  # f, f', f'', and the scales of f', f''


def closed_form(tree: Tree, t: float) -> Jet2:
    """(f, f', f'') of ``tree`` along x = y = t by hand-written second-order rules.

    Also the scales of f' and f'': the same sums with every term made positive, so
    that a comparison can allow for the rounding of terms that cancel.
    """
    op = tree[0]
    if op in ("x", "y"):
        return t, 1.0, 0.0, 1.0, 0.0
    if op == "c":
        return float(tree[1]), 0.0, 0.0, 0.0, 0.0
    if op in ("exp", "sin", "neg"):
        u, du, ddu, su, ssu = closed_form(tree[1], t)
        if op == "neg":
            return -u, -du, -ddu, su, ssu
        if op == "exp":
            v = math.exp(u)
            return v, v * du, v * (ddu + du * du), v * su, v * (ssu + su * su)
        c, s = math.cos(u), math.sin(u)
        return s, c * du, c * ddu - s * du * du, su, ssu + su * su
    a, da, dda, sa, ssa = closed_form(tree[1], t)
    b, db, ddb, sb, ssb = closed_form(tree[2], t)
    if op == "add":
        return a + b, da + db, dda + ddb, sa + sb, ssa + ssb
    if op == "sub":
        return a - b, da - db, dda - ddb, sa + sb, ssa + ssb
    if op == "mul":
        return (
            a * b,
            da * b + a * db,
            dda * b + 2 * da * db + a * ddb,
            abs(sa * b) + abs(a * sb),
            abs(ssa * b) + 2 * sa * sb + abs(a * ssb),
        )
    # a ** b
    if a > 0:
        v = math.pow(a, b)
        la = math.log(a)
        dl = db * la + b * da / a  # L = b·log a, f = exp(L): f' = f·L', f'' = f·(L'' + L'²)
        ddl = ddb * la + 2 * db * da / a + b * (dda * a - da * da) / (a * a)
        sl = abs(sb * la) + abs(b * sa / a)
        ssl = abs(ssb * la) + abs(2 * sb * sa / a) + abs(b) * (abs(ssa / a) + (sa / a) ** 2)
        return v, v * dl, v * (ddl + dl * dl), abs(v) * sl, abs(v) * (ssl + sl * sl)
    if a < 0 and not has_variable(tree[2]) and b == int(b):  # else ∂/∂exponent is asked for
        d1 = b * math.pow(a, b - 1)
        d2 = b * (b - 1) * math.pow(a, b - 2)
        return (
            math.pow(a, b),
            d1 * da,
            d2 * da * da + d1 * dda,
            abs(d1 * sa),
            abs(d2) * sa * sa + abs(d1 * ssa),
        )
    raise NoClosedForm


def matches(ad: float, exact: float, scale: float) -> bool:
    return abs(ad - exact) <= 1e-6 * abs(exact) + 1e-12 * scale + 1e-9


def outcome(thunk: Callable[[], Any]) -> Any:
    """The derivative a route gives, or "no derivative" for the clear errors it may raise.

    Two clear errors: ZeroDivisionError at base 0, ValueError for log of a negative base;
    where a program has both, which comes first depends on the order of evaluation.
    """
    try:
        value = thunk()
    except ZeroDivisionError as e:
        message = str(e)
    except ValueError as e:
        message = str(e)
        assert "not real for x < 0" in message, message
        return "no derivative"
    except OverflowError:
        return "overflow"
    else:
        return value
    assert "no finite derivative" in message, message
    return "no derivative"


def overflowed(a: Any) -> bool:
    """An intermediate overflowed: Python's ``**`` raises where ``*`` gives inf (or nan)."""
    if isinstance(a, (tuple, list)):
        return any(map(overflowed, a))
    return a == "overflow" or (not isinstance(a, str) and not math.isfinite(a))


def same(a: Any, b: Any, scale: float = 0.0) -> bool:
    """Equal outcomes; numbers up to rounding (``scale``: that of terms that cancel)."""
    if overflowed(a) or overflowed(b):
        return overflowed(a) and overflowed(b)
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(u, v, scale) for u, v in zip(a, b, strict=True))
    return matches(float(a), float(b), scale)


# Taylor mode skips a term whose coefficient is exactly 0, so where an infinite partial is
# multiplied by a zero coefficient it may give the finite limit where the other routes
# raise: ``(x - x) ** (x ** 0)``. Such a value is checked against the oracles instead.
TAYLOR_ROUTES = frozenset({"taylor(2)", "derivative(2)", "taylor(derivative)"})


def all_agree(routes: dict[str, Any], scale: float = 0.0) -> tuple[Any, list[float]]:
    """The one outcome of every route, and the finite values Taylor mode gave beside an error.

    A route whose intermediate overflowed (a base like 5e-324 under a negative power)
    is left out where others give a number: ``0 * inf`` is nan in one route where
    another skips a zero partial.
    """
    results = {name: outcome(thunk) for name, thunk in routes.items()}
    if not all(map(overflowed, results.values())):
        results = {name: r for name, r in results.items() if not overflowed(r)}
    others = {name: r for name, r in results.items() if name not in TAYLOR_ROUTES}
    first_name, first = next(iter(others.items()))
    for name, r in others.items():
        assert same(r, first, scale), (name, r, first_name, first)
    extra = []
    for name in TAYLOR_ROUTES & set(results):
        r = results[name]
        if first == "no derivative" and not isinstance(r, str):
            extra.append(r)
        else:
            assert same(r, first, scale), (name, r, first_name, first)
    return first, extra


def jet_coefficient(out: Any, k: int) -> Any:
    """Coefficient ``k`` of a Jet result (0 for a plain number: a constant)."""
    return out.series[k - 1] if isinstance(out, fad.Jet) else 0.0


def first_routes(g: Callable[[Any], Any], t: float) -> dict[str, Callable[[], Any]]:
    routes: dict[str, Callable[[], Any]] = {
        "jvp": lambda: fad.jvp(g, (t,), (1.0,))[1],
        "derivative": lambda: fad.derivative(g)(t),
        "taylor": lambda: fad.taylor(g, t, 1)[1],
        "Dual": lambda: tangent(g(Dual(t, 1.0))),
        "Jet": lambda: jet_coefficient(g(fad.Jet(t, (1.0,))), 1),
        "jacfwd": lambda: fad.jacfwd(g)(t),
        "linearize": lambda: fad.linearize(g, t)[1](1.0),
    }
    for mode in MODES:
        routes[mode] = functools.partial(lambda m: fad.grad(g, mode=m)(t), mode)
        routes[f"vjp {mode}"] = functools.partial(lambda m: fad.vjp(g, t, mode=m)[1](1.0)[0], mode)
    return routes


def second_routes(g: Callable[[Any], Any], t: float) -> dict[str, Callable[[], Any]]:
    def fwd(z: Any) -> Any:
        return fad.jvp(g, (z,), (1.0,))[1]

    routes: dict[str, Callable[[], Any]] = {
        "derivative(2)": lambda: fad.derivative(g, 2)(t),
        "taylor(2)": lambda: fad.taylor(g, t, 2)[2],
        "Dual(Dual)": lambda: tangent(tangent(g(Dual(Dual(t, 1.0, 1), Dual(1.0, 0.0, 1), 2)))),
        "fwd(fwd)": lambda: fad.jvp(fwd, (t,), (1.0,))[1],
        "jacfwd(jacrev)": lambda: fad.jacfwd(fad.jacrev(g))(t),
        "taylor(derivative)": lambda: fad.taylor(fad.derivative(g), t, 1)[1],
    }
    for mode in MODES:
        routes[f"hessian {mode}"] = functools.partial(lambda m: fad.hessian(g, mode=m)(t), mode)
        routes[f"{mode}({mode})"] = functools.partial(
            lambda m: fad.grad(fad.grad(g, mode=m), mode=m)(t), mode
        )
        routes[f"fwd({mode})"] = functools.partial(
            lambda m: fad.jvp(fad.grad(g, mode=m), (t,), (1.0,))[1], mode
        )
        routes[f"{mode}(fwd)"] = functools.partial(lambda m: fad.grad(fwd, mode=m)(t), mode)
    return routes


def one_sided_difference(g: Callable[[float], Any], t: float, h: float) -> float | None:
    """(g(t ± h) - g(t)) / ±h on a side where g is defined, or None."""
    g0 = float(g(t))
    for step in (h, -h):
        try:
            return (float(g(t + step)) - g0) / step
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):  # TypeError: complex
            continue
    return None


def converges_to(g: Callable[[float], Any], t: float, target: float) -> bool:
    """One-sided differences approach ``target`` as the step shrinks."""
    try:
        coarse, fine = one_sided_difference(g, t, 1e-5), one_sided_difference(g, t, 1e-8)
    except (ValueError, ZeroDivisionError, OverflowError):
        return True  # the first derivative is not defined beside t: nothing to check
    if coarse is None or fine is None:
        return True
    tol = 1e-4 * (1.0 + abs(target))
    return abs(fine - target) <= tol or abs(fine - target) < abs(coarse - target) / 5


@settings(max_examples=120, suppress_health_check=[HealthCheck.filter_too_much])
@given(tree=pow_trees, t=POW_POINT)
@example(tree=("pow", ("x",), ("x",)), t=0.0)
@example(tree=("mpow", ("add", ("c", 1.0), ("x",)), ("x",)), t=-1.0)
@example(tree=("pow", ("x",), ("exp", ("x",))), t=0.0)
def test_pow_near_base_zero_all_transforms_agree(tree: Tree, t: float) -> None:
    def g(z: Any) -> Any:
        return pow_eval(tree, z, z)

    try:
        value = g(t)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):  # TypeError: complex
        assume(False)
    assume(isinstance(value, float) and math.isfinite(value) and abs(value) < 1e100)
    try:
        exact: Jet2 | None = closed_form(tree, t)
    except (NoClosedForm, ValueError, ZeroDivisionError, OverflowError):
        exact = None
    if exact is not None and not all(math.isfinite(v) and abs(v) < 1e100 for v in exact):
        exact = None
    s1, s2 = (exact[3], exact[4]) if exact is not None else (0.0, 0.0)
    d1, none = all_agree(first_routes(g, t), s1)
    assert none == []
    d2, taylor_only = all_agree(second_routes(g, t), s2)
    if d1 == "no derivative":
        assert d2 == d1 or overflowed(d2), (d1, d2)  # a second derivative needs the first
    if exact is not None:
        _, f1, f2, s1, s2 = exact
        for ad, cf, sc in ((d1, f1, s1), (d2, f2, s2), *((v, f2, s2) for v in taylor_only)):
            if not overflowed(ad) and not isinstance(ad, str):
                assert matches(ad, cf, sc), (ad, cf, exact)
            else:  # no base is 0 here: only an overflow may stop a route
                assert overflowed(ad), (ad, exact)
    elif t in REGULAR:
        if not isinstance(d1, str) and not overflowed(d1):
            assert converges_to(lambda z: g(z), t, d1), ("f'", d1)
        for v in [d2, *taylor_only]:
            if not isinstance(v, str) and not overflowed(v):
                assert converges_to(lambda z: fad.derivative(g)(z), t, v), ("f''", v)


@settings(max_examples=80, suppress_health_check=[HealthCheck.filter_too_much])
@given(tree=pow_trees, x=POW_POINT, y=POW_POINT)
@example(tree=("pow", ("x",), ("y",)), x=0.0, y=1.0)
@example(tree=("mpow", ("x",), ("y",)), x=0.0, y=2.0)
def test_pow_near_base_zero_gradient_and_hessian_agree(tree: Tree, x: float, y: float) -> None:
    def f(a: Any, b: Any) -> Any:
        return pow_eval(tree, a, b)

    try:
        value = f(x, y)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):  # TypeError: complex
        assume(False)
    assume(isinstance(value, float) and math.isfinite(value) and abs(value) < 1e100)
    both = (0, 1)
    grads: dict[str, Callable[[], Any]] = {
        "jacfwd": lambda: fad.jacfwd(f, argnums=both)(x, y),
        "jvp": lambda: tuple(fad.jvp(f, (x, y), v)[1] for v in ((1.0, 0.0), (0.0, 1.0))),
    }
    hessians: dict[str, Callable[[], Any]] = {
        "jacfwd(jacrev)": lambda: fad.jacfwd(fad.jacrev(f, argnums=both), argnums=both)(x, y),
        "jacrev(jacfwd)": lambda: fad.jacrev(fad.jacfwd(f, argnums=both), argnums=both)(x, y),
        "jacfwd(jacfwd)": lambda: fad.jacfwd(fad.jacfwd(f, argnums=both), argnums=both)(x, y),
    }
    for mode in MODES:
        grads[mode] = functools.partial(lambda m: fad.grad(f, argnums=both, mode=m)(x, y), mode)
        hessians[f"hessian {mode}"] = functools.partial(
            lambda m: fad.hessian(f, argnums=both, mode=m)(x, y), mode
        )
    g, _ = all_agree(grads)
    h, _ = all_agree(hessians)
    if isinstance(g, str) and not overflowed(g):
        assert h == g or overflowed(h), (g, h)
    if not isinstance(h, str) and not overflowed(h):
        assert same(h[0][1], h[1][0]), ("not symmetric", h)


@pytest.mark.parametrize(
    ("fun", "point"),
    [
        (lambda x: x**x, 0.0),
        (lambda x: fm.pow(x, x), 0.0),
        (lambda x: (x - 1.0) ** (x - 1.0), 1.0),
        (lambda x: x ** (1.0 + x), 0.0),
        (lambda x: x ** fm.exp(x), 0.0),
        (lambda x: fm.pow(x, fm.exp(x)), 0.0),
    ],
)
def test_pow_at_base_zero_issue_examples_raise(fun: Callable[[Any], Any], point: float) -> None:
    """Issue 16: these gave finite wrong numbers in some transforms."""
    for route in second_routes(fun, point).values():
        with pytest.raises(ZeroDivisionError, match="no finite derivative"):
            route()
    assert all_agree(first_routes(fun, point))[1] == []  # an error everywhere, or one value


def test_pow_at_base_zero_issue_values() -> None:
    # d/dx x**x = x**x (log x + 1) -> -inf at 0: an error in every transform.
    for route in first_routes(lambda x: x**x, 0.0).values():
        with pytest.raises(ZeroDivisionError, match="no finite derivative"):
            route()
    # ∂²(x**y)/∂x∂y = x**(y-1) (1 + y log x) -> -inf at (0, 1): not ((0, 1), (0, 0)).
    for mode in MODES:
        with pytest.raises(ZeroDivisionError, match="no finite derivative"):
            fad.hessian(lambda x, y: x**y, argnums=(0, 1), mode=mode)(0.0, 1.0)
    # x ** exp(x): f'(0) = 1 (one-sided, finite), f''(0) = -inf.
    assert fad.grad(lambda x: x ** fm.exp(x))(0.0) == 1.0
    assert fad.taylor(lambda x: x ** fm.exp(x), 0.0, 1) == [0.0, 1.0]
    # Where the derivatives are finite they are still given: x**y at (0, 2), at (0, 3).
    assert fad.hessian(lambda x, y: x**y, argnums=(0, 1))(0.0, 2.0) == ((2.0, 0.0), (0.0, 0.0))
    assert fad.hessian(lambda x, y: fm.pow(x, y), argnums=(0, 1))(0.0, 3.0) == (
        (0.0, 0.0),
        (0.0, 0.0),
    )
    assert fad.taylor(lambda x: x ** (3.0 + x), 0.0, 3) == [0.0, 0.0, 0.0, 6.0]
    with pytest.raises(ZeroDivisionError, match="no finite derivative"):
        fad.taylor(lambda x: x ** (2.0 + x), 0.0, 3)  # 6·log x -> -inf
    assert fad.grad(lambda y: 0.0**y)(2.0) == 0.0
    assert fad.hessian(lambda y: 0.0**y)(2.0) == 0.0
    with pytest.raises(ZeroDivisionError, match="no finite derivative"):
        fad.grad(lambda y: 0.0**y)(0.0)  # 0**y jumps from 1 to 0 at y = 0
