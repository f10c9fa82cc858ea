"""Functions for tests/test_sourcemap.py (their line numbers are read by the test, not hard-coded)."""
import numpy as np


def helper(v, c):
    w = np.tanh(v) * c
    return w


def looped(x, c):
    s = 0.0
    y = np.sin(x)
    for i in range(3):
        y = helper(y, c) + 0.5 * y
        s = s + np.sum(y * y)
    if s > 0.0:
        s = s * 2.0
    return s


def numba_cannot_compile(x):
    # a squeeze without an axis: its rank depends on the run-time shape, which Numba cannot type
    A = np.outer(x, x)
    s = np.squeeze(A[0:1] * 2.0)
    return np.sum(s * 2.0)


def dict_on_numba(x):
    d = {"a": x * 2.0, "b": x}
    return np.sum(d["a"] * d["b"])
