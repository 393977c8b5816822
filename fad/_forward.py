"""Forward transforms: :func:`jvp`, :func:`jacfwd` and :func:`derivative`, on Duals.

Each call seeds :class:`~fad.tracers.dual.Dual` inputs at a fresh level and reads the
tangents of the outputs; :func:`derivative` of order 2 or more uses Taylor mode
(:func:`fad.taylor`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, ParamSpec, TypeVar, overload

from fad._args import (
    Transformed,
    _call_at_level,
    _check_argnums,
    _check_callable,
    _check_outputs,
    _flatten_inputs,
    _lower,
    _lower_tree,
    _params,
    _scalar_input,
    _scalar_output,
    _select,
    _split_aux,
    batched,
)
from fad._core import check_live, finish, new_level
from fad._taylor import taylor
from fad.tracers.dual import Dual
from fad.tree import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["derivative", "jacfwd", "jvp"]

P = ParamSpec("P")
R = TypeVar("R")
A = TypeVar("A")


def _jvp_flat(
    fun: Callable[..., Any],
    p_leaves: Sequence[Any],
    p_def: PyTreeDef,
    t_leaves: Sequence[Any | None],
    has_aux: bool,
    fname: str,
) -> tuple[PyTreeDef, list[Any], list[Any], Any]:
    """Run ``fun`` on Duals; a tangent ``None`` leaves that input a constant."""
    level = new_level()
    inputs = [
        p if t is None else Dual(p, t, level) for p, t in zip(p_leaves, t_leaves, strict=True)
    ]
    o_leaves, o_def, aux = _call_at_level(fun, p_def, inputs, level, has_aux, fname)
    primals_out = []
    tangents_out = []
    for o in o_leaves:
        if type(o) is Dual and o.level == level:
            primals_out.append(o.primal)
            tangents_out.append(o.tangent)
        else:
            primals_out.append(_lower(o, level))
            tangents_out.append(0.0)
    if has_aux:
        aux = _lower_tree(aux, level)
    return o_def, primals_out, tangents_out, aux


@overload
def jvp(
    fun: Callable[..., R],
    primals: Sequence[Any],
    tangents: Sequence[Any],
    has_aux: Literal[False] = ...,
) -> tuple[R, R]: ...


@overload
def jvp(
    fun: Callable[..., tuple[R, A]],
    primals: Sequence[Any],
    tangents: Sequence[Any],
    has_aux: Literal[True],
) -> tuple[R, R, A]: ...


def jvp(
    fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False
) -> Any:
    """Evaluate ``fun`` and its derivative along ``tangents`` (forward mode, on Duals).

    Args:
        fun: a function of ``len(primals)`` positional arguments returning a pytree
            of real scalars.
        primals: tuple or list of the arguments (pytrees).
        tangents: tuple or list of the same structure as ``primals``: the direction.
        has_aux: if true, ``fun`` returns ``(output, aux)`` and ``aux`` is returned
            as a third item, undifferentiated.

    Returns:
        ``(fun(*primals), J·tangents)``, the second with the output's structure; with
        ``has_aux``, ``(output, tangent_out, aux)``.

    Raises:
        TypeError: if ``primals``/``tangents`` are not tuples or lists, differ in
            structure or length, or hold a leaf that is not a real scalar.

    Example:
        >>> import fad
        >>> fad.jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
        (6.0, 3.0)
        >>> fad.jvp(lambda p: {"sq": p["a"] ** 2}, ({"a": 3.0},), ({"a": 1.0},))
        ({'sq': 9.0}, {'sq': 6.0})
    """
    _check_callable(fun, "jvp")
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        msg = (
            "fad.jvp: primals and tangents must be tuples or lists (one item per "
            f"argument of fun); found {type(primals).__name__} and {type(tangents).__name__}."
            " For one argument x write (x,)."
        )
        raise TypeError(msg)
    if len(primals) != len(tangents):
        msg = (
            f"fad.jvp got {len(primals)} primals and {len(tangents)} tangents; pass one "
            "tangent per primal, with the same structure."
        )
        raise TypeError(msg)

    def names() -> list[str]:
        return [f"argument {i}" for i in range(len(primals))]

    p_leaves, p_def = _flatten_inputs(primals, names, "jvp")
    t_leaves, t_def = _flatten_inputs(
        tangents, lambda: [f"tangent of {n}" for n in names()], "jvp", "tangent"
    )
    if t_def != p_def:
        for i, (p, t) in enumerate(zip(primals, tangents, strict=True)):
            ps, ts = tree_flatten(p)[1], tree_flatten(t)[1]
            if ps != ts:
                msg = (
                    f"fad.jvp: the tangent of argument {i} has structure {ts!r} but the "
                    f"primal has structure {ps!r}; primals and tangents must have the same "
                    "tree structure."
                )
                raise TypeError(msg)
    o_def, primals_out, tangents_out, aux = _jvp_flat(
        fun, p_leaves, p_def, t_leaves, has_aux, "jvp"
    )
    result = (tree_unflatten(o_def, primals_out), tree_unflatten(o_def, tangents_out))
    return (*result, aux) if has_aux else result


def jacfwd(
    fun: Callable[P, Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[P, Any]:
    """Jacobian of ``fun`` by forward mode: one ``Dual`` pass per input leaf.

    Args:
        fun: a function returning a pytree of real scalars (with ``has_aux``, a pair
            ``(output, aux)``).
        argnums: an int or a tuple of ints: the argument(s) to differentiate.
        has_aux: if true, the returned function gives ``(jacobian, aux)``.

    Returns:
        A function giving the Jacobian as nested pytrees, as JAX lays it out: the
        output's structure outside, and in place of each output leaf the structure
        of the differentiated argument (a tuple of them for tuple ``argnums``) with
        ``∂output_leaf/∂input_leaf`` at its leaves.

    Example:
        >>> import fad
        >>> f = lambda x, y: {"sum": x + y, "prod": x * y}
        >>> fad.jacfwd(f, argnums=(0, 1))(2.0, 3.0)
        {'prod': (3.0, 2.0), 'sum': (1.0, 1.0)}
        >>> fad.jacfwd(lambda v: [v[0] * v[1], v[1]])([2.0, 5.0])
        [[5.0, 2.0], [0.0, 1.0]]
    """
    return batched(fun, "jacfwd", argnums, has_aux, _Jacfwd(fun, argnums, has_aux))  # type: ignore[no-any-return]


class _Jacfwd(Transformed):
    """The function made by :func:`jacfwd` (picklable when ``fun`` is)."""

    fname = "jacfwd"

    def __init__(self, fun: Callable[..., Any], argnums: Any, has_aux: bool) -> None:
        _check_callable(fun, "jacfwd")
        self.nums = _check_argnums(argnums, "jacfwd")
        self.argnums = argnums
        self.has_aux = has_aux
        self.single = not isinstance(argnums, (tuple, list))
        super().__init__(fun, (fun, argnums, has_aux), _params(argnums, has_aux))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        has_aux = self.has_aux
        f, p_leaves, p_def = _select(self.fun, self.argnums, self.nums, args, kwargs, "jacfwd")
        n = len(p_leaves)
        columns: list[list[Any]] = []
        aux: Any = None
        o_def: PyTreeDef | None = None
        for j in range(n):
            seeds: list[Any] = [None] * n
            seeds[j] = 1.0
            o_def, _, tangents_out, aux = _jvp_flat(f, p_leaves, p_def, seeds, has_aux, "jacfwd")
            columns.append(tangents_out)
        if o_def is None:  # no input leaves: run fun once for the output's structure
            out, aux = _split_aux(f(*tree_unflatten(p_def, p_leaves)), has_aux, "jacfwd")
            o_leaves, o_def = tree_flatten(out)
            _check_outputs(o_leaves, out, "jacfwd")
        in_def = p_def.children[0] if self.single else p_def
        rows = [
            tree_unflatten(in_def, [col[i] for col in columns]) for i in range(o_def.num_leaves)
        ]
        jac = tree_unflatten(o_def, rows)
        return (jac, aux) if has_aux else jac


def _one_argument(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The one real scalar that a function made by :func:`derivative` takes."""
    if len(args) != 1 or kwargs:
        given = len(args) + len(kwargs)
        msg = (
            "fad.derivative differentiates a function of one real scalar: the function it "
            f"returns takes one argument x, but was called with {given} arguments. For a "
            "function of several arguments use fad.grad(f, argnums=...) (or fad.jacfwd "
            "for several outputs)."
        )
        raise TypeError(msg)
    return _scalar_input(args[0], "derivative")


