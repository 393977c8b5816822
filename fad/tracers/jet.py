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

One definition per rule
-----------------------
Each rule is written once and serves a jet's own coefficients and the series of the
partials alike. Beside the partials rule, three rules are direct: linear primitives
(``linear`` in the registry: a sum), ``mul`` (the Cauchy product) and ``truediv``
(the division recurrence) — the partials rule's coefficients in fewer operations,
without the chain of ever new series that ``1 / z``'s partial ``-ans / z`` starts.
They are functions of coefficient lists: :meth:`Jet.apply` runs them on its
arguments' coefficients, and a series node runs them once its arguments are known
far enough (:func:`_on_series`). The partials rule runs on series only: ``Jet.apply``
makes its arguments series whose coefficients are all known (leaves) and reads the
coefficients of the result's node. ``use_direct_rules(False)`` sends every primitive
through the partials rule; tests/test_generic.py compares both ways.

Coefficients may themselves be tracers of lower levels, so jets nest inside and
around every other transform.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import add, mul, neg
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
        """Jet rule of ``prim``: a direct rule, or the partials rule on series.

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
        direct = _direct_rule(prim)
        if direct is not None:  # on the coefficient lists themselves
            out = [ans]
            xs = [
                [a.primal, *a.series[:order]] if type(a) is cls and a.level == level else a
                for a in args
            ]
            direct(prim, xs, out, order)
            return new(ans, tuple(out[1:]), level)
        ctx = _Context(level)
        leaves: dict[int, _Series] = {}  # a jet used twice (x * x) is one series
        lazy: list[Any] = []
        for a in args:
            if type(a) is cls and a.level == level:
                leaf = leaves.get(id(a))
                if leaf is None:
                    leaf = leaves[id(a)] = _Series.leaf([a.primal, *a.series[:order]], ctx)
                lazy.append(leaf)
            else:
                lazy.append(a)
        node = ctx.node(prim, lazy, ans, _key(prim, lazy))
        node.coef(order)
        return new(ans, tuple(node.coefs[1:]), level)


# --- the series ----------------------------------------------------------------------

Fill = Callable[[int], None]
"""A node's rule: ``fill(k)`` appends its coefficients from ``len(node.coefs)`` to ``k``."""


