"""Graph colourings for sparse derivatives, in pure Python (usable without the rest of fad).

A sparse Jacobian ``J`` (``m × n``) can be computed with fewer than ``n`` forward
sweeps: give every column a colour such that **no two columns of one colour have an
entry in the same row** (a *distance-2 colouring* of the columns in the bipartite
row/column graph, i.e. a colouring of the column-intersection graph). Then one JVP
per colour, seeded with the sum of the unit vectors of that colour's columns, gives
the sum of those columns, and each entry ``J[i, j]`` is read off directly: it is
entry ``i`` of the sweep of ``j``'s colour, because no other column of that colour
touches row ``i``. Rows coloured the same way give one VJP per colour (reverse
mode): :func:`row_coloring` is the column colouring of the transpose.

A symmetric Hessian needs fewer colours: a **star colouring** of its adjacency
graph (vertices = inputs, an edge where ``H[i, j] ≠ 0`` for ``i ≠ j``) is a
distance-1 colouring in which every path on four vertices uses at least three
colours (Gebremedhin, Manne & Pothen, *What color is your Jacobian?*, SIAM Review
2005). It still allows *direct recovery* from the compressed products
``B = H S`` (``S`` the 0/1 seed matrix, one column per colour): for every edge
``(i, j)`` at least one of ``i``, ``j`` is the only neighbour of its colour around
the other, and :func:`star_recovery_sources` says which entry of ``B`` holds it. A
tridiagonal Hessian needs 3 star colours (and 3 column colours); an arrow-shaped
one (one dense row and column plus the diagonal) needs 2 star colours where a
column colouring needs ``n``.

Every colouring here is *greedy*: the vertices are visited in an order and each
takes the smallest colour its constraints allow. The order matters for the number
of colours (never for correctness):

- ``"natural"``: index order 0, 1, …;
- ``"largest_first"`` (the default): vertices of larger degree first (for columns,
  the degree is ``Σ`` of the lengths of the rows the column touches, an upper bound
  of its degree in the column-intersection graph, as ColPack counts it), ties in
  index order.

The star colouring below is written from the definition: when vertex ``v`` takes a
colour ``c``, ``c`` must differ from every neighbour's colour, and must not close a
two-coloured path on four vertices, with ``v`` at an end (``v-w-x-y`` with
``c = colour(x)``, ``colour(y) = colour(w)``) or inside (``w-v-x-y`` with
``colour(w) = colour(x)``, ``c = colour(y)``). Every such path is checked when its
last vertex is coloured. For each vertex it keeps its coloured neighbours grouped
by colour, and for each coloured ``w`` the colours ``colour(x)`` that ``v-w-x-y``
paths forbid, so a vertex costs about ``Σ_{w ∈ N(v)} (#colours around w)``.

Colours are ``0, 1, …``; a colouring is a list with one colour per vertex.

Example:
    >>> from fad._coloring import column_coloring, star_coloring
    >>> tridiagonal = [[0, 1], [0, 1, 2], [1, 2, 3], [2, 3]]  # the columns of each row
    >>> column_coloring(tridiagonal, 4)
    [2, 0, 1, 2]
    >>> star_coloring(tridiagonal)
    [1, 0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ORDERS",
    "column_coloring",
    "is_valid_column_coloring",
    "is_valid_star_coloring",
    "n_colors",
    "row_coloring",
    "star_coloring",
    "star_recovery_sources",
    "transpose",
]

ORDERS = ("largest_first", "natural")
"""The vertex orders the greedy colourings accept."""

Rows = Sequence[Sequence[int]]
"""A pattern as the column indices of each row's entries."""


def n_colors(colors: Sequence[int]) -> int:
    """The number of colours a colouring uses (0 for no vertices)."""
    return max(colors) + 1 if colors else 0


