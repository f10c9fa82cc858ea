"""The forward-mode transform: one normalized function in, one tangent function out.

`tangent_f(x, W, *, dx, dW)` runs the user's code and, after each statement that defines a differentiated
value, the statement that defines its tangent (named after it: `dx` for `x`), so it returns
`(result, dresult)`.  Forward mode needs no tape: loops, branches and in-place writes are replayed as they
are (`A[i] = v` is followed by `dA[i] = dv`), a random draw is made once and read by both.

The frontend (parse, checks, normalisation, callee resolution), the activity and kind analyses and the
alias checks are those of the reverse transform.  Expressions are split only where a tangent reads a
value the primal computes (`x * y * w` names `x * y` once for both), never to show off.
"""
import copy
import inspect
import os

import gast
import numpy as np

from .. import astutil as A
from ..analysis.activity import SHAPE_ATTRS, walk_stmts
from ..analysis.aliases import VIEW_FUNCS, check_aliases, memory_model
from ..analysis.dtypes import float_arrays, scatter_target
from ..analysis.rule_calls import check_rule_calls
from ..analysis.kinds import expr_kind, infer_kinds, same_shape_as_result
from ..errors import MissingRuleError, RetrogradError, UnsupportedSyntaxError
from ..frontend.checks import assigned_array, check_function
from ..frontend.inline import inline_writers
from ..frontend.normalize import Normalizer
from ..frontend.resolve import Callees, local_names
from ..frontend.source import read_function
from ..reverse.rules.registry import ATTRIBUTES, RULES
from ..reverse.sourcemap import Location
from ..reverse.transform import _BINOPS, _UNOPS, FunctionTransform, _rename_reserved
from . import helper_rules
from .runtime import tape_push
from ..reverse.rules.tangents import Refused, instantiate

_RESULT = "__rg_result__"      # placeholder for a rule's result until the statement's order is chosen
# tangent expressions that may return (a view of) one of their operands rather than a fresh array
_SHARING_CALLS = VIEW_FUNCS | {"unbroadcast", "unreduce", "add_into", "add_at", "untranspose", "unreshape",
                               "unarray", "split_like", "broadcast_like", "unflat"}


_IN_PLACE = {"add_into", "add_at", "tape_push"}     # helpers of generated code that update their first argument


def _effects_as_assignments(stmts):
    """Generated adjoints call some helpers for their effect: `tape.append(v)`, `add_at(D, I, G)`,
    `not_a_view(...)`.  As assignments (`tape = tape_push(tape, v)`, `D = add_at(D, I, G)`) they are ordinary
    statements for the normaliser and for activity, with tangents of their own."""
    out = []
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _effects_as_assignments(s.body)
            s.orelse = _effects_as_assignments(s.orelse)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            call, f = s.value, s.value.func
            if isinstance(f, gast.Attribute) and f.attr == "append" and isinstance(f.value, gast.Name):
                new = A.quote("T = tape_push(T, V)", T=f.value.id, V=call.args[0])[0]
            elif isinstance(f, gast.Name) and f.id == "add_at" and isinstance(call.args[0], gast.Name):
                new = gast.Assign(targets=[A.name(call.args[0].id, True)], value=call, type_comment=None)
            else:
                new = gast.Assign(targets=[A.name("_rg_effect", True)], value=call, type_comment=None)
            for n in gast.walk(new):
                if isinstance(n, (gast.stmt, gast.expr)):
                    n.lineno, n.col_offset = s.lineno, s.col_offset
            s = new
        out.append(s)
    return out


def _zero_tree(expr):
    """Where a tangent expression is zero by construction: True (a zero), False, or a tuple per item."""
    if isinstance(expr, gast.Tuple):
        return tuple(_zero_tree(e) for e in expr.elts)
    if isinstance(expr, gast.Constant) and expr.value == 0.0 and isinstance(expr.value, float):
        return True
    return (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and expr.func.id == "zeros_like"
            and len(expr.args) == 1)


def _item(tree, index):
    if isinstance(index, gast.Constant) and type(index.value) is int and 0 <= index.value < len(tree):
        return tree[index.value]
    return None


def _zero_item(node, zeros):
    """`saved[8]` where item 8 of `saved` has a zero tangent."""
    return isinstance(node.value, gast.Name) and isinstance(zeros.get(node.value.id), tuple) and \
        _item(zeros[node.value.id], node.slice) is True


def _alias_zeros(node, params, zeros):
    """The zero trees of parameters, carried to the names bound (once, by `A = saved` or `B = A[1]`) to them
    or to their items.  A parameter the code reassigns, or a name bound twice, gets none."""
    defs = {}
    for s in walk_stmts(node.body):
        if isinstance(s, gast.Assign):
            for t in s.targets:
                for n in gast.walk(t):
                    if isinstance(n, gast.Name):
                        defs[n.id] = defs.get(n.id, 0) + 1
    out = {p: z for p, z in zeros.items() if p in params and isinstance(z, tuple) and not defs.get(p)}
    changed = True
    while changed:
        changed = False
        for s in walk_stmts(node.body):
            if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)) or len(s.targets) != 1:
                continue
            t, v = s.targets[0].id, s.value
            if t in out or defs.get(t) != 1:
                continue
            tree = None
            if isinstance(v, gast.Name):
                tree = out.get(v.id)
            elif isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) \
                    and isinstance(out.get(v.value.id), tuple):
                tree = _item(out[v.value.id], v.slice)
            if isinstance(tree, tuple):
                out[t] = tree
                changed = True
    return out


