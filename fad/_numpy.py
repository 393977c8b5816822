"""numpy and fad: tracers under numpy's ufuncs, and the numpy table of the emitter.

numpy is optional: this module imports it only when a function here needs it.

Ufuncs on tracers: on an object array (and on a lone tracer, which numpy wraps in
one), ``np.sin(a)`` calls the method ``sin`` of each element. :data:`UFUNC_PRIMITIVES`
maps numpy's ufunc names to the primitives of the registry (numpy's own name where it
is the registry's, one rename table otherwise), so every ufunc with a fad primitive is
a method of every tracer (``TracerOps.__getattr__`` asks :func:`ufunc_method`).

The numpy table: :data:`NUMPY_TABLE` writes each IR operation as one numpy call on
whole arrays (operators inline, the other primitives by their numpy ufunc from the same
map, ``np.where`` for ``select``; a primitive numpy has no ufunc for runs its ``impl``
point by point). A guard does not raise: it clears the points where it fails in a
boolean array. :func:`plan_buffers` gives the equations on float64 arrays buffers to
write into (``out=``), reused once their value is dead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from fad import _primitives as P
from fad._core import Primitive, bind
from fad._emit import _INFIX, Table
from fad._ir import IR
from fad._ops import TracerOps

__all__ = [
    "NUMPY_TABLE",
    "UFUNC_PRIMITIVES",
    "numpy_function",
    "numpy_table",
    "plan_buffers",
    "ufunc_method",
]

# numpy's name -> the registry's, where they differ.
_RENAMES = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arctan2": "atan2",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "deg2rad": "radians",
    "rad2deg": "degrees",
    "absolute": "abs",
    "power": "pow",
    "float_power": "math_pow",
    "add": "add",
    "subtract": "sub",
    "multiply": "mul",
    "divide": "truediv",
    "true_divide": "truediv",
    "floor_divide": "floordiv",
    "remainder": "mod",
    "negative": "neg",
    "positive": "pos",
}

UFUNC_PRIMITIVES: dict[str, Primitive] = {
    **dict(P.REGISTRY.items()),
    **{np_name: P.REGISTRY[name] for np_name, name in _RENAMES.items()},
}
"""numpy ufunc name -> fad primitive, for every ufunc fad differentiates."""

_REVERSE = {prim.name: np_name for np_name, prim in UFUNC_PRIMITIVES.items()}


class NoPrimitiveError(TypeError):
    """A numpy ufunc fad has no primitive for, raised when its method is called.

    Raised by the call, not by the attribute lookup: numpy's object loop replaces an
    error of the lookup with its own "no callable rint method", but lets an error of
    the call through, so the user reads this message.
    """


class _UfuncMethod:
    """``x.<name>``, the method numpy calls for the ufunc ``name`` on an object array.

    Installed on :class:`~fad._ops.TracerOps` for each ufunc name (a class attribute,
    not ``__getattr__``: a ``__getattr__`` hook would slow every attribute access of
    every tracer, ``self.primal`` included, on the hot path).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, x: Any, owner: Any = None) -> Any:
        if x is None:
            return self
        return ufunc_method(x, self.name)


_with_numpy_names: set[type] = set()

# numpy's ufuncs without a fad primitive (numpy 2.4), installed even before numpy is
# imported: a user's object array may meet a tracer made while numpy was not loaded.
_NO_PRIMITIVE = (
    "bitwise_and",
    "bitwise_count",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "conj",
    "divmod",
    "fmax",
    "fmin",
    "frexp",
    "gcd",
    "heaviside",
    "invert",
    "isnat",
    "lcm",
    "left_shift",
    "logaddexp",
    "logaddexp2",
    "matvec",
    "modf",
    "nextafter",
    "reciprocal",
    "right_shift",
    "rint",
    "sign",
    "signbit",
    "spacing",
    "square",
    "vecdot",
    "vecmat",
)


def install_ufunc_methods(cls: type) -> None:
    """Give ``cls`` a method per numpy ufunc: fad's primitive, or a clear refusal.

    The names with a primitive are known without numpy; the ufuncs without one are
    added when numpy has been imported (here, or on the first numpy call through fad).
    """
    names = set(UFUNC_PRIMITIVES) | set(_NO_PRIMITIVE)
    np = sys.modules.get("numpy")
    if np is not None:
        if cls in _with_numpy_names:
            return
        _with_numpy_names.add(cls)
        names |= {n for n, u in vars(np).items() if isinstance(u, np.ufunc)}
    for name in names:
        if name.isidentifier() and not name.startswith("_") and not hasattr(cls, name):
            setattr(cls, name, _UfuncMethod(name))


