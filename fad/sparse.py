"""fad.sparse: a small sparse matrix type, for sparsity patterns and sparse derivatives.

A :class:`SparseMatrix` is a list of entries ``(rows[k], cols[k])`` of a matrix of
``shape``, each holding ``data[k]``, or, when ``data`` is ``None``, a *pattern*: the
places where the matrix may be nonzero. It is what :func:`fad.jacobian_sparsity` and
:func:`fad.hessian_sparsity` return (patterns) and what :func:`fad.sparse_jacobian`
and :func:`fad.sparse_hessian` return (values, with the number of colours
``n_colors`` the computation needed). Entries are kept in row-major order, each
position at most once, so two matrices with the same entries are equal.

The type is pure Python. :meth:`SparseMatrix.todense` gives nested lists, or a numpy
array when asked; :meth:`SparseMatrix.to_scipy` gives a ``scipy.sparse`` array when
SciPy is installed (fad itself never needs either).

Example:
    >>> from fad.sparse import SparseMatrix
    >>> a = SparseMatrix.from_dense([[1.0, 0.0], [2.0, 3.0]])
    >>> a
    SparseMatrix(shape=(2, 2), nnz=3)
    >>> a.rows, a.cols, a.data
    ((0, 1, 1), (0, 0, 1), (1.0, 2.0, 3.0))
    >>> a.todense()
    [[1.0, 0.0], [2.0, 3.0]]
    >>> print(a.pattern)
    2×2 pattern, nnz=3
    ● ·
    ● ●
"""

from __future__ import annotations

import bisect
import importlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["SparseMatrix", "as_pattern"]

_SHOW = 40  # the largest dimension str() draws