def _as_appends(stmts):
    """`T = tape_push(T, V)` (a tape push as an assignment, for the analyses) back to `T.append(V)` in the
    generated code: the same list, without a helper call per push."""
    out = []
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body, s.orelse = _as_appends(s.body), _as_appends(s.orelse)
        elif (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call)
              and isinstance(s.value.func, gast.Name) and s.value.func.id == "tape_push" and len(s.value.args) == 2
              and isinstance(s.value.args[0], gast.Name) and s.value.args[0].id == s.targets[0].id):
            s = A.copy_loc(A.quote("T.append(V)", T=s.targets[0].id, V=s.value.args[1])[0], s)
        out.append(s)
    return out


def _without_placeholders(stmts):
    """walk_stmts, less the `x2 = None` a generated primal starts with for each value its loop tapes (the
    first push saves it, nothing computes with it): kind inference then sees that `x2` is a float, and the
    tangent code needs no shape checks (`broadcast_like`) for it."""
    for s in walk_stmts(stmts):
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Constant) and s.value.value is None):
            yield s


def _is_generated(src):
    return src.filename.startswith("<retrograd")


class ForwardTransform:
    def __init__(self, program, fn, active_params, name, kinds=None, zeros=None):
        self.program, self.fn, self.name = program, fn, name
        self.traits = program.traits
        self.src = read_function(fn)
        self.generated = _is_generated(self.src)      # an adjoint retrograd wrote (forward-over-reverse)
        if not self.generated:
            check_function(self.src)
            inline_writers(self.src)       # a helper writing into its argument: its writes become ours, as in reverse
            _rename_reserved(self.src)
        else:
            self.src.node.body = _effects_as_assignments(self.src.node.body)
            self.src.namespace.setdefault("tape_push", tape_push)
        self.callees = Callees(self.src, local_names(self.src.node))
        self.norm = Normalizer(self.src, self.callees)
        self.node = self.norm.run()
        self.names = self.norm.names
        args = self.node.args
        self.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        self.active_params = [p for p in self.params if p in active_params]
        self.locals = set(self.params) | A.assigned_names(self.node.body)
        ret = self.node.body[-1]
        if not isinstance(ret, gast.Return) or ret.value is None:
            raise self.src.error(UnsupportedSyntaxError, ret, f"`{self.node.name}` must end by returning a value",
                                 construct="return", hint="return the value to differentiate")
        self.result_expr = ret.value
        # generated code: parameters holding tuples some of whose items have a zero tangent (an hvp's saved
        # tuple: the inputs held constant); those items carry no tangent work (_zero_trees)
        self.zeros = _alias_zeros(self.node, self.params, zeros or {}) if self.generated else {}
        self.call_zeros = dict(self.zeros)     # the same, for the values this code passes on to callees
        self.active = self._activity()
        self.kinds = infer_kinds(self.node, {p: (kinds or {}).get(p) for p in self.params}, self.callees,
                                 _without_placeholders if self.generated else walk_stmts)
        self.float_arrays = float_arrays(self.node, self.active_params, self.callees, walk_stmts)
        scalars = {n for n, k in self.kinds.items() if k == "scalar"}
        self.view_checks = {} if self.generated else {id(d): pairs for d, pairs in check_aliases(
            self.node, self.src, UnsupportedSyntaxError, self.locals, scalars=scalars, callees=self.callees)}
        self.written = self._written_names()
        self.params_written = memory_model(self.node, self.locals, self.params, self.callees).params_written
        self.dnames = {}
        self.comments = program.comments
        self._commented = None

    # ---- analysis ------------------------------------------------------------------------------------
    def diff_names(self, node):
        """Names whose value flows differentiably into `node` (activity.diff_names, plus the helpers of
        generated adjoints and their tapes)."""
        out = set()

        def visit(n):
            if isinstance(n, gast.Name):
                out.add(n.id)
            elif isinstance(n, gast.BinOp):
                if isinstance(n.op, tuple(k for k in _BINOPS)):
                    visit(n.left)
                    visit(n.right)
            elif isinstance(n, gast.UnaryOp):
                if isinstance(n.op, (gast.USub, gast.UAdd)):
                    visit(n.operand)
            elif isinstance(n, gast.Subscript):
                if _zero_item(n, self.zeros):
                    return
                visit(n.value)
                if not self.generated:     # generated code indexes only (user code: a float in [...] is refused)
                    visit(n.slice)
            elif isinstance(n, gast.Attribute):
                if n.attr not in SHAPE_ATTRS:
                    visit(n.value)
            elif isinstance(n, (gast.Tuple, gast.List)):
                for e in n.elts:
                    visit(e)
            elif isinstance(n, gast.Dict):
                for e in n.values:
                    visit(e)
            elif isinstance(n, gast.Call):
                if self._tape_pop(n) is not None:
                    visit(n.func.value)
                    return
                callee = self.callees.classify(n)
                if callee.kind == "missing" and callee.fn is not None and helper_rules.is_constant(callee.fn):
                    return
                rule = helper_rules.lookup(callee.fn) if callee.kind == "missing" and callee.fn is not None else None
                if rule is not None and not isinstance(rule, Refused):
                    bound = self._bind_helper(n, callee)
                    for p in rule.diff:
                        if p in bound:
                            visit(bound[p])
                    return
                for a in callee.diff_args(n):
                    visit(a)
        visit(node)
        return out

    def _uses(self):
        """(target, names flowing into it) of every definition (in-place updates and tape pushes included)."""
        out = []
        for s in walk_stmts(self.node.body):
            if isinstance(s, gast.Assign):
                t = s.targets[0]
                tname = t.id if isinstance(t, gast.Name) else A.subscript_base(t)
                out.append((tname, self.diff_names(s.value)))
        return out + [(_RESULT, self.diff_names(self.result_expr))]

    def _activity(self):
        uses = self._uses()
        varied = set(self.active_params)
        changed = True
        while changed:
            changed = False
            for tgt, names in uses:
                if tgt not in varied and names & varied:
                    varied.add(tgt)
                    changed = True
        useful, changed = {_RESULT}, True
        while changed:
            changed = False
            for tgt, names in uses:
                if tgt in useful and not names <= useful:
                    useful |= names
                    changed = True
        return (varied & useful) - {_RESULT}

    def _written_names(self):
        """Names whose arrays are updated in place: their tangents are written in place too, so each must
        own its array (never share one with another tangent or the caller's)."""
        out = set()
        for s in walk_stmts(self.node.body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
                out.add(A.subscript_base(s.targets[0]))
            elif isinstance(s, gast.Assign) and getattr(s, "_rg_inplace", False):
                out.add(s.targets[0].id)
            for n in gast.walk(s):
                if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in _IN_PLACE \
                        and n.args and isinstance(n.args[0], gast.Name):
                    out.add(n.args[0].id)
        return out

    def _tape_pop(self, call):
        f = call.func
        if self.generated and isinstance(f, gast.Attribute) and f.attr == "pop" and not call.args \
                and isinstance(f.value, gast.Name):
            return f.value.id
        return None

    def _is_varied(self, node):
        if not hasattr(self, "_varied"):
            from ..analysis.activity import varied_names
            self._varied = varied_names(self.node, self.active_params, self.callees)
        return bool(self.diff_names(node) & self._varied)

    def is_active(self, node):
        return bool(self.diff_names(node) & self.active)

    def dvar(self, name):
        if name not in self.dnames:
            self.dnames[name] = self.names.fresh("d" + name)
        return self.dnames[name]

    # ---- the function --------------------------------------------------------------------------------
    def build(self):
        body = self._block(self.node.body[:-1])
        prologue = []
        for p in self.params:
            if p in self.params_written:     # never write into the caller's arrays (nor their tangents)
                prologue += A.quote(f"{p} = snapshot({p})")
                if p in self.active_params:
                    prologue += A.quote(f"{self.dvar(p)} = snapshot({self.dvar(p)})")
        for p in self.params:
            if p in self.active and p not in self.active_params:    # written with differentiated values
                prologue += A.quote(f"{self.dvar(p)} = zeros_like({p})")
        pre = []
        res = self.result_expr
        tres = self.tangent(res, pre, lambda new: None)
        if tres is None:
            tres = self._zeros(res)
        self.zero_tree = _zero_tree(tres)
        ret = [gast.Return(value=gast.Tuple(elts=[copy.deepcopy(res), tres], ctx=gast.Load()))]
        fn = copy.copy(self.node)
        fn.name = self.name
        args = copy.deepcopy(self.node.args)
        args.kwonlyargs = args.kwonlyargs + [A.name(self.dvar(p), True) for p in self.active_params]
        args.kw_defaults = args.kw_defaults + [None] * len(self.active_params)
        fn.args = args
        fn.body = _as_appends(prologue + body + pre + ret)
        fn.decorator_list = []
        fn.returns = None
        return fn

    def tangent_params(self):
        return {p: self.dvar(p) for p in self.active_params}

    def _block(self, stmts):
        out = []
        for s in stmts:
            if not isinstance(s, (gast.If, gast.For, gast.While)) and not self.generated:
                if not self.traits.numpy_draws:     # a compiled target's generator is not NumPy's: refused
                    FunctionTransform._check_draws(self, s)
                for call in (n for n in gast.walk(s) if isinstance(n, gast.Call)):
                    callee = self.callees.classify(call)
                    if callee.kind == "user":   # a helper writing into its argument is refused, as in reverse
                        FunctionTransform._check_helper(self, call, callee)
            if isinstance(s, gast.Assign):
                out += self._assign(s)
            elif isinstance(s, gast.If):
                s2 = copy.copy(s)
                s2.body = self._block(s.body) or [gast.Pass()]
                s2.orelse = self._block(s.orelse)
                out.append(s2)
            elif isinstance(s, (gast.For, gast.While)):
                s2 = copy.copy(s)
                s2.body = self._block(s.body) or [gast.Pass()]
                out.append(s2)
            else:
                out.append(s)
        return out

    def _comment(self, s):
        text = self.src.line_text(s)
        fname, line, col = self.src.where(s)
        if (fname, line) == self._commented or not text:
            return []
        self._commented = (fname, line)
        key = len(self.comments)
        self.comments.append(f"tangent of: {text}  ({os.path.basename(fname)}:{line})")
        self.program.comment_locations[key] = Location(fname, line, text, col)   # a compile error names this line
        return [gast.Expr(value=A.const(f"__rg_comment_{key}__"))]

    def _guards(self, s):
        out = []
        for view, arr in self.view_checks.get(id(s), ()):
            fname, line, _ = self.src.where(s)
            msg = (f"{fname}:{line}: `{view}` shares memory with `{arr}`, and one of them is written while "
                   "the other is still used; retrograd cannot differentiate through a write seen by a view")
            out += A.copy_loc(A.quote(f"not_a_view({view}, {arr}, {msg!r})"), s)
        target = s.targets[0]
        if (isinstance(target, gast.Subscript) or scatter_target(s)) and not self.generated and self.is_active(s.value):
            tname = A.subscript_base(target) if isinstance(target, gast.Subscript) else target.id
            if tname not in self.float_arrays:      # NumPy would truncate the value (analysis/dtypes.py)
                fname, line, _ = self.src.where(s)
                msg = (f"{fname}:{line}: a value being differentiated is written into `{tname}`, an array of "
                       "integers or booleans, which truncates it")
                out += A.copy_loc(A.quote(f"float_target({tname}, {msg!r})"), s)
        if isinstance(target, gast.Subscript) and not isinstance(s.value, gast.Call) and not self.generated:
            from ..analysis.aliases import _fancy, view_sources
            idx = target.slice.elts if isinstance(target.slice, gast.Tuple) else [target.slice]
            if any(_fancy(i) or (isinstance(i, gast.Name) and self.kinds.get(i.id) != "scalar"
                                 and i.id not in self._ints()) for i in idx) and view_sources(s.value, self.locals):
                # NumPy writes through a mask or index array element by element: a value that overlaps the
                # target (`x[m] = x[::-1]`) is read after parts of it were written
                fname, line, _ = self.src.where(s)
                tname = A.subscript_base(target)
                msg = (f"{fname}:{line}: the value written through an index array shares memory with "
                       f"`{tname}`; NumPy then reads parts of it after writing them")
                out = A.copy_loc(A.quote(f"not_a_view(V, {tname}, {msg!r})", V=A.as_load(s.value)), s) + out
        return out

    def _drop_primal_result(self, name):
        from . import runtime
        from .prune import drop_primal_result
        ns = self.program.globals_for(runtime)
        for f in self.program.functions:
            if f.name == name:
                drop_primal_result(f, ns)

    def _carry_zeros(self, target, value):
        """`saved = out_saved[1]`, `A = saved`: the zero tree of the value goes to the name."""
        tree = None
        if isinstance(value, gast.Name):
            tree = self.call_zeros.get(value.id)
        elif isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) \
                and isinstance(self.call_zeros.get(value.value.id), tuple):
            tree = _item(self.call_zeros[value.value.id], value.slice)
        if isinstance(tree, tuple):
            self.call_zeros[target] = tree
        else:
            self.call_zeros.pop(target, None)

    def _ints(self):
        if not hasattr(self, "_int_names"):
            from ..analysis.activity import int_names
            self._int_names = int_names(self.node)
        return self._int_names

    def _assign(self, s):
        target = s.targets[0]
        tname = assigned_array(self.src, s)
        self._check_index_data(s)
        if not self.generated:
            check_rule_calls(s, self.callees, self.is_active, self._is_varied, self.src)
        guards = self._guards(s)
        if self.generated and isinstance(target, gast.Name):
            self._carry_zeros(target.id, s.value)
        if tname not in self.active:
            return [s] + guards
        value = s.value
        callee = self.callees.classify(value) if isinstance(value, gast.Call) and self._tape_pop(value) is None else None
        if callee is not None and callee.kind == "user":
            return self._comment(s) + self._user_call(s, tname, value, callee) + guards
        pre = []
        if self.generated is False:
            self._hoist_draws(s, pre)
        tape = self._tape_pop(value) if isinstance(value, gast.Call) else None
        if tape is not None:
            tan = A.quote_expr(f"{self.dvar(tape)}.pop()") if tape in self.active else self._zeros(A.name(tname))
        else:
            tan = self.tangent(value, pre, lambda new: setattr(s, "value", new), top=True)
        value = s.value
        dname = self.dvar(tname)
        if isinstance(target, gast.Name):
            dtarget = A.name(dname, True)
            if tan is None:       # zeros of the new value's structure
                tan = A.const(0.0) if self.kinds.get(tname) == "scalar" else A.quote_expr(f"zeros_like({_RESULT})")
        else:
            dtarget = gast.Subscript(value=A.name(dname), slice=copy.deepcopy(target.slice), ctx=gast.Store())
            if tan is None:
                tan = A.const(0.0)
        tan = self._own(tname, tan, value)
        uses_result = any(isinstance(n, gast.Name) and n.id == _RESULT for n in gast.walk(tan))
        # `tname` in the tangent is always its value before this statement (the result is _RESULT)
        reads_old = tname in A.loaded_names(tan)
        primal = [s]
        if uses_result and (reads_old or isinstance(target, gast.Subscript)):
            # the rule reads its result and (for a write) the result is the value, not the target
            tmp = self.names.fresh(tname + "_new")
            calc = A.copy_loc(gast.Assign(targets=[A.name(tmp, True)], value=value, type_comment=None), s)
            s2 = copy.copy(s)
            s2.value = A.name(tmp)
            stmts = [calc, self._tassign(dtarget, _put_result(tan, A.name(tmp)), s), s2]
        elif reads_old:
            stmts = [self._tassign(dtarget, tan, s)] + primal
        else:
            stmts = primal + [self._tassign(dtarget, _put_result(tan, A.name(tname)), s)]
        return self._comment(s) + pre + stmts + guards

    def _tassign(self, target, value, s):
        return A.copy_loc(gast.Assign(targets=[target], value=value, type_comment=None), s)

    def _own(self, tname, tan, value):
        """A tangent about to be written in place must own its array; a tangent that may share the array
        of one written in place later must not see those writes.  Such tangents are copied, except for a
        bare alias (`u = un` -> `du = dun`): the tangents then share exactly when the values do, and the
        alias analysis of the values (check_aliases) covers both."""
        if not _may_share(tan):
            return tan
        if isinstance(value, gast.Name) and isinstance(tan, gast.Name) and tan.id == self.dnames.get(value.id):
            return tan
        shared = {n for n in A.loaded_names(tan) if n in self.dnames.values()}
        written = {self.dvar(w) for w in self.written if w in self.active}
        if tname in self.written or shared & written:
            return A.quote_expr("snapshot(T)", T=tan)
        return tan

    def _check_index_data(self, s):
        if self.generated:
            return
        for n in gast.walk(s):
            if isinstance(n, gast.Subscript) and self.is_active(n.slice):
                what = A.unparse(n.value)
                raise self.src.error(MissingRuleError, n, f"`{what}[...]` is built from values being "
                                     "differentiated, and it has no derivative rule", construct=f"{what}[...]",
                                     hint="join arrays with np.concatenate / np.stack / np.column_stack")

    def _hoist_draws(self, s, pre):
        """A random draw inside an expression is named first, so that the value is drawn once and in the
        order the plain call draws (the tangent may read it, and splitting must not reorder draws)."""
        class Hoist(gast.NodeTransformer):
            def visit_Call(inner, node):
                inner.generic_visit(node)
                if self.callees.is_draw(node) and node is not s.value:
                    tmp = self.names.fresh("draw")
                    pre.append(A.copy_loc(gast.Assign(targets=[A.name(tmp, True)], value=node, type_comment=None), s))
                    return A.name(tmp)
                return node
        s.value = Hoist().visit(s.value)

    def _zeros(self, expr):
        if isinstance(expr, gast.Name) and self.kinds.get(expr.id) == "scalar":
            return A.const(0.0)
        return A.quote_expr("zeros_like(E)", E=copy.deepcopy(expr))

    # ---- helpers -------------------------------------------------------------------------------------
    def _user_call(self, s, tname, call, callee):
        try:
            bound = inspect.signature(callee.fn).bind(*call.args, **{k.arg: k.value for k in call.keywords})
        except TypeError as exc:
            raise self.src.error(UnsupportedSyntaxError, call, f"cannot match the call to {callee.label}: {exc}",
                                 construct=callee.label) from None
        active = [(p, e) for p, e in bound.arguments.items() if self.is_active(e)]
        if not active:
            return [s, self._tassign(A.name(self.dvar(tname), True), self._zeros(A.name(tname)), s)] \
                if isinstance(s.targets[0], gast.Name) else [s]
        kinds = {p: expr_kind(e, self.kinds, self.callees) for p, e in bound.arguments.items()}
        zeros = {p: self.call_zeros[e.id] for p, e in bound.arguments.items()
                 if self.generated and isinstance(e, gast.Name) and isinstance(self.call_zeros.get(e.id), tuple)}
        name, tparams = self.program.variant(callee.fn, {p for p, _ in active}, kinds, zeros)
        if self.generated and isinstance(s.targets[0], gast.Name):
            done = [v[2] for v in self.program.variants.values() if v[0] == name and v[2] is not None]
            if done and isinstance(getattr(done[0], "zero_tree", None), tuple):
                self.call_zeros[tname] = done[0].zero_tree     # what the callee's tangent result holds zeros at
        if getattr(self.fn, "_rg_discards", None) is callee.fn:    # hvp's driver: only the tangent is read
            self._drop_primal_result(name)
        pre, keywords = [], []
        for p, e in active:
            holder = {"e": e}

            def put(new, p=p, holder=holder):
                for k, a in enumerate(call.args):
                    if a is holder["e"]:
                        call.args[k] = new
                for kw in call.keywords:
                    if kw.value is holder["e"]:
                        kw.value = new
            te = self.tangent(e, pre, put)
            keywords.append(gast.keyword(arg=tparams[p], value=te))
        new = gast.Call(func=A.name(name), args=[copy.deepcopy(a) for a in call.args],
                        keywords=[copy.deepcopy(k) for k in call.keywords] + keywords)
        target = s.targets[0]
        if isinstance(target, gast.Name):
            targets = gast.Tuple(elts=[A.name(tname, True), A.name(self.dvar(tname), True)], ctx=gast.Store())
            return pre + [A.copy_loc(gast.Assign(targets=[targets], value=new, type_comment=None), s)]
        tmp, dtmp = self.names.fresh(tname + "_part"), self.names.fresh("d" + tname + "_part")
        stmts = [gast.Assign(targets=[gast.Tuple(elts=[A.name(tmp, True), A.name(dtmp, True)], ctx=gast.Store())],
                             value=new, type_comment=None),
                 gast.Assign(targets=[copy.deepcopy(target)], value=A.name(tmp), type_comment=None),
                 gast.Assign(targets=[gast.Subscript(value=A.name(self.dvar(tname)), slice=copy.deepcopy(target.slice),
                                                     ctx=gast.Store())], value=A.name(dtmp), type_comment=None)]
        return pre + A.copy_loc(stmts, s)

    def _bind_helper(self, call, callee):
        sig = inspect.signature(callee.fn)
        try:
            bound = sig.bind(*callee.args(call), **{k.arg: k.value for k in call.keywords})
        except TypeError as exc:
            raise self.src.error(RetrogradError, call, f"internal: cannot bind {callee.label}: {exc}") from None
        bound.apply_defaults()
        return {k: (v if isinstance(v, gast.AST) else A.const(v)) for k, v in bound.arguments.items()}

    # ---- expressions ---------------------------------------------------------------------------------
    def _objects_are_constant(self):
        """True when every differentiated argument of the entry function is a float or a float array: then
        no object (a model's `self`, unpacked from a tape tuple by per-variable activity in a generated
        adjoint) can carry a tangent, since the code cannot build objects from floats; its attributes are
        constants."""
        return getattr(self.program, "objects_constant", False)

    def tangent(self, node, pre, put, top=False):
        """The tangent expression of `node` (None: zero).  Values the tangent reads that the primal computes
        are named first (appended to `pre`; `put` replaces `node` in its parent)."""
        if not self.is_active(node):
            return None
        if isinstance(node, gast.Name):
            return A.name(self.dvar(node.id))
        if isinstance(node, gast.Subscript):
            base = self.tangent(node.value, pre, lambda new: setattr(node, "value", new))
            return gast.Subscript(value=base, slice=copy.deepcopy(node.slice), ctx=gast.Load())
        if isinstance(node, (gast.Tuple, gast.List)):
            elts = []
            for k, e in enumerate(node.elts):
                te = self.tangent(e, pre, lambda new, k=k: node.elts.__setitem__(k, new))
                elts.append(te if te is not None else self._zeros(node.elts[k]))
            return type(node)(elts=elts, ctx=gast.Load())
        if isinstance(node, gast.Dict):
            vals = []
            for k, v in enumerate(node.values):
                tv = self.tangent(v, pre, lambda new, k=k: node.values.__setitem__(k, new))
                vals.append(tv if tv is not None else self._zeros(node.values[k]))
            return gast.Dict(keys=[copy.deepcopy(k) for k in node.keys], values=vals)
        if isinstance(node, gast.BinOp):
            rule = RULES.get(id(_BINOPS.get(type(node.op))))
            if rule is None:
                raise self.src.error(UnsupportedSyntaxError, node, f"the operator {type(node.op).__name__} "
                                     "has no derivative", construct=type(node.op).__name__)
            bound = {rule.params[0]: (node.left, lambda new: setattr(node, "left", new)),
                     rule.params[1]: (node.right, lambda new: setattr(node, "right", new))}
            return self.apply(rule.tangent, rule, bound, node, pre, put, top)
        if isinstance(node, gast.UnaryOp):
            rule = RULES[id(_UNOPS[type(node.op)])]
            bound = {rule.params[0]: (node.operand, lambda new: setattr(node, "operand", new))}
            return self.apply(rule.tangent, rule, bound, node, pre, put, top)
        if isinstance(node, gast.Attribute):
            rule = ATTRIBUTES.get(node.attr)
            if rule is None and self._objects_are_constant():
                return None     # `self.W` of an object restored from a tape: no object carries a tangent
            if rule is None:
                raise self.src.error(UnsupportedSyntaxError, node, f"the attribute .{node.attr} has no derivative",
                                     construct="." + node.attr, hint="use a NumPy function with a rule instead")
            bound = {rule.params[0]: (node.value, lambda new: setattr(node, "value", new))}
            return self.apply(rule.tangent, rule, bound, node, pre, put, top)
        if isinstance(node, gast.Call):
            callee = self.callees.classify(node)
            if callee.kind == "rule":
                bound = self._bound_args(node, callee, self.callees.bind(node, callee))
                return self.apply(callee.rule.tangent, callee.rule, bound, node, pre, put, top)
            if callee.kind == "missing" and callee.fn is not None and helper_rules.lookup(callee.fn) is not None:
                bound = self._bound_args(node, callee, self._bind_helper(node, callee))
                return self.apply(helper_rules.lookup(callee.fn), None, bound, node, pre, put, top)
            if callee.kind == "custom":
                raise self.src.error(MissingRuleError, node, f"`{callee.label}` has a custom adjoint "
                                     "(rg.register_adjoint) but no tangent, so forward mode cannot differentiate it",
                                     construct=callee.label, hint="differentiate it in reverse mode (grad, vjp), "
                                     "or call a Python function retrograd can read instead")
            if callee.kind == "missing":
                raise self.callees.missing_error(node, callee)
            raise self.src.error(RetrogradError, node, f"internal: unexpected nested call to {callee.label}")
        raise self.src.error(UnsupportedSyntaxError, node, f"cannot differentiate a {type(node).__name__} "
                             "expression", construct=type(node).__name__)

    def _bound_args(self, call, callee, bound):
        """{param: (expression, put)} for the arguments of a call (the receiver of a method included)."""
        out = {}
        for p, e in bound.items():
            def put(new, e=e):
                if callee.receiver is e and isinstance(call.func, gast.Attribute):
                    call.func.value = new
                for k, a in enumerate(call.args):
                    if a is e:
                        call.args[k] = new
                for kw in call.keywords:
                    if kw.value is e:
                        kw.value = new
                if isinstance(callee.receiver, gast.AST) and callee.receiver is e:
                    callee.receiver = new
            out[p] = (e, put)
        return out

    def apply(self, tangent, rule, bound, node, pre, put, top):
        if tangent is None or isinstance(tangent, Refused):
            label = tangent.name if tangent is not None else (rule.name if rule else "?")
            why = tangent.reason if tangent is not None else "it has no tangent rule"
            raise self.src.error(MissingRuleError, node, f"`{A.unparse(node)[:60]}` cannot be differentiated in "
                                 f"forward mode: {why}", construct=label,
                                 hint="use reverse mode (grad, vjp) for this function")
        current = {p: e for p, (e, _) in bound.items()}   # an operand named first is read by its name

        def putter(p, put):
            def new_put(new):
                put(new)
                current[p] = new
            return new_put
        bound = {p: (e, putter(p, put)) for p, (e, put) in bound.items()}
        tangents = {}
        for p in tangent.params:
            if p in tangent.diff and p in bound:
                te = self.tangent(bound[p][0], pre, bound[p][1])
                if te is not None:
                    tangents[p] = te
        bound = {p: (current[p], put) for p, (_, put) in bound.items()}
        if not tangents:
            return None
        live = set(tangents)
        zeros_needed = {p for _, term in tangent.terms if set(_tangents(term)) & live
                        for p in _tangents(term) if p not in live}
        reads = (tangent.reads(live) | zeros_needed) & set(bound)
        values = {}
        for p, (e, p_put) in bound.items():
            if p in reads and not _cheap(e):
                e = self._name_value(e, p_put, pre, p)
            values[p] = e
        zeros = {p: self._zeros(values[p]) for p in zeros_needed}
        # an elementwise result has the broadcast shape of its operands: the tangent does too when every
        # operand takes part in it (a live tangent or a value read), or when the kinds prove it
        operands = [q for q in tangent.params if q in values and not isinstance(values[q], gast.Constant)]
        missing = [q for q in operands if q not in live and q not in tangent.reads(live)]
        wrap = rule is not None and rule.broadcasts and bool(missing) and not all(
            same_shape_as_result(values[p], [values[q] for q in operands if q != p], self.kinds, self.callees)
            for p in live)
        if tangent.needs_result(live) or wrap:
            if top:
                values[tangent.result] = A.name(_RESULT)
            else:
                values[tangent.result] = self._name_value(node, put, pre, "r")
        expr = _drop_default_keywords(instantiate(tangent, values, tangents, zeros), tangent, values,
                                      self._explicit(node))
        if wrap:
            expr = A.quote_expr("broadcast_like(T, Y)", T=expr, Y=values[tangent.result])
        return expr

    def _explicit(self, node):
        """ids of the argument expressions written in a call (the others are its parameters' defaults)."""
        if not isinstance(node, gast.Call):
            return None
        return {id(a) for a in node.args} | {id(k.value) for k in node.keywords} | (
            {id(node.func.value)} if isinstance(node.func, gast.Attribute) else set())

    def _name_value(self, e, put, pre, label):
        """Compute `e` once, before the statement, under a name both the primal and the tangent read."""
        tmp = self.names.fresh(_label(e) or label)
        pre.append(A.copy_loc(gast.Assign(targets=[A.name(tmp, True)], value=e, type_comment=None), e))
        put(A.name(tmp))
        return A.name(tmp)


