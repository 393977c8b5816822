"""Every misuse of a transform raises a specific exception naming argument and path."""

from __future__ import annotations

import contextlib
import math
import math as m
import re
from collections.abc import Callable
from math import exp, frexp, sin
from typing import Any

import pytest

import fad
import fad.math as fm

MODES = ["tape", "memo", "naive"]
loose: Any = fad  # for calls that are wrong on purpose, so mypy lets them through


def scalar(x: Any) -> Any:
    return x * x


# ------------------------------------------------------------------ non-scalar outputs


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "out", [lambda x: (x, x), lambda x: [x], lambda x: {"a": x}, lambda x: None, lambda x: x > 0]
)
def test_grad_of_non_scalar_output(out: Callable[[Any], Any], mode: str) -> None:
    with pytest.raises(TypeError, match=r"fad\.grad needs fun to return one real scalar.*jacrev"):
        fad.grad(out, mode=mode)(1.0)
    with pytest.raises(TypeError, match=r"fad\.value_and_grad needs fun to return one real scalar"):
        fad.value_and_grad(out, mode=mode)(1.0)


@pytest.mark.parametrize(
    "transform",
    [
        lambda f: fad.grad(f)(1.0),
        lambda f: fad.vjp(f, 1.0),
        lambda f: fad.jvp(f, (1.0,), (1.0,)),
        lambda f: fad.jacfwd(f)(1.0),
        lambda f: fad.jacrev(f)(1.0),
        lambda f: fad.linearize(f, 1.0),
    ],
)
def test_output_leaf_that_is_not_a_number(transform: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match=r"the output of fun at path \[1\]\['s'\] is a str"):
        transform(lambda x: (x, {"s": "text"}))


# ------------------------------------------------------------------ bad leaves in inputs


@pytest.mark.parametrize(
    ("leaf", "kind"), [(True, "bool"), (1j, "complex"), ("w", "str"), (object(), "object")]
)
def test_bad_leaf_named_by_argument_and_path(leaf: Any, kind: str) -> None:
    params = (1.0, {"w": leaf, "b": 2.0})
    where = re.escape("argument 0 at path [1]['w'] is a " + kind)
    with pytest.raises(TypeError, match=where):
        fad.grad(lambda p: p[0])(params)
    with pytest.raises(TypeError, match=where):
        fad.jacfwd(lambda p: p[0])(params)
    with pytest.raises(TypeError, match=where):
        fad.jacrev(lambda p: p[0])(params)
    with pytest.raises(TypeError, match=where):
        fad.vjp(lambda p: p[0], params)
    with pytest.raises(TypeError, match=where):
        fad.linearize(lambda p: p[0], params)
    with pytest.raises(TypeError, match=where):
        fad.jvp(lambda p: p[0], (params,), ((1.0, {"w": 0.0, "b": 0.0}),))
    # the argument's number is its position in the call, whatever argnums holds
    with pytest.raises(TypeError, match=re.escape("argument 2 at path [1]['w'] is a " + kind)):
        fad.grad(lambda a, b, p: a * b, argnums=(0, 2))(1.0, 2.0, params)
    with pytest.raises(TypeError, match=re.escape(f"argument 1 is a {kind}")):
        fad.grad(lambda a, b: a, argnums=(0, 1))(1.0, leaf)


def test_bad_leaves_outside_argnums_are_fine() -> None:
    assert fad.grad(lambda x, name: x * len(name))(2.0, "abc") == 3.0
    assert fad.grad(lambda x, flag: x if flag else -x)(2.0, True) == 1.0


# ------------------------------------------------------------------ argnums


def test_argnums_out_of_range() -> None:
    f = lambda x, y: x * y
    with pytest.raises(TypeError, match="requires at least 3 positional arguments"):
        fad.grad(f, argnums=2)(1.0, 2.0)
    with pytest.raises(TypeError, match="requires at least 3 positional arguments"):
        fad.jacfwd(f, argnums=(0, 2))(1.0, 2.0)
    with pytest.raises(TypeError, match="requires at least 1 positional arguments"):
        loose.jacrev(f)()
    with pytest.raises(ValueError, match=r"out of range.*\[-2, 2\)"):
        fad.value_and_grad(f, argnums=-3)(1.0, 2.0)


def test_argnums_of_the_wrong_kind() -> None:
    for bad in ["0", 1.0, True, (0, "1"), None]:
        with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
            loose.grad(scalar, argnums=bad)
    with pytest.raises(ValueError, match="selects no argument"):
        fad.grad(scalar, argnums=())
    with pytest.raises(ValueError, match="names an argument twice"):
        fad.grad(lambda x, y: x * y, argnums=(0, -2))(1.0, 2.0)


# ------------------------------------------------------------------ jvp and linearize tangents


