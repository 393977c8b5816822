"""A batch split into chunks over worker processes (or a Dask cluster).

:func:`map_chunks` cuts the batch (numpy arrays or lists, along axis 0) into
``n_chunks`` contiguous chunks, submits ``fn`` once per chunk to an executor with the
``concurrent.futures`` interface, and joins the results in order. ``fn`` is usually a
:func:`fad.vmap` (or ``fad.jit(fad.vmap(...))``): it is pickled once, as bytes, with
the numpy programs it has recorded so far (call it once on a small slice first, and
the workers never record), and each worker unpickles it once and keeps it (keyed by
those bytes), so every chunk a worker runs reuses the same compiled program.

With Dask, ``distributed.Client(...).get_executor()`` is such an executor; the same
call works unchanged.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

__all__ = ["map_chunks"]

_worker_functions: dict[str, Callable[..., Any]] = {}


def _run_chunk(key: str, payload: bytes, args: tuple[Any, ...]) -> Any:
    fn = _worker_functions.get(key)
    if fn is None:
        fn = _worker_functions[key] = pickle.loads(payload)
    return fn(*args)


def _length(x: Any) -> int:
    return len(x)


def _split(x: Any, bounds: list[tuple[int, int]]) -> list[Any]:
    return [x[lo:hi] for lo, hi in bounds]


def _join(parts: list[Any]) -> Any:
    from fad.tree import tree_flatten, tree_unflatten

    first = parts[0]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(first, np.ndarray):
        return np.concatenate(parts)
    if isinstance(first, list) and not (first and isinstance(first[0], (dict, tuple))):
        return [v for p in parts for v in p]
    leaves_list = []
    treedef = None
    for p in parts:  # a pytree of batched leaves: join leaf by leaf
        leaves, d = tree_flatten(
            p,
            is_leaf=lambda y: isinstance(y, list) or (np is not None and isinstance(y, np.ndarray)),
        )
        treedef = d
        leaves_list.append(leaves)
    assert treedef is not None
    return tree_unflatten(treedef, [_join(list(col)) for col in zip(*leaves_list, strict=True)])


def map_chunks(
    fn: Callable[..., Any],
    *batches: Any,
    executor: Executor,
    n_chunks: int,
) -> Any:
    """``fn(*batches)`` computed in ``n_chunks`` chunks of the batch, on ``executor``.

    Args:
        fn: a picklable function of batches (a :func:`fad.vmap` of a module-level
            function, typically) returning a batch or a pytree of batches.
        *batches: the batched arguments (numpy arrays or lists), all of one length
            along axis 0; each chunk passes the same slice of each.
        executor: a ``concurrent.futures`` executor (``ProcessPoolExecutor``, or a
            Dask client's ``get_executor()``).
        n_chunks: how many chunks (usually the number of workers).

    Returns:
        The chunks' results joined in order along axis 0.

    Raises:
        ValueError: for batches of different lengths or ``n_chunks < 1``.
        TypeError: if ``fn`` does not pickle (for an executor of processes).

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> import fad
        >>> from fad.parallel import map_chunks
        >>> f = fad.vmap(fad.grad(lambda x: x * x * x))
        >>> with ThreadPoolExecutor(2) as ex:
        ...     map_chunks(f, [1.0, 2.0, 3.0, 4.0, 5.0], executor=ex, n_chunks=2)
        [3.0, 12.0, 27.0, 48.0, 75.0]
    """
    if not isinstance(n_chunks, int) or n_chunks < 1:
        msg = f"fad.parallel.map_chunks: n_chunks must be a positive int, not {n_chunks!r}."
        raise ValueError(msg)
    if not batches:
        msg = "fad.parallel.map_chunks: give at least one batch to split."
        raise ValueError(msg)
    sizes = [_length(b) for b in batches]
    if any(s != sizes[0] for s in sizes):
        shown = ", ".join(f"batch {i} has {s}" for i, s in enumerate(sizes))
        msg = f"fad.parallel.map_chunks: the batches differ in length along axis 0 ({shown})."
        raise ValueError(msg)
    n = sizes[0]
    k = max(1, min(n_chunks, n))
    bounds = [(i * n // k, (i + 1) * n // k) for i in range(k)]
    pieces = [_split(b, bounds) for b in batches]
    if isinstance(executor, ThreadPoolExecutor):  # one process: nothing to pickle
        futures = [executor.submit(fn, *(p[c] for p in pieces)) for c in range(k)]
        return _join([f.result() for f in futures])
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
    futures = [
        executor.submit(_run_chunk, key, payload, tuple(p[c] for p in pieces))
        for c in range(k)
    ]
    return _join([f.result() for f in futures])
