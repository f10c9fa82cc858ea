"""Representative functions whose generated source is kept in tests/golden/ (see test_golden.py)."""
import numpy as np


def mlp_loss(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def lorenz_step_sum(x, y, z, sigma, dt, n):
    for step in range(n):
        dx = sigma * (y - x)
        dy = x * (28.0 - z) - y
        dz = x * y - 8.0 / 3.0 * z
        x = x + dt * dx
        y = y + dt * dy
        z = z + dt * dz
    return x + y + z


def stencil(u, c, steps):
    for t in range(steps):
        un = np.zeros(len(u))
        for i in range(1, len(u) - 1):
            un[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = un
    return np.sum(u * u)


def newton_sqrt(a):
    x = a
    while True:
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < 1e-12:
            break
        x = x_new
    return x_new


def piecewise(x):
    if x > 1.0:
        return np.log(x)
    elif x > 0.0:
        y = x * x
    else:
        y = -x
    return y * 0.5


def pair_energy(pos):
    """All pairs of 2-D points (remat="recompute" re-runs each pair in the adjoint)."""
    n = pos.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            inv = 1.0 / (dx * dx + dy * dy + 0.5)
            e = e + inv * inv - inv
    return e
