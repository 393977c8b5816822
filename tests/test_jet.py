"""Taylor mode: ``fad.Jet`` and ``fad.taylor`` against closed forms and nested Duals.

Oracles: closed forms of every derivative (exp, sin, 1/(1−x), √x, compositions) to
order 12, and forward mode nested k times (``fad.jvp`` of ``fad.jvp`` …, independent
of the jet code) for every primitive of the registry and for compositions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_generic import programs, run
from test_primitives import CASES

import fad
import fad.math as fm
from fad._primitives import REGISTRY

ORDER = 12
REL = 1e-9


def real(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def nested(f: Callable[[Any], Any], k: int) -> Callable[[Any], Any]:
    """The k-th derivative of f by nesting forward mode k times (the 2^k oracle)."""
    for _ in range(k):
        f = _d(f)
    return f


def _d(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda x: fad.jvp(f, (x,), (1.0,))[1]


def assert_series_close(
    got: list[Any], want: list[float], rel: float = REL, scale: float = 0.0
) -> None:
    """Each derivative within ``rel`` relative to its own size (or to ``scale``)."""
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert abs(g - w) <= rel * max(abs(w), scale), (k, g, w)


# --- closed forms, order 12 ------------------------------------------------------------


@settings(max_examples=30)
@given(real(-5.0, 5.0))
def test_exp(x: float) -> None:
    assert_series_close(fad.taylor(fm.exp, x, ORDER), [math.exp(x)] * (ORDER + 1))


@settings(max_examples=30)
@given(real(-10.0, 10.0))
def test_sin_and_cos(x: float) -> None:
    # the k-th derivative of sin is sin(x + kπ/2): size 1, so compare on that scale
    sin = [math.sin(x + k * math.pi / 2) for k in range(ORDER + 1)]
    cos = [math.cos(x + k * math.pi / 2) for k in range(ORDER + 1)]
    assert_series_close(fad.taylor(fm.sin, x, ORDER), sin, scale=1.0)
    assert_series_close(fad.taylor(fm.cos, x, ORDER), cos, scale=1.0)


@settings(max_examples=30)
@given(real(-0.9, 0.9))
def test_geometric(x: float) -> None:
    want = [math.factorial(k) / (1.0 - x) ** (k + 1) for k in range(ORDER + 1)]
    assert_series_close(fad.taylor(lambda t: 1.0 / (1.0 - t), x, ORDER), want)


@settings(max_examples=30)
@given(real(0.05, 20.0))
def test_sqrt(x: float) -> None:
    want = []
    c = 1.0
    for k in range(ORDER + 1):
        want.append(c * x ** (0.5 - k))
        c *= 0.5 - k
    assert_series_close(fad.taylor(fm.sqrt, x, ORDER), want)
    assert_series_close(fad.taylor(lambda t: t**0.5, x, ORDER), want)


@settings(max_examples=30)
@given(real(0.1, 5.0))
def test_log_and_power(x: float) -> None:
    log = [math.log(x)]
    log += [(-1) ** (k - 1) * math.factorial(k - 1) / x**k for k in range(1, ORDER + 1)]
    assert_series_close(fad.taylor(fm.log, x, ORDER), log)
    a = -1.7  # x^a: a(a-1)…(a-k+1) x^(a-k)
    want, c = [], 1.0
    for k in range(ORDER + 1):
        want.append(c * x ** (a - k))
        c *= a - k
    assert_series_close(fad.taylor(lambda t: t**a, x, ORDER), want)


@settings(max_examples=30)
@given(real(-3.0, 3.0))
def test_compositions(x: float) -> None:
    # exp(2x): 2^k e^{2x};  e^x sin x: 2^{k/2} e^x sin(x + kπ/4)
    want = [2.0**k * math.exp(2 * x) for k in range(ORDER + 1)]
    assert_series_close(fad.taylor(lambda t: fm.exp(2.0 * t), x, ORDER), want)
    want = [2.0 ** (k / 2) * math.exp(x) * math.sin(x + k * math.pi / 4) for k in range(ORDER + 1)]
    scale = max(abs(w) for w in want)
    assert_series_close(fad.taylor(lambda t: fm.exp(t) * fm.sin(t), x, ORDER), want, scale=scale)
    # sin(x)^2 = (1 − cos 2x)/2
    want = [math.sin(x) ** 2]
    want += [-(2.0**k) * math.cos(2 * x + k * math.pi / 2) / 2 for k in range(1, ORDER + 1)]
    assert_series_close(fad.taylor(lambda t: fm.sin(t) ** 2, x, ORDER), want, scale=2.0**ORDER)
    # sqrt(exp(x)) = exp(x/2), through sqrt's partial 0.5/ans
    want = [math.exp(x / 2) / 2.0**k for k in range(ORDER + 1)]
    assert_series_close(fad.taylor(lambda t: fm.sqrt(fm.exp(t)), x, ORDER), want)


# --- against nested forward mode --------------------------------------------------------


def bench_fun(x: Any) -> Any:
    return fm.exp(fm.sin(x)) * fm.sqrt(1.0 + x * x)


def test_order_12_against_nesting() -> None:
    x = 0.3
    got = fad.taylor(bench_fun, x, ORDER)
    want = [nested(bench_fun, k)(x) for k in range(ORDER + 1)]
    scale = max(abs(w) for w in want)
    assert_series_close(got, want, rel=REL, scale=scale * 1e-3)


@settings(max_examples=15)
@given(real(-2.0, 2.0))
def test_compositions_against_nesting(x: float) -> None:
    assume(abs(x + 1.5) > 1e-3)  # log(2.5 + t) = 0 there: the second function has a pole
    funs = [
        bench_fun,
        lambda t: fm.tanh(t) ** 3 / fm.log(2.5 + t) + fm.cos(t) * fm.exp(t) ** 0.5,
        lambda t: fm.atan(t * t) - fm.erf(t) / (1.0 + fm.cosh(t)),
        lambda t: (t * t + 1.0) ** t,  # pow with both arguments jets
    ]
    for f in funs:
        got = fad.taylor(f, x, 6)
        want = [nested(f, k)(x) for k in range(7)]
        assert_series_close(got, want, rel=1e-8, scale=max(map(abs, want)) * 1e-3)


DIFFERENTIABLE = sorted(n for n in REGISTRY if REGISTRY[n].partials is not None and n in CASES)


def test_every_primitive_has_a_case() -> None:
    missing = [n for n in REGISTRY if REGISTRY[n].partials is not None and n not in CASES]
    assert not missing


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=8)
@given(data=st.data())
def test_every_primitive_against_nesting(name: str, data: st.DataObject) -> None:
    """The jet rule of every primitive, derived from its partials, matches nesting.

    Multi-argument primitives are expanded along the line args + t·v, so that every
    argument (except the non-differentiable ones) is a jet.
    """
    case = CASES[name]
    args = data.draw(case.domain)
    v = [0.0 if i in case.const else 1.0 / (i + 1) for i in range(len(args))]

    def g(t: Any) -> Any:
        pairs = enumerate(zip(args, v, strict=True))
        moved = [a if i in case.const else a + t * vi for i, (a, vi) in pairs]
        return case.fun(*moved)

    order = 4
    got = fad.taylor(g, 0.0, order)
    want = [nested(g, k)(0.0) for k in range(order + 1)]
    scale = max(abs(w) for w in want)
    assert_series_close(got, want, rel=1e-8, scale=scale * 1e-4)


@settings(max_examples=40, deadline=None)
@given(program=programs(max_ops=10, max_inputs=1), x=real(-1.5, 1.5))
def test_random_programs_against_nesting(program: tuple[int, list[Any]], x: float) -> None:
    """Every rule, with constants on either side of +, −, ·, /, ** (tests/test_generic.py)."""
    code = program[1]

    def f(t: Any) -> Any:
        return run(code, [t])

    try:
        want = [nested(f, k)(x) for k in range(5)]
    except (OverflowError, ZeroDivisionError, ValueError) as err:
        with pytest.raises(type(err)):
            fad.taylor(f, x, 4)
        return
    scale = max([abs(w) for w in want if math.isfinite(w)] + [1.0])
    got = fad.taylor(f, x, 4)
    for g, w in zip(got, want, strict=True):
        assert g == w or (g != g and w != w) or abs(g - w) <= 1e-10 * max(abs(w), scale)


# Partials written with +, −, ·, / and constants on either side: the direct rules run
# on series inside the partials rule, their arguments series still being computed.
CUBES = [
    lambda ans, x: 3.0 * x * x,
    lambda ans, x: x * x * 3.0 - 0.0 + (x - x),
    lambda ans, x: (x * x) / (1.0 / 3.0),
    lambda ans, x: 3.0 / (1.0 / (x * x)),
    lambda ans, x: -(-3.0 * ans / x),
]


@pytest.mark.parametrize("partial", CUBES, ids=range(len(CUBES)))
@settings(max_examples=15, deadline=None)
@given(x=real(0.5, 3.0) | real(-3.0, -0.5))
def test_direct_rules_inside_partials(partial: Callable[..., Any], x: float) -> None:
    cube = fad.primitive(lambda t: t**3, partial, name="cube")
    want = [x**3, 3 * x**2, 6 * x, 6.0, 0.0, 0.0, 0.0]
    assert_series_close(fad.taylor(cube, x, 6), want, rel=1e-10, scale=max(map(abs, want)))
    assert_series_close(
        fad.taylor(lambda t: cube(2.0 * t - x), x, 3),
        [x**3, 6 * x**2, 24 * x, 48.0],
        rel=1e-10,
        scale=48.0 * max(1.0, x * x),
    )


# --- the Jet tracer itself --------------------------------------------------------------


def test_jet_coefficients_and_derivatives() -> None:
    x = fad.Jet(0.0, (1.0, 0.0, 0.0, 0.0))
    y = fm.exp(x)
    assert y.coefficients() == pytest.approx([1.0, 1.0, 1 / 2, 1 / 6, 1 / 24])
    assert y.derivatives() == pytest.approx([1.0] * 5)
    assert y.order == 4
    assert repr(fad.Jet(1.0, (2.0,))) == "Jet(1.0, (2.0,))"


def test_zero_derivative_primitives_give_plain_values() -> None:
    x = fad.Jet(2.5, (1.0, 0.0))
    assert fm.floor(x) == 2
    assert type(fm.floor(x)) is int
    assert fad.taylor(lambda t: fm.floor(t) * t, 2.5, 3) == [5.0, 2.0, 0.0, 0.0]


def test_mixed_orders_truncate_and_constants_mix() -> None:
    a = fad.Jet(1.0, (1.0, 0.0, 0.0))
    b = fad.Jet(2.0, (1.0,))
    c = a * b + 3.0
    assert type(c) is fad.Jet
    assert c.series == (3.0,)
    assert (2.0 / a).series == pytest.approx((-2.0, 2.0, -2.0))
    assert (a / 2.0).series == pytest.approx((0.5, 0.0, 0.0))
    assert (a - a).series == (0.0, 0.0, 0.0)


def test_order_zero_and_constant_functions() -> None:
    assert fad.taylor(fm.exp, 0.0, 0) == [1.0]
    assert fad.taylor(lambda t: 3.0, 1.0, 3) == [3.0, 0.0, 0.0, 0.0]
    assert fad.taylor(lambda t: t, 2, 2) == [2.0, 1.0, 0.0]


def test_taylor_errors() -> None:
    with pytest.raises(ValueError, match="order"):
        fad.taylor(fm.exp, 0.0, -1)
    with pytest.raises(TypeError, match="order"):
        fad.taylor(fm.exp, 0.0, 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="real scalar"):
        fad.taylor(fm.exp, "1", 2)
    with pytest.raises(TypeError, match="real scalar"):
        fad.taylor(lambda t: (t, t), 1.0, 2)
    with pytest.raises(ValueError, match="math domain error"):
        fad.taylor(fm.log, -1.0, 3)


# --- nesting with the other transforms ------------------------------------------------------


@pytest.mark.parametrize("mode", ["tape", "memo", "naive"])
def test_grad_of_taylor_coefficient(mode: str) -> None:
    # d/dx f'''(x) = f''''(x)
    x = 0.4
    got = fad.grad(lambda t: fad.taylor(bench_fun, t, 3)[3], mode=mode)(x)
    assert got == pytest.approx(fad.taylor(bench_fun, x, 4)[4], rel=1e-10)


def test_taylor_of_grad_and_of_jvp() -> None:
    x = 0.4
    want = fad.taylor(bench_fun, x, 5)
    assert fad.taylor(fad.grad(bench_fun), x, 4) == pytest.approx(want[1:], rel=1e-10)
    assert fad.taylor(_d(bench_fun), x, 4) == pytest.approx(want[1:], rel=1e-10)
    assert fad.jvp(lambda t: fad.taylor(bench_fun, t, 4)[4], (x,), (1.0,))[1] == pytest.approx(
        want[5], rel=1e-10
    )


def test_taylor_of_taylor() -> None:
    x = 0.4
    want = fad.taylor(bench_fun, x, 6)
    got = fad.taylor(lambda t: fad.taylor(bench_fun, t, 3)[3], x, 3)
    assert got == pytest.approx(want[3:], rel=1e-10)


def test_derivative_uses_taylor_for_high_orders() -> None:
    x = 0.3
    assert fad.derivative(bench_fun, order=7)(x) == pytest.approx(nested(bench_fun, 7)(x), rel=1e-9)


def test_each_partial_runs_once_per_application() -> None:
    """The lazy series share work: sin ↔ cos expand each other once, at any order.

    Counting calls of the partials (not time) shows the cost does not grow with the
    number of derivatives a function has to be expanded through.
    """
    calls: list[str] = []

    def sin_partial(ans: Any, x: Any) -> Any:
        calls.append("sin")
        return my_cos(x)

    def cos_partial(ans: Any, x: Any) -> Any:
        calls.append("cos")
        return -my_sin(x)

    my_sin = fad.primitive(math.sin, sin_partial, name="my_sin")
    my_cos = fad.primitive(math.cos, cos_partial, name="my_cos")
    for order in (3, 12, 30):
        calls.clear()
        got = fad.taylor(my_sin, 0.5, order)
        assert sorted(calls) == ["cos", "sin"]
        assert got[order] == pytest.approx(math.sin(0.5 + order * math.pi / 2), rel=1e-9)
