"""Numba versions of the cotangent helpers of reverse/rules/linalg.py (solve's) and decompositions.py
(slogdet, pinv, cholesky, qr, eigh/eigvalsh, eig/eigvals, svd): the same formulas, written with the
batched pieces the numba backend has (`matmul` of numba_products, the `linalg_*` stacks of numba_linalg,
np.swapaxes, np.tril/np.triu), so a stack (..., m, n) works as one matrix does (up to 3-D, what `matmul`
takes).  Where the python helper refuses (qr of a wide matrix, svd's full factors of a non-square one)
these raise the same error class when they run, since the shapes are known only then."""
import numpy as np
from numba import types
from numba.extending import overload

from ..errors import MissingRuleError
from ..reverse.rules import decompositions as _dec, linalg as _lin
from .numba_linalg import (linalg_eig, linalg_eigvals, linalg_inv, linalg_qr, linalg_solve,  # noqa: F401
                           linalg_svd, new_axes)
from .numba_products import matmul
from .numba_axes import compile_source
from .numba_runtime import unbroadcast, zeros_like


# the cotangent of a tuple result of arrays (qr, eigh, svd, a stack's slogdet), which the adjoint fills in
# with numba_tuples.tuple_set
@overload(zeros_like)
def _zeros_like_arrays(x):
    if isinstance(x, types.BaseTuple) and len(x) > 0 and any(isinstance(t, types.Array) for t in x) \
            and all(isinstance(t, (types.Array, types.Number)) for t in x):
        items = ", ".join(f"zeros_like(x[{j}])" for j in range(len(x)))
        return compile_source(f"def impl(x):\n    return ({items},)\n", zeros_like=zeros_like)
    return None



def _T(a):
    return np.swapaxes(a, -1, -2)


@overload(_T)
def _T_ol(a):
    if isinstance(a, types.Array) and a.ndim >= 2:
        return lambda a: np.swapaxes(a, -1, -2)
    return None


def _arr(t, ndim=2):
    return isinstance(t, types.Array) and t.ndim >= ndim


def _flag(t, default=False):
    """A literal or omitted bool argument's value; None if it is known only at run time."""
    if not isinstance(t, types.Type):
        return t
    if isinstance(t, types.Omitted):
        return t.value
    if isinstance(t, types.BooleanLiteral):
        return t.literal_value
    if isinstance(t, types.IntegerLiteral):
        return bool(t.literal_value)
    return None


# ---- solve -----------------------------------------------------------------------------------------------
def _solve_t(a, g, b):
    pass


@overload(_solve_t)
def _solve_t_ol(a, g, b):
    if b.ndim == 1:
        return lambda a, g, b: linalg_solve(_T(a), new_axes(g, 1))[..., 0]
    return lambda a, g, b: linalg_solve(_T(a), g)


@overload(_lin.solve_grad_b)
def _solve_grad_b(g, a, b):
    if not (_arr(a) and _arr(b, 1) and _arr(g, 1)):
        return None
    return lambda g, a, b: unbroadcast(_solve_t(a, np.asarray(g, dtype=np.float64), b), b)


@overload(_lin.solve_grad_a)
def _solve_grad_a(g, a, x, b):
    if not (_arr(a) and _arr(b, 1) and _arr(g, 1)):
        return None
    if b.ndim == 1:
        def vectors(g, a, x, b):
            gb = _solve_t(a, np.asarray(g, dtype=np.float64), b)
            return -new_axes(gb, 1) * np.expand_dims(x, -2)
        return vectors
    return lambda g, a, x, b: unbroadcast(-matmul(_solve_t(a, np.asarray(g, dtype=np.float64), b), _T(x)), a)


# ---- slogdet, pinv, cholesky -------------------------------------------------------------------------------
@overload(_dec.slogdet_grad)
def _slogdet_grad(g, a):
    if not _arr(a):
        return None
    return lambda g, a: new_axes(g[1], 2) * _T(linalg_inv(a))


