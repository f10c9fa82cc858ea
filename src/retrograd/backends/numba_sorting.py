"""np.argsort and np.sort along an axis for the numba backend.

Numba 0.68 sorts 1-D arrays (np.argsort) or along the last axis (np.sort), and takes no `axis=`.
`lower_sorting` rewrites `np.argsort(a, axis=k)` / `np.sort(a, axis=k)` of generated code, k a constant
(None: the flattened array), into `argsort_along(a, k, stable)` / `sort_along(a, k)`: the axis moved last,
each row sorted by Numba's own 1-D sort (mergesort where NumPy's kind is stable, so ties keep their order).
(Imported by numba_runtime: imports none of it.)"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from .numba_axes import compile_source, is_none, literal_int
from .numba_gradient import _rows_source

__all__ = ["argsort_along", "sort_along"]


def argsort_along(a, axis=-1, stable=False):
    return np.argsort(a, axis=axis, kind="stable" if stable else None)


def sort_along(a, axis=-1):
    return np.sort(a, axis=axis)


@njit(cache=True)
def _argsort_rows(flat, stable):
    out = np.empty(flat.shape, dtype=np.int64)
    for r in range(flat.shape[0]):
        out[r] = np.argsort(flat[r], kind="mergesort") if stable else np.argsort(flat[r])
    return out


@njit(cache=True)
def _sort_rows(flat):
    out = np.empty(flat.shape)
    for r in range(flat.shape[0]):
        out[r] = np.sort(flat[r])
    return out


def _along(a, axis, params, call):
    """Source applying `call` (a function of (rows, n) `flat`) along the constant `axis` of `a`."""
    if not isinstance(a, types.Array) or a.ndim == 0 or not isinstance(a.dtype, (types.Float, types.Integer)):
        return None
    if is_none(axis) and not isinstance(axis, types.Omitted):
        return (f"def impl({params}):\n"
                f"    flat = np.ascontiguousarray(a).astype(np.float64).reshape((1, a.size))\n"
                f"    return {call}[0]\n")
    ax = literal_int(axis, -1)
    if ax is None:
        return None
    pre, inv = _rows_source(a.ndim, (ax % a.ndim,))
    return (f"def impl({params}):\n" + pre +
            f"    return np.ascontiguousarray({call}.reshape(t.shape).transpose({inv!r}))\n")


@overload(argsort_along, prefer_literal=True)
def _argsort_along(a, axis=-1, stable=False):
    src = _along(a, axis, "a, axis=-1, stable=False", "_argsort_rows(flat, stable)")
    return compile_source(src, _argsort_rows=_argsort_rows) if src else None


@overload(sort_along, prefer_literal=True)
def _sort_along(a, axis=-1):
    src = _along(a, axis, "a, axis=-1", "_sort_rows(flat)")
    if src is None or not isinstance(a.dtype, types.Float):
        return None
    return compile_source(src, _sort_rows=_sort_rows)


_STABLE = {"stable": True, "mergesort": True, "quicksort": False, "heapsort": False, None: False}


def lower_sorting(tree):
    """`np.argsort(a, axis=k, kind=...)` and `np.sort(a, axis=k, kind=...)` with an axis (k a constant) become
    argsort_along / sort_along; without one, or with `order=` other than None, they are left to Numba."""
    import gast

    def const(node, default="missing"):
        if node is None:
            return default
        return node.value if isinstance(node, gast.Constant) else "not constant"

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if not (isinstance(f, gast.Attribute) and f.attr in ("argsort", "sort") and isinstance(f.value, gast.Name)
                    and f.value.id == "np" and 1 <= len(node.args) <= 3):
                return node
            kw = dict(zip(("axis", "kind", "order"), node.args[1:]))
            if any(k.arg in kw or k.arg not in ("axis", "kind", "order", "stable") for k in node.keywords):
                return node
            kw.update((k.arg, k.value) for k in node.keywords)
            if "axis" not in kw or const(kw.get("order"), None) is not None:
                return node
            kind, stable = const(kw.get("kind"), None), const(kw.get("stable"), None)
            if kind not in _STABLE or stable not in (None, True, False):
                return node
            args = [node.args[0], kw["axis"]]
            if f.attr == "argsort":
                args.append(gast.Constant(value=bool(_STABLE[kind] or stable), kind=None))
            return gast.Call(func=gast.Name(id=f"{f.attr}_along", ctx=gast.Load(), annotation=None, type_comment=None),
                             args=args, keywords=[])
    return Lower().visit(tree)
