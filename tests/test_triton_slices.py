"""Static slices of the row in the triton backend (backends/triton_slices.py): `x[..., :d]`, `x[..., d:]`,
`x[..., a:b]`, `x[..., ::2]`, `x[..., 1::2]`, negative bounds and steps, slices of slices, np.concatenate of
pieces, in one block and in column chunks; checked against torch autograd of the same indexing (float64),
widths NumPy would refuse raise naming the line, and the real sizes compile for sm_90 without spills."""
import importlib.util
import os
import textwrap

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

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def triton_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def t(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype).to(DEVICE)


def run(layer, args, seed=1):
    """Output and gradients of `layer` for a random cotangent."""
    a = [x.clone().requires_grad_(x.is_floating_point()) if torch.is_tensor(x) else x for x in args]
    y = layer(*a)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(y)
    (y * g).sum().backward()
    return [y] + [x.grad for x in a if torch.is_tensor(x) and x.requires_grad]


def assert_same(got, want, tol=1e-12):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=tol, atol=tol, equal_nan=True)


def module_of(tmp_path, name, source):
    """Layers written to a real file (Triton and retrograd read the source)."""
    path = tmp_path / f"{name}.py"
    path.write_text("import numpy as np\n\n" + textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def columns(text, d):
    """The columns NumPy's `row[text]` picks from a row of d (the reference indexes by them: torch has no
    negative steps)."""
    return torch.tensor(np.arange(d)[eval(f"np.s_[{text}]")].copy(), dtype=torch.long, device=DEVICE)


# ---- RoPE ---------------------------------------------------------------------------------------------
def ref_rope(x, cos, sin):
    d = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., d:], x[..., :d]], -1) * sin


# (rows, columns, block): even and odd rows, a row of 1 (first half empty), 2 columns, several chunks with a
# partial last one, one row
ROPE_SHAPES = [(3, 8, None), (4, 7, None), (2, 1, None), (2, 2, None), (3, 37, 8), (1, 64, 16), (5, 10, 4)]


@pytest.mark.parametrize("n,d,block", ROPE_SHAPES, ids=[f"{n}x{d}-b{b}" for n, d, b in ROPE_SHAPES])
def test_rope_rotate_halves_matches_torch(n, d, block):
    args = [t(n, d), t(n, d, seed=2), t(n, d, seed=3)]
    layer = rg.torch.Function(L.rope_halves, block=block, programs=2)
    assert_same(run(layer, args), run(ref_rope, args))
    assert layer.diff._triton_last.chunked == (block is not None and d > block)


def test_rope_float32_and_bfloat16():
    args = [t(4, 64, dtype=torch.float32), t(4, 64, seed=2, dtype=torch.float32), t(4, 64, seed=3, dtype=torch.float32)]
    assert_same(run(rg.torch.Function(L.rope_halves), args), run(ref_rope, args), tol=1e-6)
    bf = [a.to(torch.bfloat16) for a in args]
    got = run(rg.torch.Function(L.rope_halves, block=16), bf)
    want = run(ref_rope, [a.float() for a in bf])
    for a, b in zip(got, want):
        assert a.dtype == torch.bfloat16
        torch.testing.assert_close(a.float(), b, rtol=2e-2, atol=2e-2)


# ---- slices read and scattered back -------------------------------------------------------------------
SLICES = ["..., :3", "..., 3:", "..., 2:7", "..., ::2", "..., 1::2", "..., -3:", "..., :-2", "..., ::-1",
          "..., -2::-3", "..., 5:2", "..., 4:5", "..., 100:", "..., -100:2", "::3", "..., 1:-1:2"]


def slice_module(tmp_path):
    src = []
    for k, text in enumerate(SLICES):
        src.append(f"""
        def f{k}(x, w):
            s = x[{text}] * w[{text}]
            return x * np.sum(s * s) + np.sum(np.exp(s)) + np.sum(x[{text}])
        """)
    # a slice of a slice, of a computed block, and a bound computed from the row's length
    src.append("""
        def nested(x, w):
            h = x * w + 1.0
            s = h[..., 1:][..., ::2]
            return x * np.sum(s * s)

        def computed_bound(x, w):
            d = x.shape[-1] // 3
            e = len(x) - d
            return x * np.sum(x[..., d:e] * w[..., d:e])
        """)
    return module_of(tmp_path, "slice_layers", "".join(textwrap.dedent(s) for s in src))


