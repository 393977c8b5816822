"""``fad.fori_loop``, ``fad.while_loop`` and ``fad.scan``: loops with JAX's signatures.

Eagerly a loop is plain Python over fad operations: each step calls the body on the
carry, so every transform differentiates it as it differentiates any other code —
forward, every reverse strategy, Taylor mode and any nesting — including reverse mode
through a ``while_loop`` whose trip count is decided at run time (the loop runs, the
tape records the steps it took). Recording a loop under ``fad.jit`` unrolls it.

What the loops add to a Python ``for``: the carry is checked at every step (same
structure and the same kind of leaves as ``init_val``, as JAX requires), and
``checkpoint=`` bounds what reverse mode stores. With ``checkpoint=k`` the loop is cut
into segments of ``k`` steps; with ``checkpoint="binomial"`` (``snapshots=s``, by
default ⌈√T⌉) into a binomial schedule (Griewank's revolve, adapted to a forward pass
that must finish before the backward sweep starts): the top level keeps the carry at
the start of at most ``s + 1`` segments; segments of at most ``s`` steps are recorded
whole in the backward sweep, longer ones are split again by the same rule, so a step
is run at most ``t + 1`` times, ``t`` the smallest number with C(s + t, t) ≥ ⌈T / s⌉.
Each segment is a :class:`fad._checkpoint.Segment`: the tape keeps its starting carry
and one entry per carry leaf, and the backward sweep re-runs it from there.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar, cast

from fad._checkpoint import Segment, Shared
from fad._core import is_tracer, primal_value
from fad.tree import KeyPath, PyTreeDef, tree_flatten, tree_flatten_with_path, tree_unflatten

__all__ = ["fori_loop", "scan", "while_loop"]

C = TypeVar("C")

Checkpoint = int | Literal["binomial"] | None
"""``checkpoint=``: ``None`` (store every step), an int k (a snapshot every k steps) or
``"binomial"`` (a binomial schedule with ``snapshots`` snapshots)."""

Plan = list[tuple[int, int, Any]]  # (start, stop, sub-plan or None for a whole segment)


# --------------------------------------------------------------------------------------
# the carry check


def _kind(leaf: Any) -> str:
    t = type(leaf)
    if t is float:
        return "float"
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if is_tracer(leaf):
        return "float"
    if isinstance(leaf, numbers.Integral):
        return "int"
    if isinstance(leaf, numbers.Real):
        return "float"
    return t.__name__


def _described(leaf: Any) -> str:
    kind = _kind(leaf)
    if is_tracer(leaf):
        return f"float (a {type(leaf).__name__})"
    return kind


class _Carry:
    """The structure and leaf kinds of a loop's carry, checked after every step."""

    __slots__ = ("flat", "fname", "fun_name", "init_name", "kinds", "scalar", "tdef", "what")

    def __init__(self, init: Any, fname: str, fun: Callable[..., Any], what: str, init_name: str):
        leaves, self.tdef = tree_flatten(init)
        self.kinds = [_kind(x) for x in leaves]
        self.scalar = self.tdef.kind is None and self.kinds[0] == "float"
        # a plain tuple or list of real or int leaves: checked without flattening
        flat = type(init) in (tuple, list) and all(k in ("float", "int") for k in self.kinds)
        self.flat: type | None = type(init) if flat and len(leaves) == len(init) else None
        self.fname = fname
        self.fun_name = getattr(fun, "__name__", repr(fun))
        self.what = what  # "body_fun" or "f"
        self.init_name = init_name

    def leaves(self, carry: Any, step: str, n: int | None = None) -> list[Any]:
        """The leaves of ``carry`` (a body's result), checked against the initial carry."""
        if self.scalar:
            t = type(carry)
            if t is float or (t is not bool and t is not int and is_tracer(carry)):
                return [carry]
        elif type(carry) is self.flat and len(seq := cast("Sequence[Any]", carry)) == len(
            self.kinds
        ):
            for x, kind in zip(seq, self.kinds, strict=True):
                t = type(x)
                if kind == "float":
                    if t is not float and (t is bool or t is int or not is_tracer(x)):
                        break
                elif t is not int:
                    break
            else:
                return list(seq)
        leaves, tdef = tree_flatten(carry)
        if tdef != self.tdef:
            raise self._structure_error(carry, tdef, step, n)
        for k, (x, kind) in enumerate(zip(leaves, self.kinds, strict=True)):
            if _kind(x) != kind:
                raise self._type_error(carry, k, x, kind, step, n)
        return leaves

    def check(self, carry: Any, step: str, n: int | None = None) -> None:
        self.leaves(carry, step, n)

    def _head(self, step: str, n: int | None) -> str:
        if n is not None:  # the step's name is made only for a message
            step = f"{step}{n}"
        return (
            f"fad.{self.fname}: {self.what} {self.fun_name!r} must return a carry with the "
            f"structure and leaf types of {self.init_name}, but at {step} it"
        )

    def _structure_error(self, carry: Any, tdef: PyTreeDef, step: str, n: int | None) -> TypeError:
        old = {p for p, _ in _paths(self.tdef)}
        new = {p for p, _ in tree_flatten_with_path(carry)[0]}
        diff = sorted(old ^ new)
        where = f" (they differ at carry path {diff[0] or '(root)'})" if diff else ""
        msg = (
            f"{self._head(step, n)} returned a carry of structure {tdef!r}, where "
            f"{self.init_name} has structure {self.tdef!r}{where}. Return the carry in the "
            "same container, with the same keys and length."
        )
        return TypeError(msg)

    def _type_error(
        self, carry: Any, k: int, x: Any, kind: str, step: str, n: int | None
    ) -> TypeError:
        path = tree_flatten_with_path(carry)[0][k][0] or "(root)"
        fix = (
            " Start from a float (e.g. 0.0 instead of 0) if the carry is meant to hold "
            "real numbers."
            if kind == "int" and _kind(x) == "float"
            else ""
        )
        msg = (
            f"{self._head(step, n)} returned a {_described(x)} ({x!r}) at carry path {path}, "
            f"where {self.init_name} holds {'an' if kind[0] in 'aeiou' else 'a'} {kind}.{fix}"
        )
        return TypeError(msg)


