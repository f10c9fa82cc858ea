"""Matmul layers for the triton backend: a layer whose body starts from `z = h @ W`, with `h` a (rows, K)
input and `W` a (K, N) parameter (both arguments of the layer), and computes the rest from `z`.

Two shape classes, chosen by what follows the matmul:

* **tiled** (the rest is elementwise: `act(h @ W + b)`, a residual, a scalar gate): one forward kernel over
  (row tile x column tile) programs, each a K-loop of `tl.dot` followed by the rest of the layer as its
  epilogue on the [BM, BN] tile (a (N,) bias is a [1, BN] row, a (rows, N) tensor a tile, a 0-d tensor a
  uniform scalar).  The backward is an epilogue kernel that recomputes the tile (the K-loop again, only if
  the adjoint reads it), applies the epilogue's adjoint to the output's cotangent, stores the matmul's
  cotangent `g` and the partial sums of the bias (per row tile, reduced by `sum_partials_kernel`); then
  the two matmuls `dh = g @ W.T` and `dW = h.T @ g` (`matmul_kernel`, transposes by strides).  When the
  epilogue's adjoint is the identity (`h @ W + b` without an activation and no bias gradient) the
  cotangent itself is `g` and the epilogue kernel is skipped.
* **rows** (the rest reduces over N: fused linear + cross-entropy, `logsumexp(h @ W) - (h @ W)[t]`): the
  rest is an ordinary row-wise layer of `z` (backends/triton.py, in column chunks with the online
  max / rescaled sum for wide N, backends/triton_rows.py), run on the logits of a chunk of rows at a
  time: the forward computes a (chunk, N) block of logits with `matmul_kernel`, runs the row kernel on it
  and keeps only the per-row statistics (the logsumexp); the backward recomputes each chunk's logits,
  runs the row backward kernel for `dz` and adds `dz @ W.T` and `h.T @ dz` of the chunk.  The (rows, N)
  logits are never materialised: peak extra memory is two (chunk, N) blocks (Liger-Kernel's scheme).

Both classes refuse, with a BackendError naming the user's line, what they do not lower: a second matmul,
a matmul whose operands are not the layer's arguments (`(2 * h) @ W`, `h @ W.T`), `h` or `W` read outside
the matmul, a reduction inside the elementwise epilogue of a tuple output.

Matmuls compute in float32 with `input_precision="ieee"` (no TF32: the interpreter and the GPU agree),
float64 in float64, 16-bit inputs on the tensor cores with float32 accumulation.  Triton 3.9's interpreter
gets a `tl.dot` of bfloat16 operands wrong, so interpreted kernels upcast 16-bit tiles first
(`DOT_UPCAST`).  Generation here imports no torch; the launchers (`call`) import it when first called.
"""
import ast
import copy
import os
from dataclasses import dataclass, field
from types import SimpleNamespace

import gast
import numpy as np

from .. import astutil as A
from ..errors import BackendError, IndexRangeError, UsageError
from . import triton as tb

TILED, LINEAR_ROWS = "tiled", "linear_rows"
LHS, RHS = "lhs", "rhs"         # the matmul's operands: h (rows, K) and W (K, N)
_HINT = ("a matmul layer is `z = h @ W` of two of its arguments, h (..., K) and W (K, N), followed by "
         "elementwise code of z or by reductions of z over its last axis; or use backend=\"python\"")

# tiles of a GPU launch (checked for spills by compiling for sm_90, tests/test_triton_matmul.py: with 4 warps
# a float32 tanh-GELU epilogue spills at 64 x 64, as does a 128 x 64 tile with 8) and of the interpreter,
# where each program costs milliseconds
TILE = (64, 64, 32)
TILE_WARPS = 8
TILE_STAGES = 3
INTERPRETER_TILE = (16, 16, 16)
ROW_CHUNK_BYTES = 256 << 20      # the rows layer's logits block: (chunk, N) floats of at most this many bytes


def is_matmul_layer(diff):
    """Does the layer multiply matrices (`@`, np.matmul, np.dot)?  Such layers go through here."""
    return tb.has_matmul(diff)


@dataclass
class MatmulPlan:
    name: str
    shape_class: str
    roles: dict                 # param -> role (LHS, RHS, tb.COL / tb.ROW / tb.SCALAR_T / tb.CONST, ...)
    params: list
    wrt: list
    lhs: str = ""
    rhs: str = ""
    fwd_name: str = ""
    bwd_name: str = ""
    source: str = ""
    epilogue_params: list = field(default_factory=list)    # what the forward kernel takes besides h, W
    bwd_params: list = field(default_factory=list)         # what the backward epilogue kernel reads
    bwd_recomputes: bool = False     # the epilogue's adjoint reads the tile: the backward runs the K-loop
    bwd_kernel: bool = True          # False: g is the output's cotangent itself (no epilogue kernel)
    bwd_out_args: list = field(default_factory=list)       # the backward epilogue kernel's outputs
    rows_plan: object = None         # LINEAR_ROWS: the row-wise plan (backends/triton.py) of the rest, on z
    z: str = ""                      # the matmul's variable
    chunked: bool = False


# the cotangents of `a @ b`'s operands in the generated adjoint (np.dot of a 2-D b is the same product)
_MM_GRADS = {"matmul_grad_a": "a", "matmul_grad_b": "b", "dot_grad_a": "a", "dot_grad_b": "b"}


def _where(src, node):
    fname, line, _ = src.where(node)
    return fname, line, src.line_text(node)


def _error(src, node, message, construct=None):
    fname, line, text = _where(src, node) if node is not None else (getattr(src, "filename", None), None, "")
    at = f" in `{text}`" if text else ""
    return BackendError(f"the triton backend cannot lower {message}{at}", filename=fname, lineno=line, col=0,
                        construct=construct, hint=_HINT)


def _matmul_operands(stmt, ns):
    """(target, left, right) of `z = a @ b` / `z = np.matmul(a, b)` / `z = np.dot(a, b)`, else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return None
    v = stmt.value
    if isinstance(v, gast.BinOp) and isinstance(v.op, gast.MatMult):
        return stmt.targets[0].id, v.left, v.right
    if isinstance(v, gast.Call) and len(v.args) == 2 and not v.keywords:
        f = v.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.attr in ("matmul", "dot"):
            mod = ns.get(f.value.id, np if f.value.id == "np" else None)
            if mod is np:
                return stmt.targets[0].id, v.args[0], v.args[1]
    return None


def _contains_matmul(node, ns):
    for n in gast.walk(node):
        if isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult):
            return True
        if isinstance(n, gast.Call) and _matmul_operands(gast.Assign(targets=[gast.Name("_", gast.Store(), None, None)],
                                                                     value=n), ns):
            return True
    return False


def find_matmul(primal, params, ns, src):
    """(index of the statement, z, h, W) of the one matmul `z = h @ W` of the generated primal; refuses
    anything else with the user's line."""
    found = []
    for i, s in enumerate(primal.body[:-1]):
        if not _contains_matmul(s, ns):
            continue
        ops = _matmul_operands(s, ns)
        if ops is None:
            raise _error(src, s, "a matrix product inside a larger expression", construct="matmul")
        z, a, b = ops
        if not (isinstance(a, gast.Name) and a.id in params):
            raise _error(src, s, f"the matrix product with left operand `{A.unparse(a).strip()}` (only an argument "
                         "of the layer is lowered: compute it outside the layer)", construct="matmul")
        if not (isinstance(b, gast.Name) and b.id in params):
            raise _error(src, s, f"the matrix product with right operand `{A.unparse(b).strip()}` (only a (K, N) "
                         "argument of the layer is lowered: pass the matrix itself, e.g. `W.T.contiguous()` "
                         "for a torch.nn.Linear weight)", construct="matmul")
        if a.id == b.id:
            raise _error(src, s, "the product of an argument with itself", construct="matmul")
        found.append((i, s, z, a.id, b.id))
    if not found:
        raise BackendError("the triton backend found no matrix product `h @ W` of two arguments", hint=_HINT)
    if len(found) > 1:
        raise _error(src, found[1][1], "a second matrix product (a matmul layer has one)", construct="matmul")
    i, s, z, h, w = found[0]
    for other in primal.body[:-1]:
        if other is s:
            continue
        for n in gast.walk(other):
            if isinstance(n, gast.Name) and n.id in (h, w) and isinstance(n.ctx, gast.Load):
                raise _error(src, other, f"`{n.id}` read outside the matrix product `{z} = {h} @ {w}` (the "
                             "epilogue sees only the product's tile)", construct=n.id)
    ret = primal.body[-1]
    if isinstance(ret, gast.Return) and isinstance(ret.value, gast.Tuple) and ret.value.elts:
        first = ret.value.elts[0]
        if isinstance(first, gast.Name) and first.id in (h, w):
            raise _error(src, s, f"a layer returning its argument `{first.id}`", construct=first.id)
    return i, z, h, w