def transpose(rows: Rows, n_cols: int) -> list[list[int]]:
    """The rows of the transposed pattern: for each column, the rows it has entries in."""
    cols: list[list[int]] = [[] for _ in range(n_cols)]
    for i, row in enumerate(rows):
        for j in row:
            cols[j].append(i)
    return cols


def _order(degrees: Sequence[int], order: str) -> list[int]:
    if order == "natural":
        return list(range(len(degrees)))
    if order == "largest_first":
        return sorted(range(len(degrees)), key=lambda v: -degrees[v])
    msg = f"unknown colouring order {order!r}; use one of {', '.join(map(repr, ORDERS))}."
    raise ValueError(msg)


def column_coloring(rows: Rows, n_cols: int, *, order: str = "largest_first") -> list[int]:
    """Colour the columns so that no two columns of one colour share a row.

    Args:
        rows: the pattern, as the column indices of each row's entries.
        n_cols: the number of columns.
        order: the greedy order, ``"largest_first"`` or ``"natural"``.

    Returns:
        One colour per column, colours numbered from 0.

    Example:
        >>> from fad._coloring import column_coloring
        >>> column_coloring([[0], [1], [2]], 3)  # diagonal: one colour
        [0, 0, 0]
        >>> column_coloring([[0, 1, 2]], 3)  # one dense row: every column its own
        [0, 1, 2]
    """
    cols = transpose(rows, n_cols)
    degrees = [sum(len(rows[i]) for i in col) for col in cols]
    colors = [-1] * n_cols
    mark = [-1] * (n_cols + 1)  # mark[c] == j: colour c is forbidden for column j
    for j in _order(degrees, order):
        for i in cols[j]:
            for k in rows[i]:
                ck = colors[k]
                if ck >= 0:
                    mark[ck] = j
        c = 0
        while mark[c] == j:
            c += 1
        colors[j] = c
    return colors


def row_coloring(rows: Rows, n_cols: int, *, order: str = "largest_first") -> list[int]:
    """Colour the rows so that no two rows of one colour share a column (one VJP each).

    Example:
        >>> from fad._coloring import row_coloring
        >>> row_coloring([[0, 1, 2], [0], [1]], 3)  # rows 1 and 2 share no column
        [0, 1, 1]
    """
    return column_coloring(transpose(rows, n_cols), len(rows), order=order)


def _adjacency(rows: Rows) -> list[list[int]]:
    """The neighbours of each vertex of a symmetric pattern, the diagonal left out."""
    n = len(rows)
    sets: list[set[int]] = [set() for _ in range(n)]
    for i, row in enumerate(rows):
        for j in row:
            if j != i:
                sets[i].add(j)
                sets[j].add(i)  # symmetric even if only one triangle was given
    return [sorted(s) for s in sets]


