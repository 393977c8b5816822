"""Pytrees: nested containers whose leaves are the numbers fad differentiates.

Tuples, lists, dicts (keys in sorted order, as JAX), ``collections.OrderedDict``
(insertion order) and ``collections.defaultdict`` (sorted keys), ``None`` (an empty
subtree: no leaves), namedtuples, attrs classes, numpy arrays (their elements, in C
order) and :class:`Partial` are pytrees; :func:`register_pytree_node`,
:func:`register_pytree_with_keys` and :func:`register_dataclass` add more.
Everything else is a leaf, and so is every fad tracer (``Dual`` and ``Codual`` are
attrs classes, but never containers).

A leaf's *key path* names how to reach it from the root: a tuple of
:class:`SequenceKey` (``[0]``), :class:`DictKey` (``['w']``), :class:`GetAttrKey`
(``.x``) and :class:`FlattenedIndexKey` entries, printed by :func:`keystr` as JAX
prints them. Error messages of the transforms use them.

Static fields: a field of an attrs class marked ``attrs.field(metadata={"static":
True})`` is not a child but part of the structure (aux data, as JAX's
``register_dataclass`` meta fields): it is never differentiated, it comes back
unchanged in a gradient, and two trees whose static fields differ have different
structures. A field that is not marked is static when its value is a ``str`` or
``bytes`` (a model's ``name``), which no transform could differentiate; mark it
``metadata={"static": False}`` to keep it a child. Every other field is a child, so
an unmarked ``bool``, function or enum field of a differentiated argument is
reported by the transforms with its path and this fix.

numpy arrays (numpy is optional and imported only when an array is met) are nodes
whose children are their elements as Python numbers. An array rebuilt from numbers
has the input's shape (``float64`` when a child is a float); from tracers, it is an
object array of them. An array rebuilt from *subtrees* of one structure comes back
as that structure of arrays of shape ``array.shape + leaf.shape``, the layout JAX
gives when arrays are leaves: so a Jacobian of arrays is one float array of shape
``output.shape + input.shape``.

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
import dataclasses
import functools
import numbers
import operator
import sys
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

import attrs

from fad._core import Tracer, is_tracer, register_tracer

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "KeyPath",
    "Partial",
    "PyTreeDef",
    "SequenceKey",
    "keystr",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_with_keys",
    "tree_all",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
]

T = TypeVar("T")
Typ = TypeVar("Typ", bound=type)


# --------------------------------------------------------------------------------------
# Key paths


@attrs.frozen
class SequenceKey:
    """The key of an item of a sequence (tuple, list, array axis): prints ``[idx]``.

    Example:
        >>> from fad.tree import SequenceKey
        >>> str(SequenceKey(2)), SequenceKey(2)
        ('[2]', SequenceKey(idx=2))
    """

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@attrs.frozen
class DictKey:
    """The key of a value of a dict: prints ``['key']``.

    Example:
        >>> from fad.tree import DictKey
        >>> str(DictKey("w")), DictKey("w").key
        ("['w']", 'w')
    """

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@attrs.frozen
class GetAttrKey:
    """The key of a field of a namedtuple, attrs class or dataclass: prints ``.name``.

    Example:
        >>> from fad.tree import GetAttrKey
        >>> str(GetAttrKey("w"))
        '.w'
    """

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@attrs.frozen
class FlattenedIndexKey:
    """The key of child ``key`` of a node registered without keys: prints ``[key]``.

    (JAX prints ``[<flat index 0>]``; fad prints ``[0]``, as its messages always have.)

    Example:
        >>> from fad.tree import FlattenedIndexKey
        >>> str(FlattenedIndexKey(0))
        '[0]'
    """

    key: int

    def __str__(self) -> str:
        return f"[{self.key!r}]"


class KeyPath(tuple[Any, ...]):
    """A key path: a tuple of key entries, whose ``str()`` is :func:`keystr` of it.

    It compares equal to the plain tuple of its entries, as JAX's paths are tuples,
    and paths sort by their text.

    Example:
        >>> from fad.tree import DictKey, KeyPath, SequenceKey
        >>> path = KeyPath((DictKey("w"), SequenceKey(0)))
        >>> str(path), path == (DictKey("w"), SequenceKey(0))
        ("['w'][0]", True)
    """

    __slots__ = ()

    def __str__(self) -> str:
        return keystr(self)

    # key entries of different kinds do not compare, so paths sort by their text
    # (as fad's paths did when they were strings)
    def __lt__(self, other: tuple[Any, ...]) -> bool:
        return keystr(self) < keystr(other)

    def __le__(self, other: tuple[Any, ...]) -> bool:
        return keystr(self) <= keystr(other)

    def __gt__(self, other: tuple[Any, ...]) -> bool:
        return keystr(self) > keystr(other)

    def __ge__(self, other: tuple[Any, ...]) -> bool:
        return keystr(self) >= keystr(other)


def keystr(keys: Sequence[Any], *, simple: bool = False, separator: str = "") -> str:
    """Print a key path as JAX does: ``"['w'][0].b"``.

    Args:
        keys: a key path, as :func:`tree_flatten_with_path` gives.
        simple: if true, print each key's bare value (``w``, ``0``, ``b``).
        separator: put between the keys (JAX's; for ``simple`` paths ``"/"`` reads well).

    Example:
        >>> from fad.tree import keystr, tree_leaves_with_path
        >>> path, leaf = tree_leaves_with_path({"w": [1.0, 2.0]})[1]
        >>> keystr(path), keystr(path, simple=True, separator="/")
        ("['w'][1]", 'w/1')
    """
    if not simple:
        return separator.join(str(k) for k in keys)
    return separator.join(str(_simple_key(k)) for k in keys)


def _simple_key(k: Any) -> Any:
    if isinstance(k, SequenceKey):
        return k.idx
    if isinstance(k, (DictKey, FlattenedIndexKey)):
        return k.key
    if isinstance(k, GetAttrKey):
        return k.name
    return k


_ROOT = KeyPath()


# --------------------------------------------------------------------------------------
# The registry


class _NodeType(NamedTuple):
    """How to take a node apart and put it back, and how to name its children."""

    name: str
    flatten: Callable[[Any], tuple[Iterable[Any], Any]]
    unflatten: Callable[[Any, list[Any]], Any]
    # the key path entries of each child: (node, aux, n) -> one tuple of entries each
    keys: Callable[[Any, Any, int], Sequence[tuple[Any, ...]]]
    # how to print a node of this type whose children print as the given strings
    show: Callable[[Any, list[str]], str]


# type -> node type, or None for a type known to be a leaf (a cache).
_registry: dict[type, _NodeType | None] = {
    float: None,
    int: None,
    bool: None,
    complex: None,
    str: None,
    bytes: None,
    SequenceKey: None,
    DictKey: None,
    GetAttrKey: None,
    FlattenedIndexKey: None,
}


@functools.lru_cache(maxsize=256)
def _seq_keys(n: int) -> tuple[tuple[SequenceKey], ...]:
    return tuple((SequenceKey(i),) for i in range(n))


def _index_keys(node: Any, aux: Any, n: int) -> Sequence[tuple[Any, ...]]:
    return _seq_keys(n)


def _flat_index_keys(node: Any, aux: Any, n: int) -> list[tuple[Any, ...]]:
    return [(FlattenedIndexKey(i),) for i in range(n)]


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
        _flat_index_keys,
        lambda aux, ch: f"{name}[{', '.join(ch)}]",
    )


def register_pytree_with_keys(
    nodetype: type,
    flatten_with_keys: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Any]],
    unflatten_func: Callable[[Any, Iterable[Any]], Any],
    flatten_func: Callable[[Any], tuple[Iterable[Any], Any]] | None = None,
) -> None:
    """Make instances of ``nodetype`` pytree nodes whose children have their own keys.

    Args:
        nodetype: the class.
        flatten_with_keys: ``node -> ([(key, child), ...], aux_data)``; each key is a
            key entry (say :class:`GetAttrKey`) that paths and :func:`keystr` show.
        unflatten_func: ``(aux_data, children) -> node``.
        flatten_func: optional ``node -> (children, aux_data)``, a faster flatten
            without keys (the default drops the keys of ``flatten_with_keys``).

    Example:
        >>> import fad
        >>> from fad.tree import GetAttrKey, keystr, tree_leaves_with_path
        >>> class Wheel:
        ...     def __init__(self, radius):
        ...         self.radius = radius
        >>> fad.tree.register_pytree_with_keys(
        ...     Wheel, lambda w: ([(GetAttrKey("radius"), w.radius)], None),
        ...     lambda aux, ch: Wheel(*ch))
        >>> [keystr(p) for p, _ in tree_leaves_with_path([Wheel(0.3)])]
        ['[0].radius']
    """
    name = nodetype.__name__

    def flatten(node: Any) -> tuple[Iterable[Any], Any]:
        if flatten_func is not None:
            return flatten_func(node)
        pairs, aux = flatten_with_keys(node)
        return [c for _, c in pairs], aux

    def keys(node: Any, aux: Any, n: int) -> list[tuple[Any, ...]]:
        return [(k,) for k, _ in flatten_with_keys(node)[0]]

    def unflatten(aux: Any, children: list[Any]) -> Any:
        return unflatten_func(aux, children)

    _registry[nodetype] = _NodeType(
        name, flatten, unflatten, keys, lambda aux, ch: f"{name}[{', '.join(ch)}]"
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


def _dict_keys(node: Any, keys: tuple[Any, ...], n: int) -> list[tuple[Any, ...]]:
    return [(DictKey(k),) for k in keys]


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
    keys = [(GetAttrKey(f),) for f in fields]
    return _NodeType(
        t.__name__,
        lambda n: (tuple(n), None),
        lambda aux, ch: t(*ch),
        lambda n, aux, k: keys,
        lambda aux, ch: (
            f"{t.__name__}(" + ", ".join(f"{f}={c}" for f, c in zip(fields, ch, strict=True)) + ")"
        ),
    )


# --------------------------------------------------------------------------------------
# Classes of named fields: attrs classes and registered dataclasses


# how a field is kept: always a child, always static, or static when a str/bytes
_CHILD, _STATIC, _AUTO = 0, 1, 2


def _fields_node(t: type, fields: tuple[tuple[str, str, int], ...]) -> _NodeType:
    """A node whose children are its fields, except the static ones, kept as aux data.

    ``fields`` lists ``(name, name __init__ takes, how it is kept)`` in class order.
    The aux data is ``(names of the children, ((name, value) of each static field))``.
    """
    cls_name = t.__name__
    init = {name: arg for name, arg, _ in fields}
    order = {name: i for i, (name, _, _) in enumerate(fields)}
    n_fields = len(fields)
    get_all = operator.attrgetter(*(name for name, _, _ in fields)) if fields else None
    has_static = any(how == _STATIC for _, _, how in fields)
    auto_at = tuple(i for i, (_, _, how) in enumerate(fields) if how == _AUTO)
    # the aux data of a node with no static field (the common case), made once
    plain = (tuple(name for name, _, _ in fields), ())
    inits: dict[tuple[str, ...], tuple[str, ...]] = {plain[0]: tuple(init[n] for n in plain[0])}

    def values(n: Any) -> tuple[Any, ...]:
        if get_all is None:
            return ()
        v = get_all(n)
        return (v,) if n_fields == 1 else v

    def flatten(n: Any) -> tuple[list[Any], Any]:
        vals = values(n)
        if not has_static:
            for i in auto_at:
                if isinstance(vals[i], (str, bytes)):
                    break
            else:
                return list(vals), plain
        children, names, statics = [], [], []
        for (name, _, how), v in zip(fields, vals, strict=True):
            if how == _STATIC or (how == _AUTO and isinstance(v, (str, bytes))):
                statics.append((name, v))
            else:
                children.append(v)
                names.append(name)
        return children, (tuple(names), tuple(statics))

    def unflatten(aux: Any, ch: list[Any]) -> Any:
        names, statics = aux
        args = inits.get(names)
        if args is None:
            args = inits[names] = tuple(init[n] for n in names)
        kwargs = dict(zip(args, ch, strict=True))
        for name, v in statics:
            kwargs[init[name]] = v
        return t(**kwargs)

    def keys(n: Any, aux: Any, k: int) -> list[tuple[Any, ...]]:
        return [(GetAttrKey(name),) for name in aux[0]]

    def show(aux: Any, ch: list[str]) -> str:
        names, statics = aux
        parts = list(zip(names, ch, strict=True)) + [(name, repr(v)) for name, v in statics]
        parts.sort(key=lambda p: order[p[0]])
        return f"{cls_name}(" + ", ".join(f"{name}={c}" for name, c in parts) + ")"

    return _NodeType(cls_name, flatten, unflatten, keys, show)


def _attrs_node(t: type) -> _NodeType | None:
    fields = attrs.fields(t)
    if not all(a.init for a in fields):
        return None  # a class with fields its __init__ does not take: a leaf

    def how(a: attrs.Attribute[Any]) -> int:
        flag = a.metadata.get("static")
        return _AUTO if flag is None else _STATIC if flag else _CHILD

    # attrs strips the leading underscore of private fields for __init__
    return _fields_node(
        t,
        tuple((a.name, getattr(a, "alias", None) or a.name.lstrip("_"), how(a)) for a in fields),
    )


def register_dataclass(
    nodetype: Typ,
    data_fields: Sequence[str] | None = None,
    meta_fields: Sequence[str] | None = None,
    drop_fields: Sequence[str] = (),
) -> Typ:
    """Make a dataclass (or any class built from keyword fields) a pytree node, as JAX.

    The ``data_fields`` are its children; the ``meta_fields`` are static: aux data,
    part of the structure, never differentiated (so they must be hashable). Usable as
    a decorator. A class with ``__slots__`` or a frozen dataclass works too: nodes are
    rebuilt by calling ``nodetype(**fields)``.

    Args:
        nodetype: the class. Returned, so that this is a decorator.
        data_fields: the names of the child fields. With ``meta_fields`` also
            omitted, both come from the dataclass's fields: those with
            ``dataclasses.field(metadata={"static": True})`` are meta fields, the other
            fields ``__init__`` takes are data fields.
        meta_fields: the names of the static fields.
        drop_fields: fields of a dataclass that ``__init__`` takes but that are not
            kept in the node (rebuilt nodes get their defaults).

    Raises:
        TypeError: if only one of ``data_fields`` / ``meta_fields`` is given, or they
            are omitted for a class that is not a dataclass.
        ValueError: if, for a dataclass, the fields named are not exactly those its
            ``__init__`` takes (minus ``drop_fields``).

    Example:
        >>> import dataclasses, fad
        >>> @fad.tree.register_dataclass
        ... @dataclasses.dataclass
        ... class Layer:
        ...     w: list
        ...     b: float
        ...     name: str = dataclasses.field(default="dense", metadata={"static": True})
        >>> layer = Layer([1.0, 2.0], 0.5)
        >>> fad.tree.tree_leaves(layer)
        [1.0, 2.0, 0.5]
        >>> fad.grad(lambda l: l.w[0] * l.w[1] + l.b)(layer)
        Layer(w=[2.0, 1.0], b=1.0, name='dense')
    """
    if (data_fields is None) != (meta_fields is None):
        msg = (
            "fad.tree.register_dataclass: give both data_fields and meta_fields, or "
            f"neither; got data_fields={data_fields!r}, meta_fields={meta_fields!r}."
        )
        raise TypeError(msg)
    if data_fields is None or meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            msg = (
                f"fad.tree.register_dataclass: {nodetype!r} is not a dataclass, so its "
                "data_fields and meta_fields must be given."
            )
            raise TypeError(msg)
        fs = [f for f in dataclasses.fields(nodetype) if f.init and f.name not in drop_fields]
        data_fields = [f.name for f in fs if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fs if f.metadata.get("static", False)]
    data, meta = tuple(data_fields), tuple(meta_fields)
    if dataclasses.is_dataclass(nodetype):
        init_fields = {f.name for f in dataclasses.fields(nodetype) if f.init}
        init_fields.difference_update(drop_fields)
        if {*data, *meta} != init_fields or len(data) + len(meta) != len(init_fields):
            msg = (
                f"fad.tree.register_dataclass: the data_fields {list(data)} and meta_fields "
                f"{list(meta)} of {nodetype.__name__} must name each field __init__ takes "
                f"exactly once (not in drop_fields): {sorted(init_fields)}."
            )
            raise ValueError(msg)
    kinds = {**dict.fromkeys(data, _CHILD), **dict.fromkeys(meta, _STATIC)}
    if dataclasses.is_dataclass(nodetype):  # in the class's order
        order = [f.name for f in dataclasses.fields(nodetype) if f.name in kinds]
    else:
        order = [*data, *meta]
    _registry[nodetype] = _fields_node(nodetype, tuple((n, n, kinds[n]) for n in order))
    return nodetype


# --------------------------------------------------------------------------------------
# numpy arrays


def _is_ndarray_type(t: type) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and t is np.ndarray


def _ndarray_node() -> _NodeType:
    import numpy as np

    def flatten(a: Any) -> tuple[list[Any], tuple[int, ...]]:
        return a.ravel().tolist(), a.shape

    def keys(a: Any, shape: tuple[int, ...], n: int) -> list[tuple[Any, ...]]:
        return [tuple(SequenceKey(i) for i in idx) for idx in np.ndindex(*shape)]

    def show(shape: tuple[int, ...], ch: list[str]) -> str:
        if all(c == "*" for c in ch):
            return f"ndarray(shape={shape})"
        return f"ndarray(shape={shape}, [{', '.join(ch)}])"

    return _NodeType("ndarray", flatten, _array_unflatten, keys, show)


def _is_ndarray(x: Any) -> bool:
    return _is_ndarray_type(type(x))


def _is_number(x: Any) -> bool:
    t = type(x)
    if t is float or t is int or t is bool:
        return True
    if not isinstance(x, numbers.Number):
        return False
    # numpy's scalars are numbers; the Tracer protocol check costs tens of µs on them
    return t.__module__ == "numpy" or not is_tracer(x)


def _array_unflatten(shape: tuple[int, ...], children: list[Any]) -> Any:
    """Rebuild an array node: numbers stacked, subtrees of one structure transposed."""
    import numpy as np

    if all(type(c) is float or type(c) is int for c in children):
        if not children:
            return np.zeros(shape)
        return np.array(children).reshape(shape)
    if all(_is_ndarray(c) or _node_type(c) is None for c in children):
        return _stack(shape, children)
    defs = [tree_structure(c, is_leaf=_is_ndarray) for c in children]
    if defs[0].kind is not None and all(d == defs[0] for d in defs):
        # an array of subtrees of one structure: that structure, with arrays as leaves
        columns = zip(*[tree_leaves(c, is_leaf=_is_ndarray) for c in children], strict=True)
        return tree_unflatten(defs[0], [_stack(shape, list(col)) for col in columns])
    return _stack(shape, children)


def _stack(shape: tuple[int, ...], items: list[Any]) -> Any:
    """One array of shape ``shape + inner`` from items of one inner shape, if it can."""
    import numpy as np

    if items and all(_is_ndarray(x) for x in items):
        inner = items[0].shape
        if all(x.shape == inner for x in items):
            if all(x.dtype.kind in "biufc" for x in items):
                return np.array(items).reshape(shape + inner)
            out = np.empty((len(items), *inner), dtype=object)
            for i, x in enumerate(items):
                out[i] = x
            return out.reshape(shape + inner)
    elif all(_is_number(x) for x in items):
        return np.array(items).reshape(shape) if items else np.zeros(shape)
    out = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        out[i] = x
    return out.reshape(shape)


# --------------------------------------------------------------------------------------
# Node types and structures


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
    elif _is_ndarray_type(t):
        entry = _ndarray_node()
    _registry[t] = entry
    return entry


class PyTreeDef:
    """The structure of a pytree: its node types and their aux data, without leaves.

    Two structures compare equal when they have the same node types, the same aux
    data (dict keys, static fields, array shapes) and equal children.
    ``num_leaves`` counts the leaves.

    Example:
        >>> from fad.tree import tree_structure
        >>> treedef = tree_structure({"a": 1.0, "b": (2.0, 3.0)})
        >>> treedef.num_leaves, treedef.unflatten([4.0, 5.0, 6.0])
        (3, {'a': 4.0, 'b': (5.0, 6.0)})
    """

    __slots__ = ("_hash", "aux", "children", "kind", "num_leaves")

    def __init__(self, kind: _NodeType | None, aux: Any, children: tuple[PyTreeDef, ...]) -> None:
        self.kind = kind
        self.aux = aux
        self.children = children
        self.num_leaves: int = 1 if kind is None else sum(c.num_leaves for c in children)
        self._hash: int | None = None

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Rebuild a tree of this structure from ``leaves`` (:func:`tree_unflatten`)."""
        return tree_unflatten(self, leaves)

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


def _rest_leaves(
    fname: str, treedef: PyTreeDef, rest: Sequence[Any], is_leaf: Callable[[Any], bool] | None
) -> list[list[Any]]:
    others = []
    for i, r in enumerate(rest):
        r_leaves, r_def = tree_flatten(r, is_leaf)
        if r_def != treedef:
            msg = f"{fname}: argument {i + 1} has structure {r_def!r}, not {treedef!r}."
            raise ValueError(msg)
        others.append(r_leaves)
    return others


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
    others = _rest_leaves("tree_map", treedef, rest, is_leaf)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


# --------------------------------------------------------------------------------------
# Paths


def tree_flatten_with_path(
    tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """Like :func:`tree_flatten`, each leaf paired with its key path.

    A key path is a tuple of key entries (a :class:`KeyPath`, whose ``str()`` is
    :func:`keystr` of it); the root itself has the empty path ``()``.

    Example:
        >>> from fad.tree import keystr, tree_flatten_with_path
        >>> pairs, treedef = tree_flatten_with_path({"w": [1.0, 2.0], "b": 0.5})
        >>> pairs[1]
        ((DictKey(key='w'), SequenceKey(idx=0)), 1.0)
        >>> [(keystr(path), leaf) for path, leaf in pairs]
        [("['b']", 0.5), ("['w'][0]", 1.0), ("['w'][1]", 2.0)]
    """
    pairs: list[tuple[KeyPath, Any]] = []
    treedef = _flatten_path(tree, _ROOT, pairs, is_leaf)
    return pairs, treedef


def _flatten_path(
    tree: Any,
    prefix: KeyPath,
    out: list[tuple[KeyPath, Any]],
    is_leaf: Callable[[Any], bool] | None,
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
                _flatten_path(c, KeyPath(prefix + k), out, is_leaf)
                for k, c in zip(keys, children, strict=True)
            ]
        ),
    )


