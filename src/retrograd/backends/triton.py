"""The triton backend: a layer written in NumPy style becomes a fused forward and a fused backward Triton
kernel (plus a small kernel that finishes parameter gradients).

The core generates the primal and adjoint as usual (`Program`, with the python target) for argument kinds
chosen by the layer's *shape class*, and this module lowers the two straight-line function bodies to
Triton source:

* **elementwise** layers (no reductions): every tensor argument is given kind "scalar", so each lane of a
  1-D block computes one element.  Scalar parameters (Python numbers: `tl.constexpr`; 0-d tensors:
  loaded once) are uniform across lanes.
* **row-wise** layers (reductions over the last axis): tensors of shape (..., D) and (D,) get kind
  "array:1", so a program computes one row at a time as a block of `BLOCK >= D` columns; 0-d tensors,
  Python numbers and integer tensors of the leading shape (targets) are per-row scalars.

Every value of a kernel is therefore either a *block* (B) or a *scalar* (S: per row or uniform).  The
lowering tracks that, turns reductions into masked `tl.sum`/`tl.max`, `unbroadcast` of a block to a
scalar into a masked sum, `unreduce` into a broadcast, and gathers `x[t]` into `tl.where(cols == t, ...)`.

Static slices of the row (`x[..., :d]`, `x[..., ::2]`, np.concatenate of pieces) are blocks of other widths,
recomputed at other columns (backends/triton_slices).

What the backward saves: the forward stores the per-row scalars that a reduction computed and the backward
reads (mean and variance for layer norm, max and sum for softmax); everything else the adjoint reads is
recomputed from the inputs in the backward kernel (free in a bandwidth-bound kernel).  Gradients of (D,)
and scalar parameters are summed over the rows a program handles, written as one partial sum per program,
and reduced over programs by `sum_partials_kernel`: no atomics.

Kernels are written to a real `.py` file in the cache directory (Triton refuses source exec'd from a
string) and imported from there; the file name is a hash of the source.
"""
import ast
import copy
import math
import operator
import os
import re
import sys
from dataclasses import dataclass, field

import gast
import numpy as np

from .. import astutil as A
from ..errors import BackendError, UsageError
from . import Traits, cache_dir as _cache_dir, triton_narrow, triton_rows, triton_slices
from .triton_slices import FULL, block_kind, width_of
from .target import Target

# NumPy arguments run the python target's code; torch tensors run the kernels this module generates
TRAITS = Traits("triton", forward_mode=False)

B, S, TUPLE = "block", "scalar", "tuple"     # TUPLE: a tuple of blocks and scalars (a layer's outputs)
ROWS, ELEMENTWISE = "rows", "elementwise"
# argument roles
ROW, COL, ROWINT, ELEM, SCALAR_T, CONST = "row", "col", "rowint", "elem", "scalar_tensor", "const"
ROWF = "rowfloat"       # a float per row, of shape (..., 1): a per-row scalar (a mask's bound, a modulation)
TENSOR_ROLES = (ROW, COL, ROWINT, ROWF, ELEM, SCALAR_T)
DIFF_ROLES = (ROW, COL, ROWF, ELEM, SCALAR_T)
RESERVED = {"tl", "triton", "pid", "cols", "mask", "row", "row_start", "offs", "start", "rows", "rmask", "cmask",
            "tile", "last", "ROWS", "NUM_STAGES", "first", "n_rows", "n_cols", "n_cols_f",
            "n_elements", "rows_per_program", "BLOCK", "ACC", "float", "range", "math", "np", "index_error_ptr"}

_REDUCTIONS = {"sum", "mean", "max", "min", "amax", "amin"}
_HINT = 'write it with elementwise NumPy calls and reductions over the last axis, or use backend="python"'


def has_reduction(node):
    """Does a function's tree reduce (np.sum / x.mean() / ...)?  Row-wise layers do, elementwise ones don't."""
    for n in gast.walk(node):
        if isinstance(n, gast.Call):
            f = n.func
            name = f.attr if isinstance(f, gast.Attribute) else f.id if isinstance(f, gast.Name) else None
            if isinstance(f, gast.Name) and name in ("max", "min") and len(n.args) >= 2:
                continue          # the builtin max(a, b) is elementwise
            if name in _REDUCTIONS | {"var", "std", "logsumexp"}:
                return True
        # static slices of the row and what is built of them (backends/triton_slices) need the row's columns
        if isinstance(n, gast.Subscript) and _column_slice(n) is not None:
            return True
        if isinstance(n, gast.Call) and name in ("concatenate", "arange"):
            return True
        # x[t]: a per-row gather (a target), not an elementwise operation
        if isinstance(n, gast.Subscript) and not isinstance(n.slice, (gast.Slice, gast.Tuple, gast.Constant)) \
                and not (isinstance(n.value, gast.Attribute) and n.value.attr == "shape"):
            return True
    return False


def has_column_slices(node):
    """Does a function slice the row (`x[..., a:b]`) or concatenate pieces of it?  Its kernels load inputs
    at several column offsets (more registers per column: torch.py's block sizes)."""
    for n in gast.walk(node):
        if isinstance(n, gast.Subscript) and _column_slice(n) is not None:
            return True
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr == "concatenate":
            return True
    return False


def _column_slice(node):
    """The gast.Slice of `x[..., a:b:s]` or (the row seen as 1-d) `x[a:b:s]`, else None."""
    sl = node.slice
    if isinstance(sl, gast.Tuple) and len(sl.elts) == 2 and isinstance(sl.elts[0], gast.Constant) \
            and sl.elts[0].value is Ellipsis:
        sl = sl.elts[1]
    return sl if isinstance(sl, gast.Slice) else None


def var_name(name):
    """The kernel's name for a user variable: names the kernel uses itself (`row`, `mask`, `x_ptr`, ...) get
    a trailing underscore."""
    if name in RESERVED or name.endswith(("_ptr", "_acc")) or name.startswith("_rg"):
        name += "_"
        while name in RESERVED:
            name += "_"
    return name


def kinds_for(roles):
    """Kinds the core specialises the generated code for, from the arguments' roles."""
    return {p: ("array:1" if r in (ROW, COL) else "scalar") for p, r in roles.items()}


# ---- the lowering -------------------------------------------------------------------------------------

def _e(src, **subs):
    """An expression from a template; placeholders (names in `subs`) are replaced by ast nodes."""
    node = ast.parse(src, mode="eval").body

    class Sub(ast.NodeTransformer):
        def visit_Name(self, n):
            if n.id in subs:
                rep = subs[n.id]
                return copy.deepcopy(rep) if isinstance(rep, ast.AST) else ast.parse(str(rep), mode="eval").body
            return n
    return Sub().visit(node)


def _src(node):
    return ast.unparse(ast.fix_missing_locations(node))


@dataclass
class Where:
    filename: str = None
    lineno: int = None
    text: str = None


@dataclass
class KernelPlan:
    """What a launcher needs to know about the generated kernels."""
    name: str
    mode: str
    roles: dict                      # param -> role
    params: list                     # params in order
    wrt: list                        # differentiated params, in order
    result_kind: str                 # B or S (TUPLE: see outputs)
    outputs: list = field(default_factory=list)      # (pointer name, B or S) of each output tensor
    bwd_params: list = field(default_factory=list)   # the params the backward kernel reads (and takes)
    stats: list = field(default_factory=list)
    index_sites: list = field(default_factory=list)   # (file, line, text) of each gather x[t]: one flag each
    index_params: list = field(default_factory=list)  # params an index reads directly (a bool one is refused)
    fwd_name: str = ""
    bwd_name: str = ""
    source: str = ""
    chunked: bool = False            # rows in chunks of BLOCK columns (backends/triton_rows), not one block
    tiled: bool = False              # short rows in [ROWS, BLOCK] tiles (backends/triton_narrow)
    sizes: list = field(default_factory=list)    # (expression in D, kernel argument): launch-time integers
    checks: list = field(default_factory=list)   # widths the launcher checks (backends/triton_slices)


