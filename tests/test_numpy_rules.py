"""Derivative rules of math / NumPy functions, each checked against central finite differences.

Most functions are checked through ``vjp`` with a random cotangent (which exercises the full
Jacobian of an array-valued function), and a scalar-valued composition is checked through ``grad``.
Inputs are drawn from each function's domain, away from kinks and ties.
"""
import math

import numpy as np
import pytest

from fd import check_grad, check_vjp

# every finite-difference check here runs on each backend (conftest.py: fd_backend)
pytestmark = pytest.mark.usefixtures("fd_backend")


def rng(k=0):
    return np.random.default_rng(7000 + k)


def uniform(low, high, shape=(2, 3), k=0):
    return rng(k).uniform(low, high, size=shape)


def away_from_zero(shape=(2, 3), k=0, low=0.3, high=1.3):
    r = rng(k)
    return r.uniform(low, high, size=shape) * np.where(r.uniform(size=shape) < 0.5, -1.0, 1.0)


def distinct(shape, k=0):
    """Random values whose pairwise gaps are at least 0.1 (no ties for max/min/argmax)."""
    n = int(np.prod(shape))
    r = rng(k)
    vals = (np.arange(n) - n / 2.0) * 0.25 + r.uniform(-0.07, 0.07, size=n)
    return r.permutation(vals).reshape(shape)


def well_conditioned(n, k=0):
    return np.eye(n) + 0.3 * rng(k).standard_normal((n, n))


# ==============================================================================================
# elementwise unary functions (array in, array out)
# ==============================================================================================

def e_sin(x):
    return np.sin(x)


def e_cos(x):
    return np.cos(x)


def e_tan(x):
    return np.tan(x)


def e_arcsin(x):
    return np.arcsin(x)


def e_arccos(x):
    return np.arccos(x)


def e_arctan(x):
    return np.arctan(x)


def e_sinh(x):
    return np.sinh(x)


def e_cosh(x):
    return np.cosh(x)


def e_tanh(x):
    return np.tanh(x)


def e_exp(x):
    return np.exp(x)


def e_expm1(x):
    return np.expm1(x)


def e_log(x):
    return np.log(x)


def e_log1p(x):
    return np.log1p(x)


def e_log2(x):
    return np.log2(x)


def e_log10(x):
    return np.log10(x)


def e_sqrt(x):
    return np.sqrt(x)


def e_square(x):
    return np.square(x)


def e_abs(x):
    return np.abs(x)


def e_builtin_abs(x):
    return abs(x)


def e_sign(x):
    return np.sign(x) * x ** 2


def e_negative(x):
    return -np.exp(-x)


UNARY = [
    (e_sin, (-2.0, 2.0)),
    (e_cos, (-2.0, 2.0)),
    (e_tan, (-1.2, 1.2)),
    (e_arcsin, (-0.9, 0.9)),
    (e_arccos, (-0.9, 0.9)),
    (e_arctan, (-2.0, 2.0)),
    (e_sinh, (-2.0, 2.0)),
    (e_cosh, (-2.0, 2.0)),
    (e_tanh, (-2.0, 2.0)),
    (e_exp, (-2.0, 2.0)),
    (e_expm1, (-2.0, 2.0)),
    (e_log, (0.2, 3.0)),
    (e_log1p, (-0.5, 2.0)),
    (e_log2, (0.2, 3.0)),
    (e_log10, (0.2, 3.0)),
    (e_sqrt, (0.2, 3.0)),
    (e_square, (-2.0, 2.0)),
    (e_abs, None),
    (e_builtin_abs, None),
    (e_sign, None),
    (e_negative, (-1.0, 1.0)),
]


def unary_input(domain, k):
    return away_from_zero(k=k) if domain is None else uniform(*domain, k=k)


@pytest.mark.parametrize("f,domain", UNARY, ids=[u[0].__name__ for u in UNARY])
def test_elementwise_unary_vjp(f, domain):
    check_vjp(f, (unary_input(domain, 1),), 0, seed=11)


# ----------------------------------------------------------------------------------------------
# the same functions inside a scalar loss, through grad
# ----------------------------------------------------------------------------------------------

def loss_of_unary(x, w):
    return np.sum(w * np.sin(x)) + np.sum(np.cos(x) ** 2)


def s_sin(x):
    return np.sum(np.sin(x) * x)


def s_tan(x):
    return np.sum(np.tan(x) ** 2)


def s_arcsin(x):
    return np.sum(np.arcsin(x) * x)


def s_arccos(x):
    return np.sum(np.arccos(x) ** 2)


