"""An oracle for every derivative rule: the VJP against float64 central differences (fd.check_vjp, which
also checks the value against the plain call and that caller arrays are unchanged).

Driven by the rule table (reverse/rules/registry.py): every registered rule must have an entry in FORMS,
every spelling it is registered under (np.sin, math.sin, `a + b`, `.sum()`, `.T`) must appear in one of
its forms, and every keyword parameter of its template in a form written with that keyword.  A new rule,
alias or keyword without a form makes `test_every_rule_has_an_oracle` fail.

Values are drawn by hypothesis from each form's domain, with the edges that are smooth points of the
function: zeros (np.prod, sums, sin ...), size-1 and size-0 axes, 0-d arrays, negative and tuple axes,
broadcasting operands.  Where a function has a kink (abs, max, clip, mod) the draws stay away from it,
and the convention at the kink is tested with hand-derived values below (test_convention_*).
The numba backend runs the first form of each rule on one fixed draw: it must agree, or (a rule listed in
numba_refusals.NUMBA_RULE_REFUSALS, with Numba's reason) refuse with a BackendError that says to use the
python backend.
"""
import math
import operator
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import retrograd as rg
from retrograd import runtime
from retrograd.reverse.rules import registry

import fd
from fd import check_vjp, load_module

# CI time is bounded: RETROGRAD_ORACLE_FULL=1 runs 6 draws per form and every rule on numba; by default
# 2 draws per form, one fixed draw for each form's jvp and, on numba, an eighth of the rules (see NUMBA_SAMPLE).
FULL = bool(os.environ.get("RETROGRAD_ORACLE_FULL"))
EXAMPLES = 6 if FULL else 2       # hypothesis draws per form on the python backend (each is a new kind: new code)

# ---- argument generators: a hypothesis strategy, and one fixed draw for the numba sample ---------------
SHAPES = [(), (3,), (1,), (2, 3), (3, 1), (1, 4), (2, 1, 3)]
EMPTY = [(0,), (2, 0)]
ND2 = [(2, 3), (3, 1), (1, 4), (2, 1, 3), (2, 2)]          # at least 2-D: axis=0, -1, (0, 1)
DOMAINS = {"any": (-2.0, 2.0), "pos": (0.2, 2.0), "unit": (-0.9, 0.9), "gt1": (1.1, 3.0),
           "nonzero": (0.2, 2.0), "small": (-0.45, 0.45)}


def _values(dom, shape, seed, zeros):
    r = np.random.default_rng(seed)
    if dom == "distinct":                  # pairwise gaps >= 0.1: no ties, no kink within the FD step
        n = int(np.prod(shape))
        return r.permutation((np.arange(n) - n / 2.0) * 0.25 + r.uniform(-0.07, 0.07, n)).reshape(shape)
    if dom == "gauss":      # no zeros, no ties: full rank, singular values and eigenvalues apart (almost surely)
        return r.standard_normal(shape)
    if dom == "wellcond":
        return np.eye(shape[-1]) + 0.3 * r.standard_normal(shape)
    if dom == "spd":        # symmetric positive definite lower triangle; the upper one (never read) is noise
        m = r.standard_normal(shape)
        a = m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])
        return a + np.triu(r.standard_normal(shape), 1)
    if dom == "realeig":    # eigenvalues real and apart (>= 0.5): V diag(w) V^-1
        n = shape[-1]
        v = np.eye(n) + 0.3 * r.standard_normal(shape)
        w = np.arange(n) * 0.7 + 0.5 + r.uniform(0, 0.2, shape[:-2] + (n,))
        return v @ (w[..., :, None] * np.linalg.inv(v))
    lo, hi = DOMAINS[dom]
    v = r.uniform(lo, hi, size=shape)
    if dom == "nonzero":
        v = v * np.where(r.uniform(size=shape) < 0.5, -1.0, 1.0)
    if zeros and np.size(v):               # zeros are smooth points for "any" forms: put some in
        v = np.where(r.uniform(size=shape) < 0.4, 0.0, v)
    return v


class Arg:
    """One argument: an array of a shape from `shapes` (or a Python float: shape None) in domain `dom`."""

    def __init__(self, dom="any", shapes=SHAPES, zeros=None):
        self.dom, self.shapes = dom, list(shapes)
        self.zeros = dom == "any" if zeros is None else zeros

    def make(self, k, seed, zeros):
        shape = self.shapes[k % len(self.shapes)]
        if shape is None:
            return float(_values(self.dom, (), seed, zeros and self.zeros))
        return np.asarray(_values(self.dom, shape, seed, zeros and self.zeros), dtype=np.float64)


class Args:
    """The arguments of a form; `shapes` pairs pick related shapes (k-th entry of each Arg together)."""

    def __init__(self, *args, together=False):
        self.args, self.together = args, together

    def make(self, ks, seed, zeros):
        return [a.make(ks[0] if self.together else ks[i], seed + 101 * i, zeros) for i, a in enumerate(self.args)]

    def strategy(self):
        n = len(self.args)
        return st.tuples(st.lists(st.integers(0, 50), min_size=n, max_size=n), st.integers(0, 2 ** 20),
                         st.booleans()).map(lambda t: self.make(*t))

    def fixed(self):
        return self.make([1] * len(self.args), 0, False)


def S(dom="any"):
    return Arg(dom, [None])


class Form:
    """`expr` over parameters x, y, z... (or a body with `return`); `wrt` the positions differentiated;
    `refuse` the RetrogradError subclass it must raise instead."""

    def __init__(self, expr, args, wrt=None, refuse=None):
        self.expr, self.args, self.refuse = expr, args, refuse
        self.wrt = tuple(range(len(args.args))) if wrt is None else wrt


def F(expr, *args, wrt=None, together=False, refuse=None):
    return Form(expr, Args(*args, together=together), wrt, refuse)


def unary(np_name, dom, math_name=None, shapes=SHAPES + EMPTY):
    forms = [F(f"{np_name}(x)", Arg(dom, shapes))]
    if math_name:
        forms.append(F(f"{math_name}(x)", S(dom)))
    return forms


# broadcasting pairs: scalar-array, array-array with size-1 axes, 0-d
PAIR_A = [None, (2, 3), (2, 1), (3,), (), (1,), (2, 3)]
PAIR_B = [(2, 3), (3,), (1, 3), (3,), (2, 3), (2, 3), None]


def binary(expr, da="any", db="any", **kw):
    return F(expr, Arg(da, PAIR_A), Arg(db, PAIR_B), together=True, **kw)


MAT_A = [(3,), (2, 3), (3,), (2, 3), (2, 2, 3), (2, 2, 3), (1, 3)]
MAT_B = [(3,), (3,), (3, 2), (3, 4), (3, 4), (2, 3, 2), (2, 3, 2)]
DOT_A = [None, (2, 3), (3,), (2, 3), (2, 2, 3), (3,), (2, 3), ()]
DOT_B = [(2, 3), (3,), (3, 2), (3, 4), (3, 4), (2, 3, 2), (4, 3, 2), (3,)]
R = rg.RetrogradError

