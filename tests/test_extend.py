"""``fad.primitive``: a user's new elementary function works under every tracer.

Two user primitives: softplus, and the Bessel functions of the first kind ``J_n(x)``
(an integer order with a zero partial, and a partial that calls the primitive itself
at other orders: ``J_n' = (J_{n-1} − J_{n+1}) / 2``). Oracles: finite differences
(``check_grads``), closed forms, and nested forward mode.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
from fad.testing import check_grads

MODES = ("tape", "memo", "naive")


def _softplus(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


softplus = fad.primitive(_softplus, lambda ans, x: 1.0 / (1.0 + fm.exp(-x)), name="softplus")


def _jn(n: int, x: float) -> float:
    """Bessel J_n(x) for integer n by its power series (fine for |x| <= 20)."""
    if n < 0:
        return -_jn(-n, x) if n % 2 else _jn(-n, x)
    half = x / 2.0
    term = half**n / math.factorial(n)
    total = term
    for m in range(1, 80):
        term *= -half * half / (m * (m + n))
        total += term
    return total


jn: fad.Primitive = fad.primitive(
    _jn, None, lambda ans, n, x: 0.5 * (jn(n - 1, x) - jn(n + 1, x)), name="jn"
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def nested(f: Any, k: int) -> Any:
    """The k-th derivative by nesting forward mode (independent of Taylor mode)."""
    for _ in range(k):
        f = _d(f)
    return f


def _d(f: Any) -> Any:
    return lambda x: fad.jvp(f, (x,), (1.0,))[1]


def test_value_and_first_derivatives() -> None:
    x = 0.3
    assert softplus(x) == pytest.approx(math.log1p(math.exp(x)))
    for mode in MODES:
        assert fad.grad(softplus, mode=mode)(x) == pytest.approx(sigmoid(x))
        assert fad.grad(lambda t: jn(0, t), mode=mode)(x) == pytest.approx(-_jn(1, x))
    assert fad.jvp(softplus, (x,), (2.0,))[1] == pytest.approx(2 * sigmoid(x))
    assert softplus(800.0) == 800.0


@settings(max_examples=15)
@given(st.floats(-8.0, 8.0))
def test_check_grads(x: float) -> None:
    check_grads(softplus, (x,), order=2)
    check_grads(lambda t: jn(2, t) * softplus(t), (x,), order=2)


def test_check_grads_third_order() -> None:
    check_grads(lambda t: jn(1, softplus(t)), (0.4,), order=3)


@settings(max_examples=15)
@given(st.floats(-10.0, 10.0))
def test_taylor_closed_form(x: float) -> None:
    # J0^(k) = 2^-k Σ_i (-1)^i C(k, i) J_{k-2i}
    order = 10
    want = [
        sum((-1) ** i * math.comb(k, i) * _jn(2 * i - k, x) for i in range(k + 1)) / 2.0**k
        for k in range(order + 1)
    ]
    got = fad.taylor(lambda t: jn(0, t), x, order)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, rel=1e-9, abs=1e-9)


def test_taylor_against_nesting() -> None:
    x = 0.7

    def f(t: Any) -> Any:
        return softplus(t * t) * jn(3, t)

    got = fad.taylor(f, x, 6)
    for k in range(7):
        assert got[k] == pytest.approx(nested(f, k)(x), rel=1e-9, abs=1e-12)
    s = sigmoid(x)
    assert fad.taylor(softplus, x, 3)[2:] == pytest.approx([s * (1 - s), s * (1 - s) * (1 - 2 * s)])


def test_nesting_across_transforms() -> None:
    x = 1.1
    d2 = nested(lambda t: jn(1, t), 2)(x)
    for mode in MODES:
        assert fad.grad(fad.grad(lambda t: jn(1, t), mode=mode), mode=mode)(x) == pytest.approx(d2)
    assert fad.hessian(lambda t: jn(1, t))(x) == pytest.approx(d2)
    assert fad.derivative(lambda t: jn(1, t), order=2)(x) == pytest.approx(d2)


def test_zero_partial_argument() -> None:
    # None as a partial: the function does not depend on that argument
    first = fad.primitive(lambda x, y: x, lambda ans, x, y: 1.0, None, name="first")
    assert fad.grad(first, argnums=(0, 1))(1.0, 2.0) == (1.0, 0.0)
    assert fad.taylor(lambda t: first(t * t, t), 1.0, 3) == [1.0, 2.0, 2.0, 0.0]


def test_primitive_errors() -> None:
    with pytest.raises(TypeError, match="one partial per argument"):
        fad.primitive(lambda x, y: x * y, lambda ans, x, y: y)
    with pytest.raises(TypeError, match=r"partial\(ans, \*args\)"):
        fad.primitive(lambda x: x * x, lambda x: 2 * x)
    with pytest.raises(TypeError, match="not callable"):
        fad.primitive(3.0)  # type: ignore[arg-type]
    step = fad.primitive(lambda x: float(x > 0), name="step")
    assert fad.grad(lambda x: step(x) * x)(2.0) == 1.0
    assert repr(softplus) == "<fad primitive softplus>"
