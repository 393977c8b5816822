"""numpy arrays as pytree nodes: the transforms give what the same code gives on lists.

The oracle is fad on nested lists (``array.tolist()``): an array argument must give the
numbers that list gives, with the array's shape, and a Jacobian must be the float array
``numpy.array(jacobian_of_lists)`` of shape output.shape + input.shape (JAX's layout).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad._core import is_tracer
from fad.tree import (
    SequenceKey,
    keystr,
    tree_flatten,
    tree_leaves,
    tree_leaves_with_path,
    tree_map,
    tree_structure,
    tree_unflatten,
)

np = pytest.importorskip("numpy")

shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
values = st.floats(-2, 2, allow_nan=False, allow_infinity=False)


@st.composite
def arrays(draw: Any, shape: Any = shapes) -> Any:
    s = draw(shape)
    n = int(np.prod(s, dtype=int))
    return np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=float).reshape(s)


def _flat(v: Any) -> list[Any]:
    """The elements of an array or of nested lists, in C order (fad.tree's own order)."""
    return tree_leaves(v)


def scalar_fun(v: Any) -> Any:
    """A scalar function of every element, the same code for arrays and nested lists."""
    total: Any = 0.0
    for i, e in enumerate(_flat(v)):
        total = total + fad.math.sin(e) * (i + 1) + e * e * e
    return total


def vector_fun(v: Any) -> Any:
    """An array → array function (output shape (2,) + input shape) and its list twin."""
    if isinstance(v, list) or not hasattr(v, "shape"):
        return [tree_map(lambda e: e * e, v), tree_map(fad.math.exp, v)]
    return np.stack([v * v, np.vectorize(fad.math.exp, otypes=[object])(v)])


@settings(max_examples=30)
@given(arrays())
def test_grad_of_an_array_is_the_grad_of_its_list(x: Any) -> None:
    g = fad.grad(scalar_fun)(x)
    assert type(g) is np.ndarray
    assert g.shape == x.shape
    assert g.dtype == np.float64
    expected = fad.grad(scalar_fun)(x.tolist())
    assert g.tolist() == expected
    for mode in ("naive", "memo"):
        assert fad.grad(scalar_fun, mode=mode)(x).tolist() == expected


@settings(max_examples=25)
@given(arrays(shapes.filter(lambda s: 0 < len(s) <= 2)))
def test_jacobians_of_arrays_have_jax_layout(x: Any) -> None:
    expected = np.array(fad.jacfwd(vector_fun)(x.tolist()))
    for jac in (fad.jacfwd, fad.jacrev):
        j = jac(vector_fun)(x)
        assert type(j) is np.ndarray
        assert j.dtype == np.float64
        assert j.shape == (2, *x.shape, *x.shape)
        assert np.array_equal(j, expected)


@settings(max_examples=20)
@given(arrays(shapes.filter(lambda s: 0 < len(s) <= 2)))
def test_hessian_of_an_array_is_a_square_float_array(x: Any) -> None:
    h = fad.hessian(scalar_fun)(x)
    assert type(h) is np.ndarray
    assert h.dtype == np.float64
    assert h.shape == x.shape + x.shape
    expected = np.array(fad.hessian(scalar_fun)(x.tolist()))
    assert np.allclose(h, expected, rtol=1e-14, atol=1e-14)
    assert np.allclose(h, np.array(fad.jacfwd(fad.jacrev(scalar_fun))(x)), atol=1e-14)


def test_tuple_argnums_give_tuples_of_arrays_as_jax() -> None:
    x, y = np.array([1.0, 2.0, 3.0]), np.array([[4.0, 5.0]])

    def f(a: Any, b: Any) -> Any:
        return a * b.sum()

    ja, jb = fad.jacrev(f, argnums=(0, 1))(x, y)
    assert ja.shape == (3, 3)
    assert jb.shape == (3, 1, 2)
    assert np.array_equal(ja, 9.0 * np.eye(3))
    assert np.array_equal(jb, np.broadcast_to(x[:, None, None], (3, 1, 2)))
    assert np.array_equal(fad.jacfwd(f, argnums=(0, 1))(x, y)[1], jb)

    def s(a: Any, b: Any) -> Any:
        return (a * a).sum() * b.sum()

    (haa, hab), (hba, hbb) = fad.hessian(s, argnums=(0, 1))(x, y)
    shapes_seen = (haa.shape, hab.shape, hba.shape, hbb.shape)
    assert shapes_seen == ((3, 3), (3, 1, 2), (1, 2, 3), (1, 2, 1, 2))
    assert np.array_equal(haa, 2 * 9.0 * np.eye(3))
    assert np.array_equal(hab[:, 0, 0], 2 * x)
    assert np.array_equal(hba[0, 1], 2 * x)
    assert not hbb.any()


def test_flatten_in_c_order_and_rebuild() -> None:
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    leaves, treedef = tree_flatten(a)
    assert leaves == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(type(x) is float for x in leaves)
    assert repr(treedef) == "PyTreeDef(ndarray(shape=(2, 3)))"
    back = tree_unflatten(treedef, leaves)
    assert back.shape == (2, 3)
    assert back.dtype == np.float64
    assert np.array_equal(back, a)
    # the structure is the shape: not the dtype, so a float gradient matches int params
    ints = np.arange(6).reshape(2, 3)
    assert tree_structure(ints) == treedef != tree_structure(np.zeros(6))
    assert tree_map(lambda x: x + 1, ints).dtype == ints.dtype
    # key paths index the array
    pairs = tree_leaves_with_path({"w": a})
    assert keystr(pairs[4][0]) == "['w'][1][1]"
    assert pairs[4][0][1:] == (SequenceKey(1), SequenceKey(1))
    assert all(eval("t" + keystr(p), {"t": {"w": a}}) == x for p, x in pairs)


def test_zero_size_and_zero_dim_arrays() -> None:
    g0 = fad.grad(lambda v: v * v.sum())(np.array(3.0))
    assert g0.shape == ()
    assert float(g0) == 6.0
    g = fad.grad(lambda v: 1.0 + sum(tree_leaves(v), 0.0))(np.zeros((2, 0)))
    assert g.shape == (2, 0)
    assert g.dtype == np.float64


def test_integer_arrays_and_numpy_scalars_behave_as_numbers() -> None:
    assert fad.grad(scalar_fun)(np.arange(4)).tolist() == fad.grad(scalar_fun)([0.0, 1.0, 2.0, 3.0])
    for x in (np.float64(1.5), np.int64(2), np.float32(0.25)):
        g = fad.grad(lambda s: fad.math.sin(s) * s)(x)
        assert g == fad.grad(lambda s: fad.math.sin(s) * s)(float(x))
        assert type(g) is float
    assert fad.jvp(lambda s: s * s, (np.float64(3.0),), (np.float64(1.0),)) == (9.0, 6.0)
    assert fad.hessian(lambda s: s**3)(np.int64(2)) == 12.0


def test_tracers_in_arrays_are_object_arrays() -> None:
    seen: list[Any] = []

    def f(v: Any) -> Any:
        seen.append(v)
        return (v * v).sum()

    assert fad.grad(f)(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    assert seen[0].dtype == object
    assert seen[0].shape == (2,)
    assert all(is_tracer(t) for t in seen[0])


def test_bad_leaves_in_arrays_are_reported_with_their_path() -> None:
    with pytest.raises(TypeError, match=r"fad.grad: argument 0 at path \[0\] is a bool"):
        fad.grad(lambda v: 0.0)(np.array([True, False]))
    with pytest.raises(TypeError, match=r"argument 0 at path \['z'\]\[0\]\[0\] is a complex"):
        fad.grad(lambda v: 0.0)({"z": np.array([[1.0, 2j]])})
    with pytest.raises(TypeError, match=r"output of fun at path \[0\] is a str"):
        fad.jacrev(lambda v: np.array(["a"]))(np.array([1.0]))


def test_fad_imports_and_works_without_numpy() -> None:
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import fad\n"
        "assert fad.grad(lambda v: v[0] * v[1])([2.0, 3.0]) == [3.0, 2.0]\n"
        "assert fad.tree.tree_leaves({'a': [1.0]}) == [1.0]\n"
        "assert 'numpy' not in sys.modules or sys.modules['numpy'] is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=20)
@given(arrays(shapes.filter(lambda s: 0 < len(s) <= 2)), st.data())
def test_jvp_vjp_and_check_grads_on_arrays(x: Any, data: st.DataObject) -> None:
    t = data.draw(arrays(st.just(x.shape)))
    ct = data.draw(arrays(st.just((2, *x.shape))))
    out, t_out = fad.jvp(vector_fun, (x,), (t,))
    out_l, t_out_l = fad.jvp(vector_fun, (x.tolist(),), (t.tolist(),))
    assert out.shape == t_out.shape == (2, *x.shape)
    assert t_out.tolist() == t_out_l
    assert out.tolist() == out_l
    _, f_vjp = fad.vjp(vector_fun, x)
    _, f_vjp_l = fad.vjp(vector_fun, x.tolist())
    (x_bar,) = f_vjp(ct)
    assert x_bar.shape == x.shape
    assert x_bar.tolist() == f_vjp_l(ct.tolist())[0]
    fad.testing.check_grads(scalar_fun, (x,))


def test_jacobian_of_a_dict_of_arrays_is_a_dict_of_arrays_as_jax() -> None:
    p = {"a": np.array([1.0, 2.0]), "b": np.array([[3.0, 4.0, 5.0]])}

    def f(p: Any) -> Any:
        return p["a"] * p["b"].sum()

    for jac in (fad.jacfwd, fad.jacrev):
        j = jac(f)(p)
        assert sorted(j) == ["a", "b"]
        assert j["a"].shape == (2, 2)
        assert j["b"].shape == (2, 1, 3)
        assert np.array_equal(j["a"], 12.0 * np.eye(2))
        assert np.array_equal(j["b"], np.broadcast_to(p["a"][:, None, None], (2, 1, 3)))
