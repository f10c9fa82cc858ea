"""Matrix decompositions and functions of them: slogdet, pinv, cholesky, qr, eigh/eigvalsh, eig/eigvals,
svd.  Batched over leading axes.  Where the derivative does not exist the result is not invented:
repeated eigenvalues (eigh's and eig's eigenvectors) and repeated singular values (svd's vectors) give
inf/nan through 1 / (w_j - w_i), as the true derivative is unbounded there; eigenvalues and singular
values alone (eigvalsh, svd with compute_uv=False) are differentiable at simple values only but stay
finite: the formula then gives one element of the subdifferential."""
import numpy as np

from .registry import adjoint, d, t, tangent

KIND = "product"


def _T(a):
    return np.swapaxes(a, -1, -2)


def _gap_inverse(w):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it."""
    diff = w[..., None, :] - w[..., :, None]
    n = w.shape[-1]
    eye = np.eye(n, dtype=bool)
    with np.errstate(divide="ignore"):
        return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, diff))


def _to_triangle(s, upper):
    """The cotangent of the triangle a symmetric-input routine reads (eigh's UPLO, cholesky's default
    lower one), from the cotangent `s` of the symmetric matrix it stands for: the off-diagonal entry
    stands for two."""
    s = (s + _T(s)) / 2.0
    tri = np.triu(s, 1) if upper else np.tril(s, -1)
    return 2.0 * tri + s * np.eye(s.shape[-1])


def _parts(g, n):
    """The cotangents of a tuple result (zeros for the parts the function never used)."""
    return [np.asarray(g[k], dtype=np.float64) for k in range(n)]


def slogdet_grad(g, a):
    """Cotangent of np.linalg.slogdet(a) = (sign, log|det|): g[1] inv(a)^T (the sign is constant)."""
    return np.asarray(g[1])[..., None, None] * _T(np.linalg.inv(a))


def pinv_grad(g, a, p):
    """Cotangent of p = pinv(a), for a of constant (full) rank (Golub & Pereyra):
    -p^T g p^T + (I - a p)^T g^T p p^T ... written with the projectors I - a p and I - p a."""
    m, n = np.shape(a)[-2:]
    pt = _T(p)
    left = np.eye(m) - a @ p
    right = np.eye(n) - p @ a
    return -pt @ g @ pt + left @ _T(g) @ p @ pt + pt @ p @ _T(g) @ right


def cholesky_grad(g, a, ell, upper=False):
    """Cotangent of the lower factor L = cholesky(a) (Murray 2016): L^-T Phi(L^T g) L^-1 with Phi taking the
    lower triangle and half the diagonal, mapped onto the triangle cholesky reads."""
    if upper:                                     # U = L^T: the same with the transposes
        ell, g = _T(ell), _T(g)
    phi = np.tril(_T(ell) @ g)
    phi = phi - 0.5 * phi * np.eye(phi.shape[-1])
    inv = np.linalg.inv(ell)
    s = _T(inv) @ phi @ inv
    return _to_triangle(s, upper)


def qr_grad(g, a, res, mode="reduced"):
    """Cotangent of np.linalg.qr(a) (m >= n; reduced or 'r'): (gq + q copyltu(M)) r^-T with
    M = r gr^T - gq^T q and copyltu(M) = tril(M) + tril(M, -1)^T (Walter & Lehmann)."""
    m, n = np.shape(a)[-2:]
    if m < n or mode not in ("reduced", "r"):
        from ...errors import MissingRuleError
        raise MissingRuleError(f"no derivative rule for np.linalg.qr of a {m}x{n} matrix in mode={mode!r} "
                               "(only m >= n, reduced or 'r')", construct="np.linalg.qr",
                               hint="transpose a wide matrix, or use mode='reduced'")
    if mode == "r":
        q, r = np.linalg.qr(a)
        gq, gr = np.zeros(np.shape(q)), np.asarray(g, dtype=np.float64)
    else:
        q, r = res[0], res[1]
        gq, gr = _parts(g, 2)
    mm = r @ _T(gr) - _T(gq) @ q
    copyltu = np.tril(mm) + _T(np.tril(mm, -1))
    return _T(np.linalg.solve(r, _T(gq + q @ copyltu)))


def eigh_grad(g, res, upper=False, values_only=False):
    """Cotangent of np.linalg.eigh(a) = (w, v): v (diag(gw) + F o (v^T gv)) v^T, F = 1 / (w_j - w_i),
    symmetrised and mapped onto the triangle eigh reads (UPLO)."""
    if values_only:
        w, v = res
        gw, gv = np.asarray(g, dtype=np.float64), np.zeros(np.shape(v))
    else:
        w, v = res[0], res[1]
        gw, gv = _parts(g, 2)
    inner = gw[..., None] * np.eye(w.shape[-1])
    if np.any(gv):
        inner = inner + _gap_inverse(w) * (_T(v) @ gv)
    return _to_triangle(v @ inner @ _T(v), upper)


def _real_eig(a, name):
    w, v = np.linalg.eig(a)
    if np.iscomplexobj(w) and np.any(np.imag(w) != 0):
        from ...errors import UsageError
        raise UsageError(f"np.linalg.{name} has complex eigenvalues here: retrograd differentiates real "
                         "functions only", construct=f"np.linalg.{name}",
                         hint="use np.linalg.eigh for a symmetric matrix")
    return np.real(w), np.real(v)


def eig_grad(g, a, values_only=False):
    """Cotangent of np.linalg.eig(a) = (w, v) with real eigenvalues (complex ones are refused):
    v^-T (diag(gw) + F o (v^T gv')) v^T, where gv' = gv - v diag(v^T gv) accounts for NumPy's unit-norm
    eigenvectors."""
    w, v = _real_eig(a, "eigvals" if values_only else "eig")
    if values_only:
        gw, gv = np.asarray(g, dtype=np.float64), np.zeros(np.shape(v))
    else:
        gw, gv = _parts(g, 2)
    inner = gw[..., None] * np.eye(w.shape[-1])
    if np.any(gv):
        gv = gv - v * np.sum(v * gv, axis=-2, keepdims=True)
        inner = inner + _gap_inverse(w) * (_T(v) @ gv)
    return np.linalg.solve(_T(v), inner @ _T(v))


def svd_grad(g, a, res, full_matrices=True, compute_uv=True):
    """Cotangent of np.linalg.svd(a) (reduced factors: full_matrices=False, or a square a; or compute_uv=
    False): u [(F o (u^T gu - gu^T u)) s + diag(gs) + s (F o (v^T gv - gv^T v))] v^T plus the parts of gu, gv
    outside the column spaces, F = 1 / (s_j^2 - s_i^2) (Townsend 2016)."""
    m, n = np.shape(a)[-2:]
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return (u * np.asarray(g)[..., None, :]) @ vh
    if full_matrices and m != n:
        from ...errors import MissingRuleError
        raise MissingRuleError("no derivative rule for np.linalg.svd(a, full_matrices=True) of a non-square "
                               "matrix: the extra singular vectors are not unique", construct="np.linalg.svd",
                               hint="pass full_matrices=False")
    u, s, vh = res[0], res[1], res[2]
    gu, gs, gvh = _parts(g, 3)
    v, gv = _T(vh), _T(gvh)
    k = s.shape[-1]
    f = _gap_inverse(s * s)
    ut_gu, vt_gv = _T(u) @ gu, _T(v) @ gv
    smat = s[..., None] * np.eye(k)
    inner = (f * (ut_gu - _T(ut_gu))) @ smat + gs[..., None] * np.eye(k) + smat @ (f * (vt_gv - _T(vt_gv)))
    out = u @ inner @ vh
    sinv = 1.0 / s
    if m > k:
        out = out + (np.eye(m) - u @ _T(u)) @ gu * sinv[..., None, :] @ vh
    if n > k:
        out = out + (u * sinv[..., None, :]) @ _T(gv) @ (np.eye(n) - v @ vh)
    return out


def _svd_check(args):
    if args.get("hermitian", False) is not False:
        return ("with hermitian=True", "use np.linalg.eigh for a symmetric matrix")
    return None


# ---- tangents (forward mode) ---------------------------------------------------------------------------
def _from_triangle(da, upper):
    """The tangent of the symmetric matrix a symmetric-input routine stands for, from the tangent of the
    triangle it reads (the transpose of _to_triangle)."""
    tri = np.triu(da, 1) if upper else np.tril(da, -1)
    return tri + _T(tri) + da * np.eye(np.shape(da)[-1])


def slogdet_tangent(da, a, y):
    """Tangent of (sign, log|det a|): (0, trace(inv(a) da))."""
    return (np.zeros(np.shape(y[0])), np.sum(_T(np.linalg.inv(a)) * da, axis=(-2, -1)))


def pinv_tangent(da, a, p):
    """Tangent of p = pinv(a) for a of constant rank (Golub & Pereyra)."""
    m, n = np.shape(a)[-2:]
    pt, dat = _T(p), _T(da)
    return (-p @ da @ p + p @ pt @ dat @ (np.eye(m) - a @ p) + (np.eye(n) - p @ a) @ dat @ pt @ p)


def cholesky_tangent(da, ell, upper=False):
    """Tangent of the factor of cholesky(a): L Phi(L^-1 dS L^-T), Phi the lower triangle with half the
    diagonal, dS the tangent of the symmetric matrix the read triangle stands for (U = L^T when upper)."""
    low = _T(ell) if upper else ell
    inv = np.linalg.inv(low)
    phi = np.tril(inv @ _from_triangle(da, upper) @ _T(inv))
    phi = phi - 0.5 * phi * np.eye(phi.shape[-1])
    out = low @ phi
    return _T(out) if upper else out


def qr_tangent(da, a, res, mode="reduced"):
    """Tangent of np.linalg.qr(a) (m >= n; reduced or 'r'): X = Q^T dA R^-1, dR = (X - W) R and
    dQ = dA R^-1 - Q (X - W), W = tril(X, -1) - tril(X, -1)^T (so Q^T dQ is antisymmetric, dR upper)."""
    m, n = np.shape(a)[-2:]
    if m < n or mode not in ("reduced", "r"):
        from ...errors import MissingRuleError
        raise MissingRuleError(f"no derivative rule for np.linalg.qr of a {m}x{n} matrix in mode={mode!r} "
                               "(only m >= n, reduced or 'r')", construct="np.linalg.qr",
                               hint="transpose a wide matrix, or use mode='reduced'")
    q, r = np.linalg.qr(a) if mode == "r" else (res[0], res[1])
    da_rinv = _T(np.linalg.solve(_T(r), _T(da)))            # dA R^-1
    x = _T(q) @ da_rinv
    low = np.tril(x, -1)
    upper_part = x - low + _T(low)                          # X - W
    dr = upper_part @ r
    if mode == "r":
        return dr
    return (da_rinv - q @ upper_part, dr)


def eigh_tangent(da, res, upper=False, values_only=False):
    """Tangent of np.linalg.eigh(a) = (w, v): dw = diag(v^T dS v), dv = v (F o (v^T dS v)), F = 1 / (w_j - w_i)
    (inf/nan at repeated eigenvalues, as the vjp: the eigenvectors' derivative is unbounded there)."""
    w, v = res[0], res[1]
    c = _T(v) @ _from_triangle(da, upper) @ v
    dw = np.diagonal(c, axis1=-2, axis2=-1).copy()
    if values_only:
        return dw
    return (dw, v @ (_gap_inverse(w) * c))


def eig_tangent(da, a, values_only=False):
    """Tangent of np.linalg.eig(a) with real eigenvalues: C = v^-1 dA v, dw = diag(C), dv = v (F o C) less
    its component along each (unit-norm) eigenvector."""
    w, v = _real_eig(a, "eigvals" if values_only else "eig")
    c = np.linalg.solve(v, da @ v)
    dw = np.diagonal(c, axis1=-2, axis2=-1).copy()
    if values_only:
        return dw
    dv = v @ (_gap_inverse(w) * c)
    return (dw, dv - v * np.sum(v * dv, axis=-2, keepdims=True))


def svd_tangent(da, a, res, full_matrices=True, compute_uv=True):
    """Tangent of np.linalg.svd(a) (reduced factors, or compute_uv=False): P = U^T dA V, dS = diag(P),
    dU = U (F o (P S + S P^T)) + (I - U U^T) dA V S^-1, dV = V (F o (S P + P^T S)) + (I - V V^T) dA^T U S^-1,
    F = 1 / (s_j^2 - s_i^2) (Townsend 2016)."""
    m, n = np.shape(a)[-2:]
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.diagonal(_T(u) @ da @ _T(vh), axis1=-2, axis2=-1).copy()
    if full_matrices and m != n:
        from ...errors import MissingRuleError
        raise MissingRuleError("no derivative rule for np.linalg.svd(a, full_matrices=True) of a non-square "
                               "matrix: the extra singular vectors are not unique", construct="np.linalg.svd",
                               hint="pass full_matrices=False")
    u, s, vh = res[0], res[1], res[2]
    v = _T(vh)
    k = s.shape[-1]
    f = _gap_inverse(s * s)
    pm = _T(u) @ da @ v
    smat = s[..., None] * np.eye(k)
    ds = np.diagonal(pm, axis1=-2, axis2=-1).copy()
    du = u @ (f * (pm @ smat + smat @ _T(pm)))
    dv = v @ (f * (smat @ pm + _T(pm) @ smat))
    sinv = 1.0 / s
    if m > k:
        du = du + (np.eye(m) - u @ _T(u)) @ da @ v * sinv[..., None, :]
    if n > k:
        dv = dv + (np.eye(n) - v @ vh) @ _T(da) @ u * sinv[..., None, :]
    return (du, ds, _T(dv))


@adjoint(np.linalg.slogdet)
def slogdet(y, a):
    d[a] = slogdet_grad(d[y], a)


@tangent(slogdet)
def slogdet(y, a):
    t[y] = slogdet_tangent(t[a], a, y)


@adjoint(np.linalg.pinv, zero=("rcond", "rtol"))
def pinv(y, a, rcond=None, hermitian=False, rtol=None):
    d[a] = pinv_grad(d[y], a, y)


@tangent(pinv)
def pinv(y, a, rcond=None, hermitian=False, rtol=None):
    t[y] = pinv_tangent(t[a], a, y)


@adjoint(np.linalg.cholesky)
def cholesky(y, a, upper=False):
    d[a] = cholesky_grad(d[y], a, y, upper)


@tangent(cholesky)
def cholesky(y, a, upper=False):
    t[y] = cholesky_tangent(t[a], y, upper)


@adjoint(np.linalg.qr)
def qr(y, a, mode="reduced"):
    d[a] = qr_grad(d[y], a, y, mode)


@tangent(qr)
def qr(y, a, mode="reduced"):
    t[y] = qr_tangent(t[a], a, y, mode)


@adjoint(np.linalg.eigh)
def eigh(y, a, UPLO="L"):
    d[a] = eigh_grad(d[y], y, UPLO == "U")


@tangent(eigh)
def eigh(y, a, UPLO="L"):
    t[y] = eigh_tangent(t[a], y, UPLO == "U")


@adjoint(np.linalg.eigvalsh)
def eigvalsh(y, a, UPLO="L"):
    d[a] = eigh_grad(d[y], np.linalg.eigh(a, UPLO), UPLO == "U", True)


@tangent(eigvalsh)
def eigvalsh(y, a, UPLO="L"):
    t[y] = eigh_tangent(t[a], np.linalg.eigh(a, UPLO), UPLO == "U", True)


@adjoint(np.linalg.eig)
def eig(y, a):
    d[a] = eig_grad(d[y], a)


@tangent(eig)
def eig(y, a):
    t[y] = eig_tangent(t[a], a)


@adjoint(np.linalg.eigvals)
def eigvals(y, a):
    d[a] = eig_grad(d[y], a, True)


@tangent(eigvals)
def eigvals(y, a):
    t[y] = eig_tangent(t[a], a, True)


@adjoint(np.linalg.svd, check=_svd_check)
def svd(y, a, full_matrices=True, compute_uv=True, hermitian=False):
    d[a] = svd_grad(d[y], a, y, full_matrices, compute_uv)


@tangent(svd)
def svd(y, a, full_matrices=True, compute_uv=True, hermitian=False):
    t[y] = svd_tangent(t[a], a, y, full_matrices, compute_uv)
