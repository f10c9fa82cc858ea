"""Numba versions of the forward-mode tangent helpers of the linear-algebra rules: einsum's (an einsum with
one operand replaced by its tangent, the same nest of loops as numba_contractions' einsum_value),
multi_dot's and matrix_power's (the product rule), and the decompositions' (slogdet, cholesky, qr,
eigh/eigvalsh, eig/eigvals, svd) by the python helpers' formulas, written with the batched pieces of
numba_decompositions (`matmul`, the `linalg_*` stacks, `_gap_inverse`), so a stack of matrices (up to
3-D, what `matmul` takes) works as one matrix does.  Where the python helper refuses (qr of a wide
matrix, svd's full factors of a non-square one) these raise the same error class when they run; eig's
complex eigenvalues are linalg_eig's UsageError, as on python."""
import numpy as np
from numba import types
from numba.extending import overload

from ..errors import MissingRuleError
from ..reverse.rules import contractions as _con, decompositions as _dec
from .numba_axes import compile_source, literal_int
from .numba_contractions import _literal_str, _operands, einsum_source, matrix_power_value, multi_dot_value
from .numba_decompositions import _QR_WIDE, _SVD_FULL, _flag, _gap_inverse
from .numba_linalg import linalg_eig, linalg_inv, linalg_qr, linalg_solve, linalg_svd, new_axes
from .numba_products import matmul


# ---- np.einsum, np.linalg.multi_dot, np.linalg.matrix_power ----------------------------------------------
@overload(_con.einsum_tangent, prefer_literal=True)
def _einsum_tangent(v, subscripts, k, x0, x1=None, x2=None, x3=None):
    """The einsum with operand k replaced by its tangent `v` (einsum is linear in each operand)."""
    spec, kk = _literal_str(subscripts), literal_int(k)
    ts = _operands((x0, x1, x2, x3))
    if spec is None or not ts or kk is None or not 0 <= kk < len(ts) or not _operands((v,)):
        return None
    ts[kk] = v
    names = tuple("v" if j == kk else f"x{j}" for j in range(4))
    src = einsum_source(spec, ts, head="def impl(v, subscripts, k, x0, x1=None, x2=None, x3=None):", names=names)
    return compile_source(src) if src else None


@overload(_con.multi_dot_tangent)
def _multi_dot_tangent(v, arrays):
    """sum_i multi_dot(arrays with the i-th replaced by its tangent); a tangent that is not an array (a
    constant operand's) adds nothing.  The lists of the generated call are tuples (lower_contractions)."""
    if not (isinstance(v, types.BaseTuple) and isinstance(arrays, types.BaseTuple) and len(v) == len(arrays)):
        return None
    n = len(arrays)
    terms = []
    for i in range(n):
        if isinstance(v[i], types.Array):
            parts = ", ".join(f"v[{j}]" if j == i else f"arrays[{j}]" for j in range(n))
            terms.append(f"multi_dot_value(({parts},))")
    if not terms:
        return None
    return compile_source("def impl(v, arrays):\n    return " + " + ".join(terms) + "\n",
                          multi_dot_value=multi_dot_value)


def _power_tangent_2d(v, a, n):
    pass


@overload(_power_tangent_2d)
def _power_tangent_2d_ol(v, a, n):
    def impl(v, a, n):
        """sum_j a^j v a^(n-1-j); for n < 0 that of inv(a)^-n with the tangent -inv v inv."""
        m = a.shape[0]
        if n == 0:
            return np.zeros(a.shape)
        b = np.ascontiguousarray(a).astype(np.float64)
        t = np.ascontiguousarray(v).astype(np.float64)
        p = n
        if n < 0:
            b = np.linalg.inv(b)
            t = -(b @ t @ b)
            p = -n
        powers = [np.eye(m)]
        for _ in range(p - 1):
            powers.append(powers[-1] @ b)
        out = np.zeros((m, m))
        for j in range(p):
            out += powers[j] @ t @ powers[p - 1 - j]
        return out
    return impl


@overload(_con.matrix_power_tangent)
def _matrix_power_tangent(v, a, n):
    if not (isinstance(a, types.Array) and isinstance(v, types.Array) and a.ndim in (2, 3)
            and v.ndim == a.ndim and isinstance(n, types.Integer)):
        return None
    if a.ndim == 2:
        return lambda v, a, n: _power_tangent_2d(v, a, n)

    def stack(v, a, n):
        out = np.empty(a.shape)
        for k in range(a.shape[0]):
            out[k] = _power_tangent_2d(v[k], a[k], n)
        return out
    return stack


