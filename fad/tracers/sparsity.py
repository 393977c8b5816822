"""Sparsity detection by tracers: index sets in place of derivatives.

The idea is SparseConnectivityTracer.jl's: run the function once on tracers that
carry, beside the primal value, the set of inputs the value depends on. The sets are
Python ints used as bitsets (bit ``j`` set: depends on input ``j``), so a union is
one ``|``.

- :class:`JacobianSparsityTracer` carries ``deps``. The rule for a primitive
  ``f(x₁, …, xₖ)`` is derived from the registry: the result depends on the union
  of the sets of the arguments whose partial is not ``None`` (a primitive without
  partials, ``floor``, gives a plain number; a linear primitive's zero coefficient
  drops its argument).
- :class:`HessianSparsityTracer` carries ``grad`` (the same set) and ``hess``,
  the pairs of inputs that interact nonlinearly. By the chain rule,
  ``∇²f(x(t)) = Σᵢ ∂ᵢf ∇²xᵢ + Σᵢⱼ ∂ᵢ∂ⱼf ∇xᵢ ∇xⱼᵀ``: the result keeps the pairs of
  its arguments and adds ``grad(xᵢ) × grad(xⱼ)`` wherever ``∂ᵢ∂ⱼf`` may be nonzero.
  That second-order structure is again derived from the registry, by evaluating
  each registered partial ``∂ᵢf(ans, *args)`` on Jacobian sparsity tracers (one bit
  per argument): the set its result depends on is the set of ``j`` with
  ``∂ᵢ∂ⱼf ≠ 0``. A partial that returns a constant is linear in that argument, and
  a primitive marked ``linear`` in the registry adds no pair at all. A partial that
  raises at this point (``sqrt`` at 0) is taken to depend on every argument.

Detection is at one point: the tracers hold the primal values, comparisons and
``bool()`` act on them as under every fad transform, so a branch on the inputs
contributes only the side that was taken. The pattern is the one of the program
*as it ran at that point*; for another branch, detect again there or pass the
pattern to :func:`fad.sparse_jacobian` / :func:`fad.sparse_hessian` yourself.
Within that, the pattern is structural: it does not depend on values being zero
(``x * y`` at ``y = 0`` still depends on ``x``), so it holds at every point that
takes the same branches.

The pairs of the Hessian tracer are shared, never copied: ``hess`` is a node of a
DAG ``(children, pairs)`` mirroring the program, and the pattern is read off it
once at the end, so a long sum costs one node per operation, not a growing set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ParamSpec

import attrs

from fad._core import Primitive, check_live, new_level, register_tracer
from fad._ops import TracerOps
from fad._sparse_args import check_argnums, flat_call, output_leaves
from fad.sparse import SparseMatrix
from fad.tracers._build import twin

__all__ = [
    "HessianSparsityTracer",
    "JacobianSparsityTracer",
    "bits",
    "hessian_pairs",
    "hessian_rule",
    "hessian_sparsity",
    "jacobian_rule",
    "jacobian_sparsity",
]

P = ParamSpec("P")


def bits(b: int) -> list[int]:
    """The indices of the set bits of ``b``, in increasing order.

    Example:
        >>> from fad.tracers.sparsity import bits
        >>> bits(0b10110)
        [1, 2, 4]
    """
    out = []
    while b:
        low = b & -b
        out.append(low.bit_length() - 1)
        b ^= low
    return out


# --- Jacobian sparsity ----------------------------------------------------------------


@register_tracer
@attrs.frozen(eq=False, repr=False, weakref_slot=False)
class JacobianSparsityTracer(TracerOps):
    """A primal value and the set of inputs it depends on, as a bitset ``deps``.

    Example:
        >>> from fad.tracers.sparsity import JacobianSparsityTracer as T
        >>> x, y = T(2.0, 0b01), T(3.0, 0b10)
        >>> z = x * y + 1.0
        >>> (z.primal, bin(z.deps))
        (7.0, '0b11')
    """

    primal: Any
    deps: int
    level: int = 0

    def __repr__(self) -> str:
        return f"JacobianSparsityTracer({self.primal!r}, deps={bits(self.deps)})"

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """The value of ``prim``, depending on the union of its differentiable arguments."""
        primals = []
        deps = []
        for a in args:
            if type(a) is cls and a.level == level:
                primals.append(a.primal)
                deps.append(a.deps)
            else:
                primals.append(a)
                deps.append(0)
        ans = prim(*primals)
        d = jacobian_rule(prim, deps)
        if d is None:
            return ans
        return _new_jac(ans, d, level)


def jacobian_rule(prim: Primitive, deps: Sequence[int]) -> int | None:
    """The inputs the result of ``prim`` depends on, from those of its arguments.

    ``deps[i]`` is the bitset of argument ``i`` (``0`` for a constant). The rule is
    the registry's: the union over the arguments with a partial (a primitive marked
    ``linear`` drops the arguments of zero coefficient); ``None`` when ``prim`` has no
    partials at all (its result is a plain number). Shared by the tracer and the IR
    interpreter (:mod:`fad._sparse_ir`).

    Example:
        >>> from fad import _primitives as P
        >>> from fad.tracers.sparsity import jacobian_rule
        >>> bin(jacobian_rule(P.mul, [0b01, 0b10])), jacobian_rule(P.floor, [0b1])
        ('0b11', None)
    """
    if prim.partials is None:
        return None
    linear = prim.linear
    d = 0
    for i, a in enumerate(deps):
        if linear is None or linear[i] != 0:
            d |= a
    return d


_JacTwin = twin(JacobianSparsityTracer)


def _new_jac(primal: Any, deps: int, level: int) -> JacobianSparsityTracer:
    t = _JacTwin()
    t.primal = primal
    t.deps = deps
    t.level = level
    t.__class__ = JacobianSparsityTracer
    tracer: JacobianSparsityTracer = t
    return tracer


# --- Hessian sparsity -----------------------------------------------------------------

Node = tuple[tuple[Any, ...], tuple[tuple[int, int], ...]]
"""A node of the DAG of nonlinear pairs: ``(children, pairs)``, each pair two bitsets
``(A, B)`` meaning every input of ``A`` interacts with every input of ``B``."""


def _second_order(
    prim: Primitive, ans: Any, primals: list[Any], traced: list[int]
) -> list[tuple[int, int]]:
    """``(i, local)`` for each traced argument ``i``: the arguments ``∂ᵢf`` depends on.

    Derived from the registry: the partials are evaluated on Jacobian sparsity
    tracers that give argument ``j`` the bit ``1 << j``.
    """
    partials = prim.partials
    assert partials is not None
    level = new_level()  # above every tracer in ``primals``
    local_args = list(primals)
    every = 0
    for i in traced:
        local_args[i] = _new_jac(primals[i], 1 << i, level)
        every |= 1 << i
    local_ans = _new_jac(ans, every, level)
    out = []
    for i in traced:
        try:
            d = partials[i](local_ans, *local_args)
        except (ArithmeticError, ValueError, TypeError):
            local = every  # no derivative here: assume the worst
        else:
            local = d.deps if type(d) is JacobianSparsityTracer and d.level == level else 0
        if local:
            out.append((i, local))
    check_live([], "sparsity", level)
    return out


@register_tracer
@attrs.frozen(eq=False, repr=False, weakref_slot=False)
class HessianSparsityTracer(TracerOps):
    """A primal value, the inputs it depends on (``grad``) and those that interact
    nonlinearly in it (``hess``, a node of shared pairs; see :func:`hessian_pairs`).

    Example:
        >>> from fad.tracers.sparsity import HessianSparsityTracer as T
        >>> from fad.tracers.sparsity import bits, hessian_pairs
        >>> x, y, z = T(1.0, 0b001), T(2.0, 0b010), T(3.0, 0b100)
        >>> w = x * y + z
        >>> (bits(w.grad), [bits(row) for row in hessian_pairs(w.hess, 3)])
        ([0, 1, 2], [[1], [0], []])
    """

    primal: Any
    grad: int
    hess: Node | None = None
    level: int = 0

    def __repr__(self) -> str:
        return f"HessianSparsityTracer({self.primal!r}, grad={bits(self.grad)})"

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """The value of ``prim``, with the pairs of its arguments and its own."""
        primals = []
        traced = []
        for i, a in enumerate(args):
            if type(a) is cls and a.level == level:
                primals.append(a.primal)
                traced.append(i)
            else:
                primals.append(a)
        ans = prim(*primals)
        if prim.partials is None:
            return ans
        grads = [a.grad if i in traced else 0 for i, a in enumerate(args)]
        hesses = [a.hess if i in traced else None for i, a in enumerate(args)]
        grad, hess = hessian_rule(prim, ans, primals, traced, grads, hesses)
        return _new_hess(ans, grad, hess, level)


def hessian_rule(
    prim: Primitive,
    ans: Any,
    primals: list[Any],
    traced: list[int],
    grads: Sequence[int],
    hesses: Sequence[Node | None],
) -> tuple[int, Node | None]:
    """``(grad, hess)`` of the result of ``prim`` (which has partials).

    ``primals`` are the argument values, ``traced`` the positions of the arguments
    that depend on the inputs, ``grads[i]`` / ``hesses[i]`` their sets and pair
    nodes. The result keeps its arguments' pairs and adds ``grads[i] × grads[j]``
    for each ``(i, j)`` with ``∂ᵢ∂ⱼf ≠ 0`` (from :func:`_second_order`, i.e. the
    registry's partials). Shared by the tracer and the IR interpreter
    (:mod:`fad._sparse_ir`).

    Example:
        >>> from fad import _primitives as P
        >>> from fad.tracers.sparsity import hessian_rule
        >>> grad, hess = hessian_rule(P.mul, 6.0, [2.0, 3.0], [0, 1], [1, 2], [None, None])
        >>> grad, hess
        (3, ((), ((1, 2),)))
    """
    linear = prim.linear
    grad = 0
    children: list[Node] = []
    for i in traced:
        if linear is not None and linear[i] == 0:
            continue
        grad |= grads[i]
        h = hesses[i]
        if h is not None and all(h is not c for c in children):
            children.append(h)
    pairs: list[tuple[int, int]] = []
    if linear is None:
        for i, local in _second_order(prim, ans, primals, traced):
            gi = grads[i]
            for j in bits(local):
                gj = grads[j]
                pair = (gi, gj) if gi <= gj else (gj, gi)
                if pair not in pairs:
                    pairs.append(pair)
    hess: Node | None
    if pairs:
        hess = (tuple(children), tuple(pairs))
    elif not children:
        hess = None
    elif len(children) == 1:
        hess = children[0]
    else:
        hess = (tuple(children), ())
    return grad, hess


_HessTwin = twin(HessianSparsityTracer)


def _new_hess(primal: Any, grad: int, hess: Node | None, level: int) -> HessianSparsityTracer:
    t = _HessTwin()
    t.primal = primal
    t.grad = grad
    t.hess = hess
    t.level = level
    t.__class__ = HessianSparsityTracer
    tracer: HessianSparsityTracer = t
    return tracer


def hessian_pairs(node: Node | None, n: int) -> list[int]:
    """The symmetric pattern below ``node``: for each of the ``n`` inputs, a bitset of
    the inputs it interacts with (iterative walk of the DAG, each node once).

    Example:
        >>> from fad.tracers.sparsity import hessian_pairs
        >>> leaf = ((), ((0b01, 0b10),))  # inputs 0 and 1 interact
        >>> hessian_pairs(((leaf, leaf), ((0b100, 0b100),)), 3)
        [2, 1, 4]
    """
    rows = [0] * n
    if node is None:
        return rows
    pairs: set[tuple[int, int]] = set()
    seen: set[int] = set()
    stack = [node]
    while stack:
        nd = stack.pop()
        if id(nd) in seen:
            continue
        seen.add(id(nd))
        children, own = nd
        pairs.update(own)
        stack.extend(c for c in children if id(c) not in seen)
    for a, b in pairs:
        for i in bits(a):
            rows[i] |= b
        for j in bits(b):
            rows[j] |= a
    return rows


# --- the detectors ----------------------------------------------------------------------


def jacobian_sparsity(
    fun: Callable[P, Any], argnums: int | Sequence[int] = 0
) -> Callable[P, SparseMatrix]:
    """The sparsity pattern of ``fun``'s Jacobian, detected at the given point.

    ``fun`` is recorded once as ``fad.jit`` records it and the index sets are
    propagated over the recorded program (:mod:`fad._sparse_ir`); a function that
    cannot be recorded on its own (it closes over a tracer) runs on
    :class:`JacobianSparsityTracer` inputs instead, with the same rules. The
    pattern's ``branches`` names the decisions on traced values it depends on. It is
    ``m × n`` for ``m`` output leaves and ``n`` leaves of the differentiated
    argument(s) (in :func:`fad.tree.tree_flatten` order, as :func:`fad.jacfwd` counts
    them); entry ``(i, j)`` is present when output ``i`` depends on input ``j``
    through operations with a nonzero derivative. A branch on the inputs contributes
    only the side taken at this point.

    Args:
        fun: a function returning a pytree of real scalars.
        argnums: an int or a tuple of ints: the argument(s) whose leaves are the columns.

    Returns:
        A function of ``fun``'s arguments giving a :class:`fad.sparse.SparseMatrix`
        pattern (``data`` is ``None``).

    Raises:
        TypeError: if a differentiated leaf or an output leaf is not a real scalar.

    Example:
        >>> import fad
        >>> def residual(u):
        ...     return [u[i - 1] - 2 * u[i] + u[i + 1] for i in range(1, len(u) - 1)]
        >>> p = fad.jacobian_sparsity(residual)([1.0, 2.0, 3.0, 4.0, 5.0])
        >>> print(p)
        3×5 pattern, nnz=9
        ● ● ● · ·
        · ● ● ● ·
        · · ● ● ●
    """
    if not callable(fun):
        msg = f"fad.jacobian_sparsity expects a function, not {type(fun).__name__}."
        raise TypeError(msg)
    nums = check_argnums(argnums, "jacobian_sparsity")

    def sparsity_f(*args: Any, **kwargs: Any) -> SparseMatrix:
        call = flat_call(fun, argnums, nums, args, kwargs, "jacobian_sparsity")
        return _jacobian_pattern(call)

    return sparsity_f


def _jacobian_pattern(call: Any) -> SparseMatrix:
    """The Jacobian pattern of a :class:`fad._sparse_args.FlatCall` at its leaves:
    from its recorded program when it can be recorded, else by the tracers."""
    from fad._sparse_ir import ir_jacobian_rows, record

    recorded = record(call)
    if recorded is None:
        return _jacobian_pattern_traced(call)
    ir, result = recorded
    out = output_leaves(result, call.fname)
    rows: list[int] = []
    cols: list[int] = []
    for i, b in enumerate(ir_jacobian_rows(ir)):
        for j in bits(b):
            rows.append(i)
            cols.append(j)
    p = SparseMatrix._sorted(tuple(rows), tuple(cols), (len(out), len(call.leaves)), None)
    p.branches = tuple(g.where for g in ir.guards)
    return p


def _jacobian_pattern_traced(call: Any) -> SparseMatrix:
    """The Jacobian pattern of a :class:`fad._sparse_args.FlatCall`, by the tracers."""
    level = new_level()
    inputs = [_new_jac(x, 1 << j, level) for j, x in enumerate(call.leaves)]
    out = output_leaves(call(inputs), call.fname)
    check_live(out, call.fname, level)
    rows: list[int] = []
    cols: list[int] = []
    for i, o in enumerate(out):
        if type(o) is JacobianSparsityTracer and o.level == level:
            for j in bits(o.deps):
                rows.append(i)
                cols.append(j)
    return SparseMatrix._sorted(tuple(rows), tuple(cols), (len(out), len(inputs)), None)


def hessian_sparsity(
    fun: Callable[P, Any], argnums: int | Sequence[int] = 0
) -> Callable[P, SparseMatrix]:
    """The sparsity pattern of scalar ``fun``'s Hessian, detected at the given point.

    ``fun`` is recorded once and the rule of :class:`HessianSparsityTracer` is
    propagated over the recorded program (or, when it cannot be recorded on its own,
    ``fun`` runs on those tracers); entry ``(i, j)`` is
    present when inputs ``i`` and ``j`` interact nonlinearly (``∂²f/∂xᵢ∂xⱼ`` may be
    nonzero), as the registry's partials tell per primitive. The pattern is
    symmetric, ``n × n`` over the leaves of the differentiated argument(s). A branch
    on the inputs contributes only the side taken at this point.

    Args:
        fun: a function returning one real scalar.
        argnums: an int or a tuple of ints: the argument(s) differentiated.

    Returns:
        A function of ``fun``'s arguments giving a :class:`fad.sparse.SparseMatrix`
        pattern.

    Raises:
        TypeError: if a differentiated leaf is not a real scalar, or ``fun`` does not
            return exactly one real scalar.

    Example:
        >>> import fad
        >>> f = lambda x: x[0] * x[1] + fad.math.sin(x[2]) + x[3]
        >>> print(fad.hessian_sparsity(f)([1.0, 2.0, 3.0, 4.0]))
        4×4 pattern, nnz=3
        · ● · ·
        ● · · ·
        · · ● ·
        · · · ·
    """
    if not callable(fun):
        msg = f"fad.hessian_sparsity expects a function, not {type(fun).__name__}."
        raise TypeError(msg)
    nums = check_argnums(argnums, "hessian_sparsity")

    def sparsity_f(*args: Any, **kwargs: Any) -> SparseMatrix:
        call = flat_call(fun, argnums, nums, args, kwargs, "hessian_sparsity")
        return _hessian_pattern(call)

    return sparsity_f


def _hessian_pattern(call: Any) -> SparseMatrix:
    """The Hessian pattern of a scalar :class:`fad._sparse_args.FlatCall`: from its
    recorded program when it can be recorded, else by the tracers."""
    from fad._sparse_ir import ir_hessian_rows, record

    recorded = record(call)
    if recorded is None:
        return _hessian_pattern_traced(call)
    ir, result = recorded
    _check_scalar(call, result)
    p = _from_rows(ir_hessian_rows(ir, call.leaves))
    p.branches = tuple(g.where for g in ir.guards)
    return p


def _check_scalar(call: Any, result: Any) -> Any:
    out = output_leaves(result, call.fname)
    if len(out) != 1 or isinstance(result, (list, tuple, dict)):
        msg = (
            f"fad.{call.fname}: fun must return one real scalar (the Hessian is that of "
            f"a scalar function), but it returned {type(result).__name__} with "
            f"{len(out)} leaves. For a vector function, take the Jacobian sparsity of "
            "its gradient, or of each component."
        )
        raise TypeError(msg)
    return out[0]


def _hessian_pattern_traced(call: Any) -> SparseMatrix:
    """The Hessian pattern of a scalar :class:`fad._sparse_args.FlatCall`, by the tracers."""
    level = new_level()
    n = len(call.leaves)
    inputs = [_new_hess(x, 1 << j, None, level) for j, x in enumerate(call.leaves)]
    o = _check_scalar(call, call(inputs))
    check_live([o], call.fname, level)
    node = o.hess if type(o) is HessianSparsityTracer and o.level == level else None
    return _from_rows(hessian_pairs(node, n))


def _from_rows(rows_bits: list[int]) -> SparseMatrix:
    n = len(rows_bits)
    rows: list[int] = []
    cols: list[int] = []
    for i, b in enumerate(rows_bits):
        for j in bits(b):
            rows.append(i)
            cols.append(j)
    return SparseMatrix._sorted(tuple(rows), tuple(cols), (n, n), None)
