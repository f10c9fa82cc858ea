"""The triton backend: NumPy-style layers as fused Triton kernels, checked against PyTorch autograd.

Without a GPU the kernels run in Triton's interpreter (TRITON_INTERPRET=1, set before triton is imported),
on CPU tensors; every generated kernel is also compiled for CUDA sm_90 (PTX and cubin) in a fresh process.
Tests that need a GPU are marked `gpu` and skipped without one.
"""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

import retrograd as rg  # noqa: E402
import triton_layers as L  # noqa: E402
from retrograd.backends import triton as tb  # noqa: E402

F = torch.nn.functional
HAS_GPU = torch.cuda.is_available()
DEVICE = "cuda" if HAS_GPU else "cpu"


@pytest.fixture(autouse=True)
def triton_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def t(*shape, dtype=torch.float32, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype).to(DEVICE)


def compare(layer, reference, args, rtol=1e-5, atol=1e-6, seed=1):
    """Run the layer and the reference (torch autograd of the same math) on copies of `args`; compare the
    outputs and the gradients of every float tensor argument for a random cotangent."""
    a1 = [a.clone().requires_grad_(a.is_floating_point()) if torch.is_tensor(a) else a for a in args]
    a2 = [a.clone().requires_grad_(a.is_floating_point()) if torch.is_tensor(a) else a for a in args]
    y1, y2 = layer(*a1), reference(*a2)
    assert y1.shape == y2.shape and y1.dtype == y2.dtype
    torch.testing.assert_close(y1, y2, rtol=rtol, atol=atol)
    g = torch.randn(y2.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(y2)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    for p, q in zip(a1, a2):
        if torch.is_tensor(p) and p.requires_grad:
            assert p.grad is not None and p.grad.shape == p.shape
            torch.testing.assert_close(p.grad, q.grad, rtol=rtol, atol=atol)


def ref_gelu(x):
    return F.gelu(x, approximate="tanh")


def ref_softplus(x):
    return F.softplus(x)


def ref_rmsnorm(x, w):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + L.EPS) * w


def ref_tempered(x, temp):
    return torch.softmax(x / temp, -1)


ELEMENTWISE = [
    ("gelu", L.gelu_tanh, ref_gelu, lambda: [t(3, 50)]),
    ("silu-fixed-beta", L.silu, lambda x, b: x * torch.sigmoid(b * x), lambda: [t(7, 13), 1.7]),
    ("silu-learnable-beta", L.silu, lambda x, b: x * torch.sigmoid(b * x),
     lambda: [t(1000), torch.tensor(0.8, device=DEVICE)]),
    ("softplus", L.softplus, ref_softplus, lambda: [t(4, 9, 5, scale=3.0)]),
    ("mish", L.mish, F.mish, lambda: [t(100, scale=2.0)]),
    ("gated-broadcast", L.gated, lambda a, b: a * torch.sigmoid(b) + 0.1 * a * b, lambda: [t(6, 10), t(10, seed=2)]),
    ("math-formula", L.formula, lambda x, y: (
        (torch.sin(x) * torch.cos(y) + torch.sqrt(x * x + 1.0) + torch.clamp(x, -0.5, 0.5))
        * (torch.logaddexp(x, y) + y * y + 1.0 / (2.0 + torch.cosh(x)) + torch.sinh(y) * 0.1)
        + torch.exp2(x) + torch.log2(2.0 + y * y) + torch.log10(3.0 + x * x) + torch.expm1(y) + x ** 3
        - 1.0 / (1.0 + y ** 2) + torch.minimum(x, y) + torch.maximum(x, y) * torch.abs(x)),
     lambda: [t(40), t(40, seed=5)]),
    ("smooth-l1", L.smooth_l1, lambda x, y: F.smooth_l1_loss(x, y, reduction="none"),
     lambda: [t(33, scale=2.0), t(33, seed=3)]),
]

