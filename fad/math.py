"""fad.math: the functions of Python's ``math`` module, differentiable.

Every differentiable function of :mod:`math`, with the same name and signature. On
plain numbers each returns exactly what :mod:`math` returns (it calls the ``math``
function at the bottom); on fad tracers it applies the derivative rule of its
primitive in :mod:`fad._primitives`. Domain errors are the ones of :mod:`math`:
``fad.math.log`` of a tracer holding -1 raises ``ValueError("math domain error")``
like ``math.log(-1)``. Where a derivative is infinite inside the domain (``sqrt`` at
0, ``asin`` at ±1, ``acosh`` at 1, ``cbrt`` at 0, ``pow(0.0, 0.5)``), differentiating
raises ``ZeroDivisionError`` naming the function and the point. ``fabs`` and
``hypot`` have derivative 0 at their kink (JAX takes 1 for ``abs`` at 0; every such
convention is in one table, docs/primitives.md). ``floor``, ``ceil`` and ``trunc``
have zero derivative and return plain ``int``.

Beyond :mod:`math`: ``digamma`` and ``polygamma`` (the derivatives of ``lgamma``),
``sumprod`` on every Python version (``math.sumprod`` is 3.12+), ``cbrt`` and
``exp2`` on 3.10; ``isfinite``, ``isinf``, ``isnan`` and ``isclose`` look at the
primal.

How the module is written: a function of one or two reals is its primitive applied,
``return _P.sin(x)``, under a decorator, ``@_unary(_P.sin)``, which adds a fast path
for floats (``math.sin(x)`` directly, the primitive's own ``impl``), so that on plain
floats a ``fad.math`` function costs little more than its ``math`` twin (measured by
benchmarks/mathcost.py), and which gives the function its precise type:
``sin(float) -> float``, ``sin(Dual) -> Dual``. The functions with an ``int``
argument, three arguments, a keyword or any number of arguments are written out.

Example:
    >>> import fad
    >>> import fad.math as fm
    >>> fm.sin(0.5) == __import__("math").sin(0.5)
    True
    >>> round(fad.grad(lambda x: fm.sin(x) * fm.exp(x))(0.0), 12)
    1.0
    >>> fm.log(fad.Dual(-1.0, 1.0))
    Traceback (most recent call last):
    ...
    ValueError: math domain error
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar, overload

from fad import _primitives as _P
from fad._core import Primitive, Tracer, bind, is_tracer, primal_value

__all__ = [
    "Real",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cbrt",
    "ceil",
    "copysign",
    "cos",
    "cosh",
    "degrees",
    "digamma",
    "dist",
    "e",
    "erf",
    "erfc",
    "exp",
    "exp2",
    "expm1",
    "fabs",
    "floor",
    "fma",
    "fmod",
    "fsum",
    "gamma",
    "hypot",
    "inf",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "ldexp",
    "lgamma",
    "log",
    "log1p",
    "log2",
    "log10",
    "nan",
    "pi",
    "polygamma",
    "pow",
    "prod",
    "radians",
    "remainder",
    "sin",
    "sinh",
    "sqrt",
    "sumprod",
    "tan",
    "tanh",
    "tau",
    "trunc",
]

pi: float = math.pi
e: float = math.e
tau: float = math.tau
inf: float = math.inf
nan: float = math.nan

Real = float | Tracer
"""A real scalar fad differentiates: a ``float`` (or ``int``) or a fad tracer."""

_T = TypeVar("_T", bound=Tracer)


class _Unary(Protocol):
    """A function of one real: a float gives a float, a tracer the same tracer type."""

    @overload
    def __call__(self, x: float, /) -> float: ...
    @overload
    def __call__(self, x: _T, /) -> _T: ...


class _Binary(Protocol):
    """A function of two reals: floats give a float, a tracer the same tracer type."""

    @overload
    def __call__(self, x: float, y: float, /) -> float: ...
    @overload
    def __call__(self, x: _T, y: float, /) -> _T: ...
    @overload
    def __call__(self, x: float, y: _T, /) -> _T: ...
    @overload
    def __call__(self, x: _T, y: _T, /) -> _T: ...


class _ToInt(Protocol):
    """A piecewise-constant function of one real: a plain ``int``, zero derivative."""

    def __call__(self, x: Real, /) -> int: ...


def _one(prim: Primitive) -> Callable[[Callable[..., Any]], Any]:
    """``spec`` (which applies ``prim``), with ``prim.impl`` called directly on a float."""
    impl = prim.impl

    def make(spec: Callable[..., Any]) -> Any:
        def fun(x: Any) -> Any:
            if type(x) is float:
                return impl(x)
            return prim(x)  # what ``spec`` does, one Python frame less on tracers

        return functools.update_wrapper(fun, spec)

    return make


def _unary(prim: Primitive) -> Callable[[Callable[..., Any]], _Unary]:
    """The decorator of a function of one real: :func:`_one`, typed as a :class:`_Unary`."""
    return _one(prim)


def _to_int(prim: Primitive) -> Callable[[Callable[..., Any]], _ToInt]:
    """The decorator of a piecewise-constant function: :func:`_one`, typed as :class:`_ToInt`."""
    return _one(prim)


def _binary(prim: Primitive) -> Callable[[Callable[..., Any]], _Binary]:
    """As :func:`_one`, for a primitive of two arguments, typed as a :class:`_Binary`."""
    impl = prim.impl

    def make(spec: Callable[..., Any]) -> Any:
        def fun(x: Any, y: Any) -> Any:
            if type(x) is float and type(y) is float:
                return impl(x, y)
            return prim(x, y)  # what ``spec`` does, one Python frame less on tracers

        return functools.update_wrapper(fun, spec)

    return make


def _has_tracer(values: Iterable[Any]) -> bool:
    """Whether any value is a fad tracer (non-numbers count as not: ``math`` judges them)."""
    for v in values:
        t = type(v)
        if t is not float and t is not int and is_tracer(v):
            return True
    return False


# --- one argument ------------------------------------------------------------------------
# Each body applies the primitive, the generic rule for every argument; the decorator
# adds the fast path on floats, ``prim.impl(*args)``, checked against the body by
# tests/test_math.py, and gives the function its precise type for mypy.


@_unary(_P.sin)
def sin(x: Real) -> Any:
    """Sine of ``x`` (radians).

    Example:
        >>> import fad
        >>> fad.math.sin(0.0), fad.grad(fad.math.sin)(0.0)
        (0.0, 1.0)
    """
    return _P.sin(x)


@_unary(_P.cos)
def cos(x: Real) -> Any:
    """Cosine of ``x`` (radians).

    Example:
        >>> import fad
        >>> fad.math.cos(0.0), fad.grad(fad.math.cos)(0.0)
        (1.0, 0.0)
    """
    return _P.cos(x)


@_unary(_P.tan)
def tan(x: Real) -> Any:
    """Tangent of ``x`` (radians); its derivative is ``1 + tan(x)**2``.

    Example:
        >>> import fad
        >>> fad.math.tan(0.0), fad.grad(fad.math.tan)(0.0)
        (0.0, 1.0)
    """
    return _P.tan(x)


@_unary(_P.asin)
def asin(x: Real) -> Any:
    """Arc sine of ``x``, in radians; ``ValueError`` outside [-1, 1].

    The derivative is infinite at ±1: differentiating there raises ``ZeroDivisionError``.

    Example:
        >>> import fad
        >>> fad.math.asin(0.0), fad.grad(fad.math.asin)(0.0)
        (0.0, 1.0)
    """
    return _P.asin(x)


@_unary(_P.acos)
def acos(x: Real) -> Any:
    """Arc cosine of ``x``, in radians; ``ValueError`` outside [-1, 1].

    The derivative is infinite at ±1: differentiating there raises ``ZeroDivisionError``.

    Example:
        >>> import fad
        >>> fad.math.acos(1.0), fad.grad(fad.math.acos)(0.0)
        (0.0, -1.0)
    """
    return _P.acos(x)


@_unary(_P.atan)
def atan(x: Real) -> Any:
    """Arc tangent of ``x``, in radians.

    Example:
        >>> import fad
        >>> fad.math.atan(0.0), fad.grad(fad.math.atan)(1.0)
        (0.0, 0.5)
    """
    return _P.atan(x)


@_unary(_P.sinh)
def sinh(x: Real) -> Any:
    """Hyperbolic sine of ``x``.

    Example:
        >>> import fad
        >>> fad.math.sinh(0.0), fad.grad(fad.math.sinh)(0.0)
        (0.0, 1.0)
    """
    return _P.sinh(x)


@_unary(_P.cosh)
def cosh(x: Real) -> Any:
    """Hyperbolic cosine of ``x``.

    Example:
        >>> import fad
        >>> fad.math.cosh(0.0), fad.grad(fad.math.cosh)(0.0)
        (1.0, 0.0)
    """
    return _P.cosh(x)


@_unary(_P.tanh)
def tanh(x: Real) -> Any:
    """Hyperbolic tangent of ``x``.

    Example:
        >>> import fad
        >>> fad.grad(fad.math.tanh)(0.0)
        1.0
    """
    return _P.tanh(x)


@_unary(_P.asinh)
def asinh(x: Real) -> Any:
    """Inverse hyperbolic sine of ``x``.

    Example:
        >>> import fad
        >>> fad.math.asinh(0.0), fad.grad(fad.math.asinh)(0.0)
        (0.0, 1.0)
    """
    return _P.asinh(x)


@_unary(_P.acosh)
def acosh(x: Real) -> Any:
    """Inverse hyperbolic cosine of ``x``; ``ValueError`` below 1.

    The derivative is infinite at 1: differentiating there raises ``ZeroDivisionError``.

    Example:
        >>> import fad
        >>> fad.math.acosh(1.0)
        0.0
    """
    return _P.acosh(x)


@_unary(_P.atanh)
def atanh(x: Real) -> Any:
    """Inverse hyperbolic tangent of ``x``; ``ValueError`` outside (-1, 1).

    Example:
        >>> import fad
        >>> fad.math.atanh(0.0), fad.grad(fad.math.atanh)(0.0)
        (0.0, 1.0)
    """
    return _P.atanh(x)


@_unary(_P.exp)
def exp(x: Real) -> Any:
    """``e`` raised to the power ``x``.

    Example:
        >>> import fad
        >>> fad.grad(fad.math.exp)(0.0)
        1.0
    """
    return _P.exp(x)


@_unary(_P.exp2)
def exp2(x: Real) -> Any:
    """``2`` raised to the power ``x`` (``math.exp2`` is Python >= 3.11; fad has it on 3.10 too).

    Example:
        >>> import fad
        >>> fad.math.exp2(3.0)
        8.0
    """
    return _P.exp2(x)


@_unary(_P.expm1)
def expm1(x: Real) -> Any:
    """``exp(x) - 1``, accurate for small ``x``.

    Example:
        >>> import fad
        >>> fad.math.expm1(0.0), fad.grad(fad.math.expm1)(0.0)
        (0.0, 1.0)
    """
    return _P.expm1(x)


@_unary(_P.log2)
def log2(x: Real) -> Any:
    """Base-2 logarithm of ``x``; ``ValueError`` for ``x <= 0``.

    Example:
        >>> import fad
        >>> fad.math.log2(8.0)
        3.0
    """
    return _P.log2(x)


@_unary(_P.log10)
def log10(x: Real) -> Any:
    """Base-10 logarithm of ``x``; ``ValueError`` for ``x <= 0``.

    Example:
        >>> import fad
        >>> fad.math.log10(100.0)
        2.0
    """
    return _P.log10(x)


@_unary(_P.log1p)
def log1p(x: Real) -> Any:
    """``log(1 + x)``, accurate for small ``x``; ``ValueError`` for ``x <= -1``.

    Example:
        >>> import fad
        >>> fad.math.log1p(0.0), fad.grad(fad.math.log1p)(1.0)
        (0.0, 0.5)
    """
    return _P.log1p(x)


@_unary(_P.sqrt)
def sqrt(x: Real) -> Any:
    """Square root of ``x``; ``ValueError`` for ``x < 0``.

    The derivative is infinite at 0: differentiating there raises ``ZeroDivisionError``.

    Example:
        >>> import fad
        >>> fad.grad(fad.math.sqrt)(4.0)
        0.25
    """
    return _P.sqrt(x)


@_unary(_P.cbrt)
def cbrt(x: Real) -> Any:
    """Real cube root of ``x`` (``math.cbrt`` is Python >= 3.11; fad has it on 3.10 too).

    The derivative is infinite at 0: differentiating there raises ``ZeroDivisionError``.

    Example:
        >>> import fad
        >>> fad.math.cbrt(-8.0)
        -2.0
    """
    return _P.cbrt(x)


@_unary(_P.fabs)
def fabs(x: Real) -> Any:
    """Absolute value of ``x`` as a float; its derivative at 0 is taken as 0 (JAX: 1).

    Example:
        >>> import fad
        >>> fad.math.fabs(-2), fad.grad(fad.math.fabs)(-2.0)
        (2.0, -1.0)
    """
    return _P.fabs(x)


@_unary(_P.erf)
def erf(x: Real) -> Any:
    """The error function; its derivative is ``2/sqrt(pi) * exp(-x**2)``.

    Example:
        >>> import fad
        >>> fad.math.erf(0.0), round(fad.grad(fad.math.erf)(0.0), 12)
        (0.0, 1.128379167096)
    """
    return _P.erf(x)


@_unary(_P.erfc)
def erfc(x: Real) -> Any:
    """The complementary error function ``1 - erf(x)``.

    Example:
        >>> import fad
        >>> fad.math.erfc(0.0)
        1.0
    """
    return _P.erfc(x)


@_unary(_P.gamma)
def gamma(x: Real) -> Any:
    """The gamma function; ``ValueError`` at 0 and the negative integers.

    Its derivative is ``gamma(x) * digamma(x)``.

    Example:
        >>> import fad
        >>> round(fad.grad(fad.math.gamma)(1.0), 12)  # -Euler's constant
        -0.577215664902
    """
    return _P.gamma(x)


@_unary(_P.lgamma)
def lgamma(x: Real) -> Any:
    """Natural logarithm of ``abs(gamma(x))``; its derivative is ``digamma(x)``.

    Example:
        >>> import fad
        >>> fad.math.lgamma(1.0)
        0.0
    """
    return _P.lgamma(x)


@_unary(_P.degrees)
def degrees(x: Real) -> Any:
    """Angle ``x`` converted from radians to degrees.

    Example:
        >>> import fad
        >>> fad.math.degrees(fad.math.pi)
        180.0
    """
    return _P.degrees(x)


@_unary(_P.radians)
def radians(x: Real) -> Any:
    """Angle ``x`` converted from degrees to radians.

    Example:
        >>> import fad
        >>> fad.math.radians(180.0) == fad.math.pi
        True
    """
    return _P.radians(x)


@_unary(_P.digamma)
def digamma(x: Real) -> Any:
    """The digamma function ψ(x), the derivative of ``lgamma`` (not in ``math``).

    ``ValueError`` at 0 and the negative integers, the poles.

    Example:
        >>> import fad
        >>> round(fad.math.digamma(1.0), 12)
        -0.577215664902
    """
    return _P.digamma(x)


# --- zero derivative: plain ints, as math gives ----------------------------------------


@_to_int(_P.floor)
def floor(x: Real) -> Any:
    """The largest integer ``<= x``, as an ``int``; its derivative is zero.

    Example:
        >>> import fad
        >>> fad.math.floor(fad.Dual(2.5, 1.0))
        2
    """
    return _P.floor(x)


@_to_int(_P.ceil)
def ceil(x: Real) -> Any:
    """The smallest integer ``>= x``, as an ``int``; its derivative is zero.

    Example:
        >>> import fad
        >>> fad.math.ceil(fad.Dual(2.5, 1.0))
        3
    """
    return _P.ceil(x)


@_to_int(_P.trunc)
def trunc(x: Real) -> Any:
    """``x`` with its fractional part dropped, as an ``int``; its derivative is zero.

    Example:
        >>> import fad
        >>> fad.math.trunc(fad.Dual(-2.5, 1.0))
        -2
    """
    return _P.trunc(x)


# --- two arguments -----------------------------------------------------------------


@_binary(_P.atan2)
def atan2(y: Real, x: Real) -> Any:
    """Arc tangent of ``y / x`` in radians, in the quadrant of ``(x, y)``.

    At the origin the derivative is undefined: differentiating there raises
    ``ZeroDivisionError``.

    Example:
        >>> import fad
        >>> fad.grad(fad.math.atan2, argnums=(0, 1))(0.0, 1.0)
        (1.0, 0.0)
    """
    return _P.atan2(y, x)


@_binary(_P.math_pow)
def pow(x: Real, y: Real) -> Any:  # noqa: A001 - mirrors math.pow
    """``x`` raised to the power ``y`` with :func:`math.pow`'s rules: always a float.

    ``ValueError`` where ``x ** y`` would be complex or infinite (``pow(-8.0, 1/3)``,
    ``pow(0.0, -1.0)``), unlike the ``**`` operator. The derivative in ``x`` is
    infinite at ``x = 0`` for ``0 < y < 1`` (``ZeroDivisionError``); the derivative in
    ``y`` needs ``log(x)`` and raises ``ValueError`` for ``x < 0``; at ``x = 0`` it is 0
    for ``y > 0`` (see docs/primitives.md for every convention at base 0).

    Example:
        >>> import fad
        >>> fad.grad(fad.math.pow)(3.0, 2.0)
        6.0
    """
    return _P.math_pow(x, y)


@_binary(_P.copysign)
def copysign(x: Real, y: Real) -> Any:
    """``abs(x)`` with the sign of ``y``; the derivative in ``y`` is zero.

    Example:
        >>> import fad
        >>> fad.math.copysign(2.0, -0.0), fad.grad(fad.math.copysign)(2.0, -1.0)
        (-2.0, -1.0)
    """
    return _P.copysign(x, y)


@_binary(_P.fmod)
def fmod(x: Real, y: Real) -> Any:
    """``x - n*y`` for the integer ``n = trunc(x / y)``, as C's ``fmod``.

    Example:
        >>> import fad
        >>> fad.math.fmod(-7.0, 3.0), fad.grad(fad.math.fmod, argnums=1)(-7.0, 3.0)
        (-1.0, 2.0)
    """
    return _P.fmod(x, y)


@_binary(_P.remainder)
def remainder(x: Real, y: Real) -> Any:
    """IEEE 754 remainder: ``x - n*y`` for the integer ``n`` nearest to ``x / y``.

    Example:
        >>> import fad
        >>> fad.math.remainder(7.0, 3.0), fad.grad(fad.math.remainder, argnums=1)(7.0, 3.0)
        (1.0, -2.0)
    """
    return _P.remainder(x, y)


# --- written out: an int argument, three arguments, a keyword, any number -----------------

_math_ldexp = _P.ldexp.impl
_math_fma = _P.fma.impl
_math_log = _P.log.impl
_polygamma_value = _P.polygamma.impl
_math_hypot: Callable[..., float] = math.hypot
_math_isclose = math.isclose


@overload
def ldexp(x: float, i: int) -> float: ...
@overload
def ldexp(x: _T, i: int) -> _T: ...
def ldexp(x: Real, i: int) -> Any:
    """``x * 2**i`` for an ``int`` exponent ``i`` (not differentiated).

    Example:
        >>> import fad
        >>> fad.math.ldexp(3.0, 2), fad.grad(fad.math.ldexp)(3.0, 2)
        (12.0, 4.0)
    """
    if type(x) is float and type(i) is int:
        return _math_ldexp(x, i)
    return bind(_P.ldexp, x, i)


@overload
def fma(x: float, y: float, z: float) -> float: ...
@overload
def fma(x: Real, y: Real, z: Real) -> Any: ...
def fma(x: Real, y: Real, z: Real) -> Any:
    """``x * y + z`` rounded once, as ``math.fma`` (Python 3.13+; fad has it on 3.10).

    Example:
        >>> import fad
        >>> fad.math.fma(2.0, 3.0, 1.0), fad.grad(fad.math.fma)(2.0, 3.0, 1.0)
        (7.0, 3.0)
    """
    if type(x) is float and type(y) is float and type(z) is float:
        return _math_fma(x, y, z)
    return bind(_P.fma, x, y, z)


@overload
def log(x: float, base: float = ...) -> float: ...
@overload
def log(x: _T, base: float = ...) -> _T: ...
@overload
def log(x: float, base: _T) -> _T: ...
@overload
def log(x: _T, base: _T) -> _T: ...
def log(x: Real, base: Real = e) -> Any:
    """Logarithm of ``x`` to ``base`` (natural logarithm by default).

    With a base, the value is ``math.log(x, base)`` on numbers and ``log(x) / log(base)``
    on tracers, the same quotient ``math`` computes; ``ValueError`` for ``x <= 0``.

    Example:
        >>> import fad
        >>> fad.math.log(8.0, 2.0)
        3.0
        >>> round(fad.grad(fad.math.log)(4.0), 12)
        0.25
    """
    if base is e:
        if type(x) is float:
            return _math_log(x)
        return bind(_P.log, x)
    if not _has_tracer((x, base)):
        return math.log(x, base)  # type: ignore[arg-type]  # numbers here: no tracer
    return bind(_P.log, x) / bind(_P.log, base)


@overload
def polygamma(n: int, x: float) -> float: ...
@overload
def polygamma(n: int, x: _T) -> _T: ...
def polygamma(n: int, x: Real) -> Any:
    """The ``n``-th derivative of :func:`digamma` at ``x`` (not in ``math``).

    ``n`` is a non-negative ``int`` (not differentiated). ``polygamma(0, x)`` is
    ``digamma(x)``.

    Example:
        >>> import fad
        >>> round(fad.math.polygamma(1, 1.0), 12)  # pi**2 / 6
        1.644934066848
    """
    if type(n) is not int:
        msg = (
            f"fad.math.polygamma needs an int order n, got {type(n).__name__} ({n!r}); the "
            "order is not differentiated."
        )
        raise TypeError(msg)
    if type(x) is float:
        return _polygamma_value(n, x)
    return bind(_P.polygamma, n, x)


@overload
def hypot(*coords: float) -> float: ...
@overload
def hypot(*coords: Real) -> Any: ...
def hypot(*coords: Real) -> Any:
    """Euclidean norm ``sqrt(sum(x**2 for x in coords))``; derivative 0 at the origin.

    Example:
        >>> import fad
        >>> fad.grad(lambda x: fad.math.hypot(x, 4.0))(3.0)
        0.6
    """
    for c in coords:  # the float fast path, written inline: a call would cost as much
        if type(c) is not float:
            break
    else:
        return _math_hypot(*coords)
    if not _has_tracer(coords):
        return _math_hypot(*coords)
    return bind(_P.hypot_n(len(coords)), *coords)


@overload
def dist(p: Iterable[float], q: Iterable[float]) -> float: ...
@overload
def dist(p: Iterable[Real], q: Iterable[Real]) -> Any: ...
def dist(p: Iterable[Real], q: Iterable[Real]) -> Any:
    """Euclidean distance between points ``p`` and ``q`` (sequences of coordinates).

    Example:
        >>> import fad
        >>> fad.math.dist([0.0, 0.0], [3.0, 4.0])
        5.0
    """
    ps: tuple[Any, ...] = tuple(p)
    qs: tuple[Any, ...] = tuple(q)
    if not _has_tracer(ps + qs):
        return math.dist(ps, qs)
    if len(ps) != len(qs):
        msg = "both points must have the same number of dimensions"
        raise ValueError(msg)
    return bind(_P.hypot_n(len(ps)), *(a - b for a, b in zip(ps, qs, strict=True)))


@overload
def prod(iterable: Iterable[float], /, *, start: float = 1) -> float: ...
@overload
def prod(iterable: Iterable[Real], /, *, start: Real = 1) -> Any: ...
def prod(iterable: Iterable[Real], /, *, start: Real = 1) -> Any:
    """``start`` times the product of the values, multiplied left to right as ``math``.

    Example:
        >>> import fad
        >>> fad.grad(lambda x: fad.math.prod([x, x, 2.0]))(3.0)
        12.0
    """
    values: tuple[Any, ...] = tuple(iterable)
    if not _has_tracer((*values, start)):
        return math.prod(values, start=start)  # type: ignore[type-var]  # numbers here
    result: Any = start
    for v in values:
        result = result * v
    return result


@overload
def fsum(iterable: Iterable[float], /) -> float: ...
@overload
def fsum(iterable: Iterable[Real], /) -> Any: ...
def fsum(iterable: Iterable[Real], /) -> Any:
    """Correctly rounded sum of the values, as :func:`math.fsum`.

    Example:
        >>> import fad
        >>> fad.math.fsum([0.1] * 10)
        1.0
    """
    values: tuple[Any, ...] = tuple(iterable)
    if not _has_tracer(values):
        return math.fsum(values)
    return bind(_P.fsum_n(len(values)), *values)


@overload
def sumprod(p: Iterable[float], q: Iterable[float], /) -> float: ...
@overload
def sumprod(p: Iterable[Real], q: Iterable[Real], /) -> Any: ...
def sumprod(p: Iterable[Real], q: Iterable[Real], /) -> Any:
    """Sum of products ``p[0]*q[0] + p[1]*q[1] + ...``, as ``math.sumprod`` (3.12+).

    On Python 3.12 and later the value on numbers is ``math.sumprod``'s; before, an
    exactly rounded fallback.

    Example:
        >>> import fad
        >>> fad.math.sumprod([1.0, 2.0], [3.0, 4.0])
        11.0
    """
    ps, qs = tuple(p), tuple(q)
    if len(ps) != len(qs):
        msg = "Inputs are not the same length"
        raise ValueError(msg)
    return bind(_P.sumprod_n(len(ps)), *ps, *qs)


# --- predicates on the primal ----------------------------------------------------------


def isfinite(x: Real) -> bool:
    """Whether the primal of ``x`` is neither infinite nor NaN.

    Example:
        >>> import fad
        >>> fad.math.isfinite(fad.Dual(1.0, fad.math.inf))
        True
    """
    return math.isfinite(x if type(x) is float else primal_value(x))


def isinf(x: Real) -> bool:
    """Whether the primal of ``x`` is positive or negative infinity.

    Example:
        >>> import fad
        >>> fad.math.isinf(fad.Dual(-fad.math.inf, 1.0))
        True
    """
    return math.isinf(x if type(x) is float else primal_value(x))


def isnan(x: Real) -> bool:
    """Whether the primal of ``x`` is NaN.

    Example:
        >>> import fad
        >>> fad.math.isnan(fad.Dual(1.0, fad.math.nan))
        False
    """
    return math.isnan(x if type(x) is float else primal_value(x))


def isclose(a: Real, b: Real, *, rel_tol: float = 1e-09, abs_tol: float = 0.0) -> bool:
    """:func:`math.isclose` of the primals of ``a`` and ``b`` (a bool: no derivative).

    Example:
        >>> import fad
        >>> fad.math.isclose(fad.Dual(1.0, 5.0), 1.0 + 1e-12)
        True
    """
    if type(a) is float and type(b) is float:
        if rel_tol == 1e-09 and abs_tol == 0.0:  # the defaults: no keywords to pass
            return _math_isclose(a, b)
        return _math_isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    return math.isclose(primal_value(a), primal_value(b), rel_tol=rel_tol, abs_tol=abs_tol)
