"""Masks within a row (np.arange, np.where against per-row bounds: causal-style masks) and per-row float
inputs of shape (..., 1) (one number per row, differentiable), in one block, in [ROWS, BLOCK] tiles and in
column chunks, against torch autograd (float64)."""
import os

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

import retrograd as rg  # noqa: E402
import triton_layers as L  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def triton_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def t(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(DEVICE)


def run(layer, args, seed=1):
    """Output and gradients (zeros where torch has none) for a random cotangent."""
    a = [x.clone().requires_grad_(x.is_floating_point()) if torch.is_tensor(x) else x for x in args]
    y = layer(*a)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(y)
    (y * g).sum().backward()
    return [y] + [torch.zeros_like(x) if x.grad is None else x.grad for x in a if torch.is_tensor(x)]


def assert_same(got, want, tol=1e-12):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=tol, atol=tol, equal_nan=True)


def cols(x):
    return torch.arange(x.shape[-1], device=x.device, dtype=torch.float64)


def ref_prefix_softmax(x, k):
    return torch.softmax(torch.where(cols(x) < k, x, -torch.inf), -1)


def ref_window_sum(x, lo, hi):
    c = cols(x)
    return torch.where((c >= lo) & (c < hi), x * (c + 1.0), 0.0).sum(-1)


def ref_modulated(x, w, scale, shift):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + L.EPS) * w * (1.0 + scale) + shift


def ref_strided(x):
    d = x.shape[-1]
    p = torch.arange(2, d + 2, device=x.device)
    return torch.where(p > 4, x, 0.0).sum(-1) + (x * torch.arange(d, 0, -1, device=x.device)).sum(-1)


def bounds(n, d, seed):
    """Per-row bounds from below 0 to past the row, fractions and exact column numbers included."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(-2, 2 * d + 3, (n, 1), generator=g).to(torch.float64) / 2).to(DEVICE)


CASES = [
    # a row whose prefix is empty is all -inf: nan, as NumPy (and torch) give
    ("prefix-softmax", L.prefix_softmax, ref_prefix_softmax, lambda n, d: [t(n, d), bounds(n, d, 3)]),
    ("window-sum", L.window_sum, ref_window_sum, lambda n, d: [t(n, d), bounds(n, d, 4), bounds(n, d, 5) + 2.0]),
    ("modulated-rmsnorm", L.modulated_rmsnorm, ref_modulated,
     lambda n, d: [t(n, d), t(d, seed=2), t(n, 1, seed=3), t(n, 1, seed=4)]),
    ("strided-positions", L.strided_positions, ref_strided, lambda n, d: [t(n, d)]),
]
# (rows, columns, block, tile rows): one block, tiles with missing rows, a column of one (per-row inputs of
# shape (n, 1) are then rows themselves), chunks with a partial last one
SHAPES = [(6, 9, None, 0), (7, 12, None, 4), (3, 2, None, None), (4, 37, 8, None), (1, 5, None, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{n}x{d}-b{b}-r{r}" for n, d, b, r in SHAPES])
@pytest.mark.parametrize("name,fn,ref,make", CASES, ids=[c[0] for c in CASES])
def test_masks_and_per_row_inputs_match_torch(name, fn, ref, make, shape):
    n, d, block, rows = shape
    args = make(n, d)
    layer = rg.torch.Function(fn, block=block, tile_rows=rows, programs=2)
    assert_same(run(layer, args), run(ref, args))


def test_prefix_mask_with_a_nan_row_and_an_empty_prefix():
    x = t(4, 6)
    x[1, 4] = float("nan")          # masked out: no effect
    x[2, 0] = float("nan")          # inside the prefix: the row is nan
    k = torch.tensor([[6.0], [3.0], [2.0], [0.0]], dtype=torch.float64, device=DEVICE)
    got = rg.torch.Function(L.prefix_softmax)(x, k)
    torch.testing.assert_close(got, ref_prefix_softmax(x, k), rtol=1e-12, atol=1e-12, equal_nan=True)
    assert torch.isnan(got[3]).all() and torch.isnan(got[2]).all() and not torch.isnan(got[1]).any()


def test_per_row_input_shapes():
    x = t(3, 4, 8)
    scale, shift = t(3, 4, 1, seed=1), t(3, 4, 1, seed=2)
    w = t(8, seed=3)
    assert_same(run(rg.torch.Function(L.modulated_rmsnorm), [x, w, scale, shift]),
                run(ref_modulated, [x, w, scale, shift]))
    with pytest.raises(rg.UsageError, match=r"\(3, 4, 1\) \(one number per row\)"):
        rg.torch.Function(L.modulated_rmsnorm)(x, w, t(3, 4, seed=1), shift)


def test_arange_refusals_name_the_line(tmp_path):
    import importlib.util
    import inspect
    path = tmp_path / "bad_arange.py"
    path.write_text("import numpy as np\n\n\ndef f(x, k):\n    return np.sum(x * np.arange(0.5, 3.5))\n\n\n"
                    "def g(x):\n    return np.sum(x * np.arange(x.shape[-1] + 1))\n")
    spec = importlib.util.spec_from_file_location("bad_arange", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(rg.BackendError) as info:
        rg.torch.Function(mod.f)(t(2, 3), t(2, 1))
    assert info.value.lineno == inspect.getsourcelines(mod.f)[1] + 1
    with pytest.raises(rg.UsageError, match="9 long, longer than the row's 8"):
        rg.torch.Function(mod.g)(t(2, 8))


def test_mask_kernels_compile_for_sm90_without_spills():
    """Tiles of 128 columns (the default ROWS, 4 warps), one block of 4096 (8 warps), chunks of CHUNK."""
    import retrograd.torch as rgt
    from retrograd.backends import triton as tb
    layouts = [(dict(), 128, 4), (dict(tile_rows=0), rgt.ONE_BLOCK_MAX, 8), (dict(block=8), rgt.CHUNK, rgt.CHUNK_WARPS)]
    for options, block, warps in layouts:
        plans = []
        for name, fn, _, make in [c for c in CASES if c[0] in ("prefix-softmax", "modulated-rmsnorm")]:
            layer = rg.torch.Function(fn, **options)
            run(layer, make(3, 16))
            plans.append(layer.diff._triton_last)
        result = tb.compile_plans(plans, dtypes=["float32", "bfloat16"], block=block, num_warps=warps,
                                  rows=rgt._tile_rows(block), usage=True)
        for plan in plans:
            for dtype, kernels in result[plan.name].items():
                for kernel in (plan.fwd_name, plan.bwd_name):
                    use = kernels[kernel]
                    # known: the chunked causal-softmax forward (3 pipelined stages, 8 warps) meets ptxas's
                    # 128-register cap and spills 8 bytes (2 stages: 80 registers, none); nothing else spills
                    allowed = 8 if (plan.name == "prefix_softmax" and kernel == plan.fwd_name and block == rgt.CHUNK) \
                        else 0
                    assert use["spill_stores"] <= allowed and use["spill_loads"] <= allowed, \
                        (plan.name, block, dtype, kernel, use)
