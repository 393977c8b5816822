"""fad.math mirrors math: the same values on numbers, the same errors on numbers and tracers."""

from __future__ import annotations

import fractions
import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
from fad import Codual, Dual
from fad._core import primal_value

MODES = ("tape", "memo", "naive")
Args = tuple[Any, ...]

SPECIAL = st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-300, 1e300, math.inf, -math.inf, math.nan]
)
NUMBER = st.one_of(st.floats(), st.floats(-50, 50), st.integers(-5, 5), SPECIAL)


def n_args(n: int) -> st.SearchStrategy[Args]:
    return st.tuples(*[NUMBER] * n)


def some_args(lo: int, hi: int) -> st.SearchStrategy[Args]:
    return st.lists(NUMBER, min_size=lo, max_size=hi).map(tuple)


def pairs_of_points() -> st.SearchStrategy[Args]:
    """Flat args p + q for dist/sumprod: two points of the same dimension."""
    return st.integers(0, 3).flatmap(lambda n: n_args(2 * n))


def _half(args: Args) -> tuple[Args, Args]:
    n = len(args) // 2
    return args[:n], args[n:]


def _sumprod_reference(*args: Any) -> Any:
    native = getattr(math, "sumprod", None)
    p, q = _half(args)
    if native is not None:
        return native(p, q)
    if all(math.isfinite(v) for v in args) and not all(type(v) is int for v in args):
        frac = fractions.Fraction
        products = (frac(a) * frac(b) for a, b in zip(p, q, strict=True))
        return float(sum(products, fractions.Fraction(0)))
    return sum(a * b for a, b in zip(p, q, strict=True))


def _math(name: str) -> Callable[..., Any]:
    fun: Callable[..., Any] = getattr(math, name)
    return fun


def _fad(name: str) -> Callable[..., Any]:
    fun: Callable[..., Any] = getattr(fm, name)
    return fun


UNARY = [
    "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh", "degrees",
    "erf", "erfc", "exp", "expm1", "fabs", "floor", "gamma", "lgamma", "log10", "log1p",
    "log2", "radians", "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
]  # fmt: skip
BINARY = ["atan2", "copysign", "fmod", "pow", "remainder"]
NEWER = {"cbrt": 1, "exp2": 1, "fma": 3}  # only in newer Pythons' math

# name -> (fad.math function, math function or reference, strategy of flat args)
CASES: dict[str, tuple[Callable[..., Any], Callable[..., Any], st.SearchStrategy[Args]]] = {
    **{name: (_fad(name), _math(name), n_args(1)) for name in UNARY},
    **{name: (_fad(name), _math(name), n_args(2)) for name in BINARY},
    **{
        name: (_fad(name), _math(name), n_args(arity))
        for name, arity in NEWER.items()
        if hasattr(math, name)
    },
    "log": (fm.log, math.log, n_args(1)),
    "log_base": (fm.log, math.log, n_args(2)),
    "ldexp": (fm.ldexp, math.ldexp, st.tuples(NUMBER, st.integers(-1100, 1100))),
    "hypot": (fm.hypot, math.hypot, some_args(0, 4)),
    "fsum": (lambda *a: fm.fsum(a), lambda *a: math.fsum(a), some_args(0, 4)),
    "prod": (lambda *a: fm.prod(a), lambda *a: math.prod(a), some_args(0, 4)),
    "prod_start": (
        lambda s, *a: fm.prod(a, start=s),
        lambda s, *a: math.prod(a, start=s),
        some_args(1, 4),
    ),
    "dist": (lambda *a: fm.dist(*_half(a)), lambda *a: math.dist(*_half(a)), pairs_of_points()),
    "sumprod": (lambda *a: fm.sumprod(*_half(a)), _sumprod_reference, pairs_of_points()),
}
INT_ARGS = {"ldexp": {1}}  # positions that must stay int


