"""The public API: decorator and plain-call forms, wrt by name and position, grad /
value_and_grad / vjp / rg.grad, gradient types and structures, the caller's data, UsageError,
.source and register_adjoint."""
import math

import numpy as np
import pytest

import retrograd as rg
from fd import assert_same_structure, check_grad, numerical_gradient


def data(seed=0, n=5, d=3, h=2):
    r = np.random.default_rng(seed)
    W = r.normal(scale=0.5, size=(d, h))
    b = r.normal(size=h)
    x = r.normal(size=(n, d))
    y = r.normal(size=(n, h))
    return W, b, x, y


# ----------------------------------------------------------------------------------------------
# functions under test (module level: retrograd reads their source)
# ----------------------------------------------------------------------------------------------

def mse(W, x, y):
    pred = np.tanh(x @ W)
    return np.mean((pred - y) ** 2)


def layer(x, W, b):
    return np.sum(np.tanh(x @ W + b) ** 2)


def scaled(s, x):
    return s * np.sum(x ** 2) + s ** 3


def vector_valued(W, x):
    return np.tanh(x @ W)


def writes_argument(x, w):
    x[0] = x[0] * w
    x[1:] = np.sin(x[1:])
    return np.sum(x ** 2)


def writes_argument_vector_out(x):
    x[0] = x[1] * x[2]
    return x * 2.0


def tuple_arg(p, x):
    W, b = p
    return np.sum(np.tanh(x @ W + b))


def list_arg(p, x):
    return np.sum(np.tanh(x @ p[0] + p[1]))


def dict_arg(p, x):
    return np.sum(np.tanh(x @ p["W"] + p["b"])) * p["s"]


def float32_loss(x):
    return np.sum(x * x * 3.0)


def with_int_arg(x, n):
    return x ** n


def loop_source(W, x):
    h = x
    for i in range(3):
        h = np.tanh(h @ W)
    if np.sum(h) > 0:
        h = h * 2.0
    return np.sum(h)


def softclip(x, limit):
    return limit * np.tanh(x / limit)


def softclip_adjoint(dresult, result, x, limit):
    return dresult * (1.0 - (result / limit) ** 2), None


def uses_softclip(x, limit):
    return np.sum(softclip(x, limit) ** 2)


def ste_round(x):
    return np.round(x)


def ste_round_adjoint(dresult, result, x):
    # straight-through estimator: deliberately *not* the true derivative (which is 0)
    return (dresult,)


def uses_ste_round(x, w):
    return np.sum(ste_round(x) * w)


def erf_adjoint(dresult, result, x):
    return (dresult * 2.0 / math.sqrt(math.pi) * math.exp(-x * x),)


def uses_erf(x):
    return math.erf(x) * x


@pytest.fixture(scope="module")
def custom_rules():
    """Registered for this module's tests only: a custom adjoint of math.erf (which has a library rule)
    must not leak into other tests run by the same worker."""
    from retrograd.frontend.resolve import CUSTOM
    before = dict(CUSTOM)
    rg.register_adjoint(softclip)(softclip_adjoint)
    rg.register_adjoint(ste_round)(ste_round_adjoint)
    rg.register_adjoint(math.erf)(erf_adjoint)
    yield
    CUSTOM.clear()
    CUSTOM.update(before)


# ----------------------------------------------------------------------------------------------
# decorator forms
# ----------------------------------------------------------------------------------------------

def test_decorator_without_arguments_defaults_to_first_argument():
    import api_decorated as m

    W, b, x, y = data(1)
    value = m.loss(W, x, y)
    assert np.isclose(value, mse(W, x, y), rtol=1e-14, atol=0)
    g = m.loss.grad(W, x, y)
    assert isinstance(g, np.ndarray) and g.shape == W.shape and g.dtype == W.dtype
    np.testing.assert_allclose(g, numerical_gradient(m.loss, [W, x, y], 0), rtol=1e-6, atol=1e-8)


