"""fad.special: JAX's ``jax.scipy.special`` / ``jax.nn`` functions for scalar code.

``logsumexp``, ``logaddexp``, ``sigmoid`` (also named ``expit``), ``softplus``,
``softmax``, ``log_softmax``, ``xlogy``, ``xlog1py``, ``erfinv``, ``ndtr``, ``ndtri``,
``log_ndtr``, ``betaln``, ``gammainc`` and ``gammaincc``, with the names and argument
order of :mod:`jax.scipy.special` and :mod:`jax.nn`, on scalars (and, for
``logsumexp`` and the softmaxes, sequences of scalars).

Each function is one primitive of fad's registry (:data:`fad._primitives.REGISTRY`),
defined here once: a value on plain numbers, computed stably (a max shift in
``logsumexp``, ``log1p(exp(-|x|))`` in ``softplus``, an asymptotic series for
``log_ndtr`` far in the left tail, Newton steps on ``erf``/``erfc`` for the inverses,
series and continued fractions for the incomplete gamma functions), and partials
written with fad's operations, so every tracer (``Dual``, the three codual strategies,
``Jet``) differentiates them to any order. ``softmax`` and ``log_softmax`` have n
outputs, which a primitive (one output) cannot have: they are written with ``exp``,
``fsum`` and one division (or subtraction) per output, after a constant shift by the
largest term, so their derivatives cost O(n) per gradient as well.

Conventions, as SciPy and JAX where they agree:

- values at the edge of a domain are the limits: ``ndtri(0.0)`` is ``-inf``,
  ``xlogy(1.0, 0.0)`` is ``-inf``, ``xlogy(0.0, y)`` is ``0.0`` for every ``y``;
- arguments outside the domain raise ``ValueError`` naming the function and the
  argument (where SciPy and JAX return NaN); NaN in gives NaN out;
- a derivative that is infinite at a point (``erfinv`` at ±1, ``xlogy`` in ``x`` at
  ``y = 0``) raises ``ZeroDivisionError`` naming the function and the point, as
  :mod:`fad.math` does;
- ``gammainc`` and ``gammaincc`` are differentiable in ``x`` only: a traced ``a``
  raises ``NotImplementedError`` (wrap it in :func:`fad.stop_gradient`).

Example:
    >>> import fad
    >>> import fad.special as fs
    >>> fs.logsumexp([1000.0, 1000.0])  # 1000 + log 2, where exp(1000) overflows
    1000.6931471805599
    >>> round(fad.grad(fs.softplus)(0.0), 12)  # softplus' = sigmoid
    0.5
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from fad import _primitives as _P
from fad import math as _fm
from fad._core import Primitive, Tracer, is_tracer, primal_value
from fad._primitives import REGISTRY, _infinite

__all__ = [
    "betaln",
    "erfinv",
    "expit",
    "gammainc",
    "gammaincc",
    "log_ndtr",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "ndtr",
    "ndtri",
    "sigmoid",
    "softmax",
    "softplus",
    "xlog1py",
    "xlogy",
]

Real = float | Tracer
_T = TypeVar("_T", bound=Tracer)

_LN2 = math.log(2.0)
_SQRT1_2 = math.sqrt(0.5)
_SQRT2 = math.sqrt(2.0)
_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / _SQRT_2PI
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_EULER = 0.57721566490153286061
_EPS = 2.0**-53


def _register(prim: Primitive) -> Primitive:
    REGISTRY[prim.name] = prim
    return prim


def _domain(name: str, what: str, **args: Any) -> ValueError:
    given = ", ".join(f"{k}={primal_value(v)!r}" for k, v in args.items())
    return ValueError(f"fad.special.{name} needs {what}, got {given}.")


def _is_nan(*xs: float) -> bool:
    return any(x != x for x in xs)


# --- logistic functions --------------------------------------------------------------


def _sigmoid_value(x: float) -> float:
    x = float(x)
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # x < 0: no overflow, and no 1 - tiny cancellation
    return e / (1.0 + e)


def _softplus_value(x: float) -> float:
    x = float(x)
    if x != x:
        return x
    return max(x, 0.0) + math.log1p(math.exp(-math.fabs(x)))


def _logaddexp_value(x: float, y: float) -> float:
    x, y = float(x), float(y)
    if _is_nan(x, y):
        return math.nan
    if x == y:  # also both +inf or both -inf, where x - y is NaN
        return x + _LN2
    return max(x, y) + math.log1p(math.exp(-math.fabs(x - y)))


# sigmoid' = sigmoid(x)·sigmoid(-x): no 1 - ans, which is 0 for x > 37 where the true
# derivative is e^-x.
_sigmoid: Primitive = _register(
    Primitive("sigmoid", _sigmoid_value, [lambda ans, x: ans * _sigmoid(-x)])
)
_softplus: Primitive = _register(
    Primitive("softplus", _softplus_value, [lambda ans, x: _sigmoid(x)])
)
# ∂/∂x log(eˣ + eʸ) = e^(x - ans) ≤ 1: no overflow.
_logaddexp: Primitive = _register(
    Primitive(
        "logaddexp",
        _logaddexp_value,
        [lambda ans, x, y: _P.exp(x - ans), lambda ans, x, y: _P.exp(y - ans)],
    )
)


@overload
def sigmoid(x: float) -> float: ...
@overload
def sigmoid(x: _T) -> _T: ...
def sigmoid(x: Real) -> Any:
    """The logistic sigmoid ``1 / (1 + exp(-x))``, without overflow (``expit``).

    Args:
        x: a real scalar or tracer.

    Returns:
        ``sigmoid(x)`` in [0, 1]; its derivative is ``sigmoid(x) * sigmoid(-x)``.

    Example:
        >>> import fad
        >>> from fad.special import sigmoid
        >>> sigmoid(0.0), sigmoid(-800.0), sigmoid(800.0)
        (0.5, 0.0, 1.0)
        >>> fad.grad(sigmoid)(0.0)
        0.25
    """
    return _sigmoid(x)


expit = sigmoid
"""SciPy's name for :func:`sigmoid` (the same function)."""


