"""Inline the helpers that write into their arguments (issue 10).

retrograd differentiates a helper as a function of its arguments, so a helper that writes into an argument
(`def put(a, v): a[1:] += v`) cannot be a separate function: the caller's array changes under it.  Python's
call semantics are exact when the call is replaced by the helper's body with

* each parameter that the helper never rebinds, and that is passed a plain name, *replaced by that name*
  (inside the helper it is the same object: a write through it is a write into the caller's array);
* every other parameter bound to a fresh name first (`v_put = <argument>`: an expression's value, or a
  name the helper rebinds; a view passed in stays a view, and the memory model sees the alias);
* the helper's other locals renamed to fresh names, and `return e` (only as its last statement) becoming
  `t = e` for `t = helper(...)`.

The caller's memory model, copy-on-write of arguments and alias checks then see the writes where they
happen.  Only statement-level calls (`helper(...)`, `t = helper(...)`) are inlined, and only when the
helper's free names mean the same objects in the caller; anything else keeps the refusal ("the helper
writes into its argument").  The inlined statements carry the position of the call: errors name the
caller's line.
"""
import builtins
import copy
import inspect

import gast

from ..astutil import all_names, loaded_names
from .normalize import NameAllocator
from .resolve import Callees, local_names

_MAX_DEPTH = 4
_NOT_INLINABLE = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda, gast.Global,
                  gast.Nonlocal, gast.Yield, gast.YieldFrom, gast.Await, gast.Try, gast.With)
_MISSING = object()


def writes_params(src):
    """Parameters of the (inlined) helper source whose caller's array some write may reach."""
    from ..analysis.aliases import memory_model
    from ..astutil import assigned_names
    node = src.node
    params = {a.id for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
    return memory_model(node, params | assigned_names(node.body), sorted(params)).params_written


def inlined_source(fn, _depth=0):
    """`fn`'s FunctionSource with its statement-level calls to argument-writing helpers inlined."""
    from .source import read_function
    src = read_function(fn)
    inline_writers(src, _depth)
    return src


def inline_writers(src, _depth=0):
    """Inline, in place in `src.node`, the statement-level calls of helpers that write into an argument."""
    if _depth >= _MAX_DEPTH:
        return
    for _ in range(_MAX_DEPTH):     # an inlined body may call another writer
        callees = Callees(src, local_names(src.node))
        taken = all_names(src.node) | set(src.namespace) | set(dir(builtins))
        names = NameAllocator(taken)
        changed = [False]
        src.node.body = _stmts(src, src.node.body, callees, names, changed, _depth)
        if not changed[0]:
            return


def _stmts(src, stmts, callees, names, changed, depth):
    out = []
    for s in stmts:
        for field in ("body", "orelse"):
            if isinstance(s, (gast.If, gast.For, gast.While)):
                setattr(s, field, _stmts(src, getattr(s, field), callees, names, changed, depth))
        call, target = None, None
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            call = s.value
        elif (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
              and isinstance(s.value, gast.Call)):
            call, target = s.value, s.targets[0].id
        new = _inline(src, s, call, target, callees, names, depth) if call is not None else None
        if new is None and call is None:
            new = _hoist(src, s, callees, names, depth)
        if new is None:
            out.append(s)
        else:
            changed[0] = True
            out += new
    return out


def _hoist(src, s, callees, names, depth):
    """`return put(x, v) + np.sum(x)`: a writer's call that Python evaluates before anything but loads
    of names and attributes in the statement is inlined into a temporary before it (the order of
    evaluation is kept: the write happens before any operation of the statement reads data)."""
    if isinstance(s, (gast.Return, gast.Expr)) and s.value is not None:
        root = s.value
    elif isinstance(s, gast.Assign) and len(s.targets) == 1:
        root = s.value            # evaluated before the target's subscript
    elif isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name):
        root = s.value            # the target is loaded first: a name, a reference
    elif isinstance(s, gast.If):
        root = s.test
    else:
        return None
    order = []
    _order(root, order)
    for k, (n, size) in enumerate(order):
        if isinstance(n, gast.Call) and callees.classify(n).kind == "user":
            prior = order[:k + 1 - size]
            if any(not isinstance(p, (gast.Name, gast.Constant, gast.Attribute)) for p, _ in prior):
                return None
            tmp = names.fresh(f"{_callee_name(n)}_result")
            probe = gast.Assign(targets=[gast.Name(id=tmp, ctx=gast.Store(), annotation=None, type_comment=None)],
                                value=n, type_comment=None)
            gast.copy_location(probe, s)
            new = _inline(src, probe, n, tmp, callees, names, depth)
            if new is None:
                return None
            _Replace(n, tmp).visit(s)
            return new + [s]
        if isinstance(n, gast.Call):
            return None           # an earlier call: it runs (and may read data) before any later one
    return None