FORMS = {
    "sin": unary("np.sin", "any", "math.sin"),
    "cos": unary("np.cos", "any", "math.cos"),
    "tan": unary("np.tan", "unit", "math.tan"),
    "arcsin": unary("np.arcsin", "unit", "math.asin"),
    "arccos": unary("np.arccos", "unit", "math.acos"),
    "arctan": unary("np.arctan", "any", "math.atan"),
    "arctan2": [binary("np.arctan2(x, y)", "any", "pos"), F("math.atan2(x, y)", S(), S("pos"))],
    "sinh": unary("np.sinh", "any", "math.sinh"),
    "cosh": unary("np.cosh", "any", "math.cosh"),
    "tanh": unary("np.tanh", "any", "math.tanh"),
    "arcsinh": unary("np.arcsinh", "any", "math.asinh"),
    "arccosh": unary("np.arccosh", "gt1", "math.acosh"),
    "arctanh": unary("np.arctanh", "unit", "math.atanh"),
    "exp": unary("np.exp", "any", "math.exp"),
    "exp2": unary("np.exp2", "any"),
    "expm1": unary("np.expm1", "any", "math.expm1"),
    "log": unary("np.log", "pos"),
    "math_log": [F("math.log(x)", S("pos")), F("math.log(x, y)", S("pos"), S("gt1"))],
    "log1p": unary("np.log1p", "unit", "math.log1p"),
    "log2": unary("np.log2", "pos", "math.log2"),
    "log10": unary("np.log10", "pos", "math.log10"),
    "sqrt": unary("np.sqrt", "pos"),
    "math_sqrt": [F("math.sqrt(x)", S("pos"))],
    "cbrt": unary("np.cbrt", "nonzero"),
    "square": unary("np.square", "any"),
    "reciprocal": unary("np.reciprocal", "nonzero"),
    "absolute": unary("np.abs", "nonzero") + [F("np.absolute(x)", Arg("nonzero")), F("abs(x)", Arg("nonzero")),
                                             F("math.fabs(x)", S("nonzero")), F("np.fabs(x)", Arg("nonzero"))],
    "maximum": [binary("np.maximum(x, y)", "distinct", "distinct"), binary("np.fmax(x, y)", "distinct", "distinct")],
    "minimum": [binary("np.minimum(x, y)", "distinct", "distinct"), binary("np.fmin(x, y)", "distinct", "distinct")],
    "clip": [F("np.clip(x, -0.5, 0.5)", Arg("small")), F("x.clip(-0.5, 0.5)", Arg("small")),
             F("np.clip(x, None, 0.5)", Arg("small")), F("np.clip(x, a_min=-0.5, a_max=None)", Arg("small")),
             # random bounds, no zeros drawn: a tie of x with a bound is a kink (see test_convention_clip)
             F("np.clip(x, y, z)", Arg("any", [(2, 3), (3,), None], zeros=False),
               Arg("any", [(3,), (2, 3), (3,)], zeros=False), Arg("any", [(), (2, 3), (3,)], zeros=False),
               together=True),
             F("np.clip(x, y, 3.0)", S(), Arg("any", [(3,)], zeros=False))],
    "where": [F("np.where(x > 0, y, z)", Arg("any", PAIR_A), Arg("any", PAIR_B), Arg("any", PAIR_A),
                together=True, wrt=(1, 2))],
    "hypot": [binary("np.hypot(x, y)", "nonzero", "nonzero"), F("math.hypot(x, y)", S("nonzero"), S())],
    "logaddexp": [binary("np.logaddexp(x, y)")],
    "sinc": unary("np.sinc", "any"),
    "deg2rad": unary("np.deg2rad", "any", "math.radians") + [F("np.radians(x)", Arg())],
    "rad2deg": unary("np.rad2deg", "any", "math.degrees") + [F("np.degrees(x)", Arg())],
    "identity": [F("float(x) * 2.0", S()), F("np.float64(x)", S()), F("np.real(x)", Arg())],
    "builtin_max": [F("max(x, y)", S("distinct"), S("distinct")), F("max(x, 0.25)", S("nonzero"))],
    "builtin_min": [F("min(x, y)", S("distinct"), S("distinct"))],
    "dot": [F("np.dot(x, y)", Arg("any", DOT_A), Arg("any", DOT_B), together=True),
            F("x.dot(y)", Arg("any", [(2, 3), (3,)]), Arg("any", [(3, 2), (3,)]), together=True)],
    "vdot": [F("np.vdot(x, y)", Arg("any", [(3,), (2, 3)]), Arg("any", [(3,), (3, 2)]), together=True)],
    "inner": [F("np.inner(x, y)", Arg("any", [(3,), (2, 3), (), (2, 3)]), Arg("any", [(3,), (4, 3), (3,), (3,)]),
                together=True)],
    "outer": [F("np.outer(x, y)", Arg("any", [(3,), (2, 2)]), Arg("any", [(2,), (3,)]), together=True)],
    "trace": [F("np.trace(x)", Arg("any", [(3, 3), (2, 3), (2, 3, 2)])), F("x.trace()", Arg("any", [(3, 2)])),
              F("np.trace(x, offset=1)", Arg("any", [(3, 3), (2, 3), (3, 1)])), F("np.trace(x, -1, dtype=np.float64)", Arg("any", [(3, 3)])),
              F("np.trace(x, offset=-1, axis1=2, axis2=0)", Arg("any", [(2, 3, 3)])),
              F("x.trace(axis1=-1, axis2=-2)", Arg("any", [(2, 3, 3)])),
              F("np.trace(x, out=np.zeros(()))", Arg("any", [(3, 3)]), refuse=R)],
    "det": [F("np.linalg.det(x)", Arg("wellcond", [(2, 2), (3, 3), (2, 3, 3)]))],
    "inv": [F("np.linalg.inv(x)", Arg("wellcond", [(2, 2), (3, 3), (2, 3, 3)]))],
    "solve": [F("np.linalg.solve(x, y)", Arg("wellcond", [(3, 3), (2, 2), (2, 3, 3), (3, 3), (2, 3, 3)]),
                Arg("any", [(3,), (2, 4), (3,), (2, 3, 2), (3, 1)]), together=True)],
    "norm": [F("np.linalg.norm(x)", Arg("nonzero", [(3,), (2, 3)])),
             F("np.linalg.norm(x, axis=-1, keepdims=True)", Arg("nonzero", ND2)),
             F("np.linalg.norm(x, ord=2)", Arg("nonzero", [(3,)])),
             F("np.linalg.norm(x, 'fro')", Arg("nonzero", [(2, 3)])),
             F("np.linalg.norm(x, ord=0)", Arg("nonzero", [(3,)]), refuse=rg.MissingRuleError),
             # vector p-norms, +-inf (no ties: distinct moduli), matrix norms (no repeated singular values)
             F("np.linalg.norm(x, ord=1)", Arg("nonzero", [(3,), (2, 3)])), F("np.linalg.norm(x, 3)", Arg("nonzero", [(3,)])),
             F("np.linalg.norm(x, ord=0.5, axis=-1)", Arg("nonzero", [(2, 3)])),
             F("np.linalg.norm(x, np.inf)", Arg("distinct", [(4,)])), F("np.linalg.norm(x, -np.inf, axis=0)", Arg("distinct", [(3, 2)])),
             F("np.linalg.norm(x, 'nuc')", Arg("distinct", [(2, 3), (3, 3)])), F("np.linalg.norm(x, 2)", Arg("distinct", [(3, 2)])),
             F("np.linalg.norm(x, -2)", Arg("distinct", [(3, 3)])),
             F("np.linalg.norm(x, ord=np.inf)", Arg("distinct", [(2, 3)])), F("np.linalg.norm(x, -1)", Arg("distinct", [(3, 3)])),
             F("np.linalg.norm(x, ord='nuc', axis=(0, 2), keepdims=True)", Arg("distinct", [(2, 2, 3)])),
             F("np.linalg.norm(x, 1, axis=(-1, -2))", Arg("distinct", [(2, 3, 3)])),
             F("np.linalg.norm(x, ord=None, axis=(0, 1))", Arg("nonzero", [(2, 3)]))],
    "add": [binary("x + y"), binary("np.add(x, y)")],
    "sub": [binary("x - y"), binary("np.subtract(x, y)")],
    "mul": [binary("x * y"), binary("np.multiply(x, y)")],
    "div": [binary("x / y", "any", "nonzero"), binary("np.divide(x, y)", "any", "nonzero"),
            binary("np.true_divide(x, y)", "any", "nonzero")],
    "power": [binary("x ** y", "pos", "any"), binary("np.power(x, y)", "pos", "any"), F("x ** 3", Arg()),
              F("x ** 2.0 + x ** 1 + x ** 0", Arg()), F("x ** 0.5", Arg("pos")), F("x ** -2", Arg("nonzero")),
              F("2.0 ** x", Arg()), F("pow(x, y)", S("pos"), S()), F("math.pow(x, y)", S("pos"), S())],
    "mod": [binary("x % y", "pos", "gt1"), binary("np.mod(x, y)", "pos", "gt1"),
            binary("np.remainder(x, y)", "pos", "gt1")],
    "neg": [F("-x", Arg()), F("np.negative(x)", Arg())],
    "pos": [F("+x", Arg()), F("np.positive(x)", Arg())],
    "matmul": [F("x @ y", Arg("any", MAT_A), Arg("any", MAT_B), together=True),
               F("np.matmul(x, y)", Arg("any", MAT_A), Arg("any", MAT_B), together=True)],
}


def reduction(name, dom="any", shapes=SHAPES, method=True, empty=True, extra=()):
    forms = [F(f"np.{name}(x)", Arg(dom, shapes + (EMPTY if empty else []))),
             F(f"np.{name}(x, axis=-1)", Arg(dom, ND2 + ([(2, 0)] if empty else []))),
             F(f"np.{name}(x, axis=(0, 1), keepdims=True)", Arg(dom, ND2)),
             F(f"np.{name}(x, 0, keepdims=False)", Arg(dom, ND2)),
             F(f"np.{name}(x, out=np.zeros(()))", Arg(dom, [(3,)]), refuse=R)]
    if method:
        forms.append(F(f"x.{name}(axis=0, keepdims=True)", Arg(dom, ND2)))
    return forms + list(extra)


