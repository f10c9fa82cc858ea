"""Casts in the spelling Numba takes: its `astype`, `np.asarray` and `np.array` take NumPy dtypes only, so
the builtin types and dtype strings become NumPy's: `int` is np.int64 (NumPy's default int on Linux),
`float` np.float64, `bool` np.bool_, `complex` np.complex128, and `"int32"` np.int32.  Numba's np.array
takes no dtype for an array, so `np.array(x, T)` (a copy) is `np.asarray(x).astype(T)` (a copy too)."""
import gast
import numpy as np

_BUILTINS = {"int": "int64", "float": "float64", "bool": "bool_", "complex": "complex128"}


def _np_dtype(node):
    """The NumPy attribute name for a builtin type or a dtype string, or None (already NumPy's)."""
    if isinstance(node, gast.Name) and node.id in _BUILTINS:
        return _BUILTINS[node.id]
    if isinstance(node, gast.Constant) and isinstance(node.value, str):
        try:
            name = np.dtype(node.value).name
        except TypeError:
            return None
        name = {"bool": "bool_"}.get(name, name)
        return name if isinstance(getattr(np, name, None), type) else None
    return None


def _np_attr(name):
    return gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None),
                          attr=name, ctx=gast.Load())


def _dtype_slot(node):
    """(container, key) of the dtype argument of a cast call, or None: `x.astype(T)`, `np.asarray(x, T)`,
    `np.array(x, T)` and their dtype= keywords."""
    f = node.func
    if not isinstance(f, gast.Attribute):
        return None
    on_np = isinstance(f.value, gast.Name) and f.value.id == "np"
    if f.attr == "astype" and not on_np:
        position = 0
    elif f.attr in ("asarray", "array") and on_np:
        position = 1
    else:
        return None
    for k in node.keywords:
        if k.arg == "dtype":
            return k, "value"
    return (node.args, position) if len(node.args) > position else None


def lower_casts(tree):
    for node in gast.walk(tree):
        if not isinstance(node, gast.Call):
            continue
        slot = _dtype_slot(node)
        if slot is None:
            continue
        holder, key = slot
        value = holder[key] if isinstance(holder, list) else getattr(holder, key)
        name = _np_dtype(value)
        if name is not None:
            if isinstance(holder, list):
                holder[key] = _np_attr(name)
            else:
                setattr(holder, key, _np_attr(name))
        if node.func.attr == "array" and len(node.args) + len(node.keywords) == 2 and \
                all(k.arg == "dtype" for k in node.keywords):
            dtype = node.args[1] if len(node.args) == 2 else node.keywords[0].value
            node.func = gast.Attribute(value=gast.Call(func=_np_attr("asarray"), args=node.args[:1], keywords=[]),
                                       attr="astype", ctx=gast.Load())
            node.args, node.keywords = [dtype], []
    return tree