# ---- the tiled class: the epilogue on a [BM, BN] tile ----------------------------------------------------

class TileLowering(tb.Lowering):
    """The elementwise lowering on 2-D tiles: a block is a [BM, BN] tile (or a [1, BN] row of a (N,)
    parameter), a scalar is uniform."""

    def broadcast(self, v, k):
        return v if k == tb.B else tb._e("X + tl.zeros([BM, BN], ACC)", X=v)

    def size(self, node):
        raise self.error("the size of a tile (`.size`, `len`, `.shape`) in a matmul layer's epilogue",
                         construct="size")

    def statement(self, s):
        super().statement(s)
        # zeros_like of a block: a tile of zeros
        self.lines = [l.replace("tl.zeros([BLOCK], ACC)", "tl.zeros([BM, BN], ACC)") for l in self.lines]


def _tile_loads(plan, low, used, names):
    lines = []
    for p in names:
        r, v = plan.roles[p], low.var(p)
        if v not in used:
            continue
        if r == tb.COL:
            lines.append(f"{v} = tl.load({v}_ptr + rn, mask=rn < N, other=0.0).to(ACC)[None, :]")
        elif r == tb.ROW:
            lines.append(f"{v} = tl.load({v}_ptr + rm64[:, None] * {v}_s0 + rn64[None, :] * {v}_s1, mask=mask, "
                         "other=0.0).to(ACC)")
        elif r == tb.SCALAR_T:
            lines.append(f"{v} = tl.load({v}_ptr).to(ACC)")
    return lines


def _k_loop(z, h, w):
    """z = h @ W over K for this program's tile (the loads masked at the edges: no multiple of the tile
    needed)."""
    return [
        f"# {z} = {h} @ {w}: a K-loop of tl.dot",
        f"{z} = tl.zeros([BM, BN], ACC)",
        "for k0 in range(0, K, BK):",
        "    rk = k0 + tl.arange(0, BK)",
        f"    _rg_a = tl.load({h}_ptr + rm64[:, None] * {h}_s0 + rk[None, :] * {h}_s1, "
        "mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0)",
        f"    _rg_b = tl.load({w}_ptr + rk[:, None] * {w}_s0 + rn64[None, :] * {w}_s1, "
        "mask=(rk[:, None] < K) & (rn[None, :] < N), other=0.0)",
        "    if DOT_UPCAST:",
        "        _rg_a = _rg_a.to(ACC)",
        "        _rg_b = _rg_b.to(ACC)",
        f"    {z} += tl.dot(_rg_a, _rg_b, input_precision=PRECISION, out_dtype=ACC)",
    ]


_TILE_SETUP = ["pid_m = tl.program_id(0)", "pid_n = tl.program_id(1)",
               "rm = pid_m * BM + tl.arange(0, BM)", "rn = pid_n * BN + tl.arange(0, BN)",
               "rm64 = tl.cast(rm, tl.int64)", "rn64 = tl.cast(rn, tl.int64)",
               "mask = (rm[:, None] < M) & (rn[None, :] < N)"]
_TILE_SIZES = ["M", "N", "K", "BM: tl.constexpr", "BN: tl.constexpr", "BK: tl.constexpr", "ACC: tl.constexpr",
               "PRECISION: tl.constexpr", "DOT_UPCAST: tl.constexpr"]


def _tile_args(plan, low, names):
    out = []
    for p in names:
        r, v = plan.roles[p], low.var(p)
        if r in (LHS, RHS, tb.ROW):
            out += [f"{v}_ptr", f"{v}_s0", f"{v}_s1"]
        elif r in (tb.COL, tb.SCALAR_T):
            out.append(f"{v}_ptr")
        else:
            out.append(f"{v}: tl.constexpr")
    return out


def _store_tile(ptr, value, kind):
    if kind != tb.B:
        value = f"(({value}) + tl.zeros([BM, BN], ACC))"
    return (f"tl.store({ptr} + rm64[:, None] * {ptr[:-4]}_s0 + rn64[None, :] * {ptr[:-4]}_s1, "
            f"({value}).to({ptr}.dtype.element_ty), mask=mask)")


