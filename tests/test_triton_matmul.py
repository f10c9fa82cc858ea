"""Matmul layers of the triton backend (backends/triton_matmul.py): `h @ W` and an elementwise epilogue as
a (row tile x column tile) program with a K-loop of tl.dot, and `h @ W` followed by reductions over N
(fused linear + cross-entropy) in chunks of rows that never hold the (rows, N) logits.

In Triton's interpreter the tiles are 16 x 16 x 16 (INTERPRETER_TILE): the shapes below are not multiples
of them on every axis, and include rows = 1, N = 1, K = 1 and rows = 0.  Every case is checked against
torch autograd of the same math and the forward against the plain NumPy call of the layer.  The GPU tiles
(TILE, TILE_WARPS, TILE_STAGES) are compiled for sm_90 and checked for register spills with ptxas.
"""
import inspect
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

import retrograd as rg  # noqa: E402
import retrograd.torch as rgt  # noqa: E402
import triton_matmul_layers as L  # noqa: E402
from retrograd.backends import triton_matmul as tm  # noqa: E402

F = torch.nn.functional
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def triton_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def t(*shape, dtype=torch.float64, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype).to(DEVICE)


def run(layer, args, grad=None, seed=7):
    """Output and gradients (of the float tensors in `grad`, default all) for a random cotangent."""
    a = [x.clone() if torch.is_tensor(x) else x for x in args]
    idx = [i for i, x in enumerate(a) if torch.is_tensor(x) and x.is_floating_point()
           and (grad is None or i in grad)]
    for i in idx:
        a[i].requires_grad_()
    y = layer(*a)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(y)
    grads = torch.autograd.grad(y, [a[i] for i in idx], g) if idx else []
    return [y.detach()] + list(grads)


def assert_same(got, want, rtol, atol):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, equal_nan=True)


def plain(fn, args):
    """The layer's own NumPy call (not differentiated)."""
    with np.errstate(all="ignore"):
        return torch.tensor(np.asarray(fn(*[a.detach().cpu().numpy() if torch.is_tensor(a) else a for a in args])))


def gelu_ref(h, W, b):
    z = h @ W + b
    return 0.5 * z * (1.0 + torch.tanh(L.GELU_C * (z + 0.044715 * z ** 3)))


TILED = [
    ("linear", L.linear, lambda h, W, b: h @ W + b, lambda m, k, n: [t(m, k), t(k, n, seed=1), t(n, seed=2)]),
    ("linear-nobias", L.linear_nobias, lambda h, W: h @ W, lambda m, k, n: [t(m, k), t(k, n, seed=1)]),
    ("linear-gelu", L.linear_gelu, gelu_ref, lambda m, k, n: [t(m, k), t(k, n, seed=1), t(n, seed=2)]),
    ("linear-silu-gate", L.linear_silu_gate, lambda h, W, b, s: s * F.silu(h @ W + b),
     lambda m, k, n: [t(m, k), t(k, n, seed=1), t(n, seed=2), t(seed=3)]),
    ("linear-residual-relu", L.linear_residual_relu, lambda h, W, r: torch.relu(h @ W) * 0.5 + r,
     lambda m, k, n: [t(m, k), t(k, n, seed=1), t(*(m, n) if m else (0, n), seed=2)]),
    ("linear-softplus-dot", L.linear_softplus,       # (F.softplus is linear above 20)
     lambda h, W: torch.clamp(h @ W, min=0) + torch.log1p(torch.exp(-(h @ W).abs())),
     lambda m, k, n: [t(m, k, scale=3.0), t(k, n, seed=1)]),
]

# (rows, K, N): none a multiple of 16, one row, one column, K = 1, exact tiles, several tiles on every axis
SHAPES = [(37, 20, 19), (1, 5, 1), (1, 1, 33), (16, 16, 16), (33, 35, 17), (3, 1, 40)]


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{m}x{k}x{n}" for m, k, n in SHAPES])
@pytest.mark.parametrize("name,fn,ref,make", TILED, ids=[c[0] for c in TILED])
def test_tiled_matmul_layers_match_torch_float64(name, fn, ref, make, shape):
    args = make(*shape)
    layer = rg.torch.Function(fn)
    got = run(layer, args)
    assert layer.diff._triton_last.shape_class == tm.TILED
    assert_same(got, run(ref, args), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got[0].cpu(), plain(fn, args), rtol=1e-12, atol=1e-12)


