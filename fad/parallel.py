"""A batch split into chunks over worker processes (or a Dask cluster).

:func:`map_chunks` cuts the batch (numpy arrays or lists, along axis 0) into
``n_chunks`` contiguous chunks, submits ``fn`` once per chunk to an executor with the
``concurrent.futures`` interface, and joins the results in order. ``fn`` is usually a
:func:`fad.vmap` (or ``fad.jit(fad.vmap(...))``): it is run here on the first two points
(to learn the output's structure, shapes and dtypes, and to record its program), then
pickled once, as bytes, with the numpy programs it has recorded; each worker unpickles
it once and keeps it (keyed by those bytes), so every chunk a worker runs reuses the
same compiled program and no worker records.

On a ``ProcessPoolExecutor`` the numpy arrays do not travel through the pipe: the
parent copies the batch into one block of shared memory
(:mod:`multiprocessing.shared_memory`), or uses the block it is in already (an array
of :func:`shared_array`); each worker maps it, computes its chunk and writes its rows
of the result into a shared output block, so only the blocks' names, the shapes and
the chunk's bounds are pickled. The result is the output block itself, mapped anew
(on Linux; a copy elsewhere), and both blocks are unlinked before :func:`map_chunks`
returns, whether the chunks succeeded or raised.

With Dask, ``distributed.Client(...).get_executor()`` is such an executor: the same
call works unchanged, the chunks travelling by pickle (the workers may be on other
machines).
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from fad.tree import PyTreeDef, keystr, tree_flatten, tree_flatten_with_path, tree_unflatten

__all__ = ["map_chunks", "shared_array"]

# In a worker: the functions unpickled so far, keyed by the hash of their bytes.
_worker_functions: dict[str, Callable[..., Any]] = {}
# Blocks that could not be closed yet (a view of them was still alive): retried later.
_unclosed: list[Any] = []
# Below this many bytes a numpy leaf travels by pickle: a shared block's set-up costs more.
_MIN_SHARED_BYTES = 1 << 16
_ALIGN = 64

AxisSpec = Any  # 0, None, or a tuple / list / dict of them (a prefix of the tree)


def _np() -> Any:
    return sys.modules.get("numpy")


def _is_batch(x: Any) -> bool:
    """A leaf of the batch: a numpy array, or a list of points (numbers or lists of
    them; not a list of arrays or of other subtrees)."""
    np = _np()
    if np is not None and isinstance(x, np.ndarray):
        return True
    if not isinstance(x, list):
        return False
    while isinstance(x, list) and x:
        x = x[0]
    if isinstance(x, (dict, tuple, _Done)):  # (a _Done stands for an array)
        return False
    return not (np is not None and isinstance(x, np.ndarray))


def _function(key: str, payload: bytes) -> Callable[..., Any]:
    fn = _worker_functions.get(key)
    if fn is None:
        if len(_worker_functions) >= 8:  # a long-lived worker: keep a few
            _worker_functions.clear()
        fn = _worker_functions[key] = pickle.loads(payload)
    return fn


def _run_chunk(key: str, payload: bytes, args: tuple[Any, ...]) -> Any:
    return _function(key, payload)(*args)


# --------------------------------------------------------------------------------------
# shared memory


class _Slot:
    """Where one numpy leaf lives in a shared block: ``block[offset:]`` as ``shape``
    (C order, or, if ``last``, as ``shape[1:] + shape[:1]``: the batch axis last)."""

    __slots__ = ("block", "dtype", "last", "mapped", "offset", "shape")

    def __init__(self, block: str, offset: int, shape: tuple[int, ...], dtype: Any, mapped: bool):
        self.block, self.offset, self.shape, self.dtype = block, offset, shape, dtype
        self.mapped = mapped
        self.last = False

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.block, self.offset, self.shape, self.dtype, self.mapped, self.last)

    def __setstate__(self, s: tuple[Any, ...]) -> None:
        self.block, self.offset, self.shape, self.dtype, self.mapped, self.last = s


def _release(shm: Any) -> None:
    """Close ``shm``, or keep it for later while a view of it is alive."""
    try:
        shm.close()
    except BufferError:
        _unclosed.append(shm)


def _retry_close() -> None:
    pending = list(_unclosed)
    _unclosed.clear()
    for shm in pending:
        _release(shm)


def _attach(name: str) -> Any:
    """Map the block ``name`` that another process created (and will unlink)."""
    from multiprocessing import resource_tracker
    from multiprocessing.shared_memory import SharedMemory

    if sys.version_info >= (3, 13):
        return SharedMemory(name=name, track=False)
    # Before 3.13 attaching registers the block with this process's resource tracker,
    # which, if it is not the creator's, warns of a leak and unlinks it when the worker
    # exits. The creator tracks (and unlinks) it: attach without registering (a pool's
    # worker runs one task at a time, so the swap is not seen by another thread).
    register = resource_tracker.register
    setattr(resource_tracker, "register", lambda name, rtype: None)  # noqa: B010
    try:
        return SharedMemory(name=name)
    finally:
        setattr(resource_tracker, "register", register)  # noqa: B010


def _array(buf: Any, slot: _Slot) -> Any:
    """The array of ``slot`` in the buffer ``buf`` (of shape ``slot.shape``)."""
    np = _np()
    flat = np.frombuffer(buf, dtype=slot.dtype, count=math.prod(slot.shape), offset=slot.offset)
    if slot.last:
        return np.moveaxis(flat.reshape((*slot.shape[1:], slot.shape[0])), -1, 0)
    return flat.reshape(slot.shape)


def _view(shm: Any, slot: _Slot) -> Any:
    """The array of ``slot`` in ``shm`` (a view whose base is the block's memoryview, so
    the block cannot be closed under it)."""
    return _array(shm.buf, slot)


def _own_mapping(shm: Any) -> Any:
    """A mapping of ``shm``'s memory of its own (an ``mmap``), so that arrays on it
    outlive ``shm`` (closed and unlinked); ``None`` where the block is not a file of
    ``/dev/shm`` (then a copy is made)."""
    path = os.path.join("/dev/shm", shm.name.lstrip("/"))
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        return mmap.mmap(fd, shm.size)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


# Blocks made by shared_array that are in use: id of the buffer under the arrays ->
# (that buffer, its block's name, the address of its first byte).
_user_blocks: dict[int, tuple[Any, str, int]] = {}


@contextmanager
def shared_array(shape: int | tuple[int, ...], dtype: Any = float) -> Iterator[Any]:
    """A numpy array (zeros) in a block of shared memory, for the duration of a ``with``.

    :func:`map_chunks` passes an array made here (or a contiguous slice of one) to its
    worker processes without copying it: fill it with the batch in place of a plain
    array. The block is unlinked when the ``with`` ends.

    Args:
        shape: the array's shape.
        dtype: its dtype (a numeric one), ``float`` (float64) by default.

    Yields:
        The array.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> import fad
        >>> from fad.parallel import map_chunks, shared_array
        >>> with shared_array((4, 2)) as X, ThreadPoolExecutor(2) as ex:
        ...     X[:, 0] = [1.0, 2.0, 3.0, 4.0]
        ...     X[:, 1] = 10.0
        ...     map_chunks(fad.vmap(lambda v: v[0] * v[1]), X, executor=ex, n_chunks=2)
        array([10., 20., 30., 40.])
    """
    from multiprocessing.shared_memory import SharedMemory

    import numpy as np

    dt = np.dtype(dtype)
    if dt.kind not in "biufc":
        msg = f"fad.parallel.shared_array: dtype must be numeric, not {dt}."
        raise TypeError(msg)
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    count = 1
    for d in dims:
        count *= d
    shm = SharedMemory(create=True, size=max(count * dt.itemsize, 1))
    try:
        mm = _own_mapping(shm)
        buf: Any = shm.buf if mm is None else mm
        start = np.frombuffer(buf, np.uint8, count=1).ctypes.data
        owner = _owner(buf)
        _user_blocks[id(owner)] = (owner, shm.name, start)
        try:
            yield np.frombuffer(buf, dt, count=count).reshape(dims)
        finally:
            del _user_blocks[id(owner)]
            del buf, owner
    finally:
        shm.unlink()
        _release(shm)


def _owner(buf: Any) -> Any:
    """The object that owns the memory under a buffer (a memoryview's ``obj``)."""
    while isinstance(buf, memoryview):
        buf = buf.obj
    return buf


def _in_user_block(x: Any) -> _Slot | None:
    """Where ``x`` lies in a block of :func:`shared_array`, if it does (and is
    contiguous)."""
    np = _np()
    root = x
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    root = _owner(root)
    found = _user_blocks.get(id(root))
    if found is None or found[0] is not root or not x.flags.c_contiguous:
        return None
    return _Slot(found[1], x.ctypes.data - found[2], x.shape, x.dtype, True)


class _Done:
    """In a chunk's result, a leaf the worker wrote into its block (or that only the
    first chunk sends back)."""

    def __reduce__(self) -> str:
        return "_DONE"

    def __repr__(self) -> str:
        return "_DONE"


_DONE = _Done()


def _is_slot(x: Any) -> bool:
    return type(x) is _Slot or _is_batch(x)


def _run_shared(
    key: str, payload: bytes, args: tuple[Any, ...], lo: int, hi: int, out_slots: list[Any]
) -> Any:
    """One chunk in a worker: inputs mapped from shared blocks, results written to one.

    ``args`` holds a :class:`_Slot` in place of each shared leaf; ``out_slots`` has one
    entry per leaf of the first points' result: a slot to write it into, ``"skip"`` (a
    leaf that only the first chunk returns) or ``None`` (return it). Returns the result
    with :data:`_DONE` in place of the leaves written or skipped."""
    fn = _function(key, payload)
    _retry_close()
    blocks: dict[str, Any] = {}
    fds: dict[str, int] = {}

    def view(slot: _Slot) -> Any:
        shm = blocks.get(slot.block)
        if shm is None:
            shm = blocks[slot.block] = _attach(slot.block)
        return _view(shm, slot)

    try:
        leaves, in_def = tree_flatten(args, is_leaf=_is_slot)
        del args
        for i, leaf in enumerate(leaves):
            if type(leaf) is _Slot:
                v = view(leaf)
                v = v[lo:hi] if leaf.mapped else v
                v.flags.writeable = False  # fn reads the points; it cannot write the batch
                leaves[i] = v
        result = fn(*tree_unflatten(in_def, leaves))
        del leaves
        got, got_def = tree_flatten(result, is_leaf=_is_batch)
        if len(got) != len(out_slots):  # another structure: the parent says so
            return result
        del result
        np = _np()
        for i, (leaf, slot) in enumerate(zip(got, out_slots, strict=True)):
            if slot == "skip":
                got[i] = _DONE
            elif (
                type(slot) is _Slot
                and isinstance(leaf, np.ndarray)
                and leaf.shape == (hi - lo, *slot.shape[1:])
                and leaf.dtype == slot.dtype
            ):  # else another shape or dtype than the first points': pickled back
                fd = fds.get(slot.block)
                if fd is None:
                    fd = fds[slot.block] = _open_block(slot.block)
                if fd >= 0:
                    _write_rows(fd, slot, leaf, lo, hi)
                else:
                    target = view(slot)[lo:hi]
                    target[...] = leaf
                    del target
                got[i] = _DONE
        return tree_unflatten(got_def, got)
    finally:
        for shm in blocks.values():
            _release(shm)
        for fd in fds.values():
            if fd >= 0:
                os.close(fd)


def _open_block(name: str) -> int:
    """A file descriptor of the block ``name`` to write it with ``os.pwrite`` (no page
    faults, no mapping), or -1 where blocks are not files of ``/dev/shm``."""
    if not hasattr(os, "pwrite"):
        return -1
    try:
        return os.open(os.path.join("/dev/shm", name.lstrip("/")), os.O_WRONLY)
    except OSError:
        return -1


def _write_rows(fd: int, slot: _Slot, leaf: Any, lo: int, hi: int) -> None:
    """Write ``leaf``, the rows ``lo:hi`` of the array of ``slot``, into its block."""
    np = _np()
    item = slot.dtype.itemsize
    if slot.last:  # one run of the chunk's points per trailing index
        n = slot.shape[0]
        runs = np.ascontiguousarray(np.moveaxis(leaf, 0, -1)).reshape(-1, hi - lo)
        for t in range(runs.shape[0]):
            _pwrite_all(fd, runs[t], slot.offset + (t * n + lo) * item)
    else:
        row = item * math.prod(slot.shape[1:])
        _pwrite_all(fd, np.ascontiguousarray(leaf).reshape(-1), slot.offset + lo * row)


def _pwrite_all(fd: int, data: Any, pos: int) -> None:
    buf = memoryview(data).cast("B")
    while buf:
        k = os.pwrite(fd, buf, pos)
        buf, pos = buf[k:], pos + k


# --------------------------------------------------------------------------------------
# axes


def _one_level(x: Any) -> tuple[list[Any], PyTreeDef]:
    return tree_flatten(x, is_leaf=lambda y: y is not x)


def _leaf_axes(tree: Any, spec: AxisSpec, what: str, path: str = "") -> list[int | None]:
    """The axis (0 or None) of each leaf of ``tree`` (flattened with batches as leaves),
    ``spec`` being a prefix of ``tree``."""
    if spec is None or (isinstance(spec, int) and not isinstance(spec, bool)):
        if spec not in (0, None):
            msg = (
                f"fad.parallel.map_chunks: {what}{path} has axis {spec!r}, but map_chunks "
                "splits batches along axis 0 only; give 0 or None (not mapped), and move "
                "the axis first (numpy.moveaxis) if need be."
            )
            raise ValueError(msg)
        return [spec] * len(tree_flatten(tree, is_leaf=_is_batch)[0])
    if _is_batch(tree):
        msg = (
            f"fad.parallel.map_chunks: {what}{path} is an array or a list, so its axis "
            f"must be 0 or None, not {spec!r}."
        )
        raise ValueError(msg)
    children, t_def = _one_level(tree)
    s_children, s_def = _one_level(spec)
    if t_def != s_def:
        msg = (
            f"fad.parallel.map_chunks: the axes {spec!r} given for {what}{path} are not a "
            f"tree prefix of it (its structure is {t_def})."
        )
        raise ValueError(msg)
    paths = [keystr(p) for p, _ in tree_flatten_with_path(tree, is_leaf=lambda y: y is not tree)[0]]
    out: list[int | None] = []
    for c, s, p in zip(children, s_children, paths, strict=True):
        out += _leaf_axes(c, s, what, path + p)
    return out


def _in_axes(batches: tuple[Any, ...], in_axes: AxisSpec) -> list[list[int | None]]:
    if isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(batches):
            msg = (
                f"fad.parallel.map_chunks: in_axes={in_axes!r} has {len(in_axes)} entries "
                f"for {len(batches)} arguments; give one (0, None or a prefix tree) per "
                "argument, or a single 0 or None for all of them."
            )
            raise ValueError(msg)
        specs = list(in_axes)
    else:
        specs = [in_axes] * len(batches)
    return [
        _leaf_axes(b, s, f"argument {i}")
        for i, (b, s) in enumerate(zip(batches, specs, strict=True))
    ]


# --------------------------------------------------------------------------------------
# joining


def _join_leaf(parts: list[Any]) -> Any:
    np = _np()
    if np is not None and isinstance(parts[0], np.ndarray) and parts[0].ndim > 0:
        return np.concatenate(parts)
    if isinstance(parts[0], list):
        return [v for p in parts for v in p]
    msg = (
        "fad.parallel.map_chunks: a mapped output leaf is a "
        f"{type(parts[0]).__name__}, not an array or a list, so the chunks' results "
        "cannot be joined; give out_axes=None for an output that is the same for every "
        "chunk."
    )
    raise TypeError(msg)


def _join(results: list[Any], out_axes: AxisSpec) -> Any:
    flat = [tree_flatten(r, is_leaf=_is_batch) for r in results]
    out_def = flat[0][1]
    for c, (_, d) in enumerate(flat):
        if d != out_def:
            msg = (
                f"fad.parallel.map_chunks: fn returned {d} on chunk {c} but {out_def} "
                "on chunk 0; it must return the same structure for every chunk."
            )
            raise ValueError(msg)
    axes = _leaf_axes(results[0], out_axes, "the output")
    leaves = [
        flat[0][0][j] if axis is None else _join_leaf([f[0][j] for f in flat])
        for j, axis in enumerate(axes)
    ]
    return tree_unflatten(out_def, leaves)


def _gather(futures: list[Future[Any]], bounds: list[tuple[int, int]]) -> list[Any]:
    """The chunks' results in order; the first error re-raised once every chunk ended,
    with a note naming its chunk."""
    results: list[Any] = []
    try:
        for f in futures:
            results.append(f.result())
    except BaseException as e:
        c = len(results)
        for f in futures:
            f.cancel()
        if not isinstance(e, Exception):  # an interrupt here: do not wait for the chunks
            raise
        wait(futures)
        lo, hi = bounds[c]
        note = (
            f"fad.parallel.map_chunks: chunk {c} of {len(futures)} (points {lo}:{hi}) "
            "raised this in the executor's worker (the worker's traceback is above)."
        )
        add_note = getattr(e, "add_note", None)  # Python 3.11+
        if add_note is not None:
            add_note(note)
        raise
    return results


# --------------------------------------------------------------------------------------
# the call


def _new_block(size: int, slots: Sequence[Any], blocks: list[Any]) -> Any:
    """A new shared block of ``size`` bytes (None for 0), named in ``slots``, in ``blocks``."""
    from multiprocessing.shared_memory import SharedMemory

    if not size:
        return None
    shm = SharedMemory(create=True, size=size)
    blocks.append(shm)
    for slot in slots:
        if slot is not None:
            slot.block = shm.name
    return shm


def map_chunks(
    fn: Callable[..., Any],
    *batches: Any,
    executor: Executor,
    n_chunks: int,
    in_axes: AxisSpec = 0,
    out_axes: AxisSpec = 0,
    shared: bool | None = None,
) -> Any:
    """``fn(*batches)`` computed in ``n_chunks`` chunks of the batch, on ``executor``.

    Args:
        fn: a picklable function of batches (a :func:`fad.vmap` of a module-level
            function, typically) returning a batch or a pytree of batches.
        *batches: the arguments: pytrees whose leaves are numpy arrays or lists, the
            mapped ones all of one length along axis 0; each chunk passes the same
            slice of each mapped leaf, and the unmapped ones whole.
        executor: a ``concurrent.futures`` executor (``ProcessPoolExecutor``, or a
            Dask client's ``get_executor()``).
        n_chunks: how many chunks (at least the number of workers; fewer when the
            batch has fewer points). The chunks differ in size by at most one.
        in_axes: 0 (split along axis 0) or None (pass whole) for every argument, or one
            such entry (or a prefix tree of them) per argument, as :func:`fad.vmap`.
        out_axes: 0 (join the chunks' results along axis 0) or None (the first chunk's,
            for an output that is the same for every chunk), or a prefix tree of them.
        shared: whether numpy leaves go through shared memory. ``None``: on a
            ``ProcessPoolExecutor``, for numeric arrays of 64 KiB or more. ``True``:
            every numeric array (for executors whose workers run on this machine).
            ``False``: by pickle. A ``ThreadPoolExecutor`` shares the arrays anyway.

    Returns:
        The chunks' results joined in order along axis 0 (through shared memory, a
        numpy output is the output block itself, mapped again for the caller).

    Raises:
        ValueError: for mapped leaves of different lengths, ``in_axes`` or
            ``out_axes`` that do not fit, or ``n_chunks < 1``.
        TypeError: if ``fn`` does not pickle (for an executor of processes).
        Exception: what ``fn`` raised in a worker, of its type, with a note naming
            the chunk.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> import fad
        >>> from fad.parallel import map_chunks
        >>> f = fad.vmap(fad.grad(lambda x: x * x * x))
        >>> with ThreadPoolExecutor(2) as ex:
        ...     map_chunks(f, [1.0, 2.0, 3.0, 4.0, 5.0], executor=ex, n_chunks=2)
        [3.0, 12.0, 27.0, 48.0, 75.0]
    """
    if not isinstance(n_chunks, int) or isinstance(n_chunks, bool) or n_chunks < 1:
        msg = f"fad.parallel.map_chunks: n_chunks must be a positive int, not {n_chunks!r}."
        raise ValueError(msg)
    if not batches:
        msg = "fad.parallel.map_chunks: give at least one batch to split."
        raise ValueError(msg)
    axes = _in_axes(batches, in_axes)
    flat_in = [tree_flatten_with_path(b, is_leaf=_is_batch)[0] for b in batches]
    sizes: list[tuple[str, int]] = []
    for i, (pl, ax) in enumerate(zip(flat_in, axes, strict=True)):
        for (path, leaf), a in zip(pl, ax, strict=True):
            if a is None:
                continue
            if not _is_batch(leaf) or (hasattr(leaf, "ndim") and leaf.ndim == 0):
                msg = (
                    f"fad.parallel.map_chunks: argument {i}{keystr(path)} is a "
                    f"{type(leaf).__name__}, which has no axis 0 to split; give an array "
                    "or a list of the points, or in_axes=None for it."
                )
                raise ValueError(msg)
            sizes.append((f"argument {i}{keystr(path)}", len(leaf)))
    if not sizes:
        msg = "fad.parallel.map_chunks: no argument is mapped (in_axes is None for all)."
        raise ValueError(msg)
    if any(s != sizes[0][1] for _, s in sizes):
        shown = ", ".join(f"{w} has {s}" for w, s in sizes)
        msg = f"fad.parallel.map_chunks: the batches differ in length along axis 0 ({shown})."
        raise ValueError(msg)
    n = sizes[0][1]
    if n == 0:  # nothing to split
        return fn(*batches)
    k = min(n_chunks, n)
    bounds = [(i * n // k, (i + 1) * n // k) for i in range(k)]
    in_leaves, in_def = tree_flatten(batches, is_leaf=_is_batch)
    leaf_axes = [a for ax in axes for a in ax]

    def chunk(lo: int, hi: int) -> tuple[Any, ...]:
        cut = [x if a is None else x[lo:hi] for x, a in zip(in_leaves, leaf_axes, strict=True)]
        args: tuple[Any, ...] = tree_unflatten(in_def, cut)
        return args

    if isinstance(executor, ThreadPoolExecutor):  # one process: nothing to pickle
        futures = [executor.submit(fn, *chunk(lo, hi)) for lo, hi in bounds]
        return _join(_gather(futures, bounds), out_axes)
    np = _np()
    auto = shared is None
    use_shared = isinstance(executor, ProcessPoolExecutor) if auto else bool(shared)
    use_shared = use_shared and np is not None
    # The first points in this process: the output's structure, and the program recorded
    # here, so that it travels with fn and the workers never record.
    _retry_close()
    try:
        probe = fn(*chunk(0, min(n, 2)))
    except Exception as e:
        add_note = getattr(e, "add_note", None)  # Python 3.11+
        if add_note is not None:
            add_note(
                "fad.parallel.map_chunks: raised by fn on the first two points, run in "
                "this process to learn the output's structure before the chunks are sent."
            )
        raise
    try:
        payload = pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        msg = (
            f"fad.parallel.map_chunks: fn does not pickle ({e}), so it cannot be sent to "
            "worker processes. Define the function (and its gradient, "
            "def g(x): return fad.grad(f)(x)) at module level, and vmap that."
        )
        raise TypeError(msg) from None
    key = hashlib.sha1(payload).hexdigest()
    if use_shared:
        return _map_shared(
            _Job(key, payload, in_leaves, in_def, leaf_axes, bounds, chunk),
            probe,
            executor,
            out_axes,
            _MIN_SHARED_BYTES if auto else 0,
        )
    futures = [executor.submit(_run_chunk, key, payload, chunk(lo, hi)) for lo, hi in bounds]
    return _join(_gather(futures, bounds), out_axes)


class _Job:
    """One call of :func:`map_chunks`: the function's bytes and the flattened batch."""

    def __init__(
        self,
        key: str,
        payload: bytes,
        in_leaves: list[Any],
        in_def: PyTreeDef,
        leaf_axes: list[int | None],
        bounds: list[tuple[int, int]],
        chunk: Callable[[int, int], tuple[Any, ...]],
    ) -> None:
        self.key, self.payload = key, payload
        self.in_leaves, self.in_def, self.leaf_axes = in_leaves, in_def, leaf_axes
        self.bounds, self.chunk = bounds, chunk


def _map_shared(
    job: _Job, probe: Any, executor: Executor, out_axes: AxisSpec, min_bytes: int
) -> Any:
    np = _np()
    n = job.bounds[-1][1]

    def layout(items: list[tuple[Any, tuple[int, ...]]]) -> tuple[list[Any], int]:
        """Slots in one block for the numeric arrays ``x`` of ``items``, of ``shape``
        (``x``'s for the inputs, ``n`` rows like the first points' for the outputs)."""
        slots: list[Any] = []
        size = 0
        for x, shape in items:
            ok = isinstance(x, np.ndarray) and x.ndim >= 1 and x.dtype.kind in "biufc"
            nbytes = x.dtype.itemsize * math.prod(shape) if ok else 0
            if ok and nbytes >= max(min_bytes, 1):
                slots.append(_Slot("", size, shape, x.dtype, True))
                size += -(-nbytes // _ALIGN) * _ALIGN
            else:
                slots.append(None)
        return slots, size

    user = [_in_user_block(x) if isinstance(x, np.ndarray) else None for x in job.in_leaves]
    in_slots, in_size = layout(
        [
            (None if u is not None else x, getattr(x, "shape", ()))
            for x, u in zip(job.in_leaves, user, strict=True)
        ]
    )
    for slot, a in zip(in_slots, job.leaf_axes, strict=True):
        if slot is not None:
            slot.mapped = a is not None
    p_leaves, out_def = tree_flatten(probe, is_leaf=_is_batch)
    o_axes = _leaf_axes(probe, out_axes, "the output")
    m = min(n, 2)
    rows = [  # a mapped array of the first points' output: m rows of it, n in all
        a == 0 and isinstance(x, np.ndarray) and x.ndim >= 1 and len(x) == m
        for x, a in zip(p_leaves, o_axes, strict=True)
    ]
    out_slots, out_size = layout(
        [(x, (n, *x.shape[1:])) if ok else (None, ()) for x, ok in zip(p_leaves, rows, strict=True)]
    )
    for slot, x in zip(out_slots, p_leaves, strict=True):
        # fn's rows laid out with the batch axis last in memory (as fad.vmap's are):
        # kept so in the block, where each chunk writes runs of its points
        if slot is not None and m == 2 and x.ndim >= 2 and not x.flags.c_contiguous:
            slot.last = np.moveaxis(x, 0, -1).flags.c_contiguous
    del probe, p_leaves
    blocks: list[Any] = []
    try:
        shm_in = _new_block(in_size, in_slots, blocks)
        for i, u in enumerate(user):  # in a block of shared_array already: no copy
            if u is not None:
                u.mapped = job.leaf_axes[i] is not None
                in_slots[i] = u
        shm_out = _new_block(out_size, out_slots, blocks)
        futures = []
        for c, (lo, hi) in enumerate(job.bounds):
            sent = []
            for x, a, slot in zip(job.in_leaves, job.leaf_axes, in_slots, strict=True):
                if slot is None:
                    sent.append(x if a is None else x[lo:hi])
                    continue
                if slot.block == getattr(shm_in, "name", None) and (a is not None or c == 0):
                    _fill(shm_in, slot, x, lo, hi)  # each chunk's slice just before it runs
                sent.append(slot)
            outs = [
                slot if slot is not None else ("skip" if a is None and c > 0 else None)
                for slot, a in zip(out_slots, o_axes, strict=True)
            ]
            args = tree_unflatten(job.in_def, sent)
            futures.append(executor.submit(_run_shared, job.key, job.payload, args, lo, hi, outs))
        results = []
        for c, r in enumerate(_gather(futures, job.bounds)):
            r_leaves, r_def = tree_flatten(r, is_leaf=lambda y: y is _DONE or _is_batch(y))
            results.append(r_leaves)
            if r_def != out_def:
                msg = (
                    f"fad.parallel.map_chunks: fn returned {r_def} on chunk {c} but "
                    f"{out_def} on the first points; it must return the same structure "
                    "for every chunk."
                )
                raise ValueError(msg)
        leaves = []
        own = None if shm_out is None else _own_mapping(shm_out)
        for j, (slot, a) in enumerate(zip(out_slots, o_axes, strict=True)):
            parts = [r[j] for r in results]
            if a is None:
                leaves.append(parts[0])
            elif slot is None:
                leaves.append(_join_leaf(parts))
            else:
                leaves.append(_collect(shm_out, own, slot, parts, job.bounds))
        del results
        return tree_unflatten(out_def, leaves)
    finally:
        for shm in blocks:
            try:
                shm.unlink()
            finally:
                _release(shm)


def _fill(shm: Any, slot: _Slot, x: Any, lo: int, hi: int) -> None:
    dst = _view(shm, slot)
    if slot.mapped:
        dst[lo:hi] = x[lo:hi]
    else:
        dst[...] = x


def _collect(
    shm: Any, own: Any, slot: _Slot, parts: list[Any], bounds: list[tuple[int, int]]
) -> Any:
    """An output leaf out of its block: on ``own`` (a mapping of the block that outlives
    it) where there is one, else a copy (the block is unlinked on return)."""
    np = _np()
    if own is not None and all(p is _DONE for p in parts):
        return _array(own, slot)
    view = _view(shm, slot)
    if all(p is _DONE for p in parts):
        return view.copy(order="K")
    return np.concatenate(
        [view[lo:hi] if p is _DONE else p for p, (lo, hi) in zip(parts, bounds, strict=True)]
    )