def build_tiled(program, tf, primal, adjoint, roles, wrt, title, index, z, h, w):
    src = tf.src
    name = tf.fn.__name__
    ns = dict(program.namespace)
    params = list(roles)
    fwd = TileLowering(tb.ELEMENTWISE, roles, ns, src, program.comments, prefix="_rgf")
    for p in params:
        if roles[p] in (tb.COL, tb.ROW):
            fwd.kinds[p] = tb.B
        elif roles[p] in (tb.SCALAR_T, tb.CONST):
            fwd.kinds[p] = tb.S
    zv = fwd.var(z)
    fwd.kinds[z] = tb.B
    last = None
    for i, s in enumerate(primal.body[:-1]):
        if i == index:
            continue
        fwd.at_primal(s)
        if fwd.where.lineno != last:
            last = fwd.where.lineno
            fwd.lines.append(f"# {fwd.where.text}  ({os.path.basename(fwd.where.filename)}:{last})")
        fwd.statement(s)
    ret = primal.body[-1]
    result = ret.value.elts[0].id
    kind = fwd.kinds.get(result)
    if kind == tb.TUPLE:
        raise BackendError(f"the triton backend cannot lower {name}: a matmul layer returning a tuple",
                           filename=src.filename, hint=_HINT)
    if result == z:
        kind = tb.B
    primal_kinds = dict(fwd.kinds)

    # the adjoint: the epilogue's adjoint, then matmul_grad_a / matmul_grad_b of the product's cotangent
    bwd = TileLowering(tb.ELEMENTWISE, roles, ns, src, program.comments, prefix="_rgb")
    body = adjoint.body
    seed = adjoint.args.args[0].id
    if body and isinstance(body[0], gast.Assign) and isinstance(body[0].targets[0], gast.Tuple) \
            and isinstance(body[0].value, gast.Name) and body[0].value.id == "saved":
        for e in body[0].targets[0].elts:
            if e.id in primal_kinds:
                bwd.kinds[e.id] = primal_kinds[e.id]
        body = body[1:]
    bwd.kinds[seed] = tb.B
    g_node, mm_grads = None, {}
    for s in body[:-1]:
        if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Name) \
                and s.value.func.id in _MM_GRADS and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name):
            a = s.value.args
            if not (isinstance(a[1], gast.Name) and a[1].id == h and isinstance(a[2], gast.Name) and a[2].id == w):
                raise BackendError(f"the triton backend cannot lower {name}: unexpected matmul adjoint "
                                   f"`{A.unparse(s).strip()}`", filename=src.filename, hint=_HINT)
            if g_node is not None and A.unparse(a[0]) != A.unparse(g_node):
                raise BackendError(f"the triton backend cannot lower {name}: two cotangents of the product",
                                   filename=src.filename, hint=_HINT)
            g_node = a[0]
            mm_grads[s.targets[0].id] = h if _MM_GRADS[s.value.func.id] == "a" else w
            continue
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and n.id in (h, w):
                raise BackendError(f"the triton backend cannot lower {name}: its adjoint reads `{n.id}` outside "
                                   "the product's gradient", filename=src.filename, hint=_HINT)
        bwd.statement(s)
    aret = body[-1]
    grads = []          # (param, lowered expression, kind) of the epilogue's own parameters
    for p, e in zip([p for p in params if p in wrt], aret.value.elts):
        if roles[p] in (LHS, RHS):
            if not (isinstance(e, gast.Name) and mm_grads.get(e.id) == p):
                raise BackendError(f"the triton backend cannot lower {name}: the gradient of `{p}` is not the "
                                   "product's", filename=src.filename, hint=_HINT)
            continue
        g, k = bwd.expr(e)
        grads.append((p, tb._src(g), k))
    g_src, g_kind = None, tb.B
    if g_node is not None:
        g, g_kind = bwd.expr(g_node)
        g_src = tb._src(g)
    reads = set().union(*[tb._used([g]) for _, g, _ in grads]) if grads else set()
    if g_src is not None:
        reads |= tb._used([g_src])
    adj_lines, _ = tb._live(bwd.lines, reads)
    free, defined = set(reads), set()
    for l in adj_lines:
        if l.startswith("#"):
            continue
        t, uses = tb._defs_uses(l)
        free |= uses - defined
        defined.add(t)
    free -= defined
    lowered = {fwd.var(k) for k in primal_kinds}
    seedv = bwd.var(seed)
    needed = {n for n in free if n in lowered and n != seedv} - {fwd.var(p) for p in params}
    recompute, leftover = tb._live(fwd.lines, needed, set())
    leftover -= {fwd.var(p) for p in params} | {zv} | tb.RESERVED
    if leftover:
        raise BackendError(f"the triton backend cannot lower {name}: the backward needs {sorted(leftover)}",
                           filename=src.filename, hint=_HINT)
    plan = MatmulPlan(name=name, shape_class=TILED, roles=dict(roles), params=params,
                      wrt=[p for p in params if p in wrt], lhs=h, rhs=w, z=z, fwd_name=f"{name}_fwd_kernel",
                      bwd_name=f"{name}_bwd_kernel")
    others = [p for p in params if roles[p] not in (LHS, RHS)]
    plan.epilogue_params = others

    # forward kernel
    fwd_body, _ = tb._live(fwd.lines, {fwd.var(result)})
    out_store = [f"# the result", _store_tile("result_ptr", fwd.var(result), kind)]
    used = tb._used(fwd_body + out_store)
    doc = (f"Forward of {title}: the program's [BM, BN] tile of {z} = {h} @ {w} (a K-loop of tl.dot), then "
           "the rest of the layer on the tile.")
    args = _tile_args(plan, fwd, [h, w] + others) + ["result_ptr", "result_s0", "result_s1"] + _TILE_SIZES
    fwd_src = "\n".join(tb._def(plan.fwd_name, args, doc) + tb._indent(
        _TILE_SETUP + _k_loop(zv, fwd.var(h), fwd.var(w)) + _tile_loads(plan, fwd, used, others) + fwd_body
        + out_store, 4))

    # backward epilogue kernel: g (the product's cotangent) and the epilogue parameters' gradients
    wants_mm = any(roles[p] in (LHS, RHS) for p in plan.wrt)
    stores, after = [], []
    gname = None
    if wants_mm and g_src is not None:
        gname = "g"
        stores.append(_store_tile("g_ptr", g_src, g_kind))
    for p, g, k in grads:
        r, v = roles[p], bwd.var(p)
        if r == tb.ROW:
            stores.append(_store_tile(f"d{v}_ptr", g, k))
        elif r == tb.COL:       # one partial sum per row tile
            stores.append(f"tl.store(d{v}_partial_ptr + tl.cast(pid_m, tl.int64) * N + rn, tl.sum(tl.where(mask, "
                          f"({g}) + tl.zeros([BM, BN], ACC), 0.0), axis=0), mask=rn < N)")
        elif r == tb.SCALAR_T:
            stores.append(f"tl.store(d{v}_partial_ptr + pid_m * tl.num_programs(1) + pid_n, tl.sum(tl.sum("
                          f"tl.where(mask, ({g}) + tl.zeros([BM, BN], ACC), 0.0), axis=1), axis=0))")
    seed_load = [f"{seedv} = tl.load(dresult_ptr + rm64[:, None] * dresult_s0 + rn64[None, :] * dresult_s1, "
                 "mask=mask, other=0.0).to(ACC)"]
    bwd_lines = recompute + adj_lines
    used = tb._used(bwd_lines + stores)
    plan.bwd_recomputes = zv in used
    plan.bwd_params = [p for p in others if bwd.var(p) in used]
    plan.bwd_kernel = bool(grads) or (gname is not None and _copy_of(g_src, adj_lines) != seedv)
    gargs = (["g_ptr", "g_s0", "g_s1"] if gname else []) + \
        [a for p, _, _ in grads for a in ((f"d{bwd.var(p)}_ptr", f"d{bwd.var(p)}_s0", f"d{bwd.var(p)}_s1")
                                           if roles[p] == tb.ROW else (f"d{bwd.var(p)}_partial_ptr",))]
    plan.bwd_out_args = gargs
    doc = (f"Backward of {title}, the epilogue: " + ("recomputes the tile of the product (the K-loop), " if
           plan.bwd_recomputes else "") + "applies the adjoint of the rest of the layer to the output's "
           "cotangent, stores the product's cotangent g and per-row-tile partial sums of the parameters' "
           "gradients; dh = g @ W.T and dW = h.T @ g follow as matmul_kernel launches.")
    args = _tile_args(plan, bwd, [h, w] + plan.bwd_params) + ["dresult_ptr", "dresult_s0", "dresult_s1"] + \
        gargs + _TILE_SIZES
    bwd_src = "\n".join(tb._def(plan.bwd_name, args, doc) + tb._indent(
        _TILE_SETUP + (_k_loop(zv, bwd.var(h), bwd.var(w)) if plan.bwd_recomputes else [])
        + _tile_loads(plan, bwd, used, plan.bwd_params) + seed_load
        + (["# recomputed from the tile"] + recompute if recompute else []) + adj_lines + ["# the gradients"]
        + stores, 4))
    header = (f'"""Triton kernels generated by retrograd from {title} (a matmul layer).  Regenerated on every '
              'change: do not edit."""\nimport triton\nimport triton.language as tl')
    plan.source = "\n\n\n".join([header, fwd_src, bwd_src, MATMUL_KERNEL, tb.SUM_PARTIALS]) + "\n"
    return plan


