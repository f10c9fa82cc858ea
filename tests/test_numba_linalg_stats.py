"""The numba lowerings of np.linalg (numba_linalg, numba_decompositions, numba_norm) and of the statistics
helpers (numba_quantiles) on hostile inputs: stacks, size-1 matrices, keyword forms, negative axes,
keepdims, ties.  Each program runs on numba and is checked by fd.check_vjp (the value against the plain
call, the vjp against central differences, the caller's arrays unchanged) and against the python backend."""
import numpy as np
import pytest

import retrograd as rg

import fd

pytest.importorskip("numba")
pytestmark = pytest.mark.skipif("numba" not in __import__("os").environ.get("RETROGRAD_TEST_BACKENDS", "python,numba"),
                                reason="numba is not in RETROGRAD_TEST_BACKENDS")

R = np.random.default_rng(7)

# each case compiles a primal and an adjoint (5-15 s): CI runs every third, RETROGRAD_NUMBA_FULL=1 all of them
FULL = bool(__import__("os").environ.get("RETROGRAD_NUMBA_FULL"))


def _sample(cases):
    return list(range(len(cases))) if FULL else list(range(len(cases)))[::3]


def wellcond(*shape):
    return np.eye(shape[-1]) + 0.3 * R.standard_normal(shape)


def spd(*shape):
    m = R.standard_normal(shape)
    return m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1]) + np.triu(R.standard_normal(shape), 1)


def weights(r):
    return np.arange(1.0, np.size(r) + 1).reshape(np.shape(r))


# ---- linalg ------------------------------------------------------------------------------------------------
def det_stack(x):
    return np.sum(np.linalg.det(x) * np.array([1.0, -2.0]))


def det_1x1(x):
    return np.linalg.det(x) * 3.0


def inv_stack(x):
    return np.sum(np.linalg.inv(x) * weights(x))


def slogdet_stack(x):
    s, l = np.linalg.slogdet(x)
    return np.sum(l * np.array([1.0, 3.0]))


def solve_stack_vector(a, b):
    return np.sum(np.linalg.solve(a, b) * np.array([1.0, 2.0, 3.0]))


def solve_broadcast(a, b):
    return np.sum(np.linalg.solve(a, b) * weights(np.linalg.solve(a, b)))


def pinv_wide_stack(x):
    return np.sum(np.linalg.pinv(x) * weights(np.linalg.pinv(x)))


def cholesky_upper_stack(x):
    u = np.linalg.cholesky(x, upper=True)
    return np.sum(u * weights(u))


def cholesky_1x1(x):
    return np.sum(np.linalg.cholesky(x))


def qr_r_stack(x):
    r = np.linalg.qr(x, mode="r")
    return np.sum(r * weights(r))


def eigh_upper_stack(x):
    w, v = np.linalg.eigh(x, UPLO="U")
    return np.sum(w * weights(w)) + np.sum(v * v * weights(v))


def eigvalsh_stack(x):
    return np.sum(np.linalg.eigvalsh(x, "U") * np.array([1.0, 2.0, 4.0]))


def svd_values_stack(x):
    return np.sum(np.linalg.svd(x, compute_uv=False) * np.array([1.0, 3.0]))


def svd_reduced_stack(x):
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return np.sum(s * s * np.array([1.0, 0.5])) + np.sum(u[..., :2, 0] * vh[..., 0, :] * np.array([1.0, -2.0]))


def eig_values(x):
    return np.sum(np.linalg.eigvals(x) * np.array([1.0, 2.0, 3.0]))


def realeig(*shape):
    n = shape[-1]
    v = np.eye(n) + 0.3 * R.standard_normal(shape)
    w = np.arange(n) * 0.7 + 0.5
    return v @ (w[..., :, None] * np.linalg.inv(v))


LINALG = [
    (det_stack, [wellcond(2, 3, 3)]), (det_1x1, [np.array([[1.7]])]), (inv_stack, [wellcond(2, 2, 2)]),
    (slogdet_stack, [wellcond(2, 3, 3)]),
    (solve_stack_vector, [wellcond(2, 3, 3), R.standard_normal(3)]),
    (solve_broadcast, [wellcond(3, 3), R.standard_normal((2, 3, 2))]),
    (solve_broadcast, [wellcond(2, 3, 3), R.standard_normal((1, 3, 1))]),
    (pinv_wide_stack, [R.standard_normal((2, 2, 3))]),
    (cholesky_upper_stack, [spd(2, 3, 3)]), (cholesky_1x1, [np.array([[2.5]])]),
    (qr_r_stack, [R.standard_normal((2, 3, 2))]),
    (eigh_upper_stack, [R.standard_normal((2, 3, 3))]), (eigvalsh_stack, [R.standard_normal((2, 3, 3))]),
    (svd_values_stack, [R.standard_normal((2, 2, 3))]), (svd_reduced_stack, [R.standard_normal((2, 3, 2))]),
    (eig_values, [realeig(3, 3)]),
]