def _drop_default_keywords(expr, tangent, values, explicit):
    """`np.sum(dx, axis=None, keepdims=False)` -> `np.sum(dx)` when the user's call left them at their
    defaults (keywords whose value is a defaulted parameter's constant)."""
    if explicit is None or expr is None:
        return expr
    defaults = {id(values[p]) for p in tangent.params if p in values and id(values[p]) not in explicit
                and isinstance(values[p], gast.Constant)}
    consts = [values[p] for p in tangent.params if p in values and id(values[p]) in defaults]
    dumps = {gast.dump(c) for c in consts}
    for n in gast.walk(expr):
        if isinstance(n, gast.Call):
            n.keywords = [k for k in n.keywords if not (k.arg in tangent.params and k.value is not None
                                                        and isinstance(k.value, gast.Constant)
                                                        and gast.dump(k.value) in dumps
                                                        and k.arg in _defaulted(tangent, values, defaults)
                                                        and _is_callee_default(n.func, k))]
    return expr


def _is_callee_default(func, keyword):
    """Is `keyword`'s constant the default of that parameter of the function called?  Only then may it be
    left out (np.trapezoid's axis defaults to -1 where np.sum's defaults to None)."""
    import inspect
    from ..reverse.rules import registry
    from ..frontend.resolve import _dotted
    dotted = _dotted(func)
    obj = registry.GLOBALS.get(dotted[0]) if dotted else None
    for a in (dotted or [])[1:]:
        obj = getattr(obj, a, None)
    try:
        default = inspect.signature(obj).parameters[keyword.arg].default
    except (TypeError, ValueError, KeyError):
        return False
    if default is getattr(np, "_NoValue", None) and keyword.arg == "keepdims":
        default = False     # NumPy's "not given": its reductions then keep no dims
    return default is not inspect.Parameter.empty and type(default) is type(keyword.value.value) \
        and default == keyword.value.value


