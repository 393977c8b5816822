"""Building frozen tracers on the hot path: a mutable twin, then the frozen class.

``Dual``, ``TapeCodual`` and ``Jet`` are frozen ``attrs`` classes: users can never
change a tracer. Their ``__init__`` pays for that on every field (``attrs`` goes
through ``object.__setattr__``), and fad makes one tracer per recorded operation.
The hot paths therefore build a tracer in two steps:

1. make an instance of the class's *twin*: the same base and the same ``__slots__``,
   but mutable, so that its fields are stored by plain attribute assignments (which
   CPython specialises to a direct slot store);
2. assign the frozen class to its ``__class__``. Python allows this between classes
   whose instances have the same layout, and the result is an ordinary instance of
   the frozen class.

Kept because it is measured to be the cheapest way (construction costs in
docs/benchmarks.md). It skips ``__init__``, so :func:`twin` refuses a class whose
``__init__`` does more than store its fields (validators, converters, pre- or
post-init hooks); such a class, and any user subclass, is built by calling it.

The weak-reference slot lives in :class:`TracerBase`, the common base, so that the
twin and the frozen class have the same layout (CPython accepts ``__class__``
assignment only then) and tracers can still be weakly referenced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from fad._ops import TracerOps

__all__ = ["TracerBase", "install_fast_paths", "keep_fast_paths_off_subclasses", "twin"]


class TracerBase(TracerOps):
    """The base of fad's attrs tracers: the operators, and a weak-reference slot."""

    __slots__ = ("__weakref__",)


def twin(cls: type[Any]) -> type[Any]:
    """A mutable class with ``cls``'s base and slots, whose instances may become ``cls``.

    Raises:
        TypeError: if ``cls`` is not a slotted attrs class of its own with one base,
            if its ``__init__`` does more than store fields (validators, converters,
            hooks), or if CPython will not let an instance of the twin take its
            layout.
    """
    name = cls.__name__
    if (
        not attrs.has(cls)
        or "__slots__" not in cls.__dict__
        or len(cls.__bases__) != 1
        or attrs.has(cls.__bases__[0])
    ):
        msg = (
            f"twin: {name} must be a slotted attrs class with exactly one base class, "
            "itself not an attrs class"
        )
        raise TypeError(msg)
    fields = attrs.fields(cls)
    if any(f.validator is not None or f.converter is not None for f in fields) or any(
        hasattr(cls, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__")
    ):
        msg = f"twin: {name}'s __init__ validates, converts or runs a hook: build it by calling it"
        raise TypeError(msg)
    slots = tuple(cls.__dict__["__slots__"])
    mutable = type(f"_{name}Twin", cls.__bases__, {"__slots__": slots})
    probe = mutable()
    probe.__class__ = cls  # TypeError now, at import, if the layouts differ
    return mutable


def keep_fast_paths_off_subclasses(
    cls: type[Any], base: type[Any], fast: Mapping[str, Callable[..., Any]]
) -> None:
    """Give a subclass of ``base`` the generic operators in place of ``base``'s fast paths.

    The fast paths build ``base`` itself; a user's subclass goes through ``bind`` and
    ``apply`` instead, which build ``cls``. Operators the subclass defines stay.
    """
    for dunder in fast:
        if dunder not in cls.__dict__:
            setattr(cls, dunder, getattr(TracerOps, dunder))


def install_fast_paths(cls: type[Any], fast: Mapping[str, Callable[..., Any]], on: bool) -> None:
    """Set ``cls``'s operators to the fast paths ``fast`` (``on``) or to the generic ones."""
    for dunder, fn in fast.items():
        setattr(cls, dunder, fn if on else getattr(TracerOps, dunder))
