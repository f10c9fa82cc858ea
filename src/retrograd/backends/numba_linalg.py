"""np.linalg for the numba backend: the forms Numba's NumPy lacks.

Numba 0.68 compiles np.linalg.{det, inv, slogdet, solve, pinv, cholesky, qr, svd, eig, eigvals, eigh,
eigvalsh, norm} for one 2-D float matrix and without their keywords.  The numba backend rewrites every
`np.linalg.<f>(...)` of the generated code into `linalg_<f>(...)` (same arguments, same keywords); the
overloads below hand a plain 2-D call to Numba's own and compile the rest: stacks (..., m, n) as a loop
over the matrices, and the keyword forms (qr's mode, cholesky's upper, eigh's UPLO, svd's compute_uv,
pinv's rtol; norm's ord/axis/keepdims are in numba_norm).  What they cannot do (a runtime mode string,
hermitian=True, qr's 'complete' mode) has no implementation, and Numba's typing error becomes the usual
BackendError.  `new_axes(x, k)` is `x[..., None, ...]` (k new axes) for a scalar x too."""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..errors import UsageError


FUNCS = ("det", "inv", "slogdet", "solve", "pinv", "cholesky", "qr", "svd", "eig", "eigvals", "eigh",
         "eigvalsh", "norm")
__all__ = [f"linalg_{f}" for f in FUNCS] + ["new_axes", "from_new_axes"]


def _stub(name):
    def stub(*args, **kw):
        return getattr(np.linalg, name)(*args, **kw)
    stub.__name__ = stub.__qualname__ = f"linalg_{name}"
    return stub


for _f in FUNCS:
    globals()[f"linalg_{_f}"] = _stub(_f)


def new_axes(x, k):
    return np.asarray(x)[(Ellipsis,) + (None,) * k]


@overload(new_axes, prefer_literal=True)
def _new_axes(x, k):
    if not isinstance(k, types.IntegerLiteral):
        return None
    ones = (1,) * k.literal_value
    if isinstance(x, (types.Number, types.Boolean)):
        return lambda x, k: np.full(ones, x)
    if isinstance(x, types.Array):
        return lambda x, k: np.ascontiguousarray(x).reshape(x.shape + ones)
    return None


def from_new_axes(v, t, k):
    """What `t[..., None (k times)] = v` writes into t: v broadcast to t's shape with k axes of 1, those dropped."""
    return np.reshape(np.broadcast_to(v, np.shape(t) + (1,) * k), np.shape(t))


@overload(from_new_axes, prefer_literal=True)
def _from_new_axes(v, t, k):
    if not isinstance(k, types.IntegerLiteral) or not isinstance(t, types.Array):
        return None
    ones = (1,) * k.literal_value
    return lambda v, t, k: np.ascontiguousarray(np.broadcast_to(v, t.shape + ones)).reshape(t.shape)


def _matrix(a, ndim=2):
    return isinstance(a, types.Array) and isinstance(a.dtype, types.Float) and a.ndim >= ndim


@njit(cache=True)
def _stack(a):
    """A stack (..., m, n) as a contiguous (matrices, m, n) array."""
    return np.ascontiguousarray(a).reshape((-1, a.shape[-2], a.shape[-1]))


def _literal(t, default):
    """The value of an omitted or literal argument type (bool, str, int), or None if not a constant."""
    if not isinstance(t, types.Type):      # an omitted argument: its default itself
        return t
    if isinstance(t, types.Omitted):
        return t.value
    if isinstance(t, types.NoneType):
        return None
    if isinstance(t, types.Literal):
        return t.literal_value
    return None


@overload(linalg_det)  # noqa: F821
def _det(a):
    if not _matrix(a):
        return None
    if a.ndim == 2:
        return lambda a: np.linalg.det(a)

    def stack(a):
        s = _stack(a)
        out = np.empty(s.shape[0])
        for i in range(s.shape[0]):
            out[i] = np.linalg.det(s[i])
        return out.reshape(a.shape[:-2])
    return stack


@overload(linalg_inv)  # noqa: F821
def _inv(a):
    if not _matrix(a):
        return None
    if a.ndim == 2:
        return lambda a: np.linalg.inv(a)

    def stack(a):
        s = _stack(a)
        out = np.empty(s.shape)
        for i in range(s.shape[0]):
            out[i] = np.linalg.inv(s[i])
        return out.reshape(a.shape)
    return stack


