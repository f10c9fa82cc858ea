"""Special functions: `math.erf`/`erfc` always; `scipy.special` (and `math.lgamma`/`math.gamma`, whose
derivatives need the digamma function) only when SciPy is importable.  SciPy stays optional: without it
those calls are refused as missing rules, like any other unknown call."""
import math

import numpy as np

from ...runtime import unbroadcast, unreduce
from .registry import adjoint, d, t, tangent

KIND = "elementwise"

# Constants are written out in the templates (they appear in the generated code): 1.1283791670955126 is
# 2 / sqrt(pi), 0.886226925452758 sqrt(pi) / 2, 0.3989422804014327 1 / sqrt(2 pi), 2.5066282746310002 sqrt(2 pi).


@adjoint(math.erf)
def math_erf(y, x):
    d[x] = d[y] * 1.1283791670955126 * math.exp(-x * x)


@tangent(math_erf)
def math_erf(y, x):
    t[y] = t[x] * 1.1283791670955126 * math.exp(-x * x)


@adjoint(math.erfc)
def math_erfc(y, x):
    d[x] = -d[y] * 1.1283791670955126 * math.exp(-x * x)


@tangent(math_erfc)
def math_erfc(y, x):
    t[y] = -t[x] * 1.1283791670955126 * math.exp(-x * x)


try:
    from scipy import special
except ImportError:      # pragma: no cover - SciPy is optional
    special = None


def x_over_y(x, y):
    """`x / y`, and 0 where x == 0: the y-partial of xlogy(x, y) = x log y, which is 0 for x == 0 at every
    y (0 included), as SciPy defines it."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x == 0, 0.0, x / np.where(x == 0, 1.0, y))
    return out[()]


def bessel_over_x(f, x, at0):
    """`f(x) / x` with its limit `at0` at x == 0 (the recurrences of i1' and j1')."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x == 0, at0, f / np.where(x == 0, 1.0, x))
    return out[()]


def lse_grad(g, a, y, axis, b, keepdims):
    """Cotangent of `a` (times b, when given) in logsumexp: g * b * exp(a - y), g and y spread back over
    the reduced axes.  The result's shape is that of `a` broadcast with `b`."""
    full = np.shape(a) if b is None else np.broadcast_shapes(np.shape(a), np.shape(b))
    like = np.zeros(full)
    g, y = _of_0d(g, full), _of_0d(y, full)
    e = np.exp(a - unreduce(y, like, axis, keepdims)) * unreduce(g, like, axis, keepdims)
    return e if b is None else e * b


def _of_0d(v, full):
    """SciPy's logsumexp of 0-d operands with keepdims=True has shape (1,) (it works on np.atleast_1d):
    its value and cotangent, back to the operands' 0-d shape."""
    return np.reshape(v, ()) if not full and np.ndim(v) else v


def lse_grad_b(g, a, y, axis, b, keepdims):
    full = np.broadcast_shapes(np.shape(a), np.shape(b))
    like = np.zeros(full)
    g, y = _of_0d(g, full), _of_0d(y, full)
    return unbroadcast(np.exp(a - unreduce(y, like, axis, keepdims)) * unreduce(g, like, axis, keepdims), b)


def lse_tangent(v, a, y, axis, b, keepdims):
    """A part of the tangent of logsumexp(a, axis, b): sum(v * b * exp(a - y)) over `axis` (the tangent
    `v` of `a`, weighted by b when given; with b=None and `v` the tangent of b, the part from b)."""
    full = np.broadcast_shapes(np.shape(a), np.shape(v)) if b is None else \
        np.broadcast_shapes(np.shape(a), np.shape(b), np.shape(v))
    like = np.zeros(full)
    e = np.exp(a - unreduce(_of_0d(y, full), like, axis, keepdims)) * v
    return np.reshape(np.sum(e if b is None else e * b, axis=axis, keepdims=keepdims), np.shape(y))


def _no_sign(args):
    if args.get("return_sign", False) is not False:
        return ("with return_sign=True (a (value, sign) pair)",
                "differentiate logsumexp with positive b= and no return_sign")
    return None


