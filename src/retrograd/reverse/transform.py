"""The reverse-mode transform: one normalized function in, a primal and an adjoint function out.

The primal is the user's code plus tape pushes; it returns `(result, saved)`.  The adjoint receives the
result's cotangent and `saved`, walks the statements backwards, and at each one
  1. takes the cotangent of what the statement defined,
  2. restores the value the statement overwrote (popped from the tape) when an earlier statement's
     adjoint needs it, so that every statement's adjoint sees the values it saw in the forward pass,
  3. accumulates cotangents into its operands with the rules of `reverse.rules`.
Branches are replayed by re-testing their condition (or a recorded one), loops by running the index
range backwards (or a recorded trip count).  What to tape is decided by `analysis.tape`.
"""
import copy
import os
from dataclasses import dataclass, field

import gast
import numpy as np

from .. import astutil as A
from ..analysis.activity import diff_names, is_basic_index, walk_stmts
from ..analysis.aliases import memory_model, view_sources
from ..analysis.dtypes import scatter_target
from ..analysis.rule_calls import check_rule_calls
from ..analysis.kinds import expr_kind, is_array, same_shape_as_result, shape_witness
from ..backends import plain_name
from ..errors import BackendError, MissingRuleError, RetrogradError, UnsupportedSyntaxError
from ..frontend.checks import assigned_array
from ..frontend.inline import inlined_source
from .rules import registry
from .rules.registry import ATTRIBUTES, RULES
from .sourcemap import Location
from .fission import split_scatter_loops
from .shape_tapes import shape_only_tapes
from .tape_sizes import count_code, home_loop
from .simplify import (Peephole, _sweep, drop_passing_snapshots, drop_dead_stores, drop_orphan_comments, drop_tape_roundtrips, fold_zeros,
                       reuse_zero_buffers)

import operator

_BINOPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Div: operator.truediv,
           gast.Pow: operator.pow, gast.MatMult: operator.matmul, gast.Mod: operator.mod}
_UNOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos}


@dataclass
class Uses:
    defs: set = field(default_factory=set)
    partial_defs: set = field(default_factory=set)
    op_uses: set = field(default_factory=set)
    res_uses: set = field(default_factory=set)
    exit_uses: set = field(default_factory=set)


@dataclass
class Block:
    """The adjoint of one simple statement, before tape decisions."""
    pre: list          # runs before the restore (reads the statement's result / cotangent)
    post: list         # runs after the restore (reads the statement's operands)
    target: str = None
    result_refs: list = field(default_factory=list)


