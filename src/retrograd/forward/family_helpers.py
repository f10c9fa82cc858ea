"""Tangents of the helpers that the adjoints of the special, manipulation, statistics, contraction and
decomposition rules call, so that hvp and hessian (forward over the generated adjoint) reach them.

Most are rearrangements of the cotangent `g`: linear in `g`, the other arguments giving only shapes,
indices or an order that is locally constant, so their tangent is the helper applied to `t[g]`.  The
bilinear ones (einsum, kron, cross, convolve, ...) add the part from the other operand's tangent
(`unless_own`: an operand's own cotangent reads only its shape).  The second derivatives of the matrix
decompositions are refused with a reason.
"""
import numpy as np

from ..reverse.rules import contractions, decompositions, manipulation, special, statistics
from ..reverse.rules.registry import t
from ..runtime import unbroadcast, unreduce
from .helper_rules import CONSTANT, _KEEP, helper, refuse

# the bare names the templates below call (generated code imports them from registry.GLOBALS)
real_only, unappend, unsplit, split_pieces = (manipulation.real_only, manipulation.unappend,
                                              manipulation.unsplit, manipulation.split_pieces)
uncompress, undelete, undiag, undiagonal = (manipulation.uncompress, manipulation.undelete, manipulation.undiag,
                                            manipulation.undiagonal)
unpad, unpad_value, unsort, unrepeat, unrollaxis = (manipulation.unpad, manipulation.unpad_value, manipulation.unsort,
                                                    manipulation.unrepeat, manipulation.unrollaxis)
unselect, unselect_all, untake, untake_along, untile = (manipulation.unselect, manipulation.unselect_all,
                                                        manipulation.untake, manipulation.untake_along,
                                                        manipulation.untile)
undiff, ungradient, nan_center = statistics.undiff, statistics.ungradient, statistics.nan_center
cumprod_grad, weighted_grad, quantile_grad, quantile_grad_q = (statistics.cumprod_grad, statistics.weighted_grad,
                                                               statistics.quantile_grad, statistics.quantile_grad_q)
trapezoid_grad_x, trapezoid_weights = statistics.trapezoid_grad_x, statistics.trapezoid_weights
x_over_y, bessel_over_x, lse_grad, lse_grad_b = special.x_over_y, special.bessel_over_x, special.lse_grad, special.lse_grad_b
einsum_grad, tensordot_grad, kron_grad, cross_grad = (contractions.einsum_grad, contractions.tensordot_grad,
                                                      contractions.kron_grad, contractions.cross_grad)
convolve_grad, correlate_grad, vecdot_grad = contractions.convolve_grad, contractions.correlate_grad, contractions.vecdot_grad
matrix_power_grad, multi_dot_grads = contractions.matrix_power_grad, contractions.multi_dot_grads
slogdet_grad = decompositions.slogdet_grad

CONSTANT.add(id(statistics.nan_count))      # integer counts
_KEEP.append(statistics.nan_count)


def unless_own(k, j, value):
    """`value` (the part of a cotangent of operand k from operand j's tangent), or 0 when j is k itself:
    an operand's own cotangent reads only its shape."""
    return value if k != j else np.zeros(np.shape(value))


# ---- rearrangements of g (manipulation.py, statistics.py) ---------------------------------------------
@helper(manipulation.real_only)
def _real_only(r, g, x, name):
    t[r] = real_only(t[g], x, name)


@helper(manipulation.unappend)
def _unappend(r, g, arr, axis, which):
    t[r] = unappend(t[g], arr, axis, which)


@helper(manipulation.unsplit)
def _unsplit(r, g, ary, axis):
    t[r] = unsplit(t[g], ary, axis)


@helper(manipulation.split_pieces)
def _split_pieces(r, g, arrays, axis, prep):
    t[r] = split_pieces(t[g], arrays, axis, prep)


@helper(manipulation.uncompress)
def _uncompress(r, g, condition, a, axis):
    t[r] = uncompress(t[g], condition, a, axis)


@helper(manipulation.undelete)
def _undelete(r, g, arr, obj, axis):
    t[r] = undelete(t[g], arr, obj, axis)


@helper(manipulation.undiag)
def _undiag(r, g, v, k):
    t[r] = undiag(t[g], v, k)


@helper(manipulation.undiagonal)
def _undiagonal(r, g, a, offset, axis1, axis2):
    t[r] = undiagonal(t[g], a, offset, axis1, axis2)


@helper(manipulation.unpad)
def _unpad(r, g, array, pad_width, mode, reflect_type):
    t[r] = unpad(t[g], array, pad_width, mode, reflect_type)