@register_tracer
class _Series(TracerOps):
    """A Taylor series computed on demand, coefficient by coefficient (internal).

    Seen by partials while :meth:`Jet.apply` expands one primitive; it is a tracer of
    the jet's level so that the partials' operations come back here.
    """

    __slots__ = ("coefs", "ctx", "fill", "level", "primal")

    def __init__(self, primal: Any, ctx: _Context) -> None:
        self.primal = primal
        self.level = ctx.level
        self.ctx = ctx
        self.coefs: list[Any] = [primal]
        self.fill: Fill = _past_order

    def coef(self, k: int) -> Any:
        """Coefficient ``k``, computing (once) those below it first."""
        coefs = self.coefs
        if len(coefs) <= k:
            self.fill(k)
        return coefs[k]

    @classmethod
    def leaf(cls, coefs: list[Any], ctx: _Context) -> _Series:
        """The series of a jet argument: all its coefficients already known."""
        s = cls(coefs[0], ctx)
        s.coefs = coefs
        return s

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Make (or reuse) the series node of ``prim(*args)``."""
        for a in args:
            if type(a) is cls and a.level == level:
                return a.ctx.apply(prim, args)
        raise AssertionError  # pragma: no cover - bind only calls us with a series


def _past_order(k: int) -> None:
    msg = f"internal error: a jet leaf was asked for coefficient {k}, past its order."
    raise IndexError(msg)


class _Context:
    """The shared state of one :meth:`Jet.apply`: the memo of its series nodes.

    Nodes are memoised by (primitive, arguments by identity), so a partial that calls
    a function already being expanded (``sin`` ↔ ``cos``, ``exp`` ↔ itself) reuses its
    series instead of starting a new one.
    """

    __slots__ = ("level", "memo")

    def __init__(self, level: int) -> None:
        self.level = level
        self.memo: dict[tuple[Any, ...], tuple[Any, Sequence[Any]]] = {}

    def apply(self, prim: Primitive, args: Sequence[Any]) -> Any:
        """``prim(*args)`` on series: the memoised node, or the plain value."""
        key = _key(prim, args)
        hit = self.memo.get(key)
        if hit is not None:
            return hit[0]
        level = self.level
        ans = prim(*[a.primal if type(a) is _Series and a.level == level else a for a in args])
        if prim.partials is None:
            self.memo[key] = (ans, args)
            return ans
        return self.node(prim, args, ans, key)

    def node(self, prim: Primitive, args: Sequence[Any], ans: Any, key: tuple[Any, ...]) -> _Series:
        """The node of ``prim(*args)``, whose value is ``ans``, with its rule; memoised."""
        node = _Series(ans, self)
        direct = _direct_rule(prim)
        if direct is None:
            node.fill = _partials_rule(prim, args, node)
        else:
            node.fill = _on_series(direct, prim, args, node)
        self.memo[key] = (node, args)  # args kept alive: their ids are in the key
        return node


def _key(prim: Primitive, args: Sequence[Any]) -> tuple[Any, ...]:
    return (prim, *[(type(a), a) if type(a) is float or type(a) is int else id(a) for a in args])


def _series_args(args: Sequence[Any], level: int) -> tuple[list[Any], list[_Series]]:
    """Each argument's coefficient list (a constant as it is), and the series still
    being computed (all but the leaves), which a rule fills to ``m`` before step ``m``."""
    xs: list[Any] = []
    pending: list[_Series] = []
    for a in args:
        if type(a) is _Series and a.level == level:
            xs.append(a.coefs)
            if a.fill is not _past_order:
                pending.append(a)
        else:
            xs.append(a)
    return xs, pending


# --- the direct rules ------------------------------------------------------------------
# ``rule(prim, xs, out, k)`` appends the coefficients ``len(out) … k`` of ``prim`` to
# ``out`` (coefficient 0 is already there), each ``xs[i]`` being an argument's list of
# coefficients (known to ``k``) or a constant: a number or a tracer of a lower level.
# Jet.apply runs them on its arguments' coefficients; on series, :func:`_on_series`
# fills the arguments first. Each gives the partials rule's coefficients (checked in
# tests/test_generic.py) in fewer operations.

DirectRule = Callable[[Primitive, Sequence[Any], list[Any], int], None]


def _linear(prim: Primitive, xs: Sequence[Any], out: list[Any], k: int) -> None:
    """``y_m = Σᵢ cᵢ·x_{i,m}``: the constants ``cᵢ`` of the registry (products by ±1 skipped)."""
    assert prim.linear is not None
    start = len(out)
    total: Iterable[Any] = ()  # the sums of the terms so far, coefficient by coefficient
    first = True
    for c, x in zip(prim.linear, xs, strict=True):
        if type(x) is not list:
            continue
        col = x[start : k + 1]
        term = col if c == 1.0 else map(neg, col) if c == -1.0 else map(mul, repeat(c), col)
        total = term if first else map(add, total, term)
        first = False
    out.extend(total)


def _mul(prim: Primitive, xs: Sequence[Any], out: list[Any], k: int) -> None:
    """The Cauchy product ``y_m = Σ_{j=0..m} a_j·b_{m−j}``; with a constant ``c``, ``x_m·c``."""
    a, b = xs
    if type(a) is not list or type(b) is not list:
        x, c = (a, b) if type(a) is list else (b, a)
        out.extend([v * c for v in x[len(out) : k + 1]])
        return
    for m in range(len(out), k + 1):
        total = a[0] * b[m]
        for j in range(1, m + 1):
            aj = a[j]
            if type(aj) is float and aj == 0.0:
                continue
            total = total + aj * b[m - j]
        out.append(total)


def _div(prim: Primitive, xs: Sequence[Any], y: list[Any], k: int) -> None:
    """``y = x / z``: from ``y·z = x``, ``y_m = (x_m − Σ_{j=1..m} z_j·y_{m−j}) / z₀``."""
    x, z = xs
    if type(z) is not list:
        y.extend([v / z for v in x[len(y) : k + 1]])
        return
    const_x = type(x) is not list
    z0 = z[0]
    for m in range(len(y), k + 1):
        total: Any = None if const_x else x[m]
        for j in range(1, m + 1):
            zj = z[j]
            if type(zj) is float and zj == 0.0:
                continue
            term = zj * y[m - j]
            total = -term if total is None else total - term
        y.append(0.0 if total is None else total / z0)


_direct = True  # the direct rules on (see use_direct_rules)


def use_direct_rules(on: bool) -> None:
    """Use the direct rules of linear primitives, mul and truediv (``on``), or not.

    Off, every primitive takes the partials rule: tests/test_generic.py compares both
    ways. They stay on under ``FAD_GENERIC=1`` (jets have no fast path around ``bind``):
    they are the more accurate rules (order 12 of ``sqrt(exp(t))``, whose partial is a
    quotient: 4e-12 relative, against 5e-9 by the partials rule's chain of quotients),
    and a quotient costs O(K²) by them, O(K³) by the partials rule.
    """
    global _direct  # one switch, read by _direct_rule
    _direct = on


def _direct_rule(prim: Primitive) -> DirectRule | None:
    """The direct rule of ``prim``, if it has one (and they are on)."""
    if not _direct:
        return None
    if prim.linear is not None:
        return _linear
    if prim is _MUL:
        return _mul
    if prim is _TRUEDIV:
        return _div
    return None


_MUL, _TRUEDIV = P.mul, P.truediv


def _on_series(rule: DirectRule, prim: Primitive, args: Sequence[Any], node: _Series) -> Fill:
    """A direct rule as a node's :data:`Fill`: the arguments filled first, to ``k``."""
    xs, pending = _series_args(args, node.level)
    out = node.coefs

    def fill(k: int) -> None:
        for p in pending:
            if len(p.coefs) <= k:
                p.fill(k)
        rule(prim, xs, out, k)

    return fill


# --- the partials rule -----------------------------------------------------------------

_PLAIN = (float, int)


def _partials_rule(prim: Primitive, args: Sequence[Any], node: _Series) -> Fill:
    """``m·y_m = Σᵢ Σ_{j=1..m} j·x_{i,j}·[∂ᵢf]_{m−j}``, the partials run on series.

    The partials are evaluated at the first step, lazily, so that a chain of
    derivatives (sin → cos → sin …) is only expanded as far as needed.
    """
    out, level = node.coefs, node.level
    coefs, pending = _series_args(args, level)
    traced = [i for i, x in enumerate(coefs) if type(x) is list]
    # per traced argument: its coefficients, and its partial's (None: a constant d)
    pairs: list[tuple[list[Any], list[Any] | None, Any]] = []
    partial_nodes: list[_Series] = []  # partials still being computed: filled to m − 1

    def fill(k: int) -> None:
        if not pairs:
            partials = partials_at(prim, node, args, traced)
            for i, d in zip(traced, partials, strict=True):
                d_is_series = type(d) is _Series and d.level == level
                pairs.append((coefs[i], d.coefs if d_is_series else None, d))
                if d_is_series and d.fill is not _past_order and d is not node:
                    partial_nodes.append(d)
        for m in range(len(out), k + 1):
            for p in pending:
                if len(p.coefs) <= m:
                    p.fill(m)
            for p in partial_nodes:
                if len(p.coefs) < m:
                    p.fill(m - 1)
            scaled: Any = None  # Σ j·x_j·d_{m−j}, to be divided by m
            direct: Any = None  # terms with a constant partial: x_m·d
            for xs, ds, d in pairs:
                if ds is not None:
                    for j in range(1, m + 1):
                        xj = xs[j]
                        if type(xj) in _PLAIN and xj == 0:
                            continue
                        term = (xj if j == 1 else j * xj) * ds[m - j]
                        scaled = term if scaled is None else scaled + term
                else:
                    term = xs[m] * d
                    direct = term if direct is None else direct + term
            if scaled is None:
                out.append(0.0 if direct is None else direct)
            else:
                scaled = scaled / m
                out.append(scaled if direct is None else scaled + direct)

    return fill


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
