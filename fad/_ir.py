"""The recorded program: inputs, equations, guards and outputs, as a plain value.

An :class:`IR` knows nothing of tracers. Its variables are numbered in order of
definition: the inputs are ``0 … n_inputs-1`` and equation ``i`` defines variable
``n_inputs + i`` (single assignment). An *atom* (an argument or an output) is a
variable number ``>= 0``, or a constant ``-1 - k`` standing for ``consts[k]``.

A *guard* is a decision the program took at the recording point: the value of a
predicate equation (``lt``, ``eq``, ``truth``, …) and the outcome taken. The emitted
code re-checks every guard; when one fails, the program does not apply at that point.

The clean-up passes (:func:`simplify`) take an IR and return a smaller one with the
same results at every point where its guards hold: IEEE-exact identities
(``x * 1.0``, ``x - 0.0``, ``x + -0.0``, ``x / 1.0``, ``x ** 1``, ``--x``),
evaluation of equations whose arguments are all constants, common subexpressions and
dead code.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Iterator, Sequence
from typing import Any

from fad._core import Primitive

__all__ = ["COMPARISONS", "IR", "Guard", "simplify", "var_name"]


def _truth(x: Any) -> bool:
    return bool(x)


# The predicates a guard can check: comparisons and truth, as primitives of no
# derivative (their results are bools).
COMPARISONS: dict[str, Primitive] = {
    "eq": Primitive("eq", operator.eq, None),
    "ne": Primitive("ne", operator.ne, None),
    "lt": Primitive("lt", operator.lt, None),
    "le": Primitive("le", operator.le, None),
    "gt": Primitive("gt", operator.gt, None),
    "ge": Primitive("ge", operator.ge, None),
    "truth": Primitive("truth", _truth, None),
}


class Guard:
    """A decision of the program: variable ``var`` (a predicate) had value ``outcome``.

    ``where`` is the user's source line that took the decision (``file:line: code``).
    """

    __slots__ = ("outcome", "var", "where")

    def __init__(self, var: int, outcome: bool, where: str) -> None:
        self.var = var
        self.outcome = outcome
        self.where = where

    def __repr__(self) -> str:
        return f"Guard({var_name(self.var)} is {self.outcome}, at {self.where})"


def var_name(i: int) -> str:
    """The short name of variable ``i``: a … z, ba, bb, … (as jaxprs print them)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    if i < 26:
        return letters[i]
    s = ""
    while i:
        i, r = divmod(i, 26)
        s = letters[r] + s
    return s


class IR:
    """A straight-line program of primitives, with the guards it was recorded under.

    Attributes:
        n_inputs: the number of inputs (variables ``0 … n_inputs-1``).
        prims: the primitive of each equation.
        args: the argument atoms of each equation.
        types: the type of every variable's value at the recording point.
        consts: the constants the atoms ``-1 - k`` stand for.
        outputs: the output atoms.
        guards: the decisions the program took, each on a predicate variable.
    """

    __slots__ = ("args", "consts", "guards", "n_inputs", "outputs", "prims", "types")

    def __init__(
        self,
        n_inputs: int,
        prims: list[Primitive],
        args: list[tuple[int, ...]],
        types: list[type],
        consts: list[Any],
        outputs: list[int],
        guards: list[Guard],
    ) -> None:
        self.n_inputs = n_inputs
        self.prims = prims
        self.args = args
        self.types = types
        self.consts = consts
        self.outputs = outputs
        self.guards = guards

    @property
    def n_ops(self) -> int:
        """The number of operations (equations, guard predicates included)."""
        return len(self.prims)

    def equations(self) -> Iterator[tuple[int, Primitive, tuple[int, ...]]]:
        """``(variable, primitive, argument atoms)`` of each equation, in order."""
        n = self.n_inputs
        for i, (prim, atoms) in enumerate(zip(self.prims, self.args, strict=True)):
            yield n + i, prim, atoms

    def atom_text(self, atom: int) -> str:
        """How ``str()`` shows an atom: a variable's name or a constant's repr."""
        return var_name(atom) if atom >= 0 else repr(self.consts[-1 - atom])

    def __str__(self) -> str:
        inputs = " ".join(var_name(i) for i in range(self.n_inputs))
        guards = {g.var: g.outcome for g in self.guards}
        parts = []
        for var, prim, atoms in self.equations():
            args = " ".join(self.atom_text(a) for a in atoms)
            parts.append(f"{var_name(var)} = {prim.name} {args}")
            if var in guards:
                parts.append(f"guard {'' if guards[var] else 'not '}{var_name(var)}")
        outs = " ".join(self.atom_text(a) for a in self.outputs)
        body = "".join(p + "; " for p in parts)
        return f"{{ lambda {inputs}. {body}return {outs} }}"

    def __repr__(self) -> str:
        return f"<fad IR: {self.n_inputs} inputs, {self.n_ops} ops, {len(self.guards)} guards>"


# --- clean-up ------------------------------------------------------------------------


def _identity(
    name: str, atoms: tuple[int, ...], consts: Sequence[Any], types: Sequence[type]
) -> int | None:
    """The atom an equation equals exactly (IEEE), or ``None``: ``x * 1.0`` is ``x``."""
    if len(atoms) == 2:
        a, b = atoms
        ca = consts[-1 - a] if a < 0 else None
        cb = consts[-1 - b] if b < 0 else None
        ta = types[a] if a >= 0 else None
        tb = types[b] if b >= 0 else None
        if name == "mul":
            if tb is float and type(ca) in (float, int) and ca == 1:
                return b
            if ta is float and type(cb) in (float, int) and cb == 1:
                return a
        elif name == "add":
            # x + 0.0 is not x at x = -0.0; x + (-0.0) is.
            if tb is float and type(ca) is float and ca == 0 and str(ca) == "-0.0":
                return b
            if ta is float and type(cb) is float and cb == 0 and str(cb) == "-0.0":
                return a
        elif name == "sub":
            if ta is float and type(cb) in (float, int) and cb == 0 and str(cb) != "-0.0":
                return a
        elif name == "truediv":
            if ta is float and type(cb) in (float, int) and cb == 1:
                return a
        elif name == "pow" and ta is float and type(cb) in (float, int) and cb == 1:
            return a
    elif len(atoms) == 1 and name == "pos" and atoms[0] >= 0 and types[atoms[0]] is float:
        return atoms[0]
    return None


