"""Errors of the transforms and of ``fad.primitive`` that used to mislead (issue 16)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest

import fad
import fad.math as fm


@pytest.mark.parametrize("order", [0, 1, 3])
def test_derivative_takes_one_scalar_and_says_so(order: int) -> None:
    def times(x: Any, y: Any = 1.0) -> Any:
        return x * y

    d = fad.derivative(times, order)
    with pytest.raises(TypeError, match=r"one real scalar.*called with 2 arguments.*argnums"):
        d(1.0, 2.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"called with 0 arguments"):
        d()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"grad\(f, argnums=\.\.\.\)"):
        d(1.0, y=2.0)  # type: ignore[call-arg]
    # the derivative itself is unchanged: d^k/dx^k x^3 at 2
    assert fad.derivative(lambda x: x**3, order)(2.0) == [8.0, 12.0, 12.0, 6.0][order]


def test_grad_accepts_any_real_scalar_output_on_both_paths() -> None:
    # a real number of another type (Fraction here, numpy's float64 below) is a constant
    # output: its gradient is 0, on the one-float fast path as on the general path
    def const(x: Any) -> Any:
        return Fraction(1, 2)

    assert fad.grad(const)(2.0) == 0.0
    assert fad.grad(const)([2.0]) == [0.0]
    assert fad.value_and_grad(const)(2.0) == (Fraction(1, 2), 0.0)
    with pytest.raises(TypeError, match="needs fun to return one real scalar"):
        fad.grad(lambda x: [x])(2.0)
    with pytest.raises(TypeError, match="needs fun to return one real scalar"):
        fad.grad(lambda x: [x])([2.0])
    with pytest.raises(TypeError, match="needs fun to return one real scalar"):
        fad.grad(lambda x: True)(2.0)


def test_grad_of_a_numpy_float() -> None:
    np = pytest.importorskip("numpy")
    assert fad.grad(lambda x: np.float64(1.0))(2.0) == 0.0
    assert fad.grad(lambda x: np.float64(1.0))([2.0]) == [0.0]
    assert fad.grad(lambda x: x * np.float64(3.0))(2.0) == 3.0


def test_primitive_impl_must_return_a_real_scalar() -> None:
    listy = fad.primitive(lambda x: [x], lambda ans, x: 1.0, name="listy")
    with pytest.raises(TypeError, match=r"'listy': impl returned a list \(\[2\.0\]\)"):
        listy(2.0)
    for transform in (fad.grad, fad.derivative, lambda f: fad.grad(f, mode="memo")):
        with pytest.raises(TypeError, match="impl must return one real scalar"):
            transform(listy)(2.0)
    none = fad.primitive(lambda x, y: None, None, None, name="none")
    with pytest.raises(TypeError, match="impl returned a NoneType"):
        fad.jvp(lambda x: none(x, 1.0), (2.0,), (1.0,))
    # real scalars of every kind pass, and the primitive still differentiates
    square = fad.primitive(lambda x: Fraction(1, 4) * x * x, lambda ans, x: 0.5 * x, name="sq")
    assert square(2) == 1
    assert fad.grad(square)(3.0) == 1.5
    assert fad.grad(lambda x: fm.sin(square(x)))(1.0) == pytest.approx(0.5 * math.cos(0.25))