def test_leading_axes_and_empty_batch():
    """h of shape (2, 3, K): the rows are the leading axes; h with no rows: an empty output and zero dW."""
    h, W, b = t(2, 3, 21), t(21, 18, seed=1), t(18, seed=2)
    assert_same(run(rg.torch.Function(L.linear_gelu), [h, W, b]), run(gelu_ref, [h, W, b]), 1e-12, 1e-12)
    h0 = t(0, 21)
    got = run(rg.torch.Function(L.linear_gelu), [h0, W, b])
    assert got[0].shape == (0, 18)
    assert torch.equal(got[2], torch.zeros_like(W)) and torch.equal(got[3], torch.zeros_like(b))


def test_strided_operands_are_read_in_place():
    """A transposed W (a view) and a sliced h are read through their strides."""
    h = t(40, 30)[::2, 3:25]            # (20, 22), non-contiguous
    W = t(19, 22, seed=1).t()           # (22, 19), transposed view
    b = t(19, seed=2)
    assert not h.is_contiguous() and not W.is_contiguous()
    assert_same(run(rg.torch.Function(L.linear_gelu), [h, W, b]), run(gelu_ref, [h, W, b]), 1e-12, 1e-12)


@pytest.mark.parametrize("grad", [{0}, {1}, {2}, {0, 2}, set()], ids=["h", "W", "b", "h-b", "none"])
def test_tiled_gradients_of_a_subset(grad):
    args = [t(20, 17), t(17, 18, seed=1), t(18, seed=2)]
    assert_same(run(rg.torch.Function(L.linear_gelu), args, grad), run(gelu_ref, args, grad), 1e-12, 1e-12)


def test_tiled_float32_and_bfloat16():
    args = [t(37, 40, dtype=torch.float32), t(40, 19, seed=1, dtype=torch.float32), t(19, seed=2, dtype=torch.float32)]
    assert_same(run(rg.torch.Function(L.linear_gelu), args), run(gelu_ref, args), 1e-4, 5e-5)
    bf = [a.to(torch.bfloat16) for a in args]
    got = run(rg.torch.Function(L.linear_gelu), bf)
    assert all(g.dtype == torch.bfloat16 for g in got)
    want = run(gelu_ref, [a.float() for a in bf])
    for a, b in zip(got, want):
        torch.testing.assert_close(a.float(), b, rtol=3e-2, atol=6e-2)


def test_double_backward_raises_torch_error():
    h = t(5, 6).requires_grad_()
    W = t(6, 7, seed=1).requires_grad_()
    y = rg.torch.Function(L.linear_softplus)(h, W)
    (gh,) = torch.autograd.grad(y.sum(), [h], create_graph=True)
    with pytest.raises(RuntimeError, match="no second derivative"):
        gh.sum().backward()
    with pytest.raises(RuntimeError, match="no second derivative"):     # a penalty next to a plain loss
        (y.sum() + gh.pow(2).sum()).backward()


def test_identity_epilogue_skips_the_epilogue_kernel():
    """`h @ W + b` with only h and W differentiated: the product's cotangent is the output's own."""
    layer = rg.torch.Function(L.linear)
    run(layer, [t(5, 6), t(6, 7, seed=1), t(7, seed=2)], grad={0, 1})
    plan = layer.diff._triton_last
    assert not plan.bwd_kernel and not plan.bwd_recomputes
    run(layer, [t(5, 6), t(6, 7, seed=1), t(7, seed=2)])
    assert layer.diff._triton_last.bwd_kernel        # db: the epilogue kernel's partial sums


# ---- what the backward keeps ---------------------------------------------------------------------------------
def same(v):
    return v.data_ptr(), tuple(v.shape), tuple(v.stride())


# (layer, arguments, differentiated, the arguments the backward reads): read off the math by hand
SAVED = [
    ("linear-dW-only", L.linear, {1}, {"h"}),           # dW = h.T @ dy
    ("linear-dh-only", L.linear, {0}, {"W"}),           # dh = dy @ W.T
    ("linear-db-only", L.linear, {2}, set()),           # db = sum of dy over rows
    ("linear-all", L.linear, {0, 1, 2}, {"h", "W"}),
    ("gelu-db-only", L.linear_gelu, {2}, {"h", "W", "b"}),    # recomputes z = h @ W + b
    ("gelu-all", L.linear_gelu, {0, 1, 2}, {"h", "W", "b"}),
    ("residual-dr-only", L.linear_residual_relu, {2}, set()),  # dr = dy
]


