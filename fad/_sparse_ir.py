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


def prune_zeros(ir: IR) -> IR:
    """``ir`` with the seeds' structural zeros propagated: ``0·x``, ``0/x``, ``x ± 0``.

    The compressed sweeps are seeded with 0/1 vectors; recorded by ``fad.jit`` the
    zeros are constants, and every product with them is computed. Here a constant
    ``0.0`` (either sign) is a *structural* zero, as a symbolic zero tangent is in
    a sparse AD tool: ``mul`` by it and ``truediv`` of it give a zero, ``add`` and
    ``sub`` of it pass the other argument through (``0 - x`` is ``neg x``), ``neg``
    of it is a zero. For finite values this changes at most the sign of a zero
    result; a non-finite value is no longer multiplied into another colour's entries.
    The result is cleaned up again (:func:`fad._ir.simplify`).

    Example:
        >>> import fad
        >>> from fad._sparse_ir import prune_zeros
        >>> ir = fad.make_ir(lambda x, y: fad.math.sin(x) * 0.0 + y * 2.0)(1.0, 2.0)
        >>> print(ir)
        { lambda a b. c = sin a; d = mul c 0.0; e = mul b 2.0; f = add d e; return f }
        >>> print(prune_zeros(ir))
        { lambda a b. c = mul b 2.0; return c }
    """
    from fad import _primitives as _P
    from fad._ir import Guard, simplify

    n_in = ir.n_inputs
    consts = list(ir.consts)
    consts.append(0.0)
    zero_atom = -len(consts)
    zero: set[int] = set()  # new atoms that are structural zeros
    for k, c in enumerate(ir.consts):
        if type(c) is float and c == 0.0:
            zero.add(-1 - k)
    zero.add(zero_atom)
    alias: list[int] = list(range(n_in))
    prims: list[Any] = []
    args: list[tuple[int, ...]] = []
    types: list[type] = list(ir.types[:n_in])

    def add_eq(prim: Any, atoms: tuple[int, ...], t: type) -> int:
        prims.append(prim)
        args.append(atoms)
        types.append(t)
        return len(types) - 1

    for var, prim, atoms0 in ir.equations():
        atoms = tuple([alias[a] if a >= 0 else a for a in atoms0])
        t = ir.types[var]
        name = prim.name
        target: int | None = None
        if t is float and len(atoms) <= 2:
            za = atoms[0] in zero
            zb = len(atoms) == 2 and atoms[1] in zero
            if (name == "mul" and (za or zb)) or (name in ("truediv", "neg") and za):
                target = zero_atom
            elif name == "add" and (za or zb):
                target = atoms[1] if za else atoms[0]
            elif name == "sub" and zb:
                target = atoms[0]
            elif name == "sub" and za:
                target = add_eq(_P.neg, (atoms[1],), float)
        if target is None:
            target = add_eq(prim, atoms, t)
        alias.append(target)
    outputs = [alias[a] if a >= 0 else a for a in ir.outputs]
    guards = [Guard(alias[g.var], g.outcome, g.where) for g in ir.guards if alias[g.var] >= 0]
    return simplify(IR(n_in, prims, args, types, consts, outputs, guards))
