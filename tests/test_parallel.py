"""fad.parallel.map_chunks over a process pool, against the same call in this process.

The oracle is ``fn(*batches)`` computed here, in one piece: the chunks (by shared
memory or by pickle) must give the same bits, in every split of the batch.
"""

from __future__ import annotations

import mmap
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fad
from fad import parallel
from fad.parallel import map_chunks, shared_array

np = pytest.importorskip("numpy")

ROOT = Path(__file__).resolve().parent.parent


# module level: the workers find them by reference
def loss(v: Any) -> Any:
    return fad.math.sin(v[0]) * v[1] + fad.math.exp(0.5 * v[2]) * v[0] * v[0]


def loss_grad(v: Any) -> Any:
    return fad.grad(loss)(v)


def fit(w: Any, d: Any) -> Any:
    """Per point: a gradient in the weights, a value, and the weights' norm (the same for
    every point)."""
    r = w[0] * d["x"][0] + w[1] * fad.math.tanh(d["x"][1]) - d["y"]
    return (
        fad.grad(lambda u: (u[0] * d["x"][0] + u[1] * d["x"][1] - d["y"]) ** 2)(w),
        r,
        (w[0] * w[0] + w[1] * w[1]),
    )


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def pair_jac(v: Any) -> Any:
    return fad.jacfwd(lambda u: [u[0] * u[1], fad.math.sin(u[0]) + u[1]])(v)


def boom(x: Any) -> Any:
    if (x > 100.0).any():
        msg = "a point above 100"
        raise ValueError(msg)
    return x * 2.0


def narrower_on_negatives(x: Any) -> Any:
    """float64 results, except float32 for a chunk that starts with a negative point."""
    out = x[:, :1] * 2.0
    return out.astype(np.float32) if x[0, 0] < 0 else out


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2) as ex:
        yield ex


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the shared blocks this process creates during the test."""
    names: list[str] = []

    class Recording(shared_memory.SharedMemory):
        def __init__(self, name: str | None = None, create: bool = False, size: int = 0):
            super().__init__(name, create, size)
            if create:
                names.append(self.name)

    monkeypatch.setattr(shared_memory, "SharedMemory", Recording)
    return names


def assert_unlinked(names: list[str]) -> None:
    assert not parallel._unclosed
    for name in names:
        with pytest.raises(FileNotFoundError):
            shared_memory.SharedMemory(name=name)


F = fad.vmap(loss_grad)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    n_chunks=st.integers(1, 7),
    shared=st.sampled_from([None, True, False]),
    seed=st.integers(0, 2**32 - 1),
)
def test_chunks_equal_the_call_in_this_process(
    pool: ProcessPoolExecutor, n: int, n_chunks: int, shared: bool | None, seed: int
) -> None:
    X = np.random.default_rng(seed).uniform(-2.0, 2.0, size=(n, 3))
    got = map_chunks(F, X, executor=pool, n_chunks=n_chunks, shared=shared)
    want = F(X)
    assert got.dtype == want.dtype
    assert got.shape == want.shape == (n, 3)
    assert np.array_equal(got, want)  # the same bits: one program, any split
    assert not parallel._unclosed


def test_shared_blocks_are_unlinked(pool: ProcessPoolExecutor, created: list[str]) -> None:
    X = np.linspace(-1.0, 1.0, 3 * 3000).reshape(3000, 3)  # 72 kB: shared by default
    assert np.array_equal(map_chunks(F, X, executor=pool, n_chunks=3), F(X))
    assert len(created) == 2  # one block in, one out
    with pytest.raises(ValueError, match="a point above 100") as info:
        map_chunks(boom, np.where(np.arange(10000) == 7000, 1e3, 1.0), executor=pool, n_chunks=2)
    assert len(created) == 4
    assert_unlinked(created)
    notes = getattr(info.value, "__notes__", None)
    if notes is not None:  # Python 3.11+
        assert "chunk 1 of 2 (points 5000:10000)" in notes[0]


def test_a_shared_array_is_not_copied(pool: ProcessPoolExecutor, created: list[str]) -> None:
    rng = np.random.default_rng(5)
    data = rng.uniform(-1.0, 1.0, size=(6001, 3))
    with shared_array(data.shape) as X:
        assert not X.any()
        X[...] = data
        got = map_chunks(F, X, executor=pool, n_chunks=4)
        assert len(created) == 2  # X's, and the output's: the batch was not copied
        tail = map_chunks(F, X[3000:], executor=pool, n_chunks=2)  # a slice of it too
        assert len(created) == 3
        cols = map_chunks(F, X[:, ::-1], executor=pool, n_chunks=2)  # strided: copied
        assert len(created) == 5
        assert np.array_equal(X, data)  # the workers could not write it
    assert_unlinked(created)
    if Path("/dev/shm").is_dir():  # the result is the output block itself, mapped anew
        root = got
        while isinstance(root, np.ndarray) and root.base is not None:
            root = root.base
        assert isinstance(parallel._owner(root), mmap.mmap)
    assert np.array_equal(got, F(data))
    assert np.array_equal(tail, F(data[3000:]))
    assert np.array_equal(cols, F(data[:, ::-1]))
    with pytest.raises(TypeError, match="dtype must be numeric"), shared_array(3, object):
        pass


def test_without_dev_shm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where blocks are not files of /dev/shm: the workers write through their mapping,
    and the result is a copy out of the output block."""
    import multiprocessing

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the workers must inherit the patched module")
    monkeypatch.setattr(parallel, "_open_block", lambda name: -1)
    monkeypatch.setattr(parallel, "_own_mapping", lambda shm: None)
    X = np.random.default_rng(11).normal(size=(5000, 3))
    with ProcessPoolExecutor(2) as ex:
        got = map_chunks(F, X, executor=ex, n_chunks=3)
    assert got.base is None  # a copy, not the block
    assert np.array_equal(got, F(X))
    assert not parallel._unclosed