# ---- shared pieces -------------------------------------------------------------------------------------
def _tc(a):
    """The transpose of the last two axes, C-ordered (what matmul and linalg_solve read fastest)."""


@overload(_tc)
def _tc_ol(a):
    if isinstance(a, types.Array) and a.ndim >= 2:
        return lambda a: np.ascontiguousarray(np.swapaxes(a, -1, -2))
    return None


def _c(a):
    """`a` as a C-ordered float64 array."""


@overload(_c)
def _c_ol(a):
    if isinstance(a, types.Array):
        return lambda a: np.ascontiguousarray(a).astype(np.float64)
    return None


def _diagonal(c):
    """np.diagonal(c, axis1=-2, axis2=-1) of a stack of square matrices, as a new array."""


@overload(_diagonal)
def _diagonal_ol(c):
    if not (isinstance(c, types.Array) and c.ndim >= 2):
        return None

    def impl(c):
        n = c.shape[-1]
        s = np.ascontiguousarray(c).reshape((-1, c.shape[-2], n))
        out = np.empty((s.shape[0], n), dtype=c.dtype)
        for i in range(s.shape[0]):
            for j in range(n):
                out[i, j] = s[i, j, j]
        return out.reshape(c.shape[:-1])
    return impl


def _from_triangle(da, upper):
    """The tangent of the symmetric matrix the read triangle stands for (decompositions._from_triangle)."""


@overload(_from_triangle)
def _from_triangle_ol(da, upper):
    def impl(da, upper):
        d = _c(da)
        tri = np.triu(d, 1) if upper else np.tril(d, -1)
        return tri + _tc(tri) + d * np.eye(d.shape[-1])
    return impl


def _float_matrix(t):
    return isinstance(t, types.Array) and t.ndim >= 2


# ---- slogdet, cholesky ---------------------------------------------------------------------------------
@overload(_dec.slogdet_tangent)
def _slogdet_tangent(da, a, y):
    """(0, trace(inv(a) da)) per matrix."""
    if not (_float_matrix(da) and _float_matrix(a) and isinstance(y, types.BaseTuple)):
        return None
    if a.ndim == 2:
        return lambda da, a, y: (0.0, np.sum(_tc(linalg_inv(_c(a))) * da))

    def stack(da, a, y):
        n = a.shape[-1]
        part = np.ascontiguousarray(_tc(linalg_inv(_c(a))) * da).reshape((-1, n * n))
        return (np.zeros(y[0].shape), part.sum(axis=1).reshape(a.shape[:-2]))
    return stack


@overload(_dec.cholesky_tangent)
def _cholesky_tangent(da, ell, upper=False):
    """L Phi(L^-1 dS L^-T), Phi the lower triangle with half the diagonal (U = L^T when upper)."""
    up = _flag(upper)
    if not (_float_matrix(da) and _float_matrix(ell)) or up is None:
        return None

    def impl(da, ell, upper=False):
        low = _tc(ell) if up else _c(ell)
        inv = linalg_inv(low)
        phi = np.tril(matmul(matmul(inv, _from_triangle(da, up)), _tc(inv)))
        phi = phi - 0.5 * phi * np.eye(phi.shape[-1])
        out = matmul(low, phi)
        return _tc(out) if up else out
    return impl


# ---- qr --------------------------------------------------------------------------------------------------
def _qr_parts(da, q, r):
    """(dQ, dR): X = Q^T dA R^-1, dR = (X - W) R, dQ = dA R^-1 - Q (X - W), W = tril(X, -1) - its transpose."""


@overload(_qr_parts)
def _qr_parts_ol(da, q, r):
    def impl(da, q, r):
        da_rinv = _tc(linalg_solve(_tc(r), _tc(da)))
        x = matmul(_tc(q), da_rinv)
        low = np.tril(x, -1)
        upper_part = x - low + _tc(low)
        return da_rinv - matmul(_c(q), upper_part), matmul(upper_part, _c(r))
    return impl


