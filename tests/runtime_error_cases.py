"""Functions that fail while their generated code runs, for tests/test_runtime_locations.py (the test
finds each line by its text, not by number)."""
import numpy as np

from runtime_error_helper import fill, pick


def out_of_bounds(x):
    y = np.sin(x)
    z = y[10]
    return z * 2.0


def singular_det(A):
    d = np.linalg.det(A)
    return d * 2.0


def calls_pick(x):
    y = np.sin(x)
    return pick(y)


def calls_fill(x):
    out = np.zeros(3)
    fill(out, x)
    return np.sum(out)


def mismatched(x, M):
    y = x @ M
    return np.sum(y)


def repeated_write(x, idx):
    A = np.zeros(4)
    A[idx] = x
    return np.sum(A * A)


def ratio(x, k):
    y = x / k
    return y * 2.0


def product(x):
    p = np.prod(x)
    return p * 2.0


def pair_loop(pos):
    e = 0.0
    for i in range(pos.shape[0]):
        for j in range(i + 1, pos.shape[0]):
            dx = pos[i, 0] - pos[j, 0]
            e = e + dx * dx
    return e


def wide_qr(a):
    q, r = np.linalg.qr(a)
    return np.sum(q) + np.sum(r)


def full_svd(a):
    u, s, vt = np.linalg.svd(a, full_matrices=True)
    return np.sum(u) + np.sum(s)