def _check_shape(shape: Any, where: str) -> tuple[int, int]:
    if (
        not isinstance(shape, tuple)
        or len(shape) != 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        msg = f"{where}: shape must be a pair of non-negative ints (m, n), not {shape!r}."
        raise TypeError(msg)
    return shape[0], shape[1]


class SparseMatrix:
    """A sparse ``m × n`` matrix (or pattern) as sorted lists of entries.

    Args:
        rows: the row of each entry.
        cols: the column of each entry.
        shape: ``(m, n)``.
        data: the value of each entry, or ``None`` for a pattern (the entries are
            then the places that may be nonzero).
        n_colors: for a matrix computed by colouring, the number of colours (one
            compressed sweep each); ``None`` otherwise. Not part of equality.

    Entries are sorted row-major and duplicates are dropped (for a matrix with values,
    a repeated position is an error). Instances are immutable.

    Raises:
        ValueError: if an index is out of range, the lists differ in length, or a
            position is given twice with values.

    Example:
        >>> from fad.sparse import SparseMatrix
        >>> p = SparseMatrix([1, 0, 1], [1, 0, 0], (2, 3))
        >>> p.rows, p.cols, p.nnz, p.data is None
        ((0, 1, 1), (0, 0, 1), 3, True)
        >>> p == SparseMatrix([0, 1, 1], [0, 0, 1], (2, 3))
        True
        >>> p.T.shape
        (3, 2)
    """

    __slots__ = ("_cols", "_data", "_rows", "_shape", "branches", "n_colors")

    _rows: tuple[int, ...]
    _cols: tuple[int, ...]
    _data: tuple[float, ...] | None
    _shape: tuple[int, int]
    n_colors: int | None
    branches: tuple[str, ...]
    """For a detected pattern: the source lines of the branches on traced values it was
    detected under (the pattern holds where they go the same way); else ``()``."""

    def __init__(
        self,
        rows: Iterable[int],
        cols: Iterable[int],
        shape: tuple[int, int],
        data: Iterable[Any] | None = None,
        *,
        n_colors: int | None = None,
    ) -> None:
        m, n = _check_shape(shape, "SparseMatrix")
        rs, cs = list(rows), list(cols)
        if len(rs) != len(cs):
            msg = f"SparseMatrix: {len(rs)} rows but {len(cs)} cols; give one of each per entry."
            raise ValueError(msg)
        for r, c in zip(rs, cs, strict=True):
            if not (0 <= r < m and 0 <= c < n):
                msg = f"SparseMatrix: entry ({r}, {c}) lies outside the shape {shape}."
                raise ValueError(msg)
        if data is None:
            keys = sorted(set(zip(rs, cs, strict=True)))
            vals: tuple[Any, ...] | None = None
        else:
            ds = list(data)
            if len(ds) != len(rs):
                msg = f"SparseMatrix: {len(rs)} entries but {len(ds)} values in data."
                raise ValueError(msg)
            entries = dict(zip(zip(rs, cs, strict=True), ds, strict=True))
            if len(entries) != len(rs):
                msg = "SparseMatrix: a position is given twice; give each entry once."
                raise ValueError(msg)
            keys = sorted(entries)
            vals = tuple(entries[k] for k in keys)
        self._rows = tuple(k[0] for k in keys)
        self._cols = tuple(k[1] for k in keys)
        self._data = vals
        self._shape = (m, n)
        self.n_colors = n_colors
        self.branches = ()

    @classmethod
    def _sorted(
        cls,
        rows: tuple[int, ...],
        cols: tuple[int, ...],
        shape: tuple[int, int],
        data: tuple[Any, ...] | None,
        n_colors: int | None = None,
    ) -> SparseMatrix:
        """Build from entries already sorted, unique and in range (no checks)."""
        self = cls.__new__(cls)
        self._rows, self._cols, self._data, self._shape = rows, cols, data, shape
        self.n_colors = n_colors
        self.branches = ()
        return self

    @classmethod
    def from_rows(
        cls, row_cols: Sequence[Iterable[int]], n_cols: int, *, n_colors: int | None = None
    ) -> SparseMatrix:
        """The pattern whose row ``i`` has the columns ``row_cols[i]``.

        Example:
            >>> from fad.sparse import SparseMatrix
            >>> SparseMatrix.from_rows([[0, 1], [], [1]], 2).todense()
            [[1, 1], [0, 0], [0, 1]]
        """
        rows: list[int] = []
        cols: list[int] = []
        for i, cs in enumerate(row_cols):
            for j in sorted(set(cs)):
                if not 0 <= j < n_cols:
                    msg = f"SparseMatrix.from_rows: column {j} of row {i} is not in [0, {n_cols})."
                    raise ValueError(msg)
                rows.append(i)
                cols.append(j)
        return cls._sorted(tuple(rows), tuple(cols), (len(row_cols), n_cols), None, n_colors)

    @classmethod
    def from_dense(cls, dense: Any) -> SparseMatrix:
        """The matrix of the nonzero entries of ``dense`` (nested lists or a 2-d array).

        Entries that are ``True`` or nonzero numbers are kept with their values.

        Example:
            >>> from fad.sparse import SparseMatrix
            >>> SparseMatrix.from_dense([[0, 2], [0, 0]]).data
            (2,)
        """
        rows_in = [list(r) for r in dense]
        n = len(rows_in[0]) if rows_in else 0
        rows: list[int] = []
        cols: list[int] = []
        data: list[Any] = []
        for i, row in enumerate(rows_in):
            if len(row) != n:
                msg = (
                    f"SparseMatrix.from_dense: row {i} has {len(row)} entries but row 0 "
                    f"has {n}; give a rectangular matrix."
                )
                raise ValueError(msg)
            for j, v in enumerate(row):
                if v:
                    rows.append(i)
                    cols.append(j)
                    data.append(v.item() if hasattr(v, "item") else v)
        return cls._sorted(tuple(rows), tuple(cols), (len(rows_in), n), tuple(data))

    # --- the fields ----------------------------------------------------------------

    @property
    def rows(self) -> tuple[int, ...]:
        """The row of each entry (row-major order)."""
        return self._rows

    @property
    def cols(self) -> tuple[int, ...]:
        """The column of each entry."""
        return self._cols

    @property
    def data(self) -> tuple[Any, ...] | None:
        """The value of each entry, or ``None`` for a pattern."""
        return self._data

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        return self._shape

    @property
    def nnz(self) -> int:
        """The number of entries stored (structural nonzeros)."""
        return len(self._rows)

    @property
    def pattern(self) -> SparseMatrix:
        """The same entries without values (``data=None``)."""
        return SparseMatrix._sorted(self._rows, self._cols, self._shape, None, self.n_colors)

    @property
    def T(self) -> SparseMatrix:
        """The transpose."""
        order = sorted(range(self.nnz), key=lambda k: (self._cols[k], self._rows[k]))
        data = None if self._data is None else tuple(self._data[k] for k in order)
        return SparseMatrix._sorted(
            tuple(self._cols[k] for k in order),
            tuple(self._rows[k] for k in order),
            (self._shape[1], self._shape[0]),
            data,
            self.n_colors,
        )

    def row_cols(self) -> list[list[int]]:
        """The columns of each row's entries: ``row_cols()[i]`` for row ``i``.

        Example:
            >>> from fad.sparse import SparseMatrix
            >>> SparseMatrix([0, 0, 2], [0, 2, 1], (3, 3)).row_cols()
            [[0, 2], [], [1]]
        """
        out: list[list[int]] = [[] for _ in range(self._shape[0])]
        for r, c in zip(self._rows, self._cols, strict=True):
            out[r].append(c)
        return out

    def entries(self) -> Iterator[tuple[int, int, Any]]:
        """``(row, col, value)`` of each entry; the value is 1 for a pattern.

        Example:
            >>> from fad.sparse import SparseMatrix
            >>> list(SparseMatrix([1, 0], [0, 1], (2, 2), [5.0, 6.0]).entries())
            [(0, 1, 6.0), (1, 0, 5.0)]
        """
        data = self._data if self._data is not None else (1,) * self.nnz
        return zip(self._rows, self._cols, data, strict=True)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        """The entry at ``(i, j)``: its value (1/0 for a pattern), 0.0 where none is stored.

        Example:
            >>> from fad.sparse import SparseMatrix
            >>> a = SparseMatrix([0], [1], (2, 2), [5.0])
            >>> a[0, 1], a[1, 1], a.pattern[0, 1]
            (5.0, 0.0, 1)
        """
        i, j = key
        m, n = self._shape
        if not (-m <= i < m and -n <= j < n):
            msg = f"SparseMatrix index ({i}, {j}) is out of range for shape {self._shape}."
            raise IndexError(msg)
        i, j = i % m, j % n
        lo = bisect.bisect_left(self._rows, i)
        hi = bisect.bisect_right(self._rows, i, lo)
        k = bisect.bisect_left(self._cols, j, lo, hi)
        if k < hi and self._cols[k] == j:
            return 1 if self._data is None else self._data[k]
        return 0 if self._data is None else 0.0

    # --- conversions ---------------------------------------------------------------

    def todense(self, *, numpy: bool = False) -> Any:
        """The dense matrix: nested lists (floats; 0/1 ints for a pattern), or numpy.

        Args:
            numpy: if true, return a ``numpy.ndarray`` (float64, or bool for a pattern).

        Example:
            >>> from fad.sparse import SparseMatrix
            >>> SparseMatrix([0], [1], (2, 2), [5.0]).todense()
            [[0.0, 5.0], [0.0, 0.0]]
        """
        m, n = self._shape
        zero: Any = 0 if self._data is None else 0.0
        dense: list[list[Any]] = [[zero] * n for _ in range(m)]
        for r, c, v in self.entries():
            dense[r][c] = v
        if not numpy:
            return dense
        import numpy as np  # optional: imported only when asked for

        return np.array(dense, dtype=bool if self._data is None else float).reshape(m, n)

    def to_scipy(self) -> Any:
        """This matrix as a ``scipy.sparse.csr_array`` (bool entries for a pattern).

        Raises:
            ImportError: if SciPy is not installed (``pip install scipy``).
        """
        try:
            sp = importlib.import_module("scipy.sparse")  # optional, and untyped
        except ImportError as exc:
            msg = "SparseMatrix.to_scipy needs SciPy: pip install scipy."
            raise ImportError(msg) from exc
        if self._data is None:
            values: list[Any] = [True] * self.nnz
            dtype: Any = bool
        else:
            values, dtype = list(self._data), float
        return sp.csr_array((values, (list(self._rows), list(self._cols))), self._shape, dtype)

    # --- equality and printing -----------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparseMatrix):
            return NotImplemented
        return (
            self._shape == other._shape
            and self._rows == other._rows
            and self._cols == other._cols
            and self._data == other._data
        )

    def __hash__(self) -> int:
        return hash((self._shape, self._rows, self._cols, self._data))

    def __repr__(self) -> str:
        colors = "" if self.n_colors is None else f", n_colors={self.n_colors}"
        kind = "" if self._data is not None else ", pattern"
        return f"SparseMatrix(shape={self._shape}, nnz={self.nnz}{colors}{kind})"

    def __str__(self) -> str:
        """A picture of the pattern (● an entry, · none) for matrices up to 40 × 40."""
        m, n = self._shape
        kind = "pattern" if self._data is None else "matrix"
        colors = "" if self.n_colors is None else f", n_colors={self.n_colors}"
        head = f"{m}×{n} {kind}, nnz={self.nnz}{colors}"
        if m > _SHOW or n > _SHOW or m == 0 or n == 0:
            return head
        picture = [["·"] * n for _ in range(m)]
        for r, c in zip(self._rows, self._cols, strict=True):
            picture[r][c] = "●"
        return "\n".join([head, *(" ".join(row) for row in picture)])


def as_pattern(value: Any, shape: tuple[int, int], where: str) -> SparseMatrix:
    """``value`` as a pattern of ``shape``: a SparseMatrix, a SciPy sparse matrix or
    a dense 0/1 (bool) matrix as nested lists or an array.

    Raises:
        TypeError: if ``value`` is none of those.
        ValueError: if its shape is not ``shape``.

    Example:
        >>> from fad.sparse import as_pattern
        >>> as_pattern([[1, 0], [1, 1]], (2, 2), "here").nnz
        3
    """
    if isinstance(value, SparseMatrix):
        pattern = value.pattern
    elif hasattr(value, "tocoo") and hasattr(value, "shape"):  # scipy.sparse
        coo = value.tocoo()
        keep = [k for k in range(len(coo.data)) if coo.data[k]]
        pattern = SparseMatrix(
            [int(coo.row[k]) for k in keep], [int(coo.col[k]) for k in keep], tuple(coo.shape)
        )
    elif isinstance(value, (list, tuple)) or hasattr(value, "__array__"):
        try:
            pattern = SparseMatrix.from_dense(value).pattern
        except (TypeError, ValueError) as exc:
            msg = (
                f"{where}: sparsity={type(value).__name__} is not a matrix; give a "
                f"fad.sparse.SparseMatrix, a scipy.sparse matrix or a dense 0/1 matrix ({exc})"
            )
            raise TypeError(msg) from exc
        if pattern.shape[0] == 0 == shape[0]:  # no rows: the width is not written down
            pattern = SparseMatrix((), (), shape)
    else:
        msg = (
            f"{where}: sparsity must be a fad.sparse.SparseMatrix (as fad.jacobian_sparsity "
            f"returns), a scipy.sparse matrix or a dense 0/1 matrix, not "
            f"{type(value).__name__}."
        )
        raise TypeError(msg)
    if pattern.shape != shape:
        msg = (
            f"{where}: the given sparsity pattern has shape {pattern.shape}, but this "
            f"function at these arguments needs shape {shape} (outputs × inputs, each "
            "counted in pytree leaves)."
        )
        raise ValueError(msg)
    return pattern
