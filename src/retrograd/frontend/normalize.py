"""Rewrite a function into the small core language the reverse transform works on.

After normalisation a function body contains only:
  * `x = expr` and `A[idx] = expr` with a single target (augmented and tuple assignments are split);
  * calls with a derivative (other than the whole right-hand side of an assignment to a name) and `@`
    products hoisted into their own assignment, so every value a rule needs has a name;
  * `if` statements (conditional expressions become `if` statements too), whose test is recorded in a
    variable when a branch changes what the test reads;
  * `for NAME in range(...)` loops (arrays, zip and enumerate are indexed) and `while` loops;
  * no `return` but a final one, no `break`/`continue`: they become flags plus guards, and a loop that may
    stop early ends its body with `if flag: break` (marked `_rg_exit`), which the transform treats as
    control only.
Each new statement keeps the source position of the statement it came from.
"""
import builtins
import copy

import gast
import numpy as np

from ..astutil import (as_load, assigned_names, all_names, copy_loc, const, is_atom, loaded_names, name, quote,
                       quote_expr, subscript_base, unparse)
from ..errors import UnsupportedSyntaxError
from .resolve import _dotted as _dotted_name
from .spelling import canonicalise


class NameAllocator:
    """Fresh variable names that collide with nothing the function (or its globals) uses."""

    def __init__(self, taken):
        self.taken = set(taken)

    def fresh(self, base):
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in base) or "t"
        if base[0].isdigit():
            base = "_" + base
        cand, k = base, 2
        while cand in self.taken:
            cand, k = f"{base}_{k}", k + 1
        self.taken.add(cand)
        return cand


def _short(node):
    """A short identifier-ish description of an expression, for naming temporaries."""
    if isinstance(node, gast.Name):
        return node.id
    if isinstance(node, gast.Constant):
        return "c"
    if isinstance(node, gast.Attribute):
        return node.attr
    if isinstance(node, gast.Subscript):
        return _short(node.value)
    if isinstance(node, gast.Call):
        return _short(node.func)
    return "t"


