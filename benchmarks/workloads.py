"""The workloads, each written once as plain Python over scalars.

A workload is a function ``f(xs, m)``: ``xs`` is a list of scalars (floats, or any
library's scalar type), ``m`` a ``math``-like namespace giving ``sin``, ``cos``,
``exp`` and ``tanh`` for that scalar type. Only ``+ - * / **`` and ``m.<fn>`` are
used, so every library runs the very same code: plain floats with Python's
``math``, fad tracers with ``fad.math``, a micrograd ``Value``, an autograd box, a
JAX tracer, a 0-d torch tensor.

:func:`count_ops` runs a workload on counting scalars and returns the number of
primal scalar operations, the denominator of every "µs per operation" figure.
The array libraries' vectorised forms of the same functions are here too, clearly
apart: they are labelled "vectorised" wherever they are reported.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "MLP_DATA",
    "MLP_N_WEIGHTS",
    "chain",
    "count_ops",
    "exp_sin",
    "mlp_init",
    "mlp_loss",
    "mlp_loss_vectorised",
    "newton_sqrt",
    "rosenbrock",
    "rosenbrock_vectorised",
]

Scalars = Sequence[Any]


def newton_sqrt(xs: Scalars, m: Any) -> Any:
    """√a by 20 Newton steps ``y ← (y + a/y)/2`` from ``y = a`` (a = ``xs[0]``)."""
    a = xs[0]
    y = a
    for _ in range(20):
        y = 0.5 * (y + a / y)
    return y


def rosenbrock(xs: Scalars, m: Any) -> Any:
    """Σ 100·(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², a Python loop over the scalars."""
    s: Any = 0.0
    for i in range(len(xs) - 1):
        s = s + 100.0 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1.0 - xs[i]) ** 2
    return s


def chain(xs: Scalars, m: Any, depth: int) -> Any:
    """The reuse-heavy chain ``y ← sin(y)·y + 0.5``, ``depth`` times (3 ops a step)."""
    y = xs[0]
    for _ in range(depth):
        y = m.sin(y) * y + 0.5
    return y


def exp_sin(xs: Scalars, m: Any) -> Any:
    """``exp(sin(x))`` (its 10th derivative is the higher-order workload)."""
    return m.exp(m.sin(xs[0]))


# --- the 2-16-16-1 tanh MLP ----------------------------------------------------------

HIDDEN = 16
MLP_N_WEIGHTS = 2 * HIDDEN + HIDDEN + HIDDEN * HIDDEN + HIDDEN + HIDDEN + 1  # 337
_B1 = 2 * HIDDEN  # layer 1: w[2j], w[2j+1] weights, w[_B1 + j] bias
_W2 = _B1 + HIDDEN  # layer 2: w[_W2 + 16j + k] weights, w[_B2 + j] bias
_B2 = _W2 + HIDDEN * HIDDEN
_W3 = _B2 + HIDDEN  # output: w[_W3 + k] weights, w[_B3] bias
_B3 = _W3 + HIDDEN


def _make_data(n: int = 50) -> list[tuple[float, float, float]]:
    rng = random.Random(6)
    data = []
    for _ in range(n):
        x0, x1 = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        data.append((x0, x1, math.sin(2.0 * x0) * math.cos(x1)))
    return data


MLP_DATA = _make_data()
"""50 points (x₀, x₁, target), fixed."""


def mlp_init() -> list[float]:
    """The 337 weights of the network, drawn once with a fixed seed."""
    rng = random.Random(7)
    return [rng.gauss(0.0, 0.5) for _ in range(MLP_N_WEIGHTS)]


def mlp_loss(w: Scalars, m: Any) -> Any:
    """Squared loss of a 2-16-16-1 tanh network with weights ``w`` on :data:`MLP_DATA`."""
    loss: Any = 0.0
    for x0, x1, target in MLP_DATA:
        h1 = [m.tanh(w[2 * j] * x0 + w[2 * j + 1] * x1 + w[_B1 + j]) for j in range(HIDDEN)]
        h2 = []
        for j in range(HIDDEN):
            z = w[_B2 + j]
            for k in range(HIDDEN):
                z = z + w[_W2 + HIDDEN * j + k] * h1[k]
            h2.append(m.tanh(z))
        out = w[_B3]
        for k in range(HIDDEN):
            out = out + w[_W3 + k] * h2[k]
        loss = loss + (out - target) ** 2
    return loss


# --- vectorised forms (array libraries only; labelled "vectorised") -------------------


def rosenbrock_vectorised(x: Any, np: Any) -> Any:
    """:func:`rosenbrock` on a 1-d array ``x`` with ``np`` = numpy-like module."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mlp_loss_vectorised(w: Any, np: Any, inputs: Any, targets: Any) -> Any:
    """:func:`mlp_loss` with matrices: ``inputs`` (50, 2), ``targets`` (50,)."""
    w1 = w[:_B1].reshape(HIDDEN, 2)
    w2 = w[_W2:_B2].reshape(HIDDEN, HIDDEN)
    h1 = np.tanh(inputs @ w1.T + w[_B1:_W2])
    h2 = np.tanh(h1 @ w2.T + w[_B2:_W3])
    out = h2 @ w[_W3:_B3] + w[_B3]
    return np.sum((out - targets) ** 2)


# --- counting the primal operations -----------------------------------------------------


class _Count:
    """A float that counts every arithmetic operation and ``m.<fn>`` call made on it."""

    __slots__ = ("v",)
    n = 0

    def __init__(self, v: float) -> None:
        self.v = v

    @staticmethod
    def _op(v: float) -> _Count:
        _Count.n += 1
        return _Count(v)

    def __add__(self, o: Any) -> _Count:
        return self._op(self.v + _v(o))

    def __radd__(self, o: Any) -> _Count:
        return self._op(_v(o) + self.v)

    def __sub__(self, o: Any) -> _Count:
        return self._op(self.v - _v(o))

    def __rsub__(self, o: Any) -> _Count:
        return self._op(_v(o) - self.v)

    def __mul__(self, o: Any) -> _Count:
        return self._op(self.v * _v(o))

    def __rmul__(self, o: Any) -> _Count:
        return self._op(_v(o) * self.v)

    def __truediv__(self, o: Any) -> _Count:
        return self._op(self.v / _v(o))

    def __rtruediv__(self, o: Any) -> _Count:
        return self._op(_v(o) / self.v)

    def __pow__(self, o: Any) -> _Count:
        return self._op(self.v ** _v(o))

    def __rpow__(self, o: Any) -> _Count:
        return self._op(_v(o) ** self.v)

    def __neg__(self) -> _Count:
        return self._op(-self.v)


def _v(x: Any) -> float:
    return x.v if type(x) is _Count else float(x)


def _counted(fn: Callable[[float], float]) -> Callable[[Any], Any]:
    def wrapped(x: Any) -> Any:
        return _Count._op(fn(_v(x))) if type(x) is _Count else fn(x)

    return wrapped


class _CountingMath:
    sin = staticmethod(_counted(math.sin))
    cos = staticmethod(_counted(math.cos))
    exp = staticmethod(_counted(math.exp))
    tanh = staticmethod(_counted(math.tanh))


def count_ops(f: Callable[[Scalars, Any], Any], xs: Sequence[float]) -> int:
    """Number of primal scalar operations (arithmetic and ``m.<fn>`` calls) of ``f(xs)``."""
    _Count.n = 0
    f([_Count(x) for x in xs], _CountingMath)
    return _Count.n