def _polygamma_order(args):
    n = args.get("n")
    if not isinstance(n, int) or n < 0:
        return ("with an order n that is not a literal non-negative int (it is not differentiable in n)",
                "write the order as an integer literal: special.polygamma(1, x)")
    return None


if special is not None:
    @adjoint(special.erf)
    def erf(y, x):
        d[x] = d[y] * 1.1283791670955126 * np.exp(-x * x)

    @tangent(erf)
    def erf(y, x):
        t[y] = t[x] * 1.1283791670955126 * np.exp(-x * x)

    @adjoint(special.erfc)
    def erfc(y, x):
        d[x] = -d[y] * 1.1283791670955126 * np.exp(-x * x)

    @tangent(erfc)
    def erfc(y, x):
        t[y] = -t[x] * 1.1283791670955126 * np.exp(-x * x)

    @adjoint(special.erfcx)
    def erfcx(y, x):
        d[x] = d[y] * (2.0 * x * y - 1.1283791670955126)

    @tangent(erfcx)
    def erfcx(y, x):
        t[y] = t[x] * (2.0 * x * y - 1.1283791670955126)

    @adjoint(special.erfinv)
    def erfinv(y, x):
        d[x] = d[y] * 0.886226925452758 * np.exp(y * y)

    @tangent(erfinv)
    def erfinv(y, x):
        t[y] = t[x] * 0.886226925452758 * np.exp(y * y)

    @adjoint(special.erfcinv)
    def erfcinv(y, x):
        d[x] = -d[y] * 0.886226925452758 * np.exp(y * y)

    @tangent(erfcinv)
    def erfcinv(y, x):
        t[y] = -t[x] * 0.886226925452758 * np.exp(y * y)

    @adjoint(special.ndtr)
    def ndtr(y, x):
        d[x] = d[y] * 0.3989422804014327 * np.exp(-0.5 * x * x)

    @tangent(ndtr)
    def ndtr(y, x):
        t[y] = t[x] * 0.3989422804014327 * np.exp(-0.5 * x * x)

    @adjoint(special.log_ndtr)
    def log_ndtr(y, x):
        d[x] = d[y] * 0.3989422804014327 * np.exp(-0.5 * x * x - y)      # the density over ndtr, without underflow

    @tangent(log_ndtr)
    def log_ndtr(y, x):
        t[y] = t[x] * 0.3989422804014327 * np.exp(-0.5 * x * x - y)

    @adjoint(special.ndtri)
    def ndtri(y, x):
        d[x] = d[y] * 2.5066282746310002 * np.exp(0.5 * y * y)

    @tangent(ndtri)
    def ndtri(y, x):
        t[y] = t[x] * 2.5066282746310002 * np.exp(0.5 * y * y)

    @adjoint(special.expit)
    def expit(y, x):
        d[x] = d[y] * y * (1.0 - y)

    @tangent(expit)
    def expit(y, x):
        t[y] = t[x] * y * (1.0 - y)

    @adjoint(special.log_expit)
    def log_expit(y, x):
        d[x] = d[y] * special.expit(-x)

    @tangent(log_expit)
    def log_expit(y, x):
        t[y] = t[x] * special.expit(-x)

    @adjoint(special.logit)
    def logit(y, x):
        d[x] = d[y] / (x * (1.0 - x))

    @tangent(logit)
    def logit(y, x):
        t[y] = t[x] / (x * (1.0 - x))

    @adjoint(special.gammaln, special.loggamma, math.lgamma)
    def gammaln(y, x):
        d[x] = d[y] * special.psi(x)

    @tangent(gammaln)
    def gammaln(y, x):
        t[y] = t[x] * special.psi(x)

    @adjoint(special.gamma, math.gamma)
    def gamma(y, x):
        d[x] = d[y] * y * special.psi(x)

    @tangent(gamma)
    def gamma(y, x):
        t[y] = t[x] * y * special.psi(x)

    @adjoint(special.rgamma)
    def rgamma(y, x):
        d[x] = -d[y] * y * special.psi(x)

    @tangent(rgamma)
    def rgamma(y, x):
        t[y] = -t[x] * y * special.psi(x)

    @adjoint(special.psi, special.digamma)
    def digamma(y, x):
        d[x] = d[y] * special.polygamma(1, x)

    @tangent(digamma)
    def digamma(y, x):
        t[y] = t[x] * special.polygamma(1, x)

    @adjoint(special.polygamma, check=_polygamma_order)
    def polygamma(y, n, x):
        d[x] = d[y] * special.polygamma(n + 1, x)

    @tangent(polygamma)
    def polygamma(y, n, x):
        t[y] = t[x] * special.polygamma(n + 1, x)

    @adjoint(special.betaln)
    def betaln(y, a, b):
        d[a] = unbroadcast(d[y] * (special.psi(a) - special.psi(a + b)), a)
        d[b] = unbroadcast(d[y] * (special.psi(b) - special.psi(a + b)), b)

    @tangent(betaln)
    def betaln(y, a, b):
        t[y] = t[a] * (special.psi(a) - special.psi(a + b)) + t[b] * (special.psi(b) - special.psi(a + b))

    @adjoint(special.beta)
    def beta(y, a, b):
        d[a] = unbroadcast(d[y] * y * (special.psi(a) - special.psi(a + b)), a)
        d[b] = unbroadcast(d[y] * y * (special.psi(b) - special.psi(a + b)), b)

    @tangent(beta)
    def beta(y, a, b):
        t[y] = t[a] * y * (special.psi(a) - special.psi(a + b)) + t[b] * y * (special.psi(b) - special.psi(a + b))

    @adjoint(special.xlogy)
    def xlogy(r, x, y):
        d[x] = unbroadcast(d[r] * np.log(y), x)
        d[y] = unbroadcast(d[r] * x_over_y(x, y), y)

    @tangent(xlogy)
    def xlogy(r, x, y):
        t[r] = t[x] * np.log(y) + t[y] * x_over_y(x, y)

    @adjoint(special.xlog1py)
    def xlog1py(r, x, y):
        d[x] = unbroadcast(d[r] * np.log1p(y), x)
        d[y] = unbroadcast(d[r] * x_over_y(x, 1.0 + y), y)

    @tangent(xlog1py)
    def xlog1py(r, x, y):
        t[r] = t[x] * np.log1p(y) + t[y] * x_over_y(x, 1.0 + y)

    @adjoint(special.entr)
    def entr(y, x):
        d[x] = -d[y] * (np.log(x) + 1.0)         # -inf at 0, as the slope of -x log x is

    @tangent(entr)
    def entr(y, x):
        t[y] = -t[x] * (np.log(x) + 1.0)

    @adjoint(special.rel_entr)
    def rel_entr(r, x, y):
        d[x] = unbroadcast(d[r] * (np.log(x / y) + 1.0), x)
        d[y] = unbroadcast(-d[r] * x / y, y)

    @tangent(rel_entr)
    def rel_entr(r, x, y):
        t[r] = t[x] * (np.log(x / y) + 1.0) - t[y] * x / y

    @adjoint(special.kl_div)
    def kl_div(r, x, y):
        d[x] = unbroadcast(d[r] * np.log(x / y), x)
        d[y] = unbroadcast(d[r] * (1.0 - x / y), y)

    @tangent(kl_div)
    def kl_div(r, x, y):
        t[r] = t[x] * np.log(x / y) + t[y] * (1.0 - x / y)

    @adjoint(special.exp10)
    def exp10(y, x):
        d[x] = d[y] * y * 2.302585092994046

    @tangent(exp10)
    def exp10(y, x):
        t[y] = t[x] * y * 2.302585092994046

    @adjoint(special.i0)
    def i0(y, x):
        d[x] = d[y] * special.i1(x)

    @tangent(i0)
    def i0(y, x):
        t[y] = t[x] * special.i1(x)

    @adjoint(special.i1)
    def i1(y, x):
        d[x] = d[y] * (special.i0(x) - bessel_over_x(y, x, 0.5))

    @tangent(i1)
    def i1(y, x):
        t[y] = t[x] * (special.i0(x) - bessel_over_x(y, x, 0.5))

    @adjoint(special.i0e)
    def i0e(y, x):
        d[x] = d[y] * (special.i1e(x) - np.sign(x) * y)

    @tangent(i0e)
    def i0e(y, x):
        t[y] = t[x] * (special.i1e(x) - np.sign(x) * y)

    @adjoint(special.i1e)
    def i1e(y, x):
        d[x] = d[y] * (special.i0e(x) - bessel_over_x(y, x, 0.5) - np.sign(x) * y)

    @tangent(i1e)
    def i1e(y, x):
        t[y] = t[x] * (special.i0e(x) - bessel_over_x(y, x, 0.5) - np.sign(x) * y)

    @adjoint(special.j0)
    def j0(y, x):
        d[x] = -d[y] * special.j1(x)

    @tangent(j0)
    def j0(y, x):
        t[y] = -t[x] * special.j1(x)

    @adjoint(special.j1)
    def j1(y, x):
        d[x] = d[y] * (special.j0(x) - bessel_over_x(y, x, 0.5))

    @tangent(j1)
    def j1(y, x):
        t[y] = t[x] * (special.j0(x) - bessel_over_x(y, x, 0.5))

    @adjoint(special.y0)
    def y0(y, x):
        d[x] = -d[y] * special.y1(x)

    @tangent(y0)
    def y0(y, x):
        t[y] = -t[x] * special.y1(x)

    @adjoint(special.y1)
    def y1(y, x):
        d[x] = d[y] * (special.y0(x) - y / x)

    @tangent(y1)
    def y1(y, x):
        t[y] = t[x] * (special.y0(x) - y / x)

    @adjoint(special.k0)
    def k0(y, x):
        d[x] = -d[y] * special.k1(x)

    @tangent(k0)
    def k0(y, x):
        t[y] = -t[x] * special.k1(x)

    @adjoint(special.k1)
    def k1(y, x):
        d[x] = -d[y] * (special.k0(x) + y / x)

    @tangent(k1)
    def k1(y, x):
        t[y] = -t[x] * (special.k0(x) + y / x)

    @adjoint(special.dawsn)
    def dawsn(y, x):
        d[x] = d[y] * (1.0 - 2.0 * x * y)

    @tangent(dawsn)
    def dawsn(y, x):
        t[y] = t[x] * (1.0 - 2.0 * x * y)

    @adjoint(special.logsumexp, kind="reduction", check=_no_sign)
    def logsumexp(y, a, axis=None, b=None, keepdims=False, return_sign=False):
        d[a] = unbroadcast(lse_grad(d[y], a, y, axis, b, keepdims), a)
        d[b] = lse_grad_b(d[y], a, y, axis, b, keepdims)

    @tangent(logsumexp)
    def logsumexp(y, a, axis=None, b=None, keepdims=False, return_sign=False):
        t[y] = lse_tangent(t[a], a, y, axis, b, keepdims) + lse_tangent(t[b], a, y, axis, None, keepdims)

    @adjoint(special.softmax, kind="reduction")
    def softmax(y, x, axis=None):
        d[x] = y * (d[y] - np.sum(d[y] * y, axis=axis, keepdims=True))

    @tangent(softmax)
    def softmax(y, x, axis=None):
        t[y] = y * (t[x] - np.sum(t[x] * y, axis=axis, keepdims=True))

    @adjoint(special.log_softmax, kind="reduction")
    def log_softmax(y, x, axis=None):
        d[x] = d[y] - np.exp(y) * np.sum(d[y], axis=axis, keepdims=True)

    @tangent(log_softmax)
    def log_softmax(y, x, axis=None):
        t[y] = t[x] - np.sum(np.exp(y) * t[x], axis=axis, keepdims=True)
