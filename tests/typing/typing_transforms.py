"""A small user program, checked by ``mypy --strict`` (tests/test_typing.py); never run.

The program sits under ``if TYPE_CHECKING:`` so that importing the file (pytest's
``--doctest-modules`` imports every module) runs nothing.

Each ``assert_type`` pins the type a transform gives; a change that loses precision
(or breaks a call that must type-check, like a lambda under ``--strict``) fails it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sys
    from collections.abc import Callable
    from typing import Any

    import fad
    import fad.math as fm
    from fad.testing import check_grads
    from fad.tree import PyTreeDef, tree_flatten, tree_map

    if sys.version_info >= (3, 11):
        from typing import assert_type
    else:
        from typing_extensions import assert_type

    def square(x: float) -> float:
        return x * x

    f: Callable[[float], float] = square

    # grad of a Callable[[float], float] with the defaults is a Callable[[float], float]
    assert_type(fad.grad(f), Callable[[float], float])
    assert_type(fad.grad(f, mode="memo"), Callable[[float], float])
    assert_type(fad.grad(f)(3.0), float)
    df = fad.grad(f)
    assert_type(fad.grad(df), Callable[[float], float])
    assert_type(fad.value_and_grad(f), Callable[[float], tuple[float, float]])

    # the gradient has the type of the differentiated argument
    def loss(params: dict[str, float], x: float, *, scale: float = 1.0) -> float:
        return scale * params["w"] * x

    p = {"w": 2.0}
    assert_type(fad.grad(loss)(p, 3.0), dict[str, float])
    assert_type(fad.grad(loss)(p, 3.0, scale=2.0), dict[str, float])
    assert_type(fad.value_and_grad(loss)(p, 3.0), tuple[float, dict[str, float]])
    assert_type(fad.grad(loss, argnums=1)(p, 3.0), Any)
    assert_type(fad.grad(loss, (0, 1))(p, 3.0), Any)

    def with_aux(x: float) -> tuple[float, str]:
        return x * x, "note"

    assert_type(fad.grad(with_aux, has_aux=True)(1.0), tuple[float, str])
    assert_type(fad.value_and_grad(with_aux, has_aux=True)(1.0), tuple[tuple[float, str], float])

    # lambdas and untyped functions type-check under --strict (their results are Any)
    g = fad.grad(lambda x: x * x)(3.0) + 1.0
    h = fad.grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 2.0)
    assert_type(fad.grad(fm.sin)(0.5), float)

    # jvp, vjp, linearize keep the output type
    assert_type(fad.jvp(f, (1.0,), (1.0,)), tuple[float, float])
    assert_type(fad.jvp(with_aux, (1.0,), (1.0,), has_aux=True), tuple[float, float, str])
    y, pullback = fad.vjp(f, 1.0)
    assert_type(y, float)
    assert_type(pullback, Callable[[float], tuple[Any, ...]])
    assert_type(pullback(1.0), tuple[Any, ...])
    assert_type(fad.vjp(with_aux, 1.0, has_aux=True, mode="naive")[2], str)
    y2, f_jvp = fad.linearize(f, 1.0)
    assert_type(f_jvp(1.0), float)
    assert_type(fad.linearize(with_aux, 1.0, has_aux=True)[2], str)

    # Jacobians have the structure of both sides: Any, but the arguments stay checked
    assert_type(fad.jacfwd(f), Callable[[float], Any])
    assert_type(fad.jacrev(f), Callable[[float], Any])
    assert_type(fad.jacrev(loss, mode="tape")(p, 1.0), Any)
    assert_type(fad.hessian(loss)(p, 1.0), Any)

    # scalar derivatives and stop_gradient
    assert_type(fad.derivative(f, 3), Callable[[float], float])
    assert_type(fad.derivative(lambda x: fm.exp(x), order=2)(0.0), float)
    assert_type(fad.stop_gradient({"a": 1.0}), dict[str, float])

    # pytrees and the testing helper
    leaves, treedef = tree_flatten({"a": [1.0, 2.0]})
    assert_type(leaves, list[Any])
    assert_type(treedef, PyTreeDef)
    doubled = tree_map(lambda v: 2 * v, {"a": 1.0})
    check_grads(loss, (p, 3.0), order=2, modes=("fwd", "rev"))
