"""Cotangents of tuple results of arrays for the numba backend (np.linalg.qr/eigh/eig/svd/slogdet of a
stack, ...): the generated adjoint starts from `dr = zeros_like(r)` and accumulates `dr[k] = add_into(dr[k],
g)`.  Numba's tuples are immutable, so the numba backend rewrites each such write into
`dr = tuple_set(dr, k, add_into(dr[k], g))`, which builds the new tuple (and is the plain item write for an
array or list).  (`zeros_like` of a tuple of arrays, the tuple of their zeros, is in numba_decompositions:
this module is imported by numba_runtime and imports none of it back.)"""
from numba import types
from numba.extending import overload

from .numba_axes import compile_source

__all__ = ["tuple_set"]


def tuple_set(x, k, v):
    x[k] = v
    return x


@overload(tuple_set, prefer_literal=True)
def _tuple_set(x, k, v):
    if isinstance(x, types.BaseTuple):
        if not isinstance(k, types.IntegerLiteral):
            return None
        n, i = len(x), k.literal_value % len(x)
        items = ", ".join("v" if j == i else f"x[{j}]" for j in range(n))
        return compile_source(f"def impl(x, k, v):\n    return ({items},)\n")

    def impl(x, k, v):
        x[k] = v
        return x
    return impl


def lower_tuple_writes(tree):
    """`X[k] = add_into(X[k], g)` (k a constant int) becomes `X = tuple_set(X, k, add_into(X[k], g))`."""
    import gast

    def name(n):
        return isinstance(n, gast.Name) and n.id

    class Lower(gast.NodeTransformer):
        def visit_Assign(self, node):
            t, v = node.targets[0] if len(node.targets) == 1 else None, node.value
            if (isinstance(t, gast.Subscript) and name(t.value) and isinstance(t.slice, gast.Constant)
                    and isinstance(t.slice.value, int) and isinstance(v, gast.Call) and name(v.func) == "add_into"):
                call = gast.Call(func=gast.Name(id="tuple_set", ctx=gast.Load(), annotation=None, type_comment=None),
                                 args=[gast.Name(id=t.value.id, ctx=gast.Load(), annotation=None, type_comment=None),
                                       gast.Constant(value=t.slice.value, kind=None), v], keywords=[])
                return gast.Assign(targets=[gast.Name(id=t.value.id, ctx=gast.Store(), annotation=None,
                                                      type_comment=None)], value=call, type_comment=None)
            return node
    return Lower().visit(tree)