@pytest.mark.parametrize("name,fn,grad,reads", SAVED, ids=[c[0] for c in SAVED])
def test_saved_tensors_are_what_the_backward_reads(name, fn, grad, reads):
    names = list(inspect.signature(fn).parameters)
    m, k, n = 6, 5, 7
    shapes = {"h": (m, k), "W": (k, n), "b": (n,), "r": (m, n)}
    args = [t(*shapes[p], seed=i).requires_grad_(i in grad) for i, p in enumerate(names) if p in shapes]
    y = rg.torch.Function(fn)(*args)
    saved = y.grad_fn.saved_tensors
    want = [same(args[names.index(p)]) for p in names if p in reads]
    # what the backward reads (the caller's tensors: no copies), then references to the differentiated
    # arguments (a second derivative raises from them)
    assert sorted(same(s) for s in saved[:len(want)]) == sorted(want)
    assert [same(s) for s in saved[len(want):]] == [same(a) for i, a in enumerate(args) if i in grad]


# ---- refusals -------------------------------------------------------------------------------------------------
def line_of(fn, text):
    src, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(src) if text in line)


REFUSED = [
    (L.scaled_input, "(2.0 * h) @ W", lambda: [t(4, 5), t(5, 6)], "operands must be two arguments"),
    (L.transposed_weight, "h @ W.T", lambda: [t(4, 5), t(6, 5)], "operands must be two arguments"),
    (L.two_matmuls, "(h @ W) @ V", lambda: [t(4, 5), t(5, 6), t(6, 3)], "matrix product"),
    (L.input_in_epilogue, "z + h", lambda: [t(4, 5), t(5, 5)], "`h` read outside the matrix product"),
    (L.columns_sum, "np.sum(z, axis=0)", lambda: [t(4, 5), t(5, 6)], "only reductions over the last axis"),
]


@pytest.mark.parametrize("fn,text,make,match", REFUSED, ids=[c[0].__name__ for c in REFUSED])
def test_what_is_not_lowered_is_refused_at_the_users_line(fn, text, make, match):
    args = [a.requires_grad_() for a in make()]
    with pytest.raises(rg.BackendError, match=match) as info:
        rg.torch.Function(fn)(*args)
    assert info.value.lineno == line_of(fn, text), str(info.value)
    assert info.value.filename.endswith("triton_matmul_layers.py")


def test_wrong_operands_are_usage_errors():
    f = rg.torch.Function(L.linear)
    with pytest.raises(rg.UsageError, match="inner dimensions"):
        f(t(4, 5), t(6, 7), t(7))
    with pytest.raises(rg.UsageError, match="must be a float matrix"):
        f(t(4, 5), t(5), t(7))
    with pytest.raises(rg.UsageError, match="has shape"):
        f(t(4, 5), t(5, 7), t(6))
    with pytest.raises(rg.UsageError, match="one float dtype"):
        f(t(4, 5), t(5, 7, dtype=torch.float32), t(7))


# ---- fused linear + cross-entropy: the rows class ------------------------------------------------------------
def ce_ref(h, W, y):
    return F.cross_entropy(h @ W, y % W.shape[1], reduction="none")


def ce_zloss_ref(h, W, b, y, zw=1e-2):
    z = h @ W + b
    lse = torch.logsumexp(z, -1)
    return F.cross_entropy(z, y % W.shape[1], reduction="none") + zw * lse * lse


def targets(m, n, seed=0):
    return torch.randint(-n, n, (m,), generator=torch.Generator().manual_seed(seed)).to(DEVICE)


ROWS = [
    ("linear-ce", L.linear_ce, ce_ref, lambda m, k, n: [t(m, k), t(k, n, seed=1, scale=2.0), targets(m, n)]),
    ("linear-ce-bias-zloss", L.linear_ce_bias_zloss, ce_zloss_ref,
     lambda m, k, n: [t(m, k), t(k, n, seed=1), t(n, seed=2), targets(m, n, seed=3)]),
    ("linear-softmax", L.linear_softmax, lambda h, W: torch.softmax(h @ W, -1),
     lambda m, k, n: [t(m, k), t(k, n, seed=1)]),
    ("linear-soft-ce", L.linear_soft_ce,       # soft labels: a (rows, N) input of the row layer, differentiated
     lambda h, W, p: -(p * torch.log_softmax(h @ W, -1)).sum(-1),
     lambda m, k, n: [t(m, k), t(k, n, seed=1), t(m, n, seed=2).abs()]),
]

