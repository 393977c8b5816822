"""``fad.custom_jvp`` and ``fad.custom_vjp``: your own derivative rule for a function.

Semantics are JAX's (``jax.custom_jvp`` / ``jax.custom_vjp``, ``nondiff_argnums``
included). Outside any transform the decorated function is just called. Under a
transform, its body is *not* differentiated: the rule is used instead, and every
transform gives the same derivative (or raises, where a transform cannot honour the
rule).

How it works
------------
A call whose arguments hold tracers is taken apart one level at a time: the tracers
of the top level are stripped to their primals, the call is made again one level down
(down to the body on plain numbers, which gives the value), and the top level's
derivative is attached by binding a few small :class:`~fad._core.Primitive` nodes to
the top tracers, so that every tracer applies them with its ordinary rule:

* A **Jacobian chain** (every first-order tracer: ``Dual``, every reverse strategy, a
  user's tracer): the partials ∂outⱼ/∂xᵢ are numbers (of lower levels) computed from
  the rule, and output j is a chain of binary nodes ``c = node(c, xᵢ)`` whose partials
  are 1 and ∂outⱼ/∂xᵢ. A chain costs O(1) per input, where one primitive of n inputs
  costs O(n) per partial (each partial is called with every argument): custom rules
  cost O(n) in n inputs.

  - ``custom_jvp``: the JVP rule runs once, with reverse-mode tracers (a fresh tape)
    as tangents; one sweep per output leaf gives its row of partials. The rule runs on
    the primals, which may be tracers of enclosing transforms, so it is differentiated
    itself: custom JVP rules nest to any order, as in JAX. Under ``Dual`` the rule runs
    once with the actual tangents instead (as JAX's ``jvp`` does).
  - ``custom_vjp``: row j is ``bwd(res, eⱼ)`` (one call per output leaf), exact for a
    ``bwd`` linear in ``g``, as a VJP is. fad checks that by calling ``bwd`` at
    ``_PROBE · eⱼ`` too and raises :class:`CustomRuleError` when the two disagree:
    forward mode (JAX refuses it outright) then names ``custom_jvp``, and
    ``mode="memo"`` / ``"naive"`` (whose backward passes cannot hand ``bwd`` the summed
    cotangent) name ``mode="tape"``.

* A **cotangent chain** (``custom_vjp`` under a reverse strategy whose backward pass
  multiplies each partial once by the value's summed cotangent: the tape, and user
  strategies written that way): the partials are objects, and the sweep carries the
  summed cotangents of all the outputs down the chain, where ``bwd`` is called once per
  sweep with all of them, as JAX does; so ``bwd`` may be nonlinear in ``g`` (gradient
  clipping). A forward sweep over the same record (``fad.linearize``) gets the Jacobian
  chain's answer.

* The **general rule** (tracers that evaluate partials on their own objects, such as
  ``Jet``, which expands them in Taylor series): one primitive per output leaf, whose
  partial i is the JVP rule on the unit tangent of input i, run on those objects, so
  Taylor mode gets every order; O(n²) in n inputs. ``bwd`` gives first derivatives
  only: ``custom_vjp`` raises here and names ``custom_jvp``.

The value is always computed by the function itself (not by ``fwd`` or the JVP rule's
primal output); under ``custom_jvp`` the body only ever sees plain numbers, so it may
call code that knows nothing of fad (Python's ``math``, a C extension).
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from fad._core import Primitive, ReverseTracer, bind, is_tracer, new_level, primal_value, top_tracer
from fad.tracers.codual import Codual
from fad.tracers.dual import Dual
from fad.tracers.tape import TapeCodual
from fad.tree import PyTreeDef, tree_flatten, tree_map, tree_unflatten

__all__ = ["CustomRuleError", "custom_jvp", "custom_vjp"]

P = ParamSpec("P")
R = TypeVar("R")

_PROBE = -1024.0
"""The second cotangent scale at which a ``bwd`` rule is checked for linearity.