@overload
def softplus(x: float) -> float: ...
@overload
def softplus(x: _T) -> _T: ...
def softplus(x: Real) -> Any:
    """``log(1 + exp(x))``, as ``max(x, 0) + log1p(exp(-|x|))`` (no overflow).

    Args:
        x: a real scalar or tracer.

    Returns:
        ``softplus(x)``; its derivative is ``sigmoid(x)``.

    Example:
        >>> from fad.special import softplus
        >>> softplus(1000.0), softplus(-1000.0)
        (1000.0, 0.0)
        >>> round(softplus(0.0), 15)  # log 2
        0.693147180559945
    """
    return _softplus(x)


@overload
def logaddexp(x1: float, x2: float) -> float: ...
@overload
def logaddexp(x1: _T, x2: float) -> _T: ...
@overload
def logaddexp(x1: float, x2: _T) -> _T: ...
@overload
def logaddexp(x1: _T, x2: _T) -> _T: ...
def logaddexp(x1: Real, x2: Real) -> Any:
    """``log(exp(x1) + exp(x2))``, computed without overflow.

    Args:
        x1: a real scalar or tracer.
        x2: a real scalar or tracer.

    Returns:
        The log of the sum of the exponentials; its partials are
        ``exp(x1 - ans)`` and ``exp(x2 - ans)``.

    Example:
        >>> import fad
        >>> from fad.special import logaddexp
        >>> logaddexp(1000.0, 1000.0)
        1000.6931471805599
        >>> fad.grad(logaddexp, argnums=(0, 1))(0.0, 0.0)
        (0.5, 0.5)
    """
    return _logaddexp(x1, x2)


# --- logsumexp of n terms ------------------------------------------------------------


def _logsumexp_value(*ab: float) -> float:
    """log Σ bᵢ exp(aᵢ) of ``ab = a + b``, shifted by the largest aᵢ with bᵢ ≠ 0."""
    n = len(ab) // 2
    a, b = ab[:n], ab[n:]
    if _is_nan(*ab):
        return math.nan
    used = [float(ai) for ai, bi in zip(a, b, strict=True) if bi != 0]
    if not used:
        return -math.inf
    m = max(used)
    if math.isinf(m):
        if m > 0 and any(ai == m and bi < 0 for ai, bi in zip(a, b, strict=True)):
            raise _domain("logsumexp", "a positive weight b at each infinite a", a=m)
        return m
    s = math.fsum(bi * math.exp(ai - m) for ai, bi in zip(a, b, strict=True) if bi != 0)
    if s < 0:
        msg = (
            "fad.special.logsumexp: sum(b * exp(a)) is negative, so its log is not real. "
            "Make the weights b non-negative (JAX returns NaN here, or the sign with "
            "return_sign=True)."
        )
        raise ValueError(msg)
    if s == 0:
        return -math.inf
    return m + math.log(s)


def _logsumexp_da(i: int, n: int) -> Callable[..., Any]:
    # ∂/∂aᵢ log Σ bⱼ e^aⱼ = bᵢ e^(aᵢ - ans): O(1) given ans.
    return lambda ans, *ab: ab[n + i] * _P.exp(ab[i] - ans)


def _logsumexp_db(i: int) -> Callable[..., Any]:
    return lambda ans, *ab: _P.exp(ab[i] - ans)


def _logsumexp_all(ans: Any, *ab: Any) -> list[Any]:
    """Every partial at once, each exponential computed once: O(n) for all 2n."""
    n = len(ab) // 2
    es = [_P.exp(ab[i] - ans) for i in range(n)]
    da = [e if type(w) is float and w == 1.0 else w * e for e, w in zip(es, ab[n:], strict=True)]
    return da + es


# Tracers that know ``Primitive(all_partials=...)`` call it once per application; the
# one-at-a-time partials each receive all 2n arguments, so n of them cost O(n²).
_ALL_PARTIALS: dict[str, Any] = (
    {"all_partials": _logsumexp_all} if "all_partials" in Primitive.__slots__ else {}
)
_logsumexp_cache: dict[int, Primitive] = {}


def logsumexp_n(n: int) -> Primitive:
    """The primitive ``logsumexp`` of ``n`` terms and weights, as 2n arguments ``a + b``.

    Example:
        >>> logsumexp_n(2)(0.0, 0.0, 1.0, 1.0) == logsumexp([0.0, 0.0])
        True
    """
    prim = _logsumexp_cache.get(n)
    if prim is None:
        partials = [_logsumexp_da(i, n) for i in range(n)] + [_logsumexp_db(i) for i in range(n)]
        prim = Primitive("logsumexp", _logsumexp_value, partials, **_ALL_PARTIALS)
        _logsumexp_cache[n] = prim
    return prim


_register(logsumexp_n(2))


def _terms(name: str, values: Any) -> tuple[Any, ...]:
    if isinstance(values, (int, float)) or is_tracer(values):
        msg = (
            f"fad.special.{name} takes a sequence of scalars (a list or tuple), got the "
            f"scalar {primal_value(values)!r}; write {name}([x, ...])."
        )
        raise TypeError(msg)
    try:
        return tuple(values)
    except TypeError:
        msg = f"fad.special.{name} takes a sequence of scalars, got {type(values).__name__}."
        raise TypeError(msg) from None