class Lowering:
    """Lowers one straight-line generated function body to Triton statements (as source lines)."""

    def __init__(self, mode, roles, namespace, src, comments, prefix="_rg", check_index=False, comment_locations=None):
        self.mode = mode
        self.prefix = prefix            # of the temporaries this lowering introduces (forward and backward differ)
        self.check_index = check_index  # flag out-of-range gathers (the forward does; the backward runs after it)
        self.index_sites = []           # (file, line, text) of every flagged gather, in flag-slot order
        self.index_names = set()        # kernel names read by an index expression
        self.roles = roles
        self.ns = namespace
        self.src = src                  # FunctionSource of the user's function, for error positions
        self.comments = comments
        self.comment_locations = comment_locations or {}    # index -> sourcemap.Location of its user line
        self.kinds = {}                 # variable -> B / S
        self.rename = {}
        self.lines = []                 # (indent-free) source lines
        self.where = Where(getattr(src, "filename", None), None, None)
        self.tmp = 0
        self.constants = {}             # variable -> the constant it holds (an axis hoisted into a variable)
        self.tuples = {}                # variable holding a tuple (a layer's outputs) -> its elements' variables
        # static slices of the row (backends/triton_slices)
        self.sizes = triton_slices.Sizes()  # launch-time integers and width checks, shared with the backward
        self.ints = {}                  # variable -> the integer (an expression in D) it holds: slice bounds
        self.prior = []                 # the forward's lines, which a backward lowering recomputes
        self.seed_ptrs = {}             # backward: block cotangent variable -> its pointer
        self.columns = triton_slices.Columns(self)

    # names
    def var(self, name):
        return var_name(name)

    def error(self, message, construct=None):
        line = f" `{self.where.text}`" if self.where.text else ""
        return BackendError(f"the triton backend cannot lower {message} in{line}",
                            filename=self.where.filename, lineno=self.where.lineno, col=0,
                            construct=construct, hint=_HINT)

    def bind(self, node, what="t"):
        """`node` as a name: a value a formula reads more than once is computed once, into a temporary."""
        if isinstance(node, ast.Name) or _is_const(node):
            return node
        name = f"{self.prefix}{self.tmp}_{what}"
        self.tmp += 1
        self.lines.append(f"{name} = {_src(node)}")
        return ast.Name(name)

    def index(self, idx):
        """A per-row index into the row, NumPy style: -D <= i < 0 counts from the end; anything outside
        [-D, D) is flagged (forward) so that the launcher raises IndexError after the launch."""
        self.index_names |= {n.id for n in ast.walk(idx) if isinstance(n, ast.Name)}
        i = self.bind(idx, "i")
        i = self.bind(_e("tl.where(I < 0, I + n_cols, I)", I=i), "i")
        if self.check_index:
            slot = len(self.index_sites)
            self.index_sites.append((self.where.filename, self.where.lineno, self.where.text))
            self.lines.append(f"tl.store(index_error_ptr + {slot}, row + 1, mask=({i.id} < 0) | ({i.id} >= n_cols))")
        return i

    # statements
    def at_primal(self, stmt):
        fname, line, _ = self.src.where(stmt)
        self.where = Where(fname, line, self.src.line_text(stmt))

    def comment(self, index):
        text = self.comments[index]
        self.lines.append("# " + text)
        where = self.comment_locations.get(index)
        if where is not None:         # the transform's structured location of the block's user line
            self.where = Where(where.filename, where.lineno, where.text)
            return
        # a note without a location: its text, "grad of: <text>  (<file>:<line>)" at most
        body, _, loc = text.rpartition("  (")
        try:
            line = int(loc.rstrip(")").rsplit(":", 1)[1])
        except (IndexError, ValueError):
            line = None
        self.where = Where(self.src.filename, line, body[len("grad of: "):] if body.startswith("grad of: ") else body)

    def assign(self, target, value):
        v = self.fold(value)
        if v is not None:
            self.constants[target] = v
        else:
            self.constants.pop(target, None)
        name = self.var(target)
        iv = self.int_size(value)
        if iv is not None:
            self.ints[target] = iv
        else:
            self.ints.pop(target, None)
        if iv is not None and any(isinstance(n, (gast.FloorDiv, gast.Mod)) for n in gast.walk(value)):
            self.kinds[target] = S      # `d = x.shape[-1] // 2`: a slice bound (and a number, if read as one)
            self.lines.append(f"{name} = {_src(self.width_value(iv))}")
            return
        node, kind = self.expr(value)
        if kind == TUPLE:        # (a, b): one variable per element, `target_t0`, `target_t1`, ...
            elements = []
            for i, (n, k) in enumerate(node):
                if k == TUPLE:
                    raise self.error("a nested tuple", construct="tuple")
                e = f"{target}_t{i}"
                self.kinds[e] = k
                self.lines.append(f"{self.var(e)} = {_src(n)}")
                elements.append(e)
            self.kinds[target] = TUPLE
            self.tuples[target] = elements
            return
        self.kinds[target] = kind
        if isinstance(node, ast.Name) and node.id.startswith(self.prefix) and self.lines \
                and self.lines[-1].startswith(node.id + " = "):   # `m = <the reduction just bound>`: one line
            self.lines[-1] = name + self.lines[-1][len(node.id):]
            return
        self.lines.append(f"{name} = {_src(node)}")

    def statement(self, s):
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and isinstance(s.value.value, str) \
                and s.value.value.startswith("__rg_comment_"):
            self.comment(int(s.value.value[len("__rg_comment_"):-2]))
            return
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            self.assign(s.targets[0].id, s.value)
            return
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Name) \
                and s.value.func.id == "add_at" and len(s.value.args) == 3 and self.mode == ROWS:
            # add_at(dx, i, g): dx[i] += g for a per-row index
            base, index, value = s.value.args
            if isinstance(base, gast.Name) and self.kinds.get(base.id) == B:
                idx, ik = self.expr(index)
                g, _ = self.expr(value)
                if ik == S:
                    name = self.var(base.id)
                    i = self.index(idx)
                    self.lines.append(f"{name} = {name} + {_src(_e('tl.where(cols == I, G, 0.0)', I=i, G=g))}")
                    return
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Subscript) and self.mode == ROWS \
                and _column_slice(s.target) is not None:
            self.scatter_slice(s)       # dx[..., a:b:s] += g: the adjoint of a slice
            return
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Subscript) and self.mode == ROWS:
            # dx[t] += g  ->  dx = dx + tl.where(cols == t, g, 0.0)
            base = s.target.value
            if isinstance(base, gast.Name) and self.kinds.get(base.id) == B and isinstance(s.op, gast.Add):
                idx, ik = self.expr(s.target.slice)
                g, _ = self.expr(s.value)
                if ik == S:
                    idx = self.index(idx)
                    name = self.var(base.id)
                    self.lines.append(f"{name} = {name} + {_src(_e('tl.where(cols == I, G, 0.0)', I=idx, G=g))}")
                    return
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) and self.mode == ROWS:
            base = s.targets[0].value
            if isinstance(base, gast.Name) and self.kinds.get(base.id) == B:
                idx, ik = self.expr(s.targets[0].slice)
                g, _ = self.expr(s.value)
                if ik == S:
                    idx = self.index(idx)
                    name = self.var(base.id)
                    self.lines.append(f"{name} = {_src(_e('tl.where(cols == I, G, X)', I=idx, G=g, X=ast.Name(name)))}")
                    return
        what = {gast.For: "a `for` loop", gast.While: "a `while` loop", gast.If: "an `if` statement"}.get(type(s))
        if what is None:
            what = f"the statement `{A.unparse(s).strip().splitlines()[0]}`"
        raise self.error(what, construct=type(s).__name__.lower())

    # expressions: (ast node, kind)
    def expr(self, node):
        if isinstance(node, gast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                if node.value is None:
                    return ast.Constant(None), S
                raise self.error(f"the constant {node.value!r}")
            return ast.Constant(node.value), S
        if isinstance(node, gast.Tuple):
            return [self.expr(e) for e in node.elts], TUPLE
        if isinstance(node, gast.Name):
            if self.kinds.get(node.id) == TUPLE:
                return [(ast.Name(self.var(e)), self.kinds[e]) for e in self.tuples[node.id]], TUPLE
            if node.id in self.kinds:
                return ast.Name(self.var(node.id)), self.kinds[node.id]
            v = self.ns.get(node.id)
            if isinstance(v, (int, float)) and not isinstance(v, bool):   # a global constant: inline it
                return ast.Constant(v), S
            raise self.error(f"the name `{node.id}`", construct=node.id)
        if isinstance(node, gast.BinOp):
            return self.binop(node)
        if isinstance(node, gast.UnaryOp):
            v, k = self.expr(node.operand)
            if isinstance(node.op, gast.USub):
                return ast.UnaryOp(ast.USub(), v), k
            if isinstance(node.op, gast.UAdd):
                return v, k
            raise self.error("`not`", construct="not")
        if isinstance(node, gast.Compare) and len(node.ops) == 1:
            a, ka = self.expr(node.left)
            b, kb = self.expr(node.comparators[0])
            op = getattr(ast, type(node.ops[0]).__name__)()
            return ast.Compare(a, [op], [b]), self.join(ka, kb)
        if isinstance(node, gast.IfExp):
            c, kc = self.expr(node.test)
            a, ka = self.expr(node.body)
            b, kb = self.expr(node.orelse)
            return _e("tl.where(C, X, Y)", C=c, X=a, Y=b), self.join(kc, ka, kb)
        if isinstance(node, gast.Call):
            return self.call(node)
        if isinstance(node, gast.Subscript):
            return self.subscript(node)
        if isinstance(node, gast.Attribute) and node.attr == "T":
            return self.expr(node.value)
        if isinstance(node, gast.Attribute) and node.attr == "size":
            return self.size(node.value)
        if isinstance(node, gast.Attribute) and isinstance(self.resolve(node), float) \
                and not isinstance(self.resolve(node), bool):      # np.inf, np.nan, np.pi, math.e
            v = self.resolve(node)
            return (_e(f"float('{v}')") if not math.isfinite(v) else ast.Constant(v)), S
        raise self.error(f"the expression `{A.unparse(node).strip()}`", construct=type(node).__name__)

    def join(self, *kinds):
        """The kind of a lane-by-lane combination: a block (of the blocks' one width) or a scalar."""
        widths = [width_of(k) for k in kinds if k == B]
        return block_kind(self.sizes.same_width(widths, self.where)) if widths else S

    def binop(self, node):
        a, ka = self.expr(node.left)
        b, kb = self.expr(node.right)
        kind = self.join(ka, kb)
        if isinstance(node.op, (gast.BitAnd, gast.BitOr)):     # (a >= lo) & (a <= hi): stays a boolean
            return ast.BinOp(a, ast.BitAnd() if isinstance(node.op, gast.BitAnd) else ast.BitOr(), b), kind
        a, b = self.arith(a), self.arith(b)
        if isinstance(node.op, gast.Pow):
            return self.power(self.acc(a, node.left), node.right, self.acc(b, node.right)), kind
        ops = {gast.Add: ast.Add, gast.Sub: ast.Sub, gast.Mult: ast.Mult, gast.Div: ast.Div,
               gast.BitAnd: ast.BitAnd, gast.BitOr: ast.BitOr}
        if type(node.op) not in ops:
            raise self.error(f"the operator `{type(node.op).__name__}`", construct=type(node.op).__name__)
        return ast.BinOp(a, ops[type(node.op)](), b), kind

    @staticmethod
    def arith(v):
        """A comparison used as a number (`g * (a >= b)`) becomes 1.0 / 0.0."""
        if isinstance(v, ast.Compare) or (isinstance(v, ast.BinOp) and isinstance(v.op, (ast.BitAnd, ast.BitOr))):
            return _e("tl.where(C, 1.0, 0.0)", C=v)
        return v

    def power(self, a, exponent_node, b):
        """x ** y as NumPy computes it: an exponent known when the kernel is generated (a literal, a constant
        expression, a name bound to one, a global number) that is an integer is lowered to multiplications
        (exact for a negative base); any other exponent goes through `_pow`, which keeps NumPy's sign rules."""
        p = self.fold(exponent_node)
        if p is not None and float(p).is_integer():
            return self.int_power(a, int(p))
        if p == 0.5:      # sqrt, except (-inf) ** 0.5 = inf (sqrt gives nan)
            x = self.bind(a, "x")
            return _e("tl.where(X == float('-inf'), float('inf'), tl.sqrt(X))", X=x)
        return _pow(self, a, b, p)

    def static(self, node):
        """Is `node` computed from Python numbers only (literals, constants, tl.constexpr arguments)?  A
        tl.* function given one computes in float32 whatever ACC is: such arguments are cast to ACC first."""
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                continue
            if isinstance(n, gast.Name):
                if not (n.id in self.constants or self.roles.get(n.id) == CONST or
                        (n.id not in self.kinds and isinstance(self.ns.get(n.id), (int, float)))):
                    return False
            elif not isinstance(n, (gast.Constant, gast.BinOp, gast.UnaryOp, gast.operator, gast.unaryop,
                                    gast.expr_context)):
                return False
        return True

    def acc(self, value, node):
        return _e("tl.cast(X, ACC)", X=value) if self.static(node) else value

    def fold(self, node):
        """The number an expression of literals, names bound to one and global numbers always holds, or None
        (an exponent `x ** (k - 1)` known here is lowered exactly)."""
        if isinstance(node, gast.Constant):
            v = node.value
        elif isinstance(node, gast.Name):
            v = self.constants.get(node.id, None if node.id in self.kinds else self.ns.get(node.id))
        elif isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
            v = self.fold(node.operand)
            v = None if v is None else (-v if isinstance(node.op, gast.USub) else v)
        elif isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Add, gast.Sub, gast.Mult, gast.Div)):
            a, b = self.fold(node.left), self.fold(node.right)
            try:
                v = None if a is None or b is None else {gast.Add: operator.add, gast.Sub: operator.sub,
                                                         gast.Mult: operator.mul, gast.Div: operator.truediv}[type(node.op)](a, b)
            except ZeroDivisionError:
                v = None
        else:
            v = None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        return v if ok else None

    def int_power(self, a, p):
        """a ** p for an integer p by repeated squaring (NumPy: x ** 0 = 1 for every x, nan included)."""
        if p == 0:
            return ast.Constant(1.0)
        if p < 0:
            return _e("1.0 / P", P=self.int_power(a, -p))
        if p == 1:
            return a
        x = self.bind(a, "x")
        result, square, n = None, x, p
        while True:
            if n & 1:
                result = square if result is None else self.bind(ast.BinOp(result, ast.Mult(), square), "pow")
            n >>= 1
            if not n:
                return result
            square = self.bind(ast.BinOp(square, ast.Mult(), square), "sq")

    def size(self, node):
        _, k = self.expr(node)
        return (self.width_value(width_of(k)), S) if (k == B and self.mode == ROWS) else (ast.Constant(1), S)

    # ---- widths and static slices of the row (backends/triton_slices) ----
    def width_value(self, width):
        """An integer expression in D as a number of the kernel (ACC)."""
        if width == FULL:
            return ast.Name("n_cols_f")
        c = triton_slices.constant(width)
        if c is not None:
            return ast.Constant(float(c))
        return _e("tl.cast(N, ACC)", N=self.sizes.arg(width))

    def width_mask(self, kind):
        """The lanes of a block that are columns of it."""
        w = width_of(kind)
        return ast.Name("mask") if w == FULL else _e("cols < N", N=self.sizes.arg(w))

    def int_size(self, node):
        """The integer an expression holds when the kernel is launched, as Python source in D (the row's
        length): literals, names bound to one, global ints, the length of a block (`x.shape[-1]`, `len(x)`,
        `x.size`) and + - * // % of them; None for anything else."""
        if node is None:
            return None
        if isinstance(node, gast.Constant):
            v = node.value
            return str(v) if isinstance(v, int) and not isinstance(v, bool) else None
        if isinstance(node, gast.Name):
            if node.id in self.ints:
                return self.ints[node.id]
            v = self.constants.get(node.id, None if node.id in self.kinds else self.ns.get(node.id))
            return str(v) if isinstance(v, int) and not isinstance(v, bool) else None
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
            a = self.int_size(node.operand)
            return None if a is None else (f"(-{a})" if isinstance(node.op, gast.USub) else a)
        ops = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.FloorDiv: "//", gast.Mod: "%"}
        if isinstance(node, gast.BinOp) and type(node.op) in ops:
            a, b = self.int_size(node.left), self.int_size(node.right)
            if a is None or b is None:
                return None
            if triton_slices.constant(b) == 0 and ops[type(node.op)] in ("//", "%"):
                raise self.error(f"`{A.unparse(node).strip()}` (an integer division by zero)")
            return f"({a} {ops[type(node.op)]} {b})"
        of = None
        if isinstance(node, gast.Attribute) and node.attr == "size":
            of = node.value
        elif isinstance(node, gast.Subscript) and isinstance(node.value, gast.Attribute) and node.value.attr == "shape":
            of = node.value.value
        elif isinstance(node, gast.Call) and len(node.args) == 1 and not node.keywords:
            fn = self.resolve(node.func)
            if fn is len or (getattr(fn, "__name__", None) == "size" and
                             (getattr(fn, "__module__", None) or "").startswith("numpy")):
                of = node.args[0]
        if of is not None and self.mode == ROWS:
            if isinstance(of, gast.Name) and of.id in self.kinds:
                k = self.kinds[of.id]
            else:
                _, k = self.expr(of)
            return width_of(k) if k == B else None
        return None

    def slice_bounds(self, sl):
        """(a, b, s) of a static slice: a, b integer expressions in D or "None", s an int."""
        step = 1
        if sl.step is not None:
            st = self.int_size(sl.step)
            step = triton_slices.constant(st) if st is not None else None
            if step is None:
                raise self.error(f"the slice step `{A.unparse(sl.step).strip()}` (a step is an integer literal)",
                                 construct="slice")
            if step == 0:
                raise self.error("a slice with step 0 (NumPy raises ValueError)", construct="slice")
        bounds = []
        for b in (sl.lower, sl.upper):
            if b is None or (isinstance(b, gast.Constant) and b.value is None):
                bounds.append("None")
                continue
            v = self.int_size(b)
            if v is None:
                raise self.error(f"the slice bound `{A.unparse(b).strip()}` (slice bounds are integers known "
                                 "from the row's length when the kernel is launched, e.g. `x.shape[-1] // 2`; "
                                 "not per-row values)", construct="slice")
            bounds.append(v)
        return bounds[0], bounds[1], step

    def column_slice(self, node, v, k):
        """x[..., a:b:s] of a block: the block evaluated at columns first + j * s, j < length."""
        if k != B:
            raise self.error(f"the slice `{A.unparse(node).strip()}` of a per-row scalar", construct="slice")
        a, b, step = self.slice_bounds(_column_slice(node))
        width = width_of(k)
        if a in ("None", "0") and b == "None" and step == 1:
            return v, k                 # x[..., :] / x[..., 0:]
        first, length = triton_slices.slice_columns(width, a, b, step)
        at = triton_slices.At.shift(self.sizes.arg(first), coef=step)
        return self.columns.value_at(v, at), block_kind(length)

    def scatter_slice(self, s):
        """`dx[..., a:b:step] += g`: column c of dx gains g's lane (c - first) / step where the slice covers c."""
        base = s.target.value
        if not (isinstance(base, gast.Name) and self.kinds.get(base.id) == B and isinstance(s.op, gast.Add)):
            raise self.error(f"the statement `{A.unparse(s).strip()}`", construct="slice")
        kind = self.kinds[base.id]
        a, b, step = self.slice_bounds(_column_slice(s.target))
        first, length = triton_slices.slice_columns(width_of(kind), a, b, step)
        g, kg = self.expr(s.value)
        start, n = self.sizes.arg(first), self.sizes.arg(length)
        at = triton_slices.At.shift(start, sign=-1 if step > 0 else 1, coef=1 if step > 0 else -1)
        t = at.src()                    # (c - first) * sign(step): c's distance into the slice
        j = t if abs(step) == 1 else f"({t}) // {abs(step)}"
        covered = f"({t} >= 0) & ({j} < {n})" + (f" & (({t}) % {abs(step)} == 0)" if abs(step) > 1 else "")
        if abs(step) != 1:
            at = triton_slices.At(opaque=j)
        if kg == B:
            self.sizes.same_width([length, width_of(kg)], self.where)
            g = self.columns.value_at(g, at)
        name = self.var(base.id)
        self.lines.append(f"{name} = {name} + tl.where({covered}, {_src(g)}, 0.0)")

    def concatenate(self, node, label):
        """np.concatenate([a, b, ...], axis=-1) of blocks: lane c is piece k's lane c - (its first column)."""
        items = node.args[0] if node.args else None
        axis = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "axis"), None)
        if not isinstance(items, (gast.List, gast.Tuple)) or not items.elts or \
                [k.arg for k in node.keywords if k.arg != "axis"]:
            raise self.error(f"`{label}` of anything but a list of blocks", construct=label)
        if not (axis is None or self.fold(axis) in (0, -1)):
            raise self.error(f"`{label}` over axis {A.unparse(axis).strip()}: only the row's axis", construct=label)
        parts = [self.expr(e) for e in items.elts]
        if any(k != B for _, k in parts):
            raise self.error(f"`{label}` of a per-row scalar", construct=label)
        offsets, total = [], "0"
        for _, k in parts:
            offsets.append(total)
            total = width_of(k) if total == "0" else f"({total} + {width_of(k)})"
        self.sizes.check(f"({total}) <= D", triton_slices._quote(self.where.text) + " is {0} columns wide, wider "
                         "than the row's {1}", (total, FULL), self.where)
        out = None
        for (v, _), off, end in reversed(list(zip(parts, offsets, offsets[1:] + [None]))):
            o = self.sizes.arg(off)
            piece = self.bind(v, "cat") if o == "0" else self.columns.value_at(v, triton_slices.At.shift(o, -1))
            out = piece if out is None else _e("tl.where(cols < E, P, R)", E=self.sizes.arg(end), P=piece, R=out)
        return out, block_kind(total)

    def arange(self, node, label):
        """np.arange(stop) / (start, stop[, step]) of integers: a block (a + cols * s) of len(range(...))."""
        sizes = [self.int_size(a) for a in node.args]
        if not node.args or len(node.args) > 3 or node.keywords or None in sizes:
            raise self.error(f"`{label}` with other than 1 to 3 integer arguments known from the row's length",
                             construct=label)
        a, b, s = (["0"] + sizes + ["1"])[:3] if len(sizes) == 1 else (sizes + ["1"])[:3]
        step = triton_slices.constant(s)
        if step is None or step == 0:
            raise self.error(f"`{label}` with a step that is not a nonzero integer literal", construct=label)
        width = f"len(range({a}, {b}, {s}))"
        if a == "0" and s == "1" and b == FULL:
            width = FULL
        self.sizes.check(f"({width}) <= D", triton_slices._quote(self.where.text) + " is {0} long, longer than "
                         "the row's {1}", (width, FULL), self.where)
        first = self.sizes.arg(a)
        value = "cols" if first == "0" else f"{first} + cols"
        if step != 1:
            value = f"{'' if first == '0' else first + ' + '}cols * {step}"
        return _e(f"tl.cast({value}, ACC)"), block_kind(width)

    def block_inputs(self):
        """Kernel names of the blocks read from memory (rows, per-column parameters, block cotangents)."""
        return {self.var(p) for p, r in self.roles.items() if r in (ROW, COL)} | set(self.seed_ptrs)

    def load_at(self, name, idx, valid):
        """The load of input block `name` at columns `idx`, or None for a name that is not one."""
        role = next((r for p, r in self.roles.items() if self.var(p) == name), None)
        if role == ROW:
            return f"tl.load({name}_ptr + row_start + {idx}, mask={valid}, other=0.0).to(ACC)"
        if role == COL:
            return f"tl.load({name}_ptr + {idx}, mask={valid}, other=0.0).to(ACC)"
        if name in self.seed_ptrs:
            return f"tl.load({self.seed_ptrs[name]} + row_start + {idx}, mask={valid}, other=0.0).to(ACC)"
        return None

    def resolve(self, func):
        """The Python object a call's function expression refers to, or None."""
        if isinstance(func, gast.Name):
            import builtins
            return self.ns.get(func.id, getattr(builtins, func.id, None))
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id not in self.kinds:
            mod = self.ns.get(func.value.id, {"np": np, "math": math}.get(func.value.id))
            return getattr(mod, func.attr, None) if mod is not None else None
        return None

    def call(self, node):
        label = A.unparse(node.func).strip()
        # method calls on a variable: x.sum(), x.max(axis=-1)
        if isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) \
                and node.func.value.id in self.kinds:
            if node.func.attr in _REDUCTIONS | {"var", "std"}:
                axis = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "axis"), None)
                return self.reduction(node.func.attr, node.func.value, axis, node)
            raise self.error(f"the method call `{label}(...)`", construct=label)
        fn = self.resolve(node.func)
        name = getattr(fn, "__name__", None)
        if isinstance(node.func, gast.Name) and node.func.id in _HELPERS:
            return _HELPERS[node.func.id](self, node)
        if fn is None or name is None:
            raise self.error(f"the call `{label}(...)` (it has no Triton equivalent)", construct=label)
        module = getattr(fn, "__module__", None) or ""
        if not (module.startswith("numpy") or module in ("math", "builtins") or fn in (float, abs, max, min)):
            raise self.error(f"the call `{label}(...)` (it has no Triton equivalent)", construct=label)
        if name in ("var", "std") and module.startswith("numpy"):
            axis = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "axis"), None)
            ddof = next((k.value for k in node.keywords if k.arg == "ddof"), None)
            if ddof is not None and not (isinstance(ddof, gast.Constant) and ddof.value == 0):
                raise self.error(f"`{label}` with ddof", construct=label)
            return self.reduction(name, node.args[0], axis, node)
        if name in ("sum", "mean", "max", "min", "amax", "amin") and fn not in (max, min):
            if fn in (sum,):
                raise self.error("the builtin `sum`", construct="sum")
            axis = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "axis"), None)
            return self.reduction(name, node.args[0], axis, node)
        if name == "concatenate" and module.startswith("numpy") and self.mode == ROWS:
            return self.concatenate(node, label)
        if name == "arange" and module.startswith("numpy") and self.mode == ROWS:
            return self.arange(node, label)
        if name == "size" and module.startswith("numpy"):
            return self.size(node.args[0])
        if name == "len":
            return self.size(node.args[0])
        if name in ("power", "pow") and len(node.args) == 2 and not node.keywords:    # np.power, math.pow, pow
            (a, ka), (b, kb) = self.expr(node.args[0]), self.expr(node.args[1])
            return (self.power(self.acc(self.arith(a), node.args[0]), node.args[1],
                               self.acc(self.arith(b), node.args[1])), self.join(ka, kb))
        if name in _ELEMENTWISE:
            args = [self.expr(a) for a in node.args]
            if node.keywords:
                raise self.error(f"keyword arguments of `{label}`", construct=label)
            tmpl, nargs = _ELEMENTWISE[name]
            if len(args) != nargs:
                raise self.error(f"`{label}` with {len(args)} arguments", construct=label)
            values = [(a if (i == 0 and name == "where") else self.acc(self.arith(a), n))
                      for i, ((a, _), n) in enumerate(zip(args, node.args))]
            kind = self.join(*[k for _, k in args])
            if callable(tmpl):
                return tmpl(self, *values), kind
            values = [self.bind(v) if tmpl.count(f"X{i}") > 1 else v for i, v in enumerate(values)]
            return _e(tmpl, **{f"X{i}": v for i, v in enumerate(values)}), kind
        raise self.error(f"the call `{label}(...)` (it has no Triton equivalent)", construct=label)

    def check_axis(self, axis, label):
        if isinstance(axis, gast.Name) and axis.id in self.constants:
            axis = gast.Constant(value=self.constants[axis.id], kind=None)
        if axis is None or (isinstance(axis, gast.Constant) and axis.value in (None, -1)):
            return
        if isinstance(axis, gast.UnaryOp) and isinstance(axis.op, gast.USub) and \
                isinstance(axis.operand, gast.Constant) and axis.operand.value == 1:
            return
        raise self.error(f"`{label}` over axis {A.unparse(axis).strip()}: only reductions over the last "
                         "axis (the row) are lowered", construct=label)

    def reduction(self, name, arg, axis, node):
        label = A.unparse(node.func).strip()
        self.check_axis(axis, label)
        v, k = self.expr(arg)
        if k == S:
            return v, S
        if self.mode != ROWS:
            raise self.error(f"`{label}` in an elementwise layer", construct=label)
        m, n = self.width_mask(k), self.width_value(width_of(k))
        if name == "sum":
            return self.reduce("sum", v, cond=m), S
        if name == "mean":
            return _e("S / N", S=self.reduce("sum", v, cond=m), N=n), S
        if name in ("max", "amax", "min", "amin"):
            # tl.max / tl.min drop nan on the GPU (max.f32): a row holding one is nan, as in NumPy and torch
            x = self.bind(v, "x")
            red = self.reduce("max" if name in ("max", "amax") else "min", x, cond=m)
            count = self.reduce("sum", ast.Constant(1.0), cond=_e("M & (X != X)", M=m, X=x), what="cnt")
            return self.bind(_e("tl.where(C > 0, float('nan'), R)", C=count, R=red), name.lstrip("a")), S
        if name in ("var", "std"):
            x = self.bind(v, "x")
            mean = self.bind(_e("S / N", S=self.reduce("sum", x, cond=m), N=n), "mean")
            var = _e("S / N", S=self.reduce("sum", _e("(X - M) * (X - M)", X=x, M=mean), cond=m), N=n)
            return (var if name == "var" else _e("tl.sqrt(V)", V=var)), S
        raise self.error(f"`{label}`", construct=label)

    def subscript(self, node):
        # v.shape[-1] / v.shape[0]: the row length
        if isinstance(node.value, gast.Attribute) and node.value.attr == "shape":
            return self.size(node.value.value)
        v, k = self.expr(node.value)
        if k == TUPLE:      # an output's cotangent: dresult[1]
            i = self.fold(node.slice)
            if isinstance(i, int) and -len(v) <= i < len(v):
                return v[i]
            raise self.error(f"the subscript `{A.unparse(node).strip()}` of a tuple", construct="subscript")
        if self.mode == ROWS and _column_slice(node) is not None:
            return self.column_slice(node, v, k)
        if self.mode == ROWS and k == B and not isinstance(node.slice, (gast.Slice, gast.Tuple)):
            if width_of(k) != FULL:
                raise self.error(f"the subscript `{A.unparse(node).strip()}` of a slice (index the row itself)",
                                 construct="subscript")
            idx, ik = self.expr(node.slice)
            if ik == S:
                return self.reduce("sum", v, cond=_e("cols == I", I=self.index(idx)), what="at"), S
        raise self.error(f"the subscript `{A.unparse(node).strip()}`", construct="subscript")

    def reduce(self, op, x, cond=None, what=None):
        """A reduction over the row, as a line of its own, `_rg.._sum = tl.sum(tl.where(COND, X, 0.0), axis=0)`
        (op "max" / "min": tl.max / tl.min with -inf / inf): the wide-row lowering (triton_rows) splits the
        row program into column-chunk passes at exactly these lines."""
        cond = cond if cond is not None else ast.Name("mask")
        fill = {"sum": "0.0", "max": "float('-inf')", "min": "float('inf')"}[op]
        node = _e(f"tl.{op}(tl.where(C, X, {fill}), axis=0)", C=cond, X=x)
        name = f"{self.prefix}{self.tmp}_{what or op}"
        self.tmp += 1
        self.lines.append(f"{name} = {_src(node)}")
        return ast.Name(name)

    def broadcast(self, v, k):
        return v if k == B else _e("X + tl.zeros([BLOCK], ACC)", X=v)


