"""remat="recompute" outside loops: which values the adjoint recomputes instead of receiving them.

The adjoint receives the final values it reads (restore-on-reverse keeps them alive until it runs).  Some
of them are cheap functions of values the adjoint receives anyway: `t = np.tanh(c * (x + 0.044715 * x**3))`
is recomputed from `x` (a parameter, which the caller holds) in a few elementwise passes instead of
being kept for the whole forward pass.

The cost model is that of a min-cut over the value graph (PyTorch's AOTAutograd partitioner), in the
form that applies to a graph whose cheap part is elementwise: storing costs a value's bytes, recomputing
costs nothing worth counting for elementwise, shape and scalar operations and too much for anything else
(matrix products, reductions, helper calls).  So a value is recomputed when its *cheap closure* (its
definition, and recursively those of its operands that are cheap) bottoms out in values that are held
anyway: parameters the function never reassigns, or values the adjoint receives for another reason.
Recomputing then never stores anything new, and the value's bytes are saved.  Only arrays are
considered (a float costs 8 bytes either way), and only names assigned once, at the top level of the
function, and never written into, so that the recomputation sees exactly the values the definition saw.
"""
import gast

from .. import astutil as A
from ..analysis.activity import walk_stmts


def plan_recompute(fn, saved, params, kinds, is_cheap):
    """(names among `saved` to recompute, the parameters the recomputation reads, the defining statements
    in program order)."""
    body = fn.body
    counts = {}
    for s in walk_stmts(body):
        for n in _stored(s):
            counts[n] = counts.get(n, 0) + 1
    partial = {A.subscript_base(s.targets[0]) for s in walk_stmts(body)
               if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript)}
    top = {s.targets[0].id: s for s in body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
           and counts.get(s.targets[0].id) == 1 and s.targets[0].id not in partial
           and s.targets[0].id not in params}
    assigned = set(counts)
    held = {p for p in params if p not in assigned and p not in partial}

    def closure(name, seen):
        """The statements that recompute `name`, or None if a leaf is not held anyway."""
        s = top.get(name)
        if s is None or not is_cheap(s):
            return None
        seen.add(name)
        stmts = [s]
        for o in A.loaded_names(s.value):
            if o in seen or (o not in assigned and o not in params):
                continue           # a global (np, a constant) or already in the closure
            if o in held:
                continue
            sub = closure(o, seen) if o in top and is_cheap(top[o]) else None
            if sub is not None:
                stmts += sub
            elif not (o in saved and o in top):   # a value the adjoint receives anyway, never reassigned
                return None
        return stmts

    chosen, stmts = set(), {}
    for name in sorted(saved):
        if not (kinds.get(name) or "").startswith("array"):
            continue
        c = closure(name, set())
        if c is not None:
            chosen.add(name)
            stmts.update({id(s): s for s in c})
    # (a chosen value is never a leaf of another closure: closures recurse into every cheap definition)
    order = [s for s in body if id(s) in stmts]
    reads = {o for s in order for o in A.loaded_names(s.value)} & held
    return chosen, reads, order


def _stored(s):
    if isinstance(s, gast.For):
        return {s.target.id} if isinstance(s.target, gast.Name) else set()
    if isinstance(s, gast.Assign):
        t = s.targets[0]
        if isinstance(t, gast.Name):
            return {t.id}
        if isinstance(t, gast.Tuple):
            return {e.id for e in t.elts if isinstance(e, gast.Name)}
    return set()
