"""The user-written tracers of docs/tracers.md, run from the page itself.

The page's ``python`` blocks are executed here (so the documented code is the tested
code), and the tracers they define are compared with fad's built-in ones: gradients
against ``mode="tape"``, second derivatives against ``fad.hessian``, tangents against
``fad.Dual``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm

PAGE = Path(__file__).resolve().parent.parent / "docs" / "tracers.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def load_page() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "docs_tracers"}
    blocks = _BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 2, "docs/tracers.md lost its python blocks"
    for code in blocks:
        exec(compile(code, str(PAGE), "exec"), namespace)
    return namespace


PAGE_NS = load_page()
CountingCodual: Any = PAGE_NS["CountingCodual"]
MyDual: Any = PAGE_NS["MyDual"]


def test_example_is_short() -> None:
    """The worked example stays 'well under 100 lines'."""
    code = _BLOCK.findall(PAGE.read_text(encoding="utf-8"))[0]
    assert len(code.strip().splitlines()) < 90


FUNCS: list[Callable[[Any, Any], Any]] = [
    lambda x, y: fm.sin(x) * y + x * x,
    lambda x, y: fm.exp(x / (1.0 + y * y)) - fm.log(2.0 + fm.cos(x * y)),
    lambda x, y: (x - y) ** 3 / (1.0 + fm.sqrt(x * x + y * y + 0.5)),
    lambda x, y: fm.tanh(x) * fm.atan(y) + fm.floor(x) * y,
]


@pytest.mark.parametrize("k", range(len(FUNCS)))
@settings(max_examples=20)
@given(x=st.floats(-3.0, 3.0), y=st.floats(-3.0, 3.0))
def test_gradients_match_the_tape(k: int, x: float, y: float) -> None:
    f = FUNCS[k]
    want = fad.grad(f, argnums=(0, 1))(x, y)
    got = fad.grad(f, argnums=(0, 1), mode=CountingCodual)(x, y)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("k", range(len(FUNCS)))
def test_second_order_every_nesting(k: int) -> None:
    f = FUNCS[k]
    x, y = 0.7, -0.4
    want = fad.hessian(f, argnums=(0, 1))(x, y)
    outer_fwd = fad.jacfwd(fad.grad(f, argnums=(0, 1), mode=CountingCodual), argnums=(0, 1))(x, y)
    outer_rev = fad.jacrev(fad.grad(f, argnums=(0, 1)), argnums=(0, 1), mode=CountingCodual)(x, y)
    both = fad.jacrev(
        fad.grad(f, argnums=(0, 1), mode=CountingCodual), argnums=(0, 1), mode=CountingCodual
    )(x, y)
    for h in (outer_fwd, outer_rev, both):
        for row_h, row_w in zip(h, want, strict=True):
            assert row_h == pytest.approx(row_w, rel=1e-10, abs=1e-12)


def test_counts() -> None:
    fad.grad(FUNCS[0], argnums=(0, 1), mode=CountingCodual)(1.0, 2.0)
    assert CountingCodual.last.counts == {"sin": 1, "mul": 2, "add": 1}


def test_vjp_pullback_reusable_and_custom_rules() -> None:
    _, f_vjp = fad.vjp(FUNCS[1], 0.3, 0.5, mode=CountingCodual)
    assert f_vjp(1.0) == f_vjp(1.0)
    assert f_vjp(2.0) == pytest.approx(tuple(2 * g for g in f_vjp(1.0)))

    @fad.custom_vjp
    def clip_gradient(lo: Any, hi: Any, x: Any) -> Any:
        return x

    clip_gradient.defvjp(
        lambda lo, hi, x: (x, (lo, hi)), lambda res, g: (None, None, min(max(g, res[0]), res[1]))
    )
    got = fad.grad(lambda x: fm.sin(clip_gradient(-0.75, 0.75, x)), mode=CountingCodual)(2.0)
    assert got == max(math.cos(2.0), -0.75)


def test_forward_tracer_matches_dual() -> None:
    f = FUNCS[2]
    for x in (-1.5, 0.2, 2.5):
        mine = f(MyDual(x, 1.0), 0.8)
        ref = f(fad.Dual(x, 1.0), 0.8)
        assert mine.primal == pytest.approx(ref.primal)
        assert mine.tangent == pytest.approx(ref.tangent, rel=1e-12)


def test_a_broken_tracer_is_caught() -> None:
    """The comparison can fail: a tracer that drops the partials disagrees with the tape."""

    class Broken(CountingCodual):  # type: ignore[misc]
        @classmethod
        def apply(cls, prim: fad.Primitive, args: Any, level: int) -> Any:
            lazy = fad.Primitive(prim.name, prim.impl, [lambda *a: 1.0] * len(args))
            return super().apply(lazy if prim.partials else prim, args, level)

    f = FUNCS[1]
    assert fad.grad(f, mode=Broken)(0.3, 0.5) != pytest.approx(fad.grad(f)(0.3, 0.5))
