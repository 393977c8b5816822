"""fad: dual and codual numbers, automatic differentiation with a JAX-style API."""

from fad import math as math
from fad import parallel as parallel
from fad import testing as testing
from fad import tree as tree
from fad import viz as viz
from fad._api import derivative as derivative
from fad._api import grad as grad
from fad._api import hessian as hessian
from fad._api import jacfwd as jacfwd
from fad._api import jacrev as jacrev
from fad._api import jvp as jvp
from fad._api import linearize as linearize
from fad._api import stop_gradient as stop_gradient
from fad._api import value_and_grad as value_and_grad
from fad._api import vjp as vjp
from fad._core import Primitive as Primitive
from fad._core import ReverseTracer as ReverseTracer
from fad._core import Tracer as Tracer
from fad._custom import custom_jvp as custom_jvp
from fad._custom import custom_vjp as custom_vjp
from fad._duality import to_codual as to_codual
from fad._duality import to_dual as to_dual
from fad._extend import primitive as primitive
from fad._jit import jit as jit
from fad._jit import make_ir as make_ir
from fad._ops import TracerOps as TracerOps
from fad._ops import structurally_equal as structurally_equal
from fad._taylor import taylor as taylor
from fad._vmap import vmap as vmap
from fad._where import cond as cond
from fad._where import where as where
from fad.tracers.codual import Codual as Codual
from fad.tracers.dual import Dual as Dual
from fad.tracers.jet import Jet as Jet

__all__ = [
    "Codual",
    "Dual",
    "Jet",
    "Primitive",
    "ReverseTracer",
    "Tracer",
    "TracerOps",
    "cond",
    "custom_jvp",
    "custom_vjp",
    "derivative",
    "grad",
    "hessian",
    "jacfwd",
    "jacrev",
    "jit",
    "jvp",
    "linearize",
    "make_ir",
    "math",
    "parallel",
    "primitive",
    "stop_gradient",
    "structurally_equal",
    "taylor",
    "testing",
    "to_codual",
    "to_dual",
    "tree",
    "value_and_grad",
    "viz",
    "vjp",
    "vmap",
    "where",
]