@overload(_dec.pinv_grad)
def _pinv_grad(g, a, p):
    if not (_arr(a) and _arr(g) and _arr(p)):
        return None

    def impl(g, a, p):
        m, n = a.shape[-2], a.shape[-1]
        pt, gt = np.ascontiguousarray(_T(p)), np.ascontiguousarray(_T(g))
        left = np.eye(m) - matmul(a, p)
        right = np.eye(n) - matmul(p, a)
        return (-matmul(matmul(pt, g), pt) + matmul(matmul(matmul(left, gt), p), pt)
                + matmul(matmul(matmul(pt, p), gt), right))
    return impl


def _to_triangle(s, upper):
    pass


@overload(_to_triangle)
def _to_triangle_ol(s, upper):
    def impl(s, upper):
        s = (s + _T(s)) / 2.0
        tri = np.triu(s, 1) if upper else np.tril(s, -1)
        return 2.0 * tri + s * np.eye(s.shape[-1])
    return impl


@overload(_dec.cholesky_grad)
def _cholesky_grad(g, a, ell, upper=False):
    up = _flag(upper)
    if not (_arr(g) and _arr(ell)) or up is None:
        return None

    def impl(g, a, ell, upper=False):
        if up:
            low, gl = np.ascontiguousarray(_T(ell)), np.ascontiguousarray(_T(g))
        else:
            low, gl = np.ascontiguousarray(ell), np.ascontiguousarray(g)
        phi = np.tril(matmul(np.ascontiguousarray(_T(low)), gl))
        phi = phi - 0.5 * phi * np.eye(phi.shape[-1])
        inv = linalg_inv(low)
        s = matmul(matmul(np.ascontiguousarray(_T(inv)), phi), inv)
        return _to_triangle(s, up)
    return impl


# ---- qr ------------------------------------------------------------------------------------------------------
def _qr_core(gq, gr, q, r):
    pass


@overload(_qr_core)
def _qr_core_ol(gq, gr, q, r):
    def impl(gq, gr, q, r):
        mm = matmul(r, np.ascontiguousarray(_T(gr))) - matmul(np.ascontiguousarray(_T(gq)), q)
        copyltu = np.tril(mm) + _T(np.tril(mm, -1))
        return np.ascontiguousarray(_T(linalg_solve(r, np.ascontiguousarray(_T(gq + matmul(q, copyltu))))))
    return impl


_QR_WIDE = ("no derivative rule for np.linalg.qr of a matrix with more columns than rows (only m >= n, "
            "reduced or 'r'); hint: transpose a wide matrix")


@overload(_dec.qr_grad, prefer_literal=True)
def _qr_grad(g, a, res, mode="reduced"):
    m = mode if not isinstance(mode, types.Type) else (mode.value if isinstance(mode, types.Omitted) else
                                                        getattr(mode, "literal_value", None))
    if not _arr(a) or m not in ("reduced", "r"):
        return None

    if m == "r":
        def only_r(g, a, res, mode="reduced"):
            if a.shape[-2] < a.shape[-1]:
                raise MissingRuleError(_QR_WIDE)
            q, r = linalg_qr(a)
            gr = np.asarray(g, dtype=np.float64)
            return _qr_core(np.zeros(q.shape), gr, q, r)
        return only_r

    def both(g, a, res, mode="reduced"):
        if a.shape[-2] < a.shape[-1]:
            raise MissingRuleError(_QR_WIDE)
        return _qr_core(np.asarray(g[0], dtype=np.float64), np.asarray(g[1], dtype=np.float64), res[0], res[1])
    return both


# ---- eigh, eig -------------------------------------------------------------------------------------------------
def _gap_inverse(w):
    pass


@overload(_gap_inverse)
def _gap_inverse_ol(w):
    def impl(w):
        diff = np.expand_dims(w, -2) - np.expand_dims(w, -1)
        eye = np.eye(w.shape[-1]) == 1.0
        return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, diff))
    return impl


