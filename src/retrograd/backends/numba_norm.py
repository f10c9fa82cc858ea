"""np.linalg.norm and its cotangent (reverse/rules/linalg.norm_grad) for the numba backend, in every
ord/axis/keepdims form the python rule takes.

Numba's own norm takes no axis= nor keepdims= (and rejects ord='fro' when it runs).  Here the reduced axes
(an int, a pair for matrix norms, or None) and keepdims must be constants, known when the function is
compiled; ord may be None, a string constant or a number known only at run time (the result's shape
does not depend on it).  The array is moved to rows (vector norms: (kept, n)) or to a stack of matrices
((kept, m, n)), each is reduced or differentiated by a loop, and the result moved back."""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..errors import MissingRuleError
from ..reverse.rules import linalg as _lin
from .numba_axes import compile_source
from .numba_linalg import linalg_norm
from .numba_reductions import _keep

_VEC, _FRO, _NUC = 0, 1, 2        # how ord is read: a number, None/'fro' (Frobenius), 'nuc'


def _ord(t):
    """(kind, constant or None) of the ord argument's type, or None if it has no lowering."""
    if t is None or isinstance(t, (types.NoneType, types.Omitted)):
        return ("none", None)
    if isinstance(t, types.StringLiteral):
        return ("str", t.literal_value) if t.literal_value in ("fro", "nuc") else None
    if isinstance(t, (types.Integer, types.Float)):
        return ("num", None)
    return None


def _axes(axis, ndim):
    """The reduced axes in the order given (a matrix norm's rows then columns), or 'all', or None."""
    if axis is None or isinstance(axis, (types.NoneType, types.Omitted)):
        return "all"
    if isinstance(axis, types.IntegerLiteral):
        return (axis.literal_value % ndim,)
    if isinstance(axis, types.BaseTuple) and all(isinstance(t, types.IntegerLiteral) for t in axis.types):
        ax = tuple(t.literal_value % ndim for t in axis.types)
        return ax if len(set(ax)) == len(ax) and len(ax) in (1, 2) else None
    return None


def _plan(x, ord, axis, keepdims):
    """(matrix?, reduced axes, keepdims, ord kind, ord string) for a call, or None (no lowering)."""
    if not (isinstance(x, types.Array) and isinstance(x.dtype, types.Float) and x.ndim >= 1):
        return None
    o, axes, keep = _ord(ord), _axes(axis, x.ndim), _keep(keepdims)
    if o is None or axes is None or keep is None:
        return None
    if axes == "all":
        if o[0] == "none":
            return (False, tuple(range(x.ndim)), keep, _FRO, None)   # the 2-norm of the flattened array
        if x.ndim == 2:
            axes = (0, 1)
        elif x.ndim == 1:
            axes = (0,)
        else:
            return None                   # NumPy: "Improper number of dimensions to norm."
    if len(axes) == 2:
        kind = _FRO if o[0] == "none" or o[1] == "fro" else _NUC if o[1] == "nuc" else _VEC
        return (True, axes, keep, kind, o[1])
    if o[0] == "str":
        return None                       # NumPy: a string order is for matrices
    return (False, axes, keep, _FRO if o[0] == "none" else _VEC, None)


def _perm_source(ndim, axes, keep):
    """Source lines: `t`, x with the reduced axes last, and the shapes of the rows and of the result."""
    kept = [k for k in range(ndim) if k not in axes]
    perm = tuple(kept + list(axes))
    rows = " * ".join(f"x.shape[{k}]" for k in kept) or "1"
    inner = ", ".join(f"x.shape[{k}]" for k in axes)
    if keep:
        shape = "(" + "".join(("1" if k in axes else f"x.shape[{k}]") + ", " for k in range(ndim)) + ")"
    else:
        shape = "(" + "".join(f"x.shape[{k}], " for k in kept) + ")"
    inv = tuple(int(i) for i in np.argsort(perm))
    return perm, rows, inner, shape, inv


@njit(cache=True)
def _vector(v, p, kind):
    a = np.abs(v)
    if kind == _FRO or p == 2.0:
        return np.sqrt(np.sum(v * v))
    if p == np.inf:
        return np.max(a) if a.size else 0.0
    if p == -np.inf:
        return np.min(a)
    if p == 0.0:
        return float(np.sum(a != 0.0))
    if p == 1.0:
        return np.sum(a)
    return np.sum(a ** p) ** (1.0 / p)


@njit(cache=True)
def _matrix(m, p, kind):
    if kind == _FRO:
        return np.sqrt(np.sum(m * m))
    if kind == _NUC:
        return np.sum(np.linalg.svd(m, False)[1])
    if p == 2.0:
        return np.linalg.svd(m, False)[1][0]
    if p == -2.0:
        return np.linalg.svd(m, False)[1][-1]
    if p == 1.0 or p == -1.0:
        cols = np.sum(np.abs(m), axis=0)
        return np.max(cols) if p > 0 else np.min(cols)
    if p == np.inf or p == -np.inf:
        rows = np.sum(np.abs(m), axis=1)
        return np.max(rows) if p > 0 else np.min(rows)
    raise ValueError("Invalid norm order for matrices.")


