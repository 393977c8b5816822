"""``fad.where`` and ``fad.cond``: a select and a branch that ``fad.jit`` does not guard.

Comparisons of fad values give plain ``bool`` (so that Python's ``if`` works under every
transform); under ``fad.jit`` each one is recorded as a *guard*. When the condition
argument of ``fad.where(x > 0, a, b)`` (or of ``fad.cond``) is written as a comparison
right in the call, its guard is recognised: the comparison's site (the frame and the
instruction that compared, noted by the recorder) is the instruction whose result is
the call's first argument, checked on the caller's bytecode. That guard is then
dropped and the program records a ``select`` on the comparison's value instead, so it
holds on both sides of the branch and is never recorded again. A condition computed
elsewhere (``c = x > 0`` on another line, ``a and b``) keeps its guard: the program
is then re-recorded when it changes, which is slower but always correct.

``select`` is a primitive of its own (not a function of ``math``): its value is
``x if c else y``; its partials are ``select(c, 1, 0)`` and ``select(c, 0, 1)``.
The emitter writes it as a conditional expression on floats and ``np.where`` on arrays.
"""

from __future__ import annotations

import bisect
import dis
import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, TypeVar

from fad._core import Primitive, bind, is_tracer
from fad.tracers.recorder import Recorded, recent_decisions
from fad.tree import tree_flatten, tree_unflatten

__all__ = ["cond", "select", "where"]

T = TypeVar("T")


def _select_impl(c: Any, x: Any, y: Any) -> Any:
    return x if c else y


select: Primitive = Primitive(
    "select",
    _select_impl,
    [
        lambda ans, c, x, y: 0.0,
        lambda ans, c, x, y: select(c, 1.0, 0.0),
        lambda ans, c, x, y: select(c, 0.0, 1.0),
    ],
)

_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_CALLS = frozenset(dis.opmap[n] for n in ("CALL",) if n in dis.opmap)
_SKIP = frozenset(dis.opmap[n] for n in ("KW_NAMES", "CACHE") if n in dis.opmap)
_PRECALL = dis.opmap.get("PRECALL", -1)  # Python 3.11: PRECALL n; CALL n
_COMPARES = frozenset(dis.opmap[n] for n in ("COMPARE_OP",) if n in dis.opmap)


def _instructions(code: CodeType) -> list[dis.Instruction]:
    return list(dis.get_instructions(code))


_code_cache: dict[CodeType, list[dis.Instruction]] = {}


def _first_argument(code: CodeType, cmp_at: int, call_at: int) -> bool:
    """Whether the comparison at ``cmp_at`` gives the first argument of the call at ``call_at``."""
    instrs = _code_cache.get(code)
    if instrs is None:
        instrs = _code_cache[code] = _instructions(code)
    offsets = [ins.offset for ins in instrs]
    # an offset inside an instruction's inline caches belongs to that instruction
    k = bisect.bisect_right(offsets, cmp_at) - 1
    end = bisect.bisect_right(offsets, call_at) - 1
    if k < 0 or end <= k or instrs[k].opcode not in _COMPARES:
        return False
    call = instrs[end]
    if call.opcode not in _CALLS or call.arg is None:
        return False
    body = instrs[k + 1 : end]
    if body and body[-1].opcode == _PRECALL:
        body = body[:-1]
    depth = 0
    for ins in body:
        if ins.opcode in _SKIP:
            continue
        if ins.opcode in _JUMPS:
            return False
        depth += (
            dis.stack_effect(ins.opcode, ins.arg, jump=False)
            if ins.opcode >= dis.HAVE_ARGUMENT
            else dis.stack_effect(ins.opcode)
        )
        if depth < 0:
            return False
    return depth == call.arg - 1


def _traced_condition(
    c: bool, frame: FrameType | None, only: set[int] | None = None
) -> tuple[Any, Any] | None:
    """The recorded predicate behind ``c``, the first argument of the caller's call."""
    if frame is None:
        return None
    recent = recent_decisions()
    if not recent:
        return None
    fid = id(frame)
    code = frame.f_code
    call_at = frame.f_lasti
    for item in reversed(recent):
        rec, guard, frame_id, g_code, lasti = item
        if frame_id != fid or g_code is not code or lasti > call_at:
            continue
        if only is not None and id(rec) not in only:
            continue
        if guard.outcome != c or not any(g is guard for g in rec.guards):
            continue
        if not _first_argument(code, lasti, call_at):
            continue
        rec.guards[:] = [g for g in rec.guards if g is not guard]
        recent.remove(item)
        return Recorded(c, guard.var, rec), (rec, guard)
    return None