@helper(manipulation.unpad_value)
def _unpad_value(r, g, array, pad_width):
    t[r] = unpad_value(t[g], array, pad_width)


@helper(manipulation.unsort)
def _unsort(r, g, a, y, axis):
    t[r] = unsort(t[g], a, y, axis)          # the stable ranks are locally constant in a and y


@helper(manipulation.unrepeat)
def _unrepeat(r, g, a, repeats, axis):
    t[r] = unrepeat(t[g], a, repeats, axis)


@helper(manipulation.unrollaxis)
def _unrollaxis(r, g, axis, start):
    t[r] = unrollaxis(t[g], axis, start)


@helper(manipulation.unselect)
def _unselect(r, g, condlist, choicelist, k, default_shape):
    t[r] = unselect(t[g], condlist, choicelist, k, default_shape)


@helper(manipulation.unselect_all)
def _unselect_all(r, g, condlist, choicelist):
    t[r] = unselect_all(t[g], condlist, choicelist)


@helper(manipulation.untake)
def _untake(r, g, a, indices, axis, mode):
    t[r] = untake(t[g], a, indices, axis, mode)


@helper(manipulation.untake_along)
def _untake_along(r, g, arr, indices, axis):
    t[r] = untake_along(t[g], arr, indices, axis)


@helper(manipulation.untile)
def _untile(r, g, a, reps):
    t[r] = untile(t[g], a, reps)


@helper(statistics.undiff)
def _undiff(r, g, a, n, axis, prepend, append, which):
    t[r] = undiff(t[g], a, n, axis, prepend, append, which)


@helper(statistics.ungradient)
def _ungradient(r, g, f, varargs, axis, edge_order):
    t[r] = ungradient(t[g], f, varargs, axis, edge_order)


@helper(statistics.nan_center)
def _nan_center(r, a, axis):
    t[r] = nan_center(np.where(np.isnan(a), np.nan, t[a]), axis)      # linear in a, NaNs held where they are


@helper(statistics.trapezoid_grad_x)
def _trapezoid_grad_x(r, g, y, x, axis):
    t[r] = trapezoid_grad_x(t[g], y, x, axis) + trapezoid_grad_x(g, t[y], x, axis)


def trapezoid_weights_ddx(y, x, v, axis):
    """The tangent of np.trapezoid's weights from that of `dx` (which counts only without `x`)."""
    w = trapezoid_weights(y, None, 1.0, axis)
    return w * v if x is None else np.zeros(np.shape(w))


@helper(statistics.trapezoid_weights)
def _trapezoid_weights(r, y, x, dx, axis):
    t[r] = trapezoid_weights(y, t[x], 1.0, axis) + trapezoid_weights_ddx(y, x, t[dx], axis)


def cumprod_grad_da(g, a, axis, v):
    """The tangent of cumprod_grad(g, a, axis) from that of `a` (its recurrence, differentiated)."""
    a = np.asarray(a, dtype=np.float64)
    if axis is None:
        return np.reshape(cumprod_grad_da(np.ravel(g), np.ravel(a), 0, np.ravel(v)), np.shape(a))
    am, gm = np.moveaxis(a, axis, 0), np.moveaxis(np.asarray(g, dtype=np.float64), axis, 0)
    vm = np.moveaxis(np.broadcast_to(v, np.shape(a)), axis, 0)
    n = am.shape[0]
    s, ds = np.zeros(am.shape), np.zeros(am.shape)
    for k in range(n - 1, -1, -1):
        if k + 1 < n:
            s[k] = gm[k] + am[k + 1] * s[k + 1]
            ds[k] = am[k + 1] * ds[k + 1] + vm[k + 1] * s[k + 1]
        else:
            s[k] = gm[k]
    ones = np.ones((1,) + am.shape[1:])
    before = np.concatenate([ones, np.cumprod(am, axis=0)[:-1]], axis=0)
    dbefore = np.concatenate([0.0 * ones, statistics.cumprod_tangent(vm, am, 0)[:-1]], axis=0)
    return np.moveaxis(dbefore * s + before * ds, 0, axis)


@helper(statistics.cumprod_grad)
def _cumprod_grad(r, g, a, axis):
    t[r] = cumprod_grad(t[g], a, axis) + cumprod_grad_da(g, a, axis, t[a])


