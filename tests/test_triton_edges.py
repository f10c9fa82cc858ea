"""The triton backend at the edges of every op it lowers: powers of negative bases, targets outside the row,
nan and inf inputs, second derivatives, relative accuracy near 0.  Each case runs the generated kernels (in
Triton's interpreter without a GPU) and is checked against torch autograd of the same math in float64.
Shapes are small: the interpreter costs milliseconds per op.
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

F = torch.nn.functional
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the interpreter evaluates both where-arms


@pytest.fixture(autouse=True)
def triton_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def tensor(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype, device=DEVICE)


def run(fn, *args, cotangent_seed=1):
    """(value, grads of the float tensor args) of `fn` for a fixed random cotangent; `fn` is a retrograd layer
    (through rg.torch.Function) or a torch reference."""
    args = [a.detach().clone().requires_grad_(a.is_floating_point()) if torch.is_tensor(a) else a for a in args]
    y = fn(*args)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(cotangent_seed), dtype=torch.float64).to(y)
    diff = [a for a in args if torch.is_tensor(a) and a.requires_grad]
    grads = torch.autograd.grad(y, diff, g, allow_unused=True) if diff else ()
    return y.detach(), [None if q is None else q.detach() for q in grads]


def same(layer_fn, reference, *args, rtol=1e-10, atol=1e-12, grads=True):
    y1, g1 = run(rg.torch.Function(layer_fn), *args)
    y2, g2 = run(reference, *args)
    torch.testing.assert_close(y1, y2, rtol=rtol, atol=atol, equal_nan=True)
    if grads:
        for a, b in zip(g1, g2):
            torch.testing.assert_close(a, torch.zeros_like(a) if b is None else b, rtol=rtol, atol=atol,
                                       equal_nan=True)


# ---- powers --------------------------------------------------------------------------------------------

K = 6


def pow5(x):
    return x ** 5


def pow_minus5(x):
    return x ** -5


def pow7_float(x):
    return x ** 7.0


def pow13(x):
    return x ** 13


def pow_named(x):
    k = 5
    return x ** k


def pow_global(x):
    return x ** K


def pow_folded(x):
    return x ** (2 * 3 - 1)


def pow_const_arg(x, p):
    return x ** p


def pow_tensor(x, y):
    return x ** y


def pow_of_constant(x, base):
    return base ** x + 2.0 ** x


def pow_fraction(x):
    return x ** 2.5


def pow_half(x):
    return x ** 0.5


def pow_zero(x):
    return x ** 0 + x


def np_power(x):
    return np.power(x, 3) + np.square(x) * np.sum(x)


BASES = [-3.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.5]


@pytest.mark.parametrize("fn,ref", [
    (pow5, lambda x: x ** 5), (pow_minus5, lambda x: x ** -5), (pow7_float, lambda x: x ** 7.0),
    (pow13, lambda x: x ** 13), (pow_named, lambda x: x ** 5), (pow_global, lambda x: x ** K),
    (pow_folded, lambda x: x ** 5), (pow_fraction, lambda x: x ** 2.5), (pow_half, lambda x: x ** 0.5),
    (pow_zero, lambda x: x ** 0 + x),
], ids=lambda f: getattr(f, "__name__", ""))
def test_literal_and_constant_exponents_match_torch_for_negative_bases(fn, ref):
    x = tensor(BASES + [float("nan")])
    if fn is pow_zero:   # d/dx x**0 at 0 is 0 * 0**-1 = nan: the power rule's (reverse/rules), on every backend
        same(fn, ref, x, grads=False)
        x = x[(x != 0) & ~x.isnan()]
    same(fn, ref, x)
    same(fn, ref, x.float(), rtol=2e-6, atol=1e-6)


def test_integer_literal_powers_are_multiplications_in_the_source():
    src = rg.differentiate(pow13, backend="triton").source
    forward = src.split("def pow13_bwd_kernel")[0]
    assert "tl.exp" not in forward and "tl.log" not in forward
    # x**13 = x * x**4 * x**8: 5 multiplications (the operand's strided address is not counted)
    assert sum(line.count(" * ") for line in forward.splitlines() if "_rg_i" not in line) <= 6


@pytest.mark.parametrize("p", [3, 4.0, -2, 2.5, 0, 1, 0.5])
def test_python_number_exponent_arguments(p):
    x = tensor(BASES)
    if p == 0:       # d/dx x**0 at 0: see above
        same(pow_const_arg, lambda x, q: x ** q, x, p, grads=False)
        x = x[x != 0]
    same(pow_const_arg, lambda x, q: x ** q, x, p)


@pytest.mark.parametrize("base", [3.0, -2.0, 0.5])
def test_python_number_bases(base):
    same(pow_of_constant, lambda x, b: b ** x + 2.0 ** x, tensor([-2.0, -0.5, 0.0, 1.0, 3.0]), base)


def test_run_time_exponent_follows_numpy_sign_rules():
    x = tensor([-2.0, -2.0, -2.0, -0.5, 0.0, 0.0, 0.0, 1.0, -1.0, 3.0, -3.0, float("-inf"), float("-inf"), 2.0,
                float("nan"), 1.0, -0.0, -0.0, -0.0])
    y = tensor([3.0, 2.0, 2.5, -3.0, 2.0, 0.0, -1.0, float("nan"), float("inf"), 0.5, 0.0, 3.0, 0.5, -2.0,
                0.0, 7.0, -1.0, -2.0, -2.5])
    y1, _ = run(rg.torch.Function(pow_tensor), x, y)
    torch.testing.assert_close(y1, torch.as_tensor(np.power(x.cpu().numpy(), y.cpu().numpy())).to(y1),
                               equal_nan=True, rtol=1e-12, atol=0)
    # gradients where torch's are finite (its d/dy at a negative base is nan, as ours)
    keep = (x != 0) & torch.isfinite(x) & torch.isfinite(y)
    same(pow_tensor, torch.pow, x[keep], y[keep])


def test_np_power_and_square_in_a_row_layer():
    same(np_power, lambda x: x ** 3 + x * x * x.sum(-1, keepdim=True), tensor([[-2.0, 0.5, -1.0], [3.0, -0.1, 0.0]]))


# ---- integer targets -----------------------------------------------------------------------------------

def cross_entropy(logits, target):
    m = np.max(logits)
    lse = m + np.log(np.sum(np.exp(logits - m)))
    return lse - logits[target]


def pick_shifted(x, t):
    return x[t - 1] * 2.0


def _targets(values):
    return torch.tensor(values, dtype=torch.int64, device=DEVICE)


@pytest.mark.parametrize("n_cols", [1, 5, 10])
def test_negative_targets_count_from_the_end_like_numpy(n_cols):
    x = torch.randn(6, n_cols, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(DEVICE)
    t = _targets([(-1) ** i * (i % n_cols) - (i % 2) for i in range(6)])
    t = torch.where(t < -n_cols, t + n_cols, t)
    assert ((t >= -n_cols) & (t < n_cols)).all() and (t < 0).any()
    same(cross_entropy, lambda x, t: F.cross_entropy(x, t % n_cols, reduction="none"), x, t)
    same(pick_shifted, lambda x, t: x.gather(-1, ((t - 1) % n_cols)[:, None])[:, 0] * 2.0, x, t.clamp(min=1 - n_cols))


@pytest.mark.parametrize("bad", [10, 12, -11, -100])
def test_targets_outside_the_row_raise_index_error_naming_the_line(bad):
    x = torch.randn(4, 10, dtype=torch.float64, device=DEVICE)
    t = _targets([1, bad, 3, 9])
    with pytest.raises(rg.RetrogradError) as info:
        rg.torch.Function(cross_entropy)(x, t)
    err = info.value
    assert isinstance(err, IndexError) and isinstance(err, rg.UsageError)
    lines, first = inspect.getsourcelines(cross_entropy)
    assert err.lineno == first + 3 and err.filename == __file__
    assert f"target[1] = {bad}" in str(err) and "-10 to 9" in str(err) and "ignore_index" in err.hint


def test_integer_target_dtypes_and_bool_refused():
    x = torch.randn(4, 5, dtype=torch.float64, device=DEVICE)
    for dtype in (torch.int32, torch.int16, torch.uint8):
        t = torch.tensor([0, 4, 3, 1], dtype=dtype, device=DEVICE)
        same(cross_entropy, lambda x, t: F.cross_entropy(x, t.long(), reduction="none"), x, t)
    with pytest.raises(rg.UsageError, match="bool tensor used as an index"):
        rg.torch.Function(cross_entropy)(x, torch.tensor([True, False, True, True], device=DEVICE))


def test_targets_in_range_after_a_failed_call_run_again():
    layer = rg.torch.Function(cross_entropy)
    x = torch.randn(3, 4, dtype=torch.float64, device=DEVICE)
    with pytest.raises(IndexError):
        layer(x, _targets([0, 4, 1]))
    torch.testing.assert_close(layer(x, _targets([0, 3, 1])), F.cross_entropy(x, _targets([0, 3, 1]), reduction="none"))


# ---- second derivatives ----------------------------------------------------------------------------------

def softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


@pytest.mark.parametrize("fn,args", [(softplus, lambda: [tensor([0.3, -1.2, 2.0])]),
                                     (cross_entropy, lambda: [tensor([[0.3, -1.2, 2.0]]), _targets([2])])])
def test_double_backward_raises_instead_of_dropping_terms(fn, args):
    a = args()
    x = a[0].requires_grad_()
    y = rg.torch.Function(fn)(*a).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)      # first order: right, and a graph for more
    xr = a[0].detach().clone().requires_grad_()
    ref = F.softplus(xr).sum() if fn is softplus else F.cross_entropy(xr, a[1], reduction="sum")
    torch.testing.assert_close(g, torch.autograd.grad(ref, xr)[0])
    with pytest.raises(RuntimeError, match="no second derivative"):
        torch.autograd.grad((g * g).sum(), x)                  # a gradient penalty
    y = rg.torch.Function(fn)(*a).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    with pytest.raises(RuntimeError, match="no second derivative"):
        (y + (g * g).sum()).backward()                        # not a penalty silently held constant


# ---- nan and inf -----------------------------------------------------------------------------------------

def row_max(x):
    return np.max(x, axis=-1)


def row_min(x):
    return x.min(axis=-1)


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def maximum(x, y):
    return np.maximum(x, y) + 2.0 * np.minimum(x, y)


def fmax(x, y):
    return np.fmax(x, y) + 2.0 * np.fmin(x, y)


def clip(x):
    return np.clip(x, -1.0, 1.0)


def sign(x):
    return np.sign(x) * x


NAN, INF = float("nan"), float("inf")


def test_max_and_min_rows_propagate_nan():
    x = tensor([[1.0, NAN, 3.0], [NAN, NAN, NAN], [-INF, -INF, 2.0], [INF, 0.0, -1.0], [5.0, 5.0, -1.0]])
    same(row_max, lambda x: x.amax(-1), x, grads=False)
    same(row_min, lambda x: x.amin(-1), x, grads=False)
    same(softmax, lambda x: torch.softmax(x, -1), x, grads=False)
    finite = x[3:]   # ties share the cotangent, as torch's amax
    same(row_max, lambda x: x.amax(-1), finite[1:])
    same(row_min, lambda x: x.amin(-1), finite)


def test_elementwise_maximum_minimum_clip_sign_with_nan_and_inf():
    x = tensor([NAN, 1.0, NAN, -INF, INF, 0.0, -2.0, 3.0])
    y = tensor([1.0, NAN, NAN, 0.0, 5.0, -0.0, -2.0, 1.0])
    same(maximum, lambda x, y: torch.maximum(x, y) + 2.0 * torch.minimum(x, y), x, y, grads=False)
    same(fmax, lambda x, y: torch.fmax(x, y) + 2.0 * torch.fmin(x, y), x, y, grads=False)
    same(clip, lambda x: torch.clamp(x, -1.0, 1.0), x, grads=False)
    same(sign, lambda x: torch.sign(x) * x, x, grads=False)
    keep = torch.isfinite(x) & torch.isfinite(y) & (x != y)
    same(maximum, lambda x, y: torch.maximum(x, y) + 2.0 * torch.minimum(x, y), x[keep], y[keep])
    same(clip, lambda x: torch.clamp(x, -1.0, 1.0), x[keep])


def transcendental(x):
    return np.sinh(x) + np.cosh(x) * 2.0 + np.tanh(x) * 3.0 + np.expm1(x) * 4.0 + np.log1p(x) * 5.0


def test_accurate_forms_keep_nan_and_inf():
    x = tensor([NAN, INF, -INF, 0.0, -1.0, 30.0, -30.0, 1e-300])
    def ref(x):
        return torch.sinh(x) + torch.cosh(x) * 2.0 + torch.tanh(x) * 3.0 + torch.expm1(x) * 4.0 + torch.log1p(x) * 5.0
    for one in x:   # one at a time: inf - inf would hide the terms
        same(transcendental, ref, one[None], grads=False)
        same(transcendental, ref, one[None].float(), rtol=1e-6, grads=False)


def logaddexp(x, y):
    return np.logaddexp(x, y)


def hypot(x, y):
    return np.hypot(x, y)


def test_logaddexp_and_hypot_at_infinities_and_extremes():
    x = tensor([INF, -INF, INF, -INF, 0.0, NAN, 1e300, 3.0, 0.0])
    y = tensor([INF, -INF, -INF, 2.0, 0.0, 1.0, 1e300, -4.0, 1e-310])
    same(logaddexp, torch.logaddexp, x, y, grads=False)
    same(hypot, torch.hypot, x, y, grads=False)
    same(hypot, torch.hypot, x.float()[6:8], y.float()[6:8], rtol=1e-6, grads=False)   # 1e300 is inf in float32
    x32, y32 = tensor([3e30, -2e-30, 1e-3], torch.float32), tensor([4e30, 1e-30, 0.0], torch.float32)
    same(hypot, torch.hypot, x32, y32, rtol=1e-6, atol=0, grads=False)   # the squares would overflow/underflow


# ---- relative accuracy near 0 (float32) ------------------------------------------------------------------

def f_expm1(x):
    return np.expm1(x)


def f_log1p(x):
    return np.log1p(x)


def f_tanh(x):
    return np.tanh(x)


def f_sinh(x):
    return np.sinh(x)


def f_cosh(x):
    return np.cosh(x)


def f_logaddexp0(x):
    return np.logaddexp(x, 0.0)


ACCURACY = [(f_expm1, torch.expm1), (f_log1p, torch.log1p), (f_tanh, torch.tanh), (f_sinh, torch.sinh),
            (f_cosh, torch.cosh), (f_logaddexp0, lambda x: torch.logaddexp(x, torch.zeros_like(x)))]
ULP = 2.0 ** -23          # float32 epsilon


@pytest.mark.parametrize("fn,ref", ACCURACY, ids=[f.__name__ for f, _ in ACCURACY])
def test_float32_relative_error_is_a_few_ulps_from_1e_minus_8_to_100(fn, ref):
    """Every result rounds twice or three times (the exp/log it is built from, a division, a product), each
    within half an ulp for the interpreter's NumPy float32, so 4 ulps bounds it; the textbook forms
    (exp(x) - 1, log(1 + x), 2 sigmoid(2x) - 1) lose everything at 1e-8.  Measured 1.9 to 2.4 ulps.
    Gradients: see below."""
    g = np.logspace(-8, 2, 401)
    x64 = torch.tensor(np.concatenate([-g[::-1], [0.0], g]), device=DEVICE)
    if fn is f_log1p:
        x64 = x64[x64 > -1]
    x32 = x64.float()
    exact = x32.double()                            # the float32 inputs, exactly
    y, (grad,) = run(rg.torch.Function(fn), x32)
    r, (rgrad,) = run(ref, exact)
    _, (tgrad,) = run(ref, x32)
    keep = (r.abs() < 3e38) & (r.abs() > 1.2e-38)   # results representable (normal) in float32
    err = ((y.double() - r).abs() / r.abs())[keep]
    assert keep.sum() > 600 and err.max() <= 4 * ULP, (err.max().item(), x32[keep][err.argmax()].item())
    # gradients: the rules' forms (1 - y*y, y + 1, cosh) cancel where f saturates, in torch's float32 autograd
    # too: allow 8 ulps of the gradient and of the cotangent times (1 + |f|), the size of what cancels
    keep &= rgrad.abs() < 3e38
    ct = torch.randn(x32.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(r)
    gerr = (grad.double() - rgrad).abs()
    bound = 8 * ULP * (rgrad.abs() + ct.abs() * (1 + r.abs()))
    assert (gerr[keep] <= bound[keep]).all()
    keep &= torch.isfinite(tgrad)                   # torch's float32 sinh / cosh overflow from 88.7
    assert ((tgrad.double() - rgrad).abs()[keep] <= bound[keep]).all()    # the bound holds for torch


def test_tanh_near_zero_keeps_relative_accuracy_in_float64():
    x = torch.tensor([1e-300, 1e-12, 1e-6, -3e-4, 0.02], dtype=torch.float64, device=DEVICE)
    for fn, ref in ACCURACY[:5]:
        y, _ = run(rg.torch.Function(fn), x)
        torch.testing.assert_close(y, ref(x), rtol=8 * 2.0 ** -52, atol=0)


# ---- row edges -----------------------------------------------------------------------------------------

def standardize(x):
    mu = np.mean(x)
    return (x - mu) / np.sqrt(np.var(x) + 1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (2, 7), (1, 33), (4, 17)])
def test_row_layers_on_size_one_and_odd_rows(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64).to(DEVICE)
    same(standardize, lambda x: (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True)
                                                                            + 1e-5), x)
    same(softmax, lambda x: torch.softmax(x, -1), x)
    same(row_max, lambda x: x.amax(-1), x)
    t = _targets([(-1) ** i * i % shape[1] for i in range(shape[0])])
    same(cross_entropy, lambda x, t: F.cross_entropy(x, t, reduction="none"), x, t)


# ---- the kernels of these edges compile for Hopper (sm_90), no GPU needed --------------------------------

def test_edge_kernels_compile_for_cuda_sm90():
    from retrograd.backends import triton as tb
    x, y, rows, t = tensor([0.5, -2.0]), tensor([1.0, 3.0]), tensor([[0.5, -2.0, 1.0]]), _targets([-1])
    calls = [(pow13, [x]), (pow_tensor, [x, y]), (pow_const_arg, [x, 2.5]), (pow_of_constant, [x, -2.0]),
             (f_tanh, [x]), (f_expm1, [x]), (f_log1p, [x]), (f_sinh, [x]), (f_cosh, [x]), (hypot, [x, y]),
             (logaddexp, [x, y]), (maximum, [x, y]), (fmax, [x, y]), (clip, [x]), (sign, [x]),
             (row_max, [rows]), (row_min, [rows]), (pick_shifted, [rows, t + 2]), (cross_entropy, [rows, t])]
    plans = []
    for fn, args in calls:
        layer = rg.torch.Function(fn)
        layer(*[a.requires_grad_() if torch.is_tensor(a) and a.is_floating_point() else a for a in args])
        plans.append(layer.diff._triton_last)
    result = tb.compile_plans(plans, dtypes=("float32",), block=128)
    for plan in plans:
        kernels = result[plan.name]["float32"]
        assert {plan.fwd_name, plan.bwd_name} <= set(kernels)
        assert all(k["ptx"] > 0 and k["cubin"] > 0 for k in kernels.values())