FORMS.update({
    "sum_": reduction("sum", extra=[F("np.sum(x, dtype=np.float64)", Arg())]),
    "builtin_sum": [F("sum(x)", Arg("any", [(3,), (2, 3), (1,)]))],
    "mean": reduction("mean", empty=False, extra=[F("np.mean(x, dtype=np.float64)", Arg()),
                                                   F("np.mean(x, axis=0)", Arg("any", [(2, 0)]))]),
    # zeros included: the product of the others, exact with one and with several zeros
    "prod": reduction("prod", "any", extra=[F("np.prod(x, dtype=np.float64)", Arg())]),
    "max_": reduction("max", "distinct", empty=False) + [F("np.amax(x, axis=0)", Arg("distinct", ND2))],
    "min_": reduction("min", "distinct", empty=False) + [F("np.amin(x)", Arg("distinct"))],
    "var": reduction("var", empty=False, extra=[F("np.var(x, axis=-1, ddof=1)", Arg("any", [(2, 3), (4,)])),
                                                 F("np.var(x, dtype=np.float64)", Arg()),
                                                 F("np.var(x, axis=0)", Arg("any", [(2, 0)]))]),
    # size-1 axes included: std is the constant 0 there
    "std": reduction("std", "nonzero", empty=False,
                     extra=[F("np.std(x, axis=0, ddof=1)", Arg("nonzero", [(2, 3), (3,)])),
                            F("np.std(x, dtype=np.float64)", Arg("nonzero", [(3,)]))]),
    "cumsum": [F("np.cumsum(x)", Arg("any", SHAPES + EMPTY)), F("np.cumsum(x, axis=-1)", Arg("any", ND2)),
               F("x.cumsum(axis=0)", Arg("any", ND2)), F("np.cumsum(x, dtype=np.float64)", Arg()),
               F("np.cumsum(x, out=np.zeros(3))", Arg("any", [(3,)]), refuse=R)],
    "transpose": [F("np.transpose(x)", Arg()), F("np.transpose(x, (1, 0))", Arg("any", [(2, 3)])),
                  F("np.transpose(x, axes=(-1, 0, 1))", Arg("any", [(2, 1, 3)])),
                  F("np.transpose(x, (-1, 0))", Arg("any", [(2, 3)])), F("x.transpose()", Arg())],
    "T": [F("x.T", Arg())],
    "reshape": [F("np.reshape(x, (-1,))", Arg()), F("x.reshape((3, 2))", Arg("any", [(2, 3), (6,)])),
                F("np.reshape(x, shape=(3, 2), order='F')", Arg("any", [(2, 3)]))],
    "ravel": [F("np.ravel(x)", Arg()), F("x.ravel()", Arg()), F("x.flatten()", Arg()),
              F("np.ravel(x, order='F')", Arg("any", ND2))],
    "squeeze": [F("np.squeeze(x)", Arg("any", [(1, 3), (3, 1), (1,)])), F("x.squeeze(axis=0)", Arg("any", [(1, 3)])),
                F("np.squeeze(x, axis=-1)", Arg("any", [(3, 1)]))],
    "expand_dims": [F("np.expand_dims(x, -1)", Arg()), F("np.expand_dims(x, axis=0)", Arg())],
    "atleast": [F("np.atleast_1d(x)", Arg("any", [(), (3,)])), F("np.atleast_2d(x)", Arg("any", [(), (3,), (2, 3)])),
                F("np.atleast_3d(x)", Arg("any", [(), (3,), (2, 3), (2, 1, 3)]))],
    "broadcast_to": [F("np.broadcast_to(x, (2, 3))", Arg("any", [(3,), (1, 3), (), (2, 1)])),
                     F("np.broadcast_to(x, shape=(2, 3))", Arg("any", [(3,)]))],
    "swapaxes": [F("np.swapaxes(x, 0, -1)", Arg("any", ND2)), F("x.swapaxes(0, 1)", Arg("any", ND2)),
                 F("np.swapaxes(x, axis1=0, axis2=1)", Arg("any", ND2))],
    "moveaxis": [F("np.moveaxis(x, 0, -1)", Arg("any", ND2)),
                 F("np.moveaxis(x, source=-1, destination=0)", Arg("any", ND2))],
    "flip": [F("np.flip(x)", Arg()), F("np.flip(x, -1)", Arg("any", ND2)),
             F("np.flip(x, axis=(0, 1))", Arg("any", ND2))],
    "concatenate": [F("np.concatenate((x, y))", Arg("any", [(3,), (2, 3)]), Arg("any", [(2,), (1, 3)]), together=True),
                    F("np.concatenate([x, y], axis=-1)", Arg("any", [(2, 3)]), Arg("any", [(2, 1)])),
                    F("np.concatenate((x, y), axis=None)", Arg("any", [(2, 2)]), Arg("any", [(3,)])),
                    F("np.concatenate((x,))", Arg("any", [(3,)]))],
    "stack": [F("np.stack((x, y))", Arg(), Arg(), together=True),
              F("np.stack([x, y], axis=-1)", Arg("any", ND2), Arg("any", ND2), together=True)],
    "hstack": [F("np.hstack((x,))", Arg("any", [(3,), (2, 3)])),
               F("np.hstack([x, y])", Arg("any", [(3,), (2, 3)]), Arg("any", [(2,), (2, 1)]), together=True)],
    "vstack": [F("np.vstack((x, y))", Arg("any", [(3,), (2, 3)]), Arg("any", [(3,), (1, 3)]), together=True),
               F("np.vstack([x])", Arg("any", [(3,)]))],
    "copy_": [F("np.copy(x)", Arg()), F("x.copy()", Arg())],
    "ascontiguousarray": [F("np.ascontiguousarray(x)", Arg("any", [(), (1,), (3,), (2, 3)]))],   # 0-d gives (1,)
    "scatter_add_": [F("a = x.copy()\n    np.add.at(a, np.array([0, 2, 0]), y)\n    return a",
                       Arg("any", [(3,), (3, 2)]), Arg("any", [(), (2,)]), together=True)],
    "scatter_sub_": [F("a = x.copy()\n    np.subtract.at(a, np.array([1, 1]), y)\n    return a",
                       Arg("any", [(3,)]), Arg("any", [(2,)]))],
    "array": [F("np.array([x, 2.0 * y])", S(), S()), F("np.asarray(x)", Arg()),
              F("np.array(x, dtype=np.float64)", Arg())],
    "astype": [F("x.astype(np.float64)", Arg()), F("x.astype(dtype=np.float64)", Arg())],
    "full": [F("np.full((2, 3), x)", S()), F("np.full(3, x)", S()), F("np.full((2, 3), x, dtype=np.float64)", Arg("any", [(3,), ()]))],
    "full_like": [F("np.full_like(y, x)", S(), Arg(), wrt=(0,)),
                  F("np.full_like(y, x, dtype=np.float64)", S(), Arg(), wrt=(0,))],
    "linspace": [F("np.linspace(x, y, 5)", S(), S()), F("np.linspace(x, y, num=3)", S(), S())],
})

# ---- scipy.special (registered only when SciPy is importable) and math.erf/erfc -----------------------
DOMAINS.update({"prob": (0.1, 0.9), "erfc": (0.1, 1.9)})
FORMS.update({"math_erf": [F("math.erf(x)", S())], "math_erfc": [F("math.erfc(x)", S())]})
try:
    from scipy import special
except ImportError:       # SciPy is optional: its rules are not registered either
    special = None
if special is not None:
    FORMS.update({
        "erf": unary("special.erf", "any"), "erfc": unary("special.erfc", "any"), "erfcx": unary("special.erfcx", "any"),
        "erfinv": unary("special.erfinv", "unit"), "erfcinv": unary("special.erfcinv", "erfc"),
        "ndtr": unary("special.ndtr", "any"), "log_ndtr": unary("special.log_ndtr", "any"),
        "ndtri": unary("special.ndtri", "prob"), "expit": unary("special.expit", "any"),
        "log_expit": unary("special.log_expit", "any"), "logit": unary("special.logit", "prob"),
        "gammaln": unary("special.gammaln", "pos", "math.lgamma") + [F("special.loggamma(x)", Arg("pos"))],
        "gamma": unary("special.gamma", "pos", "math.gamma"), "rgamma": unary("special.rgamma", "pos"),
        "digamma": unary("special.psi", "pos") + [F("special.digamma(x)", Arg("pos"))],
        "polygamma": [F("special.polygamma(1, x)", Arg("pos")), F("special.polygamma(0, x) + special.polygamma(2, x)", Arg("pos")),
                      F("special.polygamma(n=2, x=x)", Arg("pos")),
                      F("n = 1\n    return special.polygamma(n, x)", Arg("pos"), refuse=rg.MissingRuleError)],
        "betaln": [binary("special.betaln(x, y)", "pos", "pos")], "beta": [binary("special.beta(x, y)", "pos", "pos")],
        "xlogy": [binary("special.xlogy(x, y)", "any", "pos")], "xlog1py": [binary("special.xlog1py(x, y)", "any", "unit")],
        "entr": unary("special.entr", "pos"), "rel_entr": [binary("special.rel_entr(x, y)", "pos", "pos")],
        "kl_div": [binary("special.kl_div(x, y)", "pos", "pos")], "exp10": unary("special.exp10", "any"),
        "i0": unary("special.i0", "any"), "i1": unary("special.i1", "any"), "i0e": unary("special.i0e", "nonzero"),
        "i1e": unary("special.i1e", "nonzero"), "j0": unary("special.j0", "any"), "j1": unary("special.j1", "any"),
        "y0": unary("special.y0", "pos"), "y1": unary("special.y1", "pos"), "k0": unary("special.k0", "pos"),
        "k1": unary("special.k1", "pos"), "dawsn": unary("special.dawsn", "any"),
        "logsumexp": [F("special.logsumexp(x)", Arg("any", SHAPES)),
                      F("special.logsumexp(x, axis=-1, keepdims=True)", Arg("any", ND2)),
                      F("special.logsumexp(x, axis=(0, 1))", Arg("any", ND2)),
                      F("special.logsumexp(x, axis=0, b=y)", Arg("any", [(2, 3), (3, 1), (2, 3)]),
                        Arg("pos", [(2, 3), (3, 1), (3,)]), together=True),
                      F("special.logsumexp(x, b=y)", Arg("any", [(3,), (2, 3)]), Arg("pos", [(3,), (3,)]), together=True),
                      F("s = special.logsumexp(x, return_sign=True)\n    return s[0]", Arg("any", [(3,)]), refuse=rg.MissingRuleError)],
        "softmax": [F("special.softmax(x)", Arg("any", SHAPES)), F("special.softmax(x, axis=-1)", Arg("any", ND2)),
                    F("special.softmax(x, axis=(0, 1))", Arg("any", ND2))],
        "log_softmax": [F("special.log_softmax(x)", Arg("any", SHAPES)),
                        F("special.log_softmax(x, axis=0)", Arg("any", ND2))],
    })