def _eval_const(node):
    """The value of an expression of constants (a lowered exponent, a test on constants)."""
    return eval(compile(ast.fix_missing_locations(ast.Expression(copy.deepcopy(node))), "<constant>", "eval"),
                {"__builtins__": {}})


def _is_const(node):
    return all(isinstance(n, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare, ast.operator, ast.unaryop,
                              ast.cmpop, ast.expr_context)) for n in ast.walk(node))


def _unless(tests, then, otherwise):
    """`then` where any of `tests` holds, else `otherwise`: nested tl.where, no `|` (the interpreter cannot or
    a scalar test on a tl.constexpr with a block); tests on constants are decided here."""
    out = otherwise
    for t in reversed(tests):
        if _is_const(t):
            if _eval_const(t):
                return then
            continue
        out = _e("tl.where(C, T, O)", C=t, T=then, O=out)
    return out


def _isnan(node):
    return _e("X != X", X=node)


def _pow(low, a, b, p=None):
    """x ** y other than for an integer y known here, with NumPy's (C's) rules: |x| ** y = exp(y log |x|);
    a negative base with an integer-valued exponent gives a real result of the exponent's parity, with
    any other exponent nan (but (-inf) ** y = inf ** y); x ** 0 = 1, 1 ** y = 1, (-1) ** +-inf = 1.
    `p`: the exponent when it is a constant (not an integer)."""
    x = low.bind(a, "x")
    y = ast.Constant(p) if p is not None else low.bind(b, "y")
    r = low.bind(_e("tl.exp(Y * tl.log(tl.abs(X)))", X=x, Y=y), "pow")
    fractional = _e("tl.where(X == float('-inf'), R, float('nan'))", X=x, R=r)
    if p is not None:       # not an integer
        signed = _e("tl.where(X < 0, F, R)", X=x, F=fractional, R=r)
    else:
        odd = _e("tl.where(tl.floor(Y) == Y, tl.floor(Y * 0.5) * 2.0 != Y, False)", Y=y)
        odd = low.bind(odd, "odd")
        negative = _e("tl.where(tl.floor(Y) == Y, tl.where(O, -R, R), F)", Y=y, O=odd, R=r, F=fractional)
        # (-0.0) ** y: -r for an odd integer y ((-0.0) ** -1 = -inf)
        zero = _e("tl.where(X == 0, tl.where(1.0 / X < 0, tl.where(O, -R, R), R), R)", X=x, O=odd, R=r)
        signed = _e("tl.where(X < 0, N, Z)", X=x, N=negative, Z=zero)
    if p is None:           # (-1) ** +-inf = 1
        signed = _e("tl.where(tl.abs(Y) == float('inf'), tl.where(X == -1, 1.0, S), S)", Y=y, X=x, S=low.bind(signed, "pow"))
    ones = [_e("X == 1", X=x)] + ([] if p is not None else [_e("Y == 0", Y=y)])
    return _unless(ones, ast.Constant(1.0), signed)