class Normalizer:
    def __init__(self, src, resolver):
        self.src = src
        self.resolver = resolver
        self.names = NameAllocator(all_names(src.node) | set(src.namespace) | set(dir(builtins)))
        self.result = self.returned = None

    # ---- entry -------------------------------------------------------------------------------------
    def run(self):
        fn = self.src.node
        canonicalise(fn, self.resolver)
        body = self._block(fn.body)
        body = self._lower_returns(body)
        body = self._record_tests(body)
        fn.body = body
        return fn

    def error(self, node, msg, construct=None, hint=None):
        return self.src.error(UnsupportedSyntaxError, node, msg, construct=construct, hint=hint)

    # ---- statements ---------------------------------------------------------------------------------
    def _block(self, stmts):
        out = []
        for s in stmts:
            out.extend(self._stmt(s))
        return out

    def _stmt(self, s):
        if isinstance(s, gast.Expr):
            if isinstance(s.value, gast.Constant):
                return []  # docstring or bare constant
            if isinstance(s.value, gast.Call):
                return self._effect_call(s)
            return [s]
        if isinstance(s, gast.AugAssign):
            target = s.target
            pre = []
            if isinstance(target, gast.Subscript):   # `A[A < 0.6] *= x`: the index is evaluated once
                target.slice = self._write_index(target, pre, s)
            load = as_load(target)
            new = gast.Assign(targets=[target], value=gast.BinOp(left=load, op=s.op, right=s.value),
                              type_comment=None)
            new._rg_inplace = True   # `y += e` writes into y's array: an alias of y sees it
            copy_loc(new, s)
            return pre + self._stmt(new)
        if isinstance(s, gast.Assign):
            return self._assign(s)
        if isinstance(s, gast.Return):
            if s.value is None:
                return [s]
            pre = []
            value = self._rhs(s.value, "result", pre, top=False)
            s.value = value
            return copy_loc(pre, s) + [s]
        if isinstance(s, gast.If):
            s.body = self._block(s.body) or [copy_loc(gast.Pass(), s)]
            s.orelse = self._block(s.orelse)
            return [s]
        if isinstance(s, gast.While):
            s.body = self._block(s.body) or [copy_loc(gast.Pass(), s)]
            return [s]
        if isinstance(s, gast.For):
            return self._for(s)
        if isinstance(s, (gast.Pass, gast.Break, gast.Continue)):
            return [s]
        raise self.error(s, f"the statement `{type(s).__name__}` is not supported", construct=type(s).__name__)

    def _effect_call(self, s):
        """A call made for its effect.  `np.add.at(A, i, x)` / `np.subtract.at` become `A = scatter_add(A, i, x)`
        (an in-place update, like `A += x`) and `np.copyto(A, B)` becomes `A[...] = B`; a call retrograd knows
        is pure (or constant, like `print`) stays; any other call could write into an array without the
        adjoint seeing it, so it is refused rather than differentiated wrong."""
        call = s.value
        dotted = _dotted_name(call.func)
        obj = self.resolver.resolve(dotted) if dotted else None
        plain = not call.keywords and all(not isinstance(a, gast.Starred) for a in call.args)
        if getattr(obj, "__self__", None) in (np.add, np.subtract) and getattr(obj, "__name__", "") == "at" \
                and plain and len(call.args) == 3:
            from .. import runtime
            fn = runtime.scatter_add if dotted[-2] == "add" else runtime.scatter_sub
            target = call.args[0]
            if not isinstance(target, gast.Name):
                raise self.error(s, f"`{'.'.join(dotted)}` into `{unparse(target)}`: retrograd differentiates "
                                 "it only into a named array", construct=".".join(dotted),
                                 hint="name the array first: `a = ...` then `np.add.at(a, idx, x)`")
            new = gast.Call(func=name(fn.__name__), args=[as_load(target)] + call.args[1:], keywords=[])
            new._rg_callee = fn
            assign = copy_loc(gast.Assign(targets=[name(target.id, True)], value=new, type_comment=None), s)
            assign._rg_inplace = True          # the array itself changes: an alias of it sees the update
            return self._stmt(assign)
        if obj is np.copyto and plain and len(call.args) == 2:
            target = gast.Subscript(value=as_load(call.args[0]), slice=const(Ellipsis), ctx=gast.Store())
            return self._stmt(copy_loc(gast.Assign(targets=[target], value=call.args[1], type_comment=None), s))
        if self.resolver.classify(call).kind in ("missing",):
            label = ".".join(dotted) if dotted else "this call"
            raise self.error(s, f"`{label}(...)` is called for its effect, and retrograd cannot see what it "
                             "changes", construct=label,
                             hint="assign the result instead (`y = f(x)`, or `y[...] = f(x)` to write into y); "
                                  "`np.add.at`, `np.subtract.at` and `np.copyto` are understood")
        return [s]

    def _assign(self, s):
        if len(s.targets) > 1:  # a = b = e  ->  b = e; a = b
            last, *others = s.targets[::-1]
            first = gast.Assign(targets=[last], value=s.value, type_comment=None)
            out = self._stmt(copy_loc(first, s))
            for t in others:
                out += self._stmt(copy_loc(gast.Assign(targets=[t], value=as_load(last), type_comment=None), s))
            return out
        (target,) = s.targets
        if isinstance(target, (gast.Tuple, gast.List)):
            return self._unpack(s, target)
        pre = []
        hint = target.id if isinstance(target, gast.Name) else (subscript_base(target) or "t")
        if isinstance(s.value, gast.IfExp):
            return self._ifexp_assign(s, target, s.value)
        s.value = self._rhs(s.value, hint, pre, top=isinstance(target, gast.Name))
        if isinstance(target, gast.Subscript):
            target.slice = self._write_index(target, pre, s)
        return copy_loc(pre, s) + [s]

    def _write_index(self, target, pre, s):
        """Name the index of a write `A[I] = v` when it is computed (a mask `A > 0.7`, `np.array([...])`,
        `idx[k]`): the adjoint must use the index the write used, not one re-evaluated on the array after
        the write (or after later writes to what it reads)."""
        base = subscript_base(target)
        parts = target.slice.elts if isinstance(target.slice, gast.Tuple) else [target.slice]
        out = []
        for part in parts:
            computed = isinstance(part, (gast.Compare, gast.BoolOp, gast.Call, gast.Subscript, gast.List,
                                         gast.Attribute)) or (not isinstance(part, gast.Slice)
                                                              and base in loaded_names(part))
            if computed:
                tmp = self.names.fresh(f"{base}_index")
                pre += self._stmt(copy_loc(gast.Assign(targets=[name(tmp, True)], value=part, type_comment=None), s))
                part = name(tmp)
            out.append(part)
        if isinstance(target.slice, gast.Tuple):
            target.slice.elts = out
            return target.slice
        return out[0]

    def _unpack(self, s, target):
        names = target.elts
        value = s.value
        out = []
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(names):
            read = set().union(*(loaded_names(v) for v in value.elts)) if value.elts else set()
            written = {subscript_base(t) if isinstance(t, gast.Subscript) else t.id for t in names}
            if not (read & written):
                for t, v in zip(names, value.elts):
                    out += self._stmt(copy_loc(gast.Assign(targets=[t], value=v, type_comment=None), s))
                return out
            temps = []
            for t, v in zip(names, value.elts):
                tmp = self.names.fresh(_short(t) + "_new")
                temps.append(tmp)
                out += self._stmt(copy_loc(gast.Assign(targets=[name(tmp, True)], value=v, type_comment=None), s))
            for t, tmp in zip(names, temps):
                out += self._stmt(copy_loc(gast.Assign(targets=[t], value=name(tmp), type_comment=None), s))
            return out
        packed = self.names.fresh("_".join(_short(t) for t in names if _short(t) != "_") or "items")
        out += self._stmt(copy_loc(gast.Assign(targets=[name(packed, True)], value=value, type_comment=None), s))
        for k, t in enumerate(names):
            item = gast.Subscript(value=name(packed), slice=const(k), ctx=gast.Load())
            out += self._stmt(copy_loc(gast.Assign(targets=[t], value=item, type_comment=None), s))
        return out

    def _ifexp_assign(self, s, target, ifexp):
        body = self._stmt(copy_loc(gast.Assign(targets=[target], value=ifexp.body, type_comment=None), s))
        orelse = self._stmt(copy_loc(gast.Assign(targets=[copy.deepcopy(target)], value=ifexp.orelse, type_comment=None), s))
        new = gast.If(test=ifexp.test, body=body, orelse=orelse)
        return [copy_loc(new, s)]

    def _for(self, s):
        target, it = s.target, s.iter
        pre = []
        s.body = self._block(s.body) or [copy_loc(gast.Pass(), s)]
        if _is_call_to(it, "range"):
            if not isinstance(target, gast.Name):
                raise self.error(target, "a range loop must bind a single name", construct="for")
            if it.keywords or not 1 <= len(it.args) <= 3:
                raise self.error(it, "range() takes 1 to 3 positional arguments here", construct="range")
            if target.id in assigned_names(s.body):     # `for i in ...: i = i + 1`: the reversed loop counts
                counter = self.names.fresh(target.id)    # the range's values, so the body gets its own `i`
                s.body = [copy_loc(gast.Assign(targets=[name(target.id, True)], value=name(counter),
                                               type_comment=None), s)] + s.body
                s.target = copy_loc(name(counter, True), target)
            return [s]
        kind = it.func.id if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) else None
        rebind = []
        if kind in ("enumerate", "zip") and it.keywords:
            raise self.error(it, f"{kind}() with keyword arguments is not supported", construct=kind)
        if kind == "enumerate":
            if len(it.args) != 1 or not (isinstance(target, gast.Tuple) and len(target.elts) == 2):
                raise self.error(it, "use `for i, x in enumerate(seq)`", construct="enumerate")
            idx, item = target.elts
            if not isinstance(idx, gast.Name):
                raise self.error(idx, "the enumerate index must be a plain name", construct="enumerate")
            seqs, items, index = [it.args[0]], [item], idx.id
            if index in assigned_names(s.body):         # the body rebinds the index: count with a name of
                index = self.names.fresh(idx.id)        # our own, `i = i_2` first (as for range above)
                rebind = [copy_loc(gast.Assign(targets=[name(idx.id, True)], value=name(index),
                                               type_comment=None), s)]
        elif kind == "zip":
            if not (isinstance(target, gast.Tuple) and len(target.elts) == len(it.args)) or not it.args:
                raise self.error(it, "unpack one name per zipped sequence: `for a, b in zip(A, B)`",
                                 construct="zip")
            seqs, items, index = list(it.args), list(target.elts), None
        elif kind == "reversed" and len(it.args) == 1 and _is_call_to(it.args[0], "range"):
            s.iter = _reversed_range(it.args[0])   # the same indices, counting down
            return self._for(s)
        else:
            seqs, items, index = [it], [target], None
        # Name each sequence once, before the loop, so the body indexes the object Python iterates.
        body_writes = assigned_names(s.body) | assigned_names([copy_loc(gast.Assign(
            targets=[t], value=const(0), type_comment=None), s) for t in items])
        # `for e in a: a += 0.3 * e` iterates the array the body updates in place: index `a` itself (each
        # step reads the updated values, as NumPy does); only a rebinding `a = ...` leaves Python iterating
        # the old object, which the loop then names once before it starts
        rebound = {n for n in body_writes if not _only_in_place(s.body, n)} | assigned_names(
            [copy_loc(gast.Assign(targets=[t], value=const(0), type_comment=None), s) for t in items])
        seq_names = []
        for seq in seqs:
            if isinstance(seq, gast.Name) and seq.id not in rebound:
                seq_names.append(seq.id)
            else:
                tmp = self.names.fresh(_short(seq) + "_seq")
                pre += self._stmt(copy_loc(gast.Assign(targets=[name(tmp, True)], value=seq, type_comment=None), s))
                seq_names.append(tmp)
        if index is None:
            index = self.names.fresh((_short(items[0]) if len(items) == 1 else "k") + "_idx"
                                     if len(items) == 1 else "k")
        if len(seq_names) == 1:
            stop = quote_expr("len(S)", S=seq_names[0])
        else:
            stop = gast.Call(func=name("min"), args=[quote_expr("len(S)", S=n) for n in seq_names], keywords=[])
        reads = rebind
        for item, seq in zip(items, seq_names):
            elem = quote_expr("S[I]", S=seq, I=index)
            reads += self._stmt(copy_loc(gast.Assign(targets=[item], value=elem, type_comment=None), s))
        loop = gast.For(target=name(index, True), iter=gast.Call(func=name("range"), args=[stop], keywords=[]),
                        body=copy_loc(reads, s) + s.body, orelse=[], type_comment=None)
        return copy_loc(pre, s) + [copy_loc(loop, s)]

    # ---- expressions: hoist calls and products out so that rules see named values --------------------
    def _rhs(self, expr, hint, pre, top):
        return self._hoist(expr, hint, pre, top)

    def _hoist(self, node, hint, pre, top):
        if isinstance(node, gast.Compare):      # a draw in a test (dropout masks) is made once, here
            node.left = self._hoist_draws(node.left, hint, pre)
            node.comparators = [self._hoist_draws(e, hint, pre) for e in node.comparators]
            return node
        if isinstance(node, gast.BoolOp):
            node.values = [self._hoist_draws(e, hint, pre) for e in node.values]
            return node
        if isinstance(node, (gast.Name, gast.Constant)):
            return node
        if isinstance(node, gast.IfExp):
            tmp = self.names.fresh(hint + "_sel")
            body = self._stmt(copy_loc(gast.Assign(targets=[name(tmp, True)], value=node.body, type_comment=None), node))
            orelse = self._stmt(copy_loc(gast.Assign(targets=[name(tmp, True)], value=node.orelse, type_comment=None), node))
            pre.append(copy_loc(gast.If(test=node.test, body=body, orelse=orelse), node))
            return name(tmp)
        if isinstance(node, gast.Subscript):
            node.value = self._hoist(node.value, hint, pre, False)
            return node  # indices are integers: nothing to hoist there
        if isinstance(node, gast.Attribute):
            node.value = self._hoist(node.value, hint, pre, False)
            return node
        if isinstance(node, gast.BinOp):
            node.left = self._hoist(node.left, hint, pre, False)
            node.right = self._hoist(node.right, hint, pre, False)
            if isinstance(node.op, gast.MatMult) and not top:
                return self._temp(node, f"{_short(node.left)}_at_{_short(node.right)}", pre)
            return node
        if isinstance(node, gast.UnaryOp):
            node.operand = self._hoist(node.operand, hint, pre, False)
            return node
        if isinstance(node, (gast.Tuple, gast.List)):
            node.elts = [self._hoist(e, hint, pre, False) for e in node.elts]
            return node
        if isinstance(node, gast.Dict):
            node.values = [self._hoist(e, hint, pre, False) for e in node.values]
            return node
        if isinstance(node, gast.Call):
            if self.resolver.is_constant_call(node) and not self.resolver.is_draw(node):
                return node     # deterministic: the adjoint may evaluate it again
            node.args = [self._hoist(a, hint, pre, False) for a in node.args]
            for kw in node.keywords:
                kw.value = self._hoist(kw.value, hint, pre, False)
            if isinstance(node.func, gast.Attribute):
                node.func.value = self._hoist(node.func.value, hint, pre, False)
            if top:
                return node
            label = _short(node.func)
            if isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) \
                    and not self.resolver.is_module(node.func.value.id):
                parts = [node.func.value.id, label]          # x.sum() -> x_sum
            else:
                parts = [label] + [a.id for a in node.args if isinstance(a, gast.Name)][:2]   # np.sin(x) -> sin_x
            label = "_".join(parts) if len("_".join(parts)) <= 24 else f"{hint}_{label}"
            return self._temp(node, label, pre)
        return node

    def _hoist_draws(self, node, hint, pre):
        """`node`, with the random draws in it bound to names (other parts of a test stay inline)."""
        if any(isinstance(n, gast.Call) and self.resolver.is_draw(n) for n in gast.walk(node)):
            return self._hoist(node, hint, pre, False)
        return node

    def _temp(self, node, label, pre):
        tmp = self.names.fresh(label)
        pre.append(copy_loc(gast.Assign(targets=[name(tmp, True)], value=node, type_comment=None), node))
        return name(tmp)

    # ---- return / break / continue become flags and guards ----------------------------------------------
    def _lower_returns(self, body):
        returns = [n for s in body for n in gast.walk(s) if isinstance(n, gast.Return)]
        jumps = [n for s in body for n in gast.walk(s) if isinstance(n, (gast.Break, gast.Continue))]
        simple = (len(returns) == 1 and body and body[-1] is returns[0]) or not returns
        if simple and not jumps:
            return body
        self.result = self.names.fresh("result") if not simple else None
        self.returned = self.names.fresh("returned") if not simple else None
        if simple:
            new, _ = self._lower(body, None)
            return new
        new, _ = self._lower(body, None)
        init = quote(f"{self.returned} = False")
        final = quote(f"return {self.result}")
        copy_loc(init, body[0])
        copy_loc(final, body[-1])
        return init + new + final

    def _lower(self, stmts, loop):
        out, may = [], set()
        for k, s in enumerate(stmts):
            new, s_may = self._lower_stmt(s, loop)
            out.extend(new)
            if s_may:
                rest, rest_may = self._lower(stmts[k + 1:], loop)
                if rest:
                    flags = sorted(s_may)
                    test = quote_expr(" or ".join(flags)) if len(flags) > 1 else name(flags[0])
                    guard = gast.If(test=gast.UnaryOp(op=gast.Not(), operand=test), body=rest, orelse=[])
                    out.append(copy_loc(guard, stmts[k + 1]))
                return out, s_may | rest_may
        return out, may

    def _lower_stmt(self, s, loop):
        if isinstance(s, gast.Return):
            if self.result is None:  # the single final return
                return [s], set()
            value = s.value if s.value is not None else const(None)
            new = [gast.Assign(targets=[name(self.result, True)], value=value, type_comment=None)]
            new += quote(f"{self.returned} = True")
            return copy_loc(new, s), {self.returned}
        if isinstance(s, (gast.Break, gast.Continue)):
            key = "brk" if isinstance(s, gast.Break) else "cont"
            if loop is None:
                raise self.error(s, f"`{key}` outside a loop", construct=key)
            if loop[key] is None:
                loop[key] = self.names.fresh("broke" if key == "brk" else "skip")
            return copy_loc(quote(f"{loop[key]} = True"), s), {loop[key]}
        if isinstance(s, gast.If):
            s.body, m1 = self._lower(s.body, loop)
            s.orelse, m2 = self._lower(s.orelse, loop)
            if not s.body:
                s.body = [copy_loc(gast.Pass(), s)]
            return [s], m1 | m2
        if isinstance(s, (gast.For, gast.While)):
            ctx = {"brk": None, "cont": None}
            body, m = self._lower(s.body, ctx)
            pre = []
            if ctx["cont"]:
                body = copy_loc(quote(f"{ctx['cont']} = False"), s) + body
            exits = [f for f in (ctx["brk"], self.returned) if f and f in m]
            if exits:
                test = quote_expr(" or ".join(exits))
                stop = gast.Break()
                stop._rg_exit = True
                body.append(copy_loc(gast.If(test=test, body=[stop], orelse=[]), s))
            if ctx["brk"]:
                pre = copy_loc(quote(f"{ctx['brk']} = False"), s)
            s.body = body or [copy_loc(gast.Pass(), s)]
            return pre + [s], ({self.returned} & m) if self.returned else set()
        return [s], set()

    # ---- record what the adjoint cannot recompute: branch tests and changing loop bounds --------------
    def _record_tests(self, stmts):
        out = []
        for s in stmts:
            if isinstance(s, gast.If):
                s.body = self._record_tests(s.body)
                s.orelse = self._record_tests(s.orelse)
                if (loaded_names(s.test) & assigned_names(s.body + s.orelse)) or _has_call(s.test):
                    flag = self.names.fresh("cond")
                    out.append(copy_loc(gast.Assign(targets=[name(flag, True)], value=s.test, type_comment=None), s))
                    s.test = name(flag)
            elif isinstance(s, gast.For):
                s.body = self._record_tests(s.body)
                writes = assigned_names(s.body) | {s.target.id}
                new_args = []
                for k, a in enumerate(s.iter.args):
                    if is_atom(a) and not (isinstance(a, gast.Name) and a.id in writes):
                        new_args.append(a)
                    elif not (loaded_names(a) & writes) and not _has_call(a, allow={"len", "min", "max", "int"}):
                        new_args.append(a)
                    else:
                        roles = ("stop",) if len(s.iter.args) == 1 else ("start", "stop", "step")
                        tmp = self.names.fresh(roles[k])
                        out.append(copy_loc(gast.Assign(targets=[name(tmp, True)], value=a, type_comment=None), s))
                        new_args.append(name(tmp))
                s.iter.args = new_args
            elif isinstance(s, gast.While):
                s.body = self._record_tests(s.body)
            out.append(s)
        return out