@overload(_dec.eigh_grad)
def _eigh_grad(g, res, upper=False, values_only=False):
    only = _flag(values_only)
    if only is None:
        return None

    def impl(g, res, upper=False, values_only=False):
        w, v = res[0], res[1]
        if only:
            gw, gv = np.asarray(g, dtype=np.float64), np.zeros(v.shape)
        else:
            gw, gv = np.asarray(g[0], dtype=np.float64), np.asarray(g[1], dtype=np.float64)
        inner = new_axes(gw, 1) * np.eye(w.shape[-1])
        if np.any(gv != 0.0):
            inner = inner + _gap_inverse(w) * matmul(np.ascontiguousarray(_T(v)), gv)
        return _to_triangle(matmul(matmul(v, inner), np.ascontiguousarray(_T(v))), upper)
    return impl


@overload(_dec.eig_grad)
def _eig_grad(g, a, values_only=False):
    only = _flag(values_only)
    if not _arr(a) or only is None:
        return None

    def impl(g, a, values_only=False):
        w, v = linalg_eig(a)
        if only:
            gw, gv = np.asarray(g, dtype=np.float64), np.zeros(v.shape)
        else:
            gw, gv = np.asarray(g[0], dtype=np.float64), np.asarray(g[1], dtype=np.float64)
        inner = new_axes(gw, 1) * np.eye(w.shape[-1])
        if np.any(gv != 0.0):
            gv = gv - v * np.expand_dims(np.sum(v * gv, axis=-2), -2)
            inner = inner + _gap_inverse(w) * matmul(np.ascontiguousarray(_T(v)), gv)
        vt = np.ascontiguousarray(_T(v))
        return linalg_solve(vt, matmul(inner, vt))
    return impl


# ---- svd ------------------------------------------------------------------------------------------------------
_SVD_FULL = ("no derivative rule for np.linalg.svd(a, full_matrices=True) of a non-square matrix: the extra "
             "singular vectors are not unique; hint: pass full_matrices=False")


@overload(_dec.svd_grad)
def _svd_grad(g, a, res, full_matrices=True, compute_uv=True):
    uv = _flag(compute_uv, True)
    if not _arr(a) or uv is None:
        return None
    if not uv:
        def values(g, a, res, full_matrices=True, compute_uv=True):
            u, s, vh = linalg_svd(a, False)
            return matmul(u * np.expand_dims(np.asarray(g, dtype=np.float64), -2), vh)
        return values

    def impl(g, a, res, full_matrices=True, compute_uv=True):
        m, n = a.shape[-2], a.shape[-1]
        if full_matrices and m != n:
            raise MissingRuleError(_SVD_FULL)
        u, s, vh = res[0], res[1], res[2]
        gu, gs, gvh = (np.asarray(g[0], dtype=np.float64), np.asarray(g[1], dtype=np.float64),
                       np.asarray(g[2], dtype=np.float64))
        v, gv = np.ascontiguousarray(_T(vh)), np.ascontiguousarray(_T(gvh))
        ut = np.ascontiguousarray(_T(u))
        k = s.shape[-1]
        f = _gap_inverse(s * s)
        ut_gu, vt_gv = matmul(ut, gu), matmul(np.ascontiguousarray(_T(v)), gv)
        smat = new_axes(s, 1) * np.eye(k)
        inner = (matmul(f * (ut_gu - _T(ut_gu)), smat) + new_axes(gs, 1) * np.eye(k)
                 + matmul(smat, f * (vt_gv - _T(vt_gv))))
        out = matmul(matmul(u, inner), vh)
        sinv = np.expand_dims(1.0 / s, -2)
        if m > k:
            out = out + matmul(matmul(np.eye(m) - matmul(u, ut), gu) * sinv, vh)
        if n > k:
            out = out + matmul(matmul(u * sinv, np.ascontiguousarray(_T(gv))), np.eye(n) - matmul(v, vh))
        return out
    return impl
