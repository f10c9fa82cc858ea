"""One spelling for library names: `numpy.sin`, `from numpy import sin`, `la.norm` (`import numpy.linalg as
la`) and `m.sin` (`import math as m`) all become `np.sin`, `np.linalg.norm`, `math.sin` before any other pass.

Why: the generated module always has `np` and `math` bound (see runtime.__all__), and the passes and
targets after this one (kinds, lowering of reductions on Numba, Triton) then meet one spelling per
function instead of one per import style.  What a name refers to is decided here, by the object it
resolves to in the function's namespace, not by how it is written.
"""
import math

import gast
import numpy as np

from .resolve import _dotted

# where a library object may live, in the order its canonical spelling is looked for
_HOMES = (("np", np), ("np.linalg", np.linalg), ("np.random", np.random), ("np.fft", np.fft), ("math", math))


def _canonical(obj, last):
    """`np.<name>`-style spelling of `obj`, if a library home holds it under the name the user wrote (so
    `np.abs` stays `np.abs`, not `np.absolute`) or, for `from math import sin as msin`, under its own."""
    for name in (last, getattr(obj, "__name__", None)):
        for home, mod in _HOMES:
            if isinstance(name, str) and vars(mod).get(name, _MISSING) is obj:   # no module __getattr__
                return home + "." + name
    return None


_MISSING = object()


def _expr(dotted):
    parts = dotted.split(".")
    node = gast.Name(id=parts[0], ctx=gast.Load(), annotation=None, type_comment=None)
    for p in parts[1:]:
        node = gast.Attribute(value=node, attr=p, ctx=gast.Load())
    return node


def canonicalise(fn_node, callees):
    """Rewrite, in place, every load of a NumPy/math object under another spelling.  `np` and `math` are
    added to the namespace when a rewrite needs them.  Nothing is rewritten to `np`/`math` when the
    function or its module uses that name for something else."""
    namespace, local_names = callees.src.namespace, callees.locals
    homes = {"np": np, "math": math}
    usable = {h for h, mod in homes.items() if h not in local_names and namespace.get(h, mod) is mod}

    class Rewrite(gast.NodeTransformer):
        def _visit_ref(self, node):
            dotted = _dotted(node) if isinstance(node.ctx, gast.Load) else None
            obj = callees.resolve(dotted, _MISSING) if dotted else _MISSING
            spelled = _canonical(obj, dotted[-1]) if obj is not _MISSING else None
            if spelled is None or spelled == ".".join(dotted) or spelled.split(".")[0] not in usable:
                return self.generic_visit(node)
            namespace.setdefault(spelled.split(".")[0], homes[spelled.split(".")[0]])
            return gast.copy_location(_expr(spelled), node)

        visit_Name = _visit_ref
        visit_Attribute = _visit_ref

    Rewrite().visit(fn_node)
    return fn_node
