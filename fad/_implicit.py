"""``fad.custom_root`` and ``fad.fixed_point``: derivatives of solutions, implicitly.

A root ``x*(θ)`` of ``f(x, θ) = 0`` has the derivative ``ẋ = -(∂ₓf)⁻¹ ∂_θf · θ̇`` (the
implicit function theorem): one linear solve, whatever the solver did to find the
root. fad gets it, and every higher derivative, without a rule of its own, from
Newton's method: the user's solver finds the root on plain values, then fad applies
Newton corrections ``x ← x − J⁻¹ f(x)`` with the tracers flowing through ``f``. A
correction from the exact root is the identity on values, and its derivative is the
implicit-function one; because Newton's method converges quadratically, ``k``
corrections make every derivative up to order ``2ᵏ − 1`` exact (the error after a
correction is the square of the error before, and a perturbation of order ``d`` has
no terms beyond degree ``d``). fad counts the order it needs from the tracers in
``f(x*)`` (one per nested transform, ``K`` for a Taylor jet of order ``K``), so a
gradient costs one correction and a Hessian two.

The parameters ``θ`` need not be named: ``f`` closes over them (as in JAX) and their
tracers flow through ``f`` during the corrections, at every level of nesting. Two
details keep the result exact and cheap:

* The value is the solver's root, bit for bit: a correction ``δ`` is applied as
  ``x − (δ − stop_gradient(δ))``, which keeps every derivative of ``δ`` and adds zero.
* The solver runs on plain numbers: it gets ``f`` with the tracers it closes over
  directly (the cells of its closure) replaced by their values, so its iterations
  record nothing (it may differentiate ``f`` itself, as Newton's method does). Tracers
  reached otherwise (a global, an object's attribute) still reach the solver; the
  result is the same, as only the root's value is kept, but the iterations then cost
  as much as under the transform.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any, TypeVar, overload

from fad._api import jvp, stop_gradient
from fad._core import check_live, is_tracer, new_level, primal_value
from fad.tracers.dual import Dual
from fad.tracers.jet import Jet
from fad.tree import tree_flatten, tree_leaves, tree_map, tree_unflatten

__all__ = ["custom_root", "fixed_point", "linear_solve"]

X = TypeVar("X")
A = TypeVar("A")


def _depth(tree: Any) -> int:
    """The largest number of nested perturbations of a leaf (a jet of order K counts K)."""
    best = 0
    for leaf in [tree] if type(tree) is float or is_tracer(tree) else tree_leaves(tree):
        d = 0
        x = leaf
        while is_tracer(x):
            d += x.order if type(x) is Jet else 1
            x = x.primal
        best = max(best, d)
    return best


def _strip(value: Any) -> Any:
    """``stop_gradient``, with scalars done in place."""
    if type(value) is float:
        return value
    if is_tracer(value):
        return primal_value(value)
    return stop_gradient(value)


def _has_tracer(value: Any) -> bool:
    if type(value) is float or type(value) is int:
        return False
    if is_tracer(value):
        return True
    if callable(value):
        return False
    try:
        return any(is_tracer(x) for x in tree_leaves(value))
    except Exception:  # an object fad cannot flatten: leave it alone
        return False


def _plain_function(f: Callable[..., Any]) -> Callable[..., Any]:
    """``f`` with the tracers in its closure cells replaced by their values (if any)."""
    if not isinstance(f, types.FunctionType) or not f.__closure__:
        return f
    cells = []
    changed = False
    for cell in f.__closure__:
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            cells.append(cell)
            continue
        if _has_tracer(value):
            cells.append(types.CellType(_strip(value)))
            changed = True
        else:
            cells.append(cell)  # the same cell: nonlocal state stays shared
    if not changed:
        return f
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, tuple(cells))
    g.__kwdefaults__ = f.__kwdefaults__
    return g


class _SingularMatrix(ValueError):
    """A zero pivot in :func:`linear_solve`."""


def _singular(fname: str, detail: str) -> ValueError:
    return ValueError(
        f"fad.{fname}: the Jacobian of f with respect to x is singular at the root "
        f"({detail}), so the root's derivative is not defined there (the implicit function "
        "theorem needs an invertible Jacobian). Check that the solver converged to a "
        "simple root."
    )


def _scalar(x: Any) -> bool:
    t = type(x)
    return t is float or (t is not bool and t is not int and is_tracer(x))


def _correct(
    f: Callable[[Any], Any],
    root: Any,
    tangent_solve: Callable[[Callable[[Any], Any], Any], Any],
    fname: str,
) -> Any:
    """The root with its derivatives: Newton corrections from the plain ``root``."""
    residual = f(root)
    n = _depth(residual).bit_length()  # corrections: 2**n > the perturbation order
    x = root
    scalar = _scalar(root)
    for k in range(n):
        if k:
            residual = f(x)
        point = x

        def g(v: Any, point: Any = point) -> Any:
            if scalar and type(v) is float:  # one unknown: one Dual pass, no pytrees
                level = new_level()
                out = f(Dual(point, v, level))
                check_live([out], "custom_root", level)
                return out.tangent if type(out) is Dual and out.level == level else 0.0
            return jvp(f, (point,), (v,))[1]

        try:
            delta = tangent_solve(g, residual)
        except ZeroDivisionError as e:
            raise _singular(fname, f"division by zero in tangent_solve: {e}") from None
        except _SingularMatrix as e:
            raise _singular(fname, str(e).removeprefix("fad.linear_solve: ")) from None
        if scalar and _scalar(delta):
            v = primal_value(delta)
            if not math.isfinite(v):
                raise _singular(fname, f"tangent_solve returned {v!r}")
            x = x - (delta - v)
            continue
        d_leaves, d_def = tree_flatten(delta)
        x_leaves, x_def = tree_flatten(x)
        if d_def != x_def:
            msg = (
                f"fad.{fname}: tangent_solve returned {d_def!r}, but the root has structure "
                f"{x_def!r}; tangent_solve(g, y) must return x with g(x) = y."
            )
            raise TypeError(msg)
        for d in d_leaves:
            v = primal_value(d)
            if not math.isfinite(v):
                raise _singular(fname, f"tangent_solve returned {v!r}")
        x = tree_unflatten(
            x_def,
            [xi - (d - primal_value(d)) for xi, d in zip(x_leaves, d_leaves, strict=True)],
        )
    return x


@overload
def custom_root(
    f: Callable[[X], Any],
    initial_guess: X,
    solve: Callable[[Callable[[X], Any], X], X],
    tangent_solve: Callable[[Callable[[Any], Any], Any], Any],
    has_aux: bool = False,
) -> X: ...


@overload
def custom_root(
    f: Callable[[X], Any],
    initial_guess: X,
    solve: Callable[[Callable[[X], Any], X], tuple[X, A]],
    tangent_solve: Callable[[Callable[[Any], Any], Any], Any],
    has_aux: bool = True,
) -> tuple[X, A]: ...


def custom_root(
    f: Callable[[X], Any],
    initial_guess: X,
    solve: Callable[[Callable[[X], Any], X], Any],
    tangent_solve: Callable[[Callable[[Any], Any], Any], Any],
    has_aux: bool = False,
) -> Any:
    """A root of ``f``, differentiated implicitly, as ``jax.lax.custom_root``.

    ``solve(f, initial_guess)`` finds ``x`` with ``f(x) = 0`` (any method, any number
    of iterations: it runs on plain numbers and is never differentiated). The
    derivative of the root with respect to whatever ``f`` closes over comes from the
    implicit function theorem, by Newton corrections with the tracers flowing through
    ``f`` (see docs/loops.md): one linear solve for a gradient, two for a Hessian, and
    every mode and nesting (forward, reverse, Taylor) works.

    Args:
        f: the function whose root is wanted, ``x ↦ f(x)`` with ``x`` a pytree of real
            scalars and ``f(x)`` of the same structure. It closes over the parameters
            the root depends on.
        initial_guess: the starting point for ``solve`` (its derivative is ignored).
        solve: ``solve(f, initial_guess) -> root`` (or ``(root, aux)`` with
            ``has_aux``), on plain numbers.
        tangent_solve: ``tangent_solve(g, y) -> x`` solving the linear system
            ``g(x) = y``, where ``g`` is the Jacobian of ``f`` at the root as a linear
            function; ``lambda g, y: y / g(1.0)`` for one unknown, or
            :func:`fad.linear_solve` for a few. It is applied to tracers, so write it
            with fad operations.
        has_aux: if true, ``solve`` returns ``(root, aux)`` and so does ``custom_root``
            (``aux`` without derivatives).

    Returns:
        The root (``solve``'s value exactly), carrying its derivatives.

    Raises:
        ValueError: if the Jacobian is singular at the root (``tangent_solve``
            divides by zero or returns a non-finite value), never a silent inf/NaN.
        TypeError: if ``tangent_solve`` returns another structure than the root.

    Example:
        >>> import fad
        >>> def newton(f, x):
        ...     for _ in range(50):
        ...         x = x - f(x) / fad.derivative(f)(x)
        ...     return x
        >>> def sqrt(a):
        ...     return fad.custom_root(lambda x: x * x - a, 1.0, newton, lambda g, y: y / g(1.0))
        >>> sqrt(2.0), fad.grad(sqrt)(4.0), fad.derivative(sqrt, 2)(4.0)
        (1.414213562373095, 0.25, -0.03125)
    """
    for name, fn in (("f", f), ("solve", solve), ("tangent_solve", tangent_solve)):
        if not callable(fn):
            msg = f"fad.custom_root: {name} must be a function, not {type(fn).__name__} {fn!r}."
            raise TypeError(msg)
    found = solve(_plain_function(f), _strip(initial_guess))
    aux = None
    if has_aux:
        if not (isinstance(found, (tuple, list)) and len(found) == 2):
            msg = (
                "fad.custom_root(..., has_aux=True): solve must return a pair (root, aux), "
                f"not {type(found).__name__}."
            )
            raise TypeError(msg)
        found, aux = found
    root = _strip(found)
    x = _correct(f, root, tangent_solve, "custom_root")
    return (x, stop_gradient(aux)) if has_aux else x


def linear_solve(g: Callable[[Any], Any], y: Any) -> Any:
    """Solve the linear system ``g(x) = y`` (a ``tangent_solve`` for :func:`custom_root`).

    ``g`` is a linear function of pytrees of real scalars (in ``custom_root``, the
    Jacobian of ``f`` at the root) and ``y`` a pytree of ``g``'s output structure; the
    result has ``g``'s input structure, taken to be ``y``'s. ``g`` is applied to the
    unit vectors to build the matrix, which is solved by Gaussian elimination with
    partial pivoting written in fad operations, so tracers in ``g`` and ``y`` carry
    their derivatives through. For one unknown it is ``y / g(1.0)``. Meant for a few
    unknowns (the cost is n calls of ``g`` and n³ operations).

    Raises:
        ValueError: if the matrix is singular (a zero pivot).

    Example:
        >>> import fad
        >>> fad.linear_solve(lambda v: (2.0 * v[0] + v[1], v[1]), (5.0, 1.0))
        (2.0, 1.0)
    """
    y_leaves, y_def = tree_flatten(y)
    n = len(y_leaves)
    columns = []
    for j in range(n):
        unit = [0.0] * n
        unit[j] = 1.0
        col, c_def = tree_flatten(g(tree_unflatten(y_def, unit)))
        if c_def != y_def:
            msg = (
                f"fad.linear_solve: g returned {c_def!r} for an input of y's structure "
                f"{y_def!r}; g must map that structure to itself."
            )
            raise TypeError(msg)
        columns.append(col)
    if n == 1:
        a = columns[0][0]
        if primal_value(a) == 0:
            msg = "fad.linear_solve: the matrix is singular (g(1.0) is 0)."
            raise _SingularMatrix(msg)
        return tree_unflatten(y_def, [y_leaves[0] / a])
    m = [[columns[j][i] for j in range(n)] + [y_leaves[i]] for i in range(n)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(primal_value(m[r][c])))
        if primal_value(m[p][c]) == 0:
            msg = f"fad.linear_solve: the matrix is singular (no pivot in column {c})."
            raise _SingularMatrix(msg)
        m[c], m[p] = m[p], m[c]
        for r in range(c + 1, n):
            factor = m[r][c] / m[c][c]
            m[r] = [m[r][k] - factor * m[c][k] if k >= c else m[r][k] for k in range(n + 1)]
    x: list[Any] = [0.0] * n
    for r in range(n - 1, -1, -1):
        acc = m[r][n]
        for k in range(r + 1, n):
            acc = acc - m[r][k] * x[k]
        x[r] = acc / m[r][r]
    return tree_unflatten(y_def, x)


def fixed_point(
    fun: Callable[..., X],
    x0: X,
    *params: Any,
    tol: float = 1e-13,
    max_iter: int = 10_000,
) -> X:
    """The solution of ``x = fun(x, *params)``, differentiated implicitly in ``params``.

    ``x`` is found by iterating ``x ← fun(x, *params)`` on plain numbers from ``x0``
    until a step moves no leaf by more than ``tol · (1 + |x|)``, then polished by one
    Newton step (on plain numbers); its derivatives with
    respect to ``params`` (and anything ``fun`` closes over) come from the implicit
    function theorem applied to ``fun(x, *params) − x``, as in :func:`custom_root`
    (a division for one unknown, a small dense solve for a few), in every mode and
    nesting.

    Args:
        fun: ``fun(x, *params) -> x``, a contraction near the fixed point.
        x0: the starting point, a pytree of real scalars (its derivative is ignored).
        *params: the parameters, pytrees of real scalars.
        tol: the relative step size at which the iteration stops.
        max_iter: the most iterations before giving up.

    Returns:
        The fixed point, with ``x0``'s structure.

    Raises:
        ValueError: if the iteration has not converged after ``max_iter`` steps, or if
            ``I − ∂fun/∂x`` is singular at the fixed point.

    Example:
        >>> import fad
        >>> def babylonian(x, a):
        ...     return 0.5 * (x + a / x)
        >>> fad.fixed_point(babylonian, 1.0, 9.0)
        3.0
        >>> fad.grad(lambda a: fad.fixed_point(babylonian, 1.0, a))(9.0)
        0.16666666666666666
    """
    if not callable(fun):
        msg = f"fad.fixed_point: fun must be a function, not {type(fun).__name__} {fun!r}."
        raise TypeError(msg)
    plain_params = stop_gradient(params)
    x = stop_gradient(x0)
    x_def = tree_flatten(x)[1]
    converged = False
    step = math.inf
    for _ in range(max_iter):
        new = stop_gradient(fun(x, *plain_params))
        new_leaves, new_def = tree_flatten(new)
        if new_def != x_def:
            msg = (
                f"fad.fixed_point: fun returned {new_def!r} for x of structure {x_def!r}; "
                "fun(x, *params) must return x's structure."
            )
            raise TypeError(msg)
        step = max(
            (abs(a - b) / (1.0 + abs(b)) for a, b in zip(new_leaves, tree_leaves(x), strict=True)),
            default=0.0,
        )
        x = new
        if step <= tol:
            converged = True
            break
    if not converged:
        msg = (
            f"fad.fixed_point: the iteration x = fun(x, *params) did not converge in "
            f"{max_iter} steps (the last step moved x by {step:.3g} relative to its size, "
            f"above tol={tol}). Start closer to the fixed point, raise max_iter, or check "
            "that fun is a contraction there."
        )
        raise ValueError(msg)

    def f_plain(z: Any) -> Any:
        return tree_map(lambda a, b: a - b, fun(z, *plain_params), z)

    # one Newton step on plain numbers polishes the iterate to rounding level
    try:
        step_x = linear_solve(lambda v: jvp(f_plain, (x,), (v,))[1], f_plain(x))
        polished = stop_gradient(tree_map(lambda a, b: a - b, x, step_x))
        if all(math.isfinite(v) for v in tree_leaves(polished)):
            x = polished
    except (ValueError, ZeroDivisionError):  # singular: the derivative will say so
        pass

    def f(z: Any) -> Any:
        return tree_map(lambda a, b: a - b, fun(z, *params), z)

    return _correct(f, x, linear_solve, "fixed_point")  # type: ignore[no-any-return]