class FunctionTransform:
    """The emission of one function (pipeline.transform_function runs its passes in order): the prepared
    function comes from the frontend passes, the facts from pipeline.analyse, and what this class builds
    are the adjoint blocks, the tape operations and the primal and adjoint function trees."""

    def __init__(self, program, function, primal_name, adjoint_name):
        self.program = program
        self.fn = function.fn
        self.primal_name = primal_name
        self.adjoint_name = adjoint_name
        self.src, self.aux, self.callees = function.src, function.aux, function.callees
        self.node, self.names, self.params = function.node, function.names, function.params
        self.locals, self.result = function.locals, function.result
        self.dnames = {}
        self.blocks = {}
        self.info = {}
        self.comments = program.comments
        self.traits = program.traits
        self.typed = self.traits.typed     # one static type per variable: typed tapes and placeholders
        self.remat = getattr(program, "remat", None)
        self._loop_floor = 0     # loops below this depth of self._loops are re-run per step (remat)
        self.result_kinds = {}   # variable -> kind of the helper result assigned to it

    # ---- preparation ---------------------------------------------------------------------------------
    def _inplace_vars(self):
        """Variables whose adjoint is updated in place (subscripted, containers, passed whole to calls):
        their adjoints are always freshly allocated, never aliased."""
        out = set()
        for s in walk_stmts(self.node.body):
            for n in gast.walk(s):
                if isinstance(n, gast.Subscript):
                    base = A.subscript_base(n)
                    if base:
                        out.add(base)
                if isinstance(n, gast.Attribute) and self._record_root(n):   # p.W: dp is a container
                    out.add(self._record_root(n))
                if isinstance(n, gast.Call):
                    c = self.callees.classify(n)
                    if c.kind in ("user", "custom"):
                        out |= {a.id for a in c.args(n) if isinstance(a, gast.Name)}
            if isinstance(s, gast.Assign) and isinstance(s.value, (gast.Tuple, gast.List, gast.Dict)):
                out.add(A.subscript_base(s.targets[0]) if isinstance(s.targets[0], gast.Subscript)
                        else s.targets[0].id)
        return out & self.active

    def _needs_reset(self, s, name):
        return name in self.redefined and id(s) not in self.first_defs

    # ---- names ---------------------------------------------------------------------------------------
    def dvar(self, name):
        if name not in self.dnames:
            self.dnames[name] = self.names.fresh("d" + name if not name.startswith("_") else "d" + name)
        return self.dnames[name]

    def is_active(self, node):
        return bool(diff_names(node, self.callees) & self.active)

    def is_varied(self, node):
        return bool(diff_names(node, self.callees) & self.varied)

    # ---- per-statement adjoints ----------------------------------------------------------------------
    def analyse(self, stmts):
        for k, s in enumerate(stmts):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                s._rg_dead = _overwritten_unread(stmts[k + 1:], s.targets[0].id)
            if not isinstance(s, (gast.If, gast.For, gast.While)):
                self._check_index_data(s)
                self._check_sequence_arithmetic(s)
                check_rule_calls(s, self.callees, self.is_active, self.is_varied, self.src)
                if not self.traits.numpy_draws:
                    self._check_draws(s)
            for call in (n for n in gast.walk(s) if isinstance(n, gast.Call)) if not isinstance(
                    s, (gast.If, gast.For, gast.While)) else ():
                callee = self.callees.classify(call)
                if callee.kind == "user":
                    self._check_helper(call, callee)
            if isinstance(s, gast.Assign):
                self._assign(s)
            elif isinstance(s, gast.If):
                if _is_exit(s):
                    continue
                self.analyse(s.body)
                self.analyse(s.orelse)
                self.info[id(s)] = Uses(exit_uses=A.loaded_names(s.test) & self.locals)
            elif isinstance(s, gast.For):
                self.analyse(s.body)
                uses = A.loaded_names(s.iter) & self.locals
                if getattr(s, "_rg_trips", None):
                    uses.add(s._rg_trips)
                self.info[id(s)] = Uses(exit_uses=uses)
            elif isinstance(s, gast.While):
                self.analyse(s.body)
                self.info[id(s)] = Uses(exit_uses={s._rg_trips})

    def _check_draws(self, s):
        """Compiled code draws from Numba's generator, not NumPy's: `f.grad`'s value would not be the plain
        call's (nor its seed's), so the numba target refuses draws."""
        for n in gast.walk(s):
            if isinstance(n, gast.Call) and self.callees.is_draw(n):
                raise self.src.error(BackendError, n, f"`{A.unparse(n.func)}` draws random numbers, and the "
                                     f"{self.traits.name} backend would draw them from its own generator, not NumPy's",
                                     construct=A.unparse(n.func), hint='use backend="python" for this function, '
                                     "or draw the numbers outside and pass them in")

    def _check_index_data(self, s):
        """A differentiated value inside `[...]` is data, not an index (NumPy takes no float indices):
        `np.r_[x, 2 * x]` builds an array from it, and no rule says how.  Refused, never taken as 0."""
        for n in gast.walk(s):
            if isinstance(n, gast.Subscript) and self.is_active(n.slice):
                what = A.unparse(n.value)
                raise self.src.error(MissingRuleError, n, f"`{what}[...]` is built from values being "
                                     "differentiated, and it has no derivative rule", construct=f"{what}[...]",
                                     hint="join arrays with np.concatenate / np.stack / np.column_stack")

    def _check_sequence_arithmetic(self, s):
        """`xs + [y]`, `[x] + ys`, `(a,) + t` and `[x] * 3` join or repeat Python sequences, where the
        adjoint of `+` and `*` is elementwise: the cotangents were misaligned, silently.  Only an ndarray
        operand makes them elementwise (`[a, b] * w`)."""
        for n in gast.walk(s):
            if not (isinstance(n, gast.BinOp) and isinstance(n.op, (gast.Add, gast.Mult))):
                continue
            for seq, other in ((n.left, n.right), (n.right, n.left)):
                # `xs + xs`, `xs * 2` of a container argument (kind "other"; a bool has kind "bool")
                container = isinstance(seq, gast.Name) and self.kinds.get(seq.id) == "other"
                if ((isinstance(seq, (gast.List, gast.Tuple)) or container) and self.is_active(n)
                        and not is_array(expr_kind(other, self.kinds, self.callees))):
                    raise self.src.error(UnsupportedSyntaxError, n, "`+` or `*` of a list or tuple joins or "
                                         "repeats it, which is not differentiated", construct="sequence " +
                                         ("+" if isinstance(n.op, gast.Add) else "*"),
                                         hint="build the list from its items (`[xs[0], xs[1], y]`), or join "
                                              "arrays with np.concatenate")

    def _assign(self, s):
        target = s.targets[0]
        tname = assigned_array(self.src, s)
        if self.traits.mask_write_rank is not None and isinstance(target, gast.Subscript):
            self._check_mask_write(target, tname)
        self._cur_target, self._cot_count = tname, 0
        uses = Uses()
        (uses.defs if isinstance(target, gast.Name) else uses.partial_defs).add(tname)
        self.info[id(s)] = uses
        value = s.value
        pre, post, refs = [], [], []
        callee = self.callees.classify(value) if isinstance(value, gast.Call) else None
        if callee is not None and callee.kind == "user" and self.is_active(value):
            self._user_call(s, tname, value, callee, pre, post, uses)
        elif tname in self.active and not getattr(s, "_rg_dead", False):
            d = self.dvar(tname)
            increment = self._increment(tname, value)
            if isinstance(target, gast.Name) and increment is not None:
                # x = x + e: the cotangent of the old x is the new one; only e receives something
                e, sign = increment
                self.adj_expr(e, A.name(d) if sign > 0 else A.quote_expr(f"-{d}"), post)
            elif isinstance(target, gast.Name) and self._sum_with_self(tname, value) is not None:
                # x = x + e, shapes not proven equal: dx stays (summed to x's shape when x was broadcast)
                e, sign = self._sum_with_self(tname, value)
                g = self.names.fresh(d + "_out")
                pre += A.quote(f"{g} = {d}")
                cot = A.name(g) if sign > 0 else A.quote_expr(f"-{g}")
                if not same_shape_as_result(e, [A.name(tname)], self.kinds, self.callees):
                    cot = A.quote_expr("unbroadcast(G, E)", G=cot, E=shape_witness(copy.deepcopy(e), self.kinds,
                                                                                   self.callees))
                self.adj_expr(e, cot, post)
                post += A.quote(f"{d} = unbroadcast({g}, {tname})")   # last: the reads of {g} come first
            elif isinstance(target, gast.Name):
                reads_self = tname in A.loaded_names(value)
                if reads_self:
                    g = self.names.fresh(d + "_out")
                    pre += A.quote(f"{g} = {d}")
                    post += self._reset(tname)
                else:
                    g = d
                result = A.name(tname)
                result._rg_result = True
                self.adj_expr(value, A.name(g), post, result=result, refs=refs)
                if not reads_self and self._needs_reset(s, tname):
                    post += self._reset(tname)
            else:
                g = self.names.fresh(f"{d}_{_index_label(target.slice)}")
                scalar = expr_kind(target, self.kinds, self.callees) == "scalar"
                increment = self._part_increment(target, value)
                if increment is not None:
                    # A[I] = A[I] + e: the old part's cotangent is the new one's, which stays in dA[I]
                    e, sign = increment
                    if sign < 0 and not scalar:     # -dA[I] is a new array already: no snapshot needed
                        cot = A.quote_expr("-D[I]", D=d, I=copy.deepcopy(target.slice))
                    else:
                        pre += self._part_read(g, d, target.slice, scalar)
                        cot = A.name(g) if sign > 0 else A.quote_expr(f"-{g}")
                    self.adj_expr(e, self._unbroadcast_to_value(cot, e, scalar), post)
                else:
                    pre += self._part_read(g, d, target.slice, scalar)
                    pre += A.quote("D[I] = 0.0", D=d, I=target.slice)
                    self.adj_expr(value, self._unbroadcast_to_value(A.name(g), value, scalar), post)
        # what the adjoint reads
        uses.res_uses |= {n for st in pre for n in A.loaded_names(st)} & self.locals
        for st in post:
            for n in gast.walk(st):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in self.locals:
                    (uses.res_uses if getattr(n, "_rg_result", False) else uses.op_uses).add(n.id)
        for n in A.loaded_names(target.slice) if isinstance(target, gast.Subscript) else ():
            if n in self.locals:
                uses.res_uses.add(n)   # the index, to restore the element
        self.blocks[id(s)] = Block(pre=pre, post=post, target=tname, result_refs=refs)

    def _check_mask_write(self, target, tname):
        """Numba indexes with a boolean mask only along one axis: `A[A > 0.7] = v` on a 2-D `A` is refused
        here, at the user's line (Numba itself fails with a bare AssertionError)."""
        from ..analysis.kinds import ndim
        parts = target.slice.elts if isinstance(target.slice, gast.Tuple) else [target.slice]
        rank, limit = ndim(self.kinds.get(tname)), self.traits.mask_write_rank
        if (rank is None or not 1 <= rank <= limit) and any(isinstance(p, gast.Name) and p.id in self.bools for p in parts):
            from ..errors import BackendError
            raise self.src.error(BackendError, target, f"the {self.traits.name} backend writes through a boolean "
                                 f"mask only into an array of at most {limit} dimension(s) (`{tname}` has "
                                 f"{rank or 'an unknown number of'})", construct="mask write",
                                 hint=f'use backend="python" for this function, or np.where(mask, value, A)')

    def _unbroadcast_to_value(self, g, value, scalar_target):
        """The cotangent of the value written into `A[I]`: the target's cotangent `g`, summed over the axes
        along which NumPy broadcast the value (`v[1:] = t`, `A[::2] = x`)."""
        if scalar_target or not self.is_active(value):
            return g
        if expr_kind(value, self.kinds, self.callees) == "scalar":
            return A.quote_expr("np.sum(G)", G=g)
        return A.quote_expr("unbroadcast(G, V)", G=g, V=shape_witness(copy.deepcopy(value), self.kinds, self.callees))

    def _witnesses(self, expr):
        """Shape-only arguments (`unbroadcast(g, x)`, `unreduce(g, x, ...)`) read a smaller expression of the
        same shape where the kinds prove one (kinds.shape_witness): no temporary built for its shape."""
        for n in gast.walk(expr):
            if (isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in ("unbroadcast", "unreduce")
                    and len(n.args) >= 2 and not A.is_atom(n.args[1])):
                n.args[1] = shape_witness(n.args[1], self.kinds, self.callees)
        return expr

    def _increment(self, name, value):
        """(e, +1/-1) when `value` is `name + e`, `e + name` or `name - e`, with `e` not reading `name` and
        the kinds proving that the sum has `name`'s shape."""
        split = _split_sum(name, value)
        if split is None:
            return None
        e, sign = split
        if not same_shape_as_result(A.name(name), [e], self.kinds, self.callees):
            return None
        if not same_shape_as_result(e, [A.name(name)], self.kinds, self.callees):
            return None   # `x += 0.3 * (x @ x)`: e is broadcast, its cotangent must be summed (general path)
        return e, sign

    @staticmethod
    def _part_read(g, d, index, scalar):
        """`g = dA[I]` (an element: a float) or `g = snapshot(dA[I])` (a part: a copy, not a view of dA)."""
        if not scalar:
            return A.quote(f"{g} = snapshot(D[I])", D=d, I=index)
        st = A.quote(f"{g} = D[I]", D=d, I=index)
        st[0].value._rg_element = True     # a float, not a view: dA's buffer stays unshared (simplify)
        return st

    def _part_increment(self, target, value):
        """(e, +1/-1) when `A[I] = A[I] + e`, `e + A[I]` or `A[I] - e` adds to a part of an array, with a basic
        index and an `e` that does not read `A`.  NumPy only writes a sum that fits the part (up to leading
        length-1 axes), so the old part's cotangent is the new part's: no reset, no restore of A[I]."""
        base = A.subscript_base(target)
        if not (isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Sub))
                and isinstance(target.value, gast.Name) and is_array(self.kinds.get(base))
                and is_basic_index(target.slice, self.ints)):
            return None
        part = gast.dump(A.as_load(copy.deepcopy(target)))
        if gast.dump(value.left) == part:
            e, sign = value.right, (1 if isinstance(value.op, gast.Add) else -1)
        elif gast.dump(value.right) == part and isinstance(value.op, gast.Add):
            e, sign = value.left, 1
        else:
            return None
        if base in A.loaded_names(e):
            return None
        return e, sign

    def _sum_with_self(self, name, value):
        """(e, +1/-1) for `x = x + e` / `e + x` / `x - e` with `e` not reading x, an array cotangent updated in
        place (`_increment` takes the cases whose shapes the kinds prove)."""
        if name not in self.inplace or not is_array(self.kinds.get(name)):
            return None
        return _split_sum(name, value)

    def _check_helper(self, call, callee):
        """A helper that writes into an argument (itself or through a helper it calls) and could not be
        inlined (frontend/inline.py) changes the caller's array: refuse (we copy arguments)."""
        src = inlined_source(callee.fn)
        params = {a.id for a in src.node.args.posonlyargs + src.node.args.args + src.node.args.kwonlyargs}
        # directly or through a view or alias of it (`v = p[1:]; v[0] = 5.0`, `q = p; q += 1.0`); a rebound
        # name (`p = p * 2.0; p[0] = 1.0`) no longer holds the caller's array
        reached = memory_model(src.node, params | A.assigned_names(src.node.body), sorted(params)).params_written
        if reached:
            p = sorted(reached)[0]
            raise self.src.error(UnsupportedSyntaxError, call,
                                 f"the helper `{callee.label}` writes into its argument `{p}` (or a view or alias "
                                 "of it); retrograd differentiates helpers as functions of their arguments",
                                 construct=callee.label, hint=f"copy it first in `{callee.label}` "
                                 f"(`{p} = {p}.copy()`), or return the new value instead")

    def _first_assignment(self, name):
        """The first statement of the primal that assigns `name`, or the function's def (a parameter)."""
        for s in walk_stmts(self.node.body):
            own = [s.target] if isinstance(s, gast.For) else [] if isinstance(s, (gast.If, gast.While)) else [s]
            if getattr(s, "lineno", None) is not None and name in A.assigned_names(own):
                return s
        return self.node

    def _reset(self, name):
        d = self.dvar(name)
        if name in self.inplace or (self.typed and self.kinds.get(name) != "scalar"):
            return A.quote(f"{d} = zeros_like({name})")
        return A.quote(f"{d} = 0.0")

    def _user_call(self, s, tname, call, callee, pre, post, uses):
        """`y = helper(args)`: call the helper's primal, keep its saved state, call its adjoint."""
        import inspect
        try:
            bound = inspect.signature(callee.fn).bind(*call.args, **{k.arg: k.value for k in call.keywords})
        except TypeError as exc:
            raise self.src.error(UnsupportedSyntaxError, call, f"cannot match the call to {callee.label}: {exc}",
                                 construct=callee.label) from None
        active_args = [(p, e) for p, e in bound.arguments.items() if self.is_active(e)]
        arg_kinds = {p: expr_kind(e, self.kinds, self.callees) for p, e in bound.arguments.items()}
        primal, adjoint, callee_tf = self.program.variant(callee.fn, {p for p, _ in active_args}, arg_kinds)
        state = self.names.fresh(f"{_label_name(callee.label)}_saved")
        s._rg_call = (primal, state)
        if callee_tf is not None:   # (None while a recursive variant is still being built)
            self.result_kinds[tname] = callee_tf.kinds.get(callee_tf.result)
        uses.defs.add(state)
        uses.res_uses.add(state)
        if tname not in self.active:
            return
        d = self.dvar(tname)
        grads = [self.names.fresh(f"d{e.id}_{_label_name(callee.label)}" if isinstance(e, gast.Name)
                                  else f"d_{_label_name(callee.label)}") for _, e in active_args]
        targets = ", ".join(grads) + ("," if len(grads) == 1 else "")
        post += A.quote(f"{targets} = {adjoint}({d}, {state})")
        if self._needs_reset(s, tname):   # before accumulating: `x = helper(x)` sends its cotangent to the old x
            post += self._reset(tname)
        for (p, e), g in zip(active_args, grads):
            self.adj_expr(e, A.name(g), post)

    # ---- expressions ---------------------------------------------------------------------------------
    def adj_expr(self, node, g, out, result=None, refs=None):
        """Emit into `out` the accumulation of cotangent `g` into the active names of `node`."""
        if not self.is_active(node):
            return
        if isinstance(node, gast.Name):
            self.accumulate(node.id, g, out)
        elif isinstance(node, gast.Subscript):
            base = node.value
            if isinstance(base, gast.Name):
                d = self.dvar(base.id)
                if not is_basic_index(node.slice, self.ints):
                    out += A.quote("add_at(D, I, G)", D=d, I=_index_value(node.slice), G=g)
                elif is_array(self.kinds.get(base.id)):
                    out += A.quote("D[I] += G", D=d, I=node.slice, G=g)
                elif _new_axes_only(node.slice) and base.id not in self._containers():
                    self.accumulate(base.id, _without_new_axes(g, base), out)
                else:   # the element may itself be a container (a tuple of weights in a dict, ...)
                    out += A.quote("D[I] = add_into(D[I], G)", D=d, I=node.slice, G=g)
            elif _new_axes_only(node.slice) and self._record_root(node) is None:   # not `d[None]` of a dict
                self.adj_expr(base, _without_new_axes(g, base), out)
            else:
                tmp = self.names.fresh("d_part")
                out += A.quote("T = zeros_like(B)", T=tmp, B=base)
                if is_basic_index(node.slice, self.ints) and self._record_root(node):   # t["c"][0]: a container
                    out += A.quote("T[I] = add_into(T[I], G)", T=tmp, I=node.slice, G=g)
                elif is_basic_index(node.slice, self.ints):
                    out += A.quote("T[I] += G", T=tmp, I=node.slice, G=g)
                else:   # `x[1:][idx]`: repeated entries of idx each receive their share
                    out += A.quote("add_at(T, I, G)", T=tmp, I=_index_value(node.slice), G=g)
                self.adj_expr(base, A.name(tmp), out)
        elif isinstance(node, (gast.Tuple, gast.List)):
            g = self._bind(g, out, "d_items")
            for k, e in enumerate(node.elts):
                self.adj_expr(e, A.quote_expr(f"G[{k}]", G=g), out)
        elif isinstance(node, gast.Dict):
            g = self._bind(g, out, "d_items")
            for key, v in zip(node.keys, node.values):
                self.adj_expr(v, A.quote_expr("G[K]", G=g, K=key), out)
        elif isinstance(node, gast.BinOp):
            rule = RULES.get(id(_BINOPS.get(type(node.op))))
            if rule is None:
                raise self.src.error(UnsupportedSyntaxError, node, f"the operator {type(node.op).__name__} "
                                     "has no derivative", construct=type(node.op).__name__)
            self.apply_rule(rule, {rule.params[0]: node.left, rule.params[1]: node.right}, node, g, out,
                            result, refs)
        elif isinstance(node, gast.UnaryOp):
            rule = RULES[id(_UNOPS[type(node.op)])]
            self.apply_rule(rule, {rule.params[0]: node.operand}, node, g, out, result, refs)
        elif isinstance(node, gast.Attribute) and self._record_root(node):
            self._field(node, g, out)
        elif isinstance(node, gast.Attribute):
            rule = ATTRIBUTES.get(node.attr)
            if rule is None:
                raise self.src.error(UnsupportedSyntaxError, node, f"the attribute .{node.attr} has no derivative",
                                     construct="." + node.attr, hint="use a NumPy function with a rule instead")
            self.apply_rule(rule, {rule.params[0]: node.value}, node, g, out, result, refs)
        elif isinstance(node, gast.Call):
            callee = self.callees.classify(node)
            if callee.kind == "rule":
                self.apply_rule(callee.rule, self.callees.bind(node, callee), node, g, out, result, refs)
            elif callee.kind == "custom":
                self._custom(node, callee, g, out, result, refs)
            elif callee.kind == "missing":
                raise self.callees.missing_error(node, callee)
            else:
                raise self.src.error(RetrogradError, node, f"internal: unexpected nested call to {callee.label}")
        else:
            raise self.src.error(UnsupportedSyntaxError, node, f"cannot differentiate a {type(node).__name__} "
                                 "expression", construct=type(node).__name__)

    def _record_root(self, node):
        """`p.W`, `p["l1"].W`, `first.W` after `first = p["layers"][0]`: the variable at the root of a chain
        of reads from a container argument (kind "other": a NamedTuple, a dataclass, a dict, ...), or
        None (an array attribute such as `x.T`)."""
        while isinstance(node, (gast.Attribute, gast.Subscript)):
            node = node.value
        return node.id if isinstance(node, gast.Name) and node.id in self._containers() else None

    def _containers(self):
        """Variables that hold containers: "other" kinds, and locals only ever assigned reads from them."""
        if getattr(self, "_container_vars", None) is None:
            found = {n for n, k in self.kinds.items() if k == "other"}
            defs = {}
            for st in walk_stmts(self.node.body):
                if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                    defs.setdefault(st.targets[0].id, []).append(st.value)
            for _ in range(4):
                for n, values in defs.items():
                    if n not in found and n not in self.kinds and all(self._chain_root(v) in found for v in values):
                        found.add(n)
            self._container_vars = found
        return self._container_vars

    @staticmethod
    def _chain_root(node):
        if not isinstance(node, (gast.Attribute, gast.Subscript)):
            return None
        while isinstance(node, (gast.Attribute, gast.Subscript)):
            node = node.value
        return node.id if isinstance(node, gast.Name) else None

    def _field(self, node, g, out):
        """The cotangent of a field read goes into that field of the container's cotangent."""
        base, key = node.value, A.const(node.attr)
        if isinstance(base, gast.Name):
            if base.id in self.active:
                out += A.quote("D = add_field(D, K, G)", D=self.dvar(base.id), K=key, G=g)
            return
        tmp = self.names.fresh("d_part")
        out += A.quote("T = zeros_like(B)", T=tmp, B=base)
        out += A.quote("T = add_field(T, K, G)", T=tmp, K=key, G=g)
        self.adj_expr(base, A.name(tmp), out)

    def accumulate(self, name, g, out):
        if name not in self.active:
            return
        d = self.dvar(name)
        k = self.kinds.get(name)
        if name in self.inplace:
            out += A.quote("D = add_into(D, G)", D=d, G=g)
        elif k == "scalar" or is_array(k):
            out += A.quote("D = D + G", D=d, G=g)
        else:   # may hold a list or tuple, where `+` would concatenate the two cotangents
            out += A.quote("D = add_tree(D, G)", D=d, G=g)

    def _cot_label(self):
        """Cotangent temporaries are named after the statement's target: dz_1, dz_2, ..."""
        self._cot_count = getattr(self, "_cot_count", 0) + 1
        return f"{self.dvar(self._cur_target)}_{self._cot_count}" if self._cur_target else "d_tmp"

    def _bind(self, g, out, label):
        if A.is_atom(g):
            return g
        tmp = self.names.fresh(label)
        out += A.quote("T = G", T=tmp, G=g)
        return A.name(tmp)

    def apply_rule(self, rule, bound, node, g, out, result, refs):
        contribs = [(p, bound[p]) for p in rule.grads if p in bound and self.is_active(bound[p])]
        if not contribs:
            return
        n_cot = sum(_count_cot(rule.grads[p]) for p, _ in contribs)
        if n_cot > 1 and not A.is_atom(g):
            g = self._bind(g, out, self._cot_label())
        needs_result = any(rule.result in rule.needs(p) for p, _ in contribs)
        res = None
        if needs_result:
            res = result if result is not None else node
        templates = {p: self._drop_unbroadcast(copy.deepcopy(rule.grads[p]), bound, rule) for p, _ in contribs}
        bound = dict(bound)
        for q, e in list(bound.items()):   # an operand expression read twice is computed once
            if not A.is_atom(e) and sum(_count_name(t, q) for t in templates.values()) > 1:
                bound[q] = self._bind(e, out, self._cot_label().replace("d", "", 1) or "t")
        for p, arg in contribs:
            subs = {name: copy.deepcopy(e) for name, e in bound.items()}
            if res is not None:
                subs[rule.result] = res
            expr = self._witnesses(_Substitute(subs, g, refs).visit(templates[p]))
            self.adj_expr(arg, expr, out)

    def _drop_unbroadcast(self, template, bound, rule):
        """`unbroadcast(e, a)` -> `e` where the kinds prove the result already has `a`'s shape.  Only for
        elementwise rules, whose result has the broadcast shape of their operands: `np.full(3, x)` has a
        constant operand too, but it is a shape."""
        if not rule.broadcasts:
            return template
        class Drop(gast.NodeTransformer):
            def visit_Call(inner, node):
                inner.generic_visit(node)
                if (isinstance(node.func, gast.Name) and node.func.id == "unbroadcast" and len(node.args) == 2
                        and isinstance(node.args[1], gast.Name) and node.args[1].id in bound):
                    p = node.args[1].id
                    others = [e for q, e in bound.items() if q != p and not isinstance(e, gast.Constant)]
                    if same_shape_as_result(bound[p], others, self.kinds, self.callees):
                        return node.args[0]
                return node
        return Drop().visit(template)

    def _custom(self, call, callee, g, out, result, refs):
        adj = self.program.custom(callee)
        args = callee.args(call)
        active = [k for k, a in enumerate(args) if self.is_active(a)]
        grads = [self.names.fresh(f"d{a.id}_{adj}" if isinstance(a, gast.Name) else "d_arg") if k in active
                 else "_" for k, a in enumerate(args)]
        res = result if result is not None else call
        if result is not None and refs is not None:
            res = copy.deepcopy(result)
            refs.append(res)
        stmt = A.quote(f"{', '.join(grads)}{',' if len(grads) == 1 else ''} = {adj}(G, R)", G=g, R=res)[0]
        stmt.value.args += [copy.deepcopy(a) for a in args]
        out.append(stmt)
        for k in active:
            self.adj_expr(args[k], A.name(grads[k]), out)

    # ---- assembling the two functions ----------------------------------------------------------------
    def emit(self):
        """(primal statements, adjoint statements, sorted saved names), once pipeline.plan_tape has run."""
        self._stmt_by_id = {id(s): s for s in walk_stmts(self.node.body)}
        # the adjoint's entry reads the final values of in-place adjoints' variables (to size them)
        self.tapes = {}
        self.tops = {}
        self.push_sites = {}
        self._site_log = []    # (tape, push statement, loops from its reservation loop inward, or None)
        self._loops = []
        self.extra_saved = set()   # generated names the adjoint reads (a checkpointed loop's snapshot count)
        self._snap_roles = []
        primal_body = self._primal(self.node.body[:-1])
        adjoint_body = self._adjoint(self.node.body[:-1])
        states = {s._rg_call[1] for s in walk_stmts(self.node.body) if getattr(s, "_rg_call", None)
                  and (id(s), s._rg_call[1]) in self.plan.taped}
        local = self._adjoint_local_tapes()
        saved = sorted(((self.plan.saved - states) | set(self.tapes.values()) | set(self.tops.values())
                        | self._init_reads() | self.extra_saved) - local)
        self.plan.maybe_unbound -= states
        return primal_body, adjoint_body, saved

    def assemble(self, primal_body, adjoint_body, saved):
        """The primal and adjoint function trees (pipeline.recompute has chosen `saved`)."""
        primal_def, adjoint_def = self._primal_def(primal_body, saved), self._adjoint_def(adjoint_body, saved)
        # a target that compiles the plain call `f(*args)` too gets the forward without tape
        self.plain_def = self._plain_def() if self.traits.plain_call else None
        primal_def, adjoint_def = self._drop_unread_saved(primal_def, adjoint_def, saved)
        if self.typed:      # a tape of arrays read for their shape only keeps the shapes (shape_tapes)
            shape_only_tapes(primal_def, adjoint_def, self.tapes, lambda v: is_array(self.kinds.get(v)))
        return primal_def, adjoint_def

    def _plain_def(self):
        """`f(*args)` compiled: the primal's statements and guards (copies of the arguments written into,
        checks of views, repeated indices and integer targets) without tape pushes, saved state or trip
        counters; helpers are called through their own plain call."""
        keep = self._prologue_len          # the primal's, read by _drop_unread_saved
        fn = copy.deepcopy(self._primal_def(self._primal(self.node.body[:-1], call=True), (), placeholders=False))
        self._prologue_len = keep
        fn.name = plain_name(self.primal_name)
        out = f"({self.result}, {self.aux})" if self.aux else self.result
        fn.body[-1] = A.copy_loc(A.quote(f"return {out}"), self.node.body[-1])[0]
        return fn

    def _drop_unread_saved(self, primal_def, adjoint_def, saved):
        """What the simplified adjoint no longer reads (a tape whose pushes and pops all cancelled, the final
        values of a loop whose steps are all re-run) is not handed over, nor allocated for nothing."""
        if not saved:
            return primal_def, adjoint_def
        read = _sweep(copy.deepcopy(adjoint_def.body[1:]), set(), rewrite=False)[1]   # live at the adjoint's entry
        unread = set(saved) - read
        if not unread:
            return primal_def, adjoint_def
        kept = [n for n in saved if n not in unread]
        adjoint_def.body = (A.quote(f"({', '.join(kept)}{',' if len(kept) == 1 else ''}) = saved") if kept
                            else []) + adjoint_def.body[1:]
        body = primal_def.body
        prologue, rest, ret = body[:self._prologue_len], body[self._prologue_len:-1], body[-1]
        ret.value.elts[1] = gast.Tuple(elts=[A.name(n) for n in kept], ctx=gast.Load())
        still = _sweep(copy.deepcopy(rest + [ret]), set(), rewrite=False)[1]   # read before assigned
        prologue = [st for st in prologue if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                                                  and st.targets[0].id in unread and st.targets[0].id not in still)]
        primal_def.body = prologue + rest + [ret]
        return primal_def, adjoint_def

    def _adjoint_local_tapes(self):
        """Snapshot stacks of loops nested in a re-run step: made and used by the adjoint alone."""
        roles = {rm.role for rm in self.remat_loops.values() if rm.nested and hasattr(rm, "role")}
        tapes = {t for (_, role), t in self.tapes.items() if role in roles}
        return tapes | {self.tops[t] for t in tapes if t in self.tops}

    def _init_reads(self):
        return {v for v in self.active if v in self.inplace or (self.typed and self.kinds.get(v) != "scalar")}

    def _role(self, target):
        """What a tape of `target`'s variable holds: whole values, float elements, or array parts."""
        if isinstance(target, gast.Name):
            return "value"
        return "elem" if expr_kind(target, self.kinds, self.callees) == "scalar" else "part"

    def _roles(self, name):
        roles = {self._role(s.targets[0]) for sid, n in self.plan.taped
                 for s in [self._stmt_by_id.get(sid)] if n == name and isinstance(s, gast.Assign)
                 and (A.subscript_base(s.targets[0]) if isinstance(s.targets[0], gast.Subscript)
                      else s.targets[0].id) == name}
        return roles or {"value"}

    def _tape(self, name, role="value"):
        """One tape per variable and role, so that each holds values of one type."""
        if (name, role) not in self.tapes:
            if role.startswith("snap"):
                self.tapes[(name, role)] = self.names.fresh(f"{name}_snaps")
                return self.tapes[(name, role)]
            label = "" if len(self._roles(name)) == 1 else {"value": "", "elem": "_elems", "part": "_parts"}[role]
            self.tapes[(name, role)] = self.names.fresh(f"{name}{label}_tape")
        return self.tapes[(name, role)]

    def _top(self, name, role="value"):
        """Numba array tapes keep their fill level in a variable of their own."""
        tape = self._tape(name, role)
        if tape not in self.tops:
            stem = tape[:-len("_tape")] if tape.endswith("_tape") else tape
            self.tops[tape] = self.names.fresh(stem + "_top")
        return self.tops[tape]

    def _array_tape(self, name, role="value"):
        return self.typed and self._tape_constructor(name, role) == "array"

    def _push(self, name, value, role="value"):
        """Save `value` on the tape of `name` (a list in Python, a float64 array + top index in Numba)."""
        tape = self._tape(name, role)
        if self._array_tape(name, role):
            top = self._top(name, role)
            stmt = A.quote(f"{tape}, {top} = push({tape}, {top}, V)", V=value)
            count = self._trip_product()
            self.push_sites.setdefault(tape, []).append((stmt[0], count))
            chain = list(self._loops[self._loop_floor:])
            home = home_loop(chain) if count is None else None
            self._site_log.append((tape, stmt[0], chain[home:] if home is not None else None))
            return stmt
        return A.quote(f"{tape}.append(V)", V=value)

    def _trip_product(self):
        """How many times a statement at the current loop depth runs, as an expression computable at
        function entry, or None (unknown until it runs: the tape then grows)."""
        fixed = set(self.params) - A.assigned_names(self.node.body)
        factors = []
        for loop in self._loops[self._loop_floor:]:
            if not isinstance(loop, gast.For) or getattr(loop, "_rg_trips", None):
                return None
            for a in loop.iter.args:
                names = A.loaded_names(a) - {"len"}
                if not names <= fixed or any(isinstance(n, gast.Call) and not (isinstance(n.func, gast.Name)
                                             and n.func.id == "len") for n in gast.walk(a)):
                    return None
            factors.append(A.quote_expr("len(R)", R=loop.iter))
        if not factors:
            return A.const(1)
        expr = factors[0]
        for f in factors[1:]:
            expr = gast.BinOp(left=expr, op=gast.Mult(), right=f)
        return expr

    def _preallocate(self, tape):
        """Capacity of a Numba tape if every push site's count is known at entry (then pushes never grow
        the array: `top = push_at(tape, top, x)`), else None."""
        sites = self.push_sites.get(tape, [])
        if not sites or any(c is None for _, c in sites):
            return None
        for stmt, _ in sites:
            top = stmt.targets[0].elts[1]
            stmt.targets = [A.name(top.id, True)]
            stmt.value.func = A.name("push_at")
        total = sites[0][1]
        for _, c in sites[1:]:
            total = gast.BinOp(left=total, op=gast.Add(), right=c)
        return total

    def _reserve(self, loop, sites):
        """Before `loop`: reserve the array tapes whose every push inside it runs a number of times known at
        its entry (tape_sizes), and turn those pushes into `push_at`.  A tape with any other push inside the
        loop keeps growing pushes there (a reservation covers only the pushes it counted)."""
        by_tape = {}
        for tape, stmt, chain in sites:
            by_tape.setdefault(tape, []).append((stmt, chain))
        counts, out, reserved = {}, [], []
        for tape, pushes in by_tape.items():
            if any(chain is None or chain[0] is not loop for _, chain in pushes):
                continue
            total = None
            for stmt, chain in pushes:
                key = tuple(id(lp) for lp in chain)
                if key not in counts:
                    code, expr = count_code(chain, self.names.fresh)
                    out += code
                    counts[key] = expr
                n = copy.deepcopy(counts[key])
                total = n if total is None else gast.BinOp(left=total, op=gast.Add(), right=n)
                stmt.targets = [A.name(stmt.targets[0].elts[1].id, True)]
                stmt.value.func = A.name("push_at")
            top = pushes[0][0].targets[0].id
            reserved.append(A.quote(f"{tape} = reserve({tape}, {top}, N)", N=total)[0])
        if not reserved:
            return []
        line = self.src.where(loop)[1]
        note = self._note(f"size the tapes of the loop at line {line} for all its steps (its pushes need no "
                          "growth check)")
        return A.copy_loc([note] + out + reserved, loop)

    def _pop(self, name, target, role="value"):
        tape = self._tape(name, role)
        if self._array_tape(name, role):
            top = self._top(name, role)
            return A.quote(f"X, {top} = pop({tape}, {top})", X=target)
        if self.typed and role == "part" and isinstance(target, gast.Subscript):   # saved flat (see _primal)
            return A.quote(f"X = unflat({tape}.pop(), L)", X=target, L=A.as_load(copy.deepcopy(target)))
        return A.quote(f"X = {tape}.pop()", X=target)

    def _primal(self, stmts, plain=False, call=False):
        """The forward code with its tape pushes (none if `plain`: a step a remat schedule re-runs).
        `call`: the function's compiled plain call (plain, helpers called through their own plain call,
        no trip counters)."""
        out = []
        plain = plain or call
        for s in stmts:
            if id(s) in self.remat_loops and not plain:
                out += self._primal_remat(s)
            elif call and getattr(s, "_rg_trip_count", False):
                continue
            elif isinstance(s, gast.Assign):
                target = s.targets[0]
                tname = target.id if isinstance(target, gast.Name) else A.subscript_base(target)
                if ((isinstance(target, gast.Subscript) or scatter_target(s)) and tname not in self.float_arrays
                        and self.is_active(s.value)):
                    fname, line, _ = self.src.where(s)
                    msg = (f"{fname}:{line}: a value being differentiated is written into `{tname}`, an array of "
                           "integers or booleans, which truncates it")
                    out += A.copy_loc(A.quote(f"float_target({tname}, {msg!r})"), s)
                if isinstance(target, gast.Subscript) and not is_basic_index(target.slice, self.ints):
                    fname, line, _ = self.src.where(s)
                    msg = f"{fname}:{line}: an index array with repeated entries writes one element twice"
                    out += A.copy_loc(A.quote(f"no_repeats(I, {msg!r}, T)", I=_index_value(target.slice),
                                              T=A.name(tname)), s)
                    if any(not isinstance(s.value, gast.Call) for _ in view_sources(s.value, self.locals)):
                        # NumPy writes through a mask or index array element by element: a value that
                        # overlaps the target (`x[m] = x[::-1]`) is read after parts of it were written
                        msg = (f"{fname}:{line}: the value written through an index array shares memory with "
                               f"`{tname}`; NumPy then reads parts of it after writing them")
                        out += A.copy_loc(A.quote(f"not_a_view(V, {tname}, {msg!r})", V=A.as_load(s.value)), s)
                if (id(s), tname) in self.plan.taped and not plain:
                    if isinstance(target, gast.Name) and self.plan.memory.old_value_written(s, tname):
                        # the old value may be a view that a later write changes: the tape keeps a copy
                        out += A.copy_loc(self._push(tname, A.quote_expr(f"snapshot({tname})")), s)
                    elif isinstance(target, gast.Name):
                        out += A.copy_loc(self._push(tname, A.name(tname)), s)
                    else:
                        part = A.quote_expr("snapshot(X)", X=A.as_load(target))
                        if self.typed and self._role(target) == "part":   # one typed list holds every rank
                            part = A.quote_expr("flat_copy(X)", X=A.as_load(target))
                        out += A.copy_loc(self._push(tname, part, self._role(target)), s)
                helper = getattr(s, "_rg_call", None)
                if helper and call:
                    new = copy.deepcopy(s)
                    new.value.func = A.name(plain_name(helper[0]))
                    out.append(new)
                elif helper:
                    state = helper[1]
                    new = copy.deepcopy(s)
                    new.value.func = A.name(helper[0])
                    new.targets = [gast.Tuple(elts=[new.targets[0], A.name(state, True)], ctx=gast.Store())]
                    out.append(new)
                    if (id(s), state) in self.plan.taped and not plain:   # made and consumed once per call
                        out += A.copy_loc(self._push(state, A.name(state)), s)
                else:
                    out.append(s)
                for view, arr in self.view_checks.get(id(s), ()):
                    fname, line, _ = self.src.where(s)
                    msg = (f"{fname}:{line}: `{view}` shares memory with `{arr}`, and one of them is written while "
                           "the other is still used; retrograd cannot differentiate through a write seen by a view")
                    out += A.copy_loc(A.quote(f"not_a_view({view}, {arr}, {msg!r})"), s)
            elif isinstance(s, gast.If):
                s2 = copy.copy(s)
                s2.body = self._primal(s.body, plain, call)
                s2.orelse = self._primal(s.orelse, plain, call)
                out.append(s2)
            elif isinstance(s, (gast.For, gast.While)):
                if id(s) in self.plan.loop_targets and not plain:
                    out += self._push(s.target.id, A.name(s.target.id))
                s2 = copy.copy(s)
                start = len(self._site_log)
                self._loops.append(s)
                s2.body = self._primal(s.body, plain, call)
                self._loops.pop()
                out += self._reserve(s, self._site_log[start:])
                out.append(s2)
            else:
                out.append(s)
        return out

    def _adjoint(self, stmts):
        out = []
        for s in reversed(stmts):
            if id(s) in self.remat_loops:
                out += self._adjoint_remat(s)
            elif isinstance(s, gast.Assign):
                out += self._adjoint_assign(s)
            elif isinstance(s, gast.If) and not _is_exit(s):
                body, orelse = self._adjoint(s.body), self._adjoint(s.orelse)
                if body or orelse:
                    out.append(_header_at(gast.If(test=copy.deepcopy(s.test), body=body or [gast.Pass()],
                                                  orelse=orelse), s))
            elif isinstance(s, gast.For):
                body = self._adjoint(s.body)
                if body:
                    out.append(_header_at(gast.For(target=A.name(s.target.id, True), iter=self._reversed_range(s),
                                                   body=body, orelse=[], type_comment=None), s))
                if id(s) in self.plan.loop_targets:
                    out += self._pop(s.target.id, A.name(s.target.id, True))
            elif isinstance(s, gast.While):
                body = self._adjoint(s.body)
                if body:
                    out.append(_header_at(gast.For(target=A.name("_", True),
                                                   iter=A.quote_expr(f"range({s._rg_trips})"),
                                                   body=body, orelse=[], type_comment=None), s))
        return out

    def _reversed_range(self, loop):
        args = [copy.deepcopy(a) for a in loop.iter.args]
        trips = getattr(loop, "_rg_trips", None)
        if trips:
            start = args[0] if len(args) > 1 else A.const(0)
            step = args[2] if len(args) > 2 else A.const(1)
            if len(args) == 1:
                args = [A.name(trips)]
            else:
                stop = A.quote_expr("S + N * K", S=start, N=trips, K=step)
                args = [start, stop] + ([step] if len(args) > 2 else [])
        if self.traits.reversed_range:
            return A.quote_expr("reversed(R)", R=gast.Call(func=A.name("range"), args=args, keywords=[]))
        # no reversed(range) on this target: count down explicitly
        if len(args) == 1:
            return A.quote_expr("range(N - 1, -1, -1)", N=args[0])
        if len(args) == 2:
            return A.quote_expr("range(B - 1, S - 1, -1)", S=args[0], B=args[1])
        return A.quote_expr("range(S + (len(range(S, B, K)) - 1) * K, S - K, -K)", S=args[0], B=args[1], K=args[2])

    def _adjoint_assign(self, s):
        block = self.blocks.get(id(s))
        target = s.targets[0]
        tname = target.id if isinstance(target, gast.Name) else A.subscript_base(target)
        restore = []
        taped = (id(s), tname) in self.plan.taped
        if taped:
            if isinstance(target, gast.Name):
                restore = self._pop(tname, A.name(tname, True))
            else:
                restore = self._pop(tname, copy.deepcopy(target), self._role(target))
        call = getattr(s, "_rg_call", None)
        load_state = []   # a helper's saved state, pushed after the call, is popped for its adjoint
        if call and (id(s), call[1]) in self.plan.taped:
            load_state = self._pop(call[1], A.name(call[1], True))
        if block is None:
            restore = load_state + restore
            return self._comment(s) + restore if restore else []
        pre = list(block.pre)
        refs = [n for st in block.post for n in gast.walk(st)
                if isinstance(n, gast.Name) and getattr(n, "_rg_result", False) and n.id == tname]
        if taped and refs:   # the result is read after the restore: keep it under another name
            cap = self.names.fresh(f"{tname}_out")
            pre += A.quote(f"{cap} = {tname}")
            for r in refs:
                r.id = cap
        body = pre + restore + load_state + block.post
        if not body:
            return []
        if block.pre or block.post:
            return self._comment(s) + body
        return body

    # ---- rematerialised loops (remat.loops) -----------------------------------------------------------
    def _cheap(self, s):
        """A simple statement that is cheap to recompute: arithmetic and elementwise functions only."""
        if not isinstance(s, gast.Assign):
            return False
        for n in gast.walk(s.value):
            if isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult):
                return False
            if isinstance(n, gast.Call):
                c = self.callees.classify(n)
                if self.callees.is_draw(n):
                    return False        # recomputing it would draw again
                if c.kind == "constant":
                    continue
                if c.kind != "rule" or not c.rule.cheap:
                    return False
        return True

    def _check_rerun(self, loop, s):
        """A checkpointed loop runs its steps again in the backward pass: a random draw would differ."""
        for n in gast.walk(s):
            if isinstance(n, gast.Call) and self.callees.is_draw(n):
                line = self.src.where(loop)[1]
                raise self.src.error(
                    UnsupportedSyntaxError, n, f"the loop at line {line} is checkpointed (remat=...): its steps "
                    f"run again in the backward pass, where `{A.unparse(n.func)}` would draw different numbers",
                    construct=A.unparse(n.func), hint="draw the random numbers before the loop and index them "
                    "inside it (e.g. `noise = rng.normal(size=n)` ... `noise[i]`), or use remat=None")

    def _loop_parts(self, loop):
        """(first step, trip count, last step) expressions of `for i in range(stop)` / `range(start, stop)`."""
        args = loop.iter.args
        if len(args) == 1:
            return A.const(0), copy.deepcopy(args[0]), A.quote_expr("S - 1", S=args[0])
        return (copy.deepcopy(args[0]), A.quote_expr("B - S", S=args[0], B=args[1]),
                A.quote_expr("B - 1", B=args[1]))

    def _note(self, text):
        self.comments.append(text)
        return gast.Expr(value=A.const(f"__rg_comment_{len(self.comments) - 1}__"))

    def _snap_role(self, rm):
        """Each rematerialised loop has its own snapshot stacks (a nested loop may carry the same variable)."""
        if not hasattr(rm, "role"):
            rm.role = "snap" if not self._snap_roles else f"snap{len(self._snap_roles) + 1}"
            self._snap_roles.append(rm.role)
        return rm.role

    def _snap_push(self, rm, name):
        value = A.quote_expr(f"snapshot({name})") if name in rm.copied else A.name(name)
        role = self._snap_role(rm)
        tape = self._tape(name, role)
        if self._array_tape(name, role):
            return A.quote(f"{self._top(name, role)} = push_at({tape}, {self._top(name, role)}, V)", V=value)
        return A.quote(f"{tape}.append(V)", V=value)

    def _snap_peek(self, rm, name):
        """The top snapshot, kept for later restores (a copy if the steps write into it)."""
        role = self._snap_role(rm)
        tape = self._tape(name, role)
        top = f"{tape}[{self._top(name, role)} - 1]" if self._array_tape(name, role) else f"{tape}[-1]"
        return A.quote(f"{name} = snapshot({top})" if name in rm.copied else f"{name} = {top}")

    def _snap_drop(self, rm, name):
        role = self._snap_role(rm)
        tape = self._tape(name, role)
        if self._array_tape(name, role):
            top = self._top(name, role)
            return A.quote(f"{top} = {top} - 1")
        return A.quote(f"{tape}.pop()")

    def _snap_alloc(self, rm, name, capacity):
        role = self._snap_role(rm)
        tape = self._tape(name, role)
        if self._array_tape(name, role):
            return A.quote(f"{tape} = np.empty(N)", N=capacity) + A.quote(f"{self._top(name, role)} = 0")
        return A.quote(f"{tape} = {self._tape_constructor(name, role)}")

    def _remat_names(self, s):
        if not hasattr(s, "_rg_remat_names"):
            v = s.target.id
            s._rg_remat_names = {k: self.names.fresh(f"{v}_{k}") for k in ("last", "snapshots")}
            s._rg_remat_names.update({k: self.names.fresh(k) for k in ("snap_next", "snaps_left", "schedule",
                                                                        "what", "at", "count")})
        return s._rg_remat_names

    def _recorded_step(self, s):
        """One step of the loop with its tape pushes (re-run just before the step's adjoint)."""
        outer = self._loops, self._loop_floor
        self._loops, self._loop_floor = [s], 1
        try:
            return self._primal(s.body)
        finally:
            self._loops, self._loop_floor = outer

    def _primal_remat(self, s):
        rm = self.remat_loops[id(s)]
        nm = self._remat_names(s)
        var, line = s.target.id, self.src.where(s)[1]
        first, trips, last = self._loop_parts(s)
        out = []
        self.extra_saved.update(rm.unused)   # re-runs may still read them: keep them bound in the adjoint
        if id(s) in self.plan.loop_targets:
            out += self._push(var, A.name(var))
        if rm.revolve:
            out += A.quote(f"{nm['last']} = L", L=last)
            state = " + ".join(f"nbytes_of({c})" for c in rm.carried) or "0"
            k = A.const(rm.snapshots) if rm.snapshots else A.quote_expr(f"revolve_budget({rm.memory}, {state})")
            out += A.quote(f"{nm['snapshots']} = K", K=k)
            self.extra_saved.add(nm["snapshots"])
            self.extra_saved.update(rm.carried)   # Numba wants them bound before the schedule's first read
            how_many = rm.snapshots if rm.snapshots else f"as many as fit in {rm.memory} bytes of"
            state = ", ".join(rm.carried) or "nothing (no state)"
            out.append(self._note(f"Revolve checkpointing of the loop at line {line}: it keeps {how_many} snapshots "
                                  f"of {state}"))
            capacity = A.name(nm["snapshots"])
        else:
            kept = f"keeps {', '.join(rm.carried)} per step" if rm.carried else "keeps nothing per step"
            out.append(self._note(f"remat: the loop at line {line} {kept}; the adjoint recomputes the rest of "
                                  "each step"))
            capacity = A.quote_expr("max(N, 1)", N=trips)
        for c in rm.carried:
            out += self._snap_alloc(rm, c, capacity)
        keep = [st for c in rm.carried for st in self._snap_push(rm, c)]
        trip = A.name(var) if isinstance(first, gast.Constant) and first.value == 0 else \
            A.quote_expr("I - S", I=A.name(var), S=first)
        if rm.revolve:
            out += A.quote(f"{nm['snap_next']}, {nm['snaps_left']} = 0, {nm['snapshots']}")
            keep = A.quote(f"if T == {nm['snap_next']}:\n    pass", T=trip)[0:1]
            keep[0].body = [st for c in rm.carried for st in self._snap_push(rm, c)] + A.quote(
                f"{nm['snap_next']}, {nm['snaps_left']} = revolve_next_snapshot(N, T, {nm['snaps_left']})",
                N=trips, T=trip)
        outer = self._loops, self._loop_floor
        self._loops, self._loop_floor = [s], 1
        plain = self._primal(s.body, plain=True)
        self._loops, self._loop_floor = outer
        loop = copy.copy(s)
        if not rm.revolve:     # every step is re-run before its adjoint
            loop.body = keep + plain
            return out + [loop]
        step = A.quote(f"if {var} != {nm['last']}:\n    pass\nelse:\n    pass")[0]
        step.body = keep + plain
        step.orelse = [self._note("the last step keeps its tape (the adjoint starts with it)")] + \
            self._recorded_step(s)
        loop.body = [step]
        return out + [loop]

    def _adjoint_remat(self, s):
        rm = self.remat_loops[id(s)]
        nm = self._remat_names(s)
        var, line = s.target.id, self.src.where(s)[1]
        first, trips, last = self._loop_parts(s)
        body_adjoint = self._adjoint(s.body)
        rerun = A.quote(f"if {var} != {nm['last']}:\n    pass")[0]
        rerun.body = [self._note(f"re-run this step of the loop at line {line}, keeping its tape")] + \
            copy.deepcopy(self._recorded_step(s))
        if not rm.revolve:
            pops = [st for c in rm.carried for st in self._pop(c, A.name(c, True), self._snap_role(rm))]
            out = [self._note(f"remat: each step of the loop at line {line} is re-run from its state, "
                              "then its adjoint runs")]
            out.append(_header_at(gast.For(target=A.name(var, True), iter=self._reversed_range(s),
                                           body=pops + rerun.body + body_adjoint, orelse=[], type_comment=None), s))
        else:
            what, at, count = nm["what"], nm["at"], nm["count"]
            out = A.quote(f"{nm['last']} = L", L=last)
            out += A.quote(f"{nm['schedule']} = revolve_resume(N, {nm['snapshots']})", N=trips)
            out += A.quote(f"{what}, {at}, {count} = revolve_step({nm['schedule']})")
            first_plus = (lambda e: A.name(e) if isinstance(first, gast.Constant) and first.value == 0
                          else A.quote_expr("S + E", S=first, E=A.name(e)))
            advance = A.quote(f"for {var} in range(A, A + {count}):\n    pass", A=first_plus(at))[0]
            outer = self._loops, self._loop_floor
            self._loops, self._loop_floor = [s], 1
            advance.body = copy.deepcopy(self._primal(s.body, plain=True))
            self._loops, self._loop_floor = outer
            reverse = A.quote(f"{var} = A", A=first_plus(at)) + [rerun] + body_adjoint
            branches = [("ADVANCE", [self._note(f"run steps {at} to {at} + {count} - 1 of the loop, without tape")] + [advance]),
                        ("SNAPSHOT", [st for c in rm.carried for st in self._snap_push(rm, c)]),
                        ("RESTORE", [st for c in rm.carried for st in self._snap_peek(rm, c)]),
                        ("DROP", [st for c in rm.carried for st in self._snap_drop(rm, c)])]
            chain = reverse
            for kind, body in reversed(branches):
                test = A.quote_expr(f"{what} == {kind}")
                chain = [gast.If(test=test, body=body, orelse=chain)]
            loop = A.quote(f"while {what} != DONE:\n    pass")[0]
            loop.body = chain + A.quote(f"{what}, {at}, {count} = revolve_step({nm['schedule']})")
            out.append(self._note(f"reverse the loop at line {line} by Revolve: advance from snapshots, "
                                  "record one step, run its adjoint"))
            out.append(loop)
        if id(s) in self.plan.loop_targets:
            out += self._pop(var, A.name(var, True))
        return out

    def _comment(self, s):
        text = self.src.line_text(s)
        fname, line, col = self.src.where(s)
        key = len(self.comments)
        self.comments.append(f"grad of: {text}  ({os.path.basename(fname)}:{line})")
        self.program.comment_locations[key] = Location(fname, line, text, col)
        return [gast.Expr(value=A.const(f"__rg_comment_{key}__"))]

    def _primal_def(self, body, saved, placeholders=True):
        prologue = []
        copied = [p for p in self.params if p in self.plan.memory.params_written]
        fname, line, _ = self.src.where(self.node)
        for p in copied:   # f(A, A): NumPy's write into one argument changes the other, the copies would not
            for q in self.params:
                if q != p and self.kinds.get(q) not in ("scalar", "other", "bool"):
                    msg = (f"{fname}:{line}: the arguments `{p}` and `{q}` share memory and `{p}` is written "
                           "into; retrograd differentiates them as independent arrays")
                    prologue += A.quote(f"not_a_view({q}, {p}, {msg!r})")
        for p in self.params:
            if p in self.plan.memory.params_written:
                # never write into the caller's array: a write through any view of any argument
                # (`v = x[1:]`, `np.asarray(x)`, a helper's result) would reach it
                prologue += A.quote(f"{p} = snapshot({p})")
        unbound = self.plan.maybe_unbound | (set(saved) - self.plan.definite - set(self.tapes.values())
                                             - set(self.tops.values()) - self.extra_saved)
        if not placeholders:      # the plain call: no tape reads a variable before its assignment
            unbound = set()
        for n in sorted(unbound - set(self.params)):
            prologue += A.quote(f"{n} = {self._placeholder(n)}")
        for (var, role), t in sorted(self.tapes.items() if placeholders else (), key=lambda kv: kv[1]):
            if role.startswith("snap"):
                continue   # allocated just before their loop, once its trip count and state size are known
            if self._array_tape(var, role):
                size = self._preallocate(t)
                if size is None and all(st.value.func.id == "push_at" for st, _ in self.push_sites.get(t, [])):
                    size = A.const(0)     # every push is in a loop that reserves its room (_reserve)
                prologue += A.quote(f"{t} = np.empty(N)", N=size if size is not None else A.const(64))
                prologue += A.quote(f"{self._top(var, role)} = 0")
            else:
                ctor = self._tape_constructor(var, role)
                if (ctor == "List()" and role == "value" and is_array(self.kinds.get(var))
                        and (var in self.params or var in unbound)):
                    ctor = f"list_of({var})"   # typed by the value: Numba cannot type a list never appended to
                elif (ctor == "List()" and role == "value" and self.kinds.get(var) == "scalar"
                      and var in self.int_vars and var not in self.bools):
                    ctor = "list_of(0)"        # an int counter's tape (appended only by a re-run, maybe)
                prologue += A.quote(f"{t} = {ctor}")
        out = f"({self.result}, {self.aux})" if self.aux else self.result
        ret = f"return {out}, ({', '.join(saved)}{',' if len(saved) == 1 else ''})"
        fn = copy.copy(self.node)
        fn.name = self.primal_name
        fn.body = prologue + body + A.quote(ret)
        self._prologue_len = len(prologue)
        fn.decorator_list = []
        fn.returns = None
        return fn

    def _bool_vars(self):
        defs = {}
        for s in walk_stmts(self.node.body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                defs.setdefault(s.targets[0].id, []).append(s.value)
        return {n for n, vs in defs.items() if all(
            isinstance(v, (gast.Compare, gast.BoolOp)) or (isinstance(v, gast.UnaryOp) and isinstance(v.op, gast.Not))
            or (isinstance(v, gast.Constant) and isinstance(v.value, bool)) for v in vs)}

    def _tape_constructor(self, var, role="value"):
        """`[]` for Python.  For Numba: "array" (a float64 array + top index) for float scalars and float
        elements, else a typed list (arrays, slices, helper states)."""
        if not self.typed:
            return "[]"
        if role == "elem":
            return "array"
        if role.startswith("snap"):      # snapshots of a loop's state hold whole values
            role = "value"
        if role == "value" and self.kinds.get(var) == "scalar" and var not in self.bools \
                and var not in self.int_vars:
            return "array"
        return "List()"

    def _placeholder(self, name):
        """Value of a variable before its first assignment (read only by a tape push that is never popped
        into use): None, or for Numba a value of the variable's type."""
        if not self.typed:
            return "None"
        if name in self.bools:
            return "False"
        kind = self.kinds.get(name) or self.result_kinds.get(name)
        if isinstance(kind, str) and kind.startswith("tuple:"):   # a helper's tuple result: a tuple of placeholders
            items = kind[len("tuple:"):].split(",")
            return "(" + ", ".join(_placeholder_of(k) for k in items) + ("," if len(items) == 1 else "") + ")"
        if kind == "scalar":
            return "0" if name in self.int_vars else "0.0"      # an int tape stays int (a counter, an index)
        if kind and kind.startswith("array:"):
            n = int(kind.split(":")[1])
            dtype = ", dtype=np.int64" if name in self.int_arrays else ""     # an index array made in a loop
            return "np.empty(" + ("0" if n == 1 else "(" + ", ".join(["0"] * n) + ")") + dtype + ")"
        from ..errors import BackendError
        fname, line, _ = self.src.where(self.node)
        raise BackendError(f"cannot tell the type of `{name}` before it is assigned in {self.node.name}",
                           filename=fname, lineno=line, col=0, construct=name,
                           hint="use backend=\"python\" for this function")

    def _adjoint_def(self, body, saved):
        seed = self.dvar(self.result) if self.result in self.active else self.names.fresh("d" + self.result)
        prologue = A.quote(f"({', '.join(saved)}{',' if len(saved) == 1 else ''}) = saved") if saved else []
        if self._recomputed:
            names = ", ".join(s.targets[0].id for s in self._recomputed)
            prologue.append(self._note(f"remat: recompute {names} (cheaper than keeping them)"))
            prologue += [copy.deepcopy(s) for s in self._recomputed]
        for v in sorted(self.active - {self.result}):     # at the user's line that first assigns v (or the def):
            prologue += A.copy_loc(self._reset(v), self._first_assignment(v))   # a failure there names it
        if self.result in self.inplace:
            prologue += A.quote(f"{seed} = add_into(zeros_like({self.result}), {seed})")
        grads = [self.dvar(p) if p in self.active else "0.0" for p in self.active_params]
        epilogue = A.quote(f"return ({', '.join(grads)}{',' if len(grads) == 1 else ''})")
        body = fold_zeros(prologue + [Peephole().visit(s) for s in body] + epilogue, top=True)[:-1]
        body = drop_passing_snapshots(drop_tape_roundtrips(drop_dead_stores(body, A.loaded_names(epilogue[0]))))
        body = reuse_zero_buffers(drop_orphan_comments(body, self.comments))
        if self.typed:      # compiled loops: a stencil's scatter split by offset vectorises (fission.py)
            body = split_scatter_loops(body)
        body = body + epilogue
        args = gast.arguments(args=[A.name(seed, True), A.name("saved", True)], posonlyargs=[], vararg=None,
                              kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        return gast.FunctionDef(name=self.adjoint_name, args=args, body=body, decorator_list=[], returns=None,
                                type_comment=None, **({"type_params": []} if "type_params" in
                                                      gast.FunctionDef._fields else {}))


class _Substitute(gast.NodeTransformer):
    """Splice a rule template: d[result] -> cotangent, parameter names -> argument expressions."""

    def __init__(self, subs, cot, refs):
        self.subs, self.cot, self.refs = subs, cot, refs

    def visit_Subscript(self, node):
        if isinstance(node.value, gast.Name) and node.value.id == "d":
            return copy.deepcopy(self.cot)
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.subs:
            rep = copy.deepcopy(self.subs[node.id])
            if getattr(self.subs[node.id], "_rg_result", False):
                rep._rg_result = True
                if self.refs is not None:
                    self.refs.append(rep)
            return rep
        return node




def _overwritten_unread(rest, name):
    """The statements after a definition of `name` in its block rebind it before anything reads it (or
    writes into it): the definition is dead and its adjoint contributes nothing (`v = x.reshape(1, -1)`
    followed by `v = A.T`: a reset cotangent would reach the reshape's adjoint as a scalar)."""
    for s in rest:
        if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and s.targets[0].id == name
                and name not in A.loaded_names(s.value) and not getattr(s, "_rg_inplace", False)):
            return True
        if any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(s)) or _is_exit(s) \
                or isinstance(s, (gast.Return, gast.Break, gast.Continue)):
            return False
    return False


