"""Argument plumbing shared by the sparsity detectors and the sparse transforms.

The differentiated arguments (``argnums``, as :func:`fad.jacfwd` takes them) are
flattened with :mod:`fad.tree` into one list of ``n`` scalar leaves, the columns of
the Jacobian; the output is flattened into ``m`` leaves, its rows. Only the public
:mod:`fad.tree` functions are used here.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from fad import tree
from fad._args import _check_argnums
from fad._core import is_tracer

__all__ = ["FlatCall", "check_argnums", "flat_call", "output_leaves"]

_FLOAT_SET = {float}


# The transforms' own check: the same rule and message as fad.grad and fad.jacfwd.
check_argnums = _check_argnums


def _path_str(path: Any) -> str:
    if isinstance(path, str):
        return path
    keystr = getattr(tree, "keystr", None)
    return str(keystr(path)) if keystr is not None else str(path)


def _leaf_error(fname: str, what: str, value: Any, index: int) -> TypeError:
    path, leaf = tree.tree_flatten_with_path(value)[0][index]
    where = f"{what} at path {_path_str(path)}" if _path_str(path) else what
    msg = (
        f"fad.{fname}: {where} is a {type(leaf).__name__} ({leaf!r}); expected real "
        "scalars (float, int or a fad tracer), or pytrees of them."
    )
    return TypeError(msg)


def _as_input(leaf: Any) -> Any:
    t = type(leaf)
    if t is float:
        return leaf
    if t is bool:
        return None
    if t is int:
        return float(leaf)
    if is_tracer(leaf):
        return leaf
    if isinstance(leaf, numbers.Real):
        return float(leaf)
    return None


class FlatCall:
    """``fun`` at fixed arguments, as a function of the flat list of differentiated leaves.

    Attributes:
        leaves: the ``n`` differentiated leaves (ints made floats).
        treedef: the structure of the tuple of differentiated arguments.
        key: a hashable description of everything but the leaves' values (the
            structure, and the non-differentiated arguments when they are hashable),
            or ``None`` when the non-differentiated arguments are not hashable.
    """

    __slots__ = (
        "args",
        "flat_type",
        "fname",
        "fun",
        "key",
        "kwargs",
        "leaves",
        "nums",
        "treedef",
    )

    def __init__(
        self,
        fun: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        nums: tuple[int, ...],
        fname: str,
    ) -> None:
        self.fun, self.args, self.kwargs, self.nums, self.fname = fun, args, kwargs, nums, fname
        self.flat_type: type | None = None
        self.leaves: list[Any] = []
        self.key: Any = None
        if len(nums) == 1 and not kwargs and len(args) == 1:
            # the common case without the pytree plumbing: one flat list of floats
            # (flattening, comparing and hashing a large PyTreeDef costs a sweep)
            a = args[0]
            t = type(a)
            if (t is list or t is tuple) and a and set(map(type, a)) == _FLOAT_SET:
                self.flat_type = t
                self.leaves = list(a)
                self.key = ("flat", t, len(a))
                return
        diff = tuple(args[i] for i in nums)
        leaves, self.treedef = tree.tree_flatten(diff)
        for k, leaf in enumerate(leaves):
            x = _as_input(leaf)
            if x is None:
                start = 0
                for i, value in zip(nums, diff, strict=True):
                    count = len(tree.tree_leaves(value))
                    if k < start + count:
                        raise _leaf_error(fname, f"argument {i}", value, k - start)
                    start += count
            self.leaves.append(x)
        rest = [a for i, a in enumerate(args) if i not in nums]
        r_leaves, r_def = tree.tree_flatten((rest, kwargs))
        key: Any = (self.treedef, nums, r_def, tuple((type(v), v) for v in r_leaves))
        try:
            hash(key)
        except TypeError:
            key = None
        self.key = key

    def __call__(self, leaves: Sequence[Any]) -> Any:
        """``fun`` with the differentiated leaves replaced by ``leaves``."""
        if self.flat_type is not None:
            return self.fun(self.flat_type(leaves))
        full = list(self.args)
        diff = tree.tree_unflatten(self.treedef, list(leaves))
        for i, value in zip(self.nums, diff, strict=True):
            full[i] = value
        return self.fun(*full, **self.kwargs)


def flat_call(
    fun: Callable[..., Any],
    argnums: Any,
    nums: tuple[int, ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    fname: str,
) -> FlatCall:
    """Resolve ``argnums`` against the call (negative indices, range) and flatten."""
    nargs = len(args)
    if max(nums) >= nargs or min(nums) < -nargs:
        msg = (
            f"fad.{fname}: argnums={argnums!r} needs at least "
            f"{max(max(nums) + 1, -min(nums))} positional arguments, but the call passed "
            f"{nargs}."
        )
        raise TypeError(msg)
    resolved = tuple(i % nargs for i in nums)
    if len(set(resolved)) != len(resolved):
        msg = f"fad.{fname}: argnums={argnums!r} names an argument twice."
        raise ValueError(msg)
    return FlatCall(fun, args, kwargs, resolved, fname)


def output_leaves(out: Any, fname: str) -> list[Any]:
    """The leaves of a function's output, each checked to be a real scalar or a tracer."""
    leaves, _ = tree.tree_flatten(out)
    for k, leaf in enumerate(leaves):
        t = type(leaf)
        if t is float or t is int or is_tracer(leaf):
            continue
        if isinstance(leaf, numbers.Real) and t is not bool:
            continue
        raise _leaf_error(fname, "the output of fun", out, k)
    return leaves
