"""What the public API asks of a backend: the one interface api.py calls, so that it never names one.

A backend module (python.py, numba.py, triton.py) declares `TARGET`, an instance of a subclass of
`Target` that says how it loads generated code and overrides what else differs; `backends.target_of(name)`
finds it.  The defaults are the python backend's: generated functions are called as they are, nothing is
cached across processes, and every value a `wrt` parameter may hold (floats, arrays, pytrees) is
differentiated.
"""
from . import PYTHON


class Target:
    name = "python"
    # the compiled code keeps the values of the user's globals it read (and global arrays' contents) as
    # they were when it was compiled: any change to them regenerates it, none is rebound or read live
    freezes_globals = False
    # rg.debug_nans()'s checks can run on its code (they are the generated NumPy code's)
    debug_checks = True

    traits = PYTHON          # the module's TRAITS (what of the target changes the generated code)

    def check_options(self, has_aux, bound):
        """Refuse, at decoration, options this target does not differentiate (bound: a partial's or a
        method's arguments are passed in front of the caller's)."""

    def load(self, program, source, title):
        """The namespace of the loaded generated module (its functions are looked up in it by name).
        Every target defines it: there is no default way to load generated code."""
        raise NotImplementedError(f"target {self.traits.name!r} defines no load()")

    def wrap(self, fn, source, locations):
        """The callable api.py calls for a generated function `fn`: where the target's own failures (a
        compile error at the first call) become a RetrogradError at the user's line, and an exception
        raised while it runs names the user's line (locations: generated line -> sourcemap.Location; it
        may be empty when api.py re-wraps a rebound namespace's function, which only the python target
        does, and python finds its map by the generated file's name)."""
        return fn

    def cached_transform(self, diff, kinds):
        """(primal, adjoint, source, plain call), already wrapped, from an earlier process's transform of
        the same function, or None (the transform runs)."""
        return None

    def remember_transform(self, diff, kinds, ns, primal, adjoint, locations):
        """Record a transform just done for a later process's `cached_transform`."""

    def takes(self, value):
        """Whether it differentiates with respect to `value` (of a float kind: integers are refused
        before this is asked)."""
        return True

    def refusal(self, fn_name, param, value):
        """The error for a `wrt` argument `value` it does not take (`takes(value)` is false)."""
        from ..errors import UsageError
        return UsageError(f"{fn_name}: the {self.traits.name} backend does not differentiate with respect to "
                          f"`{param}` (a {type(value).__name__})", hint='use backend="python"')

    def source_of(self, diff):
        """`diff.source` where the target generates code of its own, else None (the generated module's)."""
        return None

    def jacobian_columns(self, tangent, args, position, tparam):
        """jacfwd in one call: (output, (out.size, arg.size) float64 Jacobian) of the loaded tangent function
        `tangent` w.r.t. args[position] (its tangent parameter `tparam`), or None: the caller pushes the
        basis directions through `tangent` one at a time."""
        return None

    def jacobian_rows(self, primal, adjoint, args, positions):
        """jacrev in one call: (output, [(out.size, arg.size) float64 Jacobian per position in `positions`,
        the adjoint's order]) of the wrapped primal and adjoint, or None: the caller pulls back one output
        entry at a time."""
        return None
