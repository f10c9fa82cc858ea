"""The rule library's registry: derivative rules written as short Python templates.

A rule is a function whose parameters are the result and then the differentiated function's parameters,
and whose body says, for each differentiable argument, what its cotangent receives:

    @adjoint(np.tanh, math.tanh)
    def tanh(y, x):
        d[x] = d[y] * (1.0 - y * y)

`d[y]` is the cotangent of the result.  Beside it, `@tangent(tanh)` declares the forward-mode rule of the
same op (attached to the same Rule: `rule.tangent`), written as the tangent of the result, a sum of terms
each linear in the tangent `t[p]` of one argument:

    @tangent(tanh)
    def tanh(y, x):
        t[y] = t[x] * (1.0 - y * y)

Terms whose argument has no tangent (a constant) are dropped by the forward transform; a term that names
several tangents (`np.where(c, t[x], t[z])`) gets `zeros_like(arg)` for the missing ones.  The template is never run: the transform splices the call's
argument expressions, the result and the cotangent into it and emits the code.  Names other than the
parameters (np, math, runtime helpers) must be importable in generated code; `GLOBALS` collects them.
"""
import inspect
import textwrap

import gast

from ...astutil import loaded_names
from .tangents import Refused, Tangent

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


class Rank:
    """A rule's shape rule, as much of it as code generation needs: the result's kind ("scalar",
    "array:N", or None when unknown) from the kinds of the bound arguments (`kinds[param]`) and the
    literal values of the constant ones (`literals[param]`, absent when not a literal).  Numba's typed
    tapes and placeholders are built from these kinds (analysis/kinds.py)."""

    def __init__(self, describe, fn):
        self.describe, self.fn = describe, fn

    def __call__(self, kinds, literals):
        return self.fn(kinds, literals)

    def __repr__(self):
        return f"Rank({self.describe})"


def _rank_of(kind):
    if kind == "scalar":
        return 0
    if isinstance(kind, str) and kind.startswith("array:"):
        return int(kind.split(":")[1])
    return None


def _kind_of_rank(n):
    return None if n is None else ("scalar" if n == 0 else f"array:{n}")


def same_rank(param):
    """The result has the rank of `param` (copies, casts, scans along an axis, elementwise of one operand)."""
    return Rank(f"same as {param}", lambda kinds, lit: _kind_of_rank(_rank_of(kinds.get(param))))


def reduced(param="a", axis="axis", keepdims="keepdims"):
    """NumPy's reduction convention: over `axis` (None: every axis; an int or a tuple of ints), the
    reduced axes kept as length 1 with `keepdims=True`."""
    def rank(kinds, lit):
        n = _rank_of(kinds.get(param))
        if n is None or axis not in lit or keepdims not in lit:
            return None
        ax, keep = lit[axis], lit[keepdims]
        if keep is True:
            return _kind_of_rank(n)
        if keep is not False:
            return None
        if ax is None:
            return "scalar"
        count = len(ax) if isinstance(ax, tuple) else 1 if isinstance(ax, int) and not isinstance(ax, bool) else None
        return None if count is None or count > n else _kind_of_rank(n - count)
    return Rank(f"reduce {param} over {axis}", rank)


class _D:
    """Placeholder so templates read `d[x] = ...`; never executed."""

    def __getitem__(self, k):
        raise RuntimeError("rule templates are not executed")

    __setitem__ = __getitem__


d = _D()
t = _D()              # tangent templates: `t[y] = t[x] * ...`


class Rule:
    def __init__(self, template, kind=None, rank=None, check=None, zero=()):
        self.name = template.__name__
        self.zero = frozenset(zero)   # parameters whose derivative is 0 (a condition, a sign, a shape source)
        self.module = template.__module__.rsplit(".", 1)[-1]     # its family's module (the README's list)
        self.rank = rank
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
        if self.zero - set(self.params):
            raise SyntaxError(f"rule {self.name}: zero= names no parameter: {sorted(self.zero - set(self.params))}")
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

    tangent = None        # a tangents.Tangent, set by @tangent (or a refusal marker)

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


def adjoint(*fns, methods=(), attributes=(), kind=None, rank=None, check=None, zero=()):
    """Register the decorated template as the derivative rule of `fns` (and of `x.method(...)`); `kind`
    (a key of KINDS) defaults to the family its module declares; `rank` (a Rank) is the shape rule, for
    calls whose result kind is not that of an elementwise operation.  `check(args)`, given the call's
    arguments written as literals in the source (parameter name -> value; others absent), returns None or
    `(message, hint)`: that form of the call has no rule here and is refused at the user's line.  `zero`
    names the parameters whose derivative is 0 (a condition, a sign, an array read for its shape): a
    differentiated value passed to any other parameter without a `d[...]` is refused (analysis/rule_calls.py)."""
    def register(template):
        rule = Rule(template, kind, rank, check, zero)
        for f in fns:
            RULES[id(f)] = rule
            _KEEP.append(f)
        for m in methods:
            METHODS[m] = rule
        for a in attributes:
            ATTRIBUTES[a] = rule
        template._rg_rule = rule       # `@tangent(template)` finds the rule to attach to
        return template
    return register


def tangent(template_of_adjoint=None, refuse=None):
    """Declare the forward-mode (tangent) rule of the op whose adjoint template is given:

        @tangent(tanh)
        def tanh(y, x):
            t[y] = t[x] * (1.0 - y * y)

    `refuse="why"` instead marks the op as refused in forward mode (jvp, jacfwd, hvp raise a
    MissingRuleError at the user's line with that reason); the decorated function is then not needed."""
    rule = getattr(template_of_adjoint, "_rg_rule", None)
    if rule is None:
        raise ValueError(f"@tangent({template_of_adjoint!r}): not an @adjoint template")

    def register(template):
        rule.tangent = Tangent(template, rule.params, rule.result, declared=set(rule.grads), name=rule.name,
                               globals_out=GLOBALS)
        return template
    if refuse is not None:
        rule.tangent = Refused(rule.name, refuse)
        return None
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
