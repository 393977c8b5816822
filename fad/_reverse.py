"""Reverse transforms: :func:`vjp`, :func:`grad`, :func:`value_and_grad`, :func:`jacrev`,
:func:`hessian`, and :func:`linearize`, which records a tape once and sweeps it forwards.

Each call seeds the inputs of the strategy named by ``mode`` (a tracer class with
``seed``, see :func:`reverse_strategy`) at a fresh level and pulls cotangents back
through the recording.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, overload

from fad._args import (
    Mode,
    Transformed,
    _call_at_level,
    _check_argnums,
    _check_callable,
    _check_outputs,
    _flatten_inputs,
    _lower,
    _lower_tree,
    _not_picklable,
    _params,
    _select,
    _split_aux,
    batched,
)
from fad._core import check_live, finish, is_tracer, new_level
from fad.tracers.codual import Codual
from fad.tracers.memo import MemoCodual
from fad.tracers.tape import Tape, TapeCodual
from fad.tree import PyTreeDef, tree_flatten, tree_unflatten

__all__ = [
    "MODES",
    "grad",
    "hessian",
    "jacrev",
    "linearize",
    "reverse_strategy",
    "value_and_grad",
    "vjp",
]

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")

MODES: dict[str, type] = {"tape": TapeCodual, "memo": MemoCodual, "naive": Codual}


# --------------------------------------------------------------------------------------
# checks shared by the transforms


def reverse_strategy(mode: Mode) -> Any:
    """The tracer class for ``mode`` (``None`` means ``"tape"``).

    Raises:
        ValueError: for a string that names no strategy.
        TypeError: for anything else that is not a tracer class with ``seed``.

    Example:
        >>> from fad._api import reverse_strategy
        >>> reverse_strategy("memo").__name__
        'MemoCodual'
    """
    if mode is None:
        return TapeCodual
    if isinstance(mode, str) and mode in MODES:
        return MODES[mode]
    if (
        isinstance(mode, type)
        and callable(getattr(mode, "seed", None))
        and callable(getattr(mode, "apply", None))
    ):
        return mode
    msg = (
        f"mode={mode!r} is not a reverse strategy; use one of "
        f"{', '.join(repr(m) for m in MODES)}, or a tracer class with seed() and apply()."
    )
    raise (ValueError if isinstance(mode, str) else TypeError)(msg)


def _vjp_flat(
    fun: Callable[..., Any],
    p_leaves: Sequence[Any],
    p_def: PyTreeDef,
    has_aux: bool,
    cls: Any,
    fname: str,
) -> tuple[
    list[Any], PyTreeDef, list[Any], Callable[[Sequence[Any], Sequence[Any]], list[Any]], Any
]:
    """Run ``fun`` on the inputs of the strategy ``cls``; return outputs and pullback."""
    level = new_level()
    inputs, pullback = cls.seed(list(p_leaves), level)
    o_leaves, o_def, aux = _call_at_level(fun, p_def, inputs, level, has_aux, fname)
    primals_out = [_lower(o, level) for o in o_leaves]
    if has_aux:
        aux = _lower_tree(aux, level)
    return o_leaves, o_def, primals_out, pullback, aux


class _VjpFun:
    """The pullback returned by :func:`vjp`: callable any number of times."""

    __slots__ = ("_n", "_o_def", "_o_leaves", "_p_def", "_pullback")

    def __init__(
        self,
        o_leaves: list[Any],
        o_def: PyTreeDef,
        p_def: PyTreeDef,
        pullback: Callable[[Sequence[Any], Sequence[Any]], list[Any]],
    ) -> None:
        self._o_leaves = o_leaves
        self._o_def = o_def
        self._p_def = p_def
        self._pullback = pullback

    def __call__(self, *cotangent: Any) -> tuple[Any, ...]:
        if len(cotangent) != 1:
            msg = (
                f"the function returned by fad.vjp takes one cotangent (with the structure "
                f"of fun's output, {self._o_def!r}), but was called with {len(cotangent)} "
                "arguments. If fun returns a tuple, pass one tuple: f_vjp((a, b))."
            )
            raise TypeError(msg)
        ct = cotangent[0]
        c_leaves, c_def = _flatten_inputs((ct,), lambda: ["the cotangent"], "vjp", "cotangent")
        if c_def.children[0] != self._o_def:
            msg = (
                f"fad.vjp: the cotangent has structure {c_def.children[0]!r}, but fun's output "
                f"has structure {self._o_def!r}; pass a cotangent of the output's structure."
            )
            raise ValueError(msg)
        result: tuple[Any, ...] = tree_unflatten(
            self._p_def, self._pullback(self._o_leaves, c_leaves)
        )
        return result

    def __repr__(self) -> str:
        return f"<fad vjp function: cotangent {self._o_def!r} -> {self._p_def!r}>"

    def __reduce__(self) -> Any:
        raise _not_picklable(
            "The function returned by fad.vjp",
            "Pickle fun and call fad.vjp in the other process, or pickle fad.grad(fun) or "
            "fad.jacrev(fun), which pickle when fun does.",
        )

    def __copy__(self) -> _VjpFun:
        return self  # immutable, as a function is

    def __deepcopy__(self, memo: Any) -> _VjpFun:
        return self


@overload
def vjp(
    fun: Callable[..., R], *primals: Any, has_aux: Literal[False] = ..., mode: Mode = ...
) -> tuple[R, Callable[[R], tuple[Any, ...]]]: ...


@overload
def vjp(
    fun: Callable[..., tuple[R, A]], *primals: Any, has_aux: Literal[True], mode: Mode = ...
) -> tuple[R, Callable[[R], tuple[Any, ...]], A]: ...


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False, mode: Mode = None) -> Any:
    """Evaluate ``fun`` and return its pullback (reverse mode).

    Args:
        fun: a function of ``len(primals)`` positional arguments returning a pytree
            of real scalars.
        *primals: the arguments (pytrees).
        has_aux: if true, ``fun`` returns ``(output, aux)`` and ``aux`` is returned
            as a third item, undifferentiated.
        mode: the reverse strategy: ``"tape"`` (default), ``"memo"``, ``"naive"``, or
            a tracer class with ``seed``.

    Returns:
        ``(fun(*primals), vjp_fun)`` or ``(output, vjp_fun, aux)``. ``vjp_fun(ct)``
        takes a cotangent with the output's structure and returns a tuple with one
        cotangent per primal (``ctᵀ J``). It can be called any number of times.

    Example:
        >>> import fad
        >>> y, f_vjp = fad.vjp(lambda x, y: x * y, 2.0, 3.0)
        >>> y, f_vjp(1.0)
        (6.0, (3.0, 2.0))
        >>> f_vjp(10.0)
        (30.0, 20.0)
    """
    _check_callable(fun, "vjp")
    p_leaves, p_def = _flatten_inputs(
        primals, lambda: [f"argument {i}" for i in range(len(primals))], "vjp"
    )
    o_leaves, o_def, primals_out, pullback, aux = _vjp_flat(
        fun, p_leaves, p_def, has_aux, reverse_strategy(mode), "vjp"
    )
    out = tree_unflatten(o_def, primals_out)
    vjp_fun = _VjpFun(o_leaves, o_def, p_def, pullback)
    if has_aux:
        return out, vjp_fun, aux
    return out, vjp_fun


class _LinearFun:
    """The jvp function returned by :func:`linearize`: a forward sweep over a tape."""

    __slots__ = ("_o_def", "_o_index", "_p_def", "_primals", "_tape")

    def __init__(
        self,
        tape: Tape,
        o_index: list[int | None],
        o_def: PyTreeDef,
        p_def: PyTreeDef,
        primals: tuple[Any, ...],
    ) -> None:
        self._tape = tape  # closed: the transform has finished, so it no longer grows
        self._o_index = o_index
        self._o_def = o_def
        self._p_def = p_def
        self._primals = primals

    def __call__(self, *tangents: Any) -> Any:
        if len(tangents) != len(self._primals):
            msg = (
                f"the function returned by fad.linearize takes one tangent per primal "
                f"({len(self._primals)}), but was called with {len(tangents)}."
            )
            raise TypeError(msg)
        t_leaves, t_def = _flatten_inputs(
            tangents, lambda: [f"tangent {i}" for i in range(len(tangents))], "linearize", "tangent"
        )
        if t_def != self._p_def:
            msg = (
                f"fad.linearize: the tangents have structure {t_def!r} but the primals have "
                f"structure {self._p_def!r}; pass tangents with the primals' structure."
            )
            raise TypeError(msg)
        tan = self._tape.forward(t_leaves)
        out = []
        for idx in self._o_index:
            t = None if idx is None else tan[idx]
            out.append(0.0 if t is None else t)
        return tree_unflatten(self._o_def, out)

    def __copy__(self) -> _LinearFun:
        return self  # immutable, like a function

    def __deepcopy__(self, memo: Any) -> _LinearFun:
        return self

    def __reduce__(self) -> Any:
        raise _not_picklable(
            "The function returned by fad.linearize",
            "Pickle fun and call fad.linearize in the other process, or pickle fad.jacfwd(fun).",
        )

    def __repr__(self) -> str:
        return f"<fad linearized function: tangents {self._p_def!r} -> {self._o_def!r}>"


@overload
def linearize(
    fun: Callable[..., R], *primals: Any, has_aux: Literal[False] = ...
) -> tuple[R, Callable[..., R]]: ...


@overload
def linearize(
    fun: Callable[..., tuple[R, A]], *primals: Any, has_aux: Literal[True]
) -> tuple[R, Callable[..., R], A]: ...


def linearize(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """Evaluate ``fun`` once and return its linear map ``tangents ↦ J·tangents``.

    ``fun`` runs once, recorded on a tape (:mod:`fad.tracers.tape`): each recorded
    value keeps its parents and the partial derivatives towards them. The returned
    ``jvp_fun`` sweeps that record forwards, so each call costs one pass over the
    tape and never calls ``fun`` again.

    Args:
        fun: a function of ``len(primals)`` positional arguments.
        *primals: the point (pytrees).
        has_aux: if true, ``fun`` returns ``(output, aux)``; ``aux`` is returned third.

    Returns:
        ``(fun(*primals), jvp_fun)`` (and ``aux``). ``jvp_fun(*tangents)`` takes one
        tangent per primal with the primals' structure, as ``fad.jvp`` does.

    Example:
        >>> import fad
        >>> y, f_jvp = fad.linearize(lambda x, y: x * x * y, 2.0, 3.0)
        >>> y, f_jvp(1.0, 0.0), f_jvp(0.0, 1.0)
        (12.0, 12.0, 4.0)
    """
    _check_callable(fun, "linearize")
    p_leaves, p_def = _flatten_inputs(
        primals, lambda: [f"argument {i}" for i in range(len(primals))], "linearize"
    )
    level = new_level()
    tape = Tape(level)
    inputs = tape.inputs(p_leaves)
    o_leaves, o_def, aux = _call_at_level(fun, p_def, inputs, level, has_aux, "linearize")
    o_index = [tape.index_of(o) for o in o_leaves]
    primals_out = tree_unflatten(o_def, [_lower(o, level) for o in o_leaves])
    f_jvp = _LinearFun(tape, o_index, o_def, p_def, primals)
    if has_aux:
        return primals_out, f_jvp, _lower_tree(aux, level)
    return primals_out, f_jvp


def _non_scalar(o_def: PyTreeDef, primals_out: list[Any], fname: str) -> None:
    """Raise the TypeError of grad for an output that is not one real scalar."""
    shown = tree_unflatten(o_def, primals_out)
    msg = (
        f"fad.{fname} needs fun to return one real scalar, but it returned {shown!r} "
        f"(a {type(shown).__name__}). Use fad.jacrev or fad.vjp for outputs that are "
        "not scalars, or has_aux=True to return extra values beside the scalar."
    )
    raise TypeError(msg)


def _check_scalar(out: Any, level: int, fname: str) -> None:
    """Refuse an output of grad that is not one real scalar (naming what it is)."""
    t = type(out)
    if t is float or t is int:
        return
    if t is not bool and (is_tracer(out) or isinstance(out, numbers.Real)):
        return  # a tracer, or a real number of another type (numpy's float64)
    o_leaves, o_def = tree_flatten(out)
    _check_outputs(o_leaves, out, fname)
    _non_scalar(o_def, [_lower(o, level) for o in o_leaves], fname)


class _ValueAndGrad(Transformed):
    """The function made by :func:`value_and_grad` (picklable when ``fun`` is)."""

    fname = "value_and_grad"
    grad_only = False  # _Grad: return the gradient (and aux) only

    def __init__(self, fun: Callable[..., Any], argnums: Any, has_aux: bool, mode: Mode) -> None:
        fname = self.fname
        _check_callable(fun, fname)
        self.nums = _check_argnums(argnums, fname)
        self.cls = reverse_strategy(mode)  # fails early on a bad mode
        self.argnums = argnums
        self.has_aux = has_aux
        self.single = not isinstance(argnums, (tuple, list))
        super().__init__(fun, (fun, argnums, has_aux, mode), _params(argnums, has_aux, mode))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fname = self.fname
        has_aux = self.has_aux
        i = self.nums[0]
        level = new_level()
        p_def: PyTreeDef | None = None
        try:
            if self.single and 0 <= i < len(args) and type(args[i]) is float:
                # one float argument: the common case, without the pytree plumbing
                inputs, pullback = self.cls.seed([args[i]], level)
                full = list(args)
                full[i] = inputs[0]
                out, aux = _split_aux(self.fun(*full, **kwargs), has_aux, fname)
            else:
                f, p_leaves, p_def = _select(
                    self.fun, self.argnums, self.nums, args, kwargs, fname
                )
                inputs, pullback = self.cls.seed(p_leaves, level)
                out, aux = _split_aux(f(*tree_unflatten(p_def, inputs)), has_aux, fname)
            _check_scalar(out, level, fname)
        except BaseException:
            finish(level)  # the function raised, or its output is not a scalar
            raise
        check_live([out], fname, level)
        cts = pullback([out], [1.0])
        if p_def is None:
            g = cts[0]
        else:
            g = tree_unflatten(p_def, cts)
            if self.single:
                g = g[0]
        if self.grad_only:
            return (g, _lower_tree(aux, level)) if has_aux else g
        value = _lower(out, level)
        if has_aux:
            return (value, _lower_tree(aux, level)), g
        return value, g


class _Grad(_ValueAndGrad):
    """The function made by :func:`grad` (picklable when ``fun`` is)."""

    fname = "grad"
    grad_only = True


@overload
def value_and_grad(  # type: ignore[overload-overlap]
    fun: Callable[Concatenate[T, P], R],
    argnums: Literal[0] = ...,
    has_aux: Literal[False] = ...,
    *,
    mode: Mode = ...,
) -> Callable[Concatenate[T, P], tuple[R, T]]: ...


@overload
def value_and_grad(
    fun: Callable[Concatenate[T, P], tuple[R, A]],
    argnums: Literal[0] = ...,
    *,
    has_aux: Literal[True],
    mode: Mode = ...,
) -> Callable[Concatenate[T, P], tuple[tuple[R, A], T]]: ...


@overload
def value_and_grad(
    fun: Callable[P, R],
    argnums: int | Sequence[int],
    has_aux: Literal[False] = ...,
    *,
    mode: Mode = ...,
) -> Callable[P, tuple[R, Any]]: ...


@overload
def value_and_grad(
    fun: Callable[P, tuple[R, A]],
    argnums: int | Sequence[int],
    has_aux: Literal[True],
    *,
    mode: Mode = ...,
) -> Callable[P, tuple[tuple[R, A], Any]]: ...


def value_and_grad(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    *,
    mode: Mode = None,
) -> Callable[..., Any]:
    """Return a function giving ``(fun(*args), gradient)`` in one reverse pass.

    Args:
        fun: a function returning one real scalar (with ``has_aux``, a pair
            ``(scalar, aux)``).
        argnums: the positional argument(s) to differentiate: an int (the gradient
            has that argument's structure) or a tuple of ints (a tuple of gradients).
            Negative numbers count from the end, as in JAX.
        has_aux: if true, return ``((value, aux), gradient)``.
        mode: the reverse strategy: ``"tape"`` (default), ``"memo"``, ``"naive"``, or
            a tracer class with ``seed``.

    Returns:
        A function with ``fun``'s arguments (keyword arguments are passed through,
        not differentiated). Integer inputs are differentiated as floats.

    Raises:
        TypeError: at call time, if ``fun`` does not return a real scalar, if a
            differentiated leaf is not a real scalar, or if argnums is out of range.

    Example:
        >>> import fad
        >>> fad.value_and_grad(lambda x: x * x)(3.0)
        (9.0, 6.0)
        >>> fad.value_and_grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
        (10.0, (5.0, 2.0))
    """
    return _ValueAndGrad(fun, argnums, has_aux, mode)


@overload
def grad(  # type: ignore[overload-overlap]
    fun: Callable[Concatenate[T, P], Any],
    argnums: Literal[0] = ...,
    has_aux: Literal[False] = ...,
    *,
    mode: Mode = ...,
) -> Callable[Concatenate[T, P], T]: ...


@overload
def grad(
    fun: Callable[Concatenate[T, P], tuple[Any, A]],
    argnums: Literal[0] = ...,
    *,
    has_aux: Literal[True],
    mode: Mode = ...,
) -> Callable[Concatenate[T, P], tuple[T, A]]: ...


@overload
def grad(
    fun: Callable[P, Any],
    argnums: int | Sequence[int],
    has_aux: Literal[False] = ...,
    *,
    mode: Mode = ...,
) -> Callable[P, Any]: ...


@overload
def grad(
    fun: Callable[P, tuple[Any, A]],
    argnums: int | Sequence[int],
    has_aux: Literal[True],
    *,
    mode: Mode = ...,
) -> Callable[P, tuple[Any, A]]: ...


def grad(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    *,
    mode: Mode = None,
) -> Callable[..., Any]:
    """Return a function giving the gradient of scalar-valued ``fun`` (reverse mode).

    Args:
        fun: a function returning one real scalar (with ``has_aux``, a pair
            ``(scalar, aux)``).
        argnums: the positional argument(s) to differentiate: an int (the gradient
            has that argument's structure) or a tuple of ints (a tuple of gradients).
            Negative numbers count from the end, as in JAX.
        has_aux: if true, the returned function gives ``(gradient, aux)``.
        mode: the reverse strategy: ``"tape"`` (default), ``"memo"``, ``"naive"``, or
            a tracer class with ``seed``.

    Returns:
        A function with ``fun``'s arguments giving the gradient. Keyword arguments
        are passed through and not differentiated. Integer inputs are differentiated
        as floats: ``grad(f)(2)`` is ``grad(f)(2.0)``. ``None`` in an argument is an
        empty subtree and comes back as ``None``.

    Raises:
        TypeError: at call time, if ``fun`` does not return a real scalar, if a
            differentiated leaf is a bool, complex, str or other non-real value (the
            message names the argument and the leaf's path), or if argnums is past
            the last argument.
        ValueError: for an unknown ``mode`` name.

    Example:
        >>> import fad
        >>> fad.grad(lambda x: x * x)(3.0)
        6.0
        >>> fad.grad(lambda p: p["w"] * p["b"])({"w": 2.0, "b": 4.0})
        {'b': 2.0, 'w': 4.0}
        >>> fad.grad(lambda x: (x * x, "aux"), has_aux=True, mode="memo")(3.0)
        (6.0, 'aux')
    """
    return _Grad(fun, argnums, has_aux, mode)


def jacrev(
    fun: Callable[P, Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    *,
    mode: Mode = None,
) -> Callable[P, Any]:
    """Jacobian of ``fun`` by reverse mode: one recording, one pullback per output leaf.

    Args:
        fun: a function returning a pytree of real scalars (with ``has_aux``, a pair
            ``(output, aux)``).
        argnums: an int or a tuple of ints: the argument(s) to differentiate.
        has_aux: if true, the returned function gives ``(jacobian, aux)``.
        mode: the reverse strategy: ``"tape"`` (default), ``"memo"``, ``"naive"``, or
            a tracer class with ``seed``.

    Returns:
        A function giving the Jacobian in the same nested layout as :func:`jacfwd`
        (output structure outside, input structure inside).

    Example:
        >>> import fad
        >>> f = lambda x, y: {"sum": x + y, "prod": x * y}
        >>> fad.jacrev(f, argnums=(0, 1))(2.0, 3.0)
        {'prod': (3.0, 2.0), 'sum': (1.0, 1.0)}
        >>> fad.jacrev(lambda v: [v[0] * v[1], v[1]], mode="naive")([2.0, 5.0])
        [[5.0, 2.0], [0.0, 1.0]]
    """
    generic = _Jacrev(fun, argnums, has_aux, mode)
    return batched(fun, "jacrev", argnums, has_aux, generic)  # type: ignore[no-any-return]


class _Jacrev(Transformed):
    """The function made by :func:`jacrev` (picklable when ``fun`` is)."""

    fname = "jacrev"

    def __init__(self, fun: Callable[..., Any], argnums: Any, has_aux: bool, mode: Mode) -> None:
        _check_callable(fun, self.fname)
        self.nums = _check_argnums(argnums, self.fname)
        self.cls = reverse_strategy(mode)
        self.argnums = argnums
        self.has_aux = has_aux
        self.single = not isinstance(argnums, (tuple, list))
        super().__init__(fun, (fun, argnums, has_aux, mode), _params(argnums, has_aux, mode))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        has_aux, single = self.has_aux, self.single
        f, p_leaves, p_def = _select(self.fun, self.argnums, self.nums, args, kwargs, "jacrev")
        o_leaves, o_def, _, pullback, aux = _vjp_flat(
            f, p_leaves, p_def, has_aux, self.cls, "jacrev"
        )
        rows = []
        for o in o_leaves:
            g = tree_unflatten(p_def, pullback([o], [1.0]))
            rows.append(g[0] if single else g)
        jac = tree_unflatten(o_def, rows)
        return (jac, aux) if has_aux else jac


def hessian(
    fun: Callable[P, Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    *,
    mode: Mode = None,
) -> Callable[P, Any]:
    """Hessian of scalar ``fun``, computed reverse over reverse: ``jacrev(jacrev(fun))``.

    The layout and the values are those of JAX's ``jax.hessian``, which computes
    forward over reverse (``jacfwd(jacrev(fun))``). fad computes reverse over reverse,
    the outer ``jacrev`` on the tape: the function and its gradient are recorded once,
    and each row of the Hessian is one reverse sweep over plain floats, where forward
    over reverse runs the whole program once per row on dual numbers (several times
    slower in pure Python). The two agree but for a ``custom_vjp`` whose ``bwd`` is not
    linear in ``g``: reverse over reverse applies it to the outer cotangent too, and
    ``jacfwd(jacrev(fun))`` raises :class:`fad.CustomRuleError` for it.

    Args:
        fun: a function returning a real scalar (or a pytree: the result is then
            the Jacobian of the Jacobian, as in JAX).
        argnums: an int or a tuple of ints: the argument(s) to differentiate.
        has_aux: if true, the returned function gives ``(hessian, aux)``.
        mode: the reverse strategy of the inner ``jacrev``.

    Returns:
        A function giving the Hessian as nested pytrees: the argument's structure,
        and in place of each leaf the argument's structure again.

    Example:
        >>> import fad
        >>> fad.hessian(lambda v: v[0] ** 2 * v[1])([1.0, 3.0])
        [[6.0, 2.0], [2.0, 0.0]]
    """
    generic = _Hessian(fun, argnums, has_aux, mode)
    return batched(fun, "hessian", argnums, has_aux, generic)  # type: ignore[no-any-return]


class _Hessian(Transformed):
    """The function made by :func:`hessian`: ``jacrev(jacrev(fun))``, named after ``fun``."""

    fname = "hessian"

    def __init__(self, fun: Callable[..., Any], argnums: Any, has_aux: bool, mode: Mode) -> None:
        # the outer jacrev runs on the tape, over the inner one in the strategy ``mode``
        self.jac = _Jacrev(_Jacrev(fun, argnums, has_aux, mode), argnums, has_aux, None)
        super().__init__(fun, (fun, argnums, has_aux, mode), _params(argnums, has_aux, mode))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.jac(*args, **kwargs)
