"""``fad.checkpoint`` and the segments that checkpointed loops are made of.

A *segment* is a piece of a program, a function from some input leaves to some output
leaves, that reverse mode should not store. Under a reverse strategy the segment is
applied as one primitive per output leaf, whose partial derivatives are *lazy
Jacobian entries*: the forward pass runs the segment on the values one level down
(storing nothing but its inputs, the snapshot), and the backward pass, when it first
multiplies an entry of output ``j`` by a cotangent, records the segment again from the
snapshot under a fresh tape and sweeps it once for row ``j`` of the segment's Jacobian.
Every reverse strategy multiplies partials by cotangents, so the one mechanism serves
the tape, ``memo`` and ``naive``; the rows are themselves computed with fad operations
on the snapshot, which may hold tracers of enclosing transforms, so checkpoints nest
(``fad.hessian`` through a checkpointed loop checkpoints at both levels).

Only the latest re-recording is kept (one per level of nesting): the tape's backward
sweep visits a segment's output entries one after the other, so their rows come from
one recording, which is dropped when the next segment is recorded. A segment with
``s`` output leaves costs one re-run and ``s`` sweeps of that re-run.

Under forward tracers (``Dual``, ``Jet``, a user's tracer without ``seed``) a segment
runs directly: forward mode stores nothing, so there is nothing to save, and the
function's own operations give every derivative, to any order.

What a segment may close over: tracers of *enclosing* transforms (lower levels) are
fine, they are constants here and their derivatives flow through the re-recording.
A tracer of the transform that checkpoints (or of an inner one) cannot be cut out of
the segment without its being an input, so such a segment is detected (its outputs
on the lowered inputs are still that transform's tracers), run directly instead — the
derivative stays right, the memory is not saved — and a :class:`CheckpointWarning`
says to pass the value as an argument (for loops, in the carry).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from fad._core import Primitive, bind, check_live, is_tracer, new_level
from fad.tracers.tape import TapeCodual
from fad.tree import tree_flatten, tree_leaves, tree_unflatten

__all__ = ["CheckpointWarning", "Segment", "Shared", "checkpoint", "differentiable"]

P = ParamSpec("P")
R = TypeVar("R")

Run = Callable[[list[Any]], list[Any]]


class CheckpointWarning(UserWarning):
    """A checkpoint could not cut its segment out of the tape (see the message).

    Issued when a checkpointed function (or a loop's body under ``checkpoint=``) closes
    over a tracer of the reverse transform that checkpoints: the segment is then
    recorded whole, which keeps the derivative right but saves no memory.

    Example:
        >>> import warnings
        >>> import fad
        >>> def f(w):
        ...     return fad.checkpoint(lambda x: x * w)(2.0)   # closes over w
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     g = fad.grad(f)(3.0)
        >>> g, caught[0].category.__name__
        (2.0, 'CheckpointWarning')
        >>> fad.grad(lambda w: fad.checkpoint(lambda x, w: x * w)(2.0, w))(3.0)
        2.0
    """


def differentiable(value: Any) -> bool:
    """Whether a leaf carries a derivative (a float or a tracer; not an int or a bool)."""
    return type(value) is float or is_tracer(value)


def _top(leaves: Sequence[Any]) -> tuple[type, int] | None:
    """The class and level of the highest tracer among ``leaves`` (None: no tracer)."""
    top: tuple[type, int] | None = None
    for x in leaves:
        t = type(x)
        if t is float or t is int:
            continue
        if is_tracer(x):
            level = x.level
            if top is None or level > top[1]:
                top = (t, level)
    return top


def _reverse_above(value: Any, level: int) -> bool:
    """Whether ``value`` is a reverse-mode tracer of a level above ``level``."""
    return is_tracer(value) and value.level > level and callable(getattr(type(value), "seed", None))


def _ids(values: Sequence[Any]) -> tuple[int, ...]:
    return tuple(map(id, values))


class Shared:
    """What the segments of one program share: the latest re-recording, per level.

    ``name`` names the checkpointed function in warnings.
    """

    __slots__ = ("name", "slots", "warned")

    def __init__(self, name: str) -> None:
        self.name = name
        self.slots: dict[int, tuple[_Record, tuple[list[Any], Any]]] = {}  # level -> latest
        self.warned = False

    def recording(self, rec: _Record) -> tuple[list[Any], Any]:
        """The outputs and pullback of ``rec``'s segment re-recorded (the latest is kept)."""
        slot = self.slots.get(rec.level)
        if slot is not None and slot[0] is rec:
            return slot[1]
        self.slots.pop(rec.level, None)  # drop the previous recording before making one
        level = new_level()
        snap = rec.snapshot
        where = [i for i, x in enumerate(snap) if differentiable(x)]
        seeded, pullback = TapeCodual.seed([snap[i] for i in where], level)
        inputs = list(snap)
        for i, x in zip(where, seeded, strict=True):
            inputs[i] = x
        outs = rec.rerun(inputs)
        check_live(tree_leaves(outs), "checkpoint", level)  # its tape closes; sweeps still run
        made = (outs, (where, pullback, inputs))
        self.slots[rec.level] = (rec, made)
        return made

    def warn(self) -> None:
        if self.warned:
            return
        self.warned = True
        msg = (
            f"{self.name}: the checkpointed function closes over a value that the "
            "reverse-mode transform differentiates, so its interior cannot be left off "
            "the tape; it was recorded whole (the derivative is right, the memory is not "
            "saved). Pass that value as an argument of the checkpointed function (for "
            "fad.fori_loop, fad.while_loop and fad.scan: in the carry)."
        )
        warnings.warn(msg, CheckpointWarning, stacklevel=4)


class _Record:
    """One segment at one snapshot: its Jacobian rows, computed on demand."""

    __slots__ = ("level", "n_in", "rerun", "rows", "shared", "snapshot")

    def __init__(self, snapshot: list[Any], rerun: Run, shared: Shared) -> None:
        self.snapshot = snapshot
        self.rerun = rerun
        self.shared = shared
        self.n_in = len(snapshot)
        top = _top(snapshot)
        self.level = -1 if top is None else top[1]
        self.rows: dict[int, list[Any]] = {}

    def row(self, j: int) -> list[Any]:
        """∂(output j)/∂(input i) for every input i."""
        r = self.rows.get(j)
        if r is None:
            outs, (where, pullback, inputs) = self.shared.recording(self)
            out = outs[j]
            r = [0.0] * self.n_in
            passed = [i for i in where if inputs[i] is out]
            if passed:  # an input passed through unchanged: its row needs no sweep
                r[passed[0]] = 1.0
            else:
                for i, c in zip(where, pullback([out], [1.0]), strict=True):
                    r[i] = c
            self.rows[j] = r
        return r


class _Entry:
    """A lazy Jacobian entry ∂(output j)/∂(input i) of a segment: multiply it to use it."""

    __slots__ = ("i", "j", "rec")

    def __init__(self, rec: _Record, j: int, i: int) -> None:
        self.rec = rec
        self.j = j
        self.i = i

    def __mul__(self, other: Any) -> Any:
        return self.rec.row(self.j)[self.i] * other

    def __rmul__(self, other: Any) -> Any:
        return other * self.rec.row(self.j)[self.i]

    def __repr__(self) -> str:
        return f"<checkpointed partial d(output {self.j})/d(input {self.i})>"


class _SegmentPrimitive(Primitive):
    """Output leaf ``index`` of a segment, as a primitive of the segment's input leaves."""

    __slots__ = ("index", "segment")

    def __init__(self, segment: Segment, index: int, n_in: int) -> None:
        partials = [self._partial(segment, index, i) for i in range(n_in)]
        super().__init__(f"checkpoint({segment.shared.name})[{index}]", self._impl, partials)
        self.segment = segment
        self.index = index

    @staticmethod
    def _partial(segment: Segment, j: int, i: int) -> Callable[..., Any]:
        def partial(ans: Any, *primals: Any) -> Any:
            return _Entry(segment.record(primals), j, i)

        return partial

    def _impl(self, *leaves: Any) -> Any:
        return self.segment.outputs(leaves)[self.index]

    def __call__(self, *args: Any) -> Any:
        return self.segment.outputs(args)[self.index]


class Segment:
    """One call of a segment on input leaves, applied at every level of tracers.

    Args:
        run: runs the segment directly on leaves of any kind (plain numbers, forward
            tracers, or, when a checkpoint cannot apply, the reverse tracers).
        rerun: what the backward sweep records from a snapshot (``run`` itself, or a
            split into smaller segments).
        shared: the state shared with the other segments of the program.
    """

    __slots__ = ("cache", "prims", "rerun", "run", "shared")

    def __init__(self, run: Run, rerun: Run, shared: Shared) -> None:
        self.run = run
        self.rerun = rerun
        self.shared = shared
        self.cache: dict[Any, Any] = {}
        self.prims: list[_SegmentPrimitive] | None = None

    def __call__(self, leaves: list[Any]) -> list[Any]:
        """The output leaves; the caches (tracers of this call) are dropped afterwards."""
        try:
            return self.outputs(leaves)
        finally:  # the tape keeps the entries; the primitives would form cycles with self
            self.cache = {}
            self.prims = None

    def record(self, primals: Sequence[Any]) -> _Record:
        key = ("rec", _ids(primals))
        hit = self.cache.get(key)
        if hit is None:
            hit = (list(primals), _Record(list(primals), self.rerun, self.shared))
            self.cache[key] = hit
        rec: _Record = hit[1]
        return rec

    def outputs(self, leaves: Sequence[Any]) -> list[Any]:
        key = _ids(leaves)
        hit = self.cache.get(key)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        top = _top(leaves)
        if top is None or not callable(getattr(top[0], "seed", None)):
            out = self.run(list(leaves))
            below = -1 if top is None else top[1]
            if any(_reverse_above(y, below) for y in out):
                self.shared.warn()  # closes over a reverse tracer its inputs do not carry
        else:
            cls: Any = top[0]
            level = top[1]
            lowered: list[Any] = []
            for x in leaves:
                lowered.append(x.primal if type(x) is cls and x.level == level else x)
            low = self.outputs(lowered)
            if any(is_tracer(y) and y.level >= level for y in low):
                # the segment closes over this transform's tracers: record it whole
                self.shared.warn()
                out = self.run(list(leaves))
            else:
                prims = self.prims
                if prims is None or len(prims) != len(low):
                    prims = [_SegmentPrimitive(self, j, len(leaves)) for j in range(len(low))]
                    self.prims = prims
                out = [
                    bind(prims[j], *leaves) if differentiable(y) else y for j, y in enumerate(low)
                ]
        self.cache[key] = (list(leaves), out)  # keep the leaves alive: their ids are the key
        return out


def checkpoint(
    fun: Callable[P, R],
    *,
    static_argnums: int | Sequence[int] = (),
    prevent_cse: bool = True,
    policy: None = None,
) -> Callable[P, R]:
    """``fun`` with the same values and derivatives, whose interior reverse mode recomputes.

    As ``jax.checkpoint`` (``jax.remat``): under a reverse transform the tape keeps
    only ``fun``'s inputs and one entry per output leaf (with an edge to each input
    leaf), not the operations inside; the backward sweep runs ``fun`` again from its
    inputs, records it on a fresh tape and sweeps that once per output leaf. Forward
    and Taylor mode run ``fun`` directly (they store nothing). Values and derivatives
    are unchanged, in every mode and nesting.

    Differentiated values that ``fun`` uses must be its arguments: a tracer of the
    reverse transform that ``fun`` closes over cannot be cut out, so ``fun`` is then
    recorded whole and a :class:`CheckpointWarning` is issued.

    Args:
        fun: a function of pytrees of real scalars returning a pytree of them.
        static_argnums: positions of arguments that are not differentiated (flags,
            functions); passed through unchanged.
        prevent_cse: accepted for JAX compatibility; no effect (fad does not
            compile).
        policy: JAX's rematerialisation policy; only ``None`` (save nothing inside)
            is supported.

    Returns:
        A function with ``fun``'s signature.

    Raises:
        TypeError: if ``fun`` is not callable, if an argument (not static) has a leaf
            that is not a real scalar, or for an unsupported ``policy``.

    Example:
        >>> import fad
        >>> def block(x):
        ...     for _ in range(100):
        ...         x = fad.math.sin(x) + 0.5 * x
        ...     return x
        >>> fad.grad(fad.checkpoint(block))(0.3) == fad.grad(block)(0.3)
        True
    """
    if not callable(fun):
        msg = f"fad.checkpoint decorates a function, not {type(fun).__name__} {fun!r}."
        raise TypeError(msg)
    if policy is not None:
        msg = (
            "fad.checkpoint: only policy=None (store nothing inside the function) is "
            f"supported, not {policy!r}."
        )
        raise TypeError(msg)
    del prevent_cse
    statics = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    name = f"fad.checkpoint({getattr(fun, '__name__', 'fun')})"

    @functools.wraps(fun)
    def checkpointed(*args: P.args, **kwargs: P.kwargs) -> R:
        n = len(args)
        static = {i % n for i in statics if -n <= i < n}
        diff = tuple(a for i, a in enumerate(args) if i not in static)
        leaves, in_def = tree_flatten(diff)
        for k, x in enumerate(leaves):
            if type(x) is bool or not (differentiable(x) or type(x) is int):
                pos = [i for i in range(n) if i not in static]
                msg = (
                    f"{name}: an argument has a leaf of type {type(x).__name__} ({x!r}) "
                    f"at leaf {k} of the arguments {pos}; checkpointed arguments hold real "
                    "scalars. List the argument in static_argnums if it is not "
                    "differentiated."
                )
                raise TypeError(msg)
        out_def: list[Any] = []

        def run(xs: list[Any]) -> list[Any]:
            it = iter(tree_unflatten(in_def, xs))
            full = [a if i in static else next(it) for i, a in enumerate(args)]
            out = fun(*full, **kwargs)  # type: ignore[arg-type]
            o_leaves, o_def = tree_flatten(out)
            if out_def and out_def[0] != o_def:  # pragma: no cover - fun is impure
                msg = f"{name}: fun returned {o_def!r} when re-run, {out_def[0]!r} before."
                raise ValueError(msg)
            if not out_def:
                out_def.append(o_def)
            return o_leaves

        segment = Segment(run, run, Shared(name))
        outs = segment(leaves)
        result: R = tree_unflatten(out_def[0], outs)
        return result

    return checkpointed