def test_pytrees_with_mapped_and_unmapped_leaves(pool: ProcessPoolExecutor) -> None:
    rng = np.random.default_rng(3)
    w = [0.5, -1.5]
    data = {"x": rng.normal(size=(11, 2)), "y": rng.normal(size=11)}
    fn = fad.vmap(fit, in_axes=(None, 0), out_axes=(0, 0, None))
    for shared, weights in [(True, w), (False, w), (True, np.array(w))]:  # shared, whole
        want = fn(weights, data)
        got = map_chunks(
            fn,
            weights,
            data,
            executor=pool,
            n_chunks=3,
            in_axes=(None, 0),
            out_axes=(0, 0, None),
            shared=shared,
        )
        assert type(got) is tuple
        assert len(got) == 3
        assert np.array_equal(got[0], want[0])
        assert np.array_equal(got[1], want[1])
        assert got[2] == want[2] == 0.5**2 + 1.5**2
    # a prefix tree of axes within an argument: y mapped, x whole
    g = fad.vmap(lambda d: d["x"][0] * d["y"], in_axes=({"x": None, "y": 0},))
    with ThreadPoolExecutor(2) as ex:
        got = map_chunks(
            g,
            {"x": [2.0], "y": [1.0, 2.0, 3.0]},
            executor=ex,
            n_chunks=2,
            in_axes=({"x": None, "y": 0},),
        )
    assert got == [2.0, 4.0, 6.0]


