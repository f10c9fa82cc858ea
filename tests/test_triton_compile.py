"""torch.compile and torch.export of models holding rg.torch layers: under compilation a layer is the
custom op `retrograd::layer` (torch.library) with a fake implementation and a registered backward
(`retrograd::layer_backward`), so Dynamo treats the kernels as opaque.  On CPU the op runs the kernels in
Triton's interpreter; the tests compile with backend="aot_eager" (Dynamo + AOTAutograd on fake tensors,
no C++ compiler; inductor on CPU works too but takes minutes)."""
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
    torch._dynamo.reset()


def grads_of(model, *inputs):
    model.zero_grad()
    out = model(*inputs)
    loss = sum(o.float().sum() for o in out) if isinstance(out, tuple) else out.sum()
    loss.backward()
    return [o.detach().clone() for o in (out if isinstance(out, tuple) else (out,))], \
        [p.grad.clone() for p in model.parameters()]


class Net(torch.nn.Module):
    def __init__(self, layer):
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(8, 16, dtype=torch.float64)
        self.layer = layer

    def forward(self, x, *rest):
        return self.layer(self.lin(x), *rest)


CASES = [
    ("layernorm", lambda: rg.torch.Module(L.layernorm, w=torch.randn(16, dtype=torch.float64),
                                          b=torch.randn(16, dtype=torch.float64)), lambda: []),
    ("layernorm-eps", lambda: rg.torch.Module(L.layernorm, w=torch.ones(16, dtype=torch.float64),
                                              b=torch.zeros(16, dtype=torch.float64), eps=0.5), lambda: []),
    ("silu-constant", lambda: rg.torch.Function(L.silu), lambda: [1.5]),
    ("softmax-chunked", lambda: rg.torch.Function(L.softmax, block=4), lambda: []),
    ("add-rmsnorm-tuple", lambda: rg.torch.Module(L.add_rmsnorm, w=torch.randn(16, dtype=torch.float64)),
     lambda: [torch.randn(5, 16, dtype=torch.float64)]),
    ("rope-slices", lambda: rg.torch.Function(L.rope_halves),
     lambda: [torch.randn(5, 16, dtype=torch.float64), torch.randn(5, 16, dtype=torch.float64)]),
]


@pytest.mark.parametrize("name,make,extra", CASES, ids=[c[0] for c in CASES])
def test_compiled_model_matches_eager(name, make, extra):
    model = Net(make()).to(DEVICE)
    x = torch.randn(5, 8, dtype=torch.float64, device=DEVICE)
    rest = extra()
    want_out, want_grads = grads_of(model, x, *rest)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    got_out, got_grads = grads_of(compiled, x, *rest)
    for a, b in zip(got_out + got_grads, want_out + want_grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_export_records_the_custom_op():
    class CE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 10)
            self.ce = rg.torch.Function(L.cross_entropy)

        def forward(self, x, target):
            return self.ce(self.lin(x), target).mean()
    m = CE()
    x, y = torch.randn(4, 8), torch.tensor([1, 2, 3, -1])
    ep = torch.export.export(m, (x, y))
    assert "torch.ops.retrograd.layer.default" in ep.graph_module.code
    torch.testing.assert_close(ep.module()(x, y), m(x, y))


def test_compiled_out_of_range_target_raises_index_error():
    f = torch.compile(lambda x, t: rg.torch.Function(L.cross_entropy)(x, t), backend="aot_eager")
    with pytest.raises(rg.IndexRangeError):
        f(torch.randn(3, 6), torch.tensor([0, 6, 1]))


def test_opcheck_of_the_custom_ops():
    layer = rg.torch.Function(L.layernorm)
    key = layer._key + "|eps:f"
    args = [torch.randn(3, 8, dtype=torch.float64, requires_grad=True),
            torch.randn(8, dtype=torch.float64, requires_grad=True),
            torch.randn(8, dtype=torch.float64, requires_grad=True)]
    torch.library.opcheck(torch.ops.retrograd.layer.default, (key, args, [1e-5], []),
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))


def test_double_backward_through_the_op_raises():
    f = rg.torch.Function(L.softmax)
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    for call in (lambda v: torch.ops.retrograd.layer(f._key + "|", [v], [], [])[0],
                 torch.compile(lambda v: f(v), backend="aot_eager", fullgraph=True)):
        y = call(x)
        g, = torch.autograd.grad((y * torch.randn_like(y)).sum(), x, create_graph=True)
        with pytest.raises(RuntimeError, match="double backward|no autograd formula"):
            torch.autograd.grad(g.sum(), x)


def test_dynamic_shapes_and_number_arguments():
    """dynamic=True (symbolic row counts) and a Python float argument passed through the op's float[]."""
    f = rg.torch.Function(L.layernorm)
    w, b = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    compiled = torch.compile(lambda x, eps: f(x, w, b, eps), backend="aot_eager", fullgraph=True, dynamic=True)
    for n, eps in ((3, 1e-5), (5, 0.25), (7, 2.0)):
        x = torch.randn(n, 16, dtype=torch.float64, requires_grad=True)
        x2 = x.detach().clone().requires_grad_()
        y, y2 = compiled(x, eps), torch.nn.functional.layer_norm(x2, (16,), w, b, eps)
        torch.testing.assert_close(y, y2, rtol=1e-12, atol=1e-12)
        g = torch.randn_like(y)
        (y * g).sum().backward()
        (y2 * g).sum().backward()
        torch.testing.assert_close(x.grad, x2.grad, rtol=1e-12, atol=1e-12)
