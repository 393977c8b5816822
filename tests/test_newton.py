"""The classic example: differentiate through 20 Newton steps for √a."""

from __future__ import annotations

import math
from typing import Any

import pytest

import fad
from fad import Codual, Dual

EXPECTED = 1.0 / (2.0 * math.sqrt(2.0))  # d√a/da at a = 2


def newton_sqrt(a: Any, steps: int = 20) -> Any:
    """√a by Newton steps X ← (X + a/X) / 2 from X = 1."""
    x: Any = 1.0
    for _ in range(steps):
        x = (x + a / x) / 2
    return x


def test_with_a_dual() -> None:
    out = newton_sqrt(Dual(2.0, 1.0))
    assert math.isclose(out.primal, math.sqrt(2.0), rel_tol=1e-15)
    assert abs(out.tangent - EXPECTED) < 1e-12


def test_with_a_codual() -> None:
    out = newton_sqrt(Codual(2.0, lambda k: k))
    assert math.isclose(out.primal, math.sqrt(2.0), rel_tol=1e-15)
    assert abs(out.backprop(1.0) - EXPECTED) < 1e-12


@pytest.mark.parametrize("mode", ["tape", "memo"])
def test_through_grad(mode: str) -> None:
    assert abs(fad.grad(newton_sqrt, mode=mode)(2.0) - EXPECTED) < 1e-12


def test_through_grad_naive() -> None:
    # mode="naive" calls a value's backprop once per path to it, and X is used twice
    # per step: 2**20 paths through 20 steps (about 20 s). Newton has converged to
    # the last digit after 6 steps, so 8 steps check the same derivative.
    assert abs(fad.grad(lambda a: newton_sqrt(a, 8), mode="naive")(2.0) - EXPECTED) < 1e-12


def test_through_jvp_and_the_duality() -> None:
    _, tangent = fad.jvp(newton_sqrt, (2.0,), (1.0,))
    assert abs(tangent - EXPECTED) < 1e-12
    out = newton_sqrt(fad.to_codual(Dual(2.0, 1.0)))
    assert abs(fad.to_dual(out).tangent - EXPECTED) < 1e-12


def test_second_derivative() -> None:
    # d²√a/da² = -a^(-3/2) / 4
    expected = -(2.0**-1.5) / 4.0
    for mode in ("tape", "memo"):
        second = fad.grad(fad.grad(newton_sqrt, mode=mode), mode=mode)(2.0)
        assert abs(second - expected) < 1e-12
    _, second = fad.jvp(fad.grad(newton_sqrt), (2.0,), (1.0,))
    assert abs(second - expected) < 1e-12