def outcome(fun: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """("value", v) or ("error", (type, message)) of ``fun(*args)``."""
    try:
        return "value", fun(*args)
    except (ValueError, TypeError, OverflowError, ZeroDivisionError) as e:
        return "error", (type(e), str(e))


def same_value(a: Any, b: Any, *, signed_zero: bool = True) -> bool:
    """Equal values; for two floats also the same sign of zero, and NaN equals NaN."""
    a, b = primal_value(a), primal_value(b)
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        same_sign = math.copysign(1.0, a) == math.copysign(1.0, b)
        return a == b and (same_sign or not signed_zero)
    return bool(a == b)


def test_every_differentiable_function_of_math_is_mirrored() -> None:
    not_mirrored = {
        # integer functions and predicates on integers
        "comb", "factorial", "gcd", "isqrt", "lcm", "perm",
        # tuple-valued, or steps of the float grid
        "frexp", "modf", "nextafter", "ulp",
    }  # fmt: skip
    public = {n for n in dir(math) if not n.startswith("_") and callable(getattr(math, n))}
    missing = public - not_mirrored - set(fm.__all__)
    assert not missing, f"fad.math lacks {sorted(missing)}"
    for name in ("pi", "e", "tau", "inf"):
        assert getattr(fm, name) == getattr(math, name)
    assert math.isnan(fm.nan)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=60)
@given(data=st.data())
def test_numbers_give_exactly_what_math_gives(name: str, data: st.DataObject) -> None:
    fad_fun, math_fun, args_strategy = CASES[name]
    args = data.draw(args_strategy)
    expected = outcome(math_fun, *args)
    got = outcome(fad_fun, *args)
    assert got[0] == expected[0], (args, got, expected)
    if expected[0] == "error":
        assert got[1] == expected[1]
    else:
        assert type(got[1]) is type(expected[1])
        assert same_value(got[1], expected[1]), (args, got, expected)


def _routes(fun: Callable[..., Any], args: Args, i: int) -> dict[str, Callable[[], Any]]:
    """Ways to call ``fun`` with argument ``i`` a tracer; each returns the primal value."""
    x = args[i]

    def at(v: Any) -> Any:
        return fun(*args[:i], v, *args[i + 1 :])

    def value_by(mode: str) -> Any:
        return fad.value_and_grad(at, mode=mode)(x)[0]

    routes: dict[str, Callable[[], Any]] = {
        "Dual": lambda: at(Dual(x, 1.0)),
        "Codual": lambda: at(Codual(x, lambda k: k)),
        "Dual(Dual)": lambda: at(Dual(Dual(x, 1.0, 1), 0.0, 2)),
        "Dual(Codual)": lambda: at(Dual(Codual(x, lambda k: k, 1), 1.0, 2)),
    }
    for mode in MODES:
        routes[mode] = functools.partial(value_by, mode)
    return routes


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25)
@given(data=st.data())
def test_tracers_raise_what_math_raises(name: str, data: st.DataObject) -> None:
    fad_fun, math_fun, args_strategy = CASES[name]
    args = data.draw(args_strategy)
    expected = outcome(math_fun, *args)
    for i in range(len(args)):
        if i in INT_ARGS.get(name, set()):
            continue
        for route, call in _routes(fad_fun, args, i).items():
            got = outcome(call)
            if expected[0] == "error":
                assert got == expected, (route, args, i)
            elif got[0] == "error":
                # The value exists but its derivative does not (sqrt at 0, the exponent
                # of a negative base) or overflows: fad says so, naming the function.
                kind, message = got[1]
                assert kind is OverflowError or message.startswith("fad.math."), (route, got)
            else:
                # The transforms differentiate int inputs as floats: 0 * -1.0 is 0.0 but
                # 0.0 * -1.0 is -0.0, so the sign of a zero may differ there.
                same = same_value(got[1], expected[1], signed_zero=route in ("Dual", "Codual"))
                assert same, (route, args, i, got, expected)


