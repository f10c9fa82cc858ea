"""Time-stepping and pair loops in their natural form (issue 13: numba once refused them for want of a type:
"cannot tell the type of `un` before it is assigned").  Used by tests/test_simulation_loops.py."""
import numpy as np


def heat_copy(u, k):
    for t in range(5):
        un = u.copy()
        un[1:-1] = u[1:-1] + k * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = un
    return np.sum(u * u)


def heat_laplacian(u, k):
    for t in range(5):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u = u + k * lap
    return np.sum(u * u)


def pair_energy(x):
    n = x.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                r2 = (x[i] - x[j]) ** 2 + 1.0
                inv6 = 1 / r2 ** 3
                e = e + inv6 * inv6 - inv6
    return e


def zipped(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s + a * b
    return s


def rows_enumerated(M):
    s = 0.0
    for i, row in enumerate(M):
        s = s + np.sum(row) * i + np.max(row, axis=0)
    return s


def abs_of_a_sum(x):
    s = 0.0
    for i in range(3):
        s = s + np.abs(np.sum(x)) * x[i]
    return s


def spring_chain(x, v):
    for t in range(4):
        dx = x[1:] - x[:-1]
        f = np.zeros_like(x)
        f[:-1] = f[:-1] + dx
        f[1:] = f[1:] - dx
        v = v + 0.1 * f
        x = x + 0.1 * v
    return np.sum(x * x)


def reductions_keep_rank(M):
    s = 0.0
    for t in range(2):
        c = np.mean(M, axis=0, keepdims=True)
        M = M - 0.5 * c
        r = M.sum(axis=-1)
        s = s + np.sum(r * r) + np.std(M, axis=(0, 1))
    return s


def transposed_state(M):
    for t in range(3):
        Mt = M.T.copy()
        M = np.tanh(Mt) + 0.1 * M.transpose()
    return np.sum(M)
