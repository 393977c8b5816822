"""Sparsity patterns read off ``fad.jit``'s recorded program.

The function is recorded once (:func:`record`, the IR of :mod:`fad._ir`) and two
interpreters walk its equations in order, propagating index bitsets forward with
the very rules the sparsity tracers use (:func:`fad.tracers.sparsity.jacobian_rule`
and :func:`fad.tracers.sparsity.hessian_rule`: one rule, two drivers):

- :func:`ir_jacobian_rows`: the inputs each output depends on;
- :func:`ir_hessian_rows`: the pairs of inputs that interact nonlinearly in the
  (scalar) output; this one also evaluates the program at the recording point,
  since the second-order rule evaluates the registry's partials there.

The pattern is that of the program *as recorded*: it holds where the recording's
guards hold (the same branches taken). A function that cannot be recorded on its
own (it closes over a tracer of an enclosing transform) gives ``None`` from
:func:`record`, and the callers fall back to the tracers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fad._ir import IR
from fad._jit import Jitted
from fad.tracers.sparsity import Node, hessian_pairs, hessian_rule, jacobian_rule

__all__ = ["ir_hessian_rows", "ir_jacobian_rows", "record"]


def record(call: Any) -> tuple[IR, Any] | None:
    """The recorded program of a flat call at its leaves, and the call's result.

    ``None`` when the call cannot be recorded on its own (a leaf is a tracer, or the
    function closes over one).
    """
    leaves = call.leaves
    if any(type(x) is not float for x in leaves):
        return None
    j: Jitted[..., Any] = Jitted(call, (), (), 1)
    result = j(list(leaves))
    specs = j.specializations
    if not specs or specs[-1].ir is None:
        return None
    return specs[-1].ir, result


def ir_jacobian_rows(ir: IR) -> list[int]:
    """For each output of ``ir``, the bitset of the inputs it depends on.

    Example:
        >>> import fad
        >>> from fad._sparse_ir import ir_jacobian_rows
        >>> ir = fad.make_ir(lambda x: [x[0] * x[1], fad.math.floor(x[2]), 2.0 * x[2]])
        >>> [bin(b) for b in ir_jacobian_rows(ir([1.0, 2.0, 3.0]))]
        ['0b11', '0b0', '0b100']
    """
    deps: list[int] = [1 << j for j in range(ir.n_inputs)]
    for _, prim, atoms in ir.equations():
        d = jacobian_rule(prim, [deps[a] if a >= 0 else 0 for a in atoms])
        deps.append(0 if d is None else d)
    return [deps[a] if a >= 0 else 0 for a in ir.outputs]


def ir_hessian_rows(ir: IR, point: Sequence[Any], output: int = 0) -> list[int]:
    """For each input of ``ir``, the bitset of the inputs it interacts with nonlinearly
    in output ``output`` (a symmetric pattern, as rows), with the inputs at ``point``
    (the recording point: the second-order rule evaluates the partials there).

    Example:
        >>> import fad
        >>> from fad._sparse_ir import ir_hessian_rows
        >>> x = [1.0, 2.0, 3.0]
        >>> ir = fad.make_ir(lambda x: x[0] * x[1] + fad.math.sin(x[2]))(x)
        >>> [bin(b) for b in ir_hessian_rows(ir, x)]
        ['0b10', '0b1', '0b100']
    """
    n = ir.n_inputs
    consts = ir.consts
    # every variable's value, whether it depends on the inputs, its set and its node
    values: list[Any] = list(point)
    traced: list[bool] = [True] * n
    grads: list[int] = [1 << j for j in range(n)]
    hesses: list[Node | None] = [None] * n
    for _, prim, atoms in ir.equations():
        primals = [values[a] if a >= 0 else consts[-1 - a] for a in atoms]
        ans = prim.impl(*primals)
        values.append(ans)
        on = [i for i, a in enumerate(atoms) if a >= 0 and traced[a]]
        if prim.partials is None or not on:
            traced.append(False)
            grads.append(0)
            hesses.append(None)
            continue
        g = [grads[a] if a >= 0 else 0 for a in atoms]
        h = [hesses[a] if a >= 0 else None for a in atoms]
        grad, hess = hessian_rule(prim, ans, primals, on, g, h)
        traced.append(True)
        grads.append(grad)
        hesses.append(hess)
    o = ir.outputs[output]
    node = hesses[o] if o >= 0 and traced[o] else None
    return hessian_pairs(node, n)