def _copy_of(name, lines):
    """The name `name` is a copy of through lines `a = b` (the product's cotangent `dz = dresult`)."""
    copies = {}
    for l in lines:
        if l.startswith("#"):
            continue
        t = ast.parse(l).body[0]
        if isinstance(t, ast.Assign) and isinstance(t.targets[0], ast.Name) and isinstance(t.value, ast.Name):
            copies[t.targets[0].id] = t.value.id
    seen = set()
    while name in copies and name not in seen:
        seen.add(name)
        name = copies[name]
    return name


MATMUL_KERNEL = '''@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, a_s0, a_s1, b_s0, b_s1, c_s0, c_s1, BM: tl.constexpr,
                  BN: tl.constexpr, BK: tl.constexpr, ACC: tl.constexpr, PRECISION: tl.constexpr,
                  DOT_UPCAST: tl.constexpr, ADD: tl.constexpr):
    """c = a @ b (ADD: c += a @ b) for strided a (M, K), b (K, N): transposes are strides, not copies."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    rm64 = tl.cast(rm, tl.int64)
    rn64 = tl.cast(rn, tl.int64)
    acc = tl.zeros([BM, BN], ACC)
    for k0 in range(0, K, BK):
        rk = k0 + tl.arange(0, BK)
        a = tl.load(a_ptr + rm64[:, None] * a_s0 + rk[None, :] * a_s1, mask=(rm[:, None] < M) & (rk[None, :] < K),
                    other=0.0)
        b = tl.load(b_ptr + rk[:, None] * b_s0 + rn64[None, :] * b_s1, mask=(rk[:, None] < K) & (rn[None, :] < N),
                    other=0.0)
        if DOT_UPCAST:
            a = a.to(ACC)
            b = b.to(ACC)
        acc += tl.dot(a, b, input_precision=PRECISION, out_dtype=ACC)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    at = c_ptr + rm64[:, None] * c_s0 + rn64[None, :] * c_s1
    if ADD:
        acc += tl.load(at, mask=mask, other=0.0).to(ACC)
    tl.store(at, acc.to(c_ptr.dtype.element_ty), mask=mask)'''


# ---- the rows class: a row-wise layer of the product, chunk of rows by chunk of rows -----------------------

def build_rows(program, tf, primal, adjoint, roles, wrt, title, index, z, h, w, chunked, tiled=False):
    """The plan of the rest of the layer as a row-wise layer of `z` (backends/triton.build on the generated
    code with the product's statement and its gradients taken out)."""
    name = tf.fn.__name__
    p2 = copy.copy(primal)
    p2.body = [s for i, s in enumerate(primal.body) if i != index]
    a2 = copy.copy(adjoint)
    body = list(adjoint.body)
    g_node, mm = None, {}
    kept = []
    for s in body[:-1]:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Tuple) and isinstance(s.value, gast.Name) \
                and s.value.id == "saved":
            s = copy.copy(s)
            s.targets = [gast.Tuple(elts=[e for e in s.targets[0].elts if e.id not in (h, w)], ctx=gast.Store())]
            if s.targets[0].elts:
                kept.append(s)
            continue
        if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Name) \
                and s.value.func.id in _MM_GRADS:
            g_node = s.value.args[0]
            mm[s.targets[0].id] = h if _MM_GRADS[s.value.func.id] == "a" else w
            continue
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and n.id in (h, w):
                raise BackendError(f"the triton backend cannot lower {name}: its adjoint reads `{n.id}` outside "
                                   "the product's gradient", filename=tf.src.filename, hint=_HINT)
        kept.append(s)
    aret = body[-1]
    wrt_params = [p for p in roles if p in wrt]
    elts = dict(zip(wrt_params, aret.value.elts))
    wants_mm = any(roles[p] in (LHS, RHS) for p in wrt_params)
    rows_roles = {z: tb.ROW, **{p: r for p, r in roles.items() if r not in (LHS, RHS)}}
    rows_wrt = ([z] if wants_mm else []) + [p for p in wrt_params if roles[p] not in (LHS, RHS)]
    new_elts = ([g_node] if wants_mm else []) + [elts[p] for p in wrt_params if roles[p] not in (LHS, RHS)]
    if wants_mm and g_node is None:
        raise BackendError(f"the triton backend cannot lower {name}: no gradient of the product",
                           filename=tf.src.filename, hint=_HINT)
    a2.body = kept + [gast.Return(value=gast.Tuple(elts=new_elts, ctx=gast.Load()))]
    shim = SimpleNamespace(functions=[p2, a2], namespace=program.namespace, comments=program.comments,
                           comment_locations=getattr(program, "comment_locations", {}))
    rows_plan = tb.build(shim, tf, p2.name, a2.name, rows_roles, tb.ROWS, set(rows_wrt), title, chunked=chunked,
                         tiled=tiled)
    plan = MatmulPlan(name=name, shape_class=LINEAR_ROWS, roles=dict(roles), params=list(roles),
                      wrt=wrt_params, lhs=h, rhs=w, z=z, rows_plan=rows_plan, chunked=chunked)
    # the row-wise layer's kernels (what f.source shows) and the product's kernel, one module
    plan.source = rows_plan.source + "\n\n" + MATMUL_KERNEL + "\n"
    plan.fwd_name = rows_plan.fwd_name
    plan.bwd_name = rows_plan.bwd_name
    return plan


def generate(diff, roles, wrt, chunked=False, tiled=False):
    """MatmulPlan of a Differentiable whose body computes `z = h @ W` first, for arguments with the given
    roles (LHS / RHS for h and W)."""
    from ..errors import RetrogradError
    from ..pipeline import new_program, title_of
    from ..frontend.source import read_function
    rows = tb.has_reduction(read_function(diff.fn).node)
    kinds = {p: ("array:2" if r in (LHS, RHS, tb.ROW) and not rows else "array:1" if r in (LHS, tb.ROW, tb.COL)
                 else "array:2" if r == RHS else "scalar") for p, r in roles.items()}
    program = new_program("python")
    title = title_of(diff.fn)
    try:
        primal_name, adjoint_name, tf = program.variant(diff.fn, set(wrt), kinds)
    except RetrogradError:
        raise
    except Exception as exc:
        raise BackendError(f"internal error while differentiating {title}: {type(exc).__name__}: {exc}",
                           hint="please report this with the function's source") from exc
    primal = next(f for f in program.functions if f.name == primal_name)
    adjoint = next(f for f in program.functions if f.name == adjoint_name)
    index, z, h, w = find_matmul(primal, list(roles), dict(program.namespace), tf.src)
    if roles.get(h) != LHS or roles.get(w) != RHS:
        raise _error(tf.src, primal.body[index], f"`{h} @ {w}` with `{h}` of role {roles.get(h)} and `{w}` of role "
                     f"{roles.get(w)}: the left operand must be the (..., K) input and the right one the (K, N) "
                     "matrix", construct="matmul")
    if rows:
        return build_rows(program, tf, primal, adjoint, roles, wrt, title, index, z, h, w, chunked, tiled)
    return build_tiled(program, tf, primal, adjoint, roles, wrt, title, index, z, h, w)


