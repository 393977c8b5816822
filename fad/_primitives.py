"""Every elementary function of fad, each defined once: its value and its partials.

One entry per primitive: ``Primitive(name, impl, partials)``. ``impl`` works on plain
numbers; each partial ``(ans, *args) -> ∂ans/∂argᵢ`` is written with fad's own
operations (the arithmetic operators of tracers and the primitives below), so it is
differentiable again and higher derivatives need nothing more. ``Dual``, the three
codual strategies and ``Jet`` all derive their rules from this one table.

To add a primitive: one entry here, one wrapper in ``fad/math.py``; the test suite
walks :data:`REGISTRY` and checks every entry against finite differences.

Points where a derivative is infinite or undefined inside a function's domain (``sqrt``
at 0, ``asin`` at ±1, ``x ** 0.5`` at 0, ``atan2`` at the origin, ``x ** y`` at base 0
with a traced exponent y <= 0) raise :class:`ZeroDivisionError` naming the function and
the point, as Python's own ``1 / 0.0`` does; fad never returns a silently wrong
derivative. The partials are only evaluated for arguments that carry a derivative, so
``sqrt(fad.stop_gradient(x))`` at 0 is fine. At a kink fad takes one fixed value:
``abs`` and ``fabs`` 0 at 0 (as autograd; JAX takes 1 there), ``hypot`` 0 at the origin,
``copysign`` 0 in ``x`` at ``x = 0`` and 0 in ``y`` everywhere; the table of every such
convention is in docs/primitives.md ("Conventions at kinks and singular points"). Domain
errors of the functions themselves come from ``math`` unchanged, because ``impl`` always
runs on plain numbers at the bottom.
"""

from __future__ import annotations

import fractions
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from fad._core import Primitive, primal_value

__all__ = ["REGISTRY", "fsum_n", "hypot_n", "polygamma_value", "sumprod_n"]

REGISTRY: dict[str, Primitive] = {}


def _register(prim: Primitive) -> Primitive:
    REGISTRY[prim.name] = prim
    return prim


def _def(
    name: str,
    impl: Callable[..., Any],
    *partials: Callable[..., Any],
    linear: tuple[float, ...] | None = None,
) -> Primitive:
    """Make and register the primitive ``name`` (no partials: zero derivative)."""
    return _register(Primitive(name, impl, partials or None, linear=linear))


def _infinite(name: str, *args: Any) -> NoReturn:
    """Raise the error for a point where ``name``'s derivative is infinite or undefined."""
    point = ", ".join(repr(primal_value(a)) for a in args)
    point = point if len(args) == 1 else f"({point})"
    msg = (
        f"{name} has no finite derivative at {point}. Differentiate at another "
        f"point, or wrap the argument in fad.stop_gradient if no derivative is wanted there."
    )
    raise ZeroDivisionError(msg)


def _sign(x: Any) -> float:
    """Sign of the primal of ``x`` as a float constant: -1.0, 0.0 or 1.0."""
    # Compared as a tracer (on its primal), not through primal_value: fad.jit records
    # these comparisons as guards, so a recorded derivative is re-checked at each call.
    return 1.0 if x > 0 else (-1.0 if x < 0 else (0.0 if x == 0 else math.nan))


def _real_pow(x: Any, y: Any) -> Any:
    ans = x**y
    if type(ans) is complex:
        msg = "math domain error"  # what math.pow says for (-8.0) ** (1/3)
        raise ValueError(msg)
    return ans


def _zero_base(name: str, x: Any, y: Any) -> NoReturn:
    """Raise the error for a derivative of ``x ** y`` that is infinite at base 0."""
    msg = (
        f"{name} has no finite derivative at base x = {primal_value(x)!r} with exponent "
        f"{primal_value(y)!r}: at x = 0 the derivatives of x ** y are infinite or undefined "
        "unless the exponent is a constant integer or large enough for the order of the "
        "derivative. Differentiate at another point, or wrap the base or the exponent in "
        "fad.stop_gradient if no derivative is wanted there."
    )
    raise ZeroDivisionError(msg)


