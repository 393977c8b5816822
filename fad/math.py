"""fad.math: the functions of Python's ``math`` module, differentiable.

Every differentiable function of :mod:`math`, with the same name and signature. On
plain numbers each returns exactly what :mod:`math` returns (it *is* the ``math``
function at the bottom); on fad tracers it applies the derivative rule of its
primitive in :mod:`fad._primitives`. Domain errors are the ones of :mod:`math`:
``fad.math.log`` of a tracer holding -1 raises ``ValueError("math domain error")``
like ``math.log(-1)``. Where a derivative is infinite inside the domain (``sqrt`` at
0, ``asin`` at ±1, ``acosh`` at 1, ``cbrt`` at 0, ``pow(0.0, 0.5)``), differentiating
raises ``ZeroDivisionError`` naming the function and the point. ``fabs`` and
``hypot`` have derivative 0 at their kink. ``floor``, ``ceil`` and ``trunc`` have
zero derivative and return plain ``int``.

Beyond :mod:`math`: ``digamma`` and ``polygamma`` (the derivatives of ``lgamma``),
``sumprod`` on every Python version (``math.sumprod`` is 3.12+), ``cbrt`` and
``exp2`` on 3.10; ``isfinite``, ``isinf``, ``isnan`` and ``isclose`` look at the
primal.

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

import math
from collections.abc import Iterable
from typing import Any, TypeVar, overload

from fad import _primitives as _P
from fad._core import Tracer, is_tracer, primal_value

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


def _has_tracer(values: Iterable[Any]) -> bool:
    """Whether any value is a fad tracer (non-numbers count as not: ``math`` judges them)."""
    for v in values:
        t = type(v)
        if t is not float and t is not int and is_tracer(v):
            return True
    return False



@overload
def sin(x: float) -> float: ...
@overload
def sin(x: _T) -> _T: ...
def sin(x: Real) -> Any:
    """Sine of ``x`` (radians).

    Example:
        >>> import fad
        >>> fad.math.sin(0.0)
        0.0
    """
    return _P.sin(x)


@overload
def cos(x: float) -> float: ...
@overload
def cos(x: _T) -> _T: ...
def cos(x: Real) -> Any:
    """Cosine of ``x`` (radians).

    Example:
        >>> import fad
        >>> fad.math.cos(0.0)
        1.0
    """
    return _P.cos(x)


@overload
def tan(x: float) -> float: ...
@overload
def tan(x: _T) -> _T: ...
def tan(x: Real) -> Any:
    """Tangent of ``x`` (radians)."""
    return _P.tan(x)


@overload
def asin(x: float) -> float: ...
@overload
def asin(x: _T) -> _T: ...
def asin(x: Real) -> Any:
    """Arc sine of ``x``, in radians; ``ValueError`` outside [-1, 1].

    The derivative is infinite at ±1: differentiating there raises ``ZeroDivisionError``.
    """
    return _P.asin(x)


@overload
def acos(x: float) -> float: ...
@overload
def acos(x: _T) -> _T: ...
def acos(x: Real) -> Any:
    """Arc cosine of ``x``, in radians; ``ValueError`` outside [-1, 1].

    The derivative is infinite at ±1: differentiating there raises ``ZeroDivisionError``.
    """
    return _P.acos(x)


@overload
def atan(x: float) -> float: ...
@overload
def atan(x: _T) -> _T: ...
def atan(x: Real) -> Any:
    """Arc tangent of ``x``, in radians."""
    return _P.atan(x)


@overload
def sinh(x: float) -> float: ...
@overload
def sinh(x: _T) -> _T: ...
def sinh(x: Real) -> Any:
    """Hyperbolic sine of ``x``."""
    return _P.sinh(x)


@overload
def cosh(x: float) -> float: ...
@overload
def cosh(x: _T) -> _T: ...
def cosh(x: Real) -> Any:
    """Hyperbolic cosine of ``x``."""
    return _P.cosh(x)


@overload
def tanh(x: float) -> float: ...
@overload
def tanh(x: _T) -> _T: ...
def tanh(x: Real) -> Any:
    """Hyperbolic tangent of ``x``.

    Example:
        >>> import fad
        >>> fad.grad(fad.math.tanh)(0.0)
        1.0
    """
    return _P.tanh(x)


@overload
def asinh(x: float) -> float: ...
@overload
def asinh(x: _T) -> _T: ...
def asinh(x: Real) -> Any:
    """Inverse hyperbolic sine of ``x``."""
    return _P.asinh(x)


@overload
def acosh(x: float) -> float: ...
@overload
def acosh(x: _T) -> _T: ...
def acosh(x: Real) -> Any:
    """Inverse hyperbolic cosine of ``x``; ``ValueError`` below 1.

    The derivative is infinite at 1: differentiating there raises ``ZeroDivisionError``.
    """
    return _P.acosh(x)


@overload
def atanh(x: float) -> float: ...
@overload
def atanh(x: _T) -> _T: ...
def atanh(x: Real) -> Any:
    """Inverse hyperbolic tangent of ``x``; ``ValueError`` outside (-1, 1)."""
    return _P.atanh(x)


@overload
def exp(x: float) -> float: ...
@overload
def exp(x: _T) -> _T: ...
def exp(x: Real) -> Any:
    """``e`` raised to the power ``x``.

    Example:
        >>> import fad
        >>> fad.grad(fad.math.exp)(0.0)
        1.0
    """
    return _P.exp(x)


@overload
def exp2(x: float) -> float: ...
@overload
def exp2(x: _T) -> _T: ...
def exp2(x: Real) -> Any:
    """``2`` raised to the power ``x`` (``math.exp2`` is Python >= 3.11; fad has it on 3.10 too)."""
    return _P.exp2(x)


@overload
def expm1(x: float) -> float: ...
@overload
def expm1(x: _T) -> _T: ...
def expm1(x: Real) -> Any:
    """``exp(x) - 1``, accurate for small ``x``."""
    return _P.expm1(x)


@overload
def log2(x: float) -> float: ...
@overload
def log2(x: _T) -> _T: ...
def log2(x: Real) -> Any:
    """Base-2 logarithm of ``x``; ``ValueError`` for ``x <= 0``."""
    return _P.log2(x)


@overload
def log10(x: float) -> float: ...
@overload
def log10(x: _T) -> _T: ...
def log10(x: Real) -> Any:
    """Base-10 logarithm of ``x``; ``ValueError`` for ``x <= 0``."""
    return _P.log10(x)


@overload
def log1p(x: float) -> float: ...
@overload
def log1p(x: _T) -> _T: ...
def log1p(x: Real) -> Any:
    """``log(1 + x)``, accurate for small ``x``; ``ValueError`` for ``x <= -1``."""
    return _P.log1p(x)


@overload
def sqrt(x: float) -> float: ...
@overload
def sqrt(x: _T) -> _T: ...
def sqrt(x: Real) -> Any:
    """Square root of ``x``; ``ValueError`` for ``x < 0``.

    The derivative is infinite at 0: differentiating there raises ``ZeroDivisionError``.

    Example:
        >>> import fad
        >>> fad.grad(fad.math.sqrt)(4.0)
        0.25
    """
    return _P.sqrt(x)


@overload
def cbrt(x: float) -> float: ...
@overload
def cbrt(x: _T) -> _T: ...
def cbrt(x: Real) -> Any:
    """Real cube root of ``x`` (``math.cbrt`` is Python >= 3.11; fad has it on 3.10 too).

    The derivative is infinite at 0: differentiating there raises ``ZeroDivisionError``.
    """
    return _P.cbrt(x)


@overload
def fabs(x: float) -> float: ...
@overload
def fabs(x: _T) -> _T: ...
def fabs(x: Real) -> Any:
    """Absolute value of ``x`` as a float; its derivative at 0 is taken as 0."""
    return _P.fabs(x)


@overload
def erf(x: float) -> float: ...
@overload
def erf(x: _T) -> _T: ...
def erf(x: Real) -> Any:
    """The error function; its derivative is ``2/sqrt(pi) * exp(-x**2)``."""
    return _P.erf(x)


@overload
def erfc(x: float) -> float: ...
@overload
def erfc(x: _T) -> _T: ...
def erfc(x: Real) -> Any:
    """The complementary error function ``1 - erf(x)``."""
    return _P.erfc(x)


@overload
def gamma(x: float) -> float: ...
@overload
def gamma(x: _T) -> _T: ...
def gamma(x: Real) -> Any:
    """The gamma function; ``ValueError`` at 0 and the negative integers.

    Its derivative is ``gamma(x) * digamma(x)``.

    Example:
        >>> import fad
        >>> round(fad.grad(fad.math.gamma)(1.0), 12)  # -Euler's constant
        -0.577215664902
    """
    return _P.gamma(x)


@overload
def lgamma(x: float) -> float: ...
@overload
def lgamma(x: _T) -> _T: ...
def lgamma(x: Real) -> Any:
    """Natural logarithm of ``abs(gamma(x))``; its derivative is ``digamma(x)``."""
    return _P.lgamma(x)


@overload
def degrees(x: float) -> float: ...
@overload
def degrees(x: _T) -> _T: ...
def degrees(x: Real) -> Any:
    """Angle ``x`` converted from radians to degrees."""
    return _P.degrees(x)


@overload
def radians(x: float) -> float: ...
@overload
def radians(x: _T) -> _T: ...
def radians(x: Real) -> Any:
    """Angle ``x`` converted from degrees to radians."""
    return _P.radians(x)


@overload
def digamma(x: float) -> float: ...
@overload
def digamma(x: _T) -> _T: ...
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


def floor(x: Real) -> int:
    """The largest integer ``<= x``, as an ``int``; its derivative is zero.

    Example:
        >>> import fad
        >>> fad.math.floor(fad.Dual(2.5, 1.0))
        2
    """
    result: int = _P.floor(x)
    return result


def ceil(x: Real) -> int:
    """The smallest integer ``>= x``, as an ``int``; its derivative is zero."""
    result: int = _P.ceil(x)
    return result


def trunc(x: Real) -> int:
    """``x`` with its fractional part dropped, as an ``int``; its derivative is zero."""
    result: int = _P.trunc(x)
    return result


# --- two arguments -----------------------------------------------------------------


@overload
def atan2(y: float, x: float) -> float: ...
@overload
def atan2(y: _T, x: float) -> _T: ...
@overload
def atan2(y: float, x: _T) -> _T: ...
@overload
def atan2(y: _T, x: _T) -> _T: ...
def atan2(y: Real, x: Real) -> Any:
    """Arc tangent of ``y / x`` in radians, in the quadrant of ``(x, y)``.

    At the origin the derivative is undefined: differentiating there raises
    ``ZeroDivisionError``.
    """
    return _P.atan2(y, x)


@overload
def pow(x: float, y: float) -> float: ...  # noqa: A001 - mirrors math.pow
@overload
def pow(x: _T, y: float) -> _T: ...  # noqa: A001
@overload
def pow(x: float, y: _T) -> _T: ...  # noqa: A001
@overload
def pow(x: _T, y: _T) -> _T: ...  # noqa: A001
def pow(x: Real, y: Real) -> Any:  # noqa: A001
    """``x`` raised to the power ``y`` with :func:`math.pow`'s rules: always a float.

    ``ValueError`` where ``x ** y`` would be complex or infinite (``pow(-8.0, 1/3)``,
    ``pow(0.0, -1.0)``), unlike the ``**`` operator. The derivative in ``x`` is
    infinite at ``x = 0`` for ``0 < y < 1`` (``ZeroDivisionError``); the derivative in
    ``y`` needs ``log(x)`` and raises ``ValueError`` for ``x < 0``.

    Example:
        >>> import fad
        >>> fad.grad(fad.math.pow)(3.0, 2.0)
        6.0
    """
    return _P.math_pow(x, y)


@overload
def copysign(x: float, y: float) -> float: ...
@overload
def copysign(x: _T, y: float) -> _T: ...
@overload
def copysign(x: float, y: _T) -> _T: ...
@overload
def copysign(x: _T, y: _T) -> _T: ...
def copysign(x: Real, y: Real) -> Any:
    """``abs(x)`` with the sign of ``y``; the derivative in ``y`` is zero."""
    return _P.copysign(x, y)


@overload
def fmod(x: float, y: float) -> float: ...
@overload
def fmod(x: _T, y: float) -> _T: ...
@overload
def fmod(x: float, y: _T) -> _T: ...
@overload
def fmod(x: _T, y: _T) -> _T: ...
def fmod(x: Real, y: Real) -> Any:
    """``x - n*y`` for the integer ``n = trunc(x / y)``, as C's ``fmod``."""
    return _P.fmod(x, y)


