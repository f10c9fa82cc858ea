"""Layers that return a tuple: one output tensor per element, each with its own cotangent (fused add +
RMSNorm returning (normed, residual)), one-block and chunked rows and elementwise, against torch autograd."""
import os

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

import retrograd as rg  # noqa: E402
import triton_layers as L  # noqa: E402
from retrograd.backends import triton as tb  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def triton_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def t(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype).to(DEVICE)


def ref_add_rmsnorm(x, r, w):
    h = x + r
    return h / torch.sqrt((h * h).mean(-1, keepdim=True) + L.EPS) * w, h


def ref_softmax_and_lse(x):
    return torch.softmax(x, -1), torch.logsumexp(x, -1)


def ref_swish_pair(a, b):
    s = a * torch.sigmoid(b)
    return s, s * b


def run(layer, args, use=(0, 1)):
    """Outputs and gradients for random cotangents of the outputs in `use` (the others unused)."""
    a = [x.clone().requires_grad_() for x in args]
    ys = layer(*a)
    assert isinstance(ys, tuple) and len(ys) == 2
    loss = 0
    for i in use:
        g = torch.randn(ys[i].shape, generator=torch.Generator().manual_seed(10 + i), dtype=torch.float64)
        loss = loss + (ys[i] * g.to(ys[i])).sum()
    loss.backward()
    # torch leaves the gradient of an input that no used output reads at None; the kernels give zeros
    return [y.detach() for y in ys] + [torch.zeros_like(x) if x.grad is None else x.grad for x in a]


CASES = [
    ("add-rmsnorm", L.add_rmsnorm, ref_add_rmsnorm, lambda n, d: [t(n, d), t(n, d, seed=1), t(d, seed=2)]),
    ("softmax-and-lse", L.softmax_and_lse, ref_softmax_and_lse, lambda n, d: [t(n, d)]),
    ("swish-pair", L.swish_pair, ref_swish_pair, lambda n, d: [t(n, d), t(d, seed=3)]),
]


@pytest.mark.parametrize("block", [None, 8], ids=["one-block", "chunked"])
@pytest.mark.parametrize("use", [(0, 1), (0,), (1,)], ids=["both", "first", "second"])
@pytest.mark.parametrize("name,fn,ref,make", CASES, ids=[c[0] for c in CASES])
def test_tuple_outputs_match_torch_float64(name, fn, ref, make, use, block):
    args = make(3, 21)
    got = run(rg.torch.Function(fn, block=block, programs=2), args, use)
    want = run(ref, args, use)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_tuple_outputs_float32_and_single_row():
    args = [t(1, 7, dtype=torch.float32), t(1, 7, seed=1, dtype=torch.float32), t(7, seed=2, dtype=torch.float32)]
    for a, b in zip(run(rg.torch.Function(L.add_rmsnorm), args), run(ref_add_rmsnorm, args)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_vjp_takes_a_cotangent_per_output():
    f = rg.differentiate(L.add_rmsnorm, backend="triton", wrt=("x", "residual", "w"))
    x, r, w = t(2, 6), t(2, 6, seed=1), t(6, seed=2)
    (y, h), pullback = f.vjp(x, r, w)
    gy, gh = t(2, 6, seed=5), t(2, 6, seed=6)
    dx, dr, dw = pullback((gy, gh))
    xs = [v.clone().requires_grad_() for v in (x, r, w)]
    ry, rh = ref_add_rmsnorm(*xs)
    want = torch.autograd.grad([ry, rh], xs, [gy, gh])
    for a, b in zip((dx, dr, dw), want):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(rg.UsageError, match="tuple"):
        f.grad(x, r, w)


def test_tuple_output_kernels_compile_for_sm90():
    plans = []
    for block in (None, 16):
        layer = rg.torch.Function(L.add_rmsnorm, block=block)
        run(layer, [t(2, 40), t(2, 40, seed=1), t(40, seed=2)])
        plans.append(layer.diff._triton_last)
    result = tb.compile_plans(plans, dtypes=("float32",), block=256)
    for plan in plans:
        assert all(k["cubin"] > 0 for k in result[plan.name]["float32"].values())
