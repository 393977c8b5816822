"""fad.tree: pytrees of every kind, their structures, paths, and use in the transforms."""

from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, NamedTuple

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fad
from fad.tree import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    Partial,
    SequenceKey,
    keystr,
    register_pytree_node,
    register_pytree_with_keys,
    tree_all,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_leaves_with_path,
    tree_map,
    tree_map_with_path,
    tree_reduce,
    tree_structure,
    tree_transpose,
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


# --------------------------------------------------------------------------------------
# JAX's names: key paths, register_dataclass, static fields, reductions, Partial


def _follow(tree: Any, path: tuple[Any, ...]) -> Any:
    """Walk ``path`` from ``tree`` by indexing and attribute access (the oracle)."""
    for key in path:
        if isinstance(key, GetAttrKey):
            tree = getattr(tree, key.name)
        elif isinstance(key, DictKey):
            tree = tree[key.key]
        else:
            assert isinstance(key, SequenceKey)
            tree = tree[key.idx]
    return tree


@given(trees)
def test_key_paths_lead_to_their_leaves(tree: Any) -> None:
    pairs = tree_leaves_with_path(tree)
    assert [leaf for _, leaf in pairs] == tree_leaves(tree)
    for path, leaf in pairs:
        assert _follow(tree, path) is leaf
        # keystr is Python indexing syntax: it reaches the leaf too
        assert eval("tree" + keystr(path), {"tree": tree}) is leaf
        assert str(path) == keystr(path)
    assert len({tuple(p) for p, _ in pairs}) == len(pairs)
    paths = [p for p, _ in pairs]
    assert [keystr(p) for p in sorted(paths)] == sorted(keystr(p) for p in paths)


@given(trees)
def test_tree_map_with_path_sees_the_paths_of_tree_leaves_with_path(tree: Any) -> None:
    seen: list[Any] = []

    def f(p: Any, x: float, y: float) -> float:
        seen.append(p)
        return x - y

    out = tree_map_with_path(f, tree, tree)
    assert seen == [p for p, _ in tree_leaves_with_path(tree)]
    assert tree_leaves(out) == [0.0] * len(seen)
    assert tree_structure(out) == tree_structure(tree)
    with pytest.raises(ValueError, match="tree_map_with_path: argument 1"):
        tree_map_with_path(lambda p, x, y: x, tree, [tree, 1.0])


def test_keystr_simple_and_separator() -> None:
    path = (DictKey("w"), SequenceKey(2), GetAttrKey("b"), FlattenedIndexKey(0))
    assert keystr(path) == "['w'][2].b[0]"
    assert keystr(path, simple=True, separator="/") == "w/2/b/0"
    assert keystr(()) == ""
    assert tree_leaves_with_path(Box([1.0], "t"))[0][0] == (FlattenedIndexKey(0),)


def test_register_pytree_with_keys() -> None:
    class Wheel:
        def __init__(self, radius: Any, spokes: Any) -> None:
            self.radius, self.spokes = radius, spokes

    register_pytree_with_keys(
        Wheel,
        lambda w: ([(GetAttrKey("radius"), w.radius), (GetAttrKey("spokes"), w.spokes)], None),
        lambda aux, ch: Wheel(*ch),
    )
    tree = {"front": Wheel(0.3, [1.0, 2.0])}
    pairs = tree_leaves_with_path(tree)
    assert [keystr(p) for p, _ in pairs] == [
        "['front'].radius",
        "['front'].spokes[0]",
        "['front'].spokes[1]",
    ]
    assert all(_follow(tree, p) is x for p, x in pairs)
    g = fad.grad(lambda t: t["front"].radius * t["front"].spokes[1])(tree)
    assert (g["front"].radius, g["front"].spokes) == (2.0, [0.0, 0.3])


@given(trees, st.floats(-5, 5))
def test_tree_reduce_and_tree_all(tree: Any, start: float) -> None:
    leaves = tree_leaves(tree)
    assert tree_reduce(lambda a, b: a + b, tree, start) == sum(leaves, start)
    if leaves:
        assert tree_reduce(max, tree) == max(leaves)
    else:
        with pytest.raises(TypeError, match="initializer"):
            tree_reduce(max, tree)
    assert tree_all(tree_map(lambda x: x > -100, tree)) is True
    assert tree_all(tree_map(lambda x: x > 0, tree)) == all(x > 0 for x in leaves)


