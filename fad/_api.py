"""The transforms: argnums, has_aux and pytree plumbing around ``jvp`` and ``vjp``.

Forward transforms seed :class:`~fad.tracers.dual.Dual` inputs; reverse transforms
seed the inputs of the strategy named by ``mode`` (a tracer class with ``seed``).
Each call takes a fresh level, so transforms nest without perturbation confusion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fad._core import new_level, is_tracer
from fad.tracers.codual import Codual
from fad.tracers.dual import Dual
from fad.tracers.memo import MemoCodual
from fad.tracers.tape import TapeCodual
from fad.tree import tree_flatten, tree_flatten_with_path, tree_unflatten

__all__ = ["grad", "jvp", "value_and_grad", "vjp"]

MODES: dict[str, type] = {"tape": TapeCodual, "memo": MemoCodual, "naive": Codual}


def reverse_strategy(mode: str | type | None) -> Any:
    """The tracer class for ``mode`` (``None`` means ``"tape"``)."""
    if mode is None:
        return TapeCodual
    if isinstance(mode, str):
        try:
            return MODES[mode]
        except KeyError:
            msg = f"mode={mode!r} is not a reverse strategy; use one of {sorted(MODES)} or a tracer class with seed() and apply()."
            raise ValueError(msg) from None
    if isinstance(mode, type) and hasattr(mode, "seed") and hasattr(mode, "apply"):
        return mode
    msg = f"mode={mode!r} is not a reverse strategy; use one of {sorted(MODES)} or a tracer class with seed() and apply()."
    raise TypeError(msg)


def _check_leaves(tree: Any, what: str) -> tuple[list[Any], Any]:
    """Flatten a differentiated input; ints become floats; other leaves raise TypeError."""
    pairs, treedef = tree_flatten_with_path(tree)
    leaves = []
    for path, leaf in pairs:
        t = type(leaf)
        if t is float:
            leaves.append(leaf)
        elif t is int:
            leaves.append(float(leaf))  # integer inputs are differentiated as floats
        elif t is not bool and (isinstance(leaf, (int, float)) or is_tracer_safe(leaf)):
            leaves.append(leaf if is_tracer_safe(leaf) else float(leaf))
        else:
            msg = (
                f"{what} has a leaf of type {t.__name__} at path {path or '(root)'} ({leaf!r}); "
                "fad differentiates real scalars (float, int or tracers). Close over "
                "non-differentiable values or pass them as arguments not in argnums."
            )
            raise TypeError(msg)
    return leaves, treedef


def is_tracer_safe(value: Any) -> bool:
    try:
        return is_tracer(value)
    except TypeError:
        return False


def lower(value: Any, level: int) -> Any:
    """``value`` with the tracer of ``level`` (if it is one) taken off."""
    if is_tracer_safe(value) and value.level == level:
        return value.primal
    return value


def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Evaluate ``fun`` and its derivative along ``tangents`` (forward mode).

    Example:
        >>> import fad
        >>> fad.jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
        (6.0, 3.0)
    """
    p_leaves, p_def = _check_leaves(tuple(primals), "jvp primals")
    t_leaves, t_def = tree_flatten(tuple(tangents))
    level = new_level()
    duals = [Dual(p, t, level) for p, t in zip(p_leaves, t_leaves, strict=True)]
    out = fun(*tree_unflatten(p_def, duals))
    o_leaves, o_def = tree_flatten(out)
    primals_out = tree_unflatten(o_def, [lower(o, level) for o in o_leaves])
    tangents_out = tree_unflatten(
        o_def,
        [o.tangent if type(o) is Dual and o.level == level else 0.0 for o in o_leaves],
    )
    return primals_out, tangents_out


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False, mode: str | type | None = None) -> Any:
    """Evaluate ``fun`` and return its pullback (reverse mode).

    Example:
        >>> import fad
        >>> y, f_vjp = fad.vjp(lambda x, y: x * y, 2.0, 3.0)
        >>> y, f_vjp(1.0)
        (6.0, (3.0, 2.0))
    """
    cls = reverse_strategy(mode)
    p_leaves, p_def = _check_leaves(primals, "vjp primals")
    level = new_level()
    inputs, pullback = cls.seed(p_leaves, level)
    out = fun(*tree_unflatten(p_def, inputs))
    aux = None
    if has_aux:
        out, aux = out
    o_leaves, o_def = tree_flatten(out)
    primals_out = tree_unflatten(o_def, [lower(o, level) for o in o_leaves])

    def vjp_fun(cotangent: Any) -> Any:
        c_leaves, c_def = tree_flatten(cotangent)
        if c_def != o_def:
            msg = f"vjp_fun got a cotangent of structure {c_def!r}; the output has structure {o_def!r}."
            raise ValueError(msg)
        return tree_unflatten(p_def, pullback(o_leaves, c_leaves))

    if has_aux:
        return primals_out, vjp_fun, aux
    return primals_out, vjp_fun


def value_and_grad(
    fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False, *, mode: str | type | None = None
) -> Callable[..., Any]:
    """Return a function giving ``(fun(*args), gradient)``.

    Example:
        >>> import fad
        >>> fad.value_and_grad(lambda x: x * x)(3.0)
        (9.0, 6.0)
    """

    def wrapped(*args: Any) -> Any:
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

        def partial_fun(*diff_args: Any) -> Any:
            full = list(args)
            for i, a in zip(nums, diff_args, strict=True):
                full[i] = a
            return fun(*full)

        res = vjp(partial_fun, *(args[i] for i in nums), has_aux=has_aux, mode=mode)
        value, f_vjp = res[0], res[1]
        g = f_vjp(1.0)
        g = g[0] if isinstance(argnums, int) else g
        if has_aux:
            return (value, res[2]), g
        return value, g

    return wrapped


def grad(
    fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False, *, mode: str | type | None = None
) -> Callable[..., Any]:
    """Return a function giving the gradient of scalar-valued ``fun``.

    Example:
        >>> import fad
        >>> fad.grad(lambda x: x * x)(3.0)
        6.0
    """
    vg = value_and_grad(fun, argnums, has_aux, mode=mode)

    def wrapped(*args: Any) -> Any:
        value, g = vg(*args)
        if has_aux:
            return g, value[1]
        return g

    return wrapped
