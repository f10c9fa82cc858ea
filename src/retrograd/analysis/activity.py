"""Activity analysis: which variables need adjoints.

A variable is *active* when it depends on a differentiated input (varied) and the result depends on it
(useful).  The analysis is per variable, not per definition: simple, and conservative in the right
direction (it may keep an adjoint that is always zero, never drops a needed one).

Differentiable positions: operands of arithmetic and of calls with a rule (only the parameters the rule
differentiates), the base of a subscript (never its index), elements of tuples and lists.  Comparisons,
boolean logic, `//`, shapes, `len`, `int()` and the like carry no derivative.
"""
import gast

from ..astutil import subscript_base

SHAPE_ATTRS = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes"}


def walk_stmts(stmts):
    """Every simple statement in a structured body, in textual order."""
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            yield s
            yield from walk_stmts(s.body)
            yield from walk_stmts(s.orelse)
        else:
            yield s


def diff_names(expr, callees):
    """Names whose value flows differentiably into `expr`."""
    out = set()
    _diff(expr, callees, out)
    return out


def _diff(node, callees, out):
    if isinstance(node, gast.Name):
        out.add(node.id)
    elif isinstance(node, gast.BinOp):
        if not isinstance(node.op, (gast.FloorDiv, gast.BitAnd, gast.BitOr, gast.BitXor, gast.LShift, gast.RShift)):
            _diff(node.left, callees, out)
            _diff(node.right, callees, out)
    elif isinstance(node, gast.UnaryOp):
        if isinstance(node.op, (gast.USub, gast.UAdd)):
            _diff(node.operand, callees, out)
    elif isinstance(node, gast.Subscript):
        _diff(node.value, callees, out)
        _diff(node.slice, callees, out)   # a float in [...] is data (np.r_[x, y]): the transform refuses it
    elif isinstance(node, gast.Attribute):
        if node.attr not in SHAPE_ATTRS:
            _diff(node.value, callees, out)
    elif isinstance(node, (gast.Tuple, gast.List)):
        for e in node.elts:
            _diff(e, callees, out)
    elif isinstance(node, gast.Dict):
        for e in node.values:
            _diff(e, callees, out)
    elif isinstance(node, gast.Call):
        callee = callees.classify(node)
        for arg in callee.diff_args(node):
            _diff(arg, callees, out)


def target_name(stmt):
    t = stmt.targets[0]
    return t.id if isinstance(t, gast.Name) else subscript_base(t)


def _uses(fn, callees):
    assigns = [s for s in walk_stmts(fn.body) if isinstance(s, gast.Assign)]
    return [(target_name(s), diff_names(s.value, callees), isinstance(s.targets[0], gast.Subscript))
            for s in assigns]


def varied_names(fn, active_params, callees, uses=None):
    """Variables that depend differentiably on a differentiated input, whether or not the result uses them."""
    uses = _uses(fn, callees) if uses is None else uses
    varied = set(active_params)
    changed = True
    while changed:
        changed = False
        for tgt, names, _ in uses:
            if tgt not in varied and names & varied:
                varied.add(tgt)
                changed = True
    return varied


def activity(fn, active_params, callees, result_name):
    """The set of active variable names of normalized function `fn`."""
    uses = _uses(fn, callees)
    varied = varied_names(fn, active_params, callees, uses)
    useful = {result_name} if result_name else set()
    changed = True
    while changed:
        changed = False
        for tgt, names, _ in uses:
            if tgt in useful and not names <= useful:
                useful |= names
                changed = True
    return varied & useful


def int_names(fn):
    """Variables that always hold integers (loop indices, len(), shapes, int arithmetic): an index built
    from them selects plainly, so its adjoint can use `dA[i] += g` instead of `np.add.at`."""
    known = {s.target.id for s in walk_stmts(fn.body) if isinstance(s, gast.For)}
    assigns = [s for s in walk_stmts(fn.body) if isinstance(s, gast.Assign)]
    defs = {}
    for s in assigns:
        if isinstance(s.targets[0], gast.Name):
            defs.setdefault(s.targets[0].id, []).append(s.value)
    # optimistic fixpoint: assume every assigned name is an integer, drop those with a non-integer
    # definition until nothing changes (so `k = 0 ... k = k + 1` is an integer counter)
    candidates = known | set(defs)
    changed = True
    while changed:
        changed = False
        for n, values in defs.items():
            if n in candidates and not all(is_int_expr(v, candidates) for v in values):
                candidates.discard(n)
                changed = True
    return candidates


def is_int_expr(node, ints):
    if isinstance(node, gast.Constant):
        return isinstance(node.value, (int, str)) and not isinstance(node.value, bool) or node.value is None
    if isinstance(node, gast.Name):
        return node.id in ints
    if isinstance(node, gast.BinOp):
        return isinstance(node.op, (gast.Add, gast.Sub, gast.Mult, gast.FloorDiv, gast.Mod)) and \
            is_int_expr(node.left, ints) and is_int_expr(node.right, ints)
    if isinstance(node, gast.UnaryOp):
        return isinstance(node.op, gast.USub) and is_int_expr(node.operand, ints)
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
        return node.func.id in ("len", "int") or (node.func.id in ("min", "max")
                                                  and all(is_int_expr(a, ints) for a in node.args))
    if isinstance(node, gast.Subscript):  # x.shape[0]
        return isinstance(node.value, gast.Attribute) and node.value.attr == "shape"
    if isinstance(node, gast.Attribute):
        return node.attr in ("ndim", "size")
    return False


def is_basic_index(node, ints):
    """An index that selects without repetition: integers, slices, None, Ellipsis, string keys."""
    if isinstance(node, gast.Tuple):
        return all(is_basic_index(e, ints) for e in node.elts)
    if isinstance(node, gast.Slice):
        return all(p is None or is_int_expr(p, ints) for p in (node.lower, node.upper, node.step))
    if isinstance(node, gast.Constant):
        return node.value is None or node.value is Ellipsis or isinstance(node.value, (int, str))
    if isinstance(node, gast.Attribute) and node.attr == "newaxis":
        return True
    return is_int_expr(node, ints)
