"""fad: dual and codual numbers, automatic differentiation with a JAX-style API."""

from fad import tree as tree
from fad._api import grad as grad
from fad._api import jvp as jvp
from fad._api import value_and_grad as value_and_grad
from fad._api import vjp as vjp
from fad._core import Primitive as Primitive
from fad._core import Tracer as Tracer
from fad.tracers.codual import Codual as Codual
from fad.tracers.dual import Dual as Dual

__all__ = ["Codual", "Dual", "Primitive", "Tracer", "grad", "jvp", "tree", "value_and_grad", "vjp"]
