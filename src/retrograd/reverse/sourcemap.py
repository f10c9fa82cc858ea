"""Which line of the user's code each line of the generated module belongs to.

Computed once, from the trees the module was unparsed from, not parsed back out of comments: a primal
statement carries the position of the user statement it came from (frontend nodes keep theirs; quoted
code gets one from `copy_loc`), and an adjoint statement belongs to the `# grad of` block it is in (the
transform records each header's user location beside its text).  A target maps a failure at generated
line N (a Numba typing error, a non-finite value) to `locations[N]`.
"""
import ast
from dataclasses import dataclass

import gast

_PLACEHOLDER = "__rg_comment_"


@dataclass(frozen=True)
class Location:
    filename: str
    lineno: int
    text: str            # the user's source line, stripped

    def as_json(self):
        return [self.filename, self.lineno, self.text]


def _placeholder_key(stmt):
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant) and \
            isinstance(stmt.value.value, str) and stmt.value.value.startswith(_PLACEHOLDER):
        return int(stmt.value.value[len(_PLACEHOLDER):-2])
    return None


_BLOCKS = ("body", "orelse", "finalbody")


def line_locations(text, functions, sources, comment_locations):
    """{generated line: Location} for `text` (the module before comments are rendered), whose top-level
    functions were unparsed from the gast `functions`; `sources[name]` is the FunctionSource of a function
    and `comment_locations[k]` the user location of comment placeholder k (absent for notes)."""
    out = {}
    tops = {n.name: n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)}

    def walk(gstmts, astmts, src, current):
        if len(gstmts) != len(astmts):      # never expected: a lowering changed the tree after unparse
            return current
        for g, a in zip(gstmts, astmts):
            key = _placeholder_key(g)
            if key is not None:
                current = comment_locations.get(key, current)
                continue
            own = getattr(g, "lineno", None)
            loc = current
            if own is not None and src is not None:
                fname, line, _ = src.where(g)
                loc = Location(fname, line, src.line_text(g))
            if loc is not None:
                for n in range(a.lineno, (a.end_lineno or a.lineno) + 1):
                    out[n] = loc
            for field in _BLOCKS:       # nested blocks refine their lines; the header keeps its own
                walk(getattr(g, field, None) or [], getattr(a, field, None) or [], src, loc)
        return current

    for f in functions:
        a = tops.get(f.name)
        if a is not None:
            walk(f.body, a.body, sources.get(f.name), None)
    return out