# runtime helpers of the generated code
def _unbroadcast(low, node):
    g, kg = low.expr(node.args[0])
    _, kx = low.expr(node.args[1])
    if kx == S and kg == B and low.mode == ROWS:
        return low.reduce("sum", g, cond=low.width_mask(kg)), S
    return g, kg      # elementwise layers: per-lane contributions, summed over lanes at the end


def _unreduce(low, node):
    g, kg = low.expr(node.args[0])
    _, kx = low.expr(node.args[1])
    if len(node.args) > 2:
        low.check_axis(node.args[2], "unreduce")
    if kx == B and kg == S:
        return low.broadcast(g, S), kx
    return g, kg


def _select_grad(low, node):
    g, _ = low.expr(node.args[0])
    x, kx = low.expr(node.args[1])
    r, _ = low.expr(node.args[2])
    if len(node.args) > 3:
        low.check_axis(node.args[3], "max")
    if kx == S:
        return g, S
    # ties share the cotangent; max(count, 1): a recomputed x that misses the saved max by a rounding
    # (a fused multiply-add in one kernel only) drops the max's cotangent instead of dividing by zero
    x = low.bind(x, "x")
    count = low.reduce("sum", ast.Constant(1.0), cond=_e("M & (X == R)", M=low.width_mask(kx), X=x, R=r), what="cnt")
    return _e("tl.where(X == R, G, 0.0) / tl.maximum(C, 1.0)", X=x, R=r, G=g, C=count), kx


def _zeros_like(low, node):
    v, k = low.expr(node.args[0])
    if k == TUPLE:
        return [((_e("tl.zeros([BLOCK], ACC)"), B) if ke == B else (ast.Constant(0.0), S)) for _, ke in v], TUPLE
    return (_e("tl.zeros([BLOCK], ACC)"), k) if k == B else (ast.Constant(0.0), S)


def _split_like(low, node):
    """split_like(g, [a, b, ...], axis): the adjoint of np.concatenate, piece k is g at columns from the
    first column of a piece k (backends/triton_slices)."""
    g, kg = low.expr(node.args[0])
    items = node.args[1]
    if len(node.args) > 2:
        low.check_axis(node.args[2], "np.concatenate")
    if kg != B or not isinstance(items, (gast.List, gast.Tuple)):
        raise low.error("the adjoint of np.concatenate of anything but blocks", construct="np.concatenate")
    out, offset = [], "0"
    for e in items.elts:
        _, k = low.expr(e)
        o = low.sizes.arg(offset)
        out.append((low.columns.value_at(g, triton_slices.At.shift(o)), block_kind(width_of(k))))
        offset = width_of(k) if offset == "0" else f"({offset} + {width_of(k)})"
    return out, TUPLE


def _add_into(low, node):
    a, ka = low.expr(node.args[0])
    b, kb = low.expr(node.args[1])
    if ka == TUPLE and kb == TUPLE and len(a) == len(b):
        return [(ast.BinOp(x, ast.Add(), y), low.join(kx, ky)) for (x, kx), (y, ky) in zip(a, b)], TUPLE
    if TUPLE in (ka, kb):
        raise low.error("a tuple in an arithmetic expression", construct="tuple")
    return ast.BinOp(a, ast.Add(), b), low.join(ka, kb)


def _snapshot(low, node):
    return low.expr(node.args[0])


def _operands(low, node):
    """The lowered arguments of a rule helper, as ACC values, and the kind of their result."""
    parts = [low.expr(a) for a in node.args]
    return [low.acc(low.arith(v), a) for (v, _), a in zip(parts, node.args)], low.join(*[k for _, k in parts])


def _div_or_zero(low, node):
    (g, y), kind = _operands(low, node)
    y = low.bind(y, "y")
    return _e("tl.where(Y == 0.0, 0.0, G / tl.where(Y == 0.0, 1.0, Y))", G=g, Y=y), kind


def _pow_base_grad(low, node):
    """b * a ** (b - 1), 0 where b == 0: the exponent b - 1 goes through `power` (exact for integers)."""
    (a, b), kind = _operands(low, node)
    b = low.bind(b, "b")
    minus = gast.BinOp(left=node.args[1], op=gast.Sub(), right=gast.Constant(value=1, kind=None))
    slope = low.power(a, minus, _e("B - 1.0", B=b))
    return _e("tl.where(B == 0.0, 0.0, B * P)", B=b, P=slope), kind


def _pow_exp_grad(low, node):
    """a ** b * log(a); 0 at a == 0 for b > 0, nan for b <= 0 (and log's nan for a < 0)."""
    (a, b, y), kind = _operands(low, node)
    a, b = low.bind(a, "a"), low.bind(b, "b")
    return _e("tl.where(A == 0.0, tl.where(B > 0.0, 0.0, float('nan')), Y * tl.log(A))", A=a, B=b, Y=y), kind


def _clip_mask(low, node):
    """Which operand np.clip's result comes from (elementwise.clip_mask): 0 -> a, 1 -> a_min, 2 -> a_max."""
    which = low.fold(node.args[3])
    if which not in (0, 1, 2):
        raise low.error("np.clip's cotangent with a run-time selector", construct="np.clip")
    parts = [low.expr(a) for a in node.args[:3]]
    kind = low.join(*[k for _, k in parts])
    none = [isinstance(a, gast.Constant) and a.value is None for a in node.args[1:3]]
    a = low.bind(low.acc(low.arith(parts[0][0]), node.args[0]), "a")
    lo = _e("float('-inf')") if none[0] else low.bind(low.acc(low.arith(parts[1][0]), node.args[1]), "lo")
    hi = _e("float('inf')") if none[1] else low.bind(low.acc(low.arith(parts[2][0]), node.args[2]), "hi")
    above = low.bind(_e("tl.where(A > LO, A, LO) > HI", A=a, LO=lo, HI=hi), "above")
    pick = {0: "(A >= LO) & ~ABOVE", 1: "(A < LO) & ~ABOVE", 2: "ABOVE"}[which]
    return _e(f"tl.where({pick}, 1.0, 0.0)", A=a, LO=lo, ABOVE=above), kind


_HELPERS = {"unbroadcast": _unbroadcast, "unreduce": _unreduce, "select_grad": _select_grad,
            "zeros_like": _zeros_like, "split_like": _split_like, "add_into": _add_into, "add_tree": _add_into, "snapshot": _snapshot,
            # the rule helpers that keep rules exact at the edges of their domains (reverse/rules)
            "div_or_zero": _div_or_zero, "pow_base_grad": _pow_base_grad, "pow_exp_grad": _pow_exp_grad,
            "clip_mask": _clip_mask}

# Formulas that keep relative accuracy where the textbook one cancels (near 0), and NumPy's nan and inf
# rules where tl.* differs on the GPU (tl.maximum / tl.minimum drop nan there, as max.f32 does).
def _expm1(low, x):
    # Kahan: (u - 1) / log(u) * x with u = exp(x) cancels the rounding error of u (also of an approximate
    # exp, as ex2.approx on the GPU); u == 1 where exp(x) rounds to 1; divided first: (u - 1) * x overflows
    x = low.bind(x, "x")
    u = low.bind(_e("tl.exp(X)", X=x), "u")
    return _e("tl.where(U == 1.0, X, tl.where(X == float('inf'), X, tl.where(U - 1.0 == -1.0, -1.0, "
              "(U - 1.0) / tl.log(U) * X)))", X=x, U=u)


def _log1p(low, x):
    # log(u) * (x / (u - 1)) with u = 1 + x: the rounding of 1 + x cancels (divided first: log(u) * x overflows)
    x = low.bind(x, "x")
    u = low.bind(_e("1.0 + X", X=x), "u")
    return _e("tl.where(U == 1.0, X, tl.where(X == float('inf'), X, tl.log(U) * (X / (U - 1.0))))", X=x, U=u)


def _tanh(low, x):
    # tanh|x| = -e / (2 + e) with e = expm1(-2|x|) in (-1, 0]: no cancellation anywhere
    x = low.bind(x, "x")
    e = low.bind(_expm1(low, _e("-2.0 * tl.abs(X)", X=x)), "e")
    t = low.bind(_e("-E / (2.0 + E)", E=e), "tanh")
    return _e("tl.where(X < 0, -T, T)", X=x, T=t)


def _half_exp(x):
    """exp(|x|) / 2 for |x| > 20 (where exp(-|x|) no longer counts) as (exp(|x|/2) / 2) * exp(|x|/2): finite
    up to the largest sinh / cosh, where exp(|x|) overflows, and without rounding |x| - log 2."""
    return _e("0.5 * tl.exp(0.5 * tl.abs(X)) * tl.exp(0.5 * tl.abs(X))", X=x)


