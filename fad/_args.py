"""Argument plumbing shared by the transforms: argnums, leaves, outputs, aux, levels.

The transforms take pytrees (:mod:`fad.tree`) whose leaves are real scalars: ``float``,
``int`` or tracers. ``int`` leaves are differentiated as floats (their tangents and
cotangents are floats, as if the input had been written ``float(n)``); ``None`` is an
empty subtree. A ``bool``, ``complex``, ``str`` or any other leaf in a differentiated
argument raises :class:`TypeError` naming the argument and the leaf's path.
"""

from __future__ import annotations

import numbers
import types
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from fad._core import check_live, finish, is_tracer
from fad.tree import (
    PyTreeDef,
    _leaf_hint,
    tree_flatten,
    tree_flatten_with_path,
    tree_map,
    tree_unflatten,
)

Mode = str | type | None
"""``mode=``: ``"tape"`` (default), ``"memo"``, ``"naive"``, a tracer class, or ``None``."""


_BAD = object()


class Transformed:
    """What a transform returns: a function of ``fun``'s arguments, picklable when ``fun`` is.

    A subclass per transform keeps the transform's parameters as attributes and
    computes in ``__call__``. It carries ``fun``'s metadata, as :func:`functools.wraps`
    would: ``__wrapped__`` (so :func:`inspect.signature` shows ``fun``'s parameters),
    ``__module__``, and ``__name__`` / ``__qualname__`` / ``__doc__`` naming the
    transform (``grad_of_f``). It pickles as the transform applied again to ``fun``
    and the same parameters (``_args``): ``fun`` by reference when it is a module-level
    function (or a ``functools.partial`` of one, or another transformed function), and
    a lambda or a local function gives pickle's usual error. As a class attribute it
    binds as a method, like the function it stands for.
    """

    fname: ClassVar[str] = "transform"

    def __init__(self, fun: Callable[..., Any], args: tuple[Any, ...], params: str) -> None:
        # ``args`` rebuilds the object (see __reduce__); ``params`` is shown in the
        # docstring and the repr (argnums=..., mode=...).
        self.fun = fun
        self._args = args
        self._params = params
        name = getattr(fun, "__name__", "fun")
        self.__wrapped__ = fun
        self.__module__ = getattr(fun, "__module__", None) or __name__
        self.__name__ = f"{self.fname}_of_{name}"
        self.__qualname__ = f"{self.fname}_of_{getattr(fun, '__qualname__', name)}"
        about = f" with respect to {params}" if params.startswith("argnums") else f", {params}"
        self.__doc__ = f"fad.{self.fname} of {name}{about if params else ''}."

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # each transform's subclass computes here

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), self._args

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)

    def __repr__(self) -> str:
        fun = getattr(self.fun, "__qualname__", None) or repr(self.fun)
        params = f" ({self._params})" if self._params else ""
        return f"<fad.{self.fname} of {fun}{params}>"


def _not_picklable(what: str, advice: str) -> TypeError:
    """The error for pickling a function that holds the recording of one call."""
    msg = (
        f"{what} cannot be pickled: it holds the recording of one call of fun, made in "
        f"this process. {advice}"
    )
    return TypeError(msg)


def _params(argnums: Any, has_aux: bool, mode: Mode = None) -> str:
    """The parameters of a transformed function, for its docstring and repr."""
    params = f"argnums={argnums!r}"
    if has_aux:
        params += ", has_aux=True"
    if mode is not None:
        shown = mode if isinstance(mode, str) else getattr(mode, "__qualname__", mode)
        params += f", mode={shown!r}" if isinstance(mode, str) else f", mode={shown}"
    return params


def _as_real(leaf: Any) -> Any:
    """``leaf`` as a differentiable input (ints become floats), or ``_BAD``."""
    t = type(leaf)
    if t is float:
        return leaf
    if t is int:
        return float(leaf)
    if t is bool:
        return _BAD
    if is_tracer(leaf):
        return leaf
    if isinstance(leaf, numbers.Real) and not isinstance(leaf, bool):
        return float(leaf)
    return _BAD


def _where(name: str, path: str) -> str:
    return f"{name} at path {path}" if path else name


