"""Check derivatives against finite differences, as ``jax.test_util.check_grads`` does.

:func:`check_grads` compares, along random directions,

- forward mode with central finite differences: ``jvp(f, x, v)`` against
  ``(f(x + εv) − f(x − εv)) / 2ε``;
- reverse mode by the transpose identity ``⟨ū, J v⟩ = ⟨Jᵀū, v⟩``, with ``J v`` from
  finite differences and ``Jᵀū`` from ``vjp``, for every reverse strategy;

and, up to ``order``, the derivatives of those derivatives: the forward check is
applied again to ``(x, v) ↦ jvp(f, x, v)`` and the reverse check to
``x ↦ vjp(f, x)[1](f(x))``, each in every mode, as JAX does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from fad._api import MODES, jvp, vjp
from fad.tree import tree_flatten, tree_flatten_with_path, tree_map

__all__ = ["check_grads", "check_jvp", "check_vjp", "numerical_jvp"]

EPS = 1e-4
"""Default finite-difference step: central differences err by O(ε²) + O(1e-16/ε)."""

TOL = 1e-5
"""Default absolute and relative tolerance."""


def numerical_jvp(
    f: Callable[..., Any], args: Sequence[Any], tangents: Sequence[Any], eps: float = EPS
) -> Any:
    """Central finite difference of ``f`` at ``args`` along ``tangents``.

    Example:
        >>> from fad.testing import numerical_jvp
        >>> round(numerical_jvp(lambda x: x ** 3, (2.0,), (1.0,)), 6)
        12.0
    """
    plus = tree_map(lambda x, t: x + eps * t, tuple(args), tuple(tangents))
    minus = tree_map(lambda x, t: x - eps * t, tuple(args), tuple(tangents))
    return tree_map(lambda a, b: (a - b) / (2 * eps), f(*plus), f(*minus))


def _inner(a: Any, b: Any) -> Any:
    la, da = tree_flatten(a)
    lb, db = tree_flatten(b)
    if da != db:
        msg = f"check_grads: cannot pair {da!r} with {db!r} in an inner product."
        raise AssertionError(msg)
    total: Any = 0.0
    for x, y in zip(la, lb, strict=True):
        total = total + x * y
    return total


def _check_close(got: Any, expected: Any, atol: float, rtol: float, what: str) -> None:
    g_pairs, g_def = tree_flatten_with_path(got)
    e_leaves, e_def = tree_flatten(expected)
    if g_def != e_def:
        msg = f"check_grads: {what} has structure {g_def!r}, expected {e_def!r}."
        raise AssertionError(msg)
    for (path, g), e in zip(g_pairs, e_leaves, strict=True):
        if not abs(g - e) <= atol + rtol * abs(e):
            where = f" at path {path}" if path else ""
            msg = (
                f"check_grads: {what}{where} is {g!r}, but finite differences give {e!r} "
                f"(difference {abs(g - e):.3g}; atol={atol}, rtol={rtol})."
            )
            raise AssertionError(msg)


def check_jvp(
    f: Callable[..., Any],
    args: Sequence[Any],
    *,
    atol: float = TOL,
    rtol: float = TOL,
    eps: float = EPS,
    rng: random.Random | None = None,
    what: str = "jvp",
) -> None:
    """Check ``fad.jvp(f, args, v)`` against finite differences along a random ``v``.

    Example:
        >>> from fad.testing import check_jvp
        >>> check_jvp(lambda x, y: x * y + x, (2.0, 3.0))
    """
    rng = rng or random.Random(0)
    args = tuple(args)
    tangents = tree_map(lambda _: rng.gauss(0.0, 1.0), args)
    out, t_out = jvp(f, args, tangents)
    _check_close(out, f(*args), atol, rtol, f"the primal output of {what}")
    _check_close(
        t_out, numerical_jvp(f, args, tangents, eps), atol, rtol, f"the tangent output of {what}"
    )


def check_vjp(
    f: Callable[..., Any],
    args: Sequence[Any],
    *,
    mode: str | type | None = None,
    atol: float = TOL,
    rtol: float = TOL,
    eps: float = EPS,
    rng: random.Random | None = None,
    what: str = "vjp",
) -> None:
    """Check ``fad.vjp(f, *args, mode=mode)`` by ``⟨ū, J v⟩ = ⟨Jᵀū, v⟩`` for random ``ū, v``.

    Example:
        >>> from fad.testing import check_vjp
        >>> check_vjp(lambda x, y: (x * y, x - y), (2.0, 3.0), mode="naive")
    """
    rng = rng or random.Random(0)
    args = tuple(args)
    out, vjp_fun = vjp(f, *args, mode=mode)
    _check_close(out, f(*args), atol, rtol, f"the primal output of {what}")
    tangents = tree_map(lambda _: rng.gauss(0.0, 1.0), args)
    t_out = numerical_jvp(f, args, tangents, eps)
    cotangent = tree_map(lambda _: rng.gauss(0.0, 1.0), out)
    ct_in = vjp_fun(cotangent)
    _check_close(
        _inner(tangents, ct_in),
        _inner(t_out, cotangent),
        atol,
        rtol,
        f"<v, {what}(u)> against <J v, u>",
    )


def check_grads(
    fun: Callable[..., Any],
    args: Sequence[Any],
    order: int = 2,
    modes: Sequence[str] = ("fwd", "rev"),
    atol: float = TOL,
    rtol: float = TOL,
    eps: float = EPS,
    *,
    seed: int = 0,
) -> None:
    """Check fad's derivatives of ``fun`` at ``args`` against finite differences.

    Directions are random (seeded by ``seed``), so the cost does not grow with the
    number of inputs. Every check is repeated on the derivative functions up to
    ``order``, in every mode, so ``order=2`` checks all second derivatives.

    Args:
        fun: a function of ``len(args)`` pytrees of real scalars returning a pytree
            of real scalars.
        args: the point, a tuple of the arguments.
        order: the highest order of derivative checked (1 or more).
        modes: ``"fwd"`` (:func:`fad.jvp` on Duals), ``"rev"`` (:func:`fad.vjp` in every
            reverse strategy: ``"tape"``, ``"memo"`` and ``"naive"``), or the name of
            one strategy to check only that one.
        atol: absolute tolerance.
        rtol: relative tolerance.
        eps: finite-difference step.
        seed: seed of the random directions.

    Raises:
        AssertionError: naming the derivative chain, the output path and both values
            when a derivative disagrees with finite differences.
        ValueError: for an unknown mode or an order below 1.

    Example:
        >>> import fad
        >>> from fad.testing import check_grads
        >>> check_grads(lambda x, y: x * x * y, (2.0, 3.0), order=2)
        >>> check_grads(lambda x: x * abs(x) ** 0.5 + 1e-3 / x, (2.0,), modes=("memo",))
    """
    if order < 1:
        msg = f"check_grads: order must be 1 or more, not {order}."
        raise ValueError(msg)
    rev_modes: list[str] = []
    fwd = False
    for m in modes:
        if m == "fwd":
            fwd = True
        elif m == "rev":
            rev_modes.extend(k for k in MODES if k not in rev_modes)
        elif m in MODES:
            if m not in rev_modes:
                rev_modes.append(m)
        else:
            msg = f"check_grads: unknown mode {m!r}; use 'fwd', 'rev' or one of {sorted(MODES)}."
            raise ValueError(msg)
    rng = random.Random(seed)
    tol = {"atol": atol, "rtol": rtol, "eps": eps, "rng": rng}

    def check(f: Callable[..., Any], at: tuple[Any, ...], n: int, chain: str) -> None:
        if fwd:
            what = f"jvp{chain}"
            check_jvp(f, at, what=what, **tol)  # type: ignore[arg-type]
            if n > 1:

                def f_jvp(primals: Any, tangents: Any, f: Callable[..., Any] = f) -> Any:
                    return jvp(f, primals, tangents)

                check(f_jvp, (at, at), n - 1, f" of jvp{chain}")
        for mode in rev_modes:
            what = f"vjp[{mode}]{chain}"
            check_vjp(f, at, mode=mode, what=what, **tol)  # type: ignore[arg-type]
            if n > 1:

                def f_vjp(*xs: Any, f: Callable[..., Any] = f, mode: str = mode) -> Any:
                    out, pullback = vjp(f, *xs, mode=mode)
                    return pullback(out)

                check(f_vjp, at, n - 1, f" of vjp[{mode}]{chain}")

    check(fun, tuple(args), order, "")
