"""Rows wider than one block: the row program in passes over column chunks (backends/triton_rows.py).

`rg.torch.Function(f, block=B)` splits rows wider than B columns into chunks of B, so that small rows (cheap
in Triton's interpreter) take several chunks; every case is checked against torch autograd of the same math
(float64: tolerance 1e-12, where only the order of the sums differs from torch's) and against the one-block
kernels.  The real sizes (chunks of 2048 columns, 8 warps, 3 stages) are compiled for sm_90 and checked for
register spills with ptxas.
"""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

import retrograd as rg  # noqa: E402
import retrograd.torch as rgt  # noqa: E402
import triton_layers as L  # noqa: E402
from retrograd.backends import triton as tb  # noqa: E402

F = torch.nn.functional
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def triton_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def t(*shape, dtype=torch.float64, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype).to(DEVICE)


def targets(n, d, seed=0):
    return torch.randint(-d, d, (n,), generator=torch.Generator().manual_seed(seed)).to(DEVICE)


def run(layer, args, seed=1):
    """Output and gradients of `layer` (rg.torch.Function or a torch reference) for a random cotangent."""
    a = [x.clone().requires_grad_(x.is_floating_point()) if torch.is_tensor(x) else x for x in args]
    y = layer(*a)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(y)
    (y * g).sum().backward()
    return [y] + [x.grad for x in a if torch.is_tensor(x) and x.requires_grad]


def assert_same(got, want, rtol, atol):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, equal_nan=True)


def ref_rmsnorm(x, w):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + L.EPS) * w


LAYERS = [
    ("cross-entropy", L.cross_entropy, lambda x, y: F.cross_entropy(x, y % x.shape[-1], reduction="none"),
     lambda n, d: [t(n, d, scale=3.0), targets(n, d)]),
    ("softmax", L.softmax, lambda x: torch.softmax(x, -1), lambda n, d: [t(n, d)]),
    ("log-softmax", L.log_softmax, lambda x: torch.log_softmax(x, -1), lambda n, d: [t(n, d)]),
    ("logsumexp", L.logsumexp, lambda x: torch.logsumexp(x, -1), lambda n, d: [t(n, d, scale=4.0)]),
    ("layernorm", L.layernorm, lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, 1e-5),
     lambda n, d: [t(n, d), t(d, seed=2), t(d, seed=3)]),
    ("rmsnorm", L.rmsnorm, ref_rmsnorm, lambda n, d: [t(n, d), t(d, seed=2)]),
    ("tempered-softmax", L.tempered_softmax, lambda x, T: torch.softmax(x / T, -1),
     lambda n, d: [t(n, d), torch.tensor(1.7, dtype=torch.float64, device=DEVICE)]),
    ("standardize-std", L.standardize,
     lambda x: (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False, keepdim=True), lambda n, d: [t(n, d)]),
    ("row-max", L.row_max, lambda x: torch.amax(x, -1), lambda n, d: [t(n, d)]),
    ("scaled-logsumexp", L.scaled_logsumexp, lambda x, w: torch.logsumexp(x + torch.log(w), -1),
     lambda n, d: [t(n, d), t(d, seed=4).abs() + 0.1]),
]

