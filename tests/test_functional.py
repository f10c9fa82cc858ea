"""The functional API (functional.py), JAX's spelling: argnums, has_aux, value_and_grad, vjp, jacrev /
jacobian; the callables people pass (lambdas, closures, partials, methods, numba dispatchers); pytrees;
debug_nans.  Every derivative is checked against float64 central differences (fd.py) of the plain
function, on the python and numba backends (RETROGRAD_TEST_BACKENDS narrows them)."""
import dataclasses
import functools
from typing import NamedTuple

import numpy as np
import pytest

import retrograd as rg
from conftest import FD_BACKENDS
from fd import assert_tree_allclose, flatten, numerical_gradient
from test_constructs import (arith_arrays, for_break_continue, for_enumerate_overwrites, matmul_op, swap_in_loop,
                             while_value_condition)
from test_numpy_rules import e_tanh

BACKENDS = [b for b in FD_BACKENDS if b in ("python", "numba")]


def rs(shape, k=0):
    return np.random.default_rng(k).standard_normal(shape)


def fd_grads(f, args, positions):
    return tuple(numerical_gradient(f, list(args), p) for p in positions)


def fd_jacobian(f, args, p, eps=1e-6):
    """d f(args) / d args[p] by central differences: shape out.shape + arg.shape."""
    base, unflatten = flatten(args[p])
    out = np.asarray(f(*args), dtype=float)
    cols = []
    for i in range(base.size):
        plus, minus = base.copy(), base.copy()
        h = eps * max(1.0, abs(base[i]))
        plus[i] += h
        minus[i] -= h
        a1, a2 = list(args), list(args)
        a1[p], a2[p] = unflatten(plus), unflatten(minus)
        cols.append((np.asarray(f(*a1)) - np.asarray(f(*a2))) / (2 * h))
    jac = np.stack(cols, axis=-1) if cols else np.zeros(out.shape + (0,))
    return jac.reshape(out.shape + np.shape(args[p]))


CASES = [   # functions of the FD suites, their arguments, and argnums to take
    (matmul_op, lambda: (rs((3, 4), 1) * 0.5, rs(4, 2), rs(3, 3)), (0, 2)),
    (arith_arrays, lambda: (rs((2, 3), 4), rs((2, 3), 5)), (1, 0)),
    (swap_in_loop, lambda: (0.6, 0.3), (0, 1)),
    (for_break_continue, lambda: (0.7,), (0,)),
    (for_enumerate_overwrites, lambda: (rs((3, 2), 6), rs(2, 7)), (-1, 0)),
    (while_value_condition, lambda: (0.3,), (-1,)),
]


# ==============================================================================================
# argnums, value_and_grad, vjp
# ==============================================================================================

# numba compiles each variant for seconds: it runs the scalar-loop cases (the array ones run on python; the
# FD suites run them on numba with wrt=)
RUNS = [(c, b) for c in CASES for b in BACKENDS if b == "python" or c[0] in (swap_in_loop, for_break_continue)]


@pytest.mark.parametrize("case,backend", RUNS, ids=[f"{c[0].__name__}-{b}" for c, b in RUNS])
def test_argnums_tuple_and_value_and_grad(case, backend):
    f, make_args, argnums = case
    args = make_args()
    n = len(args)
    expected = fd_grads(f, args, [a % n for a in argnums])
    value, grads = rg.value_and_grad(f, argnums=argnums, backend=backend)(*args)
    assert isinstance(grads, tuple) and len(grads) == len(argnums)     # a tuple, even of one (JAX)
    assert_tree_allclose(value, f(*args), what="value")
    assert_tree_allclose(grads, expected, rtol=1e-6, atol=1e-8, what="gradients")
    single = rg.grad(f, argnums=argnums[0], backend=backend)(*args)     # an int: the gradient itself
    assert_tree_allclose(single, expected[0], rtol=1e-6, atol=1e-8, what="grad(argnums=int)")
    assert not isinstance(single, tuple)


