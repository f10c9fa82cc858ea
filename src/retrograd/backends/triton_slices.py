"""Static slices of the row for the triton backend: `x[..., :d]`, `x[..., d:]`, `x[..., a:b]`, `x[..., ::2]`,
`x[..., 1::2]`, `np.concatenate` of such pieces, `np.split`'s adjoint (`split_like`), and `np.arange`.

A row program's values are blocks (one value per column `cols`) and per-row scalars.  A slice makes a
block of another *width*: lane j of `x[..., a:b:s]` holds column a + j * s of x.  Triton has no cheap
shuffle between the lanes of a register block, so a slice is *recomputed at other columns*: every block of
the lowered body is a function of `cols` (through loads at `offs = row_start + cols`, gathers
`cols == t`, ...), so its value at columns IDX is the same line with `cols` replaced by IDX and each input
loaded at IDX (`value_at`).  Slices of slices compose; the adjoint of a slice, a scatter
`dx[..., a:b:s] += g`, reads g at lane (c - a) / s for the columns c the slice covers.  Loads at
recomputed columns are masked by `0 <= IDX < n_cols`: no lane reads outside its row.

Sizes: slice bounds are integers known when the kernel is launched (a literal, the row length
`x.shape[-1]` / `len(x)` / `x.size`, + - * // % of them, a name bound to one), written as Python
expressions in `D` (the row length).  Each distinct one the kernels need (a slice's first column, its
length) becomes one i32 kernel argument `_rg_n<k>`, computed by the launcher with Python's own slice rules
(negative bounds, clamping, empty slices).  Where NumPy would raise (adding blocks of different widths,
returning a block narrower than the row, a concatenation wider than it), the launcher checks the widths
before the launch and raises, naming the line: never a result of the wrong shape.
"""
import ast
import copy
import re

FULL = "D"              # the width of a block that spans the row


class Block(str):
    """The kind of a block narrower than the row (`== "block"` like every block); `.width`: its width, a
    Python expression in D."""

    def __new__(cls, width):
        self = super().__new__(cls, "block")
        self.width = width
        return self

    def __reduce__(self):       # a plan never holds one, but pickle must not turn it into a plain width
        return (Block, (self.width,))


def block_kind(width):
    return "block" if width == FULL else Block(width)


def width_of(kind):
    return getattr(kind, "width", FULL)


def _len(width, a, b, s):
    return len(range(width)[slice(a, b, s)])


def _start(width, a, b, s):
    return range(width)[slice(a, b, s)].start


ENV = {"_rg_len": _len, "_rg_start": _start, "min": min, "max": max, "len": len, "range": range,
       "__builtins__": {}}


def evaluate(expr, n_cols):
    return eval(expr, dict(ENV), {"D": n_cols})      # noqa: S307 - expressions generated in this module


def constant(expr):
    """The int an expression without D holds, or None."""
    if "D" in {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}:
        return None
    return evaluate(expr, 0)


class Sizes:
    """The launch-time integers of one layer's kernels (shared by its forward and backward lowering)."""

    def __init__(self):
        self.args = {}          # expression -> kernel argument name
        self.checks = []        # (condition, message, filename, lineno): raised by the launcher if false

    def arg(self, expr):
        """The kernel's name (or literal) for an integer expression in D."""
        if expr == FULL:
            return "n_cols"
        c = constant(expr)
        if c is not None:
            return str(c)
        if expr not in self.args:
            self.args[expr] = f"_rg_n{len(self.args)}"
        return self.args[expr]

    def check(self, condition, template, exprs, where):
        """A condition (in D) the launcher checks before a launch; `template` (str.format, its {0}, {1}, ...
        the values of `exprs`) says what NumPy would raise for."""
        if any(c[0] == condition for c in self.checks):
            return
        self.checks.append((condition, template, tuple(exprs), where.filename, where.lineno))

    def same_width(self, widths, where):
        """Blocks combined lane by lane have one width (NumPy broadcasts a width of 1 too: refused here)."""
        first = widths[0]
        for w in widths[1:]:
            if w != first:
                self.check(f"({first}) == ({w})", _quote(where.text) + " combines blocks of {0} and {1} columns "
                           "(shapes that do not broadcast)", (first, w), where)
        return first


