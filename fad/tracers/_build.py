"""Building frozen tracers on the hot path: a mutable twin, then the frozen class.

``Dual``, ``TapeCodual`` and ``Jet`` are frozen ``attrs`` classes: users can never
change a tracer. Their ``__init__`` pays for that on every field (``attrs`` goes
through ``object.__setattr__``), and fad makes one tracer per recorded operation.
The hot paths therefore build a tracer in two steps:

1. make an instance of the class's *twin*: the same base and the same ``__slots__``,
   but mutable, so that its fields are stored by plain attribute assignments (which
   CPython specialises to a direct slot store);
2. assign the frozen class to its ``__class__``. Python allows this between classes
   whose instances have the same layout, and the result is an ordinary instance of
   the frozen class.

Measured with callgrind (instructions per construction, CPython 3.11, loop
included alike): ``attrs``'s frozen ``__init__`` 5 100, ``object.__new__`` plus one
slot setter per field 3 250, the twin 1 800. On the scalar-loop Rosenbrock the tape
gradient went from 9 900 to 8 200 instructions per operation with it
(``python benchmarks/instructions.py``). In time, ``python benchmarks/construction.py``:
about 210 ns with the setters, 107 ns with the twin, 85 ns with the twin inlined.

The twin and the frozen class must not have a ``__weakref__`` slot: CPython accepts
``__class__`` assignment only between layouts it can compare, and a weakref slot
added after the fields is not one of them. Tracers, like floats, are values: nothing
in fad holds one by a weak reference.
"""

from __future__ import annotations

from typing import Any

__all__ = ["twin"]


def twin(cls: type[Any]) -> type[Any]:
    """A mutable class with ``cls``'s base and slots, whose instances may become ``cls``.

    Raises:
        TypeError: if ``cls`` has more than one base, or a layout CPython will not
            let an instance of the twin take (for example a ``__weakref__`` slot).
    """
    if len(cls.__bases__) != 1:
        msg = f"twin: {cls.__name__} must have exactly one base class"
        raise TypeError(msg)
    slots = tuple(cls.__slots__)
    mutable = type(f"_{cls.__name__}Twin", cls.__bases__, {"__slots__": slots})
    probe = mutable()
    probe.__class__ = cls  # TypeError now, at import, if the layouts differ
    return mutable