ROWWISE = [
    ("softmax", L.softmax, lambda x: torch.softmax(x, -1), lambda: [t(5, 37)]),
    ("log-softmax", L.log_softmax, lambda x: torch.log_softmax(x, -1), lambda: [t(3, 4, 33)]),
    ("layernorm", L.layernorm, lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, 1e-5),
     lambda: [t(9, 40), t(40, seed=2), t(40, seed=3)]),
    ("rmsnorm", L.rmsnorm, ref_rmsnorm, lambda: [t(6, 24), t(24, seed=2)]),
    ("logsumexp", L.logsumexp, lambda x: torch.logsumexp(x, -1), lambda: [t(8, 19, scale=4.0)]),
    ("cross-entropy", L.cross_entropy, lambda x, y: F.cross_entropy(x, y, reduction="none"),
     lambda: [t(10, 21), torch.randint(0, 21, (10,), generator=torch.Generator().manual_seed(0)).to(DEVICE)]),
    ("tempered-softmax", L.tempered_softmax, ref_tempered, lambda: [t(4, 12), torch.tensor(1.7, device=DEVICE)]),
    ("layernorm-np-var", L.layernorm_var, lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, L.EPS),
     lambda: [t(5, 20), t(20, seed=2), t(20, seed=3)]),
    ("standardize-std", L.standardize, lambda x: (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False,
                                                                                      keepdim=True),
     lambda: [t(3, 10)]),
]


@pytest.mark.parametrize("name,fn,ref,make", ELEMENTWISE + ROWWISE, ids=[c[0] for c in ELEMENTWISE + ROWWISE])
def test_matches_torch_autograd_float32(name, fn, ref, make):
    compare(rg.torch.Function(fn), ref, make())


@pytest.mark.parametrize("name,fn,ref,make", ELEMENTWISE + ROWWISE, ids=[c[0] for c in ELEMENTWISE + ROWWISE])
def test_matches_torch_autograd_float64(name, fn, ref, make):
    args = [a.double() if torch.is_tensor(a) and a.is_floating_point() else a for a in make()]
    compare(rg.torch.Function(fn), ref, args, rtol=1e-12, atol=1e-12)


GRADCHECK = [
    (L.gelu_tanh, lambda: [t(2, 3)]),
    (L.silu, lambda: [t(5), torch.tensor(0.9, device=DEVICE)]),
    (L.layernorm, lambda: [t(2, 4), t(4, seed=2), t(4, seed=3)]),
    (L.cross_entropy, lambda: [t(2, 6), torch.tensor([1, 5], device=DEVICE)]),
    (L.tempered_softmax, lambda: [t(2, 4), torch.tensor(1.3, device=DEVICE)]),
]


@pytest.mark.parametrize("fn,make", GRADCHECK, ids=[c[0].__name__ for c in GRADCHECK])
def test_gradcheck_float64(fn, make):
    args = [a.double().requires_grad_() if torch.is_tensor(a) and a.is_floating_point() else a for a in make()]
    assert torch.autograd.gradcheck(rg.torch.Function(fn), args, eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("n_rows,n_cols,programs", [
    (1, 7, None),          # a single row
    (13, 100, 3),          # rows not a multiple of the programs, columns not a power of two
    (3, 5000, None),       # very wide rows (one 8192-column block)
    (5, 3, None),          # three columns in a block of four
])
def test_layernorm_shapes(n_rows, n_cols, programs):
    layer = rg.torch.Function(L.layernorm, programs=programs)
    compare(layer, lambda x, w, b: F.layer_norm(x, (n_cols,), w, b, 1e-5),
            [t(n_rows, n_cols), t(n_cols, seed=2), t(n_cols, seed=3)], rtol=1e-4, atol=1e-5)


def test_empty_batch():
    x = t(0, 5).requires_grad_()
    w = t(5).requires_grad_()
    y = rg.torch.Function(L.rmsnorm)(x, w)
    assert y.shape == (0, 5)
    y.sum().backward()
    assert x.grad.shape == (0, 5) and torch.equal(w.grad, torch.zeros(5, device=DEVICE))


def test_single_column_rows():
    compare(rg.torch.Function(L.log_softmax), lambda x: torch.log_softmax(x, -1), [t(4, 1)])


def test_scalar_parameter_gradients_summed_over_programs():
    beta = torch.tensor(0.8, device=DEVICE)
    compare(rg.torch.Function(L.silu, programs=3), lambda x, b: x * torch.sigmoid(b * x), [t(1000), beta])
    compare(rg.torch.Function(L.tempered_softmax, programs=3), ref_tempered, [t(7, 12), torch.tensor(1.7, device=DEVICE)])


def test_elementwise_sizes_not_multiple_of_block():
    compare(rg.torch.Function(L.gelu_tanh), ref_gelu, [t(1)])
    compare(rg.torch.Function(L.gelu_tanh), ref_gelu, [t(3, 333)])


def test_non_contiguous_inputs_are_copied():
    x = t(40, 9).t()           # (9, 40), not contiguous
    assert not x.is_contiguous()
    compare(rg.torch.Function(L.layernorm), lambda x, w, b: F.layer_norm(x, (40,), w, b, 1e-5),
            [x, t(40, seed=2), t(40, seed=3)])
    compare(rg.torch.Function(L.softplus), ref_softplus, [t(20, 6)[::2]])


def test_bfloat16_computes_in_float32():
    x, w = t(4, 64, dtype=torch.bfloat16), t(64, seed=2, dtype=torch.bfloat16)
    layer = rg.torch.Function(L.rmsnorm)
    y = layer(x, w)
    assert y.dtype == torch.bfloat16
    expected = ref_rmsnorm(x.float(), w.float())
    torch.testing.assert_close(y.float(), expected, rtol=1e-2, atol=1e-2)


def test_module_trains_parameters():
    torch.manual_seed(0)
    ln = rg.torch.Module(L.layernorm, w=torch.ones(16), b=torch.zeros(16))
    assert sorted(n for n, _ in ln.named_parameters()) == ["b", "w"]
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), ln, torch.nn.Linear(16, 1)).to(DEVICE)
    x, y = torch.randn(8, 8, device=DEVICE), torch.randn(8, 1, device=DEVICE)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert ln.w.grad is not None and ln.b.grad is not None