@overload
def logsumexp(a: Sequence[float], b: Sequence[float] | None = None) -> float: ...
@overload
def logsumexp(a: Sequence[Real], b: Sequence[Real] | None = None) -> Any: ...
def logsumexp(a: Sequence[Real], b: Sequence[Real] | None = None) -> Any:
    """``log(sum(b[i] * exp(a[i])))``, shifted by the largest term so it cannot overflow.

    One primitive of all the terms (and weights): its partials ``b[i] * exp(a[i] - ans)``
    and ``exp(a[i] - ans)`` cost O(1) each and come from one call for all of them, so a
    gradient costs O(n), as the function does.

    Args:
        a: a sequence of real scalars or tracers (empty gives ``-inf``).
        b: optional weights, one per term, as ``b=`` of ``jax.scipy.special.logsumexp``;
            differentiable too. Terms with weight 0 are left out.

    Returns:
        The log of the weighted sum of exponentials.

    Raises:
        ValueError: when ``b`` has another length than ``a``, or the weighted sum is
            negative (its log is not real).

    Example:
        >>> import fad
        >>> from fad.special import logsumexp
        >>> logsumexp([1000.0, 1000.0])
        1000.6931471805599
        >>> logsumexp([0.0, 0.0], b=[0.5, 0.5])
        0.0
        >>> fad.grad(lambda x, y: logsumexp([x, y]), argnums=(0, 1))(0.0, 0.0)
        (0.5, 0.5)
    """
    terms = _terms("logsumexp", a)
    n = len(terms)
    if b is None:
        weights: tuple[Any, ...] = (1.0,) * n
    else:
        weights = _terms("logsumexp", b)
        if len(weights) != n:
            msg = (
                f"fad.special.logsumexp: b has {len(weights)} weights for {n} terms a; "
                "give one weight per term."
            )
            raise ValueError(msg)
    if n == 0:
        return -math.inf
    return logsumexp_n(n)(*terms, *weights)


@overload
def log_softmax(x: Sequence[float]) -> list[float]: ...
@overload
def log_softmax(x: Sequence[_T]) -> list[_T]: ...
@overload
def log_softmax(x: Sequence[Real]) -> list[Any]: ...
def log_softmax(x: Sequence[Real]) -> list[Any]:
    """``x[i] - logsumexp(x)`` for each ``i``, as ``jax.nn.log_softmax`` on a vector.

    Computed as ``(x[i] - m) - log(fsum(exp(x[j] - m)))`` with ``m`` the largest term:
    no overflow, and no rounding of a large ``logsumexp`` in the result.

    Args:
        x: a sequence of real scalars or tracers.

    Returns:
        A list of the same length: the log-probabilities.

    Example:
        >>> from fad.special import log_softmax
        >>> [round(v, 12) for v in log_softmax([0.0, 0.0])]
        [-0.69314718056, -0.69314718056]
    """
    terms = _terms("log_softmax", x)
    shifted, total = _shifted_exp(terms)
    log_total = _P.log(total)
    return [d - log_total for d, _ in shifted]


@overload
def softmax(x: Sequence[float]) -> list[float]: ...
@overload
def softmax(x: Sequence[_T]) -> list[_T]: ...
@overload
def softmax(x: Sequence[Real]) -> list[Any]: ...
def softmax(x: Sequence[Real]) -> list[Any]:
    """``exp(x[i] - logsumexp(x))`` for each ``i``, as ``jax.nn.softmax`` on a vector.

    Computed as ``exp(x[i] - m) / fsum(exp(x[j] - m))`` with ``m`` the largest term.

    Args:
        x: a sequence of real scalars or tracers.

    Returns:
        A list of the same length: probabilities summing to 1.

    Example:
        >>> import fad
        >>> from fad.special import softmax
        >>> softmax([1000.0, 1000.0])
        [0.5, 0.5]
        >>> fad.grad(lambda x, y: softmax([x, y])[0], argnums=(0, 1))(0.0, 0.0)
        (0.25, -0.25)
    """
    terms = _terms("softmax", x)
    shifted, total = _shifted_exp(terms)
    return [e / total for _, e in shifted]


def _shifted_exp(terms: tuple[Any, ...]) -> tuple[list[tuple[Any, Any]], Any]:
    """``(xᵢ - m, exp(xᵢ - m))`` for each term and the sum of the exponentials.

    ``m`` is the largest primal, taken as a constant: the softmaxes do not change
    when every term is shifted by the same constant, so neither do their derivatives.
    """
    if not terms:
        return [], 1.0
    m = max(float(primal_value(t)) for t in terms)
    if math.isinf(m):
        m = 0.0  # all -inf, or an inf term: no finite shift helps (NaN as in JAX)
    shifted = []
    for t in terms:
        d = t - m
        shifted.append((d, _P.exp(d)))
    return shifted, _fm.fsum([e for _, e in shifted])


# --- x·log y -------------------------------------------------------------------------


def _xlogy_value(x: float, y: float) -> float:
    if _is_nan(x, y):
        return math.nan
    if x == 0:
        return 0.0
    if y < 0:
        raise _domain("xlogy", "y >= 0 where x != 0", x=x, y=y)
    if y == 0:
        return -math.inf if x > 0 else math.inf
    return float(x) * math.log(y)


