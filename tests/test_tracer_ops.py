"""Python's operators on tracers: every dunder, reflected forms, any mix of int/float/tracer."""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad import Codual, Dual, structurally_equal

MODES = ("tape", "memo", "naive")

# operator -> (∂/∂x, ∂/∂y) in closed form, at plain numbers x, y
Partials = Callable[[float, float], tuple[float, float]]
BINARY: dict[str, tuple[Callable[[Any, Any], Any], Partials]] = {
    "add": (operator.add, lambda x, y: (1.0, 1.0)),
    "sub": (operator.sub, lambda x, y: (1.0, -1.0)),
    "mul": (operator.mul, lambda x, y: (y, x)),
    "truediv": (operator.truediv, lambda x, y: (1.0 / y, -x / (y * y))),
    "pow": (operator.pow, lambda x, y: (y * x ** (y - 1), x**y * math.log(x))),
    "floordiv": (operator.floordiv, lambda x, y: (0.0, 0.0)),
    "mod": (operator.mod, lambda x, y: (1.0, -float(x // y))),
}

# Operands: a positive float or int (pow needs a positive base for its y-derivative).
operand = st.one_of(st.floats(0.25, 8.0), st.integers(1, 8))


def tracer_kinds() -> dict[str, Callable[[Callable[[Any], Any], Any], tuple[Any, Any]]]:
    """Ways to evaluate a function of one variable with a tracer: (value, derivative)."""

    def dual(f: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        out = f(Dual(x, 1.0))
        return (out.primal, out.tangent) if isinstance(out, Dual) else (out, 0.0)

    def codual(f: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        out = f(Codual(x, lambda k: k))
        return (out.primal, out.backprop(1.0)) if isinstance(out, Codual) else (out, 0.0)

    def mode(name: str) -> Callable[[Callable[[Any], Any], Any], tuple[Any, Any]]:
        def run(f: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
            value, g = fad.value_and_grad(f, mode=name)(x)
            return value, g

        return run

    Run = Callable[[Callable[[Any], Any], Any], tuple[Any, Any]]
    kinds: dict[str, Run] = {"Dual": dual, "Codual": codual}
    for name in MODES:
        kinds[name] = mode(name)
    return kinds


KINDS = tracer_kinds()


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=30)
@given(x=operand, y=operand)
def test_binary_operators_in_every_mix(kind: str, name: str, x: Any, y: Any) -> None:
    op, partials = BINARY[name]
    run = KINDS[kind]
    expected = op(x, y)
    dx, dy = partials(float(x), float(y))
    # tracer op number (the forward dunder) and number op tracer (the reflected one)
    value, d = run(lambda t: op(t, y), x)
    assert value == expected or math.isclose(value, expected, rel_tol=1e-15)
    assert math.isclose(d, dx, rel_tol=1e-12, abs_tol=1e-12), (name, "left", d, dx)
    value, d = run(lambda t: op(x, t), y)
    assert value == expected or math.isclose(value, expected, rel_tol=1e-15)
    assert math.isclose(d, dy, rel_tol=1e-12, abs_tol=1e-12), (name, "right", d, dy)
    # tracer op tracer: the same variable on both sides
    xs = float(x)
    value, d = run(lambda t: op(t, t), xs)
    both = sum(partials(xs, xs))
    assert math.isclose(value, op(xs, xs), rel_tol=1e-15)
    assert math.isclose(d, both, rel_tol=1e-12, abs_tol=1e-12), (name, "both", d, both)


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=20)
@given(x=st.floats(-8.0, 8.0).filter(lambda v: abs(v) > 1e-3))
def test_unary_operators(kind: str, x: float) -> None:
    run = KINDS[kind]
    sign = 1.0 if x > 0 else -1.0
    cases: list[tuple[Callable[[Any], Any], float, float]] = [
        (operator.neg, -x, -1.0),
        (operator.pos, x, 1.0),
        (abs, abs(x), sign),
    ]
    for f, value, derivative in cases:
        assert run(f, x) == (value, derivative)


def test_reflected_forms_with_ints_and_floats() -> None:
    d = Dual(3.0, 1.0)
    assert (2 + d).tangent == 1.0
    assert (2.0 - d).tangent == -1.0
    assert (2 * d).tangent == 2.0
    assert (6 / d).tangent == pytest.approx(-6.0 / 9.0, rel=1e-15)
    assert (2**d).tangent == pytest.approx(8.0 * math.log(2.0), rel=1e-15)
    assert 7 // d == 2.0
    assert (7 % d).tangent == -2.0
    assert (d + True).primal == 4.0  # bool is an int


def test_piecewise_constant_dunders_drop_to_numbers() -> None:
    d = Dual(2.7, 1.0)
    assert math.floor(d) == 2
    assert type(math.floor(d)) is int
    assert math.ceil(d) == 3
    assert math.trunc(Dual(-2.7, 1.0)) == -2
    assert round(d) == 3
    assert round(d, 1) == 2.7
    assert (d // 1.0) == 2.0
    assert not isinstance(d // 1.0, Dual)


@pytest.mark.parametrize("kind", ["Dual", "Codual", "tape"])
def test_comparisons_are_bools_on_the_primal(kind: str) -> None:
    seen: list[Any] = []

    def f(t: Any) -> Any:
        reflected = [2 > t, 1.5 == t]  # noqa: SIM300 - the reflected comparisons are tested
        results = [t < 2, t <= 1.5, t > 1, t >= 1.5, t == 1.5, t != 1.5, *reflected]
        results += [t == t * 1.0, bool(t), t < t + 1]
        seen.extend(results)
        return t

    KINDS[kind](f, 1.5)
    assert seen == [True, True, True, True, True, False, True, True, True, True, True]
    assert all(type(r) is bool for r in seen)


def test_equal_primal_means_equal_and_tracers_are_unhashable() -> None:
    assert Dual(1.0, 2.0) == Dual(1.0, 3.0)
    assert Dual(Dual(1.0, 2.0, 1), 0.0, 2) == 1.0
    assert not bool(Dual(0.0, 1.0))
    with pytest.raises(TypeError):
        hash(Dual(1.0, 2.0))


def test_control_flow_under_a_transform() -> None:
    def relu_squared(x: Any) -> Any:
        return x * x if x > 0 else 0.0 * x

    for mode in MODES:
        assert fad.grad(relu_squared, mode=mode)(3.0) == 6.0
        assert fad.grad(relu_squared, mode=mode)(-3.0) == 0.0


@pytest.mark.parametrize(
    "tracer",
    [Dual(1.5, 1.0), Codual(1.5, lambda k: k), Dual(Dual(1.5, 1.0, 1), 1.0, 2)],
    ids=["Dual", "Codual", "nested"],
)
@pytest.mark.parametrize("convert", [float, int, complex], ids=["float", "int", "complex"])
def test_conversions_raise_naming_the_fix(tracer: Any, convert: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError) as info:
        convert(tracer)
    message = str(info.value)
    assert f"{convert.__name__}()" in message
    assert "fad.stop_gradient" in message
    assert ".primal" in message


def test_index_raises_naming_the_fix() -> None:
    with pytest.raises(TypeError, match=r"fad\.stop_gradient"):
        [1, 2, 3][Dual(1.0, 1.0)]


def test_math_module_on_a_tracer_names_fad_math() -> None:
    with pytest.raises(TypeError, match=r"fad\.math\.sin"):
        math.sin(Dual(1.0, 1.0))
    with pytest.raises(TypeError, match=r"fad\.math\.sqrt"):
        math.sqrt(Codual(4.0, lambda k: k))
    for mode in MODES:
        with pytest.raises(TypeError, match=r"use fad\.math\.exp"):
            fad.grad(lambda x: math.exp(x), mode=mode)(1.0)
    with pytest.raises(TypeError, match=r"use fad\.math\.log"):
        fad.jvp(lambda x: math.log(x), (1.0,), (1.0,))


def test_fad_math_is_the_fix() -> None:
    assert fad.grad(lambda x: fad.math.sin(x))(0.0) == 1.0
    assert fad.grad(lambda x: fad.math.sqrt(x))(4.0) == 0.25


# --- tracers as numbers: what numbers.Real code relies on -------------------------------------

TRACERS = [
    lambda v: Dual(v, 1.0),
    lambda v: Codual(v, lambda k: k),
    lambda v: Dual(Dual(v, 1.0, 1), 1.0, 2),
    lambda v: fad.Jet(v, (1.0, 0.0)),
]


@pytest.mark.parametrize("make", TRACERS)
@settings(max_examples=30)
@given(v=st.floats(allow_nan=False), spec=st.sampled_from([".3f", ">10.2e", "g", "+.1%", "08.3f"]))
def test_format_spec_formats_the_primal(make: Callable[[float], Any], v: float, spec: str) -> None:
    x = make(v)
    assert f"{x:{spec}}" == format(v, spec)
    assert format(x, "") == str(x)  # no spec: the tracer's own text, as before


def test_format_inside_a_transform_keeps_the_derivative() -> None:
    printed: list[str] = []

    def f(x: Any) -> Any:
        printed.append(f"x = {x:.3f}")
        return x * x

    for mode in MODES:
        assert fad.grad(f, mode=mode)(2.0) == 4.0
    assert fad.jvp(f, (2.0,), (1.0,)) == (4.0, 4.0)
    assert printed == ["x = 2.000"] * 4


@pytest.mark.parametrize("make", TRACERS)
def test_real_imag_conjugate_is_integer(make: Callable[[float], Any]) -> None:
    x = make(2.0)
    assert x.real is x
    assert x.imag == 0.0
    assert type(x.imag) is float
    assert x.conjugate() is x
    assert x.is_integer()
    assert not make(2.5).is_integer()
    assert make(-0.0).is_integer() == (-0.0).is_integer()
    assert not make(math.inf).is_integer()


def test_real_and_conjugate_keep_the_derivative() -> None:
    def f(x: Any) -> Any:
        return x.real * x.conjugate() + x.imag

    for mode in MODES:
        assert fad.grad(f, mode=mode)(3.0) == 6.0
    assert fad.derivative(f, 2)(3.0) == 2.0


@settings(max_examples=40)
@given(x=st.floats(-50, 50), y=st.floats(0.5, 10).map(lambda v: v if v else 1.0))
def test_divmod_is_floordiv_and_mod(x: float, y: float) -> None:
    for a, b in ((Dual(x, 1.0), y), (x, Dual(y, 1.0)), (Dual(x, 1.0), Dual(y, 0.5))):
        q, r = divmod(a, b)
        assert q == a // b
        assert structurally_equal(r, a % b)
    assert fad.grad(lambda t: divmod(t, y)[1])(x) == fad.grad(lambda t: t % y)(x)
    assert fad.grad(lambda t: divmod(x, t)[1])(y) == fad.grad(lambda t: x % t)(y)


def test_statistics_median_keeps_the_derivative() -> None:
    for mode in MODES:
        assert fad.grad(lambda x: statistics.median([x, 2 * x, 3 * x]), mode=mode)(1.0) == 2.0
        assert fad.grad(lambda x: statistics.median([x, 3 * x]), mode=mode)(1.0) == 2.0


@pytest.mark.parametrize(
    ("stat", "says"),
    [
        (statistics.mean, "as_integer_ratio() of a"),
        (statistics.variance, "as_integer_ratio() of a"),
        (statistics.fmean, "statistics.fmean converts its data to floats"),
    ],
)
def test_statistics_that_cannot_keep_the_derivative_say_so(
    stat: Callable[[list[Any]], Any], says: str
) -> None:
    for mode in MODES:
        with pytest.raises(TypeError) as info:
            fad.grad(lambda x: stat([x, 2 * x, 4 * x]), mode=mode)(1.0)
        message = str(info.value)
        assert says in message
        assert "fad.math.fsum(xs) / len(xs)" in message
    # the fix it names differentiates
    assert fad.grad(lambda x: fad.math.fsum([x, 2 * x, 4 * x]) / 3)(1.0) == pytest.approx(7 / 3)