@overload(linalg_slogdet)  # noqa: F821
def _slogdet(a):
    if not _matrix(a):
        return None
    if a.ndim == 2:
        return lambda a: np.linalg.slogdet(a)

    def stack(a):
        s = _stack(a)
        sign, logdet = np.empty(s.shape[0]), np.empty(s.shape[0])
        for i in range(s.shape[0]):
            sign[i], logdet[i] = np.linalg.slogdet(s[i])
        return sign.reshape(a.shape[:-2]), logdet.reshape(a.shape[:-2])
    return stack


@overload(linalg_solve)  # noqa: F821
def _solve(a, b):
    """NumPy 2's rule: `b` is a stack of vectors exactly when it is 1-D, else of matrices (..., n, k); the
    batch axes of a and b broadcast."""
    if not (_matrix(a) and isinstance(b, types.Array) and b.ndim >= 1):
        return None
    if a.ndim == 2 and b.ndim <= 2:
        return lambda a, b: np.linalg.solve(a, np.asarray(b, dtype=np.float64))
    if b.ndim == 1:
        def vectors(a, b):
            s = _stack(a)
            bb = np.asarray(b, dtype=np.float64)
            out = np.empty((s.shape[0], s.shape[1]))
            for i in range(s.shape[0]):
                out[i] = np.linalg.solve(s[i], bb)
            return out.reshape(a.shape[:-1])
        return vectors

    def matrices(a, b):
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        sa = _stack(np.broadcast_to(a, batch + a.shape[-2:]))
        sb = _stack(np.broadcast_to(np.asarray(b, dtype=np.float64), batch + b.shape[-2:]))
        out = np.empty(sb.shape)
        for i in range(sa.shape[0]):
            out[i] = np.linalg.solve(sa[i], sb[i])
        return out.reshape(batch + b.shape[-2:])
    return matrices


@overload(linalg_pinv, prefer_literal=True)  # noqa: F821
def _pinv(a, rcond=None, hermitian=False, rtol=None):
    """rcond (default 1e-15, NumPy's and Numba's) or rtol (None: max(m, n) * eps) cuts small singular values
    relative to the largest; hermitian=True has no lowering."""
    if not _matrix(a) or _literal(hermitian, False) is not False:
        return None
    rtol_given = not (rtol is None or isinstance(rtol, types.Omitted))
    rcond_given = not (rcond is None or isinstance(rcond, (types.Omitted, types.NoneType)))
    if rtol_given and rcond_given:
        return None                      # NumPy refuses both too

    if rtol_given and isinstance(rtol, types.NoneType):
        def cut(a, rcond, rtol):
            return max(a.shape[-2], a.shape[-1]) * np.finfo(np.float64).eps
    elif rtol_given:
        def cut(a, rcond, rtol):
            return float(rtol)
    elif rcond_given:
        def cut(a, rcond, rtol):
            return float(rcond)
    else:
        def cut(a, rcond, rtol):
            return 1e-15
    cut = njit(cut)
    if a.ndim == 2:
        return lambda a, rcond=None, hermitian=False, rtol=None: np.linalg.pinv(a, cut(a, rcond, rtol))

    def stack(a, rcond=None, hermitian=False, rtol=None):
        s = _stack(a)
        c = cut(a, rcond, rtol)
        out = np.empty((s.shape[0], s.shape[2], s.shape[1]))
        for i in range(s.shape[0]):
            out[i] = np.linalg.pinv(s[i], c)
        return out.reshape(a.shape[:-2] + (a.shape[-1], a.shape[-2]))
    return stack


@njit(cache=True)
def _cholesky2(a, upper):
    """NumPy reads the lower triangle (upper=False) or the upper one, and returns L or U = L^T."""
    if upper:
        return np.ascontiguousarray(np.linalg.cholesky(np.ascontiguousarray(a.T)).T)
    return np.linalg.cholesky(np.ascontiguousarray(a))


@overload(linalg_cholesky, prefer_literal=True)  # noqa: F821
def _cholesky(a, upper=False):
    if not _matrix(a) or not isinstance(_literal(upper, False), bool):
        return None
    up = _literal(upper, False)
    if a.ndim == 2:
        return lambda a, upper=False: _cholesky2(a, up)

    def stack(a, upper=False):
        s = _stack(a)
        out = np.empty(s.shape)
        for i in range(s.shape[0]):
            out[i] = _cholesky2(s[i], up)
        return out.reshape(a.shape)
    return stack


