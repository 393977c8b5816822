"""fad.tree: pytrees of every kind, their structures, paths, and use in the transforms."""

from __future__ import annotations

import collections
from typing import Any, NamedTuple

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fad
from fad.tree import (
    DictKey,
    GetAttrKey,
    SequenceKey,
    keystr,
    register_pytree_node,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)


class Pair(NamedTuple):
    a: Any
    b: Any


@attrs.define
class Params:
    w: Any
    b: Any


@attrs.frozen
class Private:
    _x: Any
    y: Any = 0.0


@attrs.define
class NotInit:
    x: Any
    cache: Any = attrs.field(init=False, default=None)


class Box:
    """A user class registered as a node."""

    def __init__(self, items: list[Any], tag: str) -> None:
        self.items = items
        self.tag = tag

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and (self.items, self.tag) == (other.items, other.tag)

    __hash__ = None  # type: ignore[assignment]


register_pytree_node(Box, lambda b: (b.items, b.tag), lambda tag, items: Box(list(items), tag))

EXAMPLES: list[Any] = [
    1.0,
    None,
    (),
    [],
    {},
    (1.0, 2.0),
    [1.0, [2.0, (3.0,)]],
    {"b": 1.0, "a": 2.0, "c": [3.0, None]},
    Pair(1.0, [2.0, 3.0]),
    Params(w=[1.0, 2.0], b={"x": 3.0}),
    Private(1.0, 2.0),
    Box([1.0, 2.0], "t"),
    collections.OrderedDict([("z", 1.0), ("a", 2.0)]),
    collections.defaultdict(list, {"b": 1.0, "a": 2.0}),
    {"nested": (Pair(1.0, None), Params(w=2.0, b=(3.0, 4.0)))},
]


@pytest.mark.parametrize("tree", EXAMPLES, ids=lambda t: type(t).__name__)
def test_roundtrip(tree: Any) -> None:
    leaves, treedef = tree_flatten(tree)
    rebuilt = tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(tree)
    assert rebuilt == tree
    assert treedef.num_leaves == len(leaves)
    assert tree_structure(rebuilt) == treedef
    assert hash(tree_structure(rebuilt)) == hash(treedef)
    doubled = tree_map(lambda x: 2 * x, tree)
    assert tree_leaves(doubled) == [2 * x for x in leaves]
    assert tree_structure(doubled) == treedef


def test_dict_keys_sorted_and_ordered_dict_keeps_order() -> None:
    assert tree_leaves({"b": 1.0, "a": 2.0}) == [2.0, 1.0]
    assert tree_leaves(collections.OrderedDict([("b", 1.0), ("a", 2.0)])) == [1.0, 2.0]
    # dicts with the same keys in another insertion order have the same structure
    assert tree_structure({"a": 0.0, "b": 0.0}) == tree_structure({"b": 1.0, "a": 1.0})


def test_none_is_an_empty_subtree() -> None:
    leaves, treedef = tree_flatten([None, 1.0, (None,)])
    assert leaves == [1.0]
    assert tree_unflatten(treedef, [5.0]) == [None, 5.0, (None,)]
    assert tree_map(lambda x: x + 1, None) is None
    assert tree_structure(None) != tree_structure(0.0)


def test_structures_differ() -> None:
    assert tree_structure((1.0, 2.0)) != tree_structure([1.0, 2.0])
    assert tree_structure((1.0, 2.0)) != tree_structure((1.0, (2.0,)))
    assert tree_structure({"a": 1.0}) != tree_structure({"b": 1.0})
    assert tree_structure(Pair(1.0, 2.0)) != tree_structure((1.0, 2.0))
    assert tree_structure(Box([1.0], "x")) != tree_structure(Box([1.0], "y"))


def test_attrs_class_with_non_init_field_is_a_leaf() -> None:
    obj = NotInit(1.0)
    assert tree_leaves(obj) == [obj]


