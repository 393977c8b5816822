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
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fad import _primitives as _P
from fad._core import Primitive

__all__ = [
    "COMPARISONS",
    "IR",
    "Guard",
    "demand_order",
    "fold_seeds",
    "reorder",
    "schedule",
    "simplify",
    "var_name",
]


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


def simplify(ir: IR, *, rewrite: bool = True) -> IR:
    """The same program, smaller: identities, constants, common subexpressions, dead code.

    With ``rewrite=False`` only constants are folded and dead code dropped: a program
    run on tracers then makes the very operations the eager program makes, in the
    same order, so that a reverse sweep over it sums each adjoint's terms in the same
    order (bitwise equal); merged or reordered, ``g₁·d + g₂·d`` would become
    ``(g₁ + g₂)·d``.

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

    # The new program, built as the old one is read: old variable -> new atom.
    alias: list[int] = list(range(n_in))
    out_prims: list[Primitive] = []
    out_args: list[tuple[int, ...]] = []
    out_types: list[type] = list(ir.types[:n_in])
    negof: dict[int, int] = {}  # new variable -> w, when it is neg w (a float)
    seen: dict[tuple[Any, tuple[int, ...]], int] = {}
    types = ir.types
    prims = ir.prims

    def add_eq(prim: Primitive, atoms: tuple[int, ...], t: type) -> int:
        key: tuple[Primitive, tuple[int, ...]] | None = None
        if rewrite:
            key = (prim, atoms)
            try:
                found = seen.get(key)
            except TypeError:
                key = None
                found = None
            if found is not None:
                return found
        var = len(out_types)
        out_prims.append(prim)
        out_args.append(atoms)
        out_types.append(t)
        if rewrite and key is not None:
            seen[key] = var
        if prim.name == "neg" and t is float:
            negof[var] = atoms[0]
        return var

    for i, atoms0 in enumerate(ir.args):
        atoms = tuple([alias[a] if a >= 0 else a for a in atoms0])
        prim = prims[i]
        name = prim.name
        t = types[n_in + i]
        target = _identity(name, atoms, consts, out_types) if rewrite else None
        if rewrite and target is None and t is float and len(atoms) <= 2:  # signs
            if name == "mul":
                a, b = atoms
                if _minus_one(a, consts) and b >= 0 and out_types[b] is float:
                    prim, atoms, name = _P.neg, (b,), "neg"
                elif _minus_one(b, consts) and a >= 0 and out_types[a] is float:
                    prim, atoms, name = _P.neg, (a,), "neg"
                elif (a in negof) != (b in negof):
                    # x · (-w) = -(x · w): the negation moves out, to be absorbed
                    inner = (negof[a], b) if a in negof else (a, negof[b])
                    prim, atoms, name = _P.neg, (add_eq(prim, inner, float),), "neg"
            if name == "neg" and atoms[0] in negof:
                target = negof[atoms[0]]
            elif name == "add" and atoms[1] in negof:
                prim, atoms, name = _P.sub, (atoms[0], negof[atoms[1]]), "sub"
            elif name == "add" and atoms[0] in negof:
                prim, atoms, name = _P.sub, (atoms[1], negof[atoms[0]]), "sub"
            elif name == "sub" and atoms[1] in negof:
                prim, atoms, name = _P.add, (atoms[0], negof[atoms[1]]), "add"
        if target is None and atoms and max(atoms) < 0:
            try:
                value = prim.impl(*[consts[-1 - a] for a in atoms])
            except (ArithmeticError, ValueError):
                value = None
            else:
                target = const_atom(value)
        if target is None:
            target = add_eq(prim, atoms, t)
        alias.append(target)
    outputs = [alias[a] if a >= 0 else a for a in ir.outputs]
    guards = []
    guarded: set[int] = set()
    for g in ir.guards:
        target = alias[g.var]
        if target < 0 or target in guarded:  # on a constant it held for good; or twice
            continue
        guarded.add(target)
        guards.append(Guard(target, g.outcome, g.where))
    return _compact(n_in, out_prims, out_args, out_types, consts, outputs, guards)


def _minus_one(a: int, consts: Sequence[Any]) -> bool:
    return a < 0 and type(consts[-1 - a]) is float and consts[-1 - a] == -1


def _const_key(c: Any) -> Any:
    """A key telling constants apart exactly (0.0 from -0.0, NaN equal to itself)."""
    if type(c) is float:
        return c.hex()
    hash(c)
    return c


def _compact(
    n_in: int,
    prims0: list[Primitive],
    args0: list[tuple[int, ...]],
    types0: list[type],
    consts: list[Any],
    outputs: list[int],
    guards: list[Guard],
) -> IR:
    """Drop dead equations and unused constants; renumber the variables densely."""
    n = len(types0)
    live = bytearray(n)
    for a in outputs:
        if a >= 0:
            live[a] = 1
    for g in guards:
        live[g.var] = 1
    for k in range(len(prims0) - 1, -1, -1):
        if live[n_in + k]:
            for a in args0[k]:
                if a >= 0:
                    live[a] = 1
    new_var = list(range(n_in)) + [0] * (n - n_in)
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
    types: list[type] = list(types0[:n_in])
    for k in range(len(prims0)):
        old = n_in + k
        if not live[old]:
            continue
        new_var[old] = n_in + len(prims)
        prims.append(prims0[k])
        args.append(tuple([remap(a) for a in args0[k]]))
        types.append(types0[old])
    return IR(
        n_in,
        prims,
        args,
        types,
        new_consts,
        [remap(a) for a in outputs],
        [Guard(new_var[g.var], g.outcome, g.where) for g in guards],
    )


def demand_order(ir: IR, roots: Iterable[int]) -> list[int]:
    """The equations ``roots`` (indices, demanded in turn) need, each after its arguments.

    A depth-first order on demand: an equation comes right after the last of its
    arguments not yet computed, its first argument's first; equations no root needs
    are left out.
    """
    n_in = ir.n_inputs
    args = ir.args
    done = bytearray(len(ir.prims))
    order: list[int] = []
    for root in roots:
        stack = [root]
        while stack:
            i = stack[-1]
            if done[i]:
                stack.pop()
                continue
            ready = True
            for a in reversed(args[i]):  # the first argument on top: computed first
                j = a - n_in
                if j >= 0 and not done[j]:
                    stack.append(j)
                    ready = False
            if ready:
                done[i] = 1
                order.append(i)
                stack.pop()
    return order


def reorder(ir: IR, order: Sequence[int]) -> IR:
    """``ir`` with its equations in ``order`` (indices; one that is left out is dropped)."""
    n_in = ir.n_inputs
    args = ir.args
    new_var = list(range(n_in)) + [0] * len(ir.prims)
    for k, i in enumerate(order):
        new_var[n_in + i] = n_in + k

    def remap(a: int) -> int:
        return new_var[a] if a >= 0 else a

    return IR(
        n_in,
        [ir.prims[i] for i in order],
        [tuple([remap(a) for a in args[i]]) for i in order],
        list(ir.types[:n_in]) + [ir.types[n_in + i] for i in order],
        ir.consts,
        [remap(a) for a in ir.outputs],
        [Guard(new_var[g.var], g.outcome, g.where) for g in ir.guards],
    )


def schedule(ir: IR) -> IR:
    """The same program with each equation moved as late as its first use allows.

    Equations are emitted on demand: each guard's predicate (in the recorded order of
    the guards), then each output, preceded by whatever it needs that is not yet
    computed. A value is then computed close to its uses, so few values stay alive
    for long: in a recorded gradient, the forward values an input's adjoint needs
    are computed right before it, not all in a first pass. Nothing moves before a
    guard that came after it, and the result of every equation is the same, so the
    program computes the very same numbers. Dead equations are dropped on the way.
    """
    n_in = ir.n_inputs
    roots = [g.var - n_in for g in sorted(ir.guards, key=lambda g: g.var)]
    roots += [a - n_in for a in ir.outputs if a >= n_in]
    return reorder(ir, demand_order(ir, roots))


# --- seeds as constants -----------------------------------------------------------------


def fold_seeds(
    ir: IR, seed_inputs: Sequence[int], seeds: Sequence[Sequence[float]], budget: int
) -> IR | None:
    """One program computing ``ir`` at every seed: the seed inputs replaced by constants.

    ``ir`` is a linear map of the inputs ``seed_inputs`` (a VJP, a JVP) whose other
    inputs are the point. The equations no seed reaches (the forward pass) are written
    once; the others once per seed, with the seed's values as constants. A seed entry
    ``0.0`` is a *structural* zero, as the eager sweeps treat a cotangent or tangent
    that never flowed: ``0 · x`` and ``0 / x`` are zero, ``x + 0`` and ``x - 0`` are
    ``x``, ``0 - x`` is ``-x``, a select of two zeros is zero (whatever ``x`` is, an
    infinite partial included: the eager sweep never multiplies it); any other
    equation reading it sees the constant ``0.0``. A seed's row then costs only the
    equations its seed reaches. Zeros of the program's own constants are not
    structural (``t · 0.0`` stays as the eager code computes it).

    The outputs are seed-major: ``len(ir.outputs)`` atoms per seed, in order. The
    guards on the forward pass are kept; a guard reached by a seed, or more than
    ``budget`` equations, or a constant equation that raises, gives ``None``.

    Example:
        >>> import fad
        >>> lin = fad.make_ir(lambda x, s, t: s * x + t * fad.math.sin(x))(0.5, 1.0, 0.0)
        >>> print(fold_seeds(lin, [1, 2], [[1.0, 0.0], [0.0, 1.0]], budget=100))
        { lambda a b c. d = sin a; return a d }
    """
    n_in = ir.n_inputs
    is_seed = bytearray(n_in + ir.n_ops)
    for i in seed_inputs:
        is_seed[i] = 1
    for var, _, atoms in ir.equations():
        for a in atoms:
            if a >= 0 and is_seed[a]:
                is_seed[var] = 1
                break
    if any(is_seed[g.var] for g in ir.guards):
        return None
    consts = list(ir.consts)
    const_ids: dict[tuple[type, Any], int] = {}

    def const_atom(value: Any) -> int:
        try:
            key = (type(value), _const_key(value))
        except TypeError:
            consts.append(value)
            return -len(consts)
        atom = const_ids.get(key)
        if atom is None:
            consts.append(value)
            atom = const_ids[key] = -len(consts)
        return atom

    prims: list[Primitive] = []
    args: list[tuple[int, ...]] = []
    types: list[type] = list(ir.types[:n_in])

    def add_eq(prim: Primitive, atoms: tuple[int, ...], t: type) -> int:
        prims.append(prim)
        args.append(atoms)
        types.append(t)
        return len(types) - 1

    # the forward pass, once: old variable -> new atom
    forward: list[int] = list(range(n_in)) + [0] * ir.n_ops
    dep: list[int] = []
    for var, prim, atoms in ir.equations():
        if is_seed[var]:
            dep.append(var)
        else:
            new_atoms = tuple([forward[a] if a >= 0 else a for a in atoms])
            forward[var] = add_eq(prim, new_atoms, ir.types[var])
    outputs: list[int] = []
    ir_types, ir_prims, ir_args = ir.types, ir.prims, ir.args
    zero = const_atom(0.0)
    # When every linear equation is zero where its seed-reached arguments are (a
    # linear map's are), a seed's equations are those its nonzero entries reach.
    users: list[list[int]] | None = [[] for _ in range(n_in + ir.n_ops)]
    template: list[int | None] = list(forward)
    for var in dep:
        template[var] = None
        atoms = ir_args[var - n_in]
        if users is not None and _zero_closed(ir_prims[var - n_in].name, atoms, is_seed):
            for a in set(atoms):
                if a >= 0 and is_seed[a]:
                    users[a].append(var)
        else:
            users = None
    for seed in seeds:
        al: list[int | None] = list(template)  # None: a structural zero
        for i, value in zip(seed_inputs, seed, strict=True):
            al[i] = None if value == 0 and type(value) is float else const_atom(value)
        todo = dep
        if users is not None:
            todo = _reached([i for i in seed_inputs if al[i] is not None], users)
        for var in todo:
            prim = ir_prims[var - n_in]
            new: list[int | None] = [al[a] if a >= 0 else a for a in ir_args[var - n_in]]
            name = prim.name
            if None in new:
                if name == "mul" or (name == "truediv" and new[0] is None):
                    al[var] = None
                    continue
                if name == "add" and len(new) == 2:
                    al[var] = new[1] if new[0] is None else new[0]
                    continue
                if name == "sub" and new[1] is None:
                    al[var] = new[0]
                    continue
                if name == "sub":
                    prim, new, name = _P.neg, [new[1]], "neg"
                elif name in ("neg", "pos") or (name == "select" and new[1] is new[2] is None):
                    al[var] = None
                    continue
            atoms = tuple([zero if a is None else a for a in new])
            if atoms and max(atoms) < 0:  # constants only: evaluated
                try:
                    al[var] = const_atom(prim.impl(*[consts[-1 - a] for a in atoms]))
                except (ArithmeticError, ValueError):
                    return None
                continue
            if len(prims) >= budget:
                return None
            al[var] = add_eq(prim, atoms, ir_types[var])
        for a in ir.outputs:
            t = al[a] if a >= 0 else a
            outputs.append(zero if t is None else t)
    guards = [Guard(forward[g.var], g.outcome, g.where) for g in ir.guards]
    return simplify(IR(n_in, prims, args, types, consts, outputs, guards))


def _zero_closed(name: str, atoms: tuple[int, ...], is_seed: bytearray) -> bool:
    """Whether the folding rules make the equation zero when its seeded arguments are."""
    if name in ("mul", "neg", "pos"):
        return True
    if name in ("add", "sub"):
        return all(a >= 0 and is_seed[a] for a in atoms)
    if name == "truediv":
        return atoms[0] >= 0 and bool(is_seed[atoms[0]])
    if name == "select":
        return all(a >= 0 and is_seed[a] for a in atoms[1:])
    return False


def _reached(starts: list[int], users: list[list[int]]) -> list[int]:
    """The variables reached from ``starts`` through ``users``, in order (starts excluded)."""
    seen = set(starts)
    stack = list(starts)
    out = []
    while stack:
        for u in users[stack.pop()]:
            if u not in seen:
                seen.add(u)
                out.append(u)
                stack.append(u)
    out.sort()
    return out