def _pow_dx(name: str, power: Callable[[Any, Any], Any] | None) -> Callable[..., Any]:
    """∂(x^y)/∂x = y·x^(y-1): 0 for a constant y = 0; an error at x = 0 for y < 1.

    ``power`` None is the ``**`` operator, inlined: the hot path of ``x ** 2``.
    """

    def partial(ans: Any, x: Any, y: Any) -> Any:
        # Comparisons of tracers act on their primals, so these tests work at any level.
        # The shortcut is for a constant exponent only (x^0 = 1 everywhere): a traced
        # y at 0 still has ∂²(x^y)/∂x∂y = x^(y-1)·(1 + y·log x), infinite at x = 0.
        if y == 0 and (type(y) is int or type(y) is float):
            return 0.0
        if x == 0 and y < 1:
            _zero_base(name, x, y)
        return y * (x ** (y - 1) if power is None else power(x, y - 1))

    return partial


def _pow_dy(name: str, power: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """∂(x^y)/∂y = x^y·log(x); at x = 0 the primitive x^y·log(x) of :func:`_pow_log`."""

    def partial(ans: Any, x: Any, y: Any) -> Any:
        if x > 0:
            return ans * log(x)
        if x == 0:
            # 0 for y > 0, but not a constant: its own derivative in x is not 0.
            return _pow_log(name, power, 1)(x, y)
        if x != x:  # NaN in, NaN out
            return math.nan
        _negative_base(name, x)

    return partial


def _negative_base(name: str, x: Any) -> NoReturn:
    msg = (
        f"{name}: the derivative with respect to the exponent at x={primal_value(x)!r} "
        "needs log(x), which is not real for x < 0. Make the exponent a constant "
        "(or fad.stop_gradient(y)) when the base is negative."
    )
    raise ValueError(msg)


_pow_logs: dict[tuple[str, int], Primitive] = {}


def _pow_log(name: str, power: Callable[[Any, Any], Any], k: int) -> Primitive:
    """The primitive ``x^y·log(x)^k`` (k >= 1): the k-th derivative of ``x^y`` in ``y``.

    Needed where the base is 0: there ``x^y·log(x)^k`` is 0 for ``y > 0`` (its limit)
    and infinite for ``y <= 0``, and its own partials, ``∂x = y·h_k(x, y-1) +
    k·h_(k-1)(x, y-1)`` (``h_0 = x^y``) and ``∂y = h_(k+1)(x, y)``, keep every higher
    derivative right instead of the zero derivative of a constant 0.
    """
    prim = _pow_logs.get((name, k))
    if prim is not None:
        return prim

    def value(x: Any, y: Any) -> Any:
        if x != x or y != y:
            return math.nan
        if x == 0:
            if y > 0:
                return 0.0
            _zero_base(name, x, y)
        if x < 0:
            _negative_base(name, x)
        return power(x, y) * math.log(x) ** k

    def dx(ans: Any, x: Any, y: Any) -> Any:
        if x == 0 and y <= 1:
            _zero_base(name, x, y)
        lower = power(x, y - 1) if k == 1 else k * _pow_log(name, power, k - 1)(x, y - 1)
        return y * _pow_log(name, power, k)(x, y - 1) + lower

    def dy(ans: Any, x: Any, y: Any) -> Any:
        return _pow_log(name, power, k + 1)(x, y)

    prim = Primitive(f"pow_log{k}", value, (dx, dy))
    _pow_logs[name, k] = prim
    return prim


# --- arithmetic ------------------------------------------------------------------

add: Primitive = _def(
    "add", operator.add, lambda ans, x, y: 1.0, lambda ans, x, y: 1.0, linear=(1.0, 1.0)
)
sub: Primitive = _def(
    "sub", operator.sub, lambda ans, x, y: 1.0, lambda ans, x, y: -1.0, linear=(1.0, -1.0)
)
neg: Primitive = _def("neg", operator.neg, lambda ans, x: -1.0, linear=(-1.0,))
pos: Primitive = _def("pos", operator.pos, lambda ans, x: 1.0, linear=(1.0,))
mul: Primitive = _def("mul", operator.mul, lambda ans, x, y: y, lambda ans, x, y: x)
truediv: Primitive = _def(
    "truediv", operator.truediv, lambda ans, x, y: 1.0 / y, lambda ans, x, y: -ans / y
)
pow: Primitive = _def(  # noqa: A001 - the primitive is named after the operator it is
    "pow", _real_pow, _pow_dx("x ** y", None), _pow_dy("x ** y", operator.pow)
)
mod: Primitive = _def("mod", operator.mod, lambda ans, x, y: 1.0, lambda ans, x, y: -floordiv(x, y))
fabs: Primitive = _def("fabs", math.fabs, lambda ans, x: _sign(x))
abs: Primitive = _def("abs", operator.abs, lambda ans, x: _sign(x))  # noqa: A001
# Piecewise-constant functions: zero derivative, so tracers give the plain value.
floordiv: Primitive = _def("floordiv", operator.floordiv)
floor: Primitive = _def("floor", math.floor)
ceil: Primitive = _def("ceil", math.ceil)
trunc: Primitive = _def("trunc", math.trunc)

# Not registered (no ``math`` twin): the identity with zero derivative, so that every
# tracer level drops its derivative while a staging tracer (jit) records it as one
# operation instead of reading the value underneath.
stop_gradient: Primitive = Primitive("stop_gradient", lambda x: x, None)

# --- trigonometric -----------------------------------------------------------------


def _asin_d(name: str, sign: float) -> Callable[..., Any]:
    def partial(ans: Any, x: Any) -> Any:
        if x == 1 or x == -1:
            _infinite(name, x)
        return sign / sqrt(1.0 - x * x)

    return partial


def _atan2_dy(ans: Any, y: Any, x: Any) -> Any:
    if x == 0 and y == 0:
        _infinite("fad.math.atan2", y, x)
    r = hypot(y, x)  # x / (x² + y²), without the underflow of x² + y²
    return x / r / r


def _atan2_dx(ans: Any, y: Any, x: Any) -> Any:
    if x == 0 and y == 0:
        _infinite("fad.math.atan2", y, x)
    r = hypot(y, x)
    return -y / r / r


sin: Primitive = _def("sin", math.sin, lambda ans, x: cos(x))
cos: Primitive = _def("cos", math.cos, lambda ans, x: -sin(x))
tan: Primitive = _def("tan", math.tan, lambda ans, x: 1.0 + ans * ans)
asin: Primitive = _def("asin", math.asin, _asin_d("fad.math.asin", 1.0))
acos: Primitive = _def("acos", math.acos, _asin_d("fad.math.acos", -1.0))
atan: Primitive = _def("atan", math.atan, lambda ans, x: 1.0 / (1.0 + x * x))
atan2: Primitive = _def("atan2", math.atan2, _atan2_dy, _atan2_dx)
_DEG = 180.0 / math.pi
_RAD = math.pi / 180.0
degrees: Primitive = _def("degrees", math.degrees, lambda ans, x: _DEG, linear=(_DEG,))
radians: Primitive = _def("radians", math.radians, lambda ans, x: _RAD, linear=(_RAD,))

# --- hyperbolic --------------------------------------------------------------------


def _acosh_d(ans: Any, x: Any) -> Any:
    if x == 1:
        _infinite("fad.math.acosh", x)
    return 1.0 / (sqrt(x - 1.0) * sqrt(x + 1.0))


sinh: Primitive = _def("sinh", math.sinh, lambda ans, x: cosh(x))
cosh: Primitive = _def("cosh", math.cosh, lambda ans, x: sinh(x))
tanh: Primitive = _def("tanh", math.tanh, lambda ans, x: 1.0 - ans * ans)
asinh: Primitive = _def("asinh", math.asinh, lambda ans, x: 1.0 / sqrt(x * x + 1.0))
acosh: Primitive = _def("acosh", math.acosh, _acosh_d)
atanh: Primitive = _def("atanh", math.atanh, lambda ans, x: 1.0 / (1.0 - x * x))

# --- exponentials, logarithms, powers ------------------------------------------------

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _exp2(x: Any) -> float:
    """``math.exp2`` (Python >= 3.11), else ``math.pow(2.0, x)`` (same errors)."""
    return math.pow(2.0, x)


def _cbrt(x: Any) -> float:
    """``math.cbrt`` (Python >= 3.11), else a real cube root refined by one Newton step."""
    x = float(x)
    y = math.copysign(math.fabs(x) ** (1.0 / 3.0), x)
    if y != 0.0 and math.isfinite(y):
        y -= (y * y * y - x) / (3.0 * y * y)
    return y


_exp2_impl: Callable[[Any], float] = getattr(math, "exp2", _exp2)
_cbrt_impl: Callable[[Any], float] = getattr(math, "cbrt", _cbrt)


def _sqrt_d(ans: Any, x: Any) -> Any:
    if ans == 0:
        _infinite("fad.math.sqrt", x)
    return 0.5 / ans


def _cbrt_d(ans: Any, x: Any) -> Any:
    if ans == 0:
        _infinite("fad.math.cbrt", x)
    return 1.0 / (3.0 * ans * ans)


exp: Primitive = _def("exp", math.exp, lambda ans, x: ans)
exp2: Primitive = _def("exp2", _exp2_impl, lambda ans, x: ans * _LN2)
expm1: Primitive = _def("expm1", math.expm1, lambda ans, x: ans + 1.0)
log: Primitive = _def("log", math.log, lambda ans, x: 1.0 / x)
log2: Primitive = _def("log2", math.log2, lambda ans, x: 1.0 / (x * _LN2))
log10: Primitive = _def("log10", math.log10, lambda ans, x: 1.0 / (x * _LN10))
log1p: Primitive = _def("log1p", math.log1p, lambda ans, x: 1.0 / (1.0 + x))
sqrt: Primitive = _def("sqrt", math.sqrt, _sqrt_d)
cbrt: Primitive = _def("cbrt", _cbrt_impl, _cbrt_d)
math_pow: Primitive = _def(  # math.pow: always a float, ValueError where ** gives complex
    "math_pow",
    math.pow,
    _pow_dx("fad.math.pow", lambda x, y: math_pow(x, y)),
    _pow_dy("fad.math.pow", lambda x, y: math_pow(x, y)),
)


def _fma(x: Any, y: Any, z: Any) -> float:
    """``math.fma`` (Python >= 3.13), else ``x * y + z`` rounded once, exactly."""
    if all(math.isfinite(v) for v in (x, y, z)):
        exact = fractions.Fraction(x) * fractions.Fraction(y) + fractions.Fraction(z)
        return float(exact)
    return float(x) * float(y) + float(z)


_fma_impl: Callable[[Any, Any, Any], float] = getattr(math, "fma", _fma)
fma: Primitive = _def(
    "fma", _fma_impl, lambda ans, x, y, z: y, lambda ans, x, y, z: x, lambda ans, x, y, z: 1.0
)

# --- sign and remainder ------------------------------------------------------------


def _copysign_dx(ans: Any, x: Any, y: Any) -> Any:
    # The signs as fad operations (copysign's partial in its sign argument is 0), not
    # through primal_value, so that fad.jit records them rather than bakes them in.
    if x == 0:
        return 0.0
    if type(x) is float and type(y) is float:
        return math.copysign(1.0, x) * math.copysign(1.0, y)
    return copysign(1.0, x) * copysign(1.0, y)


def _quotient(x: Any, y: Any, r: float) -> float:
    """The integer ``n`` with ``x = n*y + r`` (NaN when there is none)."""
    yv = primal_value(y)
    n = (primal_value(x) - r) / yv if yv != 0 else math.nan
    return float(round(n)) if math.isfinite(n) else math.nan


def _remainder_dy(ans: Any, x: Any, y: Any) -> float:
    """∂(x - n·y)/∂y = -n, for fmod and remainder alike (each with its own ``ans``)."""
    return -_quotient(x, y, primal_value(ans))


def _ldexp_di(ans: Any, x: Any, i: Any) -> NoReturn:
    msg = "fad.math.ldexp is not differentiable in its integer exponent i; pass i as an int."
    raise TypeError(msg)


copysign: Primitive = _def("copysign", math.copysign, _copysign_dx, lambda ans, x, y: 0.0)
fmod: Primitive = _def("fmod", math.fmod, lambda ans, x, y: 1.0, _remainder_dy)
remainder: Primitive = _def("remainder", math.remainder, lambda ans, x, y: 1.0, _remainder_dy)
ldexp: Primitive = _def("ldexp", math.ldexp, lambda ans, x, i: math.ldexp(1.0, i), _ldexp_di)

# --- special functions -------------------------------------------------------------

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# B₂, B₄, …, B₂₀: the Bernoulli numbers of the asymptotic series of ψ⁽ⁿ⁾.
_BERNOULLI = (
    1.0 / 6.0,
    -1.0 / 30.0,
    1.0 / 42.0,
    -1.0 / 30.0,
    5.0 / 66.0,
    -691.0 / 2730.0,
    7.0 / 6.0,
    -3617.0 / 510.0,
    43867.0 / 798.0,
    -174611.0 / 330.0,
)


def _cot_derivative_poly(n: int) -> list[float]:
    """Coefficients of Qₙ with dⁿ/dxⁿ cot(πx) = πⁿ Qₙ(cot πx): Q₀ = c, Qₖ₊₁ = -(1+c²)Qₖ'."""
    q = [0.0, 1.0]
    for _ in range(n):
        dq = [i * q[i] for i in range(1, len(q))] or [0.0]
        new = [0.0] * (len(dq) + 2)
        for i, c in enumerate(dq):
            new[i] -= c
            new[i + 2] -= c
        q = new
    return q


def polygamma_value(n: int, x: float) -> float:
    """ψ⁽ⁿ⁾(x), the n-th derivative of digamma, on plain numbers (accurate to ~1e-14).

    Upward recurrence ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁾(x+1) + (-1)ⁿ⁺¹ n!/xⁿ⁺¹ to a large argument, then
    the asymptotic series; the reflection formula for negative ``x``. Poles (0, -1,
    -2, …) raise ``ValueError("math domain error")``, as ``math.gamma`` does there.

    Example:
        >>> round(polygamma_value(0, 1.0), 12)  # -Euler's gamma
        -0.577215664902
    """
    n = operator.index(n)
    if n < 0:
        msg = f"polygamma order n must be a non-negative integer, got {n}."
        raise ValueError(msg)
    x = float(x)
    if math.isnan(x):
        return x
    if x == -math.inf:
        return math.nan  # no limit: ψ oscillates between its poles
    if x <= 0.0 and x == math.floor(x):
        msg = "math domain error"
        raise ValueError(msg)
    if x < 0.0:
        # (-1)ⁿ ψ⁽ⁿ⁾(1-x) - ψ⁽ⁿ⁾(x) = π dⁿ/dxⁿ cot(πx); reduce πx exactly first.
        r = x - round(x)
        c = math.cos(math.pi * r) / math.sin(math.pi * r)
        q = 0.0
        for coef in reversed(_cot_derivative_poly(n)):
            q = q * c + coef
        return (-1.0) ** n * polygamma_value(n, 1.0 - x) - math.pi ** (n + 1) * q
    fact = float(math.factorial(n))
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)ⁿ⁺¹
    result = 0.0
    threshold = 12.0 + 2.0 * n
    while x < threshold:
        result += sign * fact * (1.0 / x) ** (n + 1)
        x += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    if n == 0:
        series = math.log(x) - 0.5 * inv
        power = inv2
        for k, b in enumerate(_BERNOULLI, start=1):
            series -= b / (2 * k) * power
            power *= inv2
        return result + series
    # (-1)ⁿ⁺¹ [(n-1)!/xⁿ + n!/(2xⁿ⁺¹) + Σₖ B₂ₖ (2k+n-1)!/(2k)! / x²ᵏ⁺ⁿ]
    inv_n = inv**n
    series = math.factorial(n - 1) * inv_n + fact * 0.5 * inv_n * inv
    power = inv_n * inv2
    for k, b in enumerate(_BERNOULLI, start=1):
        series += b * (math.factorial(2 * k + n - 1) / math.factorial(2 * k)) * power
        power *= inv2
    return result + sign * series