def ref_slice(text, x, w):
    c = columns(text, x.shape[-1])
    s = x[..., c] * w[c]
    return x * (s * s).sum(-1, keepdim=True) + torch.exp(s).sum(-1, keepdim=True) + x[..., c].sum(-1, keepdim=True)


@pytest.mark.parametrize("d,block", [(9, None), (1, None), (23, 4)], ids=["9", "1", "23-chunks"])
def test_slices_read_and_scatter_like_numpy(tmp_path, d, block):
    mod = slice_module(tmp_path)
    args = [t(3, d), t(d, seed=2)]
    for k, text in enumerate(SLICES):
        got = run(rg.torch.Function(getattr(mod, f"f{k}"), block=block, programs=2), args)
        assert_same(got, run(lambda x, w: ref_slice(text, x, w), args))


@pytest.mark.parametrize("d,block", [(11, None), (30, 8)])
def test_slices_of_computed_blocks_and_computed_bounds(tmp_path, d, block):
    mod = slice_module(tmp_path)
    args = [t(4, d), t(d, seed=2)]

    def nested(x, w):
        s = (x * w + 1.0)[..., 1:][..., ::2]
        return x * (s * s).sum(-1, keepdim=True)

    def computed(x, w):
        a, b = d // 3, d - d // 3
        return x * (x[..., a:b] * w[a:b]).sum(-1, keepdim=True)
    assert_same(run(rg.torch.Function(mod.nested, block=block), args), run(nested, args))
    assert_same(run(rg.torch.Function(mod.computed_bound, block=block), args), run(computed, args))


def test_a_literal_slice():
    args = [t(3, 9)]
    assert_same(run(rg.torch.Function(L.half_split), args),
                run(lambda x: (x[..., :4] ** 2).sum(-1) + x.sum(-1), args))


def test_glu_halves_with_a_sliced_weight_and_max():
    def ref(x, w):
        h = x.shape[-1] // 2
        a = x[..., :h] * w[:h]
        return (a / (1.0 + torch.exp(-x[..., h:]))).sum(-1) + a.amax(-1)
    for d, block in [(10, None), (34, 8), (2, None)]:
        args = [t(3, d), t(d, seed=4)]
        assert_same(run(rg.torch.Function(L.glu_halves, block=block), args), run(ref, args))
    with pytest.raises(rg.UsageError, match="16 and 17 columns"):       # odd rows: halves of two widths
        rg.torch.Function(L.glu_halves, block=8)(t(3, 33), t(33))


def test_even_odd_interleave():
    def ref(x):
        a, b = x[..., ::2], x[..., 1::2]
        return (a * a).sum(-1) + torch.exp(b).sum(-1) * a.mean(-1)
    for d, block in [(8, None), (7, None), (29, 4)]:
        args = [t(3, d)]
        assert_same(run(rg.torch.Function(L.even_odd, block=block), args), run(ref, args))


# ---- what NumPy refuses is refused, naming the line ------------------------------------------------------
REFUSED = """
def mismatch(x):
    d = x.shape[-1] // 2
    return np.sum(x[..., :d] * x[..., d:])

def narrow_output(x):
    return x[..., 1:] * 2.0

def too_wide(x):
    return np.sum(np.concatenate([x, x[..., :2]]))

def per_row_bound(x, t):
    return np.sum(x[..., :t])

def step_zero(x):
    return np.sum(x[..., ::0])

def gather_of_slice(x, t):
    return x[..., 1:][t]
"""


def _line(mod, name, text):
    import inspect
    lines, first = inspect.getsourcelines(getattr(mod, name))
    return first + next(i for i, l in enumerate(lines) if text in l)


