"""``fad.vmap``: a function mapped over an axis of its arguments' arrays.

A mapped argument's array leaves (numpy arrays; without numpy, lists of numbers,
nested for more than one dimension) carry the batch along the given axis; the other
arguments are the same for every point. Two ways to compute the batch:

- **the fast path**: ``fun`` is recorded once at one point with ``fad.jit``'s
  recorder, and the program is emitted with the numpy table (:mod:`fad._numpy`): one
  numpy call per operation for the whole batch, on float64 arrays. Every guard of the
  program becomes a boolean array over the batch; the points where some guard fails
  run the next specialization (recorded at the first such point), results put back
  in order. Points with a non-finite result are computed again by ``fun`` itself, so
  that an error is raised where the eager function raises one. After the cap of
  specializations the remaining points run ``fun`` one by one.
- **memory**: the numpy program is scheduled for few live arrays (its guards only
  clear points in a mask, so they need not come first: :func:`_schedule_batched`),
  and every float64 array it makes is written with ``out=`` into a planned buffer
  (:func:`fad._numpy.plan_buffers`), the outputs straight into the rows of the
  result matrix. The buffers of a program are allocated once and kept between
  calls; a run takes them for itself (``dict.pop``), so that concurrent runs
  (threads) never share them, and no buffer ever leaves a run. The result matrix
  of a call is fresh unless the last call's is no longer referenced (no view of it
  left, which a weak reference to its base tells): then its memory is reused, which
  saves the kernel's zeroing of new pages. The mapped arrays are copied in once
  per block, transposed, so that each point's coordinate is a contiguous row.
- **the per-point loop**, when the fast path does not apply (numpy missing, tracers
  in the arguments, integer or object arrays): ``fun`` called once per point.

Outputs are stacked along ``out_axes``: numpy arrays when a mapped argument was one
(a per-point list of numbers then becomes a 2-D array), else lists (a per-point list
of numbers becomes a list of B lists).
"""

from __future__ import annotations

import gc
import math
import pickle
import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from fad._core import check_live, is_tracer, new_level
from fad._emit import Program, emit
from fad._ir import IR, demand_order, reorder
from fad._jit import Jitted, Specialization, _with_all_leaves
from fad.tracers.recorder import Recording
from fad.tree import (
    PyTreeDef,
    tree_flatten,
    tree_unflatten,
)

__all__ = ["Vmapped", "vmap"]

P = ParamSpec("P")
R = TypeVar("R")

AxisSpec = Any  # int | None | a pytree prefix of them


def _np() -> Any:
    return sys.modules.get("numpy")


def _is_ndarray(x: Any) -> bool:
    np = _np()
    return np is not None and type(x) is np.ndarray