def _reversed_range(rng):
    """`reversed(range(...))` as a plain range with a negative step."""
    args = rng.args
    if len(args) == 1:
        return quote_expr("range(N - 1, -1, -1)", N=args[0])
    if len(args) == 2:
        return quote_expr("range(B - 1, A - 1, -1)", A=args[0], B=args[1])
    return quote_expr("range(A + (len(range(A, B, K)) - 1) * K, A - K, -K)", A=args[0], B=args[1], K=args[2])


def _is_call_to(node, fname):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == fname


def _has_call(node, allow=()):
    return any(isinstance(n, gast.Call) and not (isinstance(n.func, gast.Name) and n.func.id in allow)
               for n in gast.walk(node))


def _only_in_place(stmts, name):
    """Every write to `name` in `stmts` changes its array in place (`name[i] = v`, `name += e`)."""
    for s in stmts:
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name) and t.id == name and not getattr(s, "_rg_inplace", False):
                return False
            if isinstance(t, (gast.Tuple, gast.List)) and name in assigned_names([s]):
                return False
        elif isinstance(s, gast.If):
            if not (_only_in_place(s.body, name) and _only_in_place(s.orelse, name)):
                return False
        elif isinstance(s, (gast.For, gast.While)):
            if isinstance(s, gast.For) and any(isinstance(n, gast.Name) and n.id == name for n in gast.walk(s.target)):
                return False
            if not _only_in_place(s.body, name):
                return False
    return True