A power of two, so that a linear rule scales exactly; negative, to catch rules that
treat signs differently; large, to catch clipping at any bound below 1024.
"""


class CustomRuleError(TypeError):
    """A transform cannot honour a custom rule (e.g. a ``bwd`` not linear in ``g``)."""


def _is_real(value: Any) -> bool | None:
    """True for a tracer, False for a real number, None for anything else."""
    if is_tracer(value):
        return True
    return False if isinstance(value, numbers.Real) else None


# --------------------------------------------------------------------------------------
# the kind of the top tracer, asked once per class


_CHAIN, _GENERAL = "chain", "general"
_kind_of_class: dict[type, str] = {}
"""Tracer class → ``_CHAIN`` (partials evaluated on lower-level values: first order) or
``_GENERAL`` (partials evaluated on the tracer's own objects, e.g. ``Jet``'s series)."""


def _kind(cls: type) -> str:
    return _kind_of_class.get(cls, _CHAIN)


class _Retry(Exception):
    """Raised by a chain whose tracer evaluates partials later or on its own objects."""


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
        f"forward mode ({type(leaf).__name__}: jvp, jacfwd, derivative, taylor) takes the "
        "Jacobian from bwd at unit cotangents, which is exact only for a bwd linear in g "
        "(JAX refuses forward mode on a custom_vjp). Use reverse mode (grad, vjp, jacrev), "
        "or give the function a forward rule with fad.custom_jvp."
    )


# --------------------------------------------------------------------------------------
# the nodes bound to the top tracers


def _constant(value: Any) -> Callable[..., Any]:
    def partial(ans: Any, *primals: Any) -> Any:
        return value

    return partial


class _Probe:
    """The first link's partial: records whether the tracer evaluated it at once, on
    values of lower levels (a first-order tracer), as a chain needs."""

    __slots__ = ("first_order", "level", "partial")

    def __init__(self, partial: Callable[..., Any], level: int) -> None:
        self.partial = partial
        self.level = level
        self.first_order: bool | None = None  # None: not evaluated (yet)

    def __call__(self, ans: Any, *primals: Any) -> Any:
        level = self.level
        self.first_order = all(
            type(x) is float or not is_tracer(x) or x.level < level for x in primals
        )
        return self.partial(ans, *primals)


class _Node(Primitive):
    """One link of a chain: its value is fixed, its partials are constants."""

    __slots__ = ("value",)

    def __init__(self, name: str, value: Any, partials: Sequence[Callable[..., Any]]) -> None:
        super().__init__(name, self._impl, partials)
        self.value = value

    def _impl(self, *args: Any) -> Any:
        return self.value

    def __call__(self, *args: Any) -> Any:  # the value one level down: no dispatch
        return self.value


_WIDTH = 16
"""Input leaves per chain node: a partial is called with all of a node's arguments, so a
node of w leaves costs O(w²); a few leaves per node share the cost of a dispatch."""


def _zero(ans: Any, *args: Any) -> float:
    return 0.0


def _entry(table: Sequence[Any], p: int) -> Callable[..., Any]:
    """The partial towards leaf argument ``p`` of a node: ``table[start + p]``."""

    def partial(ans: Any, *args: Any) -> Any:
        return table[args[-1] + p]

    return partial


def _chain(
    name: str,
    leaves: Sequence[Any],
    traced: Sequence[int],
    link: Any,
    partial_of: Callable[[int], Any],
    value: Any,
    level: int,
) -> Any:
    """``value`` with derivative Σᵢ ∂ᵢ·d(leaves[i]) over ``traced``, as a chain of nodes.

    Node k takes the previous node (partial ``link``), up to ``_WIDTH`` leaves (partials
    ``partial_of(i)``) and, last, the position of its first leaf in ``traced`` (a plain
    int, a constant to every tracer), by which its partials find their values. The
    nodes' values are 0.0 but the last one's, ``value``.
    """
    if not traced:
        return value
    table = [partial_of(i) for i in traced]
    prims: dict[tuple[bool, int, bool], _Node] = {}

    def node(has_link: bool, width: int, is_last: bool, probe: _Probe | None = None) -> _Node:
        prim = prims.get((has_link, width, is_last))
        if prim is None:
            partials = [_constant(link)] if has_link else []
            partials += [_entry(table, p) for p in range(width)]
            partials.append(_zero)  # the position: an int, never differentiated
            if probe is not None:
                probe.partial = partials[0]
                partials[0] = probe
            prim = prims[has_link, width, is_last] = _Node(
                name, value if is_last else 0.0, partials
            )
        return prim

    n = len(traced)
    width = min(_WIDTH, n)
    probe = _Probe(_zero, level)
    c = bind(node(False, width, width == n, probe), *[leaves[i] for i in traced[:width]], 0)
    if not probe.first_order:
        raise _Retry
    start = width
    while start < n:
        width = min(_WIDTH - 1, n - start)
        stop = start + width
        c = bind(node(True, width, stop == n), c, *[leaves[i] for i in traced[start:stop]], start)
        start = stop
    return c


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
        if type(c) is _Gathered or _is_real(c) is None:
            return NotImplemented
        return _Gathered({j: c * g for j, g in self.cts.items()})

    __rmul__ = __mul__


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
        if type(c) is _Tangents or _is_real(c) is None:
            return NotImplemented
        return _Tangents({i: c * t for i, t in self.ts.items()})

    __rmul__ = __mul__


class _Pullback:
    """``bwd`` at one level of one call: the partials of a cotangent chain use it."""

    __slots__ = ("call", "custom", "res", "rows")

    def __init__(self, custom: custom_vjp[Any, Any], call: _Call, res: Any) -> None:
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


_PASS = _Pass()


# --------------------------------------------------------------------------------------
# what custom_jvp and custom_vjp share


class _Custom(Generic[P, R]):
    """What custom_jvp and custom_vjp share: argument handling and dispatch."""

    kind = "custom"

    def __init__(
        self,
        fun: Callable[P, R],
        nondiff_argnums: Sequence[int] = (),
        nondiff_argnames: Sequence[str] = (),
    ) -> None:
        if not callable(fun):
            msg = f"fad.{self.kind} decorates a function; got {fun!r}."
            raise TypeError(msg)
        try:
            self._signature: inspect.Signature | None = inspect.signature(fun)
        except (TypeError, ValueError):
            self._signature = None
        nums = list(nondiff_argnums)
        for n in nums:
            if type(n) is not int or n < 0:
                msg = (
                    f"fad.{self.kind}: nondiff_argnums must be non-negative ints (positions "
                    f"of arguments), not {nondiff_argnums!r}."
                )
                raise TypeError(msg)
        if nondiff_argnames:
            names = list(self._signature.parameters) if self._signature is not None else []
            for name in nondiff_argnames:
                if name not in names:
                    msg = (
                        f"fad.{self.kind}: nondiff_argnames names {name!r}, which is not a "
                        f"parameter of {getattr(fun, '__name__', fun)!r} ({names})."
                    )
                    raise ValueError(msg)
                nums.append(names.index(name))
        self.fun = fun
        self._fun: Callable[..., Any] = fun  # the same, for calls with resolved args
        self.nondiff_argnums = tuple(sorted(set(nums)))
        functools.update_wrapper(self, fun)

    @property
    def _name(self) -> str:
        return getattr(self.fun, "__name__", repr(self.fun))

    def _has_rule(self) -> bool:
        raise NotImplementedError

    def _resolve(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Keyword and default arguments resolved to positions (as JAX does)."""
        sig = self._signature
        if sig is None:
            if kwargs:
                msg = f"fad.{self.kind} function {self._name} cannot take keyword arguments."
                raise TypeError(msg)
            return args
        if not kwargs and len(args) >= len(sig.parameters):
            return args
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        if bound.kwargs:
            msg = (
                f"fad.{self.kind} function {self._name}: keyword-only arguments "
                f"{sorted(bound.kwargs)} cannot be resolved to positions; make them positional."
            )
            raise TypeError(msg)
        return tuple(bound.args)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if not self._has_rule():
            rule = "defjvp" if self.kind == "custom_jvp" else "defvjp"
            what = "JVP" if self.kind == "custom_jvp" else "VJP"
            msg = f"No {what} defined for {self.kind} function {self._name} using {rule}."
            raise AttributeError(msg)
        return self._call_resolved(self._resolve(tuple(args), dict(kwargs)))  # type: ignore[no-any-return]

    def _call_resolved(self, full: tuple[Any, ...]) -> Any:
        nondiff = self.nondiff_argnums
        if nondiff and nondiff[-1] >= len(full):
            msg = (
                f"fad.{self.kind} function {self._name} was called with {len(full)} "
                f"argument(s) but nondiff_argnums={nondiff}."
            )
            raise TypeError(msg)
        diff_pos = tuple(i for i in range(len(full)) if i not in nondiff)
        leaves: list[Any] = []
        arg_defs: list[PyTreeDef] = []
        for i in diff_pos:
            arg_leaves, arg_def = tree_flatten(full[i])
            leaves.extend(arg_leaves)
            arg_defs.append(arg_def)
        self._check_nondiff(full)
        if not any(type(x) is not float and is_tracer(x) for x in leaves):
            return self._fun(*full)
        self._check(diff_pos, arg_defs, leaves)
        call = _Call(self, full, diff_pos, arg_defs)
        out = call.outputs(leaves)
        assert call.out_def is not None
        # every level has been applied: drop the caches, which hold tracers of this call
        # (a backward pass only needs what each partial keeps itself)
        call.outputs_by_inputs = {}
        call.general_partials = {}
        return tree_unflatten(call.out_def, out)

    def _check(
        self, diff_pos: tuple[int, ...], arg_defs: list[PyTreeDef], leaves: list[Any]
    ) -> None:
        """Refuse leaves fad cannot differentiate."""
        k = 0
        for pos, arg_def in zip(diff_pos, arg_defs, strict=True):
            for leaf in leaves[k : k + arg_def.num_leaves]:
                if type(leaf) is not float and (type(leaf) is bool or _is_real(leaf) is None):
                    msg = (
                        f"fad.{self.kind} function {self._name}: argument {pos} has a leaf of "
                        f"type {type(leaf).__name__} ({leaf!r}); differentiated arguments hold "
                        "real scalars. List the argument in nondiff_argnums if it is not "
                        "differentiated (a function, a flag, a string)."
                    )
                    raise TypeError(msg)
            k += arg_def.num_leaves

    def _check_nondiff(self, full: tuple[Any, ...]) -> None:
        """Refuse tracers in nondiff arguments: their derivative would be lost."""
        for pos in self.nondiff_argnums:
            for leaf in tree_flatten(full[pos])[0]:
                if type(leaf) is not bool and _is_real(leaf):
                    msg = (
                        f"fad.{self.kind} function {self._name}: argument {pos} is in "
                        f"nondiff_argnums but holds a tracer ({type(leaf).__name__}), whose "
                        "derivative would be lost. Pass it as an ordinary argument instead "
                        "(a bwd rule may return None for it); nondiff_argnums are for values "
                        "that are never differentiated."
                    )
                    raise TypeError(msg)

    # the rule-specific parts, implemented by custom_jvp and custom_vjp
    def _level(
        self,
        call: _Call,
        leaves: Sequence[Any],
        primals: Sequence[Any],
        traced: list[int],
        lower: list[Any],
        level: int,
    ) -> list[Any]:
        """The outputs at the top ``level`` by a Jacobian or cotangent chain."""
        raise NotImplementedError

    def _general_partial(self, call: _Call, j: int, i: int, primals: Sequence[Any]) -> Any:
        """∂(output j)/∂(input i) at ``primals``, for the general rule."""
        raise NotImplementedError