# ---- rearrangements (rules/manipulation.py) ---------------------------------------------------------------
SQ = [(3, 3), (2, 3), (3, 2), (1, 1), (2, 2, 3)]
FORMS.update({
    "tril": [F("np.tril(x)", Arg("any", SQ)), F("np.tril(x, -1)", Arg("any", SQ)), F("np.tril(x, k=1)", Arg("any", SQ))],
    "triu": [F("np.triu(x)", Arg("any", SQ)), F("np.triu(x, k=-1)", Arg("any", SQ))],
    "diag": [F("np.diag(x)", Arg("any", [(3,), (1,), (3, 3), (2, 3)])), F("np.diag(x, 1)", Arg("any", [(3,), (3, 2)])),
             F("np.diag(x, k=-1)", Arg("any", [(2,), (3, 3)]))],
    "diagonal": [F("np.diagonal(x)", Arg("any", SQ)), F("np.diagonal(x, 1)", Arg("any", SQ)),
                 F("np.diagonal(x, offset=-1, axis1=-1, axis2=0)", Arg("any", [(3, 3), (2, 3, 3)])),
                 F("x.diagonal(axis1=1, axis2=2)", Arg("any", [(2, 3, 3), (2, 2, 3)]))],
    "diagflat": [F("np.diagflat(x)", Arg("any", [(3,), (2, 2), ()])), F("np.diagflat(x, k=1)", Arg("any", [(2,)]))],
    "roll": [F("np.roll(x, 1)", Arg("any", SHAPES + EMPTY)), F("np.roll(x, -2, axis=-1)", Arg("any", ND2)),
             F("np.roll(x, (1, 2), axis=(0, 1))", Arg("any", ND2)), F("np.roll(x, shift=4)", Arg("any", [(3,)]))],
    "rollaxis": [F("np.rollaxis(x, 2)", Arg("any", [(2, 1, 3)])), F("np.rollaxis(x, -1, start=1)", Arg("any", [(2, 1, 3)])),
                 F("np.rollaxis(x, 0, 3)", Arg("any", [(2, 1, 3)])), F("np.rollaxis(x, 1, -1)", Arg("any", [(2, 4, 3)]))],
    "matrix_transpose": [F("np.matrix_transpose(x)", Arg("any", ND2))],
    "flipud": [F("np.flipud(x)", Arg("any", [(3,), (2, 3), (2, 1, 3)]))],
    "fliplr": [F("np.fliplr(x)", Arg("any", [(2, 3), (2, 1, 3)]))],
    "rot90": [F("np.rot90(x)", Arg("any", ND2)), F("np.rot90(x, 3)", Arg("any", ND2)),
              F("np.rot90(x, k=-1, axes=(1, 2))", Arg("any", [(2, 1, 3)])), F("np.rot90(x, 2)", Arg("any", [(2, 3)]))],
    "tile": [F("np.tile(x, 2)", Arg("any", SHAPES)), F("np.tile(x, (2, 1, 2))", Arg("any", [(3,), (2, 3)])),
             F("np.tile(x, reps=(2, 1))", Arg("any", [(2, 1, 3), ()]))],
    "repeat": [F("np.repeat(x, 2)", Arg("any", SHAPES)), F("np.repeat(x, [0, 2, 1], axis=-1)", Arg("any", [(3,), (2, 3)])),
               F("x.repeat(3, axis=0)", Arg("any", ND2)), F("np.repeat(x, repeats=2, axis=1)", Arg("any", ND2))],
    "pad": [F("np.pad(x, 1)", Arg("any", [(3,), (2, 3), (1,)])), F("np.pad(x, ((1, 0), (0, 2)))", Arg("any", [(2, 3)])),
            F("np.pad(x, 2, mode='edge')", Arg("any", [(3,), (2, 3)])), F("np.pad(x, (2, 1), 'reflect')", Arg("any", [(3,)])),
            F("np.pad(x, 3, mode='symmetric', reflect_type='even')", Arg("any", [(3,), (2, 2)])),
            F("np.pad(x, (1, 4), mode='wrap')", Arg("any", [(3,)])),
            F("np.pad(x, 1, constant_values=y)", Arg("any", [(3,), (2, 3)]), S()),
            F("np.pad(x, 1, mode='linear_ramp')", Arg("any", [(3,)]), refuse=rg.MissingRuleError),
            F("np.pad(x, 1, mode='reflect', reflect_type='odd')", Arg("any", [(3,)]), refuse=rg.MissingRuleError),
            F("np.pad(x, 1, mode='mean', stat_length=2)", Arg("any", [(3,)]), refuse=rg.MissingRuleError),
            F("np.pad(x, 1, mode='linear_ramp', end_values=2.0)", Arg("any", [(3,)]), refuse=rg.MissingRuleError)],
    "append": [F("np.append(x, y)", Arg("any", [(3,), (2, 3), ()]), Arg("any", [(2,), (2,), None]), together=True),
               F("np.append(x, y, axis=-1)", Arg("any", [(2, 3)]), Arg("any", [(2, 1)])),
               F("np.append(x, y, axis=0)", Arg("any", [(2, 3)]), Arg("any", [(1, 3)]))],
    "column_stack": [F("np.column_stack((x, y))", Arg("any", [(3,), (3, 2)]), Arg("any", [(3,), (3,)]), together=True),
                     F("np.column_stack([x])", Arg("any", [(2,)]))],
    "dstack": [F("np.dstack((x, y))", Arg("any", [(3,), (2, 3), (2, 3, 2), ()]), Arg("any", [(3,), (2, 3), (2, 3), ()]),
                 together=True)],
    "split": [F("p = np.split(x, 2)\n    return p[0] * 2.0 + p[1]", Arg("any", [(4,), (2, 3)])),
              F("a, b, c = np.split(x, [1, 2], axis=-1)\n    return np.sum(a) + np.sum(c * c)", Arg("any", [(2, 4), (3,)])),
              F("p = np.split(x, indices_or_sections=3, axis=1)\n    return p[2]", Arg("any", [(2, 3)]))],
    "array_split": [F("p = np.array_split(x, 3)\n    return np.sum(p[0]) + np.sum(p[2] ** 2)", Arg("any", [(4,), (5, 2), (2,)])),
                    F("a, b = np.array_split(x, 2, axis=1)\n    return a * 3.0", Arg("any", [(2, 3)]))],
    "hsplit": [F("a, b = np.hsplit(x, 2)\n    return np.sum(a * b)", Arg("any", [(4,), (2, 4), (2, 2, 3)]))],
    "vsplit": [F("a, b = np.vsplit(x, [1])\n    return np.sum(a) + np.sum(b ** 2)", Arg("any", [(2, 3), (3, 2, 2)]))],
    "dsplit": [F("a, b = np.dsplit(x, 2)\n    return np.sum(a * b)", Arg("any", [(2, 1, 4)]))],
    "unstack": [F("a, b = np.unstack(x)\n    return a * b", Arg("any", [(2,), (2, 3)])),
                F("p = np.unstack(x, axis=-1)\n    return p[0] + 2.0 * p[2]", Arg("any", [(2, 3)]))],
    "take": [F("np.take(x, [0, 2, 0])", Arg("any", [(3,), (2, 3)])), F("np.take(x, -1)", Arg("any", [(3,)])),
             F("np.take(x, np.array([[1, 0], [1, 1]]), axis=-1)", Arg("any", [(2, 3), (2, 1, 2)])),
             F("x.take([3, -4], axis=0, mode='wrap')", Arg("any", [(3,), (2, 3)])),
             F("np.take(x, [5, -1], mode='clip')", Arg("any", [(3,)]))],
    "take_along_axis": [F("np.take_along_axis(x, np.array([[0, 2, 2]]), axis=1)", Arg("any", [(2, 3)])),
                        F("np.take_along_axis(x, np.array([1, 1, 0]), -1)", Arg("any", [(3,)])),
                        F("np.take_along_axis(x, np.argsort(x, axis=0), axis=0)", Arg("distinct", [(3, 2)])),
                        F("np.take_along_axis(x, np.array([0, 0, 3]), axis=None)", Arg("any", [(2, 2)]))],
    # ties are interchangeable values: their cotangents go to the tied entries in order (test_convention_sort)
    "sort": [F("np.sort(x)", Arg("distinct", SHAPES[1:] + EMPTY)), F("np.sort(x, axis=0)", Arg("distinct", ND2)),
             F("np.sort(x, axis=None, kind='stable')", Arg("distinct", ND2)),
             F("np.sort(x, stable=True, order=None)", Arg("distinct", [(3,), (2, 3)]))],
    "partition": [F("np.partition(x, 1)", Arg("distinct", [(3,), (2, 3), (4,)])),
                  F("np.partition(x, (0, 2), axis=0, kind='introselect', order=None)", Arg("distinct", [(3, 2)]))],
    "select": [F("np.select([x > 0.5, x < -0.5], [x, 2.0 * y])", Arg("any", [(3,), (2, 3)]), Arg("any", [(3,), (3,)]),
                 together=True),
               F("np.select([x > 0], [y], default=z)", Arg("any", [(2, 3)]), Arg("any", [(3,)]), S(), wrt=(1, 2))],
    "delete": [F("np.delete(x, 1)", Arg("any", [(3,), (2, 3)])), F("np.delete(x, [0, 2], axis=-1)", Arg("any", [(2, 3)]))],
    "compress": [F("np.compress([True, False, True], x)", Arg("any", [(3,), (3, 2)])),
                 F("np.compress([False, True], x, axis=1)", Arg("any", [(2, 2)]))],
    "extract": [F("np.extract(x > 0.3, x)", Arg("any", [(3,), (2, 3)]))],
    "conj": [F("np.conj(x)", Arg()), F("np.conjugate(x)", Arg()), F("x.conj()", Arg()), F("x.conjugate()", Arg())],
    "real_if_close": [F("np.real_if_close(x)", Arg()), F("np.real_if_close(x, tol=1000)", Arg())],
    "imag": [F("np.imag(x) + x", Arg())],
    "angle": [F("np.angle(x) + x", Arg("nonzero")), F("np.angle(x, deg=True) * x", Arg("nonzero"))],
})

# ---- statistics, NaN-skipping reductions, order statistics, finite differences (rules/statistics.py) -------
def nan_in(expr):
    """`expr` with x's entries above 1.2 made NaN (what the nan* reductions skip)."""
    return f"x = np.where(x > 1.2, np.nan, x)\n    return {expr}"


def nan_in_thirds(expr):
    """`expr` with x's entries above 1.2 made NaN at every third flat position only: each slice of the (4, 2)
    and (2, 5) draws keeps two numbers, so a ddof=1 reduction is finite on every slice (with one number left
    it is NaN, and so is every difference of the summed output: no derivative to check there)."""
    return (f"x = np.where((x > 1.2) & (np.arange(x.size).reshape(x.shape) % 3 == 0), np.nan, x)\n"
            f"    return {expr}")