def test_decorator_with_wrt_names():
    import api_decorated as m

    W, b, x, _ = data(2)
    assert np.isclose(m.layer(x, W, b), layer(x, W, b), rtol=1e-14, atol=0)
    g = m.layer.grad(x, W, b)
    assert isinstance(g, tuple) and len(g) == 2
    dW, db = g
    np.testing.assert_allclose(dW, numerical_gradient(layer, [x, W, b], 1), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(layer, [x, W, b], 2), rtol=1e-6, atol=1e-8)


def test_decorator_with_wrt_positions_keeps_wrt_order():
    import api_decorated as m

    W, b, x, _ = data(3)
    db, dW = m.layer_by_position.grad(x, W, b)
    assert db.shape == b.shape and dW.shape == W.shape
    np.testing.assert_allclose(dW, numerical_gradient(layer, [x, W, b], 1), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(layer, [x, W, b], 2), rtol=1e-6, atol=1e-8)


def test_decorated_function_calling_module_helper():
    import api_decorated as m

    x = np.linspace(-1.0, 1.0, 4)
    g = m.uses_helper.grad(x, 0.5)
    np.testing.assert_allclose(g, 0.5 * (np.cos(x) * x + np.sin(x)), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------------------------
# plain-call form, wrt by name and by position
# ----------------------------------------------------------------------------------------------

def test_plain_call_form_forward_is_unchanged():
    W, b, x, y = data(4)
    d = rg.differentiate(layer, wrt=(1, 2))
    assert callable(d)
    assert np.isclose(d(x, W, b), layer(x, W, b), rtol=1e-14, atol=0)


@pytest.mark.parametrize("wrt", [("W", "b"), (1, 2), (1, "b"), ("W", 2)])
def test_wrt_names_and_positions_agree(wrt):
    W, b, x, _ = data(5)
    dW, db = rg.differentiate(layer, wrt=wrt).grad(x, W, b)
    np.testing.assert_allclose(dW, numerical_gradient(layer, [x, W, b], 1), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(layer, [x, W, b], 2), rtol=1e-6, atol=1e-8)


def test_wrt_order_is_respected():
    W, b, x, _ = data(6)
    dW, db = rg.differentiate(layer, wrt=("W", "b")).grad(x, W, b)
    db2, dW2 = rg.differentiate(layer, wrt=("b", "W")).grad(x, W, b)
    assert db2.shape == b.shape and dW2.shape == W.shape
    np.testing.assert_allclose(dW2, dW, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(db2, db, rtol=1e-13, atol=1e-15)


def test_single_wrt_returns_a_single_value():
    W, b, x, _ = data(7)
    for wrt in ("b", 2):
        g = rg.differentiate(layer, wrt=wrt).grad(x, W, b)
        assert isinstance(g, np.ndarray) and g.shape == b.shape


def test_three_wrt_with_a_non_first_argument():
    W, b, x, _ = data(8)
    check_grad(layer, (x, W, b), ("x", "W", "b"))


@pytest.mark.parametrize("bad", ["nope", 7, ("W", "missing")])
def test_bad_wrt_is_a_usage_error(bad):
    W, b, x, _ = data(9)
    with pytest.raises(rg.UsageError):
        rg.differentiate(layer, wrt=bad).grad(x, W, b)


# ----------------------------------------------------------------------------------------------
# grad / value_and_grad / vjp / rg.grad
# ----------------------------------------------------------------------------------------------

def test_value_and_grad():
    W, b, x, _ = data(10)
    d = rg.differentiate(layer, wrt=("W", "b"))
    value, (dW, db) = d.value_and_grad(x, W, b)
    assert np.isclose(value, layer(x, W, b), rtol=1e-14, atol=0)
    gW, gb = d.grad(x, W, b)
    np.testing.assert_allclose(dW, gW, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(db, gb, rtol=1e-13, atol=1e-15)


def test_value_and_grad_single_wrt():
    W, _, x, y = data(11)
    value, g = rg.differentiate(mse).value_and_grad(W, x, y)
    assert np.isclose(value, mse(W, x, y), rtol=1e-14, atol=0)
    assert isinstance(g, np.ndarray) and g.shape == W.shape
    np.testing.assert_allclose(g, numerical_gradient(mse, [W, x, y], 0), rtol=1e-6, atol=1e-8)


def test_vjp_on_vector_output():
    W, _, x, _ = data(12)
    d = rg.differentiate(vector_valued, wrt=("W", "x"))
    out, pullback = d.vjp(W, x)
    np.testing.assert_allclose(out, vector_valued(W, x), rtol=1e-14, atol=0)
    cot = np.random.default_rng(0).normal(size=out.shape)
    grads = pullback(cot)
    assert isinstance(grads, tuple) and len(grads) == 2
    dW, dx = grads
    proj = lambda W_, x_: np.sum(cot * vector_valued(W_, x_))  # noqa: E731 (test-side only)
    np.testing.assert_allclose(dW, numerical_gradient(proj, [W, x], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dx, numerical_gradient(proj, [W, x], 1), rtol=1e-6, atol=1e-8)


def test_pullback_returns_tuple_for_single_wrt_and_is_linear_and_reusable():
    W, _, x, _ = data(13)
    out, pullback = rg.differentiate(vector_valued).vjp(W, x)
    r = np.random.default_rng(1)
    c1, c2 = r.normal(size=out.shape), r.normal(size=out.shape)
    g1 = pullback(c1)
    assert isinstance(g1, tuple) and len(g1) == 1
    assert g1[0].shape == W.shape
    g2 = pullback(c2)
    g12 = pullback(2.5 * c1 + c2)
    np.testing.assert_allclose(g12[0], 2.5 * g1[0] + g2[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pullback(c1)[0], g1[0], rtol=0, atol=0)
    assert not np.allclose(g1[0], g2[0])


def test_vjp_of_scalar_function_matches_grad():
    W, _, x, y = data(14)
    d = rg.differentiate(mse)
    out, pullback = d.vjp(W, x, y)
    assert np.isclose(out, mse(W, x, y), rtol=1e-14, atol=0)
    (g,) = pullback(1.0)
    np.testing.assert_allclose(g, d.grad(W, x, y), rtol=1e-12, atol=1e-15)
    (g3,) = pullback(3.0)
    np.testing.assert_allclose(g3, 3.0 * g, rtol=1e-12, atol=1e-15)


def test_functional_grad():
    W, b, x, y = data(15)
    gfun = rg.grad(mse, wrt=0)
    assert callable(gfun)
    g = gfun(W, x, y)
    assert isinstance(g, np.ndarray) and g.shape == W.shape
    np.testing.assert_allclose(g, numerical_gradient(mse, [W, x, y], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(rg.grad(mse)(W, x, y), g, rtol=1e-13, atol=1e-15)


def test_functional_grad_multiple_wrt():
    W, b, x, _ = data(16)
    dW, db = rg.grad(layer, wrt=("W", "b"))(x, W, b)
    gW, gb = rg.differentiate(layer, wrt=(1, 2)).grad(x, W, b)
    np.testing.assert_allclose(dW, gW, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(db, gb, rtol=1e-13, atol=1e-15)


def test_differentiated_object_is_reusable():
    # the same differentiated object can be called repeatedly with different inputs
    d = rg.differentiate(scaled, wrt=(0, 1))
    for seed in range(3):
        r = np.random.default_rng(seed)
        s, x = float(r.uniform(0.5, 1.5)), r.normal(size=3)
        ds, dx = d.grad(s, x)
        assert np.isclose(ds, np.sum(x ** 2) + 3 * s ** 2, rtol=1e-12)
        np.testing.assert_allclose(dx, 2 * s * x, rtol=1e-12, atol=1e-15)


def test_differentiated_object_with_new_shapes():
    d = rg.differentiate(scaled, wrt=(0, 1))
    for n in (3, 5, 1):
        x = np.linspace(-1.0, 1.0, n)
        ds, dx = d.grad(0.5, x)
        assert dx.shape == (n,)
        np.testing.assert_allclose(dx, 2 * 0.5 * x, rtol=1e-12, atol=1e-15)
    X = np.arange(6.0).reshape(2, 3)
    ds, dX = d.grad(0.5, X)
    assert dX.shape == (2, 3)
    np.testing.assert_allclose(dX, X, rtol=1e-12, atol=1e-15)


def with_defaults(x, scale=2.0, shift=0.5):
    return np.sum(np.tanh(x * scale) + shift * x)


def test_default_arguments_are_used():
    x = np.array([0.2, -0.4])
    g = rg.differentiate(with_defaults).grad(x)
    np.testing.assert_allclose(g, 2.0 * (1 - np.tanh(2.0 * x) ** 2) + 0.5, rtol=1e-12)
    value, g2 = rg.differentiate(with_defaults).value_and_grad(x, 3.0)
    assert np.isclose(value, with_defaults(x, 3.0), rtol=1e-14)
    np.testing.assert_allclose(g2, 3.0 * (1 - np.tanh(3.0 * x) ** 2) + 0.5, rtol=1e-12)


def test_keyword_arguments_at_call_time():
    W, b, x, y = data(21)
    d = rg.differentiate(mse)
    np.testing.assert_allclose(d.grad(W, x=x, y=y), d.grad(W, x, y), rtol=1e-14, atol=0)
    assert np.isclose(d(W, y=y, x=x), mse(W, x, y), rtol=1e-14)


# ----------------------------------------------------------------------------------------------
# gradient types, dtypes and structures
# ----------------------------------------------------------------------------------------------

def test_python_float_gets_float_gradient():
    x = np.array([0.5, -1.0, 2.0])
    ds, dx = rg.differentiate(scaled, wrt=(0, 1)).grad(0.7, x)
    assert isinstance(ds, float) and not isinstance(ds, np.ndarray)
    assert isinstance(dx, np.ndarray) and dx.shape == x.shape and dx.dtype == np.float64
    assert np.isclose(ds, np.sum(x ** 2) + 3 * 0.7 ** 2, rtol=1e-12)


def test_int_argument_is_a_constant():
    g = rg.differentiate(with_int_arg).grad(1.5, 3)
    assert isinstance(g, float)
    assert np.isclose(g, 3 * 1.5 ** 2, rtol=1e-12)


def test_float32_gradient_keeps_dtype():
    x = np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32)
    g = rg.differentiate(float32_loss).grad(x)
    assert isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == np.float32
    np.testing.assert_allclose(g, 6.0 * x, rtol=1e-5)


def test_tuple_list_dict_gradients_have_the_same_structure():
    W, b, x, _ = data(17)
    gt = rg.differentiate(tuple_arg).grad((W, b), x)
    assert_same_structure(gt, (W, b))
    gl = rg.differentiate(list_arg).grad([W, b], x)
    assert_same_structure(gl, [W, b])
    gd = rg.differentiate(dict_arg).grad({"W": W, "b": b, "s": 0.5}, x)
    assert_same_structure(gd, {"W": W, "b": b, "s": 0.5})
    np.testing.assert_allclose(gl[0], gt[0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gd["W"], 0.5 * gt[0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gd["b"], 0.5 * gt[1], rtol=1e-13, atol=1e-15)
    assert np.isclose(gd["s"], tuple_arg((W, b), x), rtol=1e-12)


def test_container_gradient_through_vjp():
    W, b, x, _ = data(18)
    out, pullback = rg.differentiate(dict_arg, wrt=("p", "x")).vjp({"W": W, "b": b, "s": 1.5}, x)
    gp, gx = pullback(1.0)
    assert_same_structure(gp, {"W": W, "b": b, "s": 1.5})
    assert gx.shape == x.shape


def unused_argument(x, y, s):
    return np.sum(x ** 2)


def only_through_constants(x, y):
    k = np.argmax(y)
    n = len(y)
    return x[k] * n + np.sum(x * (y > 0))


def two_arrays(a, b):
    return np.sum(a * b) + np.sum(a)


def test_gradient_of_unused_argument_is_zero_of_the_right_type():
    x, y = np.array([1.0, 2.0]), np.array([[0.5, -1.0], [2.0, 3.0]])
    dx, dy, ds = rg.differentiate(unused_argument, wrt=(0, 1, 2)).grad(x, y, 0.5)
    np.testing.assert_allclose(dx, 2 * x)
    assert isinstance(dy, np.ndarray) and dy.shape == y.shape and dy.dtype == y.dtype
    np.testing.assert_array_equal(dy, np.zeros_like(y))
    assert isinstance(ds, float) and ds == 0.0


def test_argument_used_only_through_constants_has_zero_gradient():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    dx, dy = rg.differentiate(only_through_constants, wrt=(0, 1)).grad(x, y)
    np.testing.assert_allclose(dx, [1.0, 0.0, 4.0])
    assert isinstance(dy, np.ndarray) and dy.shape == y.shape
    np.testing.assert_array_equal(dy, np.zeros_like(y))


def test_same_array_passed_twice():
    x = np.array([1.0, -2.0, 0.5])
    da, db = rg.differentiate(two_arrays, wrt=(0, 1)).grad(x, x)
    np.testing.assert_allclose(da, x + 1.0)
    np.testing.assert_allclose(db, x)


# ----------------------------------------------------------------------------------------------
# the caller's data is never modified
# ----------------------------------------------------------------------------------------------

def test_caller_arrays_unchanged_when_function_writes_into_arguments():
    x = np.array([0.3, -0.7, 1.1, 0.4])
    keep = x.copy()
    d = rg.differentiate(writes_argument, wrt=(0, 1))
    dx, dw = d.grad(x, 1.7)
    np.testing.assert_array_equal(x, keep)
    value, _ = d.value_and_grad(x, 1.7)
    np.testing.assert_array_equal(x, keep)
    out, pullback = d.vjp(x, 1.7)
    pullback(1.0)
    np.testing.assert_array_equal(x, keep)
    rg.grad(writes_argument)(x, 1.7)
    np.testing.assert_array_equal(x, keep)
    # and the gradient is the gradient at the caller's (unmodified) values
    assert np.isclose(value, writes_argument(keep.copy(), 1.7), rtol=1e-14)
    np.testing.assert_allclose(dx, numerical_gradient(writes_argument, [keep, 1.7], 0), rtol=1e-6, atol=1e-8)
    assert np.isclose(dw, numerical_gradient(writes_argument, [keep, 1.7], 1), rtol=1e-6, atol=1e-8)


def test_caller_arrays_unchanged_by_vjp_of_vector_output():
    x = np.array([0.3, -0.7, 1.1])
    keep = x.copy()
    out, pullback = rg.differentiate(writes_argument_vector_out).vjp(x)
    np.testing.assert_array_equal(x, keep)
    (g,) = pullback(np.array([1.0, 2.0, -1.0]))
    np.testing.assert_array_equal(x, keep)
    # d/dx of 1*2*x1*x2 + 2*2*x1 - 1*2*x2
    np.testing.assert_allclose(g, [0.0, 2 * keep[2] + 4.0, 2 * keep[1] - 2.0], rtol=1e-12, atol=1e-14)


def test_caller_containers_unchanged():
    W, b, x, _ = data(19)
    p = {"W": W, "b": b, "s": 0.5}
    keepW, keepb = W.copy(), b.copy()
    rg.differentiate(dict_arg).grad(p, x)
    assert set(p) == {"W", "b", "s"} and p["s"] == 0.5
    assert p["W"] is W and p["b"] is b
    np.testing.assert_array_equal(W, keepW)
    np.testing.assert_array_equal(b, keepb)


# ----------------------------------------------------------------------------------------------
# UsageError for non-scalar outputs
# ----------------------------------------------------------------------------------------------

def test_grad_of_non_scalar_output_is_a_usage_error():
    W, _, x, _ = data(20)
    d = rg.differentiate(vector_valued)
    with pytest.raises(rg.UsageError):
        d.grad(W, x)
    with pytest.raises(rg.UsageError):
        d.value_and_grad(W, x)
    with pytest.raises(rg.UsageError):
        rg.grad(vector_valued)(W, x)
    with pytest.raises(rg.RetrogradError):
        d.grad(W, x)
    out, pullback = d.vjp(W, x)  # vjp accepts any output shape
    assert pullback(np.ones_like(out))[0].shape == W.shape


def test_error_hierarchy():
    for cls in (rg.UnsupportedSyntaxError, rg.MissingRuleError, rg.UsageError, rg.BackendError):
        assert issubclass(cls, rg.RetrogradError)
        assert not issubclass(rg.RetrogradError, cls)
    assert issubclass(rg.RetrogradError, Exception)


# ----------------------------------------------------------------------------------------------
# .source
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("f,wrt,adjoints", [
    (mse, None, ["dW"]),
    (layer, ("W", "b"), ["dW", "db"]),
    (loop_source, ("W", "x"), ["dW", "dx"]),
])
def test_source_is_valid_python_with_grad_comments(f, wrt, adjoints):
    d = rg.differentiate(f) if wrt is None else rg.differentiate(f, wrt=wrt)
    src = d.source
    assert isinstance(src, str) and src.strip()
    compile(src, "generated", "exec")
    assert "# grad of:" in src
    for name in adjoints:
        assert name in src, f"adjoint name {name!r} not in generated source:\n{src}"


def test_source_grad_comments_quote_user_statements():
    src = rg.differentiate(mse).source
    comments = [line.split("# grad of:", 1)[1] for line in src.splitlines() if "# grad of:" in line]
    assert comments and all(c.strip() for c in comments), src
    assert any("tanh" in c or "pred" in c for c in comments), src


# ----------------------------------------------------------------------------------------------
# register_adjoint
# ----------------------------------------------------------------------------------------------

def test_register_adjoint_rule_matches_finite_differences(custom_rules):
    x = np.array([0.3, -1.2, 2.5])
    check_grad(uses_softclip, (x, 1.5), 0)


def test_register_adjoint_rule_is_used(custom_rules):
    x = np.array([0.3, -1.2, 2.6])
    w = np.array([1.0, -2.0, 0.5])
    g = rg.differentiate(uses_ste_round).grad(x, w)
    # the true derivative of round is 0; the registered straight-through rule passes dresult on
    np.testing.assert_allclose(g, w, rtol=0, atol=1e-15)


def test_register_adjoint_name_in_source(custom_rules):
    src = rg.differentiate(uses_softclip).source
    compile(src, "generated", "exec")
    assert "softclip_adjoint" in src, src


def test_register_adjoint_for_builtin_without_source(custom_rules):
    check_grad(uses_erf, (0.4,), 0)


def test_cli_show_specialises_on_example_arguments(capsys):
    from retrograd import cli
    path = str(__import__("pathlib").Path(__file__).parent / "golden_cases.py")
    assert cli.main(["show", f"{path}:lorenz_step_sum", "--wrt", "x", "sigma"]) == 0
    generic = capsys.readouterr().out
    assert cli.main(["show", f"{path}:lorenz_step_sum", "--wrt", "x", "sigma",
                     "--args", "1.0, 1.0, 1.0, 10.0, 0.01, 5"]) == 0
    scalar = capsys.readouterr().out
    compile(generic, "generic", "exec")
    compile(scalar, "scalar", "exec")
    assert "unbroadcast" in generic and "unbroadcast" not in scalar
    assert cli.main(["show", f"{path}:lorenz_step_sum", "--args", "1.0 +"]) == 2


def _tape_loop(x, n):
    s = x
    for i in range(n):
        s = np.sin(s) * x
    return s


def test_tape_bytes_grows_with_what_the_adjoint_keeps():
    f = rg.differentiate(_tape_loop)
    small, large = f.tape_bytes(0.3, 10), f.tape_bytes(0.3, 1000)
    assert 0 < small < large
    # two saved floats per extra iteration: the old `s` (for cos(s)) and sin(s) (for dx += ds * sin(s))
    assert large - small == 990 * 2 * 8
    assert rg.differentiate(_tape_loop).tape_bytes(np.ones(100), 10) >= 10 * 100 * 8
