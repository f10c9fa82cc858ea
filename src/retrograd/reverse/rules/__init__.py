"""The derivative rule library, grouped by family.  Importing this package registers every rule."""
from . import (constants, contractions, decompositions, elementwise, linalg, manipulation, operators,  # noqa: F401
               reductions, shape, special, statistics, ufuncs)
from .registry import (ATTRIBUTES, CONSTANT_METHODS, GLOBALS, METHODS, RULES, adjoint, constant,  # noqa: F401
                       is_constant, lookup, tangent)