# ---- roles, read off the values at each call (torch tensors; duck-typed, no torch import) -------------------

def operands_of(src, params):
    """(h, W): the names of the first matrix product of two arguments in the user's source; refuses a first
    product of anything else with its line."""
    for n in gast.walk(src.node):
        ops = None
        if isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult):
            ops = (n.left, n.right)
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in ("matmul", "dot") \
                and len(n.args) == 2:
            ops = tuple(n.args)
        if ops is None:
            continue
        if all(isinstance(o, gast.Name) and o.id in params for o in ops) and ops[0].id != ops[1].id:
            return ops[0].id, ops[1].id
        fname, line, _ = src.where(n)
        raise BackendError(f"the triton backend cannot lower the matrix product `{A.unparse(n).strip()}`: its "
                           "operands must be two arguments of the layer, h (..., K) and W (K, N)",
                           filename=fname, lineno=line, col=0, construct="matmul", hint=_HINT)
    raise BackendError("the triton backend found no matrix product of two arguments", filename=src.filename,
                       hint=_HINT)


def roles_of(fname, values, h, w, rows):
    """Roles of a matmul layer's arguments: h the (..., K) input, W the (K, N) matrix; (N,) float tensors per
    column (bias), (..., N) float tensors tiles of the output, 0-d float tensors learnable scalars; in a
    rows layer integer tensors of the leading shape per-row integers (targets); Python numbers constants."""
    x, m = values[h], values[w]
    if not (_is_tensor(x) and x.is_floating_point() and x.dim() >= 1):
        raise UsageError(f"{fname}: `{h}` (the left operand of `{h} @ {w}`) must be a float tensor of shape (..., K)")
    if not (_is_tensor(m) and m.is_floating_point() and m.dim() == 2):
        raise UsageError(f"{fname}: `{w}` (the right operand of `{h} @ {w}`) must be a float matrix of shape (K, N); "
                         f"it is {_describe(m)}")
    if m.shape[0] != x.shape[-1]:
        raise UsageError(f"{fname}: `{h} @ {w}` with shapes {tuple(x.shape)} and {tuple(m.shape)}: the inner "
                         "dimensions differ")
    if m.dtype != x.dtype:
        raise UsageError(f"{fname}: `{h}` is {x.dtype} and `{w}` {m.dtype}; a matmul layer takes one float dtype",
                         hint=f"convert one of them (`{w}.to({h}.dtype)`)")
    lead, n = tuple(x.shape[:-1]), m.shape[1]
    roles = {}
    for p, v in values.items():
        if p == h:
            roles[p] = LHS
        elif p == w:
            roles[p] = RHS
        elif _is_tensor(v) and v.is_floating_point():
            if v.dtype != x.dtype:
                raise UsageError(f"{fname}: `{p}` is {v.dtype} and `{h}` {x.dtype}; a matmul layer takes one float "
                                 "dtype")
            if v.dim() == 0:
                roles[p] = tb.SCALAR_T
            elif tuple(v.shape) == (n,):
                roles[p] = tb.COL
            elif tuple(v.shape) == lead + (n,):
                roles[p] = tb.ROW
            else:
                raise UsageError(f"{fname}: `{p}` has shape {tuple(v.shape)}; besides `{h}` and `{w}` a matmul layer "
                                 f"takes tensors of shape ({n},) (per column), {lead + (n,)} (like the product) "
                                 "or () (scalars)")
        elif _is_tensor(v):
            if rows and tuple(v.shape) == lead and not v.is_complex():
                roles[p] = tb.ROWINT
            else:
                raise UsageError(f"{fname}: integer tensor `{p}` of shape {tuple(v.shape)}; only a row-wise matmul "
                                 f"layer takes per-row integers (targets), of shape {lead}")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            roles[p] = tb.CONST
        else:
            raise UsageError(f"{fname}: argument `{p}` is a {type(v).__name__}; the triton backend takes tensors "
                             "and Python numbers")
    return roles


def _is_tensor(v):
    return type(v).__module__.startswith("torch") and hasattr(v, "is_floating_point")


def _describe(v):
    return f"of shape {tuple(v.shape)}" if _is_tensor(v) else f"a {type(v).__name__}"


# ---- launching (torch) ---------------------------------------------------------------------------------------

def call(layer, values, rows_apply, row_block):
    """Run the matmul layer `layer` (an rg.torch.Function) on `values` ({param: value}).  `rows_apply` and
    `row_block`: retrograd.torch's row-wise launcher and its layout of rows, (BLOCK, chunked, tiled) of
    (n columns, float64) (passed in: this module does not import that one, which imports this one)."""
    import torch
    from ..frontend.source import read_function
    name = layer.diff.fn.__name__
    src = read_function(layer.diff.fn)
    h, w = operands_of(src, list(values))
    rows = tb.has_reduction(src.node)
    roles = roles_of(name, values, h, w, rows)
    wrt = [p for p, v in values.items() if roles[p] in (LHS, RHS) + tb.DIFF_ROLES and _is_tensor(v)
           and v.requires_grad] if torch.is_grad_enabled() else []
    _, chunked, tiled = row_block(values[w].shape[1], values[h].dtype == torch.float64) if rows else (0, False, False)
    key = ("matmul", tuple(sorted(roles.items())), tuple(wrt), chunked, tiled)
    if key not in layer._plans:
        layer._plans[key] = generate(layer.diff, roles, wrt, chunked=chunked, tiled=tiled)
    plan = layer._plans[key]
    layer.diff._triton_last = plan
    names = list(values)
    fn = _functions()["rows" if plan.shape_class == LINEAR_ROWS else "tiled"]
    return fn.apply(layer, plan, names, rows_apply, *[values[n] for n in names])


_FUNCTIONS = {}


def _functions():
    """The torch.autograd.Functions of the two classes (made on first use: torch is imported then)."""
    if not _FUNCTIONS:
        import torch

        class Tiled(torch.autograd.Function):
            @staticmethod
            def forward(ctx, layer, plan, names, rows_apply, *values):
                return _tiled_forward(ctx, layer, plan, names, values)

            @staticmethod
            def backward(ctx, dout):
                with torch.no_grad():
                    grads = _tiled_backward(ctx, dout)
                return (None,) * 4 + _no_second_derivative(ctx, grads)

        class Rows(torch.autograd.Function):
            @staticmethod
            def forward(ctx, layer, plan, names, rows_apply, *values):
                return _rows_forward(ctx, layer, plan, names, rows_apply, values)

            @staticmethod
            def backward(ctx, *douts):
                with torch.no_grad():
                    grads = _rows_backward(ctx, douts)
                return (None,) * 4 + _no_second_derivative(ctx, grads)
        _FUNCTIONS.update(tiled=Tiled, rows=Rows)
    return _FUNCTIONS


def _save(ctx, tensors, args, values):
    """Save what the backward reads, then the caller's differentiated tensors (references, not copies): a
    second derivative raises from them (see _no_second_derivative)."""
    ctx.n_saved = len(tensors)
    ctx.save_for_backward(*tensors, *[v for v in values if _is_tensor(v) and v.requires_grad])