def _no_symbolic_zeros(symbolic_zeros: bool, name: str) -> None:
    if symbolic_zeros:
        msg = (
            f"fad custom rule of {name}: symbolic_zeros=True is not supported; fad passes "
            "0.0 tangents and cotangents for unperturbed values."
        )
        raise NotImplementedError(msg)


class _Call:
    """One call of a custom function on tracers: its arguments and caches."""

    __slots__ = (
        "arg_defs",
        "custom",
        "diff_pos",
        "full",
        "general_partials",
        "n_leaves",
        "out_def",
        "outputs_by_inputs",
        "primitives",
    )

    def __init__(
        self,
        custom: _Custom[Any, Any],
        full: tuple[Any, ...],
        diff_pos: tuple[int, ...],
        arg_defs: list[PyTreeDef],
    ) -> None:
        self.custom = custom
        # only the nondiff arguments are kept (the differentiated ones come as leaves):
        # holding the caller's tracers here would tie a tape to itself in a cycle
        self.full = tuple(None if i in diff_pos else a for i, a in enumerate(full))
        self.diff_pos = diff_pos
        self.arg_defs = arg_defs
        self.n_leaves = sum(d.num_leaves for d in arg_defs)
        self.out_def: PyTreeDef | None = None
        # the output leaves for input leaves (by identity), for the general rule's
        # primitives, which re-enter the call once per output leaf
        self.outputs_by_inputs: dict[tuple[int, ...], tuple[list[Any], list[Any]]] = {}
        # the general rule's partial derivatives, by input leaf and primals (identity)
        self.general_partials: dict[tuple[Any, ...], tuple[list[Any], list[Any]]] = {}
        self.primitives: list[Primitive] | None = None

    @property
    def name(self) -> str:
        return f"{self.custom.kind}({self.custom._name})"

    @property
    def nondiff(self) -> tuple[Any, ...]:
        return tuple(self.full[i] for i in self.custom.nondiff_argnums)

    def diff_trees(self, leaves: Sequence[Any]) -> list[Any]:
        """The differentiated arguments rebuilt from flat ``leaves``."""
        trees = []
        k = 0
        for d in self.arg_defs:
            trees.append(tree_unflatten(d, leaves[k : k + d.num_leaves]))
            k += d.num_leaves
        return trees

    def args(self, leaves: Sequence[Any]) -> tuple[Any, ...]:
        """All the arguments, nondiff ones in their places, rebuilt from ``leaves``."""
        full = list(self.full)
        for pos, tree in zip(self.diff_pos, self.diff_trees(leaves), strict=True):
            full[pos] = tree
        return tuple(full)

    def flatten_out(self, out: Any, what: str) -> list[Any]:
        leaves, out_def = tree_flatten(out)
        if self.out_def is None:
            for leaf in leaves:
                if type(leaf) is bool or _is_real(leaf) is None:
                    msg = (
                        f"fad.{self.custom.kind} function {self.custom._name} returned a leaf "
                        f"of type {type(leaf).__name__} ({leaf!r}); its outputs must be real "
                        "scalars."
                    )
                    raise TypeError(msg)
            self.out_def = out_def
        elif out_def != self.out_def:
            msg = (
                f"fad.{self.custom.kind} function {self.custom._name}: {what} returned "
                f"structure {out_def!r}, but the function returns {self.out_def!r}."
            )
            raise ValueError(msg)
        return leaves

    def outputs(self, leaves: Sequence[Any]) -> list[Any]:
        """The output leaves for input ``leaves`` (of any level), cached by identity."""
        key = tuple(map(id, leaves))
        hit = self.outputs_by_inputs.get(key)
        if hit is not None:
            return hit[1]
        top, level = top_tracer(leaves, self.name)
        if top is None:
            out = self.flatten_out(self.custom._fun(*self.args(leaves)), "the function")
        else:
            out = self._traced(leaves, top, level)
        # keep the leaves alive: their ids are the key
        self.outputs_by_inputs[key] = (list(leaves), out)
        return out

    def _traced(self, leaves: Sequence[Any], top: type, level: int) -> list[Any]:
        traced = [
            i
            for i, x in enumerate(leaves)
            if type(x) is not float and is_tracer(x) and x.level == level
        ]
        if _kind(top) == _CHAIN:
            mine = set(traced)
            primals = [x.primal if i in mine else x for i, x in enumerate(leaves)]
            lower = self.outputs(primals)
            try:
                return self.custom._level(self, leaves, primals, traced, lower, level)
            except _Retry:
                _kind_of_class[top] = _GENERAL
        if self.out_def is None:
            self.outputs([primal_value(x) for x in leaves])
        return [bind(prim, *leaves) for prim in self.general()]

    def general(self) -> list[Primitive]:
        prims = self.primitives
        if prims is None:
            assert self.out_def is not None
            prims = [_GeneralPrimitive(self, j) for j in range(self.out_def.num_leaves)]
            self.primitives = prims
        return prims

    def unit_trees(self, i: int) -> list[Any]:
        """The differentiated arguments' tangent: 1.0 on leaf ``i``, 0.0 elsewhere."""
        unit = [0.0] * self.n_leaves
        unit[i] = 1.0
        return self.diff_trees(unit)

    def out_leaves_of(self, tree: Any, what: str) -> list[Any]:
        """Leaves of a rule's output-shaped result (``None`` leaves count as zeros)."""
        assert self.out_def is not None
        if tree is None:
            return [0.0] * self.out_def.num_leaves
        leaves, tree_def = tree_flatten(tree)
        if tree_def == self.out_def:
            return [0.0 if x is None else x for x in leaves]
        msg = (
            f"fad.{self.custom.kind} function {self.custom._name}: {what} has structure "
            f"{tree_def!r}, but the function's output has structure {self.out_def!r}."
        )
        raise ValueError(msg)


