"""``fad.jit`` and ``fad.make_ir``: record once, emit Python, guard the branches.

The first call with a given input structure records ``fun`` with
:class:`~fad.tracers.recorder.Recorded` values, cleans the program up
(:func:`fad._ir.simplify`), emits straight-line Python (:mod:`fad._emit`), compiles
and caches it. Later calls run the compiled code, which checks every guard (each
decision the recording took on a traced value). When a guard fails, the call records
again at its point (a recording is an eager computation: always correct) and the new
specialization is cached beside the others; after ``max_specializations`` of them the
function stays eager at such points and warns once, naming the branch.
"""

from __future__ import annotations

import functools
import gc
import operator
import pickle
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from fad._core import check_live, is_tracer, new_level
from fad._emit import FLOAT_TABLE, TRACER_TABLE, GuardFailed, Program, emit
from fad._ir import IR, schedule, simplify
from fad.tracers.recorder import Recorded, Recording, concrete
from fad.tree import PyTreeDef, tree_flatten, tree_flatten_with_path, tree_unflatten

__all__ = ["Jitted", "Specialization", "jit", "make_ir"]

P = ParamSpec("P")
R = TypeVar("R")

_NUMBERS = (float, int)
_FLOAT_SET = {float}


class Specialization:
    """One recorded program: its IR, its compiled float code and (lazily) tracer code.

    Attributes:
        ir: the cleaned-up program.
        out_def: the structure of the outputs.
    """

    __slots__ = (
        "_program",
        "_raw",
        "_tracer_program",
        "ir",
        "label",
        "out_def",
        "unflatten",
        "wheres",
    )

    def __init__(self, raw: IR, out_def: PyTreeDef, label: str) -> None:
        self._raw: IR | None = raw
        self.ir: IR | None = simplify(raw)
        self.wheres = [g.where for g in self.ir.guards]
        self.unflatten = _unflattener(out_def)
        self.out_def = out_def
        self.label = label
        self._program: Program | None = None
        self._tracer_program: Program | None = None

    @property
    def program(self) -> Program:
        """The compiled code on numbers."""
        if self._program is None:
            assert self.ir is not None  # a pickled specialization has its program
            self._program = emit(schedule(self.ir), FLOAT_TABLE, self.label)
        return self._program

    @property
    def tracer_program(self) -> Program:
        """The compiled code on tracers (fad primitives called on the values)."""
        if self._tracer_program is None:
            # The eager operations in the eager order (dead code aside): derivatives
            # taken through this program then sum their terms as the eager ones do.
            assert self._raw is not None, "an unpickled specialization runs on numbers only"
            ir = simplify(self._raw, rewrite=False)
            self._tracer_program = emit(ir, TRACER_TABLE, self.label)
        return self._tracer_program

    @property
    def source(self) -> str:
        """The emitted Python source of the float code."""
        return self.program.source

    def __getstate__(self) -> Any:
        # The program (source and the objects it names) travels; the IR, whose
        # primitives hold their partials (often lambdas), does not.
        example = tree_unflatten(self.out_def, [0.0] * self.out_def.num_leaves)
        return (example, self.label, self.program, self.wheres)

    def __setstate__(self, state: Any) -> None:
        example, self.label, self._program, self.wheres = state
        self.out_def = tree_flatten(example)[1]
        self.unflatten = _unflattener(self.out_def)
        self._raw = self.ir = self._tracer_program = None


_LIST_KIND = tree_flatten([0.0])[1].kind
_TUPLE_KIND = tree_flatten((0.0,))[1].kind


def _unflattener(out_def: PyTreeDef) -> Callable[[tuple[Any, ...]], Any]:
    """``tree_unflatten(out_def, ·)``, direct for a leaf and flat lists and tuples."""
    if out_def.kind is None:
        return operator.itemgetter(0)
    if all(c.kind is None for c in out_def.children):
        if out_def.kind is _LIST_KIND:
            return list
        if out_def.kind is _TUPLE_KIND:
            return tuple
    return functools.partial(tree_unflatten, out_def)