def derivative(fun: Callable[[float], float], order: int = 1) -> Callable[[float], float]:
    """The ``order``-th derivative of a scalar → scalar function.

    Order 1 runs ``fun`` once on a :class:`~fad.tracers.dual.Dual`. Higher orders
    use Taylor-mode propagation (:func:`fad.taylor`: one pass carrying ``order + 1``
    coefficients, at a cost polynomial in ``order``; it nests inside other transforms
    too).

    Args:
        fun: a function of one real scalar returning one real scalar.
        order: a non-negative int; 0 gives ``fun`` itself.

    Returns:
        A function ``x ↦ fun⁽ᵒʳᵈᵉʳ⁾(x)`` of one argument. Integer ``x`` is
        differentiated as a float.

    Raises:
        TypeError: if ``order`` is not an int, or at call time if the function is
            given other than one argument, or ``x`` or the output is not a real
            scalar.
        ValueError: if ``order`` is negative.

    Example:
        >>> import fad
        >>> fad.derivative(lambda x: x ** 3)(2.0)
        12.0
        >>> fad.derivative(lambda x: x ** 3, order=3)(2.0)
        6.0
    """
    return _Derivative(fun, order)


class _Derivative(Transformed):
    """The function made by :func:`derivative` (picklable when ``fun`` is)."""

    fname = "derivative"

    def __init__(self, fun: Callable[..., Any], order: int) -> None:
        _check_callable(fun, "derivative")
        if not isinstance(order, int) or isinstance(order, bool):
            msg = f"fad.derivative: order must be an int, not {order!r}."
            raise TypeError(msg)
        if order < 0:
            msg = f"fad.derivative: order must be 0 or more, not {order}."
            raise ValueError(msg)
        self.order = order
        super().__init__(fun, (fun, order), f"order={order}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        x = _one_argument(args, kwargs)
        f, order = self.fun, self.order
        if order == 0:
            out = f(x)
        elif order == 1:
            level = new_level()
            try:
                out = f(Dual(x, 1.0, level))
            except BaseException:
                finish(level)  # the function raised: its level ends here
                raise
            _scalar_output(out, "derivative")
            check_live([out], "derivative", level)
            return out.tangent if type(out) is Dual and out.level == level else 0.0
        else:
            out = taylor(f, x, order)[order]
        _scalar_output(out, "derivative")
        return out
