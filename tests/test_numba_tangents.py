"""jvp on backend="numba" through the tangent helpers that backends/numba_tangents.py lowers (np.linalg.norm,
solve, pinv, np.sort/np.partition, np.cumprod, np.diff, max/min of 3-D arrays, logsumexp, np.pad), on hostile
inputs: size-1 and size-0 axes, negative axes, ties, zeros, nearly singular matrices.

Where the function is smooth at the draw, check_jvp compares the numba tangent with directional central
differences, the python backend's and the vjp identity.  At a tie or a zero (a kink: differences see one
side), the numba tangent must equal the python backend's convention (to rounding)."""
import numpy as np
import pytest

import retrograd as rg
from forward_check import check_jvp

try:
    from scipy import special
except ImportError:          # pragma: no cover - scipy is optional
    special = None

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _cache_dir(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def same_as_python(f, args, seed=0, rtol=1e-10, atol=1e-12):
    """The numba jvp of f along a random direction equals the python backend's (values and tangents)."""
    rng = np.random.default_rng(seed)
    tangents = tuple(rng.standard_normal(np.shape(a)) if np.ndim(a) else float(rng.standard_normal())
                     for a in args)
    out_nb, t_nb = rg.jvp(f, tuple(a.copy() for a in args), tangents, backend="numba")
    out_py, t_py = rg.jvp(f, tuple(a.copy() for a in args), tangents, backend="python")
    np.testing.assert_allclose(out_nb, out_py, rtol=rtol, atol=atol)
    np.testing.assert_allclose(t_nb, t_py, rtol=rtol, atol=atol)
    assert np.shape(t_nb) == np.shape(out_py)
    return t_nb


def norms(x):
    """Vector norms of each row (negative axis, keepdims), a matrix norm over a negative axis pair."""
    return (np.linalg.norm(x, axis=-1, keepdims=True) + np.linalg.norm(x, ord=1, axis=(-2, -1))
            + np.linalg.norm(x, np.inf, axis=-1, keepdims=True) + np.linalg.norm(x, 3, axis=-1, keepdims=True))


def norm_2(x):
    return np.linalg.norm(x)


def norm_nuc_3d(x):
    return np.linalg.norm(x, ord="nuc", axis=(0, 2))


def sorts(x):
    """np.sort along the last axis (Numba's takes no axis=; its np.partition arranges the entries other
    than the kth differently from NumPy's, so the primal differs: not tested here)."""
    return np.sort(x) * np.sort(x * x)


def cumprods(x):
    return np.cumprod(x) * 2.0 + x.cumprod()        # Numba's np.cumprod takes no axis= (the flat product)


def diffs(x):
    """n = 2, n = 0 and a size-1 axis (Numba's np.diff takes no prepend=/append=)."""
    return np.sum(np.diff(x, 2) ** 2) + np.sum(np.diff(x, n=0) * x) + np.sum(np.diff(x[:1]) ** 2)


def solves(a, b, c):
    return np.sum(np.linalg.solve(a, b) ** 2) + np.sum(np.linalg.solve(a, c) * c)


def pinvs(a):
    return np.linalg.pinv(a)


def max3(x):
    return np.max(x, axis=(0, 2)) + np.min(x, axis=-1, keepdims=True).sum()


def lse(x, b):
    return special.logsumexp(x, axis=-1, b=b) + special.logsumexp(x, axis=(0, 1), keepdims=True).sum()


def pads(x, c):
    return (np.sum(np.pad(x, ((1, 0), (0, 2))) ** 2) + np.sum(np.pad(x, 1, constant_values=c) ** 2)
            + np.sum(np.pad(x, 2, mode="reflect") * np.pad(x, 1, mode="edge")[:, :1].sum()))


R = np.random.default_rng(11)


@pytest.mark.parametrize("f,args,wrt", [
    (norms, (R.standard_normal((2, 1, 3)),), 0),
    (norms, (R.standard_normal((1, 1, 1)),), 0),                    # size-1 axes
    (norm_2, (R.standard_normal((3, 2)),), 0),
    (norm_nuc_3d, (R.standard_normal((3, 2, 4)),), 0),
    (sorts, (R.standard_normal((3, 4)),), 0),
    (sorts, (R.standard_normal((1, 1)),), 0),
    (cumprods, (np.array([[0.5, 0.0, -1.2], [2.0, 1.5, 0.0]]),), 0),  # zeros: the recurrence is exact there
    (cumprods, (R.standard_normal((1, 4)),), 0),
    (diffs, (R.standard_normal(5),), 0),
    (solves, (np.eye(3) + 0.3 * R.standard_normal((3, 3)), R.standard_normal(3), R.standard_normal((3, 2))), (0, 1, 2)),
    (solves, (np.eye(3)[None] + 0.3 * R.standard_normal((2, 3, 3)), R.standard_normal(3),
              R.standard_normal((2, 3, 1))), (0, 1, 2)),                 # stacks, a size-1 column
    (pinvs, (R.standard_normal((3, 2)),), 0),
    (pinvs, (R.standard_normal((2, 2, 4)),), 0),
    (max3, (R.permutation(24).reshape(2, 3, 4) / 7.0,), 0),
    (lse, (R.standard_normal((2, 3)), R.uniform(0.5, 2.0, (3,))), (0, 1)),
    (pads, (R.standard_normal((3, 4)), 0.7), (0, 1)),
], ids=["norms", "norms_size1", "norm_2", "norm_nuc_3d", "sorts", "sorts_size1", "cumprod_zeros",
        "cumprod_size1", "diffs", "solves", "solves_stacked", "pinv", "pinv_stacked", "max3", "lse", "pads"])
def test_jvp_against_differences_and_python(f, args, wrt):
    if f is lse and special is None:
        pytest.skip("scipy is not installed")
    check_jvp(f, args, wrt, seed=5, backend="numba")


# ---- kinks: the numba tangent is the python backend's convention -------------------------------------
def sort_last(x):
    return np.sort(x)


def test_sort_ties_follow_the_stable_ranks():
    x = np.array([[1.0, 0.5, 1.0, 0.5], [2.0, 2.0, 2.0, -1.0]])
    same_as_python(sorts, (x,), seed=1)
    t = same_as_python(sort_last, (x,), seed=1)
    v = np.random.default_rng(1).standard_normal(x.shape)
    # each sorted entry takes the tangent of the entry of the same stable rank (ties in their order)
    np.testing.assert_array_equal(t, np.stack([v[0][[1, 3, 0, 2]], v[1][[3, 0, 1, 2]]]))


def test_norms_at_zero_are_the_python_convention():
    x = np.zeros((2, 1, 3))
    x[1, 0, 0] = 2.0            # one row zero, one not
    t = same_as_python(norms, (x,), seed=2)
    assert np.all(np.isfinite(t))
    t0 = same_as_python(norm_2, (np.zeros((3, 2)),), seed=3)
    assert t0 == 0.0              # the 2-norm's tangent at 0 is 0 (its subgradient convention), not NaN


def test_nearly_singular_solve_and_pinv_agree_with_python():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0 + 1e-7], [1.0, 0.0, 1.0]])
    same_as_python(solves, (a, np.array([1.0, -1.0, 0.5]), np.ones((3, 2))), seed=4, rtol=1e-6, atol=1e-6)
    same_as_python(pinvs, (np.array([[1.0, 1.0], [1.0, 1.0 + 1e-6], [0.0, 1e-3]]),), seed=4, rtol=1e-6, atol=1e-6)


def test_max_ties_of_a_3d_array_split_the_tangent():
    x = np.ones((2, 2, 3))
    x[0, 1, 2] = 3.0
    t = same_as_python(max3, (x,), seed=5)
    assert np.shape(t) == (2,)


def test_size_0_axes():
    same_as_python(cumprods, (np.zeros((0, 3)),))
    same_as_python(sorts, (np.zeros((2, 0)),))
    same_as_python(norm_2, (np.zeros((0, 2)),))
