"""Python constructs retrograd differentiates: every case is checked against central finite
differences (float64, random inputs) with ``fd.check_grad`` / ``fd.check_vjp``.

Each function is defined at module level (retrograd reads its source with ``inspect``) and is only
differentiated inside a test, so a failure in one case does not hide the others.
"""
import math

import numpy as np
import pytest

import retrograd as rg
from fd import check_grad, check_vjp

# every finite-difference check here runs on each backend (conftest.py: fd_backend)
pytestmark = pytest.mark.usefixtures("fd_backend")

RNG_SEED = 20240611


def rng(k=0):
    return np.random.default_rng(RNG_SEED + k)


def pos(shape, k=0, low=0.5, high=2.0):
    return rng(k).uniform(low, high, size=shape)


def sym(shape, k=0, scale=1.0):
    """Random values bounded away from 0 (signs mixed), so kinks at 0 are never hit."""
    r = rng(k)
    mag = r.uniform(0.3, 1.3, size=shape) * scale
    sign = np.where(r.uniform(size=shape) < 0.5, -1.0, 1.0)
    return mag * sign


# ==============================================================================================
# arithmetic
# ==============================================================================================

def arith_scalars(x, y):
    a = x * y + x / y - y ** 3 + x ** 2
    b = a - 2.0 * x + 3.0 / y - 1.5
    return b * b / (1.0 + a * a)


def arith_real_power(x, y):
    # x > 0 so any real exponent is defined
    return x ** 2.5 + x ** -0.7 + x ** y + x ** 0.5 * y


def arith_base_power(x, y):
    # `a ** x` with a constant base, and a variable base raised to a variable exponent
    return 2.0 ** x + 3.0 ** (x * y) + 1.5 ** (-y)


def arith_unary_minus(x, y):
    a = -x
    b = -(x * y) + -y
    return -a * b - (-(a ** 2))


def arith_arrays(x, y):
    z = x * y - x / (1.0 + y * y) + 2.0 * x ** 3 - y
    return np.sum(z * z) + np.sum(-x)


def arith_int_exponent_array(x):
    return np.sum(x ** 2 + x ** 3 - 2 * x ** -1)


def matmul_op(W, x, b):
    h = W @ x + b
    return np.sum(np.tanh(h) ** 2)


def matmul_matrices(A, B):
    C = A @ B
    return np.sum(C @ C.T)


def matmul_vec_vec(u, v):
    return (u @ v) ** 2 + u @ (2.0 * v)


def mixed_float_and_array(s, x):
    return s * np.sum(x) + s ** 2 * np.sum(x * x) + s


ARITH_CASES = [
    (arith_scalars, lambda: (0.7, 1.3), (0, 1)),
    (arith_scalars, lambda: (-1.1, -0.6), ("x", "y")),
    (arith_real_power, lambda: (1.3, 0.8), (0, 1)),
    (arith_base_power, lambda: (0.6, -0.4), (0, 1)),
    (arith_unary_minus, lambda: (0.9, -1.2), (0, 1)),
    (arith_arrays, lambda: (sym((3, 4), 1), sym((3, 4), 2)), (0, 1)),
    (arith_int_exponent_array, lambda: (sym((5,), 3),), 0),
    (matmul_op, lambda: (sym((3, 4), 4, 0.5), sym((4,), 5), sym((3,), 6)), (0, 1, 2)),
    (matmul_matrices, lambda: (sym((2, 3), 7, 0.5), sym((3, 4), 8, 0.5)), (0, 1)),
    (matmul_vec_vec, lambda: (sym((4,), 9), sym((4,), 10)), (0, 1)),
    (mixed_float_and_array, lambda: (0.8, sym((2, 3), 11)), (0, 1)),
]