def _quote(text):
    return "`" + (text or "").replace("{", "{{").replace("}", "}}") + "`"


def launch_sizes(sizes_args, checks, n_cols, layer):
    """{kernel argument: value} for rows of n_cols, after the plan's width checks (UsageError naming the
    user's line where NumPy would raise)."""
    from ..errors import UsageError
    for cond, template, exprs, filename, lineno in checks:
        if not evaluate(cond, n_cols):
            text = template.format(*[evaluate(e, n_cols) for e in exprs])
            raise UsageError(f"{layer}: for rows of {n_cols} columns, {text}", filename=filename, lineno=lineno,
                             construct="slice", hint="slice the row so that the blocks combined have one width")
    return {name: evaluate(expr, n_cols) for expr, name in sizes_args}


# ---- values at other columns ----------------------------------------------------------------------------

_REDUCE = ("tl.sum", "tl.max", "tl.min")
_COLUMN_NAMES = {"cols", "mask", "offs"}


def _is_reduction(rhs):
    return isinstance(rhs, ast.Call) and ast.unparse(rhs.func) in _REDUCE


class At:
    """Which column lane `cols` reads: `coef * cols + sum(k * name) + const` (names: launch-time integers),
    or, for the lanes of a scatter with a step other than +-1, an opaque expression of `cols`.  Maps compose
    (a slice of a slice, a piece of a concatenation scattered back), and affine ones simplify: the
    adjoint of `x[..., d:]` reads its cotangent at `cols - d`, which composed with the `d + cols` of the
    forward is x at `cols`, the block the kernel loaded already."""

    def __init__(self, coef=1, terms=None, const=0, opaque=None):
        self.coef, self.const, self.opaque = coef, const, opaque
        self.terms = {k: v for k, v in sorted((terms or {}).items()) if v}

    @staticmethod
    def shift(token, sign=1, coef=1):
        """coef * cols + sign * token (a literal int or a kernel argument's name)."""
        try:
            return At(coef, const=sign * int(token))
        except ValueError:
            return At(coef, {token: sign})

    def of(self, inner):
        """self(inner(cols))."""
        if self.opaque is None and inner.opaque is None:
            terms = {k: self.coef * v for k, v in inner.terms.items()}
            for k, v in self.terms.items():
                terms[k] = terms.get(k, 0) + v
            return At(self.coef * inner.coef, terms, self.coef * inner.const + self.const)
        return At(opaque=re.sub(r"\bcols\b", lambda m: f"({inner.src()})", self.src()))

    @property
    def identity(self):
        return self.opaque is None and self.coef == 1 and not self.terms and self.const == 0

    def src(self):
        if self.opaque is not None:
            return self.opaque
        parts = [] if self.coef == 0 else ["cols" if self.coef == 1 else "-cols" if self.coef == -1
                                           else f"cols * {self.coef}"]
        for k, v in self.terms.items():
            parts.append(k if v == 1 else f"-{k}" if v == -1 else f"{k} * {v}")
        if self.const or not parts:
            parts.append(str(self.const))
        out = parts[0]
        for p in parts[1:]:
            out += f" - {p[1:]}" if p.startswith("-") else f" + {p}"
        return out


