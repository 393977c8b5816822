"""Pytrees: nested containers whose leaves are the numbers fad differentiates.

Tuples, lists, dicts (keys in sorted order, as JAX), ``collections.OrderedDict``
(insertion order) and ``collections.defaultdict`` (sorted keys), ``None`` (an empty
subtree: no leaves), namedtuples and attrs classes are pytrees;
:func:`register_pytree_node` adds more. Everything else is a leaf, and so is every
fad tracer (``Dual`` and ``Codual`` are attrs classes, but never containers).

A leaf's *path* names how to reach it from the root, as JAX's key paths print:
``[0]`` for a sequence index, ``['w']`` for a dict key, ``.x`` for a field of a
namedtuple or an attrs class. Error messages of the transforms use them.

Example:
    >>> from fad.tree import tree_flatten, tree_unflatten
    >>> leaves, treedef = tree_flatten({"b": [1.0, 2.0], "a": (3.0, None)})
    >>> leaves
    [3.0, 1.0, 2.0]
    >>> treedef
    PyTreeDef({'a': (*, None), 'b': [*, *]})
    >>> tree_unflatten(treedef, [x * 10 for x in leaves])
    {'a': (30.0, None), 'b': [10.0, 20.0]}
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import attrs

from fad._core import Tracer, register_tracer

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


class _NodeType(NamedTuple):
    """How to take a node apart and put it back, and how to name its children."""

    name: str
    flatten: Callable[[Any], tuple[Iterable[Any], Any]]
    unflatten: Callable[[Any, list[Any]], Any]
    # how to name child i in a path: "[0]", "['key']" or ".field"
    keys: Callable[[Any, Any, int], list[str]]
    # how to print a node of this type whose children print as the given strings
    show: Callable[[Any, list[str]], str]


# type -> node type, or None for a type known to be a leaf (a cache).
_registry: dict[type, _NodeType | None] = {
    float: None,
    int: None,
    bool: None,
    complex: None,
    str: None,
}


def _index_keys(node: Any, aux: Any, n: int) -> list[str]:
    return [f"[{i}]" for i in range(n)]


def register_pytree_node(
    nodetype: type,
    flatten_func: Callable[[Any], tuple[Iterable[Any], Any]],
    unflatten_func: Callable[[Any, Iterable[Any]], Any],
) -> None:
    """Make instances of ``nodetype`` pytree nodes.

    Args:
        nodetype: the class (instances of subclasses are not nodes unless
            registered too, as in JAX).
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
        >>> fad.grad(lambda p: p.x * p.y)(Point(3.0, 4.0)).x
        4.0
    """
    name = nodetype.__name__

    def unflatten(aux: Any, children: list[Any]) -> Any:
        return unflatten_func(aux, children)

    _registry[nodetype] = _NodeType(
        name,
        flatten_func,
        unflatten,
        _index_keys,
        lambda aux, ch: f"{name}[{', '.join(ch)}]",
    )


def _show_seq(open_: str, close: str) -> Callable[[Any, list[str]], str]:
    def show(aux: Any, ch: list[str]) -> str:
        if open_ == "(" and len(ch) == 1:
            return f"({ch[0]},)"
        return open_ + ", ".join(ch) + close

    return show


_registry[tuple] = _NodeType(
    "tuple", lambda t: (t, None), lambda aux, ch: tuple(ch), _index_keys, _show_seq("(", ")")
)
_registry[list] = _NodeType(
    "list", lambda t: (t, None), lambda aux, ch: list(ch), _index_keys, _show_seq("[", "]")
)


def _sorted_keys(d: dict[Any, Any]) -> tuple[Any, ...]:
    try:
        return tuple(sorted(d))
    except TypeError:  # keys of mixed types: sort by type name, then value
        return tuple(sorted(d, key=lambda k: (type(k).__name__, repr(k))))


def _dict_flatten(d: dict[Any, Any]) -> tuple[list[Any], tuple[Any, ...]]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _dict_keys(node: Any, keys: tuple[Any, ...], n: int) -> list[str]:
    return [f"[{k!r}]" for k in keys]


def _show_dict(keys: tuple[Any, ...], ch: list[str]) -> str:
    return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, ch, strict=True)) + "}"


_registry[dict] = _NodeType(
    "dict",
    _dict_flatten,
    lambda keys, ch: dict(zip(keys, ch, strict=True)),
    _dict_keys,
    _show_dict,
)
_registry[collections.OrderedDict] = _NodeType(
    "OrderedDict",
    lambda d: (list(d.values()), tuple(d)),
    lambda keys, ch: collections.OrderedDict(zip(keys, ch, strict=True)),
    _dict_keys,
    lambda keys, ch: "OrderedDict(" + _show_dict(keys, ch) + ")",
)


def _defaultdict_flatten(d: collections.defaultdict[Any, Any]) -> tuple[list[Any], Any]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], (d.default_factory, keys)


_registry[collections.defaultdict] = _NodeType(
    "defaultdict",
    _defaultdict_flatten,
    lambda aux, ch: collections.defaultdict(aux[0], zip(aux[1], ch, strict=True)),
    lambda node, aux, n: _dict_keys(node, aux[1], n),
    lambda aux, ch: "defaultdict(" + _show_dict(aux[1], ch) + ")",
)
_NONE = _NodeType(
    "None", lambda n: ((), None), lambda aux, ch: None, _index_keys, lambda aux, ch: "None"
)
_registry[type(None)] = _NONE


def _namedtuple_node(t: type) -> _NodeType:
    fields: tuple[str, ...] = t._fields  # type: ignore[attr-defined]
    return _NodeType(
        t.__name__,
        lambda n: (tuple(n), None),
        lambda aux, ch: t(*ch),
        lambda n, aux, k: [f".{f}" for f in fields],
        lambda aux, ch: (
            f"{t.__name__}(" + ", ".join(f"{f}={c}" for f, c in zip(fields, ch, strict=True)) + ")"
        ),
    )


def _attrs_node(t: type) -> _NodeType | None:
    fields = attrs.fields(t)
    if not all(a.init for a in fields):
        return None  # a class with fields its __init__ does not take: a leaf
    names = tuple(a.name for a in fields)
    # attrs strips the leading underscore of private fields for __init__
    inits = tuple(getattr(a, "alias", None) or a.name.lstrip("_") for a in fields)

    def flatten(n: Any) -> tuple[list[Any], None]:
        return [getattr(n, a) for a in names], None

    def unflatten(aux: Any, ch: list[Any]) -> Any:
        return t(**dict(zip(inits, ch, strict=True)))

    return _NodeType(
        t.__name__,
        flatten,
        unflatten,
        lambda n, aux, k: [f".{a}" for a in names],
        lambda aux, ch: (
            f"{t.__name__}(" + ", ".join(f"{a}={c}" for a, c in zip(names, ch, strict=True)) + ")"
        ),
    )


def _node_type(node: Any) -> _NodeType | None:
    """The node type of ``node``, or ``None`` if it is a leaf (cached per type)."""
    t = type(node)
    try:
        return _registry[t]
    except KeyError:
        pass
    entry: _NodeType | None = None
    if isinstance(node, Tracer):
        register_tracer(t)  # tracers are leaves, whatever else they are
    elif issubclass(t, tuple) and hasattr(t, "_fields"):
        entry = _namedtuple_node(t)
    elif attrs.has(t):
        entry = _attrs_node(t)
    _registry[t] = entry
    return entry


class PyTreeDef:
    """The structure of a pytree: its node types and their aux data, without leaves.

    Two structures compare equal when they have the same node types, the same aux
    data (dict keys, ...) and equal children. ``num_leaves`` counts the leaves.
    """

    __slots__ = ("_hash", "aux", "children", "kind", "num_leaves")

    def __init__(self, kind: _NodeType | None, aux: Any, children: tuple[PyTreeDef, ...]) -> None:
        self.kind = kind
        self.aux = aux
        self.children = children
        self.num_leaves: int = 1 if kind is None else sum(c.num_leaves for c in children)
        self._hash: int | None = None

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return (
            self.kind is other.kind
            and self.num_leaves == other.num_leaves
            and len(self.children) == len(other.children)
            and _aux_equal(self.aux, other.aux)
            and all(a == b for a, b in zip(self.children, other.children, strict=True))
        )

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        if self._hash is None:
            try:
                aux_hash = hash(self.aux)
            except TypeError:
                aux_hash = 0
            self._hash = hash((id(self.kind), aux_hash, self.children))
        return self._hash

    def __repr__(self) -> str:
        return f"PyTreeDef({self._describe()})"

    def _describe(self) -> str:
        if self.kind is None:
            return "*"
        return self.kind.show(self.aux, [c._describe() for c in self.children])


def _aux_equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # an aux whose == misbehaves: fall back to identity
        return a is b


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
    if is_leaf is not None:
        return PyTreeDef(kind, aux, tuple([_flatten(c, leaves, is_leaf) for c in children]))
    defs = []
    for c in children:
        t = type(c)
        if t is float or t is int:  # the common leaves, without a call
            leaves.append(c)
            defs.append(_LEAF)
        else:
            defs.append(_flatten(c, leaves, None))
    return PyTreeDef(kind, aux, tuple(defs))


def tree_flatten(
    tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[Any], PyTreeDef]:
    """Return the leaves of ``tree`` (left to right) and its structure.

    Args:
        tree: a pytree.
        is_leaf: optional predicate; a subtree for which it is true is a leaf.

    Example:
        >>> from fad.tree import tree_flatten
        >>> tree_flatten([1.0, (2.0, None), {"z": 3.0}])
        ([1.0, 2.0, 3.0], PyTreeDef([*, (*, None), {'z': *}]))
    """
    leaves: list[Any] = []
    treedef = _flatten(tree, leaves, is_leaf)
    return leaves, treedef


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``.

    Raises:
        ValueError: if the number of leaves differs from ``treedef.num_leaves``.

    Example:
        >>> from fad.tree import tree_structure, tree_unflatten
        >>> tree_unflatten(tree_structure((0.0, [0.0])), [1.0, 2.0])
        (1.0, [2.0])
    """
    it = iter(leaves)
    try:
        out = _unflatten(treedef, it)
    except StopIteration:
        msg = f"tree_unflatten got fewer leaves than the {treedef.num_leaves} of {treedef!r}."
        raise ValueError(msg) from None
    if next(it, _SENTINEL) is not _SENTINEL:
        msg = f"tree_unflatten got more leaves than the {treedef.num_leaves} of {treedef!r}."
        raise ValueError(msg)
    return out


