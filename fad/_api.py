"""The transforms, as fad exports them: argnums, has_aux and pytrees around jvp and vjp.

The code is in three layers: :mod:`fad._args` (argument plumbing: argnums, leaves and
their errors, outputs, aux), :mod:`fad._forward` (:func:`jvp`, :func:`jacfwd`,
:func:`derivative`, on Duals) and :mod:`fad._reverse` (:func:`vjp`, :func:`grad`,
:func:`value_and_grad`, :func:`jacrev`, :func:`hessian`, :func:`linearize`, on the
strategy named by ``mode``). This module gathers them, with :func:`stop_gradient`.

Every call of a transform takes a fresh level (:func:`fad._core.new_level`), so
transforms nest to any order, in any mix of modes, without perturbation confusion,
and calls in different threads never share a level.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fad import _primitives as _P
from fad._args import Mode as Mode
from fad._args import _as_real as _as_real
from fad._args import _check_argnums as _check_argnums
from fad._args import _check_callable as _check_callable
from fad._args import _check_outputs as _check_outputs
from fad._args import _flatten_inputs as _flatten_inputs
from fad._args import _lower as _lower
from fad._args import _lower_tree as _lower_tree
from fad._args import _resolve_argnums as _resolve_argnums
from fad._args import _split_aux as _split_aux
from fad._core import is_tracer
from fad._forward import derivative as derivative
from fad._forward import jacfwd as jacfwd
from fad._forward import jvp as jvp
from fad._reverse import MODES as MODES
from fad._reverse import grad as grad
from fad._reverse import hessian as hessian
from fad._reverse import jacrev as jacrev
from fad._reverse import linearize as linearize
from fad._reverse import reverse_strategy as reverse_strategy
from fad._reverse import value_and_grad as value_and_grad
from fad._reverse import vjp as vjp
from fad.tree import tree_map

__all__ = [
    "MODES",
    "derivative",
    "grad",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "linearize",
    "reverse_strategy",
    "stop_gradient",
    "value_and_grad",
    "vjp",
]

T = TypeVar("T")


def stop_gradient(x: T) -> T:
    """``x`` (a pytree) with every tracer replaced by its plain value.

    No derivative flows through the result, in any transform, at any level of
    nesting: it is a constant to all of them. Leaves that are not tracers are
    returned as they are.

    Example:
        >>> import fad
        >>> fad.grad(lambda x: x * fad.stop_gradient(x))(3.0)
        3.0
        >>> fad.stop_gradient({"a": fad.Dual(1.0, 2.0)})
        {'a': 1.0}
    """
    result: T = tree_map(_stop, x)
    return result


def _stop(leaf: Any) -> Any:
    return _P.stop_gradient(leaf) if is_tracer(leaf) else leaf
