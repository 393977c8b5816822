"""The tape (fad.tracers.tape.Tape): what it records, and the sweeps over it.

Every value is two edges in four parallel lists; a value of one traced argument has
an unused second edge (parent NO_PARENT), and a value of k > 2 traced arguments is a
chain of two-edge entries. These tests check that layout against independent
oracles: forward mode, finite differences and the other reverse strategies.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
from fad._core import new_level
from fad.tracers.tape import NO_PARENT, Tape, TapeCodual

FLOATS = st.floats(-3.0, 3.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


def close(a: float, b: float, rel: float = 1e-10) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel)


def wide(*xs: Any) -> Any:
    """A function whose primitives take many traced arguments at once."""
    return fm.hypot(*xs) * fm.fsum(x * x for x in xs) + fm.sumprod(xs, xs[::-1])


@settings(max_examples=30)
@given(xs=st.lists(FLOATS, min_size=1, max_size=6))
def test_many_argument_entries_give_forward_modes_gradient(xs: list[float]) -> None:
    argnums = tuple(range(len(xs)))
    reverse = fad.grad(wide, argnums=argnums)(*xs)
    forward = fad.jacfwd(wide, argnums=argnums)(*xs)
    assert all(close(r, f) for r, f in zip(reverse, forward, strict=True))


@settings(max_examples=15)
@given(xs=st.lists(FLOATS, min_size=1, max_size=5))
def test_many_argument_entries_nest(xs: list[float]) -> None:
    """Reverse over reverse: the inner tape's partials are tracers of the outer one."""

    def f(v: list[Any]) -> Any:
        return wide(*v)

    by_tape = fad.jacrev(fad.grad(f))(xs)
    by_forward = fad.jacfwd(fad.jacfwd(f))(xs)
    for row_t, row_f in zip(by_tape, by_forward, strict=True):
        assert all(close(a, b, 1e-8) for a, b in zip(row_t, row_f, strict=True))


@settings(max_examples=30)
@given(xs=st.lists(FLOATS, min_size=1, max_size=6))
def test_linearize_sweeps_the_same_record_forwards(xs: list[float]) -> None:
    y, f_jvp = fad.linearize(lambda v: wide(*v), xs)
    assert y == wide(*xs)
    for i in range(len(xs)):
        e = [1.0 if j == i else 0.0 for j in range(len(xs))]
        _, expected = fad.jvp(lambda v: wide(*v), (xs,), (e,))
        assert close(f_jvp(e), expected)


@pytest.mark.parametrize("mode", ["tape", "memo", "naive"])
def test_unused_edges_carry_nothing(mode: str) -> None:
    """An infinite cotangent on a value of one argument: its unused edge must not give 0·∞."""
    g = fad.grad(lambda x, y: (x + 1.0) * math.inf + y, argnums=(0, 1), mode=mode)(1.0, 2.0)
    assert g == (math.inf, 1.0)


def test_record_layout() -> None:
    (x, y, z), _ = TapeCodual.seed([1.0, 2.0, 3.0], new_level())
    tape: Tape = x.tape
    assert len(tape) == 3
    assert tape.entries == [(), (), ()]
    u = x * 3
    assert tape.edges(u.index) == ((0, 3),)
    assert NO_PARENT < 0  # never an entry's index
    v = x * y
    assert tape.entries[-1] == (0, 2.0, 1, 1.0)
    w = fm.fsum([x, y, z, u])  # four edges: a chain of three entries
    assert w.index == len(tape) - 1 == u.index + 4
    assert tape.entries[-3:] == [
        (0, 1.0, 1, 1.0),
        (w.index - 2, 1.0, 2, 1.0),
        (w.index - 1, 1.0, u.index, 1.0),
    ]
    assert tape.backward([(w.index, 1.0)])[:3] == [4.0, 1.0, 1.0]
    assert v.primal == 2.0
