"""Tangent templates: the forward-mode rule of an op, declared beside its adjoint (`@tangent(op)`).

    @tangent(mul)
    def mul(y, a, b):
        t[y] = t[a] * b + a * t[b]

The right-hand side is a sum of terms, each linear in the tangent `t[p]` of one argument.  The template is
never run: the forward transform splices the call's argument expressions, their tangents and the result
into it.  A term whose argument has no tangent (a constant) is dropped, not multiplied by zero; a term that
names several tangents (`np.where(c, t[x], t[z])`) gets `zeros_like(z)` for a missing one.
"""
import copy
import inspect
import textwrap

import gast

from ...astutil import loaded_names, names_outside


class Tangent:
    def __init__(self, template, params, result, declared=None, name=None, globals_out=None):
        self.name = name or template.__name__
        sig = inspect.signature(template)
        names = list(sig.parameters)
        if names[1:] != list(params) or names[0] != result:
            raise SyntaxError(f"tangent of {self.name}: parameters {names} must be those of its adjoint "
                              f"({[result] + list(params)})")
        self.params, self.result = list(params), result
        fn = gast.parse(textwrap.dedent(inspect.getsource(template))).body[0]
        body = [s for s in fn.body if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]
        if not (len(body) == 1 and isinstance(body[0], gast.Assign) and _is_t(body[0].targets[0])
                and body[0].targets[0].slice.id == result):
            raise SyntaxError(f"tangent of {self.name}: the body must be one statement `t[{result}] = ...`")
        self.expr = body[0].value
        self.terms = _terms(self.expr, 1)
        self.diff = {p for _, term in self.terms for p in tangents_in(term)}
        if self.diff - set(self.params):
            raise SyntaxError(f"tangent of {self.name}: t[...] names no parameter: {sorted(self.diff - set(self.params))}")
        if declared is not None and self.diff != set(declared):
            raise SyntaxError(f"tangent of {self.name}: it differentiates {sorted(self.diff)} but the adjoint "
                              f"{sorted(declared)}")
        for n in loaded_names(self.expr) - set(self.params) - {self.result, "t"}:   # what generated code needs
            if n in template.__globals__ and globals_out is not None:
                globals_out.setdefault(n, template.__globals__[n])

    def needs_result(self, active):
        return any(self.result in value_names(term) for _, term in self.terms if tangents_in(term) & active)

    def reads(self, active):
        """Parameters whose values the terms that survive (`active` tangents) read."""
        return {n for _, term in self.terms if tangents_in(term) & active for n in value_names(term)} & set(self.params)


class Refused:
    """An op forward mode does not differentiate: the reason is shown at the user's line."""

    def __init__(self, name, reason):
        self.name, self.reason = name, reason


def _is_t(node):
    return (isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == "t"
            and isinstance(node.slice, gast.Name))


def tangents_in(expr):
    return {n.slice.id for n in gast.walk(expr) if _is_t(n)}


def value_names(expr):
    """Names read by a tangent template expression, not counting those inside `t[...]`."""
    return names_outside(expr, "t")


def _terms(expr, sign):
    """[(sign, term)]: the top-level sum of `expr`."""
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, (gast.Add, gast.Sub)):
        return _terms(expr.left, sign) + _terms(expr.right, sign if isinstance(expr.op, gast.Add) else -sign)
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
        return _terms(expr.operand, -sign)
    return [(sign, expr)]


class _Splice(gast.NodeTransformer):
    def __init__(self, values, tangents, zeros):
        self.values, self.tangents, self.zeros = values, tangents, zeros

    def visit_Subscript(self, node):
        if _is_t(node):
            p = node.slice.id
            got = self.tangents.get(p)
            return copy.deepcopy(got) if got is not None else copy.deepcopy(self.zeros[p])
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.values and isinstance(node.ctx, gast.Load):
            return copy.deepcopy(self.values[node.id])
        return node


def instantiate(tangent, values, tangents, zeros):
    """The tangent expression of one call: `values` maps parameters (and the result) to expressions,
    `tangents` the parameters that have a tangent to its expression, `zeros` the others to a zero of their
    shape.  None when no term survives (the result's tangent is zero)."""
    out = None
    for sign, term in tangent.terms:
        if not tangents_in(term) & set(tangents):
            continue
        e = _Splice(values, tangents, zeros).visit(copy.deepcopy(term))
        if out is None:
            out = gast.UnaryOp(op=gast.USub(), operand=e) if sign < 0 else e
        else:
            out = gast.BinOp(left=out, op=gast.Add() if sign > 0 else gast.Sub(), right=e)
    return out