def _pvalue(ord):
    return "float(ord)" if isinstance(ord, (types.Integer, types.Float)) else "0.0"


@overload(linalg_norm, prefer_literal=True)
def _norm(x, ord=None, axis=None, keepdims=False):
    plan = _plan(x, ord, axis, keepdims)
    if plan is None:
        return None
    matrix, axes, keep, kind, _ = plan
    perm, rows, inner, shape, _ = _perm_source(x.ndim, axes, keep)
    each, part = ("_matrix", f"({rows}, {inner})") if matrix else ("_vector", f"({rows}, {inner.replace(', ', ' * ')})")
    src = (f"def impl(x, ord=None, axis=None, keepdims=False):\n"
           f"    t = np.ascontiguousarray(x.transpose({perm!r}))\n"
           f"    flat = t.reshape({part})\n"
           f"    p = {_pvalue(ord)}\n"
           f"    out = np.empty(flat.shape[0])\n"
           f"    for i in range(flat.shape[0]):\n"
           f"        out[i] = {each}(flat[i], p, {kind})\n")
    src += ("    return out[0]\n" if shape == "()" else f"    return out.reshape({shape})\n")
    return compile_source(src, _vector=_vector, _matrix=_matrix)


def _flat(g):
    pass


@overload(_flat)
def _flat_ol(g):
    if isinstance(g, (types.Number, types.Boolean)):
        return lambda g: np.full(1, float(g))
    if isinstance(g, types.Array):
        return lambda g: np.ascontiguousarray(g).astype(np.float64).ravel()
    return None


@njit(cache=True)
def _vector_grad(v, g, y, p, kind):
    """d norm(v) * g for one vector: the 2-norm's g v / y, the inf-norms' split between the tied largest
    (smallest) moduli, the p-norms' g sign(v) (|v| / y)^(p - 1); 0 where the norm is 0."""
    if kind == _FRO or p == 2.0:
        return v * (0.0 if y == 0 else g / y)
    if p == 0.0:
        raise MissingRuleError("no derivative rule for np.linalg.norm with ord=0 (the 0-\"norm\" counts "
                               "nonzeros); hint: write the norm out")
    if p == np.inf or p == -np.inf:
        pick = (np.abs(v) == y).astype(np.float64)
        return g * np.sign(v) * pick / np.sum(pick)
    if y == 0:
        return np.zeros(v.shape)
    return g * np.sign(v) * (np.abs(v) / y) ** (p - 1.0)


@njit(cache=True)
def _matrix_grad(m, g, p, kind):
    if kind == _FRO:
        y = np.sqrt(np.sum(m * m))
        return m * (0.0 if y == 0 else g / y)
    if kind == _NUC or p == 2.0 or p == -2.0:
        u, s, vh = np.linalg.svd(m, False)
        if kind == _NUC:
            return g * (u @ vh)
        k = 0 if p == 2.0 else s.size - 1
        return g * np.outer(u[:, k], vh[k])
    if p == 1.0 or p == -1.0 or p == np.inf or p == -np.inf:
        along = 0 if p == 1.0 or p == -1.0 else 1        # 1: column sums (over rows); inf: row sums
        sums = np.sum(np.abs(m), axis=along)
        best = np.max(sums) if p > 0 else np.min(sums)
        pick = (sums == best).astype(np.float64)
        w = np.zeros(m.shape)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                w[i, j] = pick[j] if along == 0 else pick[i]
        return g * np.sign(m) * w / np.sum(pick)
    raise MissingRuleError("no derivative rule for this matrix norm order; hint: use ord in (None, 'fro', "
                           "'nuc', 2, -2, 1, -1, inf, -inf)")


@overload(_lin.norm_grad, prefer_literal=True)
def _norm_grad(g, x, y, ord=None, axis=None, keepdims=False):
    plan = _plan(x, ord, axis, keepdims)
    if plan is None:
        return None
    matrix, axes, keep, kind, _ = plan
    perm, rows, inner, shape, inv = _perm_source(x.ndim, axes, keep)
    if matrix:
        part, body = f"({rows}, {inner})", "out[i] = _matrix_grad(flat[i], gs[i], p, KIND)"
    else:
        part, body = f"({rows}, {inner.replace(', ', ' * ')})", "out[i] = _vector_grad(flat[i], gs[i], ys[i], p, KIND)"
    src = (f"def impl(g, x, y, ord=None, axis=None, keepdims=False):\n"
           f"    t = np.ascontiguousarray(x.transpose({perm!r})).astype(np.float64)\n"
           f"    flat = t.reshape({part})\n"
           f"    gs, ys = _flat(g), _flat(y)\n"
           f"    p = {_pvalue(ord)}\n"
           f"    out = np.empty(flat.shape)\n"
           f"    for i in range(flat.shape[0]):\n"
           f"        {body.replace('KIND', str(kind))}\n"
           f"    return np.ascontiguousarray(out.reshape(t.shape).transpose({inv!r}))\n")
    return compile_source(src, _vector_grad=_vector_grad, _matrix_grad=_matrix_grad, _flat=_flat)
