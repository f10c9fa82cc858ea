"""Which line of the user's code each line of the generated module belongs to.

Computed once, from the trees the module was unparsed from, not parsed back out of comments: a primal
statement carries the position of the user statement it came from (frontend nodes keep theirs; quoted
code gets one from `copy_loc`), and an adjoint statement belongs to the `# grad of` block it is in (the
transform records each header's user location beside its text).  A target maps a failure at generated
line N (a Numba typing error, a non-finite value) to `locations[N]`.

The maps of loaded modules are registered by the generated file's name (`register`): an exception raised
while generated code runs then names the user's line (`annotate`, PEP 678 notes; its type is kept, so an
`except IndexError` of the user's still catches it).  A map may point into another generated module (hvp's
tangent code is generated from the generated gradient): `locate` follows it to the user's file.
"""
import ast
import functools
from dataclasses import dataclass, replace

import gast

_PLACEHOLDER = "__rg_comment_"


@dataclass(frozen=True)
class Location:
    filename: str
    lineno: int
    text: str            # the user's source line, stripped
    col: int = 0
    kind: str = "primal"   # what the generated line computes: "primal", "gradient" (an adjoint) or "tangent"
    via: object = None     # an inlined helper's line: the Location of the call it was inlined at

    def as_json(self):
        return [self.filename, self.lineno, self.text, self.col, self.kind,
                self.via.as_json() if self.via is not None else None]

    @classmethod
    def from_json(cls, row):
        """The Location of `as_json`'s row (or of an older cache's [file, line, text]), or None if malformed."""
        if not (isinstance(row, list) and len(row) in (3, 6) and isinstance(row[0], str)
                and isinstance(row[1], int) and isinstance(row[2], str)):
            return None
        if len(row) == 3:
            return cls(*row)
        col, kind, via = row[3:]
        if not (isinstance(col, int) and isinstance(kind, str)):
            return None
        inner = cls.from_json(via) if via is not None else None
        if via is not None and inner is None:
            return None
        return cls(row[0], row[1], row[2], col, kind, inner)


def _placeholder_key(stmt):
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant) and \
            isinstance(stmt.value.value, str) and stmt.value.value.startswith(_PLACEHOLDER):
        return int(stmt.value.value[len(_PLACEHOLDER):-2])
    return None


_BLOCKS = ("body", "orelse", "finalbody")


def line_locations(text, functions, sources, comment_locations, roles=None):
    """{generated line: Location} for `text` (the module before comments are rendered), whose top-level
    functions were unparsed from the gast `functions`; `sources[name]` is the FunctionSource of a function,
    `comment_locations[k]` the user location of comment placeholder k (absent for notes) and `roles[name]`
    what a function computes (Location.kind; default "primal")."""
    out = {}
    tops = {n.name: n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)}
    roles = roles or {}

    def walk(gstmts, astmts, src, current, kind):
        if len(gstmts) != len(astmts):      # never expected: a lowering changed the tree after unparse
            return current
        for g, a in zip(gstmts, astmts):
            key = _placeholder_key(g)
            if key is not None:
                found = comment_locations.get(key)
                current = replace(found, kind=kind) if found is not None else current
                continue
            own = getattr(g, "lineno", None)
            loc = current
            if own is not None and src is not None:
                fname, line, col = src.where(g)
                loc = Location(fname, line, src.line_text(g), col, kind)
                origin = getattr(g, "_rg_origin", None)
                if origin is not None:          # inlined from a helper: its own line, and the call's
                    ofile, oline, ocol, otext = origin
                    loc = Location(ofile, oline, otext, ocol, kind, via=loc)
            if loc is not None:
                for n in range(a.lineno, (a.end_lineno or a.lineno) + 1):
                    out[n] = loc
            for field in _BLOCKS:       # nested blocks refine their lines; the header keeps its own
                walk(getattr(g, field, None) or [], getattr(a, field, None) or [], src, loc, kind)
        return current

    for f in functions:
        a = tops.get(f.name)
        if a is not None:
            walk(f.body, a.body, sources.get(f.name), None, roles.get(f.name, "primal"))
    return out


# ---- run time: an exception raised in generated code names the user's line ------------------------------

_MAPS = {}          # generated file name -> (source, {generated line: Location})


def register(base, source, locations):
    """The file name to compile `source` under (`base`, or `base` with a number where another module of
    that name is registered), its line map registered for `locate`."""
    name, k = base, 2
    while name in _MAPS and _MAPS[name][0] != source:
        name, k = f"{base[:-1]} #{k}>" if base.endswith(">") else f"{base} #{k}", k + 1
    _MAPS[name] = (source, dict(locations or {}))
    return name


