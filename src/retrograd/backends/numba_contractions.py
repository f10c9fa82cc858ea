"""np.einsum and np.tensordot for the numba backend (Numba's NumPy has neither), forward and adjoint.

The subscripts are a string literal in the generated code (the rule refuses any other form), so the
whole contraction is known when Numba types the call: the overloads below turn it into one nest of
loops over every letter, generated as source for the operands' ranks (which fix how `...` expands).
The forward accumulates `out[out letters] += x0[..] * x1[..] * ...`; the cotangent of operand k is the
same nest with the roles swapped, `dk[k's letters] += g[out letters] * (the other operands)`, which
covers in one form what the python backend's einsum_grad builds from identity matrices and broadcasts:
a repeated letter of operand k writes its diagonal, a letter only operand k has is broadcast back, and
an axis of size 1 that broadcast against a longer one is indexed at 0 and so summed back.
np.tensordot is the einsum of its axes: the numba lowering passes constant axes as their source text
(a string literal), turned into subscripts once the ranks are known.
"""
import ast

import numpy as np
from numba import types
from numba.extending import overload
from numba.np.numpy_support import as_dtype

from ..reverse.rules import contractions as _rules
from .numba_axes import compile_source, is_none, literal_int

__all__ = ["einsum_value", "tensordot_value", "tensordot_grad_value", "matvec_value", "vecmat_value", "vecdot_value",
           "matrix_power_value", "multi_dot_value"]

_OPERANDS = ("x0", "x1", "x2", "x3")


def _operands(ts):
    """The operand types up to the first None, or None if one is neither an array nor a number."""
    out = []
    for t in ts:
        if is_none(t):
            break
        if not isinstance(t, (types.Array, types.Number)) or isinstance(t, types.Boolean):
            return None
        if isinstance(t, types.Array) and not isinstance(t.dtype, (types.Integer, types.Float, types.Complex)):
            return None
        out.append(t)
    return out


def _ndim(t):
    return t.ndim if isinstance(t, types.Array) else 0


def _dtype(ts):
    return np.result_type(*[as_dtype(t.dtype if isinstance(t, types.Array) else t) for t in ts])


def _terms(subscripts, ts):
    """Per-operand letters (with `...` spelled out) and the output's, from the literal subscripts."""
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1 or len(spec.split("->")[0].split(",")) != len(ts):
        return None
    terms, out, _ = _rules._parse(spec, [(1,) * _ndim(t) for t in ts])
    if any(len(t) != _ndim(x) for t, x in zip(terms, ts)) or len(set(out)) != len(out):
        return None
    if not set(out) <= set("".join(terms)):
        return None
    return terms, out


def _sizes_source(terms, names, ts):
    """Source that sets n_<c> for every letter: the broadcast of its axes' lengths (1 stretches; within
    one operand a repeated letter's axes must be equal, as NumPy requires), and b_<j>_<a>, 0 where axis a
    of operand j has length 1 (so it is read, or written, at index 0)."""
    lines, seen = [], []
    for j, (term, name, t) in enumerate(zip(terms, names, ts)):
        for a, c in enumerate(term):
            if c not in seen:
                seen.append(c)
                lines.append(f"    n_{c} = 1")
            lines.append(f"    s = {name}.shape[{a}]")
            lines.append(f"    if s != 1:\n        if n_{c} != 1 and n_{c} != s:\n"
                         f"            raise ValueError('einsum: operands could not be broadcast together')\n"
                         f"        n_{c} = s")
            lines.append(f"    b_{j}_{a} = 1 if s != 1 else 0")
            first = term.index(c)
            if first != a:
                lines.append(f"    if {name}.shape[{first}] != s:\n"
                             "        raise ValueError('einsum: repeated subscript with axes of different lengths')")
    return "\n".join(lines) + "\n", seen


def _ref(name, term, j, t):
    if not isinstance(t, types.Array):
        return name
    if t.ndim == 0:
        return f"{name}[()]"
    return f"{name}[" + ", ".join(f"i_{c} * b_{j}_{a}" for a, c in enumerate(term)) + ("," if len(term) == 1 else "") + "]"