@overload(linalg_qr, prefer_literal=True)  # noqa: F821
def _qr(a, mode="reduced"):
    m = _literal(mode, "reduced")
    if not _matrix(a) or m not in ("reduced", "r"):
        return None                      # 'complete', 'raw' or a mode known only at run time
    if a.ndim == 2:
        if m == "r":
            return lambda a, mode="reduced": np.linalg.qr(a)[1]
        return lambda a, mode="reduced": np.linalg.qr(a)

    def stack(a, mode="reduced"):
        s = _stack(a)
        k = min(s.shape[1], s.shape[2])
        q, r = np.empty((s.shape[0], s.shape[1], k)), np.empty((s.shape[0], k, s.shape[2]))
        for i in range(s.shape[0]):
            q[i], r[i] = np.linalg.qr(s[i])
        return q.reshape(a.shape[:-2] + (a.shape[-2], k)), r.reshape(a.shape[:-2] + (k, a.shape[-1]))

    if m == "r":
        both = njit(stack)
        return lambda a, mode="reduced": both(a)[1]
    return stack


@overload(linalg_svd, prefer_literal=True)  # noqa: F821
def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    uv = _literal(compute_uv, True)
    if not _matrix(a) or _literal(hermitian, False) is not False or not isinstance(uv, (bool, int)):
        return None
    if not uv:
        def values(a, full_matrices=True, compute_uv=True, hermitian=False):
            s = _stack(a)
            k = min(s.shape[1], s.shape[2])
            out = np.empty((s.shape[0], k))
            for i in range(s.shape[0]):
                out[i] = np.linalg.svd(s[i], False)[1]
            return out.reshape(a.shape[:-2] + (k,))
        return values
    if a.ndim == 2:
        return lambda a, full_matrices=True, compute_uv=True, hermitian=False: np.linalg.svd(a, full_matrices)

    def stack(a, full_matrices=True, compute_uv=True, hermitian=False):
        s = _stack(a)
        m, n = s.shape[1], s.shape[2]
        k = min(m, n)
        mu, nv = (m, n) if full_matrices else (k, k)
        u, w, vh = np.empty((s.shape[0], m, mu)), np.empty((s.shape[0], k)), np.empty((s.shape[0], nv, n))
        for i in range(s.shape[0]):
            u[i], w[i], vh[i] = np.linalg.svd(s[i], full_matrices)
        lead = a.shape[:-2]
        return u.reshape(lead + (m, mu)), w.reshape(lead + (k,)), vh.reshape(lead + (nv, n))
    return stack


def _eigh_upper(a, vectors):
    """np.linalg.eigh(a, UPLO='U') of one matrix: Numba's own eigh with LAPACK told to read the upper
    triangle (transposing instead would read the same numbers but may flip eigenvectors' signs)."""


@overload(_eigh_upper, prefer_literal=True)
def _eigh_upper_ol(a, vectors):
    from numba.np import linalg as nl
    evd = nl._LAPACK().numba_ez_xxxevd(a.dtype)
    kind, upper = ord(nl.get_blas_kind(a.dtype, "eigh")), ord("U")
    want = vectors.literal_value if isinstance(vectors, types.BooleanLiteral) else bool(vectors)
    jobz = ord("V") if want else ord("N")

    def impl(a, vectors):
        n = a.shape[-1]
        if a.shape[-2] != n:
            raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square.")
        nl._check_finite_matrix(a)
        acpy = nl._copy_to_fortran_order(a)
        w = np.empty(n, dtype=np.float64)
        if n > 0:
            r = evd(kind, jobz, upper, n, acpy.ctypes, n, w.ctypes)
            nl._handle_err_maybe_convergence_problem(r)
            nl._dummy_liveness_func([acpy.size, w.size])
        return w, acpy
    return impl


@njit(cache=True)
def _eigh2(a, upper):
    if upper:
        return _eigh_upper(a, True)
    return np.linalg.eigh(a)


@njit(cache=True)
def _eigvalsh2(a, upper):
    if upper:
        return _eigh_upper(a, False)[0]
    return np.linalg.eigvalsh(a)


def _uplo(UPLO):
    u = _literal(UPLO, "L")
    return None if u not in ("L", "U") else u == "U"


@overload(linalg_eigh, prefer_literal=True)  # noqa: F821
def _eigh(a, UPLO="L"):
    up = _uplo(UPLO)
    if not _matrix(a) or up is None:
        return None
    if a.ndim == 2:
        return lambda a, UPLO="L": _eigh2(a, up)

    def stack(a, UPLO="L"):
        s = _stack(a)
        w, v = np.empty(s.shape[:2]), np.empty(s.shape)
        for i in range(s.shape[0]):
            w[i], v[i] = _eigh2(s[i], up)
        return w.reshape(a.shape[:-1]), v.reshape(a.shape)
    return stack


@overload(linalg_eigvalsh, prefer_literal=True)  # noqa: F821
def _eigvalsh(a, UPLO="L"):
    up = _uplo(UPLO)
    if not _matrix(a) or up is None:
        return None

    def stack(a, UPLO="L"):
        s = _stack(a)
        w = np.empty(s.shape[:2])
        for i in range(s.shape[0]):
            w[i] = _eigvalsh2(s[i], up)
        return w.reshape(a.shape[:-1])
    return stack


