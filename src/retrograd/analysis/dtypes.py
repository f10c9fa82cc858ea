"""Which arrays certainly hold floats: a write of a differentiated value into any other array is guarded.

NumPy casts a value written into an integer or boolean array (`A = np.zeros(3, dtype=int); A[0] = x`
stores int(x)): the derivative through that write is 0, while the adjoint of a write passes the cotangent
on as if the value were stored.  So every write of a differentiated value into an array that is not
certainly float gets a run-time check (`float_target`, see runtime.py) that refuses an integer or
boolean target at the user's line, as PyTorch refuses an in-place write of a float into an integer
tensor.  This analysis only keeps the check out of the common cases, where the array is certainly float.
"""
import gast

from .activity import is_int_expr

_FLOAT_CONSTRUCTORS = {"zeros", "ones", "empty", "eye", "identity", "linspace", "random", "rand", "randn",
                       "standard_normal", "normal", "uniform"}          # float64 unless dtype= says otherwise
_LIKE = {"zeros_like", "ones_like", "empty_like", "copy", "ascontiguousarray", "asarray", "array"}
_FLOAT_METHODS = {"copy", "reshape", "ravel", "flatten", "transpose", "squeeze"}


def _definitions(fn, walk_stmts):
    """{name: [the value of each assignment to it]}, None for a value not known as one expression (an
    unpacking, a loop target)."""
    defs = {}
    for s in walk_stmts(fn.body):
        if isinstance(s, gast.Assign):
            for t in s.targets:
                if isinstance(t, gast.Name):
                    defs.setdefault(t.id, []).append(s.value)
                elif isinstance(t, (gast.Tuple, gast.List)):     # unpacking: no claim
                    for e in gast.walk(t):
                        if isinstance(e, gast.Name):
                            defs.setdefault(e.id, []).append(None)
        elif isinstance(s, gast.For):
            for e in gast.walk(s.target):
                if isinstance(e, gast.Name):
                    defs.setdefault(e.id, []).append(None)
    return defs


def float_arrays(fn, float_params, callees, walk_stmts):
    """Names that hold float arrays (or floats) at every definition in the normalized function `fn`."""
    defs = _definitions(fn, walk_stmts)
    floats = set(float_params) | set(defs)     # optimistic start; a parameter's entry value is float
    changed = True
    while changed:
        changed = False
        for n in list(floats):
            if n in defs and not all(v is not None and _is_float(v, floats, callees) for v in defs[n]):
                floats.discard(n)
                changed = True
    return floats


# where these functions take `dtype` positionally (np.zeros(3, int), np.zeros_like(x, int), np.eye(3, 3, 0, int))
_DTYPE_POSITION = {"zeros": 1, "ones": 1, "empty": 1, "identity": 1, "eye": 3, "linspace": 5, "zeros_like": 1,
                   "ones_like": 1, "empty_like": 1, "asarray": 1, "array": 1, "ascontiguousarray": 1}


def _has_dtype(call, name=None):
    position = _DTYPE_POSITION.get(name)
    return (any(k.arg == "dtype" for k in call.keywords)
            or (position is not None and len(call.args) > position))


def _is_float(node, floats, callees):
    if isinstance(node, gast.Constant):
        return isinstance(node.value, float)
    if isinstance(node, gast.Name):
        return node.id in floats
    if isinstance(node, gast.BinOp):
        if isinstance(node.op, gast.Div):
            return True                                   # true division is float for every real operand
        if isinstance(node.op, (gast.Add, gast.Sub, gast.Mult, gast.Pow, gast.MatMult)):
            return _is_float(node.left, floats, callees) or _is_float(node.right, floats, callees)
        return False
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return _is_float(node.operand, floats, callees)
    if isinstance(node, gast.Attribute) and node.attr == "T":
        return _is_float(node.value, floats, callees)
    if isinstance(node, gast.Subscript):
        return _is_float(node.value, floats, callees)
    if isinstance(node, gast.Call):
        f = node.func
        if isinstance(f, gast.Attribute) and f.attr in _FLOAT_METHODS and not node.keywords:
            return _is_float(f.value, floats, callees)
        if callees is None:
            return False
        fn = callees.classify(node).fn
        name = getattr(fn, "__name__", None)
        module = getattr(fn, "__module__", None) or ""
        if _has_dtype(node, name):
            return False
        if module.startswith("numpy") and name in _FLOAT_CONSTRUCTORS:
            return True
        if module.startswith("numpy") and name in _LIKE and node.args:
            return _is_float(node.args[0], floats, callees)
        callee = callees.classify(node)
        if callee.kind == "rule":        # a differentiable NumPy function of a float operand is float
            return any(_is_float(a, floats, callees) for a in callee.args(node))
    return False


def int_arrays(fn, ints, callees, walk_stmts):
    """Names that only ever hold integer index arrays: every definition is `np.array([...])` of integer
    expressions or `np.arange(...)` of integers, without dtype= (Numba types them int64, as NumPy does)."""
    defs = _definitions(fn, walk_stmts)
    return {n for n, values in defs.items() if all(_int_array_expr(v, ints, callees) for v in values)}


def _int_array_expr(v, ints, callees):
    if not (isinstance(v, gast.Call) and not v.keywords and v.args) or callees is None:
        return False
    fn = callees.classify(v).fn
    if not (getattr(fn, "__module__", None) or "").startswith("numpy"):
        return False
    name = getattr(fn, "__name__", None)
    if name == "array" and len(v.args) == 1 and isinstance(v.args[0], (gast.List, gast.Tuple)):
        return bool(v.args[0].elts) and all(is_int_expr(e, ints) for e in v.args[0].elts)
    return name == "arange" and all(is_int_expr(a, ints) for a in v.args)


def scatter_target(stmt):
    """`A` when `stmt` is `A = scatter_add(A, i, x)` (what the normaliser makes of `np.add.at(A, i, x)`): a
    write into A's elements, which NumPy casts to A's dtype like a subscript write."""
    v = stmt.value
    fn = getattr(v, "_rg_callee", None) if isinstance(v, gast.Call) else None
    if getattr(fn, "__name__", None) in ("scatter_add", "scatter_sub") and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None
