"""Clean-ups of the adjoint body that make it read like hand-written code.

`fold_zeros` removes the zero-initialisations the transform emits conservatively: `dx = 0.0` followed
(with no read of `dx` in between) by `dx = dx + e` becomes `dx = e`, and a zero-initialisation that is
overwritten or never read is dropped.  Loop bodies are folded too when the cotangent is zero both on
entry to the loop and at the end of each iteration.
"""
import gast


def _is_zero_init(s):
    if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
        return False
    v = s.value
    if isinstance(v, gast.Constant):
        return v.value == 0.0 and not isinstance(v.value, bool)
    return (isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id == "zeros_like"
            and s.targets[0].id not in _reads(v))


def _accumulated(s):
    """`d = d + e` or `d = add_tree(d, e)` -> (d, e) when e does not read d."""
    if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
        return None
    d, v = s.targets[0].id, s.value
    if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add):
        left, e = v.left, v.right
    elif (isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id == "add_tree"
          and len(v.args) == 2 and not v.keywords):
        left, e = v.args
    else:
        return None
    if isinstance(left, gast.Name) and left.id == d and d not in _reads(e):
        return d, e
    return None


def _reads(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _zero_at_end(body):
    """Names whose last write in `body` (top level) is a zero-init not read afterwards."""
    out, seen = set(), set()
    for s in reversed(body):
        if _is_zero_init(s) and s.targets[0].id not in seen:
            out.add(s.targets[0].id)
        seen |= _reads(s) | {n.id for n in gast.walk(s) if isinstance(n, gast.Name)}
    return out


def _exit_zero(stmts, d, zero):
    """Is `d` zero after `stmts`, given whether it is zero before (branches followed, conservatively)?"""
    for s in stmts:
        if d not in {n.id for n in gast.walk(s) if isinstance(n, gast.Name)}:
            continue
        if _is_zero_init(s) and s.targets[0].id == d:
            zero = True
        elif isinstance(s, gast.If):
            zero = _exit_zero(s.body, d, zero) and _exit_zero(s.orelse, d, zero)
        else:
            zero = False
    return zero


def fold_zeros(stmts, top=False, zero=()):
    pending = {n: None for n in zero}     # name -> index of its zero-init in `out` (None: no statement)
    out = []
    for s in stmts:
        if _is_zero_init(s):
            d = s.targets[0].id
            if pending.get(d) is not None:
                out[pending[d]] = None        # overwritten before any read: dead
            pending[d] = len(out)
            out.append(s)
            continue
        acc = _accumulated(s)
        if acc and acc[0] in pending:
            d, e = acc
            if pending[d] is not None:
                out[pending[d]] = None
            del pending[d]
            for r in _reads(e) & set(pending):
                del pending[r]
            out.append(gast.Assign(targets=s.targets, value=e, type_comment=None))
            continue
        if isinstance(s, gast.For):
            entry = {n for n in pending}
            inner = entry & _zero_at_end(s.body)
            s.body = fold_zeros(s.body, zero=inner)
        elif isinstance(s, gast.While):   # a checkpointing schedule: the step adjoint sits in one branch
            inner = {d for d in pending if _exit_zero(s.body, d, True)}
            s.body = fold_zeros(s.body, zero=inner)
        elif isinstance(s, gast.If):   # zero on entry to the branch: fold there (the outer init may die)
            s.body = fold_zeros(s.body, zero=set(pending))
            s.orelse = fold_zeros(s.orelse, zero=set(pending))
        touched = {n.id for n in gast.walk(s) if isinstance(n, gast.Name)}   # read or written: no longer zero
        for d in touched & set(pending):
            del pending[d]
        out.append(s)
    if top:
        for d, k in pending.items():
            if k is not None:
                out[k] = None                 # never read
    return [s for s in out if s is not None]


def _is_comment(s):
    return (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and isinstance(s.value.value, str)
            and s.value.value.startswith("__rg_comment_"))


def drop_orphan_comments(stmts, comments):
    """Remove `# grad of` markers with no code under them, and repeats of the line just commented."""
    out, last = [], None
    for k, s in enumerate(stmts):
        if _is_comment(s):
            nxt = stmts[k + 1] if k + 1 < len(stmts) else None
            text = comments[int(s.value.value[len("__rg_comment_"):-2])]
            if nxt is None or _is_comment(nxt) or text == last:
                continue
            last = text
        elif isinstance(s, (gast.For, gast.If, gast.While)):
            s.body = drop_orphan_comments(s.body, comments)
            s.orelse = drop_orphan_comments(s.orelse, comments)
            last = None
            if not s.body and (not s.orelse or not isinstance(s, gast.If)):
                continue
            s.body = s.body or [gast.Pass()]
        out.append(s)
    return out


def _np_call(name, args):
    return gast.Call(func=gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None),
                                         attr=name, ctx=gast.Load()), args=args, keywords=[])