# (rows, K, N, rows per chunk, column block): several row chunks with a partial last one, one row, N = 1,
# one-block rows and rows in column chunks (the online max and rescaled sum across N tiles)
ROW_SHAPES = [(37, 20, 19, 8, None), (37, 20, 45, 10, 16), (1, 5, 1, 4, None), (1, 3, 40, 1, 8), (5, 17, 33, 64, 8)]


@pytest.mark.parametrize("shape", ROW_SHAPES, ids=[f"{m}x{k}x{n}-chunk{c}-block{b}" for m, k, n, c, b in ROW_SHAPES])
@pytest.mark.parametrize("name,fn,ref,make", ROWS, ids=[c[0] for c in ROWS])
def test_linear_row_layers_match_torch_float64(name, fn, ref, make, shape, monkeypatch):
    m, k, n, chunk, block = shape
    monkeypatch.setattr(tm, "ROW_CHUNK_BYTES", chunk * n * 8)
    args = make(m, k, n)
    layer = rg.torch.Function(fn, block=block)
    got = run(layer, args)
    plan = layer.diff._triton_last
    assert plan.shape_class == tm.LINEAR_ROWS and plan.rows_plan.chunked == (block is not None and n > block)
    assert_same(got, run(ref, args), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got[0].cpu(), plain_rows(fn, args), rtol=1e-12, atol=1e-12)


def plain_rows(fn, args):
    """A row-wise layer's own NumPy call, row by row (h[i], W, target[i], ...)."""
    m = args[0].shape[0]
    rows = []
    for i in range(m):
        row = [a[i] if torch.is_tensor(a) and a.dim() and a.shape[0] == m and j != 1 and
               (a.dim() == 2 or not a.is_floating_point()) else a for j, a in enumerate(args)]
        rows.append(plain(fn, row))
    return torch.stack(rows)


def test_linear_ce_float32_and_bfloat16(monkeypatch):
    monkeypatch.setattr(tm, "ROW_CHUNK_BYTES", 16 * 50 * 4)
    h, W, y = t(40, 24, dtype=torch.float32), t(24, 50, seed=1, dtype=torch.float32), targets(40, 50)
    assert_same(run(rg.torch.Function(L.linear_ce, block=16), [h, W, y]), run(ce_ref, [h, W, y]), 1e-4, 5e-5)
    hb, Wb = h.to(torch.bfloat16), W.to(torch.bfloat16)
    got = run(rg.torch.Function(L.linear_ce, block=16), [hb, Wb, y])
    assert all(g.dtype == torch.bfloat16 for g in got)
    want = run(ce_ref, [hb.float(), Wb.float(), y])
    for a, b in zip(got, want):
        torch.testing.assert_close(a.float(), b, rtol=3e-2, atol=6e-2)


def test_linear_ce_keeps_no_logits(monkeypatch):
    """Saved for the backward: h, W, the targets and the two per-row statistics (the max and the rescaled
    sum of the logsumexp), no (rows, N) block; the forward's logits buffer is one chunk of rows."""
    monkeypatch.setattr(tm, "ROW_CHUNK_BYTES", 4 * 64 * 8)
    m, k, n = 20, 7, 64
    h, W, y = t(m, k).requires_grad_(), t(k, n, seed=1).requires_grad_(), targets(m, n)
    out = rg.torch.Function(L.linear_ce, block=16)(h, W, y)
    saved = out.grad_fn.saved_tensors
    ctx = out.grad_fn
    reads = [same(h), same(W), same(y)]
    assert sorted(same(s) for s in saved[:3]) == sorted(reads)
    stats = saved[3:ctx.n_saved]
    assert len(stats) == 2 and all(s.shape == (m,) for s in stats)
    assert [same(s) for s in saved[ctx.n_saved:]] == [same(h), same(W)]
    assert ctx.sizes[-1] == 4                   # rows per chunk of logits


def test_linear_ce_out_of_range_target_names_the_row(monkeypatch):
    monkeypatch.setattr(tm, "ROW_CHUNK_BYTES", 4 * 10 * 8)
    h, W = t(9, 5), t(5, 10, seed=1)
    y = torch.tensor([0, 1, 2, 3, 4, 5, -10, 10, 1], device=DEVICE)      # row 7 is out of range
    with pytest.raises(rg.IndexRangeError, match=r"at row 7: target\[7\] = 10") as info:
        rg.torch.Function(L.linear_ce)(h, W, y)
    assert info.value.lineno == line_of(L.linear_ce, "z[target]")