def _sinh(low, x):
    # sinh|x| = (e + e / (e + 1)) / 2 with e = expm1(|x|) >= 0: no cancellation
    x = low.bind(x, "x")
    e = low.bind(_expm1(low, _e("tl.where(tl.abs(X) > 20.0, 20.0, tl.abs(X))", X=x)), "e")   # nan stays nan
    t = low.bind(_e("tl.where(tl.abs(X) > 20.0, H, 0.5 * (E + E / (E + 1.0)))", X=x, E=e, H=_half_exp(x)), "sinh")
    return _e("tl.where(X < 0, -T, T)", X=x, T=t)


def _cosh(low, x):
    x = low.bind(x, "x")
    return _e("tl.where(tl.abs(X) > 20.0, H, 0.5 * (tl.exp(X) + tl.exp(-X)))", X=x, H=_half_exp(x))


def _maximum(low, a, b, op="maximum"):
    a, b = low.bind(a, "a"), low.bind(b, "b")
    return _unless([_isnan(a), _isnan(b)], _e("A + B", A=a, B=b), _e(f"tl.{op}(A, B)", A=a, B=b))


def _minimum(low, a, b):
    return _maximum(low, a, b, "minimum")


def _fmax(low, a, b, op="maximum"):
    # fmax / fmin ignore a nan operand
    a, b = low.bind(a, "a"), low.bind(b, "b")
    return _unless([_isnan(a)], b, _unless([_isnan(b)], a, _e(f"tl.{op}(A, B)", A=a, B=b)))


def _fmin(low, a, b):
    return _fmax(low, a, b, "minimum")


def _clip(low, x, lo, hi):
    return _minimum(low, _maximum(low, x, lo), hi)


def _logaddexp(low, a, b):
    # max + log1p(exp(-|a - b|)); a == b (infinities included) is a + log 2
    a, b = low.bind(a, "a"), low.bind(b, "b")
    tail = _log1p(low, _e("tl.exp(-tl.abs(A - B))", A=a, B=b))
    return _e("tl.where(A == B, A + 0.6931471805599453, tl.maximum(A, B) + L)", A=a, B=b, L=tail)


def _hypot(low, a, b):
    # scaled by the larger magnitude so that neither the squares overflow nor underflow
    a, b = low.bind(a, "a"), low.bind(b, "b")
    m = low.bind(_e("tl.maximum(tl.abs(A), tl.abs(B))", A=a, B=b), "m")
    n = low.bind(_e("tl.minimum(tl.abs(A), tl.abs(B))", A=a, B=b), "n")
    q = low.bind(_e("N / tl.where(M == 0.0, 1.0, M)", N=n, M=m), "q")
    finite = _unless([_isnan(a), _isnan(b)], _e("A + B", A=a, B=b), _e("M * tl.sqrt(1.0 + Q * Q)", M=m, Q=q))
    return _e("tl.where(M == float('inf'), M, F)", M=m, F=finite)


# NumPy / math functions -> Triton (only what the interpreter and the CUDA backend both lower): a template
# (X0, X1, ...: the arguments; one read twice is computed once) or a function of the lowering and arguments
_ELEMENTWISE = {
    "exp": ("tl.exp(X0)", 1), "log": ("tl.log(X0)", 1), "sqrt": ("tl.sqrt(X0)", 1),
    "sin": ("tl.sin(X0)", 1), "cos": ("tl.cos(X0)", 1),
    "exp2": ("tl.exp2(X0)", 1), "log2": ("tl.log2(X0)", 1), "log10": ("tl.log(X0) * 0.4342944819032518", 1),
    "expm1": (_expm1, 1), "log1p": (_log1p, 1), "tanh": (_tanh, 1), "sinh": (_sinh, 1),
    "cosh": (_cosh, 1),
    "absolute": ("tl.abs(X0)", 1), "abs": ("tl.abs(X0)", 1), "fabs": ("tl.abs(X0)", 1),
    "sign": ("tl.where(X0 > 0, 1.0, tl.where(X0 < 0, -1.0, tl.where(X0 == 0, 0.0, X0)))", 1),
    "square": ("X0 * X0", 1), "reciprocal": ("1.0 / X0", 1),
    "maximum": (_maximum, 2), "minimum": (_minimum, 2), "fmax": (_fmax, 2), "fmin": (_fmin, 2),
    # the builtins: max(a, b) is `b if b > a else a` (so max(1.0, nan) is 1.0 and max(nan, 1.0) nan)
    "max": ("tl.where(X1 > X0, X1, X0)", 2), "min": ("tl.where(X1 < X0, X1, X0)", 2),
    "where": ("tl.where(X0, X1, X2)", 3), "clip": (_clip, 3),
    "logaddexp": (_logaddexp, 2), "hypot": (_hypot, 2),
    "float": ("X0", 1), "float64": ("X0", 1), "float32": ("X0", 1),
    "true_divide": ("X0 / X1", 2), "divide": ("X0 / X1", 2),
}


# ---- kernels ------------------------------------------------------------------------------------------

def _indent(lines, n):
    return [(" " * n + l) if l else l for l in lines]


def _defs_uses(stmt):
    """(names defined, names read) of a lowered source line `name = expr`, or (None, names) for others."""
    tree = ast.parse(stmt)
    s = tree.body[0]
    uses = {n.id for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name):
        return s.targets[0].id, uses
    return None, uses


def _live(lines, needed, available=()):
    """Keep the lines (straight-line `name = expr` code and comments) needed for the names in `needed`;
    names in `available` are loaded, not computed."""
    out, needed = [], set(needed)
    for line in reversed(lines):
        if line.startswith("#"):
            out.append(line)
            continue
        target, uses = _defs_uses(line)
        if target is None:      # dx = tl.where(cols == t, g, dx) and the like are assignments too
            out.append(line)
            needed |= uses
            continue
        if target in available:
            needed.discard(target)
            continue
        if target in needed:
            needed.discard(target)
            needed |= uses
            out.append(line)
    out.reverse()
    # drop comments that head no statement
    kept = []
    for i, line in enumerate(out):
        if line.startswith("#") and (i + 1 == len(out) or out[i + 1].startswith("#")):
            continue
        kept.append(line)
    return kept, needed


_REDUCTION_TMP = re.compile(r"_rg[fb]\d+_(sum|max|min|cnt|at)\b")


def _is_reduction_line(line):
    """Does the line reduce the row, or read a reduction's temporary (`m = tl.where(_rgf2_cnt > 0, ...)`)?"""
    return "tl.sum(" in line or "tl.max(" in line or "tl.min(" in line or bool(_REDUCTION_TMP.search(line))


def build(program, tf, primal_name, adjoint_name, roles, mode, wrt, title, chunked=False, tiled=False):
    """Lower the primal and adjoint of `program` to Triton kernels: (KernelPlan, module source)."""
    primal = next(f for f in program.functions if f.name == primal_name)
    adjoint = next(f for f in program.functions if f.name == adjoint_name)
    name = tf.fn.__name__
    params = list(roles)
    ns = dict(program.namespace)

    # forward body
    fwd = Lowering(mode, roles, ns, tf.src, program.comments, prefix="_rgf", check_index=True,
                   comment_locations=program.comment_locations)
    for p in params:
        fwd.kinds[p] = B if roles[p] in (ROW, COL, ELEM) else S
    body = primal.body
    ret = body[-1]
    if not (isinstance(ret, gast.Return) and isinstance(ret.value, gast.Tuple) and len(ret.value.elts) == 2
            and isinstance(ret.value.elts[0], gast.Name)):
        raise BackendError(f"the triton backend cannot lower {name}: unexpected generated primal", hint=_HINT)
    result = ret.value.elts[0].id
    defs_count, last_line = {}, None
    for s in body[:-1]:
        fwd.at_primal(s)
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            defs_count[s.targets[0].id] = defs_count.get(s.targets[0].id, 0) + 1
        if fwd.where.lineno != last_line:
            last_line = fwd.where.lineno
            fwd.lines.append(f"# {fwd.where.text}  ({os.path.basename(fwd.where.filename)}:{last_line})")
        fwd.statement(s)
    fwd_lines = fwd.lines
    for v in params:
        if defs_count.get(v):
            raise BackendError(f"the triton backend cannot lower an assignment to the parameter `{v}` of {name}",
                               filename=tf.src.filename, lineno=None, construct=v,
                               hint="assign to a new name instead")
    result_kind = fwd.kinds[result]
    if result_kind == TUPLE:   # (a, b): one output tensor per element, each with its own cotangent
        outputs = [(f"result{i}", fwd.var(e), fwd.kinds[e]) for i, e in enumerate(fwd.tuples[result])]
    else:
        outputs = [("result", fwd.var(result), result_kind)]
    for _, _, k in outputs:     # an output is a whole row (or a per-row scalar): a slice of it is checked
        if k == B and width_of(k) != FULL:
            fwd.sizes.check(f"({width_of(k)}) == D", f"{name} returns a block of {{0}} columns, not a whole row "
                            "of {1}", (width_of(k), FULL), Where(tf.src.filename, None, None))
    outputs = [(o, v, B if k == B else k) for o, v, k in outputs]
    result_kind = B if result_kind == B else result_kind
    primal_kinds = dict(fwd.kinds)

    # adjoint body
    bwd = Lowering(mode, roles, ns, tf.src, program.comments, prefix="_rgb",
                   comment_locations=program.comment_locations)
    bwd.constants = {v: c for v, c in fwd.constants.items() if defs_count.get(v) == 1}   # `k = 5` read by `x ** (k - 1)`
    bwd.ints = {v: c for v, c in fwd.ints.items() if defs_count.get(v) == 1}             # slice bounds
    bwd.sizes, bwd.prior, bwd.columns.prior_loads = fwd.sizes, fwd.lines, fwd.columns.loads
    saved = []
    abody = adjoint.body
    seed = adjoint.args.args[0].id
    if abody and isinstance(abody[0], gast.Assign) and isinstance(abody[0].targets[0], gast.Tuple) \
            and isinstance(abody[0].value, gast.Name) and abody[0].value.id == "saved":
        saved = [e.id for e in abody[0].targets[0].elts]
        abody = abody[1:]
    aret = abody[-1]
    for v in saved:
        if v not in primal_kinds:
            raise BackendError(f"the triton backend cannot lower {name}: its adjoint needs `{v}` from a tape",
                               filename=tf.src.filename, construct=v, hint=_HINT)
        bwd.kinds[v] = primal_kinds[v]
        if v in fwd.tuples:
            bwd.tuples[v] = fwd.tuples[v]
            bwd.kinds.update({e: primal_kinds[e] for e in fwd.tuples[v]})
    bwd.kinds[seed] = result_kind
    if result_kind == TUPLE:
        bwd.tuples[seed] = [f"{seed}_t{i}" for i in range(len(outputs))]
        bwd.kinds.update({e: k for e, (_, _, k) in zip(bwd.tuples[seed], outputs)})
    seeds = [(f"d{o}", bwd.var(e), k) for (o, _, k), e in
             zip(outputs, bwd.tuples[seed] if result_kind == TUPLE else [seed])]
    bwd.seed_ptrs = {v: f"{d}_ptr" for d, v, k in seeds if k == B}
    for s in abody[:-1]:
        bwd.statement(s)
    grads = []
    for p, e in zip([p for p in params if p in wrt], aret.value.elts):
        g, k = bwd.expr(e)
        grads.append((p, _src(g), k))
    adj_lines = bwd.lines
    free = set()
    defined = set()
    for l in adj_lines:
        if l.startswith("#"):
            continue
        t, uses = _defs_uses(l)
        free |= uses - defined
        defined.add(t)
    for _, g, _ in grads:
        free |= {n.id for n in ast.walk(ast.parse(g)) if isinstance(n, ast.Name)} - defined
    lowered = {fwd.var(k): k for k in primal_kinds}
    free = {n for n in free if n in lowered and lowered[n] != seed and n not in {v for _, v, _ in seeds}}

    # what the forward saves: per-row scalars computed by a reduction, assigned once, read by the backward
    param_vars = {fwd.var(p) for p in params}
    needed = free - param_vars
    stats = []
    if mode == ROWS:
        while True:
            before = len(stats)
            recompute, _ = _live([l for l in fwd_lines if not l.startswith("tl.store(index_error_ptr")], needed,
                                 set(stats))
            for l in recompute:
                if l.startswith("#"):
                    continue
                t, _ = _defs_uses(l)
                orig = lowered.get(t, t)
                if primal_kinds.get(orig) == S and defs_count.get(orig) == 1 and _is_reduction_line(l) \
                        and t not in stats:
                    stats.append(t)
            if len(stats) == before:
                break
    checked = [l for l in fwd_lines if not l.startswith("tl.store(index_error_ptr")]   # the forward checks
    recompute, leftover = _live(checked, needed, set(stats))
    leftover -= param_vars | set(stats) | RESERVED | {f"{v}_ptr" for v in param_vars} | set(fwd.sizes.args.values())
    if leftover:
        raise BackendError(f"the triton backend cannot lower {name}: the backward needs {sorted(leftover)}",
                           filename=tf.src.filename, hint=_HINT)
    fwd_body, _ = _live(fwd_lines, {v for _, v, _ in outputs} | set(stats))

    plan = KernelPlan(name=name, mode=mode, roles=dict(roles), params=params, wrt=[p for p in params if p in wrt],
                      result_kind=result_kind, outputs=[(o, k) for o, _, k in outputs], stats=stats, index_sites=list(fwd.index_sites),
                      index_params=[p for p in params if fwd.var(p) in fwd.index_names | bwd.index_names],
                      fwd_name=f"{name}_fwd_kernel",
                      bwd_name=f"{name}_bwd_kernel", chunked=chunked and mode == ROWS,
                      tiled=tiled and not chunked and mode == ROWS,
                      sizes=list(fwd.sizes.args.items()), checks=list(fwd.sizes.checks))
    adj_lines, _ = _live(adj_lines, set().union(*[{n.id for n in ast.walk(ast.parse(g)) if isinstance(n, ast.Name)}
                                                   for _, g, _ in grads]) if grads else set())
    if plan.chunked:
        try:
            fwd_src = _chunked_forward_kernel(plan, fwd, fwd_body, outputs, title)
            bwd_src = _chunked_backward_kernel(plan, bwd, recompute, adj_lines, grads, seeds, title)
        except triton_rows.Unchunkable as exc:
            raise BackendError(f"the triton backend cannot split {name} into column chunks for rows wider than "
                               f"one block (a reduction inside `{exc}`)", filename=tf.src.filename,
                               hint="please report this with the function's source") from None
    elif plan.tiled:
        fwd_src = _tiled_forward_kernel(plan, fwd, fwd_body, outputs, title)
        bwd_src = _tiled_backward_kernel(plan, bwd, recompute, adj_lines, grads, seeds, title)
    else:
        fwd_src = _forward_kernel(plan, fwd, fwd_body, outputs, title)
        bwd_src = _backward_kernel(plan, bwd, recompute, adj_lines, grads, seeds, title)
    header = (f'"""Triton kernels generated by retrograd from {title}.  Regenerated on every change: '
              'do not edit."""\nimport triton\nimport triton.language as tl')
    plan.source = "\n\n\n".join([header, fwd_src, bwd_src, SUM_PARTIALS]) + "\n"
    return plan


