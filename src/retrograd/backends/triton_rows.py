"""Wide rows for the triton backend: a row program split into passes over column chunks.

A row-wise layer's lowered body (backends/triton.py) is straight-line code in which every value is a
*block* (one value per column) or a *scalar* (one per row), and every reduction over the row is a line of
its own (`s = tl.sum(tl.where(COND, X, 0.0), axis=0)`, `tl.max` / `tl.min` with -inf / inf).  When a row
is wider than one block, this module rewrites the body into *passes*: a scalar's *level* is the number of
passes over the row it needs (a reduction of a block that reads level-k scalars has level k + 1), pass p
loops over the row in chunks of BLOCK columns (`tl.range`, pipelined with NUM_STAGES), recomputes the
blocks its reductions read from the inputs, and carries each reduction as a scalar across chunks; after
its loop come the scalars of level p.  A block that is stored (a result, a gradient) goes in the first
pass after the scalars it reads.

One rewrite saves a pass: a sum `sum(exp(X - m))` of the row's max `m = max(X)` is carried *online* in the
max's pass, as a running max and a sum rescaled by exp(old max - new max) whenever the max grows (the
softmax / logsumexp / cross-entropy chain: one pass instead of two).  NumPy's values at the edges are kept:
a row holding a nan gives nan, a row of -inf gives nan (exp(-inf - -inf)), an empty row a sum of 0.

Everything here works on source lines; nothing imports the rest of the backend.
"""
import ast
import copy

_REDUCE_OPS = {"sum": "0.0", "max": "float('-inf')", "min": "float('inf')"}
_BLOCK_NAMES = {"cols", "mask", "offs", "BLOCK"}


def _indent(lines, n):
    return [(" " * n + line) if line else line for line in lines]


def _src(node):
    return ast.unparse(ast.fix_missing_locations(node))


def _reduction(stmt):
    """'sum' / 'max' / 'min' for a line `name = tl.<op>(tl.where(C, X, fill), axis=0)`, else None."""
    if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
        return None
    f = stmt.value.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "tl" and f.attr in _REDUCE_OPS:
        arg = stmt.value.args[0] if stmt.value.args else None
        if isinstance(arg, ast.Call) and _src(arg.func) == "tl.where" and len(arg.args) == 3:
            return f.attr
    return None