def test_jvp_tangents_of_another_structure() -> None:
    f = lambda p: p["a"] * p["b"]
    with pytest.raises(
        TypeError, match=r"tangent of argument 0 has structure.*same tree structure"
    ):
        fad.jvp(f, ({"a": 1.0, "b": 2.0},), ({"a": 1.0},))
    with pytest.raises(TypeError, match="1 primals and 2 tangents"):
        fad.jvp(f, ({"a": 1.0, "b": 2.0},), ({"a": 1.0, "b": 0.0}, 1.0))
    with pytest.raises(TypeError, match="must be tuples or lists"):
        loose.jvp(scalar, 1.0, 1.0)
    with pytest.raises(TypeError, match=re.escape("tangent of argument 0 at path ['b'] is a str")):
        fad.jvp(f, ({"a": 1.0, "b": 2.0},), ({"a": 1.0, "b": "x"},))


def test_linearized_function_checks_its_tangents() -> None:
    _, f_jvp = fad.linearize(lambda x, y: x * y, 1.0, 2.0)
    with pytest.raises(TypeError, match="one tangent per primal"):
        f_jvp(1.0)
    with pytest.raises(TypeError, match="primals' structure"):
        f_jvp(1.0, (2.0,))


# ------------------------------------------------------------------ vjp cotangents


@pytest.mark.parametrize("mode", MODES)
def test_vjp_cotangent_checks(mode: str) -> None:
    _, f_vjp = fad.vjp(lambda x: (x, x * x), 2.0, mode=mode)
    with pytest.raises(ValueError, match="the cotangent has structure"):
        f_vjp(1.0)
    with pytest.raises(TypeError, match="takes one cotangent"):
        f_vjp(1.0, 1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=re.escape("the cotangent at path [1] is a str")):
        f_vjp((1.0, "a"))
    assert f_vjp((1.0, 1.0)) == (5.0,)  # still usable after the errors


# ------------------------------------------------------------------ has_aux


@pytest.mark.parametrize("returned", [lambda x: x, lambda x: (x,), lambda x: (x, 1, 2)])
def test_has_aux_without_a_pair(returned: Callable[[Any], Any]) -> None:
    match = r"has_aux=True\) needs fun to return a pair \(output, aux\)"
    calls: list[Callable[[], Any]] = [
        lambda: fad.grad(returned, has_aux=True)(1.0),
        lambda: fad.value_and_grad(returned, has_aux=True)(1.0),
        lambda: fad.vjp(returned, 1.0, has_aux=True),
        lambda: fad.jvp(returned, (1.0,), (1.0,), has_aux=True),
        lambda: fad.linearize(returned, 1.0, has_aux=True),
        lambda: fad.jacfwd(returned, has_aux=True)(1.0),
        lambda: fad.jacrev(returned, has_aux=True)(1.0),
    ]
    for call in calls:
        with pytest.raises(TypeError, match=match):
            call()


# ------------------------------------------------------------------ modes, functions, orders


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode='sideways' is not a reverse strategy"):
        fad.grad(scalar, mode="sideways")
    with pytest.raises(ValueError, match="mode='sideways'"):
        fad.vjp(scalar, 1.0, mode="sideways")
    with pytest.raises(ValueError, match="mode='sideways'"):
        fad.jacrev(scalar, mode="sideways")
    with pytest.raises(TypeError, match="is not a reverse strategy"):
        loose.grad(scalar, mode=3)
    with pytest.raises(TypeError, match="is not a reverse strategy"):
        fad.grad(scalar, mode=float)


def test_not_a_function() -> None:
    with pytest.raises(TypeError, match=r"fad\.grad expects a function"):
        loose.grad(3.0)
    with pytest.raises(TypeError, match=r"fad\.jvp expects a function"):
        loose.jvp(3.0, (1.0,), (1.0,))


def test_derivative_errors() -> None:
    with pytest.raises(TypeError, match="order must be an int"):
        loose.derivative(fm.sin, 1.5)
    with pytest.raises(ValueError, match="order must be 0 or more"):
        fad.derivative(fm.sin, -1)
    for order in (0, 1, 3):
        with pytest.raises(TypeError, match="functions of one real scalar"):
            loose.derivative(fm.sin, order)([1.0])
        with pytest.raises(TypeError, match=r"returning (one|a) real scalar"):
            loose.derivative(lambda x: (x, x), order)(1.0)


# ------------------------------------------------------------------ no AttributeError

