"""Adversarial review of what was merged into main (forward mode, functional API, spellings, dtypes,
shape ranks, source maps).  Each `finding N` is a confirmed bug: fixed ones are plain tests, open ones are
strict xfails (they fail once fixed, so the marker must then go).  The other tests are hostile cases that
behave correctly, kept as regression guards.  Every number is checked against float64 central
differences of the plain function (tests/fd.py)."""
import functools
import os
import types

import numpy as np
import pytest

import retrograd as rg
from conftest import FD_BACKENDS
from fd import check_grad, numerical_grad

X = np.array([0.3, 0.7, 1.1])
V = np.array([0.5, -1.0, 2.0])
NUMBA = "numba" in FD_BACKENDS


def _numba():
    pytest.importorskip("numba")
    if not NUMBA:
        pytest.skip("RETROGRAD_TEST_BACKENDS excludes numba")


def _directional(f, args, v, eps=1e-6):
    plus = [args[0] + eps * v] + list(args[1:])
    minus = [args[0] - eps * v] + list(args[1:])
    return (f(*plus) - f(*minus)) / (2 * eps)


# ---- finding 1 (fixed): a dtype passed positionally made an integer array "certainly float" -------------
# analysis/dtypes.py read `dtype=` only, so np.zeros(3, int) skipped the float_target guard: the write
# was truncated by NumPy while the adjoint passed the cotangent through (python, numba and jvp).

def zeros_positional_int(x):
    A = np.zeros(3, int)
    A[0] = x[0] * 3.0
    return np.sum(A * 1.0) + x[1]


def zeros_like_positional_int(x):
    A = np.zeros_like(x, int)
    A[0] = x[0] * 3.0
    return np.sum(A * x)


def ones_positional_int(x):
    A = np.ones((3,), np.int64)
    A[0] = x[0] * 3.0
    return np.sum(A * x)


def array_positional_int(x):
    A = np.array(x, int)
    A[0] = x[0] * 3.0
    return np.sum(A * x)


def eye_positional_int(x):
    A = np.eye(3, 3, 0, int)
    A[0, 0] = x[1] * 2.5
    return np.sum(A @ x)


def linspace_positional_int(x):
    A = np.linspace(0, 10, 3, True, False, int)
    A[0] = x[1] * 2.5
    return np.sum(A * x)


POSITIONAL_DTYPE = [zeros_positional_int, zeros_like_positional_int, ones_positional_int, array_positional_int,
                    eye_positional_int, linspace_positional_int]


@pytest.mark.parametrize("f", POSITIONAL_DTYPE, ids=lambda f: f.__name__)
def test_finding1_positional_integer_dtype_is_guarded(f):
    with pytest.raises(rg.CastError):
        rg.differentiate(f).grad(X.copy())
    with pytest.raises(rg.CastError):
        rg.jvp(f, (X.copy(),), (V,))


# ---- finding 2 (fixed): rules with an integer dtype= passed the derivative through -----------------------
# np.sum(x, dtype=int) is piecewise constant (derivative 0); the sum/mean/prod/cumsum/full/full_like rules
# ignored dtype, and frontend/resolve.py only treated astype/array/asarray as casts.

def sum_dtype_int(x):
    return np.sum(x * 3.0, dtype=int) * x[0]


def sum_positional_dtype_int(x):
    return np.sum(x * 3.0, 0, int) * x[0]


def mean_dtype_int(x):
    return np.mean(x * 3.0, dtype=int) * x[0]


def prod_dtype_int(x):
    return np.prod(x * 3.0, dtype=int) * x[0]


def cumsum_dtype_int(x):
    return np.sum(np.cumsum(x * 3.0, dtype=int) * x)


def method_sum_dtype_int(x):
    X2 = np.outer(x, x)
    return np.sum(X2.sum(0, int) * x)


def full_dtype_int(x):
    return np.sum(np.full(3, x[0] * 3.0, dtype=int) * x)


def full_like_dtype_int(x):
    return np.sum(np.full_like(x, x[0] * 3.0, int) * x)


def sum_dtype_float(x):
    return np.sum(x * 3.0, dtype=np.float64) * x[0]


INT_DTYPE_RULES = [sum_dtype_int, sum_positional_dtype_int, mean_dtype_int, prod_dtype_int, cumsum_dtype_int,
                   method_sum_dtype_int, full_dtype_int, full_like_dtype_int, sum_dtype_float]


@pytest.mark.parametrize("f", INT_DTYPE_RULES, ids=lambda f: f.__name__)
def test_finding2_integer_dtype_of_a_rule_has_derivative_zero(f):
    check_grad(f, [X.copy()])
    out, t = rg.jvp(f, (X.copy(),), (V,))
    np.testing.assert_allclose(t, _directional(f, [X], V), rtol=1e-6, atol=1e-8)


