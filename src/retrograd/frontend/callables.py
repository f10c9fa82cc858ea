"""The callables people pass, reduced to a Python function plus the arguments already bound to it.

`rg.grad(f)` may be given a `def`, a lambda, a nested def (a closure), a `functools.partial`, a bound
method (`model.loss`), a method through its class, a `staticmethod`/`classmethod`, a `@numba.njit`
function, an object with a Python `__call__`, or a function already wrapped by `rg.differentiate`.
Each becomes a `Target`: the plain function whose source is differentiated, and the positional and
keyword arguments bound in front of the caller's (a partial's arguments, a method's `self`).  The bound
arguments are passed to the generated code as ordinary non-differentiated arguments, so one generated
variant serves every instance of a class and every partial of a function; `argnums` counts the
parameters that remain, as in JAX.
"""
import functools
import inspect
import types
from dataclasses import dataclass, field

from ..errors import UsageError
from .source import jit_source_function


@dataclass
class Target:
    fn: types.FunctionType
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    @property
    def signature(self):
        """The signature the caller sees: the function's, less what is bound (as `inspect` shows a partial)."""
        if not self.args and not self.kwargs:
            return inspect.signature(self.fn)
        return inspect.signature(functools.partial(self.fn, *self.args, **self.kwargs))


def normalise(obj):
    """The `Target` of a callable, or a UsageError saying what retrograd can differentiate instead."""
    own = getattr(type(obj), "__retrograd_target__", None)      # a Differentiable, or one bound to an instance
    if own is not None:
        return own(obj)
    if isinstance(obj, functools.partial):
        inner = normalise(obj.func)
        return Target(inner.fn, inner.args + tuple(obj.args), {**inner.kwargs, **obj.keywords})
    if isinstance(obj, types.MethodType):          # obj.loss, and Class.cm for a classmethod
        inner = normalise(obj.__func__)
        return Target(inner.fn, inner.args + (obj.__self__,), inner.kwargs)
    if isinstance(obj, staticmethod):              # taken from a class's __dict__
        return normalise(obj.__func__)
    if isinstance(obj, classmethod):
        raise UsageError(f"{obj.__func__.__qualname__} is a classmethod object taken from a class's __dict__; "
                         "it has no class bound to it", hint="pass it through its class: `Class.method`")
    if isinstance(obj, types.FunctionType):
        return Target(obj)
    py_func = jit_source_function(obj)             # a numba.njit dispatcher: differentiate its Python source
    if py_func is not None:
        return Target(py_func)
    call = getattr(type(obj), "__call__", None)
    if isinstance(call, types.FunctionType):       # an instance of a class with a Python __call__
        inner = normalise(call)
        return Target(inner.fn, inner.args + (obj,), inner.kwargs)
    what = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    raise UsageError(f"retrograd differentiates Python functions (def, lambda, partial, methods); "
                     f"{what!s} is a {type(obj).__name__} without Python source",
                     hint="wrap it in a Python function, e.g. `lambda x: np.sin(x)`, or register an adjoint for it")
