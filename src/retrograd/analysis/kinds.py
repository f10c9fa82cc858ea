"""Kind inference: which variables certainly hold scalars, which certainly hold arrays.

Code is generated per *kinds* of the arguments (scalar, array or other, read off the values at the first
call, the way Numba specialises on types).  Knowing that `a` is a scalar and `b` an array is enough to
know that `a + b` has the shape of `b`, so its adjoint needs no `unbroadcast` and does not keep `b`
around just to know its shape.  Anything not certain is `None`, and the generic code is emitted.
"""
import gast

import numpy as np

SCALAR, ARRAY, OTHER = "scalar", "array", "other"   # arrays of known rank are "array:N"
BOOL = "bool"        # a Python or 0-d NumPy bool: not a number (as an index it adds an axis), not a container
_TOP = "?"   # not known yet (optimistic start of the fixpoint)
_INT_ARRAYS = ("int arrays",)   # env's entry for the names that only hold integer index arrays


def kind_of_value(v):
    # a bool is not a number here: as an index it adds an axis (`x[True]` has shape (1, n)), where an
    # int scalar removes one, so bools (and 0-d bool arrays) are never taken for int-like scalars
    if isinstance(v, (bool, np.bool_)) or (isinstance(v, np.ndarray) and v.dtype == bool):
        return BOOL if not isinstance(v, np.ndarray) or v.ndim == 0 else f"array:{v.ndim}"
    if isinstance(v, (int, float, np.generic)) or (isinstance(v, np.ndarray) and v.ndim == 0):
        return SCALAR
    if isinstance(v, np.ndarray):
        return f"array:{v.ndim}"
    return OTHER


def is_array(k):
    return isinstance(k, str) and k.startswith(ARRAY)


def ndim(k):
    return int(k.split(":")[1]) if is_array(k) and ":" in k else None


def infer_kinds(fn, param_kinds, callees, walk_stmts, int_arrays=frozenset()):
    """{variable: kind} for the normalized function `fn` given the kinds of its parameters; `int_arrays` are
    names that only hold integer index arrays (analysis/dtypes.py): `x[idx]` of one has a known rank."""
    env = dict(param_kinds)
    env[_INT_ARRAYS] = frozenset(int_arrays)
    assigns = [s for s in walk_stmts(fn.body) if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)]
    loops = [s for s in walk_stmts(fn.body) if isinstance(s, gast.For)]
    for loop in loops:
        env[loop.target.id] = SCALAR
    defs = {}
    for s in assigns:
        defs.setdefault(s.targets[0].id, []).append(s.value)
    for name in defs:
        env.setdefault(name, _TOP)
    for _ in range(2 * len(defs) + 2):   # optimistic fixpoint: unknown-yet -> a kind -> None
        changed = False
        for name, values in defs.items():
            kinds = {expr_kind(v, env, callees) for v in values} - {_TOP}
            if name in param_kinds:
                kinds.add(param_kinds[name])
            k = _TOP if not kinds else (kinds.pop() if len(kinds) == 1 else None)
            if env.get(name) != k:
                env[name] = k
                changed = True
        if not changed:
            break
    return {k: v for k, v in env.items() if k is not _INT_ARRAYS and v not in (None, _TOP)}