def _no_second_derivative(ctx, grads):
    """With create_graph=True the gradients must not be silently constant (a gradient penalty through the
    layer): they raise when differentiated, as rg.torch.Function's row-wise layers do."""
    import torch
    if not torch.is_grad_enabled():
        return grads
    from torch._C import _functions
    tensors = [g for g in grads if g is not None]
    inputs = list(ctx.saved_tensors[ctx.n_saved:])
    err = _functions.DelayedError(b"rg.torch.Function has no second derivative: its backward kernels are not "
                                  b"differentiable (a gradient penalty or create_graph=True through a "
                                  b"backend='triton' matmul layer); use backend='python' for higher-order gradients",
                                  len(tensors) + len(inputs))
    marked = err(*[g.detach().requires_grad_() for g in tensors], *inputs)
    marked = iter((marked,) if isinstance(marked, torch.Tensor) else marked)
    return tuple(None if g is None else next(marked) for g in grads)


class _Setup:
    """Device, dtypes, tiles and constexprs of one launch."""

    def __init__(self, x):
        import torch
        import triton.language as tl
        self.interpret = x.device.type == "cpu"
        if self.interpret and os.environ.get("TRITON_INTERPRET") != "1":
            raise UsageError("CPU tensors run in Triton's interpreter, which must be switched on (TRITON_INTERPRET=1) "
                             "before triton is imported", hint="move the tensors to the GPU (.cuda())")
        self.f64 = x.dtype == torch.float64
        self.acc = tl.float64 if self.f64 else tl.float32
        self.acc_dtype = torch.float64 if self.f64 else torch.float32
        self.bm, self.bn, self.bk = INTERPRETER_TILE if self.interpret else TILE
        self.kw = dict(BM=self.bm, BN=self.bn, BK=self.bk, ACC=self.acc, PRECISION="ieee",
                       DOT_UPCAST=self.interpret and x.dtype in (torch.bfloat16, torch.float16))
        self.launch = {} if self.interpret else dict(num_warps=TILE_WARPS, num_stages=TILE_STAGES)

    def grid(self, m, n):
        import triton
        return (triton.cdiv(m, self.bm), triton.cdiv(n, self.bn))


def _matmul(module, setup, a, b, c, add=False):
    """c (+)= a @ b with matmul_kernel, for strided 2-D a (M, K), b (K, N), c (M, N)."""
    (m, k), n = a.shape, b.shape[1]
    if m == 0 or n == 0:
        return c
    module.matmul_kernel[setup.grid(m, n)](a, b, c, m, n, k, *a.stride(), *b.stride(), *c.stride(), ADD=add,
                                           **setup.kw, **setup.launch)
    return c


def _reduce_partials(module, setup, part, shape, dtype):
    """The gradient of shape `shape` (a (N,) or () parameter) from per-program partial sums `part`
    ((programs, N) or (programs,)): sum_partials_kernel / sum_all_kernel, as the row-wise layers do."""
    import torch
    import triton
    width = shape[0] if shape else 1
    out = torch.empty(width, dtype=dtype, device=part.device)
    n_parts = part.shape[0]
    extra = {} if setup.interpret else {"num_warps": 4}
    if n_parts == 0 or width == 0:
        out.zero_()
    elif not shape:
        module.sum_all_kernel[(1,)](part, out, n_parts, BLOCK=min(triton.next_power_of_2(n_parts), 1024),
                                    ACC=setup.acc, **extra)
    else:
        block = min(triton.next_power_of_2(width), 1024)
        module.sum_partials_kernel[(triton.cdiv(width, block),)](part, out, n_parts, width, BLOCK=block,
                                                                ACC=setup.acc, **extra)
    return out.reshape(shape)


def _tiled_forward(ctx, layer, plan, names, values):
    import torch
    args = dict(zip(names, values))
    x, m = args[plan.lhs], args[plan.rhs]
    setup = _Setup(x)
    module = tb.load(plan.source, interpret=setup.interpret)
    k, n = m.shape
    lead = tuple(x.shape[:-1])
    x2 = _as_rows(x)
    rows = x2.shape[0]
    out = torch.empty(rows, n, dtype=x.dtype, device=x.device)
    kernel_args = _kernel_args(plan, args, [plan.lhs, plan.rhs] + plan.epilogue_params, n)
    if rows and n:
        getattr(module, plan.fwd_name)[setup.grid(rows, n)](
            **kernel_args, result_ptr=out, result_s0=out.stride(0), result_s1=out.stride(1), M=rows, N=n, K=k,
            **setup.kw, **setup.launch)
    # only what the backward reads: h for dW = h.T @ g, W for dh = g @ W.T, both for a recomputed tile
    wants = set(plan.wrt)
    keep = set(plan.bwd_params)
    if plan.rhs in wants or plan.bwd_recomputes:
        keep.add(plan.lhs)
    if plan.lhs in wants or plan.bwd_recomputes:
        keep.add(plan.rhs)
    ctx.kept = [p for p in plan.params if p in keep and _is_tensor(args[p])]
    _save(ctx, [args[p] for p in ctx.kept], args, values)
    ctx.plan, ctx.names, ctx.setup = plan, names, setup
    ctx.consts = {p: args[p] for p in plan.params if plan.roles[p] == tb.CONST}
    ctx.shapes = {p: (tuple(v.shape), v.dtype) for p, v in args.items() if _is_tensor(v)}
    ctx.sizes = (rows, n, k, lead)
    return out.reshape(lead + (n,))


def _as_rows(v):
    """A (..., D) tensor as a (rows, D) matrix (a view when its strides allow; D = 0 included)."""
    rows = 1
    for d in v.shape[:-1]:
        rows *= d
    return v.reshape(rows, v.shape[-1])


def _kernel_args(plan, args, params, n):
    """Keyword arguments of a tiled kernel: pointers and strides of tensors (2-D views), constants."""
    out = {}
    for p in params:
        r, v, val = plan.roles[p], tb.var_name(p), args[p]
        if r in (LHS, RHS, tb.ROW):
            t = _as_rows(val) if r != RHS else val
            out.update({f"{v}_ptr": t, f"{v}_s0": t.stride(0), f"{v}_s1": t.stride(1)})
        elif r in (tb.COL, tb.SCALAR_T):
            out[f"{v}_ptr"] = val.contiguous()
        else:
            out[v] = val
    return out