FORMS.update({
    # zeros included: the product of the earlier entries, exact with zeros (no division)
    "cumprod": [F("np.cumprod(x)", Arg("any", SHAPES + EMPTY)), F("np.cumprod(x, axis=-1)", Arg("any", ND2)),
                F("x.cumprod(axis=0)", Arg("any", ND2)), F("np.cumprod(x, dtype=np.float64)", Arg()),
                F("np.cumprod(x, out=np.zeros(3))", Arg("any", [(3,)]), refuse=R)],
    "nancumsum": [F(nan_in("np.nancumsum(x)"), Arg()), F(nan_in("np.nancumsum(x, axis=-1, dtype=np.float64)"), Arg("any", ND2)),
                  F("np.nancumsum(x, out=np.zeros(3))", Arg("any", [(3,)]), refuse=R)],
    "nansum": [F(nan_in("np.nansum(x)"), Arg()), F(nan_in("np.nansum(x, axis=0, keepdims=True, dtype=np.float64)"), Arg("any", ND2)),
               F("np.nansum(x, out=np.zeros(()))", Arg("any", [(3,)]), refuse=R)],
    "nanmean": [F(nan_in("np.nanmean(x)"), Arg("any", [(3,), (2, 3)])),
                F(nan_in("np.nanmean(x, axis=-1, keepdims=True, dtype=np.float64)"), Arg("any", [(2, 4)])),
                F("np.nanmean(x, out=np.zeros(()))", Arg("any", [(3,)]), refuse=R)],
    "nanvar": [F(nan_in("np.nanvar(x)"), Arg("any", [(4,), (2, 3)])),
               F(nan_in_thirds("np.nanvar(x, axis=0, ddof=1, keepdims=True, dtype=np.float64)"), Arg("any", [(4, 2)])),
               F("np.nanvar(x, out=np.zeros(()))", Arg("any", [(3,)]), refuse=R)],
    "nanstd": [F(nan_in("np.nanstd(x)"), Arg("nonzero", [(4,), (2, 3)])),
               F(nan_in_thirds("np.nanstd(x, axis=-1, ddof=1, keepdims=False, dtype=np.float64)"), Arg("nonzero", [(2, 5)])),
               F("np.nanstd(x, out=np.zeros(()))", Arg("any", [(3,)]), refuse=R)],
    "nanmax": [F(nan_in("np.nanmax(x)"), Arg("distinct", [(3,), (2, 3)])),
               F(nan_in("np.nanmax(x, axis=0, keepdims=True)"), Arg("distinct", [(2, 3)])),
               F("np.nanmax(x, out=np.zeros(()))", Arg("distinct", [(3,)]), refuse=R)],
    "nanmin": [F(nan_in("np.nanmin(x)"), Arg("distinct", [(3,), (2, 3)])),
               F(nan_in("np.nanmin(x, axis=-1, keepdims=False)"), Arg("distinct", [(2, 3)])),
               F("np.nanmin(x, out=np.zeros(()))", Arg("distinct", [(3,)]), refuse=R)],
    "ptp": [F("np.ptp(x)", Arg("distinct", [(3,), (2, 3)])), F("np.ptp(x, axis=-1, keepdims=True)", Arg("distinct", ND2)),
            F("np.ptp(x, out=np.zeros(()))", Arg("distinct", [(3,)]), refuse=R)],
    "average": [F("np.average(x)", Arg("any", [(3,), (2, 3), ()])),
                F("np.average(x, axis=-1, keepdims=True)", Arg("any", ND2)),
                F("np.average(x, weights=y)", Arg("any", [(3,), (2, 3)]), Arg("pos", [(3,), (2, 3)]), together=True),
                F("np.average(x, axis=1, weights=y)", Arg("any", [(2, 3), (2, 3)]), Arg("pos", [(3,), (2, 3)]), together=True),
                F("np.average(x, 0, y, keepdims=True)", Arg("any", [(2, 3)]), Arg("pos", [(2,)])),
                F("s = np.average(x, returned=True)\n    return s[0]", Arg("any", [(3,)]), refuse=rg.MissingRuleError)],
    "median": [F("np.median(x)", Arg("distinct", [(3,), (4,), (2, 3), (1,)])),
               F("np.median(x, axis=0, keepdims=True)", Arg("distinct", [(3, 2), (4, 3)])),
               F("np.median(x, axis=(0, -1))", Arg("distinct", [(2, 2, 3)])),
               F("np.median(x, -1, overwrite_input=False)", Arg("distinct", [(2, 3)])),
               F("np.median(x, out=np.zeros(()))", Arg("distinct", [(3,)]), refuse=R)],
    "quantile": [F("np.quantile(x, y)", Arg("distinct", [(5,), (2, 3)]), S("prob")),
                 F("np.quantile(x, 0.3, axis=1, keepdims=True)", Arg("distinct", [(2, 4)])),
                 F("np.quantile(x, np.array([0.15, 0.85]), axis=0)", Arg("distinct", [(4, 2), (5,)])),
                 F("np.quantile(x, y, method='linear', overwrite_input=False)", Arg("distinct", [(4,)]),
                   Arg("prob", [(2,)])),
                 F("np.quantile(x, 0.5, out=np.zeros(()))", Arg("distinct", [(3,)]), refuse=R),
                 F("np.quantile(x, 0.3, method='nearest')", Arg("distinct", [(4,)]), refuse=rg.MissingRuleError)],
    "percentile": [F("np.percentile(x, 40.0 * y)", Arg("distinct", [(5,), (2, 3)]), S("prob")),
                   F("np.percentile(x, [10.0, 70.0], axis=-1, keepdims=True, method='linear', overwrite_input=False)",
                     Arg("distinct", [(2, 4)])),
                   F("np.percentile(x, 50.0, out=np.zeros(()))", Arg("distinct", [(3,)]), refuse=R)],
    "diff": [F("np.diff(x)", Arg("any", [(3,), (2, 3), (1,)])), F("np.diff(x, 2, axis=0)", Arg("any", [(4, 2)])),
             F("np.diff(x, n=0)", Arg("any", [(3,)])),
             F("np.diff(x, prepend=y, append=z)", Arg("any", [(3,), (2, 3)]), S(), Arg("any", [(1,), (2, 2)]), together=True),
             F("np.diff(x, axis=-1, prepend=0.0, append=y)", Arg("any", [(2, 3)]), Arg("any", [(2, 1)]))],
    "gradient": [F("np.gradient(x)", Arg("any", [(3,), (5,)])), F("np.gradient(x, 0.5, edge_order=2)", Arg("any", [(4,)])),
                 F("p, q = np.gradient(x)\n    return p * 2.0 + q", Arg("any", [(3, 4)])),
                 F("np.gradient(x, 2.0, axis=-1)", Arg("any", [(2, 3)])),
                 F("np.gradient(x, np.array([0.0, 1.0, 3.0]))", Arg("any", [(3,)])),
                 F("np.gradient(x, np.array([0.0, 0.4, 1.5, 1.7, 3.0]), edge_order=2)", Arg("any", [(5,)])),
                 F("np.gradient(x, np.array([0.0, 0.3]), axis=-1)", Arg("any", [(3, 2)])),
                 F("np.gradient(x, np.array([-1.0, 0.5, 0.7]), axis=0, edge_order=2)", Arg("any", [(3, 2)]))],
    "trapezoid": [F("np.trapezoid(x)", Arg("any", [(3,), (2, 3)])), F("np.trapezoid(x, dx=y, axis=0)", Arg("any", [(3, 2)]), S()),
                  F("np.trapezoid(x, x=y)", Arg("any", [(3,), (2, 4)]), Arg("distinct", [(3,), (4,)]), together=True)],
})

# ---- contractions and decompositions (rules/contractions.py, rules/decompositions.py) -----------------------
def lsum(expr, n):
    """A scalar loss of the first n parts of a tuple result, weighted so each part's cotangent differs."""
    return f"r = {expr}\n    return " + " + ".join(f"np.sum(r[{k}] * np.arange(1.0, np.size(r[{k}]) + 1).reshape(np.shape(r[{k}])))"
                                                   for k in range(n))


