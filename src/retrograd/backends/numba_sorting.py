"""np.argsort, np.sort and np.partition along an axis, and with NumPy's keywords, for the numba backend.

Numba 0.68 sorts 1-D arrays (np.argsort) or along the last axis (np.sort, np.partition), and takes no
`axis=`, `stable=` or `order=` (np.partition no `kind=`; np.sort no `kind=` either).  `lower_sorting`
rewrites such calls of generated code, the axis a constant (None: the flattened array), into
`argsort_along(a, k, stable)` / `sort_along(a, k, stable)` / `partition_along(a, kth, k)`: the axis moved
last, each row sorted by Numba's own 1-D sort, mergesort where NumPy's sort is stable (kind 'stable' or
'mergesort', stable=True), so that ties (-0.0 and 0.0 among them) keep their order; partitioned by Numba's
np.partition, which puts NumPy's order statistic at each kth (the other entries, which NumPy leaves in an
order of its own, may lie elsewhere: the adjoint, unsort, ranks the result it is given, so it holds for
either arrangement).
(Imported by numba_runtime: imports none of it.)"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from .numba_axes import compile_source, is_none, literal_int
from .numba_gradient import _rows_source

__all__ = ["argsort_along", "sort_along", "partition_along"]


def argsort_along(a, axis=-1, stable=False):
    return np.argsort(a, axis=axis, kind="stable" if stable else None)


def sort_along(a, axis=-1, stable=False):
    return np.sort(a, axis=axis, kind="stable" if stable else None)


def partition_along(a, kth, axis=-1):
    return np.partition(a, kth, axis=axis)


@njit(cache=True)
def _argsort_rows(flat, stable):
    out = np.empty(flat.shape, dtype=np.int64)
    for r in range(flat.shape[0]):
        out[r] = np.argsort(flat[r], kind="mergesort") if stable else np.argsort(flat[r])
    return out


@njit(cache=True)
def _sort_rows(flat, stable):
    out = np.empty(flat.shape, dtype=flat.dtype)
    for r in range(flat.shape[0]):
        out[r] = flat[r][np.argsort(flat[r], kind="mergesort")] if stable else np.sort(flat[r])
    return out


def _along(a, axis, params, call):
    """Source applying `call` (a function of (rows, n) `flat`) along the constant `axis` of `a`."""
    if not isinstance(a, types.Array) or a.ndim == 0 or not isinstance(a.dtype, (types.Float, types.Integer)):
        return None
    if is_none(axis) and not isinstance(axis, types.Omitted):
        return (f"def impl({params}):\n"
                f"    flat = np.ascontiguousarray(a).reshape((1, a.size))\n"
                f"    return {call}[0]\n")
    ax = literal_int(axis, -1)
    if ax is None or not -a.ndim <= ax < a.ndim:
        return None
    pre, inv = _rows_source(a.ndim, (ax % a.ndim,), keep_dtype=True)
    return (f"def impl({params}):\n" + pre +
            f"    return np.ascontiguousarray({call}.reshape(t.shape).transpose({inv!r}))\n")


@overload(argsort_along, prefer_literal=True)
def _argsort_along(a, axis=-1, stable=False):
    src = _along(a, axis, "a, axis=-1, stable=False", "_argsort_rows(flat, stable)")
    return compile_source(src, _argsort_rows=_argsort_rows) if src else None


@overload(sort_along, prefer_literal=True)
def _sort_along(a, axis=-1, stable=False):
    src = _along(a, axis, "a, axis=-1, stable=False", "_sort_rows(flat, stable)")
    if src is None or not isinstance(a.dtype, types.Float):
        return None
    return compile_source(src, _sort_rows=_sort_rows)


def _kths(kth, n):
    pass


@overload(_kths)
def _kths_ol(kth, n):
    """kth (an int, or a 1-D sequence or array of ints) as an array in [0, n), NumPy's bounds [-n, n) checked."""
    def whole(t):
        return isinstance(t, types.Integer) and not isinstance(t, types.Boolean)
    if whole(kth):
        make = "np.full(1, np.int64(kth))"
    elif isinstance(kth, (types.UniTuple, types.List)) and whole(kth.dtype):
        make = "np.array(kth, dtype=np.int64)" if isinstance(kth, types.List) else "np.asarray(kth).astype(np.int64)"
    elif isinstance(kth, types.Array) and kth.ndim == 1 and whole(kth.dtype):
        make = "kth.astype(np.int64)"
    else:
        return None
    return compile_source(f"def impl(kth, n):\n"
                          f"    ks = {make}\n"
                          f"    for i in range(ks.size):\n"
                          f"        if ks[i] < -n or ks[i] >= n:\n"
                          f"            raise ValueError('kth out of bounds')\n"
                          f"        if ks[i] < 0:\n"
                          f"            ks[i] += n\n"
                          f"    return ks\n")


