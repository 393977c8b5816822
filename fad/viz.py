"""Pictures of the computation graph that reverse mode records.

:func:`to_dot` runs a function once on the tape of ``mode="tape"`` (each value keeps
its arguments and the partial derivatives toward them), with a tracer that also
writes down each operation's name, runs the tape's backward sweep from the output,
and writes the
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
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from fad._core import Primitive, check_live, new_level, primal_value, register_tracer
from fad.tracers.tape import Tape, TapeCodual
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


class _Names:
    """What a graph shows beside the tape: per operation, its name, arguments and value."""

    __slots__ = ("names", "nodes", "of_entry")

    def __init__(self, names: Sequence[str], values: Sequence[Any]) -> None:
        self.names = list(names)  # per node: the value's name (inputs' from the signature)
        # per node: (op, argument text, value, last tape entry)
        self.nodes: list[tuple[str, str, Any, int]] = [
            ("input", "", v, i) for i, v in enumerate(values)
        ]
        self.of_entry: dict[int, int] = {i: i for i in range(len(values))}  # entry -> node


_NAMES: weakref.WeakKeyDictionary[Tape, _Names] = weakref.WeakKeyDictionary()


@register_tracer
@attrs.frozen(eq=False, repr=False)
class _VizTracer(TapeCodual):
    """A tape codual that also writes down each operation's name (for :mod:`fad.viz`)."""

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        tape: Tape | None = None
        for a in args:
            if type(a) is cls and a.level == level:
                tape = a.tape
        assert tape is not None
        out = super().apply(prim, args, level)
        if type(out) is not cls:  # a zero derivative: nothing recorded
            return out
        info = _NAMES[tape]
        texts = [
            info.names[info.of_entry[a.index]]
            if type(a) is cls and a.tape is tape
            else _fmt(primal_value(a))
            for a in args
        ]
        node = len(info.nodes)
        info.of_entry[out.index] = node
        info.names.append(f"v{node}")
        info.nodes.append((prim.name, ", ".join(texts), out.primal, out.index))
        return out


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
    level = new_level()
    tape = Tape(level, _VizTracer)
    _NAMES[tape] = info = _Names(names, leaves)
    out = fun(*tree_unflatten(treedef, tape.inputs(leaves)))
    out_leaves = tree_flatten(out)[0]
    check_live(out_leaves, "viz.graph", level)
    out_entries = [i for i in (tape.index_of(o) for o in out_leaves) if i is not None]
    adj = tape.backward([(i, 1.0) for i in out_entries])
    del _NAMES[tape]
    nodes = []
    first = 0  # the first tape entry of the node: an op of k > 2 arguments is a chain
    for i, (op, arg_text, value, last) in enumerate(info.nodes):
        edges = [e for entry in range(first, last + 1) for e in tape.edges(entry)]
        parents = [(info.of_entry[p], d) for p, d in edges if p in info.of_entry and p < first]
        first = last + 1
        label = info.names[i] if op == "input" else f"v{i} = {op}({arg_text})"
        nodes.append(
            Node(
                index=i,
                op=op,
                label=label,
                value=primal_value(value),
                parents=tuple((p, primal_value(d)) for p, d in parents),
                cotangent=primal_value(adj[last]),
            )
        )
    outputs = tuple(info.of_entry[i] for i in out_entries)
    return Graph(nodes=tuple(nodes), outputs=outputs)


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