def _both(f, args, wrt):
    """check_vjp on numba, and the same cotangent as the python backend's."""
    wrt = tuple(range(len(args))) if wrt is None else wrt
    got = fd.check_vjp(f, args, wrt=wrt, rtol=1e-5, atol=1e-7)
    old = fd.BACKEND
    fd.BACKEND = "python"
    try:
        want = fd.check_vjp(f, args, wrt=wrt, rtol=1e-5, atol=1e-7)
    finally:
        fd.BACKEND = old
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("k", _sample(LINALG), ids=lambda k: f"{LINALG[k][0].__name__}-{k}")
def test_linalg_on_numba(k, monkeypatch):
    f, args = LINALG[k]
    monkeypatch.setattr(fd, "BACKEND", "numba")
    _both(f, args, None)


def eig_complex(x):
    return np.sum(np.linalg.eigvals(x))


def qr_wide(x):
    q, r = np.linalg.qr(x)
    return np.sum(q) + np.sum(r)


def test_refusals_on_numba_name_the_problem():
    """Complex eigenvalues and a wide matrix's qr: the rules' errors, not Numba's ValueError."""
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(rg.UsageError, match="complex"):
        rg.differentiate(eig_complex, backend="numba").grad(rot)
    with pytest.raises(rg.MissingRuleError, match="more columns than rows"):
        rg.differentiate(qr_wide, backend="numba").grad(R.standard_normal((2, 3)))


def eigh_repeated(x):
    w, v = np.linalg.eigh(x)
    return np.sum(v * weights(v))


def test_repeated_eigenvalues_are_not_finite_on_numba():
    """The python rule's convention: eigenvectors at a repeated eigenvalue have no derivative (inf/nan)."""
    with np.errstate(all="ignore"):
        g = rg.differentiate(eigh_repeated, backend="numba").grad(np.eye(3))
        want = rg.differentiate(eigh_repeated).grad(np.eye(3))
    assert not np.isfinite(g).all()
    np.testing.assert_array_equal(np.isfinite(g), np.isfinite(want))


# ---- norm ----------------------------------------------------------------------------------------------------
def norm_neg_axis_keep(x):
    return np.sum(np.linalg.norm(x, 3, axis=-2, keepdims=True) * weights(np.linalg.norm(x, 3, axis=-2, keepdims=True)))


def norm_fro_stack(x):
    return np.sum(np.linalg.norm(x, "fro", axis=(1, 2)) * np.array([1.0, 2.0]))


def norm_inf_matrix_pair(x):
    return np.sum(np.linalg.norm(x, -np.inf, axis=(2, 0)))


def norm_of_zero_row(x):
    return np.sum(np.linalg.norm(x, axis=1))


def norm_all_3d(x):
    return np.linalg.norm(x)


NORMS = [(norm_neg_axis_keep, [R.uniform(0.2, 2.0, (2, 3, 2))]),
         (norm_fro_stack, [R.standard_normal((2, 2, 3))]),
         (norm_inf_matrix_pair, [np.arange(1.0, 13.0).reshape(2, 3, 2) * np.array([1.0, -1.1])]),
         (norm_all_3d, [R.standard_normal((2, 1, 3))])]


@pytest.mark.parametrize("k", _sample(NORMS), ids=lambda k: f"{NORMS[k][0].__name__}-{k}")
def test_norm_on_numba(k, monkeypatch):
    f, args = NORMS[k]
    monkeypatch.setattr(fd, "BACKEND", "numba")
    _both(f, args, None)


def test_norm_at_zero_is_zero_on_numba():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    g = rg.differentiate(norm_of_zero_row, backend="numba").grad(x)
    np.testing.assert_array_equal(g[0], [0.0, 0.0])
    np.testing.assert_allclose(g[1], [0.6, 0.8], rtol=1e-15)


# ---- statistics --------------------------------------------------------------------------------------------------
def median_ties(x):
    return np.median(x)


def quantile_vector_q(x, q):
    return np.sum(np.quantile(x, q) * np.array([1.0, 2.0]))


def percentile_end(x):
    return np.percentile(x, 100.0) + np.percentile(x, 0.0)


def nanvar_ddof(x):
    x = np.where(x > 1.2, np.nan, x)
    return np.nanvar(x, ddof=2)


def nanstd_one_left(x):
    x = np.where(x > 1.2, np.nan, x)
    return np.nanstd(x)


def average_weights(x, w):
    return np.average(x, weights=w)


def trapezoid_x(y, x):
    return np.trapezoid(y, x=x)


STATS = [(median_ties, [np.array([3.0, 3.0, 1.0, 0.5, 2.0])]),
         (quantile_vector_q, [np.array([0.3, -1.0, 2.0, 0.7]), np.array([0.25, 0.9])]),
         (percentile_end, [np.array([0.3, -1.0, 2.0])]),
         (nanvar_ddof, [np.array([0.1, 1.5, -0.4, 0.9])]),
         (nanstd_one_left, [np.array([1.5, 0.3, 2.0])]),
         (average_weights, [np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]]), np.array([[1.0, 2.0, 0.5], [0.3, 0.3, 1.0]])]),
         (trapezoid_x, [np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]]), np.array([0.0, 0.4, 1.5])])]


@pytest.mark.parametrize("k", _sample(STATS), ids=lambda k: f"{STATS[k][0].__name__}-{k}")
def test_statistics_on_numba(k, monkeypatch):
    f, args = STATS[k]
    monkeypatch.setattr(fd, "BACKEND", "numba")
    _both(f, args, None)
