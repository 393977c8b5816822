"""The functions that fad's transforms return pickle when the user's function does.

Oracle: the transformed function before pickling. ``pickle.loads(pickle.dumps(t))`` must
give the same numbers (bitwise: the same operations run) at points drawn by hypothesis,
for every transform, nested, with ``argnums``, ``has_aux`` and every ``mode``; custom
rules must come back with their functions. A process pool runs one in other processes.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.math as fm
from fad.tracers.codual import Codual
from fad.tracers.tape import TapeCodual

xs = st.floats(-3.0, 3.0, allow_nan=False)
pos = st.floats(0.25, 3.0, allow_nan=False)


def roundtrip(obj: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> Any:
    return pickle.loads(pickle.dumps(obj, protocol))


# --- module-level user functions (pickled by reference) ---------------------------------------


def f(x: Any, y: Any = 2.0) -> Any:
    return fm.sin(x) * y * x + fm.exp(0.1 * y)


def loss(p: dict[str, Any], x: Any, *, scale: float = 1.0) -> Any:
    return scale * (p["w"] * x + p["b"]) ** 2


def vec(v: list[Any]) -> dict[str, Any]:
    return {"prod": v[0] * v[1] * v[1], "sin": fm.sin(v[0] + v[1])}


def with_aux(x: Any, y: Any) -> tuple[Any, dict[str, Any]]:
    return x * x * y, {"seen": fad.stop_gradient(y), "tag": "aux"}


def vec_aux(v: list[Any]) -> tuple[list[Any], str]:
    return [v[0] * v[1], fm.cos(v[0])], "note"


def cube(x: Any) -> Any:
    return x * x * x


class MyTape(TapeCodual):
    """A user's tracer class, given as ``mode=`` (pickled by reference)."""


@fad.custom_jvp
def softplus(x: Any) -> Any:
    return fm.log(1.0 + fm.exp(x))


@softplus.defjvp
def softplus_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    return softplus(x), x_dot / (1.0 + fm.exp(-x))


def sin_times_body(x: Any, y: Any) -> Any:
    return fm.sin(x) * y


sin_times = fad.custom_jvp(sin_times_body)


def sin_times_dx(x_dot: Any, ans: Any, x: Any, y: Any) -> Any:
    return fm.cos(x) * x_dot * y


def sin_times_dy(y_dot: Any, ans: Any, x: Any, y: Any) -> Any:
    return fm.sin(x) * y_dot


sin_times.defjvps(sin_times_dx, sin_times_dy)


@fad.custom_vjp
def clip_gradient(x: Any) -> Any:
    return x


def clip_fwd(x: Any) -> tuple[Any, None]:
    return x, None


def clip_bwd(res: None, g: Any) -> tuple[Any]:
    return (max(min(g, 1.0), -1.0),)


clip_gradient.defvjp(clip_fwd, clip_bwd)


def scaled_square(k: float, x: Any) -> Any:
    return k * x * x