class Columns:
    """Evaluates the lowered values of a Lowering at other columns (see the module docstring)."""

    def __init__(self, low):
        self.low = low
        self.memo = {}          # (source, line index, columns) -> the temporary holding that value
        self.parsed = {}        # (source, line index, text) -> (target, rhs) or None
        self.varying = {}       # ((source, line index), text) -> does the line's value depend on the column
        self.loads = {}         # temporary -> (input block, At): an input loaded at other columns
        self.load_memo = {}     # (input block, columns) -> its temporary
        self.prior_loads = {}   # the forward's `loads` (for a backward lowering)

    def _lines(self, source):
        return self.low.lines if source == "own" else self.low.prior

    def _parse(self, source, i):
        text = self._lines(source)[i]
        key = (source, i, text)
        if key not in self.parsed:
            out = None
            if not text.startswith("#"):
                s = ast.parse(text).body[0]
                if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
                    out = (s.targets[0].id, s.value)
            self.parsed[key] = out
        return self.parsed[key]

    def definition(self, name, source, pos):
        """(source, index) of the last line before `pos` of `source` assigning `name` (own lines, then the
        forward's lines a backward lowering recomputes), or None."""
        if source == "own":
            for i in range(min(pos, len(self.low.lines)) - 1, -1, -1):
                p = self._parse("own", i)
                if p is not None and p[0] == name:
                    return "own", i
            source, pos = "prior", len(self.low.prior)
        for i in range(min(pos, len(self.low.prior)) - 1, -1, -1):
            p = self._parse("prior", i)
            if p is not None and p[0] == name:
                return "prior", i
        return None

    def _leaf_block(self, name):
        return name in self.low.block_inputs() or name in _COLUMN_NAMES

    def varies(self, name, source, pos):
        """Does the value of `name` (as defined before `pos`) depend on the column?"""
        d = self.definition(name, source, pos)
        if d is None:
            return self._leaf_block(name)
        key = (d, self._lines(d[0])[d[1]])
        if key not in self.varying:
            target, rhs = self._parse(*d)
            self.varying[key] = not _is_reduction(rhs) and any(
                self.varies(n.id, d[0], d[1]) for n in ast.walk(rhs) if isinstance(n, ast.Name))
        return self.varying[key]

    def value_at(self, node, at):
        """The lowered expression `node` (as of now) evaluated at the columns `at` (an At)."""
        if at.identity:
            return node
        return self._subst(node, "own", len(self.low.lines), at)

    def load(self, name, at):
        """Input block `name` at the columns `at`: the block itself, or a (shared) masked load."""
        if at.identity:
            return ast.Name(name)
        key = (name, at.src())
        if key not in self.load_memo:
            idx = at.src()
            text = self.low.load_at(name, idx, f"({idx} >= 0) & ({idx} < n_cols)")
            if text is None:
                return ast.Name(name)
            tmp = f"{self.low.prefix}{self.low.tmp}_ld"
            self.low.tmp += 1
            self.low.lines.append(f"{tmp} = {text}")
            self.load_memo[key] = tmp
            self.loads[tmp] = (name, at)
        return ast.Name(self.load_memo[key])

    def _subst(self, node, source, pos, at):
        class Sub(ast.NodeTransformer):
            def visit_Name(inner, n):
                return self._name_at(n.id, source, pos, at)
        return Sub().visit(copy.deepcopy(node))

    def _name_at(self, name, source, pos, at):
        low = self.low
        loaded = self.loads.get(name) or self.prior_loads.get(name)
        if loaded is not None:          # an input at other columns: compose the two maps
            return self.load(loaded[0], loaded[1].of(at))
        d = self.definition(name, source, pos)
        if d is None:
            idx = ast.parse(at.src(), mode="eval").body
            if name == "cols":
                return idx
            if name == "mask":
                return ast.parse(f"({at.src()} >= 0) & ({at.src()} < n_cols)", mode="eval").body
            if name == "offs":
                return ast.BinOp(ast.Name("row_start"), ast.Add(), idx)
            return self.load(name, at)
        target, rhs = self._parse(*d)
        if not self.varies(name, source, pos):
            # the same at every column: the name itself, unless it has been assigned again since
            if self.definition(name, "own", len(low.lines)) == d:
                return ast.Name(name)
            if _is_reduction(rhs):
                raise low.error(f"a slice of a value that reads `{name}` before it is assigned again")
        key = (d, at.src())
        if key not in self.memo:
            value = self._subst(rhs, d[0], d[1], at)
            if isinstance(value, ast.Name):         # a copy: no line of its own
                self.memo[key] = value.id
            else:
                tmp = f"{low.prefix}{low.tmp}_c"
                low.tmp += 1
                low.lines.append(f"{tmp} = {ast.unparse(ast.fix_missing_locations(value))}")
                self.memo[key] = tmp
        return ast.Name(self.memo[key])


def slice_columns(width, a, b, s):
    """(first column, length) expressions of `[a:b:s]` of a block of `width` columns (a, b: expressions
    or "None"; s: an int)."""
    args = f"{width}, {a}, {b}, {s}"
    first = "0" if s > 0 and a in ("None", "0") else f"_rg_start({args})"
    return first, f"_rg_len({args})"
