"""Tracers built on the hot paths (fad/tracers/_build.py) are ordinary frozen instances."""

from __future__ import annotations

import math
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


@pytest.mark.parametrize(
    "transform", ["grad", "jvp", "taylor"], ids=["TapeCodual", "Dual", "Jet"]
)
def test_tracers_can_be_weakly_referenced(transform: str) -> None:
    import weakref

    for value in seen_by(transform):
        assert weakref.ref(value)() is value


class MyDual(fad.Dual):
    """A user's subclass, with a method of its own."""

    def doubled(self) -> Any:
        return 2 * self


@attrs.frozen(eq=False, repr=False)
class CheckedDual(fad.Dual):
    """A subclass whose __init__ validates: built by calling it, never by the twin."""

    made: list[Any] = attrs.field(factory=list, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.primal, str):
            raise TypeError("no strings")


@pytest.mark.parametrize("cls", [MyDual, CheckedDual])
def test_a_subclass_of_dual_stays_that_subclass(cls: type[fad.Dual]) -> None:
    x = cls(0.5, 1.0)
    ys = [fm.sin(x) * x, x * 2.0, 3 - x, x**2, x / x, fm.hypot(x, x, x), x + fm.exp(x)]
    for y in ys:
        assert type(y) is cls
    y = fm.sin(x) * x
    assert y.primal == math.sin(0.5) * 0.5
    assert y.tangent == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5), rel=1e-15)
    assert repr(y).startswith(cls.__name__)
    with pytest.raises(TypeError, match="same level"):
        _ = x * fad.Dual(1.0, 1.0)  # two kinds at one level: refused, not mixed up


def test_a_subclass_method_sees_the_subclass() -> None:
    y = MyDual(2.0, 1.0).doubled()
    assert type(y) is MyDual
    assert (y.primal, y.tangent) == (4.0, 2.0)


@attrs.frozen(eq=False, repr=False)
class MyTape(TapeCodual):
    """A user's reverse strategy: the tape, under another name."""


def test_a_subclass_of_tape_codual_is_a_mode_and_stays_itself() -> None:
    seen: list[Any] = []

    def f(x: Any) -> Any:
        y = fm.sin(x) * x + 2.0 * x - x**2
        seen.extend([x, y])
        return y

    expected = fad.grad(f)(0.5)
    seen.clear()
    assert fad.grad(f, mode=MyTape)(0.5) == expected
    assert seen
    assert all(type(v) is MyTape for v in seen)


def test_a_subclass_of_codual_stays_that_subclass() -> None:
    class MyCodual(fad.Codual):
        pass

    x = MyCodual(0.5, lambda k: k)
    y = fm.sin(x) * x
    assert type(y) is MyCodual
    assert y.backprop(1.0) == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5), rel=1e-15)


def test_the_twin_refuses_classes_whose_init_does_more() -> None:
    @attrs.frozen(weakref_slot=False)
    class Validated(TracerOps):
        primal: Any = attrs.field(validator=attrs.validators.instance_of(float))

    @attrs.frozen(weakref_slot=False)
    class Hooked(TracerOps):
        primal: Any

        def __attrs_post_init__(self) -> None:
            pass

    for cls in (Validated, Hooked, CheckedDual, MyDual):
        with pytest.raises(TypeError, match="twin"):
            twin(cls)