def _split(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    static_argnums: tuple[int, ...],
    static_argnames: tuple[str, ...],
) -> tuple[tuple[Any, ...], dict[str, Any], tuple[Any, ...]]:
    """The traced arguments and the static ones (as a hashable key part)."""
    if not static_argnums and not static_argnames:
        return args, kwargs, ()
    n = len(args)
    nums = {i % n for i in static_argnums if -n <= i < n}
    dyn = tuple(a for i, a in enumerate(args) if i not in nums)
    static: list[Any] = [(i, args[i]) for i in sorted(nums)]
    dyn_kw = {}
    for k, v in kwargs.items():
        if k in static_argnames:
            static.append((k, v))
        else:
            dyn_kw[k] = v
    return dyn, dyn_kw, tuple(static)


def _merge(
    dyn: tuple[Any, ...],
    dyn_kw: dict[str, Any],
    static: tuple[Any, ...],
    n_args: int,
) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = [None] * n_args
    kwargs = dict(dyn_kw)
    it = iter(dyn)
    pos = {k: v for k, v in static if isinstance(k, int)}
    for i in range(n_args):
        args[i] = pos[i] if i in pos else next(it)
    for k, v in static:
        if isinstance(k, str):
            kwargs[k] = v
    return args, kwargs


def flat_float_key(args: tuple[Any, ...], empty: bool = True) -> tuple[Any, list[Any]]:
    """``(key, leaves)`` of ``args`` made of floats and flat lists or tuples of floats.

    The common call without the pytree plumbing (comparing a large PyTreeDef costs
    more than the run): the key is the arguments' types and lengths. ``(None, …)``
    when an argument is anything else (or an empty list, unless ``empty``).
    """
    leaves: list[Any] = []
    parts: list[Any] = []
    for a in args:
        t = type(a)
        if t is float:
            leaves.append(a)
            parts.append(t)
        elif (t is list or t is tuple) and (set(map(type, a)) == _FLOAT_SET if a else empty):
            leaves.extend(a)
            parts.append((t, len(a)))
        else:
            return None, leaves
    return tuple(parts), leaves


