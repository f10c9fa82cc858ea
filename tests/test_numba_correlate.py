"""np.correlate / np.convolve on numba: Numba's own calls with every mode against NumPy (inputs of every
pair of lengths 1..5 either way round, where NumPy swaps the operands; integer and complex operands,
where it conjugates), the cotangent helpers correlate_grad / convolve_grad (numba_contractions) against
the python ones, and the vjp end to end against the python backend."""
import numpy as np
import pytest

pytest.importorskip("numba")

import numba  # noqa: E402

import retrograd as rg  # noqa: E402
from retrograd.backends import numba_overloads  # noqa: E402,F401  (registers the overloads)
from retrograd.reverse.rules.contractions import convolve_grad, correlate_grad  # noqa: E402

MODES = ("valid", "same", "full")
LENGTHS = [(n, p) for n in range(1, 6) for p in range(1, 6)]
R = np.random.default_rng(11)


def _pair(n, p, kind):
    a, v = R.standard_normal(n), R.standard_normal(p)
    if kind == "int":
        return (5 * a).astype(np.int64), (5 * v).astype(np.int64)
    if kind == "complex":
        return a + 1j * R.standard_normal(n), v - 1j * R.standard_normal(p)
    return a, v


@pytest.mark.parametrize("kind", ["float", "int", "complex"])
def test_numba_correlate_and_convolve_like_numpy(kind):
    f = numba.njit(lambda a, v, m: (np.correlate(a, v, m), np.convolve(a, v, m)))
    for n, p in LENGTHS:
        a, v = _pair(n, p, kind)
        for mode in MODES:
            corr, conv = f(a, v, mode)
            for got, expected in ((corr, np.correlate(a, v, mode)), (conv, np.convolve(a, v, mode))):
                assert got.dtype == expected.dtype and got.shape == expected.shape
                np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("helper", [correlate_grad, convolve_grad], ids=["correlate_grad", "convolve_grad"])
@pytest.mark.parametrize("mode", MODES)
def test_cotangent_helpers_like_python(helper, mode):
    """Both operands' cotangents, float and integer operands, every pair of lengths."""
    ref = np.correlate if helper is correlate_grad else np.convolve
    fs = [numba.njit(eval(f"lambda g, a, v: helper(g, a, v, {mode!r}, {k})", {"helper": helper})) for k in (0, 1)]
    for n, p in LENGTHS:
        for kind in ("float", "int"):
            a, v = _pair(n, p, kind)
            g = R.standard_normal(ref(a, v, mode).size)
            for k, f in enumerate(fs):
                got, expected = f(g, a, v), helper(g, a, v, mode, k)
                assert got.shape == expected.shape
                np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


def test_correlate_grad_refuses_complex():
    """np.correlate conjugates a complex v: its cotangents are not lowered (a typing error, never numbers)."""
    f = numba.njit(lambda g, a, v: correlate_grad(g, a, v, "full", 0))
    with pytest.raises(numba.core.errors.TypingError):
        f(np.ones(4), np.ones(2), np.ones(3) + 1j)


def correlations(x, y):
    return (np.correlate(x, y, "same") * 2.0 + np.sum(np.correlate(y, x, mode="full") ** 2)
            + np.sum(np.correlate(x, y) * np.correlate(x, y, "valid")))


@pytest.mark.parametrize("n,p", [(2, 5), (4, 3), (1, 4), (3, 1), (1, 1), (4, 4)])
def test_correlate_vjp_like_python(n, p):
    """An even shorter first operand ('same' is offset there), length-1 operands, equal lengths."""
    x, y = R.standard_normal(n), R.standard_normal(p)
    cot = R.standard_normal(np.correlate(x, y, "same").shape)
    results = {}
    for backend in ("python", "numba"):
        out, pullback = rg.differentiate(correlations, wrt=(0, 1), backend=backend).vjp(x.copy(), y.copy())
        results[backend] = (out, pullback(cot))
    np.testing.assert_allclose(results["numba"][0], results["python"][0], rtol=1e-12)
    for got, expected in zip(results["numba"][1], results["python"][1]):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
