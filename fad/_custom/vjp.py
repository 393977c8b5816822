"""``fad.custom_vjp``: a function with its own reverse-mode rule (as ``jax.custom_vjp``).

Under a reverse strategy that hands each partial its value's summed cotangent (the
tape), a call is a *cotangent chain* whose partials are the objects below: the sweep
gathers the outputs' cotangents (:class:`_Gathered`), passes them down the chain, and
each input's partial reads its entry of one ``bwd`` call per sweep. Everywhere else the
Jacobian comes from ``bwd`` at unit cotangents, checked for linearity in ``g``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from fad._core import ReverseTracer, bind, primal_value
from fad._custom._call import (
    Call,
    Custom,
    CustomRuleError,
    Node,
    chain,
    constant,
    is_real,
    is_zero,
    no_symbolic_zeros,
)
from fad.tracers.codual import Codual
from fad.tree import tree_flatten, tree_unflatten

__all__ = ["custom_vjp"]

P = ParamSpec("P")
R = TypeVar("R")


_PROBE = -1024.0
"""The second cotangent scale at which a ``bwd`` rule is checked for linearity.

A power of two, so that a linear rule scales exactly; negative, to catch rules that
treat signs differently; large, to catch clipping at any bound below 1024.
"""


def _sums_cotangents(leaf: Any) -> bool:
    """Whether ``leaf``'s class is a reverse strategy that hands each partial the summed
    cotangent of its value (the tape, a user's bottom-up sweep); not Codual's closures
    (``naive`` calls a backprop once per path, ``memo`` scales sensitivities).
    """
    return isinstance(leaf, ReverseTracer) and not isinstance(leaf, Codual)


def _mode_advice(leaf: Any) -> str:
    if isinstance(leaf, ReverseTracer):
        name = getattr(type(leaf), "mode_name", type(leaf).__name__)
        return (
            f'mode="{name}" cannot hand bwd the summed cotangent of the output. Use '
            'mode="tape" (the default), which calls bwd with it, as JAX does.'
        )
    return (
        f"forward mode ({type(leaf).__name__}: jvp, jacfwd, derivative) takes the "
        "Jacobian from bwd at unit cotangents, which is exact only for a bwd linear in g "
        "(JAX refuses forward mode on a custom_vjp). Use reverse mode (grad, vjp, jacrev), "
        "or give the function a forward rule with fad.custom_jvp."
    )


class _Gathered:
    """The summed cotangents of a call's outputs in one backward sweep, ``{j: g}``."""

    __slots__ = ("cts", "flat")

    def __init__(self, cts: dict[int, Any]) -> None:
        self.cts = cts
        self.flat: list[Any] | None = None  # bwd's input cotangents, once computed

    def __add__(self, other: Any) -> Any:
        if type(other) is not _Gathered:
            if other is None or (type(other) is float and other == 0.0):
                return self
            return NotImplemented
        cts = dict(self.cts)
        for j, g in other.cts.items():
            cts[j] = g if j not in cts else cts[j] + g
        return _Gathered(cts)

    __radd__ = __add__

    def __mul__(self, c: Any) -> Any:
        # a number times the cotangents (the tape joins the edges of a node of many
        # arguments by partials 1.0): the cotangents reaching the rule are scaled
        if type(c) is float and c == 1.0:
            return self
        if type(c) is _Gathered or is_real(c) is None:
            return NotImplemented
        return _Gathered({j: c * g for j, g in self.cts.items()})

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"<cotangents of the outputs {self.cts!r}>"


class _Tangents:
    """Input tangents gathered along a cotangent chain swept forwards (``linearize``)."""

    __slots__ = ("ts",)

    def __init__(self, ts: dict[int, Any]) -> None:
        self.ts = ts

    def __add__(self, other: Any) -> Any:
        # in place: each link's tangents are read by the next link only, so the sweep
        # costs O(1) per link instead of a copy of all the tangents gathered so far
        if type(other) is not _Tangents:
            return NotImplemented
        ts = self.ts
        for i, t in other.ts.items():
            ts[i] = t if i not in ts else ts[i] + t
        return self

    __radd__ = __add__

    def __mul__(self, c: Any) -> Any:
        if type(c) is float and c == 1.0:
            return self
        if type(c) is _Tangents or is_real(c) is None:
            return NotImplemented
        return _Tangents({i: c * t for i, t in self.ts.items()})

    __rmul__ = __mul__


class _Pullback:
    """``bwd`` at one level of one call: the partials of a cotangent chain use it."""

    __slots__ = ("call", "custom", "res", "rows")

    def __init__(self, custom: custom_vjp[Any, Any], call: Call, res: Any) -> None:
        self.custom = custom
        self.call = call
        self.res = res
        self.rows: list[list[Any]] | None = None

    def flat(self, g: _Gathered) -> list[Any]:
        flat = g.flat
        if flat is None:
            flat = g.flat = self.custom._bwd_flat(self.call, self.res, g.cts)
        return flat


class _Select:
    """∂(output j)/∂(chain): gathers output j's cotangent (or its tangent, forwards)."""

    __slots__ = ("j", "pull")

    def __init__(self, pull: _Pullback, j: int) -> None:
        self.pull = pull
        self.j = j

    def __mul__(self, g: Any) -> Any:
        if type(g) is _Tangents:  # a forward sweep: J·t, from the rows of bwd
            pull = self.pull
            if pull.rows is None:
                pull.rows = pull.custom._rows(pull.call, pull.res, None)
            row = pull.rows[self.j]
            total: Any = 0.0
            for i, t in g.ts.items():
                total = total + row[i] * t
            return total
        return _Gathered({self.j: g})

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"<cotangent of output {self.j} of {self.pull.custom._name}>"


class _Pass:
    """∂(chain link)/∂(previous link): passes the gathered cotangent (or tangents) on."""

    __slots__ = ()

    def __mul__(self, g: Any) -> Any:
        return g

    __rmul__ = __mul__


class _Entry:
    """∂(chain link)/∂(input i): entry i of ``bwd`` at the gathered cotangent."""

    __slots__ = ("i", "pull")

    def __init__(self, pull: _Pullback, i: int) -> None:
        self.pull = pull
        self.i = i

    def __mul__(self, g: Any) -> Any:
        if type(g) is _Gathered:
            return self.pull.flat(g)[self.i]
        return _Tangents({self.i: g})  # a forward sweep carries the input's tangent

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"<bwd of {self.pull.custom._name}: cotangent of input {self.i}>"


_PASS = _Pass()


# --------------------------------------------------------------------------------------
# custom_vjp


class custom_vjp(Custom[P, R]):
    """A function with a custom VJP (reverse-mode) rule, as ``jax.custom_vjp``.

    Give the rule with :meth:`defvjp`: ``fwd`` computes the output and residuals,
    ``bwd`` maps residuals and an output cotangent to input cotangents. Reverse mode
    calls ``bwd`` with the summed cotangent of the outputs, as JAX does (``mode="memo"``
    and ``"naive"`` need a ``bwd`` linear in ``g``); forward mode takes the Jacobian
    from ``bwd`` at unit cotangents, and raises if ``bwd`` is not linear in ``g``.

    Args:
        fun: the function. Its differentiated arguments are pytrees of real scalars.
        nondiff_argnums: positions of arguments that are not differentiated; ``fwd``
            gets them in place, ``bwd`` gets them first. They may not hold tracers.
        nondiff_argnames: the same, by parameter name.

    Example:
        >>> import fad
        >>> @fad.custom_vjp
        ... def clip_gradient(lo, hi, x):
        ...     return x  # the identity, with its gradient clipped to [lo, hi]
        >>> def clip_fwd(lo, hi, x):
        ...     return x, (lo, hi)
        >>> def clip_bwd(res, g):
        ...     lo, hi = res
        ...     return None, None, min(max(g, lo), hi)
        >>> clip_gradient.defvjp(clip_fwd, clip_bwd)
        >>> fad.grad(lambda x: 3.0 * clip_gradient(-0.75, 0.75, x))(2.0)
        0.75
    """

    kind = "custom_vjp"

    def __init__(
        self,
        fun: Callable[P, R],
        nondiff_argnums: Sequence[int] = (),
        nondiff_argnames: Sequence[str] = (),
    ) -> None:
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.fwd: Callable[..., tuple[Any, Any]] | None = None
        self.bwd: Callable[..., Any] | None = None

    def _has_rule(self) -> bool:
        return self.fwd is not None

    def defvjp(
        self,
        fwd: Callable[..., tuple[Any, Any]],
        bwd: Callable[..., Any],
        symbolic_zeros: bool = False,
        optimize_remat: bool = False,
    ) -> None:
        """Set the rule: ``fwd(*args) -> (out, res)`` and ``bwd(*nondiff_args, res, g)``.

        ``bwd`` returns a tuple with one cotangent per differentiated argument (in
        order), each with that argument's structure, or ``None`` for zero. JAX's
        ``symbolic_zeros=True`` is not supported; ``optimize_remat`` is accepted and
        has no effect.

        Example:
            >>> import fad
            >>> @fad.custom_vjp
            ... def f(x, y):
            ...     return fad.math.sin(x) * y
            >>> def f_fwd(x, y):
            ...     return f(x, y), (fad.math.cos(x), fad.math.sin(x), y)
            >>> def f_bwd(res, g):
            ...     cos_x, sin_x, y = res
            ...     return cos_x * g * y, sin_x * g
            >>> f.defvjp(f_fwd, f_bwd)
            >>> fad.grad(f)(0.0, 3.0)
            3.0
        """
        if not callable(fwd) or not callable(bwd):
            msg = f"fad.custom_vjp function {self._name}: defvjp takes two functions, fwd and bwd."
            raise TypeError(msg)
        no_symbolic_zeros(symbolic_zeros, self._name)
        del optimize_remat  # a JAX compilation option: nothing to do here
        self.fwd = fwd
        self.bwd = bwd

    def _run_fwd(self, call: Call, primals: Sequence[Any]) -> Any:
        """The residuals of ``fwd`` at ``primals`` (its output checked, not used)."""
        fwd = self.fwd
        assert fwd is not None
        res = fwd(*call.args(primals))
        if not isinstance(res, (tuple, list)) or len(res) != 2:
            msg = (
                f"the fwd rule of fad.custom_vjp function {self._name} must return a pair "
                f"(output, residuals), not {res!r}."
            )
            raise TypeError(msg)
        call.flatten_out(res[0], "fwd")
        return res[1]

    def _bwd_flat(self, call: Call, res: Any, cts: dict[int, Any]) -> list[Any]:
        """Input-leaf cotangents of ``bwd`` for output-leaf cotangents ``cts`` (others 0)."""
        assert call.out_def is not None
        assert self.bwd is not None
        n_out = call.out_def.num_leaves
        ct = tree_unflatten(call.out_def, [cts.get(k, 0.0) for k in range(n_out)])
        out = self.bwd(*call.nondiff, res, ct)
        n_args = len(call.arg_defs)
        if not isinstance(out, (tuple, list)) or len(out) != n_args:
            msg = (
                f"the bwd rule of fad.custom_vjp function {self._name} must return a tuple "
                f"with one cotangent per differentiated argument ({n_args}), not {out!r}."
            )
            raise TypeError(msg)
        leaves: list[Any] = []
        for pos, ct_i, d in zip(call.diff_pos, out, call.arg_defs, strict=True):
            if ct_i is None:
                leaves.extend([0.0] * d.num_leaves)
                continue
            ct_leaves, ct_def = tree_flatten(ct_i)
            if ct_def != d:
                msg = (
                    f"the bwd rule of fad.custom_vjp function {self._name} returned a "
                    f"cotangent of structure {ct_def!r} for argument {pos}, whose structure "
                    f"is {d!r}."
                )
                raise ValueError(msg)
            leaves.extend(0.0 if c is None else c for c in ct_leaves)
        return leaves

    def _rows(self, call: Call, res: Any, leaf: Any) -> list[list[Any]]:
        """The Jacobian, row j = ``bwd(res, eⱼ)``, checked for linearity in ``g``.

        ``leaf`` is a tracer of the transform asking (for the error message; ``None``:
        a forward sweep over a tape).
        """
        assert call.out_def is not None
        rows = []
        for j in range(call.out_def.num_leaves):
            row = self._bwd_flat(call, res, {j: 1.0})
            probe = self._bwd_flat(call, res, {j: _PROBE})
            for i, (a, b) in enumerate(zip(row, probe, strict=True)):
                if not _close(_PROBE * primal_value(a), primal_value(b)):
                    advice = (
                        _mode_advice(leaf)
                        if leaf is not None
                        else "fad.linearize sweeps the record forwards, which needs a bwd "
                        "linear in g; use fad.vjp, or fad.custom_jvp."
                    )
                    msg = (
                        f"fad.custom_vjp function {self._name}: bwd is not linear in the "
                        f"cotangent g (for output leaf {j}, input leaf {i}: "
                        f"{primal_value(a)!r} at g = 1 but {primal_value(b)!r} at g = "
                        f"{_PROBE}), and {advice}"
                    )
                    raise CustomRuleError(msg)
            rows.append(row)
        return rows

    def _level(
        self,
        call: Call,
        leaves: Sequence[Any],
        primals: Sequence[Any],
        traced: list[int],
        lower: list[Any],
        level: int,
    ) -> list[Any]:
        res = self._run_fwd(call, primals)
        first = leaves[traced[0]]
        many = len(lower) > 1
        if _sums_cotangents(first):
            # the cotangent chain: bwd once per sweep, at the summed cotangents
            pull = _Pullback(self, call, res)
            entries = [_Entry(pull, i) for i in range(len(leaves))]
            gather = chain(call.name, leaves, traced, _PASS, entries.__getitem__, 0.0, level)
            return [
                bind(
                    Node(
                        f"{call.name}[{j}]" if many else call.name,
                        value,
                        [constant(_Select(pull, j))],
                    ),
                    gather,
                )
                for j, value in enumerate(lower)
            ]
        rows = self._rows(call, res, first)
        return [
            chain(
                f"{call.name}[{j}]" if many else call.name,
                leaves,
                [i for i in traced if not is_zero(row[i])],
                1.0,
                row.__getitem__,
                value,
                level,
            )
            for j, (value, row) in enumerate(zip(lower, rows, strict=True))
        ]

    def _general_partial(self, call: Call, j: int, i: int, primals: Sequence[Any]) -> Any:
        msg = (
            f"fad.custom_vjp function {call.custom._name} is used in Taylor mode (fad.taylor, "
            "fad.derivative of order 2 or more, a Jet: a tracer that evaluates partials on "
            "its own objects), which needs derivatives of every order, but bwd gives first "
            "derivatives only. Give the function a forward rule with fad.custom_jvp, which "
            "Taylor mode differentiates to any order."
        )
        raise CustomRuleError(msg)


def _close(a: Any, b: Any) -> bool:
    """Whether two cotangents agree (to rounding; nan and inf compare as themselves)."""
    if a == b:
        return True
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return False
    if math.isnan(fa) and math.isnan(fb):
        return True
    return abs(fa - fb) <= 1e-9 * (abs(fa) + abs(fb))
