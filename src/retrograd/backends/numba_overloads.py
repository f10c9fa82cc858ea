"""Every Numba overload the generated code may call, registered by importing this module (the numba backend
does, before it loads generated code): the runtime seam (numba_runtime) and the lowerings of the rule
helpers (numba_rules: those that keep a rule right at zeros and edges; numba_manipulation,
numba_statistics, numba_special, numba_softmax, numba_contractions, numba_joins, numba_picks, numba_integrals: the newer rule families).  One place imports them all, so none of them
needs to import the others back."""
from . import numba_runtime  # noqa: F401
from . import numba_contractions, numba_decompositions, numba_joins, numba_manipulation, numba_norm  # noqa: F401
from . import numba_integrals, numba_picks, numba_quantiles, numba_rules, numba_statistics  # noqa: F401
from . import numba_crosses, numba_diffs, numba_fills, numba_selections  # noqa: F401  (shape calls)
from . import numba_linalg_tangents  # noqa: F401
from . import numba_math  # noqa: F401  (math.fmod, math.log(x, base))

try:                       # scipy.special in Numba, when SciPy is there (it is optional)
    import scipy.special  # noqa: F401
except ImportError:        # pragma: no cover
    pass
else:
    from . import numba_softmax, numba_special  # noqa: F401
from . import numba_extrema  # noqa: F401
