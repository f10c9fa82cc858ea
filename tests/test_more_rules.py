"""Finite-difference checks of the rules not covered elsewhere (ufunc spellings, less common functions,
methods), so that every registered rule is exercised."""
import math

import numpy as np
import pytest

from fd import check_grad

try:
    from scipy import special
except ImportError:  # pragma: no cover - scipy is a test dependency
    special = None

# every finite-difference check here runs on each backend (conftest.py: fd_backend)
pytestmark = pytest.mark.usefixtures("fd_backend")

R = np.random.default_rng(7)


def ufunc_spellings(a, b):
    return np.sum(np.add(a, b) * np.subtract(a, b) + np.multiply(a, b) / np.divide(b, 2.0)
                  + np.true_divide(a, b) - np.negative(a) * np.positive(b) + np.mod(a, 0.7) * np.remainder(b, 0.9))


def inverse_hyperbolic(x):
    return np.sum(np.arcsinh(x) + np.arccosh(1.5 + x * x) + np.arctanh(0.5 * np.tanh(x)))


def math_inverse_hyperbolic(x):
    return math.asinh(x) + math.acosh(1.5 + x * x) + math.atanh(0.4 * x)


def powers_and_angles(x):
    return np.sum(np.cbrt(x) + np.exp2(x) + np.reciprocal(x) + np.deg2rad(x) * np.rad2deg(x)
                  + np.radians(x) + np.degrees(x))


def math_angles(x):
    return math.radians(x) * math.degrees(x) + math.hypot(x, 2.0 * x)


def binary_special(a, b):
    return np.sum(np.hypot(a, b) + np.logaddexp(a, b) + np.sinc(a))


def layout(A):
    return np.sum(np.flip(A, 0) * np.arange(6.0).reshape(2, 3)) + np.sum(np.moveaxis(A[None], 0, 2) ** 2) \
        + np.sum(np.swapaxes(A, 0, 1) ** 3) + np.sum(np.atleast_2d(A[0]) * 2.0) + np.sum(np.atleast_1d(A[1, 1]))


def layout_methods(A):
    return np.sum(A.swapaxes(0, 1) ** 2) + np.sum(A.flatten() ** 3) + np.sum(A.cumsum(axis=1) ** 2)


def cumulative(x):
    return np.sum(np.cumsum(x) ** 2) + np.sum(np.cumsum(x.reshape(2, 3), axis=0) ** 3)


def vector_products(a, b):
    return np.vdot(a, b) ** 2


CASES = [
    (ufunc_spellings, lambda: (R.uniform(1.0, 2.0, 4), R.uniform(1.0, 2.0, 4)), (0, 1)),
    (inverse_hyperbolic, lambda: (R.uniform(-0.8, 0.8, 5),), 0),
    (math_inverse_hyperbolic, lambda: (0.6,), 0),
    (powers_and_angles, lambda: (R.uniform(0.5, 1.5, 4),), 0),
    (math_angles, lambda: (0.7,), 0),
    (binary_special, lambda: (R.uniform(0.2, 1.2, 4), R.uniform(-1.0, 1.0, 4)), (0, 1)),
    (layout, lambda: (R.normal(size=(2, 3)),), 0),
    (layout_methods, lambda: (R.normal(size=(2, 3)),), 0),
    (cumulative, lambda: (R.normal(size=6),), 0),
    (vector_products, lambda: (R.normal(size=(2, 2)), R.normal(size=(2, 2))), (0, 1)),
]


@pytest.mark.parametrize("f,make_args,wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_rule_against_finite_differences(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


def reversed_loops(x, v):
    s = x
    for i in reversed(range(4)):
        s = s * x + v[i]
    for i in reversed(range(1, 4)):
        s = s + v[i] * s
    for i in reversed(range(0, 4, 2)):
        s = np.sin(s) * v[i]
    return s


def test_reversed_range_loops():
    check_grad(reversed_loops, (0.7, R.normal(size=4)), (0, 1))


def around_times_x(x):
    return np.sum(np.around(x, 1) * x) + np.sum(x.round(2) * x ** 2)


def test_around_and_the_round_method_are_piecewise_constant():
    # np.around is its own function in NumPy 2 (not np.round), and `x.round()` a method: derivative 0
    check_grad(around_times_x, [np.array([0.312, -1.77, 2.5])])



def lse_keepdims(x):
    return special.logsumexp(x, keepdims=True) * 2.0


def lse_keepdims_weighted(x, b):
    return special.logsumexp(x, b=b, keepdims=True)


@pytest.mark.skipif(special is None, reason="scipy is not installed")
def test_logsumexp_keepdims_of_0d_operands():
    # SciPy gives shape (1,) here (it works on np.atleast_1d): the adjoint and the tangent go back to 0-d
    import fd
    import retrograd as rg
    from forward_check import check_jvp
    a, b = np.array(0.3), np.array(0.7)
    if fd.BACKEND == "numba":      # numba_softmax refuses the (1,)-shaped result of 0-d operands, clearly
        with pytest.raises(rg.BackendError):
            rg.differentiate(lse_keepdims, backend="numba").vjp(a)[1](np.ones(1))
        return
    fd.check_vjp(lse_keepdims, [a])
    fd.check_vjp(lse_keepdims_weighted, [a, b])
    check_jvp(lse_keepdims, [a], wrt=(0,), seed=0, backend="python")
    check_jvp(lse_keepdims_weighted, [a, b], wrt=(0, 1), seed=1, backend="python")
