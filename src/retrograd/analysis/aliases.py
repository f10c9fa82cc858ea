"""Views and aliases of arrays that the function writes into.

`v = A[1:3]` or `B = A` makes two names share memory.  If `A` is then written (`A[1] = x`) while `v` is
still used, the forward pass sees the write through `v`, but the adjoint treats `v` as the value it had
when it was read, so the gradient would be wrong.  Such programs are refused (definite views: slices,
`.T`, reshape, bare aliases) or checked when they run (`t = A[i]` is a view only when `A` has more than
one dimension: a runtime check raises instead of returning a wrong gradient).
"""
from dataclasses import dataclass, field

import gast

from ..astutil import subscript_base

# Calls and attributes that may return a view of their first operand (NumPy's own list: these never copy
# when they need not).  Any other NumPy function or operator returns a fresh array.
VIEW_FUNCS = {"reshape", "ravel", "transpose", "squeeze", "expand_dims", "swapaxes", "moveaxis",
              "broadcast_to", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "require",
              "atleast_1d", "atleast_2d", "atleast_3d", "diagonal", "view", "flip", "fliplr", "flipud", "rot90",
              "real", "imag", "squeeze", "matrix_transpose", "permute_dims", "flatten_view"}
VIEW_ATTRS = {"T", "mT", "real", "imag", "flat"}


def view_sources(value, locals_, callees=None):
    """[(array name, definite?)]: the named arrays whose storage `value` may share.  Definite: it is a view
    whenever it is evaluated (slices, `.T`, reshape, a bare name); otherwise only for some operands (`A[i]`
    of a 2-D `A`, a helper that may return its argument): those are checked when they run."""
    if isinstance(value, gast.Name):
        return [(value.id, True)] if value.id in locals_ else []
    if isinstance(value, gast.Subscript):
        inner = view_sources(value.value, locals_, callees)
        idx = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        if any(_fancy(i) for i in idx):
            return []                     # fancy and mask indexing copy
        plain = all(not isinstance(i, gast.Slice) and not (isinstance(i, gast.Constant) and i.value in (None, Ellipsis))
                    for i in idx)
        return [(n, d and not plain) for n, d in inner]
    if isinstance(value, gast.Attribute) and value.attr in VIEW_ATTRS:
        return view_sources(value.value, locals_, callees)
    if isinstance(value, (gast.Tuple, gast.List)):   # a container holds its elements by reference
        return [(n, False) for e in value.elts for n, _ in view_sources(e, locals_, callees)]
    if isinstance(value, gast.Dict):
        return [(n, False) for e in value.values for n, _ in view_sources(e, locals_, callees)]
    if isinstance(value, gast.IfExp):
        return [(n, False) for n, _ in view_sources(value.body, locals_, callees)
                + view_sources(value.orelse, locals_, callees)]
    if isinstance(value, gast.Call):
        f = value.func
        name = f.attr if isinstance(f, gast.Attribute) else f.id if isinstance(f, gast.Name) else None
        kind = callees.classify(value).kind if callees is not None else None
        if kind in ("user", "custom"):    # a helper may return (a view of) any of its arguments
            out = []
            for a in list(value.args) + [k.value for k in value.keywords]:
                out += [(n, False) for n, _ in view_sources(a, locals_, callees)]
            return out
        if name in VIEW_FUNCS:
            if isinstance(f, gast.Attribute) and not (isinstance(f.value, gast.Name) and f.value.id not in locals_):
                return view_sources(f.value, locals_, callees)       # A.reshape(...), A[1:].ravel()
            if value.args:                                           # np.reshape(A, ...)
                return view_sources(value.args[0], locals_, callees)
    return []


def _fancy(index):
    """An index part that makes NumPy copy: an array, a list, a mask (a Name may be either: not fancy)."""
    return isinstance(index, (gast.List, gast.Compare, gast.BoolOp, gast.Call)) or (
        isinstance(index, gast.Subscript))


def _view_source(value, locals_, callees=None):
    """The first of view_sources (kept for the single-source callers)."""
    srcs = view_sources(value, locals_, callees)
    if not srcs:
        return None
    return srcs[0][0], all(d for _, d in srcs) if len(srcs) == 1 else False


@dataclass(frozen=True)
class _Alias:
    view: str
    array: str
    definite: bool
    stmt: object = field(compare=False, hash=False)
    stmt_id: int = 0


