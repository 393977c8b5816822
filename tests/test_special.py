"""fad.special: values against SciPy and closed forms, derivatives in every mode.

Oracles: SciPy / numpy where installed (``pytest.importorskip``), at hypothesis-drawn
points reaching the extremes (±700, probabilities down to 1e-300); identities and
closed forms that need no SciPy (symmetries, inverses, recurrences, Γ(1, x) = e⁻ˣ);
:func:`fad.testing.check_grads` (finite differences, forward and every reverse
strategy, to order 2); closed-form derivatives far in the tails where finite
differences are useless; and Taylor mode against the derivative of another function.
The registry-wide checks (every tracer, Jet against nesting, the duality) come from
tests/test_primitives.py, whose table has a row per fad.special entry.
"""

from __future__ import annotations

import decimal
import fractions
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.special as fs
from fad.testing import check_grads

MODES = ("tape", "memo", "naive")


def real(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    """10**e for e in [lo, hi]."""
    return st.builds(lambda e: 10.0**e, real(lo, hi))


def every_route(fun: Callable[..., Any], *args: float) -> list[Callable[[], Any]]:
    """Differentiate ``fun`` at ``args`` by jvp, Taylor mode and every reverse strategy."""
    ones = (1.0,) * len(args)
    argnums = tuple(range(len(args)))

    def reverse(mode: str) -> Callable[[], Any]:
        return lambda: fad.grad(fun, argnums=argnums, mode=mode)(*args)

    return [
        lambda: fad.jvp(fun, args, ones),
        lambda: fad.taylor(lambda t: fun(*(a + t for a in args)), 0.0, 2),
        *[reverse(mode) for mode in MODES],
    ]


def close(got: float, want: float, rel: float, abs_: float = 1e-300) -> bool:
    return got == want or math.isclose(got, want, rel_tol=rel, abs_tol=abs_)


# Probabilities from 1e-300 to 1/2 (log-uniform), and their mirror images near 1.
tiny_p = st.builds(lambda e: 10.0**e, real(-300.0, math.log10(0.5)))
probabilities = st.one_of(tiny_p, tiny_p.map(lambda p: 1.0 - p), real(0.0, 1.0))
wide = st.one_of(real(-745.0, 745.0), real(-40.0, 40.0), real(-3.0, 3.0))


@pytest.fixture(scope="module")
def sp() -> Any:
    return pytest.importorskip("scipy.special")


@pytest.fixture(scope="module")
def np() -> Any:
    return pytest.importorskip("numpy")


# --- values against SciPy -----------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(x=wide, y=wide)
def test_logistic_functions_against_scipy(sp: Any, np: Any, x: float, y: float) -> None:
    assert close(fs.sigmoid(x), float(sp.expit(x)), 1e-15)
    assert close(fs.softplus(x), float(np.logaddexp(0.0, x)), 1e-15)
    assert close(fs.logaddexp(x, y), float(np.logaddexp(x, y)), 1e-15, 1e-15 * (1 + abs(x)))


def exact_logsumexp(a: list[float], b: list[float]) -> float:
    """log Σ bᵢ exp(aᵢ) in 40-digit decimal arithmetic (an oracle needing no SciPy)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        total = sum(
            (decimal.Decimal(bi) * decimal.Decimal(ai).exp() for ai, bi in zip(a, b, strict=True)),
            decimal.Decimal(0),
        )
        return -math.inf if total == 0 else float(total.ln())


@settings(max_examples=50, deadline=None)
@given(a=st.lists(wide, min_size=1, max_size=6), data=st.data())
def test_logsumexp_against_exact_and_scipy(sp: Any, a: list[float], data: st.DataObject) -> None:
    scale = 1.0 + max(abs(v) for v in a)
    b = data.draw(st.lists(real(0.0, 5.0), min_size=len(a), max_size=len(a)))
    # The sum is rounded once (fsum) and its log once: a few ulps of the result.
    assert close(fs.logsumexp(a), exact_logsumexp(a, [1.0] * len(a)), 1e-15, 4e-16 * scale)
    assert close(fs.logsumexp(a, b=b), exact_logsumexp(a, b), 1e-15, 4e-16 * scale)
    assert close(fs.logsumexp(a), float(sp.logsumexp(a)), 1e-14, 2e-15 * scale)
    got = fs.softmax(a)
    want_s = sp.softmax(a)
    assert all(close(g, float(w), 1e-14, 1e-300) for g, w in zip(got, want_s, strict=True))
    want_l = sp.log_softmax(a)
    for g, w in zip(fs.log_softmax(a), want_l, strict=True):
        assert close(g, float(w), 1e-14, 1e-15 * scale)


@settings(max_examples=100, deadline=None)
@given(x=st.one_of(real(-5.0, 5.0), st.just(0.0)), y=st.one_of(real(0.0, 1e300), st.just(0.0)))
def test_xlogy_against_scipy(sp: Any, x: float, y: float) -> None:
    assert close(fs.xlogy(x, y), float(sp.xlogy(x, y)), 1e-15)
    assert close(fs.xlog1py(x, y - 1.0), float(sp.xlog1py(x, y - 1.0)), 1e-15)
    assert close(fs.xlog1py(x, y * 1e-300), float(sp.xlog1py(x, y * 1e-300)), 1e-15)


@settings(max_examples=120, deadline=None)
@given(p=probabilities)
def test_inverses_against_scipy(sp: Any, p: float) -> None:
    assert close(fs.ndtri(p), float(sp.ndtri(p)), 1e-15)
    y = 2.0 * p - 1.0
    assert close(fs.erfinv(y), float(sp.erfinv(y)), 1e-15)
    assert close(fs.erfinv(1.0 - p), float(sp.erfinv(1.0 - p)), 1e-15)
    assert close(fs.erfinv(p), float(sp.erfinv(p)), 1e-15)


@settings(max_examples=120, deadline=None)
@given(x=st.one_of(real(-38.0, 38.0), real(-1e6, 40.0), real(-3.0, 3.0)))
def test_normal_distribution_against_scipy(sp: Any, x: float) -> None:
    # Both round x/√2 before erfc: a relative error of up to x²·ε either way.
    rel = 1e-15 * (2.0 + x * x)
    assert close(fs.ndtr(x), float(sp.ndtr(x)), rel, 1e-300)
    assert close(fs.log_ndtr(x), float(sp.log_ndtr(x)), 1e-15 if x < 0 else rel, 1e-300)


@settings(max_examples=100, deadline=None)
@given(a=log_uniform(-3.0, 3.0), b=log_uniform(-3.0, 3.0))
def test_betaln_against_scipy(sp: Any, a: float, b: float) -> None:
    # SciPy subtracts lgammas: allow its rounding of each (a few ulps of 1 near 1 and 2).
    spread = abs(math.lgamma(a)) + abs(math.lgamma(b)) + abs(math.lgamma(a + b))
    assert close(fs.betaln(a, b), float(sp.betaln(a, b)), 1e-14, 1e-15 * (1.0 + spread))


@settings(max_examples=120, deadline=None)
@given(a=log_uniform(-3.0, 3.0), u=real(-3.0, 1.3))
def test_incomplete_gamma_against_scipy(sp: Any, a: float, u: float) -> None:
    x = a * 10.0**u
    # The prefactor xᵃe⁻ˣ/Γ(a) carries the rounding of an exponent of this size.
    rel = 1e-14 + 1e-15 * (abs(a * math.log(x)) + x + abs(math.lgamma(a)))
    assert close(fs.gammainc(a, x), float(sp.gammainc(a, x)), rel)
    assert close(fs.gammaincc(a, x), float(sp.gammaincc(a, x)), rel)


# --- identities and closed forms (no SciPy) ------------------------------------------


@settings(max_examples=60)
@given(x=wide)
def test_logistic_identities(x: float) -> None:
    assert fs.expit is fs.sigmoid
    assert close(fs.sigmoid(x) + fs.sigmoid(-x), 1.0, 4.5e-16)
    assert close(fs.softplus(x) - fs.softplus(-x), x, 1e-15, 1e-15)
    assert fs.logaddexp(x, x) == x + math.log(2.0)
    assert fs.logaddexp(x, -math.inf) == x
    assert fs.logsumexp([x, x, x]) == pytest.approx(x + math.log(3.0), rel=1e-15, abs=1e-15)
    if abs(x) < 30:
        assert close(fs.sigmoid(x), 1.0 / (1.0 + math.exp(-x)), 1e-15)
        assert close(fs.softplus(x), math.log1p(math.exp(x)), 1e-15)


def test_documented_values() -> None:
    # Values printed in SciPy's and JAX's documentation and standard tables.
    assert fs.sigmoid(0.0) == 0.5
    assert fs.softplus(0.0) == math.log(2.0)
    assert fs.logsumexp([]) == -math.inf
    assert fs.logsumexp([1000.0, 1000.0]) == 1000.0 + math.log(2.0)
    assert close(fs.logsumexp([float(i) for i in range(10)]), 9.45862974442671, 1e-15)  # SciPy's
    assert fs.softmax([]) == []
    assert fs.softmax([1000.0, 1000.0]) == [0.5, 0.5]
    assert fs.log_softmax([0.0, 0.0]) == [-math.log(2.0)] * 2
    assert fs.xlogy(0.0, 0.0) == 0.0
    assert fs.xlogy(0.0, -1.0) == 0.0  # x == 0 wins, whatever y
    assert fs.xlogy(1.0, 0.0) == -math.inf
    assert fs.ndtr(0.0) == 0.5
    assert fs.ndtri(0.5) == 0.0
    assert fs.ndtri(0.0) == -math.inf
    assert fs.ndtri(1.0) == math.inf
    assert close(fs.ndtri(0.975), 1.959963984540054, 4e-16)
    assert close(fs.ndtri(0.95), 1.6448536269514722, 4e-16)
    assert close(fs.erfinv(0.5), 0.4769362762044699, 2e-16)
    assert fs.erfinv(1.0) == math.inf
    assert fs.erfinv(-1.0) == -math.inf
    assert fs.log_ndtr(0.0) == -math.log(2.0)
    assert fs.log_ndtr(-math.inf) == -math.inf
    assert fs.betaln(1.0, 1.0) == 0.0
    assert fs.gammainc(2.0, 0.0) == 0.0
    assert fs.gammaincc(2.0, 0.0) == 1.0
    assert fs.gammainc(2.0, math.inf) == 1.0
    # ints are accepted and give floats
    assert fs.sigmoid(0) == 0.5
    assert type(fs.ndtr(0)) is float


@settings(max_examples=60)
@given(p=probabilities)
def test_inverses_invert(p: float) -> None:
    y = 2.0 * p - 1.0
    x = fs.erfinv(y)
    assert fs.erfinv(-y) == -x
    if math.isfinite(x) and abs(y) < 0.9:
        assert close(math.erf(x), y, 4e-16, 1e-300)
    if 0.0 < p < 0.5:
        z = fs.ndtri(p)
        # ndtr(z) rounds z/√2: compare against the conditioning of ndtr at z
        assert close(fs.ndtr(z), p, 1e-15 * (2.0 + z * z))
        assert fs.ndtri(p) < 0.0 <= fs.ndtri(1.0 - p)  # 1 - p may round to 1/2


_PI = decimal.Decimal("3.14159265358979323846264338327950288419716939937510582097494459")


def exact_ndtr_tail(x: float) -> decimal.Decimal:
    """Φ(x) for x <= -9 to about 30 digits: the Mills-ratio series to its smallest term."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        z = decimal.Decimal(x)
        u = 1 / (z * z)
        term = total = decimal.Decimal(1)
        for k in range(1, 200):
            nxt = -term * (2 * k - 1) * u
            if abs(nxt) >= abs(term):
                break
            term = nxt
            total += term
        return (-(z * z) / 2).exp() / ((2 * _PI).sqrt() * -z) * total


@settings(max_examples=60, deadline=None)
@given(x=real(-37.5, -9.5))
def test_ndtr_tail_against_exact_decimals(x: float) -> None:
    # x/√2 is carried past its rounding, so the tail is accurate to an ulp or two.
    want = exact_ndtr_tail(x)
    assert close(fs.ndtr(x), float(want), 1e-15)
    assert close(fs.log_ndtr(x), float(want.ln()), 1e-15)


@settings(max_examples=60)
@given(x=real(-30.0, 8.0))
def test_log_ndtr_is_log_of_ndtr(x: float) -> None:
    assert close(fs.log_ndtr(x), math.log(fs.ndtr(x)), 1e-13, 1e-15)


def test_log_ndtr_far_tail_series() -> None:
    # log Φ(x) = -x²/2 - log(-x) - log √(2π) + log(1 - u + 3u² - 15u³ + …), u = 1/x²
    for x in (-1e3, -1e4, -1e8, -1e150):
        u = 1.0 / (x * x)
        want = -0.5 * x * x - math.log(-x) - 0.5 * math.log(2 * math.pi)
        want += math.log1p(-u + 3.0 * u * u - 15.0 * u**3)
        assert close(fs.log_ndtr(x), want, 2e-16)


@settings(max_examples=60)
@given(a=real(0.01, 50.0), b=st.one_of(real(0.01, 50.0), real(1e3, 1e15)))
def test_betaln_identities(a: float, b: float) -> None:
    assert fs.betaln(a, b) == fs.betaln(b, a)
    # B(a + 1, b) = B(a, b) · a / (a + b)
    lhs = fs.betaln(a + 1.0, b)
    rhs = fs.betaln(a, b) + math.log(a / (a + b))
    assert close(lhs, rhs, 1e-13, 1e-13)


def _bernoulli_even(count: int) -> list[fractions.Fraction]:
    """B₂, B₄, …, B₂count, exactly (the Akiyama–Tanigawa algorithm)."""
    size = 2 * count + 1
    a: list[fractions.Fraction] = []
    numbers = []
    for m in range(size):
        a.append(fractions.Fraction(1, m + 1))
        for j in range(m, 0, -1):
            a[j - 1] = j * (a[j - 1] - a[j])
        numbers.append(a[0])
    return numbers[2::2]


_B_EVEN = _bernoulli_even(18)


def exact_lgamma(*terms: float) -> decimal.Decimal:
    """log Γ(Σ terms), sum exact, for a positive sum, to about 40 digits (Stirling's series)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        z = sum((decimal.Decimal(t) for t in terms), decimal.Decimal(0))
        shift = decimal.Decimal(0)
        while z < 40:
            shift += z.ln()
            z += 1
        two_pi = 2 * decimal.Decimal("3.14159265358979323846264338327950288419716939937511")
        total = (z - decimal.Decimal("0.5")) * z.ln() - z + two_pi.ln() / 2
        for k, b in enumerate(_B_EVEN, start=1):
            term = decimal.Decimal(b.numerator) / b.denominator / (2 * k * (2 * k - 1))
            total += term / z ** (2 * k - 1)
        return total - shift


@settings(max_examples=30, deadline=None)
@given(a=log_uniform(-3.0, 4.0), b=log_uniform(-3.0, 12.0))
def test_betaln_against_exact_decimals(a: float, b: float) -> None:
    want = float(exact_lgamma(a) + exact_lgamma(b) - exact_lgamma(a, b))
    # Near B = 1 the result is a small difference of O(1) terms: an absolute error.
    assert close(fs.betaln(a, b), want, 1e-14, 4.5e-16 * (1.0 + abs(math.lgamma(min(a, b)))))


@pytest.mark.parametrize("n", [1, 2, 5, 20])
@pytest.mark.parametrize("b", [0.5, 3.0, 1e3, 1e8, 1e14])
def test_betaln_of_an_integer(n: int, b: float) -> None:
    # B(n, b) = (n-1)! / (b (b+1) … (b+n-1)): a sum of logs, nothing cancels
    want = math.fsum([*(math.log(k) for k in range(1, n)), *(-math.log(b + k) for k in range(n))])
    assert close(fs.betaln(float(n), b), want, 1e-14, 1e-15)


@settings(max_examples=60)
@given(a=log_uniform(-3.0, 2.5), x=log_uniform(-3.0, 3.0))
def test_incomplete_gamma_sums_to_one(a: float, x: float) -> None:
    p, q = fs.gammainc(a, x), fs.gammaincc(a, x)
    assert 0.0 <= p <= 1.0
    assert 0.0 <= q <= 1.0
    assert close(p + q, 1.0, 4e-15)


@settings(max_examples=60)
@given(x=log_uniform(-3.0, 2.8))
def test_incomplete_gamma_closed_forms(x: float) -> None:
    assert close(fs.gammainc(1.0, x), -math.expm1(-x), 1e-14)
    assert close(fs.gammaincc(1.0, x), math.exp(-x), 1e-14 + 1e-15 * x)
    # Q(n, x) = e⁻ˣ Σ_{k<n} xᵏ/k!  (the Poisson distribution)
    for n in (2, 5, 12):
        want = math.fsum(math.exp(k * math.log(x) - x - math.lgamma(k + 1.0)) for k in range(n))
        assert close(fs.gammaincc(float(n), x), want, 1e-14 * (1.0 + x))
    # P(1/2, s²) = erf(s)
    s = math.sqrt(x)
    assert close(fs.gammainc(0.5, s * s), math.erf(s), 1e-14 + 1e-15 * x)
    assert close(fs.gammaincc(0.5, s * s), math.erfc(s), 1e-14 + 1e-15 * x)


# --- derivatives by finite differences, every mode, second order --------------------

GRAD_CASES: dict[str, tuple[Callable[..., Any], st.SearchStrategy[tuple[float, ...]]]] = {
    "sigmoid": (fs.sigmoid, st.tuples(real(-20, 20))),
    "softplus": (fs.softplus, st.tuples(real(-20, 20))),
    "logaddexp": (fs.logaddexp, st.tuples(real(-10, 10), real(-10, 10))),
    "logsumexp": (
        lambda a, b, c, w: fs.logsumexp([a, b, c], b=[w, 1.0, 2.0]),
        st.tuples(real(-10, 10), real(-10, 10), real(-10, 10), real(0.1, 3)),
    ),
    "softmax": (lambda a, b, c: fs.softmax([a, b, c]), st.tuples(*[real(-5, 5)] * 3)),
    "log_softmax": (lambda a, b, c: fs.log_softmax([a, b, c]), st.tuples(*[real(-5, 5)] * 3)),
    "xlogy": (fs.xlogy, st.tuples(real(-3, 3), real(0.2, 5))),
    "xlog1py": (fs.xlog1py, st.tuples(real(-3, 3), real(-0.8, 5))),
    "erfinv": (fs.erfinv, st.tuples(real(-0.8, 0.8))),
    "ndtr": (fs.ndtr, st.tuples(real(-5, 5))),
    "ndtri": (fs.ndtri, st.tuples(real(0.05, 0.95))),
    "log_ndtr": (fs.log_ndtr, st.tuples(st.one_of(real(-5, 5), real(-25.0, -19.0)))),
    "betaln": (fs.betaln, st.tuples(real(0.3, 15), real(0.3, 15))),
    "gammainc": (lambda x: fs.gammainc(2.5, x), st.tuples(real(0.2, 8))),
    "gammaincc": (lambda x: fs.gammaincc(0.7, x), st.tuples(real(0.2, 8))),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_derivatives_match_finite_differences(name: str, data: st.DataObject) -> None:
    fun, points = GRAD_CASES[name]
    args = data.draw(points)
    check_grads(fun, args, order=2, modes=("fwd", "rev"))


def test_derivatives_in_the_tails() -> None:
    # Closed forms where finite differences cannot reach.
    for x in (40.0, -40.0, 700.0, -700.0):
        want = math.exp(-abs(x)) / (1.0 + math.exp(-abs(x))) ** 2
        for mode in MODES:
            assert close(fad.grad(fs.sigmoid, mode=mode)(x), want, 1e-15)
            assert close(fad.grad(fs.softplus, mode=mode)(x), fs.sigmoid(x), 1e-15)
    for x in (-1e3, -1e5, -1e100):
        # φ(x)/Φ(x) = -x / (1 - u + 3u² - …) = -x - 1/x + 2/x³ - …, u = 1/x²
        u = 1.0 / (x * x)
        want = -x / (1.0 - u + 3.0 * u * u - 15.0 * u**3)
        assert close(fad.grad(fs.log_ndtr)(x), want, 1e-15)
        assert close(fad.derivative(fs.log_ndtr, 2)(x), -1.0 + u - 6.0 * u * u, 1e-15)
    for p in (1e-300, 1e-20, 0.5, 1.0 - 1e-12):
        z = fs.ndtri(p)
        want = math.sqrt(2 * math.pi) * math.exp(0.5 * z * z)
        assert close(fad.grad(fs.ndtri)(p), want, 1e-13)
    y = 1.0 - 1e-15
    want = 0.5 * math.sqrt(math.pi) * math.exp(fs.erfinv(y) ** 2)
    assert close(fad.grad(fs.erfinv)(y), want, 1e-15)
    # ∂/∂x of x^(a-1) e^-x / Γ(a)
    for a, x in ((3.0, 2.0), (0.5, 1e-8), (50.0, 48.0)):
        want = math.exp((a - 1.0) * math.log(x) - x - math.lgamma(a))
        assert close(fad.grad(lambda t, a=a: fs.gammainc(a, t))(x), want, 1e-13)
        assert close(fad.grad(lambda t, a=a: fs.gammaincc(a, t))(x), -want, 1e-13)
    # betaln(1, b) = -log b
    g = fad.grad(fs.betaln, argnums=(0, 1))(1.0, 4.0)
    assert close(g[1], -0.25, 1e-15)
    assert close(g[0], -fad.math.digamma(5.0) + fad.math.digamma(1.0), 1e-15)


def test_gamma_density_at_zero() -> None:
    assert fad.grad(lambda x: fs.gammainc(1.0, x))(0.0) == 1.0
    assert fad.grad(lambda x: fs.gammainc(3.0, x))(0.0) == 0.0
    assert fad.derivative(lambda x: fs.gammainc(3.0, x), 2)(0.0) == 0.0
    assert fad.derivative(lambda x: fs.gammainc(3.0, x), 3)(0.0) == 1.0
    for a in (0.5, 1.5):  # infinite first (second) derivative at 0
        order = 1 if a < 1 else 2

        def p(x: Any, a: float = a) -> Any:
            return fs.gammainc(a, x)

        with pytest.raises(ZeroDivisionError, match="no finite derivative"):
            fad.derivative(p, order)(0.0)


@pytest.mark.parametrize("n", [1, 4, 9])
def test_logsumexp_gradient_is_softmax_and_hessian_its_jacobian(n: int) -> None:
    xs = [0.3 * i - 1.0 for i in range(n)]
    s = fs.softmax(xs)
    argnums = tuple(range(n))

    def lse(*a: Any) -> Any:
        return fs.logsumexp(list(a))

    for mode in MODES:
        g = fad.grad(lse, argnums=argnums, mode=mode)(*xs)
        assert all(close(gi, si, 1e-15, 1e-17) for gi, si in zip(g, s, strict=True))
    h = fad.hessian(lse, argnums=argnums)(*xs)
    for i in range(n):
        for j in range(n):
            want = (s[i] if i == j else 0.0) - s[i] * s[j]
            assert close(h[i][j], want, 1e-13, 1e-16)
    # Forward over reverse and Taylor mode agree with it.
    jf = fad.jacfwd(lambda *a: fad.grad(lse, argnums=argnums)(*a), argnums=0)(*xs)
    assert all(close(jf[i], h[i][0], 1e-13, 1e-16) for i in range(n))


@settings(max_examples=20)
@given(x=real(-6.0, 6.0))
def test_taylor_mode_of_softplus_is_sigmoid(x: float) -> None:
    # softplus' = sigmoid, so the derivatives of one are those of the other, shifted.
    d_softplus = fad.taylor(fs.softplus, x, 5)
    d_sigmoid = fad.taylor(fs.sigmoid, x, 4)
    for k in range(1, 6):
        assert close(d_softplus[k], d_sigmoid[k - 1], 1e-12, 1e-13)
    # softmax([t, 0])[0] = sigmoid(t), log_softmax([t, 0])[0] = -softplus(-t)
    d_first = fad.taylor(lambda t: fs.softmax([t, 0.0])[0], x, 4)
    assert all(close(a, b, 1e-12, 1e-13) for a, b in zip(d_first, d_sigmoid, strict=True))
    d_log = fad.taylor(lambda t: fs.log_softmax([t, 0.0])[0], x, 4)
    d_minus = fad.taylor(lambda t: -fs.softplus(-t), x, 4)
    assert all(close(a, b, 1e-12, 1e-13) for a, b in zip(d_log, d_minus, strict=True))
    # log_ndtr' = exp(log φ - log Φ): through Jet, the same as nested Duals
    d = fad.taylor(fs.log_ndtr, x, 3)
    assert close(d[2], fad.derivative(fs.log_ndtr, 2)(x), 1e-12, 1e-14)


# --- errors ----------------------------------------------------------------------------


def test_domain_errors_name_the_function() -> None:
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: fs.ndtri(1.5), r"fad\.special\.ndtri needs 0 <= p <= 1, got p=1\.5"),
        (lambda: fs.erfinv(-2.0), r"fad\.special\.erfinv needs -1 <= y <= 1"),
        (lambda: fs.xlogy(1.0, -1.0), r"fad\.special\.xlogy needs y >= 0"),
        (lambda: fs.xlog1py(1.0, -2.0), r"fad\.special\.xlog1py needs y >= -1"),
        (lambda: fs.gammainc(-1.0, 1.0), r"fad\.special\.gammainc needs a finite a > 0"),
        (lambda: fs.gammaincc(1.0, -1.0), r"fad\.special\.gammaincc needs .* x >= 0"),
        (lambda: fs.logsumexp([0.0, 1.0], b=[1.0]), "b has 1 weights for 2 terms"),
        (lambda: fs.logsumexp([0.0, 1.0], b=[1.0, -1.0]), "is negative"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=r"fad\.special\.ndtri"):
        fad.grad(fs.ndtri)(-0.5)
    with pytest.raises(TypeError, match=r"fad\.special\.logsumexp takes a sequence"):
        fs.logsumexp(3.0)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"fad\.special\.softmax takes a sequence"):
        fs.softmax(fad.Dual(1.0, 1.0))  # type: ignore[call-overload]
    assert math.isnan(fs.ndtri(math.nan))
    assert math.isnan(fs.gammainc(1.0, math.nan))


def test_infinite_derivatives_raise() -> None:
    cases: list[tuple[Callable[[Any], Any], float, str]] = [
        (fs.erfinv, 1.0, "fad.special.erfinv"),
        (fs.ndtri, 0.0, "fad.special.ndtri"),
        (lambda x: fs.xlogy(x, 0.0), 1.0, "fad.special.xlogy"),
        (lambda y: fs.xlogy(1.0, y), 0.0, "fad.special.xlogy"),
        (lambda y: fs.xlog1py(1.0, y), -1.0, "fad.special.xlog1py"),
        (lambda x: fs.gammainc(0.5, x), 0.0, "fad.special.gammainc"),
    ]
    for fun, x, name in cases:
        for route in every_route(fun, x):
            with pytest.raises(ZeroDivisionError, match="no finite derivative") as info:
                route()
            assert name in str(info.value)


def test_gammainc_is_not_differentiated_in_a() -> None:
    for fun in (fs.gammainc, fs.gammaincc):
        for route in every_route(lambda a, fun=fun: fun(a, 1.0), 2.0):
            with pytest.raises(NotImplementedError, match=r"differentiable in x only") as info:
                route()
            assert fun.__name__ in str(info.value)
            assert "stop_gradient" in str(info.value)
        # a stopped (or plain) a is fine
        g = fad.grad(lambda a, x, fun=fun: fun(fad.stop_gradient(a), x), argnums=1)(2.0, 1.0)
        assert close(abs(g), math.exp(-1.0), 1e-15)


@settings(max_examples=30)
@given(data=st.data())
def test_all_partials_of_logsumexp_match_the_partials(data: st.DataObject) -> None:
    # The one-call form (used by tracers that support ``all_partials``) against the
    # one-at-a-time partials of the same registry entry.
    n = data.draw(st.integers(1, 5))
    ab = data.draw(st.tuples(*[real(-20, 20)] * n, *[st.sampled_from([1.0, 0.5, 2.0])] * n))
    prim = fs.logsumexp_n(n)
    ans = prim.impl(*ab)
    assert prim.partials is not None
    one_by_one = [p(ans, *ab) for p in prim.partials]
    assert fs._logsumexp_all(ans, *ab) == one_by_one
    every = getattr(prim, "all_partials", None)
    assert every is None or every is fs._logsumexp_all
