"""Forward mode at the edges where a rule has a convention (ties, kinks, zeros, repeated eigenvalues): the
tangent must be the transpose of the cotangent there too, <c, J v> == <J^T c, v>, for hypothesis-drawn
values that are full of ties (small integers), zeros and repeated values.  Where the function is smooth at
the edge (cumprod at zeros) the jvp is also checked against central differences.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import retrograd as rg

from fd import flatten_like, inner
from forward_check import check_jvp


def sort_(x):
    return np.sort(x)


def sort_axis0(x):
    return np.sort(x, axis=0)


def partition_(x):
    return np.partition(x, 1)


def median_(x):
    return np.median(x)


def median_axis(x):
    return np.median(x, axis=-1, keepdims=True)


def quantile_(x):
    return np.quantile(x, 0.3)


def ptp_(x):
    return np.ptp(x, axis=0)


def nanmax_(x):
    x = np.where(x > 1.5, np.nan, x)
    return np.nanmax(x)


def nanmin_(x):
    return np.nanmin(x, axis=-1)


def cumprod_(x):
    return np.cumprod(x, axis=-1)


def norm_inf(x):
    return np.linalg.norm(x, np.inf)


def norm_1(x):
    return np.linalg.norm(x, 1, axis=0)


def eigvalsh_(a):
    return np.linalg.eigvalsh(a)


def eigvalsh_upper(a):
    return np.linalg.eigvalsh(a, UPLO="U")


def svd_values(a):
    return np.linalg.svd(a, compute_uv=False)


def _consistent(f, x, seed):
    """<c, jvp(v)> == <vjp(c), v> for random v, c."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(np.shape(x))
    out, tout = rg.jvp(f, (x,), (v,))
    np.testing.assert_allclose(out, f(x.copy()))
    c = rng.standard_normal(np.shape(out))
    (g,) = rg.differentiate(f, wrt=(0,)).vjp(x.copy())[1](c)
    np.testing.assert_allclose(inner(c, tout), float(np.dot(flatten_like(g, x), np.ravel(v))), rtol=1e-9, atol=1e-10,
                               err_msg=f"jvp and vjp of {f.__name__} disagree at this edge")


TIES = st.lists(st.integers(-2, 2), min_size=6, max_size=6).map(lambda v: np.array(v, dtype=np.float64))


@pytest.mark.parametrize("f", [sort_, partition_, median_, quantile_, nanmax_, norm_inf, cumprod_],
                         ids=lambda f: f.__name__)
@settings(max_examples=8, deadline=None)
@given(x=TIES, seed=st.integers(0, 2 ** 16))
def test_jvp_is_the_transpose_of_vjp_at_ties_1d(f, x, seed):
    if f is nanmax_ and np.all(x > 1.5):
        x[0] = 0.0                 # nanmax of all-NaN is NaN (and warns): not this test's edge
    _consistent(f, x, seed)


@pytest.mark.parametrize("f", [sort_axis0, median_axis, ptp_, nanmin_, norm_1, cumprod_], ids=lambda f: f.__name__)
@settings(max_examples=6, deadline=None)
@given(x=TIES.map(lambda v: v.reshape(2, 3)), seed=st.integers(0, 2 ** 16))
def test_jvp_is_the_transpose_of_vjp_at_ties_2d(f, x, seed):
    _consistent(f, x, seed)


@settings(max_examples=6, deadline=None)
@given(x=TIES.map(lambda v: v.reshape(2, 3)), seed=st.integers(0, 2 ** 16))
def test_cumprod_jvp_at_zeros_matches_differences(x, seed):
    check_jvp(cumprod_, [x], wrt=0, seed=seed)          # a polynomial: smooth at zeros


@pytest.mark.parametrize("f", [eigvalsh_, eigvalsh_upper, svd_values], ids=lambda f: f.__name__)
@pytest.mark.parametrize("case", ["identity", "repeated", "noise"])
def test_jvp_is_the_transpose_of_vjp_at_repeated_eigenvalues(f, case):
    rng = np.random.default_rng(len(case))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    w = {"identity": [1.0, 1.0, 1.0], "repeated": [2.0, 2.0, -1.0], "noise": [0.5, 1.5, 3.0]}[case]
    a = q @ np.diag(w) @ q.T
    a = a + np.triu(rng.standard_normal((3, 3)), 1) * (f is eigvalsh_)      # eigh reads the lower triangle only
    _consistent(f, a, 5)