def _nest(letters, body, indent=1):
    pad = "    " * indent
    lines = [pad + "    " * k + f"for i_{c} in range(n_{c}):" for k, c in enumerate(letters)]
    return "\n".join(lines + [pad + "    " * len(letters) + body]) + "\n"


def _letters(terms, out):
    """Every letter, the output's first (its loops outermost: writes stay close together)."""
    order = list(out)
    for c in "".join(terms):
        if c not in order:
            order.append(c)
    return order


def einsum_source(subscripts, ts, grad=None, gt=None, head="def impl(subscripts, x0, x1=None, x2=None, x3=None):",
                  names=_OPERANDS):
    """The implementation of np.einsum (grad None) or of the cotangent of operand `grad` (g of type gt);
    `names` the operands' parameter names in `head`."""
    got = _terms(subscripts, ts)
    if got is None:
        return None
    terms, out = got
    names = list(names[:len(ts)])
    sizes, _ = _sizes_source(terms, names, ts)
    order = _letters(terms, out)
    if grad is None:
        dt = _dtype(ts)
        prod = " * ".join(_ref(n, tm, j, t) for j, (n, tm, t) in enumerate(zip(names, terms, ts))) or "1"
        if out:
            shape = "(" + "".join(f"n_{c}, " for c in out) + ")"
            init = f"    out = np.zeros({shape}, dtype=np.{dt.name})\n"
            body = "out[" + ", ".join(f"i_{c}" for c in out) + ("," if len(out) == 1 else "") + f"] += {prod}"
            tail = "    return out\n"
        else:
            init, body, tail = f"    out = np.{dt.name}(0)\n", f"out += {prod}", "    return out\n"
        return f"{head}\n{sizes}{init}" + _nest(order, body) + tail
    k = grad
    dt = _dtype([gt] + [t for j, t in enumerate(ts) if j != k] + [types.float64])
    if isinstance(gt, types.Array) and gt.ndim != len(out):
        return None
    gref = ("g" if not isinstance(gt, types.Array) else "g[()]" if gt.ndim == 0 else
            "g[" + ", ".join(f"i_{c}" for c in out) + ("," if len(out) == 1 else "") + "]")
    factors = [gref] + [_ref(n, tm, j, t) for j, (n, tm, t) in enumerate(zip(names, terms, ts)) if j != k]
    prod = " * ".join(factors)
    mine, tk = terms[k], ts[k]
    if isinstance(tk, types.Array) and tk.ndim:
        init = f"    out = np.zeros({names[k]}.shape, dtype=np.{dt.name})\n"
        target = _ref("out", mine, k, tk)
        tail = "    return out\n"
    else:
        init, target = f"    out = np.{dt.name}(0)\n", "out"
        tail = "    return out\n" if not isinstance(tk, types.Array) else "    return np.full((), out)\n"
    return f"{head}\n{sizes}{init}" + _nest(order, f"{target} += {prod}") + tail


def _literal_str(t):
    return t.literal_value if isinstance(t, types.StringLiteral) else None


def einsum_value(subscripts, x0, x1=None, x2=None, x3=None):
    """np.einsum(subscripts, *operands), what the numba lowering calls it (fixed arity, no keywords)."""
    return np.einsum(subscripts, *[x for x in (x0, x1, x2, x3) if x is not None])


@overload(einsum_value, prefer_literal=True)
def _einsum_value(subscripts, x0, x1=None, x2=None, x3=None):
    spec, ts = _literal_str(subscripts), _operands((x0, x1, x2, x3))
    if spec is None or not ts:
        return None
    src = einsum_source(spec, ts)
    return compile_source(src) if src else None