class Jitted(Generic[P, R]):
    """A function recorded once per input structure and run as emitted Python.

    Made by :func:`fad.jit`. Calling it gives ``fun``'s results. Attributes for
    inspection: :attr:`specializations`, :attr:`source`, :attr:`n_recordings` and
    :attr:`n_eager` (calls computed by ``fun`` itself after the cap).
    """

    def __init__(
        self,
        fun: Callable[P, R],
        static_argnums: tuple[int, ...],
        static_argnames: tuple[str, ...],
        max_specializations: int,
    ) -> None:
        self.fun = fun
        self.static_argnums = static_argnums
        self.static_argnames = static_argnames
        self.max_specializations = max_specializations
        self._cache: dict[Any, list[Specialization]] = {}
        self._warned = False
        self.n_recordings = 0
        self.n_eager = 0
        self._name = getattr(fun, "__name__", "fun")
        self._has_static = bool(static_argnums or static_argnames)
        # Name and docs only: merging fun's __dict__ would let its attributes (a
        # transformed function's ``fun``) overwrite this object's own.
        functools.update_wrapper(self, fun, updated=())

    # -- inspection ---------------------------------------------------------------
    @property
    def specializations(self) -> list[Specialization]:
        """Every cached specialization, in the order they were recorded."""
        return [s for specs in self._cache.values() for s in specs]

    @property
    def source(self) -> str:
        """The emitted source of the latest specialization."""
        specs = self.specializations
        if not specs:
            msg = f"fad.jit({self._name}).source: nothing is recorded yet; call it first."
            raise ValueError(msg)
        return specs[-1].source

    # -- calling ------------------------------------------------------------------
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        key: Any = None
        treedef: PyTreeDef | None = None
        generic = False
        static: tuple[Any, ...] = ()
        if not kwargs and not self._has_static:
            key, leaves = flat_float_key(args)
        if key is None:
            dyn, dyn_kw, static = _split(args, kwargs, self.static_argnums, self.static_argnames)
            leaves, treedef = tree_flatten((dyn, dyn_kw))
            types = tuple(map(type, leaves))
            if all(t is float for t in types):
                key = (treedef, static, len(args), types)
            else:
                key, generic = self._key(leaves, treedef, static, len(args), types)
        try:
            specs = self._cache.get(key)
        except TypeError:
            raise self._unhashable(static) from None
        if specs is None:
            specs = self._cache[key] = []
        failed: GuardFailed | None = None
        last: Specialization | None = None
        for spec in specs:
            if generic and spec.ir is None:
                continue
            try:
                if generic:
                    out = spec.tracer_program.run(leaves)
                else:
                    out = spec.program.run(leaves)
            except GuardFailed as e:
                failed = failed or e
                last = spec
                continue
            result: R = spec.unflatten(out)
            return result
        if len(specs) >= self.max_specializations:
            if not self._warned and failed is not None and last is not None:
                self._warned = True
                where = last.wheres[failed.index]
                warnings.warn(
                    f"fad.jit({self._name}): {len(specs)} specializations recorded (the "
                    f"cap, max_specializations={self.max_specializations}) and the "
                    f"branch at {where} keeps changing; calls that fit none run "
                    "eagerly from now on. Write that branch with fad.where / fad.cond, "
                    "or raise max_specializations.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self.n_eager += 1
            return self.fun(*args, **kwargs)
        if treedef is None:
            treedef = tree_flatten((args, {}))[1]
        # Recording makes an object per operation that lives until it is compiled:
        # the cycle collector would scan them again and again (quadratic time).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._record(args, kwargs, leaves, treedef, static, specs, generic)
        finally:
            if enabled:
                gc.enable()

    def _key(
        self,
        leaves: list[Any],
        treedef: PyTreeDef,
        static: tuple[Any, ...],
        n_args: int,
        types: tuple[type, ...],
    ) -> tuple[Any, bool]:
        """The cache key when some leaf is not a float; whether tracers are present."""
        generic = False
        kinds: list[Any] = []
        for i, (leaf, t) in enumerate(zip(leaves, types, strict=True)):
            if t is float or t is int:
                kinds.append(t)
            elif is_tracer(leaf):
                generic = True
                kinds.append(type(concrete(leaf)))
            else:  # not a number: a static leaf, part of the key
                try:
                    hash(leaf)
                except TypeError:
                    path = tree_flatten_with_path(leaves)[0][i][0]
                    msg = (
                        f"fad.jit({self._name}): the leaf at {path} of the arguments is a "
                        f"{t.__name__}, which is neither a real scalar (traced) nor "
                        "hashable (a static value, part of the cache key). Pass it through "
                        "static_argnums / static_argnames, or close over it."
                    )
                    raise TypeError(msg) from None
                kinds.append(("static", t, leaf))
        return (treedef, static, n_args, tuple(kinds), generic), generic

    def _unhashable(self, static: tuple[Any, ...]) -> TypeError:
        for k, v in static:
            try:
                hash(v)
            except TypeError:
                which = f"argument {k}" if isinstance(k, int) else f"argument {k!r}"
                return TypeError(
                    f"fad.jit({self._name}): static {which} is a {type(v).__name__} "
                    f"({v!r}), which is not hashable; static arguments are part of the "
                    "cache key. Pass a hashable value (a tuple instead of a list), or "
                    "make it a traced argument."
                )
        return TypeError(f"fad.jit({self._name}): an argument is not hashable.")

    def _record(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        leaves: list[Any],
        treedef: PyTreeDef,
        static: tuple[Any, ...],
        specs: list[Specialization],
        generic: bool,
    ) -> R:
        level = new_level()
        rec = Recording(level)
        traced_idx = [
            i for i, x in enumerate(leaves) if (type(x) in _NUMBERS) or (generic and is_tracer(x))
        ]
        values = [concrete(leaves[i]) for i in traced_idx]
        inputs = rec.inputs(values)
        new_leaves = list(leaves)
        for i, r in zip(traced_idx, inputs, strict=True):
            new_leaves[i] = r
        dyn, dyn_kw = tree_unflatten(treedef, new_leaves)
        full_args, full_kwargs = _merge(dyn, dyn_kw, static, len(args))
        self.n_recordings += 1
        out = self.fun(*full_args, **full_kwargs)
        o_leaves, o_def = tree_flatten(out)
        check_live(o_leaves, "jit", level)
        ir = rec.to_ir(o_leaves)
        if len(traced_idx) != len(leaves):
            ir = _with_all_leaves(ir, traced_idx, len(leaves))
        if rec.tainted:  # closed over a tracer: valid for this call only
            self.n_eager += 1
            return self.fun(*args, **kwargs)
        spec = Specialization(ir, o_def, self._name)
        specs.append(spec)
        if generic:  # run on the caller's tracers, so that they see the operations
            result: R = tree_unflatten(o_def, list(spec.tracer_program.run(leaves)))
            return result
        values_out = [
            o.value if type(o) is Recorded and o.recording is rec else o for o in o_leaves
        ]
        recorded: R = tree_unflatten(o_def, values_out)
        return recorded

    def __reduce__(self) -> Any:
        # The user's function by reference; each specialization whose program
        # pickles, keyed by an example of its input structure (a PyTreeDef holds
        # fad.tree's node functions, which do not pickle).
        cache = []
        for key, specs in self._cache.items():
            treedef = key[0] if key else None
            if isinstance(treedef, PyTreeDef):
                example = tree_unflatten(treedef, [0.0] * treedef.num_leaves)
                portable = ("tree", example, *key[1:])
            else:  # the fast path's key: types and lengths
                portable = ("flat", *key)
            kept = []
            for spec in specs:
                try:
                    pickle.dumps(spec)
                except (pickle.PicklingError, TypeError, AttributeError):
                    continue
                kept.append(spec)
            if kept:
                cache.append((portable, kept))
        options = (self.static_argnums, self.static_argnames, self.max_specializations)
        return (_rebuild, (self.fun, options, cache))

    def __repr__(self) -> str:
        return f"<fad.jit of {self._name}: {len(self.specializations)} specializations>"

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """As a method: bound to ``instance``, which is then a static leaf of the key."""
        if instance is None:
            return self
        return functools.partial(self, instance)


def _rebuild(
    fun: Callable[..., Any],
    options: tuple[tuple[int, ...], tuple[str, ...], int],
    cache: list[tuple[tuple[Any, ...], list[Specialization]]],
) -> Jitted[..., Any]:
    j: Jitted[..., Any] = Jitted(fun, *options)
    for key, specs in cache:
        full = (tree_flatten(key[1])[1], *key[2:]) if key[0] == "tree" else key[1:]
        j._cache[full] = specs
    return j


def _with_all_leaves(ir: IR, traced_idx: Sequence[int], n_leaves: int) -> IR:
    """``ir`` renumbered so that input ``i`` is leaf ``i`` (static leaves unused)."""
    n_old = ir.n_inputs
    shift = n_leaves - n_old

    def remap(a: int) -> int:
        if a < 0:
            return a
        return traced_idx[a] if a < n_old else a + shift

    types: list[type] = [type(None)] * n_leaves
    for i, t in zip(traced_idx, ir.types[:n_old], strict=True):
        types[i] = t
    from fad._ir import Guard

    return IR(
        n_leaves,
        ir.prims,
        [tuple(remap(a) for a in atoms) for atoms in ir.args],
        types + ir.types[n_old:],
        ir.consts,
        [remap(a) for a in ir.outputs],
        [Guard(remap(g.var), g.outcome, g.where) for g in ir.guards],
    )


def jit(
    fun: Callable[P, R],
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    max_specializations: int = 8,
) -> Jitted[P, R]:
    """Record ``fun`` once per input structure and run it as emitted Python.

    The first call with a given pytree structure of the arguments (and given static
    arguments) runs ``fun`` on recording values: every primitive becomes one
    equation of a program, and every decision on a traced value (a comparison,
    ``bool()``, the kink of ``abs``/``min``/``max``, ``int()`` of a value, a loop's
    trip count) becomes a *guard*. The program is cleaned up, emitted as
    straight-line Python (``.source``), compiled and cached; later calls run it.
    When a guard fails, the call records again (an eager computation, always
    correct) and the new specialization is kept beside the old ones; after
    ``max_specializations`` of them, such calls run ``fun`` eagerly and a warning
    names the branch that keeps changing.

    Side effects of ``fun`` (``print``, appending to a list) happen when it is
    recorded, not on later calls, as under ``jax.jit``.

    It composes with the transforms both ways: ``fad.jit(fad.grad(f))`` records the
    whole gradient computation; ``fad.grad(fad.jit(f))`` runs the recorded program on
    the transform's tracers.

    Args:
        fun: the function. Its arguments are pytrees whose float/int leaves are
            traced; other hashable leaves (``bool``, ``str``) count as static.
        static_argnums: positions of arguments that are not traced: they must be
            hashable and are part of the cache key.
        static_argnames: the same, for keyword arguments.
        max_specializations: how many programs to keep per input structure.

    Returns:
        A :class:`Jitted` function with ``fun``'s signature.

    Example:
        >>> import fad
        >>> f = fad.jit(lambda x, y: fad.math.sin(x) * y if x > 0 else -x * y)
        >>> f(1.0, 2.0) == 2.0 * fad.math.sin(1.0), f(2.0, 2.0) == 2.0 * fad.math.sin(2.0)
        (True, True)
        >>> f(-1.0, 2.0), len(f.specializations)
        (2.0, 2)
        >>> fad.jit(fad.grad(lambda x: x * x * x))(2.0)
        12.0
    """
    if not callable(fun):
        msg = f"fad.jit expects a function as its first argument, not {type(fun).__name__} {fun!r}."
        raise TypeError(msg)
    if getattr(fun, "_compiles_itself", False) and not static_argnums and not static_argnames:
        return fun  # type: ignore[return-value]  # fad.vmap: already a compiled Jitted
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
        msg = f"fad.jit: static_argnums must be an int or a tuple of ints, not {static_argnums!r}."
        raise TypeError(msg)
    if not all(isinstance(s, str) for s in names):
        msg = f"fad.jit: static_argnames must be a str or a tuple of str, not {static_argnames!r}."
        raise TypeError(msg)
    if not isinstance(max_specializations, int) or max_specializations < 1:
        msg = f"fad.jit: max_specializations must be a positive int, not {max_specializations!r}."
        raise ValueError(msg)
    return Jitted(fun, nums, names, max_specializations)


def make_ir(
    fun: Callable[..., Any], *, static_argnums: int | Sequence[int] = ()
) -> Callable[..., IR]:
    """A function giving the program ``fad.jit`` records for ``fun`` at given arguments.

    Args:
        fun: the function.
        static_argnums: positions of arguments that are not traced.

    Returns:
        A function of ``fun``'s arguments returning the cleaned-up :class:`IR`:
        ``str()`` prints it, ``n_ops`` counts its operations, ``guards`` lists its
        decisions.

    Example:
        >>> import fad
        >>> ir = fad.make_ir(lambda x, y: fad.math.sin(x) * y)(1.0, 2.0)
        >>> print(ir)
        { lambda a b. c = sin a; d = mul c b; return d }
        >>> ir.n_ops, ir.guards
        (2, [])
    """

    def make(*args: Any, **kwargs: Any) -> IR:
        j = jit(fun, static_argnums=static_argnums)
        j(*args, **kwargs)
        specs = j.specializations
        if not specs:
            msg = (
                f"fad.make_ir({getattr(fun, '__name__', 'fun')}): the program closes over "
                "a tracer of an enclosing transform, so it is not recorded on its own."
            )
            raise ValueError(msg)
        ir = specs[-1].ir
        assert ir is not None
        return ir

    return make
