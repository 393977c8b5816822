"""A user's typed program: ``mypy --strict`` must find fad's inline types after the
README's install.

.ci/run copies this file out of the repository, installs fad into a fresh virtual
environment exactly as the README says (``pip install -e .``), and runs
``mypy --strict`` on it there, then runs it. tests/test_typing.py checks it from the
repository as well.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import fad
from fad.tree import KeyPath, Partial, keystr, tree_leaves, tree_map_with_path

if sys.version_info >= (3, 11):
    from typing import assert_type
elif TYPE_CHECKING:
    from typing_extensions import assert_type
else:  # run on Python 3.10 without typing_extensions installed

    def assert_type(value: Any, typ: Any) -> Any:
        return value


@fad.tree.register_dataclass
@dataclasses.dataclass
class Line:
    slope: float
    intercept: float
    name: str = dataclasses.field(default="line", metadata={"static": True})


def loss(line: Line, x: float, y: float) -> float:
    err = line.slope * x + line.intercept - y
    return err * err


def main() -> None:
    line = Line(1.0, 0.0)
    assert_type(line, Line)
    g = fad.grad(loss)(line, 2.0, 3.0)
    assert_type(g, Line)
    assert (g.slope, g.intercept, g.name) == (-4.0, -2.0, "line")

    f: Callable[[float], float] = lambda x: fad.math.sin(x) * x
    df = fad.grad(f)
    assert_type(df, Callable[[float], float])

    def mul(a: float, x: float) -> float:
        return a * x

    scale = Partial(mul, 3.0)
    assert_type(scale, Partial[float])
    assert_type(scale(2.0), float)
    assert fad.grad(lambda p: p(2.0))(scale).args == (2.0,)

    def zero_intercept(path: KeyPath, leaf: float) -> float:
        return 0.0 if keystr(path) == ".intercept" else leaf

    assert tree_leaves(tree_map_with_path(zero_intercept, g)) == [-4.0, 0.0]
    print("user program:", df(1.0), g)


if __name__ == "__main__":
    main()
