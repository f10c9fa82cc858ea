"""Contractions: einsum, tensordot, kron, cross, convolve/correlate, vecdot/matvec/vecmat, multi_dot,
matrix_power.  The cotangent of each operand of an einsum is another einsum (of the result's cotangent
and the other operands); tensordot is written as an einsum."""
import numpy as np

from ...runtime import unbroadcast
from .registry import adjoint, d, t, tangent

KIND = "product"

_POOL = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"       # letters for `...` axes and repeated-index copies


def _parse(subscripts, shapes):
    """Explicit subscripts: one letter string per operand (`...` spelled out, right-aligned) and the output."""
    spec = subscripts.replace(" ", "")
    ins, out = spec.split("->") if "->" in spec else (spec, None)
    ins = ins.split(",")
    used = set(spec) - set(".,->")
    pool = [c for c in _POOL if c not in used]
    n_ell = max([len(s) - (len(t.replace("...", ""))) for t, s in zip(ins, shapes) if "..." in t] + [0])
    ell = "".join(pool[:n_ell])
    pool = pool[n_ell:]
    terms = []
    for t, s in zip(ins, shapes):
        if "..." in t:
            k = len(s) - len(t.replace("...", ""))
            t = t.replace("...", ell[n_ell - k:] if k else "")
        terms.append(t)
    if out is None:        # implicit output: the ellipsis axes, then letters seen once, alphabetically
        counts = {}
        for t in ins:
            for c in t.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    else:
        out = out.replace("...", ell)
    return terms, out, pool


def einsum_grad(g, subscripts, k, x0, x1=None, x2=None, x3=None):
    """Cotangent of operand k of np.einsum(subscripts, *operands): einsum(g, others -> operand k's letters).
    Letters only operand k has are broadcast back; a letter repeated in operand k (a trace or diagonal)
    gets its copies through identity matrices; size-1 axes that broadcast are summed back."""
    if not isinstance(subscripts, str):
        from ...errors import MissingRuleError
        raise MissingRuleError("no derivative rule for np.einsum in its interleaved (operand, sublist) form",
                               construct="np.einsum", hint="write the subscripts as a string: 'ij,jk->ik'")
    operands = [o for o in (x0, x1, x2, x3) if o is not None]
    shapes = [np.shape(o) for o in operands]
    terms, out, pool = _parse(subscripts, shapes)
    mine = terms[k]
    sizes = {}
    for t, s in zip(terms, shapes):
        for c, n in zip(t, s):
            if n != 1 or c not in sizes:      # a size-1 axis broadcasts against the others
                sizes[c] = n
    known = set(out).union(*[set(t) for j, t in enumerate(terms) if j != k])
    target, extra, eyes = "", [], []
    for c in mine:
        if c in target:                      # a repeated letter: a fresh copy tied by an identity matrix
            fresh = pool.pop(0)
            sizes[fresh] = sizes[c]
            target += fresh
            eyes.append((c + fresh, np.eye(sizes[c])))
        else:
            target += c
    known |= {c for e, _ in eyes for c in e}
    core = "".join(c for c in target if c in known)
    others = [(t, o) for j, (t, o) in enumerate(zip(terms, operands)) if j != k]
    spec = ",".join([out] + [t for t, _ in others] + [e for e, _ in eyes]) + "->" + core
    part = np.einsum(spec, g, *[o for _, o in others], *[m for _, m in eyes])
    # letters summed inside operand k alone come back as broadcast axes
    dims = iter(np.shape(part))
    full = np.broadcast_to(np.reshape(part, [next(dims) if c in core else 1 for c in target]),
                           [sizes[c] for c in target])
    return unbroadcast(full, operands[k])


def tensordot_subscripts(a, b, axes=2):
    """np.tensordot(a, b, axes) as einsum subscripts."""
    na, nb = np.ndim(a), np.ndim(b)
    if np.ndim(axes) == 0:
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if np.ndim(ax_a) == 0 else list(ax_a)
        ax_b = [ax_b] if np.ndim(ax_b) == 0 else list(ax_b)
    ax_a, ax_b = [i % na for i in ax_a], [i % nb for i in ax_b]
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    sa = [next(letters) for _ in range(na)]
    sb = [next(letters) for _ in range(nb)]
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in ax_a] + [c for j, c in enumerate(sb) if j not in ax_b]
    return "".join(sa) + "," + "".join(sb) + "->" + "".join(out)


