"""Sparse Jacobians and Hessians: detect the pattern, colour it, one sweep per colour.

:func:`sparse_jacobian` and :func:`sparse_hessian` work in four steps:

1. **pattern**: detected on the program ``fad.jit`` records at the point
   (:mod:`fad._sparse_ir`; by the sparsity tracers of :mod:`fad.tracers.sparsity`
   when the function cannot be recorded), or given as ``sparsity=``;
2. **colouring** (:mod:`fad._coloring`): columns (forward mode), rows (reverse mode)
   or a star colouring of the symmetric Hessian pattern;
3. **compressed sweeps**: one JVP, VJP or Hessian-vector product per colour, seeded
   with the sum of the unit vectors of that colour, all in one jitted program
   (:func:`_evaluate`; :func:`run_sweeps` runs them eagerly);
4. **recovery**: each entry read directly from the sweep of its colour.

Steps 1 to 3 are cached per specialization: per input structure (the tree structure
of the differentiated arguments and the values of the other arguments, when they are
hashable) and per outcome of the guards of the compiled sweeps, so repeated calls
pay only one run of the compiled program, and a point that takes another branch gets
its own pattern.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal, ParamSpec

import fad
from fad import _coloring, tree
from fad._emit import FLOAT_TABLE, GuardFailed, emit
from fad._ir import schedule
from fad._jit import Jitted
from fad._sparse_args import FlatCall, check_argnums, flat_call, output_leaves
from fad._sparse_ir import prune_zeros
from fad.sparse import SparseMatrix, as_pattern
from fad.tracers.sparsity import _hessian_pattern, _jacobian_pattern

__all__ = ["run_sweeps", "sparse_hessian", "sparse_jacobian"]

P = ParamSpec("P")

Sweep = Literal["jvp", "vjp", "hvp", "hvp_fwd"]

_CACHE_SIZE = 64  # structures kept per transform (oldest dropped first)
_JIT_HVP: Sweep = "hvp"  # the Hessian-vector products of the jitted program
_MAX_SPECIALIZATIONS = 8  # jitted sweep programs kept per structure (then eager)


def _seeds(colors: Sequence[int], n_colors: int) -> list[list[float]]:
    """One seed per colour: the sum of the unit vectors of the indices of that colour."""
    seeds = [[0.0] * len(colors) for _ in range(n_colors)]
    for j, c in enumerate(colors):
        if c < n_colors:
            seeds[c][j] = 1.0
    return seeds


def run_sweeps(
    call: FlatCall,
    kind: Sweep,
    seeds: Sequence[Sequence[float]],
    leaves: Sequence[Any] | None = None,
) -> list[list[Any]]:
    """The compressed products, one per seed, as flat lists.

    ``"jvp"``: ``J s`` (``m`` numbers) by :func:`fad.jvp`; ``"vjp"``: ``Jᵀ s``
    (``n`` numbers) by one recording with :func:`fad.vjp` and one pullback per seed;
    ``"hvp"``: ``H s = (∇f)ᵀ' s`` (``n`` numbers) reverse over reverse: the gradient
    is recorded once on the tape, ``fad.vjp(fad.grad(f), x)``, and each seed is one
    sweep over floats back along it (as :func:`fad.hessian` does; faster than
    forward over reverse on Rosenbrock, see docs/sparse.md);
    ``"hvp_fwd"``: ``H s`` forward over reverse, ``fad.jvp(fad.grad(f), …)`` per seed.
    The products are taken at ``leaves`` (default: the call's own leaves).

    Example:
        >>> from fad._sparse_args import flat_call
        >>> from fad._sparse_ad import run_sweeps
        >>> call = flat_call(lambda x: [x[0] * x[1], x[1]], 0, (0,), ([2.0, 3.0],), {}, "demo")
        >>> run_sweeps(call, "jvp", [[1.0, 0.0], [0.0, 1.0]])
        [[3.0, 0.0], [2.0, 1.0]]
    """
    leaves = list(call.leaves if leaves is None else leaves)
    if not seeds:
        return []
    if kind == "jvp":
        return [tree.tree_leaves(fad.jvp(call, (leaves,), (list(s),))[1]) for s in seeds]
    if kind == "vjp":
        out, pullback = fad.vjp(call, leaves)
        o_def = tree.tree_structure(out)
        return [list(pullback(tree.tree_unflatten(o_def, list(s)))[0]) for s in seeds]
    gradient = fad.grad(call)
    if kind == "hvp":
        _, pullback = fad.vjp(gradient, leaves)
        return [list(pullback(list(s))[0]) for s in seeds]
    return [list(fad.jvp(gradient, (leaves,), (list(s),))[1]) for s in seeds]


class _Plan:
    """What a structure needs before its sweeps: the pattern, the colouring, the seeds."""

    __slots__ = ("colors", "kind", "n_colors", "pattern", "seeds", "sources")

    def __init__(
        self,
        pattern: SparseMatrix,
        kind: Sweep,
        colors: list[int],
        sources: list[tuple[int, int]],
    ) -> None:
        self.pattern, self.kind, self.colors, self.sources = pattern, kind, colors, sources
        # no entries, no sweeps (the colouring still gives every index a colour)
        self.n_colors = _coloring.n_colors(colors) if sources else 0
        self.seeds = _seeds(colors, self.n_colors)


class _Compiled:
    """One jitted specialization of the sweeps, with the plan it was recorded under
    and the positions of the entries in its flat output."""

    __slots__ = ("pick", "plan", "run")

    def __init__(
        self, plan: _Plan, run: Callable[[list[Any]], tuple[Any, ...]], width: int
    ) -> None:
        self.plan, self.run = plan, run
        flat = [c * width + k for c, k in plan.sources]
        if len(flat) == 1:
            only = flat[0]
            self.pick: Callable[[Sequence[Any]], tuple[Any, ...]] = lambda out: (out[only],)
        elif flat:
            self.pick = operator.itemgetter(*flat)
        else:
            self.pick = lambda out: ()


def _entries(plan: _Plan, products: list[list[Any]], fname: str) -> tuple[Any, ...]:
    if plan.kind == "jvp" and products and len(products[0]) != plan.pattern.shape[0]:
        msg = (
            f"fad.{fname}: fun returned {len(products[0])} output leaves, but "
            f"the pattern has {plan.pattern.shape[0]} rows."
        )
        raise ValueError(msg)
    return tuple(products[c][k] for c, k in plan.sources)


def _evaluate(
    cache: dict[Any, list[_Compiled]],
    call: FlatCall,
    make_plan: Callable[[FlatCall], _Plan],
    sweep: Sweep,
) -> tuple[_Plan, tuple[Any, ...]]:
    """The plan valid at the call's point and the entries there, in its order.

    Jitted path (float leaves, a hashable key): each cached specialization of the
    sweeps program is tried in turn; its guards hold only where the function takes
    the branches it took when recorded, which is also where its plan (pattern and
    colouring, detected at that point) holds. When none applies, the plan is made
    again at this point and a new program of all the sweeps at once (``fad.jit`` of
    the list of every colour's product) is recorded beside the others. Eager path
    (tracer leaves, an unhashable key, a function that cannot be recorded, or more
    than :data:`_MAX_SPECIALIZATIONS` programs): the plan is made at this point and
    the sweeps run eagerly; nothing is kept.
    """
    leaves = call.leaves
    key = call.key
    entries: list[_Compiled] | None = None
    if key is not None and all(type(x) is float for x in leaves):
        entries = cache.get(key)
        if entries is None:
            if len(cache) >= _CACHE_SIZE:
                # drop the oldest; another thread may have dropped it already
                with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                    del cache[next(iter(cache))]
            entries = cache[key] = []
        for e in entries:
            try:
                flat = e.run(leaves)
            except GuardFailed:
                continue
            return e.plan, e.pick(flat)
    plan = make_plan(call)
    kind: Sweep = sweep if plan.kind == "hvp" else plan.kind
    if entries is None or len(entries) >= _MAX_SPECIALIZATIONS:
        return plan, _entries(plan, run_sweeps(call, kind, plan.seeds), call.fname)
    seeds = plan.seeds

    def sweeps(x: list[Any]) -> list[list[Any]]:
        if not seeds:  # no entries: the program only checks the branches
            call(x)
            return []
        return run_sweeps(call, kind, seeds, x)

    sweeps.__name__ = f"{call.fname}_sweeps"
    j: Jitted[..., list[list[Any]]] = Jitted(sweeps, (), (), 1)
    products = j(list(leaves))
    data = _entries(plan, products, call.fname)
    specs = j.specializations
    if specs and specs[0].ir is not None:
        width = len(products[0]) if products else 0
        ir = prune_zeros(specs[0].ir)
        program = emit(schedule(ir), FLOAT_TABLE, sweeps.__name__)
        entries.append(_Compiled(plan, program.run, width))
    return plan, data


def _n_outputs(call: FlatCall) -> int:
    return len(output_leaves(call(call.leaves), call.fname))


def sparse_jacobian(
    fun: Callable[P, Any],
    argnums: int | Sequence[int] = 0,
    *,
    mode: Literal["auto", "fwd", "rev"] = "auto",
    sparsity: Any = None,
) -> Callable[P, SparseMatrix]:
    """Jacobian of ``fun`` as a sparse matrix, by colouring and compressed sweeps.

    The Jacobian is ``m × n``: rows are the output's leaves, columns the leaves of
    the differentiated argument(s), both in :func:`fad.tree.tree_flatten` order. Its
    pattern is detected by :func:`fad.jacobian_sparsity` at the first call with each
    input structure (a branch on the inputs counts only where it was taken at that
    point) and cached with its colouring and one jitted program of all the sweeps;
    the program's guards hold where the same branches are taken, and elsewhere the
    pattern is detected again. Pass ``sparsity=`` to give the pattern instead (it
    must contain every entry that can be nonzero, else those entries are lost). The
    forward side colours the columns (one :func:`fad.jvp` per colour), the reverse
    side the rows (one recording, one pullback per colour).

    Args:
        fun: a function returning a pytree of real scalars.
        argnums: an int or a tuple of ints: the argument(s) to differentiate.
        mode: ``"fwd"``, ``"rev"``, or ``"auto"`` (default): the side with fewer
            colours, forward on a tie.
        sparsity: the pattern, as a :class:`fad.sparse.SparseMatrix`, a
            ``scipy.sparse`` matrix or a dense 0/1 matrix of shape ``(m, n)``; or
            ``None`` to detect it.

    Returns:
        A function of ``fun``'s arguments giving a :class:`fad.sparse.SparseMatrix`
        whose ``n_colors`` is the number of sweeps it took.

    Raises:
        ValueError: for an unknown ``mode``, or a ``sparsity`` of the wrong shape.
        TypeError: if a differentiated or output leaf is not a real scalar, or
            ``sparsity`` is not a matrix.

    Example:
        >>> import fad
        >>> def residual(u):  # a 1-d Laplacian with u = 0 outside
        ...     n = len(u)
        ...     pad = [0.0, *u, 0.0]
        ...     return [pad[i] - 2 * pad[i + 1] + pad[i + 2] + u[i] ** 3 for i in range(n)]
        >>> jac = fad.sparse_jacobian(residual)([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        >>> jac
        SparseMatrix(shape=(6, 6), nnz=16, n_colors=3)
        >>> jac.todense()[1]
        [1.0, 10.0, 1.0, 0.0, 0.0, 0.0]
    """
    if not callable(fun):
        msg = f"fad.sparse_jacobian expects a function, not {type(fun).__name__}."
        raise TypeError(msg)
    nums = check_argnums(argnums, "sparse_jacobian")
    if mode not in ("auto", "fwd", "rev"):
        msg = f'fad.sparse_jacobian: mode={mode!r}; use "auto", "fwd" or "rev".'
        raise ValueError(msg)
    cache: dict[Any, list[_Compiled]] = {}

    def plan_for(call: FlatCall) -> _Plan:
        n = len(call.leaves)
        if sparsity is None:
            pattern = _jacobian_pattern(call)
        else:
            pattern = as_pattern(sparsity, (_n_outputs(call), n), "fad.sparse_jacobian")
        rows = pattern.row_cols()
        col_colors = _coloring.column_coloring(rows, n) if mode != "rev" else None
        row_colors = _coloring.row_coloring(rows, n) if mode != "fwd" else None
        if row_colors is None or (
            col_colors is not None
            and _coloring.n_colors(col_colors) <= _coloring.n_colors(row_colors)
        ):
            assert col_colors is not None
            colors = col_colors
            sources = [(colors[c], r) for r, c in zip(pattern.rows, pattern.cols, strict=True)]
            return _Plan(pattern, "jvp", colors, sources)
        colors = row_colors
        sources = [(colors[r], c) for r, c in zip(pattern.rows, pattern.cols, strict=True)]
        return _Plan(pattern, "vjp", colors, sources)

    def sparse_jacobian_f(*args: Any, **kwargs: Any) -> SparseMatrix:
        call = flat_call(fun, argnums, nums, args, kwargs, "sparse_jacobian")
        plan, data = _evaluate(cache, call, plan_for, "jvp")
        p = plan.pattern
        return SparseMatrix._sorted(p.rows, p.cols, p.shape, data, plan.n_colors)

    return sparse_jacobian_f


def _symmetric(pattern: SparseMatrix) -> SparseMatrix:
    if pattern == pattern.T:
        return pattern
    rows = pattern.rows + pattern.cols
    cols = pattern.cols + pattern.rows
    return SparseMatrix(rows, cols, pattern.shape)


def _scalar_output(call: FlatCall) -> None:
    result = call(call.leaves)
    out = output_leaves(result, call.fname)
    if len(out) != 1 or isinstance(result, (list, tuple, dict)):
        msg = (
            f"fad.{call.fname}: fun must return one real scalar, but it returned "
            f"{type(result).__name__} with {len(out)} leaves."
        )
        raise TypeError(msg)


def sparse_hessian(
    fun: Callable[P, Any], argnums: int | Sequence[int] = 0, *, sparsity: Any = None
) -> Callable[P, SparseMatrix]:
    """Hessian of scalar ``fun`` as a sparse matrix, by star colouring.

    The Hessian is ``n × n`` over the leaves of the differentiated argument(s), in
    :func:`fad.tree.tree_flatten` order. Its pattern is detected by
    :func:`fad.hessian_sparsity` at the first call with each input structure (a
    branch on the inputs counts only where it was taken at that point) and cached
    with its star colouring and one jitted program of all the Hessian-vector
    products (each one reverse sweep over the recorded gradient), valid where the
    same branches are taken; pass ``sparsity=`` to give the pattern instead (it is
    made symmetric; it must contain every entry that can be nonzero). Every entry is
    read directly from one of the products.

    Args:
        fun: a function returning one real scalar.
        argnums: an int or a tuple of ints: the argument(s) to differentiate.
        sparsity: the pattern (``n × n``), as a :class:`fad.sparse.SparseMatrix`, a
            ``scipy.sparse`` matrix or a dense 0/1 matrix; or ``None`` to detect it.

    Returns:
        A function of ``fun``'s arguments giving a symmetric
        :class:`fad.sparse.SparseMatrix` whose ``n_colors`` is the number of
        Hessian-vector products it took.

    Raises:
        TypeError: if ``fun`` does not return one real scalar, a differentiated
            leaf is not a real scalar, or ``sparsity`` is not a matrix.
        ValueError: if ``sparsity`` has the wrong shape.

    Example:
        >>> import fad
        >>> def rosenbrock(x):
        ...     return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
        ...                for i in range(len(x) - 1))
        >>> h = fad.sparse_hessian(rosenbrock)([1.0] * 5)
        >>> h
        SparseMatrix(shape=(5, 5), nnz=13, n_colors=3)
        >>> h.todense()[1]
        [-400.0, 1002.0, -400.0, 0.0, 0.0]
    """
    if not callable(fun):
        msg = f"fad.sparse_hessian expects a function, not {type(fun).__name__}."
        raise TypeError(msg)
    nums = check_argnums(argnums, "sparse_hessian")
    cache: dict[Any, list[_Compiled]] = {}

    def plan_for(call: FlatCall) -> _Plan:
        n = len(call.leaves)
        if sparsity is None:
            pattern = _hessian_pattern(call)
        else:
            _scalar_output(call)
            pattern = _symmetric(as_pattern(sparsity, (n, n), "fad.sparse_hessian"))
        rows = pattern.row_cols()
        colors = _coloring.star_coloring(rows)
        sources = [(c, r) for r, c in _coloring.star_recovery_sources(rows, colors)]
        return _Plan(pattern, "hvp", colors, sources)

    def sparse_hessian_f(*args: Any, **kwargs: Any) -> SparseMatrix:
        call = flat_call(fun, argnums, nums, args, kwargs, "sparse_hessian")
        plan, data = _evaluate(cache, call, plan_for, _JIT_HVP)
        p = plan.pattern
        return SparseMatrix._sorted(p.rows, p.cols, p.shape, data, plan.n_colors)

    return sparse_hessian_f