@pytest.mark.parametrize("backend", BACKENDS)
def test_vjp_returns_one_cotangent_per_primal(backend):
    W, x, b = rs((3, 4), 1) * 0.5, rs(4, 2), rs(3, 3)

    def layer(W, x, b):
        return np.tanh(W @ x + b)
    out, pullback = rg.vjp(layer, W, x, b, backend=backend)
    np.testing.assert_allclose(out, layer(W, x, b), rtol=1e-13)
    ct = rs(3, 7)
    grads = pullback(ct)
    assert isinstance(grads, tuple) and len(grads) == 3
    proj = lambda W, x, b: float(np.sum(ct * layer(W, x, b)))        # noqa: E731
    assert_tree_allclose(grads, fd_grads(proj, (W, x, b), (0, 1, 2)), rtol=1e-6, atol=1e-8)
    assert_tree_allclose(pullback(ct), grads, rtol=0, atol=0, what="a second pullback")
    with pytest.raises(rg.UsageError, match="shape"):
        pullback(np.ones(4))
    with pytest.raises(rg.UsageError, match="primal"):
        rg.vjp(layer)


def test_argnums_errors():
    def f(a, b, *, c=1.0):
        return np.sum(a * b) * c
    x = np.ones(2)
    with pytest.raises(rg.UsageError, match="out of range: f takes 2 positional"):
        rg.grad(f, argnums=2)            # keyword-only parameters are not positions (JAX)
    with pytest.raises(rg.UsageError, match="out of range"):
        rg.grad(f, argnums=-3)
    with pytest.raises(rg.UsageError, match="not both"):
        rg.grad(f, argnums=0, wrt="a")
    with pytest.raises(rg.UsageError, match="not both"):
        rg.differentiate(f, argnums=0, wrt=0)
    with pytest.raises(rg.UsageError, match="twice"):
        rg.grad(f, argnums=(0, -2))
    with pytest.raises(rg.UsageError, match="ints"):
        rg.grad(f, argnums="a")
    with pytest.raises(rg.UsageError, match="selects no"):
        rg.grad(f, argnums=())
    np.testing.assert_allclose(rg.grad(f, argnums=-1)(x, 2 * x, c=3.0), 3.0 * x)
    np.testing.assert_allclose(rg.differentiate(f, argnums=(1,)).grad(x, x)[0], x)
    assert rg.grad(f, wrt="c")(x, x, c=3.0) == pytest.approx(2.0)


# ==============================================================================================
# has_aux
# ==============================================================================================

def loss_with_aux(w, x):
    pred = np.tanh(x @ w)
    loss = np.mean(pred ** 2)
    return loss, {"pred": pred, "rms": np.sqrt(loss), "log_w": np.log(w), "steps": 3}


def branchy_aux(w, c):
    if c > 0:
        return np.sum(w * w), np.sqrt(w)
    s = np.sum(np.sin(w))
    return s, np.sqrt(w) * 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_has_aux_forms_match_jax(backend):
    w, x = np.array([0.0, 0.5, 2.0]), rs((4, 3), 1)    # w[0] = 0: log and sqrt of it in the aux only
    if backend == "numba":   # Numba returns no dicts: the same aux as a tuple
        def f(w, x):
            pred = np.tanh(x @ w)
            loss = np.mean(pred ** 2)
            return loss, (pred, np.log(w))
    else:
        f = loss_with_aux
    expected = fd_grads(lambda w, x: f(w, x)[0], (w, x), (0,))[0]
    with np.errstate(divide="ignore"):
        g, aux = rg.grad(f, has_aux=True, backend=backend)(w, x)
        (value, aux2), g2 = rg.value_and_grad(f, has_aux=True, backend=backend)(w, x)
        out, pullback, aux3 = rg.vjp(f, w, x, has_aux=True, backend=backend)
        plain = f(w, x)
    assert np.all(np.isfinite(g)), "the aux's -inf must not reach the gradient"
    np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g2, g, rtol=1e-14)
    assert value == pytest.approx(plain[0])
    assert_tree_allclose(aux, plain[1], what="aux")
    assert_tree_allclose(aux2, plain[1], what="aux")
    assert_tree_allclose(aux3, plain[1], what="aux")
    dw, dx = pullback(2.0)
    np.testing.assert_allclose(dw, 2.0 * g, rtol=1e-12)
    assert rg.differentiate(f, has_aux=True, backend=backend).grad(w, x)[0].shape == w.shape