def _callee_name(call):
    f = call.func
    return f.id if isinstance(f, gast.Name) else f.attr if isinstance(f, gast.Attribute) else "call"


class _Replace(gast.NodeTransformer):
    def __init__(self, node, name):
        self.node, self.name = node, name

    def generic_visit(self, node):
        if node is self.node:
            return gast.copy_location(gast.Name(id=self.name, ctx=gast.Load(), annotation=None,
                                                type_comment=None), node)
        return super().generic_visit(node)

    def visit(self, node):
        return self.generic_visit(node)


def _order(node, out):
    """Append (node, size of its subtree in `out`) in the order Python finishes evaluating them.  A
    conditional or otherwise unlisted expression is one opaque entry (nothing inside it is hoisted)."""
    start = len(out)
    if isinstance(node, (gast.Name, gast.Constant)):
        pass
    elif isinstance(node, gast.Attribute):
        _order(node.value, out)
    elif isinstance(node, gast.Subscript):
        _order(node.value, out)
        _order(node.slice, out)
    elif isinstance(node, gast.Slice):
        for p in (node.lower, node.upper, node.step):
            if p is not None:
                _order(p, out)
    elif isinstance(node, gast.BinOp):
        _order(node.left, out)
        _order(node.right, out)
    elif isinstance(node, gast.UnaryOp):
        _order(node.operand, out)
    elif isinstance(node, gast.Compare):
        if len(node.comparators) > 1:         # a chain short-circuits
            out.append((node, 1))
            return
        _order(node.left, out)
        _order(node.comparators[0], out)
    elif isinstance(node, gast.Call):
        _order(node.func, out)
        for a in node.args:
            _order(a, out)
        for kw in node.keywords:
            _order(kw.value, out)
    elif isinstance(node, (gast.Tuple, gast.List)):
        for e in node.elts:
            _order(e, out)
    else:
        out.append((node, 1))
        return
    out.append((node, len(out) - start + 1))


