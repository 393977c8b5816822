"""Adapters: how each library computes a gradient, a Hessian, an n-th derivative.

Every adapter takes the *same* workload function ``f(xs, m)`` (see ``workloads.py``)
and plugs in its own scalar type and its own ``math``-like namespace ``m``. Each method
returns a *thunk*: a no-argument function doing the whole computation from plain
floats (making the inputs, the forward pass, the backward pass), which the harness
times; ``to_floats`` turns the thunk's raw result into Python floats, outside the
timing, for the cross-check against fad. A method that a library cannot express
raises :class:`Unsupported` with the reason, which the tables print.

Precision: every library computes in float64 (JAX with ``jax_enable_x64``, torch with
``float64`` tensors), as fad and Python floats do. torch runs on one thread
(``torch.set_num_threads(1)``): scalar code gains nothing from more and the machine is
shared.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["LIBRARIES", "Library", "NotApplicable", "Unsupported", "VecWorkload", "Workload"]

Workload = Callable[[Sequence[Any], Any], Any]
"""``f(xs, m)``: a scalar workload."""
VecWorkload = Callable[..., Any]
"""``f(x, np, *data)``: the vectorised form of a workload, for array libraries."""
Thunk = Callable[[], Any]


class Unsupported(Exception):
    """The library cannot express this computation; the message says why."""


class NotApplicable(Unsupported):
    """This entry is not meant for this computation (left out of the tables)."""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _floats(x: Any) -> Any:
    """Nested lists of Python floats from arrays, tensors, lists of 0-d arrays."""
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, (list, tuple)):
        return [_floats(v) for v in x]
    return float(x)


class Library:
    """A library under test. Subclasses override what the library can do.

    Attributes:
        name: the label in the tables (``"torch [vectorised]"``).
        dist: the distribution whose version is reported.
        vectorised: whether this entry runs the vectorised forms instead of the scalar code.
    """

    name = "?"
    dist = "?"
    vectorised = False

    def load(self) -> None:
        """Import the library; raise ImportError (its message is the skip reason)."""

    @property
    def version(self) -> str:
        return _version(self.dist)

    def value(self, f: Workload, xs: list[float]) -> Thunk:
        raise Unsupported(f"{self.name} is only timed on derivatives")

    def grad(
        self, f: Workload, vec: VecWorkload | None, data: tuple[Any, ...], xs: list[float]
    ) -> Thunk:
        raise Unsupported(f"{self.name} has no reverse mode here")

    def hessian(self, f: Workload, vec: VecWorkload | None, xs: list[float]) -> Thunk:
        raise Unsupported(
            f"{self.name} has no second derivatives (its backward pass is not differentiable)"
        )

    def nth(self, f: Workload, x: float, order: int) -> Thunk:
        raise Unsupported(
            f"{self.name} has no higher derivatives (its backward pass is not differentiable)"
        )

    def to_floats(self, raw: Any) -> Any:
        return _floats(raw)

    def _scalar_only(self) -> None:
        if self.vectorised:
            raise NotApplicable("no vectorised form of this workload (it is sequential)")


class Plain(Library):
    """The workload on Python floats with ``math``: the value only, the unit of cost."""

    name = "plain floats"
    dist = "python"

    @property
    def version(self) -> str:
        import platform

        return platform.python_version()

    def value(self, f: Workload, xs: list[float]) -> Thunk:
        return lambda: f(xs, math)


class Fad(Library):
    """fad, default tape mode, with ``fad.math``."""

    name = "fad"
    dist = "fad"

    def load(self) -> None:
        import fad

        self.fad: Any = fad
        try:
            self.m: Any = importlib.import_module("fad.math")
        except ImportError:  # before fad.math lands: the primitives themselves
            self.m = importlib.import_module("fad._primitives")

    def grad(
        self, f: Workload, vec: VecWorkload | None, data: tuple[Any, ...], xs: list[float]
    ) -> Thunk:
        g = self.fad.grad(lambda v: f(v, self.m))
        return lambda: g(xs)

    def hessian(self, f: Workload, vec: VecWorkload | None, xs: list[float]) -> Thunk:
        if not hasattr(self.fad, "hessian"):
            raise Unsupported("fad.hessian is not there yet")
        h = self.fad.hessian(lambda v: f(v, self.m))
        return lambda: h(xs)

    def nth(self, f: Workload, x: float, order: int) -> Thunk:
        """By Taylor mode (``fad.taylor``: one pass), else by nesting ``fad.grad``."""
        if hasattr(self.fad, "taylor"):
            taylor = self.fad.taylor
            return lambda: taylor(lambda v: f([v], self.m), x, order)[order]
        return self.nested(f, x, order)

    def nested(self, f: Workload, x: float, order: int) -> Thunk:
        """The ``order``-th derivative by nesting ``fad.grad`` (as the peers nest theirs)."""
        d: Callable[[Any], Any] = lambda v: f([v], self.m)
        for _ in range(order):
            d = self.fad.grad(d)
        return lambda: d(x)


class FadNested(Fad):
    """fad by nesting: the n-th derivative by ``fad.grad`` nested, the Hessian by jacrev(grad)."""

    name = "fad (nested grad)"

    def grad(
        self, f: Workload, vec: VecWorkload | None, data: tuple[Any, ...], xs: list[float]
    ) -> Thunk:
        raise NotApplicable("fad's gradient is the 'fad' row")

    def hessian(self, f: Workload, vec: VecWorkload | None, xs: list[float]) -> Thunk:
        if not hasattr(self.fad, "jacrev"):
            raise Unsupported("fad.jacrev is not there yet")
        h = self.fad.jacrev(self.fad.grad(lambda v: f(v, self.m)))
        return lambda: h(xs)

    def nth(self, f: Workload, x: float, order: int) -> Thunk:
        return self.nested(f, x, order)


class Micrograd(Library):
    """micrograd's ``Value``; sin, cos, exp and tanh added in micrograd's own style.

    micrograd 0.1.0 ships only ``+ * **`` and ``relu``; the four functions below are
    written exactly as its operators are (a new ``Value`` with a ``_backward``
    closure), as in the lecture that introduced it.
    """

    name = "micrograd"
    dist = "micrograd"

    def load(self) -> None:
        from micrograd.engine import Value

        self.Value: Any = Value

        def unary(
            fn: Callable[[float], float], dfn: Callable[[float, float], float], op: str
        ) -> Callable[[Any], Any]:
            def apply(x: Any) -> Any:
                if not isinstance(x, Value):
                    return fn(x)
                out = Value(fn(x.data), (x,), op)

                def _backward() -> None:
                    x.grad += dfn(x.data, out.data) * out.grad

                out._backward = _backward
                return out

            return apply

        class M:
            sin = staticmethod(unary(math.sin, lambda x, y: math.cos(x), "sin"))
            cos = staticmethod(unary(math.cos, lambda x, y: -math.sin(x), "cos"))
            exp = staticmethod(unary(math.exp, lambda x, y: y, "exp"))
            tanh = staticmethod(unary(math.tanh, lambda x, y: 1.0 - y * y, "tanh"))

        self.m = M

    def grad(
        self, f: Workload, vec: VecWorkload | None, data: tuple[Any, ...], xs: list[float]
    ) -> Thunk:
        self._scalar_only()
        Value, m = self.Value, self.m

        def run() -> list[float]:
            vs = [Value(x) for x in xs]
            y = f(vs, m)
            y.backward()
            return [v.grad for v in vs]

        return run


class Autograd(Library):
    """HIPS autograd with ``autograd.numpy``; the scalar code indexes a float64 array."""

    name = "autograd"
    dist = "autograd"

    def load(self) -> None:
        import autograd
        import autograd.numpy as anp

        self.ag: Any = autograd
        self.np: Any = anp

    def grad(
        self, f: Workload, vec: VecWorkload | None, data: tuple[Any, ...], xs: list[float]
    ) -> Thunk:
        np = self.np
        if self.vectorised:
            if vec is None:
                raise NotApplicable("no vectorised form of this workload (it is sequential)")
            arrays = [np.array(d, dtype=float) for d in data]
            g = self.ag.grad(lambda x: vec(x, np, *arrays))
            x0 = np.array(xs, dtype=float)
            return lambda: g(x0)
        # The scalar code indexes an array: autograd's list container costs O(len) per
        # index in the backward pass (measured 1.1 ms/op against 0.13 at n = 1000).
        n = len(xs)
        g = self.ag.grad(lambda x: f([x[i] for i in range(n)], np))
        x0 = np.array(xs, dtype=float)
        return lambda: g(x0)

    def hessian(self, f: Workload, vec: VecWorkload | None, xs: list[float]) -> Thunk:
        np = self.np
        x0 = np.array(xs, dtype=float)
        if self.vectorised:
            if vec is None:
                raise NotApplicable("no vectorised form of this workload")
            h = self.ag.hessian(lambda x: vec(x, np))
        else:
            h = self.ag.hessian(lambda x: f([x[i] for i in range(len(xs))], np))
        return lambda: h(x0)

    def nth(self, f: Workload, x: float, order: int) -> Thunk:
        self._scalar_only()
        d: Callable[[Any], Any] = lambda v: f([v], self.np)
        for _ in range(order):
            d = self.ag.grad(d)
        return lambda: d(x)


class Jax(Library):
    """JAX on the CPU, eager (no ``jit``), float64; the scalar code gets a list of floats."""

    name = "jax"
    dist = "jax"

    def load(self) -> None:
        import jax
        import jax.numpy as jnp

        config: Any = jax.config  # untyped ``update``
        config.update("jax_enable_x64", True)
        config.update("jax_platforms", "cpu")
        self.jax: Any = jax
        self.np: Any = jnp

    def _maybe_jit(self, g: Callable[..., Any]) -> Callable[..., Any]:
        return g

    def grad(
        self, f: Workload, vec: VecWorkload | None, data: tuple[Any, ...], xs: list[float]
    ) -> Thunk:
        np = self.np
        if self.vectorised:
            if vec is None:
                raise NotApplicable("no vectorised form of this workload (it is sequential)")
            arrays = [np.array(d, dtype=np.float64) for d in data]
            g = self._maybe_jit(self.jax.grad(lambda x: vec(x, np, *arrays)))
            x0 = np.array(xs, dtype=np.float64)
            return lambda: g(x0).block_until_ready()
        g = self.jax.grad(lambda v: f(v, np))
        return lambda: g(xs)

    def hessian(self, f: Workload, vec: VecWorkload | None, xs: list[float]) -> Thunk:
        np = self.np
        if self.vectorised:
            if vec is None:
                raise NotApplicable("no vectorised form of this workload")
            h = self._maybe_jit(self.jax.hessian(lambda x: vec(x, np)))
            x0 = np.array(xs, dtype=np.float64)
            return lambda: h(x0).block_until_ready()
        h = self.jax.hessian(lambda v: f(v, np))
        return lambda: h(xs)

    def nth(self, f: Workload, x: float, order: int) -> Thunk:
        self._scalar_only()
        d: Callable[[Any], Any] = lambda v: f([v], self.np)
        for _ in range(order):
            d = self.jax.grad(d)
        return lambda: d(x)


class JaxJit(Jax):
    """``jax.jit`` of the vectorised forms (compiled once, before timing)."""

    name = "jax.jit [vectorised]"
    vectorised = True

    def _maybe_jit(self, g: Callable[..., Any]) -> Callable[..., Any]:
        return self.jax.jit(g)  # type: ignore[no-any-return]

    def nth(self, f: Workload, x: float, order: int) -> Thunk:
        raise NotApplicable("eager versions only for the higher derivative")


class Torch(Library):
    """PyTorch eager on the CPU, float64, one thread; the scalar code gets 0-d tensors."""

    name = "torch"
    dist = "torch"

    def load(self) -> None:
        import torch

        torch.set_num_threads(1)
        self.torch: Any = torch

    def grad(
        self, f: Workload, vec: VecWorkload | None, data: tuple[Any, ...], xs: list[float]
    ) -> Thunk:
        torch = self.torch
        f64 = torch.float64
        if self.vectorised:
            if vec is None:
                raise NotApplicable("no vectorised form of this workload (it is sequential)")
            arrays = [torch.tensor(d, dtype=f64) for d in data]

            def run_vec() -> Any:
                x = torch.tensor(xs, dtype=f64, requires_grad=True)
                (g,) = torch.autograd.grad(vec(x, torch, *arrays), x)
                return g

            return run_vec

        def run() -> Any:
            x = torch.tensor(xs, dtype=f64, requires_grad=True)
            (g,) = torch.autograd.grad(f(list(x.unbind()), torch), x)
            return g

        return run

    def hessian(self, f: Workload, vec: VecWorkload | None, xs: list[float]) -> Thunk:
        torch = self.torch
        x0 = torch.tensor(xs, dtype=torch.float64)
        hess = torch.autograd.functional.hessian
        if self.vectorised:
            if vec is None:
                raise NotApplicable("no vectorised form of this workload")
            return lambda: hess(lambda x: vec(x, torch), x0)
        return lambda: hess(lambda x: f(list(x.unbind()), torch), x0)

    def nth(self, f: Workload, x: float, order: int) -> Thunk:
        self._scalar_only()
        torch = self.torch

        def run() -> Any:
            v = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            d = f([v], torch)
            for _ in range(order):
                (d,) = torch.autograd.grad(d, v, create_graph=True)
            return d

        return run


def _vectorised(cls: type[Library]) -> type[Library]:
    return type(
        f"{cls.__name__}Vectorised",
        (cls,),
        {"name": f"{cls.name} [vectorised]", "vectorised": True},
    )


LIBRARIES: list[type[Library]] = [
    Plain,
    Fad,
    FadNested,
    Micrograd,
    Autograd,
    Jax,
    Torch,
    _vectorised(Autograd),
    _vectorised(Jax),
    JaxJit,
    _vectorised(Torch),
]
"""Every entry, in table order."""