def expr_kind(node, env, callees):
    if isinstance(node, gast.Constant):
        if isinstance(node.value, bool):
            return BOOL
        return SCALAR if isinstance(node.value, (int, float)) else OTHER
    if isinstance(node, gast.Name):
        return env.get(node.id)
    if isinstance(node, gast.BinOp):
        if isinstance(node.op, gast.MatMult):
            return _matmul_kind(expr_kind(node.left, env, callees), expr_kind(node.right, env, callees))
        return _join_elementwise([expr_kind(node.left, env, callees), expr_kind(node.right, env, callees)])
    if isinstance(node, gast.UnaryOp):
        return expr_kind(node.operand, env, callees) if not isinstance(node.op, gast.Not) else BOOL
    if isinstance(node, gast.Attribute) and node.attr == "T":
        return expr_kind(node.value, env, callees)
    if isinstance(node, gast.Attribute) and node.attr in ("ndim", "size"):
        return SCALAR
    if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Attribute) and node.value.attr == "shape":
        return SCALAR
    if isinstance(node, gast.Subscript):
        base = expr_kind(node.value, env, callees)
        if isinstance(base, str) and base.startswith("tuple:"):      # an item of a helper's tuple result
            items = base[len("tuple:"):].split(",")
            k = node.slice.value if isinstance(node.slice, gast.Constant) else None
            return items[k] or None if isinstance(k, int) and -len(items) <= k < len(items) else None
        n = ndim(base)
        idx = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if n is None:
            return None if base != _TOP else _TOP
        if isinstance(node.slice, gast.Name) and node.slice.id in env.get(_INT_ARRAYS, ()):
            m = ndim(env.get(node.slice.id))       # `x[idx]`: idx's axes replace x's first axis
            return f"array:{m + n - 1}" if m is not None and m + n - 1 > 0 else None
        if all(_is_int_index(i, env, callees) for i in idx) and len(idx) <= n:
            return SCALAR if len(idx) == n else f"array:{n - len(idx)}"
        # basic slicing: a slice keeps its axis, None adds one, one Ellipsis stands for the axes not named
        ints = sum(1 for i in idx if _is_int_index(i, env, callees))
        new = sum(1 for i in idx if isinstance(i, gast.Constant) and i.value is None)
        dots = sum(1 for i in idx if isinstance(i, gast.Constant) and i.value is Ellipsis)
        slices = sum(1 for i in idx if isinstance(i, gast.Slice))
        if ints + new + dots + slices != len(idx) or dots > 1 or ints + slices > n:
            return None if base != _TOP else _TOP
        rank = n - ints + new
        return f"array:{rank}" if rank > 0 else None
    if isinstance(node, (gast.Tuple, gast.List, gast.Dict)):
        return OTHER
    if isinstance(node, gast.Call):
        callee = callees.classify(node)
        fn = callee.fn
        if callee.kind == "user":
            return helper_result_kind(callee, node, env, callees)
        if fn is not None and getattr(fn, "__module__", None) == "math" or fn is float or fn in (len, int):
            return SCALAR
        if name_of(fn) in ("scatter_add", "scatter_sub"):      # np.add.at(a, ...): a's kind
            return expr_kind(node.args[0], env, callees)
        if fn in (np.array, np.asarray) and node.args and isinstance(node.args[0], (gast.List, gast.Tuple)):
            depth, e = 0, node.args[0]                          # np.array([[1, 2], [3, 4]]): array:2
            while isinstance(e, (gast.List, gast.Tuple)) and e.elts:
                depth, e = depth + 1, e.elts[0]
            return f"array:{depth}" if depth else None
        if callee.kind == "rule" and callee.rule.rank is not None:
            return _rank_rule(callee, node, env, callees)
        if callee.kind == "rule" and callee.rule.broadcasts and callee.receiver is None:
            return _join_elementwise([expr_kind(a, env, callees) for a in node.args])
        name = getattr(fn, "__name__", None)
        if callee.kind == "constant" and getattr(fn, "__module__", None) == "numpy" and name in _CONSTRUCTORS:
            if name in ("zeros_like", "ones_like", "empty_like", "full_like"):
                return expr_kind(node.args[0], env, callees) if node.args else None
            if name in ("arange", "linspace"):
                return "array:1"
            if name in ("eye", "identity"):
                return "array:2"
            shape = node.args[0] if node.args else None
            if isinstance(shape, (gast.Tuple, gast.List)):
                return f"array:{len(shape.elts)}"
            return "array:1" if shape is not None and expr_kind(shape, env, callees) == SCALAR else ARRAY
    return None



def _rank_rule(callee, call, env, callees):
    """The kind of a rule call from the rule's declared shape rule (registry.Rank)."""
    from ..frontend.resolve import _BindError
    try:
        bound = callee.bind(call)
    except _BindError:
        return None
    kinds = {p: expr_kind(e, env, callees) for p, e in bound.items()}
    if _TOP in kinds.values():
        return _TOP
    literals = {}
    for p, e in bound.items():
        try:
            literals[p] = ast_literal(e)
        except ValueError:
            pass
    return callee.rule.rank(kinds, literals)


def ast_literal(node):
    """The Python value of a literal expression (constants, tuples of them, `-1`), else ValueError."""
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Tuple):
        return tuple(ast_literal(e) for e in node.elts)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        v = ast_literal(node.operand)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
    raise ValueError("not a literal")


def name_of(fn):
    return getattr(fn, "__name__", None) if getattr(fn, "__module__", "") == "retrograd.runtime" else None


_HELPER_RESULTS = {}