def _xlog1py_value(x: float, y: float) -> float:
    if _is_nan(x, y):
        return math.nan
    if x == 0:
        return 0.0
    if y < -1:
        raise _domain("xlog1py", "y >= -1 where x != 0", x=x, y=y)
    if y == -1:
        return -math.inf if x > 0 else math.inf
    return float(x) * math.log1p(y)


def _xlogy_dx(ans: Any, x: Any, y: Any) -> Any:
    if primal_value(y) == 0:
        _infinite("fad.special.xlogy", x, y)
    return _P.log(y)


def _xlogy_dy(ans: Any, x: Any, y: Any) -> Any:
    if primal_value(y) == 0:
        _infinite("fad.special.xlogy", x, y)
    return x / y


def _xlog1py_dx(ans: Any, x: Any, y: Any) -> Any:
    if primal_value(y) == -1:
        _infinite("fad.special.xlog1py", x, y)
    return _P.log1p(y)


def _xlog1py_dy(ans: Any, x: Any, y: Any) -> Any:
    if primal_value(y) == -1:
        _infinite("fad.special.xlog1py", x, y)
    return x / (1.0 + y)


_xlogy: Primitive = _register(Primitive("xlogy", _xlogy_value, [_xlogy_dx, _xlogy_dy]))
_xlog1py: Primitive = _register(Primitive("xlog1py", _xlog1py_value, [_xlog1py_dx, _xlog1py_dy]))


@overload
def xlogy(x: float, y: float) -> float: ...
@overload
def xlogy(x: _T, y: float) -> _T: ...
@overload
def xlogy(x: float, y: _T) -> _T: ...
@overload
def xlogy(x: _T, y: _T) -> _T: ...
def xlogy(x: Real, y: Real) -> Any:
    """``x * log(y)``, and 0 where ``x == 0`` (whatever ``y``), as SciPy and JAX.

    Args:
        x: a real scalar or tracer.
        y: a real scalar or tracer, ``y >= 0`` where ``x != 0``.

    Returns:
        ``x * log(y)``; ``-inf`` (or ``inf`` for ``x < 0``) at ``y == 0``.

    Raises:
        ValueError: for ``y < 0`` with ``x != 0``.
        ZeroDivisionError: differentiating at ``y == 0``, where the derivative is
            infinite.

    Example:
        >>> import fad
        >>> from fad.special import xlogy
        >>> xlogy(0.0, 0.0), xlogy(2.0, 1.0)
        (0.0, 0.0)
        >>> fad.grad(xlogy, argnums=(0, 1))(2.0, 1.0)
        (0.0, 2.0)
    """
    return _xlogy(x, y)


@overload
def xlog1py(x: float, y: float) -> float: ...
@overload
def xlog1py(x: _T, y: float) -> _T: ...
@overload
def xlog1py(x: float, y: _T) -> _T: ...
@overload
def xlog1py(x: _T, y: _T) -> _T: ...
def xlog1py(x: Real, y: Real) -> Any:
    """``x * log1p(y)``, and 0 where ``x == 0`` (whatever ``y``), as SciPy and JAX.

    Args:
        x: a real scalar or tracer.
        y: a real scalar or tracer, ``y >= -1`` where ``x != 0``.

    Returns:
        ``x * log1p(y)``, accurate for small ``y``.

    Raises:
        ValueError: for ``y < -1`` with ``x != 0``.
        ZeroDivisionError: differentiating at ``y == -1``.

    Example:
        >>> from fad.special import xlog1py
        >>> xlog1py(0.0, -1.0), xlog1py(2.0, 1e-20)
        (0.0, 2e-20)
    """
    return _xlog1py(x, y)


# --- the normal distribution and the inverse error function -------------------------


def _erfinv_small(y: float) -> float:
    """erfinv(y) for |y| <= 0.5: a series start, then Halley steps on erf."""
    if y == 0.0:
        return y
    y2 = y * y
    c3, c5, c7 = math.pi / 12.0, 7.0 * math.pi**2 / 480.0, 127.0 * math.pi**3 / 40320.0
    x = 0.5 * _SQRT_PI * y * (1.0 + y2 * (c3 + y2 * (c5 + y2 * c7)))
    for _ in range(8):
        f = math.erf(x) - y
        step = f / (2.0 / _SQRT_PI * math.exp(-x * x))
        step /= 1.0 + x * step  # Halley: erf'' = -2x erf'
        x -= step
        if math.fabs(step) <= 4.0 * _EPS * math.fabs(x):  # a few ulps: only rounding left
            break
    return x


def _erfcinv_tail(q: float) -> float:
    """The z > 0 with erfc(z) = q, for 0 < q <= 0.5: Newton steps on log erfc."""
    log_q = math.log(q)
    # erfc(z) ≈ exp(-z²) / (z√π): two fixed-point steps of z² = -log q - log(z√π)
    z = math.sqrt(-log_q)
    for _ in range(2):
        z = math.sqrt(max(-log_q - math.log(z * _SQRT_PI), 0.04))
    for _ in range(50):
        e = math.erfc(z)
        if e == 0.0:  # past the last subnormal: come back
            z *= 0.99
            continue
        # h(z) = log erfc(z) - log q;  h'(z) = -(2/√π) exp(-z² - log erfc z). Close to
        # the root, h is (e - q)/e to first order, which is free of the rounding of log.
        log_e = math.log(e)
        slope = -2.0 / _SQRT_PI * math.exp(-z * z - log_e)
        residual = e - q
        h = residual / e if math.fabs(residual) < 1e-3 * e else log_e - log_q
        step = h / slope
        z -= step
        if math.fabs(step) <= 4.0 * _EPS * z:
            break
    return z