def _signature_params(plan, low, params=None):
    out = []
    for p in plan.params if params is None else params:
        r = plan.roles[p]
        out.append(f"{low.var(p)}_ptr" if r in TENSOR_ROLES else f"{low.var(p)}: tl.constexpr")
        if r == ELEM:       # read through its strides (0 on a broadcast axis): no broadcast copy
            out += elem_strides(low.var(p))
    return out


ELEM_DIMS = 4       # elementwise operands are read as (at most) 4-d strided views of the broadcast shape
ELEM_SIZES = [f"_rg_size{d}" for d in range(1, ELEM_DIMS)]


def elem_strides(v):
    """The stride arguments of an elementwise operand `v` (elements, per axis of the collapsed shape)."""
    return [f"_rg_{v}_s{d}" for d in range(ELEM_DIMS)]


def _elem_index():
    """Lines splitting the flat index `offs` of the (collapsed, 4-d) broadcast shape into its axes."""
    last = ELEM_DIMS - 1
    lines = [f"_rg_i{last} = offs % _rg_size{last}", f"_rg_r = offs // _rg_size{last}"]
    for d in range(last - 1, 0, -1):
        lines += [f"_rg_i{d} = _rg_r % _rg_size{d}", f"_rg_r = _rg_r // _rg_size{d}"]
    return lines + ["_rg_i0 = _rg_r"]


def _prologue(plan, low, used):
    """Program setup and loads of what is the same for every row of the program."""
    lines = ["pid = tl.program_id(0)"]
    if plan.mode == ROWS:
        lines += ["cols = tl.arange(0, BLOCK)", "mask = cols < n_cols", "n_cols_f = tl.cast(n_cols, ACC)"]
    else:
        lines += ["offs = tl.cast(pid, tl.int64) * BLOCK + tl.arange(0, BLOCK)", "mask = offs < n_elements"]
    for p in plan.params:
        r, v = plan.roles[p], low.var(p)
        if v not in used:
            continue
        if r == COL:
            lines.append(f"{v} = tl.load({v}_ptr + cols, mask=mask, other=0.0).to(ACC)")
        elif r == SCALAR_T:
            lines.append(f"{v} = tl.load({v}_ptr).to(ACC)")
        elif r == ELEM:
            if "_rg_i0" not in "".join(lines):
                lines += _elem_index()
            at = " + ".join(f"_rg_i{d} * {s}" for d, s in enumerate(elem_strides(v)))
            lines.append(f"{v} = tl.load({v}_ptr + {at}, mask=mask, other=0).to(ACC)")
    return lines


def _row_loads(plan, low, used):
    lines = []
    for p in plan.params:
        r, v = plan.roles[p], low.var(p)
        if v not in used:
            continue
        if r == ROW:
            lines.append(f"{v} = tl.load({v}_ptr + offs, mask=mask, other=0.0).to(ACC)")
        elif r == ROWINT:
            lines.append(f"{v} = tl.load({v}_ptr + row)")
        elif r == ROWF:
            lines.append(f"{v} = tl.load({v}_ptr + row).to(ACC)")
    return lines


def _used(lines):
    return {n.id for l in lines if not l.startswith("#") for n in ast.walk(ast.parse(l.strip()))
            if isinstance(n, ast.Name)}


def _store(ptr, value, kind, mode, result=True):
    if mode == ROWS and kind == S:
        return f"tl.store({ptr} + row, {value}.to({ptr}.dtype.element_ty))" if result else \
            f"tl.store({ptr} + row, {value})"
    if kind == S:
        value = f"({value}) + tl.zeros([BLOCK], ACC)"
    return f"tl.store({ptr} + offs, {value}.to({ptr}.dtype.element_ty), mask=mask)"


def _def(name, args, doc):
    sig = ", ".join(args)
    head = f"@triton.jit\ndef {name}({sig}):"
    return [head, f'    """{doc}"""']


def _rows_loop(body):
    if not any("row_start" in line for line in body):
        offs = ["    offs = tl.cast(row, tl.int64) * n_cols + cols"]
    else:       # a slice loads the row at other columns: row_start + idx
        offs = ["    row_start = tl.cast(row, tl.int64) * n_cols", "    offs = row_start + cols"]
    return (["first = pid * rows_per_program",
             "for row in range(first, tl.minimum(first + rows_per_program, n_rows)):"] + offs + _indent(body, 4))


def _size_args(plan):
    """The launch-time integers a row kernel takes (slices: backends/triton_slices)."""
    return [name for _, name in plan.sizes]


def _output_stores(plan, outputs, mode):
    return [_store(f"{o}_ptr", v, k, mode) for o, v, k in outputs]


def _seed_loads(plan, seeds):
    """Each output's cotangent: a block, or a per-row scalar (rows) read by the backward."""
    return [f"{v} = tl.load({d}_ptr + row).to(ACC)" if plan.mode == ROWS and k == S
            else f"{v} = tl.load({d}_ptr + offs, mask=mask, other=0.0).to(ACC)" for d, v, k in seeds]


def _forward_kernel(plan, low, body, outputs, title):
    stats = ", ".join(plan.stats)
    if plan.mode == ROWS:
        doc = (f"Forward of {title}: each program handles `rows_per_program` rows, one row at a time as a "
               f"block of BLOCK >= n_cols columns." + (f"  Saves per-row {stats} for the backward." if stats else ""))
        args = _signature_params(plan, low) + [f"{o}_ptr" for o, _ in plan.outputs] + [f"{s}_ptr" for s in plan.stats] + \
            (["index_error_ptr"] if plan.index_sites else []) + ["n_rows", "n_cols", "rows_per_program"] + \
            _size_args(plan) + ["BLOCK: tl.constexpr", "ACC: tl.constexpr"]
        tail = _output_stores(plan, outputs, ROWS) + [f"tl.store({s}_ptr + row, {s})" for s in plan.stats]
        used = _used(body + tail)
        inner = _row_loads(plan, low, used) + body + tail
        lines = _def(plan.fwd_name, args, doc) + _indent(_prologue(plan, low, used) + _rows_loop(inner), 4)
    else:
        doc = f"Forward of {title}: elementwise, each program computes a block of BLOCK elements."
        args = _signature_params(plan, low) + [f"{o}_ptr" for o, _ in plan.outputs] + \
            ["n_elements"] + ELEM_SIZES + ["BLOCK: tl.constexpr", "ACC: tl.constexpr"]
        tail = _output_stores(plan, outputs, ELEMENTWISE)
        inner = _prologue(plan, low, _used(body + tail)) + body + tail
        lines = _def(plan.fwd_name, args, doc) + _indent(inner, 4)
    return "\n".join(lines)


def _grad_kind(low, role, kind):
    """A per-row float's gradient is a per-row scalar (the adjoint sums a block over the row first)."""
    if role == ROWF and kind != S:
        raise BackendError("the triton backend cannot lower a per-row input's gradient that is a block",
                           hint="please report this with the function's source")
    return kind


def _read_by_backward(plan, low, lines):
    """The arguments the backward kernel takes (and the launcher saves for it): those its lines read (a
    slice loads `x_ptr` at other columns)."""
    used = _used(lines)
    plan.bwd_params = [p for p in plan.params if low.var(p) in used or f"{low.var(p)}_ptr" in used]


def _backward_kernel(plan, low, recompute, adj, grads, seeds, title):
    gargs, accs, acc_init, after = [], [], [], []
    for p, g, k in grads:
        r, v = plan.roles[p], low.var(p)
        if r in (ROW, ELEM, ROWF):
            gargs.append(f"d{v}_ptr")
            accs.append(_store(f"d{v}_ptr", g, _grad_kind(low, r, k), plan.mode, result=False))
        elif r == COL:
            gargs.append(f"d{v}_partial_ptr")
            acc_init.append(f"d{v}_acc = tl.zeros([BLOCK], ACC)")
            accs.append(f"d{v}_acc += {g}")
            after.append(f"tl.store(d{v}_partial_ptr + pid * n_cols + cols, d{v}_acc, mask=mask)")
        elif r == SCALAR_T:
            gargs.append(f"d{v}_partial_ptr")
            if plan.mode == ROWS:
                acc_init.append(f"d{v}_acc = tl.zeros([1], ACC)")
                total = g if k == S else f"tl.sum(tl.where(mask, {g}, 0.0), axis=0)"
                accs.append(f"d{v}_acc += {total}")
                after.append(f"tl.store(d{v}_partial_ptr + pid + tl.arange(0, 1), d{v}_acc)")
            else:
                block = g if k == B else f"({g}) + tl.zeros([BLOCK], ACC)"
                after.append(f"tl.store(d{v}_partial_ptr + pid, tl.sum(tl.where(mask, {block}, 0.0), axis=0))")
    seed_load = _seed_loads(plan, seeds)
    stat_loads = [f"{s} = tl.load({s}_ptr + row)" for s in plan.stats]
    recompute = (["# recomputed from the inputs" + (" and the saved statistics" if plan.stats else "")] + recompute
                 if recompute else [])
    _read_by_backward(plan, low, recompute + adj + accs + after)
    params = _signature_params(plan, low, plan.bwd_params) + [f"{s}_ptr" for s in plan.stats] + \
        [f"{d}_ptr" for d, _, _ in seeds] + gargs
    wrt = ", ".join(p for p, _, _ in grads)
    if plan.mode == ROWS:
        doc = (f"Backward of {title} (gradients of {wrt}): recomputes the row from the inputs"
               + (" and the saved per-row statistics" if plan.stats else "")
               + "; (D,)- and scalar-parameter gradients are summed over this program's rows into one partial "
               "sum per program.")
        args = params + ["n_rows", "n_cols", "rows_per_program"] + _size_args(plan) + \
            ["BLOCK: tl.constexpr", "ACC: tl.constexpr"]
        used = _used(recompute + adj + accs + after)
        inner = _row_loads(plan, low, used) + stat_loads + seed_load + recompute + adj + accs
        lines = _def(plan.bwd_name, args, doc) + _indent(_prologue(plan, low, used) + acc_init + _rows_loop(inner)
                                                         + after, 4)
    else:
        doc = (f"Backward of {title} (gradients of {wrt}): elementwise; scalar-parameter gradients are summed "
               "over the block into one partial sum per program.")
        args = params + ["n_elements"] + ELEM_SIZES + ["BLOCK: tl.constexpr", "ACC: tl.constexpr"]
        inner = _prologue(plan, low, _used(recompute + adj + accs + after)) + seed_load + recompute + adj + accs + after
        lines = _def(plan.bwd_name, args, doc) + _indent(inner, 4)
    return "\n".join(lines)


# ---- rows wider than a block: the same row program in passes over column chunks (triton_rows) -------------