@pytest.mark.parametrize("backend", BACKENDS)
def test_has_aux_with_early_return(backend):
    w = np.array([0.3, 1.2])
    for c in (1.0, -1.0):     # numba too, now that the kinds give the result's type before its branch
        g, aux = rg.grad(branchy_aux, has_aux=True, backend=backend)(w, c)
        np.testing.assert_allclose(g, fd_grads(lambda w: branchy_aux(w, c)[0], (w,), (0,))[0], rtol=1e-6)
        np.testing.assert_allclose(aux, branchy_aux(w, c)[1])


def test_has_aux_refusals():
    def single(w):
        return np.sum(w)

    def triple(w):
        return np.sum(w), w, w

    def named(w):
        out = (np.sum(w), w)
        return out
    w = np.ones(2)
    for f in (single, triple, named):
        with pytest.raises(rg.UsageError, match="must return a pair") as err:
            rg.grad(f, has_aux=True)(w)
        assert err.value.lineno is not None and err.value.filename.endswith("test_functional.py")
    with pytest.raises(rg.UsageError, match="pass has_aux=True"):
        rg.grad(lambda w: (np.sum(w), w))(w)   # the pair without has_aux: says what to do
    with pytest.raises(rg.UsageError, match="triton"):
        rg.differentiate(single, has_aux=True, backend="triton")


# ==============================================================================================
# jacrev / jacobian
# ==============================================================================================

