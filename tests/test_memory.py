"""Nothing a transform makes outlives it: tracers, traces and backpropagators die.

After ``grad`` (or ``value_and_grad``, ``jacrev``, a nested transform, an error)
returns, and after a ``vjp_fun`` is dropped, no tracer, :class:`Tape`, closure or
memo cell made inside the function is still alive. Two probes: weak references to
the objects the function sees (tracers, the trace, naive backpropagators), and a
census of fad's own types among the objects the garbage collector tracks
(``MemoBackprop`` has no weakref slot, so only the census sees it).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import sys
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import fad
from fad._core import FadRecursionError
from fad.tracers.codual import Codual, LazyCotangent
from fad.tracers.dual import Dual
from fad.tracers.memo import MemoBackprop, MemoCodual
from fad.tracers.tape import Tape, TapeCodual

MODES = ("tape", "memo", "naive")

FAD_TYPES: tuple[type, ...] = (
    Codual,
    Dual,
    LazyCotangent,
    MemoBackprop,
    MemoCodual,
    TapeCodual,
    Tape,
)


def census() -> collections.Counter[str]:
    """How many objects of fad's types, and fad-made closures, are alive."""
    gc.collect()
    counts: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        t = type(obj)
        if t in FAD_TYPES:
            counts[t.__name__] += 1
        elif t is type(census) and (obj.__module__ or "").startswith("fad."):
            counts[f"closure {obj.__qualname__}"] += 1
    return counts


class Probe:
    """Weak references to what a differentiated function sees and makes."""

    def __init__(self) -> None:
        self.refs: list[tuple[str, weakref.ref[Any]]] = []

    def watch(self, name: str, obj: Any) -> None:
        # No weakref slot (floats, MemoBackprop): the census covers those.
        with contextlib.suppress(TypeError):
            self.refs.append((name, weakref.ref(obj)))

    def watch_tracer(self, name: str, x: Any) -> None:
        self.watch(name, x)
        tape = getattr(x, "tape", None)
        if tape is not None:
            self.watch(f"{name}.tape", tape)
        if type(x) in (Codual, MemoCodual):
            self.watch(f"{name}.backprop", x.backprop)

    def alive(self) -> list[str]:
        gc.collect()
        return [name for name, ref in self.refs if ref() is not None]


def reuse_heavy(probe: Probe) -> Callable[[Any], Any]:
    """``y = sin(y) * y + 0.5`` a few times, recording every intermediate value."""

    def f(x: Any) -> Any:
        probe.watch_tracer("x", x)
        y = x
        for i in range(6):
            y = fad.math.sin(y) * y + 0.5
            probe.watch_tracer(f"y{i}", y)
        return y

    return f


def two_inputs(probe: Probe) -> Callable[[Any, Any], Any]:
    def f(a: Any, b: Any) -> Any:
        probe.watch_tracer("a", a)
        probe.watch_tracer("b", b)
        c = a * b + fad.math.exp(a)
        probe.watch_tracer("c", c)
        return c * c - b

    return f


@contextmanager
def nothing_survives(probe: Probe) -> Iterator[None]:
    """Check that the block leaves no fad object alive (census) and no watched one."""
    before = census()
    yield
    assert probe.refs, "the probe saw nothing: the function was not traced"
    assert probe.alive() == []
    after = census()
    assert after - before == collections.Counter()


@pytest.mark.parametrize("mode", MODES)
def test_grad_leaves_nothing_alive(mode: str) -> None:
    probe = Probe()
    with nothing_survives(probe):
        g = fad.grad(reuse_heavy(probe), mode=mode)(0.4)
    assert type(g) is float


@pytest.mark.parametrize("mode", MODES)
def test_value_and_grad_with_aux_leaves_nothing_alive(mode: str) -> None:
    probe = Probe()
    f = two_inputs(probe)

    def with_aux(a: Any, b: Any) -> tuple[Any, dict[str, Any]]:
        out = f(a, b)
        return out, {"primal": fad.stop_gradient(out)}

    with nothing_survives(probe):
        (value, aux), grads = fad.value_and_grad(with_aux, (0, 1), has_aux=True, mode=mode)(
            0.3, 1.7
        )
    assert type(value) is float
    assert type(aux["primal"]) is float
    assert len(grads) == 2


