"""The rule oracle: every registered derivative rule, in each call form it accepts, against float64 central
differences, on hypothesis-drawn shapes and values (size-1 and size-0 axes, 0-d arrays, negative and
tuple axes, broadcasting operands, zeros where the function is smooth there).

The table below is keyed by the rule table itself (`registry.RULES`, `METHODS`, `ATTRIBUTES`): a rule
registered without an entry here fails `test_every_rule_has_an_oracle`, so new rules join by
construction.  Points where a function has no derivative (kinks of abs/max/clip, ties of max, jumps of
mod) are kept away from by the value strategies; what the rules do *at* those points is a convention,
tested with hand-derived values in `test_conventions_at_kinks`.
"""
import math
import operator
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fd
import retrograd as rg
from retrograd.reverse.rules import registry

DOMAINS = {                      # where each function is smooth (and FD at eps=1e-6 is accurate)
    "real": (-2.0, 2.0), "small": (-1.0, 1.0), "pos": (0.3, 3.0), "unit": (-0.9, 0.9), "gt1": (1.2, 3.0),
    "gtm1": (-0.6, 2.0), "away0": None, "zeros": None,
}


def values(draw, shape, dom):
    n = int(np.prod(shape))
    if dom == "away0":     # |v| in [0.2, 2]: off the kink of abs, off the pole of 1/x
        mags = draw(st.lists(st.floats(0.2, 2.0), min_size=n, max_size=n))
        signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n))
        v = np.array(mags) * np.array(signs)
    elif dom == "zeros":   # smooth functions at zero entries (prod with one or several zeros)
        v = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, -1.5, 0.5, 2.0, 1.25]), min_size=n, max_size=n)))
    elif dom == "distinct":   # no ties (max, min, sort-like selections)
        v = np.array(draw(st.permutations(list(range(n))))) * 0.37 - 0.5 if n else np.zeros(0)
    else:
        lo, hi = DOMAINS[dom]
        v = np.array(draw(st.lists(st.floats(lo, hi), min_size=n, max_size=n)))
    return v.reshape(shape).astype(np.float64)