def test_linear_ce_gradients_of_a_subset(monkeypatch):
    monkeypatch.setattr(tm, "ROW_CHUNK_BYTES", 8 * 30 * 8)
    args = [t(19, 9), t(9, 30, seed=1), t(30, seed=2), targets(19, 30)]
    for grad in ({0}, {1}, {2}, {0, 2}):
        assert_same(run(rg.torch.Function(L.linear_ce_bias_zloss, block=8), args, grad),
                    run(ce_zloss_ref, args, grad), 1e-12, 1e-12)


# ---- the real sizes compile for sm_90 without spilling ---------------------------------------------------------
def test_matmul_kernels_compile_for_sm90_without_spills():
    """The tiled kernels at TILE with TILE_WARPS / TILE_STAGES, and fused linear + cross-entropy at a
    128k-word vocabulary (the row kernels in chunks of CHUNK columns, what a launch of N = 131072 uses):
    no kernel spills registers (ptxas -v); 16-bit products run on the tensor cores (mma in the PTX)."""
    plans = []
    for fn, make in [(L.linear_gelu, lambda: [t(5, 6), t(6, 7, seed=1), t(7, seed=2)]),
                     (L.linear_silu_gate, lambda: [t(5, 6), t(6, 7, seed=1), t(7, seed=2), t(seed=3)]),
                     (L.linear_ce, lambda: [t(5, 6), t(6, 40, seed=1), targets(5, 40)])]:
        layer = rg.torch.Function(fn, block=16)
        run(layer, make())
        plans.append(layer.diff._triton_last)
    V = 131072
    block, chunked = rgt._row_block(V)
    assert chunked and plans[-1].rows_plan.chunked
    result = tm.compile_plans(plans, dtypes=["float32", "bfloat16"],
                              rows=(block, rgt.CHUNK_WARPS, rgt.NUM_STAGES))
    for plan in plans:
        for dtype in ("float32", "bfloat16"):
            use = result[plan.name][dtype]
            assert "matmul_kernel" in use and plan.fwd_name in use and plan.bwd_name in use, use.keys()
            for kernel, u in use.items():
                assert u["spill_stores"] == 0 and u["spill_loads"] == 0, (plan.name, dtype, kernel, u)
            if dtype == "bfloat16":
                assert use["matmul_kernel"]["mma"] > 0
                if plan.shape_class == tm.TILED:
                    assert use[plan.fwd_name]["mma"] > 0


def test_source_of_a_matmul_layer():
    """f.source: before a call a UsageError says why (the roles come from the tensors); after one, the
    kernels of that call."""
    f = rg.differentiate(L.linear_gelu, backend="triton")
    with pytest.raises(rg.UsageError, match="matmul layer"):
        f.source
    run(rgt.Function(f), [t(3, 4), t(4, 5, seed=1), t(5, seed=2)])
    assert "def linear_gelu_fwd_kernel(" in f.source and "tl.dot(" in f.source and "def matmul_kernel(" in f.source


def test_one_dimensional_input():
    """h of shape (K,): one row; the output has shape (N,) (a scalar loss for cross-entropy)."""
    h, W, b = t(20), t(20, 19, seed=1), t(19, seed=2)
    assert_same(run(rg.torch.Function(L.linear_gelu), [h, W, b]), run(gelu_ref, [h, W, b]), 1e-12, 1e-12)
    y = torch.tensor(-3, device=DEVICE)
    got = run(rg.torch.Function(L.linear_ce), [h, W, y])
    assert got[0].shape == ()
    assert_same(got, run(lambda a, m, c: F.cross_entropy((a @ m)[None], c[None] % 19)[()], [h, W, y]),
                1e-12, 1e-12)


def test_under_torch_compile_a_matmul_layer_is_a_graph_break():
    """No custom op for matmul layers yet: torch.compile runs the layer eagerly between graphs (same values
    and gradients); fullgraph=True refuses it instead of tracing into the launcher."""
    layer = rg.torch.Function(L.linear_gelu)
    args = [t(3, 4), t(4, 5, seed=1), t(5, seed=2)]
    torch._dynamo.reset()
    compiled = torch.compile(lambda h, W, b: layer(h, W, b) * 2.0, backend="aot_eager")
    assert_same(run(compiled, args), run(lambda h, W, b: gelu_ref(h, W, b) * 2.0, args), 1e-12, 1e-12)
    torch._dynamo.reset()
    with pytest.raises(Exception, match="disable|skip"):
        torch.compile(lambda h, W, b: layer(h, W, b), backend="aot_eager", fullgraph=True)(*args)