def weighted_grad_day(g, a, y, axis, weights, keepdims, which, ta, ty):
    """The tangent of weighted_grad from those of `a` and of the average `y` (only the weights' cotangent
    reads them: g (a - y) / sum w)."""
    if which == 0:
        return np.zeros(np.shape(a))
    diff = np.broadcast_to(ta, np.shape(a)) - unreduce(ty, a, axis, keepdims)
    return weighted_grad(g, diff, np.zeros(np.shape(y)), axis, weights, keepdims, 1)


def weighted_grad_dw(g, a, y, axis, weights, keepdims, which, tw):
    """The tangent of weighted_grad from that of the weights: d(w / sum w) for a, d(1 / sum w) for w."""
    w = np.asarray(weights, dtype=np.float64)
    tw = np.asarray(tw, dtype=np.float64)
    along = np.ndim(w) == 1 and np.ndim(a) > 1
    if along:
        w, tw = statistics._along(w, a, axis), statistics._along(tw, a, axis)
    wf, twf = np.broadcast_to(w, np.shape(a)), np.broadcast_to(tw, np.shape(a))
    total = unreduce(np.sum(wf, axis=axis, keepdims=True), a, axis, True)
    dtotal = unreduce(np.sum(twf, axis=axis, keepdims=True), a, axis, True)
    gb = unreduce(g, a, axis, keepdims)
    if which == 0:
        return gb * (twf / total - wf * dtotal / (total * total))
    full = -gb * (a - unreduce(y, a, axis, keepdims)) * dtotal / (total * total)
    if along:
        return np.sum(full, axis=tuple(k for k in range(np.ndim(a)) if k != axis % np.ndim(a)))
    return unbroadcast(full, weights)


@helper(statistics.weighted_grad)
def _weighted_grad(r, g, a, y, axis, weights, keepdims, which):
    t[r] = (weighted_grad(t[g], a, y, axis, weights, keepdims, which)
            + weighted_grad_day(g, a, y, axis, weights, keepdims, which, t[a], t[y])
            + weighted_grad_dw(g, a, y, axis, weights, keepdims, which, t[weights]))


def quantile_grad_dq(g, a, q, axis, keepdims, scale, v):
    """The tangent of quantile_grad from that of q: the interpolation weight moves from the lower order
    statistic to the upper one at the rate (n - 1) / scale (nothing moves where they coincide, q = 1)."""
    am, axes = statistics._last(a, axis)
    n = am.shape[-1]
    q = np.asarray(q, dtype=np.float64) / scale
    lo = np.floor(q * (n - 1)).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    rate = np.broadcast_to(np.asarray(v, dtype=np.float64) * (n - 1) / scale, np.shape(q))
    order = np.argsort(am, axis=-1, kind="stable")
    gq = np.reshape(np.asarray(g, dtype=np.float64), np.shape(q) + am.shape[:-1])
    out = np.zeros(am.shape)
    for idx in np.ndindex(np.shape(q)):
        for k, wgt in ((lo[idx], -rate[idx]), (hi[idx], rate[idx])):
            src = order[..., k][..., None]
            np.put_along_axis(out, src, np.take_along_axis(out, src, -1) + (wgt * gq[idx])[..., None], -1)
    rest = [k for k in range(np.ndim(a)) if k not in axes]
    moved = np.reshape(out, tuple(np.shape(a)[k] for k in rest) + tuple(np.shape(a)[k] for k in axes))
    return np.moveaxis(moved, tuple(range(len(rest), np.ndim(a))), axes)


@helper(statistics.quantile_grad)
def _quantile_grad(r, g, a, q, axis, keepdims, scale):
    t[r] = quantile_grad(t[g], a, q, axis, keepdims, scale) + quantile_grad_dq(g, a, q, axis, keepdims, scale, t[q])


