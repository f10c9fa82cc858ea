"""hvp reads only the tangent of the gradient: the gradient itself, which the tangent of the generated
adjoint also computes, is dead code there (on the MLP: `dW1 = matmul_grad_b(...)`, two of its fourteen
matrix products).  This pass drops it from the tangent adjoint an hvp runs.

Conservative by construction: only an assignment to a plain name that no statement of the function reads,
whose value is arithmetic, indexing and calls of functions known to have no effect (NumPy's functions
without `out=`, the pure runtime helpers), is removed, repeatedly until nothing more is; loops, branches,
in-place helpers (`add_at`), tape pops and guards stay.
"""
import gast
import numpy as np

from .. import astutil as A

def _pure_helpers():
    """The runtime helpers that only compute a value from their arguments (no writes, no tape)."""
    from .. import runtime as rt
    from ..reverse.rules import operators, reductions, shape
    from . import runtime as frt
    fns = [rt.matmul_grad_a, rt.matmul_grad_b, rt.unbroadcast, rt.unreduce, rt.zeros_like, rt.reduce_shape,
           rt.select_grad, frt.broadcast_like, operators.pow_base_grad, operators.pow_exp_grad,
           reductions.div_or_zero, shape.untranspose, shape.unreshape]
    return {f.__name__: f for f in fns}


_NUMPY_WRITERS = {"copyto", "put", "place", "putmask", "fill_diagonal", "random"}


def _pure_call(call, ns):
    """`ns`: what the names of the generated code are bound to (its globals)."""
    if any(k.arg == "out" for k in call.keywords):
        return False
    f = call.func
    if isinstance(f, gast.Name):
        helper = _pure_helpers().get(f.id)
        return helper is not None and ns.get(f.id) is helper
    if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and ns.get(f.value.id) is np:
        return f.attr not in _NUMPY_WRITERS and callable(getattr(np, f.attr, None))
    return False


def _pure(expr, ns):
    for n in gast.walk(expr):
        if isinstance(n, gast.Call) and not _pure_call(n, ns):
            return False
        if isinstance(n, (gast.Lambda, gast.NamedExpr, gast.Yield, gast.YieldFrom, gast.Await)):
            return False
    return True


def _read_names(fn):
    return {n.id for n in gast.walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _is_comment(s):
    return (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and isinstance(s.value.value, str)
            and s.value.value.startswith("__rg_comment_"))


def _prune_block(stmts, read, ns):
    out, removed = [], False
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body, r1 = _prune_block(s.body, read, ns)
            s.orelse, r2 = _prune_block(s.orelse, read, ns)
            s.body = s.body or [gast.Pass()]
            removed = removed or r1 or r2
        elif (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
              and s.targets[0].id not in read and _pure(s.value, ns)):
            removed = True
            continue
        out.append(s)
    # a "# tangent of: ..." comment whose statements all went goes too
    kept = [s for k, s in enumerate(out)
            if not (_is_comment(s) and (k + 1 == len(out) or _is_comment(out[k + 1])))]
    return kept, removed


def drop_primal_result(fn, ns):
    """Make tangent function `fn` (returning `(result, tangent)`) return `(None, tangent)`, and remove the
    statements that only computed the result.  `ns`: the namespace the code runs in (what `np` is)."""
    ret = fn.body[-1]
    if not (isinstance(ret, gast.Return) and isinstance(ret.value, gast.Tuple) and len(ret.value.elts) == 2):
        return False
    ret.value.elts[0] = A.const(None)
    changed = True
    while changed:
        fn.body, changed = _prune_block(fn.body, _read_names(fn), ns)
    return True