@overload(_rules.einsum_grad, prefer_literal=True)
def _einsum_grad(g, subscripts, k, x0, x1=None, x2=None, x3=None):
    spec, ts, kk = _literal_str(subscripts), _operands((x0, x1, x2, x3)), literal_int(k)
    if spec is None or not ts or kk is None or not 0 <= kk < len(ts):
        return None
    if not isinstance(g, (types.Array, types.Number)):
        return None
    src = einsum_source(spec, ts, grad=kk, gt=g, head="def impl(g, subscripts, k, x0, x1=None, x2=None, x3=None):")
    return compile_source(src) if src else None


# ---- np.tensordot: the einsum of its axes -------------------------------------------------------------------
def _tensordot_spec(axes_text, ta, tb):
    try:
        axes = ast.literal_eval(axes_text)
    except (ValueError, SyntaxError):
        return None
    na, nb = _ndim(ta), _ndim(tb)
    if isinstance(axes, int):
        if not 0 <= axes <= min(na, nb):
            return None
    elif not (isinstance(axes, (tuple, list)) and len(axes) == 2):
        return None
    else:
        pa, pb = ([p] if isinstance(p, int) else list(p) for p in axes)
        if len(pa) != len(pb) or not all(isinstance(i, int) and -n <= i < n
                                         for p, n in ((pa, na), (pb, nb)) for i in p):
            return None
    return _rules.tensordot_subscripts(np.empty((1,) * na), np.empty((1,) * nb), axes)


def tensordot_value(a, b, axes):
    """np.tensordot(a, b, axes) with `axes` the source text of a constant (the numba lowering's form)."""
    return np.tensordot(a, b, ast.literal_eval(axes))


def tensordot_grad_value(g, a, b, axes, k):
    return _rules.tensordot_grad(g, a, b, ast.literal_eval(axes), k)


@overload(tensordot_value, prefer_literal=True)
def _tensordot_value(a, b, axes):
    text, ts = _literal_str(axes), _operands((a, b))
    if text is None or ts is None or len(ts) != 2:
        return None
    spec = _tensordot_spec(text, a, b)
    src = spec and einsum_source(spec, ts, head="def impl(a, b, axes):\n    x0, x1 = a, b")
    return compile_source(src) if src else None


@overload(tensordot_grad_value, prefer_literal=True)
def _tensordot_grad_value(g, a, b, axes, k):
    text, ts, kk = _literal_str(axes), _operands((a, b)), literal_int(k)
    if text is None or ts is None or len(ts) != 2 or kk not in (0, 1):
        return None
    if not isinstance(g, (types.Array, types.Number)):
        return None
    spec = _tensordot_spec(text, a, b)
    src = spec and einsum_source(spec, ts, grad=kk, gt=g, head="def impl(g, a, b, axes, k):\n    x0, x1 = a, b")
    return compile_source(src) if src else None