def star_coloring(rows: Rows, *, order: str = "largest_first") -> list[int]:
    """A star colouring of the symmetric pattern ``rows`` (``n × n``), greedily.

    Adjacent vertices get different colours and no path on four vertices is
    coloured with only two colours, so every entry of the symmetric matrix can be
    recovered directly from one Hessian-vector product per colour
    (:func:`star_recovery_sources`). The diagonal plays no part; a pattern given as
    one triangle is treated as symmetric.

    Args:
        rows: the pattern, as the column indices of each row's entries.
        order: the greedy order, ``"largest_first"`` or ``"natural"``.

    Returns:
        One colour per vertex, numbered from 0.

    Example:
        >>> from fad._coloring import star_coloring
        >>> arrow = [[0, 1, 2, 3], [0, 1], [0, 2], [0, 3]]
        >>> star_coloring(arrow)  # the hub, and all the others
        [0, 1, 1, 1]
    """
    adj = _adjacency(rows)
    n = len(adj)
    colors = [-1] * n
    # by_color[x][c]: the coloured neighbours of x that have colour c
    by_color: list[dict[int, list[int]]] = [{} for _ in range(n)]
    # blocked[w]: colours colour(x) of the x ∈ N(w) that have a second neighbour (≠ w) of
    # colour(w); a vertex v next to w must not take them (v-w-x-y would be two-coloured)
    blocked: list[set[int]] = [set() for _ in range(n)]
    forbidden = [-1] * (n + 1)
    for v in _order([len(a) for a in adj], order):
        for w in adj[v]:
            cw = colors[w]
            if cw < 0:
                continue
            forbidden[cw] = v  # distance 1
            for c in blocked[w]:  # v at the end of v-w-x-y
                forbidden[c] = v
        for group in by_color[v].values():  # v inside w-v-x-y, colour(w) = colour(x)
            if len(group) >= 2:
                for x in group:
                    for c, ys in by_color[x].items():
                        if ys:
                            forbidden[c] = v
        c = 0
        while forbidden[c] == v:
            c += 1
        colors[v] = c
        # v is coloured: the paths through v now constrain the vertices still to come
        for x in adj[v]:
            group = by_color[x].setdefault(c, [])
            group.append(v)
            cx = colors[x]
            if cx >= 0 and len(group) >= 2:
                for w in group if len(group) == 2 else (v,):
                    blocked[w].add(cx)
        for group in by_color[v].values():
            if len(group) >= 2:
                for w in group:
                    blocked[w].add(c)
    return colors


def star_recovery_sources(rows: Rows, colors: Sequence[int]) -> list[tuple[int, int]]:
    """Where each entry of the symmetric pattern is read from in ``B = H S``.

    For entry ``k`` (row-major order of ``rows``, diagonal included) at ``(i, j)``,
    the result's ``k``-th pair ``(r, c)`` says ``H[i, j] = B[r][c]``: row ``r`` of the
    product with the seed of colour ``c``.

    Raises:
        ValueError: if ``colors`` is not a star colouring of the pattern (no entry
            could be read directly).

    Example:
        >>> from fad._coloring import star_recovery_sources
        >>> star_recovery_sources([[0, 1], [0, 1]], [0, 1])
        [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    adj = _adjacency(rows)
    counts: list[dict[int, int]] = []
    for nbrs in adj:
        count: dict[int, int] = {}
        for w in nbrs:
            count[colors[w]] = count.get(colors[w], 0) + 1
        counts.append(count)
    sources = []
    for i, row in enumerate(rows):
        for j in row:
            if i == j:
                if counts[i].get(colors[i], 0):
                    msg = f"vertex {i} has a neighbour of its own colour {colors[i]}."
                    raise ValueError(msg)
                sources.append((i, colors[i]))
            elif counts[i][colors[j]] == 1:  # j is the only neighbour of i in its colour
                sources.append((i, colors[j]))
            elif counts[j][colors[i]] == 1:
                sources.append((j, colors[i]))
            else:
                msg = (
                    f"the colouring is not a star colouring: entry ({i}, {j}) cannot be "
                    "recovered directly."
                )
                raise ValueError(msg)
    return sources


# --- independent checks (used by the tests; slow, by enumeration) ----------------------


def is_valid_column_coloring(rows: Rows, colors: Sequence[int]) -> bool:
    """Whether no row has two entries in columns of the same colour."""
    for row in rows:
        seen = [colors[j] for j in set(row)]
        if len(seen) != len(set(seen)):
            return False
    return True


def is_valid_star_coloring(rows: Rows, colors: Sequence[int]) -> bool:
    """Whether ``colors`` is a distance-1 colouring in which every path on four
    vertices uses at least three colours (checked by enumerating the paths)."""
    adj = _adjacency(rows)
    for v, nbrs in enumerate(adj):
        if any(colors[w] == colors[v] for w in nbrs):
            return False
    for a, na in enumerate(adj):
        for b in na:
            for c in adj[b]:
                if c == a:
                    continue
                for d in adj[c]:
                    if d in (a, b):
                        continue
                    if colors[a] == colors[c] and colors[b] == colors[d]:
                        return False
    return True
