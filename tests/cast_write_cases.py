"""Writes into arrays of integers or booleans (tests/test_cast_writes.py)."""
import numpy as np


def int_zeros(x):
    A = np.zeros(3, dtype=np.int64)
    A[0] = x * 3.0
    return np.sum(A * 1.0) + x


def int_arange_augmented(x):
    A = np.arange(4)
    A[1:3] += x * 2.0
    return np.sum(A * x)


def astype_int(x):
    A = x.astype(np.int64)
    A[0] = x[1] * 2.0
    return np.sum(A * x)


def int_argument(x, idx):
    idx[0] = x[0] * 2.0
    return np.sum(x * idx)


def bool_array(x):
    m = x > 0.5
    m[0] = x[0]
    return np.sum(m * x)


def in_a_loop(x):
    A = np.array([1, 2, 3])
    for i in range(3):
        A[i] = A[i] + x[i]
    return np.sum(A * x)


def constant_into_int_is_fine(x, idx):
    idx[0] = 2
    return np.sum(x[idx] * x[0])


def float_targets_are_fine(x, y):
    A = np.zeros(3)
    B = A.copy()
    B[0] = x[0]
    C = np.zeros_like(x)
    C[1:] = x[1:] * 2.0
    D = np.ones((2, 3))
    D[1] = np.sin(x) / 3
    E = y * 1.0
    E[0] = x[2]
    return np.sum(B) + np.sum(C * C) + np.sum(D * D) + np.sum(E * x)