def _polygamma_dn(ans: Any, n: Any, x: Any) -> NoReturn:
    msg = "fad.math.polygamma is not differentiable in its order n; pass n as a plain int."
    raise TypeError(msg)


erf: Primitive = _def("erf", math.erf, lambda ans, x: _TWO_OVER_SQRT_PI * exp(-(x * x)))
erfc: Primitive = _def("erfc", math.erfc, lambda ans, x: -_TWO_OVER_SQRT_PI * exp(-(x * x)))
gamma: Primitive = _def("gamma", math.gamma, lambda ans, x: ans * digamma(x))
lgamma: Primitive = _def("lgamma", math.lgamma, lambda ans, x: digamma(x))
# Not in ``math``: the derivatives of lgamma, so that gamma and lgamma nest to any order.
digamma: Primitive = _def(
    "digamma", lambda x: polygamma_value(0, x), lambda ans, x: polygamma(1, x)
)
polygamma: Primitive = _def(
    "polygamma", polygamma_value, _polygamma_dn, lambda ans, n, x: polygamma(n + 1, x)
)

# --- functions of any number of arguments --------------------------------------------
# ``hypot``, ``fsum`` and ``sumprod`` take any number of arguments; one primitive per
# arity, made on first use. The registry holds the two-coordinate (two-term) forms.


