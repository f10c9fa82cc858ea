"""retrograd layers as PyTorch autograd functions and modules, running generated Triton kernels.

    @rg.differentiate(backend="triton")
    def layernorm(x, w, b, eps=1e-5):
        mu = np.mean(x)
        xc = x - mu
        rstd = 1.0 / np.sqrt(np.mean(xc * xc) + eps)
        return xc * rstd * w + b

    ln = rg.torch.Module(layernorm, w=torch.ones(64), b=torch.zeros(64))
    y = ln(x)                    # x: (..., 64); fused forward kernel
    y.sum().backward()           # fused backward kernel; ln.w.grad, ln.b.grad

Argument roles, read off the values at each call:
* a layer with a reduction (np.sum / mean / max / min, `axis=None` or `-1`) is *row-wise*: float tensors of
  the largest rank (..., D) are rows, 1-D float tensors of length D are per-column parameters (weight,
  bias), integer tensors of the leading shape are per-row integers (targets), 0-d tensors learnable scalars;
* a layer without one is *elementwise*: float tensors are broadcast against each other, 0-d tensors are
  learnable scalars;
* Python numbers are fixed constants (`tl.constexpr`: a new value compiles a new kernel).
A per-row index `x[t]` follows NumPy: -D <= t < 0 counts from the end, and a t outside [-D, D) raises
`retrograd.IndexRangeError` (an IndexError) after the forward launch, as torch's cross_entropy raises (to
leave rows out, pass a valid index and a 0/1 weight).  The backward is not differentiable: with
`create_graph=True` a second derivative raises a RuntimeError instead of being silently dropped.
Gradients are computed for the float tensor arguments that require grad.  Elementwise operands are read
through their strides (a broadcast axis has stride 0: nothing is expanded or copied); row-wise inputs
that are not contiguous are copied (`.contiguous()`).  Only the tensors the backward kernel reads are
saved for it (and the per-row statistics).  Rows wider than ONE_BLOCK_MAX columns (or than `block=`) run
in passes over column chunks.  A layer may return a tuple: one output tensor each, each with a cotangent.
A row-wise layer may slice the row with bounds known from its length (`x[..., :d]` with `d = x.shape[-1]
// 2`, `x[..., 1::2]`, negative bounds and steps) and join pieces with np.concatenate (RoPE); widths that
NumPy would refuse to combine raise a UsageError naming the line before the launch.  Rows up to TILE_MAX
columns run ROWS at a time in [ROWS, BLOCK] tiles (`tile_rows=` fixes ROWS, 0 turns tiles off; on a GPU
ROWS and the warps are timed over a small space on the first launch of each shape and cached).
Under torch.compile / torch.export a layer is the torch.library custom op `retrograd::layer` (fake
implementation for tracing, backward `retrograd::layer_backward`): the kernels are opaque to Dynamo.  That
path computes gradients of every float tensor argument and keeps all the layer's tensor arguments for the
backward (the op cannot see requires_grad); the eager path keeps only what the backward reads.  CPU tensors run in Triton's interpreter (TRITON_INTERPRET=1 is set when this
module is imported on a machine without CUDA); CUDA tensors run compiled kernels.

Matmul layers: a layer computing `z = h @ W` of two of its arguments (h (..., K), W (K, N)) is lowered by
backends/triton_matmul.py: elementwise code of z runs as the epilogue of a tiled tl.dot kernel, and
reductions of z over N (fused linear + cross-entropy) run chunk of rows by chunk of rows without the
(rows, N) logits; under torch.compile such a layer is a graph break (no custom op yet).

This module imports torch and triton: it is imported lazily (`rg.torch`), never by `import retrograd`.
"""
import functools
import itertools
import os
import weakref

import torch as _torch

if not _torch.cuda.is_available():   # pragma: no branch - must precede the first @triton.jit
    os.environ.setdefault("TRITON_INTERPRET", "1")

import triton  # noqa: E402

from .api import ARRAY_PLUGINS, Differentiable  # noqa: E402
from .backends import triton as _tb  # noqa: E402
from .backends import triton_matmul as _tm  # noqa: E402
from .errors import IndexRangeError, UsageError  # noqa: E402
from .frontend.namespace import Reads  # noqa: E402

__all__ = ["Function", "Module", "INTERPRETER_PROGRAMS"]

