"""Leaked tracers: a tracer kept past its transform fails loudly, never returns as a result.

A function that caches a tracer (``store.setdefault("x", x)``) hands a later call a
tracer of a transform that has finished. Used in an operation (tape: its tape is
closed) or returned (every transform checks its outputs), it raises
``fad.UnexpectedTracerError`` naming what to do, instead of coming back as a
"gradient".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import fad
import fad.math as fm

MODES = ("tape", "memo", "naive")


def leaky(store: dict[str, Any]) -> Callable[[Any], Any]:
    """``f(x)`` returns the first ``x`` it ever saw."""

    def f(x: Any) -> Any:
        return store.setdefault("x", x)

    return f


TRANSFORMS: dict[str, Callable[[Callable[[Any], Any], float], Any]] = {
    "grad": lambda f, x: fad.grad(f)(x),
    "grad memo": lambda f, x: fad.grad(f, mode="memo")(x),
    "grad naive": lambda f, x: fad.grad(f, mode="naive")(x),
    "value_and_grad": lambda f, x: fad.value_and_grad(f, argnums=(0,))(x),
    "vjp": lambda f, x: fad.vjp(f, x)[1](1.0),
    "jvp": lambda f, x: fad.jvp(f, (x,), (1.0,)),
    "jacfwd": lambda f, x: fad.jacfwd(f)(x),
    "jacrev": lambda f, x: fad.jacrev(f)(x),
    "linearize": lambda f, x: fad.linearize(f, x)[1](1.0),
    "derivative": lambda f, x: fad.derivative(f)(x),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_a_returned_leaked_tracer_raises(name: str) -> None:
    f = leaky({})
    transform = TRANSFORMS[name]
    assert transform(f, 3.0) is not None  # the first call is fine
    with pytest.raises(fad.UnexpectedTracerError) as info:
        transform(f, 4.0)
    message = str(info.value)
    assert "finished" in message
    assert "stop_gradient" in message
    assert "argument" in message
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("mode", MODES)
def test_a_leaked_tracer_used_in_an_operation_raises(mode: str) -> None:
    store: dict[str, Any] = {}

    def f(x: Any) -> Any:
        return fm.sin(store.setdefault("x", x)) * x + 2.0 * store["x"]

    expected = fad.grad(lambda x: fm.sin(x) * x + 2 * x)(3.0)
    assert fad.grad(f, mode=mode)(3.0) == pytest.approx(expected)
    with pytest.raises(fad.UnexpectedTracerError, match="finished"):
        fad.grad(f, mode=mode)(4.0)


def test_a_tape_is_closed_once_its_transform_returns() -> None:
    kept: list[Any] = []

    def f(x: Any) -> Any:
        kept.append(x)
        return x * x

    fad.grad(f)(2.0)
    (x,) = kept
    ops: list[Callable[[], Any]] = [
        lambda: x * 2.0,
        lambda: 1.0 - x,
        lambda: x * x,
        lambda: fm.exp(x),
        lambda: fm.hypot(x, x, x),
    ]
    for op in ops:
        with pytest.raises(fad.UnexpectedTracerError, match="leaked"):
            op()


def test_tracers_of_enclosing_transforms_are_fine() -> None:
    """A closure over an outer transform's live tracer is not a leak."""

    def outer(x: Any) -> Any:
        inner = fad.grad(lambda y: x * y * y)(2.0)  # returns a tracer of the outer grad
        return inner * x

    assert fad.grad(outer)(3.0) == pytest.approx(2 * 4.0 * 3.0)
    assert fad.jvp(outer, (3.0,), (1.0,))[1] == pytest.approx(24.0)


def test_a_vjp_function_still_works_after_its_transform_returns() -> None:
    _, f_vjp = fad.vjp(lambda x: fm.sin(x) * x, 0.5)
    assert f_vjp(1.0) == f_vjp(1.0)
    _, f_jvp = fad.linearize(lambda x: fm.sin(x) * x, 0.5)
    assert f_jvp(1.0) == pytest.approx(f_vjp(1.0)[0], rel=1e-15)


def test_hand_built_tracers_never_expire() -> None:
    x = fad.Dual(2.0, 1.0)
    fad.grad(lambda t: t * t)(1.0)
    assert (x * x).tangent == 4.0
    assert fad.grad(lambda t: t * x.primal)(1.0) == 2.0


@pytest.mark.parametrize("mode", ["tape", "memo", "naive"])
def test_a_function_that_raises_leaves_no_live_level(mode: str) -> None:
    from fad import _core

    def bad(x: Any) -> Any:
        raise ValueError("boom")

    before = len(_core._live)
    calls: list[Callable[[float], Any]] = [
        fad.grad(bad, mode=mode),
        fad.value_and_grad(bad, mode=mode),
        fad.jacrev(bad, mode=mode),
        fad.jacfwd(bad),
        fad.derivative(bad),
        lambda x: fad.jvp(bad, (x,), (1.0,)),
        lambda x: fad.vjp(bad, x, mode=mode),
        lambda x: fad.linearize(bad, x),
        fad.grad(lambda x: [x, x], mode=mode),  # not a scalar: raises after the call
    ]
    for call in calls:
        with pytest.raises((ValueError, TypeError)):
            call(1.0)
    assert len(_core._live) == before
