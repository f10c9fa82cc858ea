"""Callee resolution: what does each call in the function refer to, and how is it differentiated?

A call resolves, in this order, to a custom rule (`rg.register_adjoint`), a library rule, a function with
no derivative (shapes, integers, constructors), a user-defined Python function (differentiated from its
source), or nothing: then it is an error, but only if a derivative is actually needed through it.
"""
import inspect
import types
import dataclasses
from dataclasses import dataclass

import gast
import numpy as np

from ..astutil import const
from ..errors import MissingRuleError, UnsupportedSyntaxError
from ..reverse.rules import registry
from .source import jit_source_function

CUSTOM = {}   # id(fn) -> (fn, adjoint function)

_LIBRARY_MODULES = ("numpy", "math", "builtins", "scipy", "operator", "retrograd", "_operator")
# methods of a random generator held in a local variable (`rng = np.random.default_rng(0)`)
_DRAW_METHODS = {"random", "normal", "uniform", "integers", "choice", "standard_normal", "exponential", "poisson",
                 "binomial", "permutation", "permuted", "shuffle", "rand", "randn", "randint", "beta", "gamma",
                 "laplace", "logistic", "lognormal", "multivariate_normal", "standard_exponential",
                 "standard_gamma", "triangular", "random_sample", "bytes", "gauss", "normalvariate"}
_CASTS = {"astype", "asarray", "array", "asfortranarray", "ascontiguousarray"}   # calls with a dtype
_VARARG_METHODS = {"reshape", "transpose"}


@dataclass
class Callee:
    kind: str                 # "rule" | "custom" | "user" | "constant" | "missing"
    label: str                # how the user wrote it, for messages
    rule: object = None
    fn: object = None
    adjoint_fn: object = None
    receiver: object = None   # `x` in `x.sum()`

    def args(self, call):
        return ([self.receiver] if self.receiver is not None else []) + list(call.args)

    def diff_args(self, call):
        if self.kind == "constant":
            return []
        if self.kind == "rule":
            try:
                bound = self.bind(call)
            except _BindError:   # reported with its location when the adjoint is generated
                return self.args(call) + [kw.value for kw in call.keywords]
            return [bound[p] for p in self.rule.grads if p in bound]
        return self.args(call) + [kw.value for kw in call.keywords]

    def bind(self, call):
        """Map the rule's parameter names to the call's argument expressions (defaults filled in)."""
        args = self.args(call)
        if self.receiver is not None and self.label.rsplit(".", 1)[-1] in _VARARG_METHODS and len(args) > 2:
            args = [args[0], gast.Tuple(elts=args[1:], ctx=gast.Load())]
        kwargs = {kw.arg: kw.value for kw in call.keywords}
        try:
            bound = self.rule.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise _BindError(f"{self.label}(...) is called with arguments its derivative rule does not "
                             f"take ({exc})") from None
        bound.apply_defaults()
        return {k: (v if isinstance(v, gast.AST) else const(v)) for k, v in bound.arguments.items()}


class _BindError(Exception):
    pass


def _dotted(node):
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
        return list(reversed(parts))
    return None


