"""fad's benchmark suite: not part of the installed package.

Run from the repository root, as scripts or as ``python -m fad bench``:

- ``benchmarks/compare.py``: fad against micrograd, autograd, JAX and PyTorch on the
  same scalar Python workloads (``--quick``, ``--only``, ``--write-docs``);
- ``benchmarks/strategies.py``: fad's reverse strategies against each other;
- ``benchmarks/taylor.py``: Taylor mode against nested derivatives;
- ``benchmarks/run_all.py``: all three, one after the other.
"""