def _paths(tdef: PyTreeDef) -> list[tuple[KeyPath, Any]]:
    return tree_flatten_with_path(tree_unflatten(tdef, [0.0] * tdef.num_leaves))[0]


# --------------------------------------------------------------------------------------
# checkpoint schedules


def _beta(s: int, t: int) -> int:
    """C(s + t, t): the most units ``s`` snapshots reverse with ``t`` re-runs (revolve)."""
    return math.comb(s + t, t)


def _binomial(lo: int, hi: int, s: int, leaf: int) -> Plan | None:
    """The binomial schedule of steps ``[lo, hi)`` with ``s`` snapshots (None: record whole)."""
    n = hi - lo
    if n <= leaf:
        return None
    units = -(-n // leaf)
    t = 1
    while _beta(s, t) < units:
        t += 1
    parts: Plan = []
    a = lo
    for j in range(s + 1):
        b = min(hi, a + _beta(s - j, t - 1) * leaf)
        parts.append((a, b, _binomial(a, b, max(s - j, 1), leaf)))
        a = b
        if a >= hi:
            break
    return parts


def _plan(n: int, checkpoint: Any, snapshots: Any, fname: str) -> Plan | None:
    """The schedule of ``n`` steps for ``checkpoint=`` (None: no checkpointing)."""
    if snapshots is not None and checkpoint != "binomial":
        msg = f'fad.{fname}: snapshots= is the budget of checkpoint="binomial"; pass both.'
        raise TypeError(msg)
    if checkpoint is None or n == 0:
        return None
    if checkpoint == "binomial":
        if snapshots is None:
            s = max(1, math.isqrt(n - 1) + 1)
        elif type(snapshots) is int and snapshots >= 1:
            s = snapshots
        else:
            msg = f"fad.{fname}: snapshots must be an int of at least 1, not {snapshots!r}."
            raise ValueError(msg)
        return _binomial(0, n, s, max(s, math.isqrt(n))) or [(0, n, None)]
    if type(checkpoint) is int:
        if checkpoint < 1:
            msg = f"fad.{fname}: checkpoint={checkpoint} must be at least 1 (steps per segment)."
            raise ValueError(msg)
        return [(a, min(n, a + checkpoint), None) for a in range(0, n, checkpoint)]
    msg = (
        f'fad.{fname}: checkpoint must be None, an int (steps per segment) or "binomial", '
        f"not {checkpoint!r}."
    )
    raise (ValueError if isinstance(checkpoint, str) else TypeError)(msg)


class _Stepper:
    """Runs steps ``[a, b)`` of a loop on flat leaves, whole or by a schedule.

    A segment's inputs are the carry's leaves followed by the leaves of the steps'
    ``x`` (scan over differentiated ``xs`` only); its outputs are the carry's leaves.
    """

    __slots__ = ("carry", "n_c", "n_x", "shared", "step")

    def __init__(
        self, step: Callable[[int, Any, list[Any]], Any], carry: _Carry, n_x: int, name: str
    ) -> None:
        self.step = step  # step(k, carry, x_leaves) -> new carry (checked by the caller)
        self.carry = carry
        self.n_c = carry.tdef.num_leaves
        self.n_x = n_x
        self.shared = Shared(name)

    def run(self, a: int, b: int) -> Callable[[list[Any]], list[Any]]:
        carry, step, n_c, n_x = self.carry, self.step, self.n_c, self.n_x
        tdef = carry.tdef

        def run(leaves: list[Any]) -> list[Any]:
            c = tree_unflatten(tdef, leaves[:n_c])
            xs = leaves[n_c:]
            for k in range(a, b):
                j = (k - a) * n_x
                c = step(k, c, xs[j : j + n_x])
            return carry.leaves(c, "the end of a segment")

        return run

    def run_plan(self, plan: Plan, a0: int, leaves: list[Any]) -> list[Any]:
        n_c, n_x = self.n_c, self.n_x
        carry, xs = leaves[:n_c], leaves[n_c:]
        for a, b, sub in plan:
            inputs = carry + xs[(a - a0) * n_x : (b - a0) * n_x]
            run = self.run(a, b)
            if sub is None:
                rerun = run
            else:

                def rerun(ls: list[Any], sub: Plan = sub, a: int = a) -> list[Any]:
                    return self.run_plan(sub, a, ls)

            carry = Segment(run, rerun, self.shared)(inputs)
        return carry


def _bound(value: Any, name: str, fname: str) -> int:
    v = primal_value(value)
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v)
    msg = (
        f"fad.{fname}: {name} must be an int (a trip count or loop bound), not "
        f"{type(value).__name__} {value!r}."
    )
    raise TypeError(msg)