def lower_contractions(tree):
    """`np.einsum('<literal>', ops..., optimize=...)` becomes einsum_value (optimize changes no value);
    `np.tensordot(a, b, <constant axes>)` and its cotangent helper get the axes as their source text."""
    import gast

    def name(n):
        return gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)

    def const_text(node):
        try:
            value = ast.literal_eval(gast.gast_to_ast(node))
        except (ValueError, SyntaxError, TypeError):
            return None
        return repr(value)

    # the adjoint binds a tuple argument to a name once (`tensordot_x_y_1 = ([0, 2], [2, 0])`): its value
    counts, consts = {}, {}
    for n in gast.walk(tree):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            counts[n.id] = counts.get(n.id, 0) + 1
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            text = const_text(n.value)
            if text is not None:
                consts[n.targets[0].id] = text

    def axes_text(node):
        if isinstance(node, gast.Name):
            return consts.get(node.id) if counts.get(node.id) == 1 else None
        return const_text(node)

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            on_np = (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "np")
            on_la = (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Attribute)
                     and isinstance(f.value.value, gast.Name) and f.value.value.id == "np"
                     and f.value.attr == "linalg")
            if on_np and f.attr == "einsum":
                if (node.args and isinstance(node.args[0], gast.Constant) and isinstance(node.args[0].value, str)
                        and 2 <= len(node.args) <= 5 and all(k.arg == "optimize" for k in node.keywords)):
                    node.func, node.keywords = name("einsum_value"), []
                return node
            if on_np and f.attr == "cross" and len(node.args) > 2 and not node.keywords \
                    and [const_text(a) for a in node.args[2:]] == ["-1", "-1", "-1", "None"][:len(node.args) - 2]:
                node.args = node.args[:2]          # the tangent's defaults spelled out: Numba's takes (a, b) only
                return node
            gufuncs = {"matvec": "matvec_value", "vecmat": "vecmat_value", "vecdot": "vecdot_value"}
            if ((on_np and f.attr in gufuncs) or (on_la and f.attr == "vecdot")) \
                    and all(k.arg == "axis" for k in node.keywords) and len(node.args) == 2:
                node.func = name(gufuncs[f.attr])
                return node
            if on_la and f.attr in ("matrix_power", "multi_dot") and not node.keywords:
                node.func = name(f.attr + "_value")
                if f.attr == "multi_dot" and len(node.args) == 1 and isinstance(node.args[0], gast.List):
                    node.args[0] = gast.Tuple(elts=node.args[0].elts, ctx=gast.Load())
                return node
            if (on_np or on_la) and f.attr == "tensordot":
                args = list(node.args)
                kw = {k.arg: k.value for k in node.keywords}
                if len(args) + len(kw) > 3 or set(kw) - {"a", "b", "axes"}:
                    return node
                for p, i in (("a", 0), ("b", 1), ("axes", 2)):
                    if p in kw:
                        if len(args) != i:
                            return node
                        args.append(kw.pop(p))
                if len(args) == 2:
                    args.append(gast.Constant(value=2, kind=None))
                text = axes_text(args[2])
                if text is None:
                    return node
                node.func, node.keywords = name("tensordot_value"), []
                node.args = args[:2] + [gast.Constant(value=text, kind=None)]
                return node
            if isinstance(f, gast.Name) and f.id == "multi_dot_tangent" and not node.keywords:
                # the tangent's lists of matrices (and of their tangents) hold arrays of different ranks
                node.args = [gast.Tuple(elts=a.elts, ctx=gast.Load()) if isinstance(a, gast.List) else a
                             for a in node.args]
                return node
            if isinstance(f, gast.Name) and f.id == "tensordot_grad" and len(node.args) == 5 and not node.keywords:
                text = axes_text(node.args[3])
                if text is not None:
                    node.func = name("tensordot_grad_value")
                    node.args[3] = gast.Constant(value=text, kind=None)
                return node
            return node
    return Lower().visit(tree)


# ---- products spelled as einsums: np.inner, np.vdot, np.matvec, np.vecmat, np.vecdot and their cotangents --
_L = "abcdefghijklmnopqrstuvwxy"


def _inner_spec(na, nb):
    """np.inner: the last axes contracted (a 0-d operand multiplies)."""
    if na == 0 or nb == 0:
        return f"{_L[:na]},{_L[10:10 + nb]}->{_L[:na]}{_L[10:10 + nb]}"
    a, b = _L[:na - 1], _L[10:10 + nb - 1]
    return f"{a}z,{b}z->{a}{b}"


def _aligned(ns, axis_from_end, out_drop=True):
    """Letters of operands of ranks ns broadcast right-aligned, the axis `axis_from_end` (1: last) of each
    contracted as 'z'."""
    big = max(ns)
    letters = list(_L[:big])
    pos = big - axis_from_end
    terms = []
    for n in ns:
        t = letters[big - n:]
        if n < axis_from_end:
            return None
        t[n - axis_from_end] = "z"
        terms.append("".join(t))
    out = "".join(c for k, c in enumerate(letters) if k != pos)
    return ",".join(terms) + "->" + out


def _compiled(spec, ts, head, grad=None, gt=None, names=_OPERANDS):
    src = spec and einsum_source(spec, ts, grad=grad, gt=gt, head=head, names=names)
    return compile_source(src) if src else None


