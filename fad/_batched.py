"""Jacobians of a jitted function in one batched sweep.

``fad.jacrev(fad.jit(f))``, ``fad.jacfwd(fad.jit(f))`` and ``fad.hessian(fad.jit(f))``
come here (``fad._api`` asks :func:`batched_jacobian` when it makes them). Each
Jacobian is a linear map of a seed, recorded once at the point:

- ``jacrev``: the VJP, ``ct ↦ ctᵀ J`` (one seed per output leaf);
- ``jacfwd``: the JVP, ``t ↦ J t`` (one seed per input leaf);
- ``hessian``: the JVP of the gradient, ``t ↦ H t``.

The seeds are the identity's rows, known when the program is made. Two ways to run
every seed in one sweep, chosen by a cost model:

- **the folded program** (:func:`fad._ir.fold_seeds`): one straight-line float
  program computing the forward equations once and, for each seed, the linear
  equations with the seed's entries as constants, its zeros folded away as the eager
  sweeps skip what never flowed. Each row costs only the equations its seed reaches:
  a sparse Jacobian costs about one reverse sweep in all. It needs no numpy.
- **the numpy sweep** (:func:`fad.vmap` with the point unmapped and the seeds mapped):
  the forward equations once on floats, the linear ones once on arrays holding every
  seed (one numpy call per operation), for a dense Jacobian, where folding would
  write the whole linear map once per seed.

The folded program is made when its linear part has at most :data:`FLOAT_PER_NUMPY_OP`
equations per linear equation of the recorded map (numpy present; without numpy, up
to :data:`MAX_FOLDED_OPS` equations in all). :attr:`BatchedJacobian.n_sweeps` counts
the runs of either program. Programs are cached per argument structure and recorded
again when a guard of the function fails (a branch taken the other way): one plan per
side of the branches. Whatever does not fit (keyword
arguments, ``has_aux``, leaves that are not floats, tracers; a result that is not
finite, where the eager sweeps' handling of zeros decides) takes the transform's
ordinary path.
"""

from __future__ import annotations

import gc
import itertools
import math
import sys
from collections.abc import Callable
from typing import Any

from fad._core import check_live, finish, new_level
from fad._emit import FLOAT_TABLE, GuardFailed, Program, emit
from fad._ir import IR, fold_seeds, schedule, simplify
from fad._jit import Jitted, flat_float_key
from fad._vmap import Vmapped
from fad.tracers.recorder import Recording
from fad.tree import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["FLOAT_PER_NUMPY_OP", "MAX_FOLDED_OPS", "BatchedJacobian", "batched_jacobian"]

FLOAT_PER_NUMPY_OP = 20
"""Equations of the folded program's linear part allowed per linear equation of the map
(with numpy): about what one numpy call on ~100 seeds costs in float operations of
emitted code (``python benchmarks/vmap.py --part 3`` shows the break-even)."""

MAX_FOLDED_OPS = 50_000
"""The largest folded program made: it bounds the first call's time, which recording,
folding and compiling make grow with the program (figures in docs/benchmarks.md)."""

MAX_PLANS = 8
"""Programs kept per argument structure (one per side of the branches met)."""


