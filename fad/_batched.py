"""Jacobians of a jitted function in one batched sweep.

``fad.jacrev(fad.jit(f))``, ``fad.jacfwd(fad.jit(f))`` and ``fad.hessian(fad.jit(f))``
come here (``fad._api`` asks :func:`batched_jacobian` when it makes them). Each
Jacobian is a linear map of a seed, recorded once at the point:

- ``jacrev``: the VJP, ``ct ↦ ctᵀ J`` (one seed per output leaf);
- ``jacfwd``: the JVP, ``t ↦ J t`` (one seed per input leaf);
- ``hessian``: the JVP of the gradient, ``t ↦ H t``.

It is run by :func:`fad.vmap` with the point unmapped and the identity's rows as the
mapped seeds: the equations of the forward pass reach no seed and run once on floats,
the linear part runs once on arrays holding every seed (one numpy call per
operation). :attr:`BatchedJacobian.n_sweeps` counts those runs. Whatever does not fit
(keyword arguments, ``has_aux``, leaves that are not floats, tracers, numpy missing)
takes the transform's ordinary path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from fad._jit import Jitted
from fad._vmap import Vmapped
from fad.tree import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["BatchedJacobian", "batched_jacobian"]


class BatchedJacobian:
    """The Jacobian (or Hessian) of a jitted function, its seeds in one batched sweep.

    Attributes:
        n_sweeps: runs of the batched linear program (one per call that took it).
        n_generic: calls that took the transform's ordinary path.
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
        self._maps: dict[Any, Vmapped[..., Any]] = {}
        self.__name__ = f"{kind}_of_{getattr(jitted, '__name__', 'fun')}"
        self.__doc__ = f"fad.{kind} of a jitted function, in one batched sweep."

    @property
    def n_sweeps(self) -> int:
        """Runs of the batched linear program so far."""
        return sum(v.n_sweeps for v in self._maps.values())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        np = sys.modules.get("numpy")
        single = isinstance(self.argnums, int)
        nums = (self.argnums,) if isinstance(self.argnums, int) else self.argnums
        n_args = len(args)
        if np is None or kwargs or not nums or not all(-n_args <= i < n_args for i in nums):
            return self._generic(args, kwargs)
        nums = tuple(i % n_args for i in nums)
        diff = tuple(args[i] for i in nums)
        p_leaves, p_def = tree_flatten(diff)
        a_leaves = tree_flatten(args)[0]
        if not p_leaves or not all(type(x) is float for x in a_leaves):
            return self._generic(args, kwargs)
        if self.kind == "jacrev":
            y = self.jitted(*args)
            o_leaves, o_def = tree_flatten(y)
            if not all(type(x) is float for x in o_leaves):
                return self._generic(args, kwargs)
            n_seeds = len(o_leaves)
        else:
            o_def = None
            n_seeds = len(p_leaves)
        key = (p_def, o_def, n_args, nums)
        vm = self._maps.get(key)
        if vm is None:
            vm = self._maps[key] = Vmapped(
                _linear_map(self.jitted.fun, self.kind, nums, p_def, o_def), (None, 0), 0
            )
        _, columns, _, _ = vm.columns((args, np.eye(n_seeds)), {})
        # columns[k][s]: leaf k of the linear map at seed s
        mat = np.array([np.broadcast_to(c, (n_seeds,)) for c in columns], dtype=float)
        if self.kind == "jacrev":  # row i (output leaf i) is the map at seed i
            assert o_def is not None
            mat = mat.T
        elif self.kind == "jacfwd":
            o_def = tree_flatten(self.jitted(*args))[1]
        else:  # hessian: the gradient has the arguments' structure
            o_def = p_def.children[0] if single else p_def
        assert o_def is not None
        in_def = p_def.children[0] if single else p_def
        if o_def.kind is _LIST and in_def.kind is _LIST and _flat(o_def) and _flat(in_def):
            return mat.tolist()  # lists of floats: the matrix as it is
        rows = [_in_structure(p_def, r, single) for r in mat.tolist()]
        return tree_unflatten(o_def, rows)

    def _generic(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.n_generic += 1
        return self.generic(*args, **kwargs)


_LIST = tree_flatten([0.0])[1].kind


def _flat(d: PyTreeDef) -> bool:
    return all(c.kind is None for c in d.children)


def _in_structure(p_def: PyTreeDef, values: list[float], single: bool) -> Any:
    g = tree_unflatten(p_def, values)
    return g[0] if single else g


def _linear_map(
    fun: Callable[..., Any],
    kind: str,
    nums: tuple[int, ...],
    p_def: PyTreeDef,
    o_def: PyTreeDef | None,
) -> Callable[..., Any]:
    """``(args, seed) -> flat list``: the VJP, JVP or Hessian-vector product at ``args``."""
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
            return tree_flatten(jvp(f, diff, tangents)[1])[0]
        g = grad(f, argnums=tuple(range(len(nums))))
        return tree_flatten(jvp(g, diff, tangents)[1])[0]

    return linear


def batched_jacobian(
    fun: Any, kind: str, argnums: int | tuple[int, ...], has_aux: bool, generic: Any
) -> Any:
    """The batched form of ``fad.<kind>(fun)`` if ``fun`` is jitted, else ``generic``."""
    if type(fun) is not Jitted or has_aux or fun._has_static:
        return generic
    if isinstance(argnums, list):
        argnums = tuple(argnums)
    return BatchedJacobian(fun, kind, argnums, generic)
