"""Tracers built on the hot paths (fad/tracers/_build.py) are ordinary frozen instances."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import fad
import fad.math as fm
from fad._ops import TracerOps
from fad.tracers._build import twin
from fad.tracers.dual import Dual
from fad.tracers.jet import Jet
from fad.tracers.tape import TapeCodual


def seen_by(transform: str) -> list[Any]:
    """Tracers that a function sees and makes under ``transform``, by every hot path."""
    seen: list[Any] = []

    def f(x: Any) -> Any:
        ys = [x * 3.0, 2.0 - x, x * x, x**2, fm.sin(x), fm.hypot(x, x, x)]
        seen.extend([x, *ys])
        return sum(ys[1:], ys[0])

    if transform == "grad":
        fad.grad(f)(0.7)
    elif transform == "jvp":
        fad.jvp(f, (0.7,), (1.0,))
    else:
        fad.taylor(f, 0.7, 3)
    return seen


@pytest.mark.parametrize(
    ("transform", "cls"), [("grad", TapeCodual), ("jvp", Dual), ("taylor", Jet)]
)
def test_hot_path_tracers_are_frozen_instances_of_their_class(
    transform: str, cls: type[Any]
) -> None:
    seen = seen_by(transform)
    assert seen
    for value in seen:
        assert type(value) is cls
        assert isinstance(value, cls)
        names = [f.name for f in attrs.fields(cls)]
        assert set(attrs.asdict(value, recurse=False)) == set(names)
        for name in names:
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(value, name, 1.0)
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                delattr(value, name)
        assert not hasattr(value, "__dict__")
        assert repr(value).startswith(cls.__name__)


def test_a_twin_can_only_be_made_for_a_layout_python_can_swap() -> None:
    @attrs.frozen
    class WithWeakref(TracerOps):
        primal: Any

    with pytest.raises(TypeError):
        twin(WithWeakref)

    @attrs.frozen(weakref_slot=False)
    class Plain(TracerOps):
        primal: Any

    made = twin(Plain)()
    made.primal = 2.0
    made.__class__ = Plain
    assert type(made) is Plain
    assert made.primal == 2.0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(made, "primal", 3.0)  # noqa: B010 - the type checker rightly forbids it
