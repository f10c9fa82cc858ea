"""Statistics, NaN-skipping reductions, order statistics and finite differences (cumprod, nan*, ptp,
average, median/quantile, diff, gradient, trapezoid)."""
import numpy as np

from ...runtime import select_grad, unbroadcast, unreduce
from .reductions import div_or_zero, select_weights
from .registry import adjoint, d, t, tangent

KIND = "reduction"


def cumprod_grad(g, a, axis=None):
    """Cotangent of np.cumprod, exact at zeros (no division): along the axis,
    d a_k = prod(a_<k) * S_k with S_k = g_k + a_{k+1} S_{k+1}."""
    a = np.asarray(a, dtype=np.float64)
    if axis is None:
        return np.reshape(cumprod_grad(np.ravel(g), np.ravel(a), 0), np.shape(a))
    am, gm = np.moveaxis(a, axis, 0), np.moveaxis(np.asarray(g, dtype=np.float64), axis, 0)
    n = am.shape[0]
    s = np.zeros(am.shape)
    for k in range(n - 1, -1, -1):
        s[k] = gm[k] + (am[k + 1] * s[k + 1] if k + 1 < n else 0.0)
    before = np.concatenate([np.ones((1,) + am.shape[1:]), np.cumprod(am, axis=0)[:-1]], axis=0)
    return np.moveaxis(before * s, 0, axis)


def nan_count(a, axis, keepdims=True):
    return np.sum(~np.isnan(a), axis=axis, keepdims=keepdims)


def nan_center(a, axis):
    return np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))


def weighted_grad(g, a, y, axis, weights, keepdims, which):
    """Cotangents of np.average(a, axis, weights) (which = 0: of a, 1: of weights): d a = g w / sum w and
    d w = g (a - y) / sum w, with a 1-D `weights` laid along `axis` as NumPy does."""
    w = np.ones(np.shape(a)) if weights is None else np.asarray(weights, dtype=np.float64)
    along = np.ndim(w) == 1 and np.ndim(a) > 1
    if along:
        w = _along(w, a, axis)
    wf = np.broadcast_to(w, np.shape(a))
    total = unreduce(np.sum(wf, axis=axis, keepdims=True), a, axis, True)
    gb = unreduce(g, a, axis, keepdims)
    if which == 0:
        return gb * wf / total
    full = gb * (a - unreduce(y, a, axis, keepdims)) / total
    if along:
        return np.sum(full, axis=tuple(k for k in range(np.ndim(a)) if k != axis % np.ndim(a)))
    return unbroadcast(full, weights)


def _no_returned(args):
    if args.get("returned", False) is not False:
        return ("with returned=True (a (value, sum of weights) pair)", "call np.sum(weights) separately")
    return None


def _last(a, axis):
    """`a` with the reduced axes (None: all; an int or a tuple) merged into one last axis."""
    a = np.asarray(a, dtype=np.float64)
    axes = tuple(range(np.ndim(a))) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = tuple(k % np.ndim(a) for k in axes)
    moved = np.moveaxis(a, axes, tuple(range(np.ndim(a) - len(axes), np.ndim(a))))
    kept = moved.shape[:np.ndim(a) - len(axes)]
    return np.reshape(moved, kept + (int(np.prod(moved.shape[len(kept):], dtype=np.int64)),)), axes


def quantile_grad(g, a, q, axis=None, keepdims=False, scale=1.0):
    """Cotangent of `a` in np.quantile(a, q, axis) (linear method; np.median is q = 0.5): the two order
    statistics around q (n - 1) share g as the interpolation weights say.  Tied entries are interchangeable:
    the stable order picks which of them receives it."""
    am, axes = _last(a, axis)
    if am.size == 0:              # the quantile of nothing is NaN; `a` has no entry to receive a share
        return np.zeros(np.shape(a))
    q = np.asarray(q, dtype=np.float64) / scale
    n = am.shape[-1]
    pos = q * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    order = np.argsort(am, axis=-1, kind="stable")
    gq = np.reshape(np.asarray(g, dtype=np.float64), np.shape(q) + am.shape[:-1])   # keepdims' 1s are dropped
    out = np.zeros(am.shape)
    for idx in np.ndindex(np.shape(q)):        # one quantile at a time (q is usually a scalar)
        for k, wgt in ((lo[idx], 1.0 - frac[idx]), (hi[idx], frac[idx])):
            src = order[..., k][..., None]
            np.put_along_axis(out, src, np.take_along_axis(out, src, -1) + (wgt * gq[idx])[..., None], -1)
    rest = [k for k in range(np.ndim(a)) if k not in axes]
    moved = np.reshape(out, tuple(np.shape(a)[k] for k in rest) + tuple(np.shape(a)[k] for k in axes))
    return np.moveaxis(moved, tuple(range(len(rest), np.ndim(a))), axes)


