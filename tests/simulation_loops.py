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


# kinds from declared shape rules must be exact: each of these broadcasts against a size-1 axis, where a
# wrong kind would drop an unbroadcast (tests/test_simulation_loops.py::test_shape_rules_at_size_one_axes)
def rank_keepdims_broadcast(M, v):
    s = np.sum(M, axis=0, keepdims=True) + v      # (1,4) + (4,)
    return np.sum(s * s)

def rank_new_axis_of_a_copy(M, v):
    c = M.copy()[None] * v                         # (1,3,4) * (4,)
    return np.sum(np.tanh(c))

def rank_slice_mean_in_a_loop(M, v):
    t = 0.0
    for i in range(3):
        r = np.mean(M[i:i + 1, :], axis=-1) * v[i]  # (1,) in a loop
        t = t + np.sum(r * M[i])
    return t

def rank_transpose_cast_column(M, v):
    w = M.T.astype(np.float64)[:, 1:2] + v[1]      # (4,1)
    return np.sum(w * M[0][:, None])


# a variable that is a strided view in a loop, saved on a typed tape (Numba: a list of C-ordered arrays)
def strided_view_state(x):
    s = 0.0
    for t in range(3):
        v = x[::2]
        w = x[1:, ::-1]
        s = s + np.sum(np.sin(v) * v) + np.sum(w * w)
        x = x * 1.1
    return s


def strided_view_state_1d(x):
    s = 0.0
    for t in range(3):
        v = x[::-2]
        s = s + np.sum(np.sin(v) * v)
        x = x * 1.1
    return s