def test_no_grad_runs_forward_only():
    layer = rg.torch.Function(L.softmax)
    x = t(3, 10).requires_grad_()
    with torch.no_grad():
        y = layer(x)
    assert not y.requires_grad
    torch.testing.assert_close(y, torch.softmax(x.detach(), -1))


def test_source_shows_named_kernels_with_user_lines():
    src = L.decorated_layernorm.source
    assert "def decorated_layernorm_fwd_kernel(" in src and "def decorated_layernorm_bwd_kernel(" in src
    assert "@triton.jit" in src and "import triton.language as tl" in src
    assert "# grad of: return xc * rstd * w + b  (triton_layers.py:" in src
    assert "tl.store(mu_ptr + row, mu)" in src            # per-row statistics saved by the forward
    assert "dw_partial_ptr" in src and "sum_partials_kernel" in src
    # the backward recomputes xc from the saved mean instead of reading it from memory
    bwd = src.split("def decorated_layernorm_bwd_kernel")[1]
    assert "mu = tl.load(mu_ptr + row)" in bwd and "xc = x - mu" in bwd
    code = "\n".join(line.split("#")[0] for line in src.splitlines())
    assert "np." not in code and "tanh" not in code


def test_source_after_a_call_is_what_ran():
    f = rg.differentiate(L.silu, backend="triton")
    layer = rg.torch.Function(f)
    layer(t(10), torch.tensor(1.0, device=DEVICE).requires_grad_())
    assert "beta_ptr" in f.source and "dbeta_partial_ptr" in f.source
    layer(t(10), 2.0)
    assert "beta: tl.constexpr" in f.source


def test_numpy_arguments_run_the_generated_numpy_code():
    x, w, b = np.random.default_rng(0).normal(size=(3, 8))
    g = L.decorated_layernorm.grad
    with pytest.raises(rg.UsageError):   # non-scalar output
        g(x, w, b)
    out, pullback = L.decorated_layernorm.vjp(x, w, b)
    dx, dw, db = pullback(np.ones(8))
    np.testing.assert_allclose(db, np.ones(8))


def test_vjp_with_torch_tensors_runs_the_kernels():
    x, w, b = t(4, 8), t(8, seed=2), t(8, seed=3)
    out, pullback = L.decorated_layernorm.vjp(x, w, b)
    ct = torch.ones_like(out)
    dx, dw, db = pullback(ct)
    torch.testing.assert_close(db, torch.full((8,), 4.0, device=DEVICE))
    torch.testing.assert_close(out, F.layer_norm(x, (8,), w, b, 1e-5), rtol=1e-5, atol=1e-6)


# ---- refusals -----------------------------------------------------------------------------------------
def _line_of(fn, text):
    import inspect
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, l in enumerate(lines) if text in l)