def s_exp_log(x):
    return np.sum(np.exp(x) * np.log(x) + np.log2(x) - np.log10(x) ** 2 + np.log1p(x) * np.expm1(x))


def s_hyperbolic(x):
    return np.sum(np.sinh(x) * np.cosh(x) - np.tanh(x) ** 3 + np.arctan(x))


def s_sqrt_square(x):
    return np.sum(np.sqrt(x) * np.square(x))


def s_abs_sign(x):
    return np.sum(np.abs(x) ** 3 + np.sign(x) * x)


SCALAR_UNARY = [
    (s_sin, (-2.0, 2.0)),
    (s_tan, (-1.2, 1.2)),
    (s_arcsin, (-0.9, 0.9)),
    (s_arccos, (-0.9, 0.9)),
    (s_exp_log, (0.3, 2.0)),
    (s_hyperbolic, (-2.0, 2.0)),
    (s_sqrt_square, (0.2, 3.0)),
    (s_abs_sign, None),
]


@pytest.mark.parametrize("f,domain", SCALAR_UNARY, ids=[u[0].__name__ for u in SCALAR_UNARY])
def test_elementwise_in_scalar_loss(f, domain):
    check_grad(f, (unary_input(domain, 2),), 0)


# ==============================================================================================
# elementwise binary functions
# ==============================================================================================

def b_arctan2(y, x):
    return np.arctan2(y, x)


def b_maximum(a, b):
    return np.maximum(a, b)


def b_minimum(a, b):
    return np.minimum(a, b)


def b_power(x, y):
    return np.power(x, y)


def b_power_const(x):
    return np.power(x, 3.0) + np.power(x, 2)


def b_clip(x):
    return np.clip(x, -0.5, 0.5) * x


def b_where(x, y):
    return np.where(x > 0, x ** 2 * y, np.sin(x) + y)


def b_maximum_broadcast(A, r):
    return np.maximum(A, r)


def b_maximum_scalar(x):
    return np.maximum(x, 0.0) + np.minimum(x, 0.0) * 3.0


def clip_separated_input(k):
    # values in (-1.5, 1.5), but at least 0.05 away from the clip bounds
    x = uniform(-1.5, 1.5, k=k)
    x[np.abs(np.abs(x) - 0.5) < 0.05] += 0.1
    return x


def pair_without_ties(k):
    a = away_from_zero(k=k)
    b = a + away_from_zero(k=k + 100) * 0.5
    return a, b