def two_outputs(x, y):
    return {"a": np.sin(x) * y[0], "b": (np.sum(x * y), x[:2] ** 2)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacrev_against_fd_jacobian(backend):
    W, x, b = rs((3, 4), 1) * 0.5, rs(4, 2), rs(3, 3)

    def layer(W, x, b):
        return np.tanh(W @ x + b)
    jW, jx = rg.jacrev(layer, argnums=(0, 1), backend=backend)(W, x, b)
    assert jW.shape == (3, 3, 4) and jx.shape == (3, 4)
    np.testing.assert_allclose(jW, fd_jacobian(layer, (W, x, b), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jx, fd_jacobian(layer, (W, x, b), 1), rtol=1e-6, atol=1e-8)
    jb = rg.jacobian(layer, argnums=2, backend=backend)(W, x, b)
    np.testing.assert_allclose(jb, fd_jacobian(layer, (W, x, b), 2), rtol=1e-6, atol=1e-8)
    # a scalar output: the Jacobian is the gradient; a 0-d argument: shape out.shape
    g = rg.jacrev(e_tanh, backend=backend)(x)
    np.testing.assert_allclose(g, fd_jacobian(e_tanh, (x,), 0), rtol=1e-6, atol=1e-8)
    js = rg.jacrev(lambda s, v: np.sin(s * v), backend=backend)(0.7, x)
    assert js.shape == (4,)
    np.testing.assert_allclose(js, fd_jacobian(lambda s, v: np.sin(s * v), (0.7, x), 0), rtol=1e-6, atol=1e-8)


def test_jacrev_pytree_output_and_edges():
    x, y = rs(3, 1), rs(3, 2)
    jac = rg.jacrev(two_outputs, argnums=1)(x, y)
    assert set(jac) == {"a", "b"} and isinstance(jac["b"], tuple)
    np.testing.assert_allclose(jac["a"], fd_jacobian(lambda x, y: two_outputs(x, y)["a"], (x, y), 1), rtol=1e-6)
    np.testing.assert_allclose(jac["b"][0], fd_jacobian(lambda x, y: two_outputs(x, y)["b"][0], (x, y), 1),
                               rtol=1e-6, atol=1e-9)
    assert jac["b"][1].shape == (2, 3)
    np.testing.assert_allclose(jac["b"][1], fd_jacobian(lambda x, y: two_outputs(x, y)["b"][1], (x, y), 1),
                               rtol=1e-6, atol=1e-9)
    empty = rg.jacrev(lambda v: v[:0] * 2.0)(x)            # no output elements: an empty Jacobian
    assert empty.shape == (0, 3)
    (j, aux) = rg.jacrev(lambda v: (v * v, np.sum(v)), has_aux=True)(x)
    np.testing.assert_allclose(j, np.diag(2 * x), rtol=1e-14)
    assert aux == pytest.approx(np.sum(x))


# ==============================================================================================
# the functions people pass
# ==============================================================================================

def mse(W, X, y):
    return np.mean((np.tanh(X @ W) - y) ** 2)


def scaled(a, b, c=1.0, *, d=2.0):
    return np.sum(np.sin(a) * b) * c + d * np.sum(a)


def make_closure():
    scale = 2.0

    def f(x):
        return np.sum(np.sin(x) * scale)

    def rebind(v):
        nonlocal scale
        scale = v
    return f, rebind


class Model:
    def __init__(self, k):
        self.k = k
        self.b = np.arange(3.0) * k

    def loss(self, W, x):
        return np.sum(np.tanh(W @ x + self.b)) * self.k

    @rg.differentiate
    def dloss(self, W, x):
        return np.sum(np.tanh(W @ x + self.b)) * self.k

    @rg.differentiate(wrt=2)      # positions count `self`, as for the undecorated function
    def dloss_x(self, W, x):
        return np.sum(np.tanh(W @ x + self.b)) * self.k

    @staticmethod
    def static(x):
        return np.sum(x ** 3)

    @classmethod
    def cm(cls, x):
        return np.sum(x ** 2) * cls.FACTOR

    FACTOR = 3.0

    @rg.differentiate
    @staticmethod
    def dstatic(x):
        return np.sum(x ** 3)

    def __call__(self, x):
        return np.sum(np.cos(x)) * self.k


def fd1(f, *args, p=0):
    return numerical_gradient(f, list(args), p)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lambda_closing_over_data(backend):
    W, X, y = rs(3, 1), rs((5, 3), 2), rs(5, 3)
    g = rg.grad(lambda p: mse(p, X, y), backend=backend)(W)
    np.testing.assert_allclose(g, fd1(mse, W, X, y), rtol=1e-6, atol=1e-9)
    assert "def primal_lambda(p)" in rg.differentiate(lambda p: mse(p, X, y)).source_for(W)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_lambdas_on_one_line_are_told_apart(backend):
    x = rs(4, 5)
    f, g = (lambda v: np.sum(np.sin(v) * 2.0)), (lambda v: np.sum(np.sin(v) * 5.0))
    np.testing.assert_allclose(rg.grad(f, backend=backend)(x), 2.0 * np.cos(x), rtol=1e-13)
    np.testing.assert_allclose(rg.grad(g, backend=backend)(x), 5.0 * np.cos(x), rtol=1e-13)
    nested = lambda v: np.sum((lambda u: u * 3.0)(v))        # noqa: E731  (inner lambda: refused, not mixed up)
    with pytest.raises(rg.UnsupportedSyntaxError, match="lambda"):
        rg.grad(nested)(x)


def test_lambdas_with_defaults_and_across_lines():
    x = rs(3, 6)
    f = lambda v, c=2.0: np.sum(v ** 2) * c              # noqa: E731
    np.testing.assert_allclose(rg.grad(f)(x), 4.0 * x, rtol=1e-13)
    np.testing.assert_allclose(rg.grad(f)(x, 3.0), 6.0 * x, rtol=1e-13)
    assert rg.grad(f, argnums=1)(x, 3.0) == pytest.approx(np.sum(x ** 2))
    g = rg.grad(
        lambda v:
            np.sum(np.exp(v)
                   * 2.0),
        argnums=0)
    np.testing.assert_allclose(g(x), 2.0 * np.exp(x), rtol=1e-13)
    grads = [rg.grad(lambda v, k=k: np.sum(v * k)) for k in (1.0, 2.0)]   # a default naming a loop variable
    np.testing.assert_allclose([gr(x) for gr in grads], [np.ones(3), 2.0 * np.ones(3)], rtol=1e-13)
    ns = {"np": np}
    exec("f = lambda v: np.sum(v * 3.0)", ns)
    with pytest.raises(rg.RetrogradError, match="cannot read the source of the lambda"):
        rg.grad(ns["f"])(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_closure_cell_rebound_between_calls(backend):
    f, rebind = make_closure()
    x = rs(3, 7)
    g = rg.grad(f, backend=backend)
    np.testing.assert_allclose(g(x), 2.0 * np.cos(x), rtol=1e-13)
    rebind(5.0)
    np.testing.assert_allclose(g(x), 5.0 * np.cos(x), rtol=1e-13)   # read at call time, not stale
    rebind(np.array([1.0, 2.0, 3.0]))                                  # a float becomes an array
    np.testing.assert_allclose(g(x), np.array([1.0, 2.0, 3.0]) * np.cos(x), rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_positional_and_keywords(backend):
    a, b = rs(3, 8), rs(3, 9)
    p = functools.partial(scaled, a)                  # argnums counts the partial's remaining parameters
    np.testing.assert_allclose(rg.grad(p, backend=backend)(b), fd1(scaled, a, b, p=1), rtol=1e-6, atol=1e-9)
    pk = functools.partial(scaled, c=3.0, d=0.5)
    ga, gb = rg.grad(pk, argnums=(0, 1), backend=backend)(a, b)
    np.testing.assert_allclose(ga, fd1(lambda a, b: scaled(a, b, 3.0, d=0.5), a, b), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gb, fd1(lambda a, b: scaled(a, b, 3.0, d=0.5), a, b, p=1), rtol=1e-6, atol=1e-9)
    with pytest.raises(rg.UsageError, match="out of range"):   # c is keyword-only in the partial now
        rg.grad(pk, argnums=2)
    assert rg.grad(pk, wrt="c", backend=backend)(a, b) == pytest.approx(np.sum(np.sin(a) * b))
    pp = functools.partial(functools.partial(scaled, a), c=2.0)   # a partial of a partial
    np.testing.assert_allclose(rg.grad(pp, backend=backend)(b), 2.0 * np.sin(a), rtol=1e-13)
    # the caller's keyword overrides the partial's, as in Python
    np.testing.assert_allclose(rg.grad(pk, backend=backend)(a, b, c=1.0),
                               fd1(lambda a, b: scaled(a, b, 1.0, d=0.5), a, b), rtol=1e-6, atol=1e-9)
    assert rg.differentiate(pk)(a, b) == pytest.approx(scaled(a, b, 3.0, d=0.5))


def test_bound_methods_and_decorated_methods():
    W, x = rs((3, 4), 10) * 0.5, rs(4, 11)
    m1, m2 = Model(1.0), Model(2.0)
    for m in (m1, m2):   # one generated variant, each instance's attributes read at call time
        expected = fd1(Model.loss, m, W, x, p=1)
        np.testing.assert_allclose(rg.grad(m.loss)(W, x), expected, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(m.dloss.grad(W, x), expected, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(Model.dloss.grad(m, W, x), expected, rtol=1e-6, atol=1e-9)   # through the class
        np.testing.assert_allclose(rg.grad(Model.loss, argnums=1)(m, W, x), expected, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(m.dloss_x.grad(W, x), fd1(Model.loss, m, W, x, p=2), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(rg.grad(m.dloss, argnums=1)(W, x), fd1(Model.loss, m, W, x, p=2), rtol=1e-6,
                                   atol=1e-9)
        assert m.dloss(W, x) == pytest.approx(m.loss(W, x))
        np.testing.assert_allclose(rg.grad(m)(x), -m.k * np.sin(x), rtol=1e-13)   # an object with __call__
    np.testing.assert_allclose(rg.grad(Model.static)(x), 3 * x ** 2, rtol=1e-13)
    np.testing.assert_allclose(rg.grad(m1.static)(x), 3 * x ** 2, rtol=1e-13)
    np.testing.assert_allclose(rg.grad(Model.cm)(x), 6.0 * x, rtol=1e-13)
    np.testing.assert_allclose(m1.dstatic.grad(x), 3 * x ** 2, rtol=1e-13)
    np.testing.assert_allclose(Model.dstatic.grad(x), 3 * x ** 2, rtol=1e-13)
    np.testing.assert_allclose(rg.value_and_grad(m1.dloss)(W, x)[1], rg.grad(m1.loss)(W, x), rtol=1e-14)
    out, pullback = m1.dloss.vjp(W, x)
    np.testing.assert_allclose(pullback(1.0)[0], rg.grad(m1.loss)(W, x), rtol=1e-14)


def test_method_on_numba_is_a_clear_refusal():
    W, x = rs((3, 4), 10) * 0.5, rs(4, 11)
    pytest.importorskip("numba")
    with pytest.raises(rg.BackendError, match="backend=\"python\"|object"):
        rg.grad(Model(1.0).loss, backend="numba")(W, x)


def test_numba_njit_functions_passed_and_called():
    numba = pytest.importorskip("numba")
    x = rs(4, 12)
    jitted = numba.njit(lambda v: np.sum(np.sin(v) * v))
    np.testing.assert_allclose(rg.grad(jitted)(x), np.sin(x) + x * np.cos(x), rtol=1e-13)
    np.testing.assert_allclose(rg.grad(uses_njit_helper)(x), fd1(uses_njit_helper, x), rtol=1e-6, atol=1e-9)


def test_callables_without_source_are_refused():
    with pytest.raises(rg.UsageError, match="wrap it"):
        rg.grad(np.sin)
    with pytest.raises(rg.UsageError, match="classmethod"):
        rg.grad(Model.__dict__["cm"])


def _njit_helper():
    try:
        import numba
    except ImportError:
        return lambda v: v
    return numba.njit(lambda v: np.tanh(v) * 2.0)


tanh2 = _njit_helper()


def uses_njit_helper(x):
    return np.sum(tanh2(x) * x)


# ==============================================================================================
# pytrees: tuples, lists, dicts, NamedTuples, dataclasses, nested
# ==============================================================================================

class Params(NamedTuple):
    W: np.ndarray
    b: np.ndarray


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    scale: float


@dataclasses.dataclass(frozen=True)
class Frozen:
    w: np.ndarray


def nt_loss(p, x):
    return np.sum(np.tanh(x @ p.W + p.b))


def nt_mixed_access(p, x):
    W, b = p                                   # unpacked, indexed and read by field
    return np.sum(np.tanh(x @ W + b)) + np.sum(p[1] * p.b)


def dc_loss(layer, x):
    return np.sum(np.sin(x @ layer.W)) * layer.scale


def nested_loss(t, x):
    first = t["layers"][0]
    h = np.tanh(x @ first.W + first.b)
    return np.sum(h * t["layers"][1].scale) + np.sum(t["extra"][0] ** 2) * t["frozen"].w[0]


def predict(params, x):
    return np.tanh(x @ params["W"] + params["b"])


def dict_through_helper(params, x):
    return np.mean(predict(params, x) ** 2)


def tree_output(p):
    return {"s": np.sum(p["a"] * p["b"]), "v": (p["a"] * 2.0, [np.sin(p["b"])])}


def fd_tree(f, args, p=0):
    return numerical_gradient(f, list(args), p)


def assert_tree_same(g, expected, x):
    """Same structure and types as the argument (NamedTuple, dataclass, ...) and FD values."""
    assert type(g) is type(x), f"{type(g).__name__} for a {type(x).__name__}"
    if dataclasses.is_dataclass(x):
        for f in dataclasses.fields(x):
            assert_tree_same(getattr(g, f.name), getattr(expected, f.name), getattr(x, f.name))
    elif isinstance(x, (tuple, list)):
        assert len(g) == len(x)
        for a, b, c in zip(g, expected, x):
            assert_tree_same(a, b, c)
    elif isinstance(x, dict):
        assert g.keys() == x.keys()
        for k in x:
            assert_tree_same(g[k], expected[k], x[k])
    else:
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pytree_arguments_get_gradients_of_their_structure(backend):
    """On numba the containers are flattened at the boundary (flat_pytrees.py): the same gradients, of the
    same structure and types."""
    W, b, x = rs((3, 2), 1), rs(2, 2), rs((4, 3), 3)
    p = Params(W, b)
    g = rg.grad(nt_loss, backend=backend)(p, x)
    assert_tree_same(g, Params(fd_tree(lambda W, b, x: nt_loss(Params(W, b), x), (W, b, x), 0),
                               fd_tree(lambda W, b, x: nt_loss(Params(W, b), x), (W, b, x), 1)), p)
    g = rg.grad(nt_mixed_access, backend=backend)(p, x)
    f = lambda W, b: nt_mixed_access(Params(W, b), x)          # noqa: E731
    assert_tree_same(g, Params(fd_tree(f, (W, b), 0), fd_tree(f, (W, b), 1)), p)
    layer = Layer(W, 1.5)
    g = rg.grad(dc_loss, backend=backend)(layer, x)
    f = lambda W, s: dc_loss(Layer(W, s), x)                    # noqa: E731
    assert_tree_same(g, Layer(fd_tree(f, (W, 1.5), 0), fd_tree(f, (W, 1.5), 1)), layer)
    params = {"W": W, "b": b}
    if backend == "numba":      # a dict passed whole to a helper: refused at its line
        with pytest.raises(rg.BackendError, match="as a whole") as err:
            rg.grad(dict_through_helper, backend=backend)(params, x)
        assert 'backend="python"' in err.value.hint and err.value.lineno == line_of(dict_through_helper, "predict(")
        return
    g = rg.grad(dict_through_helper)(params, x)
    assert_tree_same(g, fd_tree(dict_through_helper, (params, x)), params)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_pytrees_with_records_inside_containers(backend):
    W, b, x, e, w = rs((3, 2), 1), rs(2, 2), rs((4, 3), 3), rs(3, 4), rs(2, 5)

    def build(W, b, s, e, w):
        return {"layers": [Params(W, b), Layer(W * 0.0, s)], "extra": (e,), "frozen": Frozen(w)}
    t = build(W, b, 0.7, e, w)
    g = rg.grad(nested_loss, backend=backend)(t, x)
    parts = [fd_tree(lambda *a: nested_loss(build(*a), x), (W, b, 0.7, e, w), k) for k in range(5)]
    expected = {"layers": [Params(parts[0], parts[1]), Layer(np.zeros_like(W), parts[2])], "extra": (parts[3],),
                "frozen": Frozen(parts[4])}
    assert_tree_same(g, expected, t)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pytree_vjp_outputs_and_mismatched_cotangents(backend):
    p = {"a": rs(3, 1), "b": rs(3, 2)}
    if backend == "numba":    # a dict output (of a dict argument, which is flattened): a clear refusal
        with pytest.raises(rg.BackendError, match="Dict") as err:
            rg.vjp(tree_output, p, backend=backend)
        assert 'backend="python"' in err.value.hint
        return
    out, pullback = rg.vjp(tree_output, p)
    ct = {"s": 0.5, "v": (rs(3, 3), [rs(3, 4)])}
    (g,) = pullback(ct)
    proj = lambda a, b: (0.5 * np.sum(a * b) + np.sum(ct["v"][0] * a * 2.0)      # noqa: E731
                         + np.sum(ct["v"][1][0] * np.sin(b)))
    np.testing.assert_allclose(g["a"], fd1(proj, p["a"], p["b"]), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g["b"], fd1(proj, p["a"], p["b"], p=1), rtol=1e-6, atol=1e-9)
    for bad, what in [({"s": 0.5}, "keys"), ({"s": 0.5, "v": (rs(3, 3),)}, "entries"),
                      ({"s": 0.5, "v": (rs(3, 3), rs(3, 4))}, "list"), ({"s": np.ones(2), "v": ct["v"]}, "shape")]:
        with pytest.raises(rg.UsageError, match=what):
            pullback(bad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pytree_edges_empty_containers_and_ints(backend):
    x = rs(3, 1)

    def f(t, x):
        return np.sum(x * t["w"]) * t["n"] + len(t["empty"]) + len(t["nothing"])
    t = {"w": rs(3, 2), "n": 2, "empty": (), "nothing": {}}
    g = rg.grad(f, backend=backend)(t, x)
    np.testing.assert_allclose(g["w"], 2 * x, rtol=1e-13)
    assert g["empty"] == () and g["nothing"] == {}
    assert g["n"] == 0.0       # an integer leaf is a constant (fd.py's convention): its gradient is 0
    assert rg.grad(lambda e, x: np.sum(x), backend=backend)((), x) == ()
    with pytest.raises(rg.UsageError, match="integers"):
        rg.grad(lambda n, x: np.sum(x) * n, backend=backend)(3, x)


# ==============================================================================================
# debug_nans
# ==============================================================================================

def root_of(h):
    r = np.sqrt(h)
    return r * 2.0


def nan_in_backward(w, x):
    h = np.tanh(x * w)
    s = root_of(h * h)              # sqrt(0) is finite, its derivative is not
    return np.sum(s)


def nan_in_forward(w):
    m = np.max(w)
    z = np.log(m - w)               # log(0) = -inf for the largest entry
    return np.sum(z * 0.0)


def line_of(fn, text):
    import inspect
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, l in enumerate(lines) if text in l)


def test_debug_nans_names_the_forward_line_of_a_nan_gradient():
    w, x = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    with np.errstate(all="ignore"):
        g = rg.grad(nan_in_backward)(w, x)
        assert np.isnan(g[0]) and np.isfinite(g[1])     # what the user sees without debug_nans
        with rg.debug_nans():
            with pytest.raises(rg.NonFiniteError, match="backward pass computed inf in `dh`") as err:
                rg.grad(nan_in_backward)(w, x)
    e = err.value
    assert isinstance(e, rg.RetrogradError)
    assert e.filename.endswith("test_functional.py") and e.lineno == line_of(root_of, "r = np.sqrt(h)")
    assert "np.sqrt(h)" in str(e)
    with np.errstate(all="ignore"):
        d = rg.differentiate(nan_in_forward)
        with rg.debug_nans():
            with pytest.raises(rg.NonFiniteError, match="forward pass computed inf in `z`") as err:
                d.grad(np.array([0.5, 2.0]))
        assert err.value.lineno == line_of(nan_in_forward, "z = np.log")
        with rg.debug_nans(inf=False):      # NaNs only: the -inf passes, the 0 * -inf does not
            with pytest.raises(rg.NonFiniteError, match="nan") as err:
                d.grad(np.array([0.5, 2.0]))
        assert err.value.lineno == line_of(nan_in_forward, "return np.sum(z * 0.0)")


def test_debug_nans_checks_inputs_cotangents_and_leaves_normal_code_alone():
    x = np.array([1.0, 2.0])
    d = rg.differentiate(lambda v: np.sin(v) * 2.0)
    with rg.debug_nans():
        with pytest.raises(rg.NonFiniteError, match="argument `v`"):
            d.vjp(np.array([np.nan, 1.0]))
        out, pullback = d.vjp(x)
        with pytest.raises(rg.NonFiniteError, match="cotangent"):
            pullback(np.array([np.inf, 0.0]))
        np.testing.assert_allclose(pullback(np.ones(2))[0], 2.0 * np.cos(x), rtol=1e-14)
        assert "check_finite(" in d.source
    out, pullback = d.vjp(x)                      # outside the block: the plain code, no checks
    assert "check_finite" not in d.source
    with np.errstate(all="ignore"):
        assert np.isinf(pullback(np.array([np.inf, 0.0]))[0][0])


def test_debug_nans_on_numba_says_what_to_do():
    pytest.importorskip("numba")
    with rg.debug_nans():
        with pytest.raises(rg.UsageError, match="python backend") as err:
            rg.grad(nan_in_backward, backend="numba")(np.ones(2), np.ones(2))
    assert 'backend="python"' in err.value.hint