def ufunc_method(x: Any, name: str) -> Callable[..., Any]:
    """The method ``x.<name>`` numpy calls for the ufunc ``name`` on an object array.

    Raises:
        AttributeError: for a name that is no numpy ufunc.
    """
    prim = UFUNC_PRIMITIVES.get(name)
    if prim is not None:
        return lambda *others: bind(prim, x, *others)
    np = sys.modules.get("numpy")
    ufunc = getattr(np, name, None) if np is not None else None
    if np is not None and isinstance(ufunc, np.ufunc):
        msg = (
            f"numpy.{name} has no fad primitive, so fad cannot differentiate it on a "
            f"{type(x).__name__}; there is no fad.math.{name}. Write it with fad.math "
            "functions (or fad.primitive for a new one)."
        )

        def refuse(*others: Any) -> Any:
            raise NoPrimitiveError(msg)

        return refuse
    raise AttributeError(f"{type(x).__name__!r} object has no attribute {name!r}")


def elementwise(prim: Primitive, args: tuple[Any, ...]) -> Any:
    """``prim`` at each element of the broadcast ``args``, some of them numpy arrays.

    What :func:`fad._core.bind` does with an array argument (``x * ndarray``,
    ``np.sin(x_array)``, ``fad.math.sin(ndarray)``): an object array of tracers when
    any comes out, else a float array, as numpy gives for floats.
    """
    import numpy as np

    out = np.frompyfunc(lambda *a: bind(prim, *a), len(args), 1)(*args)
    if not isinstance(out, np.ndarray):
        return out
    if out.ndim == 0:
        return out[()]
    if all(type(v) is float or type(v) is int for v in out.flat):
        return out.astype(float)
    return out


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ufunc(*inputs)`` where an input is a tracer (numpy's ``__array_ufunc__``)."""
    import numpy as np

    install_ufunc_methods(TracerOps)  # numpy is here now: its ufuncs without a primitive

    if method != "__call__" or kwargs:
        return NotImplemented
    name = ufunc.__name__
    prim = UFUNC_PRIMITIVES.get(name)
    if prim is not None and (prim.partials is None or len(prim.partials) == ufunc.nin):
        return bind(prim, *inputs)  # an array among them: elementwise, by bind
    # no primitive: numpy's loop on objects (comparisons for np.maximum, …)
    boxed = [x if isinstance(x, np.ndarray) else np.asarray(x, dtype=object) for x in inputs]
    try:
        out = ufunc(*boxed)
    except TypeError as e:
        msg = (
            f"numpy.{name} has no fad primitive, so fad cannot differentiate it; there is "
            f"no fad.math.{name}. Write it with fad.math functions (or fad.primitive)."
        )
        raise TypeError(msg) from e
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


# --- the numpy table of the emitter ----------------------------------------------------

_np_funcs: dict[tuple[str, int], Any] = {}


def _select(c: Any, x: Any, y: Any) -> Any:
    import numpy as np

    return np.where(c, x, y)


def _truth(x: Any) -> Any:
    import numpy as np

    return np.not_equal(x, 0)


def numpy_function(prim: Primitive) -> Any:
    """The numpy function computing ``prim`` on arrays (elementwise)."""
    n_args = len(prim.partials) if prim.partials is not None else -1
    key = (prim.name, n_args)
    f = _np_funcs.get(key)
    if f is not None:
        return f
    import numpy as np

    name = _REVERSE.get(prim.name)
    if prim.name == "select":
        f = _select
    elif prim.name == "truth":
        f = _truth
    elif name is not None and isinstance(getattr(np, name, None), np.ufunc):
        ufunc = getattr(np, name)
        f = ufunc if ufunc.nin == n_args or n_args < 0 else None
    if f is None:
        # no ufunc: the primitive's impl point by point (correct, not fast)
        f = np.vectorize(prim.impl, otypes=[float])
    _np_funcs[key] = f
    return f


_twins: dict[Primitive, Primitive] = {}
_twin_set: set[Primitive] = set()


def scalar_twin(prim: Primitive) -> Primitive:
    """``prim`` marked for the numpy table as computed on floats (its ``impl``).

    An equation that no batched input reaches computes one number for the whole
    batch: ``math.sin`` on a float is many times cheaper than ``np.sin`` on one.
    """
    twin = _twins.get(prim)
    if twin is None:
        twin = Primitive(prim.name, prim.impl, prim.partials, linear=prim.linear)
        _twins[prim] = twin
        _twin_set.add(twin)
    return twin


def _callee(prim: Primitive) -> Any:
    if prim in _twin_set:
        return prim.impl
    return numpy_function(prim)


# the primitives written as operators, by their ufunc (for ``out=``)
_OPERATOR_UFUNCS = {
    "add": "add",
    "sub": "subtract",
    "mul": "multiply",
    "truediv": "true_divide",
    "floordiv": "floor_divide",
    "mod": "remainder",
    "neg": "negative",
    "pos": "positive",
}

# ``x ** c`` on a float array, for the exponents where numpy's ``**`` takes a
# shortcut (the same function, so the same numbers as ``x ** c``)
_POW_SHORTCUTS = {2: "square", -1: "reciprocal", 1: "positive"}


_float_ufuncs: dict[Any, bool] = {}


def _float_ufunc(f: Any) -> bool:
    """Whether ``f`` is a ufunc with one output, float64 from float64 arguments."""
    known = _float_ufuncs.get(f)
    if known is None:
        import numpy as np

        known = isinstance(f, np.ufunc) and f.nout == 1 and ("d" * f.nin + "->d") in f.types
        _float_ufuncs[f] = known
    return known


def _plain_const(c: Any) -> bool:
    """A constant that keeps a float64 array's operation in float64."""
    import numpy as np

    t = type(c)
    if t is float or t is int or t is bool:
        return True
    return isinstance(c, (np.floating, np.integer, np.bool_)) and np.result_type(
        np.float64, c
    ) == np.dtype(np.float64)


class _NumpyTable(Table):
    """The numpy table: operators inline, other primitives by their ufunc.

    A guard does not raise: it clears, in the boolean array ``OK`` (the program's
    last input holds ``(W, O, OK)``), the points where it does not hold. Equations
    given a destination (see :func:`plan_buffers`) write into it with ``out=``.
    """

    def guard(self, predicate: str, outcome: bool, index: int) -> str:
        # OK & p, OK & ~p: one ufunc on booleans, in place
        f = "_fad_and" if outcome else "_fad_gt"
        return f"    {f}(OK, {predicate}, out=OK)"

    def into(self, prim: Primitive, consts: list[Any]) -> tuple[Any, tuple[int, ...]] | None:
        import numpy as np

        if prim in _twin_set or any(c is not None and not _plain_const(c) for c in consts):
            return None
        name = prim.name
        n = len(consts)
        if name == "pow" and n == 2 and consts[1] is not None:
            c = consts[1]
            if type(c) in (int, float) and self.template(prim, consts) is not None:
                short = _POW_SHORTCUTS.get(int(c))
                if short is not None:
                    return getattr(np, short), (0,)
                return np.power, (0, 1)
        op = _OPERATOR_UFUNCS.get(name)
        if op is not None:
            f: Any = getattr(np, op)
        elif name in self.infix or name in ("select", "truth"):
            return None
        else:
            f = numpy_function(prim)
        if not _float_ufunc(f) or f.nin != n:
            return None
        return f, tuple(range(n))


_NP_INFIX = {k: v for k, v in _INFIX.items() if k not in ("truth", "select")}


def _guard_names() -> dict[str, Any]:
    import numpy as np

    return {"_fad_and": np.logical_and, "_fad_gt": np.greater}


NUMPY_TABLE = _NumpyTable("numpy", _NP_INFIX, _callee, prologue="    W, O, OK = L[-1]\n")


def numpy_table() -> _NumpyTable:
    """:data:`NUMPY_TABLE`, with the names its guards use bound (numpy imported)."""
    if not NUMPY_TABLE.names:
        NUMPY_TABLE.names.update(_guard_names())
    return NUMPY_TABLE


def plan_buffers(ir: IR, batched: bytearray) -> tuple[dict[int, str], int]:
    """Where each float64 array of the numpy program of ``ir`` is written.

    ``batched[v]`` says whether variable ``v`` is an array over the batch. An
    equation gets a destination when it is a float ufunc (:meth:`_NumpyTable.into`)
    of a float64 array (an input, or an earlier such equation): output ``j``
    writes into row ``O[j]`` of the caller's output matrix (its first occurrence),
    every other into a buffer ``W[k]`` of a pool, reused once the value is dead
    (its last use is the equation writing it, which may then work in place: an
    elementwise ufunc may write over its own argument). Returns the destinations
    and the size of the pool.

    The pool's arrays are the program's scratch: the caller gives each run its own
    (a pool is never shared by two runs at once), and only the rows of ``O`` leave
    the program.
    """
    n_in = ir.n_inputs
    n_eq = len(ir.prims)
    last = [-1] * (n_in + n_eq)
    for i, atoms in enumerate(ir.args):
        for a in atoms:
            if a >= 0:
                last[a] = i
    out_row: dict[int, int] = {}
    for j, a in enumerate(ir.outputs):
        if a >= 0:
            last[a] = n_eq
            out_row.setdefault(a, j)
    floats = bytearray(n_in + n_eq)
    for v in range(n_in):
        floats[v] = batched[v]
    table = numpy_table()
    dests: dict[int, str] = {}
    buffer_of: dict[int, int] = {}
    free: list[int] = []
    size = 0
    for i, (prim, atoms) in enumerate(zip(ir.prims, ir.args, strict=True)):
        var = n_in + i
        for a in set(atoms):
            if a >= 0 and last[a] == i and a in buffer_of:
                free.append(buffer_of.pop(a))
        if not batched[var] or not any(a >= 0 and floats[a] for a in atoms):
            continue
        consts = [ir.consts[-1 - a] if a < 0 else None for a in atoms]
        if table.into(prim, consts) is None:
            continue
        floats[var] = 1
        row = out_row.get(var)
        if row is not None:
            dests[var] = f"O[{row}]"
            continue
        if free:
            k = free.pop()
        else:
            k = size
            size += 1
        dests[var] = f"W[{k}]"
        if last[var] > i:
            buffer_of[var] = k
        else:
            free.append(k)
    return dests, size


install_ufunc_methods(TracerOps)