def _defaulted(tangent, values, defaults):
    return {p for p in tangent.params if p in values and id(values[p]) in defaults}


def _tangents(term):
    from ..reverse.rules.tangents import tangents_in
    return tangents_in(term)


def _put_result(expr, value):
    class Put(gast.NodeTransformer):
        def visit_Name(self, node):
            return copy.deepcopy(value) if node.id == _RESULT else node
    return Put().visit(expr)


def _cheap(e):
    """Cheap enough to evaluate again in the tangent (names, constants, `8.0 / 3.0`, `x.T`, `x[i]`, `-x`)."""
    if isinstance(e, (gast.Name, gast.Constant)):
        return True
    if all(isinstance(n, (gast.Constant, gast.BinOp, gast.UnaryOp, gast.operator, gast.unaryop)) for n in gast.walk(e)):
        return True
    if isinstance(e, gast.Attribute):
        return isinstance(e.value, gast.Name)
    if isinstance(e, gast.UnaryOp) and isinstance(e.operand, (gast.Name, gast.Constant)):
        return True
    if isinstance(e, gast.Subscript):
        return isinstance(e.value, gast.Name) and not any(isinstance(n, gast.Call) for n in gast.walk(e.slice))
    if isinstance(e, (gast.Tuple, gast.List)):
        return all(_cheap(x) for x in e.elts)
    return False