INTERPRETER_PROGRAMS = 2        # programs per launch in the interpreter, where each costs milliseconds
_LAYERS = weakref.WeakValueDictionary()     # Function key -> Function: the custom op finds its layer by key
_LAYER_IDS = itertools.count()
_MAX_BLOCK = 1 << 16            # elementwise blocks in the interpreter
# Sizes checked for register spills by compiling for sm_90 (tests/test_triton_wide.py): a one-block
# layer-norm backward spills at 8192 columns with 8 warps (and worse with 16, capped at 128 registers);
# chunks of 2048 columns with 8 warps and 3 stages spill in none of the tested layers.
ONE_BLOCK_MAX = 4096            # rows up to this wide are one block; wider ones are split into chunks
CHUNK = 2048                    # the chunk of a wider row (columns per pass iteration), float32 / 16-bit
CHUNK_F64 = 1024                # ... with float64 arithmetic (twice the registers per value)
CHUNK_WARPS = 8
NUM_STAGES = 3                  # pipelined loads of a chunked pass (tl.range's num_stages)
# A layer that slices the row loads its inputs at several column offsets (backends/triton_slices): RoPE's
# and a GLU's backward spill at 4096 columns with 8 warps and at 2048 with 4, and not in chunks of 2048
ONE_BLOCK_MAX_SLICES = 1024
# Rows of a block up to TILE_MAX columns run ROWS at a time in [ROWS, BLOCK] tiles (backends/triton_narrow):
# about TILE_ELEMENTS values a tile by default; on a GPU (ROWS, warps) is timed over `_tile_space` on the
# first launch of a kernel for a shape and cached.
TILE_MAX = 512
TILE_ELEMENTS = 2048
TILE_WARPS = (4, 8, 16)
TILE_PER_THREAD = 16            # values of a tile per thread at most: 32 spill in a tiled backward (sm_90)
_TUNED = {}                     # (kernel, source, n_cols, dtype, rows bucket) -> (ROWS, num_warps)


