"""fad.jit keeps the signature of the function it wraps (checked by mypy; never run)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sys

    import fad
    from fad._ir import IR

    if sys.version_info >= (3, 11):
        from typing import assert_type
    else:
        from typing_extensions import assert_type

    def scaled(x: float, k: int) -> float:
        return x * k

    fast = fad.jit(scaled, static_argnums=1)
    assert_type(fast(2.0, 3), float)
    fast(2.0, k=3)
    assert_type(fad.make_ir(scaled)(2.0, 3), IR)
    assert_type(fast.specializations[0].source, str)