def _bad_leaf(
    fname: str, name: str, tree: Any, index: int, what: str = "differentiated"
) -> TypeError:
    """The TypeError for leaf ``index`` of ``tree`` (found again, with its path)."""
    path, leaf = tree_flatten_with_path(tree)[0][index]
    kind = type(leaf).__name__
    msg = (
        f"fad.{fname}: {_where(name, str(path))} is a {kind} ({leaf!r}); the leaves of a "
        f"{what} value must be real scalars: float, int or a fad tracer (None is an "
        "empty subtree)."
    )
    if what == "differentiated":
        msg += (
            " Pass values that are not differentiated as arguments outside argnums, or "
            "close over them."
        ) + _leaf_hint(tree, index)
    return TypeError(msg)


def _flatten_inputs(
    values: Sequence[Any],
    names: Callable[[], Sequence[str]],
    fname: str,
    what: str = "differentiated",
) -> tuple[list[Any], PyTreeDef]:
    """Flatten the tuple ``values``; check and convert every leaf (ints to floats).

    ``names()`` gives the name of each value for an error message (made only then).
    """
    leaves, treedef = tree_flatten(tuple(values))
    if all(type(leaf) is float for leaf in leaves):  # the common case, checked fast
        return leaves, treedef
    out = []
    for i, leaf in enumerate(leaves):
        x = _as_real(leaf)
        if x is _BAD:
            # find the argument the leaf belongs to, for the message
            start = 0
            for value, name in zip(values, names(), strict=True):
                n = len(tree_flatten(value)[0])
                if i < start + n:
                    raise _bad_leaf(fname, name, value, i - start, what)
                start += n
        out.append(x)
    return out, treedef


def _check_outputs(leaves: list[Any], out: Any, fname: str) -> None:
    """Every leaf of a function's output must be a real number or a tracer."""
    for i, leaf in enumerate(leaves):
        t = type(leaf)
        if t is float or t is int:
            continue
        if is_tracer(leaf) or (isinstance(leaf, numbers.Real)):
            continue
        path, _ = tree_flatten_with_path(out)[0][i]
        where = f"the output of fun at path {path}" if path else "the output of fun"
        msg = (
            f"fad.{fname}: {where} is a {t.__name__} ({leaf!r}); fun must return real "
            "scalars (float, int or fad tracers) or pytrees of them. Return other values "
            "as auxiliary data with has_aux=True."
        )
        raise TypeError(msg)


def _split_aux(out: Any, has_aux: bool, fname: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        msg = (
            f"fad.{fname}(..., has_aux=True) needs fun to return a pair (output, aux), but "
            f"it returned a {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
            + ". Return a tuple of two items, or use has_aux=False."
        )
        raise TypeError(msg)
    return out[0], out[1]


def _call_at_level(
    fun: Callable[..., Any],
    p_def: PyTreeDef,
    inputs: Sequence[Any],
    level: int,
    has_aux: bool,
    fname: str,
) -> tuple[list[Any], PyTreeDef, Any]:
    """``fun`` on the tracers ``inputs`` of ``level``: its output leaves, treedef and aux.

    The outputs are checked (real scalars or tracers, no tracer of a finished
    transform); if ``fun`` raises, ``level`` ends here.
    """
    try:
        out, aux = _split_aux(fun(*tree_unflatten(p_def, inputs)), has_aux, fname)
    except BaseException:
        finish(level)  # the function raised: its level ends here
        raise
    o_leaves, o_def = tree_flatten(out)
    _check_outputs(o_leaves, out, fname)
    check_live(o_leaves, fname, level)
    return o_leaves, o_def, aux


def _lower(value: Any, level: int) -> Any:
    """``value`` with the tracer of ``level`` (if it is one) taken off."""
    if type(value) is float or type(value) is int:
        return value
    if is_tracer(value) and value.level == level:
        return value.primal
    return value


def _lower_tree(tree: Any, level: int) -> Any:
    return tree_map(lambda x: _lower(x, level), tree)


def _check_argnums(argnums: Any, fname: str) -> tuple[int, ...]:
    """Validate ``argnums`` when the transform is made (types; not the range)."""
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        return (argnums,)
    if isinstance(argnums, (tuple, list)) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in argnums
    ):
        nums = tuple(argnums)
        if not nums:
            msg = (
                f"fad.{fname}: argnums={argnums!r} selects no argument; pass an int or a "
                "non-empty tuple of ints."
            )
            raise ValueError(msg)
        return nums
    msg = f"fad.{fname}: argnums must be an int or a tuple of ints, not {argnums!r}."
    raise TypeError(msg)


