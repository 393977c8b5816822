"""Pictures of the computation graph that reverse mode records.

:func:`to_dot` runs a function once on a small recording tracer of its own (the
same codual rule as ``mode="tape"``: each value keeps its arguments and the partial
derivatives toward them), runs the backward sweep from the output, and writes the
graph as Graphviz DOT text: one node per input and per recorded operation, labelled
with the operation, its value and the cotangent it received; one edge per use of a
value, labelled with the partial derivative along it. Nothing here touches the hot
path of the built-in tracers, and nothing needs Graphviz: :func:`render` calls the
``dot`` program when it is installed.

Example:
    >>> import fad
    >>> import fad.viz
    >>> g = fad.viz.graph(lambda x, y: x * y + x, 2.0, 3.0)
    >>> [(n.label, n.value, n.cotangent) for n in g.nodes]
    [('x', 2.0, 4.0), ('y', 3.0, 2.0), ('v2 = mul(x, y)', 6.0, 1.0), ('v3 = add(v2, x)', 8.0, 1.0)]
    >>> print(fad.viz.to_dot(lambda x: x * x, 3.0))  # doctest: +NORMALIZE_WHITESPACE
    digraph fad {
      rankdir=LR;
      node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica"];
      edge [fontname="Helvetica", fontsize=10];
      v0 [label="x\\nvalue = 3\\ncotangent = 6", shape=ellipse, fillcolor="#dbeafe"];
      v1 [label="v1 = mul(x, x)\\nvalue = 9\\ncotangent = 1", peripheries=2, fillcolor="#fde68a"];
      v0 -> v1 [label="∂ = 3"];
      v0 -> v1 [label="∂ = 3"];
    }
"""

from __future__ import annotations

import inspect
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from fad._core import Primitive, Pullback, new_level, primal_value, register_tracer
from fad._ops import TracerOps
from fad.tree import tree_flatten, tree_flatten_with_path, tree_unflatten

__all__ = ["Graph", "Node", "graph", "render", "to_dot"]


@attrs.frozen
class Node:
    """One value of the recorded program: an input or the result of one operation.

    Attributes:
        index: position in creation order (a topological order of the graph).
        op: the primitive's name (``"mul"``), or ``"input"``.
        label: the input's name (``"x"``, ``"w[1]"``) or the value's name and the
            operation with its arguments (``"v3 = mul(x, v2)"``; constants appear
            by value).
        value: the value computed (plain number).
        parents: ``(parent index, partial derivative)`` per traced argument.
        cotangent: what the backward sweep delivered to this value (0.0 if nothing).
    """

    index: int
    op: str
    label: str
    value: Any
    parents: tuple[tuple[int, Any], ...]
    cotangent: Any


@attrs.frozen
class Graph:
    """The computation graph of one call: nodes in creation order and the outputs."""

    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]

    @property
    def inputs(self) -> tuple[Node, ...]:
        """The input nodes (one per leaf of the arguments)."""
        return tuple(n for n in self.nodes if n.op == "input")

    @property
    def ops(self) -> tuple[Node, ...]:
        """The nodes made by an operation."""
        return tuple(n for n in self.nodes if n.op != "input")


class _Recording:
    """The record of one call: per value (op, argument descriptions, edges)."""

    __slots__ = ("entries", "level", "names")

    def __init__(self, level: int, names: Sequence[str]) -> None:
        self.level = level
        self.names = list(names)
        # (op name, argument text, value, ((parent, partial), ...)) per value
        self.entries: list[tuple[str, str, Any, tuple[tuple[int, Any], ...]]] = []

    def backward(self, seeds: Sequence[tuple[int, Any]]) -> list[Any]:
        """The cotangent of every entry, by one reverse sweep (as the tape does)."""
        adj: list[Any] = [None] * len(self.entries)
        for index, ct in seeds:
            adj[index] = ct if adj[index] is None else adj[index] + ct
        for i in range(len(self.entries) - 1, -1, -1):
            g = adj[i]
            if g is None:
                continue
            for p, d in self.entries[i][3]:
                adj[p] = d * g if adj[p] is None else adj[p] + d * g
        return adj