class Callees:
    """Classifies the calls of one function, given its namespace and its local variable names."""

    def __init__(self, src, local_names):
        self.src = src
        self.locals = set(local_names)
        self._cache = {}

    def is_module(self, name):
        return name not in self.locals and isinstance(self.src.namespace.get(name), types.ModuleType)

    def is_constant_call(self, call):
        return self.classify(call).kind == "constant"

    def is_draw(self, call):
        """A call to a random number generator: it must run exactly once, in the forward pass (the
        adjoint and any re-run reads the value it drew)."""
        import random
        fn = self.classify(call).fn
        owner = getattr(fn, "__self__", None)
        module = getattr(fn, "__module__", None) or ""
        if module.startswith(("numpy.random", "random")) or isinstance(
                owner, (np.random.Generator, np.random.RandomState, random.Random)):
            return True
        f = call.func
        return fn is None and isinstance(f, gast.Attribute) and f.attr in _DRAW_METHODS

    def classify(self, call):
        key = id(call)
        hit = self._cache.get(key)
        # a method's receiver is an expression the normaliser may since have named (`np.where(...).sum()`
        # -> `where_x.sum()`): a Callee holding the old expression would differentiate it a second time
        # (the same value under its new name: only the receiver changes)
        if hit is None:
            hit = self._cache[key] = self._classify(call)
        elif hit.receiver is not None and isinstance(call.func, gast.Attribute) and hit.receiver is not call.func.value:
            hit = self._cache[key] = dataclasses.replace(hit, receiver=call.func.value)
        return hit

    def resolve(self, dotted, default=None):
        """The object a dotted global name (`np.add.at`) refers to, or `default` (locals resolve to it)."""
        if not dotted or dotted[0] in self.locals:
            return default
        obj = self.src.namespace.get(dotted[0], _MISSING)
        if obj is _MISSING:
            import builtins
            obj = getattr(builtins, dotted[0], _MISSING)
        for attr in dotted[1:]:
            obj = getattr(obj, attr, _MISSING) if obj is not _MISSING else _MISSING
        return default if obj is _MISSING else obj

    def _classify(self, call):
        func = call.func
        if getattr(call, "_rg_callee", None) is not None:      # a runtime function the normaliser put here
            fn = call._rg_callee
            return Callee("rule", fn.__name__, rule=registry.lookup(fn), fn=fn)
        label = _label(func)
        dotted = _dotted(func)
        if dotted is None or dotted[0] in self.locals:
            if isinstance(func, gast.Attribute):  # a method: x.sum(), (a * b).reshape(...)
                m = func.attr
                if m in registry.METHODS:
                    callee = Callee("rule", "." + m, rule=registry.METHODS[m], receiver=func.value)
                    if (m == "astype" and self._casts_to_integer(call, m)) or self._reduces_to_integer(call, callee):
                        return Callee("constant", "." + m, receiver=func.value)
                    return callee
                if m in registry.CONSTANT_METHODS:
                    return Callee("constant", "." + m, receiver=func.value)
                return Callee("missing", "." + m, receiver=func.value)
            if dotted is not None and len(dotted) == 1:
                raise self.src.error(UnsupportedSyntaxError, call,
                                     f"calling the local variable `{dotted[0]}` is not supported",
                                     construct="call", hint="call a module-level function by its name")
            return Callee("missing", label)
        obj = self.src.namespace.get(dotted[0], _MISSING)
        if obj is _MISSING:
            import builtins
            obj = getattr(builtins, dotted[0], _MISSING)
        for attr in dotted[1:]:
            obj = getattr(obj, attr, _MISSING) if obj is not _MISSING else _MISSING
        if obj is _MISSING:
            raise self.src.error(MissingRuleError, call, f"`{label}` is not defined",
                                 construct=label, hint="define it at module level before calling the gradient")
        if id(obj) in CUSTOM:
            return Callee("custom", label, fn=obj, adjoint_fn=CUSTOM[id(obj)][1])
        rule = registry.lookup(obj)
        if rule is not None:
            callee = Callee("rule", label, rule=rule, fn=obj)
            if getattr(obj, "__name__", None) in _CASTS:
                if self._casts_to_integer(call, obj.__name__):
                    return Callee("constant", label, fn=obj)
            elif self._reduces_to_integer(call, callee):
                return Callee("constant", label, fn=obj)
            return callee
        if registry.is_constant(obj):
            return Callee("constant", label, fn=obj)
        if inspect.isfunction(obj) and not (getattr(obj, "__module__", "") or "").split(".")[0] in _LIBRARY_MODULES:
            return Callee("user", label, fn=obj)
        if hasattr(obj, "__wrapped_retrograd__"):  # a function decorated with rg.differentiate
            return Callee("user", label, fn=obj.__wrapped_retrograd__)
        py_func = jit_source_function(obj)          # a @numba.njit helper: differentiated from its Python source
        if py_func is not None:
            return Callee("user", label, fn=py_func)
        return Callee("missing", label, fn=obj)

    def _reduces_to_integer(self, call, callee):
        """Does a rule with a `dtype` parameter (`np.sum(x, dtype=int)`, `x.cumsum(0, int)`, `np.full(3, v,
        dtype=int)`) compute in integers?  Then its value is piecewise constant: derivative 0."""
        if "dtype" not in callee.rule.params:
            return False
        try:
            dtype = callee.bind(call).get("dtype")
        except _BindError:           # reported with its location when the adjoint is generated
            return False
        return dtype is not None and self._dtype_is_integer(call, dtype)

    def _casts_to_integer(self, call, fname):
        """Does this cast (`x.astype(T)`, `np.asarray(x, dtype=T)`) give integers or booleans, whose
        derivative is zero?  The dtype must be readable from the source: a cast to a type known only
        when the code runs is refused, since it decides whether the derivative is the identity or 0."""
        dtype = next((kw.value for kw in call.keywords if kw.arg == "dtype"), None)
        positional = 0 if fname == "astype" else 1
        if dtype is None and len(call.args) > positional:
            dtype = call.args[positional]
        return dtype is not None and self._dtype_is_integer(call, dtype)

    def _dtype_is_integer(self, call, dtype):
        if isinstance(dtype, gast.Constant) and dtype.value is None:
            return False
        if isinstance(dtype, gast.Constant) and isinstance(dtype.value, str):
            obj = dtype.value
        else:
            obj = self.resolve(_dotted(dtype))
        try:
            kind = np.dtype(obj).kind if obj is not None else None
        except TypeError:
            kind = None
        if kind is None:
            raise self.src.error(UnsupportedSyntaxError, call, f"cannot tell the dtype `{_label(dtype)}` of this "
                                 "cast from the source: a cast to integers has derivative 0, to floats 1",
                                 construct=_label(call.func), hint="write the dtype itself, e.g. np.float64 or int")
        if kind == "c":
            raise self.src.error(UnsupportedSyntaxError, call, "casts to complex numbers are not differentiated",
                                 construct=_label(call.func), hint="keep the computation real")
        return kind in "biu"

    def missing_error(self, call, callee):
        what = callee.label
        return self.src.error(
            MissingRuleError, call, f"no derivative rule for `{what}`, and it has no Python source to differentiate",
            construct=what,
            hint=f"register one:\n\n    @retrograd.register_adjoint({what.lstrip('.')})\n"
                 f"    def {what.lstrip('.').replace('.', '_')}_adjoint(dresult, result, *args):\n"
                 f"        return (gradient for each argument, None where none)\n")

    def bind(self, call, callee):
        try:
            return callee.bind(call)
        except _BindError as exc:
            raise self.src.error(UnsupportedSyntaxError, call, str(exc), construct=callee.label) from None


_MISSING = object()


def _label(func):
    d = _dotted(func)
    if d is not None:
        return ".".join(d)
    if isinstance(func, gast.Attribute):
        return "." + func.attr
    return "call"


def local_names(fn):
    """Parameters and assigned names of a (parsed, unnormalized) function."""
    names = {a.id for a in fn.args.args + fn.args.posonlyargs + fn.args.kwonlyargs}
    for n in gast.walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            names.add(n.id)
    return names