class _Line:
    def __init__(self, stmt, comment):
        self.stmt = stmt
        self.comment = comment
        self.target = stmt.targets[0].id if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) \
            else None
        self.op = _reduction(stmt)
        self.uses = {n.id for n in ast.walk(stmt.value if self.target else stmt)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        self.block = False
        self.level = 0
        self.online = None          # (max line, its block's name, nan-count name) of an online sum

    @property
    def src(self):
        return _src(self.stmt)


def _parse(lines):
    """Statements with the comment heading each, in SSA form: a name assigned again is renamed `name_2`, ..."""
    taken = set()
    for line in lines:
        if not line.startswith("#"):
            taken |= {n.id for n in ast.walk(ast.parse(line)) if isinstance(n, ast.Name)}
    current, out, comment = {}, [], None

    class Rename(ast.NodeTransformer):
        def visit_Name(self, n):
            if isinstance(n.ctx, ast.Load) and n.id in current:
                return ast.Name(current[n.id], ast.Load())
            return n
    for line in lines:
        if line.startswith("#"):
            comment = line
            continue
        stmt = ast.parse(line).body[0]
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            stmt.value = Rename().visit(stmt.value)
            name = stmt.targets[0].id
            if name in current:                 # assigned before: a new version
                k = 2
                while f"{name}_{k}" in taken:
                    k += 1
                taken.add(f"{name}_{k}")
                current[name] = f"{name}_{k}"
                stmt.targets[0] = ast.Name(current[name], ast.Store())
            else:
                current[name] = name
        else:
            stmt = Rename().visit(stmt)
        out.append(_Line(stmt, comment))
    return out


def _inline(node, defs):
    """`node` with block names assigned once replaced by their expressions (to compare two blocks)."""
    class Sub(ast.NodeTransformer):
        def visit_Name(self, n):
            d = defs.get(n.id)
            if d is not None and d.block and d.op is None:
                return self.visit(copy.deepcopy(d.stmt.value))
            return n
    return Sub().visit(copy.deepcopy(node))


def _resolve(name, defs):
    """Follow copies `a = b` to the line that computes `name`."""
    seen = set()
    while name in defs and name not in seen:
        seen.add(name)
        d = defs[name]
        if isinstance(d.stmt.value, ast.Name):
            name = d.stmt.value.id
            continue
        return d
    return defs.get(name)


def _row_max(line, defs):
    """For `m = tl.where(C > 0, float('nan'), R)` with R = max(X) and C the count of nans in X (how the
    lowering writes np.max): (R's line, X's name, C's name); else None."""
    v = line.stmt.value
    if not (isinstance(v, ast.Call) and _src(v.func) == "tl.where" and len(v.args) == 3):
        return None
    test, nan, raw = v.args
    if _src(nan) != "float('nan')" or not isinstance(raw, ast.Name) or not isinstance(test, ast.Compare) \
            or not isinstance(test.left, ast.Name):
        return None
    r, c = defs.get(raw.id), defs.get(test.left.id)
    if r is None or c is None or r.op != "max" or c.op != "sum":
        return None
    where = r.stmt.value.args[0]
    cond, x = where.args[0], where.args[1]
    if _src(cond) != "mask" or not isinstance(x, ast.Name):
        return None
    if _src(c.stmt.value.args[0]) != f"tl.where(mask & ({x.id} != {x.id}), 1.0, 0.0)":
        return None
    return r, x.id, c.target


def _online(line, defs):
    """(max line, X, nan count) when `line` is `s = sum(exp(X - m))` over the whole row with m = max(X)."""
    where = line.stmt.value.args[0]
    if line.op != "sum" or _src(where.args[0]) != "mask" or _src(where.args[2]) != "0.0":
        return None
    e = _inline(where.args[1], defs)
    if not (isinstance(e, ast.Call) and _src(e.func) == "tl.exp" and len(e.args) == 1
            and isinstance(e.args[0], ast.BinOp) and isinstance(e.args[0].op, ast.Sub)
            and isinstance(e.args[0].right, ast.Name)):
        return None
    m = _resolve(e.args[0].right.id, defs)
    found = _row_max(m, defs) if m is not None else None
    if found is None:
        return None
    r, x, count = found
    if ast.dump(_inline(e.args[0].left, defs)) != ast.dump(_inline(ast.Name(x, ast.Load()), defs)):
        return None
    return r, x, count


class Unchunkable(Exception):
    """The body reduces inside an expression: the caller refuses the layer for wide rows."""


def split_passes(lines, block_inputs=()):
    """The body of a row loop for rows in chunks of BLOCK columns, from the one-block body `lines` (source
    lines and comments).  `block_inputs`: names that are blocks without being computed from `cols`/`mask`/
    `offs` in `lines` (none today).  Needs `row_start` (the row's first element) and `n_cols_f` defined by
    the caller.  A pass that stores what it also loads (a parameter gradient's partial sums, read back and
    added to) is a plain `range` loop: a pipelined load must not be issued before the store it reads."""
    stmts = _parse(lines)
    for s in stmts:
        nested = [n for n in ast.walk(s.stmt.value if s.op else s.stmt) if isinstance(n, ast.Call)
                  and _src(n.func) in ("tl.sum", "tl.max", "tl.min")]
        if len(nested) > (1 if s.op else 0):
            raise Unchunkable(s.src)
    defs = {s.target: s for s in stmts if s.target}
    blocks = set(block_inputs)
    level = {}
    for s in stmts:
        s.block = s.op is None and bool(s.uses & (_BLOCK_NAMES | blocks))
        if s.target and s.block:
            blocks.add(s.target)
        below = max((level.get(u, 0) for u in s.uses), default=0)
        if s.op is not None:
            s.online = _online(s, defs) if s.op == "sum" else None
            s.level = level[s.online[0].target] if s.online else below + 1
        else:
            s.level = below
        if s.target:
            level[s.target] = s.level
    n_passes = max([s.level for s in stmts if s.op] + [s.level + 1 for s in stmts if s.block and not s.target]
                   + [1])
    out = []

    def emit(section, items):
        last = None
        for s in items:
            if s.comment and s.comment != last:
                section.append(s.comment)
                last = s.comment
            section.append(s.src)
    emit(out, [s for s in stmts if not s.block and s.op is None and s.level == 0])
    for p in range(1, n_passes + 1):
        reductions = [s for s in stmts if s.op and s.level == p]
        stores = [s for s in stmts if s.block and not s.target and s.level + 1 == p]
        needed = set()
        for s in reductions + stores:       # an online sum reads its max's block, not exp(X - m)
            needed |= {s.online[1]} if s.online else s.uses
        chosen = []
        for s in reversed(stmts):           # the blocks this pass computes, in program order
            if s.target in needed and s.block:
                chosen.append(s)
                needed |= s.uses
        chosen.reverse()
        init, body, after = [], [], []
        online_of = {}
        for r in reductions:
            if r.online:
                online_of.setdefault(r.online[0].target, []).append(r)
        for r in reductions:
            where = r.stmt.value.args[0]
            init.append(f"{r.target} = " + ("tl.zeros([], ACC)" if r.op == "sum" else
                                            f"tl.full([], {_REDUCE_OPS[r.op]}, ACC)"))
            if r.online:
                continue
            chunk = _src(r.stmt.value)
            if r.target in online_of:       # a max that online sums rescale by
                c = f"_rgo_{r.target}"
                body += [f"{c}_chunk = {chunk}", f"{c}_new = tl.maximum({r.target}, {c}_chunk)",
                         f"{c}_scale = tl.where({r.target} == {c}_new, 1.0, tl.exp({r.target} - {c}_new))",
                         f"{c}_shift = tl.where({c}_new == float('-inf'), 0.0, {c}_new)"]
                for s in online_of[r.target]:
                    x = s.online[1]
                    body.append(f"{s.target} = {s.target} * {c}_scale + "
                                f"tl.sum(tl.where(mask, tl.exp({x} - {c}_shift), 0.0), axis=0)")
                body.append(f"{r.target} = {c}_new")
                for s in online_of[r.target]:
                    count = s.online[2]
                    # NumPy's sum(exp(X - max X)): nan for a nan in the row, and for a row of -inf
                    after.append(f"{s.target} = tl.where({count} > 0, float('nan'), tl.where({r.target} == "
                                 f"float('-inf'), tl.where(n_cols_f > 0.0, float('nan'), {s.target}), {s.target}))")
                continue
            if r.op == "sum":
                body.append(f"{r.target} = {r.target} + {chunk}")
            else:
                body.append(f"{r.target} = tl.{'maximum' if r.op == 'max' else 'minimum'}({r.target}, {chunk})")
        reads_back = any("tl.load(" in s.src for s in stores)
        loop = "range(0, n_cols, BLOCK)" if reads_back else "tl.range(0, n_cols, BLOCK, num_stages=NUM_STAGES)"
        out += [f"# pass {p} of {n_passes} over the row's columns"] + init
        out.append(f"for start in {loop}:")
        section = ["cols = start + tl.arange(0, BLOCK)", "mask = cols < n_cols", "offs = row_start + cols"]
        emit(section, chosen)
        section += body
        emit(section, stores)
        out += _indent(section, 4)
        out += after
        emit(out, [s for s in stmts if not s.block and s.op is None and s.level == p])
    return out