@register_tracer
@attrs.frozen(eq=False, repr=False)
class _VizTracer(TracerOps):
    """A recording codual used only by :mod:`fad.viz` (a tape that keeps op names)."""

    primal: Any
    index: int
    recording: _Recording

    @property
    def level(self) -> int:
        return self.recording.level

    def __repr__(self) -> str:
        return f"_VizTracer({self.primal!r}, index={self.index})"

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        rec: _Recording | None = None
        primals = []
        for a in args:
            if type(a) is cls and a.level == level:
                rec = a.recording
                primals.append(a.primal)
            else:
                primals.append(a)
        ans = prim(*primals)
        if prim.partials is None or rec is None:
            return ans
        edges = []
        texts = []
        for i, a in enumerate(args):
            if type(a) is cls and a.recording is rec:
                d = prim.linear[i] if prim.linear is not None else prim.partials[i](ans, *primals)
                edges.append((a.index, d))
                texts.append(rec.names[a.index])
            else:
                texts.append(_fmt(primal_value(a)))
        index = len(rec.entries)
        rec.entries.append((prim.name, ", ".join(texts), ans, tuple(edges)))
        rec.names.append(f"v{index}")
        return cls(ans, index, rec)

    @classmethod
    def seed(cls, primals: Sequence[Any], level: int) -> tuple[list[Any], Pullback]:
        names = [f"x{i}" for i in range(len(primals))]
        rec = _Recording(level, names)
        rec.entries.extend(("input", "", p, ()) for p in primals)
        inputs = [cls(p, i, rec) for i, p in enumerate(primals)]

        def pullback(outputs: Sequence[Any], cotangents: Sequence[Any]) -> list[Any]:
            seeds = [
                (o.index, ct)
                for o, ct in zip(outputs, cotangents, strict=True)
                if type(o) is cls and o.recording is rec
            ]
            adj = rec.backward(seeds)
            return [0.0 if g is None else g for g in adj[: len(primals)]]

        return inputs, pullback


def _input_names(fun: Callable[..., Any], args: tuple[Any, ...]) -> list[str]:
    """A name per leaf of ``args``: the parameter's name and the leaf's path in it."""
    try:
        params = [
            p.name
            for p in inspect.signature(fun).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):  # builtins without a signature
        params = []
    names: list[str] = []
    for i, arg in enumerate(args):
        base = params[i] if i < len(params) else f"arg{i}"
        pairs, _ = tree_flatten_with_path(arg)
        names.extend(base + str(path) for path, _ in pairs)
    return names


def graph(fun: Callable[..., Any], *args: Any) -> Graph:
    """Record ``fun(*args)`` and run its backward sweep; return the graph.

    Every leaf of ``args`` is an input. The sweep starts with cotangent 1.0 on every
    leaf of the output, so for a scalar output the cotangents of the inputs are the
    gradient (``fad.grad``); for several outputs, the gradient of their sum.

    Args:
        fun: a function of pytrees of numbers, written with fad's operations.
        *args: its arguments (pytrees of ``float``/``int``).

    Returns:
        The :class:`Graph`: inputs first, then one node per operation that reverse
        mode records (operations with a zero derivative, such as ``floor``, and
        operations on constants alone are not recorded).

    Example:
        >>> import fad.viz
        >>> g = fad.viz.graph(lambda x: 3.0 * x * x, 2.0)
        >>> [n.label for n in g.nodes], g.inputs[0].cotangent
        (['x', 'v1 = mul(3, x)', 'v2 = mul(v1, x)'], 12.0)
    """
    names = _input_names(fun, args)
    leaves, treedef = tree_flatten(args)
    leaves = [float(v) if type(v) is int else v for v in leaves]
    inputs, _ = _VizTracer.seed(leaves, new_level())
    rec = inputs[0].recording if inputs else _Recording(0, [])
    rec.names[: len(names)] = names
    out = fun(*tree_unflatten(treedef, inputs))
    outs = tuple(
        o.index for o in tree_flatten(out)[0] if type(o) is _VizTracer and o.recording is rec
    )
    adj = rec.backward([(i, 1.0) for i in outs])
    nodes = []
    for i, (op, arg_text, value, edges) in enumerate(rec.entries):
        label = rec.names[i] if op == "input" else f"v{i} = {op}({arg_text})"
        nodes.append(
            Node(
                index=i,
                op=op,
                label=label,
                value=primal_value(value),
                parents=tuple((p, primal_value(d)) for p, d in edges),
                cotangent=0.0 if adj[i] is None else primal_value(adj[i]),
            )
        )
    return Graph(nodes=tuple(nodes), outputs=outs)