def test_results_keep_the_layout_of_the_call_here(pool: ProcessPoolExecutor) -> None:
    """fad.vmap's outputs have the batch axis last in memory; the shared output block
    keeps that layout (each chunk writes runs of its points), for 2-D and 3-D leaves."""
    X = np.random.default_rng(7).normal(size=(9, 2))
    for fn, Y in [(fad.vmap(pair_jac), X), (fad.vmap(loss_grad), np.column_stack([X, X[:, 0]]))]:
        want = fn(Y)
        got = map_chunks(fn, Y, executor=pool, n_chunks=4, shared=True)
        assert type(got) is type(want)
        got_leaves, want_leaves = (fad.tree.tree_leaves(t, is_leaf=_is_array) for t in (got, want))
        assert len(got_leaves) == len(want_leaves) >= 1
        for g, w in zip(got_leaves, want_leaves, strict=True):
            assert np.array_equal(g, w)
            assert g.strides == w.strides


def test_lists_and_small_batches(pool: ProcessPoolExecutor) -> None:
    pts = [[0.1 * i, 1.0 - 0.1 * i, 0.3] for i in range(5)]
    want = fad.vmap(loss_grad)(pts)
    assert map_chunks(fad.vmap(loss_grad), pts, executor=pool, n_chunks=8) == want
    X = np.array(pts)
    for k in (1, 2, 4, 5, 9):  # unequal chunks, and fewer points than chunks
        assert np.array_equal(map_chunks(F, X, executor=pool, n_chunks=k, shared=True), F(X))


def test_a_chunk_of_another_dtype_comes_back_by_pickle(pool: ProcessPoolExecutor) -> None:
    X = np.linspace(-1.0, 1.0, 20).reshape(10, 2)[::-1].copy()  # chunk 1 starts negative
    got = map_chunks(narrower_on_negatives, X, executor=pool, n_chunks=2, shared=True)
    want = np.concatenate([narrower_on_negatives(X[:5]), narrower_on_negatives(X[5:])])
    assert got.dtype == want.dtype == np.float64
    assert np.array_equal(got, want)


def test_bad_input() -> None:
    X = np.zeros((4, 3))
    with ThreadPoolExecutor(1) as ex:
        with pytest.raises(TypeError, match="mapped output leaf is a float64"):
            map_chunks(lambda x: x.sum(), X, executor=ex, n_chunks=2)
        with pytest.raises(ValueError, match=r"argument 1\['y'\] has 3"):
            map_chunks(F, X, {"y": X[:3]}, executor=ex, n_chunks=2)
        with pytest.raises(ValueError, match=r"in_axes=.* has 1 entries for 2 arguments"):
            map_chunks(F, X, X, executor=ex, n_chunks=2, in_axes=(0,))
        with pytest.raises(ValueError, match=r"argument 0 has axis 1.*axis 0 only"):
            map_chunks(F, X, executor=ex, n_chunks=2, in_axes=1)
        with pytest.raises(ValueError, match=r"argument 0\[1\] is a float.*in_axes=None"):
            map_chunks(F, (X, 2.0), executor=ex, n_chunks=2)
        with pytest.raises(ValueError, match="n_chunks must be a positive int"):
            map_chunks(F, X, executor=ex, n_chunks=0)
        with pytest.raises(ValueError, match="no argument is mapped"):
            map_chunks(F, X, executor=ex, n_chunks=2, in_axes=None)


def test_no_resource_tracker_warnings() -> None:
    """In a fresh interpreter whose workers started before any block existed (so before
    the resource tracker), a good call and a failing one leave stderr empty."""
    code = (
        "import numpy as np\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from fad.parallel import map_chunks\n"
        "from tests.test_parallel import F, boom\n"
        "X = np.linspace(0.0, 1.0, 30000).reshape(10000, 3)\n"
        "with ProcessPoolExecutor(2) as ex:\n"
        "    list(ex.map(abs, [1, 2, 3, 4]))\n"
        "    assert np.array_equal(map_chunks(F, X, executor=ex, n_chunks=2), F(X))\n"
        "    try:\n"
        "        map_chunks(boom, X + (X > 0.9) * 200.0, executor=ex, n_chunks=2)\n"
        "    except ValueError:\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError\n"
        "print('ok')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
    assert r.stderr == ""