def sum_into_written(x):
    X2 = np.outer(x, x)
    A = np.sum(X2, 0, int)
    A[0] = x[1] * 2.5
    return np.sum(A * x)


def test_finding2_a_write_into_an_integer_reduction_is_refused():
    with pytest.raises(rg.CastError):
        rg.differentiate(sum_into_written).grad(X.copy())


# ---- finding 3 (open): np.full_like of an integer array inherits its dtype -------------------------------

def full_like_of_int_array(x):
    return np.sum(np.full_like(np.arange(3), x[0] * 3.0) * x)


def full_like_of_float_array(x):
    return np.sum(np.full_like(x * 1.0, x[0] * 3.0) * x)


def test_finding3_full_like_of_an_integer_array(fd_backend):
    """Fixed: the rule's cotangent (and tangent) is 0 where the result holds integers (zero_unless_float)."""
    check_grad(full_like_of_int_array, [X.copy()])
    check_grad(full_like_of_float_array, [X.copy()])


def test_finding3_jvp_of_full_like_of_an_integer_array():
    _, t = rg.jvp(full_like_of_int_array, (X.copy(),), (np.ones_like(X),))
    np.testing.assert_allclose(t, np.sum(np.full_like(np.arange(3), X[0] * 3.0)), rtol=1e-12)


# ---- finding 4 (fixed): numba dropped a reduction's positional arguments after `axis` ---------------------
# backends/numba_reductions.lower_reductions rewrote x.sum(1, None, None, True) to reduce_sum(x, 1, False)
# and np.std(X, 1, None, None, 1) to reduce_std(X, 1, False): keepdims and ddof silently lost.

def method_keepdims_positional(x):
    X2 = np.outer(x, x + 1.0)
    return np.sum(X2.sum(1, None, None, True) * X2)


def std_ddof_positional(x):
    X2 = np.outer(x, x + 1.0)
    return np.sum(np.std(X2, 1, None, None, 1) * x)


@pytest.mark.parametrize("f", [method_keepdims_positional, std_ddof_positional], ids=lambda f: f.__name__)
def test_finding4_numba_keeps_positional_reduction_arguments(f):
    check_grad(f, [X.copy()])
    _numba()
    try:
        g = rg.differentiate(f, backend="numba").grad(X.copy())
    except rg.BackendError as err:        # refusing is fine; a wrong number is not
        assert err.lineno is not None, str(err)
        return
    np.testing.assert_allclose(g, numerical_grad(f, [X], 0), rtol=1e-6, atol=1e-8)


# ---- finding 5 (fixed): np.add.at into an integer array was not guarded -----------------------------------

def add_at_into_int(x):
    A = np.zeros(3, dtype=int)
    np.add.at(A, np.array([0, 0, 2]), x * 2.5)
    return np.sum(A * x)


def test_finding5_add_at_into_integers_is_refused():
    with pytest.raises(rg.CastError) as err:
        rg.differentiate(add_at_into_int).grad(X.copy())
    assert os.path.basename(err.value.filename) == "test_review_main.py"
    with pytest.raises(rg.CastError):
        rg.jvp(add_at_into_int, (X.copy(),), (V,))


# ---- finding 6 (fixed): np.add.at on numba was refused ("your code uses the name `scatter_add`") ----------
# a regression on main (test_constructs' numba add_at cases failed): the forward merge put the python
# runtime's scatter_add into registry.GLOBALS, and Program.globals_for took numba's own for a user clash.

def add_at_float(x):
    A = np.zeros(3)
    np.add.at(A, np.array([0, 0, 2]), x * 2.5)
    return np.sum(A * x)


def test_finding6_add_at_on_numba():
    check_grad(add_at_float, [X.copy()])
    _numba()
    g = rg.differentiate(add_at_float, backend="numba").grad(X.copy())
    np.testing.assert_allclose(g, numerical_grad(add_at_float, [X], 0), rtol=1e-6, atol=1e-8)


# ---- finding 7 (open): a function reached through a global object's attribute is frozen -----------------

CFG = types.SimpleNamespace(act=np.tanh)


class Acts:
    act = staticmethod(np.tanh)


def via_instance_attribute(x):
    return np.sum(CFG.act(x))


def via_class_attribute(x):
    return np.sum(Acts.act(x))


@pytest.mark.parametrize("backend", FD_BACKENDS)
def test_finding7_rebound_attribute_of_a_global_object(backend, monkeypatch, tmp_path):
    """Fixed: attributes of global objects and classes are slots re-checked per call (namespace.Reads)."""
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path))
    d1, d2 = rg.differentiate(via_instance_attribute, backend=backend), rg.differentiate(via_class_attribute, backend=backend)
    d1.grad(X)
    d2.grad(X)
    try:
        CFG.act, Acts.act = np.sin, staticmethod(np.sin)
        np.testing.assert_allclose(d1.grad(X), np.cos(X))
        np.testing.assert_allclose(d2.grad(X), np.cos(X))
    finally:
        CFG.act, Acts.act = np.tanh, staticmethod(np.tanh)


