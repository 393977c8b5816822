"""``fad.custom_jvp`` and ``fad.custom_vjp``: your own derivative rule for a function.

Semantics are JAX's (``jax.custom_jvp`` / ``jax.custom_vjp``, ``nondiff_argnums``
included). Outside any transform the decorated function is just called. Under a
transform, its body is *not* differentiated: the rule is used instead, and every
transform gives the same derivative (or raises, where a transform cannot honour the
rule).

How it works
------------
A call whose arguments hold tracers is taken apart one level at a time: the tracers
of the top level are stripped to their primals, the call is made again one level down
(down to the body on plain numbers, which gives the value), and the top level's
derivative is attached by binding a few small :class:`~fad._core.Primitive` nodes to
the top tracers, so that every tracer applies them with its ordinary rule:

* A **Jacobian chain** (every first-order tracer: ``Dual``, every reverse strategy, a
  user's tracer): the partials ∂outⱼ/∂xᵢ are numbers (of lower levels) computed from
  the rule, and output j is a chain of nodes ``c = node(c, xᵢ, …, xₖ)`` of up to 16
  input leaves each, whose partials are 1 and the ∂outⱼ/∂xᵢ. Every partial is called
  with all of its node's arguments, so one primitive of n inputs would cost O(n²);
  the chain costs O(n).

  - ``custom_jvp``: the JVP rule runs once, with reverse-mode tracers (a fresh tape)
    as tangents; one sweep per output leaf gives its row of partials. The rule runs on
    the primals, which may be tracers of enclosing transforms, so it is differentiated
    itself: custom JVP rules nest to any order, as in JAX. Under ``Dual`` the rule runs
    once with the actual tangents instead (as JAX's ``jvp`` does).
  - ``custom_vjp``: row j is ``bwd(res, eⱼ)`` (one call per output leaf), exact for a
    ``bwd`` linear in ``g``, as a VJP is. fad checks that by calling ``bwd`` at
    ``−1024·eⱼ`` too and raises :class:`CustomRuleError` when the two disagree:
    forward mode (JAX refuses it outright) then names ``custom_jvp``, and
    ``mode="memo"`` / ``"naive"`` (whose backward passes cannot hand ``bwd`` the summed
    cotangent) name ``mode="tape"``.

* A **cotangent chain** (``custom_vjp`` under a reverse strategy whose backward pass
  multiplies each partial once by the value's summed cotangent: the tape, and user
  strategies written that way): the partials are objects, and the sweep carries the
  summed cotangents of all the outputs down the chain, where ``bwd`` is called once per
  sweep with all of them, as JAX does; so ``bwd`` may be nonlinear in ``g`` (gradient
  clipping). A forward sweep over the same record (``fad.linearize``) gets the Jacobian
  chain's answer.

* The **general rule** (tracers that evaluate partials on their own objects, such as
  ``Jet``, which expands them in Taylor series): one primitive per output leaf, whose
  partial i is the JVP rule on the unit tangent of input i, run on those objects, so
  Taylor mode gets every order; O(n²) in n inputs. ``bwd`` gives first derivatives
  only: ``custom_vjp`` raises here and names ``custom_jvp``.

The value is always computed by the function itself (not by ``fwd`` or the JVP rule's
primal output); under ``custom_jvp`` the body only ever sees plain numbers, so it may
call code that knows nothing of fad (Python's ``math``, a C extension).
"""

from fad._custom._call import CustomRuleError as CustomRuleError
from fad._custom.jvp import custom_jvp as custom_jvp
from fad._custom.vjp import custom_vjp as custom_vjp

__all__ = ["CustomRuleError", "custom_jvp", "custom_vjp"]
