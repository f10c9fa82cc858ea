"""`lower_shape_calls`: the keyword forms of NumPy's shape functions that Numba's NumPy lacks, rewritten
in generated code into calls of their numba lowerings (numba_fills, numba_selections, numba_diffs,
numba_crosses, numba_integrals, numba_scans), or into forms Numba takes.  It runs first, so the later
passes (numba_manipulation.lower_rolls, numba_joins.lower_joins, ...) see its output.  A form it does
not rewrite is left as it was (Numba then refuses it at the user's line)."""
import gast

from .numba_reductions import _float_dtype


def _name(n):
    return gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)


def _const(v):
    return gast.Constant(value=v, kind=None)


def _is_const(node, value):
    return isinstance(node, gast.Constant) and node.value == value and type(node.value) is type(value)


def _np_attr(f):
    return f.attr if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "np" else None


def _bind(node, names, defaults):
    """The call's arguments bound to the parameter `names` (positional, then by keyword), missing ones
    from `defaults`; None if it passes anything else."""
    if len(node.args) > len(names) or any(isinstance(a, gast.Starred) for a in node.args):
        return None
    got = dict(zip(names, node.args))
    for k in node.keywords:
        if k.arg not in names or k.arg in got:
            return None
        got[k.arg] = k.value
    for n in names:
        if n not in got:
            if n not in defaults:
                return None
            got[n] = _const(defaults[n])
    return [got[n] for n in names]


def _call(fn, args):
    return gast.Call(func=_name(fn), args=list(args), keywords=[])


def _roll_pieces(shift, axis):
    """np.roll over a tuple display of axes: one roll per axis (shift a matching tuple display, its
    np.negative, or one value for every axis), or None."""
    if not (isinstance(axis, gast.Tuple) and axis.elts):
        return None
    n = len(axis.elts)
    if isinstance(shift, gast.Call) and _np_attr(shift.func) == "negative" and len(shift.args) == 1 \
            and not shift.keywords:      # the adjoint's shifts: each one negated
        pieces = _roll_pieces(shift.args[0], axis)
        return None if pieces is None else [(gast.UnaryOp(op=gast.USub(), operand=s), a) for s, a in pieces]
    if isinstance(shift, gast.Tuple):
        shifts = shift.elts
    elif isinstance(shift, (gast.Constant, gast.Name)) or (isinstance(shift, gast.UnaryOp)
                                                         and isinstance(shift.operand, gast.Constant)):
        shifts = [shift] * n     # one shift for every axis (an int; anything else, roll_axis refuses)
    else:
        return None
    return list(zip(shifts, axis.elts)) if len(shifts) == n else None


def _scan(fn, bound, node):
    """np.cumprod / np.nancumsum (a, axis, dtype, out): a float dtype is a cast of `a` first; along an axis,
    numba_scans' `<fn>_along(a, axis)`, without one Numba's own np.<fn>(a).  Another dtype, or an `out`,
    leaves the call as it was."""
    a, axis, dtype, out = bound
    if not _is_const(out, None) or not (_is_const(dtype, None) or _float_dtype(dtype)):
        return node
    if not _is_const(dtype, None):
        a = gast.Call(func=gast.Attribute(value=_name("np"), attr="asarray", ctx=gast.Load()), args=[a],
                      keywords=[gast.keyword(arg="dtype", value=dtype)])
    if _is_const(axis, None):
        return gast.Call(func=gast.Attribute(value=_name("np"), attr=fn, ctx=gast.Load()), args=[a], keywords=[])
    return _call(fn + "_along", [a, axis])