def check_aliases(fn, src, error_cls, locals_, scalars=(), callees=None):
    """Forward dataflow over alias pairs.  Raise for a definite view read after a write to its memory;
    return the (statement, view, array) triples whose view-ness must be checked at run time."""
    checker = _Checker(src, error_cls, set(locals_))
    checker.callees = callees
    checker.scalars = set(scalars)
    checker.flow(fn.body, frozenset(), {})
    return [(s, sorted(set(pairs))) for s, pairs in checker.runtime.values()]


class _Checker:
    def __init__(self, src, error_cls, locals_):
        self.src, self.error_cls, self.locals, self.runtime = src, error_cls, locals_, {}

    def read(self, node, stmt, hazards):
        for x in gast.walk(node):
            if isinstance(x, gast.Name) and isinstance(x.ctx, gast.Load) and x.id in hazards:
                a, write, soft = hazards[x.id]
                if a.definite and not soft:
                    raise self.src.error(
                        self.error_cls, a.stmt, f"`{a.view}` shares memory with `{a.array}`; the write at line "
                        f"{self.src.where(write)[1]} changes both, and `{x.id}` is used afterwards: retrograd cannot "
                        "differentiate through a write seen by a view", construct="view",
                        hint=f"make an independent copy, e.g. `{a.view} = ....copy()`")
                self.runtime.setdefault(id(a.stmt), (a.stmt, []))[1].append((a.view, a.array))

    def wrote(self, base, s, pairs, hazards, soft=False):
        hazards = dict(hazards)
        for p in pairs:
            if p.array == base:
                hazards[p.view] = (p, s, soft)
            elif p.view == base:
                hazards[p.array] = (p, s, soft)
        return hazards

    def flow(self, stmts, pairs, hazards):
        for s in stmts:
            pairs, hazards = self.stmt(s, pairs, hazards)
        return pairs, hazards

    def stmt(self, s, pairs, hazards):
        if isinstance(s, gast.Assign):
            target = s.targets[0]
            self.read(s.value, s, hazards)
            if isinstance(target, gast.Name) and getattr(s, "_rg_inplace", False) and target.id not in self.scalars:
                # `y += e` writes in place only when y holds an array: checked when it runs
                self.read(s.value, s, hazards)
                return pairs, self.wrote(target.id, s, pairs, hazards, soft=True)
            if isinstance(target, gast.Name):
                t = target.id
                hazards = {k: v for k, v in hazards.items() if k != t}
                pairs = frozenset(p for p in pairs if t not in (p.view, p.array))
                for arr, definite in view_sources(s.value, self.locals, self.callees):
                    if arr == t:
                        continue
                    new = {_Alias(t, arr, definite, s, id(s))}
                    new |= {_Alias(t, p.array if p.view == arr else p.view, definite and p.definite, s, id(s))
                            for p in pairs if arr in (p.view, p.array) and t not in (p.view, p.array)}
                    pairs = pairs | frozenset(new)
            else:
                self.read(target.slice, s, hazards)
                hazards = self.wrote(subscript_base(target), s, pairs, hazards)
            return pairs, hazards
        if isinstance(s, gast.If):
            self.read(s.test, s, hazards)
            p1, h1 = self.flow(s.body, pairs, hazards)
            p2, h2 = self.flow(s.orelse, pairs, hazards)
            return p1 | p2, {**h1, **h2}
        if isinstance(s, (gast.For, gast.While)):
            self.read(s.iter if isinstance(s, gast.For) else s.test, s, hazards)
            for _ in range(4):   # alias pairs and hazards only grow: a few passes reach the fixpoint
                p, h = self.flow(s.body, pairs, hazards)
                if p <= pairs and h.keys() <= hazards.keys():
                    break
                pairs, hazards = pairs | p, {**hazards, **h}
            return pairs, hazards
        if isinstance(s, gast.Return) and s.value is not None:
            self.read(s.value, s, hazards)
        elif isinstance(s, gast.Expr):
            self.read(s.value, s, hazards)
        return pairs, hazards