def _resolve_argnums(
    argnums: Any, nums: tuple[int, ...], nargs: int, fname: str
) -> tuple[int, ...]:
    """Make ``nums`` non-negative for a call with ``nargs`` positional arguments (as JAX)."""
    if len(nums) == 1 and 0 <= nums[0] < nargs:  # the common case
        return nums
    if max(nums) >= nargs:
        msg = (
            f"fad.{fname}: differentiating with respect to argnums={argnums!r} requires at "
            f"least {max(nums) + 1} positional arguments to be passed by the caller, but got "
            f"only {nargs} positional arguments."
        )
        raise TypeError(msg)
    if min(nums) < -nargs:
        msg = (
            f"fad.{fname}: argnums={argnums!r} is out of range for a call with {nargs} "
            f"positional arguments; indices must lie in [-{nargs}, {nargs})."
        )
        raise ValueError(msg)
    resolved = tuple(i % nargs for i in nums)
    if len(set(resolved)) != len(resolved):
        msg = f"fad.{fname}: argnums={argnums!r} names an argument twice."
        raise ValueError(msg)
    return resolved


def _check_callable(fun: Any, fname: str) -> None:
    if not callable(fun):
        msg = (
            f"fad.{fname} expects a function as its first argument, not "
            f"{type(fun).__name__} {fun!r}."
        )
        raise TypeError(msg)


def _partial(
    fun: Callable[..., Any], args: tuple[Any, ...], nums: tuple[int, ...], kwargs: dict[str, Any]
) -> Callable[..., Any]:
    """``fun`` as a function of the arguments at ``nums`` only."""

    def partial_fun(*diff_args: Any) -> Any:
        full = list(args)
        for i, a in zip(nums, diff_args, strict=True):
            full[i] = a
        return fun(*full, **kwargs)

    return partial_fun


def _select(
    fun: Callable[..., Any],
    argnums: Any,
    nums: tuple[int, ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    fname: str,
) -> tuple[Callable[..., Any], list[Any], PyTreeDef]:
    """What every ``argnums`` transform does first, for one call.

    Resolves ``argnums`` (checked as ``nums`` when the transform was made) against
    ``args``, flattens and checks the selected arguments, and returns ``fun`` as a
    function of those arguments only, with their leaves and tree structure.
    """
    nums = _resolve_argnums(argnums, nums, len(args), fname)
    diff = tuple(args[i] for i in nums)
    p_leaves, p_def = _flatten_inputs(diff, lambda: [f"argument {i}" for i in nums], fname)
    return _partial(fun, args, nums, kwargs), p_leaves, p_def


def _scalar_input(x: Any, fname: str) -> Any:
    value = _as_real(x)
    if value is _BAD:
        msg = (
            f"fad.{fname} differentiates functions of one real scalar, but got a "
            f"{type(x).__name__} ({x!r}). Use fad.grad or fad.jacfwd for pytrees."
        )
        raise TypeError(msg)
    return value


def _scalar_output(out: Any, fname: str) -> None:
    if type(out) is float or type(out) is int:
        return
    if type(out) is bool or not (is_tracer(out) or isinstance(out, numbers.Real)):
        msg = (
            f"fad.{fname} differentiates functions returning one real scalar, but fun "
            f"returned a {type(out).__name__} ({out!r}). Use fad.jacfwd for other outputs."
        )
        raise TypeError(msg)


def batched(fun: Any, kind: str, argnums: Any, has_aux: bool, generic: Any) -> Any:
    """``generic``, or for a ``fad.jit`` function its seeds in one batched sweep."""
    from fad._batched import batched_jacobian  # the jit layer, imported on first use

    return batched_jacobian(fun, kind, argnums, has_aux, generic)
