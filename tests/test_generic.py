"""The fast paths against the generic rule: bit for bit, on random programs.

``Dual`` and ``TapeCodual`` give the arithmetic operators (and the tape its unary
functions of a float) fast paths that skip ``bind`` and ``apply``. They are derived
from the same registry entries, so they must give exactly the same numbers. These
tests run every program twice in one process, once with the fast paths and once
with every operation routed through ``bind``/``apply`` (what ``FAD_GENERIC=1`` does
from the start), and require bitwise-equal values, tangents and gradients; CI also
runs the whole suite under ``FAD_GENERIC=1``.

``Jet`` has no fast path around ``bind``, but direct rules for linear primitives,
``mul`` and ``truediv`` beside its partials rule (fad/tracers/jet.py), which
``generic()`` switches off too (``FAD_GENERIC=1`` keeps them: they are the more
accurate rules). A sum, and a product by a constant, give the partials rule's
coefficients bit for bit; the Cauchy product and the division recurrence sum other
terms than the partials rule does (equal in exact arithmetic only), so programs using
them are compared to a relative tolerance.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
from fad import _primitives as P
from fad._core import partials_at
from fad.tracers import dual, jet, tape


@contextmanager
def generic(jets: bool = True) -> Iterator[None]:
    """Every operation through ``bind``/``apply`` inside the block (restored after).

    With ``jets``, every jet rule is the partials rule too.
    """
    dual.use_fast_paths(False)
    tape.use_fast_paths(False)
    if jets:
        jet.use_direct_rules(False)
    try:
        yield
    finally:
        on = not fad._core.GENERIC
        dual.use_fast_paths(on)
        tape.use_fast_paths(on)
        jet.use_direct_rules(True)


def bits(value: Any) -> Any:
    """A float's bit pattern (NaNs and signed zeros compared exactly); pytrees mapped."""
    if isinstance(value, (tuple, list)):
        return [bits(v) for v in value]
    return struct.pack("<d", float(value))


# A program is straight-line code over a pool of values (the inputs first): each
# instruction makes a new value from one or two earlier ones, or from one and a
# constant on either side (an int or a float, the cases the fast paths split on).
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.5 + fm.sin(b)),  # a divisor away from 0
    "pow": lambda a, b: (1.25 + fm.tanh(a)) ** b,  # a positive base
}
UNARY: dict[str, Callable[[Any], Any]] = {
    "sin": fm.sin,
    "tanh": fm.tanh,
    "exp": lambda a: fm.exp(fm.tanh(a)),
    "sq": lambda a: a**2,
    "neg": lambda a: -a,
}
CONSTANTS = st.sampled_from([2, -1, 0, 3, 0.5, -1.75, 2.0, 0.0])

Instruction = tuple[str, str, int, int, Any]  # kind, op, i, j, constant


@st.composite
def programs(
    draw: st.DrawFn,
    max_ops: int = 14,
    max_inputs: int = 3,
    ops: Mapping[str, Sequence[str]] | None = None,
) -> tuple[int, list[Instruction]]:
    """``(number of inputs, code)``; ``ops`` limits the ops of each kind (default: all)."""
    n = draw(st.integers(1, max_inputs))
    code: list[Instruction] = []
    for k in range(n, n + draw(st.integers(1, max_ops))):
        kind = draw(st.sampled_from(["binary", "left", "right", "unary"]))
        table = UNARY if kind == "unary" else BINARY
        op = draw(st.sampled_from(sorted(table) if ops is None else ops[kind]))
        i = draw(st.integers(0, k - 1))
        j = draw(st.integers(0, k - 1))
        code.append((kind, op, i, j, draw(CONSTANTS)))
    return n, code


def run(code: Sequence[Instruction], xs: Sequence[Any]) -> Any:
    values = list(xs)
    for kind, op, i, j, c in code:
        a, b = values[i], values[j]
        if kind == "unary":
            values.append((UNARY.get(op) or JET_UNARY[op])(a))
        elif kind == "binary":
            values.append(BINARY[op](a, b))
        elif kind == "left":
            values.append(BINARY[op](a, c))
        else:
            values.append(BINARY[op](c, a))
    return values[-1] + 0.5 * values[-2] if len(values) > 1 else values[-1]