class _Slot:
    """A placeholder leaf: the ``k``-th mapped array of the arguments."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k

    def __repr__(self) -> str:
        return f"<mapped {self.k}>"


class _Entry:
    """A mapped array: the array, its axis, where it is, and its shape."""

    __slots__ = ("axis", "is_list", "path", "shape", "value")

    def __init__(self, value: Any, axis: int, path: str, shape: tuple[int, ...]) -> None:
        self.value = value
        self.axis = axis
        self.path = path
        self.shape = shape
        self.is_list = not _is_ndarray(value)


def _is_scalar(x: Any) -> bool:
    t = type(x)
    return t is float or t is int or (t is not bool and is_tracer(x))


def _list_shape(x: Any, path: str, fname: str) -> tuple[int, ...] | None:
    """The shape of a rectangular nested list of scalars, or None if it is not one."""
    if type(x) is not list:
        return None
    if not x:
        return (0,)
    if all(_is_scalar(e) for e in x):
        return (len(x),)
    if not all(type(e) is list for e in x):
        return None
    shapes = [_list_shape(e, f"{path}[{i}]", fname) for i, e in enumerate(x)]
    if any(s is None for s in shapes):
        return None
    first = shapes[0]
    for i, s in enumerate(shapes):
        if s != first:
            msg = (
                f"fad.{fname}: {path} is a ragged list: its item 0 has shape {first} and "
                f"its item {i} has shape {s}. A list stands in for an array only when "
                "it is rectangular; pass a numpy array or lists of one length."
            )
            raise ValueError(msg)
    assert first is not None
    return (len(x), *first)


def _one_level(x: Any) -> tuple[list[Any], PyTreeDef]:
    return tree_flatten(x, is_leaf=lambda y: y is not x)


def _walk(
    value: Any, spec: AxisSpec, path: str, entries: list[_Entry], fname: str, argname: str
) -> Any:
    """``value`` with each mapped array replaced by a :class:`_Slot`."""
    if spec is None or value is None:
        return value
    if isinstance(spec, int) and not isinstance(spec, bool):
        where = f"{argname}{path}"
        if _is_ndarray(value):
            shape = tuple(value.shape)
        else:
            shape = _list_shape(value, where, fname)  # type: ignore[assignment]
        if shape is not None:
            ndim = len(shape)
            if not -ndim <= spec < ndim if ndim else True:
                msg = (
                    f"fad.{fname} was asked to map {where} along axis {spec}, which needs "
                    f"a rank of at least {spec + 1 if spec >= 0 else -spec}, but its rank "
                    f"is {ndim} (shape {shape}). Use an axis in [-{ndim}, {ndim}), or "
                    "in_axes=None for an argument that is the same for every point."
                    if ndim
                    else f"fad.{fname} was asked to map {where} along axis {spec}, but it "
                    "has rank 0 (shape ()): nothing to map over. Use in_axes=None for it."
                )
                raise ValueError(msg)
            entries.append(_Entry(value, spec % ndim, where, shape))
            return _Slot(len(entries) - 1)
        if _is_scalar(value) or type(value) is bool:
            msg = (
                f"fad.{fname} was asked to map {where} along axis {spec}, but it is a "
                f"scalar ({type(value).__name__} {value!r}), of rank 0: nothing to map "
                "over. Pass an array (or a list) of the points, or in_axes=None for a "
                "value that is the same for every point."
            )
            raise ValueError(msg)
        children, cdef = _one_level(value)
        if cdef.kind is None:
            msg = (
                f"fad.{fname} was asked to map {where} along axis {spec}, but it is a "
                f"{type(value).__name__}, not an array, a list or a pytree of them."
            )
            raise ValueError(msg)
        paths = _child_paths(value, len(children))
        new = [
            _walk(c, spec, path + p, entries, fname, argname)
            for c, p in zip(children, paths, strict=True)
        ]
        return tree_unflatten(cdef, new)
    # a pytree prefix of axes
    s_children, s_def = _one_level(spec)
    v_children, v_def = _one_level(value)
    if s_def.kind is None or s_def != v_def:
        msg = (
            f"fad.{fname}: in_axes specification {spec!r} for {argname}{path} must be a "
            f"tree prefix of the value, but the value is {_short(value)}. Give one axis "
            "(or None) for the whole value, or a container of the value's own structure."
        )
        raise ValueError(msg)
    paths = _child_paths(value, len(v_children))
    new = [
        _walk(c, s, path + p, entries, fname, argname)
        for c, s, p in zip(v_children, s_children, paths, strict=True)
    ]
    return tree_unflatten(v_def, new)


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) < 60 else f"a {type(x).__name__}"


def _child_paths(value: Any, n: int) -> list[str]:
    if isinstance(value, dict):
        return [f"[{k!r}]" for k in sorted(value)]
    from fad.tree import tree_flatten_with_path

    pairs = tree_flatten_with_path(value, is_leaf=lambda y: y is not value)[0]
    if len(pairs) == n:
        return [str(p) for p, _ in pairs]
    return [f"[{i}]" for i in range(n)]  # pragma: no cover


def _take(entry: _Entry, i: int) -> Any:
    """Point ``i`` of a mapped array (a float, a sub-array or a nested list)."""
    v = entry.value
    if not entry.is_list:
        np = _np()
        sub = np.take(v, i, axis=entry.axis)
        return sub.item() if sub.ndim == 0 else sub
    return _take_list(v, entry.axis, i)


def _take_list(x: Any, axis: int, i: int) -> Any:
    if axis == 0:
        return x[i]
    return [_take_list(e, axis - 1, i) for e in x]


# --------------------------------------------------------------------------------------
# outputs


class _Col:
    """A placeholder leaf in the output structure: output column ``j``."""

    __slots__ = ("j",)

    def __init__(self, j: int) -> None:
        self.j = j


def _moveaxis_list(x: list[Any], shape: tuple[int, ...], axis: int) -> Any:
    """A nested list of shape (B, *s) with its first axis moved to ``axis``."""
    if axis == 0:
        return x
    flat: list[Any] = []

    def rec(y: Any, d: int) -> None:
        if d == len(shape):
            flat.append(y)
        else:
            for e in y:
                rec(e, d + 1)

    rec(x, 0)
    order = list(range(1, len(shape)))
    order.insert(axis, 0)
    new_shape = tuple(shape[a] for a in order)
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]

    def build(prefix: tuple[int, ...]) -> Any:
        d = len(prefix)
        if d == len(new_shape):
            idx = [0] * len(shape)
            for pos, a in enumerate(order):
                idx[a] = prefix[pos]
            return flat[sum(k * s for k, s in zip(idx, strides, strict=True))]
        return [build((*prefix, k)) for k in range(new_shape[d])]

    return build(())


def _stack_column(col: Any, use_numpy: bool) -> Any:
    np = _np()
    if use_numpy:
        if _is_ndarray(col):
            return col
        if all(type(v) is float or type(v) is int for v in col):
            return np.array(col, dtype=float)
        out = np.empty(len(col), dtype=object)
        for i, v in enumerate(col):
            out[i] = v
        return out
    if _is_ndarray(col):
        return col.tolist()
    return list(col)


def _assemble(
    o_def: PyTreeDef,
    columns: list[Any],
    n: int,
    out_axes: AxisSpec,
    use_numpy: bool,
    fname: str,
) -> Any:
    """The batched output: each array-like of the per-point output stacked along its axis."""
    template = tree_unflatten(o_def, [_Col(j) for j in range(o_def.num_leaves)])

    # the recursion goes through `rec`, not the closure: a function whose closure
    # refers to itself is a reference cycle, which would keep `columns` (the
    # caller's result arrays) alive until the next garbage collection
    def stack(t: Any, axis: AxisSpec, path: str, rec: Any) -> Any:
        if axis is None:
            return tree_unflatten(*_unmapped(t, columns, path, fname))
        if isinstance(axis, int) and not isinstance(axis, bool):
            if type(t) is _Col:
                col = _stack_column(columns[t.j], use_numpy)
                if axis not in (0, -1):
                    raise _out_axis_error(fname, axis, 0, path)
                return col
            if _is_ndarray(t):  # a per-point array of columns
                np = _np()
                flat = list(t.ravel())
                if flat:  # (per-point size, n), contiguous rows
                    arr = np.moveaxis(_stacked(columns, flat).reshape((*t.shape, n)), -1, 0)
                else:
                    arr = np.zeros((n, *t.shape))
                nd = arr.ndim
                if not -nd <= axis < nd:
                    raise _out_axis_error(fname, axis, nd - 1, path)
                return np.moveaxis(arr, 0, axis)
            shape = _list_shape_of_cols(t)
            if shape is not None:
                nd = len(shape) + 1
                if not -nd <= axis < nd:
                    raise _out_axis_error(fname, axis, nd - 1, path)
                if use_numpy:  # a batch of numpy arrays in: an array out, as JAX
                    np = _np()
                    stacked = _stacked(columns, _flat_cols(t))
                    arr = np.moveaxis(stacked.reshape((*shape, n)), -1, 0)
                    return np.moveaxis(arr, 0, axis)
                cols = [_stack_column(columns[c.j], False) for c in _flat_cols(t)]
                rows = [_nest([col[i] for col in cols], shape) for i in range(n)]
                return _moveaxis_list(rows, (n, *shape), axis % nd)
            children, cdef = _one_level(t)
            if cdef.kind is None:  # pragma: no cover - every leaf is a _Col
                return t
            paths = _child_paths(t, len(children))
            return tree_unflatten(
                cdef, [rec(c, axis, path + p, rec) for c, p in zip(children, paths, strict=True)]
            )
        s_children, s_def = _one_level(axis)
        v_children, v_def = _one_level(t)
        if s_def != v_def:
            msg = (
                f"fad.{fname}: out_axes specification {axis!r} must be a tree prefix of "
                f"the output{path}, whose structure is {v_def}."
            )
            raise ValueError(msg)
        paths = _child_paths(t, len(v_children))
        return tree_unflatten(
            v_def,
            [
                rec(c, a, path + p, rec)
                for c, a, p in zip(v_children, s_children, paths, strict=True)
            ],
        )

    return stack(template, out_axes, "", stack)


def _stacked(columns: list[Any], cols: list[_Col]) -> Any:
    """The columns ``cols`` as the rows of one ``(len(cols), n)`` array."""
    matrix = columns.matrix if type(columns) is _Rows else None
    if (
        matrix is not None
        and len(cols) == len(columns)
        and all(c.j == j for j, c in enumerate(cols))
    ):
        return matrix  # the program wrote them there: no copy
    return _np().stack([_stack_column(columns[c.j], True) for c in cols])


def _out_axis_error(fname: str, axis: int, rank: int, path: str) -> ValueError:
    where = f"the output at {path}" if path else "the output"
    return ValueError(
        f"fad.{fname}: out_axes={axis} is out of range for {where}, of rank {rank} per "
        f"point: the batch axis must lie in [-{rank + 1}, {rank + 1})."
    )


def _unmapped(t: Any, columns: list[Any], path: str, fname: str) -> tuple[PyTreeDef, list[Any]]:
    leaves, tdef = tree_flatten(t)
    vals = []
    for c in leaves:
        col = columns[c.j]
        first = col[0]
        if any(not (v == first or (v != v and first != first)) for v in col):
            where = f"the output at {path}" if path else "the output"
            msg = (
                f"fad.{fname}: out_axes=None for {where}, but it differs between the "
                "points of the batch; give it an output axis."
            )
            raise ValueError(msg)
        vals.append(
            first.item()
            if hasattr(first, "item") and _np() is not None and isinstance(first, _np().generic)
            else first
        )
    return tdef, vals


def _flat_cols(t: Any) -> list[_Col]:
    if type(t) is _Col:
        return [t]
    out: list[_Col] = []
    for e in t:
        out.extend(_flat_cols(e))
    return out


def _list_shape_of_cols(t: Any) -> tuple[int, ...] | None:
    if type(t) is not list or not t:
        return None
    if all(type(e) is _Col for e in t):
        return (len(t),)
    if not all(type(e) is list for e in t):
        return None
    shapes = [_list_shape_of_cols(e) for e in t]
    if shapes[0] is None or any(s != shapes[0] for s in shapes):
        return None
    return (len(t), *shapes[0])


def _nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0]
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


# --------------------------------------------------------------------------------------
# the compiled program on arrays


class _Batched:
    """A specialization, its numpy program and the buffers the program writes into.

    The program's float64 temporaries live in a pool of ``n_buffers`` arrays
    (:func:`fad._numpy.plan_buffers`), allocated once and kept between calls. A run
    takes the pool out of :attr:`_pool` and puts it back when done, so that two
    runs at once (threads, or a primitive's ``impl`` calling the same vmapped
    function) never share one: the second finds none and allocates its own. No
    array of the pool leaves a run (outputs are rows of a fresh matrix).
    """

    __slots__ = ("_pool", "n_buffers", "program", "spec")

    def __init__(self, spec: Specialization, program: Program, n_buffers: int) -> None:
        self.spec = spec
        self.program = program
        self.n_buffers = n_buffers
        self._pool: dict[str, _Pool] = {}  # at most one, taken by dict.pop (atomic)

    def take(self, size: int, n_inputs: int, n_outputs: int) -> _Pool:
        """A pool for runs of up to ``size`` points (inputs, outputs: rows)."""
        pool = self._pool.pop("pool", None)
        if pool is None or not pool.fits(size, n_inputs, n_outputs):
            pool = _Pool(self.n_buffers, size, n_inputs, n_outputs)
        return pool

    def give(self, pool: _Pool) -> None:
        self._pool["pool"] = pool


class _Pool:
    """The scratch of one run: buffers, transposed inputs and the guards' mask."""

    __slots__ = ("buffers", "finite", "inputs", "ok", "rows", "size")

    def __init__(self, n_buffers: int, size: int, n_inputs: int, n_outputs: int) -> None:
        np = _np()
        self.size = size
        self.buffers = np.empty((n_buffers, size))
        self.rows = list(self.buffers)
        self.inputs = np.empty((n_inputs, size))
        self.ok = np.empty(size, dtype=bool)
        self.finite = np.empty((n_outputs, size), dtype=bool)

    def fits(self, size: int, n_inputs: int, n_outputs: int) -> bool:
        return (
            self.size >= size
            and self.inputs.shape[0] >= n_inputs
            and self.finite.shape[0] == n_outputs
        )

    def views(self, m: int) -> tuple[list[Any], Any, Any, Any]:
        """The buffers, input rows, mask and finiteness for a block of ``m`` points."""
        if m == self.size:
            return self.rows, self.inputs, self.ok, self.finite
        return list(self.buffers[:, :m]), self.inputs[:, :m], self.ok[:m], self.finite[:, :m]