def _count_cot(expr):
    return sum(1 for n in gast.walk(expr) if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name)
               and n.value.id == "d")


def _rename_reserved(src):
    """Rename locals that would hide the names generated code calls (`unbroadcast = a * b`)."""
    from .. import runtime
    reserved = set(runtime.__all__) | set(registry.GLOBALS) | {"saved", "reversed", "range", "slice"}
    fn = src.node
    params = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    clash = (A.assigned_names(fn.body) | params) & reserved
    for p in clash & params:
        raise src.error(UnsupportedSyntaxError, fn, f"the parameter `{p}` has the name of a function retrograd's "
                        "generated code calls", construct="parameter", hint=f"rename `{p}`")
    taken = A.all_names(fn)
    for n in clash:
        new, k = n + "_", 2
        while new in taken:
            new, k = f"{n}_{k}", k + 1
        for node in gast.walk(fn):
            if isinstance(node, gast.Name) and node.id == n:
                node.id = new


def _new_axes_only(index):
    """An index of `None`/`np.newaxis` and at most `...`: it adds length-1 axes, and applies to a scalar too."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    new = [e for e in parts if (isinstance(e, gast.Constant) and e.value is None)
           or (isinstance(e, gast.Attribute) and e.attr == "newaxis")]
    dots = [e for e in parts if isinstance(e, gast.Constant) and e.value is Ellipsis]
    return bool(new) and len(dots) <= 1 and len(new) + len(dots) == len(parts)


def _without_new_axes(g, base):
    """The cotangent of `base` from that of `base[..., None]` (same entries): g reshaped to base's shape.  No
    `zeros_like(base)` buffer written through the index: base may be a NumPy scalar (`x[0][..., None]`)."""
    return A.quote_expr("np.reshape(G, np.shape(B))", G=g, B=base)


def _index_value(node):
    """An index as an ordinary expression (slices become slice(...) calls) to pass to a helper."""
    if isinstance(node, gast.Slice):
        parts = [p if p is not None else A.const(None) for p in (node.lower, node.upper, node.step)]
        return gast.Call(func=A.name("slice"), args=parts, keywords=[])
    if isinstance(node, gast.Tuple):
        return gast.Tuple(elts=[_index_value(e) for e in node.elts], ctx=gast.Load())
    return copy.deepcopy(node)


def _count_name(expr, name):
    return sum(1 for n in gast.walk(expr) if isinstance(n, gast.Name) and n.id == name)


def _index_label(node):
    parts = [n.id for n in gast.walk(node) if isinstance(n, gast.Name)]
    consts = [str(n.value) for n in gast.walk(node) if isinstance(n, gast.Constant) and isinstance(n.value, int)]
    return "_".join(parts + consts)[:16] or "part"


def _label_name(label):
    return label.rsplit(".", 1)[-1] or "call"


def _placeholder_of(kind):
    if kind == "scalar":
        return "0.0"
    n = int(kind.split(":")[1])
    return "np.empty(" + ("0" if n == 1 else "(" + ", ".join(["0"] * n) + ")") + ")"


def _is_exit(s):
    return isinstance(s, gast.If) and len(s.body) == 1 and getattr(s.body[0], "_rg_exit", False)


def _header_at(node, user):
    """The reversed loop or branch header stands at the user's loop or `if` line (the source map); its
    body keeps the lines of its own `# grad of` blocks."""
    node.lineno, node.col_offset = getattr(user, "lineno", None), getattr(user, "col_offset", 0)
    return node


def _split_sum(name, value):
    """(e, +1/-1) when `value` is `name + e`, `e + name` or `name - e` with `e` not reading `name`."""
    if not (isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Sub))):
        return None
    left, right = value.left, value.right
    if isinstance(left, gast.Name) and left.id == name:
        e, sign = right, (1 if isinstance(value.op, gast.Add) else -1)
    elif isinstance(right, gast.Name) and right.id == name and isinstance(value.op, gast.Add):
        e, sign = left, 1
    else:
        return None
    return None if name in A.loaded_names(e) else (e, sign)
