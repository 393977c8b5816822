"""Codual numbers ``(a, B)``: reverse mode, the backpropagator carried beside the primal.

This module is ``mode="naive"``: each backpropagator is a closure that calls the
backpropagators of its arguments, unmemoised. A value used twice has its
backpropagator called twice, so the cost grows with the number of paths through the
program (exponential on programs that reuse values). It is the clearest statement of
the idea; ``memo`` and ``tape`` (beside this module) make it cheap.

What a backpropagator returns
-----------------------------
``B(k)`` returns the cotangent that ``k`` pulls back to the inputs. For a codual built
by hand from one scalar input (``to_codual(Dual(a, b))``) that is a number. Under the
reverse transforms the inputs are many, and ``B(k)`` returns a *lazy sum*: a leaf
``(input index, cotangent)`` or the sum of two lazy sums, each made in O(1). So adding
the contributions of two paths never costs O(number of inputs), however many inputs
there are; the transform flattens the sum once, with a loop, into one cotangent per
input. A dense vector per path would cost O(n) per addition and make gradients with
respect to thousands of inputs quadratic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from fad._core import Primitive, Pullback, partials_at, recursion_error, register_tracer
from fad._ops import TracerOps

__all__ = ["Codual", "LazyCotangent", "flatten_cotangent"]


@register_tracer
@attrs.frozen(eq=False, repr=False)
class Codual(TracerOps):
    """A codual number: a primal value and its backpropagator ``B: k ↦ cotangent``.

    The rule for every primitive is derived from its partials:
    ``f((x₁, B₁), …) = (f(x₁, …), k ↦ Σ Bᵢ(∂ᵢf · k))``.
    As a reverse strategy (``mode="naive"``) it memoises nothing.

    Example:
        >>> import fad
        >>> x = fad.Codual(3.0, lambda k: k)   # the input itself: B = identity
        >>> y = x * x + 2 * x
        >>> (y.primal, y.backprop(1.0))
        (15.0, 8.0)
    """

    primal: Any
    backprop: Callable[[Any], Any]
    level: int = 0

    mode_name = "naive"  # the name of this strategy in ``mode=``, for messages

    def __repr__(self) -> str:
        level = f", level={self.level}" if self.level else ""
        return f"{type(self).__name__}({self.primal!r}, <backprop>{level})"

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Codual rule of ``prim``: value of the primals, backprop k ↦ Σ Bᵢ(∂ᵢ·k)."""
        primals = []  # a loop, not comprehensions: see TapeCodual.apply
        traced = []
        for i, a in enumerate(args):
            if type(a) is cls and a.level == level:
                primals.append(a.primal)
                traced.append(i)
            else:
                primals.append(a)
        ans = prim(*primals)
        if prim.partials is None:
            return ans
        edges = []
        for i, d in zip(traced, partials_at(prim, ans, primals, traced), strict=True):
            edges.append((args[i].backprop, d))
        return cls(ans, cls.combine(tuple(edges)), level)

    @classmethod
    def combine(cls, edges: tuple[tuple[Callable[[Any], Any], Any], ...]) -> Callable[[Any], Any]:
        """The backpropagator of a value whose arguments have ``edges`` (B, ∂)."""

        def backprop(k: Any) -> Any:
            total: Any = None
            for b, partial in edges:
                ct = b(partial * k)
                total = ct if total is None else total + ct
            return total

        return backprop

    @classmethod
    def seed(cls, primals: Sequence[Any], level: int) -> tuple[list[Any], Pullback]:
        """Input coduals, and the pullback that adds up what their backprops return."""
        n = len(primals)
        inputs = [cls(p, cls.leaf(i, n), level) for i, p in enumerate(primals)]

        def pullback(outputs: Sequence[Any], cotangents: Sequence[Any]) -> list[Any]:
            cts: list[Any] = []
            try:
                for out, ct in zip(outputs, cotangents, strict=True):
                    if type(out) is cls and out.level == level:
                        cts.append(out.backprop(ct))
            except RecursionError:
                raise recursion_error(cls.mode_name) from None
            return flatten_cotangent(cts, n)

        return inputs, pullback

    @classmethod
    def leaf(cls, index: int, count: int) -> Callable[[Any], Any]:
        """The backprop of input ``index`` of ``count``: a lazy one-hot cotangent.

        With a single input the cotangent is just the number ``k`` (the textbook
        codual), which is about thirty times cheaper to add up than lazy sums.
        """
        if count == 1:

            def identity(k: Any) -> Any:
                return k

            return identity

        def backprop(k: Any) -> LazyCotangent:
            return LazyCotangent(index, k)

        return backprop


class LazyCotangent:
    """A lazy sum of one-hot cotangents: a leaf ``(index, value)`` or ``left + right``."""

    __slots__ = ("index", "left", "right", "value")

    def __init__(self, index: int, value: Any, left: Any = None, right: Any = None) -> None:
        self.index = index
        self.value = value
        self.left = left
        self.right = right

    def __add__(self, other: Any) -> LazyCotangent:
        if other is None:
            return self
        return LazyCotangent(-1, None, self, other)

    __radd__ = __add__


def flatten_cotangent(sums: Sequence[Any], n: int) -> list[Any]:
    """Add up lazy sums, dicts ``{index: value}`` or (for one input) plain cotangents.

    Returns ``n`` cotangents, zeros where nothing flowed; runs as a loop, not recursion.
    """
    acc: list[Any] = [None] * n
    stack = [s for s in sums if s is not None]
    while stack:
        s = stack.pop()
        if type(s) is dict:
            for i, v in s.items():
                acc[i] = v if acc[i] is None else acc[i] + v
        elif type(s) is LazyCotangent:
            if s.index < 0:
                stack.append(s.left)
                stack.append(s.right)
            else:
                i = s.index
                acc[i] = s.value if acc[i] is None else acc[i] + s.value
        else:  # a plain cotangent: the backprop of a single input returns k itself
            acc[0] = s if acc[0] is None else acc[0] + s
    return [0.0 if a is None else a for a in acc]