def test_tracers_are_leaves() -> None:
    d = fad.Dual(1.0, 2.0)
    c = fad.Codual(1.0, lambda k: k)
    assert tree_leaves([d, (c,)]) == [d, c]
    assert tree_flatten(d)[1].num_leaves == 1


def test_repr_of_structures() -> None:
    assert repr(tree_structure((1.0, [2.0], {"a": None}))) == "PyTreeDef((*, [*], {'a': None}))"
    assert repr(tree_structure((1.0,))) == "PyTreeDef((*,))"
    assert repr(tree_structure(Pair(1.0, 2.0))) == "PyTreeDef(Pair(a=*, b=*))"
    assert repr(tree_structure(Box([1.0], "t"))) == "PyTreeDef(Box[*])"


def test_paths() -> None:
    tree = (1.0, {"w": [2.0, 3.0]}, Pair(4.0, None), Params(w=5.0, b=6.0))
    pairs, _ = tree_flatten_with_path(tree)
    strs = ["[0]", "[1]['w'][0]", "[1]['w'][1]", "[2].a", "[3].w", "[3].b"]
    assert [keystr(p) for p, _ in pairs] == strs
    assert [str(p) for p, _ in pairs] == strs  # what the transforms' messages print
    assert [v for _, v in pairs] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert pairs[1][0] == (SequenceKey(1), DictKey("w"), SequenceKey(0))
    assert pairs[3][0] == (SequenceKey(2), GetAttrKey("a"))
    assert tree_flatten_with_path(7.0)[0] == [((), 7.0)]


def test_is_leaf() -> None:
    tree = [(1.0, 2.0), (3.0, 4.0)]
    leaves = tree_leaves(tree, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1.0, 2.0), (3.0, 4.0)]


def test_unflatten_wrong_number_of_leaves() -> None:
    treedef = tree_structure((1.0, 2.0))
    with pytest.raises(ValueError, match="fewer leaves"):
        tree_unflatten(treedef, [1.0])
    with pytest.raises(ValueError, match="more leaves"):
        tree_unflatten(treedef, [1.0, 2.0, 3.0])


def test_tree_map_structure_mismatch() -> None:
    with pytest.raises(ValueError, match="structure"):
        tree_map(lambda x, y: x + y, (1.0, 2.0), [1.0, 2.0])


@pytest.mark.parametrize("tree", EXAMPLES[5:], ids=lambda t: type(t).__name__)
def test_gradient_has_the_structure_of_the_argument(tree: Any) -> None:
    def f(t: Any) -> Any:
        return sum((x * x for x in tree_leaves(t)), 0.0)

    g = fad.grad(f)(tree)
    assert tree_structure(g) == tree_structure(tree)
    assert tree_leaves(g) == [2 * x for x in tree_leaves(tree)]
    # and every other transform agrees on the structure
    assert tree_structure(fad.grad(f, mode="naive")(tree)) == tree_structure(tree)
    assert tree_structure(fad.jacfwd(f)(tree)) == tree_structure(tree)
    assert tree_structure(fad.vjp(f, tree)[1](1.0)[0]) == tree_structure(tree)


leaf_values = st.floats(-10, 10, allow_nan=False)
trees = st.recursive(
    leaf_values | st.none(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text("abc", min_size=1, max_size=2), children, max_size=3)
        | st.builds(Pair, children, children)
    ),
    max_leaves=12,
)


@given(trees)
def test_roundtrip_drawn(tree: Any) -> None:
    leaves, treedef = tree_flatten(tree)
    assert tree_unflatten(treedef, leaves) == tree
    assert tree_structure(tree_map(lambda x: -x, tree)) == treedef
    assert len(tree_flatten_with_path(tree)[0]) == len(leaves)


@given(trees)
def test_grad_over_drawn_trees(tree: Any) -> None:
    g = fad.grad(lambda t: sum((3.0 * x for x in tree_leaves(t)), 0.0))(tree)
    assert tree_structure(g) == tree_structure(tree)
    assert all(x == 3.0 for x in tree_leaves(g))