@overload(np.inner)
def _inner(a, b):
    ts = _operands((a, b))
    if not ts or len(ts) != 2:
        return None
    return _compiled(_inner_spec(_ndim(a), _ndim(b)), ts, "def impl(a, b):\n    x0, x1 = a, b")


def _inner_grad_ol(k):
    def ol(g, a, b):
        ts = _operands((a, b))
        if not ts or len(ts) != 2 or not isinstance(g, (types.Array, types.Number)):
            return None
        return _compiled(_inner_spec(_ndim(a), _ndim(b)), ts, "def impl(g, a, b):\n    x0, x1 = a, b", k, g)
    return ol


@overload(np.vdot)
def _vdot(a, b):
    ts = _operands((a, b))
    if not ts or len(ts) != 2 or not all(isinstance(t, types.Array) for t in ts):
        return None
    if any(isinstance(t.dtype, types.Complex) for t in ts):
        return None       # vdot conjugates its first operand: real operands only here
    return lambda a, b: einsum_value("i,i->", np.ascontiguousarray(a).ravel(), np.ascontiguousarray(b).ravel())


def _spec_matvec(ta, tb):
    na, nb = _ndim(ta), _ndim(tb)
    if na < 2 or nb < 1:
        return None
    return "...ij,...j->...i"


def _spec_vecmat(ta, tb):
    if _ndim(ta) < 1 or _ndim(tb) < 2:
        return None
    return "...i,...ij->...j"


def matvec_value(x1, x2):
    """np.matvec (a gufunc, which Numba would take for an elementwise ufunc): the numba lowering's name."""
    return np.matvec(x1, x2)


def vecmat_value(x1, x2):
    return np.vecmat(x1, x2)


def vecdot_value(x1, x2, axis=-1):
    return np.vecdot(x1, x2, axis=axis)


for _fn, _spec in ((matvec_value, _spec_matvec), (vecmat_value, _spec_vecmat)):
    def _make(spec_of):
        def ol(x1, x2):
            ts = _operands((x1, x2))
            if not ts or len(ts) != 2 or any(isinstance(getattr(t, "dtype", t), types.Complex) for t in ts):
                return None
            return _compiled(spec_of(x1, x2), ts, "def impl(x1, x2):", names=("x1", "x2"))
        return ol
    overload(_fn)(_make(_spec))


def _vecdot_spec(ta, tb, axis):
    ax = literal_int(axis, -1)
    if ax is None:
        return None
    ns = [_ndim(ta), _ndim(tb)]
    k = -ax if ax < 0 else max(ns) - ax
    return _aligned(ns, k) if k >= 1 else None


def _vecdot(x1, x2, axis=-1):
    ts = _operands((x1, x2))
    if not ts or len(ts) != 2 or any(isinstance(getattr(t, "dtype", t), types.Complex) for t in ts):
        return None
    return _compiled(_vecdot_spec(x1, x2, axis), ts, "def impl(x1, x2, axis=-1):", names=("x1", "x2"))


overload(vecdot_value, prefer_literal=True)(_vecdot)


@overload(_rules.vecdot_grad, prefer_literal=True)
def _vecdot_grad(g, x1, x2, axis=-1):
    ts = _operands((x1, x2))
    if not ts or len(ts) != 2 or not isinstance(g, (types.Array, types.Number)):
        return None
    return _compiled(_vecdot_spec(x1, x2, axis), ts, "def impl(g, x1, x2, axis=-1):", 0, g, names=("x1", "x2"))


from ..reverse.rules import linalg as _linalg  # noqa: E402

overload(_linalg.inner_grad)(_inner_grad_ol(0))
overload(_linalg.inner_grad_b)(_inner_grad_ol(1))