def _fmt(value: Any) -> str:
    """A short text for a number: 6 significant digits."""
    if isinstance(value, (int, float)):
        return format(value, ".6g")
    return repr(value)


def _escape(text: str) -> str:
    """``text`` made safe inside a double-quoted DOT string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(fun: Callable[..., Any], *args: Any) -> str:
    """The computation graph of ``fun(*args)`` as Graphviz DOT text.

    One node per input (an ellipse, named after the parameter and the leaf's path)
    and per recorded operation (a box), labelled with the operation, its value and
    the cotangent the backward sweep delivered to it; outputs have a double border.
    One edge per use of a value, labelled with the partial derivative along it. The
    cotangents of the inputs are the gradient (see :func:`graph`).

    Args:
        fun: the function, as for ``fad.grad``.
        *args: its arguments (pytrees of numbers).

    Returns:
        DOT text; render it with :func:`render` or any Graphviz viewer.

    Example:
        >>> import fad.viz
        >>> dot = fad.viz.to_dot(lambda x, y: x * y, 2.0, 3.0)
        >>> dot.count("->"), "cotangent = 3" in dot
        (2, True)
    """
    g = graph(fun, *args)
    outputs = set(g.outputs)
    lines = [
        "digraph fad {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for n in g.nodes:
        parts = (n.label, f"value = {_fmt(n.value)}", f"cotangent = {_fmt(n.cotangent)}")
        attrs_ = ['label="' + "\\n".join(_escape(t) for t in parts) + '"']
        if n.op == "input":
            attrs_.append("shape=ellipse")
        if n.index in outputs:
            attrs_.append("peripheries=2")
        if n.op == "input":
            attrs_.append('fillcolor="#dbeafe"')
        elif n.index in outputs:
            attrs_.append('fillcolor="#fde68a"')
        lines.append(f"  v{n.index} [{', '.join(attrs_)}];")
    for n in g.nodes:
        for p, d in n.parents:
            lines.append(f'  v{p} -> v{n.index} [label="∂ = {_fmt(d)}"];')
    lines.append("}")
    return "\n".join(lines)


def render(dot: str, path: str | Path, *, format: str | None = None) -> bool:  # noqa: A002
    """Render DOT text to an image file with Graphviz's ``dot`` program.

    Args:
        dot: DOT text, e.g. from :func:`to_dot`.
        path: the file to write; its suffix picks the format (``.svg``, ``.png``,
            ``.pdf``) unless ``format`` is given.
        format: a Graphviz output format, overriding the suffix.

    Returns:
        ``True`` when the file was written, ``False`` when Graphviz is not installed
        (fad itself never needs it).

    Raises:
        subprocess.CalledProcessError: when ``dot`` rejects the text.

    Example:
        >>> import fad.viz
        >>> fad.viz.render("digraph { a -> b }", "graph.svg")  # doctest: +SKIP
        True
    """
    exe = shutil.which("dot")
    if exe is None:
        return False
    path = Path(path)
    fmt = format or (path.suffix.lstrip(".") or "svg")
    subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=dot.encode(), check=True)
    return True