BINARY = [
    (b_arctan2, lambda: (uniform(-1.5, 1.5, k=3), away_from_zero(k=4)), (0, 1)),
    (b_maximum, lambda: pair_without_ties(5), (0, 1)),
    (b_minimum, lambda: pair_without_ties(6), (0, 1)),
    (b_power, lambda: (uniform(0.3, 2.0, k=7), uniform(-1.5, 2.5, k=8)), (0, 1)),
    (b_power_const, lambda: (uniform(-2.0, 2.0, k=9),), 0),
    (b_clip, lambda: (clip_separated_input(10),), 0),
    (b_where, lambda: (away_from_zero(k=11), uniform(-1.0, 1.0, k=12)), (0, 1)),
    (b_maximum_broadcast, lambda: (np.array([[-0.7, 0.2, 1.1], [0.9, -0.3, 0.4]]),
                                   np.array([0.1, -0.6, 0.8])), (0, 1)),
    (b_maximum_scalar, lambda: (away_from_zero(k=15),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", BINARY, ids=[b[0].__name__ for b in BINARY])
def test_elementwise_binary_vjp(f, make_args, wrt):
    check_vjp(f, make_args(), wrt, seed=12)


# ==============================================================================================
# math module on Python floats
# ==============================================================================================

def m_trig(x):
    return math.sin(x) * math.cos(x) + math.tan(x)


def m_inverse_trig(x):
    return math.asin(x) + math.acos(x) * x + math.atan(x)


def m_atan2(y, x):
    return math.atan2(y, x) * y


def m_hyperbolic(x):
    return math.sinh(x) + math.cosh(x) * math.tanh(x)


def m_exp_log(x):
    return math.exp(x) * math.log(x) + math.expm1(x) + math.log1p(x) + math.log2(x) + math.log10(x)


def m_sqrt(x, y):
    return math.sqrt(x) * y


def m_pow(x, y):
    return math.pow(x, y) + math.pow(y, 2.0)


def m_fabs(x, y):
    return math.fabs(y) * x


MATH = [
    (m_trig, (0.4,), 0),
    (m_inverse_trig, (0.3,), 0),
    (m_atan2, (0.7, -0.4), (0, 1)),
    (m_hyperbolic, (0.9,), 0),
    (m_exp_log, (1.3,), 0),
    (m_sqrt, (1.7, -0.6), (0, 1)),
    (m_pow, (1.7, -0.6), (0, 1)),
    (m_fabs, (1.7, -0.6), (0, 1)),
]


@pytest.mark.parametrize("f,args,wrt", MATH, ids=[m[0].__name__ for m in MATH])
def test_math_module(f, args, wrt):
    check_grad(f, args, wrt)


# ==============================================================================================
# broadcasting in binary operators must be undone in the adjoint
# ==============================================================================================

def bc_add_row(A, r):
    return A + r


def bc_mul_column(A, c):
    return A * c


def bc_outer_like(c, r):
    return c * r - c / (2.0 + r * r)


def bc_sub_row_from_matrix(r, A):
    return r - A


def bc_div_row(A, r):
    return A / r


def bc_scalar_array(s, A):
    return s * A + s - A / s


def bc_3d(T, M):
    return T * M + M


def bc_pow(A, r):
    return A ** r


def bc_loss(W, b, x):
    return np.sum(np.tanh(x @ W + b) ** 2)


BROADCAST = [
    (bc_add_row, lambda: (away_from_zero((3, 4), 1), away_from_zero((4,), 2)), (0, 1)),
    (bc_mul_column, lambda: (away_from_zero((3, 4), 3), away_from_zero((3, 1), 4)), (0, 1)),
    (bc_outer_like, lambda: (away_from_zero((3, 1), 5), away_from_zero((1, 4), 6)), (0, 1)),
    (bc_sub_row_from_matrix, lambda: (away_from_zero((1, 4), 7), away_from_zero((3, 4), 8)), (0, 1)),
    (bc_div_row, lambda: (away_from_zero((2, 3), 9), away_from_zero((3,), 10)), (0, 1)),
    (bc_scalar_array, lambda: (0.8, away_from_zero((2, 3), 11)), (0, 1)),
    (bc_3d, lambda: (away_from_zero((2, 3, 4), 12), away_from_zero((3, 1), 13)), (0, 1)),
    (bc_pow, lambda: (uniform(0.5, 2.0, (3, 2), 14), uniform(-1.0, 2.0, (2,), 15)), (0, 1)),
]


@pytest.mark.parametrize("f,make_args,wrt", BROADCAST, ids=[b[0].__name__ for b in BROADCAST])
def test_broadcasting_vjp(f, make_args, wrt):
    check_vjp(f, make_args(), wrt, seed=13)


def test_broadcasting_in_scalar_loss():
    check_grad(bc_loss, (away_from_zero((3, 2), 16, 0.1, 0.6), away_from_zero((2,), 17),
                         away_from_zero((5, 3), 18)), ("W", "b", "x"))


# ==============================================================================================
# reductions with axis and keepdims
# ==============================================================================================

def r_sum(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def r_mean(x, axis, keepdims):
    return np.mean(x, axis=axis, keepdims=keepdims)


def r_prod(x, axis, keepdims):
    return np.prod(x, axis=axis, keepdims=keepdims)


def r_max(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def r_min(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


def r_var(x, axis, keepdims):
    return np.var(x, axis=axis, keepdims=keepdims)


def r_std(x, axis, keepdims):
    return np.std(x, axis=axis, keepdims=keepdims)


REDUCTIONS = [r_sum, r_mean, r_prod, r_max, r_min, r_var, r_std]
AXES = [None, 0, 1, -1]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("f", REDUCTIONS, ids=[f.__name__ for f in REDUCTIONS])
def test_reduction_vjp(f, axis, keepdims):
    x = distinct((3, 4), 20) if f in (r_max, r_min) else away_from_zero((3, 4), 21, 0.5, 1.5)
    check_vjp(f, (x, axis, keepdims), 0, seed=14)


def r_sum_tuple_axis(x):
    return np.sum(x, axis=(0, 2)) * np.mean(x, axis=(0, 2), keepdims=False)


def test_reduction_over_axis_tuple():
    check_vjp(r_sum_tuple_axis, (away_from_zero((2, 3, 2), 22),), 0, seed=15)


def r_literal_axes(x):
    a = np.sum(x, axis=0)
    b = np.mean(x, axis=1, keepdims=True)
    c = np.max(x, axis=-1)
    d = np.min(x, 0)
    e = np.prod(x, axis=1)
    f = np.var(x, axis=0, keepdims=True)
    g = np.std(x, axis=1)
    return np.sum(a ** 2) + np.sum(b * x) + np.sum(c) * np.sum(d) + np.sum(e) + np.sum(f * x) + np.sum(g)


def r_methods(x):
    a = x.sum(axis=0)
    b = x.mean()
    c = x.max(axis=1)
    d = x.min()
    e = x.prod(axis=0)
    f = x.var(axis=1)
    g = x.std()
    return np.sum(a * a) + b + np.sum(c ** 2) * d + np.sum(e) + np.sum(f) + g + x.sum()


@pytest.mark.parametrize("f", [r_literal_axes, r_methods], ids=["functions", "methods"])
def test_reductions_in_scalar_loss(f):
    check_grad(f, (distinct((3, 4), 23),), 0)


# ==============================================================================================
# linear algebra products and shape manipulation
# ==============================================================================================

def la_dot_vv(u, v):
    return np.dot(u, v)


def la_dot_mv(A, v):
    return np.dot(A, v)


def la_dot_mm(A, B):
    return np.dot(A, B)


def la_matmul(A, B):
    return np.matmul(A, B)


def la_matmul_vm(v, B):
    return np.matmul(v, B)


def la_outer(u, v):
    return np.outer(u, v)


def la_inner(u, v):
    return np.inner(u, v) * u


def la_trace(A):
    return np.trace(A) * A


def sh_transpose(A):
    return np.transpose(A) * 2.0


def sh_transpose_axes(T):
    return np.transpose(T, (1, 0, 2)) ** 2


def sh_dot_T(A):
    return A.T @ A


def sh_reshape(x):
    return np.reshape(x, (3, 2)) ** 2 + x.reshape(3, 2)


def sh_reshape_minus_one(A):
    return np.reshape(A, -1) * np.reshape(A, (2, -1)).reshape(-1)


def sh_ravel(A):
    return np.ravel(A) ** 2 + A.ravel()


def sh_squeeze(x):
    return np.squeeze(x) * np.squeeze(x, axis=0)[:, 0]


def sh_expand_dims(x):
    return np.expand_dims(x, 0) * np.expand_dims(x, axis=1)


def sh_concatenate(a, b):
    return np.concatenate([a, b]) * np.concatenate((b, a), axis=0)


def sh_concatenate_axis1(A, B):
    return np.concatenate((A, B), axis=1) ** 2


def sh_stack(a, b):
    return np.stack([a, b]) * np.stack((b, a), axis=1).T


def sh_hstack(a, b):
    return np.hstack([a, b]) ** 2 + np.hstack((b, a))


def sh_vstack(a, B):
    return np.vstack([a, B]) ** 2


def sh_broadcast_to(r, c):
    return np.broadcast_to(r, (3, 4)) * np.broadcast_to(c, (3, 4))


def sh_copy(x):
    y = np.copy(x)
    z = x.copy()
    y[0] = 5.0
    z[1] = z[1] * 3.0
    return y * z + x


LINALG = [
    (la_dot_vv, lambda: (away_from_zero((4,), 1), away_from_zero((4,), 2)), (0, 1)),
    (la_dot_mv, lambda: (away_from_zero((3, 4), 3), away_from_zero((4,), 4)), (0, 1)),
    (la_dot_mm, lambda: (away_from_zero((2, 3), 5), away_from_zero((3, 4), 6)), (0, 1)),
    (la_matmul, lambda: (away_from_zero((2, 3), 7), away_from_zero((3, 2), 8)), (0, 1)),
    (la_matmul_vm, lambda: (away_from_zero((3,), 9), away_from_zero((3, 2), 10)), (0, 1)),
    (la_outer, lambda: (away_from_zero((3,), 11), away_from_zero((4,), 12)), (0, 1)),
    (la_inner, lambda: (away_from_zero((3,), 13), away_from_zero((3,), 14)), (0, 1)),
    (la_trace, lambda: (away_from_zero((3, 3), 15),), 0),
    (sh_transpose, lambda: (away_from_zero((2, 3), 16),), 0),
    (sh_transpose_axes, lambda: (away_from_zero((2, 3, 2), 17),), 0),
    (sh_dot_T, lambda: (away_from_zero((3, 2), 18),), 0),
    (sh_reshape, lambda: (away_from_zero((6,), 19),), 0),
    (sh_reshape_minus_one, lambda: (away_from_zero((2, 3), 20),), 0),
    (sh_ravel, lambda: (away_from_zero((2, 3), 21),), 0),
    (sh_squeeze, lambda: (away_from_zero((1, 3, 1), 22),), 0),
    (sh_expand_dims, lambda: (away_from_zero((3,), 23),), 0),
    (sh_concatenate, lambda: (away_from_zero((3,), 24), away_from_zero((3,), 25)), (0, 1)),
    (sh_concatenate_axis1, lambda: (away_from_zero((2, 3), 26), away_from_zero((2, 1), 27)), (0, 1)),
    (sh_stack, lambda: (away_from_zero((3,), 28), away_from_zero((3,), 29)), (0, 1)),
    (sh_hstack, lambda: (away_from_zero((2,), 30), away_from_zero((2,), 31)), (0, 1)),
    (sh_vstack, lambda: (away_from_zero((3,), 32), away_from_zero((2, 3), 33)), (0, 1)),
    (sh_broadcast_to, lambda: (away_from_zero((4,), 34), away_from_zero((3, 1), 35)), (0, 1)),
    (sh_copy, lambda: (away_from_zero((3,), 36),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", LINALG, ids=[c[0].__name__ for c in LINALG])
def test_linear_algebra_and_shapes_vjp(f, make_args, wrt):
    check_vjp(f, make_args(), wrt, seed=16)


# ==============================================================================================
# array constructors (their results are constants that flow into differentiable code)
# ==============================================================================================

def c_zeros_ones(x):
    y = np.zeros(3)
    y[1] = x[0, 0] * x[1, 2]
    z = np.ones((2, 3)) * x
    return np.sum(y) + np.sum(z ** 2) + np.sum(np.zeros((2, 3)) * x)


def c_like(x):
    return np.sum(np.zeros_like(x) + x * np.ones_like(x) * 2.0)


def c_full(x):
    return np.sum(x * np.full(x.shape, 2.5) + np.full((2, 3), 0.5) * x ** 2)


def c_arange(x):
    return np.sum(x * np.arange(len(x)) + np.arange(1, 7, 2) * x ** 2 + np.arange(3.0) * np.sin(x))


def c_linspace(x):
    return np.sum(np.linspace(0.0, 1.0, len(x)) * x ** 2)


def c_eye(A):
    return np.sum((A @ np.eye(3) + np.eye(3) * 2.0) ** 2) + np.sum(np.eye(3, 3) * A)


def c_empty(x):
    y = np.empty((2, len(x)))
    y[0] = x * 2.0
    y[1] = np.sin(x)
    return np.sum(y * y)


CONSTRUCTORS = [
    (c_zeros_ones, lambda: (away_from_zero((2, 3), 1),)),
    (c_like, lambda: (away_from_zero((2, 3), 2),)),
    (c_full, lambda: (away_from_zero((2, 3), 3),)),
    (c_arange, lambda: (away_from_zero((3,), 4),)),
    (c_linspace, lambda: (away_from_zero((4,), 5),)),
    (c_eye, lambda: (away_from_zero((3, 3), 6),)),
    (c_empty, lambda: (away_from_zero((3,), 7),)),
]


@pytest.mark.parametrize("f,make_args", CONSTRUCTORS, ids=[c[0].__name__ for c in CONSTRUCTORS])
def test_constructors(f, make_args):
    check_grad(f, make_args(), 0)


# ==============================================================================================
# np.linalg
# ==============================================================================================

def l_det(A):
    return np.linalg.det(A)


def l_inv(A):
    return np.linalg.inv(A)


def l_solve_vector(A, b):
    return np.linalg.solve(A, b)


def l_solve_matrix(A, B):
    return np.linalg.solve(A, B)


def l_norm_vector(x):
    return np.linalg.norm(x)


def l_norm_matrix(A):
    return np.linalg.norm(A)


def l_norm_axis(A):
    return np.linalg.norm(A, axis=1)


def l_loss(A, b):
    x = np.linalg.solve(A, b)
    return np.linalg.norm(x) ** 2 + np.linalg.det(A) * np.sum(np.linalg.inv(A))


LINALG_MODULE = [
    (l_det, lambda: (well_conditioned(3, 1),), 0),
    (l_inv, lambda: (well_conditioned(3, 2),), 0),
    (l_solve_vector, lambda: (well_conditioned(3, 3), away_from_zero((3,), 4)), (0, 1)),
    (l_solve_matrix, lambda: (well_conditioned(3, 5), away_from_zero((3, 2), 6)), (0, 1)),
    (l_norm_vector, lambda: (away_from_zero((4,), 7),), 0),
    (l_norm_matrix, lambda: (away_from_zero((2, 3), 8),), 0),
    (l_norm_axis, lambda: (away_from_zero((2, 3), 9),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", LINALG_MODULE, ids=[c[0].__name__ for c in LINALG_MODULE])
def test_np_linalg_vjp(f, make_args, wrt):
    check_vjp(f, make_args(), wrt, seed=17)


def test_np_linalg_in_scalar_loss():
    check_grad(l_loss, (well_conditioned(3, 10), away_from_zero((3,), 11)), (0, 1))
