"""Forward mode by source transformation: jvp, jacfwd, and hvp/hessian by differentiating the generated
adjoint forward.  Importing the package registers the tangents of the runtime helpers generated
adjoints call (helper_rules: the core ones; family_helpers: those of the newer rule families)."""
from . import family_helpers, helper_rules  # noqa: F401