def scaled_square_jvp(k: float, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> Any:
    (x,), (x_dot,) = primals, tangents
    return scaled_square(k, x), 2.0 * k * x * x_dot


# a custom function that is not a module attribute under its own name: pickled by value
by_value = fad.custom_jvp(functools.partial(scaled_square), nondiff_argnums=(0,))
by_value.defjvp(scaled_square_jvp)
by_value_jvps = fad.custom_jvp(functools.partial(sin_times_body))
by_value_jvps.defjvps(sin_times_dx, sin_times_dy)


def identity(x: Any) -> Any:
    return x


clip_by_value = fad.custom_vjp(functools.partial(identity))
clip_by_value.defvjp(clip_fwd, clip_bwd)


def uses_custom(x: Any) -> Any:
    return 3.0 * clip_gradient(x * x) + softplus(x) + sin_times(x, 2.0) + by_value(1.5, x)


# --- every transform round-trips ---------------------------------------------------------------

MODES: tuple[Any, ...] = (None, "tape", "memo", "naive", MyTape)

TRANSFORMS: list[
    tuple[str, Callable[[], Callable[..., Any]], Callable[[float, float], tuple[Any, ...]]]
] = [
    ("grad", lambda: fad.grad(f), lambda x, y: (x,)),
    ("grad argnums=1", lambda: fad.grad(f, argnums=1), lambda x, y: (x, y)),
    ("grad argnums=-1", lambda: fad.grad(f, argnums=-1), lambda x, y: (x, y)),
    ("grad argnums=(0, 1)", lambda: fad.grad(f, (0, 1)), lambda x, y: (x, y)),
    ("grad pytree", lambda: fad.grad(loss), lambda x, y: ({"w": x, "b": y}, 0.5)),
    ("grad has_aux", lambda: fad.grad(with_aux, has_aux=True), lambda x, y: (x, y)),
    ("grad of grad", lambda: fad.grad(fad.grad(f)), lambda x, y: (x,)),
    ("grad of grad of grad", lambda: fad.grad(fad.grad(fad.grad(cube))), lambda x, y: (x,)),
    ("grad of partial", lambda: fad.grad(functools.partial(f, y=3.0)), lambda x, y: (x,)),
    ("partial of grad", lambda: functools.partial(fad.grad(f), y=3.0), lambda x, y: (x,)),
    ("value_and_grad", lambda: fad.value_and_grad(f, argnums=(0, 1)), lambda x, y: (x, y)),
    (
        "value_and_grad has_aux",
        lambda: fad.value_and_grad(with_aux, 1, has_aux=True),
        lambda x, y: (x, y),
    ),
    ("jacfwd", lambda: fad.jacfwd(vec), lambda x, y: ([x, y],)),
    ("jacfwd has_aux", lambda: fad.jacfwd(vec_aux, has_aux=True), lambda x, y: ([x, y],)),
    ("jacfwd argnums", lambda: fad.jacfwd(f, argnums=(0, 1)), lambda x, y: (x, y)),
    ("jacrev", lambda: fad.jacrev(vec), lambda x, y: ([x, y],)),
    ("jacrev has_aux", lambda: fad.jacrev(vec_aux, has_aux=True), lambda x, y: ([x, y],)),
    ("jacfwd of grad", lambda: fad.jacfwd(fad.grad(loss)), lambda x, y: ({"w": x, "b": y}, 2.0)),
    ("hessian", lambda: fad.hessian(loss), lambda x, y: ({"w": x, "b": y}, 2.0)),
    ("hessian argnums", lambda: fad.hessian(f, argnums=(0, 1)), lambda x, y: (x, y)),
    ("derivative", lambda: fad.derivative(cube), lambda x, y: (x,)),
    ("derivative order 0", lambda: fad.derivative(cube, 0), lambda x, y: (x,)),
    ("derivative order 3", lambda: fad.derivative(softplus, 3), lambda x, y: (x,)),
    ("derivative of grad", lambda: fad.derivative(fad.grad(cube)), lambda x, y: (x,)),
    ("grad of custom rules", lambda: fad.grad(uses_custom), lambda x, y: (x,)),
    ("hessian of custom rules", lambda: fad.hessian(uses_custom), lambda x, y: (x,)),
    ("jacfwd of custom_jvp", lambda: fad.jacfwd(sin_times, (0, 1)), lambda x, y: (x, y)),
    ("grad of defjvps by value", lambda: fad.grad(by_value_jvps, (0, 1)), lambda x, y: (x, y)),
]


@pytest.mark.parametrize(
    ("make", "args"), [t[1:] for t in TRANSFORMS], ids=[t[0] for t in TRANSFORMS]
)
@settings(max_examples=15)
@given(x=xs, y=pos)
def test_a_pickled_transform_computes_what_the_original_does(
    make: Callable[[], Callable[..., Any]],
    args: Callable[[float, float], tuple[Any, ...]],
    x: float,
    y: float,
) -> None:
    t = make()
    a = args(x, y)
    assert roundtrip(t)(*a) == t(*a)


@pytest.mark.parametrize("mode", MODES, ids=repr)
@settings(max_examples=10)
@given(x=xs, y=pos)
def test_every_mode_round_trips(mode: Any, x: float, y: float) -> None:
    t: Any
    for t in (
        fad.grad(f, (0, 1), mode=mode),
        fad.value_and_grad(with_aux, has_aux=True, mode=mode),
        fad.jacrev(vec, mode=mode),
        fad.hessian(loss, mode=mode),
    ):
        a = (
            ({"w": x, "b": y}, 2.0)
            if t.__wrapped__ is loss
            else ([x, y],)
            if t.__wrapped__ is vec
            else (x, y)
        )
        assert roundtrip(t)(*a) == t(*a)


def test_modes_pickle_as_given() -> None:
    # a string mode stays a string, a tracer class goes by reference
    assert b"MyTape" in pickle.dumps(fad.grad(f, mode=MyTape))
    assert b"memo" in pickle.dumps(fad.grad(f, mode="memo"))
    assert roundtrip(fad.grad(f, mode=MyTape)).cls is MyTape
    assert roundtrip(fad.jacrev(f, mode="naive")).cls is Codual


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol(protocol: int) -> None:
    t: Any
    for t in (fad.grad(fad.grad(uses_custom)), fad.jacfwd(vec), fad.derivative(cube, 2)):
        assert roundtrip(t, protocol)(0.7 if t.__wrapped__ is not vec else [0.7, 0.2]) == t(
            0.7 if t.__wrapped__ is not vec else [0.7, 0.2]
        )
    assert roundtrip(by_value, protocol).jvp is scaled_square_jvp


# --- custom rules --------------------------------------------------------------------------------


def test_decorated_module_functions_pickle_by_reference() -> None:
    for c in (softplus, clip_gradient):
        assert roundtrip(c) is c


@settings(max_examples=20)
@given(x=xs)
def test_custom_functions_pickled_by_value_keep_their_rules(x: float) -> None:
    c = roundtrip(by_value)
    assert c is not by_value
    assert c.jvp is scaled_square_jvp
    assert c.nondiff_argnums == (0,)
    assert fad.grad(c, 1)(1.5, x) == fad.grad(by_value, 1)(1.5, x) == 3.0 * x
    d = roundtrip(by_value_jvps)
    assert d.jvp is not by_value_jvps.jvp  # the rule made by defjvps is rebuilt ...
    assert d.jvp.custom is d  # ... around the copy
    got = fad.grad(d, (0, 1))(x, 2.0)
    assert got == fad.grad(by_value_jvps, (0, 1))(x, 2.0)
    v = roundtrip(clip_by_value)
    assert v is not clip_by_value
    assert (v.fwd, v.bwd) == (clip_fwd, clip_bwd)
    assert fad.grad(lambda y: 3.0 * v(y))(x) == 1.0  # the rule clips the cotangent 3


def clipped(x: Any) -> Any:
    return clip_gradient(x) * 3.0


@settings(max_examples=20)
@given(x=xs)
def test_a_pickled_custom_vjp_still_clips(x: float) -> None:
    # the cotangent 3 reaching bwd is clipped to 1: the rule, not the body's derivative
    g = fad.grad(clipped)
    assert roundtrip(g)(x) == g(x) == 1.0


# --- metadata ------------------------------------------------------------------------------------


def test_transforms_carry_the_metadata_of_the_function() -> None:
    g: Any = fad.grad(loss, argnums=1, mode="memo")
    assert g.__wrapped__ is loss
    assert g.__name__ == "grad_of_loss"
    assert g.__qualname__ == "grad_of_loss"
    assert g.__module__ == __name__
    assert g.__doc__ == "fad.grad of loss with respect to argnums=1, mode='memo'."
    assert inspect.signature(g) == inspect.signature(loss)
    assert repr(g) == "<fad.grad of loss (argnums=1, mode='memo')>"
    h: Any = fad.hessian(fad.grad(f))
    assert h.__name__ == "hessian_of_grad_of_f"
    assert h.__wrapped__.__wrapped__ is f
    c = roundtrip(h)
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        assert getattr(c, attr) == getattr(h, attr)
    assert c.__wrapped__.__wrapped__ is f
    assert fad.derivative(cube, 2).__doc__ == "fad.derivative of cube, order=2."


class Model:
    def energy(self, x: Any) -> Any:
        return x * x * x

    denergy = fad.grad(energy, argnums=1)


def test_a_transform_binds_as_a_method_like_a_function() -> None:
    assert Model().denergy(2.0) == 12.0
    assert Model.__dict__["denergy"].__get__(None, Model) is Model.__dict__["denergy"]


# --- what does not pickle, and why ----------------------------------------------------------------


def test_a_lambda_or_local_function_gives_pickles_usual_error() -> None:
    def local(x: Any) -> Any:
        return x * x

    g = fad.grad(lambda x: x * x)
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(g)
    with pytest.raises((pickle.PicklingError, AttributeError), match="local"):
        pickle.dumps(fad.jacrev(fad.grad(local)))


def test_vjp_fun_refuses_pickling_with_advice() -> None:
    _, f_vjp = fad.vjp(f, 1.0, 2.0)
    with pytest.raises(TypeError, match=r"fad\.vjp.*cannot be pickled.*fad\.grad\(fun\)"):
        pickle.dumps(f_vjp)


# --- other processes ------------------------------------------------------------------------------


def test_grad_runs_in_a_process_pool() -> None:
    points = [0.1 * k for k in range(-6, 7)]
    g = fad.grad(f)
    # the pool pickles g for every chunk of points; its workers unpickle it, importing
    # f by reference (with the platform's default start method, as a user's pool does)
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(g, points, chunksize=4))
    assert got == [g(x) for x in points]


def test_linearize_function_refuses_pickling_clearly() -> None:
    _, f_jvp = fad.linearize(lambda x: x * x, 2.0)
    with pytest.raises(TypeError, match=r"fad\.linearize.*fad\.jacfwd"):
        pickle.dumps(f_jvp)