_SENTINEL = object()


def _unflatten(treedef: PyTreeDef, it: Any) -> Any:
    """Rebuild from the iterator ``it``; raises StopIteration when it runs out."""
    if treedef.kind is None:
        return next(it)
    return treedef.kind.unflatten(
        treedef.aux, [next(it) if c is _LEAF else _unflatten(c, it) for c in treedef.children]
    )


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """Return the leaves of ``tree``, left to right.

    Example:
        >>> from fad.tree import tree_leaves
        >>> tree_leaves({"b": 2.0, "a": [1.0, None]})
        [1.0, 2.0]
    """
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """Return the structure of ``tree``.

    Example:
        >>> from fad.tree import tree_structure
        >>> tree_structure((1.0, {"a": 2.0}))
        PyTreeDef((*, {'a': *}))
    """
    return tree_flatten(tree, is_leaf)[1]


def tree_map(
    f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None
) -> Any:
    """Apply ``f`` to the leaves of ``tree`` (and the matching leaves of ``rest``).

    Raises:
        ValueError: if a tree of ``rest`` has another structure than ``tree``.

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


def tree_flatten_with_path(
    tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[tuple[str, Any]], PyTreeDef]:
    """Like :func:`tree_flatten`, each leaf paired with its path (``"[0]['w']"``).

    The root itself has the empty path ``""``.

    Example:
        >>> from fad.tree import tree_flatten_with_path
        >>> tree_flatten_with_path({"w": [1.0, 2.0], "b": 0.5})[0]
        [("['b']", 0.5), ("['w'][0]", 1.0), ("['w'][1]", 2.0)]
    """
    pairs: list[tuple[str, Any]] = []
    treedef = _flatten_path(tree, "", pairs, is_leaf)
    return pairs, treedef


def _flatten_path(
    tree: Any, prefix: str, out: list[tuple[str, Any]], is_leaf: Callable[[Any], bool] | None
) -> PyTreeDef:
    kind = None if is_leaf is not None and is_leaf(tree) else _node_type(tree)
    if kind is None:
        out.append((prefix, tree))
        return _LEAF
    children, aux = kind.flatten(tree)
    children = list(children)
    keys = kind.keys(tree, aux, len(children))
    return PyTreeDef(
        kind,
        aux,
        tuple(
            [
                _flatten_path(c, prefix + k, out, is_leaf)
                for k, c in zip(keys, children, strict=True)
            ]
        ),
    )