class Plan:
    """How a Jacobian is computed for one argument structure and one side of the branches.

    Attributes:
        kind: ``"folded"`` (one float program) or ``"numpy"`` (one sweep on arrays).
        linear: the recorded linear map (its seed inputs after the point's leaves).
        ir: the folded program's IR (``None`` for the numpy sweep).
        program: the folded program, compiled (``None`` for the numpy sweep).
        n_rows, n_cols: the Jacobian's shape, output leaves by input leaves.
    """

    def __init__(
        self,
        kind: str,
        linear: IR,
        ir: IR | None,
        layout: tuple[PyTreeDef, PyTreeDef, PyTreeDef, bool],
        n_cols: int,
        vmapped: Vmapped[..., Any] | None = None,
        label: str = "f",
    ) -> None:
        self.kind = kind
        self.linear = linear
        self.ir = ir
        self.a_def, self.o_def, self.p_def, self.single = layout
        self.n_rows = self.o_def.num_leaves
        self.n_cols = n_cols
        in_def = self.p_def.children[0] if self.single else self.p_def
        o_def = self.o_def
        self.matrix = (
            o_def.kind is _LIST and in_def.kind is _LIST and _flat(o_def) and _flat(in_def)
        )
        self.vmapped = vmapped
        self.program: Program | None = None
        # The numpy sweep's guard check: the forward equations its guards read. With a
        # guard that a seed reaches, none: the sweep partitions the seeds itself.
        self.guards: Program | None = None
        if vmapped is not None and not _seed_guards(linear, self.a_def.num_leaves):
            check = IR(
                linear.n_inputs,
                linear.prims,
                linear.args,
                linear.types,
                linear.consts,
                [],
                linear.guards,
            )
            self.guards = emit(schedule(simplify(check)), FLOAT_TABLE, label + " (guards)")
        # The folded program returns the entries that are not constants: where they
        # go, and the constant entries (the zeros of the sparsity pattern).
        self.positions: list[tuple[int, int]] = []
        self.template: list[list[Any]] = []
        self.finite = True  # whether the constant entries are finite
        if ir is not None:
            outs = ir.outputs
            self.template = [
                [
                    _entry(ir.consts[-1 - a]) if a < 0 else 0.0
                    for a in outs[i * n_cols : (i + 1) * n_cols]
                ]
                for i in range(self.n_rows)
            ]
            self.finite = all(map(math.isfinite, itertools.chain(*self.template)))
            self.positions = [divmod(k, n_cols) for k, a in enumerate(outs) if a >= 0]
            ir.outputs = [a for a in outs if a >= 0]
            self.program = emit(schedule(ir), FLOAT_TABLE, label + " (seeds folded)")

    def assemble(self, values: Any) -> Any:
        """The Jacobian in its pytree layout from the folded program's outputs."""
        rows = [r.copy() for r in self.template]
        for (i, j), v in zip(self.positions, values, strict=True):
            rows[i][j] = v
        return self.shape(rows)

    def assemble_flat(self, flat: Any) -> Any:
        """The Jacobian in its pytree layout from its entries, row-major."""
        n = self.n_cols
        return self.shape([list(flat[i * n : (i + 1) * n]) for i in range(self.n_rows)])

    def shape(self, rows: list[list[Any]]) -> Any:
        """The Jacobian in its pytree layout from its rows (one per output leaf)."""
        if self.matrix:
            return rows  # lists of floats: the matrix as it is
        if self.single:
            rows = [tree_unflatten(self.p_def, r)[0] for r in rows]
        else:
            rows = [tree_unflatten(self.p_def, r) for r in rows]
        return tree_unflatten(self.o_def, rows)

    def __repr__(self) -> str:
        size = f", {self.ir.n_ops} ops" if self.ir is not None else ""
        return f"<Plan {self.kind}: {self.n_rows}×{self.n_cols}{size}>"