def _may_share(tan):
    if isinstance(tan, (gast.Name, gast.Subscript, gast.Attribute, gast.Tuple, gast.List, gast.Dict)):
        return True
    if isinstance(tan, gast.Call):
        f = tan.func
        name = f.attr if isinstance(f, gast.Attribute) else f.id if isinstance(f, gast.Name) else None
        return name in _SHARING_CALLS or name == "pop"
    return False


def _label(e):
    """A short name for a computed value: `x_mul_y` for `x * y`, `sum_x` for `np.sum(x)`."""
    ops = {gast.Add: "plus", gast.Sub: "minus", gast.Mult: "mul", gast.Div: "div", gast.Pow: "pow",
           gast.MatMult: "at", gast.Mod: "mod"}
    if isinstance(e, gast.Name):
        return e.id
    if isinstance(e, gast.BinOp) and isinstance(e.left, gast.Name) and isinstance(e.right, (gast.Name, gast.Constant)):
        right = e.right.id if isinstance(e.right, gast.Name) else "c"
        return f"{e.left.id}_{ops.get(type(e.op), 'op')}_{right}"
    if isinstance(e, gast.BinOp):
        return ops.get(type(e.op), "t")
    if isinstance(e, gast.Call):
        f = e.func
        fname = f.attr if isinstance(f, gast.Attribute) else f.id if isinstance(f, gast.Name) else "call"
        arg = e.args[0].id if e.args and isinstance(e.args[0], gast.Name) else None
        return f"{fname}_{arg}" if arg else fname
    if isinstance(e, gast.UnaryOp):
        return "neg"
    return "t"
