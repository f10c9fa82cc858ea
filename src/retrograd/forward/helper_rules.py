"""Tangents of the helpers that generated adjoints call (retrograd.runtime and the rule modules), so that
an adjoint can itself be differentiated in forward mode (hvp, hessian: forward-over-reverse).

These are not ops a user calls, so they are kept out of the rule table: the forward transform looks them
up here by the function object.  Helpers whose result carries no derivative are CONSTANT; helpers whose
second derivative is not written are REFUSED with the reason (a MissingRuleError at the line).
"""
from .. import runtime as rt
from ..reverse.rules import elementwise, linalg, operators, reductions, shape
from ..reverse.rules.registry import t
from ..reverse.rules import registry
from ..reverse.rules.tangents import Refused, Tangent

HELPERS = {}      # id(fn) -> Tangent or Refused
CONSTANT = set()  # id(fn)
_KEEP = []


def helper(fn):
    import inspect

    def register(template):
        params = list(inspect.signature(fn).parameters)
        result = list(inspect.signature(template).parameters)[0]
        HELPERS[id(fn)] = Tangent(template, params, result, name=fn.__name__, globals_out=registry.GLOBALS)
        _KEEP.append(fn)
        return template
    return register


def refuse(fn, reason):
    HELPERS[id(fn)] = Refused(fn.__name__, reason)
    _KEEP.append(fn)


for _f in (rt.zeros_like, rt.reduce_shape, rt.nbytes_of, elementwise.clip_mask, rt.not_a_view, rt.no_repeats):
    CONSTANT.add(id(_f))
    _KEEP.append(_f)

unbroadcast, unreduce, select_grad = rt.unbroadcast, rt.unreduce, rt.select_grad
matmul_grad_a, matmul_grad_b, snapshot, add_into, add_at = (rt.matmul_grad_a, rt.matmul_grad_b, rt.snapshot,
                                                            rt.add_into, rt.add_at)
add_tree = rt.add_tree
pow_base_grad, pow_exp_grad, div_or_zero = operators.pow_base_grad, operators.pow_exp_grad, reductions.div_or_zero
untranspose, split_like, unreshape, unarray = shape.untranspose, shape.split_like, shape.unreshape, shape.unarray
dot_grad_a, dot_grad_b, inner_grad, inner_grad_b, trace_grad = (linalg.dot_grad_a, linalg.dot_grad_b,
                                                                linalg.inner_grad, linalg.inner_grad_b,
                                                                linalg.trace_grad)


def pow_base_grad_db(a, b):
    """d/db of b * a ** (b - 1): a ** (b - 1) * (1 + b log a); at a == 0 it is 0 for b > 1, else NaN."""
    import numpy as np
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(a == 0, np.where(b > 1, 0.0, np.nan), np.power(a, b - 1.0) * (1.0 + b * np.log(a)))
    return out[()]


from .runtime import scalar_seed, tape_push  # noqa: E402

CONSTANT.add(id(scalar_seed))
_KEEP.append(scalar_seed)


@helper(tape_push)
def _tape_push(r, tape, value):
    t[r] = tape_push(t[tape], t[value])


@helper(shape.zero_unless_float)
def _zero_unless_float(r, g, y):
    t[r] = shape.zero_unless_float(t[g], y)      # linear in g; y gives only its dtype


@helper(rt.unbroadcast)
def _unbroadcast(r, g, x):
    t[r] = unbroadcast(t[g], x)


@helper(rt.unreduce)
def _unreduce(r, g, x, axis, keepdims):
    t[r] = unreduce(t[g], x, axis, keepdims)


@helper(rt.select_grad)
def _select_grad(r, g, x, result, axis, keepdims):
    t[r] = select_grad(t[g], x, result, axis, keepdims)


@helper(rt.matmul_grad_a)
def _matmul_grad_a(r, g, a, b):
    t[r] = matmul_grad_a(t[g], a, b) + matmul_grad_a(g, a, t[b])


@helper(rt.matmul_grad_b)
def _matmul_grad_b(r, g, a, b):
    t[r] = matmul_grad_b(t[g], a, b) + matmul_grad_b(g, t[a], b)


@helper(rt.snapshot)
def _snapshot(r, x):
    t[r] = snapshot(t[x])


@helper(rt.add_into)
def _add_into(r, acc, g):
    t[r] = add_into(t[acc], t[g])


@helper(rt.add_tree)
def _add_tree(r, a, b):
    t[r] = add_tree(t[a], t[b])


@helper(rt.add_at)
def _add_at(r, a, idx, g):
    t[r] = add_at(t[a], idx, t[g])


@helper(operators.pow_base_grad)
def _pow_base_grad(r, a, b):
    t[r] = t[a] * b * pow_base_grad(a, b - 1.0) + t[b] * pow_base_grad_db(a, b)


@helper(operators.pow_exp_grad)
def _pow_exp_grad(r, a, b, y):
    t[r] = t[y] * pow_exp_grad(a, b, 1.0) + t[a] * div_or_zero(y, a)


@helper(reductions.div_or_zero)
def _div_or_zero(r, g, y):
    t[r] = div_or_zero(t[g], y) - div_or_zero(t[y] * r, y)


@helper(shape.untranspose)
def _untranspose(r, g, axes):
    t[r] = untranspose(t[g], axes)


@helper(shape.split_like)
def _split_like(r, g, arrays, axis, how):
    t[r] = split_like(t[g], arrays, axis, how)


@helper(shape.unreshape)
def _unreshape(r, g, a, order):
    t[r] = unreshape(t[g], a, order)


@helper(shape.unarray)
def _unarray(r, g, obj):
    t[r] = unarray(t[g], obj)


@helper(linalg.dot_grad_a)
def _dot_grad_a(r, g, a, b):
    t[r] = dot_grad_a(t[g], a, b) + dot_grad_a(g, a, t[b])


@helper(linalg.dot_grad_b)
def _dot_grad_b(r, g, a, b):
    t[r] = dot_grad_b(t[g], a, b) + dot_grad_b(g, t[a], b)


@helper(linalg.inner_grad)
def _inner_grad(r, g, a, b):
    t[r] = inner_grad(t[g], a, b) + inner_grad(g, a, t[b])


@helper(linalg.inner_grad_b)
def _inner_grad_b(r, g, a, b):
    t[r] = inner_grad_b(t[g], a, b) + inner_grad_b(g, t[a], b)


@helper(linalg.trace_grad)
def _trace_grad(r, g, a, offset, axis1, axis2):
    t[r] = trace_grad(t[g], a, offset, axis1, axis2)      # linear in g; a gives only its shape


refuse(reductions.prod_others, "the second derivative of np.prod is not implemented")
refuse(linalg.solve_grad_a, "the second derivative of np.linalg.solve is not implemented")
refuse(linalg.solve_grad_b, "the second derivative of np.linalg.solve is not implemented")
norm_grad = linalg.norm_grad


@helper(linalg.norm_grad)
def _norm_grad(r, g, x, y, ord, axis, keepdims):
    # norm_grad(g, x, y) = unreduce(g / y) * x: linear in g and in the trailing x; -g dy / y^2 through y
    t[r] = norm_grad(t[g], x, y, ord, axis, keepdims) + norm_grad(g, t[x], y, ord, axis, keepdims) - norm_grad(div_or_zero(g * t[y], y), x, y, ord, axis, keepdims)


def lookup(fn):
    return HELPERS.get(id(fn))


def is_constant(fn):
    return id(fn) in CONSTANT