@pytest.mark.parametrize("fn,args,text,construct", [
    (L.with_loop, lambda: [t(4), 3], "for _ in range(n)", "for"),
    (L.with_arctan, lambda: [t(4)], "np.arctan(x)", "np.arctan"),
    (L.column_sum, lambda: [t(3, 4)], "np.sum(x, axis=0)", "np.sum"),
    (L.with_branch, lambda: [t(4), 1.0], "if flag > 0:", "if"),
    (L.per_row_slice, lambda: [t(3, 8), torch.tensor([1, 2, 3], device=DEVICE)], "x[..., :t]", "slice"),
])
def test_refusals_name_the_construct_and_line(fn, args, text, construct):
    with pytest.raises(rg.BackendError) as info:
        rg.torch.Function(fn)(*args())
    err = info.value
    assert err.filename.endswith("triton_layers.py")
    assert err.lineno == _line_of(fn, text)
    assert construct in (err.construct or "")
    assert 'backend="python"' in err.hint
    assert isinstance(err, rg.RetrogradError)


def test_user_names_that_clash_with_kernel_names_are_renamed():
    layer = rg.torch.Function(L.clashing_names)
    compare(layer, lambda r, m: torch.softmax(r, -1) * m, [t(3, 6), t(6, seed=2)])
    src = layer.diff.source
    assert "row_ = tl.load(row__ptr + offs" in src and "mask_ = cols_ / " in src


def test_row_block_must_be_a_power_of_two():
    # rows wider than a block are split into chunks (tests/test_triton_wide.py); the block is a power of two
    for bad in (0, 3, 2.0, -4):
        with pytest.raises(rg.UsageError, match="power of two"):
            rg.torch.Function(L.softmax, block=bad)


@pytest.mark.skipif(not HAS_GPU or os.environ.get("TRITON_INTERPRET") == "1", reason="needs a GPU process")
def test_cpu_tensors_on_a_gpu_machine_are_refused_clearly():
    with pytest.raises(rg.UsageError, match="TRITON_INTERPRET"):
        rg.torch.Function(L.softmax)(torch.randn(2, 3))


def test_bad_shapes_are_usage_errors():
    with pytest.raises(rg.UsageError, match="shape"):
        rg.torch.Function(L.layernorm)(t(3, 8), t(7), t(8))
    with pytest.raises(rg.UsageError, match="integer tensor"):
        rg.torch.Function(L.cross_entropy)(t(3, 8), torch.zeros(4, dtype=torch.long))


def test_import_retrograd_does_not_import_torch():
    import subprocess
    import sys
    code = "import sys, retrograd; assert 'torch' not in sys.modules and 'triton' not in sys.modules"
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=src))


# ---- every generated kernel compiles for Hopper (sm_90), no GPU needed --------------------------------
def test_every_kernel_compiles_for_cuda_sm90():
    plans = []
    for name, fn, _, make in ELEMENTWISE + ROWWISE:
        layer = rg.torch.Function(fn)
        args = [a.requires_grad_() if torch.is_tensor(a) and a.is_floating_point() else a for a in make()]
        layer(*args)
        plans.append(layer.diff._triton_last)
    plans.append(getattr(L.decorated_layernorm, "_triton_last", None) or tb.generate(L.decorated_layernorm, tb.default_roles(
        L.decorated_layernorm), ["x", "w", "b"]))
    dtypes = {p.name: ["float32"] + (["bfloat16"] if p.name in ("layernorm", "softmax", "gelu_tanh") else [])
              for p in plans}
    result = tb.compile_plans(plans, dtypes=dtypes, block=256)
    for plan in plans:
        for dtype in dtypes[plan.name]:
            kernels = result[plan.name][dtype]
            assert set(kernels) == {plan.fwd_name, plan.bwd_name, "sum_partials_kernel", "sum_all_kernel"}
            assert all(k["ptx"] > 0 and k["cubin"] > 0 for k in kernels.values())


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA GPU")
def test_gpu_layers_match_torch():
    for name, fn, ref, make in ELEMENTWISE + ROWWISE:
        compare(rg.torch.Function(fn), ref, make(), rtol=1e-5, atol=1e-5)
    x = torch.randn(4096, 4096, device="cuda")
    compare(rg.torch.Function(L.softmax), lambda x: torch.softmax(x, -1), [x], rtol=1e-5, atol=1e-6)


def test_example_custom_layer_trains(capsys):
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "custom_layer.py")
    spec = importlib.util.spec_from_file_location("custom_layer_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main() == 0
    assert "rmsnorm_gelu_bwd_kernel" in capsys.readouterr().out