def _hypot_d(i: int) -> Callable[..., Any]:
    def partial(ans: Any, *xs: Any) -> Any:
        if ans == 0:
            return 0.0  # the kink of the norm at the origin: 0, as for abs
        return xs[i] / ans

    return partial


def _hypot_all(ans: Any, *xs: Any) -> list[Any]:
    """Every ``_hypot_d(i)`` at once: O(n), where n calls with n arguments are O(n²)."""
    if ans == 0:
        return [0.0] * len(xs)
    return [x / ans for x in xs]


def _sumprod_all(ans: Any, *pq: Any) -> tuple[Any, ...]:
    """Every ``_sumprod_d(i, n)`` at once: ∂/∂p is q and ∂/∂q is p."""
    n = len(pq) // 2
    return pq[n:] + pq[:n]


# Within these magnitudes Veltkamp's split cannot overflow and a nonzero product's low
# part cannot underflow, so ``_exact_dot``'s two-product terms are exact.
_SPLIT_LO = 2.0**-480
_SPLIT_HI = 2.0**480


def _exact_dot(p: Sequence[float], q: Sequence[float]) -> float:
    """Σ pᵢqᵢ correctly rounded: each product split exactly into two floats, then fsum."""
    terms = []
    for a, b in zip(p, q, strict=True):
        h = a * b
        c = 134217729.0 * a  # 2**27 + 1: Veltkamp's split into 26-bit halves
        ah = c - (c - a)
        al = a - ah
        c = 134217729.0 * b
        bh = c - (c - b)
        bl = b - bh
        terms.append(h)
        terms.append(((ah * bh - h) + ah * bl + al * bh) + al * bl)  # a·b - h, exactly
    return math.fsum(terms)


