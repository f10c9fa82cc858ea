"""`has_aux=True`: the function returns `value, aux`, and only `value` is differentiated.

Each `return value, aux` becomes `aux = <aux expr>` followed by `return value` (the value is computed
first, into a variable `value`, unless it is a name), so the transform sees a
function of `value` alone: `aux` is not active, gets no adjoint code, and its local derivatives (a
`np.log(x)` reported at x = 0) cannot leak a 0 * inf into the gradient as a zero cotangent would.  The
primal returns `(value, aux)`.  A return that is not written as a pair is refused at its line, since
its length is only known when it runs.
"""
import builtins

import gast

from ..astutil import all_names, copy_loc, name, unparse
from ..errors import UsageError


def split_aux_returns(src):
    """Rewrite `src.node`'s returns in place; the name of the aux variable."""
    fn = src.node
    taken = all_names(fn) | set(src.namespace) | set(dir(builtins))
    names = []
    for base in ("value", "aux"):
        cand, k = base, 2
        while cand in taken:
            cand, k = f"{base}_{k}", k + 1
        names.append(cand)
    _rewrite(src, fn.body, names)
    return names[1]


def _rewrite(src, stmts, names):
    k = 0
    while k < len(stmts):
        s = stmts[k]
        if isinstance(s, gast.Return):
            v = s.value
            if not (isinstance(v, gast.Tuple) and len(v.elts) == 2) or any(isinstance(e, gast.Starred) for e in v.elts):
                what = "nothing" if v is None else f"`{unparse(v)}`"
                raise src.error(UsageError, s, f"has_aux=True: `{src.name}` must return a pair `value, aux`, but "
                                f"this return gives {what}", construct="has_aux",
                                hint="write each return as `return value, aux`")
            value, new = v.elts[0], []
            if not isinstance(value, gast.Name):     # Python evaluates the value first (a draw, a call)
                new.append(copy_loc(gast.Assign(targets=[name(names[0], True)], value=value, type_comment=None), s))
                value = name(names[0])
            new.append(copy_loc(gast.Assign(targets=[name(names[1], True)], value=v.elts[1], type_comment=None), s))
            s.value = value
            stmts[k:k] = new
            k += len(new) + 1
            continue
        for body in ("body", "orelse"):     # if / for / while
            if isinstance(getattr(s, body, None), list):
                _rewrite(src, getattr(s, body), names)
        k += 1
