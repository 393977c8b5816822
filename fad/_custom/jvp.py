"""``fad.custom_jvp``: a function with its own forward-mode rule (as ``jax.custom_jvp``)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from fad._core import check_live, new_level
from fad._custom._call import Call, Custom, chain, is_zero, no_symbolic_zeros
from fad.tracers.dual import Dual
from fad.tracers.tape import TapeCodual
from fad.tree import tree_flatten, tree_map

__all__ = ["custom_jvp"]

P = ParamSpec("P")
R = TypeVar("R")


# --------------------------------------------------------------------------------------
# custom_jvp


class _JvpsRule:
    """The JVP rule that :meth:`custom_jvp.defjvps` makes of one tangent function per
    argument (an object, not a closure, so that the custom function pickles).
    """

    __slots__ = ("custom", "jvps")

    def __init__(self, custom: custom_jvp[Any, Any], jvps: tuple[Callable[..., Any] | None, ...]):
        self.custom = custom
        self.jvps = jvps

    def __call__(self, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        ans = self.custom._call_resolved(primals)
        total: Any = None
        for fn, t in zip(self.jvps, tangents, strict=False):
            if fn is None or all(type(x) is float and x == 0.0 for x in tree_flatten(t)[0]):
                continue
            term = fn(t, ans, *primals)
            total = term if total is None else tree_map(operator.add, total, term)
        if total is None:
            total = tree_map(_zero, ans)
        return ans, total


def _zero(_: Any) -> float:
    return 0.0


class custom_jvp(Custom[P, R]):
    """A function with a custom JVP (forward-mode) rule, as ``jax.custom_jvp``.

    Decorate the function, then give the rule with :meth:`defjvp` (one rule for all
    arguments) or :meth:`defjvps` (one tangent function per argument). Every transform
    uses the rule; forward and reverse mode, Taylor mode and nesting all follow from
    it, and the rule itself is differentiated for higher orders.

    Args:
        fun: the function. Its differentiated arguments are pytrees of real scalars.
        nondiff_argnums: positions of arguments that are not differentiated (functions,
            flags, strings); they are passed to the rule first, as in JAX. They may not
            hold tracers.
        nondiff_argnames: the same, by parameter name.

    Example:
        >>> import fad
        >>> @fad.custom_jvp
        ... def log1pexp(x):
        ...     return fad.math.log(1.0 + fad.math.exp(x))
        >>> @log1pexp.defjvp
        ... def log1pexp_jvp(primals, tangents):
        ...     (x,), (x_dot,) = primals, tangents
        ...     return log1pexp(x), (1.0 - 1.0 / (1.0 + fad.math.exp(x))) * x_dot
        >>> fad.grad(log1pexp)(100.0)
        1.0
    """

    kind = "custom_jvp"

    def __init__(
        self,
        fun: Callable[P, R],
        nondiff_argnums: Sequence[int] = (),
        nondiff_argnames: Sequence[str] = (),
    ) -> None:
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.jvp: Callable[..., tuple[Any, Any]] | None = None
        self._jvps: tuple[Callable[..., Any] | None, ...] | None = None

    def _has_rule(self) -> bool:
        return self.jvp is not None

    def defjvp(
        self, jvp: Callable[..., tuple[Any, Any]], symbolic_zeros: bool = False
    ) -> Callable[..., tuple[Any, Any]]:
        """Set the JVP rule ``jvp(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)``.

        ``primals`` and ``tangents`` are tuples with one entry per differentiated
        argument; ``tangent_out`` has the structure of the output and must be linear in
        ``tangents``. fad uses the function for the value and the rule for the tangent.
        Returns ``jvp``, so ``defjvp`` works as a decorator. ``symbolic_zeros=True``
        (JAX's option to pass special zero objects) is not supported.

        Example:
            >>> import fad
            >>> @fad.custom_jvp
            ... def f(x, y):
            ...     return fad.math.sin(x) * y
            >>> @f.defjvp
            ... def f_jvp(primals, tangents):
            ...     (x, y), (x_dot, y_dot) = primals, tangents
            ...     return f(x, y), fad.math.cos(x) * x_dot * y + fad.math.sin(x) * y_dot
            >>> fad.jvp(f, (0.0, 3.0), (1.0, 0.0))
            (0.0, 3.0)
        """
        no_symbolic_zeros(symbolic_zeros, self._name)
        self.jvp = jvp
        self._jvps = None
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """Set one tangent function per argument: ``jvp_i(x_i_dot, primal_out, *primals)``.

        Each returns argument i's contribution to the output tangent (linear in
        ``x_i_dot``); ``None`` means the output does not depend on that argument.
        Cannot be combined with ``nondiff_argnums`` (as in JAX).

        Example:
            >>> import fad
            >>> @fad.custom_jvp
            ... def f(x, y):
            ...     return fad.math.sin(x) * y
            >>> f.defjvps(lambda x_dot, ans, x, y: fad.math.cos(x) * x_dot * y,
            ...           lambda y_dot, ans, x, y: fad.math.sin(x) * y_dot)
            >>> fad.grad(f, argnums=(0, 1))(0.0, 3.0)
            (3.0, 0.0)
        """
        if self.nondiff_argnums:
            msg = (
                f"fad.custom_jvp function {self._name}: defjvps cannot be used with "
                "nondiff_argnums; use defjvp."
            )
            raise TypeError(msg)
        self.jvp = _JvpsRule(self, jvps)
        self._jvps = jvps

    def _check_pair(self, res: Any) -> Any:
        if not isinstance(res, (tuple, list)) or len(res) != 2:
            msg = (
                f"the JVP rule of fad.custom_jvp function {self._name} must return a pair "
                f"(primal_out, tangent_out), not {res!r}."
            )
            raise TypeError(msg)
        return res

    def _tangent_out(
        self, call: Call, primals: Sequence[Any], tangents: Sequence[Any]
    ) -> list[Any]:
        rule = self.jvp
        assert rule is not None
        res = rule(*call.nondiff, tuple(call.diff_trees(primals)), tuple(call.diff_trees(tangents)))
        return call.out_leaves_of(self._check_pair(res)[1], "the JVP rule's tangent_out")

    def _level(
        self,
        call: Call,
        leaves: Sequence[Any],
        primals: Sequence[Any],
        traced: list[int],
        lower: list[Any],
        level: int,
    ) -> list[Any]:
        first = leaves[traced[0]]
        if isinstance(first, Dual):
            # forward mode: the rule once, with the actual tangents (as JAX's jvp)
            cls = type(first)
            mine = set(traced)
            tangents = [x.tangent if i in mine else 0.0 for i, x in enumerate(leaves)]
            t_out = self._tangent_out(call, primals, tangents)
            return [cls(a, t, level) for a, t in zip(lower, t_out, strict=True)]
        # the rule once, on reverse-mode tangents; a sweep per output gives its row
        rule_level = new_level()
        seeds, pullback = TapeCodual.seed([0.0] * len(leaves), rule_level)
        t_out = self._tangent_out(call, primals, seeds)
        check_live(t_out, call.name, rule_level)  # the tape closes; its sweeps still run
        outs = []
        for j, (value, t) in enumerate(zip(lower, t_out, strict=True)):
            row = pullback([t], [1.0])
            name = f"{call.name}[{j}]" if len(lower) > 1 else call.name
            nonzero = [i for i in traced if not is_zero(row[i])]
            outs.append(chain(name, leaves, nonzero, 1.0, row.__getitem__, value, level))
        return outs

    def _general_partial(self, call: Call, j: int, i: int, primals: Sequence[Any]) -> Any:
        key = (i, *map(id, primals))
        hit = call.general_partials.get(key)
        if hit is None:
            t_out = self._tangent_out(call, primals, [float(k == i) for k in range(len(primals))])
            hit = (list(primals), t_out)
            call.general_partials[key] = hit
        return hit[1][j]
