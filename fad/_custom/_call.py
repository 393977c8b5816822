"""What custom_jvp and custom_vjp share: argument handling, the levels of a call, chains.

A call of a custom function on tracers is a :class:`Call`. :meth:`Call.outputs` strips
the top level's tracers to their primals, makes the call again one level down (down to
the body on plain numbers), and hands the top level to the rule's ``_level`` (a
Jacobian or cotangent :func:`chain` bound to the top tracers) or, for tracers that
evaluate partials on their own objects (``Jet``), to one :class:`GeneralPrimitive` per
output leaf. See :mod:`fad._custom` for the whole story.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from fad._core import Primitive, bind, is_tracer, primal_value, top_tracer
from fad.tree import PyTreeDef, tree_flatten, tree_unflatten

__all__ = [
    "CHAIN",
    "GENERAL",
    "Call",
    "Custom",
    "CustomRuleError",
    "GeneralPrimitive",
    "Node",
    "Retry",
    "chain",
    "constant",
    "is_real",
    "is_zero",
    "kind_of",
    "kind_of_class",
    "no_symbolic_zeros",
]

P = ParamSpec("P")
R = TypeVar("R")


class CustomRuleError(TypeError):
    """A transform cannot honour a custom rule (e.g. a ``bwd`` not linear in ``g``).

    Example:
        >>> import fad
        >>> @fad.custom_vjp
        ... def clip(x):
        ...     return x
        >>> clip.defvjp(lambda x: (x, None), lambda res, g: (max(min(g, 1.0), -1.0),))
        >>> fad.jvp(clip, (2.0,), (1.0,))
        Traceback (most recent call last):
          ...
        fad.CustomRuleError: fad.custom_vjp function clip: bwd is not linear in the cotangent g ...
    """


CustomRuleError.__module__ = "fad"  # shown as fad.CustomRuleError, where users find it


def is_real(value: Any) -> bool | None:
    """True for a tracer, False for a real number, None for anything else."""
    if is_tracer(value):
        return True
    return False if isinstance(value, numbers.Real) else None


# --------------------------------------------------------------------------------------
# the kind of the top tracer, asked once per class


CHAIN, GENERAL = "chain", "general"
kind_of_class: dict[type, str] = {}
"""Tracer class → ``CHAIN`` (partials evaluated on lower-level values: first order) or
``GENERAL`` (partials evaluated on the tracer's own objects, e.g. ``Jet``'s series)."""


def kind_of(cls: type) -> str:
    return kind_of_class.get(cls, CHAIN)


class Retry(Exception):
    """Raised by a chain whose tracer evaluates partials later or on its own objects."""


# --------------------------------------------------------------------------------------
# the nodes bound to the top tracers


def constant(value: Any) -> Callable[..., Any]:
    def partial(ans: Any, *primals: Any) -> Any:
        return value

    return partial


class Probe:
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


class Node(Primitive):
    """One link of a chain: its value is fixed, its partials are constants."""

    __slots__ = ("value",)

    def __init__(self, name: str, value: Any, partials: Sequence[Callable[..., Any]]) -> None:
        super().__init__(name, self._impl, partials)
        self.value = value

    def _impl(self, *args: Any) -> Any:
        return self.value

    def __call__(self, *args: Any) -> Any:  # the value one level down: no dispatch
        return self.value


WIDTH = 16
"""Input leaves per chain node: a partial is called with all of a node's arguments, so a
node of w leaves costs O(w²); a few leaves per node share the cost of a dispatch."""


def zero(ans: Any, *args: Any) -> float:
    return 0.0


def entry(table: Sequence[Any], p: int) -> Callable[..., Any]:
    """The partial towards leaf argument ``p`` of a node: ``table[start + p]``."""

    def partial(ans: Any, *args: Any) -> Any:
        return table[args[-1] + p]

    return partial


def chain(
    name: str,
    leaves: Sequence[Any],
    traced: Sequence[int],
    link: Any,
    partial_of: Callable[[int], Any],
    value: Any,
    level: int,
) -> Any:
    """``value`` with derivative Σᵢ ∂ᵢ·d(leaves[i]) over ``traced``, as a chain of nodes.

    Node k takes the previous node (partial ``link``), up to ``WIDTH`` leaves (partials
    ``partial_of(i)``) and, last, the position of its first leaf in ``traced`` (a plain
    int, a constant to every tracer), by which its partials find their values. The
    nodes' values are 0.0 but the last one's, ``value``.
    """
    if not traced:
        return value
    table = [partial_of(i) for i in traced]
    prims: dict[tuple[bool, int, bool], Node] = {}

    def node(has_link: bool, width: int, is_last: bool, probe: Probe | None = None) -> Node:
        prim = prims.get((has_link, width, is_last))
        if prim is None:
            partials = [constant(link)] if has_link else []
            partials += [entry(table, p) for p in range(width)]
            partials.append(zero)  # the position: an int, never differentiated
            if probe is not None:
                probe.partial = partials[0]
                partials[0] = probe
            prim = prims[has_link, width, is_last] = Node(name, value if is_last else 0.0, partials)
        return prim

    n = len(traced)
    width = min(WIDTH, n)
    probe = Probe(zero, level)
    c = bind(node(False, width, width == n, probe), *[leaves[i] for i in traced[:width]], 0)
    if not probe.first_order:
        raise Retry
    start = width
    while start < n:
        width = min(WIDTH - 1, n - start)
        stop = start + width
        c = bind(node(True, width, stop == n), c, *[leaves[i] for i in traced[start:stop]], start)
        start = stop
    return c


# --------------------------------------------------------------------------------------
# what custom_jvp and custom_vjp share


class Custom(Generic[P, R]):
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

    def __reduce_ex__(self, protocol: Any) -> Any:
        # A decorated module-level function is pickled by reference, as pickle treats
        # functions (its module, imported again, defines its rules); any other custom
        # function by value: fun, its rules and nondiff_argnums, each by reference.
        module = sys.modules.get(getattr(self, "__module__", None) or "")
        found: Any = module
        for part in getattr(self, "__qualname__", "<>").split("."):
            found = getattr(found, part, None)
        if found is self:
            return self.__qualname__
        return super().__reduce_ex__(protocol)

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
        call = Call(self, full, diff_pos, arg_defs)
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
                if type(leaf) is not float and (type(leaf) is bool or is_real(leaf) is None):
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
                if type(leaf) is not bool and is_real(leaf):
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
        call: Call,
        leaves: Sequence[Any],
        primals: Sequence[Any],
        traced: list[int],
        lower: list[Any],
        level: int,
    ) -> list[Any]:
        """The outputs at the top ``level`` by a Jacobian or cotangent chain."""
        raise NotImplementedError

    def _general_partial(self, call: Call, j: int, i: int, primals: Sequence[Any]) -> Any:
        """∂(output j)/∂(input i) at ``primals``, for the general rule."""
        raise NotImplementedError


def no_symbolic_zeros(symbolic_zeros: bool, name: str) -> None:
    if symbolic_zeros:
        msg = (
            f"fad custom rule of {name}: symbolic_zeros=True is not supported; fad passes "
            "0.0 tangents and cotangents for unperturbed values."
        )
        raise NotImplementedError(msg)


class Call:
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
        custom: Custom[Any, Any],
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
                if type(leaf) is bool or is_real(leaf) is None:
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
        top, level, _ = top_tracer(leaves, self.name)
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
        if kind_of(top) == CHAIN:
            mine = set(traced)
            primals = [x.primal if i in mine else x for i, x in enumerate(leaves)]
            lower = self.outputs(primals)
            try:
                return self.custom._level(self, leaves, primals, traced, lower, level)
            except Retry:
                kind_of_class[top] = GENERAL
        if self.out_def is None:
            self.outputs([primal_value(x) for x in leaves])
        return [bind(prim, *leaves) for prim in self.general()]

    def general(self) -> list[Primitive]:
        prims = self.primitives
        if prims is None:
            assert self.out_def is not None
            prims = [GeneralPrimitive(self, j) for j in range(self.out_def.num_leaves)]
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


class GeneralPrimitive(Primitive):
    """Output leaf ``index`` of one custom call, as a primitive of its input leaves.

    Calling it (as every tracer's ``apply`` does to compute the value one level down)
    re-enters the custom function's dispatch, so each level uses the rule.
    """

    __slots__ = ("call", "index")

    def __init__(self, call: Call, index: int) -> None:
        name = call.name
        if call.out_def is not None and call.out_def.num_leaves > 1:
            name += f"[{index}]"
        partials = [self._make_partial(call, index, i) for i in range(call.n_leaves)]
        super().__init__(name, self._impl, partials)
        self.call = call
        self.index = index

    @staticmethod
    def _make_partial(call: Call, j: int, i: int) -> Callable[..., Any]:
        def partial(ans: Any, *primals: Any) -> Any:
            return call.custom._general_partial(call, j, i, primals)

        return partial

    def _impl(self, *leaves: Any) -> Any:
        return self.call.outputs(leaves)[self.index]

    def __call__(self, *args: Any) -> Any:
        return self.call.outputs(args)[self.index]


def is_zero(x: Any) -> bool:
    return type(x) is float and x == 0.0