# ---- np.kron's cotangents: g read as (a0, b0, a1, b1, ...) blocks -------------------------------------------
@overload(_rules.kron_grad, prefer_literal=True)
def _kron_grad(g, a, b, k):
    kk = literal_int(k)
    ts = _operands((a, b))
    if kk not in (0, 1) or not ts or len(ts) != 2 or not isinstance(g, types.Array):
        return None
    na, nb = _ndim(a), _ndim(b)
    n = max(na, nb)
    if g.ndim != n or n == 0:
        return None
    sa = "(" + "".join("1, " for _ in range(n - na)) + "".join(f"a.shape[{d}], " for d in range(na)) + ")"
    sb = "(" + "".join("1, " for _ in range(n - nb)) + "".join(f"b.shape[{d}], " for d in range(nb)) + ")"
    lines = ["def impl(g, a, b, k):",
             f"    A = np.ascontiguousarray(np.asarray(a)).reshape({sa})",
             f"    B = np.ascontiguousarray(np.asarray(b)).reshape({sb})",
             f"    out = np.zeros({sa if kk == 0 else sb})"]
    pad = "    "
    for d in range(n):
        lines.append(pad + f"for p{d} in range(A.shape[{d}]):")
        pad += "    "
        lines.append(pad + f"for q{d} in range(B.shape[{d}]):")
        pad += "    "
    gi = ", ".join(f"p{d} * B.shape[{d}] + q{d}" for d in range(n)) + ("," if n == 1 else "")
    pi = ", ".join(f"p{d}" for d in range(n)) + ("," if n == 1 else "")
    qi = ", ".join(f"q{d}" for d in range(n)) + ("," if n == 1 else "")
    if kk == 0:
        lines.append(pad + f"out[{pi}] += g[{gi}] * B[{qi}]")
    else:
        lines.append(pad + f"out[{qi}] += g[{gi}] * A[{pi}]")
    own = "a" if kk == 0 else "b"
    tk = ts[kk]
    lines.append(f"    return out.reshape({own}.shape)" if isinstance(tk, types.Array) and tk.ndim
                 else "    return out.ravel()[0]")
    return compile_source("\n".join(lines) + "\n")


# ---- np.cross's cotangents, 3-vectors along the last axes: b x g and g x a --------------------------------
@overload(_rules.cross_grad, prefer_literal=True)
def _cross_grad(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, k=0):
    from ..runtime import unbroadcast
    kk = literal_int(k, 0)
    if not all(isinstance(t, types.Array) for t in (g, a, b)) or kk not in (0, 1) or not is_none(axis):
        return None
    if any(literal_int(t, -1) not in (-1,) for t in (axisa, axisb, axisc)):
        return None          # other axes: the python backend (Numba's np.cross takes none)
    if kk == 0:
        def ga(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, k=0):
            if a.shape[-1] != 3 or b.shape[-1] != 3:
                raise ValueError("cross: the numba backend takes 3-vectors only")
            return unbroadcast(np.cross(b, g), a)
        return ga

    def gb(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, k=0):
        if a.shape[-1] != 3 or b.shape[-1] != 3:
            raise ValueError("cross: the numba backend takes 3-vectors only")
        return unbroadcast(np.cross(g, a), b)
    return gb


@overload(np.linalg.cross, prefer_literal=True)
def _linalg_cross(x1, x2, axis=-1):
    if literal_int(axis, -1) != -1:
        return None
    return lambda x1, x2, axis=-1: np.cross(x1, x2)


# ---- np.linalg.matrix_power of a stack of matrices, and its cotangent ------------------------------------
def matrix_power_value(a, n):
    """np.linalg.matrix_power, what the numba lowering calls it (Numba's takes 2-D arrays only)."""
    return np.linalg.matrix_power(a, n)


@overload(matrix_power_value)
def _matrix_power_value(a, n):
    if not isinstance(a, types.Array) or not isinstance(n, types.Integer) or a.ndim not in (2, 3):
        return None
    if a.ndim == 2:
        return lambda a, n: np.linalg.matrix_power(np.ascontiguousarray(a), n)

    def stack(a, n):
        out = np.empty(a.shape)
        for k in range(a.shape[0]):
            out[k] = np.linalg.matrix_power(np.ascontiguousarray(a[k]), n)
        return out
    return stack


