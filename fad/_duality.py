"""The duality between dual and codual numbers: ``(a, b) ↦ (a, λk. k·b)`` and back.

A dual number carries its tangent ``b``; a codual number carries the linear map
``B: k ↦ k·b`` instead. The two are the same information: ``B(1)`` recovers ``b``.
The mapping commutes with every primitive — the codual of ``f(x)`` backpropagates
as ``f`` of the codual of ``x`` does — which is how the codual rule is derived from
the dual one, and what tests/test_duality.py checks.
"""

from __future__ import annotations

from typing import Any

from fad._core import is_tracer, recursion_error
from fad.tracers.codual import Codual
from fad.tracers.dual import Dual
from fad.tracers.tape import TapeCodual

__all__ = ["to_codual", "to_dual"]


def _is_scalar(value: Any) -> bool:
    t = type(value)
    return t is float or t is int or is_tracer(value)


def to_codual(dual: Dual) -> Codual:
    """The codual ``(a, λk. k·b)`` of the dual ``(a, b)``, at the same level.

    Args:
        dual: a :class:`~fad.Dual`.

    Returns:
        A :class:`~fad.Codual` whose backpropagator multiplies its cotangent by the
        dual's tangent, so ``to_codual(d).backprop(1.0)`` is ``d.tangent``.

    Raises:
        TypeError: if ``dual`` is not a ``Dual``.

    Example:
        >>> import fad
        >>> c = fad.to_codual(fad.Dual(3.0, 2.0))
        >>> c.primal, c.backprop(10.0)
        (3.0, 20.0)
    """
    if not isinstance(dual, Dual):
        msg = (
            f"fad.to_codual takes a fad.Dual, got {type(dual).__name__} ({dual!r}). Build a "
            "Dual first: fad.Dual(primal, tangent)."
        )
        raise TypeError(msg)
    tangent = dual.tangent

    def backprop(k: Any) -> Any:
        return k * tangent

    return Codual(dual.primal, backprop, dual.level)


def to_dual(codual: Codual | TapeCodual) -> Dual:
    """The dual ``(a, B(1))`` of the codual ``(a, B)``, at the same level.

    ``B(1)`` must be one number: the codual must depend on a single input. That holds
    for coduals built by hand (``fad.Codual(x, lambda k: k * b)``, or
    :func:`to_codual`) and for a ``mode="tape"`` codual of a transform over one input.
    Inside a reverse transform over several inputs ``B(1)`` is a gradient (one number
    per input), which no single tangent represents: that raises ``TypeError``.

    Args:
        codual: a :class:`~fad.Codual` (any mode whose backprop returns a number) or a
            tape codual of a one-input trace.

    Returns:
        A :class:`~fad.Dual` with the codual's primal and tangent ``B(1)``.

    Raises:
        TypeError: if ``codual`` is not a codual, or its ``B(1)`` is not one number.

    Example:
        >>> import fad
        >>> d = fad.to_dual(fad.Codual(3.0, lambda k: 2.0 * k))
        >>> d.primal, d.tangent
        (3.0, 2.0)
    """
    if isinstance(codual, TapeCodual):
        n = codual.tape.n_in
        if n != 1:
            msg = (
                f"fad.to_dual got a tape codual of a transform over {n} inputs; its B(1) is "
                "a gradient with one entry per input, not a tangent. Use fad.vjp or fad.grad "
                "to read it, or a transform over one input."
            )
            raise TypeError(msg)
        (tangent,) = codual.backprop(1.0)
        return Dual(codual.primal, tangent, codual.level)
    if not isinstance(codual, Codual):
        msg = (
            f"fad.to_dual takes a fad.Codual, got {type(codual).__name__} ({codual!r}). "
            "Build one with fad.Codual(primal, backprop) or fad.to_codual(dual)."
        )
        raise TypeError(msg)
    try:
        tangent = codual.backprop(1.0)
    except RecursionError:
        raise recursion_error(type(codual).mode_name) from None
    if not _is_scalar(tangent):
        msg = (
            f"fad.to_dual: this {type(codual).__name__}'s backprop(1.0) returned a "
            f"{type(tangent).__name__}, not one number: it comes from a reverse transform "
            "(mode='memo' or 'naive'), whose cotangents are spread over the inputs. "
            "to_dual takes coduals built by hand or by fad.to_codual; read the "
            "gradients of a transform with fad.vjp or fad.grad."
        )
        raise TypeError(msg)
    return Dual(codual.primal, tangent, codual.level)
