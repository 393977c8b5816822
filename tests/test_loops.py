"""fori_loop, while_loop and scan: against the unrolled Python loop, finite differences,
and every mode; checkpointed schedules against the plain ones; bad input."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fad
from fad._core import new_level
from fad._loops import _binomial, _plan
from fad.tracers.tape import TapeCodual

# A step is drawn as a list of small operations on the carry (x, p); each keeps the
# values bounded, so that long loops stay finite.
OPS: list[Callable[[Any, Any], Any]] = [
    lambda x, p: x + 0.1 * p * fad.math.sin(x),
    lambda x, p: 0.9 * x + 0.05 * p * p,
    lambda x, p: x - 0.1 * fad.math.tanh(x * p),
    lambda x, p: x * (1.0 + 0.01 * fad.math.cos(p)),
    lambda x, p: 0.5 * x + 0.2 * fad.math.exp(-x * x) * p,
]

steps = st.lists(st.sampled_from(range(len(OPS))), min_size=1, max_size=3)
points = st.floats(-1.5, 1.5)
checkpoints = st.sampled_from([None, 1, 2, 3, 5, "binomial"])
snapshot_counts = st.sampled_from([None, 1, 2, 3])


def make_body(ops: list[int]) -> Callable[[int, Any], Any]:
    def body(i: int, c: Any) -> Any:
        x, p = c
        for k in ops:
            x = OPS[k](x, p) + 0.001 * i
        return (x, p)

    return body


def unrolled(ops: list[int], lo: int, hi: int) -> Callable[[Any, Any], Any]:
    body = make_body(ops)

    def f(x: Any, p: Any) -> Any:
        c = (x, p)
        for i in range(lo, hi):
            c = body(i, c)
        return c[0] * c[1]

    return f


def looped(
    ops: list[int], lo: int, hi: int, checkpoint: Any, snapshots: Any
) -> Callable[[Any, Any], Any]:
    body = make_body(ops)
    kw: dict[str, Any] = {"checkpoint": checkpoint}
    if checkpoint == "binomial":
        kw["snapshots"] = snapshots

    def f(x: Any, p: Any) -> Any:
        c = fad.fori_loop(lo, hi, body, (x, p), **kw)
        return c[0] * c[1]

    return f


def close(a: Any, b: Any, tol: float = 1e-9) -> bool:
    la, lb = fad.tree.tree_leaves(a), fad.tree.tree_leaves(b)
    return len(la) == len(lb) and all(
        abs(u - v) <= tol * (1.0 + abs(v)) for u, v in zip(la, lb, strict=True)
    )


def central(
    f: Callable[[float, float], Any], x: float, p: float, h: float = 1e-6
) -> tuple[float, float]:
    return (
        (f(x + h, p) - f(x - h, p)) / (2 * h),
        (f(x, p + h) - f(x, p - h)) / (2 * h),
    )


@settings(max_examples=25)
@given(steps, st.integers(0, 3), st.integers(0, 12), points, points, checkpoints, snapshot_counts)
def test_fori_loop_matches_the_unrolled_loop_in_every_reverse_mode(
    ops: list[int], lo: int, n: int, x: float, p: float, checkpoint: Any, snapshots: Any
) -> None:
    ref = unrolled(ops, lo, lo + n)
    f = looped(ops, lo, lo + n, checkpoint, snapshots)
    assert f(x, p) == ref(x, p)
    want = fad.grad(ref, (0, 1))(x, p)
    # naive mode is exponential in the reuse of a value (docs/strategies.md): small loops only
    modes = ("tape", "memo", "naive") if n * len(ops) <= 6 else ("tape", "memo")
    for mode in modes:
        assert close(fad.grad(f, (0, 1), mode=mode)(x, p), want), mode
    assert close(want, central(ref, x, p), 1e-6)


@settings(max_examples=15)
@given(steps, st.integers(0, 8), points, points, checkpoints, snapshot_counts)
def test_fori_loop_forward_taylor_and_nested(
    ops: list[int], n: int, x: float, p: float, checkpoint: Any, snapshots: Any
) -> None:
    ref = unrolled(ops, 0, n)
    f = looped(ops, 0, n, checkpoint, snapshots)
    assert close(fad.jvp(f, (x, p), (0.3, -0.7)), fad.jvp(ref, (x, p), (0.3, -0.7)))
    assert close(fad.taylor(lambda t: f(t, p), x, 3), fad.taylor(lambda t: ref(t, p), x, 3))
    assert close(fad.hessian(f, (0, 1))(x, p), fad.hessian(ref, (0, 1))(x, p))
    fwd_rev = fad.jacfwd(fad.grad(f, (0, 1)), (0, 1))(x, p)
    assert close(fwd_rev, fad.hessian(ref, (0, 1))(x, p))
    rev_fwd = fad.grad(lambda t: fad.jvp(f, (t, p), (1.0, 0.0))[1])(x)
    assert close(rev_fwd, fad.grad(lambda t: fad.jvp(ref, (t, p), (1.0, 0.0))[1])(x))


def test_fori_loop_values_and_pytree_carries() -> None:
    assert fad.fori_loop(0, 5, lambda i, x: x + i, 0) == 10
    assert fad.fori_loop(3, 3, lambda i, x: x + 1.0, 2.0) == 2.0
    out = fad.fori_loop(0, 3, lambda i, c: {"a": c["a"] * 2.0, "n": c["n"] + 1}, {"a": 1.0, "n": 0})
    assert out == {"a": 8.0, "n": 3}

    def f(a: Any) -> Any:
        c = fad.fori_loop(
            0, 4, lambda i, c: {"a": c["a"] * c["w"], "w": c["w"]}, {"a": 1.0, "w": a}
        )
        return c["a"]

    assert f(1.5) == 1.5**4
    assert fad.grad(f)(1.5) == pytest.approx(4 * 1.5**3, rel=1e-14)
    for k in (None, 1, 3, "binomial"):
        g = fad.fori_loop(
            0,
            4,
            lambda i, c: {"a": c["a"] * c["w"], "w": c["w"]},
            {"a": 1.0, "w": 1.5},
            checkpoint=k,
        )
        assert g == {"a": 1.5**4, "w": 1.5}


def decaying(rate: float) -> tuple[Callable[[Any], bool], Callable[[Any], Any]]:
    def cond(c: Any) -> bool:
        return bool(c[0] > 0.1)

    def body(c: Any) -> Any:
        x, p = c
        return (x * (0.5 + 0.3 * fad.math.sin(p)) - rate * p * p, p)

    return cond, body


@settings(max_examples=30)
@given(st.floats(0.2, 50.0), st.floats(-1.0, 1.0), st.sampled_from([None, 1, 2, "binomial"]))
def test_while_loop_reverse_mode_with_a_data_dependent_trip_count(
    x: float, p: float, checkpoint: Any
) -> None:
    cond, body = decaying(0.01)

    def unrolled_while(x: Any, p: Any) -> Any:
        c = (x, p)
        while cond(c):
            c = body(c)
        return c[0] + c[1]

    def f(x: Any, p: Any) -> Any:
        c = fad.while_loop(cond, body, (x, p), checkpoint=checkpoint)
        return c[0] + c[1]

    def trips(x: float, p: float) -> int:
        c, n = (x, p), 0
        while cond(c):
            c, n = body(c), n + 1
        return n

    assert f(x, p) == unrolled_while(x, p)
    want = fad.grad(unrolled_while, (0, 1))(x, p)
    # naive mode is exponential in the reuse of a value: small loops only
    for mode in ("tape", "memo", "naive") if trips(x, p) <= 6 else ("tape", "memo"):
        assert close(fad.grad(f, (0, 1), mode=mode)(x, p), want)
    h = 1e-6
    # finite differences only where the trip count is the same on both sides
    assume(trips(x + h, p) == trips(x - h, p) == trips(x, p + h) == trips(x, p - h) == trips(x, p))
    assert close(want, central(unrolled_while, x, p, h), 1e-5)
    assert close(fad.jvp(f, (x, p), (1.0, 0.5)), fad.jvp(unrolled_while, (x, p), (1.0, 0.5)))
    assert close(fad.hessian(f, (0, 1))(x, p), fad.hessian(unrolled_while, (0, 1))(x, p))
    assert close(
        fad.taylor(lambda t: f(t, p), x, 3), fad.taylor(lambda t: unrolled_while(t, p), x, 3)
    )


def test_while_loop_trip_count_follows_the_input() -> None:
    def halvings(x: Any) -> Any:
        return fad.while_loop(lambda v: v >= 1.0, lambda v: v * 0.5, x)

    assert halvings(10.0) == 0.625
    assert fad.grad(halvings)(10.0) == 0.5**4
    assert fad.grad(halvings)(100.0) == 0.5**7
    assert fad.while_loop(lambda v: v[1] < 3, lambda v: (v[0] * 2.0, v[1] + 1), (1.0, 0)) == (
        8.0,
        3,
    )


@settings(max_examples=20)
@given(
    st.lists(st.floats(-1.0, 1.0), min_size=0, max_size=7),
    points,
    st.booleans(),
    st.sampled_from([None, 1, 2, "binomial"]),
)
def test_scan_matches_a_python_loop(
    xs: list[float], a: float, reverse: bool, checkpoint: Any
) -> None:
    def step(c: Any, x: Any) -> Any:
        return (c[0] * fad.math.cos(x) + x, c[1] * c[0])

    def ref(a: Any, xs: Any) -> Any:
        c = (a, 1.0)
        for x in reversed(xs) if reverse else xs:
            c = step(c, x)
        return c[0] + c[1]

    def f(a: Any, xs: Any) -> Any:
        def g(c: Any, x: Any) -> Any:
            return step(c, x), None

        c, ys = fad.scan(g, (a, 1.0), xs, length=len(xs), reverse=reverse, checkpoint=checkpoint)
        assert ys is None
        return c[0] + c[1]

    assert f(a, xs) == ref(a, xs)
    want = fad.grad(ref, (0, 1))(a, xs)
    got = fad.grad(f, (0, 1))(a, xs)
    assert close(got, want)
    assert close(fad.grad(f, (0, 1), mode="memo")(a, xs), want)
    assert close(
        fad.jvp(lambda t: f(t, xs), (a,), (1.0,)), fad.jvp(lambda t: ref(t, xs), (a,), (1.0,))
    )


def test_scan_outputs_are_stacked_as_lists() -> None:
    carry: Any
    ys: Any
    carry, ys = fad.scan(lambda c, x: (c + x, c * x), 0.0, [1.0, 2.0, 3.0])
    assert (carry, ys) == (6.0, [0.0, 2.0, 9.0])
    carry, ys = fad.scan(lambda c, x: (c + x, {"c": c}), 0.0, [1.0, 2.0], reverse=True)
    assert (carry, ys) == (3.0, {"c": [2.0, 0.0]})
    carry, ys = fad.scan(lambda c, x: (c + x[0] * x[1], (x[0], [c])), 1.0, ([1.0, 2.0], [3.0, 4.0]))
    assert carry == 12.0
    assert ys == ([1.0, 2.0], [[1.0], [4.0]])
    assert fad.scan(lambda c, x: (c * 2.0, None), 1.0, None, length=3) == (8.0, None)

    # the gradient of a stacked output
    def f(a: Any) -> Any:
        _, ys = fad.scan(lambda c, x: (c * a, c * x), 1.0, [1.0, 2.0, 3.0])
        return ys[0] + ys[1] + ys[2]

    assert fad.grad(f)(2.0) == pytest.approx(2.0 + 3.0 * 2 * 2.0, rel=1e-15)


def tape_length(fun: Callable[[Any, Any], Any], x: float, p: float) -> int:
    """Entries on the tape after ``fun`` runs on two fresh tape inputs."""
    (tx, tp), _ = TapeCodual.seed([x, p], new_level())
    fun(tx, tp)
    return len(tx.tape)


@pytest.mark.parametrize("checkpoint", [10, "binomial"])
def test_checkpointed_loops_keep_few_tape_entries(checkpoint: Any) -> None:
    n = 400
    body = make_body([0, 2])

    def plain(x: Any, p: Any) -> Any:
        return fad.fori_loop(0, n, body, (x, p))[0]

    def cut(x: Any, p: Any) -> Any:
        return fad.fori_loop(0, n, body, (x, p), checkpoint=checkpoint)[0]

    full, small = tape_length(plain, 0.5, 0.3), tape_length(cut, 0.5, 0.3)
    assert full >= 5 * n  # every operation of every step
    # one entry per carry leaf and segment (two inputs: no chain) and the inputs; the
    # binomial schedule's default snapshots: sqrt(n) segments at the top level
    segments = len(_plan(n, checkpoint, None, "fori_loop") or [])
    assert small == 2 + 2 * segments
    assert segments == (n // 10 if checkpoint == 10 else math.isqrt(n))


@pytest.mark.parametrize(("n", "s"), [(10, 1), (1000, 3), (12345, 7), (100, 50)])
def test_binomial_schedule_covers_the_loop(n: int, s: int) -> None:
    plan = _binomial(0, n, s, s)
    assert plan is not None

    def check(parts: Any, a: int, b: int, depth: int) -> int:
        assert parts[0][0] == a
        assert parts[-1][1] == b
        deepest = depth
        for (a0, b0, sub), nxt in zip(parts, [*parts[1:], None], strict=True):
            assert a0 < b0
            if nxt is not None:
                assert nxt[0] == b0
            assert len(parts) <= s + 1
            if sub is None:
                assert b0 - a0 <= s
            else:
                deepest = max(deepest, check(sub, a0, b0, depth + 1))
        return deepest

    depth = check(plan, 0, n, 1)
    t = 1
    while math.comb(s + t, t) * s < n:
        t += 1
    assert depth <= t


# the loops under other names, typed Any: the calls below are wrong on purpose
fori: Any = fad.fori_loop
while_: Any = fad.while_loop
scan: Any = fad.scan


def test_bad_carries_name_the_function_path_and_structures() -> None:
    def grows(i: int, x: Any) -> Any:
        return (x, x)

    with pytest.raises(
        TypeError, match=r"fori_loop: body_fun 'grows'.*\(\*, \*\).*PyTreeDef\(\*\)"
    ):
        fori(0, 3, grows, 1.0)
    with pytest.raises(TypeError, match=r"float \(0\.5\) at carry path \(root\).*an int.*0\.0"):
        fori(0, 3, lambda i, x: x * 0.5, 1)
    with pytest.raises(TypeError, match=r"i=1.*carry path \['b'\]"):
        fori(
            0,
            3,
            lambda i, c: {"a": c["a"], "b": 1.0 if i < 1 else {"c": 1.0}},
            {"a": 1.0, "b": 2.0},
        )
    with pytest.raises(TypeError, match=r"carry path \[1\].*an int"):
        fori(0, 2, lambda i, c: (c[0], c[1] + 0.5), (1.0, 0), checkpoint=1)
    with pytest.raises(TypeError, match=r"while_loop: body_fun.*str"):
        while_(lambda c: c == 1.0, lambda c: "x", 1.0)
    with pytest.raises(TypeError, match=r"scan: f.*carry path \[0\]"):
        scan(lambda c, x: ((1, c[1]), None), (1.0, 1), [1.0])
    with pytest.raises(TypeError, match=r"scan: f.*pair"):
        scan(lambda c, x: c, 1.0, [1.0])
    with pytest.raises(TypeError, match=r"one structure at every step"):
        scan(lambda c, x: (c, x if x > 1.5 else (x, x)), 1.0, [1.0, 2.0])


def test_cond_fun_must_return_a_bool() -> None:
    with pytest.raises(TypeError, match=r"cond_fun '<lambda>' must return a bool.*float.*Compare"):
        while_(lambda x: x - 1.0, lambda x: x * 0.5, 1.0)
    with pytest.raises(TypeError, match=r"must return a bool.*Dual"):
        fad.jvp(lambda x: while_(lambda v: v, lambda v: v * 0.5, x), (1.0,), (1.0,))
    with pytest.raises(TypeError, match=r"must return a bool.*int"):
        while_(lambda x: 1, lambda x: x * 0.5, 1.0, checkpoint=2)
    # a comparison of tracers is a plain bool: fine
    assert fad.grad(lambda x: while_(lambda v: v > 1.0, lambda v: v * 0.5, x))(3.0) == 0.25


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="lower must be an int"):
        fori(0.5, 3, lambda i, x: x, 1.0)
    with pytest.raises(TypeError, match="body_fun must be a function"):
        fori(0, 3, 1.0, 1.0)
    with pytest.raises(ValueError, match="at least 1"):
        fori(0, 3, lambda i, x: x, 1.0, checkpoint=0)
    with pytest.raises(ValueError, match='"binomial"'):
        fori(0, 3, lambda i, x: x, 1.0, checkpoint="revolve")
    with pytest.raises(TypeError, match="snapshots= is the budget"):
        fori(0, 3, lambda i, x: x, 1.0, snapshots=3)
    with pytest.raises(ValueError, match="snapshots must be an int"):
        fori(0, 3, lambda i, x: x, 1.0, checkpoint="binomial", snapshots=0)
    with pytest.raises(ValueError, match="one length"):
        scan(lambda c, x: (c, None), 1.0, ([1.0], [1.0, 2.0]))
    with pytest.raises(ValueError, match="length="):
        scan(lambda c, x: (c, None), 1.0, None)
    with pytest.raises(TypeError, match=r"xs at path \[1\] is a float"):
        scan(lambda c, x: (c, None), 1.0, ([1.0], 2.0))
    with pytest.raises(ValueError, match=r"checkpointed scan only carries.*fad.checkpoint\(f\)"):
        scan(lambda c, x: (c, c), 1.0, [1.0, 2.0], checkpoint=1)


def test_closing_over_the_differentiated_value_warns_and_stays_right() -> None:
    def f(p: Any) -> Any:
        return fad.fori_loop(0, 20, lambda i, x: x + 0.1 * p * fad.math.sin(x), 0.3, checkpoint=5)

    def g(p: Any) -> Any:
        x = 0.3
        for _ in range(20):
            x = x + 0.1 * p * fad.math.sin(x)
        return x

    with pytest.warns(fad.CheckpointWarning, match="in the carry"):
        got = fad.grad(f)(0.7)
    assert got == pytest.approx(fad.grad(g)(0.7), rel=1e-13)
