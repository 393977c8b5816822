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
time and memory: this is forward-mode cost in reverse-mode clothes. The recursion
also needs one Python frame per step of the longest chain, so programs deeper than
the recursion limit (about 1000 steps by default; fad raises
:class:`~fad._core.FadRecursionError`) need the tape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from fad._core import register_tracer
from fad.tracers.codual import Codual

__all__ = ["MemoBackprop", "MemoCodual"]


class MemoBackprop:
    """A backpropagator ``k ↦ k · B(1)`` that computes ``B(1)`` once, on first call."""

    __slots__ = ("_edges", "_unit")

    def __init__(
        self, edges: tuple[tuple[MemoBackprop, Any], ...], unit: dict[int, Any] | None = None
    ) -> None:
        self._edges = edges
        self._unit = unit

    def unit(self) -> dict[int, Any]:
        """``B(1)``: the sensitivity to each input, as ``{input index: value}``."""
        unit = self._unit
        if unit is None:
            unit = {}
            for b, partial in self._edges:
                for i, v in b.unit().items():
                    term = partial * v
                    unit[i] = term if i not in unit else unit[i] + term
            self._unit = unit
            self._edges = ()  # the arguments are no longer needed: free them
        return unit

    def __call__(self, k: Any) -> dict[int, Any]:
        return {i: v * k for i, v in self.unit().items()}


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
                    "MemoCodual.leaf(index, n_inputs). For a hand-built codual use fad.Codual."
                )
                raise TypeError(msg)
        return MemoBackprop(edges)  # type: ignore[arg-type]

    @classmethod
    def leaf(cls, index: int, n_inputs: int) -> Callable[[Any], Any]:
        """The backprop of input ``index``: its sensitivity is the one-hot vector."""
        return MemoBackprop((), {index: 1.0})
