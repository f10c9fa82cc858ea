"""Tape sizes known at a loop's entry, for the array tapes of a typed target.

A push inside `for i in range(n): for j in range(i + 1, n): ...` runs a number of times that the entry of
the outer loop already determines: the bounds read only the loop indices and names the loops never
assign.  The transform then reserves that many slots once, just before the outer loop (`reserve`), and
the pushes inside use `push_at`, with no capacity check per push.  The count is a product of `len(range)`
when no bound reads an enclosing index, else a short counting loop over the enclosing indices (under
fresh names, so that the user's variables are untouched).
"""
import copy

import gast

from .. import astutil as A


def home_loop(chain):
    """Index of the outermost loop of `chain` (the loops around a push, outermost first) at whose entry the
    number of runs of the innermost body is computable, or None."""
    for m in range(len(chain)):
        if _countable(chain[m:]):
            return m
    return None


def _countable(chain):
    if any(not isinstance(lp, gast.For) or getattr(lp, "_rg_trips", None) or not _is_range(lp.iter)
           or not isinstance(lp.target, gast.Name) for lp in chain):
        return False
    head = chain[0]
    if not all(_simple(a, allow_len=True) for a in head.iter.args):   # evaluated right before the loop
        return False
    own_targets = {id(lp.target) for lp in chain[1:]}
    rebound = {n.id for s in head.body for n in gast.walk(s)
               if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and id(n) not in own_targets}
    written = A.assigned_names(head.body)
    for j, lp in enumerate(chain[1:], start=1):
        indices = {outer.target.id for outer in chain[:j]} - rebound
        for a in lp.iter.args:
            # `len(xs)` of a list appended to in the loop would change: inner bounds take no calls
            if not _simple(a, allow_len=False) or not A.loaded_names(a) <= indices | (_free(a) - written):
                return False
    return True


def _free(expr):
    return A.loaded_names(expr)


def _is_range(it):
    return (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"
            and 1 <= len(it.args) <= 3 and not it.keywords)


def _simple(expr, allow_len):
    """Integer arithmetic on names, constants and `x.shape[k]` (and `len(x)` if `allow_len`)."""
    if isinstance(expr, gast.Name):
        return True
    if isinstance(expr, gast.Constant):
        return isinstance(expr.value, int) and not isinstance(expr.value, bool)
    if isinstance(expr, gast.BinOp):
        return isinstance(expr.op, (gast.Add, gast.Sub, gast.Mult, gast.FloorDiv)) and \
            _simple(expr.left, allow_len) and _simple(expr.right, allow_len)
    if isinstance(expr, gast.UnaryOp):
        return isinstance(expr.op, gast.USub) and _simple(expr.operand, allow_len)
    if isinstance(expr, gast.Subscript):    # x.shape[0]: a shape never changes in place
        v = expr.value
        return (isinstance(v, gast.Attribute) and v.attr == "shape" and isinstance(v.value, gast.Name)
                and isinstance(expr.slice, gast.Constant) and isinstance(expr.slice.value, int))
    if isinstance(expr, gast.Call):
        return (allow_len and isinstance(expr.func, gast.Name) and expr.func.id == "len" and len(expr.args) == 1
                and isinstance(expr.args[0], gast.Name) and not expr.keywords)
    return False


def count_code(chain, fresh):
    """(statements, expression): how many times the innermost body of `chain` runs, computed just before
    `chain[0]`.  `fresh(base)` makes a new variable name."""
    targets = [lp.target.id for lp in chain]
    dep = max((j for j, lp in enumerate(chain) if A.loaded_names(lp.iter) & set(targets[:j])), default=None)
    if dep is None:
        return [], _product([A.quote_expr("len(R)", R=lp.iter) for lp in chain])
    names = {t: fresh(t) for t in targets[:dep]}
    total = fresh(f"{targets[-1]}_trips")
    inner = _product([A.quote_expr("len(R)", R=_renamed(lp.iter, names)) for lp in chain[dep:]])
    body = A.quote(f"{total} = {total} + N", N=inner)
    for lp in reversed(chain[:dep]):
        loop = A.quote(f"for {names[lp.target.id]} in R:\n    pass", R=_renamed(lp.iter, names))[0]
        loop.body = body
        body = [loop]
    return A.quote(f"{total} = 0") + body, A.name(total)


def _product(factors):
    expr = factors[0]
    for f in factors[1:]:
        expr = gast.BinOp(left=expr, op=gast.Mult(), right=f)
    return expr


def _renamed(expr, names):
    expr = copy.deepcopy(expr)
    for n in gast.walk(expr):
        if isinstance(n, gast.Name) and n.id in names:
            n.id = names[n.id]
    return expr