def quantile_grad_q(g, a, q, axis=None, keepdims=False, scale=1.0):
    """Cotangent of q: the slope of the interpolation, (next order statistic - this one) (n - 1)."""
    am, _ = _last(a, axis)
    if am.size == 0:              # NaN whatever q is
        return np.full(np.shape(q), np.nan)
    s = np.sort(am, axis=-1)
    n = s.shape[-1]
    pos = np.asarray(q, dtype=np.float64) / scale * (n - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    slope = (np.take(s, hi, axis=-1) - np.take(s, lo, axis=-1)) * (n - 1) / scale    # others + q's shape
    other = np.ndim(s) - 1
    slope = np.moveaxis(slope, tuple(range(other, np.ndim(slope))), tuple(range(np.ndim(q))))
    gq = np.reshape(np.asarray(g, dtype=np.float64), np.shape(slope))
    return np.reshape(np.sum(gq * slope, axis=tuple(range(np.ndim(q), np.ndim(slope)))), np.shape(q))


def _no_overwrite(args):
    """overwrite_input=True lets NumPy partition the array in place: the caller's array changes, and the
    adjoint would find the order statistics in the partitioned array."""
    if args.get("overwrite_input", False) is not False:
        return ("with overwrite_input=True (NumPy may reorder the array in place: the caller's array, and the "
                "values the gradient reads)", "leave overwrite_input=False, the default")
    return None


def _linear_method(args):
    m = args.get("method", "linear")
    if m != "linear":
        return (f"with method={m!r}" if isinstance(m, str) else "with a method not written as a literal",
                "use the default method='linear'")
    return _no_overwrite(args)


def undiff(g, a, n=1, axis=-1, prepend=None, append=None, which=0):
    """Cotangents of np.diff(a, n, axis, prepend, append): the transposed difference, n times, split back
    into prepend / a / append (0, 1, 2).  y_i = x_{i+1} - x_i, so dx_j = g_{j-1} - g_j."""
    g = np.asarray(g, dtype=np.float64)
    width = [(0, 0)] * np.ndim(g)
    width[axis] = (1, 1)
    for _ in range(n):
        g = -np.diff(np.pad(g, width), axis=axis)
    sizes = [0 if prepend is None else (np.shape(prepend)[axis] if np.ndim(prepend) else 1), np.shape(a)[axis]]
    part = np.split(g, np.cumsum(sizes), axis=axis)[which]
    target = (prepend, a, append)[which]
    return np.reshape(part, np.shape(a)) if which == 1 else unbroadcast(part, target)


def ungradient_axis(g, n, axis, h, edge_order):
    """The transpose of np.gradient's stencil along `axis` (spacing h): central differences inside,
    one-sided first- or second-order ones at the two ends."""
    gm = np.moveaxis(np.asarray(g, dtype=np.float64), axis, 0)
    out = np.zeros(gm.shape)
    out[2:] += gm[1:-1] / (2 * h)
    out[:-2] -= gm[1:-1] / (2 * h)
    if edge_order == 1:
        out[1] += gm[0] / h
        out[0] -= gm[0] / h
        out[-1] += gm[-1] / h
        out[-2] -= gm[-1] / h
    else:
        out[0] += -1.5 * gm[0] / h
        out[1] += 2.0 * gm[0] / h
        out[2] += -0.5 * gm[0] / h
        out[-1] += 1.5 * gm[-1] / h
        out[-2] += -2.0 * gm[-1] / h
        out[-3] += 0.5 * gm[-1] / h
    return np.moveaxis(out, 0, axis)


def ungradient(g, f, varargs=1.0, axis=None, edge_order=1):
    """Cotangent of np.gradient(f, h, axis=, edge_order=) with a scalar spacing: one array for one axis,
    a list (one per axis) otherwise, each passed through its stencil's transpose and summed."""
    axes = list(range(np.ndim(f))) if axis is None else ([axis] if np.ndim(axis) == 0 else list(axis))
    parts = [g] if len(axes) == 1 else list(g)
    out = np.zeros(np.shape(f))
    for gk, ax in zip(parts, axes):
        if np.ndim(varargs) == 0:
            out = out + ungradient_axis(gk, np.shape(f)[ax], ax, varargs, edge_order)
        else:     # NumPy takes one coordinate array only for one axis (it raises otherwise)
            out = out + ungradient_coordinates(gk, np.asarray(varargs, dtype=np.float64), ax, edge_order)
    return out


def ungradient_coordinates(g, x, axis, edge_order):
    """The transpose of np.gradient's stencil along `axis` at coordinates `x` (non-uniform spacing).

    The stencil is linear in f and banded: row i reads f[i-1], f[i], f[i+1] inside and f[0..edge_order]
    (f[n-1-edge_order..n-1]) at the ends, columns whose indices differ mod 3.  So np.gradient of the three
    probes `j % 3 == k` gives every stencil weight: M[i, j] is probe (j % 3)'s gradient at i.  The
    transpose sums g[i] * M[i, j] over the rows i that read column j.  Exact, O(n) memory."""
    gm = np.moveaxis(np.asarray(g, dtype=np.float64), axis, 0)
    n = x.shape[0]
    probe = np.array([np.gradient((np.arange(n) % 3 == k).astype(np.float64), x, edge_order=edge_order)
                      for k in range(3)])          # probe[j % 3, i] = M[i, j] for the j row i reads
    lead = (slice(None),) + (None,) * (gm.ndim - 1)
    out = np.zeros(gm.shape)
    rows = np.arange(1, n - 1)
    for off in (-1, 0, 1):                          # inside, row i reads column i + off
        out[rows + off] += probe[(rows + off) % 3, rows][lead] * gm[rows]
    for i, cols in ((0, range(edge_order + 1)), (n - 1, range(n - 1 - edge_order, n))):
        for j in cols:                              # the one-sided ends
            out[j] += probe[j % 3, i] * gm[i]
    return np.moveaxis(out, 0, axis)


def trapezoid_weights(y, x=None, dx=1.0, axis=-1):
    """np.trapezoid(y, x, dx, axis) = sum(w * y, axis): w = dx (or the gaps of x) halved at the ends."""
    n = np.shape(y)[axis]
    if n < 2:                     # one sample (or none): the integral is the constant 0
        return _along(np.zeros(n), y, axis)
    if x is None:
        w = np.full(n, float(dx))
    else:
        gaps = np.diff(np.asarray(x, dtype=np.float64))
        w = np.zeros(n)
        w[:-1] += gaps
        w[1:] += gaps
        w = w / 2.0
        return _along(w, y, axis)
    w[0] /= 2.0
    w[-1] /= 2.0
    return _along(w, y, axis)


def _along(w, y, axis):
    shape = [1] * np.ndim(y)
    shape[axis] = -1
    return np.reshape(w, shape)


def trapezoid_grad_x(g, y, x, axis=-1):
    """Cotangent of a 1-D `x` in np.trapezoid: d x_i = (y_{i-1} - y_{i+1}) / 2 (one side at the ends)."""
    ym = np.moveaxis(np.asarray(y, dtype=np.float64), axis, -1)
    pad = np.concatenate([ym[..., :1], ym, ym[..., -1:]], axis=-1)
    part = (pad[..., :-2] - pad[..., 2:]) / 2.0
    part[..., 0] = -(ym[..., 0] + ym[..., 1]) / 2.0
    part[..., -1] = (ym[..., -2] + ym[..., -1]) / 2.0
    return np.sum(np.asarray(g, dtype=np.float64)[..., None] * part, axis=tuple(range(np.ndim(part) - 1)))


# ---- tangents (forward mode) ---------------------------------------------------------------------------
def cumprod_tangent(v, a, axis=None):
    """Tangent of np.cumprod along the axis, exact at zeros (no division): dy_k = dy_{k-1} a_k + y_{k-1} v_k."""
    a = np.asarray(a, dtype=np.float64)
    if axis is None:
        return cumprod_tangent(np.ravel(v), np.ravel(a), 0)
    am = np.moveaxis(a, axis, 0)
    vm = np.moveaxis(np.broadcast_to(np.asarray(v, dtype=np.float64), np.shape(a)), axis, 0)
    y, dy = np.ones(am.shape[1:]), np.zeros(am.shape[1:])
    out = np.zeros(am.shape)
    for k in range(am.shape[0]):
        dy = dy * am[k] + y * vm[k]
        y = y * am[k]
        out[k] = dy
    return np.moveaxis(out, 0, axis)


def average_tangent(v, a, y, axis, weights, keepdims, which):
    """Tangent of np.average(a, axis, weights) from that of `a` (which = 0: sum(w v) / sum w) or of the
    weights (1: sum(v (a - y)) / sum w), a 1-D weights laid along `axis` as NumPy does."""
    w = np.ones(np.shape(a)) if weights is None else np.asarray(weights, dtype=np.float64)
    along = np.ndim(w) == 1 and np.ndim(a) > 1
    if along:
        w = _along(w, a, axis)
        if which == 1:
            v = _along(v, a, axis)
    wf = np.broadcast_to(w, np.shape(a))
    total = np.sum(wf, axis=axis, keepdims=keepdims)
    if which == 0:
        return np.sum(wf * v, axis=axis, keepdims=keepdims) / total
    return np.sum(np.broadcast_to(v, np.shape(a)) * (a - unreduce(y, a, axis, keepdims)), axis=axis,
                  keepdims=keepdims) / total


def quantile_tangent(v, a, q, y, axis=None, scale=1.0):
    """Tangent of np.quantile(a, q, axis) (linear method) from that of `a`: the interpolation of the
    tangents of the two order statistics around q (n - 1), picked by the stable order quantile_grad uses."""
    am, _ = _last(a, axis)
    if am.size == 0:              # the quantile of nothing is NaN, and so is its tangent
        return np.full(np.shape(y), np.nan)
    vm, _ = _last(np.broadcast_to(v, np.shape(a)), axis)
    q = np.asarray(q, dtype=np.float64) / scale
    n = am.shape[-1]
    pos = q * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    order = np.argsort(am, axis=-1, kind="stable")
    out = np.zeros(np.shape(q) + am.shape[:-1])
    for idx in np.ndindex(np.shape(q)):
        for k, wgt in ((lo[idx], 1.0 - frac[idx]), (hi[idx], frac[idx])):
            out[idx] = out[idx] + wgt * np.take_along_axis(vm, order[..., k][..., None], -1)[..., 0]
    return np.reshape(out, np.shape(y))


def quantile_tangent_q(v, a, q, y, axis=None, scale=1.0):
    """Tangent of np.quantile from that of q: the slope of the interpolation (as quantile_grad_q has it)."""
    am, _ = _last(a, axis)
    if am.size == 0:              # y is NaN whatever q is
        return np.full(np.shape(y), np.nan)
    s = np.sort(am, axis=-1)
    n = s.shape[-1]
    pos = np.asarray(q, dtype=np.float64) / scale * (n - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    slope = (np.take(s, hi, axis=-1) - np.take(s, lo, axis=-1)) * (n - 1) / scale    # others + q's shape
    other = np.ndim(s) - 1
    slope = np.moveaxis(slope, tuple(range(other, np.ndim(slope))), tuple(range(np.ndim(q))))
    vq = np.reshape(np.asarray(v, dtype=np.float64), np.shape(q) + (1,) * other)
    return np.reshape(slope * vq, np.shape(y))


def diff_part(v, a, n=1, axis=-1, prepend=None, append=None, which=1):
    """The part of np.diff(a, n, axis, prepend, append)'s tangent from one of its pieces (0: prepend,
    1: a, 2: append) whose tangent is `v`, the others held at 0: np.diff is linear in the joined pieces."""
    pieces = [prepend, a, append]
    pieces = [None if p is None else (v if k == which else np.zeros(np.shape(p))) for k, p in enumerate(pieces)]
    kw = {name: p for name, p in (("prepend", pieces[0]), ("append", pieces[2])) if p is not None}
    return np.diff(pieces[1], n, axis=axis, **kw)


def gradient_tangent(v, varargs=1.0, axis=None, edge_order=1):
    """Tangent of np.gradient(f, h) (a spacing or coordinates): np.gradient of the tangent (it is linear)."""
    return np.gradient(v, varargs, axis=axis, edge_order=edge_order)


@adjoint(np.cumprod, methods=("cumprod",))
def cumprod(y, a, axis=None, dtype=None, out=None):
    d[a] = cumprod_grad(d[y], a, axis)


@tangent(cumprod)
def cumprod(y, a, axis=None, dtype=None, out=None):
    t[y] = cumprod_tangent(t[a], a, axis)


@adjoint(np.nancumsum)
def nancumsum(y, a, axis=None, dtype=None, out=None):
    d[a] = np.reshape(np.flip(np.cumsum(np.flip(d[y], axis), axis), axis), np.shape(a)) * ~np.isnan(a)


@tangent(nancumsum)
def nancumsum(y, a, axis=None, dtype=None, out=None):
    t[y] = np.cumsum(np.where(np.isnan(a), 0.0, t[a]), axis=axis)


@adjoint(np.nansum)
def nansum(y, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims) * ~np.isnan(a)


@tangent(nansum)
def nansum(y, a, axis=None, dtype=None, out=None, keepdims=False):
    t[y] = np.sum(np.where(np.isnan(a), 0.0, t[a]), axis=axis, keepdims=keepdims)


@adjoint(np.nanmean)
def nanmean(y, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims) * ~np.isnan(a) / nan_count(a, axis)


@tangent(nanmean)
def nanmean(y, a, axis=None, dtype=None, out=None, keepdims=False):
    t[y] = np.sum(np.where(np.isnan(a), 0.0, t[a]), axis=axis, keepdims=keepdims) / nan_count(a, axis, keepdims)


@adjoint(np.nanvar)
def nanvar(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims) * 2.0 * nan_center(a, axis) / (nan_count(a, axis) - ddof)


@tangent(nanvar)
def nanvar(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    t[y] = np.sum(np.where(np.isnan(a), 0.0, t[a]) * nan_center(a, axis), axis=axis, keepdims=keepdims) * 2.0 / (nan_count(a, axis, keepdims) - ddof)


@adjoint(np.nanstd)
def nanstd(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d[a] = unreduce(div_or_zero(d[y], y), a, axis, keepdims) * nan_center(a, axis) / (nan_count(a, axis) - ddof)   # 0 at one entry, as np.std's


@tangent(nanstd)
def nanstd(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    t[y] = div_or_zero(np.sum(np.where(np.isnan(a), 0.0, t[a]) * nan_center(a, axis), axis=axis, keepdims=keepdims) / (nan_count(a, axis, keepdims) - ddof), y)


@adjoint(np.nanmax)
def nanmax(y, a, axis=None, out=None, keepdims=False):
    d[a] = select_grad(d[y], a, y, axis, keepdims)       # NaN entries never equal the maximum


@tangent(nanmax)
def nanmax(y, a, axis=None, out=None, keepdims=False):
    t[y] = np.sum(np.where(np.isnan(a), 0.0, t[a]) * select_weights(a, y, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.nanmin)
def nanmin(y, a, axis=None, out=None, keepdims=False):
    d[a] = select_grad(d[y], a, y, axis, keepdims)


@tangent(nanmin)
def nanmin(y, a, axis=None, out=None, keepdims=False):
    t[y] = np.sum(np.where(np.isnan(a), 0.0, t[a]) * select_weights(a, y, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.ptp)
def ptp(y, a, axis=None, out=None, keepdims=False):
    d[a] = (select_grad(d[y], a, np.max(a, axis=axis, keepdims=keepdims), axis, keepdims)
            - select_grad(d[y], a, np.min(a, axis=axis, keepdims=keepdims), axis, keepdims))


@tangent(ptp)
def ptp(y, a, axis=None, out=None, keepdims=False):
    t[y] = np.sum(t[a] * (select_weights(a, np.max(a, axis=axis, keepdims=True), axis, True) - select_weights(a, np.min(a, axis=axis, keepdims=True), axis, True)), axis=axis, keepdims=keepdims)


@adjoint(np.average, check=_no_returned)
def average(y, a, axis=None, weights=None, returned=False, keepdims=False):
    d[a] = weighted_grad(d[y], a, y, axis, weights, keepdims, 0)
    d[weights] = weighted_grad(d[y], a, y, axis, weights, keepdims, 1)


@tangent(average)
def average(y, a, axis=None, weights=None, returned=False, keepdims=False):
    t[y] = average_tangent(t[a], a, y, axis, weights, keepdims, 0) + average_tangent(t[weights], a, y, axis, weights, keepdims, 1)


@adjoint(np.median, check=_no_overwrite)
def median(y, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    d[a] = quantile_grad(d[y], a, 0.5, axis, keepdims)


@tangent(median)
def median(y, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    t[y] = quantile_tangent(t[a], a, 0.5, y, axis)


@adjoint(np.quantile, check=_linear_method)
def quantile(y, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    d[a] = quantile_grad(d[y], a, q, axis, keepdims)
    d[q] = quantile_grad_q(d[y], a, q, axis, keepdims)


@tangent(quantile)
def quantile(y, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    t[y] = quantile_tangent(t[a], a, q, y, axis) + quantile_tangent_q(t[q], a, q, y, axis)


@adjoint(np.percentile, check=_linear_method)
def percentile(y, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    d[a] = quantile_grad(d[y], a, q, axis, keepdims, 100.0)
    d[q] = quantile_grad_q(d[y], a, q, axis, keepdims, 100.0)


@tangent(percentile)
def percentile(y, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    t[y] = quantile_tangent(t[a], a, q, y, axis, 100.0) + quantile_tangent_q(t[q], a, q, y, axis, 100.0)


@adjoint(np.diff, kind="shape")
def diff(y, a, n=1, axis=-1, prepend=None, append=None):
    d[a] = undiff(d[y], a, n, axis, prepend, append, 1)
    d[prepend] = undiff(d[y], a, n, axis, prepend, append, 0)
    d[append] = undiff(d[y], a, n, axis, prepend, append, 2)


@tangent(diff)
def diff(y, a, n=1, axis=-1, prepend=None, append=None):
    t[y] = diff_part(t[a], a, n, axis, prepend, append, 1) + diff_part(t[prepend], a, n, axis, prepend, append, 0) + diff_part(t[append], a, n, axis, prepend, append, 2)


@adjoint(np.gradient, kind="shape")
def gradient(y, f, varargs=1.0, *, axis=None, edge_order=1):
    d[f] = ungradient(d[y], f, varargs, axis, edge_order)


@tangent(gradient)
def gradient(y, f, varargs=1.0, *, axis=None, edge_order=1):
    t[y] = gradient_tangent(t[f], varargs, axis, edge_order)


@adjoint(np.trapezoid)
def trapezoid(r, y, x=None, dx=1.0, axis=-1):
    d[y] = unreduce(d[r], y, axis, False) * trapezoid_weights(y, x, dx, axis)
    d[x] = trapezoid_grad_x(d[r], y, x, axis)
    d[dx] = np.sum(d[r] * np.trapezoid(y, axis=axis)) * float(x is None)     # NumPy ignores dx given x


@tangent(trapezoid)
def trapezoid(r, y, x=None, dx=1.0, axis=-1):
    t[r] = np.sum(t[y] * trapezoid_weights(y, x, dx, axis), axis) + np.trapezoid(y, x=t[x], axis=axis) + t[dx] * np.trapezoid(y, axis=axis) * float(x is None)
