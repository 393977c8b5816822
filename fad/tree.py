"""Pytrees: nested containers whose leaves are the numbers fad differentiates.

Tuples, lists, dicts (keys in sorted order, as JAX), ``None`` (an empty subtree),
namedtuples and attrs classes are pytrees; :func:`register_pytree_node` adds more.
Everything else is a leaf.

Example:
    >>> from fad.tree import tree_flatten, tree_unflatten
    >>> leaves, treedef = tree_flatten({"b": [1.0, 2.0], "a": (3.0, None)})
    >>> leaves
    [3.0, 1.0, 2.0]
    >>> tree_unflatten(treedef, [x * 10 for x in leaves])
    {'a': (30.0, None), 'b': [10.0, 20.0]}
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, NamedTuple

import attrs

from fad._core import Tracer

__all__ = [
    "PyTreeDef",
    "register_pytree_node",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_map",
    "tree_structure",
    "tree_unflatten",
]

Flatten = Callable[[Any], tuple[Iterable[Any], Hashable]]
Unflatten = Callable[[Hashable, Iterable[Any]], Any]


class _NodeType(NamedTuple):
    flatten: Flatten
    unflatten: Unflatten
    # how to name child i in a path: "[0]", "['key']" or ".field"
    keys: Callable[[Any, Hashable], list[str]]


_registry: dict[type, _NodeType] = {}


def register_pytree_node(nodetype: type, flatten_func: Flatten, unflatten_func: Unflatten) -> None:
    """Make instances of ``nodetype`` pytree nodes.

    Args:
        nodetype: the class.
        flatten_func: ``node -> (children, aux_data)``; ``aux_data`` must be hashable
            and compare equal for nodes of the same structure.
        unflatten_func: ``(aux_data, children) -> node``.

    Example:
        >>> import fad
        >>> class Point:
        ...     def __init__(self, x, y):
        ...         self.x, self.y = x, y
        >>> fad.tree.register_pytree_node(Point, lambda p: ((p.x, p.y), None),
        ...                               lambda aux, ch: Point(*ch))
        >>> fad.tree.tree_leaves(Point(1.0, 2.0))
        [1.0, 2.0]
    """
    _registry[nodetype] = _NodeType(
        flatten_func,
        unflatten_func,
        lambda node, aux: [f"[{i}]" for i in range(len(list(flatten_func(node)[0])))],
    )


def _index_keys(node: Any, aux: Hashable) -> list[str]:
    return [f"[{i}]" for i in range(len(node))]


_registry[tuple] = _NodeType(lambda t: (t, None), lambda aux, ch: tuple(ch), _index_keys)
_registry[list] = _NodeType(lambda t: (t, None), lambda aux, ch: list(ch), _index_keys)


def _dict_flatten(d: dict[Any, Any]) -> tuple[list[Any], Hashable]:
    keys = tuple(sorted(d))
    return [d[k] for k in keys], keys


def _dict_unflatten(keys: Hashable, children: Iterable[Any]) -> dict[Any, Any]:
    assert isinstance(keys, tuple)
    return dict(zip(keys, children, strict=True))


_registry[dict] = _NodeType(
    _dict_flatten, _dict_unflatten, lambda d, keys: [f"[{k!r}]" for k in keys]  # type: ignore[union-attr]
)


def _node_type(node: Any) -> _NodeType | None:
    t = type(node)
    entry = _registry.get(t)
    if entry is not None:
        return entry
    if node is None:
        return _NONE
    if isinstance(node, tuple) and hasattr(t, "_fields"):  # a namedtuple
        entry = _NodeType(
            lambda n: (tuple(n), None),
            lambda aux, ch, t=t: t(*ch),
            lambda n, aux: [f".{f}" for f in type(n)._fields],
        )
        _registry[t] = entry
        return entry
    if attrs.has(t) and not isinstance(node, Tracer):  # tracers are leaves
        names = tuple(a.name for a in attrs.fields(t))
        init_names = tuple(a.name for a in attrs.fields(t) if a.init)
        if names == init_names:
            entry = _NodeType(
                lambda n, names=names: ([getattr(n, a) for a in names], None),
                lambda aux, ch, t=t, names=names: t(**dict(zip(names, ch, strict=True))),
                lambda n, aux, names=names: [f".{a}" for a in names],
            )
            _registry[t] = entry
            return entry
    return None


_NONE = _NodeType(lambda n: ((), None), lambda aux, ch: None, lambda n, aux: [])


class PyTreeDef:
    """The structure of a pytree: its node types and their aux data, without leaves."""

    __slots__ = ("aux", "children", "kind", "num_leaves")

    def __init__(self, kind: _NodeType | None, aux: Hashable, children: tuple[PyTreeDef, ...]) -> None:
        self.kind = kind
        self.aux = aux
        self.children = children
        self.num_leaves: int = 1 if kind is None else sum(c.num_leaves for c in children)

    def _key(self) -> tuple[Any, ...]:
        return (id(self.kind), self.aux, tuple(c._key() for c in self.children))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PyTreeDef) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"PyTreeDef({self._describe()})"

    def _describe(self) -> str:
        if self.kind is None:
            return "*"
        if self.kind is _NONE:
            return "None"
        inner = ", ".join(c._describe() for c in self.children)
        kind_name = next((t.__name__ for t, k in _registry.items() if k is self.kind), "node")
        return f"{kind_name}[{inner}]"


_LEAF = PyTreeDef(None, None, ())


def _flatten(tree: Any, leaves: list[Any], is_leaf: Callable[[Any], bool] | None) -> PyTreeDef:
    if is_leaf is not None and is_leaf(tree):
        leaves.append(tree)
        return _LEAF
    kind = _node_type(tree)
    if kind is None:
        leaves.append(tree)
        return _LEAF
    children, aux = kind.flatten(tree)
    return PyTreeDef(kind, aux, tuple(_flatten(c, leaves, is_leaf) for c in children))


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list[Any], PyTreeDef]:
    """Return the leaves of ``tree`` (left to right) and its structure."""
    leaves: list[Any] = []
    treedef = _flatten(tree, leaves, is_leaf)
    return leaves, treedef


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``."""
    it = iter(leaves)
    out = _unflatten(treedef, it)
    if next(it, _SENTINEL) is not _SENTINEL:
        msg = f"tree_unflatten got more leaves than the {treedef.num_leaves} of {treedef!r}."
        raise ValueError(msg)
    return out