def _erfinv_value(y: float) -> float:
    y = float(y)
    if y != y:
        return y
    if not -1.0 <= y <= 1.0:
        raise _domain("erfinv", "-1 <= y <= 1", y=y)
    if math.fabs(y) <= 0.5:
        return _erfinv_small(y)
    if math.fabs(y) == 1.0:
        return math.copysign(math.inf, y)
    return math.copysign(_erfcinv_tail(1.0 - math.fabs(y)), y)  # 1 - |y| is exact


def _ndtri_value(p: float) -> float:
    p = float(p)
    if p != p:
        return p
    if not 0.0 <= p <= 1.0:
        raise _domain("ndtri", "0 <= p <= 1", p=p)
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    # Φ(x) = erfc(-x/√2)/2. q = 2·min(p, 1-p) is exact (1 - p is, for p >= 1/2).
    sign = -1.0 if p < 0.5 else 1.0
    q = 2.0 * p if p < 0.5 else 2.0 * (1.0 - p)
    z = _erfinv_small(1.0 - q) if q >= 0.5 else _erfcinv_tail(q)  # 1 - q exact too
    x = sign * _SQRT2 * z
    if p < 1e-280:
        # erfc is subnormal near here, with few significant digits: polish with
        # Newton steps on log Φ(x) = log p, by the asymptotic series of log_ndtr.
        log_p = math.log(p)
        for _ in range(3):
            x -= (_log_ndtr_value(x) - log_p) / (-x / _mills_series(x))
    return x


def _two_product(a: float, b: float) -> tuple[float, float]:
    """``(p, e)`` with ``p = fl(a·b)`` and ``p + e == a·b`` exactly (Dekker, for |a·b| < 1e300)."""
    p = a * b
    c = 134217729.0 * a  # 2²⁷ + 1: Veltkamp's split into 26-bit halves
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = 134217729.0 * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _exact_sqrt1_2_rest() -> float:
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        return float(decimal.Decimal(2).sqrt() / 2 - decimal.Decimal(_SQRT1_2))


_SQRT1_2_REST = _exact_sqrt1_2_rest()  # 1/√2 - fl(1/√2)


def _ndtr_value(x: float) -> float:
    x = float(x)
    if not -40.0 < x < -3.0:
        return 0.5 * math.erfc(-x * _SQRT1_2)
    # Φ(x) = erfc(z)/2 at z = -x/√2, which fl(-x·fl(1/√2)) misses by ~|z|·ε: a
    # relative error 2z²·ε in the tail. Carry the missing part dz to first order.
    p, e = _two_product(x, _SQRT1_2)
    z = -p
    dz = -(e + x * _SQRT1_2_REST)
    return 0.5 * (math.erfc(z) - _TWO_OVER_SQRT_PI * math.exp(-z * z) * dz)


# Σₖ (-1)ᵏ (2k-1)!! / x²ᵏ, k = 0..12: the asymptotic series of the Mills ratio.
_MILLS = tuple((-1.0) ** k * math.prod(range(1, 2 * k, 2)) for k in range(13))
_LOG_NDTR_TAIL = -20.0  # below it, the asymptotic series is accurate to 1e-17


def _mills_series(x: Any) -> Any:
    """Σₖ (-1)ᵏ (2k-1)!!/x²ᵏ, with fad operations (x may be a tracer)."""
    u = 1.0 / (x * x)
    total: Any = _MILLS[-1]
    for c in reversed(_MILLS[:-1]):
        total = total * u + c
    return total


def _log_ndtr_value(x: float) -> float:
    x = float(x)
    if x != x:
        return x
    if x > 0.0:
        return math.log1p(-_ndtr_value(-x))  # ndtr(-x) <= 1/2 is accurate; 1 - it is not
    if x > _LOG_NDTR_TAIL:
        return math.log(_ndtr_value(x))
    if x == -math.inf:
        return x
    # Φ(x) = φ(x)/(-x) · Σₖ (-1)ᵏ (2k-1)!!/x²ᵏ for x → -∞
    return -0.5 * x * x - math.log(-x) - _LOG_SQRT_2PI + math.log(_mills_series(x))


def _log_ndtr_d(ans: Any, x: Any) -> Any:
    # φ(x)/Φ(x): in the far tail from the series (-x / Σ), which avoids the cancellation
    # of -x²/2 - ans; elsewhere exp(-x²/2 - log √2π - ans).
    if primal_value(x) <= _LOG_NDTR_TAIL:
        return -x / _mills_series(x)
    return _P.exp(-0.5 * x * x - _LOG_SQRT_2PI - ans)


def _erfinv_d(ans: Any, y: Any) -> Any:
    if math.isinf(primal_value(ans)):
        _infinite("fad.special.erfinv", y)
    return 0.5 * _SQRT_PI * _P.exp(ans * ans)


def _ndtri_d(ans: Any, p: Any) -> Any:
    if math.isinf(primal_value(ans)):
        _infinite("fad.special.ndtri", p)
    return _SQRT_2PI * _P.exp(0.5 * ans * ans)


_erfinv: Primitive = _register(Primitive("erfinv", _erfinv_value, [_erfinv_d]))
_ndtr: Primitive = _register(
    Primitive("ndtr", _ndtr_value, [lambda ans, x: _INV_SQRT_2PI * _P.exp(-0.5 * x * x)])
)
_ndtri: Primitive = _register(Primitive("ndtri", _ndtri_value, [_ndtri_d]))
_log_ndtr: Primitive = _register(Primitive("log_ndtr", _log_ndtr_value, [_log_ndtr_d]))