@dataclass
class MemoryModel:
    """Which storage each write may change (a forward may-alias dataflow over the whole function).

    at_write:   id(A[i] = v) -> names that may share A's memory there
    at_rebind:  id(x = e)    -> names that share the old x's memory when x is rebound (they keep it alive)
    written:    names that are written into, or may share memory with a name written into, somewhere
    params_written: parameters whose *entry* value (the caller's array) some write may reach
    """
    at_write: dict = field(default_factory=dict)
    at_rebind: dict = field(default_factory=dict)
    written: set = field(default_factory=set)
    params_written: set = field(default_factory=set)

    def old_value_written(self, stmt, name):
        """The value `name` holds before `stmt` rebinds it may be changed by a later write (through a view
        that outlives the rebinding): the tape must keep a copy, not a reference."""
        return bool(self.at_rebind.get(id(stmt), set()) & self.written)


_ENTRY = "@entry:"   # the token for a parameter's value on entry (the caller's array)


def memory_model(fn, locals_, params, callees=None):
    """Alias pairs made by `B = A`, slices, `.T`, reshape, np.asarray, helpers (view_sources), killed when a
    name is rebound (`un = np.zeros(n)`); each parameter starts aliased to its entry token."""
    m = MemoryModel()

    def flow(stmts, pairs):
        for s in stmts:
            if isinstance(s, gast.If):
                pairs = flow(s.body, pairs) | flow(s.orelse, pairs)
            elif isinstance(s, (gast.For, gast.While)):
                if isinstance(s, gast.For):   # (raw helper source) `for r in p:` binds views of p's rows
                    pairs = _bind(pairs, gast.walk(s.target), view_sources(s.iter, locals_, callees))
                head = pairs
                while True:
                    new = head | flow(s.body, head)
                    if new == head:
                        break
                    head = new
                pairs = head
            elif isinstance(s, (gast.Assign, gast.AugAssign)) and _written_base(s):
                base = _written_base(s)
                m.at_write[id(s)] = m.at_write.get(id(s), set()) | (
                    {n for p in pairs if base in p for n in p} - {base})
            elif isinstance(s, gast.Assign):
                t = s.targets[0]
                if isinstance(t, gast.Name):
                    a = t.id
                    m.at_rebind[id(s)] = m.at_rebind.get(id(s), set()) | (
                        {n for p in pairs if a in p for n in p} - {a})
                    pairs = frozenset(p for p in pairs if a not in p)
                    for b, _ in view_sources(s.value, locals_, callees):
                        if b != a:
                            pairs |= {frozenset((a, b))} | {frozenset((a, c)) for p in pairs if b in p for c in p
                                                            if c not in (a, b)}
                elif isinstance(t, (gast.Tuple, gast.List)):   # (raw helper source) `a, b = p, q`
                    pairs = _bind(pairs, gast.walk(t), view_sources(s.value, locals_, callees))
        return frozenset(pairs)
    flow(fn.body, frozenset(frozenset((p, _ENTRY + p)) for p in params))
    for s in _assigns(fn.body):
        if _written_base(s):
            names = m.at_write.get(id(s), set()) | {_written_base(s)}
            m.written |= {n for n in names if not n.startswith(_ENTRY)}
            m.params_written |= {n[len(_ENTRY):] for n in names if n.startswith(_ENTRY)}
    for k in m.at_write:
        m.at_write[k] = {n for n in m.at_write[k] if not n.startswith(_ENTRY)}
    return m


def _bind(pairs, nodes, sources):
    """Each stored name may view any of `sources` (unpacking: conservatively all of them)."""
    for n in nodes:
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            pairs = frozenset(p for p in pairs if n.id not in p)
            for b, _ in sources:
                if b != n.id:
                    pairs |= {frozenset((n.id, b))} | {frozenset((n.id, c)) for p in pairs if b in p for c in p
                                                       if c not in (n.id, b)}
    return frozenset(pairs)


def _written_base(s):
    """The array a statement writes into: `A[I] = v`, `A[I] += v`, and (in a helper's source, not yet
    normalised) `y += e`, which writes into y's array."""
    t = s.targets[0] if isinstance(s, gast.Assign) else s.target if isinstance(s, gast.AugAssign) else None
    if isinstance(t, gast.Subscript):
        return subscript_base(t)
    if isinstance(s, gast.AugAssign) and isinstance(t, gast.Name):
        return t.id
    return None


def _assigns(stmts):
    for s in stmts:
        if isinstance(s, (gast.Assign, gast.AugAssign)):
            yield s
        elif isinstance(s, gast.If):
            yield from _assigns(s.body)
            yield from _assigns(s.orelse)
        elif isinstance(s, (gast.For, gast.While)):
            yield from _assigns(s.body)