class BatchedJacobian:
    """The Jacobian (or Hessian) of a jitted function, its seeds in one batched sweep.

    Attributes:
        n_sweeps: runs of a batched program (one per call that took one).
        n_generic: calls that took the transform's ordinary path.
        n_recordings: recordings of the linear map (one per structure and branch side).
        plans: argument structure → the :class:`Plan` recorded for it, one per side
            of the function's branches.
        last_plan: the plan the latest batched call ran.

    Example:
        >>> import fad
        >>> jac = fad.jacrev(fad.jit(lambda v: [v[0] * v[1], v[1]]))
        >>> jac([2.0, 5.0]), jac.n_sweeps, jac.last_plan
        ([[5.0, 2.0], [0.0, 1.0]], 1, <Plan folded: 2×2, 0 ops>)
    """

    def __init__(
        self,
        jitted: Jitted[..., Any],
        kind: str,
        argnums: int | tuple[int, ...],
        generic: Callable[..., Any],
    ) -> None:
        self.jitted = jitted
        self.kind = kind
        self.argnums = argnums
        self.generic = generic
        self.n_generic = 0
        self.n_recordings = 0
        self.n_nonfinite = 0
        self._folded_sweeps = 0
        self.plans: dict[Any, list[Plan]] = {}
        self._unbatchable: set[Any] = set()
        self.last_plan: Plan | None = None
        self.__name__ = f"{kind}_of_{getattr(jitted, '__name__', 'fun')}"
        self.__doc__ = f"fad.{kind} of a jitted function, in one batched sweep."

    @property
    def n_sweeps(self) -> int:
        """Runs of the batched programs so far (folded or numpy)."""
        numpy = sum(p.vmapped.n_sweeps for ps in self.plans.values() for p in ps if p.vmapped)
        return self._folded_sweeps + numpy

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            return self._generic(args, kwargs)
        key, leaves = flat_float_key(args, empty=False)  # as fad.jit's calls
        if key is None:
            leaves, a_def = tree_flatten(args)
            if not all(type(x) is float for x in leaves):
                return self._generic(args, kwargs)
            key = a_def
        plans = self.plans.get(key)
        if plans is None:
            n_args = len(args)
            nums = (self.argnums,) if isinstance(self.argnums, int) else self.argnums
            if not nums or not all(-n_args <= i < n_args for i in nums):
                return self._generic(args, kwargs)
            plans = self.plans[key] = []
        for plan in plans:
            result = self._run(plan, leaves)
            if result is _NONFINITE:
                return self._generic(args, kwargs)
            if result is not _FAILED:
                return result
        if len(plans) >= MAX_PLANS or key in self._unbatchable:
            return self._generic(args, kwargs)
        new = self._record(args, leaves, key)
        if new is None:
            return self._generic(args, kwargs)
        plans.append(new)
        result = self._run(new, leaves)
        if result is _FAILED or result is _NONFINITE:
            return self._generic(args, kwargs)
        return result

    def _run(self, plan: Plan, leaves: list[Any]) -> Any:
        """The Jacobian by ``plan``; ``_FAILED`` if a guard fails, ``_NONFINITE`` if some
        entry is not finite (the eager sweeps' handling of zeros then decides)."""
        program = plan.program
        if program is None:
            if plan.guards is not None:  # the side of the branches it was recorded on
                try:
                    plan.guards.run(leaves)
                except GuardFailed:
                    return _FAILED
            return self._numpy(plan, leaves)
        try:
            out = program.run(leaves)
        except GuardFailed:
            return _FAILED
        self._folded_sweeps += 1
        total = sum(out)
        if total - total != 0.0 or not plan.finite:  # a sum that overflows too
            self.n_nonfinite += 1
            return _NONFINITE
        self.last_plan = plan
        return plan.assemble(out)

    def _generic(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.n_generic += 1
        return self.generic(*args, **kwargs)

    # -- recording ----------------------------------------------------------------------
    def _record(self, args: tuple[Any, ...], a_leaves: list[Any], key: Any) -> Plan | None:
        """Record the linear map at this point and make its plan (None: not batchable;
        ``key`` is then marked so when no point of the structure can be)."""
        n_args = len(args)
        nums = (self.argnums,) if isinstance(self.argnums, int) else self.argnums
        nums = tuple(i % n_args for i in nums)
        a_def = tree_flatten(args)[1]
        diff = tuple(args[i] for i in nums)
        p_leaves, p_def = tree_flatten(diff)
        if not p_leaves:
            self._unbatchable.add(key)
            return None
        single = isinstance(self.argnums, int)
        o_def: PyTreeDef | None = None
        if self.kind == "jacrev":
            o_leaves, o_def = tree_flatten(self.jitted(*args))
            if not o_leaves or not all(type(x) is float or type(x) is int for x in o_leaves):
                self._unbatchable.add(key)  # the ordinary path says what is wrong
                return None
            n_seeds = len(o_leaves)
        else:
            n_seeds = len(p_leaves)
        found: list[PyTreeDef] = []
        linear = _linear_map(self.jitted.fun, self.kind, nums, p_def, o_def, found)
        seed = [0.0] * n_seeds
        seed[0] = 1.0
        level = new_level()
        rec = Recording(level)
        inputs = rec.inputs([*a_leaves, *seed])
        n = len(a_leaves)
        r_args = tree_unflatten(a_def, inputs[:n])
        self.n_recordings += 1
        enabled = gc.isenabled()
        gc.disable()
        try:
            outs = linear(r_args, inputs[n:])
        except BaseException:
            finish(level)
            raise
        finally:
            if enabled:
                gc.enable()
        check_live(outs, self.kind, level)
        if rec.tainted:
            return None
        ir = simplify(rec.to_ir(outs))
        if self.kind == "jacfwd":
            o_def = found[0]
        elif self.kind == "hessian":
            o_def = p_def.children[0] if single else p_def
        assert o_def is not None
        layout = (a_def, o_def, p_def, single)
        label = getattr(self.jitted, "__name__", "f")
        np = sys.modules.get("numpy")
        seeds = range(n, n + n_seeds)
        if np is None:
            budget = MAX_FOLDED_OPS
        else:
            n_linear = _count_linear(ir, seeds)
            n_forward = ir.n_ops - n_linear  # run once either way
            budget = min(MAX_FOLDED_OPS, n_forward + FLOAT_PER_NUMPY_OP * n_linear)
        eye = [[1.0 if j == i else 0.0 for j in range(n_seeds)] for i in range(n_seeds)]
        folded = fold_seeds(ir, seeds, eye, budget)
        if folded is not None:
            k = len(ir.outputs)  # per seed
            if self.kind != "jacrev":  # seed j gives column j; else seed i gives row i
                outs_ = folded.outputs
                folded.outputs = [outs_[j * k + i] for i in range(k) for j in range(n_seeds)]
            return Plan("folded", ir, folded, layout, len(p_leaves), label=label)
        if np is None:  # too large to fold, and no numpy
            self._unbatchable.add(key)
            return None
        vm = Vmapped(_linear_map(self.jitted.fun, self.kind, nums, p_def, o_def, []), (None, 0), 0)
        return Plan("numpy", ir, None, layout, len(p_leaves), vm, label)

    # -- running ------------------------------------------------------------------------
    def _numpy(self, plan: Plan, leaves: list[Any]) -> Any:
        np = sys.modules["numpy"]
        assert plan.vmapped is not None
        n_seeds = plan.n_rows if self.kind == "jacrev" else plan.n_cols
        args = tree_unflatten(plan.a_def, leaves)
        _, columns, _, _ = plan.vmapped.columns((args, np.eye(n_seeds)), {})
        # columns[k][s]: leaf k of the linear map at seed s
        mat = np.array([np.broadcast_to(c, (n_seeds,)) for c in columns], dtype=float)
        if self.kind == "jacrev":  # row i (output leaf i) is the map at seed i
            mat = mat.T
        if not np.isfinite(mat).all():
            # 0 · inf of a seed's zero, which the eager sweeps never compute
            self.n_nonfinite += 1
            return _NONFINITE
        self.last_plan = plan
        return plan.assemble_flat(mat.ravel().tolist())


_LIST = tree_flatten([0.0])[1].kind
_FAILED: Any = object()
_NONFINITE: Any = object()


def _flat(d: PyTreeDef) -> bool:
    return all(c.kind is None for c in d.children)


def _in_structure(p_def: PyTreeDef, values: list[float], single: bool) -> Any:
    g = tree_unflatten(p_def, values)
    return g[0] if single else g


def _entry(c: Any) -> Any:
    """A constant entry of a Jacobian as the eager sweeps give it (a float)."""
    return float(c) if type(c) is int or type(c) is bool else c


def _seed_guards(ir: IR, n_point: int) -> bool:
    """Whether a guard of ``ir`` reads an input after the first ``n_point`` (a seed)."""
    reached = bytearray(ir.n_inputs + ir.n_ops)
    for i in range(n_point, ir.n_inputs):
        reached[i] = 1
    for var, _, atoms in ir.equations():
        if any(a >= 0 and reached[a] for a in atoms):
            reached[var] = 1
    return any(reached[g.var] for g in ir.guards)


def _count_linear(ir: IR, seed_inputs: range) -> int:
    """The equations of ``ir`` that a seed input reaches."""
    reached = bytearray(ir.n_inputs + ir.n_ops)
    for i in seed_inputs:
        reached[i] = 1
    count = 0
    for var, _, atoms in ir.equations():
        if any(a >= 0 and reached[a] for a in atoms):
            reached[var] = 1
            count += 1
    return count


def _linear_map(
    fun: Callable[..., Any],
    kind: str,
    nums: tuple[int, ...],
    p_def: PyTreeDef,
    o_def: PyTreeDef | None,
    found: list[PyTreeDef],
) -> Callable[..., Any]:
    """``(args, seed) -> flat list``: the VJP, JVP or Hessian-vector product at ``args``.

    The structure of the JVP's output is appended to ``found``.
    """
    from fad._api import grad, jvp, vjp

    def partial(args: tuple[Any, ...]) -> Callable[..., Any]:
        def f(*diff: Any) -> Any:
            full = list(args)
            for i, d in zip(nums, diff, strict=True):
                full[i] = d
            return fun(*full)

        return f

    def linear(args: tuple[Any, ...], seed: Any) -> list[Any]:
        diff = tuple(args[i] for i in nums)
        f = partial(args)
        s = list(seed)
        if kind == "jacrev":
            assert o_def is not None
            _, vjp_fun = vjp(f, *diff)
            return tree_flatten(vjp_fun(tree_unflatten(o_def, s)))[0]
        tangents = tuple(tree_unflatten(p_def, s))
        if kind == "jacfwd":
            leaves, d = tree_flatten(jvp(f, diff, tangents)[1])
            found.append(d)
            return leaves
        g = grad(f, argnums=tuple(range(len(nums))))
        return tree_flatten(jvp(g, diff, tangents)[1])[0]

    return linear


def batched_jacobian(
    fun: Any, kind: str, argnums: int | tuple[int, ...], has_aux: bool, generic: Any
) -> Any:
    """The batched form of ``fad.<kind>(fun)`` if ``fun`` is jitted, else ``generic``.

    Example:
        >>> import fad
        >>> [type(fad.jacfwd(f)).__name__ for f in (fad.jit(fad.math.sin), fad.math.sin)]
        ['BatchedJacobian', '_Jacfwd']
    """
    if type(fun) is not Jitted or has_aux or fun._has_static:
        return generic
    if isinstance(argnums, list):
        argnums = tuple(argnums)
    return BatchedJacobian(fun, kind, argnums, generic)