def tree_leaves_with_path(
    tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> list[tuple[KeyPath, Any]]:
    """Return the ``(key_path, leaf)`` pairs of ``tree``, left to right.

    Example:
        >>> from fad.tree import keystr, tree_leaves_with_path
        >>> [(keystr(p), x) for p, x in tree_leaves_with_path([1.0, {"a": 2.0}])]
        [('[0]', 1.0), ("[1]['a']", 2.0)]
    """
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(
    f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None
) -> Any:
    """Apply ``f(key_path, leaf, *rest_leaves)`` to the leaves of ``tree``.

    Raises:
        ValueError: if a tree of ``rest`` has another structure than ``tree``.

    Example:
        >>> from fad.tree import keystr, tree_map_with_path
        >>> params = {"w": [1.0, 2.0], "b": 0.5}
        >>> tree_map_with_path(lambda p, x: 0.0 if keystr(p) == "['b']" else x, params)
        {'b': 0.0, 'w': [1.0, 2.0]}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    others = _rest_leaves("tree_map_with_path", treedef, rest, is_leaf)
    return tree_unflatten(
        treedef, [f(p, x, *xs) for (p, x), *xs in zip(pairs, *others, strict=True)]
    )


def _leaf_hint(tree: Any, index: int) -> str:
    """A sentence for the message about bad leaf ``index`` of ``tree``, or ``""``.

    When the leaf is a field of an attrs class, it says how to make the field static.
    """
    node: Any = tree
    path = tree_flatten_with_path(tree)[0][index][0]
    parent: Any = None
    for key in path:
        parent = node
        if isinstance(key, GetAttrKey):
            node = getattr(node, key.name)
        elif isinstance(key, DictKey):
            node = node[key.key]
        elif isinstance(key, SequenceKey) and not _is_ndarray(node):
            node = node[key.idx]
        else:
            return ""
    if parent is not None and isinstance(path[-1], GetAttrKey):
        if attrs.has(type(parent)):
            return (
                f" To keep the field {path[-1].name!r} of {type(parent).__name__} out of "
                'differentiation, declare it attrs.field(metadata={"static": True}).'
            )
        if dataclasses.is_dataclass(parent):
            return (
                f" To keep the field {path[-1].name!r} of {type(parent).__name__} out of "
                "differentiation, register it as a meta field: "
                'dataclasses.field(metadata={"static": True}).'
            )
    return ""


# --------------------------------------------------------------------------------------
# Reductions and transposition


_NO_INITIALIZER = object()


def tree_reduce(
    function: Callable[[Any, Any], Any],
    tree: Any,
    initializer: Any = _NO_INITIALIZER,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """Fold ``function`` over the leaves of ``tree``, left to right (``functools.reduce``).

    Raises:
        TypeError: if ``tree`` has no leaves and no ``initializer`` is given.

    Example:
        >>> from fad.tree import tree_reduce
        >>> tree_reduce(lambda a, b: a + b, {"w": [1.0, 2.0], "b": 0.5})
        3.5
        >>> tree_reduce(max, [], initializer=0.0)
        0.0
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INITIALIZER:
        if not leaves:
            msg = "tree_reduce of a tree with no leaves needs an initializer."
            raise TypeError(msg)
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Return whether every leaf of ``tree`` is true (``True`` for no leaves).

    Example:
        >>> from fad.tree import tree_all, tree_map
        >>> params = {"w": [1.0, -2.0], "b": 0.5}
        >>> tree_all(tree_map(lambda x: x > 0, params))
        False
    """
    return all(tree_leaves(tree, is_leaf))


def _compose(outer: PyTreeDef, inner: PyTreeDef) -> PyTreeDef:
    """The structure ``outer`` with ``inner`` in place of each of its leaves."""
    if outer.kind is None:
        return inner
    return PyTreeDef(outer.kind, outer.aux, tuple(_compose(c, inner) for c in outer.children))


def tree_transpose(
    outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: Any
) -> Any:
    """Turn a tree of structure outer-of-inner into one of structure inner-of-outer.

    Args:
        outer_treedef: the structure of the outer level.
        inner_treedef: the structure of each subtree at an outer leaf; ``None`` to
            take the structure of the first one.
        pytree_to_transpose: the tree.

    Raises:
        TypeError: if the tree is not ``outer_treedef`` of ``inner_treedef``.

    Example:
        >>> from fad.tree import tree_structure, tree_transpose
        >>> rows = [{"x": 1.0, "y": 2.0}, {"x": 3.0, "y": 4.0}]
        >>> tree_transpose(tree_structure([0, 0]), tree_structure({"x": 0, "y": 0}), rows)
        {'x': [1.0, 3.0], 'y': [2.0, 4.0]}
    """
    leaves, treedef = tree_flatten(pytree_to_transpose)
    if inner_treedef is None:
        first = _first_subtree(outer_treedef, pytree_to_transpose)
        inner_treedef = tree_structure(first)
    expected = _compose(outer_treedef, inner_treedef)
    if treedef != expected:
        msg = (
            f"tree_transpose: the tree has structure {treedef!r}, not {outer_treedef!r} "
            f"with {inner_treedef!r} at each leaf."
        )
        raise TypeError(msg)
    n_in = inner_treedef.num_leaves
    n_out = outer_treedef.num_leaves
    groups = [leaves[i * n_in : (i + 1) * n_in] for i in range(n_out)]
    columns = [[g[j] for g in groups] for j in range(n_in)]
    return tree_unflatten(inner_treedef, [tree_unflatten(outer_treedef, c) for c in columns])


def _first_subtree(outer: PyTreeDef, tree: Any) -> Any:
    """The subtree of ``tree`` at the first leaf of ``outer``."""
    while outer.kind is not None:
        if not outer.children:
            msg = "tree_transpose: inner_treedef=None needs an outer structure with leaves."
            raise TypeError(msg)
        children, _ = outer.kind.flatten(tree)
        first = next(i for i, c in enumerate(outer.children) if c.num_leaves)
        tree, outer = list(children)[first], outer.children[first]
    return tree


# --------------------------------------------------------------------------------------
# Partial


class Partial(functools.partial[T]):
    """``functools.partial`` as a pytree: the bound arguments are children, as JAX's.

    The function is static (part of the structure); the positional and keyword
    arguments are subtrees, so a ``Partial`` can be passed through the transforms
    and differentiated with respect to its bound arguments (paths ``.args[0]`` and
    ``.keywords['name']``).

    Example:
        >>> import fad
        >>> from fad.tree import Partial
        >>> scale = Partial(lambda a, x: a * x * x, 3.0)
        >>> scale(2.0)
        12.0
        >>> fad.grad(lambda p: p(2.0))(scale).args
        (4.0,)
        >>> fad.tree.tree_leaves(Partial(max, 1.0, key=None))
        [1.0]
    """

    def __new__(cls, func: Callable[..., T], /, *args: Any, **keywords: Any) -> Partial[T]:
        if isinstance(func, functools.partial) and not isinstance(func, Partial):
            # a plain functools.partial is a function: its arguments stay static, as in
            # JAX (functools.partial would otherwise merge them into this one's)
            func = _Opaque(func)
        return super().__new__(cls, func, *args, **keywords)


class _Opaque:
    """A callable wrapping ``fn`` that ``functools.partial`` does not look into."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self.fn)


def _partial_flatten(p: Partial[Any]) -> tuple[list[Any], Any]:
    return [p.args, p.keywords], p.func


def _partial_unflatten(func: Any, ch: list[Any]) -> Partial[Any]:
    args, keywords = ch
    return Partial(func, *args, **keywords)


_registry[Partial] = _NodeType(
    "Partial",
    _partial_flatten,
    _partial_unflatten,
    lambda n, aux, k: [(GetAttrKey("args"),), (GetAttrKey("keywords"),)],
    lambda func, ch: (
        f"Partial({getattr(func, '__name__', func)!s}, args={ch[0]}, keywords={ch[1]})"
    ),
)
