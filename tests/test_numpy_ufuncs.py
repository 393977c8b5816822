"""Every numpy ufunc with a fad primitive differentiates on tracers and object arrays."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad._numpy import UFUNC_PRIMITIVES

np = pytest.importorskip("numpy")

# ufuncs of numpy whose name maps to a primitive (one or two float arguments)
UFUNCS = sorted(
    name
    for name, prim in UFUNC_PRIMITIVES.items()
    if isinstance(getattr(np, name, None), np.ufunc)
    and getattr(np, name).nin in (1, 2)
    and name not in ("ldexp",)  # its second argument is an int
)

SHIFT = {"arccosh": 1.5, "acosh": 1.5}


def _oracle(name: str) -> Any:
    """The fad.math function of the ufunc's primitive, else the primitive itself."""
    prim = UFUNC_PRIMITIVES[name]
    return getattr(fad.math, prim.name, prim)


def test_the_map_covers_numpy_names() -> None:
    for name in ("sin", "exp", "log", "sqrt", "tanh", "arctan2", "hypot", "power", "absolute"):
        assert name in UFUNCS


@pytest.mark.parametrize("name", UFUNCS)
@settings(max_examples=8, deadline=None)
@given(st.lists(st.floats(0.2, 0.8), min_size=2, max_size=2))
def test_ufunc_gradient_on_object_arrays(name: str, xs: list[float]) -> None:
    ufunc = getattr(np, name)
    oracle = _oracle(name)
    shift = SHIFT.get(name, 0.0)
    x = [v + shift for v in xs]
    if ufunc.nin == 1:

        def f(v: Any) -> Any:
            return np.sum(ufunc(v) * v)

        def g(v: Any) -> Any:
            return sum(oracle(a) * a for a in v)

    else:

        def f(v: Any) -> Any:
            return ufunc(v[0], v[1]) + ufunc(v[1], 0.5)

        def g(v: Any) -> Any:
            return oracle(v[0], v[1]) + oracle(v[1], 0.5)

    got = fad.grad(f)(np.array(x))
    want = fad.grad(g)(x)
    assert got.tolist() == pytest.approx(want, rel=1e-14, abs=1e-300)
    # the value on floats is numpy's own
    assert float(f(np.array(x))) == pytest.approx(float(g(x)), rel=1e-14)


def test_lone_tracers_and_norm() -> None:
    assert fad.grad(lambda x: np.sin(x) * np.exp(x))(1.0) == pytest.approx(
        math.cos(1.0) * math.exp(1.0) + math.sin(1.0) * math.exp(1.0)
    )
    g = fad.grad(lambda v: np.linalg.norm(v))(np.array([3.0, 4.0]))
    assert g.tolist() == pytest.approx([0.6, 0.8])
    jac = fad.jacrev(lambda v: np.tanh(v))(np.array([0.3, 0.4]))
    assert jac.shape == (2, 2)
    assert jac[0, 0] == pytest.approx(1 - math.tanh(0.3) ** 2)


def test_a_ufunc_without_primitive_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        fad.grad(lambda x: np.rint(x))(1.0)
    rint, other = "rint", "not_a_ufunc"  # attributes mypy cannot see: looked up by name
    with pytest.raises(TypeError, match="no fad primitive"):
        getattr(fad.Dual(1.0, 1.0), rint)()
    with pytest.raises(AttributeError):
        getattr(fad.Dual(1.0, 1.0), other)

    def on_objects(x: Any) -> Any:  # numpy's own loop calls x.rint(): fad's message
        return np.rint(np.array([x, 2.0 * x], dtype=object))[0]

    with pytest.raises(TypeError, match=r"numpy\.rint has no fad primitive"):
        fad.grad(on_objects)(1.3)


@settings(max_examples=30)
@given(
    x=st.floats(-2.0, 2.0),
    consts=st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=4),
    left=st.booleans(),
)
def test_tracer_with_a_float_array_maps_elementwise(
    x: float, consts: list[float], left: bool
) -> None:
    """``x * ndarray``, ``ndarray + x``, ``np.sin(ndarray * x)``: as on the list of floats."""
    a = np.array(consts)

    def on_array(t: Any) -> Any:
        scaled = a * t if left else t * a
        return sum(np.sin(scaled + t) * (t - a) ** 2)

    def on_list(t: Any) -> Any:
        return sum(fad.math.sin(c * t + t) * (t - c) ** 2 for c in consts)

    want = fad.grad(on_list)(x)
    for transform in (fad.grad, fad.derivative):
        assert transform(on_array)(x) == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert fad.jit(fad.grad(on_array))(x) == pytest.approx(want, rel=1e-12, abs=1e-12)
    jac = fad.jacfwd(lambda t: t * a)(x)
    assert isinstance(jac, np.ndarray)
    assert jac.tolist() == consts


def test_fad_math_of_a_float_array_is_elementwise() -> None:
    got = fad.math.sin(np.array([0.0, 1.0]))
    assert got.dtype == float
    assert got.tolist() == [0.0, math.sin(1.0)]