# (rows, columns, block, programs): several chunks with a partial last one, a last chunk of one column,
# an exact multiple, one row, more rows than programs (the parameter gradients' partial sums add up)
SHAPES = [(3, 37, 16, None), (2, 17, 16, None), (1, 64, 16, None), (1, 9, 4, None), (5, 33, 8, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{n}x{d}-block{b}-p{p}" for n, d, b, p in SHAPES])
@pytest.mark.parametrize("name,fn,ref,make", LAYERS, ids=[c[0] for c in LAYERS])
def test_chunked_rows_match_torch_float64(name, fn, ref, make, shape):
    n, d, block, programs = shape
    args = make(n, d)
    layer = rg.torch.Function(fn, block=block, programs=programs)
    got = run(layer, args)
    assert layer.diff._triton_last.chunked
    assert_same(got, run(ref, args), rtol=1e-12, atol=1e-12)
    # and the one-block kernels of the same layer (sums in another order: a few ulps)
    assert_same(got, run(rg.torch.Function(fn, programs=programs), args), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name,fn,ref,make", LAYERS[:6], ids=[c[0] for c in LAYERS[:6]])
def test_chunked_rows_match_torch_float32(name, fn, ref, make):
    args = [a.float() if a.is_floating_point() else a for a in make(4, 50)]
    assert_same(run(rg.torch.Function(fn, block=16), args), run(ref, args), rtol=1e-5, atol=1e-5)


def test_online_softmax_chain_saves_a_pass():
    """sum(exp(x - max x)) is carried with the running max: the cross-entropy forward reads the row once,
    softmax's twice (statistics, then the output); a sum that is not of that form takes its own pass."""
    def passes(fn, *args):
        layer = rg.torch.Function(fn, block=8)
        layer(*args)
        src = layer.diff.source
        fwd = src.split("_fwd_kernel(")[1].split("_bwd_kernel(")[0]
        return fwd.count("for start in ")
    x = t(2, 20).requires_grad_()
    assert passes(L.cross_entropy, x, targets(2, 20)) == 1
    assert passes(L.logsumexp, x) == 1
    assert passes(L.softmax, x) == 2
    assert passes(L.scaled_logsumexp, x, t(20, seed=4).abs() + 0.1) == 2


def rows_like_numpy(fn, x):
    with np.errstate(all="ignore"):
        return torch.tensor(np.array([fn(row) for row in x.cpu().numpy()]), dtype=x.dtype)


@pytest.mark.parametrize("fn", [L.logsumexp, L.row_max, L.log_softmax], ids=lambda f: f.__name__)
def test_nan_and_infinities_follow_numpy_across_chunks(fn):
    """A nan or +-inf in any chunk, a row of -inf, the max in the first or the last chunk: the online sum
    and the running max give NumPy's value for the row (nan in NumPy is nan here)."""
    inf, nan = float("inf"), float("nan")
    x = t(8, 21)
    x[0, 19] = nan                  # in the last chunk
    x[1, 2] = nan                   # in the first
    x[2, :] = -inf                  # a row of -inf: exp(-inf - -inf) is nan
    x[3, 20] = inf                  # +inf in the last chunk
    x[4, 0] = inf
    x[4, 15] = -inf
    x[5, 3:] = -inf                 # only the first chunk finite
    x[6, :18] = -inf                # only the last chunk finite
    x[7, 0] = 50.0                  # the max first, far above the others (rescaled by exp(-50))
    got = rg.torch.Function(fn, block=8)(x)
    torch.testing.assert_close(got, rows_like_numpy(fn, x).to(DEVICE), rtol=1e-12, atol=1e-12, equal_nan=True)


def test_max_ties_in_different_chunks_share_the_cotangent():
    x = t(2, 30)
    x[0, 3] = x[0, 17] = x[0, 29] = 9.0      # three maxima in three chunks
    x[1, :] = 1.0                             # all tied
    assert_same(run(rg.torch.Function(L.row_max, block=8), [x]), run(lambda v: torch.amax(v, -1), [x]),
                rtol=1e-14, atol=1e-14)


def test_targets_count_from_the_end_and_out_of_range_raise_in_chunks():
    x = t(3, 40)
    y = torch.tensor([-1, 39, -40], device=DEVICE)
    assert_same(run(rg.torch.Function(L.cross_entropy, block=16), [x, y]),
                run(lambda a, b: F.cross_entropy(a, b % 40, reduction="none"), [x, y]), rtol=1e-12, atol=1e-12)
    with pytest.raises(rg.IndexRangeError, match="row 1"):
        rg.torch.Function(L.cross_entropy, block=16)(x, torch.tensor([0, 40, 1], device=DEVICE))


def test_empty_batch_and_wide_single_row():
    x = t(0, 40).requires_grad_()
    w = t(40, seed=2).requires_grad_()
    y = rg.torch.Function(L.rmsnorm, block=16)(x, w)
    y.sum().backward()
    assert y.shape == (0, 40) and torch.equal(w.grad, torch.zeros(40, dtype=w.dtype, device=DEVICE))


def test_cross_entropy_at_a_262144_word_vocabulary():
    """Gemma's vocabulary (V = 262,144) at the default chunk of 2048 columns: 128 chunks per row."""
    V = 262144
    x = t(2, V, dtype=torch.float32, scale=2.0)
    y = torch.tensor([V - 1, 12345], device=DEVICE)
    layer = rg.torch.Function(L.cross_entropy)
    got = run(layer, [x, y])
    plan = layer.diff._triton_last
    assert plan.chunked and rgt._row_block(V) == (rgt.CHUNK, True)
    # float32: torch and the kernel sum 262,144 terms in different orders
    assert_same(got, run(lambda a, b: F.cross_entropy(a, b, reduction="none"), [x, y]), rtol=1e-5, atol=1e-6)


def test_default_block_choice():
    assert rgt._row_block(1) == (1, False)
    assert rgt._row_block(rgt.ONE_BLOCK_MAX) == (rgt.ONE_BLOCK_MAX, False)
    assert rgt._row_block(rgt.ONE_BLOCK_MAX + 1) == (rgt.CHUNK, True)
    assert rgt._row_block(10 ** 6, f64=True) == (rgt.CHUNK_F64, True)
    assert rgt._row_block(40, block=16) == (16, True) and rgt._row_block(16, block=16) == (16, False)


# ---- the real sizes compile for sm_90 without spilling ---------------------------------------------------
def test_chunked_kernels_compile_for_sm90_without_spills():
    """Chunks of CHUNK columns, CHUNK_WARPS warps, NUM_STAGES stages (what a GPU launch uses): no kernel
    spills registers (ptxas -v), and the float32 passes are pipelined (cp.async in the PTX)."""
    plans = []
    for name, fn, _, make in [c for c in LAYERS if c[0] in ("cross-entropy", "softmax", "layernorm", "rmsnorm")]:
        layer = rg.torch.Function(fn, block=16)
        run(layer, make(2, 40))
        plans.append(layer.diff._triton_last)
    dtypes = {p.name: ["float32", "bfloat16"] for p in plans}
    result = tb.compile_plans(plans, dtypes=dtypes, block=rgt.CHUNK, num_warps=rgt.CHUNK_WARPS,
                              num_stages=rgt.NUM_STAGES, usage=True)
    for plan in plans:
        for dtype in dtypes[plan.name]:
            for kernel in (plan.fwd_name, plan.bwd_name):
                use = result[plan.name][dtype][kernel]
                assert use["spill_stores"] == 0 and use["spill_loads"] == 0, (plan.name, dtype, kernel, use)
                if dtype == "float32":
                    assert use["cp_async"] > 0, (plan.name, kernel, use)


def test_chunked_scalar_gradient_of_a_per_row_scalar():
    x, beta = t(5, 37), torch.tensor(0.7, dtype=torch.float64, device=DEVICE)
    assert_same(run(rg.torch.Function(L.scaled_row_sum, block=8, programs=2), [x, beta]),
                run(lambda a, b: (a * a).sum(-1) * b, [x, beta]), rtol=1e-12, atol=1e-12)


def test_chunked_bfloat16_computes_in_float32():
    x, w = t(3, 50, dtype=torch.bfloat16), t(50, seed=2, dtype=torch.bfloat16)
    got = run(rg.torch.Function(L.rmsnorm, block=16), [x, w])
    want = run(rg.torch.Function(L.rmsnorm), [x, w])        # the one-block kernels: same float32 math
    assert all(g.dtype == torch.bfloat16 for g in got)
    assert_same(got, want, rtol=1e-2, atol=1e-2)
    ref = run(ref_rmsnorm, [x.float(), w.float()])
    for a, b in zip(got, ref):
        torch.testing.assert_close(a.float(), b, rtol=2e-2, atol=2e-2)
