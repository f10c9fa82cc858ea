"""np.dot and np.kron of the operands Numba's lack: a scalar (or 0-d) operand, N-D operands, mixed ranks
(Numba's np.dot takes 1-D/2-D arrays, its np.kron arrays of up to 2-D).  np.dot of 1-D/2-D arrays stays
the product `matmul` (BLAS for floats); every other np.dot, and its cotangents, is the einsum of its
letters (numba_contractions.einsum_source: a nest of loops generated for the ranks).  np.kron is a nest
of loops over the pairs (a's index, b's index), generated for the ranks.  `lower_dots` rewrites
`np.dot` / `a.dot(b)` into dot_value and `np.kron` into kron_value."""
import numpy as np
from numba import types
from numba.extending import overload

from .numba_axes import compile_source
from .numba_contractions import _dtype, _ndim, _operands, einsum_source
from .numba_products import matmul

__all__ = ["dot_value", "kron_value"]

_LETTERS = "abcdefghijklmnopqrstuvwxy"


def dot_subscripts(na, nb):
    """np.dot as einsum subscripts: a's last axis against b's second-to-last (its only one when 1-D);
    a scalar operand multiplies."""
    if na == 0 or nb == 0:
        a, b = _LETTERS[:na], _LETTERS[:nb]
        return f"{a},{b}->{a or b}"
    lead_a, z = _LETTERS[:na - 1], "z"
    rest = _LETTERS[na - 1:na - 1 + nb - 1]          # b's axes but the contracted one
    b = z if nb == 1 else rest[:-1] + z + rest[-1]
    return f"{lead_a}{z},{b}->{lead_a}{rest}"


def dot_value(a, b):
    """np.dot(a, b), what the numba lowering calls it."""
    return np.dot(a, b)


def _small(a, b):
    return all(isinstance(t, types.Array) and 1 <= t.ndim <= 2 for t in (a, b))


@overload(dot_value)
def _dot_value(a, b):
    ts = _operands((a, b))
    if not ts or len(ts) != 2:
        return None
    if _small(a, b):
        return lambda a, b: matmul(a, b)
    src = einsum_source(dot_subscripts(_ndim(a), _ndim(b)), ts, head="def impl(a, b):", names=("a", "b"))
    return compile_source(src) if src else None


def dot_grad_source(which, g, a, b):
    """Source of np.dot's cotangent of operand `which` (0: a, 1: b) as an einsum, for the cases `@` is not."""
    ts = _operands((a, b))
    if not ts or len(ts) != 2 or not isinstance(g, (types.Array, types.Number)):
        return None
    return einsum_source(dot_subscripts(_ndim(a), _ndim(b)), ts, grad=which, gt=g, head="def impl(g, a, b):",
                         names=("a", "b"))


def kron_value(a, b):
    """np.kron(a, b), what the numba lowering calls it."""
    return np.kron(a, b)


@overload(kron_value)
def _kron_value(a, b):
    ts = _operands((a, b))
    if not ts or len(ts) != 2:
        return None
    na, nb = _ndim(a), _ndim(b)
    n = max(na, nb)
    if n == 0:
        return lambda a, b: a * b
    # the ranks made equal with leading 1s, as NumPy does; out[p * nb + q] = a[p] * b[q] along each axis
    sa = "(" + "".join("1, " for _ in range(n - na)) + "".join(f"a.shape[{d}], " for d in range(na)) + ")"
    sb = "(" + "".join("1, " for _ in range(n - nb)) + "".join(f"b.shape[{d}], " for d in range(nb)) + ")"
    lines = ["def impl(a, b):",
             f"    A = np.ascontiguousarray(np.asarray(a)).reshape({sa})",
             f"    B = np.ascontiguousarray(np.asarray(b)).reshape({sb})",
             "    out = np.empty((" + "".join(f"A.shape[{d}] * B.shape[{d}], " for d in range(n)) + "), dtype=dt)"]
    pad = "    "
    for d in range(n):
        lines.append(pad + f"for p{d} in range(A.shape[{d}]):")
        pad += "    "
        lines.append(pad + f"for q{d} in range(B.shape[{d}]):")
        pad += "    "
    comma = "," if n == 1 else ""
    gi = ", ".join(f"p{d} * B.shape[{d}] + q{d}" for d in range(n)) + comma
    pi = ", ".join(f"p{d}" for d in range(n)) + comma
    qi = ", ".join(f"q{d}" for d in range(n)) + comma
    lines.append(pad + f"out[{gi}] = A[{pi}] * B[{qi}]")
    lines.append("    return out")
    return compile_source("\n".join(lines) + "\n", dt=np.dtype(_dtype(ts)).type)


def lower_dots(tree):
    """`np.dot(a, b)` and the method `a.dot(b)` become dot_value, `np.kron(a, b)` kron_value."""
    import gast

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if not (isinstance(f, gast.Attribute) and f.attr in ("dot", "kron")) or node.keywords:
                return node
            on_np = isinstance(f.value, gast.Name) and f.value.id == "np"
            if f.attr == "kron":
                if on_np and len(node.args) == 2:
                    node.func = gast.Name(id="kron_value", ctx=gast.Load(), annotation=None, type_comment=None)
                return node
            if isinstance(f.value, gast.Attribute) and f.value.attr == "linalg":
                return node
            args = list(node.args) if on_np else [f.value] + list(node.args)
            if len(args) == 2:
                node.func, node.args = gast.Name(id="dot_value", ctx=gast.Load(), annotation=None,
                                                 type_comment=None), args
            return node
    return Lower().visit(tree)