def _check_fun(fun: Any, name: str, fname: str) -> None:
    if not callable(fun):
        msg = f"fad.{fname}: {name} must be a function, not {type(fun).__name__} {fun!r}."
        raise TypeError(msg)


# --------------------------------------------------------------------------------------
# fori_loop, while_loop


def fori_loop(
    lower: int,
    upper: int,
    body_fun: Callable[[int, C], C],
    init_val: C,
    *,
    checkpoint: Checkpoint = None,
    snapshots: int | None = None,
) -> C:
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``, as ``jax.lax.fori_loop``.

    Differentiable in every mode and nesting. With ``checkpoint=``, reverse mode
    stores only some carries and re-runs the steps between them in the backward
    sweep (see docs/loops.md); values and derivatives are unchanged.

    Args:
        lower: the first index (an int).
        upper: one past the last index (an int).
        body_fun: ``body_fun(i, val) -> val``, returning a carry of ``init_val``'s
            structure and leaf types.
        init_val: the initial carry, a pytree.
        checkpoint: ``None`` (reverse mode stores every step), an int ``k`` (a snapshot
            every ``k`` steps; each segment is recorded whole in the backward sweep) or
            ``"binomial"`` (the binomial schedule with ``snapshots`` snapshots).
        snapshots: the budget of ``checkpoint="binomial"`` (default ⌈√(upper-lower)⌉).

    Returns:
        The final carry.

    Raises:
        TypeError: if ``body_fun`` returns a carry of another structure or leaf type
            (the message names the path), or if a bound is not an int.

    Example:
        >>> import fad
        >>> fad.fori_loop(0, 5, lambda i, x: x + i, 0)
        10
        >>> def power(a):     # a ** 10, with a in the carry
        ...     return fad.fori_loop(0, 10, lambda i, c: (c[0] * c[1], c[1]), (1.0, a))[0]
        >>> power(2.0), fad.grad(power)(2.0)
        (1024.0, 5120.0)
        >>> fad.grad(lambda a: fad.fori_loop(0, 10, lambda i, c: (c[0] * c[1], c[1]), (1.0, a),
        ...                                  checkpoint="binomial", snapshots=2)[0])(2.0)
        5120.0
    """
    _check_fun(body_fun, "body_fun", "fori_loop")
    lo = _bound(lower, "lower", "fori_loop")
    hi = _bound(upper, "upper", "fori_loop")
    carry = _Carry(init_val, "fori_loop", body_fun, "body_fun", "init_val")
    plan = _plan(max(0, hi - lo), checkpoint, snapshots, "fori_loop")
    if plan is None:
        val = init_val
        check = carry.check
        for i in range(lo, hi):
            val = body_fun(i, val)
            check(val, "i=", i)
        return val

    def step(k: int, c: Any, xs: list[Any]) -> Any:
        out = body_fun(lo + k, c)
        carry.check(out, "i=", lo + k)
        return out

    stepper = _Stepper(step, carry, 0, "fad.fori_loop")
    leaves = stepper.run_plan(plan, 0, carry.leaves(init_val, "the start"))
    result: C = tree_unflatten(carry.tdef, leaves)
    return result


def _truth(value: Any, cond_fun: Callable[..., Any], step: int) -> bool:
    t = type(value)
    if t is bool:
        return value  # type: ignore[no-any-return]
    if t.__name__ == "bool_" and t.__module__ == "numpy":
        return bool(value)
    hint = (
        " Compare it (e.g. x > 0.0): comparisons of fad tracers give plain bools."
        if is_tracer(value) or isinstance(value, numbers.Real)
        else ""
    )
    msg = (
        f"fad.while_loop: cond_fun {getattr(cond_fun, '__name__', cond_fun)!r} must return "
        f"a bool, but at step {step} it returned a {type(value).__name__} ({value!r}).{hint}"
    )
    raise TypeError(msg)


def while_loop(
    cond_fun: Callable[[C], bool],
    body_fun: Callable[[C], C],
    init_val: C,
    *,
    checkpoint: Checkpoint = None,
    snapshots: int | None = None,
) -> C:
    """``while cond_fun(val): val = body_fun(val)``, as ``jax.lax.while_loop``.

    Unlike JAX, reverse mode works here: the loop runs eagerly, so the trip count is
    known when the backward sweep starts. ``cond_fun`` sees tracers whose comparisons
    give plain bools. With ``checkpoint=``, the loop is first run on plain values to
    count its trips (one cheap extra pass), then as a checkpointed ``fori_loop``.

    Args:
        cond_fun: ``cond_fun(val) -> bool``; it must return a ``bool``.
        body_fun: ``body_fun(val) -> val``, returning a carry of ``init_val``'s
            structure and leaf types.
        init_val: the initial carry, a pytree.
        checkpoint: as for :func:`fori_loop`.
        snapshots: as for :func:`fori_loop`.

    Returns:
        The final carry.

    Raises:
        TypeError: if ``cond_fun`` returns something other than a bool (a float, or a
            tracer that was not compared), or if ``body_fun`` changes the carry's
            structure or leaf types.

    Example:
        >>> import fad
        >>> def halvings(x):      # halve until below 1: the trip count depends on x
        ...     return fad.while_loop(lambda v: v >= 1.0, lambda v: v * 0.5, x)
        >>> halvings(10.0), fad.grad(halvings)(10.0)
        (0.625, 0.0625)
    """
    _check_fun(cond_fun, "cond_fun", "while_loop")
    _check_fun(body_fun, "body_fun", "while_loop")
    carry = _Carry(init_val, "while_loop", body_fun, "body_fun", "init_val")
    if checkpoint is None:
        _plan(0, None, snapshots, "while_loop")
        val = init_val
        n = 0
        while _truth(cond_fun(val), cond_fun, n):
            val = body_fun(val)
            n += 1
            carry.check(val, "step ", n)
        return val
    # count the trips on plain values (the conditions see only primals anyway)
    plain_leaves = [primal_value(x) for x in tree_flatten(init_val)[0]]
    val = tree_unflatten(carry.tdef, plain_leaves)
    n = 0
    while _truth(cond_fun(val), cond_fun, n):
        val = body_fun(val)
        n += 1
        carry.check(val, "step ", n)
        val = tree_unflatten(carry.tdef, [primal_value(x) for x in tree_flatten(val)[0]])
    plan = _plan(n, checkpoint, snapshots, "while_loop")
    if plan is None:
        return init_val

    def step(k: int, c: Any, xs: list[Any]) -> Any:
        out = body_fun(c)
        carry.check(out, "step ", k + 1)
        return out

    stepper = _Stepper(step, carry, 0, "fad.while_loop")
    leaves = stepper.run_plan(plan, 0, carry.leaves(init_val, "the start"))
    result: C = tree_unflatten(carry.tdef, leaves)
    return result


# --------------------------------------------------------------------------------------
# scan


def _is_array(node: Any) -> bool:
    t = type(node)
    return t is list or (t.__name__ == "ndarray" and t.__module__ == "numpy")


def _slicer(xs: Any, length: int | None) -> tuple[int, Callable[[int], Any]]:
    """The trip count and ``i ↦ x_i`` for ``xs`` (its lists are the stacked arrays)."""
    if xs is None:
        if length is None:
            msg = "fad.scan: pass xs, or length= when there are no xs."
            raise ValueError(msg)
        n = _bound(length, "length", "scan")
        return n, lambda i: None
    arrays, xdef = tree_flatten(xs, is_leaf=_is_array)
    paths = [p for p, _ in tree_flatten_with_path(xs, is_leaf=_is_array)[0]]
    for p, a in zip(paths, arrays, strict=True):
        if not _is_array(a):
            msg = (
                f"fad.scan: xs at path {p or '(root)'} is a {type(a).__name__} ({a!r}); the "
                "stacked values of xs are lists (or numpy arrays) of per-step values, inside "
                "tuples, dicts or other pytree nodes."
            )
            raise TypeError(msg)
    lengths = {len(a) for a in arrays}
    if length is not None:
        lengths.add(_bound(length, "length", "scan"))
    if len(lengths) > 1:
        shown = ", ".join(f"{p or '(root)'}: {len(a)}" for p, a in zip(paths, arrays, strict=True))
        extra = f", length={length}" if length is not None else ""
        msg = f"fad.scan: the lists in xs must have one length; found {shown}{extra}."
        raise ValueError(msg)
    n = lengths.pop() if lengths else _bound(length, "length", "scan") if length else 0

    def x_at(i: int) -> Any:
        return tree_unflatten(xdef, [a[i] for a in arrays])

    return n, x_at


def scan(
    f: Callable[[C, Any], tuple[C, Any]],
    init: C,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
    *,
    checkpoint: Checkpoint = None,
    snapshots: int | None = None,
) -> tuple[C, Any]:
    """Scan ``f`` over ``xs`` carrying state, as ``jax.lax.scan``.

    ``carry, y = f(carry, x)`` for each ``x`` of ``xs``; returns the final carry and
    the ``y``'s stacked. In fad the stacked arrays are lists: every list (or numpy
    array) in ``xs`` is sliced along its first index, and tuples, dicts and other
    pytree nodes around them are kept, so ``xs=[1.0, 2.0]`` gives ``x = 1.0`` then
    ``2.0`` and ``xs=([1.0, 2.0], [3.0, 4.0])`` gives ``x = (1.0, 3.0)`` then
    ``(2.0, 4.0)``. The ``y``'s are stacked the same way: each leaf (or list) of ``y``
    becomes a list over the steps.

    Args:
        f: ``f(carry, x) -> (carry, y)``; the carry keeps ``init``'s structure and leaf
            types, ``y`` keeps one structure over the steps (``None`` for no outputs).
        init: the initial carry, a pytree.
        xs: the values scanned over (see above), or ``None`` with ``length``.
        length: the number of steps (needed when ``xs`` is ``None``).
        reverse: scan from the last ``x`` to the first (``ys`` stay in ``xs``'s order).
        unroll: accepted for JAX compatibility; no effect.
        checkpoint: as for :func:`fori_loop`; then ``f`` must return ``y = None``
            (checkpoint ``f`` itself with :func:`fad.checkpoint` to save memory in a scan
            with outputs).
        snapshots: as for :func:`fori_loop`.

    Returns:
        ``(carry, ys)``; ``ys`` is ``None`` when ``f`` returns ``None`` (or when there
        are no steps, since then ``f`` never runs).

    Raises:
        TypeError: if ``f`` changes the carry's structure or leaf types or the
            structure of ``y``, or if ``xs`` holds a bare scalar where a list belongs.
        ValueError: if the lists in ``xs`` (and ``length``) disagree on the length, or
            if ``f`` returns outputs under ``checkpoint=``.

    Example:
        >>> import fad
        >>> fad.scan(lambda c, x: (c + x, c * x), 0.0, [1.0, 2.0, 3.0])
        (6.0, [0.0, 2.0, 9.0])
        >>> fad.grad(lambda a: fad.scan(lambda c, x: (c * a + x, None), 0.0, [1.0, 2.0])[0])(3.0)
        1.0
    """
    del unroll
    _check_fun(f, "f", "scan")
    n, x_at = _slicer(xs, length)
    carry = _Carry(init, "scan", f, "f", "init")
    order = range(n - 1, -1, -1) if reverse else range(n)
    fname = getattr(f, "__name__", repr(f))

    def split(out: Any, i: int) -> tuple[Any, Any]:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            msg = (
                f"fad.scan: f {fname!r} must return a pair (carry, y), but at step {i} it "
                f"returned a {type(out).__name__}. Return (carry, None) when there is no y."
            )
            raise TypeError(msg)
        return out[0], out[1]

    plan = _plan(n, checkpoint, snapshots, "scan")
    if plan is None:
        c = init
        y_def: PyTreeDef | None = None
        stacks: list[list[Any]] = []
        for i in order:
            c, y = split(f(c, x_at(i)), i)
            carry.check(c, "step ", i)
            y_leaves, tdef = tree_flatten(y, is_leaf=_is_array)
            if y_def is None:
                y_def = tdef
                stacks = [[None] * n for _ in y_leaves]
            elif tdef != y_def:
                msg = (
                    f"fad.scan: f {fname!r} must return y of one structure at every step; "
                    f"at step {i} it returned {tdef!r}, before {y_def!r}."
                )
                raise TypeError(msg)
            for stack, leaf in zip(stacks, y_leaves, strict=True):
                stack[i] = leaf
        ys = None if y_def is None else tree_unflatten(y_def, stacks)
        return c, ys

    # checkpointed: the x's are segment inputs only if they hold tracers
    x_leaves = [tree_flatten(x_at(i))[0] for i in order]
    traced = any(is_tracer(v) for ls in x_leaves for v in ls)
    n_x = len(x_leaves[0]) if traced and x_leaves else 0

    def step(k: int, c: Any, xk: list[Any]) -> Any:
        i = order[k]
        x = x_at(i) if not traced else tree_unflatten(tree_flatten(x_at(i))[1], xk)
        new, y = split(f(c, x), i)
        if y is not None:
            msg = (
                f"fad.scan(..., checkpoint=...): f {fname!r} returned y = {y!r} at step {i}; "
                "a checkpointed scan only carries (f must return (carry, None)). To save "
                "memory in a scan with outputs, checkpoint f itself: fad.scan(fad.checkpoint(f), "
                "...)."
            )
            raise ValueError(msg)
        carry.check(new, "step ", i)
        return new

    stepper = _Stepper(step, carry, n_x, "fad.scan")
    extra = [v for ls in x_leaves for v in ls] if traced else []
    leaves = stepper.run_plan(plan, 0, carry.leaves(init, "the start") + extra)
    return tree_unflatten(carry.tdef, leaves), None