class _GeneralPrimitive(Primitive):
    """Output leaf ``index`` of one custom call, as a primitive of its input leaves.

    Calling it (as every tracer's ``apply`` does to compute the value one level down)
    re-enters the custom function's dispatch, so each level uses the rule.
    """

    __slots__ = ("call", "index")

    def __init__(self, call: _Call, index: int) -> None:
        name = call.name
        if call.out_def is not None and call.out_def.num_leaves > 1:
            name += f"[{index}]"
        partials = [self._make_partial(call, index, i) for i in range(call.n_leaves)]
        super().__init__(name, self._impl, partials)
        self.call = call
        self.index = index

    @staticmethod
    def _make_partial(call: _Call, j: int, i: int) -> Callable[..., Any]:
        def partial(ans: Any, *primals: Any) -> Any:
            return call.custom._general_partial(call, j, i, primals)

        return partial

    def _impl(self, *leaves: Any) -> Any:
        return self.call.outputs(leaves)[self.index]

    def __call__(self, *args: Any) -> Any:
        return self.call.outputs(args)[self.index]


# --------------------------------------------------------------------------------------
# custom_jvp


class custom_jvp(_Custom[P, R]):
    """A function with a custom JVP (forward-mode) rule, as ``jax.custom_jvp``.

    Decorate the function, then give the rule with :meth:`defjvp` (one rule for all
    arguments) or :meth:`defjvps` (one tangent function per argument). Every transform
    uses the rule; forward and reverse mode, Taylor mode and nesting all follow from
    it, and the rule itself is differentiated for higher orders.

    Args:
        fun: the function. Its differentiated arguments are pytrees of real scalars.
        nondiff_argnums: positions of arguments that are not differentiated (functions,
            flags, strings); they are passed to the rule first, as in JAX. They may not
            hold tracers.
        nondiff_argnames: the same, by parameter name.

    Example:
        >>> import fad
        >>> @fad.custom_jvp
        ... def log1pexp(x):
        ...     return fad.math.log(1.0 + fad.math.exp(x))
        >>> @log1pexp.defjvp
        ... def log1pexp_jvp(primals, tangents):
        ...     (x,), (x_dot,) = primals, tangents
        ...     return log1pexp(x), (1.0 - 1.0 / (1.0 + fad.math.exp(x))) * x_dot
        >>> fad.grad(log1pexp)(100.0)
        1.0
    """

    kind = "custom_jvp"

    def __init__(
        self,
        fun: Callable[P, R],
        nondiff_argnums: Sequence[int] = (),
        nondiff_argnames: Sequence[str] = (),
    ) -> None:
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.jvp: Callable[..., tuple[Any, Any]] | None = None
        self._jvps: tuple[Callable[..., Any] | None, ...] | None = None

    def _has_rule(self) -> bool:
        return self.jvp is not None

    def defjvp(
        self, jvp: Callable[..., tuple[Any, Any]], symbolic_zeros: bool = False
    ) -> Callable[..., tuple[Any, Any]]:
        """Set the JVP rule ``jvp(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)``.

        ``primals`` and ``tangents`` are tuples with one entry per differentiated
        argument; ``tangent_out`` has the structure of the output and must be linear in
        ``tangents``. fad uses the function for the value and the rule for the tangent.
        Returns ``jvp``, so ``defjvp`` works as a decorator. ``symbolic_zeros=True``
        (JAX's option to pass special zero objects) is not supported.

        Example:
            >>> import fad
            >>> @fad.custom_jvp
            ... def f(x, y):
            ...     return fad.math.sin(x) * y
            >>> @f.defjvp
            ... def f_jvp(primals, tangents):
            ...     (x, y), (x_dot, y_dot) = primals, tangents
            ...     return f(x, y), fad.math.cos(x) * x_dot * y + fad.math.sin(x) * y_dot
            >>> fad.jvp(f, (0.0, 3.0), (1.0, 0.0))
            (0.0, 3.0)
        """
        _no_symbolic_zeros(symbolic_zeros, self._name)
        self.jvp = jvp
        self._jvps = None
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """Set one tangent function per argument: ``jvp_i(x_i_dot, primal_out, *primals)``.

        Each returns argument i's contribution to the output tangent (linear in
        ``x_i_dot``); ``None`` means the output does not depend on that argument.
        Cannot be combined with ``nondiff_argnums`` (as in JAX).

        Example:
            >>> import fad
            >>> @fad.custom_jvp
            ... def f(x, y):
            ...     return fad.math.sin(x) * y
            >>> f.defjvps(lambda x_dot, ans, x, y: fad.math.cos(x) * x_dot * y,
            ...           lambda y_dot, ans, x, y: fad.math.sin(x) * y_dot)
            >>> fad.grad(f, argnums=(0, 1))(0.0, 3.0)
            (3.0, 0.0)
        """
        if self.nondiff_argnums:
            msg = (
                f"fad.custom_jvp function {self._name}: defjvps cannot be used with "
                "nondiff_argnums; use defjvp."
            )
            raise TypeError(msg)

        def jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
            ans = self._call_resolved(primals)
            total: Any = None
            for fn, t in zip(jvps, tangents, strict=False):
                if fn is None or all(type(x) is float and x == 0.0 for x in tree_flatten(t)[0]):
                    continue
                term = fn(t, ans, *primals)
                total = term if total is None else tree_map(lambda a, b: a + b, total, term)
            if total is None:
                total = tree_map(lambda _: 0.0, ans)
            return ans, total

        self.jvp = jvp
        self._jvps = jvps

    def _check_pair(self, res: Any) -> Any:
        if not isinstance(res, (tuple, list)) or len(res) != 2:
            msg = (
                f"the JVP rule of fad.custom_jvp function {self._name} must return a pair "
                f"(primal_out, tangent_out), not {res!r}."
            )
            raise TypeError(msg)
        return res

    def _tangent_out(
        self, call: _Call, primals: Sequence[Any], tangents: Sequence[Any]
    ) -> list[Any]:
        rule = self.jvp
        assert rule is not None
        res = rule(*call.nondiff, tuple(call.diff_trees(primals)), tuple(call.diff_trees(tangents)))
        return call.out_leaves_of(self._check_pair(res)[1], "the JVP rule's tangent_out")

    def _level(
        self,
        call: _Call,
        leaves: Sequence[Any],
        primals: Sequence[Any],
        traced: list[int],
        lower: list[Any],
        level: int,
    ) -> list[Any]:
        first = leaves[traced[0]]
        if isinstance(first, Dual):
            # forward mode: the rule once, with the actual tangents (as JAX's jvp)
            cls = type(first)
            mine = set(traced)
            tangents = [x.tangent if i in mine else 0.0 for i, x in enumerate(leaves)]
            t_out = self._tangent_out(call, primals, tangents)
            return [cls(a, t, level) for a, t in zip(lower, t_out, strict=True)]
        # the rule once, on reverse-mode tangents; a sweep per output gives its row
        seeds, pullback = TapeCodual.seed([0.0] * len(leaves), new_level())
        t_out = self._tangent_out(call, primals, seeds)
        outs = []
        for j, (value, t) in enumerate(zip(lower, t_out, strict=True)):
            row = pullback([t], [1.0])
            name = f"{call.name}[{j}]" if len(lower) > 1 else call.name
            nonzero = [i for i in traced if not _is_zero(row[i])]
            outs.append(_chain(name, leaves, nonzero, 1.0, row.__getitem__, value, level))
        return outs

    def _general_partial(self, call: _Call, j: int, i: int, primals: Sequence[Any]) -> Any:
        key = (i, *map(id, primals))
        hit = call.general_partials.get(key)
        if hit is None:
            t_out = self._tangent_out(call, primals, [float(k == i) for k in range(len(primals))])
            hit = (list(primals), t_out)
            call.general_partials[key] = hit
        return hit[1][j]


