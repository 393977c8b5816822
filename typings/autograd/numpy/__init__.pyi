# Stubs for autograd.numpy (untyped): a wrapped NumPy; every name is Any here.
from typing import Any

def __getattr__(name: str) -> Any: ...