def _power_grad_2d(g, a, n):
    pass


@overload(_power_grad_2d)
def _power_grad_2d_ol(g, a, n):
    def impl(g, a, n):
        """sum_j (a^T)^j g (a^T)^(n-1-j); for n < 0 that of inv(a)^-n, through -inv^T gi inv^T."""
        m = a.shape[0]
        if n == 0:
            return np.zeros(a.shape)
        b = np.ascontiguousarray(a)
        p = n
        if n < 0:
            b = np.linalg.inv(b)
            p = -n
        bt = np.ascontiguousarray(b.T)
        powers = [np.eye(m)]
        for _ in range(p - 1):
            powers.append(powers[-1] @ bt)
        gc = np.ascontiguousarray(g)
        out = np.zeros((m, m))
        for j in range(p):
            out += powers[j] @ gc @ powers[p - 1 - j]
        if n < 0:
            out = -(bt @ out @ bt)
        return out
    return impl


@overload(_rules.matrix_power_grad)
def _matrix_power_grad(g, a, n):
    if not isinstance(a, types.Array) or not isinstance(g, types.Array) or a.ndim not in (2, 3):
        return None
    if not isinstance(n, types.Integer):
        return None
    if a.ndim == 2:
        return lambda g, a, n: _power_grad_2d(g, a, n)

    def stack(g, a, n):
        out = np.empty(a.shape)
        for k in range(a.shape[0]):
            out[k] = _power_grad_2d(g[k], a[k], n)
        return out
    return stack


# ---- np.linalg.multi_dot of a tuple of matrices (1-D ends a row and a column), and its cotangents ---------
def multi_dot_value(arrays):
    return np.linalg.multi_dot(list(arrays))


def _multi_dot_parts(ts):
    """Source lines making m0.. (each piece 2-D, as multi_dot reads 1-D ends) and the result's squeeze."""
    n = len(ts)
    lines = []
    for j, t in enumerate(ts):
        if t.ndim == 1 and j == 0:
            lines.append(f"    m{j} = np.ascontiguousarray(arrays[{j}]).reshape((1, arrays[{j}].shape[0]))")
        elif t.ndim == 1 and j == n - 1:
            lines.append(f"    m{j} = np.ascontiguousarray(arrays[{j}]).reshape((arrays[{j}].shape[0], 1))")
        else:
            lines.append(f"    m{j} = np.ascontiguousarray(arrays[{j}])")
    return lines


def _multi_dot_ok(arrays):
    if not isinstance(arrays, types.BaseTuple) or len(arrays) < 2:
        return False
    ts = arrays.types
    return all(isinstance(t, types.Array) and isinstance(t.dtype, types.Float) for t in ts) and all(
        t.ndim == 2 or (t.ndim == 1 and j in (0, len(ts) - 1)) for j, t in enumerate(ts))


@overload(multi_dot_value)
def _multi_dot_value(arrays):
    if not _multi_dot_ok(arrays):
        return None
    ts, n = arrays.types, len(arrays)
    lines = ["def impl(arrays):"] + _multi_dot_parts(ts)
    lines.append("    r = " + " @ ".join(f"m{j}" for j in range(n)))
    if ts[0].ndim == 1 and ts[-1].ndim == 1:
        lines.append("    return r[0, 0]")
    elif ts[0].ndim == 1:
        lines.append("    return np.ascontiguousarray(r[0])")
    elif ts[-1].ndim == 1:
        lines.append("    return np.ascontiguousarray(r[:, 0])")
    else:
        lines.append("    return r")
    return compile_source("\n".join(lines) + "\n")