def _tile_rows(block):
    return max(1, min(64, TILE_ELEMENTS // block))


def _tile_space(block):
    """The (ROWS, num_warps) a GPU launch times: half, once and twice the default tile, each with the two
    fewest warps that hold it in at most TILE_PER_THREAD values a thread."""
    h = _tile_rows(block)
    space = []
    for r in sorted({max(1, h // 2), h, min(128, 2 * h)}):
        space += [(r, w) for w in TILE_WARPS if r * block <= TILE_PER_THREAD * 32 * w][:2]
    return space


def _cuda_time(launch):
    launch()                    # compiles
    _torch.cuda.synchronize()
    start, end = _torch.cuda.Event(enable_timing=True), _torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(5):
        launch()
    end.record()
    end.synchronize()
    return start.elapsed_time(end)


def _tuned(key, space, launch, timer=None):
    """The fastest config of `space` for `launch(config)` (every launch writes the same outputs), cached
    by key.  `timer`: how a launch is timed (CUDA events; a test passes its own)."""
    if key not in _TUNED:
        timer = timer or _cuda_time
        _TUNED[key] = min(space, key=lambda cfg: timer(lambda: launch(cfg)))
    return _TUNED[key]


def _layout(layer, n_cols, f64=False):
    """(BLOCK, chunked, tiled) of rows of n_cols for a layer: chunks for wide rows, tiles for short ones."""
    block, chunked = _row_block(n_cols, layer.block, f64, _slices(layer.diff))
    return block, chunked, (not chunked and block <= TILE_MAX and layer.tile_rows != 0)


def _row_block(n_cols, block=None, f64=False, slices=False):
    """(BLOCK, chunked) for rows of n_cols: one block of next_power_of_2(n_cols) columns up to ONE_BLOCK_MAX
    (ONE_BLOCK_MAX_SLICES for a layer that slices the row; or up to `block` when given), else chunks of
    CHUNK (or `block`) columns."""
    limit = (ONE_BLOCK_MAX_SLICES if slices else ONE_BLOCK_MAX) if block is None else block
    if n_cols <= limit:
        return triton.next_power_of_2(max(n_cols, 1)), False
    return ((CHUNK_F64 if f64 else CHUNK) if block is None else block), True


class Function:
    """A callable running the layer's fused Triton kernels, differentiable with torch.autograd."""

    def __init__(self, fn, programs=None, block=None, tile_rows=None):
        if tile_rows is not None and (not isinstance(tile_rows, int) or tile_rows < 0 or tile_rows & (tile_rows - 1)):
            raise UsageError(f"tile_rows={tile_rows!r}: rows per tile are a power of two (0: one row at a time)")
        self.tile_rows = tile_rows      # None: chosen per shape (timed on a GPU); 0: no tiles
        if not isinstance(fn, Differentiable):
            fn = Differentiable(fn, backend="triton")
        if block is not None and (not isinstance(block, int) or block < 1 or block & (block - 1)):
            raise UsageError(f"block={block!r}: the row block must be a power of two")
        self.diff = fn
        self.programs = programs
        self.block = block      # None: rows up to ONE_BLOCK_MAX wide in one block, wider in CHUNK chunks
        self._plans = {}
        self._reads = None      # the globals, helpers and defaults the plans were generated from
        # for torch.compile: the layer is the custom op retrograd::layer, told which layer by this key
        params = list(self.diff.signature.parameters.values())
        self._pnames = tuple(p.name for p in params)
        self._pdefaults = tuple(None if p.default is p.empty else p.default for p in params)
        self._n_outputs = _n_outputs(self.diff)
        self._matmul = _tm.is_matmul_layer(self.diff)    # `h @ W` layers: backends/triton_matmul
        self._key = f"{self.diff.fn.__module__}.{self.diff.fn.__qualname__}#{next(_LAYER_IDS)}"
        _LAYERS[self._key] = self

    def __repr__(self):
        return f"<retrograd.torch.Function {self.diff.fn.__qualname__}>"

    def revalidate(self):
        """Drop the plans when a global, helper or default they read was rebound since: the kernels inline
        global numbers and helpers, so they would silently keep the old values (README: never stale)."""
        reads = self._reads
        if reads is None or reads.changed(reads.read()):
            self._plans.clear()
            self.diff._triton_node = None
            self._reads = Reads([self.diff.fn])

    def plan(self, roles, wrt, chunked=False, tiled=False):
        key = (tuple(sorted(roles.items())), tuple(wrt), chunked, tiled)
        if key not in self._plans:
            self._plans[key] = _tb.generate(self.diff, roles, wrt, chunked=chunked, tiled=tiled)
        plan = self._plans[key]
        self.diff._triton_last = plan
        return plan

    def __call__(self, *args, **kwargs):
        if self._matmul:
            return _matmul_call(self, args, kwargs)
        if _torch.compiler.is_compiling():
            return self._compiled_call(args, kwargs)
        self.revalidate()
        try:
            bound = self.diff.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"{self.diff.fn.__name__}: {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        rows = _tb.has_reduction(_tb_node(self.diff))
        roles = _roles(self.diff.fn.__name__, values, rows)
        wrt = [p for p, v in values.items() if roles[p] in _tb.DIFF_ROLES and isinstance(v, _torch.Tensor)
               and v.requires_grad]
        chunked = tiled = False
        if rows:
            main = next(v for p, v in values.items() if roles[p] == _tb.ROW)
            f64 = any(isinstance(v, _torch.Tensor) and v.dtype == _torch.float64 for v in values.values())
            _, chunked, tiled = _layout(self, main.shape[-1], f64)
        plan = self.plan(roles, wrt if _torch.is_grad_enabled() else [], chunked, tiled)
        names = list(values)
        return _Apply.apply(self, plan, names, *[values[n] for n in names])


    def _compiled_call(self, args, kwargs):
        """Under torch.compile / torch.export: the layer is one opaque custom op, `retrograd::layer`, with a
        fake (meta) implementation for tracing and a registered backward (`retrograd::layer_backward`).
        Plain code only (Dynamo traces it): the key names the layer and which arguments are Python numbers
        (their values travel as the op's float[] / int[] arguments)."""
        tensors, floats, ints, consts = [], [], [], []
        for i, name in enumerate(self._pnames):
            if i < len(args):
                v = args[i]
            elif name in kwargs:
                v = kwargs[name]
            else:
                v = self._pdefaults[i]
            if isinstance(v, _torch.Tensor):
                tensors.append(v)
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                raise UsageError(f"{self.diff.fn.__name__}: argument `{name}` is a {type(v).__name__}; the "
                                 "triton backend takes tensors and Python numbers")
            elif isinstance(v, int):
                ints.append(v)
                consts.append(name + ":i")
            else:
                floats.append(v)
                consts.append(name + ":f")
        out = _torch.ops.retrograd.layer(self._key + "|" + ",".join(consts), tensors, floats, ints)
        n = self._n_outputs
        return out[0] if n == 1 else tuple(out[:n])


@_torch.compiler.disable
def _matmul_call(layer, args, kwargs):
    """A matmul layer (backends/triton_matmul.py).  It has no custom op yet: under torch.compile it is a graph
    break (run eagerly), and fullgraph=True refuses it."""
    try:
        bound = layer.diff.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise UsageError(f"{layer.diff.fn.__name__}: {exc}") from None
    bound.apply_defaults()
    layer.revalidate()
    return _tm.call(layer, dict(bound.arguments), _Apply, functools.partial(_layout, layer))


def _tb_node(diff):
    node = getattr(diff, "_triton_node", None)
    if node is None:
        from .frontend.source import read_function
        node = diff._triton_node = read_function(diff.fn).node
    return node


def _slices(diff):
    return _tb.has_column_slices(_tb_node(diff))


def _roles(fname, values, rows):
    floats = {p: v for p, v in values.items() if isinstance(v, _torch.Tensor) and v.is_floating_point()}
    if not floats or all(v.dim() == 0 for v in floats.values()):
        raise UsageError(f"{fname}: the triton backend needs at least one float tensor of rank >= 1")
    top = max(v.dim() for v in floats.values())
    shape = next(v.shape for v in floats.values() if v.dim() == top)
    roles = {}
    for p, v in values.items():
        if isinstance(v, _torch.Tensor):
            if v.is_floating_point():
                if v.dim() == 0:
                    roles[p] = _tb.SCALAR_T
                elif not rows:
                    roles[p] = _tb.ELEM
                elif v.shape == shape:
                    roles[p] = _tb.ROW
                elif v.dim() == 1 and v.shape[0] == shape[-1]:
                    roles[p] = _tb.COL
                elif v.dim() == len(shape) and v.shape == shape[:-1] + (1,):
                    roles[p] = _tb.ROWF
                else:
                    raise UsageError(f"{fname}: `{p}` has shape {tuple(v.shape)}; a row-wise layer takes "
                                     f"tensors of shape {tuple(shape)} (rows), ({shape[-1]},) (per column) or "
                                     f"{tuple(shape[:-1]) + (1,)} (one number per row)")
            elif not rows:
                roles[p] = _tb.ELEM
            elif v.shape == shape[:-1] and not v.is_complex():
                roles[p] = _tb.ROWINT
            else:
                raise UsageError(f"{fname}: integer tensor `{p}` has shape {tuple(v.shape)}; per-row integers "
                                 f"(targets) have the leading shape {tuple(shape[:-1])}")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            roles[p] = _tb.CONST
        else:
            raise UsageError(f"{fname}: argument `{p}` is a {type(v).__name__}; the triton backend takes "
                             "tensors and Python numbers")
    return roles


def _acc(tensors):
    import triton.language as tl
    return tl.float64 if any(t.dtype == _torch.float64 for t in tensors) else tl.float32


def _launch_rows(n_rows, interpret, programs, device):
    if programs is None:
        if interpret:
            programs = INTERPRETER_PROGRAMS
        else:
            programs = 4 * _torch.cuda.get_device_properties(device).multi_processor_count
    if n_rows == 0:
        return 0, 1
    programs = max(1, min(programs, n_rows))
    per = triton.cdiv(n_rows, programs)
    return triton.cdiv(n_rows, per), per


def _warps(block):
    return 4 if block <= 2048 else 8


class _Apply(_torch.autograd.Function):
    @staticmethod
    def forward(ctx, layer, plan, names, *values):
        return _Apply.run(ctx, layer, plan, names, values)

    @staticmethod
    def run(ctx, layer, plan, names, values, launch=True):
        """The forward launch; fills ctx as the backward reads it.  launch=False: only ctx (a custom op's
        backward rebuilds it from the forward's inputs)."""
        interpret = _interpreting(values)
        if interpret and os.environ.get("TRITON_INTERPRET") != "1":
            raise UsageError(f"{plan.name}: CPU tensors run in Triton's interpreter, which must be switched on "
                             "(TRITON_INTERPRET=1) before triton is imported",
                             hint="move the tensors to the GPU (.cuda()), or set TRITON_INTERPRET=1 at start-up")
        module = _tb.load(plan.source, interpret=interpret)
        args = dict(zip(names, values))
        tensors = {p: v for p, v in args.items() if isinstance(v, _torch.Tensor)}
        acc = _acc(tensors.values())
        acc_dtype = _torch.float64 if acc.primitive_bitwidth == 64 else _torch.float32
        if plan.mode == _tb.ROWS:
            main = next(v for p, v in tensors.items() if plan.roles[p] == _tb.ROW)
            shape = main.shape
            n_cols = shape[-1]
            n_rows = main.numel() // max(n_cols, 1)
            block, chunked, tiled = _layout(layer, n_cols, acc_dtype == _torch.float64)
            assert chunked == plan.chunked and tiled == plan.tiled
            prepared = {p: (v.contiguous() if isinstance(v, _torch.Tensor) else v) for p, v in args.items()}
            outs = [_torch.empty(shape if k == _tb.B else shape[:-1], dtype=main.dtype, device=main.device)
                    for _, k in plan.outputs]
            stats = [_torch.empty(n_rows, dtype=acc_dtype, device=main.device) for _ in plan.stats]
            grid, per = _launch_rows(n_rows, interpret, layer.programs, main.device)
            if plan.tiled:      # a program's rows: whole tiles of the largest ROWS it may run
                space = [(layer.tile_rows or _tile_rows(block), 4)] if layer.tile_rows or interpret \
                    else _tile_space(block)
                most = max(r for r, _ in space)
                per = triton.cdiv(max(per, 1), most) * most
                grid = triton.cdiv(n_rows, per)
            sizes = [n_rows, n_cols, per]
            slice_sizes = _tb.launch_sizes(plan, n_cols)     # static slices of the row: checked widths
        else:
            floats = [v for p, v in tensors.items() if plan.roles[p] == _tb.ELEM]
            shape = _torch.broadcast_shapes(*[v.shape for v in floats])
            elem = [p for p in plan.params if plan.roles[p] == _tb.ELEM]
            sizes_, strides = _collapse(shape, [args[p].expand(shape).stride() for p in elem])
            copied = sizes_ is None     # more axes than the kernels index: contiguous copies of the operands
            if copied:
                sizes_, strides = [1] * (_tb.ELEM_DIMS - 1) + [max(_prod(shape), 1)], [[0] * 3 + [1]] * len(elem)
            prepared = {p: (v.expand(shape).contiguous() if copied else v) if plan.roles[p] == _tb.ELEM
                        else v.contiguous() if isinstance(v, _torch.Tensor) else v for p, v in args.items()}
            elem_strides = {a: st for p, row in zip(elem, strides)
                            for a, st in zip(_tb.elem_strides(_tb_var(p)), row)}
            main = next(v for v in floats if v.is_floating_point())
            outs = [_torch.empty(shape, dtype=main.dtype, device=main.device) for _ in plan.outputs]
            stats = []
            n = outs[0].numel()
            if layer.programs:
                block = triton.next_power_of_2(max(triton.cdiv(n, layer.programs), 1))
            else:
                block = min(triton.next_power_of_2(max(n, 1)), _MAX_BLOCK) if interpret else 1024
            grid = triton.cdiv(n, block)
            per = None
            sizes = [n] + list(sizes_[1:])
        kw = {"BLOCK": block, "ACC": acc}
        if plan.chunked:
            kw["NUM_STAGES"] = NUM_STAGES
        if not interpret:
            kw["num_warps"] = CHUNK_WARPS if plan.chunked else _warps(block) if plan.mode == _tb.ROWS else 4
        tiles = None
        if plan.mode == _tb.ROWS and plan.tiled:
            tiles = dict(space=space, key=(plan.source, n_cols, str(main.dtype), triton.next_power_of_2(n_rows)))
            kw["ROWS"] = space[0][0]
        if plan.mode == _tb.ROWS:
            elem_strides = {}
        inputs = {**_inputs(plan, prepared), **elem_strides}
        names_sizes = ["n_rows", "n_cols", "rows_per_program"] if plan.mode == _tb.ROWS else \
            ["n_elements"] + _tb.ELEM_SIZES
        if plan.mode == _tb.ROWS:
            names_sizes, sizes = names_sizes + list(slice_sizes), sizes + list(slice_sizes.values())
        for p in plan.index_params:
            if isinstance(args[p], _torch.Tensor) and args[p].dtype == _torch.bool:
                raise UsageError(f"{plan.name}: `{p}` is a bool tensor used as an index; NumPy would read it as a "
                                 "mask, not as the index 0 or 1", hint=f"pass `{p}.long()` to mean indices")
        flags = {}
        if plan.index_sites:    # per gather x[t]: 1 + a row whose index is outside [-D, D), or 0
            flags["index_error_ptr"] = _torch.zeros(len(plan.index_sites), dtype=_torch.int64, device=main.device)
        if grid and launch:
            def forward(config):
                getattr(module, plan.fwd_name)[(grid,)](
                    **inputs, **{f"{o}_ptr": t for (o, _), t in zip(plan.outputs, outs)},
                    **{f"{s}_ptr": t for s, t in zip(plan.stats, stats)}, **flags,
                    **dict(zip(names_sizes, sizes)), **_config(kw, config))
            forward(_tile_config(tiles, plan.fwd_name, forward, interpret))
        if flags and launch:
            _check_indices(plan, flags["index_error_ptr"], prepared, n_cols)
        ctx.layer, ctx.plan, ctx.names = layer, plan, names
        ctx.meta = dict(shape=shape, grid=grid, per=per, sizes=dict(zip(names_sizes, sizes)), block=block, kw=kw,
                        acc_dtype=acc_dtype, consts={p: prepared[p] for p in plan.params if plan.roles[p] == _tb.CONST},
                        shapes={p: tuple(v.shape) for p, v in tensors.items()},
                        dtypes={p: v.dtype for p, v in tensors.items()}, interpret=interpret, device=main.device,
                        elem_strides=elem_strides, tiles=tiles)
        # only what the backward kernel reads (plan.bwd_params), and the statistics
        ctx.tensor_params = [p for p in plan.bwd_params if isinstance(prepared[p], _torch.Tensor)]
        saved = [prepared[p] for p in ctx.tensor_params] + stats
        # and the caller's differentiable tensors (not the copies above): a second derivative's error starts there
        wrt = [v for v in values if isinstance(v, _torch.Tensor) and v.requires_grad]
        ctx.n_stats = len(stats)
        ctx.save_for_backward(*saved, *wrt)
        return outs[0] if plan.result_kind != _tb.TUPLE else tuple(outs)

    @staticmethod
    def backward(ctx, *douts):
        grads = _Apply._backward(ctx, douts)
        if not _torch.is_grad_enabled():
            return grads
        # create_graph=True: the backward kernel has no derivative of its own, and gradients without a graph
        # would make a gradient penalty silently constant; these raise when differentiated
        from torch._C import _functions
        tensors = [g for g in grads if g is not None]
        inputs = list(ctx.saved_tensors[len(ctx.tensor_params) + ctx.n_stats:])   # on x's path: the error is met
        err = _functions.DelayedError(b"rg.torch.Function has no second derivative: its backward kernel is not "
                                      b"differentiable (a gradient penalty or create_graph=True through a "
                                      b"backend='triton' layer); use backend='python' for higher-order gradients",
                                      len(tensors) + len(inputs))
        marked = err(*[g.detach().requires_grad_() for g in tensors], *inputs)
        marked = iter((marked,) if isinstance(marked, _torch.Tensor) else marked)
        return tuple(None if g is None else next(marked) for g in grads)

    @staticmethod
    def _backward(ctx, douts):
        plan, meta = ctx.plan, ctx.meta
        saved = ctx.saved_tensors
        k = len(ctx.tensor_params)
        tensors = dict(zip(ctx.tensor_params, saved[:k]))
        stats = list(saved[k:k + ctx.n_stats])
        if not plan.wrt:
            return (None, None, None) + (None,) * len(ctx.names)
        module = _tb.load(plan.source, interpret=meta["interpret"])
        seeds = {}
        for (o, _), dout in zip(plan.outputs, douts):      # each output's cotangent
            dout = dout.contiguous()
            if plan.mode == _tb.ELEMENTWISE and dout.shape != meta["shape"]:
                dout = dout.expand(meta["shape"]).contiguous()
            seeds[f"d{o}_ptr"] = dout
        grid, kw, acc_dtype = meta["grid"], meta["kw"], meta["acc_dtype"]
        n_cols = meta["sizes"].get("n_cols")
        outs, finish = {}, []
        device = meta["device"]
        for p in plan.wrt:      # (a differentiated tensor that the backward does not read is not saved)
            role = plan.roles[p]
            if role in (_tb.ROW, _tb.ELEM, _tb.ROWF):   # an elementwise operand's: of the broadcast shape first
                g = _torch.empty(meta["shape"] if role == _tb.ELEM else meta["shapes"][p], dtype=meta["dtypes"][p],
                                 device=device)
                outs[f"d{_tb_var(p)}_ptr"] = g
                finish.append((p, g, None))
            elif role == _tb.COL:   # chunked rows add into the partial sums: they start at 0
                part = (_torch.zeros if plan.chunked else _torch.empty)((grid, n_cols), dtype=acc_dtype,
                                                                        device=device)
                outs[f"d{_tb_var(p)}_partial_ptr"] = part
                finish.append((p, part, n_cols))
            else:
                part = _torch.empty((grid,), dtype=acc_dtype, device=device)
                outs[f"d{_tb_var(p)}_partial_ptr"] = part
                finish.append((p, part, 1))
        if grid:
            def backward(config):
                getattr(module, plan.bwd_name)[(grid,)](
                    **_inputs(plan, {**meta["consts"], **tensors}, plan.bwd_params),
                    **{a: meta["elem_strides"][a] for p in plan.bwd_params if plan.roles[p] == _tb.ELEM
                       for a in _tb.elem_strides(_tb_var(p))}, **{f"{s}_ptr": t for s, t in zip(plan.stats, stats)},
                    **seeds, **outs, **meta["sizes"], **_config(kw, config))
            backward(_tile_config(meta["tiles"], plan.bwd_name, backward, meta["interpret"]))
        grads = {}
        for p, g, width in finish:
            if width is not None:
                out = _torch.empty(width, dtype=meta["dtypes"][p], device=g.device)
                sblock = min(triton.next_power_of_2(width), 1024)
                extra = {} if meta["interpret"] else {"num_warps": 4}
                if not grid:
                    out.zero_()
                elif width == 1:     # a scalar parameter: one program sums all partial sums
                    module.sum_all_kernel[(1,)](g, out, grid, BLOCK=min(triton.next_power_of_2(grid), 1024),
                                                ACC=kw["ACC"], **extra)
                else:
                    module.sum_partials_kernel[(triton.cdiv(width, sblock),)](
                        g, out, grid, width, BLOCK=sblock, ACC=kw["ACC"], **extra)
                g = out.reshape(meta["shapes"][p])
            elif plan.mode == _tb.ELEMENTWISE and tuple(g.shape) != meta["shapes"][p]:
                g = g.sum_to_size(meta["shapes"][p])
            grads[p] = g
        return (None, None, None) + tuple(grads.get(n) for n in ctx.names)


def _config(kw, config):
    """A launch's keywords with a tile config (ROWS, num_warps), if any."""
    if config is None:
        return kw
    rows, warps = config
    return {**kw, "ROWS": rows, **({"num_warps": warps} if "num_warps" in kw else {})}


def _tile_config(tiles, kernel, launch, interpret):
    """The (ROWS, warps) of a tiled kernel: the only one of its space, or the fastest (timed once per shape
    on a GPU; each timed launch writes the same outputs)."""
    if tiles is None:
        return None
    if interpret or len(tiles["space"]) == 1:
        return tiles["space"][0]
    return _tuned((kernel,) + tiles["key"], tiles["space"], launch)


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _collapse(shape, strides):
    """The broadcast shape and each operand's strides (0 on a broadcast axis) with size-1 axes dropped and
    axes merged where every operand steps through them as one; None when more than ELEM_DIMS axes remain.
    Returns (sizes, strides) padded in front to ELEM_DIMS axes."""
    axes = [(n, [s[i] for s in strides]) for i, n in enumerate(shape) if n != 1]
    merged = []
    for n, st in axes:
        if merged:
            m, mst = merged[-1]
            if all(a == b * n for a, b in zip(mst, st)):    # the outer axis steps n of the inner one
                merged[-1] = (m * n, st)
                continue
        merged.append((n, st))
    if len(merged) > _tb.ELEM_DIMS:
        return None, None
    pad = _tb.ELEM_DIMS - len(merged)
    sizes = [1] * pad + [n for n, _ in merged]
    return sizes, [[0] * pad + [st[k] for _, st in merged] for k in range(len(strides))]


def _check_indices(plan, flags, values, n_cols):
    """Raise IndexError (as NumPy and torch's cross_entropy do) for a per-row index outside [-D, D): a kernel
    cannot read a row at such an index, and a masked read would silently be 0.  Costs one device sync."""
    bad = flags.tolist()
    for (filename, lineno, text), row in zip(plan.index_sites, bad):
        if not row:
            continue
        row -= 1
        ints = [f"{p}[{row}] = {int(values[p].reshape(-1)[row])}" for p in plan.params if plan.roles[p] == _tb.ROWINT]
        raise IndexRangeError(f"{plan.name}: index out of range in `{text}` for rows of {n_cols} elements (at row "
                              f"{row}: {', '.join(ints)}); valid indices are -{n_cols} to {n_cols - 1}",
                              filename=filename, lineno=lineno, construct="subscript",
                              hint="to leave rows out (torch's ignore_index), pass a valid index for them and "
                                   "multiply their loss by a 0/1 weight tensor")


def _tb_var(p):
    return _tb.var_name(p)


def _interpreting(values):
    dev = next((v.device for v in values if isinstance(v, _torch.Tensor)), None)
    return dev is None or dev.type == "cpu"


def _inputs(plan, values, params=None):
    """Keyword arguments of a kernel for the layer's arguments: `x_ptr=` for tensors, `eps=` for constants."""
    return {(_tb_var(p) if plan.roles[p] == _tb.CONST else f"{_tb_var(p)}_ptr"): values[p]
            for p in (plan.params if params is None else params)}


class Module(_torch.nn.Module):
    """An nn.Module calling the layer with learnable parameters: `Module(f, w=tensor, b=tensor)` registers
    `w` and `b` as nn.Parameters and passes them by name; the other arguments come from the call."""

    def __init__(self, fn, programs=None, block=None, tile_rows=None, **params):
        super().__init__()
        self.function = fn if isinstance(fn, Function) else Function(fn, programs=programs, block=block,
                                                                     tile_rows=tile_rows)
        names = list(self.function.diff.signature.parameters)
        for k, v in params.items():
            if k not in names:
                raise UsageError(f"{self.function.diff.fn.__name__} has no parameter `{k}`")
            if isinstance(v, _torch.Tensor):
                self.register_parameter(k, _torch.nn.Parameter(v.detach().clone()))
            else:
                setattr(self, "_const_" + k, v)
        self._param_names = list(params)

    def forward(self, *args, **kwargs):
        for k in self._param_names:
            kwargs[k] = getattr(self, k) if k in self._parameters else getattr(self, "_const_" + k)
        return self.function(*args, **kwargs)

    def extra_repr(self):
        return self.function.diff.fn.__name__


# ---- f.vjp / f.grad of a backend="triton" function called with torch tensors ------------------------------
# The core never imports this module: it registers itself as the plugin for torch arrays, and api.py hands
# a call with tensors to it.

def _function(diff):
    fn = getattr(diff, "_triton_function", None)
    if fn is None:
        fn = diff._triton_function = Function(diff)
    return fn


def torch_vjp(diff, args, kwargs):
    """vjp of a backend="triton" function called with torch tensors: the kernels through _torch.autograd."""
    bound = diff.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    inputs = {}
    for n in diff.wrt:
        v = bound.arguments[n]
        if not (isinstance(v, _torch.Tensor) and v.is_floating_point()):
            raise UsageError(f"{diff.fn.__name__}: `{n}` must be a float tensor to differentiate it with the "
                             "triton backend")
        inputs[n] = bound.arguments[n] = v.detach().requires_grad_(True)
    with _torch.enable_grad():
        out = _function(diff)(*bound.args, **bound.kwargs)

    def pullback(cotangent):     # a tuple output takes a tuple of cotangents
        outs, cots = (list(out), list(cotangent)) if isinstance(out, tuple) else (out, cotangent)
        grads = _torch.autograd.grad(outs, [inputs[n] for n in diff.wrt], cots, retain_graph=True,
                                    allow_unused=True)
        return tuple(_torch.zeros_like(inputs[n]) if g is None else g for n, g in zip(diff.wrt, grads))
    return (tuple(o.detach() for o in out) if isinstance(out, tuple) else out.detach()), pullback


def torch_value_and_grad(diff, args, kwargs):
    out, pullback = torch_vjp(diff, args, kwargs)
    if isinstance(out, tuple) or out.dim() != 0:
        what = "a tuple" if isinstance(out, tuple) else f"a value of shape {tuple(out.shape)}"
        raise UsageError(f"{diff.fn.__name__} returned {what}; grad needs a scalar "
                         "output", hint="use .vjp(...) or rg._torch.Function for non-scalar outputs")
    grads = pullback(_torch.ones_like(out))
    return out, (grads[0] if len(grads) == 1 else grads)


class _Plugin:
    @staticmethod
    def handles(diff):
        return diff.backend == "triton"

    vjp = staticmethod(torch_vjp)
    value_and_grad = staticmethod(torch_value_and_grad)


ARRAY_PLUGINS["torch"] = _Plugin


# ---- torch.library custom ops: what torch.compile and torch.export see ------------------------------------

def _n_outputs(diff):
    """How many tensors the layer returns: the elements of a returned tuple literal, else 1."""
    import gast
    returns = [n for n in gast.walk(_tb_node(diff)) if isinstance(n, gast.Return)]
    lengths = {len(r.value.elts) if isinstance(r.value, gast.Tuple) else 1 for r in returns}
    return lengths.pop() if len(lengths) == 1 else 1


def _unpack(key, tensors, floats, ints):
    """(Function, argument names, {name: value}) of a custom op call."""
    layer_key, _, const_text = key.partition("|")
    layer = _LAYERS.get(layer_key)
    if layer is None:
        raise UsageError(f"retrograd::layer: no layer `{layer_key}` in this process (a compiled graph keeps the "
                         "layers it calls by key: build the rg.torch.Function before running the graph)")
    consts, fl, it_ = {}, iter(floats), iter(ints)
    for item in filter(None, const_text.split(",")):
        name, _, kind = item.partition(":")
        consts[name] = float(next(fl)) if kind == "f" else int(next(it_))
    values, it = {}, iter(tensors)
    for name in layer._pnames:
        values[name] = consts[name] if name in consts else next(it)
    return layer, list(values), values


def _op_plan(layer, values):
    """The plan a custom op runs: gradients of every float tensor (the op cannot see requires_grad)."""
    layer.revalidate()
    rows = _tb.has_reduction(_tb_node(layer.diff))
    roles = _roles(layer.diff.fn.__name__, values, rows)
    wrt = [p for p, v in values.items() if roles[p] in _tb.DIFF_ROLES and isinstance(v, _torch.Tensor)]
    chunked = tiled = False
    if rows:
        main = next(v for p, v in values.items() if roles[p] == _tb.ROW)
        f64 = any(isinstance(v, _torch.Tensor) and v.dtype == _torch.float64 for v in values.values())
        _, chunked, tiled = _layout(layer, main.shape[-1], f64)
    return layer.plan(roles, wrt, chunked, tiled)


class _Ctx:
    """Stands in for an autograd ctx when a custom op runs the launcher."""

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


@_torch.library.custom_op("retrograd::layer", mutates_args=())
def _layer_op(key: str, tensors: list[_torch.Tensor], floats: list[float], ints: list[int]) -> list[_torch.Tensor]:
    layer, names, values = _unpack(key, tensors, floats, ints)
    plan = _op_plan(layer, values)
    ctx = _Ctx()
    out = _Apply.run(ctx, layer, plan, names, [values[n] for n in names])
    k = len(ctx.tensor_params)
    stats = list(ctx.saved_tensors[k:k + ctx.n_stats])
    return (list(out) if isinstance(out, tuple) else [out]) + stats


@_layer_op.register_fake
def _layer_fake(key, tensors, floats, ints):
    layer, names, values = _unpack(key, tensors, floats, ints)
    plan = _op_plan(layer, values)
    ts = [v for v in values.values() if isinstance(v, _torch.Tensor)]
    acc = _torch.float64 if any(v.dtype == _torch.float64 for v in ts) else _torch.float32
    if plan.mode == _tb.ROWS:
        main = next(v for p, v in values.items() if plan.roles[p] == _tb.ROW)
        shape = main.shape
        outs = [main.new_empty(shape if k == _tb.B else shape[:-1]) for _, k in plan.outputs]
        n_rows = main.numel() // max(shape[-1], 1)
        return outs + [main.new_empty((n_rows,), dtype=acc) for _ in plan.stats]
    floats = [v for p, v in values.items() if plan.roles[p] == _tb.ELEM]
    shape = _torch.broadcast_shapes(*[v.shape for v in floats])
    main = next(v for v in floats if v.is_floating_point())
    return [main.new_empty(shape) for _ in plan.outputs]


@_torch.library.custom_op("retrograd::layer_backward", mutates_args=())
def _layer_backward_op(key: str, tensors: list[_torch.Tensor], floats: list[float], ints: list[int],
                       stats: list[_torch.Tensor], douts: list[_torch.Tensor]) -> list[_torch.Tensor]:
    layer, names, values = _unpack(key, tensors, floats, ints)
    plan = _op_plan(layer, values)
    ctx = _Ctx()
    _Apply.run(ctx, layer, plan, names, [values[n] for n in names], launch=False)
    k = len(ctx.tensor_params)
    ctx.saved_tensors = tuple(ctx.saved_tensors[:k]) + tuple(stats)
    grads = _Apply._backward(ctx, tuple(douts))[3:]
    return [grads[names.index(p)] for p in plan.wrt]


@_layer_backward_op.register_fake
def _layer_backward_fake(key, tensors, floats, ints, stats, douts):
    layer, names, values = _unpack(key, tensors, floats, ints)
    plan = _op_plan(layer, values)
    return [_torch.empty_like(values[p]) for p in plan.wrt]


def _layer_setup(ctx, inputs, output):
    key, tensors, floats, ints = inputs
    layer, names, values = _unpack(key, tensors, floats, ints)
    plan = _op_plan(layer, values)
    n = len(plan.outputs)
    ctx.key, ctx.n_tensors, ctx.n_outputs, ctx.consts = key, len(tensors), n, (floats, ints)
    ctx.out_like = [(o.shape, o.dtype) for o in output[:n]]
    ctx.save_for_backward(*tensors, *output[n:])


def _layer_backward(ctx, grads):
    saved = ctx.saved_tensors
    tensors, stats = list(saved[:ctx.n_tensors]), list(saved[ctx.n_tensors:])
    douts = [g if g is not None else tensors[0].new_zeros(shape, dtype=dtype)
             for g, (shape, dtype) in zip(grads[:ctx.n_outputs], ctx.out_like)]
    layer, names, values = _unpack(ctx.key, tensors, *ctx.consts)
    plan = _op_plan(layer, values)
    got = dict(zip(plan.wrt, _torch.ops.retrograd.layer_backward(ctx.key, tensors, *ctx.consts, stats, douts)))
    tensor_names = [n for n in names if isinstance(values[n], _torch.Tensor)]
    # the number lists have no gradient (an empty list is matched by an empty list)
    return (None, [got.get(n) for n in tensor_names]) + tuple(None if c else [] for c in ctx.consts)


_torch.library.register_autograd("retrograd::layer", _layer_backward, setup_context=_layer_setup)
