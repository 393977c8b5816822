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
point by point). A guard does not raise: it stores its boolean array in ``L[-1][k]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from fad import _primitives as P
from fad._core import Primitive, bind
from fad._emit import _INFIX, Table
from fad._ops import TracerOps

__all__ = ["NUMPY_TABLE", "UFUNC_PRIMITIVES", "numpy_function", "ufunc_method"]

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


class _NumpyTable(Table):
    def guard(self, predicate: str, outcome: bool, index: int) -> str:
        test = f"{predicate}" if outcome else f"({predicate}) == False"
        return f"    L[-1][{index}] = {test}"


_NP_INFIX = {k: v for k, v in _INFIX.items() if k not in ("truth", "select")}
NUMPY_TABLE = _NumpyTable("numpy", _NP_INFIX, _callee)


install_ufunc_methods(TracerOps)