@pytest.mark.parametrize("mode", MODES)
def test_vjp_fun_keeps_the_recording_until_dropped(mode: str) -> None:
    probe = Probe()
    before = census()
    y, f_vjp = fad.vjp(reuse_heavy(probe), 0.4, mode=mode)
    first = f_vjp(1.0)
    assert f_vjp(1.0) == first
    if mode == "tape":  # the trace is what the pullback runs on: it must still be here
        assert [n for n in probe.alive() if n.endswith(".tape")]
    elif mode == "naive":  # the output's backpropagator (and so its closures) too
        assert census() - before != collections.Counter()
    del f_vjp
    assert probe.alive() == []
    assert census() - before == collections.Counter()
    assert type(y) is float


@pytest.mark.parametrize("mode", MODES)
def test_jacrev_leaves_nothing_alive(mode: str) -> None:
    probe = Probe()
    f = two_inputs(probe)

    def vector(a: Any, b: Any) -> list[Any]:
        return [f(a, b), a - b, fad.math.sin(a * b)]

    with nothing_survives(probe):
        jac = fad.jacrev(vector, (0, 1), mode=mode)(0.3, 1.7)
    assert len(jac) == 3


@pytest.mark.parametrize("mode", MODES)
def test_nested_transforms_leave_nothing_alive(mode: str) -> None:
    probe = Probe()
    f = reuse_heavy(probe)
    with nothing_survives(probe):
        h = fad.grad(fad.grad(f, mode=mode), mode=mode)(0.4)
        _, hv = fad.jvp(fad.grad(f, mode=mode), (0.4,), (1.0,))
        rf = fad.grad(lambda x: fad.jvp(f, (x,), (1.0,))[1], mode=mode)(0.4)
    assert h == pytest.approx(hv, rel=1e-12)
    assert rf == pytest.approx(hv, rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_an_error_inside_the_function_leaves_nothing_alive(mode: str) -> None:
    probe = Probe()
    f = reuse_heavy(probe)

    def fails(x: Any) -> Any:
        return fad.math.log(f(x) - 10.0)  # log of a negative number: ValueError

    def call() -> None:
        try:
            fad.grad(fails, mode=mode)(0.4)
        except ValueError:
            return
        pytest.fail("log of a negative number did not raise")

    with nothing_survives(probe):
        call()


@pytest.mark.parametrize("mode", ["naive"])
def test_a_recursion_error_leaves_nothing_alive(mode: str) -> None:
    probe = Probe()
    d = sys.getrecursionlimit() + 50

    def deep(x: Any) -> Any:
        probe.watch_tracer("x", x)
        y = x
        for _ in range(d):
            y = 0.9 * fad.math.sin(y) + 0.1
        probe.watch_tracer("y", y)
        return y

    def call() -> None:
        try:
            fad.grad(deep, mode=mode)(0.4)
        except FadRecursionError:
            return
        pytest.fail("no FadRecursionError")

    with nothing_survives(probe):
        call()


@pytest.mark.parametrize("mode", MODES)
def test_no_reference_cycles(mode: str) -> None:
    """Reference counting alone frees a call's recording: no collector pass needed.

    A cycle through a recording would keep a whole tape alive until the next
    collection, so a loop of many gradient calls would hold many tapes at once.
    """
    probe = Probe()
    f = reuse_heavy(probe)
    gc.collect()
    gc.disable()
    try:
        fad.grad(f, mode=mode)(0.4)
        _, f_vjp = fad.vjp(f, 0.4, mode=mode)
        f_vjp(1.0)
        del f_vjp
        fad.jvp(fad.grad(f, mode=mode), (0.4,), (1.0,))
        alive = [name for name, ref in probe.refs if ref() is not None]
    finally:
        gc.enable()
    assert probe.refs
    assert alive == []