def tensordot_grad(g, a, b, axes, k):
    return einsum_grad(g, tensordot_subscripts(a, b, axes), k, a, b)


def kron_grad(g, a, b, k):
    """Cotangents of np.kron(a, b): g viewed as (a0, b0, a1, b1, ...) pairs, contracted with the other."""
    n = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (n - np.ndim(a)) + np.shape(a)
    sb = (1,) * (n - np.ndim(b)) + np.shape(b)
    g4 = np.reshape(g, [s for pair in zip(sa, sb) for s in pair])
    A, B = np.reshape(a, sa), np.reshape(b, sb)
    axes_a, axes_b = list(range(0, 2 * n, 2)), list(range(1, 2 * n, 2))
    if k == 0:
        return np.reshape(np.tensordot(g4, B, axes=(axes_b, list(range(n)))), np.shape(a))
    return np.reshape(np.tensordot(g4, A, axes=(axes_a, list(range(n)))), np.shape(b))


def cross_grad(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, k=0):
    """Cotangents of np.cross: d<g, a x b>/da = b x g and /db = g x a (2-vectors padded with a 0 z-part;
    their cross product is the scalar z-part)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    A, B = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    pad3 = lambda v: np.concatenate([v, np.zeros(v.shape[:-1] + (3 - v.shape[-1],))], -1) if v.shape[-1] == 2 else v
    A3, B3 = pad3(A), pad3(B)
    shape = np.broadcast_shapes(A3.shape[:-1], B3.shape[:-1])
    if A.shape[-1] == 2 and B.shape[-1] == 2:
        G = np.zeros(shape + (3,))
        G[..., 2] = g
    else:
        G = np.moveaxis(g, axisc, -1)
    own = A if k == 0 else B
    part = np.cross(B3, G) if k == 0 else np.cross(G, A3)
    return np.moveaxis(unbroadcast(part[..., :own.shape[-1]], own), -1, axisa if k == 0 else axisb)


def _full_cotangent(g, n, m, mode):
    """`g` of np.convolve(..., mode) placed in the 'full' result (length n + m - 1)."""
    full = np.zeros(n + m - 1)
    start = 0 if mode == "full" else (min(n, m) - 1) // 2 if mode == "same" else min(n, m) - 1
    full[start:start + np.size(g)] = g
    return full


def convolve_grad(g, a, v, mode="full", k=0):
    """Cotangents of np.convolve(a, v, mode): y[n] = sum_k a[k] v[n - k], so d a = correlate(g_full, v)."""
    full = _full_cotangent(g, np.size(a), np.size(v), mode)
    return np.correlate(full, v if k == 0 else a, "valid")


def correlate_grad(g, a, v, mode="valid", k=0):
    """Cotangents of np.correlate(a, v, mode), linear in each operand: the rows of its matrix (the
    correlation of each unit vector) against g.  NumPy swaps the operands of 'same' when v is longer,
    which this follows without a case of its own."""
    own = a if k == 0 else v
    rows = [np.correlate(e, v, mode) if k == 0 else np.correlate(a, e, mode) for e in np.eye(np.size(own))]
    return np.reshape(np.array(rows) @ g, np.shape(own)) if rows else np.zeros(np.shape(own))


def _einsum_check(args):
    if not isinstance(args.get("subscripts"), str):
        return ("unless its subscripts are a string literal (the interleaved (operand, sublist) form, or "
                "subscripts in a variable, are not covered)", "write the subscripts in the call: 'ij,jk->ik'")
    return None


def vecdot_grad(g, x1, x2, axis=-1):
    """Cotangent of x1 in np.vecdot(x1, x2, axis): g times x2 along the contracted axis."""
    return unbroadcast(np.moveaxis(np.asarray(g)[..., None] * np.moveaxis(x2, axis, -1), -1, axis), x1)


def multi_dot_grads(g, arrays):
    """Cotangents of np.linalg.multi_dot(arrays): each matrix's, through the products on either side
    (1-D ends are a row and a column vector, as multi_dot treats them)."""
    mats = [np.atleast_2d(arrays[0])] + [np.asarray(m) for m in arrays[1:-1]] + \
        [np.reshape(arrays[-1], (-1, 1)) if np.ndim(arrays[-1]) == 1 else arrays[-1]]
    g2 = np.reshape(g, (mats[0].shape[0], mats[-1].shape[1]))
    out = []
    for i in range(len(mats)):
        left = np.eye(mats[0].shape[0]) if i == 0 else np.linalg.multi_dot([np.eye(mats[0].shape[0])] + mats[:i])
        right = np.eye(mats[-1].shape[1]) if i == len(mats) - 1 else np.linalg.multi_dot(mats[i + 1:] + [np.eye(mats[-1].shape[1])])
        out.append(np.reshape(left.T @ g2 @ right.T, np.shape(arrays[i])))
    return out


def matrix_power_grad(g, a, n):
    """Cotangent of np.linalg.matrix_power(a, n): sum_k (a^T)^k g (a^T)^(n-1-k); for n < 0 through inv."""
    if n == 0:
        return np.zeros(np.shape(a))
    if n < 0:
        inv = np.linalg.inv(a)
        gi = matrix_power_grad(g, inv, -n)
        return -np.swapaxes(inv, -1, -2) @ gi @ np.swapaxes(inv, -1, -2)
    at = np.swapaxes(a, -1, -2)
    powers = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    for _ in range(n - 1):
        powers.append(powers[-1] @ at)
    return sum(powers[j] @ g @ powers[n - 1 - j] for j in range(n))


# ---- tangents (forward mode) ---------------------------------------------------------------------------
def einsum_tangent(v, subscripts, k, x0, x1=None, x2=None, x3=None):
    """The part of np.einsum's tangent from operand k, whose tangent is `v`: the einsum with that operand
    replaced (einsum is linear in each operand)."""
    if not isinstance(subscripts, str):
        from ...errors import MissingRuleError
        raise MissingRuleError("no derivative rule for np.einsum in its interleaved (operand, sublist) form",
                               construct="np.einsum", hint="write the subscripts as a string: 'ij,jk->ik'")
    operands = [v if j == k else o for j, o in enumerate((x0, x1, x2, x3))]
    return np.einsum(subscripts, *[o for o in operands if o is not None])


def multi_dot_tangent(v, arrays):
    """Tangent of np.linalg.multi_dot(arrays) (`v` the list of the arrays' tangents): the product rule."""
    return sum(np.linalg.multi_dot([v[i] if j == i else a for j, a in enumerate(arrays)]) for i in range(len(arrays)))


def matrix_power_tangent(v, a, n):
    """Tangent of np.linalg.matrix_power(a, n): sum_k a^k v a^(n-1-k); for n < 0 that of inv(a)^-n, with
    the tangent -inv v inv of the inverse."""
    if n == 0:
        return np.zeros(np.shape(a))
    if n < 0:
        inv = np.linalg.inv(a)
        return matrix_power_tangent(-inv @ v @ inv, inv, -n)
    powers = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a)
    return sum(powers[j] @ v @ powers[n - 1 - j] for j in range(n))


