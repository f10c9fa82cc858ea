"""Small helpers for building and reading gast trees.

Code is built by quoting: `quote("d[x] = y * 2", x=some_node)` parses the snippet and splices nodes in
for the placeholder names, the way Tangent's templates work.  Everything here is stateless.
"""
import ast
import copy

import gast

LOAD, STORE = gast.Load(), gast.Store()


def name(id_, store=False):
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(), annotation=None, type_comment=None)


def const(value):
    return gast.Constant(value=value, kind=None)


_POSITIONS = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def parse_stmts(src):
    """Statements of a snippet, without positions: quoted code has none of its own (its line 1 is not the
    user's line 1); `copy_loc` gives it the user statement it stands for."""
    stmts = gast.parse(src).body
    for s in stmts:
        for n in gast.walk(s):
            for attr in _POSITIONS:
                if getattr(n, attr, None) is not None:
                    setattr(n, attr, None)
    return stmts


def parse_expr(src):
    return gast.parse(src, mode="eval").body if hasattr(gast, "Expression") else gast.parse(src).body[0].value


class _Splice(gast.NodeTransformer):
    def __init__(self, subs):
        self.subs = subs

    def visit_Name(self, node):
        if node.id in self.subs:
            rep = self.subs[node.id]
            if isinstance(rep, str):
                return gast.Name(id=rep, ctx=node.ctx, annotation=None, type_comment=None)
            rep = copy.deepcopy(rep)
            if hasattr(rep, "ctx"):
                rep.ctx = node.ctx
            return rep
        return node


def quote(src, **subs):
    """Parse statements from `src`, replacing names given in `subs` (str -> renamed, node -> spliced)."""
    stmts = parse_stmts(src)
    splice = _Splice(subs)
    return [splice.visit(s) for s in stmts]


def quote_expr(src, **subs):
    (stmt,) = quote(src, **subs)
    return stmt.value


def splice_expr(node, subs):
    """Return a copy of expression `node` with Names in `subs` replaced."""
    return _Splice(subs).visit(copy.deepcopy(node))


def unparse(node):
    tree = gast.gast_to_ast(copy.deepcopy(node))
    if isinstance(tree, list):
        return "\n".join(ast.unparse(ast.fix_missing_locations(t)) for t in tree)
    return ast.unparse(ast.fix_missing_locations(tree))


def names_outside(expr, marker):
    """Names read by a rule template expression, not counting those inside `marker[...]` (`d[x]` in an
    adjoint, `t[x]` in a tangent: those are the cotangent's or tangent's slot, not a value read)."""
    out = set()

    def visit(node):
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == marker:
            return
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            out.add(node.id)
        for child in gast.iter_child_nodes(node):
            visit(child)
    visit(expr)
    return out


def loaded_names(node):
    """Names read anywhere inside `node`."""
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def all_names(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


def assigned_names(stmts):
    """Names stored to by any statement in `stmts` (recursively; subscript writes count for the base)."""
    out = set()
    for s in stmts:
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
            elif isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store):
                base = subscript_base(n)
                if base is not None:
                    out.add(base)
    return out


def subscript_base(node):
    while isinstance(node, gast.Subscript):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def copy_loc(new, old):
    """Give `new` (a node or list of nodes, recursively) the source position of `old`."""
    nodes = new if isinstance(new, list) else [new]
    for n in nodes:
        for sub in gast.walk(n):
            if hasattr(sub, "lineno") or isinstance(sub, (gast.stmt, gast.expr)):
                if getattr(sub, "lineno", None) is None:
                    sub.lineno = getattr(old, "lineno", 1)
                    sub.col_offset = getattr(old, "col_offset", 0)
                    if getattr(old, "_rg_origin", None) is not None:    # an inlined helper's own line
                        sub._rg_origin = old._rg_origin
    return new


def as_load(target):
    """A copy of an assignment target usable as an expression (every ctx set to Load)."""
    t = copy.deepcopy(target)
    for n in gast.walk(t):
        if hasattr(n, "ctx"):
            n.ctx = gast.Load()
    return t


def is_atom(node):
    return isinstance(node, (gast.Name, gast.Constant))
