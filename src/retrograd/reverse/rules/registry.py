"""The rule library's registry: derivative rules written as short Python templates.

A rule is a function whose parameters are the result and then the differentiated function's parameters,
and whose body says, for each differentiable argument, what its cotangent receives:

    @adjoint(np.tanh, math.tanh)
    def tanh(y, x):
        d[x] = d[y] * (1.0 - y * y)

`d[y]` is the cotangent of the result.  The template is never run: the transform splices the call's
argument expressions, the result and the cotangent into it and emits the code.  Names other than the
parameters (np, math, runtime helpers) must be importable in generated code; `GLOBALS` collects them.
"""
import inspect
import textwrap

import gast

from ...astutil import loaded_names

RULES = {}            # id(function) -> Rule
METHODS = {}          # method name (x.sum()) -> Rule, with `x` as the first argument
ATTRIBUTES = {}       # attribute name (x.T) -> Rule
CONSTANT = set()      # id(function) of functions whose result has no derivative (len, argmax, zeros, ...)
CONSTANT_METHODS = set()
GLOBALS = {}          # names rule bodies refer to -> objects
_KEEP = []            # keep registered functions alive so their ids stay unique

# What the transform may assume of a rule, by family.  Each rules module declares its family once
# (`KIND = "..."` at its top) and a rule may override it (`@adjoint(..., kind=...)`).
#   broadcasts: the result has the broadcast shape of the operands (so `unbroadcast` of a cotangent to an
#               operand of that same shape is the identity, and the kinds of the operands give the result's);
#   cheap:      recomputing the call in the backward pass costs about as much as reading it from the tape.
KINDS = {
    "elementwise": dict(broadcasts=True, cheap=True),
    "shape": dict(broadcasts=False, cheap=True),
    "reduction": dict(broadcasts=False, cheap=False),
    "product": dict(broadcasts=False, cheap=False),
}


class _D:
    """Placeholder so templates read `d[x] = ...`; never executed."""

    def __getitem__(self, k):
        raise RuntimeError("rule templates are not executed")

    __setitem__ = __getitem__


d = _D()


class Rule:
    def __init__(self, template, kind=None, check=None):
        self.name = template.__name__
        self.module = template.__module__.rsplit(".", 1)[-1]     # its family's module (the README's list)
        self.check = check    # literal arguments -> None, or (message, hint) refusing this form of the call
        self.kind = kind or template.__globals__.get("KIND")
        if self.kind not in KINDS:
            raise ValueError(f"rule {self.name}: kind {self.kind!r} is not one of {sorted(KINDS)}")
        self.broadcasts = KINDS[self.kind]["broadcasts"]
        self.cheap = KINDS[self.kind]["cheap"]
        sig = inspect.signature(template)
        params = list(sig.parameters.values())
        self.result = params[0].name
        self.signature = sig.replace(parameters=params[1:])
        self.params = [p.name for p in params[1:]]
        tree = gast.parse(textwrap.dedent(inspect.getsource(template)))
        fn = tree.body[0]
        self.grads = {}      # param -> gast expression of its cotangent contribution
        for stmt in fn.body:
            if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant):
                continue  # docstring
            if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], gast.Subscript)
                    and isinstance(stmt.targets[0].value, gast.Name) and stmt.targets[0].value.id == "d"
                    and isinstance(stmt.targets[0].slice, gast.Name)):
                raise SyntaxError(f"rule {self.name}: only `d[param] = expression` statements are allowed")
            self.grads[stmt.targets[0].slice.id] = stmt.value
        for p, expr in self.grads.items():
            if p not in self.params:
                raise SyntaxError(f"rule {self.name}: d[{p}] names no parameter")
            for n in loaded_names(expr) - set(self.params) - {self.result, "d"}:
                if n in template.__globals__:
                    GLOBALS.setdefault(n, template.__globals__[n])

    def needs(self, param):
        """Parameter names (and the result name) whose *values* the contribution to `param` reads."""
        return value_names(self.grads[param]) & (set(self.params) | {self.result})


def value_names(expr):
    """Names read by a template expression, not counting those inside `d[...]`."""
    out = set()

    def visit(node):
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == "d":
            return
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            out.add(node.id)
        for child in gast.iter_child_nodes(node):
            visit(child)
    visit(expr)
    return out


def adjoint(*fns, methods=(), attributes=(), kind=None, check=None):
    """Register the decorated template as the derivative rule of `fns` (and of `x.method(...)`); `kind`
    (a key of KINDS) defaults to the family its module declares.  `check(args)`, given the call's
    arguments written as literals in the source (parameter name -> value; others absent), returns None or
    `(message, hint)`: that form of the call has no rule here and is refused at the user's line."""
    def register(template):
        rule = Rule(template, kind, check)
        for f in fns:
            RULES[id(f)] = rule
            _KEEP.append(f)
        for m in methods:
            METHODS[m] = rule
        for a in attributes:
            ATTRIBUTES[a] = rule
        return template
    return register


def constant(*fns, methods=()):
    """Declare functions whose results carry no derivative (integers, shapes, constructors, ...)."""
    for f in fns:
        CONSTANT.add(id(f))
        _KEEP.append(f)
    CONSTANT_METHODS.update(methods)


def lookup(fn):
    return RULES.get(id(fn))


def is_constant(fn):
    return id(fn) in CONSTANT