# --------------------------------------------------------------------------------------
# custom_vjp


class custom_vjp(_Custom[P, R]):
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
        _no_symbolic_zeros(symbolic_zeros, self._name)
        del optimize_remat  # a JAX compilation option: nothing to do here
        self.fwd = fwd
        self.bwd = bwd

    def _run_fwd(self, call: _Call, primals: Sequence[Any]) -> Any:
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

    def _bwd_flat(self, call: _Call, res: Any, cts: dict[int, Any]) -> list[Any]:
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

    def _rows(self, call: _Call, res: Any, leaf: Any) -> list[list[Any]]:
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
        call: _Call,
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
            gather = _chain(call.name, leaves, traced, _PASS, entries.__getitem__, 0.0, level)
            return [
                bind(
                    _Node(
                        f"{call.name}[{j}]" if many else call.name,
                        value,
                        [_constant(_Select(pull, j))],
                    ),
                    gather,
                )
                for j, value in enumerate(lower)
            ]
        rows = self._rows(call, res, first)
        return [
            _chain(
                f"{call.name}[{j}]" if many else call.name,
                leaves,
                [i for i in traced if not _is_zero(row[i])],
                1.0,
                row.__getitem__,
                value,
                level,
            )
            for j, (value, row) in enumerate(zip(lower, rows, strict=True))
        ]

    def _general_partial(self, call: _Call, j: int, i: int, primals: Sequence[Any]) -> Any:
        msg = (
            f"fad.custom_vjp function {call.custom._name} is used in Taylor mode (fad.taylor, "
            "fad.derivative of order 2 or more, a Jet), which needs derivatives of every "
            "order, but bwd gives first derivatives only. Give the function a forward rule "
            "with fad.custom_jvp, which Taylor mode differentiates to any order."
        )
        raise CustomRuleError(msg)


def _is_zero(x: Any) -> bool:
    return type(x) is float and x == 0.0


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