@overload
def erfinv(y: float) -> float: ...
@overload
def erfinv(y: _T) -> _T: ...
def erfinv(y: Real) -> Any:
    """The inverse error function: the ``x`` with ``erf(x) == y``.

    Newton steps on ``erf`` (on ``log erfc`` near ±1, where ``1 - |y|`` is exact) from
    a series or asymptotic start, to about one ulp.

    Args:
        y: a real scalar or tracer in [-1, 1].

    Returns:
        ``erfinv(y)``; ``±inf`` at ``±1``. Its derivative is ``√π/2 · exp(ans²)``.

    Raises:
        ValueError: outside [-1, 1].
        ZeroDivisionError: differentiating at ±1.

    Example:
        >>> import math
        >>> from fad.special import erfinv
        >>> x = erfinv(0.5)
        >>> x, math.erf(x)
        (0.4769362762044699, 0.5)
    """
    return _erfinv(y)


@overload
def ndtr(x: float) -> float: ...
@overload
def ndtr(x: _T) -> _T: ...
def ndtr(x: Real) -> Any:
    """The standard normal distribution function Φ(x) = ``erfc(-x/√2) / 2``.

    Accurate in relative terms in the left tail: no ``1 - erf`` cancellation, and the
    rounding of ``x/√2`` (which would cost a relative error of x²·ε) corrected.

    Args:
        x: a real scalar or tracer.

    Returns:
        Φ(x) in [0, 1]; its derivative is the normal density.

    Example:
        >>> import fad
        >>> from fad.special import ndtr
        >>> ndtr(0.0)
        0.5
        >>> round(fad.grad(ndtr)(0.0), 15)  # 1/√(2π)
        0.398942280401433
    """
    return _ndtr(x)


@overload
def ndtri(p: float) -> float: ...
@overload
def ndtri(p: _T) -> _T: ...
def ndtri(p: Real) -> Any:
    """The inverse of :func:`ndtr`: the normal quantile of probability ``p``.

    Args:
        p: a real scalar or tracer in [0, 1].

    Returns:
        The ``x`` with ``ndtr(x) == p``; ``-inf`` at 0 and ``inf`` at 1. Its derivative
        is ``√(2π) · exp(ans²/2)``.

    Raises:
        ValueError: outside [0, 1].
        ZeroDivisionError: differentiating at 0 or 1.

    Example:
        >>> from fad.special import ndtri
        >>> round(ndtri(0.975), 15)
        1.959963984540054
        >>> ndtri(1e-300)
        -37.0470962993612
    """
    return _ndtri(p)


@overload
def log_ndtr(x: float) -> float: ...
@overload
def log_ndtr(x: _T) -> _T: ...
def log_ndtr(x: Real) -> Any:
    """``log(ndtr(x))``, accurate far into both tails.

    ``log1p(-ndtr(-x))`` for ``x > 0``, ``log(ndtr(x))`` down to -20, and the
    asymptotic series of the Mills ratio below, where ``ndtr`` underflows.

    Args:
        x: a real scalar or tracer.

    Returns:
        ``log Φ(x)``; its derivative is ``φ(x) / Φ(x)``.

    Example:
        >>> import fad
        >>> from fad.special import log_ndtr
        >>> log_ndtr(-100.0)
        -5005.524208694205
        >>> round(fad.grad(log_ndtr)(-100.0), 9)  # ≈ -x (1 + 1/x²) for x → -∞
        100.009998001
    """
    return _log_ndtr(x)


# --- the beta and incomplete gamma functions ----------------------------------------


def _stirling_correction(x: float) -> float:
    """Δ(x) = lgamma(x) - ((x - ½)·log x - x + ½·log 2π), for x >= 10."""
    inv = 1.0 / x
    inv2 = inv * inv
    total = 0.0
    power = inv
    for k, b in enumerate(_P._BERNOULLI[:8], start=1):
        total += b / (2 * k * (2 * k - 1)) * power
        power *= inv2
    return total


_STIRLING_FROM = 10.0


def _betaln_value(a: float, b: float) -> float:
    a, b = float(a), float(b)
    if _is_nan(a, b):
        return math.nan
    if a <= 0.0 or b <= 0.0:
        # log|B(a, b)| as SciPy, at poles a math domain error from lgamma
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    a, b = min(a, b), max(a, b)
    if math.isinf(b):
        return -math.inf
    if b < _STIRLING_FROM:
        return _lgamma(a) + _lgamma(b) - _lgamma(a + b)
    # lgamma(b) - lgamma(a + b) by Stirling's series, without the cancellation of two
    # large lgammas: -a·log b - (a + b - ½)·log1p(a/b) + a + Δ(b) - Δ(a + b).
    ratio = a / b
    corr = _stirling_correction(b) - _stirling_correction(a + b)
    if a < _STIRLING_FROM:
        # -(a + b - ½)·log1p(r) + a with r = a/b, as -(a - ½)·r - (a + b - ½)·(log1p(r) - r):
        # b·r = a, so the two terms of size a that cancel are taken out exactly.
        rest = -(a - 0.5) * ratio - (a + b - 0.5) * _log1pmx(ratio)
        return _lgamma(a) - a * math.log(b) + rest + corr
    return (
        _LOG_SQRT_2PI
        - 0.5 * math.log(b)
        + (a - 0.5) * math.log(ratio / (1.0 + ratio))
        - b * math.log1p(ratio)
        + _stirling_correction(a)
        + corr
    )


_betaln: Primitive = _register(
    Primitive(
        "betaln",
        _betaln_value,
        [
            lambda ans, a, b: _P.digamma(a) - _P.digamma(a + b),
            lambda ans, a, b: _P.digamma(b) - _P.digamma(a + b),
        ],
    )
)


