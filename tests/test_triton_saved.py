"""What a layer keeps for its backward: exactly the tensors its backward kernel reads (and the per-row
statistics), not every argument; and elementwise operands are broadcast by strides, not copied."""
import os

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

import retrograd as rg  # noqa: E402
import triton_layers as L  # noqa: E402

F = torch.nn.functional
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def triton_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def t(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(DEVICE)


# (layer, arguments, which require grad, the arguments its backward reads, how many per-row statistics):
# read off the math by hand, not from the generated kernels
CASES = [
    ("layernorm-x-only", L.layernorm, lambda: [t(4, 8), t(8, seed=1), t(8, seed=2)], {0}, {"x", "w"}, 2),
    ("layernorm-all", L.layernorm, lambda: [t(4, 8), t(8, seed=1), t(8, seed=2)], {0, 1, 2}, {"x", "w"}, 2),
    ("rmsnorm", L.rmsnorm, lambda: [t(4, 8), t(8, seed=1)], {0, 1}, {"x", "w"}, 1),
    ("softmax", L.softmax, lambda: [t(4, 8)], {0}, {"x"}, 2),
    ("cross-entropy", L.cross_entropy, lambda: [t(4, 8), torch.tensor([1, 2, 3, 0], device=DEVICE)], {0},
     {"logits", "target"}, 2),
    ("gelu", L.gelu_tanh, lambda: [t(4, 8)], {0}, {"x"}, 0),
    ("gated", L.gated, lambda: [t(4, 8), t(8, seed=1)], {0, 1}, {"a", "b"}, 0),
    ("add-rmsnorm", L.add_rmsnorm, lambda: [t(4, 8), t(4, 8, seed=1), t(8, seed=2)], {0}, {"x", "residual", "w"}, 1),
    ("plus-bias", L.plus_bias, lambda: [t(4, 8), t(8, seed=1)], {0, 1}, set(), 0),
    # slices: dx = g * cos + (g * sin) read at the other half: x itself is not read
    ("rope-x-only", L.rope_halves, lambda: [t(4, 8), t(4, 8, seed=1), t(4, 8, seed=2)], {0}, {"cos", "sin"}, 0),
    ("rope-all", L.rope_halves, lambda: [t(4, 8), t(4, 8, seed=1), t(4, 8, seed=2)], {0, 1, 2},
     {"x", "cos", "sin"}, 0),
]


def same(v):
    return v.data_ptr(), tuple(v.shape), tuple(v.stride())


@pytest.mark.parametrize("name,fn,make,grad,reads,n_stats", CASES, ids=[c[0] for c in CASES])
def test_saved_tensors_are_what_the_backward_reads(name, fn, make, grad, reads, n_stats):
    import inspect
    names = list(inspect.signature(fn).parameters)
    args = [a.requires_grad_() if i in grad else a for i, a in enumerate(make())]
    out = rg.torch.Function(fn)(*args)
    y = out[0] if isinstance(out, tuple) else out
    saved = y.grad_fn.saved_tensors
    # the backward's arguments, then the statistics, then the caller's differentiated tensors (references
    # that make a second derivative raise instead of being silently 0)
    k = len(reads)
    assert len(saved) == k + n_stats + len(grad)
    # the caller's tensors themselves (same memory, same shape): no copies, no broadcast materialised
    assert {same(s) for s in saved[:k]} == {same(args[names.index(p)]) for p in reads}
    assert all(s.shape == args[0].shape[:-1] for s in saved[k:k + n_stats])
    assert [same(s) for s in saved[k + n_stats:]] == [same(args[i]) for i in sorted(grad)]
    y.sum().backward()
    for i in grad:
        assert args[i].grad is not None


def ref_gated(a, b):
    return a * torch.sigmoid(b) + 0.1 * a * b


def t64(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(DEVICE)


@pytest.mark.parametrize("a,b", [
    (lambda: t64(4, 1, 6), lambda: t64(5, 1, seed=1)),                    # both broadcast
    (lambda: t64(6, 4).t(), lambda: t64(6, seed=1)),                       # transposed
    (lambda: t64(6).expand(3, 6), lambda: t64(3, 1, seed=1)),              # a stride-0 view given by the caller
    (lambda: t64(2, 3, 2, 3, 2)[:, ::2], lambda: t64(2, 1, 3, 1, seed=1)),  # sliced; 5 axes, some merge
    (lambda: t64(2, 1, 2, 1, 2, 1, 2), lambda: t64(1, 3, 1, 3, 1, 3, 1, seed=1)),   # 7 axes: copied instead
    (lambda: t64(1), lambda: t64(7, seed=1)),
    (lambda: t64(0, 3), lambda: t64(3, seed=1)),
])
def test_elementwise_broadcast_by_strides_matches_torch(a, b):
    x, y = a(), b()
    xs = [x.clone().requires_grad_(), y.clone().requires_grad_()]
    ys = [x.clone().requires_grad_(), y.clone().requires_grad_()]
    got, want = rg.torch.Function(L.gated)(*xs), ref_gated(*ys)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    g = torch.randn(want.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64).to(DEVICE)
    (got * g).sum().backward()
    (want * g).sum().backward()
    for p, q in zip(xs, ys):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-12)


def test_collapse_merges_axes_and_keeps_broadcast_axes_apart():
    from retrograd.torch import _collapse
    # a (4, 6) contiguous operand and a (6,) bias: two axes (the bias steps 0 over rows)
    assert _collapse((4, 6), [(6, 1), (0, 1)]) == ([1, 1, 4, 6], [[0, 0, 6, 1], [0, 0, 0, 1]])
    # all contiguous: one axis
    assert _collapse((2, 3, 4), [(12, 4, 1)]) == ([1, 1, 1, 24], [[0, 0, 0, 1]])
    assert _collapse((2, 2, 2, 2, 2), [(16, 0, 4, 0, 1)]) == (None, None)