def _as_bool(c: Any) -> bool | None:
    if type(c) is bool:
        return c
    np = sys.modules.get("numpy")
    if np is not None and isinstance(c, np.bool_):
        return bool(c)
    return None


def where(condition: Any, x: T, y: T) -> T:
    """``x`` where ``condition`` holds, else ``y``: a select, differentiable in x and y.

    On numbers it is ``x if condition else y``; on numpy arrays it selects element by
    element (as ``np.where``). Under :func:`fad.jit` (and :func:`fad.vmap`'s compiled
    path), a condition written as a comparison in the call, ``fad.where(x > 0, a, b)``,
    is recorded as one ``select`` operation, not a guard: the program holds on both
    sides and is never recorded again. Both ``x`` and ``y`` are computed, as in JAX.

    Args:
        condition: a bool (a comparison of fad values gives one), or a numpy array.
        x: the value where the condition holds.
        y: the value elsewhere.

    Returns:
        The selected value (its derivative is the selected one's).

    Example:
        >>> import fad
        >>> relu_grad = fad.jit(fad.grad(lambda x: fad.where(x > 0, x * x, 0.5 * x)))
        >>> relu_grad(3.0), relu_grad(-3.0), len(relu_grad.specializations)
        (6.0, 0.5, 1)
    """
    c = _as_bool(condition)
    if c is not None:
        found = _traced_condition(c, sys._getframe(1))
        if found is not None:
            result: T = bind(select, found[0], x, y)
            return result
        return x if c else y
    if type(condition) is Recorded:
        traced: T = bind(select, condition, x, y)
        return traced
    np = sys.modules.get("numpy")
    if np is not None and isinstance(condition, np.ndarray):
        xs, ys = np.asarray(x), np.asarray(y)
        if condition.dtype.kind == "b" and xs.dtype != object and ys.dtype != object:
            out: T = np.where(condition, xs, ys)
            return out
        picked: T = np.frompyfunc(lambda c, a, b: a if c else b, 3, 1)(condition, xs, ys)
        return picked
    if is_tracer(condition):
        return x if condition else y
    return x if condition else y


def cond(pred: Any, true_fun: Callable[..., T], false_fun: Callable[..., T], *operands: Any) -> T:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as ``jax.lax.cond``.

    Called eagerly it runs one branch; so does :func:`fad.jit`, which records the
    predicate as a guard (the program on floats computes only the taken branch, so
    that ``fad.cond(x > 0, fad.math.sqrt, …)`` never sees a negative ``x``). Under
    :func:`fad.vmap`, when ``pred`` is a comparison written in the call
    (``fad.cond(x > 0, f, g, x)``), both branches are recorded and their outputs
    selected leaf by leaf, so one program serves the points on both sides of the
    branch. If the other branch fails at the recording point (an error, or outputs of
    another structure), the predicate stays a guard there too.

    Args:
        pred: a bool (a comparison of fad values gives one).
        true_fun: the branch taken when ``pred`` holds.
        false_fun: the branch taken otherwise; same output structure as ``true_fun``.
        *operands: the arguments passed to the branch.

    Returns:
        The taken branch's output.

    Example:
        >>> import fad
        >>> f = lambda x: fad.cond(x > 0, fad.math.sqrt, lambda x: -x, x)
        >>> fad.vmap(f)([4.0, -3.0, 9.0])
        [2.0, 3.0, 3.0]
        >>> fad.jit(fad.grad(f))(4.0)
        0.25
    """
    c = _as_bool(pred)
    if c is None:
        c = bool(pred)
        return true_fun(*operands) if c else false_fun(*operands)
    from fad._vmap import batched_recordings

    found = None
    if batched_recordings:  # both branches on arrays: the other side may be NaN there
        found = _traced_condition(c, sys._getframe(1), batched_recordings)
    taken = true_fun(*operands) if c else false_fun(*operands)
    if found is None:
        return taken
    p, (rec, guard) = found
    try:
        other = false_fun(*operands) if c else true_fun(*operands)
    except Exception:
        rec.guards.append(guard)
        return taken
    t_leaves, t_def = tree_flatten(taken)
    o_leaves, o_def = tree_flatten(other)
    if t_def != o_def:
        rec.guards.append(guard)
        return taken
    pairs = zip(t_leaves, o_leaves, strict=True)
    picked = [bind(select, p, a, b) if c else bind(select, p, b, a) for a, b in pairs]
    out: T = tree_unflatten(t_def, picked)
    return out