FORMS.update({
    "einsum": [F("np.einsum('ij,jk->ik', x, y)", Arg("any", [(2, 3), (1, 3)]), Arg("any", [(3, 4), (3, 2)]), together=True),
               F("np.einsum('ij,jk', x, y)", Arg("any", [(2, 3)]), Arg("any", [(3, 2)])),
               F("np.einsum('ii', x)", Arg("any", [(3, 3)])), F("np.einsum('ii->i', x)", Arg("any", [(3, 3)])),
               F("np.einsum('iij->j', x)", Arg("any", [(2, 2, 3)])), F("np.einsum('i,i', x, y)", Arg(shapes=[(3,)]), Arg(shapes=[(3,)])),
               F("np.einsum('...ij,...jk->...ik', x, y)", Arg("any", [(2, 2, 3), (3, 2)]), Arg("any", [(3, 2), (2, 2, 4)]), together=True),
               F("np.einsum('i...->...', x)", Arg("any", [(2, 3), (3,)])), F("np.einsum('ij->', x)", Arg("any", [(2, 3)])),
               F("np.einsum('ijk->kji', x)", Arg("any", [(2, 1, 3)])), F("np.einsum('ab,b->a', x, y)", Arg(shapes=[(2, 3)]), Arg(shapes=[(1,)])),
               F("np.einsum('i,j,k->ijk', x, y, z)", Arg(shapes=[(2,)]), Arg(shapes=[(3,)]), Arg(shapes=[(2,)])),
               F("np.einsum('ij,jk,kl,lm->im', x, y, x, y)", Arg(shapes=[(2, 2)]), Arg(shapes=[(2, 2)])),
               F("np.einsum('ij,ij->i', x, y, optimize=True)", Arg(shapes=[(2, 3)]), Arg(shapes=[(2, 3)])),
               F("np.einsum(x, [0, 1], [1])", Arg(shapes=[(2, 3)]), refuse=rg.MissingRuleError)],
    "tensordot": [F("np.tensordot(x, y)", Arg("any", [(2, 3)]), Arg("any", [(2, 3)])),
                  F("np.tensordot(x, y, 1)", Arg("any", [(2, 3), (3,)]), Arg("any", [(3, 2), (3,)]), together=True),
                  F("np.tensordot(x, y, axes=([0, 2], [2, 0]))", Arg("any", [(2, 3, 4)]), Arg("any", [(4, 2, 2)])),
                  F("np.tensordot(x, y, axes=(-1, 0))", Arg("any", [(2, 3)]), Arg("any", [(3, 2)])),
                  F("np.tensordot(x, y, 0)", Arg("any", [(2,)]), Arg("any", [(3,)])),
                  F("np.linalg.tensordot(x, y, axes=1)", Arg("any", [(2, 3)]), Arg("any", [(3,)]))],
    "kron": [F("np.kron(x, y)", Arg("any", [(2,), (2, 3), (2, 2), (), (3,)]), Arg("any", [(3,), (2, 2), (3,), (2,), (2, 2)]),
               together=True)],
    "cross": [F("np.cross(x, y)", Arg("any", [(3,), (2, 3), (3,), (2,), (2, 2), (3,)]),
                Arg("any", [(3,), (3,), (2, 3), (2,), (2,), (2,)]), together=True),
              F("np.cross(x, y, axisa=0, axisb=-1, axisc=0)", Arg("any", [(3, 2)]), Arg("any", [(2, 3)])),
              F("np.cross(x, y, axis=0)", Arg("any", [(3, 2)]), Arg("any", [(3, 2)])),
              F("np.linalg.cross(x, y)", Arg("any", [(3,)]), Arg("any", [(3,)]))],
    "convolve": [F("np.convolve(x, y)", Arg("any", [(3,), (4,), (1,)]), Arg("any", [(2,), (4,), (3,)]), together=True),
                 F("np.convolve(x, y, 'same')", Arg("any", [(5,), (2,), (4,)]), Arg("any", [(2,), (5,), (3,)]), together=True),
                 F("np.convolve(x, y, mode='valid')", Arg("any", [(5,), (2,)]), Arg("any", [(3,), (4,)]), together=True)],
    "correlate": [F("np.correlate(x, y)", Arg("any", [(5,), (2,)]), Arg("any", [(3,), (4,)]), together=True),
                  F("np.correlate(x, y, 'full')", Arg("any", [(3,), (4,)]), Arg("any", [(2,), (4,)]), together=True),
                  F("np.correlate(x, y, mode='same')", Arg("any", [(5,), (2,), (4,)]), Arg("any", [(2,), (5,), (3,)]), together=True)],
    "vecdot": [F("np.vecdot(x, y)", Arg("any", [(3,), (2, 3), (3,)]), Arg("any", [(3,), (3,), (2, 1, 3)]), together=True),
               F("np.vecdot(x, y, axis=0)", Arg("any", [(3, 2)]), Arg("any", [(3, 1)])),
               F("np.linalg.vecdot(x, y)", Arg("any", [(2, 3)]), Arg("any", [(2, 3)]))],
    "matvec": [F("np.matvec(x, y)", Arg("any", [(2, 3), (2, 2, 3)]), Arg("any", [(3,), (3,)]), together=True)],
    "vecmat": [F("np.vecmat(x, y)", Arg("any", [(2,), (2,)]), Arg("any", [(2, 3), (2, 2, 3)]), together=True)],
    "multi_dot": [F("np.linalg.multi_dot([x, y, x])", Arg("any", [(2, 2)]), Arg("any", [(2, 2)])),
                  F("np.linalg.multi_dot((x, y, z))", Arg("any", [(3,), (2, 3)]), Arg("any", [(3, 2), (3, 4)]),
                    Arg("any", [(2,), (4, 2)]), together=True)],
    "matrix_power": [F("np.linalg.matrix_power(x, 3)", Arg("any", [(2, 2), (2, 3, 3)])),
                     F("np.linalg.matrix_power(x, 1) + np.linalg.matrix_power(x, 0)", Arg("any", [(3, 3)])),
                     F("np.linalg.matrix_power(x, n=-2)", Arg("wellcond", [(3, 3)]))],
    "slogdet": [F("s, l = np.linalg.slogdet(x)\n    return l * 2.0", Arg("wellcond", [(2, 2), (3, 3), (2, 3, 3)])),
                F("r = np.linalg.slogdet(x)\n    return r[1] + r[0]", Arg("wellcond", [(3, 3)]))],
    "pinv": [F("np.linalg.pinv(x)", Arg("gauss", [(3, 3), (2, 3), (3, 2), (2, 3, 3)])),
             F("np.linalg.pinv(x, rcond=1e-12, hermitian=False)", Arg("gauss", [(3, 2)])),
             F("np.linalg.pinv(x, rtol=1e-12)", Arg("gauss", [(2, 4)]))],
    "cholesky": [F("np.linalg.cholesky(x)", Arg("spd", [(3, 3), (1, 1), (2, 3, 3)])),
                 F("np.linalg.cholesky(x, upper=True)", Arg("spd", [(3, 3)]))],
    "qr": [F(lsum("np.linalg.qr(x)", 2), Arg("wellcond", [(3, 3), (2, 3, 3)])),
           F(lsum("np.linalg.qr(x, mode='reduced')", 2), Arg("gauss", [(3, 2), (4, 2)])),
           F("np.linalg.qr(x, mode='r')", Arg("gauss", [(3, 2), (3, 3)])),
           F(lsum("np.linalg.qr(x)", 2), Arg("gauss", [(2, 3)]), refuse=rg.MissingRuleError)],
    # random matrices: eigenvalues apart (a repeated one has no eigenvector derivative: test_convention_eigh)
    "eigh": [F(lsum("np.linalg.eigh(x)", 2), Arg("gauss", [(3, 3), (2, 2), (2, 3, 3)])),
             F("w, v = np.linalg.eigh(x)\n    return w", Arg("gauss", [(3, 3)])),
             F(lsum("np.linalg.eigh(x, UPLO='U')", 2), Arg("gauss", [(3, 3)]))],
    "eigvalsh": [F("np.linalg.eigvalsh(x)", Arg("gauss", [(3, 3), (2, 3, 3)])),
                 F("np.linalg.eigvalsh(x, UPLO='U')", Arg("gauss", [(3, 3)]))],
    "eig": [F(lsum("np.linalg.eig(x)", 2), Arg("realeig", [(3, 3), (2, 2), (2, 3, 3)])),
            F("w, v = np.linalg.eig(x)\n    return w", Arg("realeig", [(3, 3)]))],
    "eigvals": [F("np.linalg.eigvals(x)", Arg("realeig", [(3, 3), (2, 3, 3)]))],
    "svd": [F(lsum("np.linalg.svd(x, full_matrices=False)", 3), Arg("gauss", [(3, 3), (3, 2), (2, 3), (2, 3, 2)])),
            F(lsum("np.linalg.svd(x)", 3), Arg("gauss", [(3, 3)])),
            F("np.linalg.svd(x, compute_uv=False)", Arg("gauss", [(3, 2), (2, 3), (2, 2, 3)])),
            F(lsum("np.linalg.svd(x)", 3), Arg("gauss", [(3, 2)]), refuse=rg.MissingRuleError),
            F("np.linalg.svd(x, hermitian=True, compute_uv=False)", Arg("gauss", [(3, 3)]), refuse=rg.MissingRuleError)],
})

FORMS.update({
    "logaddexp2": [binary("np.logaddexp2(x, y)")],
    "copysign": [binary("np.copysign(x, y)", "nonzero", "nonzero", wrt=(0,)), F("math.copysign(x, y)", S("nonzero"), S("nonzero"), wrt=(0,))],
    "fmod": [binary("np.fmod(x, y)", "nonzero", "gt1"), F("math.fmod(x, y)", S("nonzero"), S("gt1"))],
    "ldexp": [F("np.ldexp(x, np.array([1, -2, 0]))", Arg("any", [(3,), (2, 3)])), F("math.ldexp(x, 3)", S())],
    "nan_to_num": [F("x = np.where(x > 1.2, np.nan, x)\n    return np.nan_to_num(x)", Arg()),
                   F("x = np.where(x > 1.2, np.inf, np.where(x < -1.2, -np.inf, np.where(x > 1.0, np.nan, x)))\n    "
                     "return np.nan_to_num(x, copy=True, nan=y, posinf=2.0 * y, neginf=z)", Arg("any", [(3,), (2, 3)]), S(), S())],
})

# keyword parameters a rule's template names that need no form of their own, and why
NO_KEYWORD_FORM = {"math_log": {"base": "math.log takes its base positionally only"},
                   "gradient": {"varargs": "np.gradient takes its spacings positionally (*varargs)"},
                   "einsum": {p: "np.einsum takes its operands positionally (*operands)" for p in ("x1", "x2", "x3")},
                   "take": {"out": "out= is refused (tests/test_rule_signatures.py, test_errors.py)"}}

_OPERATORS = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/", operator.pow: "**",
              operator.mod: "%", operator.neg: "-", operator.pos: "+", operator.matmul: "@",
              runtime.scatter_add: "np.add.at(", runtime.scatter_sub: "np.subtract.at("}
_MODULES = {"numpy": "np.", "numpy.linalg": "np.linalg.", "math": "math.", "builtins": ""}


def _spelling(f):
    """How a user writes a call of the registered function `f` (what a form must contain)."""
    if f in _OPERATORS:
        return _OPERATORS[f]
    if getattr(np.linalg, getattr(f, "__name__", ""), None) is f and getattr(np, f.__name__, None) is not f:
        return "np.linalg." + f.__name__ + "("
    if f is np.mod:
        return "np.mod("            # np.remainder is np.mod
    if special is not None and (getattr(f, "__module__", None) or "scipy").startswith("scipy") \
            and getattr(special, getattr(f, "__name__", ""), None) is f:
        return "special." + f.__name__ + "("
    mod = getattr(f, "__module__", None) or "numpy"
    prefix = _MODULES.get(mod, "np." if mod.startswith("numpy") else mod + ".")
    return prefix + f.__name__ + "("


def _rules():
    """rule name -> (Rule, the spellings it is registered under), from the registry."""
    objects = {id(f): f for f in registry._KEEP}
    out = {}
    for key, rule in registry.RULES.items():
        out.setdefault(rule.name, (rule, set()))[1].add(_spelling(objects[key]))
    for name, rule in registry.METHODS.items():
        out.setdefault(rule.name, (rule, set()))[1].add("." + name + "(")
    for name, rule in registry.ATTRIBUTES.items():
        out.setdefault(rule.name, (rule, set()))[1].add("." + name)
    return out


RULE_TABLE = _rules()


def test_every_rule_has_an_oracle():
    missing = sorted(set(RULE_TABLE) - set(FORMS))
    assert not missing, f"rules without an oracle form in test_rule_oracle.FORMS: {missing}"
    stale = sorted(set(FORMS) - set(RULE_TABLE))
    assert not stale, f"FORMS names rules that are not registered: {stale}"
    problems = []
    for name, (rule, spellings) in RULE_TABLE.items():
        text = " ".join(f.expr for f in FORMS[name])
        problems += [f"{name}: no form spells {s!r}" for s in sorted(spellings) if s not in text]
        for p in list(rule.signature.parameters.values())[1:]:
            if p.default is not p.empty and p.name not in NO_KEYWORD_FORM.get(name, ()) \
                    and f"{p.name}=" not in text:
                problems.append(f"{name}: no form passes {p.name}=")
    assert not problems, "\n".join(problems)


