"""Tapes that keep only a shape: an array the adjoint reads only to learn its shape is not kept alive.

`x = x + dt * v` has the adjoint `dx = unbroadcast(dx_out, x)`: the old `x` is popped from its tape only
so that `unbroadcast` can read its shape.  Keeping every step's array alive costs memory (a new array per
step, never reused: page faults in the forward pass) where its shape would do.  On a typed target the
pushes of such a variable save `shape_token(v)` (its shape) and the pops rebuild `from_token(token, v)`,
an uninitialised array of that shape and of `v`'s type, whose values nothing reads.

A variable qualifies when every read of it in the adjoint is *shape-only*: the template argument of
`unbroadcast` / `unreduce` / `reset_zeros` / `zeros_like`, `v.shape` / `v.ndim` / `v.size`, `len(v)`,
`np.shape(v)`, or a part of it (`v[1:]`) in one of those places, wherever the read may see a popped value
(reads before the first assignment of `v` in the adjoint see the handed-over final value).  Anything else (an
arithmetic read, a helper's adjoint, a re-run step, a write into it) keeps the ordinary tape.  `from_token`
reads the variable's current value for its type, so the variable must be bound at the adjoint's entry
(one of the values handed over).
"""
import gast

from .. import astutil as A

# calls whose argument at this position is read for its shape (and dtype) only
_TEMPLATE_ARG = {"unbroadcast": 1, "unreduce": 1, "reset_zeros": 1, "zeros_like": 0}
_SHAPE_ATTRS = {"shape", "ndim", "size"}


def shape_only_tapes(primal_def, adjoint_def, tapes, is_array):
    """Rewrite, in place, the pushes and pops of the value tapes ({(var, role): tape}) whose variable the
    adjoint reads for its shape only.  `is_array(var)`: the variable certainly holds an array."""
    handed = _handed_over(adjoint_def)
    parents = _parents(adjoint_def)
    chosen = {}
    for (var, role), tape in tapes.items():
        if role != "value" or var not in handed or not is_array(var):
            continue
        if _shape_only(var, adjoint_def, parents) and _only_stack_uses(tape, primal_def, adjoint_def):
            chosen[tape] = var
    for fn in (primal_def, adjoint_def):
        _Rewrite(chosen).visit(fn)
    return set(chosen.values())


def _handed_over(adjoint_def):
    first = adjoint_def.body[0] if adjoint_def.body else None
    if (isinstance(first, gast.Assign) and isinstance(first.value, gast.Name) and first.value.id == "saved"
            and isinstance(first.targets[0], gast.Tuple)):
        return {e.id for e in first.targets[0].elts if isinstance(e, gast.Name)}
    return set()


def _parents(tree):
    out = {}
    for node in gast.walk(tree):
        for child in gast.iter_child_nodes(node):
            out[id(child)] = node
    return out


def _shape_only(var, adjoint_def, parents):
    """Every read of `var` that may see a popped value is shape-only.  The top-level statements before the
    first one that assigns `var` see the handed-over final value (`dx = add_into(dx, g * x)` before the
    loop), which stays a whole array."""
    body = adjoint_def.body
    start = 1 if _handed_over(adjoint_def) else 0      # after the unpacking of what is handed over
    first = next((k for k, st in enumerate(body[start:], start) if var in _stored(st)), len(body))
    for st in body[first:]:
        for n in gast.walk(st):
            if isinstance(n, gast.Name) and n.id == var and isinstance(n.ctx, gast.Load) \
                    and not _in_shape_place(n, parents):
                return False
    return True


def _stored(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _in_shape_place(node, parents):
    p = parents.get(id(node))
    # a basic-indexed part (`v[1:]`, `v[0]`) has a shape that depends on v's shape and the index only
    while isinstance(p, gast.Subscript) and p.value is node and isinstance(p.ctx, gast.Load) \
            and not A.loaded_names(p.slice) & {getattr(node, "id", None)}:
        node, p = p, parents.get(id(p))
    if isinstance(p, gast.Attribute) and p.value is node and p.attr in _SHAPE_ATTRS:
        return True
    if isinstance(p, gast.Call) and node in p.args and not p.keywords:
        f = p.func
        if isinstance(f, gast.Name) and f.id in _TEMPLATE_ARG:
            return len(p.args) > _TEMPLATE_ARG[f.id] and p.args[_TEMPLATE_ARG[f.id]] is node
        if isinstance(f, gast.Name) and f.id == "len" or A.unparse(f) == "np.shape":
            return True
    return False


def _only_stack_uses(tape, primal_def, adjoint_def):
    """The tape is only created, appended to and popped from (and handed over): nothing else reads it."""
    for fn in (primal_def, adjoint_def):
        parents = _parents(fn)
        for n in gast.walk(fn):
            if not (isinstance(n, gast.Name) and n.id == tape and isinstance(n.ctx, gast.Load)):
                continue
            p = parents.get(id(n))
            if isinstance(p, gast.Attribute) and p.attr in ("append", "pop"):
                continue
            if isinstance(p, (gast.Tuple, gast.Return)):      # the primal's saved tuple
                continue
            return False
    return True


class _Rewrite(gast.NodeTransformer):
    def __init__(self, chosen):
        self.chosen = chosen

    def visit_Assign(self, node):
        self.generic_visit(node)
        t, v = node.targets[0], node.value
        if not isinstance(t, gast.Name) or not isinstance(v, gast.Call):
            return node
        f = v.func
        if (isinstance(f, gast.Name) and f.id == "list_of" and t.id in self.chosen and len(v.args) == 1):
            v.args = [gast.Call(func=A.name("shape_token"), args=v.args, keywords=[])]
        elif (isinstance(f, gast.Attribute) and f.attr == "pop" and isinstance(f.value, gast.Name)
              and self.chosen.get(f.value.id) == t.id and not v.args):
            node.value = gast.Call(func=A.name("from_token"), args=[v, A.name(t.id)], keywords=[])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if (isinstance(f, gast.Attribute) and f.attr == "append" and isinstance(f.value, gast.Name)
                and f.value.id in self.chosen and len(node.args) == 1):
            arg = node.args[0]
            if (isinstance(arg, gast.Call) and isinstance(arg.func, gast.Name) and arg.func.id == "snapshot"
                    and len(arg.args) == 1):
                arg = arg.args[0]          # a copy taken for its shape only: the shape of the original is it
            node.args = [gast.Call(func=A.name("shape_token"), args=[arg], keywords=[])]
        return node
