"""``mode="memo"``: coduals whose backpropagators are memoised, top-down.

Caching ``B`` on its argument (``functools.cache``) only helps when every use of a
value passes the same cotangent, which ``y = sin(y) * y + 0.5`` repeated does not.
Linearity fixes that: ``B(k) = k · B(1)``, so each backpropagator caches one thing,
its *sensitivity* ``B(1)`` (the derivative of this value with respect to every input
it depends on), computed on first use from its arguments' sensitivities:
``B(1) = Σ ∂ᵢ · Bᵢ(1)``. Every ``B(1)`` is then computed once, as in memoised
recursion.

Cost: a sensitivity is a sparse vector over the inputs a value depends on. With one
input every vector has one entry, and a gradient costs O(N) for N operations, as the
tape does. With n inputs a vector may have n entries, and the cost grows to O(N·n) in
time and memory: this is forward-mode cost in reverse-mode clothes.

The memoised recursion ``B(1) = Σ ∂ᵢ · Bᵢ(1)`` runs on an explicit stack (a
depth-first walk that computes a value's sensitivity once all its arguments' are
known), so programs of any depth differentiate: no Python frame per step.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import attrs

from fad._core import register_tracer
from fad.tracers.codual import Codual

__all__ = ["MemoBackprop", "MemoCodual"]


class MemoBackprop:
    """A backpropagator ``k ↦ k · B(1)`` that computes ``B(1)`` once, on first call."""

    __slots__ = ("_edges", "_sensitivity")

    def __init__(
        self,
        edges: tuple[tuple[MemoBackprop, Any], ...],
        sensitivity: dict[int, Any] | None = None,
    ) -> None:
        self._edges = edges
        self._sensitivity = sensitivity

    def sensitivity(self) -> dict[int, Any]:
        """``B(1)``: the derivative with respect to each input, as ``{input index: value}``.

        Computed for this value and every value it depends on that has none yet, each
        once, by a depth-first walk on an explicit stack (no recursion).
        """
        done = self._sensitivity
        if done is not None:
            return done
        stack = [self]
        while stack:
            node = stack[-1]
            if node._sensitivity is not None:  # reached twice: already computed
                stack.pop()
                continue
            pending = [b for b, _ in node._edges if b._sensitivity is None]
            if pending:  # arguments first; this node is computed when they are done
                stack.extend(pending)
                continue
            stack.pop()
            node._compute()
        assert self._sensitivity is not None
        return self._sensitivity

    def _compute(self) -> None:
        """``B(1) = Σ ∂ᵢ · Bᵢ(1)``, once every argument's ``Bᵢ(1)`` is known."""
        edges = self._edges
        sens = _take(edges)
        if sens is None:
            sens = {}
        else:
            edges = edges[1:]
        for b, partial in edges:
            for i, v in b._sensitivity.items():  # type: ignore[union-attr]
                term = partial * v
                sens[i] = term if i not in sens else sens[i] + term
        self._sensitivity = sens
        self._edges = ()  # the arguments are no longer needed: free them

    def __call__(self, k: Any) -> dict[int, Any]:
        return {i: v * k for i, v in self.sensitivity().items()}


_refcount = getattr(sys, "getrefcount", None)


def _take(edges: tuple[tuple[MemoBackprop, Any], ...]) -> dict[int, Any] | None:
    """The first argument's sensitivity, to be extended in place, if nothing else can see it.

    ``total = total + term`` repeated n times would copy a growing vector n times,
    O(n²). When the first edge's partial is 1.0 and that argument is referenced by
    nothing but this edge (so no one can ask for its ``B(1)`` again), its vector is
    taken instead of copied: O(n). CPython only (reference counts); else ``None``.
    """
    if _refcount is None or not edges:
        return None
    b, partial = edges[0]
    if type(partial) is not float or partial != 1.0:
        return None
    # references: the edge, ``b`` here, and getrefcount's argument
    if _refcount(b) != 3:  # (an argument used twice has more)
        return None
    sens = b._sensitivity
    if sens is None or _refcount(sens) != 3:  # the slot, ``sens`` here, the argument
        return None
    b._sensitivity = _TAKEN
    return sens


_TAKEN: dict[int, Any] = {}  # what a node whose vector was taken keeps (never read)


@register_tracer
@attrs.frozen(eq=False, repr=False)
class MemoCodual(Codual):
    """A codual whose backpropagator is a :class:`MemoBackprop` (``mode="memo"``)."""

    mode_name = "memo"

    @classmethod
    def combine(cls, edges: tuple[tuple[Callable[[Any], Any], Any], ...]) -> Callable[[Any], Any]:
        for b, _ in edges:
            if type(b) is not MemoBackprop:
                msg = (
                    f"A MemoCodual's backprop must be a MemoBackprop, not {type(b).__name__}: "
                    "memo coduals come from the transforms (mode='memo') or from "
                    "MemoCodual.leaf(index, count). For a hand-built codual use fad.Codual."
                )
                raise TypeError(msg)
        return MemoBackprop(edges)  # type: ignore[arg-type]

    @classmethod
    def leaf(cls, index: int, count: int) -> Callable[[Any], Any]:
        """The backprop of input ``index``: its sensitivity is the one-hot vector."""
        return MemoBackprop((), {index: 1.0})
