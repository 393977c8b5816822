"""Jets: truncated Taylor series, for every derivative up to order K in one pass.

A :class:`Jet` carries the Taylor coefficients ``x₀, x₁, …, x_K`` of a value along a
curve ``x(t) = Σ x_k t^k``; ``x_k = x⁽ᵏ⁾(0)/k!``. Pushing a jet through a program gives
the output's coefficients to the same order, at a cost polynomial in K, where nesting
``Dual`` K times costs 2ᴷ.

The rules come from the single-source partials
-----------------------------------------------
There is no second table of Taylor rules. For ``y = f(x₁, …, xₙ)``, differentiating
along the curve gives ``y' = Σᵢ ∂ᵢf(x) · xᵢ'``, which in coefficients reads::

    k · y_k = Σᵢ Σ_{j=1..k} j · x_{i,j} · [∂ᵢf]_{k−j}

where ``[∂ᵢf]`` is the Taylor series of the partial evaluated along the same curve.
That series is obtained by running the partial itself — ``partial(ans, *args)``, written
with fad operations — on series: coefficient ``k`` of ``y`` needs the partial's
coefficients only up to ``k − 1``, which in turn need ``y`` (through ``ans``) only up to
``k − 1``. So the series are computed lazily, one coefficient at a time, each node of
the computation caching what it has computed (a :class:`_Series`). Within one
primitive application the nodes are shared by identity (``cos`` inside the partial of
``sin`` calls ``sin`` of the same argument, which *is* the series being computed), so
each node computes each coefficient once, in O(k): applying a primitive costs O(K²)
(O(K³) when each derivative is a new function, as for ``x ** 2.5``).

Linear primitives, ``mul`` and ``truediv`` take direct paths (a sum, the Cauchy
product, and the division recurrence): the same mathematics, fewer objects.

Coefficients may themselves be tracers of lower levels, so jets nest inside and
around every other transform.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from fad import _primitives as P
from fad._core import Primitive, partials_at, register_tracer
from fad._ops import TracerOps
from fad.tracers._build import TracerBase, twin

__all__ = ["Jet"]


@register_tracer
@attrs.frozen(eq=False, repr=False, weakref_slot=False)  # TracerBase has the weakref slot
class Jet(TracerBase):
    """A truncated Taylor series ``(x₀; x₁, …, x_K)``: Taylor mode, every order at once.

    ``primal`` is ``x₀``; ``series`` holds ``x₁ … x_K``, the Taylor coefficients (the
    k-th derivative along the curve divided by k!). The rule for every primitive is
    derived from its partials (see the module docstring), so user primitives made
    with :func:`fad.primitive` work too. ``fad.taylor`` seeds a jet for you.

    Example:
        >>> import fad
        >>> x = fad.Jet(0.0, (1.0, 0.0, 0.0))   # the curve t ↦ t, to order 3
        >>> y = fad.math.exp(x)
        >>> y.primal, y.series                  # 1, 1, 1/2, 1/6
        (1.0, (1.0, 0.5, 0.16666666666666666))
        >>> y.derivatives()                     # exp and its first three derivatives
        [1.0, 1.0, 1.0, 1.0]
    """

    primal: Any
    series: tuple[Any, ...]
    level: int = 0

    def __repr__(self) -> str:
        level = f", level={self.level}" if self.level else ""
        return f"{type(self).__name__}({self.primal!r}, {self.series!r}{level})"

    @property
    def order(self) -> int:
        """The truncation order K: the number of coefficients after the primal."""
        return len(self.series)

    def coefficients(self) -> list[Any]:
        """``[x₀, x₁, …, x_K]``: the Taylor coefficients, primal first."""
        return [self.primal, *self.series]

    def derivatives(self) -> list[Any]:
        """``[x₀, 1!·x₁, 2!·x₂, …, K!·x_K]``: the derivatives along the curve."""
        return [c if k < 2 else c * math.factorial(k) for k, c in enumerate(self.coefficients())]

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Jet rule of ``prim``, derived from its partials (or a direct fast path).

        Jets of different orders combine to the smallest order (the result is only
        known that far).
        """
        order = -1
        primals = []
        for a in args:
            if type(a) is cls and a.level == level:
                n = len(a.series)
                if order < 0 or n < order:
                    order = n
                primals.append(a.primal)
            else:
                primals.append(a)
        ans = prim(*primals)
        if prim.partials is None:
            return ans
        new = _new_jet if cls is Jet else cls  # a user's subclass: its own __init__
        if order == 0:
            return new(ans, (), level)
        xs: list[Any] = [
            [a.primal, *a.series[:order]] if type(a) is cls and a.level == level else _Const(a)
            for a in args
        ]
        if prim.linear is not None:
            series = _linear(prim.linear, xs, order)
        elif prim is P.mul:
            series = _mul(xs[0], xs[1], order)
        elif prim is P.truediv:
            series = _div(xs[0], xs[1], ans, order)
        else:
            series = _general(prim, args, xs, ans, order, level)
        return new(ans, tuple(series), level)