def quantile_grad_q_da(g, a, q, axis, keepdims, scale, v):
    """The tangent of quantile_grad_q from that of `a`: its slope's order statistics move with the
    tangents of the entries they are, in the stable order."""
    am, _ = statistics._last(a, axis)
    vm, _ = statistics._last(np.broadcast_to(v, np.shape(a)), axis)
    sv = np.take_along_axis(vm, np.argsort(am, axis=-1, kind="stable"), -1)
    n = sv.shape[-1]
    pos = np.asarray(q, dtype=np.float64) / scale * (n - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    slope = (np.take(sv, hi, axis=-1) - np.take(sv, lo, axis=-1)) * (n - 1) / scale
    other = np.ndim(sv) - 1
    slope = np.moveaxis(slope, tuple(range(other, np.ndim(slope))), tuple(range(np.ndim(q))))
    gq = np.reshape(np.asarray(g, dtype=np.float64), np.shape(slope))
    return np.reshape(np.sum(gq * slope, axis=tuple(range(np.ndim(q), np.ndim(slope)))), np.shape(q))


@helper(statistics.quantile_grad_q)
def _quantile_grad_q(r, g, a, q, axis, keepdims, scale):
    t[r] = quantile_grad_q(t[g], a, q, axis, keepdims, scale) + quantile_grad_q_da(g, a, q, axis, keepdims, scale, t[a])


# ---- special functions ------------------------------------------------------------------------------
@helper(special.x_over_y)
def _x_over_y(r, x, y):
    t[r] = x_over_y(t[x], y) - x_over_y(r * t[y], y)          # 0 where x == 0, as the value


@helper(special.bessel_over_x)
def _bessel_over_x(r, f, x, at0):
    # f / x with f = i1, j1, ... (odd, so f / x is even): its derivative at x == 0 is 0
    t[r] = bessel_over_x(t[f], x, 0.0) - bessel_over_x(r * t[x], x, 0.0)


@helper(special.lse_grad)
def _lse_grad(r, g, a, y, axis, b, keepdims):
    t[r] = (lse_grad(t[g], a, y, axis, b, keepdims) + r * t[a] - r * unreduce(t[y], r, axis, keepdims)
            + lse_grad(g, a, y, axis, t[b], keepdims))


def lse_grad_b_day(g, a, y, axis, b, keepdims, ta, ty):
    """The tangent of lse_grad_b (the sum of exp(a - y) g over b's broadcast axes) from those of a and y."""
    e = lse_grad(g, a, y, axis, np.ones(np.shape(b)), keepdims)
    return unbroadcast(e * (ta - unreduce(ty, e, axis, keepdims)), b)


@helper(special.lse_grad_b)
def _lse_grad_b(r, g, a, y, axis, b, keepdims):
    t[r] = lse_grad_b(t[g], a, y, axis, b, keepdims) + lse_grad_b_day(g, a, y, axis, b, keepdims, t[a], t[y])


# ---- contractions: linear in g and in the other operands ---------------------------------------------
@helper(contractions.einsum_grad)
def _einsum_grad(r, g, subscripts, k, x0, x1, x2, x3):
    t[r] = (einsum_grad(t[g], subscripts, k, x0, x1, x2, x3)
            + unless_own(k, 0, einsum_grad(g, subscripts, k, t[x0], x1, x2, x3))
            + unless_own(k, 1, einsum_grad(g, subscripts, k, x0, t[x1], x2, x3))
            + unless_own(k, 2, einsum_grad(g, subscripts, k, x0, x1, t[x2], x3))
            + unless_own(k, 3, einsum_grad(g, subscripts, k, x0, x1, x2, t[x3])))


@helper(contractions.tensordot_grad)
def _tensordot_grad(r, g, a, b, axes, k):
    t[r] = (tensordot_grad(t[g], a, b, axes, k) + unless_own(k, 0, tensordot_grad(g, t[a], b, axes, k))
            + unless_own(k, 1, tensordot_grad(g, a, t[b], axes, k)))


@helper(contractions.kron_grad)
def _kron_grad(r, g, a, b, k):
    t[r] = kron_grad(t[g], a, b, k) + unless_own(k, 0, kron_grad(g, t[a], b, k)) + unless_own(k, 1, kron_grad(g, a, t[b], k))


@helper(contractions.cross_grad)
def _cross_grad(r, g, a, b, axisa, axisb, axisc, axis, k):
    t[r] = (cross_grad(t[g], a, b, axisa, axisb, axisc, axis, k)
            + unless_own(k, 0, cross_grad(g, t[a], b, axisa, axisb, axisc, axis, k))
            + unless_own(k, 1, cross_grad(g, a, t[b], axisa, axisb, axisc, axis, k)))


@helper(contractions.convolve_grad)
def _convolve_grad(r, g, a, v, mode, k):
    t[r] = (convolve_grad(t[g], a, v, mode, k) + unless_own(k, 0, convolve_grad(g, t[a], v, mode, k))
            + unless_own(k, 1, convolve_grad(g, a, t[v], mode, k)))


@helper(contractions.correlate_grad)
def _correlate_grad(r, g, a, v, mode, k):
    t[r] = (correlate_grad(t[g], a, v, mode, k) + unless_own(k, 0, correlate_grad(g, t[a], v, mode, k))
            + unless_own(k, 1, correlate_grad(g, a, t[v], mode, k)))


@helper(contractions.vecdot_grad)
def _vecdot_grad(r, g, x1, x2, axis):
    t[r] = vecdot_grad(t[g], x1, x2, axis) + vecdot_grad(g, x1, t[x2], axis)


def matrix_power_grad_da(g, a, n, v):
    """The tangent of matrix_power_grad(g, a, n) from that of `a` (n < 0 through inv(a), whose tangent is
    -inv v inv)."""
    if n == 0:
        return np.zeros(np.shape(a))
    if n < 0:
        inv = np.linalg.inv(a)
        dinv = -inv @ v @ inv
        it, dit = np.swapaxes(inv, -1, -2), np.swapaxes(dinv, -1, -2)
        gi = matrix_power_grad(g, inv, -n)
        dgi = matrix_power_grad_da(g, inv, -n, dinv)
        return -(dit @ gi @ it + it @ dgi @ it + it @ gi @ dit)
    at, dat = np.swapaxes(a, -1, -2), np.swapaxes(v, -1, -2)
    powers = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    dpowers = [np.zeros(np.shape(a))]
    for _ in range(n - 1):
        dpowers.append(dpowers[-1] @ at + powers[-1] @ dat)
        powers.append(powers[-1] @ at)
    return sum(dpowers[j] @ g @ powers[n - 1 - j] + powers[j] @ g @ dpowers[n - 1 - j] for j in range(n))


@helper(contractions.matrix_power_grad)
def _matrix_power_grad(r, g, a, n):
    t[r] = matrix_power_grad(t[g], a, n) + matrix_power_grad_da(g, a, n, t[a])


def multi_dot_grads_da(g, arrays, v):
    """The tangent of multi_dot_grads(g, arrays) from those of the arrays (`v`, one per array): each
    cotangent left_i^T g right_i^T, with the product rule on left_i and right_i."""
    def mats(xs):
        return [np.atleast_2d(xs[0])] + [np.asarray(m) for m in xs[1:-1]] + \
            [np.reshape(xs[-1], (-1, 1)) if np.ndim(xs[-1]) == 1 else np.asarray(xs[-1])]
    m, dm = mats(arrays), mats([np.broadcast_to(d, np.shape(a)) for d, a in zip(v, arrays)])

    def prod(lo, hi, eye):
        """The product m[lo:hi] (eye when empty) and its tangent."""
        p, dp = eye, np.zeros(eye.shape)
        for j in range(lo, hi):
            p, dp = p @ m[j], dp @ m[j] + p @ dm[j]
        return p, dp
    g2 = np.reshape(g, (m[0].shape[0], m[-1].shape[1]))
    out = []
    for i in range(len(m)):
        left, dleft = prod(0, i, np.eye(m[0].shape[0]))
        right, dright = prod(i + 1, len(m), np.eye(m[i].shape[1]))
        out.append(np.reshape(dleft.T @ g2 @ right.T + left.T @ g2 @ dright.T, np.shape(arrays[i])))
    return out


def multi_dot_grads_tangent(g, arrays, tg, v):
    """The tangent of multi_dot_grads(g, arrays) from those of g and of the arrays: one term, since its
    value is a list (two list-valued terms would be joined by `+`, not added)."""
    return [a + b for a, b in zip(multi_dot_grads(tg, arrays), multi_dot_grads_da(g, arrays, v))]


@helper(contractions.multi_dot_grads)
def _multi_dot_grads(r, g, arrays):
    t[r] = multi_dot_grads_tangent(g, arrays, t[g], t[arrays])


# ---- decompositions ----------------------------------------------------------------------------------
def slogdet_grad_da(g, a, v):
    """The tangent of slogdet_grad(g, a) = g[1] inv(a)^T from that of a: -g[1] (inv v inv)^T."""
    inv = np.linalg.inv(a)
    return -np.asarray(g[1])[..., None, None] * np.swapaxes(inv @ v @ inv, -1, -2)


@helper(decompositions.slogdet_grad)
def _slogdet_grad(r, g, a):
    t[r] = slogdet_grad(t[g], a) + slogdet_grad_da(g, a, t[a])


for _fn, _name in ((decompositions.pinv_grad, "np.linalg.pinv"), (decompositions.cholesky_grad, "np.linalg.cholesky"),
                   (decompositions.qr_grad, "np.linalg.qr"), (decompositions.eigh_grad, "np.linalg.eigh"),
                   (decompositions.eig_grad, "np.linalg.eig"), (decompositions.svd_grad, "np.linalg.svd")):
    refuse(_fn, f"the second derivative of {_name} (hvp, hessian through the decomposition) is not implemented")