points = st.lists(st.floats(-1.5, 1.5, allow_nan=False), min_size=3, max_size=3)


def outcome(compute: Callable[[], Any]) -> Any:
    """The result's bits, or the exception's type (the same either way, too)."""
    try:
        return bits(compute())
    except (OverflowError, ZeroDivisionError, ValueError) as err:
        return type(err)


def both_ways(compute: Callable[[], Any]) -> None:
    fast = outcome(compute)
    with generic():
        slow = outcome(compute)
    assert fast == slow


@settings(max_examples=60, deadline=None)
@given(program=programs(), xs=points)
def test_gradients_are_bitwise_the_generic_rules(
    program: tuple[int, list[Instruction]], xs: list[float]
) -> None:
    n, code = program
    args = xs[:n]
    argnums = tuple(range(n))

    def f(*v: Any) -> Any:
        return run(code, v)

    both_ways(lambda: fad.value_and_grad(f, argnums=argnums)(*args))
    both_ways(lambda: fad.grad(lambda x: f(x, *args[1:]))(args[0]))  # the one-float path


@settings(max_examples=60, deadline=None)
@given(program=programs(), xs=points, ts=points)
def test_tangents_are_bitwise_the_generic_rules(
    program: tuple[int, list[Instruction]], xs: list[float], ts: list[float]
) -> None:
    n, code = program

    def f(*v: Any) -> Any:
        return run(code, v)

    both_ways(lambda: fad.jvp(f, tuple(xs[:n]), tuple(ts[:n])))
    both_ways(lambda: fad.linearize(f, *xs[:n])[1](*ts[:n]))


@settings(max_examples=25, deadline=None)
@given(program=programs(max_ops=8), xs=points)
def test_nested_derivatives_are_bitwise_the_generic_rules(
    program: tuple[int, list[Instruction]], xs: list[float]
) -> None:
    """Tracers of tracers: fast paths whose primals are themselves tracers."""
    n, code = program
    argnums = tuple(range(n))

    def f(*v: Any) -> Any:
        return run(code, v)

    both_ways(lambda: fad.hessian(f, argnums=argnums)(*xs[:n]))  # reverse over reverse
    both_ways(lambda: fad.jacfwd(fad.grad(f, argnums=argnums), argnums=argnums)(*xs[:n]))


def test_the_switch_changes_the_route() -> None:
    """Inside ``generic()`` the operators are the generic ones (else the above proves nothing)."""
    fast = fad.Dual.__mul__, tape.TapeCodual.__add__
    with generic():
        assert fad.Dual.__mul__ is fad.TracerOps.__mul__
        assert tape.TapeCodual.__add__ is fad.TracerOps.__add__
        assert not tape.FAST_UNARY
        assert all(jet._direct_rule(p) is None for p in (P.add, P.neg, P.mul, P.truediv))
    with generic(jets=False):
        assert jet._direct_rule(P.mul) is not None
    assert jet._direct_rule(P.mul) is not None
    assert jet._direct_rule(P.sin) is None
    if not fad._core.GENERIC:
        assert (fad.Dual.__mul__, tape.TapeCodual.__add__) == fast
        assert fast[0] is not fad.TracerOps.__mul__


@pytest.mark.parametrize("n", [1, 2, 3, 7])
@given(data=st.data())
@settings(max_examples=20, deadline=None)
def test_all_partials_are_the_partials(n: int, data: st.DataObject) -> None:
    """A primitive's all-at-once partials (hypot, sumprod) equal its partials one by one."""
    for prim, arity in ((P.hypot_n(n), n), (P.sumprod_n(n), 2 * n)):
        assert prim.all_partials is not None
        assert prim.partials is not None
        xs = data.draw(st.lists(st.floats(-5, 5), min_size=arity, max_size=arity))
        if data.draw(st.booleans()):
            xs = [0.0] * arity  # hypot's kink at the origin
        ans = prim.impl(*xs)
        every = list(range(arity))
        one_by_one = [p(ans, *xs) for p in prim.partials]
        assert bits(partials_at(prim, ans, xs, every)) == bits(one_by_one)
        assert all(math.isfinite(d) for d in one_by_one)


