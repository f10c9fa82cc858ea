"""`rg.debug_nans()`: find the first non-finite value of the forward *or the backward* pass, by user line.

    with rg.debug_nans():
        loss.grad(W, x)     # NonFiniteError: model.py:12:4: the backward pass computed nan in `dh` ...

Inside the block, code is generated (and cached) separately, with a `check_finite(value, site)` call after
every assignment of the primal and the adjoint (python backend).  A site of the forward pass is the user
statement itself; a site of the backward pass is the `# grad of: ... (file:line)` block it sits in, so
a NaN gradient is traced to the forward line whose derivative produced it (log(0) -> inf, then
0 * inf -> nan).  The arguments, and the cotangent handed to a pullback, are checked on entry.
"""
import contextlib
import functools
import os
import re
import threading

import gast
import numpy as np

from . import astutil as A
from .errors import NonFiniteError

_STATE = threading.local()


@contextlib.contextmanager
def debug_nans(inf=True):
    """Check every value the generated code computes; `inf=False` reports NaNs only."""
    previous = getattr(_STATE, "mode", None)
    _STATE.mode = "nan+inf" if inf else "nan"
    try:
        yield
    finally:
        _STATE.mode = previous


def mode():
    """None, or the checks the generated code must make ("nan+inf" / "nan")."""
    return getattr(_STATE, "mode", None)


def instrument(program, mode):
    """Insert the checks into every function of `program` (before its source is rendered)."""
    sites = []
    checker = "check_finite" if "check_finite" not in program.namespace else "rg_check_finite"
    roles = {}
    for key, (primal, adjoint, tf) in program.variants.items():
        roles[primal], roles[adjoint] = ("forward", tf, key in program.roots[:1]), ("backward", tf, key in program.roots[:1])
    for fn in program.functions:
        phase, tf, root = roles[fn.name]
        user = {id(s) for s in _walk(tf.node.body)}
        entry = []
        if root:   # the values handed in: arguments (forward), the cotangent (backward)
            params = [a.id for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs]
            for p in (params if phase == "forward" else params[:1]):
                what = (f"argument `{p}` of {tf.src.name}" if phase == "forward"
                        else f"the cotangent given to the pullback of {tf.src.name}")
                entry += _check(checker, sites, p, (phase, what, tf.src.filename, None, None, None))
        fn.body = entry + _body(fn.body, phase, tf, user, checker, sites, program, [None])
    program.namespace[checker] = functools.partial(_check_value, sites, mode == "nan")


def _walk(stmts):
    for s in stmts:
        yield s
        for field in ("body", "orelse"):
            yield from _walk(getattr(s, field, None) or [])


def _body(stmts, phase, tf, user, checker, sites, program, block):
    out = []
    for s in stmts:
        comment = _comment_index(s)
        if comment is not None:
            block[0] = program.comments[comment]
        for field in ("body", "orelse"):
            if isinstance(getattr(s, field, None), list):
                setattr(s, field, _body(getattr(s, field), phase, tf, user, checker, sites, program, block))
        out.append(s)
        if not isinstance(s, (gast.Assign, gast.AugAssign)):
            continue
        site = _site(s, phase, tf, user, block[0])
        if site is None:
            continue
        targets = s.targets if isinstance(s, gast.Assign) else [s.target]
        state = getattr(s, "_rg_call", None)      # a helper call's saved state: not a value of the user's
        for t in targets:
            for name in _target_names(t):
                if not (state and name == state[1]):
                    out += _check(checker, sites, name, site)
    return out


def _site(s, phase, tf, user, comment):
    """(phase, what, file, line, col, text) of a statement, or None for the generated bookkeeping."""
    if phase == "forward":
        if id(s) not in user and not getattr(s, "_rg_call", None):
            return None      # tapes, placeholders, copies of arguments
        filename, line, col = tf.src.where(s)
        return (phase, None, filename, line, col, tf.src.line_text(s))
    if comment is None:
        return None          # the adjoint's prologue: the saved state and zero cotangents
    m = re.match(r"grad of: (.*)  \((.+):(\d+)\)$", comment)
    if not m:
        return None
    return (phase, None, tf.src.filename, int(m.group(3)), None, m.group(1))


def _check(checker, sites, name, site):
    sites.append((name,) + tuple(site))
    return A.quote(f"{checker}({name}, {len(sites) - 1})")


def _target_names(t):
    if isinstance(t, gast.Name):
        return [t.id]
    if isinstance(t, (gast.Tuple, gast.List)):
        return [n for e in t.elts for n in _target_names(e)]
    base = A.subscript_base(t) if isinstance(t, gast.Subscript) else None
    return [base] if base else []


def _comment_index(s):
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and isinstance(s.value.value, str):
        m = re.match(r"__rg_comment_(\d+)__$", s.value.value)
        return int(m.group(1)) if m else None
    return None


def _non_finite(v, nan_only):
    """'nan', 'inf' or None for a float, a float/complex array or a NumPy scalar (other values: None)."""
    if isinstance(v, (float, complex, np.inexact)) or (isinstance(v, np.ndarray) and v.dtype.kind in "fc"):
        a = np.asarray(v)
        if np.isnan(a).any():
            return "nan"
        if not nan_only and np.isinf(a).any():
            return "inf"
    return None


def _check_value(sites, nan_only, value, k):
    bad = _non_finite(value, nan_only)
    if bad is None:
        return
    name, phase, what, filename, line, col, text = sites[k]
    where = f"`{name}`" if what is None else what
    short = os.path.basename(filename)
    if phase == "forward" and line is None:
        raise NonFiniteError(f"{what} holds {bad} on entry to the forward pass", filename=filename,
                             construct=name, hint="the input is not finite: check where it comes from")
    if phase == "backward" and line is None:
        raise NonFiniteError(f"{what} holds {bad}", construct=name, hint="pass a finite cotangent")
    if phase == "forward":
        raise NonFiniteError(f"the forward pass computed {bad} in {where}: {text}", filename=filename, lineno=line,
                             col=col, construct=text,
                             hint=f"this is the first non-finite value the function computes ({short}:{line})")
    raise NonFiniteError(f"the backward pass computed {bad} in {where}, the gradient of `{text}`",
                         filename=filename, lineno=line, col=0, construct=text,
                         hint=f"the forward values were finite; the derivative of this line ({short}:{line}) is "
                              "not (log, sqrt, division or a power at 0?)")

