"""What a derivative rule cannot differentiate exactly, refused at the user's line before any code is
generated, by both the reverse and the forward transform.

- a form of the call its rule does not cover (the rule's `check`, given the arguments written as literals:
  `np.pad(x, 1, mode="wrap")`);
- a differentiated value passed to a parameter the rule has no derivative for (`np.pad(x, 1,
  constant_values=c)` with `c` differentiated, an array of weights the rule treats as data): taking it
  as a constant would silently drop its part of the gradient.
"""
import ast
import copy

import gast

from ..errors import MissingRuleError, UnsupportedSyntaxError
from ..frontend.resolve import _BindError


def literal_arguments(bound):
    """{parameter: value} of the bound arguments written as literals in the source."""
    out = {}
    for p, e in bound.items():
        try:
            out[p] = ast.literal_eval(gast.gast_to_ast(copy.deepcopy(e)))
        except (ValueError, TypeError, SyntaxError):
            pass
    return out


def check_rule_calls(stmt, callees, is_active, is_varied, src):
    """Refuse, in statement `stmt`, a rule call that has a differentiated argument and that its rule
    cannot differentiate exactly (see the module docstring).  `is_varied(expr)`: the expression depends on
    a differentiated input (it need not be active: through a slot without derivative it reaches nothing)."""
    for call in (n for n in gast.walk(stmt) if isinstance(n, gast.Call)):
        callee = callees.classify(call)
        if callee.kind != "rule" or callee.rule is None:
            continue
        try:
            bound = callee.bind(call)
        except _BindError:
            continue                # reported with its location when the rule is applied
        out = bound.get("out")      # `out=` by keyword is refused by the front end; this is it by position
        if out is not None and not (isinstance(out, gast.Constant) and out.value is None):
            raise src.error(UnsupportedSyntaxError, out, f"`{callee.label}` writes its result into the array "
                            "passed as `out`, which the adjoint would not see", construct="out",
                            hint="assign the result instead: `y = np.take(x, i)`, or `y[...] = ...` to write "
                                 "into y")
        if not is_active(call):
            continue
        rule, label = callee.rule, callee.label
        if rule.check is not None:
            refusal = rule.check(literal_arguments(bound))
            if refusal is not None:
                raise src.error(MissingRuleError, call, f"no derivative rule for `{label}` {refusal[0]}",
                                construct=label, hint=refusal[1])
        for p, e in bound.items():
            if isinstance(e, gast.Constant) and isinstance(e.value, tuple):   # *varargs: a tuple of arguments
                e = next((x for x in e.value if isinstance(x, gast.AST) and is_varied(x)), e)
            if p not in rule.grads and p not in rule.zero and isinstance(e, gast.AST) and is_varied(e):
                raise src.error(MissingRuleError, e, f"`{label}` has no derivative with respect to its "
                                f"argument `{p}`, and a value being differentiated is passed to it",
                                construct=label, hint=f"pass a constant as `{p}` (compute it outside, or "
                                "with .copy() of a value that is not differentiated), or register a custom "
                                "adjoint with rg.register_adjoint")
