"""The types of fad.math, checked by ``mypy --strict`` (tests/test_typing.py); never run.

Each function keeps the type of its argument: a float gives a float, a ``Dual`` a
``Dual``, a ``Codual`` a ``Codual``; ``floor``/``ceil``/``trunc`` give an ``int``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sys

    import fad
    import fad.math as fm
    from fad.tracers.tape import TapeCodual

    if sys.version_info >= (3, 11):
        from typing import assert_type
    else:
        from typing_extensions import assert_type

    d = fad.Dual(0.5, 1.0)
    c = fad.Codual(0.5, lambda k: k)
    t: TapeCodual = ...  # type: ignore[assignment]
    j = fad.Jet(0.5, (1.0,))

    # one argument
    assert_type(fm.sin(0.5), float)
    assert_type(fm.sin(1), float)
    assert_type(fm.sin(d), fad.Dual)
    assert_type(fm.sin(c), fad.Codual)
    assert_type(fm.exp(t), TapeCodual)
    assert_type(fm.sqrt(j), fad.Jet)
    assert_type(fm.digamma(2.0), float)
    assert_type(fm.cbrt(d), fad.Dual)
    assert_type(fm.exp(fm.sin(d)), fad.Dual)

    # two arguments, mixed with numbers
    assert_type(fm.atan2(1.0, 2.0), float)
    assert_type(fm.atan2(d, 2.0), fad.Dual)
    assert_type(fm.pow(2.0, d), fad.Dual)
    assert_type(fm.copysign(c, c), fad.Codual)
    assert_type(fm.fmod(7.0, 3), float)

    # piecewise constant: a plain int
    assert_type(fm.floor(2.5), int)
    assert_type(fm.ceil(d), int)
    assert_type(fm.trunc(c), int)

    # written out
    assert_type(fm.log(2.0), float)
    assert_type(fm.log(d, 2.0), fad.Dual)
    assert_type(fm.ldexp(d, 3), fad.Dual)
    assert_type(fm.polygamma(1, 2.0), float)
    assert_type(fm.hypot(3.0, 4.0), float)
    assert_type(fm.isclose(d, 1.0), bool)

    # the argument stays checked
    fm.sin("a")  # type: ignore[call-overload]
    fm.atan2(1.0)  # type: ignore[call-overload]