@overload(_rules.multi_dot_grads)
def _multi_dot_grads(g, arrays):
    if not _multi_dot_ok(arrays):
        return None
    ts, n = arrays.types, len(arrays)
    lines = ["def impl(g, arrays):"] + _multi_dot_parts(ts)
    lines.append(f"    g2 = np.ascontiguousarray(np.asarray(g)).reshape((m0.shape[0], m{n - 1}.shape[1]))")
    outs = []
    for i in range(n):
        left = " @ ".join(f"m{j}" for j in range(i)) or f"np.eye(m0.shape[0])"
        right = " @ ".join(f"m{j}" for j in range(i + 1, n)) or f"np.eye(m{n - 1}.shape[1])"
        lines.append(f"    d{i} = np.ascontiguousarray(({left}).T @ g2 @ ({right}).T).reshape(arrays[{i}].shape)")
        outs.append(f"d{i}")
    lines.append("    return (" + ", ".join(outs) + ",)")
    return compile_source("\n".join(lines) + "\n")


# ---- np.convolve's cotangents: the cotangent placed in the 'full' result, correlated with the other ------
def _mode_start(mode):
    if is_none(mode) or mode == "full":
        return "full"
    if isinstance(mode, str):
        return mode
    if isinstance(mode, types.StringLiteral):
        return mode.literal_value
    if isinstance(mode, types.Omitted):
        return mode.value
    return None


@overload(_rules.convolve_grad, prefer_literal=True)
def _convolve_grad(g, a, v, mode="full", k=0):
    m, kk = _mode_start(mode), literal_int(k, 0)
    if m not in ("full", "same", "valid") or kk not in (0, 1):
        return None
    if not all(isinstance(t, types.Array) and t.ndim == 1 for t in (a, v)):
        return None
    start = {"full": "0", "same": "(min(n, p) - 1) // 2", "valid": "min(n, p) - 1"}[m]
    other = "v" if kk == 0 else "a"
    gval = "np.asarray(g).ravel()" if isinstance(g, types.Array) else "np.full(1, g)"
    src = (f"def impl(g, a, v, mode='full', k=0):\n    n, p = a.shape[0], v.shape[0]\n"
           f"    full = np.zeros(n + p - 1)\n    s = {start}\n    gv = {gval}\n"
           "    full[s:s + gv.size] = gv\n"
           f"    return np.correlate(full, np.ascontiguousarray({other}).astype(np.float64))\n")
    return compile_source(src)


# ---- np.correlate's cotangents: NumPy's correlate(a, v, mode) is a slice of convolve(a, v[::-1], 'full')
# (real operands), from 0 ('full'), min(n, p) - 1 ('valid'), or for 'same' (p - 1) // 2 when n >= p and
# n // 2 when n < p (NumPy swaps the operands then, which moves the centre of an even `a` by one).  The
# cotangent is placed in that full result and correlated with the other operand (reversed for a's, and
# the correlation reversed for v's).  Complex operands are refused (np.correlate conjugates v).
_CORRELATE_START = {"full": "0", "valid": "min(n, p) - 1", "same": "(p - 1) // 2 if n >= p else n // 2"}


@overload(_rules.correlate_grad, prefer_literal=True)
def _correlate_grad(g, a, v, mode="valid", k=0):
    m, kk = (None if is_none(mode) else _mode_start(mode)), literal_int(k, 0)
    if m not in _CORRELATE_START or kk not in (0, 1) or not (isinstance(g, types.Array) and g.ndim == 1):
        return None
    if not all(isinstance(t, types.Array) and t.ndim == 1 and isinstance(t.dtype, (types.Integer, types.Float))
               for t in (a, v)):
        return None
    cot = ("np.correlate(full, np.ascontiguousarray(v[::-1]).astype(np.float64))" if kk == 0 else
           "np.correlate(full, np.ascontiguousarray(a).astype(np.float64))[::-1].copy()")
    src = (f"def impl(g, a, v, mode='valid', k=0):\n    n, p = a.shape[0], v.shape[0]\n"
           f"    full = np.zeros(n + p - 1)\n    s = {_CORRELATE_START[m]}\n"
           f"    full[s:s + g.size] = g\n    return {cot}\n")
    return compile_source(src)