JUNK: list[Any] = [
    object(),
    "s",
    b"b",
    1j,
    True,
    None,
    [object()],
    {"k": {1, 2}},
    (1.0, "x"),
    print,
]
TRANSFORMS: list[Callable[[Any, Any], Any]] = [
    lambda f, x: fad.grad(f)(x),
    lambda f, x: fad.grad(f, mode="naive")(x),
    lambda f, x: fad.value_and_grad(f, mode="memo")(x),
    lambda f, x: fad.vjp(f, x)[1](f(x)),
    lambda f, x: fad.jvp(f, (x,), (x,)),
    lambda f, x: fad.linearize(f, x)[1](x),
    lambda f, x: fad.jacfwd(f)(x),
    lambda f, x: fad.jacrev(f)(x),
    lambda f, x: fad.hessian(f)(x),
    lambda f, x: fad.derivative(f, 2)(x),
    lambda f, x: fad.stop_gradient(x),
]


@pytest.mark.parametrize("junk", JUNK, ids=lambda j: type(j).__name__)
def test_no_attribute_error_from_inside_fad(junk: Any) -> None:
    funs: list[Callable[[Any], Any]] = [lambda x: x, lambda x: junk, lambda x: (x, junk)]
    for transform in TRANSFORMS:
        for f in funs:
            for x in (1.0, junk):
                with contextlib.suppress(TypeError, ValueError):
                    transform(f, x)


# ------------------------------------------------------------------ Python's math on a tracer


def _python_math_error(fun: Callable[[Any], Any]) -> str:
    for mode in MODES:
        with pytest.raises(TypeError) as info:
            fad.grad(fun, mode=mode)(1.5)
        assert "fad.stop_gradient" in str(info.value) or ".primal" in str(info.value)
    with pytest.raises(TypeError) as info:
        fad.jvp(fun, (1.5,), (1.0,))
    return str(info.value)


def _through(lib: Any, x: Any) -> Any:
    return lib.cos(x)


@pytest.mark.parametrize(
    ("fun", "written", "name"),
    [
        (lambda x: math.sin(x), "math.sin()", "sin"),
        (lambda x: sin(x), "sin() (math.sin)", "sin"),
        (lambda x: m.sin(x), "m.sin() (math.sin)", "sin"),
        (lambda x: exp(x) * 2.0, "exp() (math.exp)", "exp"),
        (lambda x: _through(math, x), "lib.cos() (math.cos)", "cos"),
    ],
)
def test_math_function_named_however_it_was_imported(
    fun: Callable[[Any], Any], written: str, name: str
) -> None:
    message = _python_math_error(fun)
    assert "Python's math module" in message
    assert written in message
    assert f"use fad.math.{name}, which differentiates" in message
    assert "float()" not in message  # the user never called float()


@pytest.mark.parametrize(
    ("fun", "name"),
    [
        (lambda x: math.frexp(x)[0], "frexp"),
        (lambda x: frexp(x)[0], "frexp"),
        (lambda x: math.modf(x)[0], "modf"),
        (lambda x: math.factorial(x), "factorial"),
        (lambda x: math.ulp(x), "ulp"),
        (lambda x: math.isqrt(x), "isqrt"),
    ],
)
def test_math_function_without_derivative_says_what_to_do(
    fun: Callable[[Any], Any], name: str
) -> None:
    message = _python_math_error(fun)
    assert f"has no derivative (fad.math has no {name})" in message
    assert "x.primal" in message
    assert f"fad.math.{name}," not in message  # no function that does not exist
    assert not hasattr(fm, name)


def test_math_isclose_is_not_called_differentiable() -> None:
    message = _python_math_error(lambda x: 1.0 if math.isclose(x, 1.5) else 0.0)
    assert "use fad.math.isclose, which looks at the primal (it has no derivative)" in message
    assert "differentiates" not in message


def test_conversion_without_a_source_line_names_the_likely_cause() -> None:
    namespace: dict[str, Any] = {"sin": sin}
    exec("def f(x):\n    return sin(x)\n", namespace)  # code with no source file
    message = _python_math_error(namespace["f"])
    assert "The likely cause is a function of Python's math module" in message
    assert "from math import sin" in message
    assert "fad.math" in message


def test_float_called_by_the_user_is_named_as_such() -> None:
    message = _python_math_error(lambda x: float(x) * 2.0)
    assert message.startswith("float() of a ")
    assert "math module" not in message


def test_a_builtin_that_converts_is_named() -> None:
    message = _python_math_error(lambda x: len(range(x)) * x)
    assert message.startswith("range() converts its argument with int()")
    assert "math module" not in message


@pytest.mark.parametrize(
    ("primal", "tangent", "field"),
    [
        (1.0, "a", "tangent"),
        ("x", 1.0, "primal"),
        (1.0, None, "tangent"),
        (True, 1.0, "primal"),
        (1.0, 1j, "tangent"),
    ],
)
def test_dual_refuses_fields_that_are_not_real(primal: Any, tangent: Any, field: str) -> None:
    with pytest.raises(TypeError, match=rf"fad\.Dual: the {field} must be a real scalar"):
        fad.Dual(primal, tangent)