def test_widths_numpy_refuses_raise_at_launch_naming_the_line(tmp_path):
    mod = module_of(tmp_path, "refused_slices", REFUSED)
    layer = rg.torch.Function(mod.mismatch)
    run(layer, [t(2, 8)])          # halves of an even row: fine
    with pytest.raises(rg.UsageError, match="3 and 4 columns") as info:
        layer(t(2, 7))
    assert info.value.lineno == _line(mod, "mismatch", "x[..., :d] * x[..., d:]")
    with pytest.raises(rg.UsageError, match="7 columns, not a whole row of 8"):
        rg.torch.Function(mod.narrow_output)(t(2, 8))
    with pytest.raises(rg.UsageError, match="10 columns wide, wider than the row's 8"):
        rg.torch.Function(mod.too_wide)(t(2, 8))


@pytest.mark.parametrize("name,args,text", [
    ("per_row_bound", lambda: [t(2, 8), torch.tensor([1, 2], device=DEVICE)], "x[..., :t]"),
    ("step_zero", lambda: [t(2, 8)], "x[..., ::0]"),
    ("gather_of_slice", lambda: [t(2, 8), torch.tensor([1, 2], device=DEVICE)], "x[..., 1:][t]"),
])
def test_slices_that_cannot_be_lowered_are_refused(tmp_path, name, args, text):
    mod = module_of(tmp_path, "refused_slices2", REFUSED)
    with pytest.raises(rg.BackendError) as info:
        rg.torch.Function(getattr(mod, name))(*args())
    assert info.value.lineno == _line(mod, name, text)
    assert info.value.filename.endswith("refused_slices2.py")


def test_unsliced_layers_keep_their_kernels():
    """A layer without slices takes no launch-time sizes and no row_start (its kernels are unchanged)."""
    layer = rg.torch.Function(L.layernorm, tile_rows=0)
    run(layer, [t(2, 8), t(8, seed=1), t(8, seed=2)])
    plan = layer.diff._triton_last
    assert plan.sizes == [] and plan.checks == [] and "row_start" not in plan.source


# ---- the real sizes compile for sm_90 without spilling ---------------------------------------------------
def test_slice_kernels_compile_for_sm90_without_spills():
    """RoPE and the GLU halves: one block of 128 and ONE_BLOCK_MAX_SLICES columns and chunks of CHUNK
    columns, with the warps a launch uses; no kernel spills registers (ptxas -v)."""
    one, chunked = [], []
    for fn, make in [(L.rope_halves, lambda d: [t(2, d), t(2, d, seed=2), t(2, d, seed=3)]),
                     (L.glu_halves, lambda d: [t(2, d), t(d, seed=2)])]:
        layer = rg.torch.Function(fn, tile_rows=0)       # one row per step (tiles: test_triton_narrow.py)
        run(layer, make(16))
        one.append(layer.diff._triton_last)
        layer = rg.torch.Function(fn, block=8)
        run(layer, make(16))
        chunked.append(layer.diff._triton_last)
    assert rgt._row_block(rgt.ONE_BLOCK_MAX_SLICES + 1, slices=True) == (rgt.CHUNK, True)
    checks = [(one, 128, 4, 3), (one, rgt.ONE_BLOCK_MAX_SLICES, rgt._warps(rgt.ONE_BLOCK_MAX_SLICES), 3),
              (chunked, rgt.CHUNK, rgt.CHUNK_WARPS, rgt.NUM_STAGES)]
    for plans, block, warps, stages in checks:
        dtypes = {p.name: ["float32", "bfloat16"] for p in plans}
        result = tb.compile_plans(plans, dtypes=dtypes, block=block, num_warps=warps, num_stages=stages, usage=True)
        for plan in plans:
            for dtype in dtypes[plan.name]:
                for kernel in (plan.fwd_name, plan.bwd_name):
                    use = result[plan.name][dtype][kernel]
                    assert use["spill_stores"] == 0 and use["spill_loads"] == 0, (plan.name, block, dtype, kernel, use)
