"""The derivative rule library, grouped by family.  Importing this package registers every rule."""
from . import constants, elementwise, linalg, manipulation, operators, reductions, shape, special, statistics  # noqa: F401
from .registry import (ATTRIBUTES, CONSTANT_METHODS, GLOBALS, METHODS, RULES, adjoint, constant,  # noqa: F401
                       is_constant, lookup)