class Peephole(gast.NodeTransformer):
    """Constant-fold what template splicing leaves behind: `2 - 1` -> 1, `x ** 1` -> x, `1.0 * x` -> x."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        l, r = node.left, node.right
        lc = isinstance(l, gast.Constant) and isinstance(l.value, (int, float)) and not isinstance(l.value, bool)
        rc = isinstance(r, gast.Constant) and isinstance(r.value, (int, float)) and not isinstance(r.value, bool)
        if lc and rc and isinstance(node.op, (gast.Add, gast.Sub, gast.Mult)):
            v = {gast.Add: l.value + r.value, gast.Sub: l.value - r.value,
                 gast.Mult: l.value * r.value}[type(node.op)]
            return gast.Constant(value=v, kind=None)
        if rc and r.value == 1 and isinstance(node.op, (gast.Pow, gast.Mult, gast.Div)):
            return l
        if lc and l.value == 1 and isinstance(node.op, gast.Mult):
            return r
        if (isinstance(node.op, gast.Mult) and isinstance(r, gast.BinOp) and isinstance(r.op, gast.Mult)
                and isinstance(r.left, gast.Constant)):   # `g * (2 * x)` -> `g * 2 * x`, as written by hand
            return gast.BinOp(left=gast.BinOp(left=l, op=gast.Mult(), right=r.left), op=gast.Mult(), right=r.right)
        return node

    def visit_AugAssign(self, node):
        """`D[I] += unbroadcast(-g, W)` -> `D[I] -= unbroadcast(g, W)` (unbroadcast is linear): no negated
        temporary of the whole cotangent."""
        self.generic_visit(node)
        v = node.value
        if (isinstance(node.op, (gast.Add, gast.Sub)) and isinstance(v, gast.Call) and isinstance(v.func, gast.Name)
                and v.func.id == "unbroadcast" and len(v.args) == 2 and not v.keywords
                and isinstance(v.args[0], gast.UnaryOp) and isinstance(v.args[0].op, gast.USub)):
            v.args[0] = v.args[0].operand
            node.op = gast.Sub() if isinstance(node.op, gast.Add) else gast.Add()
        return node

    def visit_Call(self, node):
        """Rule helpers with literal arguments read as the textbook formula where that is safe on the whole
        domain: `pow_base_grad(x, 3)` -> `3 * x ** 2` (k >= 1, k == 0), `pow_exp_grad(2.0, y, r)` ->
        `r * np.log(2.0)` (a positive base), `unreshape(g, x, 'C')` -> `np.reshape(g, np.shape(x))`."""
        self.generic_visit(node)
        f = node.func
        if (isinstance(f, gast.Name) and f.id == "unreshape" and len(node.args) == 3
                and isinstance(node.args[2], gast.Constant) and node.args[2].value == "C"):
            return _np_call("reshape", [node.args[0], _np_call("shape", [node.args[1]])])
        if not (isinstance(f, gast.Name) and f.id in ("pow_base_grad", "pow_exp_grad") and not node.keywords):
            return node
        const = [isinstance(a, gast.Constant) and isinstance(a.value, (int, float))
                 and not isinstance(a.value, bool) for a in node.args]
        if f.id == "pow_base_grad" and const[1]:
            k = node.args[1].value
            if k in (0, 1):
                return gast.Constant(value=float(k), kind=None)
            if k > 1:
                power = gast.BinOp(left=node.args[0], op=gast.Pow(), right=gast.Constant(value=k - 1, kind=None))
                return self.visit_BinOp(gast.BinOp(left=gast.Constant(value=k, kind=None), op=gast.Mult(),
                                                   right=self.visit_BinOp(power)))
        if f.id == "pow_exp_grad" and const[0] and node.args[0].value > 0:
            return gast.BinOp(left=node.args[2], op=gast.Mult(), right=_np_call("log", [node.args[0]]))
        return node


_EFFECTFUL = {"add_into", "add_at", "pop", "append"}


def _pure(expr):
    for n in gast.walk(expr):
        if isinstance(n, gast.Call):
            f = n.func
            fname = f.id if isinstance(f, gast.Name) else f.attr if isinstance(f, gast.Attribute) else None
            if fname in _EFFECTFUL or fname is None:
                return False
            if not fname[0].isalpha() or fname.startswith("adjoint_"):
                return False
    return True


def drop_dead_stores(stmts, live):
    """Remove `name = pure expression` whose name is never read afterwards (backward liveness)."""
    return _sweep(stmts, set(live), rewrite=True)[0]


def _sweep(stmts, live, rewrite):
    """Backward liveness over structured code: (statements, with dead stores dropped if `rewrite`,
    names live on entry)."""
    out = []
    for s in reversed(stmts):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            name = s.targets[0].id
            if name not in live and _pure(s.value):
                continue
            live = (live - {name}) | _reads(s.value)
        elif isinstance(s, (gast.For, gast.While)):
            head = set(live) | (_reads(s.test) if isinstance(s, gast.While) else set())
            while True:   # a loop body's live-in flows back to its end
                new = head | _sweep(s.body, head | live, False)[1]
                if new == head:
                    break
                head = new
            if rewrite:
                s.body = _sweep(s.body, head | live, True)[0]
                if not s.body:
                    continue
            live = head | live | _reads(s.iter if isinstance(s, gast.For) else s.test)
        elif isinstance(s, gast.If):
            body, l1 = _sweep(s.body, set(live), rewrite)
            orelse, l2 = _sweep(s.orelse, set(live), rewrite)
            if rewrite:
                if not body and not orelse:
                    continue
                s.body, s.orelse = body or [gast.Pass()], orelse
            live = l1 | l2 | _reads(s.test)
        else:
            live = live | _reads(s)
        out.append(s)
    return out[::-1], live


def drop_tape_roundtrips(stmts):
    """`T.append(v)` ... `v = T.pop()` (or Numba's push/pop on T) with `v` and `T` untouched in between:
    the pop would restore the value `v` still holds, so both go.  Re-run loop steps leave these behind
    once the dead stores of the step's final assignments are gone."""
    out = []
    for s in stmts:
        if isinstance(s, (gast.For, gast.While, gast.If)):
            s.body = drop_tape_roundtrips(s.body)
            s.orelse = drop_tape_roundtrips(s.orelse)
        out.append(s)
    k = 0
    while k < len(out):
        push = _push_of(out[k])
        match = None
        if push:
            tape, top, v = push
            for j in range(k + 1, len(out)):
                pop = _pop_of(out[j])
                if pop == (tape, top, v):
                    match = j
                    break
                names = {n.id for n in gast.walk(out[j]) if isinstance(n, gast.Name)}
                stores = {n.id for n in gast.walk(out[j]) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
                if tape in names or (top is not None and top in names) or v in stores:
                    break
        if match is not None:
            del out[match]
            del out[k]
        else:
            k += 1
    return out


def _names(nodes):
    return [n.id if isinstance(n, gast.Name) else None for n in nodes]


def _push_of(s):
    """(tape, top, value) of a push of a plain name, else None."""
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
        c = s.value
        if (isinstance(c.func, gast.Attribute) and c.func.attr == "append" and isinstance(c.func.value, gast.Name)
                and len(c.args) == 1 and isinstance(c.args[0], gast.Name)):
            return c.func.value.id, None, c.args[0].id
    if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Name) \
            and s.value.func.id in ("push", "push_at") and len(s.value.args) == 3:
        tape, top, v = _names(s.value.args)
        if tape and top and v:
            return tape, top, v
    return None


def _pop_of(s):
    """(tape, top, target) of a pop into a plain name, else None."""
    if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)):
        return None
    c, t = s.value, s.targets[0]
    if isinstance(c.func, gast.Attribute) and c.func.attr == "pop" and not c.args and \
            isinstance(c.func.value, gast.Name) and isinstance(t, gast.Name):
        return c.func.value.id, None, t.id
    if isinstance(c.func, gast.Name) and c.func.id == "pop" and len(c.args) == 2 and isinstance(t, gast.Tuple):
        tape, top = _names(c.args)
        target, top2 = _names(t.elts)
        if tape and top and target and top == top2:
            return tape, top, target
    return None


