"""``fad.custom_jvp`` and ``fad.custom_vjp``: your own derivative rule for a function.

Semantics are JAX's (``jax.custom_jvp`` / ``jax.custom_vjp``, ``nondiff_argnums``
included). Outside any transform the decorated function is just called. Under a
transform, its body is *not* differentiated: the rule is used instead.

How it works
------------
A call whose arguments hold tracers becomes, for each scalar leaf of the output, an
ad-hoc :class:`~fad._core.Primitive` of the input leaves, whose partials come from the
rule, and the tracer on top applies it with its ordinary rule — so every tracer
(``Dual``, every reverse strategy, ``Jet``, a user's own) handles custom rules with no
code of its own:

* ``custom_jvp``: partial ∂ᵢ is the rule's tangent output for the unit tangent on input
  leaf i. The rule runs on the primals, which may be tracers of enclosing transforms, so
  the rule is itself differentiated: custom JVP rules nest to any order, as in JAX.
* ``custom_vjp`` under a reverse strategy: partial ∂ᵢ is an object that, multiplied by a
  cotangent ``g`` as every backward pass does, returns the input-i entry of
  ``bwd(res, g)``. So ``bwd`` sees the actual cotangent and may be nonlinear in it
  (gradient clipping), as in JAX, under ``mode="tape"`` and ``mode="naive"``.
  ``mode="memo"`` scales a sensitivity computed for a unit cotangent (that is how it
  works: B(k) = k·B(1)), so it agrees only for ``bwd`` rules linear in ``g`` (as a
  VJP should be).
* ``custom_vjp`` under a forward tracer (``Dual``, ``Jet``): JAX refuses plain forward
  mode here; fad differentiates the function's own body instead (so it must be written
  with fad operations to be used in forward mode). Forward-over-reverse
  (``jacfwd(jacrev(f))``) then differentiates ``bwd`` as it runs. Reverse-over-reverse
  (``jacrev(jacrev(f))``, how ``fad.hessian`` computes) applies the rule at the outer
  level too; the two agree for ``bwd`` linear in ``g``.

The value is always computed by the function itself (not by ``fwd`` or the JVP
rule's primal output). Under ``custom_jvp`` the body only ever sees plain numbers, so
it may call code that knows nothing of fad (Python's ``math``, a C extension).

With several outputs the function runs once per transform level. The JVP rule runs
once per call under ``Dual`` (with the actual tangents, a shortcut equal to summing the
partials), and once per input leaf under other tracers; ``bwd`` runs once per output
leaf with the other outputs' cotangents zero.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from fad._core import Primitive, bind, is_tracer, primal_value
from fad.tracers.dual import Dual
from fad.tree import PyTreeDef, tree_flatten, tree_map, tree_unflatten

__all__ = ["custom_jvp", "custom_vjp"]

P = ParamSpec("P")
R = TypeVar("R")


def _tracer_kind(value: Any) -> bool | None:
    """True for a tracer, False for a real number, None for anything else."""
    if is_tracer(value):
        return True
    return False if isinstance(value, numbers.Real) else None


def _top(leaves: Sequence[Any]) -> tuple[type, int] | None:
    """The class and level of the highest tracer among ``leaves`` (None: no tracer)."""
    top: tuple[type, int] | None = None
    for leaf in leaves:
        t = type(leaf)
        if t is float or t is int:
            continue
        if _tracer_kind(leaf) and (top is None or leaf.level > top[1]):
            top = (t, leaf.level)
    return top


def _ids(values: Sequence[Any]) -> tuple[int, ...]:
    return tuple(map(id, values))


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
        top = _top(leaves)
        if top is None:
            return self._fun(*full)
        self._check(diff_pos, arg_defs, leaves)
        call = _Call(self, full, diff_pos, arg_defs)
        return call.run(leaves)

    def _check(
        self, diff_pos: tuple[int, ...], arg_defs: list[PyTreeDef], leaves: list[Any]
    ) -> None:
        """Refuse leaves fad cannot differentiate."""
        k = 0
        for pos, arg_def in zip(diff_pos, arg_defs, strict=True):
            for leaf in leaves[k : k + arg_def.num_leaves]:
                if type(leaf) is bool or _tracer_kind(leaf) is None:
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
                if type(leaf) is not bool and _tracer_kind(leaf):
                    msg = (
                        f"fad.{self.kind} function {self._name}: argument {pos} is in "
                        f"nondiff_argnums but holds a tracer ({type(leaf).__name__}), whose "
                        "derivative would be lost. Pass it as an ordinary argument instead "
                        "(a bwd rule may return None for it); nondiff_argnums are for values "
                        "that are never differentiated."
                    )
                    raise TypeError(msg)

    # the rule-specific parts, implemented by custom_jvp and custom_vjp
    def _forward_override(self, call: _Call, leaves: Sequence[Any]) -> Any:
        """The output under a forward tracer, or NotImplemented to use the rule."""
        return NotImplemented

    def _partial(self, call: _Call, j: int, i: int, primals: Sequence[Any]) -> Any:
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

    __slots__ = ("arg_defs", "cache", "custom", "diff_pos", "full", "n_leaves", "out_def")

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
        self.cache: dict[Any, Any] = {}

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
                if type(leaf) is bool or _tracer_kind(leaf) is None:
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
        key = ("out", _ids(leaves))
        hit = self.cache.get(key)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        top = _top(leaves)
        custom = self.custom
        if top is None:
            out = self.flatten_out(custom._fun(*self.args(leaves)), "the function")
        elif top[0] is Dual and isinstance(custom, custom_jvp):
            out = custom._dual_outputs(self, leaves, top[1])
        else:
            override = NotImplemented
            if not hasattr(top[0], "seed"):
                override = custom._forward_override(self, leaves)
            if override is not NotImplemented:
                out = self.flatten_out(override, "the function")
            else:
                if self.out_def is None:
                    self.outputs([primal_value(x) for x in leaves])
                assert self.out_def is not None
                out = [bind(prim, *leaves) for prim in self.primitives()]
        self.cache[key] = (list(leaves), out)  # keep the leaves alive: their ids are the key
        return out

    def primitives(self) -> list[Primitive]:
        prims = self.cache.get("prims")
        if prims is None:
            assert self.out_def is not None
            prims = [_CustomPrimitive(self, j) for j in range(self.out_def.num_leaves)]
            self.cache["prims"] = prims
        return prims

    def run(self, leaves: list[Any]) -> Any:
        out = self.outputs(leaves)
        assert self.out_def is not None
        # Every level has been applied: drop the caches, which hold tracers of this
        # call (a backward pass only needs what each partial keeps itself).
        self.cache = {}
        return tree_unflatten(self.out_def, out)

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


class _CustomPrimitive(Primitive):
    """Output leaf ``index`` of one custom call, as a primitive of its input leaves.

    Calling it (as every tracer's ``apply`` does to compute the value one level down)
    re-enters the custom function's dispatch, so each level uses the rule.
    """

    __slots__ = ("call", "index")

    def __init__(self, call: _Call, index: int) -> None:
        custom = call.custom
        name = f"{custom.kind}({custom._name})"
        if call.out_def is not None and call.out_def.num_leaves > 1:
            name += f"[{index}]"
        n = call.n_leaves
        partials = [self._make_partial(call, index, i) for i in range(n)]
        super().__init__(name, self._impl, partials)
        self.call = call
        self.index = index

    @staticmethod
    def _make_partial(call: _Call, j: int, i: int) -> Callable[..., Any]:
        def partial(ans: Any, *primals: Any) -> Any:
            return call.custom._partial(call, j, i, primals)

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

    def _dual_outputs(self, call: _Call, leaves: Sequence[Any], level: int) -> list[Any]:
        """Forward mode in one call of the rule, with the actual tangents (as JAX).

        The same as applying the per-leaf partials (rule on unit tangents), summed, but
        one rule evaluation instead of one per input leaf.
        """
        mine = [type(x) is Dual and x.level == level for x in leaves]
        primals = [x.primal if m else x for x, m in zip(leaves, mine, strict=True)]
        tangents = [x.tangent if m else 0.0 for x, m in zip(leaves, mine, strict=True)]
        ans = call.outputs(primals)
        rule = self.jvp
        assert rule is not None
        res = rule(*call.nondiff, tuple(call.diff_trees(primals)), tuple(call.diff_trees(tangents)))
        t_out = call.out_leaves_of(self._check_pair(res)[1], "the JVP rule's tangent_out")
        return [Dual(a, t, level) for a, t in zip(ans, t_out, strict=True)]

    def _check_pair(self, res: Any) -> Any:
        if not isinstance(res, (tuple, list)) or len(res) != 2:
            msg = (
                f"the JVP rule of fad.custom_jvp function {self._name} must return a pair "
                f"(primal_out, tangent_out), not {res!r}."
            )
            raise TypeError(msg)
        return res

    def _partial(self, call: _Call, j: int, i: int, primals: Sequence[Any]) -> Any:
        key = ("jvp", i, _ids(primals))
        hit = call.cache.get(key)
        if hit is None:
            rule = self.jvp
            assert rule is not None
            res = self._check_pair(
                rule(*call.nondiff, tuple(call.diff_trees(primals)), tuple(call.unit_trees(i)))
            )
            hit = (list(primals), call.out_leaves_of(res[1], "the JVP rule's tangent_out"))
            call.cache[key] = hit
        return hit[1][j]


# --------------------------------------------------------------------------------------
# custom_vjp


class custom_vjp(_Custom[P, R]):
    """A function with a custom VJP (reverse-mode) rule, as ``jax.custom_vjp``.

    Give the rule with :meth:`defvjp`: ``fwd`` computes the output and residuals,
    ``bwd`` maps residuals and an output cotangent to input cotangents. Reverse
    transforms call ``bwd`` with the actual cotangent (``mode="memo"`` excepted, see
    docs/custom_rules.md); forward ones differentiate the function's body.

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

    def _run_fwd(self, call: _Call, leaves: Sequence[Any]) -> tuple[Any, Any]:
        fwd = self.fwd
        assert fwd is not None
        res = fwd(*call.args(leaves))
        if not isinstance(res, (tuple, list)) or len(res) != 2:
            msg = (
                f"the fwd rule of fad.custom_vjp function {self._name} must return a pair "
                f"(output, residuals), not {res!r}."
            )
            raise TypeError(msg)
        return res[0], res[1]

    def _forward_override(self, call: _Call, leaves: Sequence[Any]) -> Any:
        # Forward mode differentiates the function's own body: fwd usually calls the
        # function itself, and bwd gives rows of the Jacobian, not its columns.
        return self._fun(*call.args(leaves))

    def _partial(self, call: _Call, j: int, i: int, primals: Sequence[Any]) -> Any:
        key = ("fwd", _ids(primals))
        hit = call.cache.get(key)
        if hit is None:
            out, res = self._run_fwd(call, primals)
            call.flatten_out(out, "fwd")
            hit = (list(primals), res)
            call.cache[key] = hit
        return _Cotangent(self, call, hit[1], j, i)

    def pull(self, call: _Call, res: Any, j: int, g: Any) -> list[Any]:
        """Input-leaf cotangents of ``bwd`` for cotangent ``g`` on output leaf ``j``."""
        key = ("bwd", id(res), j, id(g))
        hit = call.cache.get(key)
        if hit is not None:
            return hit[2]  # type: ignore[no-any-return]
        assert call.out_def is not None
        assert self.bwd is not None
        n_out = call.out_def.num_leaves
        ct = tree_unflatten(call.out_def, [g if k == j else 0.0 for k in range(n_out)])
        cts = self.bwd(*call.nondiff, res, ct)
        n_args = len(call.arg_defs)
        if not isinstance(cts, (tuple, list)) or len(cts) != n_args:
            msg = (
                f"the bwd rule of fad.custom_vjp function {self._name} must return a tuple "
                f"with one cotangent per differentiated argument ({n_args}), not {cts!r}."
            )
            raise TypeError(msg)
        leaves: list[Any] = []
        for pos, ct_i, d in zip(call.diff_pos, cts, call.arg_defs, strict=True):
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
        call.cache[key] = (res, g, leaves)  # keep res and g alive: their ids are the key
        return leaves


class _Cotangent:
    """The partial of a custom_vjp output: ``self * g`` is input i's entry of bwd(res, g)."""

    __slots__ = ("call", "custom", "i", "j", "res")

    def __init__(self, custom: custom_vjp[Any, Any], call: _Call, res: Any, j: int, i: int) -> None:
        self.custom = custom
        self.call = call
        self.res = res
        self.j = j
        self.i = i

    def __mul__(self, g: Any) -> Any:
        return self.custom.pull(self.call, self.res, self.j, g)[self.i]

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"<cotangent map of {self.custom._name}: output {self.j} -> input {self.i}>"
