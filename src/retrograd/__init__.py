"""retrograd: reverse-mode automatic differentiation by source transformation.

    @retrograd.differentiate
    def loss(W, x): ...
    loss.grad(W, x)      # gradient
    print(loss.source)   # the generated backward code
"""
from . import reverse  # noqa: F401  (registers the rule library)
from .api import Differentiable, differentiate, register_adjoint
from .functional import grad, jacobian, jacrev, value_and_grad, vjp
from .remat import Checkpoint
from .debug import debug_nans
from .forward.api import hessian, hvp, jacfwd, jvp
from . import flat_pytrees  # noqa: F401,E402  (registers the flattening of pytree arguments)
from .errors import (AliasError, BackendError, CacheWarning, CastError, IndexRangeError, MissingRuleError,
                     NonFiniteError, RepeatedIndexError, RetrogradError, UnsupportedSyntaxError, UsageError)

__version__ = "0.1.0"
__all__ = ["differentiate", "grad", "value_and_grad", "vjp", "jacrev", "jacobian", "jvp", "jacfwd", "hvp", "hessian",
           "register_adjoint", "debug_nans", "Differentiable", "Checkpoint", "RetrogradError", "NonFiniteError",
           "UnsupportedSyntaxError", "AliasError", "CastError", "RepeatedIndexError", "MissingRuleError", "UsageError",
           "IndexRangeError", "BackendError", "CacheWarning", "__version__"]


def __getattr__(name):
    """`rg.torch` (PyTorch layers running Triton kernels) is imported on first use: torch and triton are
    never needed by `import retrograd`."""
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
