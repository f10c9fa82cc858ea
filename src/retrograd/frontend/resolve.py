"""Callee resolution: what does each call in the function refer to, and how is it differentiated?

A call resolves, in this order, to a custom rule (`rg.register_adjoint`), a library rule, a function with
no derivative (shapes, integers, constructors), a user-defined Python function (differentiated from its
source), or nothing: then it is an error, but only if a derivative is actually needed through it.
"""
import inspect
import types
from dataclasses import dataclass

import gast

from ..astutil import const
from ..errors import MissingRuleError, UnsupportedSyntaxError
from ..reverse.rules import registry

CUSTOM = {}   # id(fn) -> (fn, adjoint function)

_LIBRARY_MODULES = ("numpy", "math", "builtins", "scipy", "operator", "retrograd", "_operator")
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

    def classify(self, call):
        key = id(call)
        if key not in self._cache:
            self._cache[key] = self._classify(call)
        return self._cache[key]

    def resolve(self, dotted):
        """The object a dotted global name (`np.add.at`) refers to, or None (locals resolve to None)."""
        if not dotted or dotted[0] in self.locals:
            return None
        obj = self.src.namespace.get(dotted[0], _MISSING)
        if obj is _MISSING:
            import builtins
            obj = getattr(builtins, dotted[0], _MISSING)
        for attr in dotted[1:]:
            obj = getattr(obj, attr, _MISSING) if obj is not _MISSING else _MISSING
        return None if obj is _MISSING else obj

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
                    return Callee("rule", "." + m, rule=registry.METHODS[m], receiver=func.value)
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
            return Callee("rule", label, rule=rule, fn=obj)
        if registry.is_constant(obj):
            return Callee("constant", label, fn=obj)
        if inspect.isfunction(obj) and not (getattr(obj, "__module__", "") or "").split(".")[0] in _LIBRARY_MODULES:
            return Callee("user", label, fn=obj)
        if hasattr(obj, "__wrapped_retrograd__"):  # a function decorated with rg.differentiate
            return Callee("user", label, fn=obj.__wrapped_retrograd__)
        return Callee("missing", label, fn=obj)

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
