"""Products and `np.linalg`."""
import numpy as np

from ...runtime import matmul_grad_a, matmul_grad_b, unbroadcast, unreduce
from .registry import adjoint, d, t, tangent

KIND = "product"


def dot_grad_a(g, a, b):
    """Cotangent of `a` in np.dot(a, b): scalars multiply; for `b` up to 2-D np.dot is `@`; for N-D `b` it
    contracts a's last axis with b's second-to-last and keeps every other axis (no batch broadcasting):
    y[i.., k.., m] = sum_j a[i.., j] b[k.., j, m]."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    if np.ndim(b) <= 2:
        return matmul_grad_a(g, a, b)
    nb = np.ndim(b)
    return np.tensordot(g, b, axes=(list(range(np.ndim(a) - 1, np.ndim(g))), [k for k in range(nb) if k != nb - 2]))


def dot_grad_b(g, a, b):
    """Cotangent of `b` in np.dot(a, b)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    if np.ndim(b) <= 2:
        return matmul_grad_b(g, a, b)
    lead = list(range(np.ndim(a) - 1))
    return np.moveaxis(np.tensordot(a, g, axes=(lead, lead)), 0, -2)


def _solve_t(a, g, b):
    """solve(a^T, g): `g` is a stack of vectors exactly when `b` is 1-D (NumPy 2's rule), else of matrices."""
    at = np.swapaxes(a, -1, -2)
    return np.linalg.solve(at, g[..., None])[..., 0] if np.ndim(b) == 1 else np.linalg.solve(at, g)


def solve_grad_b(g, a, b):
    """Cotangent of `b` in x = solve(a, b) (summed over a's batch axes when `b` is shared)."""
    return unbroadcast(_solve_t(a, g, b), b)


def solve_grad_a(g, a, x, b):
    """Cotangent of `a` in x = solve(a, b)."""
    gb = _solve_t(a, g, b)
    if np.ndim(b) == 1:
        return -gb[..., :, None] * x[..., None, :]
    return unbroadcast(-gb @ np.swapaxes(x, -1, -2), a)


def inner_grad(g, a, b):
    """Cotangent of `a` in np.inner(a, b), which contracts the last axes."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    na, nb = np.ndim(a) - 1, np.ndim(b) - 1
    g = np.reshape(g, np.shape(a)[:-1] + np.shape(b)[:-1])
    return np.tensordot(g, b, axes=(list(range(na, na + nb)), list(range(nb))))


def inner_grad_b(g, a, b):
    """Cotangent of `b` in np.inner(a, b)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    na = np.ndim(a) - 1
    g = np.reshape(g, np.shape(a)[:-1] + np.shape(b)[:-1])
    return np.tensordot(g, a, axes=(list(range(na)), list(range(na))))


