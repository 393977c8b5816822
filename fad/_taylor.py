"""``fad.taylor``: every derivative of a scalar function up to some order, in one pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fad._core import check_live, is_tracer, new_level
from fad.tracers.jet import Jet

__all__ = ["taylor"]


def taylor(fun: Callable[[Any], Any], x: Any, order: int) -> list[Any]:
    """Return ``[f(x), f'(x), …, f⁽ᵒʳᵈᵉʳ⁾(x)]`` by Taylor-mode propagation.

    One evaluation of ``fun`` on a :class:`~fad.tracers.jet.Jet` (a truncated Taylor
    series) gives every derivative at once, at a cost polynomial in ``order``;
    nesting forward mode ``order`` times costs about 2^order evaluations. Works
    inside and around the other transforms (``fad.grad(lambda x: fad.taylor(f, x,
    3)[3])``).

    Args:
        fun: a scalar → scalar function written with fad operations.
        x: the point: a float, an int (differentiated as a float) or a tracer.
        order: the highest derivative wanted, ``>= 0``.

    Returns:
        A list of ``order + 1`` values: ``f(x)`` and its derivatives, in order.

    Raises:
        TypeError: if ``x`` or the value of ``fun`` is not a real scalar, or
            ``order`` is not an int.
        ValueError: if ``order`` is negative.

    Example:
        >>> import fad
        >>> fad.taylor(lambda x: x ** 4, 1.0, 5)
        [1.0, 4.0, 12.0, 24.0, 24.0, 0.0]
        >>> [round(d, 12) for d in fad.taylor(fad.math.exp, 0.0, 4)]
        [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    if type(order) is not int:
        msg = f"fad.taylor got order={order!r}; the order must be an int >= 0."
        raise TypeError(msg)
    if order < 0:
        msg = f"fad.taylor got order={order}; the order must be >= 0."
        raise ValueError(msg)
    t = type(x)
    if t is int:
        x = float(x)
    elif t is not float and (t is bool or not is_tracer(x)):
        msg = (
            f"fad.taylor got x={x!r} of type {t.__name__}; it expands a scalar function "
            "at a real scalar point (float, int or a fad tracer)."
        )
        raise TypeError(msg)
    level = new_level()
    seed = Jet(x, (1.0,) + (0.0,) * (order - 1) if order else (), level)
    out = fun(seed)
    check_live([out], "taylor", level)
    if type(out) is Jet and out.level == level:
        return out.derivatives()
    if type(out) in (float, int) or is_tracer(out):
        return [out] + [0.0] * order
    msg = (
        f"fad.taylor needs a function returning a real scalar; {getattr(fun, '__name__', 'fun')} "
        f"returned {type(out).__name__} ({out!r})."
    )
    raise TypeError(msg)