@overload(partition_along, prefer_literal=True)
def _partition_along(a, kth, axis=-1):
    """Numba's np.partition of `a` with the constant `axis` moved last (None: of the flattened array); like
    NumPy's, no kth is checked against an empty array."""
    if not isinstance(a, types.Array) or not isinstance(a.dtype, (types.Float, types.Integer, types.Boolean)):
        return None
    if is_none(axis) and not isinstance(axis, types.Omitted):
        return compile_source("def impl(a, kth, axis=-1):\n"
                              "    flat = np.ascontiguousarray(a).reshape(a.size)\n"
                              "    if flat.size == 0:\n"
                              "        return flat.copy()\n"
                              "    return np.partition(flat, _kths(kth, flat.size))\n", _kths=_kths)
    ax = literal_int(axis, -1)
    if a.ndim == 0 or ax is None or not -a.ndim <= ax < a.ndim:
        return None
    ax %= a.ndim
    perm = tuple(k for k in range(a.ndim) if k != ax) + (ax,)
    inv = tuple(int(i) for i in np.argsort(perm))
    return compile_source("def impl(a, kth, axis=-1):\n"
                          f"    t = np.ascontiguousarray(a.transpose({perm!r}))\n"
                          "    out = t.copy() if t.size == 0 else np.partition(t, _kths(kth, t.shape[-1]))\n"
                          f"    return np.ascontiguousarray(out.transpose({inv!r}))\n", _kths=_kths)


# the parameters after the array, in NumPy's order (np.sort and np.argsort take `stable` by keyword only)
_PARAMS = {"argsort": ("axis", "kind", "order"), "sort": ("axis", "kind", "order"),
           "partition": ("kth", "axis", "kind", "order")}
_NOT_CONSTANT = object()


def _stable_kind(kind):
    """Whether NumPy's sort `kind` is stable (it reads the first letter: q/h quick- or heapsort, m/s the
    stable mergesort), or None for a kind NumPy refuses."""
    if kind is None:
        return False
    if not isinstance(kind, str) or not kind or kind[0].lower() not in "qhms":
        return None
    return kind[0].lower() in "ms"


def lower_sorting(tree):
    """`np.argsort` (and the method `x.argsort(...)`) and `np.sort` with an axis, kind, order or stable, and
    every `np.partition`, become
    argsort_along / sort_along / partition_along (the axis a constant, -1 if not given).  Arguments those
    cannot honour (an `order=` other than None, an unknown kind, np.partition's kind other than
    'introselect', both kind and stable, which NumPy refuses) leave the call to Numba, which refuses it."""
    import gast

    def const(node, default):
        if node is None:
            return default
        return node.value if isinstance(node, gast.Constant) else _NOT_CONSTANT

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if (isinstance(f, gast.Attribute) and f.attr == "argsort" and (node.args or node.keywords)
                    and not (isinstance(f.value, gast.Name) and f.value.id == "np")):
                # the method `x.argsort(axis=..., kind=...)` is np.argsort(x, ...)
                f = gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None),
                                   attr="argsort", ctx=gast.Load())
                node = gast.Call(func=f, args=[node.func.value] + node.args, keywords=node.keywords)
            if not (isinstance(f, gast.Attribute) and f.attr in _PARAMS and isinstance(f.value, gast.Name)
                    and f.value.id == "np" and node.args):
                return node
            names = _PARAMS[f.attr]
            keywords = names + (() if f.attr == "partition" else ("stable",))
            kw = dict(zip(names, node.args[1:]))
            if len(node.args) - 1 > len(names) or any(k.arg in kw or k.arg not in keywords for k in node.keywords):
                return node
            kw.update((k.arg, k.value) for k in node.keywords)
            if const(kw.get("order"), None) is not None:
                return node
            axis = kw.get("axis", gast.Constant(value=-1, kind=None))
            if f.attr == "partition":
                if "kth" not in kw or const(kw.get("kind"), "introselect") != "introselect":
                    return node
                args = [node.args[0], kw["kth"], axis]
            else:
                if not kw:
                    return node
                kind, stable = const(kw.get("kind"), None), const(kw.get("stable"), None)
                if kind is not None and stable is not None or stable not in (None, True, False):
                    return node
                stable = _stable_kind(kind) if stable is None else bool(stable)
                if stable is None:
                    return node
                args = [node.args[0], axis, gast.Constant(value=stable, kind=None)]
            return gast.Call(func=gast.Name(id=f"{f.attr}_along", ctx=gast.Load(), annotation=None, type_comment=None),
                             args=args, keywords=[])
    return Lower().visit(tree)