_SENTINEL = object()


def _unflatten(treedef: PyTreeDef, it: Any) -> Any:
    if treedef.kind is None:
        leaf = next(it, _SENTINEL)
        if leaf is _SENTINEL:
            msg = "tree_unflatten got fewer leaves than the structure has."
            raise ValueError(msg)
        return leaf
    return treedef.kind.unflatten(treedef.aux, [_unflatten(c, it) for c in treedef.children])


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """Return the leaves of ``tree``, left to right."""
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """Return the structure of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` to the leaves of ``tree`` (and the matching leaves of ``rest``).

    Example:
        >>> from fad.tree import tree_map
        >>> tree_map(lambda x, y: x + y, (1.0, [2.0]), (10.0, [20.0]))
        (11.0, [22.0])
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = []
    for i, r in enumerate(rest):
        r_leaves, r_def = tree_flatten(r, is_leaf)
        if r_def != treedef:
            msg = f"tree_map: argument {i + 1} has structure {r_def!r}, not {treedef!r}."
            raise ValueError(msg)
        others.append(r_leaves)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


def tree_flatten_with_path(tree: Any) -> tuple[list[tuple[str, Any]], PyTreeDef]:
    """Like :func:`tree_flatten`, each leaf paired with its path (``"[0]['w']"``)."""
    leaves, treedef = tree_flatten(tree)
    paths: list[str] = []
    _paths(tree, "", paths)
    return list(zip(paths, leaves, strict=True)), treedef


def _paths(tree: Any, prefix: str, out: list[str]) -> None:
    kind = _node_type(tree)
    if kind is None:
        out.append(prefix)
        return
    children, aux = kind.flatten(tree)
    children = list(children)
    for key, child in zip(kind.keys(tree, aux), children, strict=True):
        _paths(child, prefix + key, out)