_CHUNKED_SIZES = ["n_rows", "n_cols", "rows_per_program", "BLOCK: tl.constexpr", "ACC: tl.constexpr",
                  "NUM_STAGES: tl.constexpr"]


def _chunked_sizes(plan):
    return _CHUNKED_SIZES[:3] + _size_args(plan) + _CHUNKED_SIZES[3:]


def _chunked_loads(plan, low, used):
    """Loads of the row's inputs: blocks (rows, per-column parameters) per chunk, targets per row."""
    lines = []
    for p in plan.params:
        r, v = plan.roles[p], low.var(p)
        if v not in used:
            continue
        if r == ROW:
            lines.append(f"{v} = tl.load({v}_ptr + offs, mask=mask, other=0.0).to(ACC)")
        elif r == COL:
            lines.append(f"{v} = tl.load({v}_ptr + cols, mask=mask, other=0.0).to(ACC)")
        elif r == ROWINT:
            lines.append(f"{v} = tl.load({v}_ptr + row)")
        elif r == ROWF:
            lines.append(f"{v} = tl.load({v}_ptr + row).to(ACC)")
    return lines


def _chunked_prologue(plan, low, used):
    lines = ["pid = tl.program_id(0)", "n_cols_f = tl.cast(n_cols, ACC)"]
    for p in plan.params:
        v = low.var(p)
        if plan.roles[p] == SCALAR_T and v in used:
            lines.append(f"{v} = tl.load({v}_ptr).to(ACC)")
    return lines


def _chunked_rows(body):
    return (["first = pid * rows_per_program",
             "for row in range(first, tl.minimum(first + rows_per_program, n_rows)):",
             "    row_start = tl.cast(row, tl.int64) * n_cols"] + _indent(triton_rows.split_passes(body), 4))


def _chunked_forward_kernel(plan, low, body, outputs, title):
    stats = ", ".join(plan.stats)
    doc = (f"Forward of {title}: each program handles `rows_per_program` rows, each in passes over chunks of "
           f"BLOCK columns (a pass ends at the reductions it carries)."
           + (f"  Saves per-row {stats} for the backward." if stats else ""))
    args = _signature_params(plan, low) + [f"{o}_ptr" for o, _ in plan.outputs] + [f"{s}_ptr" for s in plan.stats] + \
        (["index_error_ptr"] if plan.index_sites else []) + _chunked_sizes(plan)
    tail = ["# the result" + (" and the statistics" if plan.stats else "")] + \
        _output_stores(plan, outputs, ROWS) + [f"tl.store({s}_ptr + row, {s})" for s in plan.stats]
    used = _used(body + tail)
    lines = _def(plan.fwd_name, args, doc) + _indent(
        _chunked_prologue(plan, low, used) + _chunked_rows(_chunked_loads(plan, low, used) + body + tail), 4)
    return "\n".join(lines)


def _chunked_backward_kernel(plan, low, recompute, adj, grads, seeds, title):
    gargs, accs, acc_init, after = [], [], [], []
    for p, g, k in grads:
        r, v = plan.roles[p], low.var(p)
        block = g if k == B else f"({g}) + tl.zeros([BLOCK], ACC)"
        if r == ROW:
            gargs.append(f"d{v}_ptr")
            accs.append(f"tl.store(d{v}_ptr + offs, {block}.to(d{v}_ptr.dtype.element_ty), mask=mask)")
        elif r == ROWF:     # a per-row scalar: stored once, after the passes that compute it
            gargs.append(f"d{v}_ptr")
            _grad_kind(low, r, k)
            accs.append(f"tl.store(d{v}_ptr + row, {g})")
        elif r == COL:
            # this program's partial sums, zeroed by the launcher: read back and added to, chunk by chunk
            gargs.append(f"d{v}_partial_ptr")
            part = f"d{v}_partial_ptr + tl.cast(pid, tl.int64) * n_cols + cols"
            accs.append(f"tl.store({part}, tl.load({part}, mask=mask, other=0.0) + {block}, mask=mask)")
        elif r == SCALAR_T:
            gargs.append(f"d{v}_partial_ptr")
            acc_init.append(f"d{v}_acc = tl.zeros([1], ACC)")
            if k == B:
                accs.append(f"_rgs_d{v}_sum = tl.sum(tl.where(mask, {g}, 0.0), axis=0)")
                accs.append(f"d{v}_acc += _rgs_d{v}_sum")
            else:
                accs.append(f"d{v}_acc += {g}")
            after.append(f"tl.store(d{v}_partial_ptr + pid + tl.arange(0, 1), d{v}_acc)")
    seed_load = _seed_loads(plan, seeds)
    stat_loads = [f"{s} = tl.load({s}_ptr + row)" for s in plan.stats]
    _read_by_backward(plan, low, recompute + adj + accs + after)
    params = _signature_params(plan, low, plan.bwd_params) + [f"{s}_ptr" for s in plan.stats] + \
        [f"{d}_ptr" for d, _, _ in seeds] + gargs
    wrt = ", ".join(p for p, _, _ in grads)
    doc = (f"Backward of {title} (gradients of {wrt}): recomputes the row from the inputs"
           + (" and the saved per-row statistics" if plan.stats else "")
           + " in passes over chunks of BLOCK columns; (D,)-parameter gradients are added into this program's "
           "partial sums in memory, scalar-parameter gradients summed in a register.")
    used = _used(recompute + adj + accs + after)
    body = _chunked_loads(plan, low, used) + stat_loads + seed_load + recompute + adj + ["# the gradients"] + accs
    lines = _def(plan.bwd_name, params + _chunked_sizes(plan), doc) + _indent(
        _chunked_prologue(plan, low, used) + acc_init + _chunked_rows(body) + after, 4)
    return "\n".join(lines)


# ---- short rows: the one-block row program on [ROWS, BLOCK] tiles (triton_narrow) -------------------------

def _tiled_sizes(plan):
    return ["n_rows", "n_cols", "rows_per_program"] + _size_args(plan) + \
        ["BLOCK: tl.constexpr", "ACC: tl.constexpr", "ROWS: tl.constexpr"]


def _tiled_prologue(plan, low, used):
    lines = ["pid = tl.program_id(0)", "cols = tl.arange(0, BLOCK)[None, :]", "cmask = cols < n_cols",
             "n_cols_f = tl.cast(n_cols, ACC)"]
    for p in plan.params:
        r, v = plan.roles[p], low.var(p)
        if v in used and r == COL:
            lines.append(f"{v} = tl.load({v}_ptr + cols, mask=cmask, other=0.0).to(ACC)")
        elif v in used and r == SCALAR_T:
            lines.append(f"{v} = tl.load({v}_ptr).to(ACC)")
    return lines


def _tiled_forward_kernel(plan, low, body, outputs, title):
    stats = ", ".join(plan.stats)
    doc = (f"Forward of {title}: each program handles `rows_per_program` rows, ROWS rows at a time as a tile "
           f"of [ROWS, BLOCK >= n_cols]." + (f"  Saves per-row {stats} for the backward." if stats else ""))
    args = _signature_params(plan, low) + [f"{o}_ptr" for o, _ in plan.outputs] + [f"{s}_ptr" for s in plan.stats] + \
        (["index_error_ptr"] if plan.index_sites else []) + _tiled_sizes(plan)
    tail = _output_stores(plan, outputs, ROWS) + [f"tl.store({s}_ptr + row, {s})" for s in plan.stats]
    used = _used(body + tail)
    inner = _row_loads(plan, low, used) + body + tail
    lines = _def(plan.fwd_name, args, doc) + _indent(_tiled_prologue(plan, low, used) +
                                                     triton_narrow.tile_loop(inner), 4)
    return "\n".join(lines)


def _tiled_backward_kernel(plan, low, recompute, adj, grads, seeds, title):
    gargs, accs, acc_init, after = [], [], [], []
    for p, g, k in grads:
        r, v = plan.roles[p], low.var(p)
        if r in (ROW, ROWF):
            gargs.append(f"d{v}_ptr")
            accs += triton_narrow.tile_lines([_store(f"d{v}_ptr", g, _grad_kind(low, r, k), plan.mode, result=False)])
        elif r == COL:      # this program's partial sums over the rows of its tiles that exist
            gargs.append(f"d{v}_partial_ptr")
            acc_init.append(f"d{v}_acc = tl.zeros([1, BLOCK], ACC)")
            accs.append(f"d{v}_acc += tl.sum(tl.where(mask, {g}, 0.0), axis=0, keep_dims=True)")
            after.append(f"tl.store(d{v}_partial_ptr + pid * n_cols + cols, d{v}_acc, mask=cmask)")
        elif r == SCALAR_T:
            gargs.append(f"d{v}_partial_ptr")
            acc_init.append(f"d{v}_acc = tl.zeros([1, 1], ACC)")
            per_row = f"tl.sum(tl.where(mask, {g}, 0.0), axis=1, keep_dims=True)" if k == B else g
            accs.append(f"d{v}_acc += tl.sum(tl.where(rmask, {per_row}, 0.0), axis=0, keep_dims=True)")
            after.append(f"tl.store(d{v}_partial_ptr + pid + tl.arange(0, 1)[:, None], d{v}_acc)")
    seed_load = _seed_loads(plan, seeds)
    stat_loads = [f"{s} = tl.load({s}_ptr + row)" for s in plan.stats]
    recompute = (["# recomputed from the inputs" + (" and the saved statistics" if plan.stats else "")] + recompute
                 if recompute else [])
    _read_by_backward(plan, low, recompute + adj + accs + after)
    params = _signature_params(plan, low, plan.bwd_params) + [f"{s}_ptr" for s in plan.stats] + \
        [f"{d}_ptr" for d, _, _ in seeds] + gargs
    wrt = ", ".join(p for p, _, _ in grads)
    doc = (f"Backward of {title} (gradients of {wrt}): recomputes a tile of ROWS rows from the inputs"
           + (" and the saved per-row statistics" if plan.stats else "")
           + "; (D,)- and scalar-parameter gradients are summed over this program's rows into one partial "
           "sum per program.")
    used = _used(recompute + adj + accs + after)
    # the gradients' lines are written for tiles already: only the row program is rewritten
    tiled = triton_narrow.tile_loop(_row_loads(plan, low, used) + stat_loads + seed_load + recompute + adj)
    lines = _def(plan.bwd_name, params + _tiled_sizes(plan), doc) + _indent(
        _tiled_prologue(plan, low, used) + acc_init + tiled + ["    # the gradients"] + _indent(accs, 4) + after, 4)
    return "\n".join(lines)


SUM_PARTIALS = '''@triton.jit
def sum_partials_kernel(partial_ptr, out_ptr, n_parts, n_cols, BLOCK: tl.constexpr, ACC: tl.constexpr):
    """Second pass of parameter gradients: out[c] = sum over programs p of partial[p, c]."""
    pid = tl.program_id(0)
    cols = pid * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n_cols
    acc = tl.zeros([BLOCK], ACC)
    for p in range(0, n_parts):
        acc += tl.load(partial_ptr + p * n_cols + cols, mask=mask, other=0.0)
    tl.store(out_ptr + cols, acc.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def sum_all_kernel(partial_ptr, out_ptr, n_parts, BLOCK: tl.constexpr, ACC: tl.constexpr):
    """Second pass of a scalar parameter's gradient: out[0] = sum of the n_parts per-program partial sums."""
    acc = tl.zeros([BLOCK], ACC)
    for start in range(0, n_parts, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(partial_ptr + offs, mask=offs < n_parts, other=0.0)
    tl.store(out_ptr + tl.arange(0, 1), tl.sum(acc, axis=0).to(out_ptr.dtype.element_ty) + tl.zeros([1], ACC).to(out_ptr.dtype.element_ty))'''


# ---- generation entry points --------------------------------------------------------------------------

def generate(diff, roles, wrt, chunked=False, tiled=False):
    """KernelPlan (with source) of a Differentiable for arguments with the given roles.  `chunked`: kernels
    for rows wider than one block (passes over column chunks, backends/triton_rows); `tiled`: for short
    rows, ROWS at a time (backends/triton_narrow)."""
    from ..errors import RetrogradError
    from ..pipeline import new_program, title_of
    from ..frontend.source import read_function
    mode = ROWS if has_reduction(read_function(diff.fn).node) else ELEMENTWISE
    if mode == ELEMENTWISE:
        roles = {p: (ELEM if r in (ROW, COL) else r) for p, r in roles.items()}
        bad = [p for p, r in roles.items() if r == ROWINT]
        if bad:
            raise UsageError(f"{diff.fn.__name__}: integer tensor `{bad[0]}` in an elementwise layer")
    program = new_program("python")
    title = title_of(diff.fn)
    try:
        primal, adjoint, tf = program.variant(diff.fn, set(wrt), kinds_for(roles))
    except RetrogradError:
        raise
    except Exception as exc:
        raise BackendError(f"internal error while differentiating {title}: {type(exc).__name__}: {exc}",
                           hint="please report this with the function's source") from exc
    return build(program, tf, primal, adjoint, roles, mode, set(wrt), title, chunked=chunked, tiled=tiled)


