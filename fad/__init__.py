"""fad: dual and codual numbers, automatic differentiation with a JAX-style API."""

from fad import _numpy as _numpy  # gives every tracer the methods numpy calls (np.sin)
from fad import math as math
from fad import parallel as parallel
from fad import sparse as sparse
from fad import special as special
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
from fad._checkpoint import CheckpointWarning as CheckpointWarning
from fad._checkpoint import checkpoint as checkpoint
from fad._core import Primitive as Primitive
from fad._core import ReverseTracer as ReverseTracer
from fad._core import Tracer as Tracer
from fad._core import UnexpectedTracerError as UnexpectedTracerError
from fad._custom import CustomRuleError as CustomRuleError
from fad._custom import custom_jvp as custom_jvp
from fad._custom import custom_vjp as custom_vjp
from fad._duality import to_codual as to_codual
from fad._duality import to_dual as to_dual
from fad._extend import primitive as primitive
from fad._implicit import custom_root as custom_root
from fad._implicit import fixed_point as fixed_point
from fad._implicit import linear_solve as linear_solve
from fad._jit import jit as jit
from fad._jit import make_ir as make_ir
from fad._loops import fori_loop as fori_loop
from fad._loops import scan as scan
from fad._loops import while_loop as while_loop
from fad._ops import TracerOps as TracerOps
from fad._ops import structurally_equal as structurally_equal
from fad._sparse_ad import sparse_hessian as sparse_hessian
from fad._sparse_ad import sparse_jacobian as sparse_jacobian
from fad._taylor import taylor as taylor
from fad._vmap import vmap as vmap
from fad._where import cond as cond
from fad._where import where as where
from fad.tracers.codual import Codual as Codual
from fad.tracers.dual import Dual as Dual
from fad.tracers.jet import Jet as Jet
from fad.tracers.sparsity import hessian_sparsity as hessian_sparsity
from fad.tracers.sparsity import jacobian_sparsity as jacobian_sparsity

__all__ = [
    "CheckpointWarning",
    "Codual",
    "CustomRuleError",
    "Dual",
    "Jet",
    "Primitive",
    "ReverseTracer",
    "Tracer",
    "TracerOps",
    "UnexpectedTracerError",
    "checkpoint",
    "cond",
    "custom_jvp",
    "custom_root",
    "custom_vjp",
    "derivative",
    "fixed_point",
    "fori_loop",
    "grad",
    "hessian",
    "hessian_sparsity",
    "jacfwd",
    "jacobian_sparsity",
    "jacrev",
    "jit",
    "jvp",
    "linear_solve",
    "linearize",
    "make_ir",
    "math",
    "parallel",
    "primitive",
    "scan",
    "sparse",
    "sparse_hessian",
    "sparse_jacobian",
    "special",
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
    "while_loop",
]