def _tiled_backward(ctx, dout):
    import torch
    plan, setup = ctx.plan, ctx.setup
    rows, n, k, lead = ctx.sizes
    args = dict(zip(ctx.kept, ctx.saved_tensors[:ctx.n_saved]), **ctx.consts)
    module = tb.load(plan.source, interpret=setup.interpret)
    dev = dout.device
    dtype = ctx.shapes[plan.lhs][1]
    d2 = dout.reshape(rows, n)
    wants = set(plan.wrt)
    wants_mm = bool(wants & {plan.lhs, plan.rhs})
    grads = {}
    g = d2
    if plan.bwd_kernel:
        outs, finish = {}, []
        grid = setup.grid(rows, n)
        if wants_mm:
            g = torch.empty(rows, n, dtype=dtype, device=dev)
            outs.update(g_ptr=g, g_s0=g.stride(0), g_s1=g.stride(1))
        for p in plan.wrt:
            r, v = plan.roles[p], tb.var_name(p)
            if r == tb.ROW:
                gp = torch.empty(rows, n, dtype=dtype, device=dev)
                outs.update({f"d{v}_ptr": gp, f"d{v}_s0": gp.stride(0), f"d{v}_s1": gp.stride(1)})
                grads[p] = gp
            elif r == tb.COL:
                part = torch.empty(grid[0], n, dtype=setup.acc_dtype, device=dev)
                outs[f"d{v}_partial_ptr"] = part
                finish.append((p, part, n))
            elif r == tb.SCALAR_T:
                part = torch.empty(grid[0] * grid[1], dtype=setup.acc_dtype, device=dev)
                outs[f"d{v}_partial_ptr"] = part
                finish.append((p, part, 0))
        names = [plan.lhs, plan.rhs] + plan.bwd_params
        kernel_args = _kernel_args(plan, {**args, **{p: args.get(p) for p in names}}, [
            p for p in names if p in args or plan.roles[p] == tb.CONST], n)
        if rows and n:
            getattr(module, plan.bwd_name)[grid](
                **kernel_args, dresult_ptr=d2, dresult_s0=d2.stride(0), dresult_s1=d2.stride(1), **outs,
                M=rows, N=n, K=k, **setup.kw, **setup.launch)
        for p, part, width in finish:
            grads[p] = _reduce_partials(module, setup, part, ctx.shapes[p][0], dtype)
    if plan.lhs in wants:       # dh = g @ W.T
        w = args[plan.rhs]
        dh = torch.empty(rows, k, dtype=dtype, device=dev)
        grads[plan.lhs] = _matmul(module, setup, g, w.t(), dh).reshape(ctx.shapes[plan.lhs][0])
    if plan.rhs in wants:       # dW = h.T @ g
        x2 = args[plan.lhs].reshape(rows, k)
        dw = torch.empty(k, n, dtype=dtype, device=dev)
        if rows == 0:
            dw.zero_()
        grads[plan.rhs] = _matmul(module, setup, x2.t(), g, dw)
    for p in list(grads):
        if plan.roles[p] == tb.ROW:
            grads[p] = grads[p].reshape(ctx.shapes[p][0])
    return tuple(grads.get(nm) for nm in ctx.names)


class _Ctx:
    """Stands in for an autograd ctx when the row-wise launcher runs one chunk of rows."""

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


