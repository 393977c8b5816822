"""Every elementary function of fad, each defined once: its value and its partials.

One entry per primitive: ``Primitive(name, impl, partials)``. ``impl`` works on plain
numbers; each partial ``(ans, *args) -> ∂ans/∂argᵢ`` is written with fad's own
operations (the arithmetic operators of tracers and the primitives below), so it is
differentiable again and higher derivatives need nothing more. ``Dual``, the three
codual strategies and ``Jet`` all derive their rules from this one table.

To add a primitive: one entry here, one wrapper in ``fad/math.py``; the test suite
walks :data:`REGISTRY` and checks every entry against finite differences.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from fad._core import Primitive

__all__ = ["REGISTRY"]

REGISTRY: dict[str, Primitive] = {}


def _register(prim: Primitive) -> Primitive:
    REGISTRY[prim.name] = prim
    return prim


def _real_pow(x: Any, y: Any) -> Any:
    ans = x**y
    if type(ans) is complex:
        msg = "math domain error"  # what math.pow says for (-8.0) ** (1/3)
        raise ValueError(msg)
    return ans


# --- arithmetic ------------------------------------------------------------------

add = _register(
    Primitive("add", operator.add, (lambda ans, x, y: 1.0, lambda ans, x, y: 1.0), linear=(1.0, 1.0))
)
sub = _register(
    Primitive("sub", operator.sub, (lambda ans, x, y: 1.0, lambda ans, x, y: -1.0), linear=(1.0, -1.0))
)
neg = _register(Primitive("neg", operator.neg, (lambda ans, x: -1.0,), linear=(-1.0,)))
pos = _register(Primitive("pos", operator.pos, (lambda ans, x: 1.0,), linear=(1.0,)))
mul = _register(Primitive("mul", operator.mul, (lambda ans, x, y: y, lambda ans, x, y: x)))
truediv = _register(
    Primitive(
        "truediv",
        operator.truediv,
        (lambda ans, x, y: 1.0 / y, lambda ans, x, y: -ans / y),
    )
)
pow = _register(  # noqa: A001 - the primitive is named after the operator it is
    Primitive(
        "pow",
        _real_pow,
        (
            lambda ans, x, y: y * x ** (y - 1),
            lambda ans, x, y: ans * log(x),
        ),
    )
)
# Piecewise-constant functions: zero derivative, so tracers give the plain value.
floordiv = _register(Primitive("floordiv", operator.floordiv, None))
floor = _register(Primitive("floor", math.floor, None))
ceil = _register(Primitive("ceil", math.ceil, None))
trunc = _register(Primitive("trunc", math.trunc, None))
sign = _register(Primitive("sign", lambda x: (x > 0) - (x < 0), None))
mod = _register(
    Primitive(
        "mod",
        operator.mod,
        (lambda ans, x, y: 1.0, lambda ans, x, y: -floordiv(x, y)),
    )
)
fabs = _register(Primitive("fabs", math.fabs, (lambda ans, x: float(sign(x)),)))
abs = _register(Primitive("abs", operator.abs, (lambda ans, x: float(sign(x)),)))  # noqa: A001

# --- elementary functions ----------------------------------------------------------

sin = _register(Primitive("sin", math.sin, (lambda ans, x: cos(x),)))
cos = _register(Primitive("cos", math.cos, (lambda ans, x: -sin(x),)))
exp = _register(Primitive("exp", math.exp, (lambda ans, x: ans,)))
log = _register(Primitive("log", math.log, (lambda ans, x: 1.0 / x,)))
sqrt = _register(Primitive("sqrt", math.sqrt, (lambda ans, x: 0.5 / ans,)))
tanh = _register(Primitive("tanh", math.tanh, (lambda ans, x: 1.0 - ans * ans,)))