@overload(_dec.qr_tangent, prefer_literal=True)
def _qr_tangent(da, a, res, mode="reduced"):
    m = mode if not isinstance(mode, types.Type) else (mode.value if isinstance(mode, types.Omitted) else
                                                        getattr(mode, "literal_value", None))
    if not (_float_matrix(da) and _float_matrix(a)) or m not in ("reduced", "r"):
        return None
    if m == "r":
        def only_r(da, a, res, mode="reduced"):
            if a.shape[-2] < a.shape[-1]:
                raise MissingRuleError(_QR_WIDE)
            q, r = linalg_qr(a)
            return _qr_parts(da, q, r)[1]
        return only_r

    def both(da, a, res, mode="reduced"):
        if a.shape[-2] < a.shape[-1]:
            raise MissingRuleError(_QR_WIDE)
        return _qr_parts(da, res[0], res[1])
    return both


# ---- eigh, eig -------------------------------------------------------------------------------------------
@overload(_dec.eigh_tangent)
def _eigh_tangent(da, res, upper=False, values_only=False):
    """dw = diag(v^T dS v), dv = v (F o (v^T dS v)); `upper` may be a run-time bool ('L' == 'U')."""
    only = _flag(values_only)
    if not _float_matrix(da) or only is None:
        return None
    if only:
        def values(da, res, upper=False, values_only=False):
            v = _c(res[1])
            return _diagonal(matmul(matmul(_tc(v), _from_triangle(da, upper)), v))
        return values

    def impl(da, res, upper=False, values_only=False):
        w, v = res[0], _c(res[1])
        c = matmul(matmul(_tc(v), _from_triangle(da, upper)), v)
        return (_diagonal(c), matmul(v, _gap_inverse(w) * c))
    return impl


@overload(_dec.eig_tangent)
def _eig_tangent(da, a, values_only=False):
    """C = v^-1 dA v, dw = diag(C), dv = v (F o C) less its component along each unit eigenvector."""
    only = _flag(values_only)
    if not (_float_matrix(da) and _float_matrix(a)) or only is None:
        return None
    if only:
        def values(da, a, values_only=False):
            w, v = linalg_eig(a)
            return _diagonal(linalg_solve(_c(v), matmul(_c(da), _c(v))))
        return values

    def impl(da, a, values_only=False):
        w, v = linalg_eig(a)
        v = _c(v)
        c = linalg_solve(v, matmul(_c(da), v))
        dv = matmul(v, _gap_inverse(w) * c)
        return (_diagonal(c), dv - v * np.expand_dims(np.sum(v * dv, axis=-2), -2))
    return impl


# ---- svd -------------------------------------------------------------------------------------------------
@overload(_dec.svd_tangent)
def _svd_tangent(da, a, res, full_matrices=True, compute_uv=True):
    """Townsend's tangents of the reduced factors (decompositions.svd_tangent), or of the values alone."""
    uv = _flag(compute_uv, True)
    if not (_float_matrix(da) and _float_matrix(a)) or uv is None:
        return None
    if not uv:
        def values(da, a, res, full_matrices=True, compute_uv=True):
            u, s, vh = linalg_svd(a, False)
            return _diagonal(matmul(matmul(_tc(u), _c(da)), _tc(vh)))
        return values

    def impl(da, a, res, full_matrices=True, compute_uv=True):
        m, n = a.shape[-2], a.shape[-1]
        if full_matrices and m != n:
            raise MissingRuleError(_SVD_FULL)
        u, s, vh = _c(res[0]), res[1], _c(res[2])
        d = _c(da)
        v, ut = _tc(vh), _tc(u)
        k = s.shape[-1]
        f = _gap_inverse(s * s)
        pm = matmul(matmul(ut, d), v)
        pmt = _tc(pm)
        smat = new_axes(s, 1) * np.eye(k)
        du = matmul(u, f * (matmul(pm, smat) + matmul(smat, pmt)))
        dv = matmul(v, f * (matmul(smat, pm) + matmul(pmt, smat)))
        sinv = np.expand_dims(1.0 / s, -2)
        if m > k:
            du = du + matmul(matmul(np.eye(m) - matmul(u, ut), d), v) * sinv
        if n > k:
            dv = dv + matmul(matmul(np.eye(n) - matmul(v, vh), _tc(d)), u) * sinv
        return (du, _diagonal(pm), _tc(dv))
    return impl