def _chunk_rows(rows, n, itemsize):
    """Rows per chunk of the rows class: a (chunk, N) block of logits of at most ROW_CHUNK_BYTES."""
    return max(1, min(rows, ROW_CHUNK_BYTES // max(n * itemsize, 1)))


def _row_values(plan, args, z, r0, r1):
    """The row-wise layer's arguments for rows r0:r1: the chunk's logits z, slices of per-row tensors."""
    rp = plan.rows_plan
    out = {}
    for p in rp.params:
        if p == plan.z:
            out[p] = z
            continue
        v, r = args[p], rp.roles[p]
        if r == tb.ROW:
            out[p] = _as_rows(v)[r0:r1]
        elif r == tb.ROWINT:
            out[p] = v.reshape(-1)[r0:r1]
        else:
            out[p] = v
    return out


def _rethrow_index(exc, r0):
    """An out-of-range target in a chunk, reported at its row of the whole batch."""
    import re
    msg = re.sub(r"\bat row (\d+)", lambda m_: f"at row {int(m_.group(1)) + r0}", exc.detail)
    msg = re.sub(r"\[(\d+)\] =", lambda m_: f"[{int(m_.group(1)) + r0}] =", msg)
    return IndexRangeError(msg, filename=exc.filename, lineno=exc.lineno, col=exc.col, construct=exc.construct,
                           hint=exc.hint)


def _rows_forward(ctx, layer, plan, names, rows_apply, values):
    import torch
    args = dict(zip(names, values))
    x, m = args[plan.lhs], args[plan.rhs]
    setup = _Setup(x)
    module = tb.load(plan.source, interpret=setup.interpret)
    rp = plan.rows_plan
    k, n = m.shape
    lead = tuple(x.shape[:-1])
    x2 = _as_rows(x)
    rows = x2.shape[0]
    chunk = _chunk_rows(rows, n, x.element_size())
    zbuf = torch.empty(chunk, n, dtype=x.dtype, device=x.device)
    outs = [torch.empty((rows, n) if kind == tb.B else (rows,), dtype=x.dtype, device=x.device)
            for _, kind in rp.outputs]
    stats = []
    rnames = list(rp.params)
    for r0 in range(0, rows, chunk):
        r1 = min(rows, r0 + chunk)
        z = _matmul(module, setup, x2[r0:r1], m, zbuf[:r1 - r0])
        c = _Ctx()
        vals = _row_values(plan, args, z, r0, r1)
        try:
            got = rows_apply.run(c, layer, rp, rnames, [vals[p] for p in rnames])
        except IndexRangeError as exc:
            raise _rethrow_index(exc, r0) from None
        for o, g in zip(outs, got if isinstance(got, tuple) else (got,)):
            o[r0:r1] = g
        kk = len(c.tensor_params)
        stats.append(list(c.saved_tensors[kk:kk + c.n_stats]))
    n_stats = len(rp.stats)
    flat = [torch.cat([s[i] for s in stats]) if stats else torch.empty(0, dtype=setup.acc_dtype, device=x.device)
            for i in range(n_stats)]
    # kept: h and W (the logits are recomputed from them), the row layer's other inputs, its statistics
    ctx.kept = [p for p in plan.params if _is_tensor(args[p]) and (p in (plan.lhs, plan.rhs) or p in rp.bwd_params)]
    _save(ctx, [args[p] for p in ctx.kept] + flat, args, values)
    ctx.plan, ctx.names, ctx.setup, ctx.layer, ctx.rows_apply = plan, names, setup, layer, rows_apply
    ctx.consts = {p: args[p] for p in plan.params if not _is_tensor(args[p])}
    ctx.shapes = {p: (tuple(v.shape), v.dtype) for p, v in args.items() if _is_tensor(v)}
    ctx.sizes = (rows, n, k, lead, chunk)
    shaped = [o.reshape(lead + ((n,) if kind == tb.B else ())) for o, (_, kind) in zip(outs, rp.outputs)]
    return shaped[0] if rp.result_kind != tb.TUPLE else tuple(shaped)


def _rows_backward(ctx, douts):
    import torch
    plan, setup, rp = ctx.plan, ctx.setup, ctx.plan.rows_plan
    rows, n, k, lead, chunk = ctx.sizes
    saved = ctx.saved_tensors[:ctx.n_saved]
    args = dict(zip(ctx.kept, saved[:len(ctx.kept)]), **ctx.consts)
    # the row layer's tensors it does not read are not kept: stand-ins of their shape for its launcher
    for p in rp.params:
        if p not in args and p != plan.z:
            shape, dtype = ctx.shapes[p]
            args[p] = torch.empty(shape, dtype=dtype, device=saved[0].device)
    stats = list(saved[len(ctx.kept):])
    module = tb.load(plan.source, interpret=setup.interpret)
    x, m = args[plan.lhs], args[plan.rhs]
    x2 = _as_rows(x)
    dtype, dev = x.dtype, x.device
    wants = set(plan.wrt)
    grads = {}
    dh = torch.empty(rows, k, dtype=dtype, device=dev) if plan.lhs in wants else None
    # dW summed over chunks: in the accumulator's precision, cast at the end
    dw = torch.zeros(k, n, dtype=setup.acc_dtype if dtype != setup.acc_dtype else dtype, device=dev) \
        if plan.rhs in wants else None
    zbuf = torch.empty(min(chunk, max(rows, 1)), n, dtype=dtype, device=dev)
    rnames = list(rp.params)
    sums = {}
    douts = [d.reshape(rows, n) if kind == tb.B else d.reshape(rows) for d, (_, kind) in zip(douts, rp.outputs)]
    for r0 in range(0, rows, chunk):
        r1 = min(rows, r0 + chunk)
        z = zbuf[:r1 - r0]
        if plan.z in rp.bwd_params:        # the chunk's logits again
            _matmul(module, setup, x2[r0:r1], m, z)
        c = _Ctx()
        vals = _row_values(plan, args, z, r0, r1)
        ctx.rows_apply.run(c, ctx.layer, rp, rnames, [vals[p] for p in rnames], launch=False)
        kk = len(c.tensor_params)
        c.saved_tensors = tuple(c.saved_tensors[:kk]) + tuple(s[r0:r1] for s in stats)
        got = dict(zip(rnames, ctx.rows_apply._backward(c, tuple(d[r0:r1] for d in douts))[3:]))
        dz = got.get(plan.z)
        if dh is not None:
            _matmul(module, setup, dz, m.t(), dh[r0:r1])
        if dw is not None:
            _matmul(module, setup, x2[r0:r1].t(), dz, dw, add=True)
        for p in plan.wrt:
            if p in (plan.lhs, plan.rhs):
                continue
            g = got[p]
            if rp.roles[p] == tb.ROW:
                grads.setdefault(p, torch.empty(rows, n, dtype=dtype, device=dev))[r0:r1] = g
            else:
                sums[p] = g if p not in sums else sums[p] + g
    if dh is not None:
        grads[plan.lhs] = dh.reshape(ctx.shapes[plan.lhs][0])
    if dw is not None:
        grads[plan.rhs] = dw.to(dtype)
    for p in plan.wrt:
        if p in (plan.lhs, plan.rhs):
            continue
        shape = ctx.shapes[p][0]
        if rp.roles[p] == tb.ROW:
            grads[p] = grads[p].reshape(shape) if p in grads else torch.zeros(shape, dtype=dtype, device=dev)
        else:
            grads[p] = sums[p] if p in sums else torch.zeros(shape, dtype=dtype, device=dev)
    return tuple(grads.get(nm) for nm in ctx.names)


# ---- compiling for a CUDA target without a GPU ---------------------------------------------------------------

def compile_for_cuda(plan, dtype="float32", capability=90, tile=None, num_warps=None, num_stages=None,
                     rows=(2048, 8, 3)):
    """Compile a matmul plan's kernels for CUDA sm_<capability> without a GPU (in a process that does not
    run the interpreter); returns {kernel name: compiled kernel}.  Tiled plans: the forward, the backward
    epilogue and matmul_kernel at `tile` (default TILE); rows plans: matmul_kernel and the row-wise
    layer's kernels at `rows` = (block, warps, stages), by default what retrograd.torch launches for
    N > ONE_BLOCK_MAX columns (CHUNK, CHUNK_WARPS, NUM_STAGES)."""
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    bm, bn, bk = tile or TILE
    warps = num_warps or TILE_WARPS
    stages = num_stages or TILE_STAGES
    module = tb.load(plan.source, interpret=False)
    ft = "*" + tb._TL_TYPES[dtype]
    acc = tl.float64 if dtype == "float64" else tl.float32
    acc_t = "*fp64" if dtype == "float64" else "*fp32"
    consts = {"BM": bm, "BN": bn, "BK": bk, "ACC": acc, "PRECISION": "ieee", "DOT_UPCAST": False}
    sizes = {"M": "i32", "N": "i32", "K": "i32", **{c: "constexpr" for c in consts}}
    target = GPUTarget("cuda", capability, 32)
    options = {"num_warps": warps, "num_stages": stages}
    out = {}

    def compile_(fn, sig, extra):
        return triton.compile(ASTSource(fn=fn, signature=sig, constexprs={**consts, **extra}), target=target,
                              options=options)
    mm = {"a_ptr": ft, "b_ptr": ft, "c_ptr": ft, **{a: "i32" for a in ("M", "N", "K", "a_s0", "a_s1", "b_s0",
                                                                       "b_s1", "c_s0", "c_s1")},
          **{c: "constexpr" for c in consts}, "ADD": "constexpr"}
    out["matmul_kernel"] = compile_(module.matmul_kernel, mm, {"ADD": False})
    if plan.shape_class == LINEAR_ROWS:
        from .triton import compile_for_cuda as rows_compile
        out.update(rows_compile(plan.rows_plan, dtype=dtype, block=rows[0], capability=capability,
                                num_warps=rows[1], num_stages=rows[2], partials=False))
        return out

    def args_of(names):
        sig, extra = {}, {}
        for p in names:
            r, v = plan.roles[p], tb.var_name(p)
            if r in (LHS, RHS, tb.ROW):
                sig.update({f"{v}_ptr": ft, f"{v}_s0": "i32", f"{v}_s1": "i32"})
            elif r in (tb.COL, tb.SCALAR_T):
                sig[f"{v}_ptr"] = ft
            else:
                sig[v] = "constexpr"
                extra[v] = 0.5
        return sig, extra
    sig, extra = args_of([plan.lhs, plan.rhs] + plan.epilogue_params)
    sig.update({"result_ptr": ft, "result_s0": "i32", "result_s1": "i32", **sizes})
    out[plan.fwd_name] = compile_(getattr(module, plan.fwd_name), sig, extra)
    if plan.bwd_kernel:
        sig, extra = args_of([plan.lhs, plan.rhs] + plan.bwd_params)
        sig.update({"dresult_ptr": ft, "dresult_s0": "i32", "dresult_s1": "i32"})
        for a in plan.bwd_out_args:
            sig[a] = acc_t if a.endswith("_partial_ptr") else ft if a.endswith("_ptr") else "i32"
        sig.update(sizes)
        out[plan.bwd_name] = compile_(getattr(module, plan.bwd_name), sig, extra)
    return out


def compile_plans(plans, dtypes=("float32",), capability=90, usage=True, rows=(2048, 8, 3)):
    """compile_for_cuda of every plan in a fresh Python process (a process running the interpreter cannot
    compile); returns {plan name: {dtype: {kernel: ptxas usage (regs, spill_stores, spill_loads, stack) and
    "cp_async" (asynchronous copies in the PTX) and "mma" (tensor-core instructions in the PTX)}}}."""
    import json
    import pickle
    import subprocess
    import sys
    import tempfile
    env = dict(os.environ, TRITON_INTERPRET="0")
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    src_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = src_root + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "plans.pkl")
        with open(path, "wb") as fh:
            pickle.dump({"plans": list(plans), "dtypes": list(dtypes), "capability": capability, "usage": usage,
                         "rows": rows}, fh)
        done = subprocess.run([sys.executable, "-m", "retrograd.backends.triton_matmul", path], env=env,
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise BackendError("compiling the matmul kernels for CUDA failed:\n" + done.stderr[-4000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compile_main(path):
    import json
    import pickle
    with open(path, "rb") as fh:
        job = pickle.load(fh)
    out = {}
    for plan in job["plans"]:
        for dtype in job["dtypes"]:
            kernels = compile_for_cuda(plan, dtype=dtype, capability=job["capability"], rows=job["rows"])
            out.setdefault(plan.name, {})[dtype] = {
                k: dict(tb.ptxas_usage(v.asm["ptx"], job["capability"]), cp_async=v.asm["ptx"].count("cp.async."),
                        mma=v.asm["ptx"].count("mma.") + v.asm["ptx"].count("wgmma."))
                for k, v in kernels.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    import sys
    _compile_main(sys.argv[1])