@overload
def remainder(x: float, y: float) -> float: ...
@overload
def remainder(x: _T, y: float) -> _T: ...
@overload
def remainder(x: float, y: _T) -> _T: ...
@overload
def remainder(x: _T, y: _T) -> _T: ...
def remainder(x: Real, y: Real) -> Any:
    """IEEE 754 remainder: ``x - n*y`` for the integer ``n`` nearest to ``x / y``."""
    return _P.remainder(x, y)


@overload
def ldexp(x: float, i: int) -> float: ...
@overload
def ldexp(x: _T, i: int) -> _T: ...
def ldexp(x: Real, i: int) -> Any:
    """``x * 2**i`` for an ``int`` exponent ``i`` (not differentiated)."""
    return _P.ldexp(x, i)


@overload
def fma(x: float, y: float, z: float) -> float: ...
@overload
def fma(x: Real, y: Real, z: Real) -> Any: ...
def fma(x: Real, y: Real, z: Real) -> Any:
    """``x * y + z`` rounded once, as ``math.fma`` (Python 3.13+; fad has it on 3.10)."""
    return _P.fma(x, y, z)


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
        return _P.log(x)
    if not _has_tracer((x, base)):
        return math.log(x, base)  # type: ignore[arg-type]  # numbers here: no tracer
    return _P.log(x) / _P.log(base)


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
    return _P.polygamma(n, x)


