"""Backends lower the one adjoint program: `python` runs it as NumPy code, `numba` compiles it, `triton`
turns it into GPU kernels.

The core (frontend, analysis, reverse) never asks which backend it generates for: it reads the target's
`Traits`, the few properties of a target that change the generated code.  Each backend module declares
its own `TRAITS`; `traits(name)` finds them.  The public API (api.py) never asks either: it calls the
backend's `TARGET` (target.py: loading, call wrappers, cached transforms, guards, argument checks), which
`target_of(name)` finds (the function is not named `target`: that is the module target.py).
"""
import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Traits:
    name: str
    # every variable keeps one static type: tapes are typed (float64 arrays or typed lists), a variable
    # read before its first assignment needs a placeholder of its type, array cotangents start as zeros
    # of their shape, and one typed list of saved parts holds them flattened
    typed: bool = False
    # the target runs NumPy's own random generator: a draw in `f.grad` is the plain call's draw
    numpy_draws: bool = True
    # the largest rank of an array the target writes into through a boolean mask (None: any)
    mask_write_rank: int = None
    # `reversed(range(...))` is available (else the loop counts down explicitly)
    reversed_range: bool = True
    # the forward-mode transform's code runs on it (jvp, jacfwd, hvp, hessian)
    forward_mode: bool = True
    # the target compiles the plain call `f(*args)` too: each variant also gets its forward without tape
    plain_call: bool = False
    # its compiled code takes containers (pytrees) as arguments (else they are flattened at the boundary)
    container_args: bool = True
    # hvp / hessian run on it: the generated adjoint, differentiated forward, runs on the same target
    second_order: bool = True
    # the compiled code keeps the values of the global arrays it read (an in-place change makes it stale)
    frozen_globals: bool = False
    # its functions may take keyword-only parameters (else a tangent function's `*, dx` become positional)
    keyword_only: bool = True
    # module header lines, and a pass over each generated function tree before it is unparsed
    header: str = ""
    lower: object = field(default=None, compare=False)
    # forward mode's loader of a tangent function, (program, source, title, name) -> callable taking the
    # primals positionally and the tangents by keyword (None: exec'd as Python, forward/api.py)
    load_forward: object = field(default=None, compare=False)


PYTHON = Traits("python")

NAMES = ("python", "numba", "triton")      # the backends a user may name


def plain_name(primal):
    """The name of a variant's plain call (Traits.plain_call): `primal_f_wrt_x` -> `plain_f_wrt_x`."""
    return "plain_" + primal[len("primal_"):]


def traits(name):
    """The Traits of target `name` (its backend module's TRAITS; python's when it declares none)."""
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ImportError:
        return PYTHON
    return getattr(module, "TRAITS", PYTHON)


def target_of(name):
    """The Target (target.py) of backend `name`, one of NAMES; a UsageError when its module cannot be
    imported (a library it needs is missing)."""
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        from ..errors import UsageError
        raise UsageError(f"backend=\"{name}\" needs {name.capitalize()}: {exc}",
                         hint=f"pip install 'retrograd[{name}]'") from None
    return module.TARGET


def cache_dir(backend):
    """Where a backend keeps the generated modules it loads from real files: $RETROGRAD_CACHE_DIR/<backend>
    (default ~/.cache/retrograd/<backend>) if that is a directory only this user can write, else a private
    temp directory, or None (compile in memory); see cachefs.py."""
    from . import cachefs
    return cachefs.directory(backend)