class _Const:
    """A constant argument among jets: coefficient 0 is the value, the rest are zero."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _linear(coeffs: Sequence[float], xs: list[Any], order: int) -> list[Any]:
    out = []
    for k in range(1, order + 1):
        total: Any = None
        for c, x in zip(coeffs, xs, strict=True):
            if type(x) is _Const:
                continue
            xk = x[k]
            term = xk if c == 1.0 else (-xk if c == -1.0 else c * xk)
            total = term if total is None else total + term
        out.append(total)
    return out


def _mul(a: Any, b: Any, order: int) -> list[Any]:
    if type(a) is _Const:
        c = a.value
        return [c * b[k] for k in range(1, order + 1)]
    if type(b) is _Const:
        c = b.value
        return [a[k] * c for k in range(1, order + 1)]
    out = []
    for k in range(1, order + 1):
        total = a[0] * b[k]
        for j in range(1, k + 1):
            aj = a[j]
            if type(aj) is float and aj == 0.0:
                continue
            total = total + aj * b[k - j]
        out.append(total)
    return out


def _div(x: Any, z: Any, y0: Any, order: int) -> list[Any]:
    if type(z) is _Const:
        c = z.value
        return [x[k] / c for k in range(1, order + 1)]
    # y·z = x, so y_k = (x_k − Σ_{j=1..k} z_j y_{k−j}) / z₀
    const_x = type(x) is _Const
    z0 = z[0]
    y = [y0]
    for k in range(1, order + 1):
        total: Any = None if const_x else x[k]
        for j in range(1, k + 1):
            zj = z[j]
            if type(zj) is float and zj == 0.0:
                continue
            term = zj * y[k - j]
            total = -term if total is None else total - term
        y.append(0.0 if total is None else total / z0)
    return y[1:]


# --- the general rule: lazy series ------------------------------------------------


class _Context:
    """The shared state of one general-rule application: the memo of series nodes.

    Nodes are memoised by (primitive, arguments by identity), so a partial that calls
    a function already being expanded (``sin`` ↔ ``cos``, ``exp`` ↔ itself) reuses its
    series instead of starting a new one.
    """

    __slots__ = ("level", "memo")

    def __init__(self, level: int) -> None:
        self.level = level
        self.memo: dict[tuple[Any, ...], tuple[Any, Sequence[Any]]] = {}

    def apply(
        self, prim: Primitive, args: Sequence[Any], ans: Any = None, have_ans: bool = False
    ) -> Any:
        key = (prim, *[(type(a), a) if type(a) is float or type(a) is int else id(a) for a in args])
        hit = self.memo.get(key)
        if hit is not None:
            return hit[0]
        level = self.level
        if not have_ans:
            ans = prim(*[a.primal if type(a) is _Series else a for a in args])
        partials = prim.partials
        if partials is None:
            out: Any = ans
        else:
            node = _Series(ans, level, self)
            node.step = _step(prim, partials, args, node)
            out = node
        self.memo[key] = (out, args)  # keep the arguments alive: their ids are in the key
        return out


_PLAIN = (float, int)


def _coef(d: Any, m: int) -> Any:
    """Coefficient ``m`` of ``d``: a series node, or a constant."""
    if type(d) is _Series:
        return d.coef(m)
    return d if m == 0 else 0.0


def _step(
    prim: Primitive, partials: Sequence[Callable[..., Any]], args: Sequence[Any], node: _Series
) -> Callable[[int], Any]:
    """The function computing coefficient ``k`` of ``prim(*args)`` (``node``)."""
    series = [(i, a) for i, a in enumerate(args) if type(a) is _Series]
    linear = prim.linear
    if linear is not None:

        def step_linear(k: int) -> Any:
            total: Any = 0.0
            for i, a in series:
                total = total + linear[i] * a.coef(k)
            return total

        return step_linear
    if prim is P.mul:
        x, y = args

        def step_mul(k: int) -> Any:
            return sum_product(x, y, k, 0)

        return step_mul
    if prim is P.truediv:
        x, z = args

        def step_div(k: int) -> Any:
            # y_k = (x_k − Σ_{j=1..k} z_j y_{k−j}) / z₀
            total = _coef(x, k)
            if type(z) is _Series:
                for j in range(1, k + 1):
                    total = total - z.coef(j) * node.coef(k - j)
                return total / z.coef(0)
            return total / z

        return step_div

    derivs: list[tuple[_Series, Any]] = []

    def step(k: int) -> Any:
        if not derivs:
            # the partials, evaluated on series: lazily, so that a chain of
            # derivatives (sin → cos → sin …) is only expanded as far as needed
            ds = partials_at(prim, node, args, [i for i, _ in series])
            derivs.extend((a, d) for (_, a), d in zip(series, ds, strict=True))
        scaled: Any = None  # Σ j·x_j·d_{k−j}, to be divided by k
        direct: Any = None  # terms with a constant partial: x_k·d
        for x, d in derivs:
            if type(d) is _Series:
                for j in range(1, k + 1):
                    xj = x.coef(j)
                    if type(xj) in _PLAIN and xj == 0:
                        continue
                    term = (xj if j == 1 else j * xj) * d.coef(k - j)
                    scaled = term if scaled is None else scaled + term
            else:
                term = x.coef(k) * d
                direct = term if direct is None else direct + term
        if scaled is None:
            return 0.0 if direct is None else direct
        scaled = scaled / k
        return scaled if direct is None else scaled + direct

    return step


def sum_product(x: Any, y: Any, k: int, start: int) -> Any:
    """``Σ_{j=start..k} x_j · y_{k−j}`` of two series or constants (the Cauchy product)."""
    if type(x) is not _Series:
        return x * y.coef(k) if start == 0 else 0.0
    if type(y) is not _Series:
        return x.coef(k) * y
    total: Any = 0.0
    for j in range(start, k + 1):
        total = total + x.coef(j) * y.coef(k - j)
    return total


def _no_step(k: int) -> Any:
    msg = f"internal error: a jet leaf was asked for coefficient {k}, past its order."
    raise IndexError(msg)


@register_tracer
class _Series(TracerOps):
    """A Taylor series computed on demand, coefficient by coefficient (internal).

    Only ever seen by partials while :meth:`Jet.apply` expands one primitive; it is a
    tracer of the jet's level so that the partials' operations come back here.
    """

    __slots__ = ("coefs", "ctx", "level", "primal", "step")

    def __init__(self, primal: Any, level: int, ctx: _Context) -> None:
        self.primal = primal
        self.level = level
        self.ctx = ctx
        self.coefs: list[Any] = [primal]
        self.step: Callable[[int], Any] = _no_step

    def coef(self, k: int) -> Any:
        """Coefficient ``k``, computing (once) those below it first."""
        coefs = self.coefs
        while len(coefs) <= k:
            coefs.append(self.step(len(coefs)))
        return coefs[k]

    @classmethod
    def leaf(cls, coefs: list[Any], level: int, ctx: _Context) -> _Series:
        """The series of a jet argument: all its coefficients already known."""
        s = cls(coefs[0], level, ctx)
        s.coefs = coefs
        return s

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Make (or reuse) the series node of ``prim(*args)``."""
        for a in args:
            if type(a) is cls:
                return a.ctx.apply(prim, args)
        raise AssertionError  # pragma: no cover - bind only calls us with a series


def _general(
    prim: Primitive, args: Sequence[Any], xs: list[Any], ans: Any, order: int, level: int
) -> list[Any]:
    ctx = _Context(level)
    leaves: dict[int, _Series] = {}
    lazy: list[Any] = []
    for a, x in zip(args, xs, strict=True):
        if type(x) is _Const:
            lazy.append(x.value)
        else:
            leaf = leaves.get(id(a))
            if leaf is None:
                leaf = leaves[id(a)] = _Series.leaf(x, level, ctx)
            lazy.append(leaf)
    node = ctx.apply(prim, lazy, ans, have_ans=True)
    return [node.coef(k) for k in range(1, order + 1)]


_Twin = twin(Jet)  # see fad/tracers/_build.py


def _new_jet(primal: Any, series: tuple[Any, ...], level: int) -> Jet:
    """Build a Jet without the frozen ``__init__``: fill its twin, then freeze it."""
    j = _Twin()
    j.primal = primal
    j.series = series
    j.level = level
    j.__class__ = Jet
    jet: Jet = j
    return jet