# --- any number of arguments ---------------------------------------------------------


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
    if not _has_tracer(coords):
        return math.hypot(*coords)  # type: ignore[arg-type]  # numbers here: no tracer
    return _P.hypot_n(len(coords))(*coords)


@overload
def dist(p: Iterable[float], q: Iterable[float]) -> float: ...
@overload
def dist(p: Iterable[Real], q: Iterable[Real]) -> Any: ...
def dist(p: Iterable[Real], q: Iterable[Real]) -> Any:
    """Euclidean distance between points ``p`` and ``q`` (sequences of coordinates)."""
    ps: tuple[Any, ...] = tuple(p)
    qs: tuple[Any, ...] = tuple(q)
    if not _has_tracer(ps + qs):
        return math.dist(ps, qs)
    if len(ps) != len(qs):
        msg = "both points must have the same number of dimensions"
        raise ValueError(msg)
    return _P.hypot_n(len(ps))(*(a - b for a, b in zip(ps, qs, strict=True)))


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
    return _P.fsum_n(len(values))(*values)


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
    return _P.sumprod_n(len(ps))(*ps, *qs)


# --- predicates on the primal ----------------------------------------------------------


def isfinite(x: Real) -> bool:
    """Whether the primal of ``x`` is neither infinite nor NaN."""
    return math.isfinite(primal_value(x))


def isinf(x: Real) -> bool:
    """Whether the primal of ``x`` is positive or negative infinity."""
    return math.isinf(primal_value(x))


def isnan(x: Real) -> bool:
    """Whether the primal of ``x`` is NaN."""
    return math.isnan(primal_value(x))


def isclose(a: Real, b: Real, *, rel_tol: float = 1e-09, abs_tol: float = 0.0) -> bool:
    """:func:`math.isclose` of the primals of ``a`` and ``b``."""
    return math.isclose(primal_value(a), primal_value(b), rel_tol=rel_tol, abs_tol=abs_tol)
