"""The colourings of fad._coloring, checked by independent enumeration on random patterns."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fad import _coloring as C


@st.composite
def patterns(draw: st.DrawFn) -> tuple[list[list[int]], int]:
    """A random m × n pattern as the columns of each row."""
    m = draw(st.integers(0, 10))
    n = draw(st.integers(1, 10))
    density = draw(st.floats(0.0, 1.0))
    rng = random.Random(draw(st.integers(0, 2**32)))
    return [[j for j in range(n) if rng.random() < density] for _ in range(m)], n


@st.composite
def symmetric_patterns(draw: st.DrawFn) -> list[list[int]]:
    """A random symmetric n × n pattern (diagonal entries drawn too)."""
    n = draw(st.integers(1, 11))
    density = draw(st.floats(0.0, 0.7))
    rng = random.Random(draw(st.integers(0, 2**32)))
    sets: list[set[int]] = [set() for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            if rng.random() < density:
                sets[i].add(j)
                sets[j].add(i)
    return [sorted(s) for s in sets]


def tridiagonal(n: int) -> list[list[int]]:
    return [[j for j in (i - 1, i, i + 1) if 0 <= j < n] for i in range(n)]


def arrow(n: int) -> list[list[int]]:
    return [list(range(n))] + [[0, i] for i in range(1, n)]


@pytest.mark.parametrize("order", C.ORDERS)
@given(pattern=patterns())
@settings(max_examples=60, deadline=None)
def test_column_and_row_colorings_are_valid(
    pattern: tuple[list[list[int]], int], order: str
) -> None:
    rows, n = pattern
    colors = C.column_coloring(rows, n, order=order)
    assert len(colors) == n
    assert C.is_valid_column_coloring(rows, colors)
    # each colour used is needed somewhere: at least as many colours as the longest row
    assert C.n_colors(colors) >= max((len(r) for r in rows), default=0)
    row_colors = C.row_coloring(rows, n, order=order)
    assert len(row_colors) == len(rows)
    assert C.is_valid_column_coloring(C.transpose(rows, n), row_colors)


@pytest.mark.parametrize("order", C.ORDERS)
@given(rows=symmetric_patterns(), seed=st.integers(0, 2**32))
@settings(max_examples=80, deadline=None)
def test_star_coloring_is_valid_and_recovers_exactly(
    rows: list[list[int]], order: str, seed: int
) -> None:
    colors = C.star_coloring(rows, order=order)
    assert C.is_valid_star_coloring(rows, colors)
    # recovery: a random symmetric matrix with this pattern, compressed B = H S
    rng = random.Random(seed)
    n = len(rows)
    h = [[0.0] * n for _ in range(n)]
    for i, row in enumerate(rows):
        for j in row:
            if j >= i:
                h[i][j] = h[j][i] = float(rng.randint(1, 1000))
    k = C.n_colors(colors)
    b = [[sum(h[i][j] for j in range(n) if colors[j] == c) for i in range(n)] for c in range(k)]
    sources = C.star_recovery_sources(rows, colors)
    entries = [(i, j) for i, row in enumerate(rows) for j in row]
    assert len(sources) == len(entries)
    for (i, j), (r, c) in zip(entries, sources, strict=True):
        assert b[c][r] == h[i][j]


def test_the_checks_can_fail() -> None:
    rows = tridiagonal(4)
    assert not C.is_valid_column_coloring(rows, [0, 1, 0, 1])  # row 1 has columns 0 and 2
    assert not C.is_valid_star_coloring(rows, [0, 1, 0, 1])  # the path 0-1-2-3, two colours
    assert not C.is_valid_star_coloring(rows, [0, 0, 1, 2])  # neighbours 0, 1 alike
    with pytest.raises(ValueError, match="not a star colouring"):
        C.star_recovery_sources(rows, [0, 1, 0, 1])


@pytest.mark.parametrize("n", [3, 10, 101])
def test_colour_counts_of_known_patterns(n: int) -> None:
    tri = tridiagonal(n)
    assert C.n_colors(C.column_coloring(tri, n)) == 3
    assert C.n_colors(C.row_coloring(tri, n)) == 3
    assert C.n_colors(C.star_coloring(tri)) == (3 if n >= 4 else 2)  # P3 is a star
    diag = [[i] for i in range(n)]
    assert C.n_colors(C.column_coloring(diag, n)) == 1
    assert C.n_colors(C.star_coloring(diag)) == 1
    arr = arrow(n)
    assert C.n_colors(C.column_coloring(arr, n)) == n  # the dense row
    assert C.n_colors(C.row_coloring(arr, n)) == n  # the dense column
    assert C.n_colors(C.star_coloring(arr)) == 2  # a star: the hub, and the rest


def test_five_point_laplacian_needs_few_colours() -> None:
    k = 6  # a k × k grid, 5-point stencil: 5 column colours, star colouring ≤ 6
    idx = {(a, b): a * k + b for a in range(k) for b in range(k)}
    rows = [
        sorted(idx[p] for p in [(a, b), (a - 1, b), (a + 1, b), (a, b - 1), (a, b + 1)] if p in idx)
        for (a, b) in idx
    ]
    cols = C.column_coloring(rows, k * k)
    assert C.is_valid_column_coloring(rows, cols)
    assert C.n_colors(cols) <= 6
    star = C.star_coloring(rows)
    assert C.is_valid_star_coloring(rows, star)
    assert C.n_colors(star) <= 6


def test_unknown_order() -> None:
    with pytest.raises(ValueError, match="unknown colouring order 'random'"):
        C.column_coloring([[0]], 1, order="random")