# ---- cotangent buffers reused across loop steps -------------------------------------------------------

def reuse_zero_buffers(body):
    """`d = zeros_like(x)` inside a loop -> `d = reset_zeros(d, x)` (d's buffer zeroed in place: no allocation
    per step) for the cotangents whose buffer is never shared: `d` is only ever bound by `zeros_like` and
    `d = add_into(d, e)`, and read only element by element, as an operand of arithmetic, copied
    (`snapshot`, `add_into(other, d)`) or returned.  Then no other name can hold d's old buffer when it is
    zeroed.  Only in loops after a top-level binding of `d` (the buffer exists at the first reset)."""
    parent = {}
    for node in gast.walk(gast.Module(body=body, type_ignores=[])):
        for child in gast.iter_child_nodes(node):
            parent[child] = node
    owned = _owned_buffers(body, parent)
    bound = set()
    for s in body:
        if isinstance(s, (gast.For, gast.While)) and owned & bound:
            for node in gast.walk(s):
                if (isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name)
                        and node.targets[0].id in owned & bound and _zeros_like_call(node.value)):
                    node.value = gast.Call(func=_load("reset_zeros"), args=[_load(node.targets[0].id),
                                                                             node.value.args[0]], keywords=[])
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            bound.add(s.targets[0].id)
    return body


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _zeros_like_call(v):
    return (isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id == "zeros_like"
            and len(v.args) == 1 and not v.keywords)