def shapes(min_rank=0, max_rank=3, min_side=1, max_side=3):
    return st.lists(st.integers(min_side, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


def broadcast_partner(draw, shape):
    """A shape that broadcasts against `shape`: leading axes dropped, some sides set to 1."""
    k = draw(st.integers(0, len(shape)))
    tail = shape[k:]
    return tuple(1 if draw(st.booleans()) else n for n in tail)


# ---- the forms: (source of the function body, argument builder) ---------------------------------------
# A builder gets hypothesis' `draw` and returns the argument tuple; every float argument is differentiated.

def arr(dom="real", **kw):
    def build(draw):
        return (values(draw, draw(shapes(**kw)), dom),)
    return build


def scalar(dom="real"):
    def build(draw):
        return (float(values(draw, (), dom)),)
    return build


def pair(doma="real", domb="real", same=False, **kw):
    def build(draw):
        s = draw(shapes(**kw))
        t = s if same else broadcast_partner(draw, s)
        if not same and draw(st.booleans()):
            s, t = t, s          # either operand may be the broadcast one
        return values(draw, s, doma), values(draw, t, domb)
    return build


def separated(**kw):
    """(a, b) of one shape with |a - b| >= 0.2 everywhere: off the kink of maximum/minimum."""
    def build(draw):
        s = draw(shapes(**kw))
        a = values(draw, s, "real")
        return a, a + values(draw, s, "away0")
    return build


def scalars(doma="real", domb="real"):
    def build(draw):
        return float(values(draw, (), doma)), float(values(draw, (), domb))
    return build


def fixed(*args):
    return lambda draw: tuple(np.array(a, dtype=float) if isinstance(a, list) else a for a in args)


def mod_pair(draw):
    """x = y * (k + u) with u in [0.1, 0.9]: off the jumps of x mod y."""
    s = draw(shapes())
    y = values(draw, s, "pos")
    k = np.array(draw(st.lists(st.integers(-2, 2), min_size=int(np.prod(s)), max_size=int(np.prod(s))))).reshape(s)
    return y * (k + values(draw, s, "pos") * 0.266 + 0.02), y


def matrices(*shape_sets):
    def build(draw):
        return tuple(values(draw, s, "real") for s in draw(st.sampled_from(shape_sets)))
    return build


def well_conditioned(n_extra=None):
    def build(draw):
        n = draw(st.integers(1, 3))
        a = values(draw, (n, n), "small") * 0.3 + 2.0 * np.eye(n)
        if n_extra is None:
            return (a,)
        b = values(draw, draw(st.sampled_from([(n,), (n, 2)])), "real")
        return a, b
    return build


def reduction(dom="real", min_rank=1):
    """(x, axis, keepdims): axis None, a (negative) int or a tuple; x then carries the form's constants."""
    def build(draw):
        s = draw(shapes(min_rank=min_rank, min_side=1))
        axis = draw(st.sampled_from([None] + list(range(-len(s), len(s))) + ([(0, -1)] if len(s) >= 2 else [])))
        return values(draw, s, dom), axis, draw(st.booleans())
    return build


UNARY = [  # (rule names covered, expression, domain)
    (["numpy.sin"], "np.sin(x)", "real"), (["numpy.cos"], "np.cos(x)", "real"),
    (["numpy.tan"], "np.tan(x)", "small"), (["numpy.arcsin"], "np.arcsin(x)", "unit"),
    (["numpy.arccos"], "np.arccos(x)", "unit"), (["numpy.arctan"], "np.arctan(x)", "real"),
    (["numpy.sinh"], "np.sinh(x)", "real"), (["numpy.cosh"], "np.cosh(x)", "real"),
    (["numpy.tanh"], "np.tanh(x)", "real"), (["numpy.arcsinh"], "np.arcsinh(x)", "real"),
    (["numpy.arccosh"], "np.arccosh(x)", "gt1"), (["numpy.arctanh"], "np.arctanh(x)", "unit"),
    (["numpy.exp"], "np.exp(x)", "real"), (["numpy.exp2"], "np.exp2(x)", "real"),
    (["numpy.expm1"], "np.expm1(x)", "real"), (["numpy.log"], "np.log(x)", "pos"),
    (["numpy.log1p"], "np.log1p(x)", "gtm1"), (["numpy.log2"], "np.log2(x)", "pos"),
    (["numpy.log10"], "np.log10(x)", "pos"), (["numpy.sqrt"], "np.sqrt(x)", "pos"),
    (["numpy.cbrt"], "np.cbrt(x)", "away0"), (["numpy.square"], "np.square(x)", "real"),
    (["numpy.reciprocal"], "np.reciprocal(x)", "away0"), (["numpy.absolute"], "np.abs(x)", "away0"),
    (["numpy.absolute"], "np.absolute(x)", "away0"), (["numpy.fabs"], "np.fabs(x)", "away0"),
    (["builtins.abs"], "abs(x)", "away0"), (["numpy.sinc"], "np.sinc(x)", "real"),
    (["numpy.deg2rad"], "np.deg2rad(x)", "real"), (["numpy.radians"], "np.radians(x)", "real"),
    (["numpy.rad2deg"], "np.rad2deg(x)", "real"), (["numpy.degrees"], "np.degrees(x)", "real"),
    (["numpy.negative", "_operator.neg"], "np.negative(x) - x", "real"),
    (["numpy.positive", "_operator.pos"], "np.positive(x) + (+x)", "real"),
    (["numpy.real"], "np.real(x)", "real"), (["numpy.copy"], "np.copy(x) * x", "real"),
    (["numpy.ascontiguousarray"], "np.ascontiguousarray(x) * 2.0", "real"),
    (["numpy.asarray"], "np.asarray(x) * 2.0", "real"),
]
MATH = [  # math.* and builtins on Python floats
    ("math.sin", "math.sin(x)", "real"), ("math.cos", "math.cos(x)", "real"), ("math.tan", "math.tan(x)", "small"),
    ("math.asin", "math.asin(x)", "unit"), ("math.acos", "math.acos(x)", "unit"), ("math.atan", "math.atan(x)", "real"),
    ("math.sinh", "math.sinh(x)", "real"), ("math.cosh", "math.cosh(x)", "real"), ("math.tanh", "math.tanh(x)", "real"),
    ("math.asinh", "math.asinh(x)", "real"), ("math.acosh", "math.acosh(x)", "gt1"),
    ("math.atanh", "math.atanh(x)", "unit"), ("math.exp", "math.exp(x)", "real"),
    ("math.expm1", "math.expm1(x)", "real"), ("math.log", "math.log(x)", "pos"),
    ("math.log", "math.log(x, 3.0)", "pos"), ("math.log1p", "math.log1p(x)", "gtm1"),
    ("math.log2", "math.log2(x)", "pos"), ("math.log10", "math.log10(x)", "pos"),
    ("math.sqrt", "math.sqrt(x)", "pos"), ("math.fabs", "math.fabs(x)", "away0"),
    ("math.degrees", "math.degrees(x)", "real"), ("math.radians", "math.radians(x)", "real"),
    ("builtins.float", "float(x) * x", "real"), ("numpy.float64", "np.float64(x) * x", "real"),
]

FORMS = []   # (rule names, id, source of `return ...` with parameters, parameter names, builder)


def form(names, body, params, build, ident=None):
    FORMS.append((list(names), ident or body, body, params, build))


for names, body, dom in UNARY:
    form(names, body, "x", arr(dom, min_side=0))
for name, body, dom in MATH:
    form([name], body, "x", scalar(dom))

for names, body, doma, domb in [
    (["numpy.add", "_operator.add"], "np.add(x, y) + (x + y)", "real", "real"),
    (["numpy.subtract", "_operator.sub"], "np.subtract(x, y) + (x - y)", "real", "real"),
    (["numpy.multiply", "_operator.mul"], "np.multiply(x, y) + x * y", "real", "real"),
    (["numpy.divide", "_operator.truediv"], "np.divide(x, y) + x / y", "real", "away0"),
    (["numpy.power", "_operator.pow"], "np.power(x, y) + x ** y", "pos", "real"),
    (["numpy.arctan2"], "np.arctan2(x, y)", "away0", "away0"),
    (["numpy.hypot"], "np.hypot(x, y)", "away0", "away0"),
    (["numpy.logaddexp"], "np.logaddexp(x, y)", "real", "real"),
]:
    form(names, body, "x, y", pair(doma, domb))
form(["numpy.power", "_operator.pow"], "x ** 3 + x ** 2.5 + x ** 0 + np.power(x, 1)", "x", arr("pos"), "literal exponents")
form(["numpy.power", "_operator.pow"], "x ** 2 + 2.0 ** x + x ** -1", "x", arr("away0"), "x ** 2, 2 ** x, x ** -1")
form(["_operator.pow", "builtins.pow", "math.pow"], "x ** y + pow(x, y) + math.pow(x, y)", "x, y", scalars("pos", "real"))
form(["math.atan2"], "math.atan2(x, y)", "x, y", scalars("away0", "away0"))
form(["math.hypot"], "math.hypot(x, y)", "x, y", scalars("away0", "away0"))
form(["builtins.max", "builtins.min"], "max(x, y) + 2.0 * min(x, y)", "x, y",
     lambda draw: (lambda a, b: (a, a + b))(*scalars("real", "away0")(draw)))
for names, body in [(["numpy.maximum"], "np.maximum(x, y)"), (["numpy.fmax"], "np.fmax(x, y)"),
                    (["numpy.minimum"], "np.minimum(x, y)"), (["numpy.fmin"], "np.fmin(x, y)")]:
    form(names, body, "x, y", separated())
form(["numpy.remainder", "_operator.mod"], "np.remainder(x, y) + x % y", "x, y", mod_pair)
form(["numpy.where"], "np.where(x > 0.1, x * y, y)", "x, y", pair("away0", "real"))

for names, body, dom in [
    (["numpy.sum"], "np.sum(x, axis=axis, keepdims=keepdims)", "real"),
    (["numpy.mean"], "np.mean(x, axis=axis, keepdims=keepdims)", "real"),
    (["numpy.prod"], "np.prod(x, axis=axis, keepdims=keepdims)", "zeros"),
    (["numpy.max"], "np.max(x, axis=axis, keepdims=keepdims)", "distinct"),
    (["numpy.amax"], "np.amax(x, axis=axis, keepdims=keepdims)", "distinct"),
    (["numpy.min"], "np.min(x, axis=axis, keepdims=keepdims)", "distinct"),
    (["numpy.amin"], "np.amin(x, axis=axis, keepdims=keepdims)", "distinct"),
    (["numpy.var"], "np.var(x, axis=axis, keepdims=keepdims)", "real"),
    (["numpy.std"], "np.std(x, axis=axis, keepdims=keepdims) + np.std(x * 0.0 + 1.0, axis=axis)", "real"),
    (["numpy.var"], "np.var(x, axis=axis, ddof=1, keepdims=keepdims)", "real"),
    (["numpy.std"], "np.std(x, axis=axis, ddof=1, keepdims=keepdims)", "real"),
    (["numpy.linalg.norm"], "np.linalg.norm(x, axis=axis, keepdims=keepdims)", "away0"),
]:
    form(names, body, "x, axis, keepdims", reduction(dom), body.split("(")[0])
for method, dom in [("sum", "real"), ("mean", "real"), ("prod", "zeros"), ("max", "distinct"), ("min", "distinct"),
                    ("var", "real"), ("std", "real")]:
    form(["." + method], f"x.{method}(axis=axis, keepdims=keepdims) + x.{method}()", "x, axis, keepdims",
         reduction(dom), "." + method)
form(["numpy.cumsum", ".cumsum"], "np.cumsum(x, axis=axis) + x.cumsum(axis=axis)", "x, axis, keepdims",
     lambda draw: (lambda x, axis, k: (x, axis if not isinstance(axis, tuple) else -1, k))(*reduction()(draw)))
form(["builtins.sum"], "sum(x)", "x", arr(min_rank=1))

# shape and layout
form(["numpy.transpose", ".transpose"], "np.transpose(x) + x.transpose()", "x", arr(min_side=0))
form(["numpy.transpose", ".transpose"], "np.transpose(x, (2, 0, 1)) + np.transpose(x, (-1, 0, -2)) + x.transpose(2, 0, 1)",
     "x", arr(min_rank=3, max_rank=3), "transpose axes")
form(["T"], "x.T * x.T", "x", arr(min_side=0))
form(["numpy.reshape", ".reshape"], "np.reshape(x, (-1,)) + x.reshape(-1) + x.reshape(np.size(x))", "x", arr(min_side=0))
form(["numpy.reshape", ".reshape"], "np.reshape(x, (2, -1)) @ x.reshape(-1, 2)", "x",
     lambda draw: (values(draw, draw(st.sampled_from([(4,), (2, 2), (2, 1, 2)])), "real"),), "reshape 2-D")
form(["numpy.ravel", ".ravel", ".flatten"], "np.ravel(x) + x.ravel() + x.flatten()", "x", arr(min_side=0))
form(["numpy.squeeze", ".squeeze"], "np.squeeze(x) * 2.0 + x.squeeze()", "x",
     lambda draw: (values(draw, draw(st.sampled_from([(1,), (3, 1), (1, 2, 1), ()])), "real"),))
form(["numpy.squeeze"], "np.squeeze(x, axis=-1) * 2.0", "x",
     lambda draw: (values(draw, draw(st.sampled_from([(1,), (3, 1), (1, 2, 1)])), "real"),), "squeeze axis")
form(["numpy.expand_dims"], "np.expand_dims(x, -1) * np.expand_dims(x, 0).T", "x", arr(max_rank=2))
form(["numpy.atleast_1d", "numpy.atleast_2d"], "np.atleast_1d(x) * 2.0 + np.atleast_2d(x)", "x", arr(max_rank=2))
form(["numpy.broadcast_to"], "np.broadcast_to(x, (2, 3))", "x",
     lambda draw: (values(draw, draw(st.sampled_from([(), (3,), (1, 3), (2, 1)])), "real"),))
form(["numpy.swapaxes", ".swapaxes"], "np.swapaxes(x, 0, -1) + x.swapaxes(-1, 0)", "x", arr(min_rank=2))
form(["numpy.moveaxis"], "np.moveaxis(x, 0, -1) * 3.0", "x", arr(min_rank=2))
form(["numpy.flip"], "np.flip(x) + np.flip(x, -1) * 2.0 + np.flip(x, 0)", "x", arr(min_rank=1))
form(["numpy.concatenate"], "np.concatenate([x, 2.0 * x], axis=-1) + np.concatenate((x, x), axis=0).sum()", "x",
     arr(min_rank=1))
form(["numpy.concatenate"], "np.concatenate([x, y], axis=None)", "x, y",
     lambda draw: (values(draw, draw(shapes(min_side=0)), "real"), values(draw, draw(shapes(min_rank=1)), "real")),
     "concatenate axis=None")
form(["numpy.stack"], "np.stack([x, 2.0 * x], axis=-1) + np.stack((x, y), axis=0).sum()", "x, y", pair(same=True))
form(["numpy.hstack"], "np.hstack([x, y]) + np.hstack((x,)).sum()", "x, y",
     lambda draw: (lambda s: (values(draw, s, "real"), values(draw, s, "real")))(draw(shapes(max_rank=2))))
form(["numpy.vstack"], "np.vstack([x, y]) + np.vstack((x,)).sum()", "x, y",
     lambda draw: (lambda s: (values(draw, s, "real"), values(draw, s, "real")))(draw(shapes(max_rank=2))))
form(["numpy.array"], "np.array([x, 2.0 * x, y]) * np.array([[x], [y], [x * y]])", "x, y", scalars())
form(["numpy.full"], "np.full(3, x) * np.full((2, 3), y)", "x, y", scalars())
form(["numpy.full_like"], "np.full_like(x, y) * x", "x, y",
     lambda draw: (values(draw, draw(shapes()), "real"), float(values(draw, (), "real"))))
form(["numpy.linspace"], "np.linspace(x, y, 5) ** 2 + np.linspace(x, y, num=3).sum()", "x, y", scalars())
form([".astype"], "x.astype(np.float64) * x + x.astype(float)", "x", arr())
form([".copy"], "x.copy() * x", "x", arr())
form(["numpy.clip", ".clip"], "np.clip(x, -0.5, 0.5) + x.clip(-1.0, 1.0) + np.clip(x, None, 0.7) + np.clip(x, a_min=-0.3, a_max=None)",
     "x", lambda draw: (np.array([v if min(abs(abs(v) - b) for b in (0.3, 0.5, 0.7, 1.0)) > 0.05 else v + 0.11
                                  for v in values(draw, draw(shapes(max_rank=1)), "real").ravel()]),))
form(["numpy.clip"], "np.clip(x, y, 1.5) + np.clip(x, -1.0, y)", "x, y",
     lambda draw: (lambda a, b: (a, b + (np.abs(a - b) < 0.1) * 0.25))(*pair(same=True)(draw)), "clip array bound")
form(["retrograd.runtime.scatter_add", "retrograd.runtime.scatter_sub"],
     "scatter_body", "A, x",
     lambda draw: (values(draw, (4, 2), "real"), values(draw, draw(st.sampled_from([(3, 2), (2,), ()])), "real")))

# products and linalg
form(["numpy.matmul", "_operator.matmul"], "np.matmul(a, b) + a @ b", "a, b",
     matrices([(3,), (3,)], [(2, 3), (3,)], [(3,), (3, 2)], [(2, 3), (3, 4)], [(2, 2, 3), (3, 4)],
              [(2, 3), (2, 3, 1)], [(2, 1, 3), (2, 3, 2)], [(1, 3), (3, 1)]))
form(["numpy.dot", ".dot"], "np.dot(a, b) + a.dot(b)", "a, b",
     matrices([(3,), (3,)], [(2, 3), (3,)], [(3,), (3, 2)], [(2, 3), (3, 4)], [(2, 2, 3), (3, 4)],
              [(2, 3), (4, 3, 2)], [(2, 2, 3), (4, 3, 2)], [(3,), (2, 3, 2)], [(2, 2, 3), (3,)], [(), (2, 3)]))
form(["numpy.vdot"], "np.vdot(a, b)", "a, b", matrices([(3,), (3,)], [(2, 2), (2, 2)]))
form(["numpy.inner"], "np.inner(a, b)", "a, b", matrices([(3,), (3,)], [(2, 3), (3,)], [(2, 3), (4, 3)], [(), (2,)]))
form(["numpy.outer"], "np.outer(a, b)", "a, b", matrices([(3,), (2,)], [(2, 2), (3,)], [(), (2,)]))
form(["numpy.trace", ".trace"], "np.trace(a) + a.trace()", "a", matrices([(3, 3)], [(2, 3)], [(1, 1)]))
form(["numpy.linalg.det"], "np.linalg.det(a)", "a", well_conditioned())
form(["numpy.linalg.inv"], "np.linalg.inv(a)", "a", well_conditioned())
form(["numpy.linalg.solve"], "np.linalg.solve(a, b)", "a, b", well_conditioned(True))
form(["numpy.linalg.norm"], "np.linalg.norm(x) + np.linalg.norm(x, 2) + np.linalg.norm(x, ord=2, axis=0)", "x",
     lambda draw: (values(draw, draw(st.sampled_from([(3,), (1,)])), "away0"),), "norm ord vector")
form(["numpy.linalg.norm"], "np.linalg.norm(x, 'fro') + np.linalg.norm(x)", "x",
     lambda draw: (values(draw, draw(st.sampled_from([(2, 3), (1, 1)])), "away0"),), "norm fro")


def _source():
    lines = ["import math", "import numpy as np", ""]
    for k, (_, _, body, params, _) in enumerate(FORMS):
        lines.append(f"def form_{k}({params}):")
        if body == "scatter_body":
            lines += ["    A = A * 1.0", "    np.add.at(A, np.array([0, 2, 0]), x)",
                      "    np.subtract.at(A, np.array([1, 1]), x[..., :1] if np.ndim(x) else x)", "    return A"]
        else:
            lines.append(f"    return {body}")
        lines.append("")
    return "\n".join(lines)


_MODULE = fd.load_module(_source(), Path(tempfile.mkdtemp(prefix="rg-oracle-")), prefix="rgoracle")


def _covered():
    names = set()
    for rule_names, *_ in FORMS:
        names |= set(rule_names)
    return names


def _registered():
    objs = {id(o): o for o in registry._KEEP}
    names = {f"{getattr(objs[k], '__module__', None) or 'builtins'}.{objs[k].__name__}" for k in registry.RULES}
    return names | {"." + m for m in registry.METHODS} | set(registry.ATTRIBUTES)


def test_every_rule_has_an_oracle():
    missing = _registered() - _covered()
    assert not missing, f"rules without an oracle form in test_rule_oracle.py: {sorted(missing)}"
    stale = _covered() - _registered()
    assert not stale, f"oracle forms for names that have no rule: {sorted(stale)}"


def _float_positions(args):
    return tuple(i for i, a in enumerate(args)
                 if (isinstance(a, np.ndarray) and a.dtype.kind == "f") or isinstance(a, float))


@pytest.mark.parametrize("k", range(len(FORMS)), ids=[f[1] for f in FORMS])
@settings(max_examples=12)
@given(data=st.data())
def test_rule_against_central_differences(k, data):
    f = getattr(_MODULE, f"form_{k}")
    args = FORMS[k][4](data.draw)
    with np.errstate(all="ignore"):
        try:
            out = f(*fd._fresh(list(args)))
        except (ValueError, IndexError, ZeroDivisionError, np.linalg.LinAlgError):
            assume(False)        # NumPy refuses these arguments (empty max, shape mismatch): not a rule case
    assume(np.all(np.isfinite(out)) and np.size(out) > 0)
    wrt = _float_positions(args)
    assume(wrt and all(np.size(args[i]) for i in wrt))
    fd.check_vjp(f, list(args), wrt=wrt, rtol=1e-5, atol=1e-7)


# ---- conventions where the derivative does not exist, and edges where it does (both backends) -------------

def prod_zeros(x):
    return np.prod(x) + np.sum(np.prod(x.reshape(2, 2), axis=-1))


def std_single(x):
    return np.std(x) + np.sum(np.std(x.reshape(-1, 1), axis=1)) + np.var(x[:1])


def power_edges(x, y):
    return np.sum(np.power(0.0, y)) + np.sum(np.power(x, 0.0)) + np.sum(x ** y)


def clip_open(x):
    return np.sum(np.clip(x, None, 0.5) ** 2) + np.sum(np.clip(x, 0.1, None))


@pytest.mark.parametrize("f, args, wrt", [
    (prod_zeros, (np.array([0.0, 2.0, 3.0, 0.5]),), 0),
    (prod_zeros, (np.array([0.0, 2.0, 0.0, 0.5]),), 0),
    (std_single, (np.array([1.5]),), 0),
    (power_edges, (np.array([0.0, 1.5]), np.array([1.0, 2.0])), (0, 1)),
    (clip_open, (np.array([-0.4, 0.3, 0.9]),), 0),
], ids=["prod one zero", "prod two zeros", "std of one", "power at 0", "clip None"])
def test_edges_on_both_backends(fd_backend, f, args, wrt):
    fd.check_grad(f, args, wrt)


def tie_max(x):
    return np.max(x)


def abs_at_zero(x):
    return np.sum(np.abs(x))


def maximum_tie(x, y):
    return np.sum(np.maximum(x, y))


def clip_at_bound(x):
    return np.sum(np.clip(x, -1.0, 1.0))


def std_constant(x):
    return np.std(x)


def test_conventions_at_kinks():
    """Where no derivative exists these rules pick a subgradient; say which (JAX and PyTorch agree on
    none of them, so we state ours): max/min split the cotangent evenly between ties; abs at 0 gives 0;
    maximum/minimum at a tie give all of it to the first operand of minimum's `a <= b` test (and to the
    second of maximum's); clip at a bound counts as inside; std of a constant vector gives 0."""
    x = np.array([1.0, 3.0, 3.0, 2.0])
    np.testing.assert_allclose(rg.differentiate(tie_max).grad(x), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(rg.differentiate(abs_at_zero).grad(np.array([0.0, -2.0])), [0.0, -1.0])
    gx, gy = rg.differentiate(maximum_tie, wrt=(0, 1)).grad(np.array([1.0]), np.array([1.0]))
    assert gx[0] + gy[0] == 1.0
    np.testing.assert_allclose(rg.differentiate(clip_at_bound).grad(np.array([-1.0, 1.0, 2.0])), [1.0, 1.0, 0.0])
    np.testing.assert_allclose(rg.differentiate(std_constant).grad(np.full(3, 2.0)), [0.0, 0.0, 0.0])