def locate(filename, lineno):
    """The Location of line `lineno` of generated file `filename` in the user's code, or None.  Through a
    chain of generated modules the kinds compose: the tangent of a gradient line is kind
    "tangent of gradient"."""
    entry = _MAPS.get(filename)
    loc = entry[1].get(lineno) if entry else None
    kinds, seen = [], set()
    while loc is not None and loc.filename in _MAPS and loc.filename not in seen:
        seen.add(loc.filename)
        inner = _MAPS[loc.filename][1].get(loc.lineno)
        if inner is None:
            break
        kinds.append(loc.kind)
        loc = inner
    if loc is not None and kinds:
        loc = replace(loc, kind=" of ".join(kinds + [loc.kind]))
    return loc


def failing_location(exc):
    """The user's Location of the innermost generated line in `exc`'s traceback, or None."""
    found, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in _MAPS:
            loc = locate(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
            found = loc or found
        tb = tb.tb_next
    return found


_DOING = {"primal": "running", "gradient": "computing the gradient of", "tangent": "computing the tangent of"}


def describe(loc):
    """`loc` as the sentence a note says: what the generated code was computing, at which user line."""
    kinds = loc.kind.split(" of ")
    doing = _DOING.get(kinds[0], "running")
    for k in kinds[1:]:           # a chain: the tangent of a gradient line (hvp); a primal line adds nothing
        if k in ("gradient", "tangent"):
            doing += f" the {k} of"
    text = f"retrograd: raised while {doing} `{loc.text}` at {loc.filename}:{loc.lineno}"
    if loc.via is not None:
        text += f" (inlined at `{loc.via.text}`, {loc.via.filename}:{loc.via.lineno})"
    return text


def annotate(exc, loc=None):
    """Mark `exc` (raised while generated code ran) with the user's line it came from, keeping its type:
    `exc.retrograd_location` is the Location, a note names it, and a RetrogradError that named no line gets
    `.filename`, `.lineno` and `.col`.  An exception already marked is left as it is."""
    if getattr(exc, "retrograd_location", None) is not None:
        return exc
    loc = loc or failing_location(exc)
    if loc is None:
        return exc
    try:
        exc.retrograd_location = loc
    except (AttributeError, TypeError):      # an exception type without a __dict__
        return exc
    from ..errors import RetrogradError
    if isinstance(exc, RetrogradError) and exc.filename is None:
        exc.filename, exc.lineno, exc.col = loc.filename, loc.lineno, loc.col
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (f"{loc.filename}:{loc.lineno}:{loc.col}: {exc.args[0]}",) + exc.args[1:]
    add_note(exc, describe(loc))
    return exc


def relocate(exc):
    """A RetrogradError raised for a line of *generated* code (hvp transforms the generated gradient, so
    its refusals name `<retrograd f.py:f>:12`) named at the user's line that code came from instead, the
    generated line kept in a note.  Any other error is returned as it is."""
    if exc.filename not in _MAPS or exc.lineno is None:
        return exc
    loc = locate(exc.filename, exc.lineno)
    if loc is None:
        return exc
    prefix = f"{exc.filename}:{exc.lineno}:{exc.col if exc.col is not None else 0}: "
    if exc.args and isinstance(exc.args[0], str) and exc.args[0].startswith(prefix):
        exc.args = (f"{loc.filename}:{loc.lineno}:{loc.col}: " + exc.args[0][len(prefix):],) + exc.args[1:]
    generated = f"{exc.filename}:{exc.lineno}"
    exc.filename, exc.lineno, exc.col = loc.filename, loc.lineno, loc.col
    doing = "the gradient of" if "gradient" in loc.kind else "the code of"
    add_note(exc, f"retrograd: at {generated}, in {doing} `{loc.text}`")
    return exc


def add_note(exc, text):
    """PEP 678's `exc.add_note(text)`; before Python 3.11 the note is kept in `__notes__` all the same
    (tracebacks do not show it there)."""
    if hasattr(exc, "add_note"):
        exc.add_note(text)
    else:
        try:
            exc.__notes__ = list(getattr(exc, "__notes__", [])) + [text]
        except (AttributeError, TypeError):
            pass


def located(fn):
    """`fn` (a generated function), whose exceptions name the user's line they came from."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            annotate(exc)
            raise
    call.__wrapped_generated__ = fn
    return call