inner_trees = st.sampled_from(
    [1.0, (1.0, 2.0), {"a": 1.0, "b": [2.0, None]}, Pair(1.0, (2.0, 3.0)), Params(w=1.0, b=2.0)]
)


@given(inner_trees, st.integers(0, 3), st.data())
def test_tree_transpose_swaps_the_levels(inner: Any, n: int, data: st.DataObject) -> None:
    rows = Box([tree_map(lambda x: data.draw(leaf_values), inner) for _ in range(n)], "rows")
    outer_def, inner_def = tree_structure(Box([0.0] * n, "rows")), tree_structure(inner)
    t = tree_transpose(outer_def, inner_def, rows)
    is_box = lambda x: isinstance(x, Box)
    assert tree_structure(t, is_leaf=is_box) == inner_def
    # leaf j of row i is leaf i of column j (the definition, checked leaf by leaf)
    columns = tree_leaves(t, is_leaf=is_box)
    for i, row in enumerate(rows.items):
        for j, leaf in enumerate(tree_leaves(row)):
            assert columns[j].items[i] == leaf
    if n:
        assert tree_transpose(inner_def, outer_def, t) == rows
        assert tree_transpose(outer_def, None, rows) == t


def test_tree_transpose_wrong_structure() -> None:
    with pytest.raises(TypeError, match="tree_transpose: the tree has structure"):
        tree_transpose(tree_structure([0, 0]), tree_structure((0, 0)), [(1.0, 2.0), 3.0])


@dataclasses.dataclass
class Layer:
    w: list[float]
    b: float
    name: str = dataclasses.field(default="dense", metadata={"static": True})


fad.tree.register_dataclass(Layer)


@fad.tree.register_dataclass
@dataclasses.dataclass(frozen=True)
class Frozen:
    x: float
    scale: float = dataclasses.field(default=1.0, metadata={"static": True})
    cache: float = dataclasses.field(default=0.0, init=False)


def test_register_dataclass_infers_static_fields() -> None:
    layer = Layer([1.0, 2.0], 0.5, "first")
    leaves, treedef = tree_flatten(layer)
    assert leaves == [1.0, 2.0, 0.5]
    assert repr(treedef) == "PyTreeDef(Layer(w=[*, *], b=*, name='first'))"
    assert tree_unflatten(treedef, [3.0, 4.0, 5.0]) == Layer([3.0, 4.0], 5.0, "first")
    assert treedef != tree_structure(Layer([1.0, 2.0], 0.5, "second"))
    assert [keystr(p) for p, _ in tree_leaves_with_path(layer)] == [".w[0]", ".w[1]", ".b"]
    g = fad.grad(lambda lay: lay.w[0] * lay.w[1] * lay.b)(layer)
    assert g == Layer([2.0 * 0.5, 1.0 * 0.5], 2.0, "first")
    assert tree_leaves(Frozen(2.0, 3.0)) == [2.0]
    assert fad.grad(lambda f: f.x * f.x * f.scale)(Frozen(2.0, 3.0)) == Frozen(12.0, 3.0)


def test_register_dataclass_explicit_fields() -> None:
    @dataclasses.dataclass
    class Scaled:
        x: float
        factor: float
        label: str = "s"

    assert fad.tree.register_dataclass(Scaled, ["x", "factor"], ["label"]) is Scaled
    assert tree_leaves(Scaled(1.0, 2.0)) == [1.0, 2.0]

    class Plain:  # not a dataclass: the fields must be given
        def __init__(self, a: float, b: str) -> None:
            self.a, self.b = a, b

    fad.tree.register_dataclass(Plain, data_fields=["a"], meta_fields=["b"])
    g = fad.grad(lambda p: p.a**2)(Plain(3.0, "x"))
    assert (type(g), g.a, g.b) == (Plain, 6.0, "x")

    @dataclasses.dataclass
    class Dropped:
        x: float
        y: float = 0.0

    fad.tree.register_dataclass(Dropped, ["x"], [], drop_fields=["y"])
    assert tree_unflatten(tree_structure(Dropped(1.0, 5.0)), [2.0]) == Dropped(2.0, 0.0)