def _add_into_self(s, d):
    v = s.value
    return (isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id == "add_into" and len(v.args) == 2
            and isinstance(v.args[0], gast.Name) and v.args[0].id == d and d not in _reads(v.args[1]))


def _owned_buffers(body, parent):
    """Names whose array buffer no other name can share (see reuse_zero_buffers)."""
    mod = gast.Module(body=body, type_ignores=[])
    candidates, bad = set(), set()
    for node in gast.walk(mod):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            d = node.targets[0].id
            if _zeros_like_call(node.value) and d not in _reads(node.value):
                candidates.add(d)
            elif not _add_into_self(node, d):
                bad.add(d)
    for node in gast.walk(mod):
        if not isinstance(node, gast.Name) or node.id not in candidates:
            continue
        up = parent.get(node)
        if isinstance(node.ctx, gast.Store):
            if not (isinstance(up, gast.Assign) and up.targets[0] is node):
                bad.add(node.id)              # a tuple target, a loop variable, ...
        elif not _copied_read(node, up, parent):
            bad.add(node.id)
    return candidates - bad


def _copied_read(node, up, parent):
    """A read of the buffer `node` names that cannot leave another name holding the buffer or a view of it."""
    if isinstance(up, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True                        # arithmetic makes a new array
    if isinstance(up, gast.Call) and isinstance(up.func, gast.Name):
        if up.func.id == "snapshot":
            return True
        if up.func.id == "add_into" and len(up.args) == 2:
            if up.args[1] is node:
                return True                # copied into the other buffer
            grand = parent.get(up)         # `d = add_into(d, e)`: d's own buffer, kept by d
            return (up.args[0] is node and isinstance(grand, gast.Assign) and isinstance(grand.targets[0], gast.Name)
                    and grand.targets[0].id == node.id)
        return False
    if isinstance(up, gast.Subscript) and up.value is node:
        if isinstance(up.ctx, gast.Store):
            return True                    # d[I] = v, d[I] += v: writes into d's own buffer
        outer = parent.get(up)
        if (isinstance(outer, gast.Call) and isinstance(outer.func, gast.Name) and outer.func.id == "unbroadcast"
                and outer.args and outer.args[0] is up):
            # `e + unbroadcast(d[I], w)` (drop_passing_snapshots): the view, or its sum, goes into arithmetic
            return isinstance(parent.get(outer), (gast.BinOp, gast.UnaryOp, gast.Compare))
        return (getattr(up, "_rg_element", False) or isinstance(outer, (gast.BinOp, gast.UnaryOp, gast.Compare))
                or (isinstance(outer, gast.Call) and isinstance(outer.func, gast.Name)
                    and outer.func.id == "snapshot"))
    if isinstance(up, gast.Tuple) and isinstance(parent.get(up), gast.Return):
        return True                        # handed to the caller at the end
    if isinstance(up, gast.Return):
        return True
    return False


def drop_passing_snapshots(stmts):
    """`g = snapshot(D[I])` read once in the whole adjoint, by the very next statement, whose value is
    arithmetic (a new array) and which writes neither D nor g: the copy is read before anything can change
    D, so the part itself is read there instead (`dt = dt + unbroadcast(D[I], t)`), with no copy."""
    loads = {}
    for n in gast.walk(gast.Module(body=stmts, type_ignores=[])):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            loads[n.id] = loads.get(n.id, 0) + 1
    return _drop_passing(stmts, {n for n, c in loads.items() if c == 1})


def _drop_passing(stmts, read_once):
    out = []
    for s in stmts:
        for field in ("body", "orelse"):
            if isinstance(s, (gast.For, gast.While, gast.If)):
                setattr(s, field, _drop_passing(getattr(s, field), read_once))
        out.append(s)
    k = 0
    while k + 1 < len(out):
        s, nxt = out[k], out[k + 1]
        part = _snapshot_of_part(s)
        if part is not None and isinstance(nxt, gast.Assign) and isinstance(nxt.targets[0], gast.Name) \
                and isinstance(nxt.value, (gast.BinOp, gast.UnaryOp)):
            g, base = s.targets[0].id, part.value.id
            uses = [n for n in gast.walk(nxt.value) if isinstance(n, gast.Name) and n.id == g]
            if (len(uses) == 1 and g in read_once and nxt.targets[0].id not in (g, base)
                    and not _calls_other_than(nxt.value, {"unbroadcast"})):
                _replace_name(nxt.value, g, part)
                del out[k]
                continue
        k += 1
    return out


def _snapshot_of_part(s):
    if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call)
            and isinstance(s.value.func, gast.Name) and s.value.func.id == "snapshot" and len(s.value.args) == 1
            and isinstance(s.value.args[0], gast.Subscript) and isinstance(s.value.args[0].value, gast.Name)):
        return s.value.args[0]
    return None


def _calls_other_than(expr, allowed):
    return any(isinstance(n, gast.Call) and not (isinstance(n.func, gast.Name) and n.func.id in allowed)
               for n in gast.walk(expr))


def _replace_name(expr, name, new):
    import copy
    for node in gast.walk(expr):
        for field, value in gast.iter_fields(node):
            if isinstance(value, gast.Name) and value.id == name:
                setattr(node, field, copy.deepcopy(new))
            elif isinstance(value, list):
                for j, item in enumerate(value):
                    if isinstance(item, gast.Name) and item.id == name:
                        value[j] = copy.deepcopy(new)