_COMPLEX = ("np.linalg.eig/eigvals failed here: its eigenvalues are complex (retrograd differentiates real "
            "functions only, and Numba's eig returns real ones only) or LAPACK did not converge; hint: use "
            "np.linalg.eigh for a symmetric matrix")


@njit(cache=True)
def _eig2(a):
    w, v = np.empty(a.shape[-1]), np.empty(a.shape)
    ok = True
    try:
        w, v = np.linalg.eig(a)
    except Exception:             # Numba's ValueError for a domain change, raised as the rules' error
        ok = False
    if not ok:
        raise UsageError(_COMPLEX)
    return w, v


@njit(cache=True)
def _eigvals2(a):
    w = np.empty(a.shape[-1])
    ok = True
    try:
        w = np.linalg.eigvals(a)
    except Exception:
        ok = False
    if not ok:
        raise UsageError(_COMPLEX)
    return w


@overload(linalg_eig)  # noqa: F821
def _eig(a):
    """Real eigenvalues only (as the rules: complex ones are refused)."""
    if not _matrix(a):
        return None
    if a.ndim == 2:
        return lambda a: _eig2(a)

    def stack(a):
        s = _stack(a)
        w, v = np.empty(s.shape[:2]), np.empty(s.shape)
        for i in range(s.shape[0]):
            w[i], v[i] = _eig2(s[i])
        return w.reshape(a.shape[:-1]), v.reshape(a.shape)
    return stack


@overload(linalg_eigvals)  # noqa: F821
def _eigvals(a):
    if not _matrix(a):
        return None
    if a.ndim == 2:
        return lambda a: _eigvals2(a)

    def stack(a):
        s = _stack(a)
        w = np.empty(s.shape[:2])
        for i in range(s.shape[0]):
            w[i] = _eigvals2(s[i])
        return w.reshape(a.shape[:-1])
    return stack


def lower_linalg(tree):
    """Rewrite `np.linalg.<f>(...)` of generated code into `linalg_<f>(...)`, and `x[..., None, None]`
    (the rules' way to lay a batch of scalars over matrices) into `new_axes(x, 2)` (a write through it,
    `x[..., None] = v`, into `x[...] = from_new_axes(v, x, 1)`)."""
    import copy

    import gast

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if (isinstance(f, gast.Attribute) and f.attr in FUNCS and isinstance(f.value, gast.Attribute)
                    and f.value.attr == "linalg" and isinstance(f.value.value, gast.Name) and f.value.value.id == "np"):
                node.func = gast.Name(id=f"linalg_{f.attr}", ctx=gast.Load(), annotation=None, type_comment=None)
            return node

        def visit_Subscript(self, node):
            self.generic_visit(node)
            k = _new_axes_count(node)
            if k and isinstance(node.ctx, gast.Load):
                return gast.Call(func=gast.Name(id="new_axes", ctx=gast.Load(), annotation=None, type_comment=None),
                                 args=[node.value, gast.Constant(value=k, kind=None)], keywords=[])
            return node

        def visit_Assign(self, node):
            # a write through the new axes (an adjoint's `dy[..., None] = ...`): no call can be assigned to,
            # so `t[...] = from_new_axes(v, t, k)`, the same entries written into t itself
            if len(node.targets) == 1:
                node.targets[0], node.value = _through(node.targets[0], node.value)
            self.generic_visit(node)
            return node

        def visit_AugAssign(self, node):        # `t[..., None] += v`: `t[...] += from_new_axes(v, t, k)`
            node.target, node.value = _through(node.target, node.value)
            self.generic_visit(node)
            return node

    def _through(target, value):
        k = _new_axes_count(target)
        if not k:
            return target, value
        write = gast.Subscript(value=target.value, ctx=gast.Store(), slice=gast.Constant(value=Ellipsis, kind=None))
        spread = gast.Call(func=gast.Name(id="from_new_axes", ctx=gast.Load(), annotation=None, type_comment=None),
                           args=[value, copy.deepcopy(target.value), gast.Constant(value=k, kind=None)], keywords=[])
        return write, spread

    def _new_axes_count(node):
        s = getattr(node, "slice", None)
        if (isinstance(node, gast.Subscript) and isinstance(s, gast.Tuple) and len(s.elts) > 1
                and isinstance(s.elts[0], gast.Constant) and s.elts[0].value is Ellipsis
                and all(isinstance(e, gast.Constant) and e.value is None for e in s.elts[1:])):
            return len(s.elts) - 1
        return 0
    return Lower().visit(tree)