def simplify(ir: IR, *, cse: bool = True) -> IR:
    """The same program, smaller: identities, constants, common subexpressions, dead code.

    With ``cse=False`` common subexpressions are kept apart: a program run on tracers
    then makes the very operations the eager program makes, so that its derivatives
    sum their terms in the same order (bitwise equal); merged, ``g₁·d + g₂·d`` would
    become ``(g₁ + g₂)·d``.

    Equations whose arguments are all constants are evaluated (their value is a
    constant); ``neg (neg x)`` is ``x``; equations with the same primitive and the
    same arguments are computed once; equations no output or guard depends on are
    dropped. Variables are then renumbered densely.
    """
    n_in = ir.n_inputs
    consts = list(ir.consts)
    const_ids: dict[tuple[type, Any], int] = {}
    for k, c in enumerate(consts):
        with contextlib.suppress(TypeError):  # an unhashable constant is never shared
            const_ids.setdefault((type(c), _const_key(c)), -1 - k)

    def const_atom(value: Any) -> int:
        try:
            key = (type(value), _const_key(value))
            atom = const_ids.get(key)
        except TypeError:
            key = None
            atom = None
        if atom is None:
            consts.append(value)
            atom = -len(consts)
            if key is not None:
                const_ids[key] = atom
        return atom

    alias: list[int] = list(range(n_in))  # old variable -> atom in the old numbering
    seen: dict[tuple[Any, tuple[int, ...]], int] = {}
    keep = []  # old equation indices kept (before dead-code elimination)
    new_args: list[tuple[int, ...]] = []
    types = ir.types
    prims = ir.prims
    for i, atoms0 in enumerate(ir.args):
        var = n_in + i
        atoms = tuple(alias[a] if a >= 0 else a for a in atoms0)
        prim = prims[i]
        name = prim.name
        target = _identity(name, atoms, consts, types)
        if target is None and name == "neg" and atoms[0] >= n_in:
            j = atoms[0] - n_in
            if prims[j].name == "neg" and types[var] is float:
                target = _arg_of(ir, alias, j)
        if target is None and all(a < 0 for a in atoms) and atoms:
            try:
                value = prim.impl(*(consts[-1 - a] for a in atoms))
            except (ArithmeticError, ValueError):
                value = None
            else:
                target = const_atom(value)
        if target is None and cse:
            key = (prim, atoms)
            try:
                target = seen.get(key)
            except TypeError:
                target = None
            if target is None:
                with contextlib.suppress(TypeError):
                    seen[key] = var
        if target is not None:
            alias.append(target)
            continue
        alias.append(var)
        keep.append(i)
        new_args.append(atoms)
    outputs = [alias[a] if a >= 0 else a for a in ir.outputs]
    guards = []
    guarded: set[int] = set()
    for g in ir.guards:
        target = alias[g.var]
        if target < 0 or target in guarded:  # on a constant it held for good; or twice
            continue
        guarded.add(target)
        guards.append(Guard(target, g.outcome, g.where))
    return _compact(ir, keep, new_args, consts, outputs, guards)


def _arg_of(ir: IR, alias: list[int], j: int) -> int:
    """The (aliased) argument of equation ``j`` (a one-argument equation)."""
    a = ir.args[j][0]
    return alias[a] if a >= 0 else a


def _const_key(c: Any) -> Any:
    """A key telling constants apart exactly (0.0 from -0.0, NaN equal to itself)."""
    if type(c) is float:
        return c.hex()
    hash(c)
    return c


def _compact(
    ir: IR,
    keep: list[int],
    new_args: list[tuple[int, ...]],
    consts: list[Any],
    outputs: list[int],
    guards: list[Guard],
) -> IR:
    """Drop dead equations and unused constants; renumber the variables densely."""
    n_in = ir.n_inputs
    live = bytearray(n_in + len(ir.prims))
    for a in outputs:
        if a >= 0:
            live[a] = 1
    for g in guards:
        live[g.var] = 1
    for k in range(len(keep) - 1, -1, -1):
        if live[n_in + keep[k]]:
            for a in new_args[k]:
                if a >= 0:
                    live[a] = 1
    new_var = list(range(n_in)) + [0] * len(ir.prims)
    const_map: dict[int, int] = {}
    new_consts: list[Any] = []

    def remap(a: int) -> int:
        if a >= 0:
            return new_var[a]
        m = const_map.get(a)
        if m is None:
            new_consts.append(consts[-1 - a])
            m = const_map[a] = -len(new_consts)
        return m

    prims: list[Primitive] = []
    args: list[tuple[int, ...]] = []
    types: list[type] = list(ir.types[:n_in])
    for k, i in enumerate(keep):
        old = n_in + i
        if not live[old]:
            continue
        new_var[old] = n_in + len(prims)
        prims.append(ir.prims[i])
        args.append(tuple(remap(a) for a in new_args[k]))
        types.append(ir.types[old])
    return IR(
        n_in,
        prims,
        args,
        types,
        new_consts,
        [remap(a) for a in outputs],
        [Guard(new_var[g.var], g.outcome, g.where) for g in guards],
    )
