"""fad.viz: the DOT graph shows what reverse mode records, and its cotangents are the gradient."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
import fad.viz
from fad import _primitives as P
from fad._core import new_level
from fad.tracers.tape import TapeCodual

NODE = re.compile(r'^\s*v(\d+) \[label="([^"]*)"(.*)\];$', re.MULTILINE)
EDGE = re.compile(r'^\s*v(\d+) -> v(\d+) \[label="∂ = ([^"]*)"\];$', re.MULTILINE)


def parse(dot: str) -> tuple[dict[int, dict[str, str]], list[tuple[int, int, float]]]:
    """Nodes {id: {"label", "value", "cotangent", "attrs"}} and edges (src, dst, partial)."""
    assert dot.startswith("digraph fad {")
    assert dot.rstrip().endswith("}")
    nodes = {}
    for ident, label, rest in NODE.findall(dot):
        name, value, cot = label.split("\\n")
        assert value.startswith("value = ")
        assert cot.startswith("cotangent = ")
        nodes[int(ident)] = {
            "label": name,
            "value": value.removeprefix("value = "),
            "cotangent": cot.removeprefix("cotangent = "),
            "attrs": rest,
        }
    edges = [(int(a), int(b), float(d)) for a, b, d in EDGE.findall(dot)]
    # every line is a header, a node, an edge or the closing brace
    body = dot.splitlines()[4:-1]
    assert len(body) == len(nodes) + len(edges)
    return nodes, edges


def newton_sqrt(a: Any) -> Any:
    x = 1.0
    for _ in range(20):
        x = (x + a / x) / 2
    return x


def rosenbrock(xs: list[Any]) -> Any:
    total: Any = 0.0
    for i in range(len(xs) - 1):
        total = total + 100.0 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1.0 - xs[i]) ** 2
    return total


def reuse(y: Any) -> Any:
    for _ in range(5):
        y = P.sin(y) * y + 0.5
    return y


CASES: list[tuple[str, Callable[..., Any], tuple[Any, ...], int]] = [
    # name, function, arguments, number of recorded operations (counted by hand)
    ("product", lambda x, y: x * y + x, (2.0, 3.0), 2),
    ("newton", newton_sqrt, (2.0,), 60),  # truediv, add, truediv per step
    # per term: sub, pow, pow, mul, add, rsub, pow, add
    ("rosenbrock", rosenbrock, ([0.5, -1.0, 2.0, 1.5],), 3 * 8),
    ("reuse", reuse, (0.3,), 15),  # sin, mul, add per step
]


@pytest.mark.parametrize(("name", "fun", "args", "n_ops"), CASES, ids=[c[0] for c in CASES])
def test_nodes_are_inputs_and_ops(
    name: str, fun: Callable[..., Any], args: tuple[Any, ...], n_ops: int
) -> None:
    nodes, edges = parse(fad.viz.to_dot(fun, *args))
    n_inputs = len(fad.tree.tree_leaves(args))
    assert len(nodes) == n_inputs + n_ops
    assert sorted(nodes) == list(range(len(nodes)))
    assert sum("shape=ellipse" in n["attrs"] for n in nodes.values()) == n_inputs
    assert sum("peripheries=2" in n["attrs"] for n in nodes.values()) == 1
    for src, dst, _ in edges:
        assert src < dst  # creation order is a topological order


@pytest.mark.parametrize(("name", "fun", "args", "n_ops"), CASES, ids=[c[0] for c in CASES])
def test_input_cotangents_are_the_gradient(
    name: str, fun: Callable[..., Any], args: tuple[Any, ...], n_ops: int
) -> None:
    expected = fad.tree.tree_leaves(fad.grad(fun, argnums=tuple(range(len(args))))(*args))
    g = fad.viz.graph(fun, *args)
    assert [n.cotangent for n in g.inputs] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    nodes, _ = parse(fad.viz.to_dot(fun, *args))
    shown = [float(nodes[n.index]["cotangent"]) for n in g.inputs]
    assert shown == pytest.approx(expected, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize(("name", "fun", "args", "n_ops"), CASES, ids=[c[0] for c in CASES])
def test_graph_is_the_tape(
    name: str, fun: Callable[..., Any], args: tuple[Any, ...], n_ops: int
) -> None:
    """The edges and partials drawn are exactly the entries the tape strategy records."""
    leaves, treedef = fad.tree.tree_flatten(args)
    inputs, _ = TapeCodual.seed(leaves, new_level())
    fun(*fad.tree.tree_unflatten(treedef, inputs))
    entries = inputs[0].tape.entries
    g = fad.viz.graph(fun, *args)
    assert len(entries) == len(g.nodes)
    for node, entry in zip(g.nodes, entries, strict=True):
        flat = tuple(x for pair in node.parents for x in pair)
        assert flat == pytest.approx(entry, rel=1e-15)


def test_values_and_labels() -> None:
    g = fad.viz.graph(lambda w, b: w[0] * b["s"] - w[1], [2.0, 5.0], {"s": 4.0})
    assert [n.label for n in g.nodes] == [
        "w[0]",
        "w[1]",
        "b['s']",
        "v3 = mul(w[0], b['s'])",
        "v4 = sub(v3, w[1])",
    ]
    assert [n.value for n in g.nodes] == [2.0, 5.0, 4.0, 8.0, 3.0]
    assert [n.cotangent for n in g.nodes] == [4.0, -1.0, 2.0, 1.0, 1.0]
    dot = fad.viz.to_dot(lambda w, b: w[0] * b["s"] - w[1], [2.0, 5.0], {"s": 4.0})
    assert "b['s']" in dot  # single quotes need no escaping inside DOT strings


def test_unused_input_and_constant_ops() -> None:
    g = fad.viz.graph(lambda x, y: x * 2.0 + P.floor(y), 1.5, 7.0)
    # floor has a zero derivative: reverse mode records nothing for it
    assert [n.op for n in g.nodes] == ["input", "input", "mul", "add"]
    assert [n.cotangent for n in g.inputs] == [2.0, 0.0]


def test_several_outputs_sum() -> None:
    g = fad.viz.graph(lambda x: (x * x, 3.0 * x), 2.0)
    assert len(g.outputs) == 2
    assert g.inputs[0].cotangent == 7.0


def test_render_without_graphviz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert fad.viz.render("digraph { a -> b }", tmp_path / "g.svg") is False
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_render_with_graphviz(tmp_path: Path) -> None:
    path = tmp_path / "g.svg"
    assert fad.viz.render(fad.viz.to_dot(newton_sqrt, 2.0), path) is True
    assert path.read_text().lstrip().startswith("<?xml")


# Random programs with heavy reuse: each step applies a primitive to two earlier values
# (or one value and a constant), so values are used many times. Every value stays in
# [-2, 2] (binary results are halved; the unary functions are bounded), so nothing
# overflows.
_BINARY = [P.add, P.sub, P.mul]
_UNARY = [P.sin, P.cos, P.tanh]


@st.composite
def programs(draw: st.DrawFn) -> list[tuple[int, int, int, float]]:
    n = draw(st.integers(1, 12))
    return [
        (
            draw(st.integers(0, len(_BINARY) + len(_UNARY) - 1)),
            draw(st.integers(0, 1 + i)),
            draw(st.integers(0, 1 + i)),
            draw(st.floats(-2.0, 2.0)),
        )
        for i in range(n)
    ]


def run_program(program: list[tuple[int, int, int, float]], x: Any, y: Any) -> Any:
    values = [x, y]
    for op, i, j, c in program:
        if op < len(_BINARY):
            b = values[j] if j != i else c
            values.append(_BINARY[op](values[i], b) * 0.5)
        else:
            values.append(_UNARY[op - len(_BINARY)](values[i]))
    return values[-1]


@settings(max_examples=40)
@given(programs(), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_random_programs(program: list[tuple[int, int, int, float]], x: float, y: float) -> None:
    def fun(x: Any, y: Any) -> Any:
        return run_program(program, x, y)

    g = fad.viz.graph(fun, x, y)
    expected = fad.grad(fun, argnums=(0, 1))(x, y)
    assert [n.cotangent for n in g.inputs] == pytest.approx(list(expected), rel=1e-9, abs=1e-12)
    assert fad.viz.graph(fun, x, y) == g  # deterministic
    nodes, edges = parse(fad.viz.to_dot(fun, x, y))
    assert len(nodes) == len(g.nodes)
    assert len(edges) == sum(len(n.parents) for n in g.nodes)