@overload
def betaln(a: float, b: float) -> float: ...
@overload
def betaln(a: _T, b: float) -> _T: ...
@overload
def betaln(a: float, b: _T) -> _T: ...
@overload
def betaln(a: _T, b: _T) -> _T: ...
def betaln(a: Real, b: Real) -> Any:
    """``log|B(a, b)|``, the log of the beta function ``Γ(a)Γ(b)/Γ(a+b)``.

    For large arguments, Stirling's series replaces the difference of two large
    ``lgamma`` values (which would cancel).

    Args:
        a: a real scalar or tracer.
        b: a real scalar or tracer.

    Returns:
        ``log|B(a, b)|``; its partials are ``ψ(a) - ψ(a+b)`` and ``ψ(b) - ψ(a+b)``.

    Raises:
        ValueError: at the poles of Γ (``a``, ``b`` or ``a + b`` a non-positive
            integer), as ``math.lgamma``.

    Example:
        >>> import math
        >>> from fad.special import betaln
        >>> betaln(1.0, 1.0)
        0.0
        >>> round(betaln(2.0, 3.0), 15)  # log B(2, 3) = log(1/12)
        -2.484906649788
        >>> betaln(1e10, 1.0) == -math.log(1e10)  # no digits lost to cancellation
        True
    """
    return _betaln(a, b)


def _lgamma1p(a: float) -> float:
    """lgamma(1 + a), accurate relative to its value also for small |a|."""
    if math.fabs(a) > 0.5:
        return math.lgamma(1.0 + a)
    # -γa + Σₖ₌₂ ζ(k) (-a)ᵏ / k
    total = 0.0
    power = -a
    for k, zeta in enumerate(_ZETA, start=2):
        power *= -a
        term = zeta * power / k
        total += term
        if math.fabs(term) <= 1e-17 * math.fabs(total):
            break
    return total - _EULER * a


def _lgamma(x: float) -> float:
    """``math.lgamma``, but accurate relative to its value near its zeros 1 and 2.

    CPython's lgamma is accurate to a few ulps *of 1* there: near 1 and 2, where
    lgamma crosses 0, that is a large relative error, which betaln would inherit.
    """
    if 0.5 <= x < 1.5:
        return _lgamma1p(x - 1.0)  # x - 1 is exact here (Sterbenz)
    if 1.5 <= x < 2.5:
        d = x - 2.0  # lgamma(2 + d) = log(1 + d) + lgamma(1 + d), d exact
        return math.log1p(d) + _lgamma1p(d)
    return math.lgamma(x)


def _zeta(k: int) -> float:
    """ζ(k) for k >= 2 by Euler–Maclaurin summation from N = 16."""
    big_n = 16
    head = math.fsum(float(j) ** -k for j in range(1, big_n))
    n = float(big_n)
    tail = n ** (1 - k) / (k - 1) + 0.5 * n**-k
    rising = float(k)  # k (k+1) … (k + 2j - 2)
    for j, b in enumerate(_P._BERNOULLI[:6], start=1):
        tail += b / math.factorial(2 * j) * rising * n ** (-k - 2 * j + 1)
        rising *= (k + 2 * j - 1) * (k + 2 * j)
    return head + tail


_ZETA = tuple(_zeta(k) for k in range(2, 60))


def _log1pmx(t: float) -> float:
    """log(1 + t) - t, accurate for small t."""
    if math.fabs(t) > 0.5:
        return math.log1p(t) - t
    total = 0.0  # -Σₖ₌₂ (-t)ᵏ / k
    power = -t
    for k in range(2, 80):
        power *= -t
        term = power / k
        total -= term
        if math.fabs(term) <= 1e-17 * math.fabs(total):
            break
    return total


def _gamma_prefactor(a: float, x: float) -> float:
    """xᵃ e⁻ˣ / Γ(a), for a > 0, x > 0 (by Stirling's series for large a)."""
    if a < _STIRLING_FROM:
        rest = a * math.log(x) - math.lgamma(a)
        if x < 700.0 and math.fabs(rest) < 700.0:
            # two exponentials of one-ulp accuracy, where exp(a log x - x - lgamma a)
            # would carry the rounding of a large exponent (relative error x·ε)
            return math.exp(-x) * math.exp(rest)
        return math.exp(rest - x)
    t = (x - a) / a
    lead = a * (math.log(x / a) - t) if math.fabs(t) > 0.5 else a * _log1pmx(t)
    return math.exp(lead + 0.5 * math.log(a) - _LOG_SQRT_2PI - _stirling_correction(a))


_MAX_ITERATIONS = 10_000_000


def _lower_series(a: float, x: float) -> float:
    """P(a, x) = xᵃe⁻ˣ/Γ(a) · Σₙ xⁿ / (a (a+1) … (a+n)), for x < a + 1."""
    term = 1.0 / a
    total = term
    ap = a
    for _ in range(_MAX_ITERATIONS):
        ap += 1.0
        term *= x / ap
        total += term
        if term < total * _EPS:
            return total * _gamma_prefactor(a, x)
    raise _no_convergence("gammainc", a, x)  # pragma: no cover - converges for x < a + 1