def default_roles(diff):
    """Roles assumed before the first call (for `f.source`): parameters with numeric defaults are constants,
    parameters used as an index are per-row integers, the others tensors."""
    import inspect
    from ..frontend.source import read_function
    node = read_function(diff.fn).node
    indices = {n.slice.id for n in gast.walk(node) if isinstance(n, gast.Subscript) and isinstance(n.slice, gast.Name)}
    roles = {}
    for k, (p, par) in enumerate(inspect.signature(diff.fn).parameters.items()):
        if isinstance(par.default, (int, float)) and par.default is not inspect.Parameter.empty:
            roles[p] = CONST
        elif p in indices:
            roles[p] = ROWINT
        else:
            roles[p] = ROW if k == 0 else COL
    return roles


def launch_sizes(plan, n_cols):
    """{argument: value} of the plan's launch-time integers for rows of n_cols, after its width checks."""
    if not plan.sizes and not plan.checks:
        return {}
    return triton_slices.launch_sizes(plan.sizes, plan.checks, n_cols, plan.name)


def cache_dir():
    return _cache_dir("triton")


_LOADED = {}


def load(source, interpret=None):
    """The module of generated kernels, imported from a real file.  `interpret`: load the kernels for Triton's
    CPU interpreter (True), for a GPU (False), or as TRITON_INTERPRET says (None)."""
    if interpret is None:
        interpret = os.environ.get("TRITON_INTERPRET") == "1"
    import triton
    from .. import __version__
    from . import cachefs
    # the file's bytes are what its name hashes: the source, then a trailer naming the versions
    text = source + f"\n# retrograd cache key: {__version__} triton {triton.__version__}\n"
    prefix = "retrograd_triton_" + ("interp_" if interpret else "")
    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1" if interpret else "0"
    try:
        return cachefs.load_module("triton", prefix, source, {}, _LOADED, name_data=text.encode())
    finally:
        if old is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = old


_TL_TYPES = {"float32": "fp32", "float64": "fp64", "bfloat16": "bf16", "float16": "fp16", "int64": "i64",
             "int32": "i32"}


def compile_for_cuda(plan, dtype="float32", block=1024, capability=90, int_dtype="int64", partials=True,
                     num_warps=4, num_stages=3, rows=8):
    """Compile the plan's kernels for a CUDA target without a GPU; returns {kernel name: compiled kernel}
    (its `.asm` holds ttir, ttgir, llir, ptx and cubin).  `num_stages`: NUM_STAGES of a chunked plan's
    pipelined passes."""
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    module = load(plan.source, interpret=False)
    ft = _TL_TYPES[dtype]
    acc = tl.float64 if dtype == "float64" else tl.float32
    acc_t = "fp64" if dtype == "float64" else "fp32"
    low = Lowering(plan.mode, plan.roles, {}, None, [])
    for p in plan.params:
        low.var(p)

    def sig_params(params=plan.params):
        sig, consts = {}, {}
        for p in params:
            r, v = plan.roles[p], low.var(p)
            if r == ROWINT:
                sig[f"{v}_ptr"] = "*" + _TL_TYPES[int_dtype]
            elif r in TENSOR_ROLES:
                sig[f"{v}_ptr"] = "*" + ft
                if r == ELEM:
                    sig.update({a: "i64" for a in elem_strides(v)})
            else:
                sig[v] = "constexpr"
                consts[v] = 0.5
        return sig, consts
    sizes = ["n_rows", "n_cols", "rows_per_program"] + _size_args(plan) if plan.mode == ROWS \
        else ["n_elements"] + ELEM_SIZES
    out = {}
    target = GPUTarget("cuda", capability, 32)
    # forward
    sig, consts = sig_params()
    for o, _ in plan.outputs:
        sig[f"{o}_ptr"] = "*" + ft
    for s in plan.stats:
        sig[f"{s}_ptr"] = "*" + acc_t
    if plan.index_sites:
        sig["index_error_ptr"] = "*i64"
    sig.update({n: "i32" for n in sizes})
    sig.update({"BLOCK": "constexpr", "ACC": "constexpr"})
    consts.update({"BLOCK": block, "ACC": acc})
    if plan.chunked:
        sig["NUM_STAGES"] = "constexpr"
        consts["NUM_STAGES"] = num_stages
    if plan.tiled:
        sig["ROWS"] = "constexpr"
        consts["ROWS"] = rows
    options = {"num_warps": num_warps}
    out[plan.fwd_name] = triton.compile(ASTSource(fn=getattr(module, plan.fwd_name), signature=sig,
                                                  constexprs=consts), target=target, options=options)
    # backward
    sig, consts = sig_params(plan.bwd_params)
    for s in plan.stats:
        sig[f"{s}_ptr"] = "*" + acc_t
    for o, _ in plan.outputs:
        sig[f"d{o}_ptr"] = "*" + ft
    for p in plan.wrt:
        r, v = plan.roles[p], low.var(p)
        direct = r in (ROW, ELEM, ROWF)        # stored as the gradient itself, not as partial sums
        sig[f"d{v}_ptr" if direct else f"d{v}_partial_ptr"] = "*" + (ft if direct else acc_t)
    sig.update({n: "i32" for n in sizes})
    sig.update({"BLOCK": "constexpr", "ACC": "constexpr"})
    consts.update({"BLOCK": block, "ACC": acc})
    if plan.chunked:
        sig["NUM_STAGES"] = "constexpr"
        consts["NUM_STAGES"] = num_stages
    if plan.tiled:
        sig["ROWS"] = "constexpr"
        consts["ROWS"] = rows
    out[plan.bwd_name] = triton.compile(ASTSource(fn=getattr(module, plan.bwd_name), signature=sig,
                                                  constexprs=consts), target=target, options=options)
    if not partials:
        return out
    sig = {"partial_ptr": "*" + acc_t, "out_ptr": "*" + ft, "n_parts": "i32", "n_cols": "i32",
           "BLOCK": "constexpr", "ACC": "constexpr"}
    out["sum_all_kernel"] = triton.compile(ASTSource(fn=module.sum_all_kernel, signature={
        "partial_ptr": "*" + acc_t, "out_ptr": "*" + ft, "n_parts": "i32", "BLOCK": "constexpr", "ACC": "constexpr"},
        constexprs={"BLOCK": 1024, "ACC": acc}), target=target)
    out["sum_partials_kernel"] = triton.compile(ASTSource(fn=module.sum_partials_kernel, signature=sig,
                                                          constexprs={"BLOCK": 1024, "ACC": acc}), target=target)
    return out


# ---- the Differentiable's view ---------------------------------------------------------------------------

def has_matmul(diff):
    """Does the layer multiply matrices (`@`, np.matmul, np.dot)?  Such layers are lowered by
    backends/triton_matmul.py (the hook: rg.torch.Function dispatches them there)."""
    from ..frontend.source import read_function
    for n in gast.walk(read_function(diff.fn).node):
        if isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult):
            return True
        if isinstance(n, gast.Call) and isinstance(n.func, (gast.Attribute, gast.Name)) and \
                (n.func.attr if isinstance(n.func, gast.Attribute) else n.func.id) in ("matmul", "dot"):
            return True
    return False


def source_of(diff):
    """`f.source` of a backend="triton" function: the kernels of its last call through rg.torch, or the
    kernels for default roles (see `default_roles`) before any."""
    plan = getattr(diff, "_triton_last", None)
    if plan is None and has_matmul(diff):
        raise UsageError(f"{diff.fn.__name__} is a matmul layer (backends/triton_matmul.py): its kernels depend "
                         "on which arguments are the product's operands and on their shapes",
                         hint="call it once through rg.torch.Function with tensors, then read f.source")
    if plan is None:
        roles = default_roles(diff)
        plan = generate(diff, roles, [p for p in diff.wrt if roles[p] in DIFF_ROLES])
        diff._triton_last = plan
    return plan.source


class TritonTarget(Target):
    """NumPy arguments run the generated NumPy code (python's); torch tensors go through rg.torch, which
    builds the kernels (source_of)."""
    name = "triton"
    traits = TRAITS

    def check_options(self, has_aux, bound):
        if has_aux or bound:
            raise UsageError("backend=\"triton\" differentiates a plain `def` layer without has_aux",
                             hint="use backend=\"python\" or \"numba\" for has_aux, partials and methods")

    def load(self, program, source, title):
        from . import python
        return python.load(program, source, title)

    def source_of(self, diff):
        return source_of(diff)


TARGET = TritonTarget()


# ---- compiling for a CUDA target without a GPU ------------------------------------------------------------

def compile_plans(plans, dtypes=("float32",), block=1024, capability=90, jobs=2, num_warps=4, num_stages=3,
                  usage=False, rows=8):
    """Compile every kernel of `plans` for CUDA sm_<capability> in fresh Python processes (`jobs` of them in
    parallel; Triton decides at import whether its own library functions are interpreted, so a process
    running the interpreter cannot compile).  `dtypes`: a list for every plan, or {plan name: list}.
    Returns {plan name: {dtype: {kernel: {"ptx": length of the PTX, "cubin": bytes of cubin}}}}; with
    `usage`, also ptxas's "regs", "spill_stores", "spill_loads" (bytes per thread) and "stack" of each, and
    "cp_async": how many asynchronous copies (pipelined loads) its PTX issues."""
    import json
    import pickle
    import subprocess
    import tempfile
    plans = list(plans)
    per_plan = {p.name: list(dtypes.get(p.name, ("float32",)) if isinstance(dtypes, dict) else dtypes)
                for p in plans}
    env = dict(os.environ, TRITON_INTERPRET="0")
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    src_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = src_root + os.pathsep + env.get("PYTHONPATH", "")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for k in range(max(1, min(jobs, len(plans)))):
            chunk = plans[k::max(1, min(jobs, len(plans)))]
            path = os.path.join(tmp, f"plans{k}.pkl")
            with open(path, "wb") as fh:
                pickle.dump({"plans": chunk, "dtypes": {p.name: per_plan[p.name] for p in chunk}, "block": block,
                             "capability": capability, "num_warps": num_warps, "num_stages": num_stages,
                             "usage": usage, "rows": rows}, fh)
            procs.append(subprocess.Popen([sys.executable, "-m", "retrograd.backends.triton", path], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for proc in procs:
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                raise BackendError("compiling the Triton kernels for CUDA failed:\n" + stderr[-4000:])
            out.update(json.loads(stdout.strip().splitlines()[-1]))
    return out


def ptxas_usage(ptx, capability=90):
    """Registers, spilled bytes and stack per thread of a PTX kernel, from `ptxas -v` (Triton's own ptxas)."""
    import subprocess
    import tempfile
    from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability
    ptxas = get_ptxas(capability).path
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "k.ptx")
        with open(src, "w") as fh:
            fh.write(ptx)
        arch = sm_arch_from_capability(capability)
        done = subprocess.run([ptxas, "-v", "--regAllocOptLevel=2", f"--gpu-name={arch}", src, "-o",
                               os.path.join(tmp, "k.cubin")], capture_output=True, text=True, check=True)
    log = done.stderr + done.stdout
    found = {key: int(m.group(1)) if (m := re.search(pattern, log)) else None for key, pattern in (
        ("regs", r"Used (\d+) registers"), ("spill_stores", r"(\d+) bytes spill stores"),
        ("spill_loads", r"(\d+) bytes spill loads"), ("stack", r"(\d+) bytes stack frame"))}
    if found["regs"] is None or found["spill_stores"] is None:
        raise BackendError("could not read ptxas's resource usage:\n" + log[-2000:])
    return found


def _compile_main(path):
    import json
    import pickle
    with open(path, "rb") as fh:
        job = pickle.load(fh)
    out, partials = {}, {}   # sum_partials_kernel is the same source in every module: compile it once per dtype
    for plan in job["plans"]:
        per = out.setdefault(plan.name, {})
        for dtype in job["dtypes"][plan.name]:
            kernels = compile_for_cuda(plan, dtype=dtype, block=job["block"], capability=job["capability"],
                                       partials=dtype not in partials, num_warps=job["num_warps"],
                                       num_stages=job["num_stages"], rows=job.get("rows", 8))
            per[dtype] = {k: {"ptx": len(v.asm.get("ptx", "")), "cubin": len(v.asm.get("cubin", b"")),
                              **(dict(ptxas_usage(v.asm["ptx"], job["capability"]),
                                      cp_async=v.asm["ptx"].count("cp.async.")) if job["usage"] else {})}
                          for k, v in kernels.items()}
            if dtype not in partials:
                partials[dtype] = {k: per[dtype][k] for k in ("sum_partials_kernel", "sum_all_kernel")}
            per[dtype].update(partials[dtype])
    print(json.dumps(out))


if __name__ == "__main__":
    _compile_main(sys.argv[1])