class _Lower(gast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        attr = _np_attr(f)
        method = f.attr if isinstance(f, gast.Attribute) and attr is None else None
        if method == "astype" and not node.args and [k.arg for k in node.keywords] == ["dtype"]:
            node.args, node.keywords = [node.keywords[0].value], []      # Numba's astype takes it positionally
            return node
        if method in ("ravel", "flatten") and not node.args and [k.arg for k in node.keywords] == ["order"] \
                and _is_const(node.keywords[0].value, "F"):
            return _call("reshape_order", [f.value, _const(-1), _const("F")])
        if method == "reshape" and len(node.args) == 1 and [k.arg for k in node.keywords] == ["order"] \
                and _is_const(node.keywords[0].value, "F"):
            return _call("reshape_order", [f.value, node.args[0], _const("F")])
        if isinstance(f, gast.Name) and f.id == "float" and len(node.args) == 1 and not node.keywords \
                and isinstance(node.args[0], gast.Compare) and all(isinstance(o, (gast.Is, gast.IsNot)) for o in node.args[0].ops):
            # `float(x is None)` (np.trapezoid's dx cotangent): Numba's float() takes numbers, not bools
            return gast.IfExp(test=node.args[0], body=_const(1.0), orelse=_const(0.0))
        if method == "cumprod":
            b = _bind(node, ("axis", "dtype", "out"), {"axis": None, "dtype": None, "out": None})
            return node if b is None else _scan("cumprod", [f.value] + b, node)
        if attr is None:
            return node
        return getattr(self, "np_" + attr, lambda n: n)(node)

    def np_cumprod(self, node):
        b = _bind(node, ("a", "axis", "dtype", "out"), {"axis": None, "dtype": None, "out": None})
        return node if b is None else _scan("cumprod", b, node)

    def np_nancumsum(self, node):
        b = _bind(node, ("a", "axis", "dtype", "out"), {"axis": None, "dtype": None, "out": None})
        return node if b is None else _scan("nancumsum", b, node)

    def np_full(self, node):
        b = _bind(node, ("shape", "fill_value", "dtype"), {"dtype": None})
        return node if b is None else _call("full_of", b)

    def np_array(self, node):
        b = _bind(node, ("object", "dtype"), {"dtype": None})
        if b is None or isinstance(b[0], (gast.List, gast.Tuple)) or _is_const(b[1], None):
            return node          # a display: Numba's np.array builds it
        return _call("array_of", b)

    def np_ravel(self, node):
        b = _bind(node, ("a", "order"), {"order": "C"})
        return _call("reshape_order", [b[0], _const(-1), b[1]]) if b and _is_const(b[1], "F") else node

    def np_reshape(self, node):
        keywords = [k.arg for k in node.keywords]
        b = _bind(node, ("a", "newshape" if "newshape" in keywords else "shape", "order"), {"order": "C"})
        return _call("reshape_order", b) if b and _is_const(b[2], "F") else node

    def np_diff(self, node):
        b = _bind(node, ("a", "n", "axis", "prepend", "append"), {"n": 1, "axis": -1, "prepend": None, "append": None})
        if b is None or (_is_const(b[2], -1) and _is_const(b[3], None) and _is_const(b[4], None)):
            return node          # Numba's np.diff(a, n)
        return _call("diff_along", b)

    def np_delete(self, node):
        return self._along(node, ("arr", "obj", "axis"), "delete_along")

    def np_compress(self, node):
        return self._along(node, ("condition", "a", "axis"), "compress_along")

    def _along(self, node, names, fn):
        b = _bind(node, names, {"axis": None})
        if b is None:
            return node
        if _is_const(b[2], None):            # the flattened operand: Numba's own (it takes no axis)
            node.args, node.keywords = b[:2], []
            return node
        return _call(fn, b)

    def np_cross(self, node):
        b = _bind(node, ("a", "b", "axisa", "axisb", "axisc", "axis"),
                  {"axisa": -1, "axisb": -1, "axisc": -1, "axis": None})
        if b is None or (all(_is_const(x, -1) for x in b[2:5]) and _is_const(b[5], None)):
            return node
        return _call("moved_cross", b)

    def np_roll(self, node):
        b = _bind(node, ("a", "shift", "axis"), {"axis": None})
        pieces = None if b is None else _roll_pieces(b[1], b[2])
        if pieces is None:
            return node
        out = b[0]
        for shift, axis in pieces:
            out = gast.Call(func=node.func, args=[out, shift, axis], keywords=[])
        return out

    def np_trapezoid(self, node):
        b = _bind(node, ("y", "x", "dx", "axis"), {"x": None, "dx": 1.0, "axis": -1})
        if b is None or (_is_const(b[1], None) and _is_const(b[3], -1)):
            return node          # Numba's np.trapezoid(y, dx=...) along the last axis
        return _call("trapezoid_along", b)

    def np_clip(self, node):
        b = _bind(node, ("a", "a_min", "a_max"), {})
        if b is None or _is_const(b[1], None) or _is_const(b[2], None):
            return node
        return _call("clip_values", b)


def lower_shape_calls(tree):
    return _Lower().visit(tree)