@settings(max_examples=40, deadline=None)
@given(program=programs(), xs=points)
def test_numpy_float_constants_take_the_same_rules(
    program: tuple[int, list[Instruction]], xs: list[float]
) -> None:
    # np.float64 constants go through the float fast paths (and numpy's __array_ufunc__
    # when on the left): bitwise the float constants' results, both ways.
    np = pytest.importorskip("numpy")
    n, code = program
    args = xs[:n]
    as_numpy = [(kind, op, i, j, np.float64(c)) for kind, op, i, j, c in code]
    argnums = tuple(range(n))

    def f(*v: Any) -> Any:
        return run(code, v)

    def g(*v: Any) -> Any:
        return run(as_numpy, v)

    want = outcome(lambda: fad.value_and_grad(f, argnums=argnums)(*args))
    assert outcome(lambda: fad.value_and_grad(g, argnums=argnums)(*args)) == want
    both_ways(lambda: fad.value_and_grad(g, argnums=argnums)(*args))
    both_ways(lambda: fad.jvp(g, tuple(args), tuple(1.0 for _ in args)))


# --- jets --------------------------------------------------------------------------------
# A jet program has one input, the jet seeded by fad.taylor. Its direct rules against
# the partials rule: bitwise where they compute the same terms (sums, differences,
# products by a constant; sin, cos and exp, whose partials use only those), else to
# a relative tolerance.

JET_UNARY: dict[str, Callable[[Any], Any]] = {"cos": fm.cos, "plain_exp": fm.exp}
SAME_TERMS = {
    "binary": ["add", "sub"],
    "left": ["add", "mul", "sub"],
    "right": ["add", "mul", "sub"],
    "unary": ["cos", "plain_exp", "neg", "sin"],
}
ORDER = 5


def jet_program(code: Sequence[Instruction]) -> Callable[[Any], Any]:
    return lambda t: run(code, [t])


@settings(max_examples=40, deadline=None)
@given(program=programs(max_ops=10, max_inputs=1, ops=SAME_TERMS), x=points)
def test_jet_sums_and_scalings_are_bitwise_the_partials_rule(
    program: tuple[int, list[Instruction]], x: list[float]
) -> None:
    both_ways(lambda: fad.taylor(jet_program(program[1]), x[0], ORDER))


def close(got: Any, want: Any) -> bool:
    """Both the same exception type, or every derivative within 1e-11 of the largest."""
    if isinstance(got, type) or isinstance(want, type):
        return got is want
    scale = max([abs(w) for w in want if math.isfinite(w)] + [1.0])
    return all(
        math.isclose(g, w, rel_tol=1e-11, abs_tol=1e-11 * scale) or (g != g and w != w)
        for g, w in zip(got, want, strict=True)
    )


def value(compute: Callable[[], Any]) -> Any:
    try:
        return compute()
    except (OverflowError, ZeroDivisionError, ValueError) as err:
        return type(err)


@settings(max_examples=60, deadline=None)
@given(program=programs(max_ops=10, max_inputs=1), x=points)
def test_jet_products_and_quotients_agree_with_the_partials_rule(
    program: tuple[int, list[Instruction]], x: list[float]
) -> None:
    f = jet_program(program[1])
    for g in (f, fad.derivative(f)):  # jets of floats, jets of Duals

        def expand(g: Callable[[Any], Any] = g) -> Any:
            return fad.taylor(g, x[0], ORDER)

        direct = value(expand)
        with generic():
            partials = value(expand)
        assert close(direct, partials), (direct, partials)


@settings(max_examples=25, deadline=None)
@given(program=programs(max_ops=8, max_inputs=1), x=points)
def test_jets_nested_with_other_tracers_are_bitwise_the_generic_rules(
    program: tuple[int, list[Instruction]], x: list[float]
) -> None:
    """Jets of coduals and duals, coduals of jets: the jet rules the same both ways."""
    f = jet_program(program[1])

    def both_ways_but_jets(compute: Callable[[], Any]) -> None:
        fast = outcome(compute)
        with generic(jets=False):
            slow = outcome(compute)
        assert fast == slow

    both_ways_but_jets(lambda: fad.grad(lambda t: fad.taylor(f, t, 3)[3])(x[0]))
    both_ways_but_jets(lambda: fad.taylor(fad.grad(f), x[0], 3))
    both_ways_but_jets(lambda: fad.jvp(lambda t: fad.taylor(f, t, 3)[3], (x[0],), (1.0,)))