def helper_result_kind(callee, call, env, callees):
    """The kind of what a user helper returns for arguments of these kinds ("tuple:k1,k2" for a tuple
    of scalars and arrays), from the helper's own normalized code; None if unknown (or recursive)."""
    import inspect

    from ..frontend.normalize import Normalizer
    from ..frontend.resolve import Callees, local_names
    from ..frontend.source import read_function
    from .activity import walk_stmts
    try:
        bound = inspect.signature(callee.fn).bind(*call.args, **{k.arg: k.value for k in call.keywords})
    except TypeError:
        return None
    arg_kinds = tuple(sorted((p, expr_kind(e, env, callees)) for p, e in bound.arguments.items()))
    if any(k == _TOP for _, k in arg_kinds):
        return _TOP
    key = (id(callee.fn), arg_kinds)
    if key not in _HELPER_RESULTS:
        _HELPER_RESULTS[key] = None            # a recursive helper: unknown
        try:
            src = read_function(callee.fn)
            inner = Callees(src, local_names(src.node))
            node = Normalizer(src, inner).run()
            kinds = infer_kinds(node, dict(arg_kinds), inner, walk_stmts)
            ret = node.body[-1].value if node.body and isinstance(node.body[-1], gast.Return) else None
            value = ret
            for st in node.body:        # `return (a, b)` is normalized to `result = (a, b); return result`
                if isinstance(st, gast.Assign) and isinstance(ret, gast.Name) and \
                        isinstance(st.targets[0], gast.Name) and st.targets[0].id == ret.id:
                    value = st.value
            if isinstance(value, gast.Tuple):
                items = [expr_kind(e, kinds, inner) for e in value.elts]
                if all(k == SCALAR or is_array(k) for k in items):
                    _HELPER_RESULTS[key] = "tuple:" + ",".join(items)
            elif value is not None:
                _HELPER_RESULTS[key] = expr_kind(value, kinds, inner)
        except Exception:   # the transform reports problems with the helper itself, with its line
            _HELPER_RESULTS[key] = None
    return _HELPER_RESULTS[key]


_CONSTRUCTORS = {"zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "eye",
                 "identity", "arange", "linspace"}


def _is_int_index(node, env, callees):
    """The index part certainly selects one element along its axis (an int, or a scalar variable).  A call
    (`int(i)`, `x.astype(int)[0]`) is not assumed to be one: the kind is then unknown, never guessed."""
    if isinstance(node, gast.Constant):
        return isinstance(node.value, int) and not isinstance(node.value, bool)
    if isinstance(node, (gast.Slice,)):
        return False
    if any(isinstance(n, gast.Call) for n in gast.walk(node)):
        return False
    return expr_kind(node, env, callees) == SCALAR


def _matmul_kind(a, b):
    """Rank of `a @ b` from the operands' ranks (1-D and 2-D; batched products stay unknown)."""
    if _TOP in (a, b):
        return _TOP
    na, nb = ndim(a), ndim(b)
    if na is None or nb is None or na > 2 or nb > 2:
        return None
    rank = (na - 1 if na else 0) + (nb - 1 if nb else 0) if na and nb else None
    return None if rank is None else (SCALAR if rank == 0 else f"array:{rank}")


def _join_elementwise(kinds):
    if _TOP in kinds:   # strict: an operand not known yet makes the result not known yet.  Dropping it
        return _TOP     # instead would guess a smaller rank under broadcasting (h + b: 1-D from b alone)
    if all(k == SCALAR for k in kinds):
        return SCALAR
    if any(is_array(k) for k in kinds) and all(k == SCALAR or is_array(k) for k in kinds):
        dims = [ndim(k) for k in kinds if is_array(k)]
        return f"array:{max(dims)}" if None not in dims else ARRAY   # broadcasting takes the larger rank
    return None


def same_shape_as_result(operand, others, env, callees):
    """True when an elementwise result certainly has `operand`'s shape (so no unbroadcast is needed)."""
    others = [o for o in others if gast.dump(o) != gast.dump(operand)]   # x * x: same shape, no broadcast
    k = expr_kind(operand, env, callees)
    if not others:
        return True
    other_kinds = [expr_kind(o, env, callees) for o in others]
    if k == SCALAR:
        return all(o == SCALAR for o in other_kinds)
    if is_array(k):
        return all(o == SCALAR for o in other_kinds)
    return False



def shape_witness(node, env, callees):
    """A sub-expression of `node` that certainly has its shape, for helpers that read only a shape
    (`unbroadcast(g, dt * v)` -> `unbroadcast(g, v)` with `dt` a scalar): the adjoint then builds no
    temporary just to look at its shape.  `node` itself when no smaller witness is certain."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return shape_witness(node.operand, env, callees)
    parts = None
    if isinstance(node, gast.BinOp) and not isinstance(node.op, gast.MatMult):
        parts = [node.left, node.right]
    elif isinstance(node, gast.Call):
        callee = callees.classify(node)
        if callee.kind == "rule" and callee.rule.broadcasts and callee.receiver is None and not node.keywords \
                and callee.rule.rank is None:
            parts = list(node.args)
    if not parts:
        return node
    kinds = [expr_kind(p, env, callees) for p in parts]
    if any(k is None or k == _TOP for k in kinds):
        return node
    arrays = [p for p, k in zip(parts, kinds) if k != SCALAR]
    if not arrays:          # all scalars: any scalar operand has the (empty) shape
        return shape_witness(parts[0], env, callees)
    if any(gast.dump(a) != gast.dump(arrays[0]) for a in arrays[1:]):
        return node         # two arrays: the broadcast shape of both, not either one
    return shape_witness(arrays[0], env, callees)