def _sumprod_value(*pq: Any) -> Any:
    """``math.sumprod(p, q)`` for ``pq = p + q`` (Python >= 3.12; exact fallback before)."""
    n = len(pq) // 2
    p, q = pq[:n], pq[n:]
    native = getattr(math, "sumprod", None)
    if native is not None:
        return native(p, q)
    if all(type(v) is int for v in pq):
        return sum(a * b for a, b in zip(p, q, strict=True))
    if not all(math.isfinite(v) for v in pq):
        return sum(a * b for a, b in zip(p, q, strict=True))
    if all(type(v) is float and (v == 0.0 or _SPLIT_LO < abs(v) < _SPLIT_HI) for v in pq):
        return _exact_dot(p, q)
    exact = sum(
        (fractions.Fraction(a) * fractions.Fraction(b) for a, b in zip(p, q, strict=True)),
        fractions.Fraction(0),
    )
    return float(exact)


def _sumprod_d(i: int, n: int) -> Callable[..., Any]:
    j = i + n if i < n else i - n  # ∂(Σ pₖqₖ)/∂pᵢ = qᵢ and ∂/∂qᵢ = pᵢ
    return lambda ans, *pq: pq[j]


_variadic: dict[tuple[str, int], Primitive] = {}


def hypot_n(n: int) -> Primitive:
    """The primitive ``hypot`` of ``n`` coordinates."""
    prim = _variadic.get(("hypot", n))
    if prim is None:
        prim = Primitive(
            "hypot", math.hypot, [_hypot_d(i) for i in range(n)], all_partials=_hypot_all
        )
        _variadic["hypot", n] = prim
    return prim


def fsum_n(n: int) -> Primitive:
    """The primitive ``fsum`` of ``n`` terms (linear: every partial is 1)."""
    prim = _variadic.get(("fsum", n))
    if prim is None:
        prim = Primitive(
            "fsum", lambda *xs: math.fsum(xs), [lambda ans, *xs: 1.0] * n, linear=[1.0] * n
        )
        _variadic["fsum", n] = prim
    return prim


def sumprod_n(n: int) -> Primitive:
    """The primitive ``sumprod`` of two vectors of length ``n``, as 2n arguments p + q."""
    prim = _variadic.get(("sumprod", n))
    if prim is None:
        prim = Primitive(
            "sumprod",
            _sumprod_value,
            [_sumprod_d(i, n) for i in range(2 * n)],
            all_partials=_sumprod_all,
        )
        _variadic["sumprod", n] = prim
    return prim


hypot: Primitive = _register(hypot_n(2))
fsum: Primitive = _register(fsum_n(2))
sumprod: Primitive = _register(sumprod_n(2))  # p = (p₀, p₁), q = (q₀, q₁)