def _upper_fraction(a: float, x: float) -> float:
    """Q(a, x) by the continued fraction of Γ(a, x), modified Lentz, for x > 1, x > a."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if math.fabs(d) < tiny:
            d = tiny
        c = b + an / c
        if math.fabs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if math.fabs(delta - 1.0) <= _EPS:
            return h * _gamma_prefactor(a, x)
    raise _no_convergence("gammaincc", a, x)  # pragma: no cover


def _upper_small_a(a: float, x: float) -> float:
    """Q(a, x) for a < 1, x <= 1, without the cancellation of 1 - P.

    Q = -expm1(L) - a·e^L·Σₙ₌₁ (-x)ⁿ/(n!(a+n)), with L = a log x - lgamma(1+a).
    """
    total = 0.0
    term = 1.0
    for n in range(1, 200):
        term *= -x / n
        add = term / (a + n)
        total += add
        if math.fabs(add) <= _EPS * math.fabs(total):
            break
    big_l = a * math.log(x) - _lgamma1p(a)
    return -math.expm1(big_l) - a * math.exp(big_l) * total


def _no_convergence(name: str, a: float, x: float) -> RuntimeError:
    return RuntimeError(f"fad.special.{name}({a!r}, {x!r}) did not converge.")


def _check_gamma_args(name: str, a: float, x: float) -> None:
    if not (a > 0.0 and math.isfinite(a) and x >= 0.0):
        raise _domain(name, "a finite a > 0 and x >= 0", a=a, x=x)


def _gammainc_value(a: float, x: float) -> float:
    a, x = float(a), float(x)
    if _is_nan(a, x):
        return math.nan
    _check_gamma_args("gammainc", a, x)
    if x == 0.0:
        return 0.0
    if math.isinf(x):
        return 1.0
    if x > 1.0 and x > a:
        return 1.0 - _upper_fraction(a, x)
    return _lower_series(a, x)


def _gammaincc_value(a: float, x: float) -> float:
    a, x = float(a), float(x)
    if _is_nan(a, x):
        return math.nan
    _check_gamma_args("gammaincc", a, x)
    if x == 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    if x > 1.0 and x > a:
        return _upper_fraction(a, x)
    if a < 1.0:
        return _upper_small_a(a, x)
    return 1.0 - _lower_series(a, x)


def _gamma_density(name: str) -> Callable[..., Any]:
    """∂P(a, x)/∂x = x^(a-1) e⁻ˣ / Γ(a), with fad operations (a constant or a tracer)."""

    def partial(ans: Any, a: Any, x: Any) -> Any:
        xv, av = primal_value(x), primal_value(a)
        if xv == 0:
            if av < 1:
                _infinite(f"fad.special.{name}", a, x)
            return x ** (a - 1.0) / _P.gamma(a)  # 0, or 1 at a == 1; nests through pow
        return _P.exp((a - 1.0) * _P.log(x) - x - _P.lgamma(a))

    return partial


def _gamma_da(name: str) -> Callable[..., Any]:
    def partial(ans: Any, a: Any, x: Any) -> Any:
        msg = (
            f"fad.special.{name}(a, x) is differentiable in x only: its derivative in a "
            "is not implemented. Pass a as a plain float, or wrap it in "
            "fad.stop_gradient(a)."
        )
        raise NotImplementedError(msg)

    return partial


_gammainc: Primitive = _register(
    Primitive("gammainc", _gammainc_value, [_gamma_da("gammainc"), _gamma_density("gammainc")])
)
_gammaincc_dx = _gamma_density("gammaincc")
_gammaincc: Primitive = _register(
    Primitive(
        "gammaincc",
        _gammaincc_value,
        [_gamma_da("gammaincc"), lambda ans, a, x: -_gammaincc_dx(ans, a, x)],
    )
)


@overload
def gammainc(a: float, x: float) -> float: ...
@overload
def gammainc(a: float, x: _T) -> _T: ...
@overload
def gammainc(a: Real, x: Real) -> Any: ...
def gammainc(a: Real, x: Real) -> Any:
    """The regularized lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a).

    A power series for small ``x``, the continued fraction of Γ(a, x) for ``x > 1``
    and ``x > a`` (then P = 1 - Q).

    Args:
        a: the shape, a real scalar > 0 (a plain number or a tracer that is not
            differentiated: see Raises).
        x: a real scalar or tracer >= 0.

    Returns:
        P(a, x) in [0, 1]; its derivative in ``x`` is ``x^(a-1) e^-x / Γ(a)``.

    Raises:
        ValueError: for ``a <= 0``, an infinite ``a`` or ``x < 0``.
        NotImplementedError: when differentiated in ``a``.

    Example:
        >>> import math
        >>> import fad
        >>> from fad.special import gammainc
        >>> gammainc(1.0, 2.0) == 1.0 - math.exp(-2.0)
        True
        >>> fad.grad(lambda x: gammainc(1.0, x))(2.0) == math.exp(-2.0)
        True
    """
    return _gammainc(a, x)


@overload
def gammaincc(a: float, x: float) -> float: ...
@overload
def gammaincc(a: float, x: _T) -> _T: ...
@overload
def gammaincc(a: Real, x: Real) -> Any: ...
def gammaincc(a: Real, x: Real) -> Any:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x).

    Computed directly (not as ``1 - gammainc``) where it is small, so it keeps its
    relative accuracy in the right tail.

    Args:
        a: the shape, a real scalar > 0 (not differentiated).
        x: a real scalar or tracer >= 0.

    Returns:
        Q(a, x) in [0, 1]; its derivative in ``x`` is ``-x^(a-1) e^-x / Γ(a)``.

    Raises:
        ValueError: for ``a <= 0``, an infinite ``a`` or ``x < 0``.
        NotImplementedError: when differentiated in ``a``.

    Example:
        >>> import math
        >>> from fad.special import gammaincc
        >>> math.isclose(gammaincc(0.5, 400.0), math.erfc(20.0), rel_tol=1e-14)
        True
    """
    return _gammaincc(a, x)