def norm_grad(g, x, y, ord=None, axis=None, keepdims=False):
    """Cotangent of np.linalg.norm: vector p-norms (ord = +-inf, p > 0 ... ; 0 is a count and is refused),
    the Frobenius norm, and the matrix norms ord = 'nuc', 2, -2, 1, -1, inf, -inf (a 2-D x, or axis= a
    pair).  At ties (two entries of the largest modulus, repeated singular values) the cotangent is split
    evenly or goes to one of them: each is a subgradient; at 0 it is 0."""
    from ...errors import MissingRuleError
    nd = np.ndim(x)
    matrix = (axis is None and nd == 2 and ord is not None) or (np.ndim(axis) == 1 and len(axis) == 2)
    if matrix:
        ax = (0, 1) if axis is None else tuple(k % nd for k in axis)
        xm = np.moveaxis(x, ax, (-2, -1))
        gm = np.asarray(g, dtype=np.float64)
        if keepdims:
            gm = np.squeeze(np.moveaxis(gm, ax, (-2, -1)), axis=(-2, -1))
        out = _matrix_norm_grad(gm, xm, ord)
        return np.moveaxis(out, (-2, -1), ax)
    if ord in (None, 2, "fro") and not (ord == 2 and nd > 1 and axis is None):
        scale = np.where(y == 0, 0.0, g / np.where(y == 0, 1.0, y))
        return unreduce(scale, x, axis, keepdims) * x
    if ord == 0 or isinstance(ord, str) or (nd > 1 and axis is None):
        raise MissingRuleError(f"no derivative rule for np.linalg.norm with ord={ord!r} here (the 0-\"norm\" "
                               "counts nonzeros; string orders are for matrices)", construct="np.linalg.norm",
                               hint="write the norm out, or register a custom adjoint with rg.register_adjoint")
    ax = -1 if axis is None else axis
    gb, yb = unreduce(g, x, ax, keepdims), unreduce(y, x, ax, keepdims)
    if np.isinf(ord):
        pick = np.abs(x) == yb
        return gb * np.sign(x) * pick / np.sum(pick, axis=ax, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = gb * np.sign(x) * (np.abs(x) / yb) ** (ord - 1)
    return np.where(yb == 0, 0.0, out)


def _matrix_norm_grad(g, x, ord):
    g = np.asarray(g)[..., None, None]
    if ord in (None, "fro"):
        y = np.sqrt(np.sum(x * x, axis=(-2, -1), keepdims=True))
        return np.where(y == 0, 0.0, g * x / np.where(y == 0, 1.0, y))
    if ord in ("nuc", 2, -2):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        if ord == "nuc":
            return g * (u @ vh)
        k = 0 if ord == 2 else -1
        return g * (u[..., :, k, None] @ vh[..., k, None, :])
    if ord in (1, -1, np.inf, -np.inf):
        along = -2 if ord in (1, -1) else -1          # 1: column sums (over rows); inf: row sums
        sums = np.sum(np.abs(x), axis=along, keepdims=True)
        best = np.max(sums, axis=-1 if along == -2 else -2, keepdims=True) if ord > 0 else \
            np.min(sums, axis=-1 if along == -2 else -2, keepdims=True)
        pick = sums == best
        return g * np.sign(x) * pick / np.sum(pick, axis=(-2, -1), keepdims=True)
    from ...errors import MissingRuleError
    raise MissingRuleError(f"no derivative rule for the matrix norm ord={ord!r}", construct="np.linalg.norm",
                           hint="use ord in (None, 'fro', 'nuc', 2, -2, 1, -1, inf, -inf)")


def solve_tangent_a(a, da, x, b):
    """The part of the tangent of x = solve(a, b) that comes from `a`: solve(a, da @ x) (x a stack of
    vectors exactly when `b` is 1-D, as in solve itself)."""
    if np.ndim(b) == 1:
        return np.linalg.solve(a, (da @ x[..., None]))[..., 0]
    return np.linalg.solve(a, da @ x)


def norm_tangent(dx, x, y, ord=None, axis=None, keepdims=False):
    """Tangent of np.linalg.norm: <norm_grad, dx> over the reduced axes.  Each entry of x feeds one entry of
    the result, so norm_grad of a cotangent of ones is each entry's partial derivative, with the same
    convention at ties and at 0 as the vjp (and the same refusals: ord=0, string orders of vectors)."""
    partial = norm_grad(np.ones(np.shape(y)), x, y, ord, axis, keepdims)
    return np.sum(partial * dx, axis=axis, keepdims=keepdims)[()]


@adjoint(np.dot, methods=("dot",))
def dot(y, a, b):
    d[a] = dot_grad_a(d[y], a, b)
    d[b] = dot_grad_b(d[y], a, b)


@tangent(dot)
def dot(y, a, b):
    t[y] = np.dot(t[a], b) + np.dot(a, t[b])


@adjoint(np.vdot)
def vdot(y, a, b):
    d[a] = np.reshape(d[y] * np.ravel(b), np.shape(a))
    d[b] = np.reshape(d[y] * np.ravel(a), np.shape(b))


@tangent(vdot)
def vdot(y, a, b):
    t[y] = np.vdot(t[a], b) + np.vdot(a, t[b])


@adjoint(np.inner)
def inner(y, a, b):
    d[a] = inner_grad(d[y], a, b)
    d[b] = inner_grad_b(d[y], a, b)


@tangent(inner)
def inner(y, a, b):
    t[y] = np.inner(t[a], b) + np.inner(a, t[b])


@adjoint(np.outer)
def outer(y, a, b):
    d[a] = np.reshape(d[y] @ np.ravel(b), np.shape(a))
    d[b] = np.reshape(np.ravel(a) @ d[y], np.shape(b))


@tangent(outer)
def outer(y, a, b):
    t[y] = np.outer(t[a], b) + np.outer(a, t[b])


def trace_grad(g, a, offset=0, axis1=0, axis2=1):
    """Cotangent of np.trace(a, offset, axis1, axis2): g on that diagonal (the other axes are kept, as in y)."""
    from .manipulation import undiagonal
    n = np.shape(np.diagonal(a, offset, axis1, axis2))[-1]
    return undiagonal(np.broadcast_to(np.asarray(g)[..., None], np.shape(g) + (n,)), a, offset, axis1, axis2)


@adjoint(np.trace, methods=("trace",))
def trace(y, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    d[a] = trace_grad(d[y], a, offset, axis1, axis2)


@tangent(trace)
def trace(y, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    t[y] = np.trace(t[a], offset, axis1, axis2)


@adjoint(np.linalg.det)
def det(y, a):
    d[a] = (d[y] * y)[..., None, None] * np.swapaxes(np.linalg.inv(a), -1, -2)


@tangent(det)
def det(y, a):
    t[y] = y * np.sum(np.swapaxes(np.linalg.inv(a), -1, -2) * t[a], axis=(-2, -1))


@adjoint(np.linalg.inv)
def inv(y, a):
    d[a] = -np.swapaxes(y, -1, -2) @ d[y] @ np.swapaxes(y, -1, -2)


@tangent(inv)
def inv(y, a):
    t[y] = -(y @ t[a] @ y)


@adjoint(np.linalg.solve)
def solve(y, a, b):
    d[a] = solve_grad_a(d[y], a, y, b)
    d[b] = solve_grad_b(d[y], a, b)


@tangent(solve)
def solve(y, a, b):
    t[y] = np.linalg.solve(a, t[b]) - solve_tangent_a(a, t[a], y, b)


@adjoint(np.linalg.norm)
def norm(y, x, ord=None, axis=None, keepdims=False):
    d[x] = norm_grad(d[y], x, y, ord, axis, keepdims)


@tangent(norm)
def norm(y, x, ord=None, axis=None, keepdims=False):
    t[y] = norm_tangent(t[x], x, y, ord, axis, keepdims)