@adjoint(np.einsum, check=_einsum_check)
def einsum(y, subscripts, x0, x1=None, x2=None, x3=None, *, optimize=False):
    # an array in the subscripts' place is the interleaved form: refused (check), never taken as constant
    d[subscripts] = einsum_grad(d[y], subscripts, 0, x0, x1, x2, x3)
    d[x0] = einsum_grad(d[y], subscripts, 0, x0, x1, x2, x3)
    d[x1] = einsum_grad(d[y], subscripts, 1, x0, x1, x2, x3)
    d[x2] = einsum_grad(d[y], subscripts, 2, x0, x1, x2, x3)
    d[x3] = einsum_grad(d[y], subscripts, 3, x0, x1, x2, x3)


@tangent(einsum)
def einsum(y, subscripts, x0, x1=None, x2=None, x3=None, *, optimize=False):
    t[y] = einsum_tangent(t[subscripts], subscripts, 0, x0, x1, x2, x3) + einsum_tangent(t[x0], subscripts, 0, x0, x1, x2, x3) + einsum_tangent(t[x1], subscripts, 1, x0, x1, x2, x3) + einsum_tangent(t[x2], subscripts, 2, x0, x1, x2, x3) + einsum_tangent(t[x3], subscripts, 3, x0, x1, x2, x3)