def test_log_of_minus_one_raises_the_same_value_error_everywhere() -> None:
    with pytest.raises(ValueError, match=r".") as info:
        math.log(-1)
    message = str(info.value)
    calls: list[Callable[[], Any]] = [
        lambda: fm.log(-1),
        lambda: fm.log(Dual(-1.0, 1.0)),
        lambda: fm.log(Codual(-1.0, lambda k: k)),
        lambda: fm.log(Dual(Dual(-1.0, 1.0, 1), 1.0, 2)),
        lambda: fm.log(Dual(Codual(-1.0, lambda k: k, 1), 1.0, 2)),
        lambda: fm.log(-1.0, 2.0),
        lambda: fm.log(Dual(-1.0, 1.0), 2.0),
        *[lambda mode=mode: fad.grad(fm.log, mode=mode)(-1.0) for mode in MODES],
        lambda: fad.grad(fad.grad(fm.log))(-1.0),
        lambda: fad.jvp(fm.log, (-1.0,), (1.0,)),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r".") as got:
            call()
        assert str(got.value) == message


def test_length_mismatches_raise_as_math() -> None:
    x = Dual(1.0, 1.0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        fm.dist([x, 2.0], [1.0])
    with pytest.raises(ValueError, match="same number of dimensions"):
        fm.dist([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="not the same length"):
        fm.sumprod([x, 2.0], [1.0])


def test_predicates_look_at_the_primal() -> None:
    assert fm.isnan(Dual(math.nan, 1.0))
    assert not fm.isnan(Dual(1.0, math.nan))
    assert fm.isinf(Codual(-math.inf, lambda k: k))
    assert fm.isfinite(Dual(Dual(2.0, 1.0, 1), 1.0, 2))
    assert fm.isclose(Dual(1.0, 5.0), 1.0 + 1e-12)


def test_tracers_keep_their_type() -> None:
    d = Dual(0.5, 1.0)
    assert isinstance(fm.sin(d), Dual)
    assert isinstance(fm.atan2(d, 1.0), Dual)
    assert isinstance(fm.log(d, 2.0), Dual)
    assert type(fm.floor(d)) is int
    assert type(fm.sin(1)) is float


# --- the fast path on floats is the primitive's impl, checked against the generic body ----

DECORATED = sorted(name for name in fm.__all__ if hasattr(getattr(fm, name), "__wrapped__"))


def test_the_decorated_functions_are_the_ones_of_one_and_two_arguments() -> None:
    expected = set(UNARY) | set(BINARY) | {"cbrt", "exp2", "digamma"}
    assert set(DECORATED) == expected


@pytest.mark.parametrize("name", DECORATED)
@settings(max_examples=40)
@given(data=st.data())
def test_fast_path_on_floats_is_the_generic_rule(name: str, data: st.DataObject) -> None:
    fun = _fad(name)
    generic = fun.__wrapped__  # type: ignore[attr-defined]
    arity = 2 if name in BINARY else 1
    args = data.draw(st.tuples(*[st.one_of(st.floats(), SPECIAL)] * arity))
    fast, slow = outcome(fun, *args), outcome(generic, *args)
    assert fast[0] == slow[0], (args, fast, slow)
    assert type(fast[1]) is type(slow[1])
    if fast[0] == "value":
        assert same_value(fast[1], slow[1]), (args, fast, slow)
    else:
        assert fast[1] == slow[1]
    # And on a tracer the function is the generic rule itself.
    x = Dual(args[0], 1.0)
    assert same_value(outcome(fun, x, *args[1:])[1], outcome(generic, x, *args[1:])[1])


def test_functions_keep_their_names_and_docstrings() -> None:
    for name in fm.__all__:
        fun = getattr(fm, name)
        if callable(fun) and name != "Real":
            assert fun.__name__ == name
            assert "Example:" in (fun.__doc__ or ""), name


_MAGNITUDES = st.floats(-1e140, 1e140, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(_MAGNITUDES, _MAGNITUDES), min_size=1, max_size=8), st.booleans())
def test_exact_dot_is_the_correctly_rounded_sum_of_products(
    pairs: list[tuple[float, float]], cancel: bool
) -> None:
    from fractions import Fraction

    from fad._primitives import _exact_dot

    p = [a for a, _ in pairs]
    q = [-a * (1.0 + 2.0**-50) for a in p] if cancel else [b for _, b in pairs]
    exact = float(sum((Fraction(a) * Fraction(b) for a, b in zip(p, q, strict=True)), Fraction(0)))
    assert _exact_dot(p, q) == exact