def test_without_gradients():
    """Under no_grad (or with nothing requiring grad) both classes run the forward only."""
    h, W, b, y = t(9, 5), t(5, 20, seed=1), t(20, seed=2), targets(9, 20)
    with torch.no_grad():
        out = rg.torch.Function(L.linear_gelu)(h, W, b)
        loss = rg.torch.Function(L.linear_ce, block=8)(h, W, y)
    torch.testing.assert_close(out, gelu_ref(h, W, b), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(loss, ce_ref(h, W, y), rtol=1e-12, atol=1e-12)
    assert out.grad_fn is None and loss.grad_fn is None


def test_empty_axes_and_non_finite_inputs():
    """K = 0 (the product is 0), N = 0 (an empty output), and nan / inf in h flowing as in torch."""
    h0, W0, b = t(4, 0), t(0, 6, seed=1), t(6, seed=2)
    assert_same(run(rg.torch.Function(L.linear_gelu), [h0, W0, b]), run(gelu_ref, [h0, W0, b]), 1e-12, 1e-12)
    hn, Wn, bn = t(4, 5), t(5, 0, seed=1), t(0, seed=2)
    got = run(rg.torch.Function(L.linear_gelu), [hn, Wn, bn])
    assert got[0].shape == (4, 0) and torch.equal(got[1], torch.zeros_like(hn))
    h = t(6, 5)
    h[1, 2], h[3, 0] = float("nan"), float("inf")
    W = t(5, 7, seed=1)
    def softplus(a, m):
        return torch.clamp(a @ m, min=0) + torch.log1p(torch.exp(-(a @ m).abs()))
    for fn, ref in [(L.linear_softplus, softplus), (L.linear_nobias, lambda a, m: a @ m)]:
        got, want = rg.torch.Function(fn)(h, W), ref(h, W)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_module_with_learnable_weight_and_bias():
    """rg.torch.Module(layer, W=..., b=...): W and b are nn.Parameters passed by name; h comes from the call."""
    W, b = t(6, 9, seed=1), t(9, seed=2)
    mod = rg.torch.Module(L.linear_gelu, W=W, b=b)
    h = t(4, 6).requires_grad_()
    y = mod(h)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64).to(y)
    (y * g).sum().backward()
    W2, b2, h2 = W.clone().requires_grad_(), b.clone().requires_grad_(), h.detach().clone().requires_grad_()
    (gelu_ref(h2, W2, b2) * g).sum().backward()
    for a, c in [(y, gelu_ref(h2, W2, b2)), (h.grad, h2.grad), (mod.W.grad, W2.grad), (mod.b.grad, b2.grad)]:
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)


def test_a_tuple_output_of_a_tiled_layer_is_refused():
    with pytest.raises(rg.BackendError, match="returning a tuple") as info:
        rg.torch.Function(L.linear_pair)(t(3, 4), t(4, 5, seed=1))
    assert info.value.filename.endswith("triton_matmul_layers.py")


@pytest.mark.parametrize("fn,make", [
    (L.linear_scaled, lambda: [t(5, 4), t(4, 6, seed=1)]),
    (L.linear_ce_scaled, lambda: [t(5, 4), t(4, 6, seed=1), targets(5, 6)]),
    (L.rows_scaled, lambda: [t(3, 7)]),                  # a row-wise layer without a matmul: the same cache
], ids=["tiled", "rows", "rowwise-no-matmul"])
def test_a_rebound_global_number_regenerates_the_kernels(fn, make, monkeypatch):
    """The kernels inline a global number (`SCALE`): rebinding it after a call must give the new value
    (README: globals are re-checked on every call), not the kernel generated for the old one."""
    args = make()
    layer = rg.torch.Function(fn)
    first = run(layer, args)
    torch.testing.assert_close(first[0].cpu(), plain_rows(fn, args) if fn is not L.linear_scaled else plain(fn, args))
    monkeypatch.setattr(L, "SCALE", 3.0)
    again = run(layer, args)
    for a, b in zip(again, first):
        torch.testing.assert_close(a, b * 1.5, rtol=1e-12, atol=1e-12)
