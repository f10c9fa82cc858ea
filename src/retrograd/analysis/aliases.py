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

VIEW_FUNCS = {"reshape", "ravel", "transpose", "squeeze", "expand_dims", "swapaxes", "moveaxis",
              "broadcast_to", "asarray", "atleast_1d", "atleast_2d", "diagonal", "view", "flip", "real"}


def _view_source(value, locals_):
    """(array name, definite?) if `value` may share memory with a named array."""
    if isinstance(value, gast.Name):
        return value.id, True
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
        idx = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        plain = all(not isinstance(i, gast.Slice) and not (isinstance(i, gast.Constant) and i.value in (None, Ellipsis))
                    for i in idx)
        return value.value.id, not plain
    if isinstance(value, gast.Attribute) and value.attr == "T" and isinstance(value.value, gast.Name):
        return value.value.id, True
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr in VIEW_FUNCS:
        f = value.func
        if isinstance(f.value, gast.Name) and f.value.id in locals_:          # A.reshape(...)
            return f.value.id, True
        if value.args and isinstance(value.args[0], gast.Name):               # np.reshape(A, ...)
            return value.args[0].id, True
    return None


@dataclass(frozen=True)
class _Alias:
    view: str
    array: str
    definite: bool
    stmt: object = field(compare=False, hash=False)
    stmt_id: int = 0


def check_aliases(fn, src, error_cls, locals_, scalars=()):
    """Forward dataflow over alias pairs.  Raise for a definite view read after a write to its memory;
    return the (statement, view, array) triples whose view-ness must be checked at run time."""
    checker = _Checker(src, error_cls, set(locals_))
    checker.scalars = set(scalars)
    checker.flow(fn.body, frozenset(), {})
    return list(checker.runtime.values())


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
                self.runtime[id(a.stmt)] = (a.stmt, a.view, a.array)

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
                src_ = _view_source(s.value, self.locals)
                if src_ and src_[0] in self.locals and src_[0] != t:
                    arr, definite = src_
                    new = {_Alias(t, arr, definite, s, id(s))}
                    new |= {_Alias(t, p.array if p.view == arr else p.view, definite and p.definite, s, id(s))
                            for p in pairs if arr in (p.view, p.array)}
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
