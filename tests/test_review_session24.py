"""Review session 24's repros, each fixed: a dict keyed by None read as new axes, numba's argsort of int64
above 2**53 and its float32 sort and median, the median over an empty axis on both backends.  (The loop
variable rebound in its body and the int tape of a re-run loop are test_constructs' LOOP_CASES, run on both
backends and every remat setting; overwrite_input=True is refused: test_calls_edges.)"""
import warnings

import numpy as np
import pytest

import retrograd as rg


def _numba():
    pytest.importorskip("numba")


# ---- numba sorting / order statistics ----------------------------------------------------------------

def gather_by_int_argsort(x, m):
    idx = np.argsort(m, axis=None, kind="stable")
    return np.sum(x[idx] * np.arange(x.shape[0]))


def int_argsort_rows(x, m):
    return np.sum(x) * np.argsort(m, axis=-1)


def sort_rows_f32(x):
    return np.sort(x, axis=0)


def median_f32(x):
    return np.median(x, axis=0)


def test_numba_argsort_of_large_int64_keeps_numpys_order():
    # argsort_along casts the operand to float64 (numba_sorting._along / numba_gradient._rows_source):
    # 2**53 + 1 and 2**53 become equal, so the order (and the gradient through it) is silently wrong:
    # plain call 2.0 (NumPy 1.0), grad [0, 1] (NumPy/python [1, 0])
    _numba()
    x = np.array([1.0, 2.0])
    m = np.array([2**53 + 1, 2**53], dtype=np.int64)
    d = rg.differentiate(gather_by_int_argsort, wrt=0, backend="numba")
    assert d(x, m) == gather_by_int_argsort(x, m)
    np.testing.assert_array_equal(d.grad(x, m), [1.0, 0.0])
    m2 = np.array([[2**53 + 1, 2**53], [5, 4]], dtype=np.int64)
    np.testing.assert_array_equal(rg.differentiate(int_argsort_rows, wrt=0, backend="numba")(x, m2),
                                  int_argsort_rows(x, m2))


@pytest.mark.parametrize("f", [sort_rows_f32, median_f32])
def test_numba_sort_and_median_along_an_axis_keep_float32(f):
    # sort_along/_sort_rows and quantile_along build float64 results: the plain call of a float32 function
    # returns float64 (NumPy: float32)
    _numba()
    x = np.array([[0.1, 0.7], [0.3, -0.2], [0.2, 0.5]], dtype=np.float32)
    v = rg.differentiate(f, wrt=0, backend="numba")(x)
    assert np.asarray(v).dtype == f(x).dtype


def median_rows(x):
    return np.sum(np.median(x, axis=-1, keepdims=True) * x)


def median_cols(x):
    return np.sum(np.median(x, axis=0) ** 2)


def test_numba_median_over_an_empty_axis_is_nan_like_numpy():
    # NumPy: nan (a RuntimeWarning); numba: Numba's np.quantile asserts in _select_two (AssertionError), reported
    # as BackendError "Numba cannot compile the generated code: " with an empty detail
    _numba()
    x = np.zeros((0, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = median_cols(x)
    v = rg.differentiate(median_cols, wrt=0, backend="numba")(x)
    assert np.isnan(v) and np.isnan(ref)


@pytest.mark.parametrize("f,shape", [(median_rows, (0, 5)), (median_rows, (4, 0)),
                                     (median_cols, (0, 5)), (median_cols, (4, 0))])
def test_python_median_gradient_over_empty_axes_is_no_raw_error(f, shape):
    # statistics.quantile_grad: raw IndexError (`order[..., k]`) or raw ValueError (`_last`'s reshape of a
    # size-0 array to (0, -1)) from retrograd's rule; should be a zero (or NaN) gradient of x's shape, or a
    # RetrogradError naming the line
    x = np.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            g = rg.differentiate(f, wrt=0).grad(x)
        except rg.RetrogradError:
            return
    assert g.shape == x.shape


# ---- 867a4cf: a dict read with the key None / Ellipsis / () is taken for a new-axes read ------------------

def dict_key_none(x):
    d = {None: x * 2.0, "a": x}
    return np.sum(d[None] * d["a"])


def dict_key_none_arg(d):
    return np.sum(d[None] * d["a"])


def dict_key_none_nested(x):
    t = ({None: x * 3.0}, x)
    return np.sum(t[0][None] * t[1])


def dict_key_none_scalars(x):
    d = {None: x[0] * 2.0, "a": x[1]}
    return d[None] * d["a"]


def dict_key_ellipsis(x):
    d = {Ellipsis: x * 2.0}
    return np.sum(d[...] * x)


def dict_key_empty_tuple(x):
    d = {(): x * 2.0}
    return np.sum(d[()] * x)


@pytest.mark.parametrize("f,arg", [
    (dict_key_none, lambda x: x), (dict_key_none_arg, lambda x: {None: x, "a": x * 2.0}),
    (dict_key_none_nested, lambda x: x), (dict_key_none_scalars, lambda x: x),
    (dict_key_ellipsis, lambda x: x), (dict_key_empty_tuple, lambda x: x)])
def test_dict_keyed_by_none_is_not_a_new_axes_read(f, arg):
    # since 867a4cf `_new_axes_only` sees `d[None]` (and `d[...]`, `d[()]`) of a dict as a new-axes read: the
    # cotangent is `np.reshape(g, np.shape(d))` -> raw ValueError "cannot reshape array of size 3 into shape
    # ()" (AttributeError 'numpy.float64' object has no attribute 'items' for scalars); b1dfb86 got them right
    from fd import check_grad
    check_grad(f, (arg(np.array([0.3, -0.2, 0.9])),), 0)
