"""fad.special's types in a user program, checked by ``mypy --strict``; never run.

Floats in give ``float`` out, a tracer type in gives that tracer type out, and the
softmaxes keep the element type of their list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sys

    import fad
    import fad.special as fs
    from fad import Dual

    if sys.version_info >= (3, 11):
        from typing import assert_type
    else:
        from typing_extensions import assert_type

    d = Dual(0.5, 1.0)
    assert_type(fs.sigmoid(0.5), float)
    assert_type(fs.sigmoid(d), Dual)
    assert_type(fs.expit(d), Dual)
    assert_type(fs.softplus(0.5), float)
    assert_type(fs.ndtr(d), Dual)
    assert_type(fs.ndtri(0.5), float)
    assert_type(fs.log_ndtr(d), Dual)
    assert_type(fs.erfinv(0.5), float)
    assert_type(fs.logaddexp(0.5, 1.0), float)
    assert_type(fs.logaddexp(d, 1.0), Dual)
    assert_type(fs.xlogy(1.0, d), Dual)
    assert_type(fs.xlog1py(d, d), Dual)
    assert_type(fs.betaln(d, 2.0), Dual)
    assert_type(fs.gammainc(2.0, 1.0), float)
    assert_type(fs.gammainc(2.0, d), Dual)
    assert_type(fs.gammaincc(2.0, 1.0), float)
    assert_type(fs.logsumexp([0.5, 1.0]), float)
    assert_type(fs.logsumexp([0.5, 1.0], b=[1.0, 2.0]), float)
    assert_type(fs.softmax([0.5, 1.0]), list[float])
    assert_type(fs.softmax([d, d]), list[Dual])
    assert_type(fs.log_softmax([0.5, 1.0]), list[float])

    def loss(x: float) -> float:
        return fs.softplus(x) + fs.log_ndtr(x)

    assert_type(fad.grad(loss)(1.0), float)
