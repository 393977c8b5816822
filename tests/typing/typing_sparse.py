"""A user program of the sparse transforms, checked by ``mypy --strict``; never run.

See typing_transforms.py: the program sits under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sys
    from typing import Any

    import fad
    import fad.math as fm
    from fad.sparse import SparseMatrix

    if sys.version_info >= (3, 11):
        from typing import assert_type
    else:
        from typing_extensions import assert_type

    def residual(u: list[float], scale: float) -> list[float]:
        return [scale * fm.sin(u[i]) - u[i + 1] for i in range(len(u) - 1)]

    def energy(u: list[float]) -> float:
        return sum(ui * ui for ui in u)

    u = [1.0, 2.0, 3.0]
    pattern = fad.jacobian_sparsity(residual)(u, 2.0)
    assert_type(pattern, SparseMatrix)
    assert_type(pattern.rows, tuple[int, ...])
    assert_type(pattern.shape, tuple[int, int])
    assert_type(fad.hessian_sparsity(energy)(u), SparseMatrix)
    jac = fad.sparse_jacobian(residual, mode="rev", sparsity=pattern)(u, 2.0)
    assert_type(jac, SparseMatrix)
    assert_type(jac.n_colors, int | None)
    assert_type(jac.data, tuple[Any, ...] | None)
    hess = fad.sparse_hessian(energy)(u)
    assert_type(hess.nnz, int)
    dense: Any = hess.todense()
    fad.sparse_jacobian(residual)(u, "x")  # type: ignore[arg-type]