@pytest.mark.parametrize("f,make_args,wrt", ARITH_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(ARITH_CASES)])
def test_arithmetic(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


# ==============================================================================================
# conditions: comparisons, and/or/not, if/elif/else, conditional expressions
# ==============================================================================================

def cond_bool_ops(x, y):
    if x > 0 and y < 1 or not (x > y):
        r = x * y
    else:
        r = x + y * y
    if not x >= 2 and (y <= 3 or x == 0) and y != 5:
        r = r * x
    return r


def cond_ifexp(x, y):
    a = x * x if x > y else y * 3.0
    b = np.sin(a) if a < 1.0 else np.cos(a) * a
    return a * b


def cond_nested(x, y):
    if x > 0:
        if y > 0:
            r = x * y
        elif y > -1:
            r = x * x * y
        else:
            r = np.sin(x * y)
    elif x > -1:
        if y > 0:
            r = np.exp(x) * y
        else:
            r = x - y * y
    else:
        r = x ** 3 + y
    return r * x + y


def cond_on_array_values(x):
    s = 0.0
    if np.sum(x) > 0:
        s = s + np.sum(x ** 2)
    else:
        s = s - np.sum(np.sin(x))
    if x[0] > x[1]:
        s = s * x[0]
    return s


def cond_chained_comparison(x, y):
    if -1.0 < x < 1.0:
        return x * y
    return x + y


COND_CASES = [(cond_bool_ops, (a, b)) for a, b in [(0.5, 0.4), (0.5, 1.7), (-0.5, 0.2), (2.5, 1.5)]]
COND_CASES += [(cond_ifexp, (a, b)) for a, b in [(0.8, 0.3), (0.2, 0.9), (1.5, 0.1), (0.1, 0.1 + 0.5)]]
COND_CASES += [(cond_nested, (a, b)) for a, b in [(0.7, 0.6), (0.7, -0.5), (0.7, -1.5), (-0.5, 0.8),
                                                  (-0.5, -0.8), (-1.5, 0.3)]]
COND_CASES += [(cond_chained_comparison, (a, 0.7)) for a in (0.3, 1.4, -1.6)]


@pytest.mark.parametrize("f,args", COND_CASES,
                         ids=[f"{c[0].__name__}-{c[1]}" for c in COND_CASES])
def test_conditions(f, args):
    check_grad(f, args, (0, 1))


@pytest.mark.parametrize("k", [1, 2])
def test_condition_on_array_values(k):
    x = sym((4,), k)
    if k == 2:
        x = -np.abs(x)
        x[0] = -x[0]
    check_grad(cond_on_array_values, (x,), 0)


# ==============================================================================================
# for loops
# ==============================================================================================

def for_range_stop(x, n):
    s = x
    for i in range(n):
        s = np.sin(s) * x + 0.1 * i
    return s


def for_range_start_stop_step(x, c):
    s = 0.0
    for i in range(1, len(c), 2):
        s = s + c[i] * x ** i
    for j in range(2, 5):
        s = s * 0.5 + c[j] * x
    return s


def horner_negative_step(x, c):
    # polynomial evaluation with a reversed range
    y = 0.0
    for i in range(len(c) - 1, -1, -1):
        y = y * x + c[i]
    return y


def for_negative_step_by_two(x):
    s = 1.0
    for i in range(len(x) - 1, 0, -2):
        s = s * x[i] + x[i - 1]
    return s


def for_over_array_rows(X, w):
    s = 0.0
    for row in X:
        s = s + np.tanh(row @ w)
    return s


def for_over_vector(x):
    s = 1.0
    for v in x:
        s = s * v + v * v
    return s


def for_over_zip(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s + a * b + np.sin(a - b)
    return s


def for_over_zip_rows(X, Y):
    acc = np.zeros(X.shape[1])
    for xr, yr in zip(X, Y):
        acc = acc + xr * yr
    return np.sum(acc ** 2)


def for_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + (i + 1) * v ** 2 - i * np.cos(v)
    return s


def for_enumerate_overwrites(x, w):
    h = w
    for i, row in enumerate(x):
        h = np.tanh(h * row + 0.1 * i)
    return np.sum(h)


def for_nested_loops(A, x):
    n = A.shape[0]
    s = 0.0
    for i in range(n):
        for j in range(i, n):
            s = s + A[i, j] * x[i] * x[j]
    return s


def for_loop_overwrites_array(x):
    h = x
    for _ in range(4):
        h = np.tanh(h * 1.3 + 0.2)
    return np.sum(h * x)


def for_break_continue(x):
    s = 0.0
    for i in range(10):
        if i % 3 == 0:
            continue
        if i > 7:
            break
        s = s * x + i
    return s


def for_break_on_value(x):
    s = x
    for i in range(20):
        s = s * 1.5
        if s > 10.0:
            break
    return s


def for_continue_array(x):
    s = 0.0
    for v in x:
        if v < 0:
            continue
        s = s + v ** 3
    return s


def loop_target_rebound(x):
    # the body rebinds the loop variable: the reversed loop must see the body's `i`, not the range's
    s = 0.0
    for i in range(x.shape[0] - 1):
        i = i + 1
        s = s + x[i] * x[i]
    return s + i


def loop_target_rebound_carried(x):
    p = 1.0
    for i in range(x.shape[0] - 1):
        a = x[i]
        i = i + 1
        p = p * (x[i] - a)
    return p


def enumerate_index_rebound(x):
    p = 1.0
    for i, v in enumerate(x[:-1]):
        i = i + 1
        p = p * (x[i] - v) + np.sin(v)
    return p


def loop_target_rebound_in_a_branch(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            i = 0
        s = s + x[i] * np.sin(x[i])
    return s


def loop_target_counted_down_with_break(x):
    s = 0.0
    for i in range(x.shape[0]):
        i = x.shape[0] - 1 - i
        s = s * 0.5 + x[i]
        if s > 1.0:
            break
    return s


def inner_loop_reuses_outer_target(x):
    e = 0.0
    for i in range(x.shape[0]):
        u = x[i] * x[i]
        for i in range(2):
            u = u * x[i]
        e = e + np.sin(u)
    return e


LOOP_CASES = [
    (loop_target_rebound, lambda: (sym((4,), 21),), 0),
    (loop_target_rebound_carried, lambda: (sym((4,), 22),), 0),
    (loop_target_rebound_carried, lambda: (sym((1,), 23),), 0),
    (enumerate_index_rebound, lambda: (sym((4,), 24),), 0),
    (inner_loop_reuses_outer_target, lambda: (sym((3,), 25),), 0),
    (loop_target_rebound_in_a_branch, lambda: (sym((4,), 26),), 0),
    (loop_target_counted_down_with_break, lambda: (np.array([0.3, -0.2, 0.9, 0.5]),), 0),
    (for_range_stop, lambda: (0.7, 5), 0),
    (for_range_stop, lambda: (0.7, 0), 0),
    (for_range_start_stop_step, lambda: (0.9, sym((6,), 1)), (0, 1)),
    (horner_negative_step, lambda: (0.8, sym((5,), 2)), (0, 1)),
    (for_negative_step_by_two, lambda: (sym((6,), 3),), 0),
    (for_negative_step_by_two, lambda: (sym((5,), 4),), 0),
    (for_over_array_rows, lambda: (sym((4, 3), 5), sym((3,), 6)), (0, 1)),
    (for_over_vector, lambda: (sym((5,), 7),), 0),
    (for_over_zip, lambda: (sym((4,), 8), sym((4,), 9)), (0, 1)),
    (for_over_zip_rows, lambda: (sym((3, 2), 10), sym((3, 2), 11)), (0, 1)),
    (for_enumerate, lambda: (sym((5,), 12),), 0),
    (for_enumerate_overwrites, lambda: (sym((3, 4), 13), sym((4,), 14)), (0, 1)),
    (for_nested_loops, lambda: (sym((3, 3), 15), sym((3,), 16)), (0, 1)),
    (for_loop_overwrites_array, lambda: (sym((5,), 17),), 0),
    (for_break_continue, lambda: (0.9,), 0),
    (for_break_on_value, lambda: (0.8,), 0),
    (for_break_on_value, lambda: (30.0,), 0),
    (for_continue_array, lambda: (sym((6,), 18),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", LOOP_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(LOOP_CASES)])
def test_for_loops(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


# ==============================================================================================
# while loops
# ==============================================================================================

def while_counter(x, n):
    i = 0
    while i < n:
        x = np.sin(x) + 0.5 * x
        i += 1
    return x


def while_true_break(x):
    k = 0
    s = x
    while True:
        s = s * 0.9 + np.tanh(s)
        k = k + 1
        if k >= 5:
            break
    return s * x


def while_value_condition(x):
    s = x
    while s < 10.0:
        s = s * 1.5 + 0.1
    return s


def while_array_with_continue(x):
    i = 0
    s = 0.0
    while i < len(x):
        i += 1
        if i == 2:
            continue
        s = s + x[i - 1] * x[i - 1] * i
    return s


def while_nested(x):
    i = 0
    s = 0.0
    while i < 3:
        j = 0
        while j < 2:
            s = s + np.sin(x * (i + 1) + j)
            j += 1
        i += 1
    return s


WHILE_CASES = [
    (while_counter, lambda: (0.4, 4), 0),
    (while_true_break, lambda: (0.6,), 0),
    (while_value_condition, lambda: (0.7,), 0),
    (while_value_condition, lambda: (3.3,), 0),
    (while_array_with_continue, lambda: (sym((4,), 19),), 0),
    (while_nested, lambda: (0.3,), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", WHILE_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(WHILE_CASES)])
def test_while_loops(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


# ==============================================================================================
# return anywhere, pass
# ==============================================================================================

def early_return(x, y):
    if x > 0:
        return x * y
    z = x * x
    if y > 0:
        return z + y
    return z * y - x


def return_inside_loop(x):
    s = x
    for i in range(10):
        s = s * 1.1 + np.sin(s)
        if i == 3:
            return s * x
    return s


def return_inside_while_on_value(x):
    s = x
    while True:
        s = s * 2.0
        if s > 5.0:
            return s + x
        s = s + 0.25


def return_inside_nested_loop(x):
    s = 0.0
    for i in range(4):
        for j in range(4):
            s = s + x ** (i + j)
            if i * j == 2:
                return s
    return -s


def with_pass(x):
    if x > 0:
        pass
    else:
        x = x * 2.0
    for i in range(2):
        pass
    return x * x


RETURN_CASES = [
    (early_return, (0.6, 0.4)),
    (early_return, (-0.6, 0.4)),
    (early_return, (-0.6, -0.4)),
    (return_inside_loop, (0.4,)),
    (return_inside_while_on_value, (0.7,)),
    (return_inside_nested_loop, (0.8,)),
    (with_pass, (0.7,)),
    (with_pass, (-0.7,)),
]


@pytest.mark.parametrize("f,args", RETURN_CASES,
                         ids=[f"{c[0].__name__}-{c[1]}" for c in RETURN_CASES])
def test_returns_and_pass(f, args):
    check_grad(f, args, tuple(range(len(args))) if len(args) > 1 else 0)


# ==============================================================================================
# assignment: tuples, swaps, augmented assignment
# ==============================================================================================

def tuple_pack_unpack(x, y):
    t = x, y * 2.0
    a, b = t
    c, d = b * a, a - b
    return c * d + a


def swap_in_loop(x, y):
    a, b = x, y
    for i in range(4):
        a, b = b, a * b + 1.0
    return a + 2.0 * b


def swap_arrays(x, y):
    x, y = y, x
    return np.sum(x * np.sin(y)) + np.sum(x)


def augassign_names(x, y):
    s = x
    s += y
    s -= 2.0 * x
    s *= y
    s /= 1.0 + x * x
    s += s
    return s


def augassign_arrays(x, y):
    z = x * 1.0
    z += y
    z *= x
    z -= np.sin(y)
    z /= 2.0 + y * y
    return np.sum(z)


def augassign_subscripts(x):
    y = np.zeros(3)
    y[0] += x[1]
    y[1:] -= x[:2] * 2.0
    y[2] *= x[0]
    y[0] /= 1.5 + x[2] ** 2
    y[1] += y[0] * x[2]
    y *= x
    return np.sum(y * y)


def augassign_subscript_arguments(x, W):
    x[0] += x[1] * x[2]
    x[1] *= x[0]
    W[0, :] -= x[:2]
    W[:, 1] /= 2.0 + x[2] ** 2
    return np.sum(x * x) + np.sum(W * W)


def overwrite_param_with_constant(x, y):
    x = 0.5
    return x * y + y


def overwrite_param_with_other(x, y):
    x = np.tanh(y)
    return x * 2.0


def overwrite_array_param(x, y):
    x = np.zeros(3)
    x[0] = y[1]
    return np.sum(x * y)


ASSIGN_CASES = [
    (overwrite_param_with_constant, lambda: (0.7, -1.2), (0, 1)),
    (overwrite_param_with_other, lambda: (0.7, -1.2), (0, 1)),
    (overwrite_array_param, lambda: (sym((3,), 8), sym((3,), 9)), (0, 1)),
    (tuple_pack_unpack, lambda: (0.7, -1.2), (0, 1)),
    (swap_in_loop, lambda: (0.6, 0.3), (0, 1)),
    (swap_arrays, lambda: (sym((3,), 1), sym((3,), 2)), (0, 1)),
    (augassign_names, lambda: (0.8, 1.3), (0, 1)),
    (augassign_arrays, lambda: (sym((2, 3), 3), sym((2, 3), 4)), (0, 1)),
    (augassign_subscripts, lambda: (sym((3,), 5),), 0),
    (augassign_subscript_arguments, lambda: (sym((3,), 6), sym((2, 2), 7)), (0, 1)),
]


@pytest.mark.parametrize("f,make_args,wrt", ASSIGN_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(ASSIGN_CASES)])
def test_assignment(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


# ==============================================================================================
# subscripts: reads
# ==============================================================================================

def read_ints_and_negative(X):
    return X[0, 1] * X[-1, -1] + X[1][2] ** 2 - X[-2, 0]


def read_slices_with_steps(X):
    a = X[::2, 1:]
    b = X[::-1, ::-2]
    c = X[1:3, :-1]
    return np.sum(a ** 2) + np.sum(b * b[::-1]) + np.sum(np.sin(c))


def read_rows_and_columns(X):
    return np.sum(X[1] * X[:, 2][:X.shape[1]]) + np.sum(X[:, 0] ** 3)


def read_newaxis(x, y):
    outer = x[:, None] * y[None, :]
    col = x[np.newaxis]
    return np.sum(outer ** 2) + np.sum(col * 2.0) + np.sum(x[:, np.newaxis, None])


def read_3d(T):
    return np.sum(T[1, :, ::2] ** 2) + T[0, -1, 1] * T[-1, 0, 0] + np.sum(T[:, :, 0])


def read_in_loop(x):
    s = 0.0
    for i in range(1, len(x)):
        s = s + x[i] * x[i - 1]
    return s


def read_new_axes_of_an_element(x):
    # x[0] of a 1-D x is a NumPy scalar: `[..., None, None]` makes a (1, 1) array of it (its cotangent buffer
    # must be an array, not np.float64, which takes no item assignment)
    return np.sum(np.sin(x[0][..., None, None]) * x[1][None, ...] + x[1][np.newaxis])


def read_new_axes_of_a_row_element(x):      # the same reads of rows of a 2-D x
    return np.sum(np.sin(x[0][..., None, None]) * x[1][None, ...] + x[1][np.newaxis])


def read_new_axes_of_a_row(x):
    return np.sum(x[0][..., None] * x[:, None])


def read_new_axes_of_a_scalar(s):
    y = s * 2.0
    return np.sum(np.cos(y[..., None]))


def read_index_array_made_in_loop(x):
    s = 0.0
    for k in range(3):
        idx = np.array([k, k + 1, k])            # repeated entries: their shares add up
        s = s + np.sum(x[idx] * x[idx])
    return s


def read_arange_in_loop(x):
    s = 0.0
    for k in range(1, 4):
        idx = np.arange(0, k)                    # an int64 array whose length changes per step
        s = s + np.sum(np.sin(x[idx])) * x[k]
    return s


READ_CASES = [
    (read_index_array_made_in_loop, lambda: (sym((4,), 12),), 0),
    (read_arange_in_loop, lambda: (sym((4,), 13),), 0),
    (read_new_axes_of_an_element, lambda: (sym((2,), 8),), 0),
    (read_new_axes_of_a_row_element, lambda: (sym((2, 3), 9),), 0),
    (read_new_axes_of_a_row, lambda: (sym((3,), 10),), 0),
    (read_new_axes_of_a_row, lambda: (sym((3, 2), 11),), 0),
    (read_new_axes_of_a_scalar, lambda: (np.float64(0.7),), 0),
    (read_ints_and_negative, lambda: (sym((3, 4), 1),), 0),
    (read_slices_with_steps, lambda: (sym((4, 5), 2),), 0),
    (read_rows_and_columns, lambda: (sym((4, 4), 3),), 0),
    (read_newaxis, lambda: (sym((3,), 4), sym((2,), 5)), (0, 1)),
    (read_3d, lambda: (sym((2, 3, 4), 6),), 0),
    (read_in_loop, lambda: (sym((5,), 7),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", READ_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(READ_CASES)])
def test_subscript_reads(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


# ==============================================================================================
# subscripts: writes
# ==============================================================================================

def write_into_new_array(x):
    n = len(x)
    y = np.zeros(n)
    for i in range(n):
        y[i] = np.sin(x[i]) * x[i - 1]
    return np.sum(y * y)


def write_overwrites_element(x):
    y = np.zeros(3)
    y[0] = x[0] * x[1]
    y[0] = y[0] * y[0] + x[2]
    y[1] = y[0] * 2.0
    y[0] = x[1]
    y[2] = y[1] * y[0]
    return np.sum(y ** 2)


def write_slices(x):
    y = np.zeros(6)
    y[1:4] = x[:3] * 2.0
    y[::2] = y[::2] + np.tanh(x[1:4])
    y[-2:] = y[:2] * x[3]
    return np.sum(y * x[0])


def write_2d_rows(X, w):
    n = X.shape[0]
    Y = np.zeros((n, 2))
    for i in range(n):
        Y[i, :] = X[i] * w
        Y[i, 0] = Y[i, 0] + Y[i, 1] * w[0]
    return np.sum(Y ** 2)


def write_recurrence(x, a):
    y = np.zeros(len(x))
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = np.tanh(a * y[i - 1] + x[i])
    return np.sum(y)


def write_into_argument(x):
    x[0] = x[1] * x[2]
    x[1] = 2.0 * x[0]
    return np.sum(x ** 2)


def write_argument_in_loop(x, w):
    for i in range(1, len(x)):
        x[i] = x[i] * w + x[i - 1]
    return np.sum(np.sin(x))


def write_argument_slice(X):
    X[0] = X[1] * X[0]
    X[:, 1] = np.tanh(X[:, 0])
    return np.sum(X * X)


def write_empty_filled(x):
    y = np.empty(len(x))
    for i in range(len(x)):
        y[i] = x[i] ** 2
    return np.sum(y * x)


def write_2d_strided(X):
    Y = np.zeros((4, 3))
    Y[::2, 1] = X[:, 0] * X[:, 2]
    Y[1::2, ::-1] = np.sin(X)
    Y[-1, -1] = Y[0, 1] * X[1, 1]
    return np.sum(Y * Y) + np.sum(Y[:, 1])


def write_accumulate_same_element(x):
    y = np.zeros(2)
    for i in range(len(x)):
        y[0] += x[i] * x[i]
        y[1] -= np.sin(x[i]) * y[0]
    return y[0] * y[1]


def write_add_at_repeated(x, w):
    y = np.zeros(3)
    np.add.at(y, np.array([0, 2, 2, 1, 2]), x * w)     # repeated indices add up
    return np.sum(np.sin(y) * y)


def write_subtract_at_rows(A, x):
    B = A * 1.0
    np.subtract.at(B, np.array([1, 0, 1]), x)          # rows of a 2-D array; x (3, 2)
    np.add.at(B, np.array([0, 0]), 0.5 * x[0, 0])      # a scalar, broadcast to both rows
    return np.sum(B * B * A)


def write_add_at_argument_in_loop(acc, x):
    for k in range(3):
        np.add.at(acc, np.array([k, 0]), x * acc[k])   # into the caller's array, reading it back
    return np.sum(acc * acc)


def write_copyto(x):
    y = np.zeros(3)
    np.copyto(y, np.tanh(x))
    y[1] = y[1] * x[0]
    return np.sum(y * y)


WRITE_CASES = [
    (write_add_at_repeated, lambda: (sym((5,), 13), 0.7), (0, 1)),
    (write_subtract_at_rows, lambda: (sym((2, 2), 14), sym((3, 2), 15)), (0, 1)),
    (write_add_at_argument_in_loop, lambda: (sym((3,), 16), sym((2,), 17)), (0, 1)),
    (write_copyto, lambda: (sym((3,), 18),), 0),
    (write_2d_strided, lambda: (sym((2, 3), 11),), 0),
    (write_accumulate_same_element, lambda: (sym((4,), 12),), 0),
    (write_into_new_array, lambda: (sym((5,), 1),), 0),
    (write_overwrites_element, lambda: (sym((3,), 2),), 0),
    (write_slices, lambda: (sym((4,), 3),), 0),
    (write_2d_rows, lambda: (sym((3, 2), 4), sym((2,), 5)), (0, 1)),
    (write_recurrence, lambda: (sym((5,), 6), 0.8), (0, 1)),
    (write_into_argument, lambda: (sym((4,), 7),), 0),
    (write_argument_in_loop, lambda: (sym((4,), 8), 0.7), (0, 1)),
    (write_argument_slice, lambda: (sym((3, 3), 9),), 0),
    (write_empty_filled, lambda: (sym((4,), 10),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", WRITE_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(WRITE_CASES)])
def test_subscript_writes(f, make_args, wrt):
    # check_grad also asserts that the caller's arrays are unchanged after .grad
    check_grad(f, make_args(), wrt)


ARGUMENT_WRITE_CASES = [c for c in WRITE_CASES if c[0].__name__.startswith("write_argument")
                        or c[0] is write_into_argument]


@pytest.mark.parametrize("f,make_args,wrt", ARGUMENT_WRITE_CASES,
                         ids=[c[0].__name__ for c in ARGUMENT_WRITE_CASES])
def test_writes_into_arguments_leave_caller_unchanged(f, make_args, wrt):
    args = make_args()
    saved = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    d = rg.differentiate(f, wrt=wrt)
    d.grad(*args)
    d.value_and_grad(*args)
    out, pullback = d.vjp(*args)
    pullback(1.0)
    for a, s in zip(args, saved):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, s)


# ==============================================================================================
# helpers: user-defined module-level functions are differentiated too
# ==============================================================================================

def helper_poly(x, y):
    return x * x * y + np.sin(y)


def helper_pair(x):
    return x * 2.0, np.cos(x)


def helper_nested(x, y):
    a = helper_poly(x, y)
    b, c = helper_pair(a)
    return b * c + helper_poly(c, x)


def helper_kwargs(x, scale=1.0, shift=0.0):
    return np.tanh(x * scale) + shift * x


def helper_array(W, x):
    return np.tanh(W @ x)


def power_rec(x, n):
    if n == 0:
        return 1.0
    return x * power_rec(x, n - 1)


def fib_like(x, n):
    if n <= 1:
        return x
    return np.sin(fib_like(x, n - 1)) + fib_like(x, n - 2) * x


def calls_helper(x, y):
    return helper_poly(x, y) * helper_poly(y, x)


def calls_helper_tuple(x):
    a, b = helper_pair(x)
    t = helper_pair(b)
    return a * b + t[0] * t[1]


def calls_nested_helpers(x, y):
    return helper_nested(x, y) + x


def calls_helper_kwargs(x):
    return helper_kwargs(x, scale=2.0) + helper_kwargs(x, shift=0.5) + helper_kwargs(x, 0.3, 0.1)


def calls_helper_array(W, x):
    h = helper_array(W, x)
    return np.sum(helper_array(W.T, h) ** 2)


def calls_recursion(x):
    return power_rec(x, 5) + fib_like(x, 4)


def calls_helper_in_loop(x, y):
    s = 0.0
    for i in range(3):
        s = s + helper_poly(x * i, y)
    return s


def helper_writes_into_argument(y, v):
    y[0] = y[0] + v
    y[1] = y[1] * v
    return y


def calls_helper_that_writes(x):
    y = np.zeros(2)
    y[1] = 1.0
    helper_writes_into_argument(y, x[0])
    z = helper_writes_into_argument(y, x[1])
    return np.sum(z * z) + y[0]


def _weights(n, scale):
    w = np.zeros(n)
    for k in range(n):
        w[k] = scale * (k + 1)
    return w


def _pair(b):
    return b * b, b + 1.0


def _fill(buf, c):
    for k in range(buf.shape[0]):
        buf[k] = c * k
    return buf


def _scale_into(out, v):
    out[:] = v * 3.0


def calls_writing_helpers(x):
    # helpers that write into their argument are inlined (their writes become the caller's), in both modes
    w = _fill(np.zeros(x.shape[0]), 2.0)
    y = np.zeros(x.shape[0])
    _scale_into(y, np.sin(x))
    return np.sum(x * w + y * x)


def _doubled_weights(n, scale=0.25):
    return _weights(n, scale) * 2.0          # a helper calling a helper: both compiled on numba


def calls_helper_on_constants(x, b):
    # the helpers see no differentiated argument: they run as they are (compiled too, on numba)
    s, t = _pair(b)
    w = _doubled_weights(x.shape[0])
    return np.sum(x * w * s) + t * x[0] + _pair(x[1])[0]


HELPER_CASES = [
    (calls_helper, lambda: (0.7, -0.4), (0, 1)),
    (calls_helper_tuple, lambda: (0.9,), 0),
    (calls_nested_helpers, lambda: (0.5, 0.8), (0, 1)),
    (calls_helper_kwargs, lambda: (0.6,), 0),
    (calls_helper_array, lambda: (sym((3, 3), 1, 0.5), sym((3,), 2)), (0, 1)),
    (calls_recursion, lambda: (0.8,), 0),
    (calls_helper_in_loop, lambda: (0.7, 0.3), (0, 1)),
    (calls_helper_on_constants, lambda: (sym((3,), 31), 1.5), 0),
    (calls_writing_helpers, lambda: (sym((4,), 32),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", HELPER_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(HELPER_CASES)])
def test_helpers(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


def calls_helper_that_writes_late(x):
    y = np.zeros(2)
    y[1] = 1.0
    return np.sum(y * y) + np.sum(helper_writes_into_argument(y, x[0]))


def test_helper_that_writes_into_its_argument_is_inlined():
    # In Python the caller sees the helper's writes: the call is replaced by the helper's body
    # (frontend/inline.py), so the caller's memory model sees the writes where they happen.
    check_grad(calls_helper_that_writes, (sym((2,), 3),), 0)


def test_helper_that_writes_after_a_read_is_refused():
    # `np.sum(y * y)` reads y before the helper writes it: the call cannot be moved before the statement,
    # so it stays a call, and a helper that writes into its argument is refused at the call's line.
    with pytest.raises(rg.UnsupportedSyntaxError, match="writes into its argument `y`") as info:
        rg.differentiate(calls_helper_that_writes_late).grad(sym((2,), 3))
    assert info.value.lineno == calls_helper_that_writes_late.__code__.co_firstlineno + 3


# ==============================================================================================
# integers, booleans, shapes, argmax / comparison results are constants
# ==============================================================================================

def constants_from_shapes(x):
    n = len(x)
    m = x.shape[0]
    d = x.ndim
    s = x.size
    return np.sum(x) * n + m * x[0] - d * x[1] + s * np.sum(x ** 2)


def constants_int_and_bool(x):
    k = int(x[0] > 0)
    idx = np.argmax(x)
    jdx = np.argmin(x)
    mask = x > 0
    r = np.sum(x * mask) + x[idx] * 2.0 - x[jdx] + k * x[2]
    if x[1] > x[2]:
        r = r * x[0]
    return r


def constants_int_conversion(x, n):
    k = int(n * 2)
    i = int(3.7)
    return x * k + x ** i


def constants_2d_shape(X):
    rows, cols = X.shape
    return np.sum(X) / (rows * cols) + np.sum(X[rows - 1]) * cols


def constants_comparison_as_float(x):
    w = (x > 0.0) * 1.0
    return np.sum(w * x * x) + np.sum((x < 0) * np.sin(x))


GLOBAL_WEIGHTS = np.array([0.5, -1.5, 2.0, 0.25])
GLOBAL_SCALE = 1.75


def uses_module_constants(x):
    return np.sum(x * GLOBAL_WEIGHTS) + GLOBAL_SCALE * x[0] ** 2 + np.pi * x[1] + math.e * x[2] * x[3]


def int_accumulator(x):
    s = 0
    for v in x:
        s = s + v * v
    t = 1
    t *= s
    return t


CONST_CASES = [
    (uses_module_constants, lambda: (sym((4,), 5),), 0),
    (int_accumulator, lambda: (sym((3,), 6),), 0),
    (constants_from_shapes, lambda: (sym((4,), 1),), 0),
    (constants_int_and_bool, lambda: (sym((5,), 2),), 0),
    (constants_int_and_bool, lambda: (-sym((5,), 2),), 0),
    (constants_int_conversion, lambda: (0.7, 3), 0),
    (constants_2d_shape, lambda: (sym((2, 3), 3),), 0),
    (constants_comparison_as_float, lambda: (sym((6,), 4),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", CONST_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CONST_CASES)])
def test_constants(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


# ==============================================================================================
# gradients with respect to tuple / list / dict arguments
# ==============================================================================================

def tuple_params(params, x):
    W, b = params
    return np.sum(np.tanh(x @ W + b) ** 2)


def list_params(layers, x):
    h = x
    for i in range(0, len(layers), 2):
        h = np.tanh(h @ layers[i] + layers[i + 1])
    return np.sum(h)


def dict_params(p, x):
    h = np.tanh(x @ p["W"] + p["b"])
    return np.sum(h * p["scale"])


def tuple_with_float(t, x):
    a, s = t
    return np.sum(a * x) * s + s ** 2


def list_of_floats(v):
    return v[0] * v[1] + np.sin(v[2]) * v[0]


def dict_nested(p, x):
    W, b = p["layer"]
    return np.sum((x @ W + b) ** 2) * p["gain"]


CONTAINER_CASES = [
    (tuple_params, lambda: ((sym((3, 2), 1, 0.5), sym((2,), 2)), sym((4, 3), 3)), 0),
    (list_params, lambda: ([sym((3, 2), 4, 0.5), sym((2,), 5), sym((2, 2), 6, 0.5), sym((2,), 7)],
                           sym((4, 3), 8)), 0),
    (dict_params, lambda: ({"W": sym((3, 2), 9, 0.5), "b": sym((2,), 10), "scale": 1.3},
                           sym((4, 3), 11)), 0),
    (tuple_with_float, lambda: ((sym((3,), 12), 0.6), sym((3,), 13)), (0, 1)),
    (list_of_floats, lambda: ([0.4, -0.8, 1.1],), 0),
    (dict_nested, lambda: ({"layer": (sym((3, 2), 14), sym((2,), 15)), "gain": 0.7}, sym((2, 3), 16)), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", CONTAINER_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CONTAINER_CASES)])
def test_container_arguments(f, make_args, wrt):
    check_grad(f, make_args(), wrt)


# ==============================================================================================
# non-scalar outputs through vjp
# ==============================================================================================

def vjp_loop_output(x, W):
    h = x
    for _ in range(3):
        h = np.tanh(W @ h)
    return h


def vjp_written_output(x):
    y = np.zeros((2, len(x)))
    for i in range(len(x)):
        y[0, i] = x[i] ** 2
        y[1, i] = np.sin(x[i]) * x[0]
    return y


def vjp_branchy_output(x):
    if np.sum(x) > 0:
        return x * 2.0
    return x[::-1] * x


VJP_CASES = [
    (vjp_loop_output, lambda: (sym((3,), 1), sym((3, 3), 2, 0.5)), (0, 1)),
    (vjp_written_output, lambda: (sym((3,), 3),), 0),
    (vjp_branchy_output, lambda: (np.abs(sym((3,), 4)),), 0),
    (vjp_branchy_output, lambda: (-np.abs(sym((3,), 5)),), 0),
]


@pytest.mark.parametrize("f,make_args,wrt", VJP_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(VJP_CASES)])
def test_vjp_non_scalar(f, make_args, wrt):
    check_vjp(f, make_args(), wrt, seed=3)


# ==============================================================================================
# a longer, realistic program: RK4 integration in a loop of scalar updates
# ==============================================================================================

def rk4_decay(y, k, dt, n):
    for _ in range(n):
        k1 = -k * y + math.sin(y)
        k2 = -k * (y + 0.5 * dt * k1) + math.sin(y + 0.5 * dt * k1)
        k3 = -k * (y + 0.5 * dt * k2) + math.sin(y + 0.5 * dt * k2)
        k4 = -k * (y + dt * k3) + math.sin(y + dt * k3)
        y = y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


def test_rk4_loop():
    check_grad(rk4_decay, (1.2, 0.7, 0.05, 20), ("y", "k"))


# ==============================================================================================
# the generated source of every case above is valid Python with `# grad of:` comments
# ==============================================================================================

ALL_CASES = (ARITH_CASES + LOOP_CASES + WHILE_CASES + ASSIGN_CASES
             + READ_CASES + WRITE_CASES + HELPER_CASES + CONST_CASES + CONTAINER_CASES + VJP_CASES)


@pytest.mark.parametrize("f,wrt", [(c[0], c[2]) for c in ALL_CASES],
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(ALL_CASES)])
def test_generated_source_compiles(f, wrt):
    src = rg.differentiate(f, wrt=wrt).source
    assert isinstance(src, str)
    compile(src, f"<generated {f.__name__}>", "exec")
    assert "# grad of:" in src