class _Rows(list):  # type: ignore[type-arg]
    """Output columns that are the rows of one matrix (stacked without a copy)."""

    __slots__ = ("matrix",)

    def __init__(self, matrix: Any) -> None:
        super().__init__(matrix)
        self.matrix = matrix


class _NotFloat(Exception):
    """A numpy program gave an output that is not float64 (the per-point loop runs)."""


BLOCK = 1 << 15
"""Points per run of a numpy program, at most: the cost of a numpy call per operation
is spread over many points."""

POOL_BYTES = 1 << 26
"""A bound on the memory of a program's pool (its buffers, transposed inputs and
finiteness flags): a program with many live arrays runs in smaller blocks."""


SPARE_BYTES = 1 << 27
"""The largest result matrix whose memory a :class:`Vmapped` keeps for its next call."""


def _block_size(n: int, n_buffers: int, n_rows: int, n_outputs: int) -> int:
    per_point = 8 * (n_buffers + n_rows) + n_outputs + 1
    return max(1, min(n, BLOCK, max(1024, POOL_BYTES // per_point)))


batched_recordings: set[int] = set()
"""The ids of the recordings made for a batch (``fad.cond`` records both branches there)."""


def _record_at(
    fun: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], label: str
) -> tuple[Specialization | None, Any]:
    """Record ``fun`` at one point (floats); the specialization (None if not reusable)."""
    leaves, treedef = tree_flatten((args, kwargs))
    level = new_level()
    rec = Recording(level)
    batched_recordings.add(id(rec))
    traced = [i for i, x in enumerate(leaves) if type(x) is float or type(x) is int]
    inputs = rec.inputs([leaves[i] for i in traced])
    new = list(leaves)
    for i, r in zip(traced, inputs, strict=True):
        new[i] = r
    a, kw = tree_unflatten(treedef, new)
    enabled = gc.isenabled()
    gc.disable()
    try:
        out = fun(*a, **kw)
    finally:
        batched_recordings.discard(id(rec))
        if enabled:
            gc.enable()
    o_leaves, o_def = tree_flatten(out)
    check_live(o_leaves, "vmap", level)
    if rec.tainted:
        return None, None
    ir = rec.to_ir(o_leaves)
    if len(traced) != len(leaves):
        ir = _with_all_leaves(ir, traced, len(leaves))
    return Specialization(ir, o_def, label), None


def _schedule_batched(ir: IR) -> IR:
    """:func:`fad._ir.schedule` for a numpy program, whose guards do not raise.

    A guard of a numpy program only clears points in a mask, so it need not come
    first: the outputs are computed on demand, each one after what it needs, and
    each guard's predicate right after the last equation of that order it needs.
    In a recorded gradient each forward value then lives from its computation to
    its adjoint's, not from a first pass (where the guards' predicates ask for it)
    to the end: far fewer live arrays, whose buffers stay in the processor's cache.
    Every equation computes the same numbers as before.
    """
    n_in = ir.n_inputs
    args = ir.args
    n_eq = len(ir.prims)
    by_outputs = demand_order(ir, [a - n_in for a in ir.outputs if a >= n_in])
    pos = {i: k for k, i in enumerate(by_outputs)}
    # where each equation's last needed equation of `by_outputs` is (-1: none)
    anchor = [-1] * n_eq
    for i in range(n_eq):
        k = pos.get(i)
        if k is None:
            k = max((anchor[a - n_in] for a in args[i] if a >= n_in), default=-1)
        anchor[i] = k
    after: dict[int, list[int]] = {}
    for guard in sorted(ir.guards, key=lambda g: g.var):
        after.setdefault(anchor[guard.var - n_in], []).append(guard.var - n_in)
    roots = list(after.get(-1, ()))
    for k, i in enumerate(by_outputs):
        roots.append(i)
        roots.extend(after.get(k, ()))
    return reorder(ir, demand_order(ir, roots))


def _is_power_of_two(c: float) -> bool:
    """``c`` is 2**k for an integer k >= 0 (then ``c * x`` is exact, or overflows)."""
    m, _ = math.frexp(c)
    return c >= 1.0 and math.isfinite(c) and m == 0.5


def _fold_scalings(ir: IR) -> IR:
    """``ir`` with chains of constant scalings folded where that is exact.

    A recorded gradient is full of them: ``-(2 * x)`` and ``(2 * x) * 100.0``
    (the partial of ``x ** 2`` times a constant). Two rewrites, each of an
    equation whose argument is used by it alone:

    - ``-(c * x)`` is ``(-c) * x`` (a negation is exact: it commutes with rounding);
    - ``d * (c * x)``, with ``c`` a power of two >= 1 and ``|d| >= 1`` finite (and
      ``c * d`` finite), is ``(c * d) * x``: ``c * x`` is exact (a power of two
      scales without rounding, subnormals included) unless it overflows, and then
      both sides are the same infinity since ``|d| >= 1``.

    Every variable keeps its value bit for bit; the folded equation's argument is
    left dead (the scheduler drops it).
    """
    from fad import _primitives as _P

    mul, neg = _P.mul, _P.neg
    n_in = ir.n_inputs
    uses = [0] * (n_in + len(ir.prims))
    for atoms in ir.args:
        for a in atoms:
            if a >= 0:
                uses[a] += 1
    for a in ir.outputs:
        if a >= 0:
            uses[a] += 2
    for g in ir.guards:
        uses[g.var] += 2
    consts = list(ir.consts)
    const_of: dict[float, int] = {}

    def atom(c: float) -> int:
        k = const_of.get(c)
        if k is None:
            consts.append(c)
            k = const_of[c] = -len(consts)
        return k

    def as_float(a: int) -> float | None:
        c = consts[-1 - a] if a < 0 else None
        if type(c) is int and abs(c) <= 2**53:  # exactly a float (not a bool)
            return float(c)
        return c if type(c) is float else None

    scaled: dict[int, tuple[float, int]] = {}  # var -> (c, x): the var is c * x
    prims = list(ir.prims)
    args = list(ir.args)
    changed = False
    for i, (prim, atoms) in enumerate(zip(ir.prims, ir.args, strict=True)):
        var = n_in + i
        if prim is mul and len(atoms) == 2:
            a, b = atoms
            ca, cb = as_float(a), as_float(b)
            if ca is None and cb is not None:
                a, b, ca, cb = b, a, cb, ca
            if ca is not None and cb is None:  # ca * b
                inner = scaled.get(b) if uses[b] == 1 else None
                if inner is not None:
                    c, x = inner
                    d = float(ca)
                    prod = c * d
                    if (
                        _is_power_of_two(c)
                        and math.isfinite(d)
                        and abs(d) >= 1.0
                        and math.isfinite(prod)
                    ):
                        args[i] = (x, atom(prod))
                        scaled[var] = (prod, x)
                        changed = True
                        continue
                scaled[var] = (float(ca), b)
        elif prim is neg and len(atoms) == 1:
            a = atoms[0]
            inner = scaled.get(a) if a >= 0 and uses[a] == 1 else None
            if inner is not None:
                c, x = inner
                prims[i] = mul
                args[i] = (x, atom(-c))
                scaled[var] = (-c, x)
                changed = True
    if not changed:
        return ir
    return IR(n_in, prims, args, ir.types, consts, ir.outputs, ir.guards)


def _numpy_ir(
    spec: Specialization, batched_inputs: frozenset[int], fold: bool = True
) -> tuple[IR, bytearray]:
    """The scheduled IR of ``spec`` for the numpy table, and which variables are arrays.

    Constant scalings are folded where that is exact (:func:`_fold_scalings`); the
    equations no batched input reaches stay on floats (their primitives are
    replaced by :func:`fad._numpy.scalar_twin`).
    """
    from fad._numpy import scalar_twin

    assert spec.ir is not None
    ir = _schedule_batched(_fold_scalings(spec.ir) if fold else spec.ir)
    batched = bytearray(ir.n_inputs + ir.n_ops)
    for i in batched_inputs:
        batched[i] = 1
    prims = list(ir.prims)
    for var, prim, atoms in ir.equations():
        if any(a >= 0 and batched[a] for a in atoms):
            batched[var] = 1
        else:
            prims[var - ir.n_inputs] = scalar_twin(prim)
    ir.prims = prims
    return ir, batched


def _numpy_program(spec: Specialization, batched_inputs: frozenset[int]) -> _Batched:
    """The numpy program of ``spec``, its float64 arrays in planned buffers."""
    from fad._numpy import numpy_table, plan_buffers

    ir, batched = _numpy_ir(spec, batched_inputs)
    dests, n_buffers = plan_buffers(ir, batched)
    program = emit(ir, numpy_table(), spec.label + " (numpy)", dests=dests)
    return _Batched(spec, program, n_buffers)


# --------------------------------------------------------------------------------------
# vmap


class Vmapped(Jitted[P, R]):
    """``fun`` mapped over an axis of its arguments (made by :func:`fad.vmap`).

    Attributes (as :class:`fad.jit`'s): :attr:`specializations` (the programs recorded
    for the fast path), :attr:`n_recordings`, :attr:`n_eager` (points computed by
    ``fun`` itself), and :attr:`n_sweeps` (runs of a numpy program over a batch).
    ``fad.jit`` of it is itself (it is compiled already).
    """

    _compiles_itself = True

    def __init__(
        self,
        fun: Callable[P, R],
        in_axes: AxisSpec,
        out_axes: AxisSpec,
        max_specializations: int = 8,
    ) -> None:
        super().__init__(fun, (), (), max_specializations)
        self.in_axes = in_axes
        self.out_axes = out_axes
        self.n_sweeps = 0
        self._programs: dict[int, _Batched] = {}
        self._spare: dict[str, tuple[Any, Any]] = {}  # see _output_matrix
        self._name = getattr(fun, "__name__", "fun")

    def __reduce__(self) -> Any:
        # ``fun`` by reference, and each recorded program that pickles (its numpy
        # source and the objects it names), keyed by an example of the per-point
        # structure: a worker process then runs without recording again.
        cache = []
        for (t_def, kinds), specs in self._cache.items():
            example = tree_unflatten(t_def, [0.0] * t_def.num_leaves)
            kept = []
            for spec in specs:
                batched = self._programs.get(id(spec))
                if batched is None:
                    continue
                item = (spec, batched.program, batched.n_buffers)
                try:
                    pickle.dumps(item)
                except (pickle.PicklingError, TypeError, AttributeError):
                    continue
                kept.append(item)
            if kept:
                cache.append((example, kinds, kept))
        return (
            _rebuild_vmapped,
            (self.fun, self.in_axes, self.out_axes, self.max_specializations, cache),
        )

    def __repr__(self) -> str:
        return f"<fad.vmap of {self._name}: {len(self.specializations)} specializations>"

    # -- the call -----------------------------------------------------------------------
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        o_def, columns, n, use_numpy = self.columns(args, kwargs)
        result: R = _assemble(o_def, columns, n, self.out_axes, use_numpy, "vmap")
        return result

    def columns(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[PyTreeDef, list[Any], int, bool]:
        """The batch before stacking: ``(per-point output structure, one column per
        output leaf, batch size, whether a mapped argument is a numpy array)``."""
        fname = "vmap"
        in_axes = self.in_axes
        if isinstance(in_axes, (tuple, list)):
            if len(in_axes) != len(args):
                msg = (
                    f"fad.vmap({self._name}): in_axes={in_axes!r} has {len(in_axes)} "
                    f"entries, but the function was called with {len(args)} positional "
                    "arguments; give one entry (an axis, None or a prefix tree) per "
                    "argument, or a single int for all of them."
                )
                raise ValueError(msg)
            specs = list(in_axes)
        else:
            specs = [in_axes] * len(args)
        entries: list[_Entry] = []
        template = tuple(
            _walk(a, s, "", entries, fname, f"argument {i}")
            for i, (a, s) in enumerate(zip(args, specs, strict=True))
        )
        if kwargs:  # always mapped along their axis 0, as jax.vmap does
            try:
                kwargs = {
                    k: _walk(v, 0, "", entries, fname, f"keyword argument {k!r}")
                    for k, v in kwargs.items()
                }
            except ValueError as e:
                msg = (
                    f"{e} Keyword arguments are always mapped along axis 0 (as in "
                    "jax.vmap): pass a value that is the same for every point "
                    "positionally with in_axes=None, or bind it with functools.partial."
                )
                raise ValueError(msg) from None
        if not entries:
            msg = (
                f"fad.vmap({self._name}): no argument is mapped (in_axes={in_axes!r} maps "
                "no array or list); vmap needs at least one mapped array."
            )
            raise ValueError(msg)
        sizes = [e.shape[e.axis] for e in entries]
        n = sizes[0]
        if any(s != n for s in sizes):
            lines = "".join(
                f"\n  * {e.path} has size {s} along axis {e.axis} (shape {e.shape})"
                for e, s in zip(entries, sizes, strict=True)
            )
            msg = f"fad.vmap({self._name}) got inconsistent sizes for the mapped axes:{lines}"
            raise ValueError(msg)
        use_numpy = any(not e.is_list for e in entries)
        t_leaves, t_def = tree_flatten((template, kwargs))
        out = None
        if _np() is not None or use_numpy:
            out = self._fast(t_leaves, t_def, entries, n)
        if out is None:
            out = self._loop(t_leaves, t_def, entries, range(n))
        o_def, columns = out
        return o_def, columns, n, use_numpy

    def _point(self, t_leaves: list[Any], t_def: PyTreeDef, entries: list[_Entry], i: int) -> Any:
        leaves = [_take(entries[x.k], i) if type(x) is _Slot else x for x in t_leaves]
        return tree_unflatten(t_def, leaves)

    def _call_at(self, t_leaves: list[Any], t_def: PyTreeDef, entries: list[_Entry], i: int) -> Any:
        args, kwargs = self._point(t_leaves, t_def, entries, i)
        return self.fun(*args, **kwargs)

    def _loop(
        self, t_leaves: list[Any], t_def: PyTreeDef, entries: list[_Entry], points: Any
    ) -> tuple[PyTreeDef, list[Any]]:
        """``fun`` called at each point; the output structure and its columns."""
        o_def: PyTreeDef | None = None
        columns: list[list[Any]] = []
        for i in points:
            o_leaves, d = tree_flatten(self._call_at(t_leaves, t_def, entries, i))
            if o_def is None:
                o_def = d
                columns = [[] for _ in o_leaves]
            elif d != o_def:
                msg = (
                    f"fad.vmap({self._name}): the function returned outputs of different "
                    f"structures at points 0 ({o_def}) and {i} ({d}) of the batch."
                )
                raise ValueError(msg)
            for c, v in zip(columns, o_leaves, strict=True):
                c.append(v)
        if o_def is None:
            msg = f"fad.vmap({self._name}): the batch is empty (size 0)."
            raise ValueError(msg)
        return o_def, columns

    # -- the fast path ------------------------------------------------------------------
    def _fast(
        self, t_leaves: list[Any], t_def: PyTreeDef, entries: list[_Entry], n: int
    ) -> tuple[PyTreeDef, list[Any]] | None:
        np = _np()
        if np is None or n == 0:
            return None
        kinds: list[Any] = []
        for x in t_leaves:
            t = type(x)
            if t is _Slot:
                e = entries[x.k]
                if e.is_list:
                    arr = np.asarray(e.value)
                    if arr.dtype != np.float64 or not _all_floats(e.value):
                        return None
                elif e.value.dtype != np.float64:
                    return None
                sub = e.shape[: e.axis] + e.shape[e.axis + 1 :]
                kinds.append(("mapped", sub, e.is_list))
            elif t is float or t is int:
                kinds.append(t)
            elif is_tracer(x):
                return None
            else:
                try:
                    hash(x)
                except TypeError:
                    return None
                kinds.append(("static", t, x))
        key = (t_def, tuple(kinds))
        # The program's inputs, in the order of the per-point leaves: each mapped
        # array as an (n, size) matrix of its points (a view where it can be), whose
        # columns are the inputs; the unmapped leaves as they are.
        mats: list[Any] = []
        layout: list[Any] = []  # per input: (matrix, column) or None (then `values`)
        values: list[Any] = []
        for x in t_leaves:
            if type(x) is _Slot:
                e = entries[x.k]
                arr = np.asarray(e.value, dtype=float)
                mat = np.moveaxis(arr, e.axis, 0).reshape(n, -1)
                mats.append(mat)
                for c in range(mat.shape[1]):
                    layout.append((len(mats) - 1, c))
                    values.append(None)
            else:
                layout.append(None)
                values.append(x)
        specs = self._cache.setdefault(key, [])
        pending: Any = None  # the points still to compute (None: all of them)
        out: Any = None  # (outputs, n): the results, one row per output leaf
        o_def: PyTreeDef | None = None
        eager: list[int] = []
        tried = 0
        while True:
            if tried < len(specs):
                spec = specs[tried]
                tried += 1
            elif len(specs) < self.max_specializations:
                i0 = 0 if pending is None else int(pending[0])
                args, kwargs = self._point(t_leaves, t_def, entries, i0)
                self.n_recordings += 1
                spec_or_none, _ = _record_at(self.fun, args, kwargs, self._name)
                if spec_or_none is None:
                    return None
                spec = spec_or_none
                specs.append(spec)
                tried += 1
            else:
                eager.extend(range(n) if pending is None else (int(i) for i in pending))
                break
            batched = self._programs.get(id(spec))
            if batched is None:
                b_in = frozenset(i for i, c in enumerate(layout) if c is not None)
                batched = _numpy_program(spec, b_in)
                self._programs[id(spec)] = batched
            if o_def is None:
                o_def = spec.out_def
                out = self._output_matrix(o_def.num_leaves, n)
            elif spec.out_def != o_def:
                return None  # another output structure: the per-point loop sorts it out
            if pending is None:
                part, p, target = mats, n, out
            else:
                part = [m[pending] for m in mats]
                p = len(pending)
                target = np.empty((o_def.num_leaves, p))
            try:
                run = self._run(batched, part, layout, values, p, target)
            except _NotFloat:
                return None
            if run is None:
                eager.extend(range(n) if pending is None else (int(i) for i in pending))
                break
            ok, finite = run
            good = ok & finite
            if pending is None:
                if good.all():
                    break
                where = np.arange(n)
            else:
                where = pending
                out[:, where[good]] = target[:, good]
            eager.extend(int(i) for i in where[ok & ~finite])
            pending = where[~ok]
            if not len(pending):
                break
        assert o_def is not None
        if eager:
            self.n_eager += len(eager)
            d, cols_e = self._loop(t_leaves, t_def, entries, eager)
            if d != o_def:
                return None
            results: list[Any] = _Rows(out)
            for j, col in enumerate(cols_e):
                if not all(type(v) is float for v in col):
                    if type(results) is _Rows:
                        results = list(results)
                    results[j] = results[j].astype(object)
                for i, v in zip(eager, col, strict=True):
                    results[j][i] = v
            return o_def, results
        return o_def, _Rows(out)

    def _output_matrix(self, k: int, n: int) -> Any:
        """A ``(k, n)`` float array for a call's results, handed to the caller.

        Its memory is that of the last call's results when the caller holds no
        view of them any more (a fresh array of this size would cost the kernel a
        page fault and a zeroed page per 4 KiB, more than the program itself on
        large batches). The matrix is made by ``np.frombuffer`` over a kept array,
        so every numpy view of it has it as its ``base``: a weak reference to it
        tells when none is left. The kept array is taken with ``dict.pop``, so two
        calls at once never share it.
        """
        np = _np()
        spare = self._spare.pop("out", None)
        raw = None
        if spare is not None and spare[1]() is None and spare[0].shape == (k * n,):
            raw = spare[0]
        if raw is None:
            raw = np.empty(k * n)
        if raw.nbytes > SPARE_BYTES:
            return raw.reshape(k, n)  # too large to keep once the caller drops it
        flat = np.frombuffer(memoryview(raw), dtype=np.float64)
        self._spare["out"] = (raw, weakref.ref(flat))
        return flat.reshape(k, n)

    def _run(
        self,
        batched: _Batched,
        mats: list[Any],
        layout: list[Any],
        values: list[Any],
        n: int,
        out: Any,
    ) -> tuple[Any, Any] | None:
        """Run the numpy program over ``n`` points, in blocks, writing ``out``.

        ``mats`` are the mapped matrices (``n`` rows each), ``layout`` says where each
        input is (``(matrix, column)``, or None: ``values`` holds it). Returns the
        masks of the points where the program's guards hold and where its outputs
        are finite, or None when numpy raised. Raises :class:`_NotFloat` for an
        output that is neither a float64 array nor a float.
        """
        np = _np()
        self.n_sweeps += 1
        widths = [m.shape[1] for m in mats]
        # copied in, transposed (a lone contiguous column is read where it is)
        wide = [k for k, w in enumerate(widths) if w > 1 or mats[k].strides[0] != 8]
        n_rows = sum(widths[k] for k in wide)
        block = _block_size(n, batched.n_buffers, n_rows, out.shape[0])
        pool = batched.take(block, n_rows, out.shape[0])
        ok = np.empty(n, dtype=bool)
        finite = np.empty(n, dtype=bool)
        ctx_rows: dict[int, int] = {}
        r = 0
        for k in wide:
            ctx_rows[k] = r
            r += widths[k]
        try:
            with np.errstate(all="ignore"):
                for lo in range(0, n, block):
                    hi = min(n, lo + block)
                    w, inputs, mask, fin = pool.views(hi - lo)
                    for k in wide:
                        r = ctx_rows[k]
                        np.copyto(inputs[r : r + widths[k]], mats[k][lo:hi].T)
                    leaves = [
                        values[i]
                        if loc is None
                        else (
                            inputs[ctx_rows[loc[0]] + loc[1]]
                            if loc[0] in ctx_rows
                            else mats[loc[0]][lo:hi, 0]
                        )
                        for i, loc in enumerate(layout)
                    ]
                    rows = list(out[:, lo:hi])
                    mask.fill(True)
                    try:
                        piece = batched.program.run([*leaves, (w, rows, mask)])
                    except (ArithmeticError, ValueError, TypeError):
                        return None
                    for j, o in enumerate(piece):
                        if o is rows[j]:
                            continue
                        if type(o) is float or (type(o) is np.ndarray and o.dtype == np.float64):
                            rows[j][...] = o
                        else:
                            raise _NotFloat
                    ok[lo:hi] = mask
                    np.isfinite(out[:, lo:hi], out=fin)
                    np.logical_and.reduce(fin, axis=0, out=finite[lo:hi])
        finally:
            batched.give(pool)
        return ok, finite


def _all_floats(x: Any) -> bool:
    if type(x) is list:
        return all(_all_floats(e) for e in x)
    return type(x) is float


def _rebuild_vmapped(
    fun: Callable[..., Any],
    in_axes: AxisSpec,
    out_axes: AxisSpec,
    cap: int,
    cache: Sequence[tuple[Any, Any, list[tuple[Specialization, Program, int]]]] = (),
) -> Vmapped[..., Any]:
    v: Vmapped[..., Any] = Vmapped(fun, in_axes, out_axes, cap)
    for example, kinds, kept in cache:
        specs = v._cache.setdefault((tree_flatten(example)[1], kinds), [])
        for spec, program, n_buffers in kept:
            specs.append(spec)
            v._programs[id(spec)] = _Batched(spec, program, n_buffers)
    return v


def _check_axes(spec: AxisSpec, name: str) -> None:
    leaves = tree_flatten(spec)[0]
    for a in leaves:
        if not (isinstance(a, int) and not isinstance(a, bool)):
            msg = (
                f"fad.vmap: {name} must be an int, None, or a tuple / pytree prefix of "
                f"them, but it holds {a!r} ({type(a).__name__})."
            )
            raise TypeError(msg)


def vmap(
    fun: Callable[P, R],
    in_axes: AxisSpec = 0,
    out_axes: AxisSpec = 0,
    *,
    max_specializations: int = 8,
) -> Vmapped[P, Any]:
    """Map ``fun`` over an axis of its arguments' arrays, as ``jax.vmap`` does.

    Each mapped argument's array leaves (numpy arrays, or lists of numbers standing in
    for 1-D arrays — nested lists for more dimensions) carry the batch along the
    given axis; each point of the batch is a call of ``fun`` with those arrays indexed
    there. ``fun`` is recorded once at one point and run as one numpy program over the
    whole batch (floats, numpy present); points on another side of a branch run their
    own recorded program; anything else is a loop over the points.

    Args:
        fun: the function of one point. It may be any transform of fad
            (``fad.grad(f)``, ``fad.jit(f)``, …).
        in_axes: an int (the axis of every argument's arrays), ``None`` (not mapped),
            or a tuple with one entry per positional argument, each an int, ``None``
            or a pytree prefix of that argument. Negative axes count from the end.
            Keyword arguments are always mapped along axis 0, as in ``jax.vmap``.
        out_axes: where the batch axis goes in the outputs (an int, ``None`` for an
            output that is the same at every point, or a pytree prefix).
        max_specializations: how many programs to record per input structure before
            the points that fit none run ``fun`` one by one.

    Returns:
        A function with ``fun``'s arguments giving the outputs stacked along
        ``out_axes``: numpy arrays when a mapped argument is one, else lists.

    Raises:
        ValueError: at call time, for mapped axes of different sizes, ``in_axes`` that
            do not fit the arguments, an axis out of range or a ragged list; the
            message names the argument and its path.

    Example:
        >>> import fad
        >>> fad.vmap(lambda x, y: x * y, in_axes=(0, None))([1.0, 2.0, 3.0], 10.0)
        [10.0, 20.0, 30.0]
        >>> fad.vmap(fad.grad(lambda v: v[0] * v[1]))([[1.0, 2.0], [3.0, 4.0]])
        [[2.0, 1.0], [4.0, 3.0]]
    """
    if not callable(fun):
        msg = f"fad.vmap expects a function as its first argument, not {type(fun).__name__}."
        raise TypeError(msg)
    _check_axes(in_axes, "in_axes")
    _check_axes(out_axes, "out_axes")
    return Vmapped(fun, in_axes, out_axes, max_specializations)
