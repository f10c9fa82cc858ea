"""Matrix products Numba's `@` lacks, for the numba backend: integer and batched (3-D) operands.

Numba 0.68 compiles `a @ b` only for float arrays of one or two dimensions (through BLAS).  The numba
backend rewrites every `@` and `np.matmul` of the generated code into `matmul(a, b)`.  The overload
below hands the float 1-D/2-D cases straight to `@`, so they cost nothing; integer (or mixed) products
become plain loops, and a batched product is a loop of 2-D products over the leading axis, where an
operand with a batch of one, or a 2-D operand, is broadcast.  The cotangents `matmul_grad_a/b` get the
same batched and integer cases here (the float 2-D ones live in numba_runtime).
"""
import numpy as np
from numba import types
from numba.extending import overload

from .. import runtime as _py

__all__ = ["matmul"]


def matmul(a, b):
    return np.matmul(a, b)


def _arrays(*ts):
    return all(isinstance(t, types.Array) for t in ts)


def _floats(*ts):
    return all(isinstance(t.dtype, types.Float) for t in ts)


def _batched(a, b):
    return max(a.ndim, b.ndim) == 3 and min(a.ndim, b.ndim) >= 2


@overload(matmul)
def _matmul(a, b):
    if not _arrays(a, b) or max(a.ndim, b.ndim) > 3 or min(a.ndim, b.ndim) < 1:
        return None
    if a.ndim <= 2 and b.ndim <= 2:
        if _floats(a, b) and a.dtype == b.dtype:
            return lambda a, b: a @ b
        dt = np.float64 if _floats(a) or _floats(b) else np.int64
        if a.ndim == 1 and b.ndim == 1:
            def dot11(a, b):
                s = dt(0)
                for p in range(a.shape[0]):
                    s += a[p] * b[p]
                return s
            return dot11
        if a.ndim == 1:
            return lambda a, b: _loops(np.ascontiguousarray(a).reshape((1, a.shape[0])), b, dt)[0]
        if b.ndim == 1:
            return lambda a, b: _loops(a, np.ascontiguousarray(b).reshape((b.shape[0], 1)), dt)[:, 0]
        return lambda a, b: _loops(a, b, dt)
    if not _batched(a, b):
        return None
    if a.ndim == 3 and b.ndim == 3:
        def bmm33(a, b):
            n = max(a.shape[0], b.shape[0])
            if a.shape[0] not in (1, n) or b.shape[0] not in (1, n):
                raise ValueError("matmul: batch sizes do not broadcast")
            first = matmul(a[0], b[0])
            out = np.empty((n,) + first.shape, dtype=first.dtype)
            for k in range(n):
                out[k] = matmul(a[k if a.shape[0] > 1 else 0], b[k if b.shape[0] > 1 else 0])
            return out
        return bmm33
    if a.ndim == 3:
        def bmm32(a, b):
            first = matmul(a[0], b)
            out = np.empty((a.shape[0],) + first.shape, dtype=first.dtype)
            for k in range(a.shape[0]):
                out[k] = matmul(a[k], b)
            return out
        return bmm32

    def bmm23(a, b):
        first = matmul(a, b[0])
        out = np.empty((b.shape[0],) + first.shape, dtype=first.dtype)
        for k in range(b.shape[0]):
            out[k] = matmul(a, b[k])
        return out
    return bmm23


def _loops(a, b, dt):
    return np.dot(a, b).astype(dt)


@overload(_loops)
def _loops_ol(a, b, dt):
    def impl(a, b, dt):
        m, k, n = a.shape[0], a.shape[1], b.shape[1]
        if b.shape[0] != k:
            raise ValueError("matmul: shapes do not align")
        out = np.zeros((m, n), dtype=dt)
        for i in range(m):
            for p in range(k):
                aip = a[i, p]
                for j in range(n):
                    out[i, j] += aip * b[p, j]
        return out
    return impl


def _swap(x):
    return np.swapaxes(x, -1, -2)


@overload(_swap)
def _swap_ol(x):
    if x.ndim == 2:
        return lambda x: x.T
    if x.ndim == 3:
        return lambda x: np.ascontiguousarray(x.transpose((0, 2, 1)))
    return None


def _sum_to(g, x):
    return _py.unbroadcast(g, x)


@overload(_sum_to)
def _sum_to_ol(g, x):
    """A batched cotangent summed down to its operand: over the batch for a 2-D operand, or over a
    batch of one."""
    if g.ndim == 3 and x.ndim == 2:
        def lead(g, x):
            out = np.zeros(g.shape[1:], dtype=g.dtype)
            for k in range(g.shape[0]):
                out += g[k]
            return out
        return lead
    if g.ndim == 3 and x.ndim == 3:
        def batch(g, x):
            if x.shape[0] == g.shape[0]:
                return g
            out = np.zeros((1,) + g.shape[1:], dtype=g.dtype)
            for k in range(g.shape[0]):
                out[0] += g[k]
            return out
        return batch
    return None


def matmul_grad_overload(which):
    """The overload of `matmul_grad_<which>` for batched and integer operands (numba_runtime registers it
    next to its own, which covers float 1-D/2-D operands)."""
    def ol(g, a, b):
        if not _arrays(a, b):
            return None
        if _batched(a, b):
            if which == "a":
                return lambda g, a, b: _sum_to(matmul(g, _swap(b)), a)
            return lambda g, a, b: _sum_to(matmul(_swap(a), g), b)
        if _floats(a, b) or a.ndim > 2 or b.ndim > 2:
            return None                                 # float 1-/2-D: numba_runtime's BLAS version
        # integer (or mixed) operands of one or two dimensions: the cotangent of the float one
        if which == "a":
            if a.ndim == 1 and b.ndim == 1:
                return lambda g, a, b: g * b.astype(np.float64)
            if b.ndim == 1:
                return lambda g, a, b: np.outer(g, b.astype(np.float64))
            if a.ndim == 1:
                return lambda g, a, b: matmul(b, g)
            return lambda g, a, b: matmul(g, b.T)
        if a.ndim == 1 and b.ndim == 1:
            return lambda g, a, b: g * a.astype(np.float64)
        if a.ndim == 1:
            return lambda g, a, b: np.outer(a.astype(np.float64), g)
        return lambda g, a, b: matmul(a.T, g)
    return ol



def lower_products(tree):
    """Rewrite `a @ b` and `np.matmul(a, b)` in generated code into `matmul(a, b)`."""
    import gast

    def call(a, b):
        return gast.Call(func=gast.Name(id="matmul", ctx=gast.Load(), annotation=None, type_comment=None),
                         args=[a, b], keywords=[])

    class Lower(gast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            return call(node.left, node.right) if isinstance(node.op, gast.MatMult) else node

        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if (isinstance(f, gast.Attribute) and f.attr == "matmul" and isinstance(f.value, gast.Name)
                    and f.value.id == "np" and len(node.args) == 2 and not node.keywords):
                return call(*node.args)
            return node
    return Lower().visit(tree)