@adjoint(np.tensordot, np.linalg.tensordot)
def tensordot(y, a, b, axes=2):
    d[a] = tensordot_grad(d[y], a, b, axes, 0)
    d[b] = tensordot_grad(d[y], a, b, axes, 1)


@tangent(tensordot)
def tensordot(y, a, b, axes=2):
    t[y] = np.tensordot(t[a], b, axes) + np.tensordot(a, t[b], axes)


@adjoint(np.kron)
def kron(y, a, b):
    d[a] = kron_grad(d[y], a, b, 0)
    d[b] = kron_grad(d[y], a, b, 1)


@tangent(kron)
def kron(y, a, b):
    t[y] = np.kron(t[a], b) + np.kron(a, t[b])


@adjoint(np.cross, np.linalg.cross)
def cross(y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[a] = cross_grad(d[y], a, b, axisa, axisb, axisc, axis, 0)
    d[b] = cross_grad(d[y], a, b, axisa, axisb, axisc, axis, 1)


@tangent(cross)
def cross(y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    t[y] = np.cross(t[a], b, axisa, axisb, axisc, axis) + np.cross(a, t[b], axisa, axisb, axisc, axis)


@adjoint(np.convolve)
def convolve(y, a, v, mode="full"):
    d[a] = convolve_grad(d[y], a, v, mode, 0)
    d[v] = convolve_grad(d[y], a, v, mode, 1)


@tangent(convolve)
def convolve(y, a, v, mode="full"):
    t[y] = np.convolve(t[a], v, mode) + np.convolve(a, t[v], mode)


@adjoint(np.correlate)
def correlate(y, a, v, mode="valid"):
    d[a] = correlate_grad(d[y], a, v, mode, 0)
    d[v] = correlate_grad(d[y], a, v, mode, 1)


@tangent(correlate)
def correlate(y, a, v, mode="valid"):
    t[y] = np.correlate(t[a], v, mode) + np.correlate(a, t[v], mode)


@adjoint(np.vecdot, np.linalg.vecdot)
def vecdot(y, x1, x2, *, axis=-1):
    d[x1] = vecdot_grad(d[y], x1, x2, axis)
    d[x2] = vecdot_grad(d[y], x2, x1, axis)


@tangent(vecdot)
def vecdot(y, x1, x2, *, axis=-1):
    t[y] = np.vecdot(t[x1], x2, axis=axis) + np.vecdot(x1, t[x2], axis=axis)


# as einsums: np.matvec broadcasts a stack of vectors `x2` (not a matrix, as `@` would read a 2-D one)
@adjoint(np.matvec)
def matvec(y, x1, x2):
    d[x1] = einsum_grad(d[y], "...ij,...j->...i", 0, x1, x2)
    d[x2] = einsum_grad(d[y], "...ij,...j->...i", 1, x1, x2)


@tangent(matvec)
def matvec(y, x1, x2):
    t[y] = np.matvec(t[x1], x2) + np.matvec(x1, t[x2])


@adjoint(np.vecmat)
def vecmat(y, x1, x2):
    d[x1] = einsum_grad(d[y], "...i,...ij->...j", 0, x1, x2)
    d[x2] = einsum_grad(d[y], "...i,...ij->...j", 1, x1, x2)


@tangent(vecmat)
def vecmat(y, x1, x2):
    t[y] = np.vecmat(t[x1], x2) + np.vecmat(x1, t[x2])


@adjoint(np.linalg.multi_dot)
def multi_dot(y, arrays):
    d[arrays] = multi_dot_grads(d[y], arrays)


@tangent(multi_dot)
def multi_dot(y, arrays):
    t[y] = multi_dot_tangent(t[arrays], arrays)


@adjoint(np.linalg.matrix_power)
def matrix_power(y, a, n):
    d[a] = matrix_power_grad(d[y], a, n)


@tangent(matrix_power)
def matrix_power(y, a, n):
    t[y] = matrix_power_tangent(t[a], a, n)