# ---- finding 8 (fixed): lambdas in forward mode were a raw SyntaxError ------------------------------------
# forward/program.py and the hvp driver (forward/api.py) named the generated functions after '<lambda>'.

def test_finding8_lambdas_in_forward_mode():
    f = lambda x: np.sum(np.sin(x) ** 2)       # noqa: E731
    _, t = rg.jvp(f, (X,), (V,))
    np.testing.assert_allclose(t, _directional(f, [X], V), rtol=1e-6)
    np.testing.assert_allclose(rg.jacfwd(f)(X), numerical_grad(f, [X], 0), rtol=1e-6)
    np.testing.assert_allclose(rg.hvp(f, (X,), (V,)), 2 * np.cos(2 * X) * V, rtol=1e-10)
    np.testing.assert_allclose(rg.hessian(f)(X), np.diag(2 * np.cos(2 * X)), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(rg.hessian(lambda s: s ** 3)(2.0), 12.0)


# ---- finding 9 (open): forward mode does not take partials, bound methods or __call__ objects -------------

def f2(W, x, scale=1.0):
    return np.sum(np.tanh(W @ x) * scale)


class Model:
    def __init__(self, W):
        self.W = W

    def loss(self, x):
        return np.sum(np.tanh(self.W @ x))


W0 = np.arange(6.0).reshape(2, 3) / 7


def test_finding9_reverse_mode_takes_them():
    for f in (functools.partial(f2, W0), Model(W0).loss):
        np.testing.assert_allclose(rg.grad(f)(X), numerical_grad(f, [X], 0), rtol=1e-6)


def test_finding9_forward_mode_takes_partials_and_bound_methods():
    """Fixed: forward/api.py reduces them with frontend.callables.normalise (bound arguments first, constant)."""
    m, p = Model(W0), functools.partial(f2, W0)
    for f in (m.loss, p):
        _, t = rg.jvp(f, (X,), (V,))
        np.testing.assert_allclose(t, _directional(f, [X], V), rtol=1e-6)
        np.testing.assert_allclose(rg.jacfwd(f)(X), numerical_grad(f, [X], 0), rtol=1e-6)
        g = lambda x, f=f: rg.grad(f)(x)          # noqa: E731
        np.testing.assert_allclose(rg.hvp(f, (X,), (V,)), _directional(g, [X], V), rtol=1e-5, atol=1e-8)
        H = rg.hessian(f)(X)
        np.testing.assert_allclose(H @ V, rg.hvp(f, (X,), (V,)), rtol=1e-10, atol=1e-12)
    with pytest.raises(rg.UsageError, match="keyword"):
        rg.jvp(functools.partial(f2, W=W0), (X,), (V,))


# ---- finding 10 (open): a bool scalar variable used as an index is taken for an int -----------------------

def bool_variable_index(x):
    b = True
    y = x[b]
    z = y + x
    return np.sum(z * z)


def bool_constant_index(x):
    y = x[True]
    z = y + x
    return np.sum(z * z)


def test_finding10_bool_constant_index_is_right():
    check_grad(bool_constant_index, [X.copy()])


def test_finding10_bool_variable_index():
    # was a raw ValueError: a bool constant had kind "scalar", taken for an int index
    check_grad(bool_variable_index, [X.copy()])


def bool_parameter_index(x, flag):
    y = x[flag]
    return np.sum((y + x) ** 2)


def bool_not_index(x):
    c = x[0] > 5.0
    y = x[not c]
    return np.sum((y * x) ** 2)


def bool_index_with_int(x):
    A = np.outer(x, x)
    b = True
    y = A[b, 1]             # A[None][:, 1]: shape (1, 3)
    return np.sum(y * A)


@pytest.mark.parametrize("f,extra", [(bool_parameter_index, (True,)), (bool_parameter_index, (np.True_,)),
                                     (bool_parameter_index, (False,)), (bool_not_index, ()),
                                     (bool_index_with_int, ())], ids=lambda v: getattr(v, "__name__", ""))
def test_finding10_bool_indices_of_every_spelling(f, extra):
    check_grad(f, [X.copy(), *extra])


# ---- finding 11 (open, message): numba crashes without a generated line give no user location ------------

def numba_sum_int_dtype(x):
    return np.sum(x * 3.0, dtype=int) * x[0]


def test_finding11_numba_internal_crash_names_the_line():
    _numba()
    with pytest.raises(rg.BackendError) as err:
        rg.differentiate(numba_sum_int_dtype, backend="numba").grad(X.copy())
    # was: no filename/lineno (a Numba-internal AttributeError names no generated line in its message)
    assert err.value.lineno == numba_sum_int_dtype.__code__.co_firstlineno + 1
    assert err.value.filename == __file__


# ---- regression guards: hostile cases that behave correctly ------------------------------------------------

def _inner_copy(A, x):
    B = A.copy()
    B[0] = x[0] * 2.0
    return B


def cast_in_helper_loop(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(_inner_copy(np.arange(3), x) * x[i])
    return s


@pytest.mark.parametrize("remat", [None, "recompute", "checkpoint"])
def test_cast_in_a_helper_in_a_loop_names_the_helper_line(remat):
    mode = rg.Checkpoint(snapshots=2) if remat == "checkpoint" else remat
    with pytest.raises(rg.CastError) as err:
        rg.differentiate(cast_in_helper_loop, remat=mode).grad(X.copy())
    e = err.value
    assert os.path.basename(e.filename) == "test_review_main.py" and "B[0] = x[0] * 2.0" in e.source_line


def copyto_int(x):
    A = np.zeros(3, dtype=int)
    np.copyto(A, x * 2.5)
    return np.sum(A * x)


def mask_write_int(x):
    A = np.zeros(3, dtype=int)
    A[x > 0.5] = x[x > 0.5] * 2.5
    return np.sum(A * x)


def zeros_like_int_argument(x, idx):
    A = np.zeros_like(idx)
    A[0] = x[0] * 2.5
    return np.sum(A * x)


def branch_rebound_to_int(x, flag):
    A = np.zeros(3)
    if flag:
        A = np.arange(3)
    A[0] = x[0] * 2.5
    return np.sum(A * x)


def rint_stays_float(x):
    A = np.rint(x)
    A[0] = x[1] * 2.5
    return np.sum(A * x)


def test_integer_targets_through_other_spellings_are_refused():
    for f, args in [(copyto_int, [X]), (mask_write_int, [X]), (zeros_like_int_argument, [X, np.arange(3)]),
                    (branch_rebound_to_int, [X, True])]:
        with pytest.raises(rg.CastError):
            rg.differentiate(f).grad(*[np.copy(a) for a in args])
    check_grad(branch_rebound_to_int, [X.copy(), False])
    check_grad(rint_stays_float, [X.copy()])


def repeated_index_in_loop(x, idx):
    y = np.zeros(3)
    s = 0.0
    for i in range(2):
        y[idx] = x[i] * x[:2]
        s = s + np.sum(y * y)
    return s


def test_jvp_of_a_repeated_index_write_is_exact():
    # the last write wins in the tangent as in the primal: forward mode needs no refusal here
    for idx in (np.array([0, 0]), np.array([0, -3])):
        _, t = rg.jvp(repeated_index_in_loop, (X.copy(), idx), (V, None))
        np.testing.assert_allclose(t, _directional(repeated_index_in_loop, [X, idx], V), rtol=1e-6)


def writes_its_argument(x):
    x[0] = 2.0 * x[1]
    return np.sin(x) * x[2]


def test_jacobians_of_a_function_writing_its_argument():
    x = X.copy()
    ref = np.stack([numerical_grad(lambda v, i=i: writes_its_argument(v)[i], [X], 0) for i in range(3)])
    np.testing.assert_allclose(rg.jacfwd(writes_its_argument)(x), ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(rg.jacrev(writes_its_argument)(x), ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(x, X)


def keepdims_negative_axis(x):
    X2 = np.outer(x, x + 1.0)
    return np.sum((X2 - np.max(X2, axis=-1, keepdims=True)) ** 2)


def ellipsis_and_none(x):
    X2 = np.outer(x, x + 1.0)
    return np.sum((X2[..., None, 0] + X2) ** 2)


def size1_and_size0_axes(x):
    X2 = np.outer(x, x + 1.0)
    e = X2[:, 3:]
    return np.sum((X2[:, :1] + X2[1:2]) * X2) + np.sum(np.sum(e, axis=1, keepdims=True) + X2)


def loop_over_rows(x):
    X2 = np.outer(x, x + 1.0)
    s = 0.0
    for row in X2:
        s = s + row
    return np.sum(s * x)


def zero_d_array(x):
    a = np.array(x[0] * 2.0)
    return np.sum((a * x) ** 2)


@pytest.mark.parametrize("f", [keepdims_negative_axis, ellipsis_and_none, size1_and_size0_axes, loop_over_rows,
                               zero_d_array], ids=lambda f: f.__name__)
def test_ranks_of_hostile_shapes(f):
    check_grad(f, [X.copy()])
    _, t = rg.jvp(f, (X.copy(),), (V,))
    np.testing.assert_allclose(t, _directional(f, [X], V), rtol=1e-6, atol=1e-8)
