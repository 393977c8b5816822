"""``fad.structurally_equal``: equality of whole tracers, beside ``==`` on primals."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import fad

small = st.sampled_from([0.0, 1.0, -2.5, 3.0])


@given(small, small, small, small, st.integers(0, 2), st.integers(0, 2))
def test_duals_equal_exactly_when_every_field_is(
    p: float, t: float, q: float, u: float, lp: int, lq: int
) -> None:
    a, b = fad.Dual(p, t, lp), fad.Dual(q, u, lq)
    assert fad.structurally_equal(a, b) == ((p, t, lp) == (q, u, lq))
    assert (a == b) == (p == q)  # == looks at the primal only


@given(small, small)
def test_nested_tracers_compare_all_the_way_down(p: float, t: float) -> None:
    inner = fad.Dual(p, t, 1)
    assert fad.structurally_equal(fad.Dual(inner, 1.0, 2), fad.Dual(fad.Dual(p, t, 1), 1.0, 2))
    assert not fad.structurally_equal(
        fad.Dual(inner, 1.0, 2), fad.Dual(fad.Dual(p, t + 1.0, 1), 1.0, 2)
    )


def test_coduals_compare_backprops_by_identity() -> None:
    def b(k: float) -> float:
        return k

    assert fad.structurally_equal(fad.Codual(1.0, b), fad.Codual(1.0, b))
    assert not fad.structurally_equal(fad.Codual(1.0, b), fad.Codual(1.0, lambda k: k))
    assert not fad.structurally_equal(fad.Codual(1.0, b), fad.Dual(1.0, 1.0))