def test_register_dataclass_errors() -> None:
    @dataclasses.dataclass
    class D:
        x: float
        y: float

    with pytest.raises(TypeError, match="both data_fields and meta_fields"):
        fad.tree.register_dataclass(D, data_fields=["x", "y"])
    with pytest.raises(ValueError, match=r"exactly once .*\['x', 'y'\]"):
        fad.tree.register_dataclass(D, ["x"], [])
    with pytest.raises(ValueError, match="exactly once"):
        fad.tree.register_dataclass(D, ["x", "y"], ["y"])
    with pytest.raises(TypeError, match="is not a dataclass"):
        fad.tree.register_dataclass(Box)


@attrs.define
class Model:
    w: list[float]
    name: str
    activation: Any = attrs.field(default=None, metadata={"static": True})
    tag: Any = attrs.field(default="t", metadata={"static": False})


def test_attrs_str_fields_and_marked_fields_are_static() -> None:
    m = Model([1.0, 2.0], "mlp", abs, 0.5)
    leaves, treedef = tree_flatten(m)
    assert leaves == [1.0, 2.0, 0.5]
    assert repr(treedef) == (
        "PyTreeDef(Model(w=[*, *], name='mlp', activation=<built-in function abs>, tag=*))"
    )
    assert tree_unflatten(treedef, [3.0, 4.0, 5.0]) == Model([3.0, 4.0], "mlp", abs, 5.0)
    assert treedef != tree_structure(Model([1.0, 2.0], "other", abs, 0.5))
    g = fad.grad(lambda m: m.activation(m.w[0] - m.w[1]) * m.tag)(m)
    assert g == Model([-0.5, 0.5], "mlp", abs, 1.0)
    assert tree_map(lambda x: 2 * x, m) == Model([2.0, 4.0], "mlp", abs, 1.0)


def test_unmarked_non_numeric_field_is_reported_with_the_fix() -> None:
    @attrs.define
    class Flagged:
        w: float
        use_bias: bool

    with pytest.raises(TypeError) as info:
        fad.grad(lambda m: m.w)(Flagged(1.0, True))
    msg = str(info.value)
    assert "fad.grad: argument 0 at path .use_bias is a bool (True)" in msg
    assert "'use_bias' of Flagged" in msg
    assert 'attrs.field(metadata={"static": True})' in msg
    with pytest.raises(TypeError, match=r"at path \.tag is a str.*'tag' of Model"):
        fad.grad(lambda m: m.w[0])(Model([1.0], "m", None, "not a number"))
    bad: Any = "oops"
    with pytest.raises(TypeError, match=r"path \[1\]\.b is a str.*'b' of Layer.*meta field"):
        fad.grad(lambda t: t[0])((1.0, Layer([1.0], bad)))
    # a leaf that is not a field gets no such hint
    with pytest.raises(TypeError) as info:
        fad.grad(lambda t: t[0])((1.0, "oops"))
    assert "static" not in str(info.value)


def test_partial_is_a_pytree_of_its_arguments() -> None:
    def f(a: float, b: float, x: float, *, k: float = 1.0) -> float:
        return a * x + b * x * x * k

    p = Partial(f, 2.0, 3.0, k=0.5)
    assert p(2.0) == f(2.0, 3.0, 2.0, k=0.5)
    leaves, treedef = tree_flatten(p)
    assert leaves == [2.0, 3.0, 0.5]
    q = tree_unflatten(treedef, [1.0, 1.0, 1.0])
    assert isinstance(q, Partial)
    assert q.func is f
    assert q(2.0) == 6.0
    assert [keystr(path) for path, _ in tree_leaves_with_path(p)] == [
        ".args[0]",
        ".args[1]",
        ".keywords['k']",
    ]
    # the gradient of p(x) with respect to the bound arguments: (x, x² k) and b x²
    g = fad.grad(lambda p: p(2.0))(p)
    assert (g.args, g.keywords) == ((2.0, 2.0), {"k": 12.0})
    fad.testing.check_grads(lambda p: p(1.5), (p,))
    # a Partial of a Partial binds both's arguments as children
    assert tree_leaves(Partial(Partial(f, 1.0), 2.0, k=3.0)) == [1.0, 2.0, 3.0]


def test_partial_of_a_plain_functools_partial_keeps_its_arguments_static() -> None:
    inner = functools.partial(lambda mode, a, x: a * x if mode == "lin" else a, "lin")
    p = Partial(inner, 3.0)
    assert tree_leaves(p) == [3.0]
    assert p(2.0) == 6.0
    assert fad.grad(lambda p: p(2.0))(p).args == (2.0,)