def _inline(src, stmt, call, target, callees, names, depth):
    """The statements replacing `stmt` (`[target =] call`), or None to keep the call."""
    callee = callees.classify(call)
    if callee.kind != "user" or not inspect.isfunction(callee.fn) or callee.fn is src.fn:
        return None
    if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    try:
        helper = inlined_source(callee.fn, depth + 1)
    except Exception:       # unreadable or unparsable helper: the usual path reports it
        return None
    from .checks import check_function
    try:
        check_function(helper)
    except Exception:
        return None
    if not writes_params(helper):
        return None
    node = helper.node
    body = node.body
    if any(isinstance(n, _NOT_INLINABLE) for s in body for n in gast.walk(s)):
        return None
    returns = [n for s in body for n in gast.walk(s) if isinstance(n, gast.Return)]
    ret = body[-1] if body and isinstance(body[-1], gast.Return) else None
    if len(returns) > (1 if ret is not None else 0) or (target is not None and (ret is None or ret.value is None)):
        return None
    if any(callee.fn is c.fn for c in _user_calls(helper)):    # recursive
        return None
    try:
        bound = inspect.signature(callee.fn).bind(*call.args, **{k.arg: k.value for k in call.keywords})
    except TypeError:
        return None
    bound.apply_defaults()
    params = [a.id for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    args = {}
    for p in params:
        v = bound.arguments.get(p, _MISSING)
        if not isinstance(v, gast.AST):        # a default value
            if v is _MISSING or not isinstance(v, (int, float, bool, str, type(None))):
                return None
            v = gast.Constant(value=v, kind=None)
        args[p] = v
    helper_locals = local_names(node)
    stored = {n.id for s in body for n in gast.walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    # the helper's free names must mean the same objects here
    free = {n for s in body for n in loaded_names(s)} - helper_locals
    caller_locals = callees.locals
    for n in free:
        if n in caller_locals:
            return None
        mine = src.namespace.get(n, getattr(builtins, n, _MISSING))
        theirs = helper.namespace.get(n, getattr(builtins, n, _MISSING))
        if mine is _MISSING or mine is not theirs:
            return None
    if any(isinstance(n, gast.NamedExpr) for n in gast.walk(call)):
        return None
    pos = {id(a): k for k, a in enumerate(list(call.args) + [kw.value for kw in call.keywords])}
    rename, pre = {}, []
    for p in sorted(params, key=lambda q: pos.get(id(args[q]), len(pos))):   # as Python evaluates them
        a = args[p]
        if isinstance(a, gast.Name) and p not in stored and a.id in caller_locals:
            rename[p] = a.id
        else:
            rename[p] = names.fresh(f"{p}_{node.name}")
            pre.append(gast.Assign(targets=[gast.Name(id=rename[p], ctx=gast.Store(), annotation=None,
                                                      type_comment=None)],
                                   value=copy.deepcopy(a), type_comment=None))
    for n in sorted(helper_locals - set(params)):
        rename[n] = names.fresh(f"{n}_{node.name}")
    new_body = [copy.deepcopy(s) for s in (body[:-1] if ret is not None else body)]
    for s in new_body:
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and n.id in rename:
                n.id = rename[n.id]
    tail = []
    if ret is not None and ret.value is not None:
        value = copy.deepcopy(ret.value)
        for n in gast.walk(value):
            if isinstance(n, gast.Name) and n.id in rename:
                n.id = rename[n.id]
        if target is not None:
            tail.append(gast.Assign(targets=[gast.Name(id=target, ctx=gast.Store(), annotation=None,
                                                       type_comment=None)], value=value, type_comment=None))
        elif not isinstance(value, (gast.Name, gast.Constant)):
            tail.append(gast.Assign(targets=[gast.Name(id=names.fresh(f"{node.name}_result"), ctx=gast.Store(),
                                                       annotation=None, type_comment=None)],
                                    value=value, type_comment=None))
    # the inlined statements take the call's position (errors of the transform name the call), and keep
    # their own line as `_rg_origin` (a failure while they run names the helper's line: reverse/sourcemap.py)
    for s in new_body:
        origin = getattr(s, "_rg_origin", None) or _origin(helper, s)
        for n in gast.walk(s):
            if isinstance(n, (gast.stmt, gast.expr)) and getattr(n, "_rg_origin", None) is None:
                n._rg_origin = origin
    new = pre + new_body + tail
    if not new:
        new = [gast.Pass()]
    for s in new:
        for n in gast.walk(s):
            if isinstance(n, (gast.stmt, gast.expr)):
                n.lineno, n.col_offset = stmt.lineno, stmt.col_offset
                n.end_lineno = getattr(stmt, "end_lineno", stmt.lineno)
                n.end_col_offset = getattr(stmt, "end_col_offset", stmt.col_offset)
    return new


def _origin(helper, s):
    """(file, line, column, text) of a helper's statement `s`, before it takes the call's position."""
    fname, line, col = helper.where(s)
    return fname, line, col, helper.line_text(s)


def _user_calls(src):
    callees = Callees(src, local_names(src.node))
    for s in src.node.body:
        for n in gast.walk(s):
            if isinstance(n, gast.Call):
                c = callees.classify(n)
                if c.kind == "user":
                    yield c