_PARAMS = "xyz"


# hvp (forward over the generated adjoint) is checked on one form of each rule of the newer families: the
# first that is not a refusal and whose result is an array (its tuple-valued forms are summed in the form)
HVP_FAMILIES = ("special", "ufuncs", "manipulation", "statistics", "contractions", "decompositions")


def _hvp_forms():
    out = {}
    for name, (rule, _) in RULE_TABLE.items():
        if rule.module not in HVP_FAMILIES or name not in FORMS:
            continue
        for k, form in enumerate(FORMS[name]):
            if form.refuse is None and "p, q = np.gradient" not in form.expr and not form.expr.startswith("np.gradient(x)"):
                out[(name, k)] = form
                break
    return out


HVP_FORMS = _hvp_forms()


def _source():
    lines = ["import math", "import numpy as np", "from scipy import special" if special else "", ""]
    for name, forms in FORMS.items():
        for k, form in enumerate(forms):
            params = ", ".join(_PARAMS[:len(form.args.args)])
            body = form.expr if "return" in form.expr else f"return {form.expr}"
            lines += [f"def {name}_{k}({params}):", f"    {body}", "", ""]
            if (name, k) in HVP_FORMS:     # a scalar loss of the form, curved, for the hvp check
                lines += [f"def {name}_{k}_loss({params}):", f"    return np.sum(np.sin({name}_{k}({params})))", "", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def forms_module(tmp_path_factory):
    return load_module(_source(), tmp_path_factory.mktemp("oracle"), prefix="rg_oracle")


def _check(f, form, args):
    if form.refuse is not None:
        with pytest.raises(form.refuse):
            rg.differentiate(f, wrt=form.wrt, backend=fd.BACKEND).vjp(*args)[1](np.ones(np.shape(f(*args))))
        return
    check_vjp(f, args, wrt=form.wrt, rtol=1e-5, atol=1e-7)


CASES = [(name, k) for name, forms in FORMS.items() for k in range(len(forms))]


@pytest.mark.parametrize("name,k", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_rule_vjp_against_finite_differences(forms_module, name, k):
    form = FORMS[name][k]
    f = getattr(forms_module, f"{name}_{k}")

    @settings(max_examples=EXAMPLES)
    @given(form.args.strategy())
    def run(args):
        _check(f, form, args)
    run()


# Each rule on numba compiles a primal and an adjoint (3-9 s): CI runs a fixed eighth of the rules,
# RETROGRAD_ORACLE_NUMBA_SLICE=k (0..7) picks another eighth, RETROGRAD_ORACLE_FULL=1 runs them all.
_NUMBA_SLICE = int(os.environ.get("RETROGRAD_ORACLE_NUMBA_SLICE", "0")) % 8
NUMBA_SAMPLE = sorted(FORMS) if FULL else sorted(FORMS)[_NUMBA_SLICE::8]


@pytest.mark.parametrize("name", NUMBA_SAMPLE)
def test_rule_on_numba(forms_module, name, monkeypatch):
    """The first form of each rule, one fixed draw, on numba: the python backend's result, or, for a rule
    listed in numba_refusals.NUMBA_RULE_REFUSALS, a clear refusal (BackendError naming backend="python").
    A listed rule that now passes fails (the list only shrinks), and so does an unlisted refusal."""
    pytest.importorskip("numba")
    if "numba" not in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(","):
        pytest.skip("numba is not in RETROGRAD_TEST_BACKENDS")
    from numba_refusals import NUMBA_RULE_REFUSALS
    form = FORMS[name][0]
    f = getattr(forms_module, f"{name}_0")
    monkeypatch.setattr(fd, "BACKEND", "numba")
    try:
        _check(f, form, form.args.fixed())
    except rg.BackendError as err:
        assert 'backend="python"' in (err.hint or ""), f"the refusal does not say what to do: {err}"
        assert name in NUMBA_RULE_REFUSALS, f"numba refuses {form.expr!r}, not in NUMBA_RULE_REFUSALS: {err}"
        pytest.xfail(f"numba refuses {form.expr!r}: {NUMBA_RULE_REFUSALS[name]}")
    assert name not in NUMBA_RULE_REFUSALS, \
        f"numba now differentiates {form.expr!r}: remove {name!r} from numba_refusals.NUMBA_RULE_REFUSALS"


def test_numba_rule_refusals_name_rules():
    """Every rule NUMBA_RULE_REFUSALS lists is a registered rule with oracle forms, and has a reason."""
    from numba_refusals import NUMBA_RULE_REFUSALS
    unknown = sorted(set(NUMBA_RULE_REFUSALS) - set(RULE_TABLE))
    assert not unknown, f"NUMBA_RULE_REFUSALS names rules that are not registered: {unknown}"
    assert set(NUMBA_RULE_REFUSALS) <= set(FORMS)
    assert all(isinstance(r, str) and r for r in NUMBA_RULE_REFUSALS.values())


# ---- conventions at kinks and domain edges: hand-derived values ------------------------------------------
# At a tie or a kink any element of the (Clarke) subdifferential is a valid gradient; retrograd picks:
#  * max/min reductions: the cotangent is split equally between tied entries (JAX's convention too);
#  * np.maximum/np.minimum/np.fmax/np.fmin and builtin max/min: all of it to the first operand (JAX splits
#    0.5/0.5; both are valid subgradients);
#  * np.clip at a bound: to `x` (the one-sided derivative from inside); with a_min > a_max, to a_max;
#  * abs at 0, std with every entry equal, norm and hypot at 0: 0.
# Where NumPy's value has an infinite slope (sqrt, arcsin, log, cbrt, x ** 0.5 at the edge) the gradient is
# inf, never an invented finite number.

def conv_max(x):
    return np.max(x)


def conv_max_axis(x):
    return np.sum(np.max(x, axis=1) * np.array([1.0, 2.0]))


def conv_min_keep(x):
    return np.sum(x.min(axis=0, keepdims=True))


def conv_maximum(x, y):
    return np.sum(np.maximum(x, y))


def conv_minimum(x, y):
    return np.sum(np.minimum(x, y))


def conv_builtin_max(x, y):
    return max(x, y) + min(x, y) * 3.0


def conv_clip(x, lo, hi):
    return np.sum(np.clip(x, lo, hi))


def conv_abs(x):
    return np.sum(np.abs(x))


def conv_prod(x):
    return np.prod(x)


def conv_prod_axis(x):
    return np.sum(np.prod(x, axis=1) * np.array([1.0, 2.0]))


def conv_std(x):
    return np.std(x)


def conv_std_axis(x):
    return np.sum(np.std(x, axis=-1))


def conv_var_ddof(x):
    return np.var(x, ddof=1)


def conv_std_ddof_n(x):
    return np.std(x, ddof=2)


def conv_pow(x, y):
    return np.sum(x ** y)


def conv_pow_scalar(x, y):
    return x ** y


def conv_pow_literals(x):
    return np.sum(x ** 0.0 + x ** 1 + x ** 2)


def conv_zero_base(x):
    return np.sum(0.0 ** x)


def conv_pow_half(x):
    return np.sum(x ** 0.5)


def edge_sqrt(x):
    return np.sum(np.sqrt(x))


def edge_math_sqrt(x):
    return math.sqrt(x)


def edge_cbrt(x):
    return np.sum(np.cbrt(x))


def edge_arcsin(x):
    return np.sum(np.arcsin(x + 1.0))


def edge_log(x):
    return np.sum(np.log(x))


def edge_arccosh(x):
    return np.sum(np.arccosh(x + 1.0))


def edge_arctanh(x):
    return np.sum(np.arctanh(1.0 - x))


def conv_kinks(x):
    return np.linalg.norm(x) + np.sum(np.hypot(x, x)) + np.sum(np.sinc(x))


def _grad(f, args, wrt=0, backend="python"):
    return rg.differentiate(f, wrt=wrt, backend=backend).grad(*args)


BACKENDS = [b for b in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(",") if b]


@pytest.mark.parametrize("backend", BACKENDS)
def test_convention_max_min_ties_split_equally(backend):
    np.testing.assert_array_equal(_grad(conv_max, [np.array([1.0, 3.0, 3.0])], backend=backend), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(_grad(conv_max_axis, [np.array([[2.0, 2.0], [1.0, 0.0]])], backend=backend),
                                  [[0.5, 0.5], [2.0, 0.0]])
    np.testing.assert_array_equal(_grad(conv_min_keep, [np.array([[1.0, 4.0], [1.0, 0.0]])], backend=backend),
                                  [[0.5, 0.0], [0.5, 1.0]])


def test_convention_elementwise_ties_go_to_the_first_operand():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])
    gx, gy = _grad(conv_maximum, [x, y], wrt=(0, 1))
    np.testing.assert_array_equal(gx, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 1.0])
    gx, gy = _grad(conv_minimum, [x, y], wrt=(0, 1))
    np.testing.assert_array_equal(gx, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gy, [0.0, 1.0, 0.0])
    assert _grad(conv_builtin_max, [2.0, 2.0], wrt=(0, 1)) == (4.0, 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_convention_clip_at_and_across_bounds(backend):
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    gx, glo, ghi = _grad(conv_clip, [x, np.zeros(5), np.ones(5)], wrt=(0, 1, 2), backend=backend)
    np.testing.assert_array_equal(gx, [0.0, 1.0, 1.0, 1.0, 0.0])     # at a bound: to x
    np.testing.assert_array_equal(glo, [1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [0.0, 0.0, 0.0, 0.0, 1.0])
    gx, glo, ghi = _grad(conv_clip, [x, np.full(5, 1.5), np.full(5, 0.5)], wrt=(0, 1, 2), backend=backend)
    np.testing.assert_array_equal(ghi, np.ones(5))
    np.testing.assert_array_equal(gx + glo, np.zeros(5))
    if backend == "python":          # numba's np.clip takes no scalar `a` with array bounds (a clear refusal)
        assert _grad(conv_clip, [0.3, np.array([0.5, 0.1]), 1.0]) == 1.0      # scalar x, array bounds


def test_convention_abs_at_zero():
    np.testing.assert_array_equal(_grad(conv_abs, [np.array([-2.0, 0.0, 3.0])]), [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_prod_with_zeros_is_the_product_of_the_others(backend):
    np.testing.assert_array_equal(_grad(conv_prod, [np.array([2.0, 0.0, 3.0])], backend=backend), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(_grad(conv_prod, [np.array([0.0, 2.0, 0.0])], backend=backend), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(_grad(conv_prod, [np.array([[2.0, 0.5], [4.0, 3.0]])], backend=backend),
                                  [[6.0, 24.0], [3.0, 4.0]])
    np.testing.assert_array_equal(
        _grad(conv_prod_axis, [np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]])], backend=backend),
        [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_std_var_of_one_element_and_ties(backend):
    assert _grad(conv_std, [np.array([1.5])], backend=backend).tolist() == [0.0]
    np.testing.assert_array_equal(_grad(conv_std_axis, [np.array([[1.0], [2.0]])], backend=backend), [[0.0], [0.0]])
    np.testing.assert_array_equal(_grad(conv_std, [np.full(3, 2.0)], backend=backend), np.zeros(3))  # a subgradient


def test_std_var_with_ddof_at_least_n_match_numpy_non_finite_values():
    # NumPy's value is nan (0 / 0) or inf there: the gradient is not finite either, not an invented number
    with np.errstate(all="ignore"):
        assert np.isnan(np.var(np.array([1.5]), ddof=1))
        assert not np.isfinite(_grad(conv_var_ddof, [np.array([1.5])])).any()
        assert not np.isfinite(_grad(conv_std_ddof_n, [np.array([1.0, 2.0])])).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_power_at_zero(backend):
    with np.errstate(all="ignore"):
        gx, gy = _grad(conv_pow, [np.array([0.0, 0.0, 0.0, 2.0]), np.array([2.0, 1.0, 0.0, 3.0])], wrt=(0, 1),
                       backend=backend)
        np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0, 12.0])
        np.testing.assert_array_equal(gy[:2], [0.0, 0.0])                  # 0 ** y is 0 around y > 0
        assert np.isnan(gy[2])                                             # 0 ** y jumps at y == 0
        np.testing.assert_allclose(gy[3], 8.0 * np.log(2.0))
        # x ** 0 is 1 everywhere (0 included); x ** 1 has slope 1; x ** 2 slope 0; 0 ** x is 0 for x > 0
        np.testing.assert_array_equal(_grad(conv_pow_literals, [np.array([0.0, 1.5])], backend=backend), [1.0, 4.0])
        np.testing.assert_array_equal(_grad(conv_zero_base, [np.array([1.5, 0.5])], backend=backend), [0.0, 0.0])
        assert _grad(conv_pow_half, [np.array([0.0])], backend=backend)[0] == np.inf
    assert _grad(conv_pow_scalar, [0.0, 0.0], backend=backend) == 0.0     # Python floats: no ZeroDivisionError
    assert _grad(conv_pow_scalar, [0.0, 2.0], wrt=(0, 1), backend=backend) == (0.0, 0.0)


def test_math_sqrt_at_zero_is_inf_not_zero_division():
    with np.errstate(all="ignore"):
        assert _grad(edge_math_sqrt, [0.0]) == np.inf


@pytest.mark.parametrize("f", [edge_sqrt, edge_cbrt, edge_arcsin, edge_log, edge_arccosh, edge_arctanh])
def test_edges_with_infinite_slope_give_inf(f):
    """sqrt, cbrt at 0, arcsin, arccosh, arctanh at 1, log at 0: NumPy's value has an infinite slope."""
    with np.errstate(all="ignore"):
        g = _grad(f, [np.array([0.0])])
    assert np.isinf(g[0]), g


def test_convention_zero_of_norm_hypot_sinc():
    np.testing.assert_array_equal(_grad(conv_kinks, [np.zeros(3)]), np.zeros(3))


# ---- the reproductions of issue 11 item 5, on every backend (numba: the same numbers, or a clear refusal) --
def i_prod_zero(x):
    return np.prod(x)


def i_std_one(x):
    return np.std(x, axis=1) + np.var(x, axis=1)


def i_pow_base0(y):
    return np.power(0.0, y)


def i_pow_exp0(x):
    return np.power(x, 0.0) + x ** 0


def i_dot_3d(a, b):
    return np.dot(a, b)


def i_transpose_neg(q):
    return np.transpose(q, (-1, 0))


def i_slice_var(x):
    s = slice(None, -1)
    return x[s]


def i_hstack_one(x):
    return np.hstack((x,))


def i_clip_none(x):
    return np.clip(x, None, 0.5)


def i_clip_scalar(x, lo):
    return np.clip(x, lo, 2.0)


def i_concat_none(x, y):
    return np.concatenate((x, y), axis=None)


ISSUE_CASES = [(i_prod_zero, [np.array([1.5, 0.0, 2.0])], 0), (i_prod_zero, [np.array([1.5, 0.0, 0.0])], 0),
               (i_std_one, [np.array([[1.5], [2.0]])], 0), (i_pow_base0, [np.array([1.5, 2.0])], 0),
               (i_pow_exp0, [np.array([0.0, 2.0])], 0),
               (i_dot_3d, [np.arange(6.0).reshape(2, 3), np.arange(24.0).reshape(2, 3, 4) / 10], (0, 1)),
               (i_dot_3d, [np.arange(12.0).reshape(2, 2, 3), np.arange(24.0).reshape(2, 3, 4) / 10], (0, 1)),
               (i_transpose_neg, [np.arange(6.0).reshape(2, 3)], 0), (i_slice_var, [np.arange(4.0)], 0),
               (i_hstack_one, [np.arange(3.0)], 0), (i_clip_none, [np.array([0.1, 0.9, -3.0])], 0),
               (i_clip_scalar, [0.3, np.array([0.5, 0.1, 0.7])], (0, 1)),
               (i_concat_none, [np.ones((2, 2)), np.arange(3.0)], (0, 1))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", range(len(ISSUE_CASES)), ids=[f"{c[0].__name__}-{k}" for k, c in enumerate(ISSUE_CASES)])
def test_issue_reproductions(k, backend, monkeypatch):
    f, args, wrt = ISSUE_CASES[k]
    monkeypatch.setattr(fd, "BACKEND", backend)
    try:
        check_vjp(f, args, wrt=wrt)
    except rg.BackendError as err:
        assert backend != "python" and 'backend="python"' in (err.hint or ""), str(err)
        pytest.xfail(f"{backend} refuses it clearly: {str(err).splitlines()[0][:160]}")


# ---- forward mode: every form's jvp (tangent templates, reverse/rules/*: @tangent) ------------------------
def test_every_rule_has_a_tangent():
    """Each rule declares its tangent beside its adjoint (or an explicit refusal with a reason)."""
    from retrograd.reverse.rules.tangents import Refused, Tangent
    missing = sorted(name for name, (rule, _) in RULE_TABLE.items() if not isinstance(rule.tangent, (Tangent, Refused)))
    assert not missing, f"rules without a @tangent: {missing}"


def test_every_helper_an_adjoint_calls_has_a_tangent():
    """hvp differentiates generated adjoints forward: every helper a rule's adjoint template calls needs a
    tangent (forward/helper_rules.py), a rule of its own, or to be declared constant."""
    import gast
    from retrograd.forward import helper_rules
    problems = []
    for name, (rule, _) in RULE_TABLE.items():
        for expr in rule.grads.values():
            for n in gast.walk(expr):
                if isinstance(n, gast.Call) and isinstance(n.func, gast.Name):
                    fn = registry.GLOBALS.get(n.func.id)
                    if fn is None or not (getattr(fn, "__module__", "") or "").startswith("retrograd"):
                        continue
                    if helper_rules.lookup(fn) is None and not helper_rules.is_constant(fn) \
                            and registry.lookup(fn) is None:
                        problems.append(f"{name}: {n.func.id}")
    assert not problems, f"helpers without a tangent: {sorted(set(problems))}"


@pytest.mark.parametrize("name,k", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_rule_jvp_against_finite_differences(forms_module, name, k):
    """The jvp of each form on two fixed draws (one with zeros where the domain has them) against central
    differences along a random direction and against its vjp (<c, Jv> == <J^T c, v>)."""
    from forward_check import check_jvp
    form = FORMS[name][k]
    f = getattr(forms_module, f"{name}_{k}")
    for draw, zeros in ((1, False), (2, True)) if FULL else ((2, True),):
        args = form.args.make([draw] * len(form.args.args), 7 * draw, zeros)
        if form.refuse is not None:
            with pytest.raises(form.refuse):
                tangents = [np.ones_like(a) if i in form.wrt else None for i, a in enumerate(args)]
                rg.jvp(f, tuple(args), tuple(tangents))
            return
        check_jvp(f, args, wrt=form.wrt, seed=draw)


# ---- second order: hvp of the newer families' rules against central differences of the gradient ---------
# The matrix decompositions refuse their second derivative (forward/family_helpers.py): hvp must say so.
HVP_REFUSED = {"pinv", "cholesky", "qr", "eigh", "eigvalsh", "eig", "eigvals", "svd"}


@pytest.mark.parametrize("name,k", sorted(HVP_FORMS), ids=[f"{n}-{k}" for n, k in sorted(HVP_FORMS)])
def test_rule_hvp_against_differences_of_the_gradient(forms_module, name, k):
    from forward_check import check_hvp
    form = HVP_FORMS[(name, k)]
    f = getattr(forms_module, f"{name}_{k}_loss")
    args = form.args.make([1] * len(form.args.args), 7, False)
    if name in HVP_REFUSED:
        with pytest.raises(rg.MissingRuleError, match="second derivative"):
            rg.hvp(f, tuple(args), tuple(np.ones_like(a) for a in args))
        return
    check_hvp(f, args, wrt=form.wrt, seed=3)
