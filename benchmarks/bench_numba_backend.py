"""Benchmarks of retrograd's numba backend.

    python benchmarks/bench_numba_backend.py            # full run
    python benchmarks/bench_numba_backend.py --quick    # fewer repeats, smaller workloads

Three float64 workloads written as plain Python loops, each timed as "forward" (the undifferentiated
function compiled with ``numba.njit``) and "gradient" (retrograd's ``backend="numba"`` ``.grad``, which
runs the compiled primal and adjoint), and their ratio:

1. Lorenz RK4: 100,000 RK4 steps (dt = 0.001) of the Lorenz system, a Python ``for`` loop over three
   floats; gradient of x(T) + y(T) + z(T) w.r.t. (x0, y0, z0, sigma).
2. Heat 1-D: explicit stencil on 1,000 points for 500 steps; every step allocates ``un = np.zeros(n)``
   and fills it with an element loop; loss sum(u * u); gradient w.r.t. the initial field and c.
3. Lennard-Jones: energy over all pairs i < j of 300 particles in 3-D (element loops over pos[i, 0]
   etc., epsilon = sigma = 1, jittered lattice with spacing 1.2); gradient w.r.t. the positions.

4. MLP and 5. RNN: array code (matmuls, tanh, broadcasting).
6. Mass-spring chain: 1,000 masses joined by unit-length springs, 1,000 symplectic-Euler steps, written as
   natural array code (`dx = x[1:] - x[:-1]`, `a = np.zeros_like(x)`, `a[:-1] += t`, `a[1:] -= t`); loss
   sum(x_T * x_T); gradient w.r.t. (x0, v0, k).  Peer: NVIDIA Warp (`warp-lang`, CPU device, `wp.Tape`),
   when it is importable.

Plain call: for every workload, retrograd's `f(*args)` on backend="numba" (the compiled forward without
tape) is timed against `numba.njit(f)(*args)`, interleaved, after checking that their values agree.

Each workload also has a hand-written Numba adjoint (the reference a person would write) and a JAX
``jit(grad)`` peer (``lax.fori_loop`` for 1 and 2, a vectorised pair sum for 3) when JAX is importable.
Every gradient is verified before it is timed: retrograd's against finite differences (Lorenz) and the
hand-written adjoint to 1e-9 relative; the hand-written adjoints against finite differences.  If
retrograd fails on a workload, the failure (first line of the error) is recorded in the table and the
run goes on.

Start-up: for each workload a fresh process with an empty RETROGRAD_CACHE_DIR times the first call
(``rg.differentiate`` + the first ``.grad``: code generation, ``import numba`` and Numba compilation),
then a second new process with the same cache directory times import + differentiate + first ``.grad``
(the compiled code comes from Numba's disk cache).

The output is markdown tables; --json PATH also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import retrograd as rg  # noqa: E402
from bench_python_backend import (  # noqa: E402
    make_jax_lorenz,
    Results,
    _why,
    best_of,
    best_of_pair,
    check_close,
    environment,
    lorenz_final_sum,
    mlp_data,
    mlp_grad_by_hand,
    mlp_loss,
)

# --------------------------------------------------------------------------------------------------
# The workloads, as plain Python (retrograd differentiates these; numba.njit compiles them as forward)

LORENZ_WRT = ("x", "y", "z", "sigma")
LORENZ_DT = 0.001


def lorenz_args(n_steps):
    return (1.0, 1.0, 1.0, 10.0, 28.0, 8.0 / 3.0, LORENZ_DT, n_steps)


def heat_loss(u, c, n_steps):
    n = u.shape[0]
    for step in range(n_steps):
        un = np.zeros(n)
        for i in range(1, n - 1):
            un[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = un
    return np.sum(u * u)


def heat_loss_preassigned(u, c, n_steps):
    """heat_loss with `un` assigned once before the time loop: the workaround that retrograd's numba
    backend accepts (the loop body is the same)."""
    n = u.shape[0]
    un = np.zeros(n)
    for step in range(n_steps):
        un = np.zeros(n)
        for i in range(1, n - 1):
            un[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = un
    return np.sum(u * u)


HEAT_WRT = ("u", "c")


def heat_args(n_points, n_steps):
    x = np.linspace(0.0, 1.0, n_points)
    u0 = np.sin(np.pi * x) + 0.3 * np.sin(5.0 * np.pi * x)
    return (u0, 0.25, n_steps)


def lj_energy(pos):
    n = pos.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            inv6 = 1.0 / (r2 * r2 * r2)
            e = e + 4.0 * (inv6 * inv6 - inv6)
    return e


LJ_WRT = ("pos",)


def lj_args(n_particles, spacing=1.2, jitter=0.1, seed=0):
    side = int(math.ceil(n_particles ** (1.0 / 3.0)))
    grid = np.array([(i, j, k) for i in range(side) for j in range(side) for k in range(side)], dtype=np.float64)
    rng = np.random.default_rng(seed)
    pos = grid[:n_particles] * spacing + rng.uniform(-jitter, jitter, size=(n_particles, 3))
    return (pos,)


def spring_chain(x, v, k, dt, n_steps):
    for step in range(n_steps):
        dx = x[1:] - x[:-1]
        t = k * (dx - 1.0)
        a = np.zeros_like(x)
        a[:-1] += t
        a[1:] -= t
        v = v + dt * a
        x = x + dt * v
    return np.sum(x * x)


SPRING_WRT = ("x", "v", "k")


def spring_args(n_masses=1000, n_steps=1000):
    i = np.arange(n_masses, dtype=np.float64)
    return (i + 0.1 * np.sin(i), np.zeros(n_masses), 3.0, 0.01, n_steps)


MLP_WRT = ("W1", "b1", "W2", "b2")   # mlp_loss is bench_python_backend's: mean((tanh(x@W1+b1)@W2+b2 - y)**2)


def mlp_args(batch=256, width=512):
    return mlp_data(width, batch)


def rnn_loss(Wx, Wh, b, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h)


RNN_WRT = ("Wx", "Wh", "b")


def rnn_args(n_steps=100, batch=32, n_in=32, hidden=64, seed=0):
    rng = np.random.default_rng(seed)
    Wx = rng.normal(scale=1.0 / np.sqrt(n_in), size=(n_in, hidden))
    Wh = rng.normal(scale=1.0 / np.sqrt(hidden), size=(hidden, hidden))
    b = rng.normal(scale=0.1, size=hidden)
    xs = rng.normal(size=(n_steps, batch, n_in))
    h0 = np.zeros((batch, hidden))
    return (Wx, Wh, b, xs, h0)


# --------------------------------------------------------------------------------------------------
# Hand-written Numba adjoints (compiled lazily so that importing this module does not import numba)


def lorenz_grad_by_hand_py(x, y, z, sigma, rho, beta, dt, n_steps):
    """Value and gradient w.r.t. (x0, y0, z0, sigma): the forward pass stores the state at the start of
    each step (3 floats), the reverse pass recomputes the RK stages of that step and back-propagates."""
    xs = np.empty(n_steps)
    ys = np.empty(n_steps)
    zs = np.empty(n_steps)
    for step in range(n_steps):
        xs[step] = x
        ys[step] = y
        zs[step] = z
        k1x = sigma * (y - x); k1y = x * (rho - z) - y; k1z = x * y - beta * z  # noqa: E702
        x2 = x + 0.5 * dt * k1x; y2 = y + 0.5 * dt * k1y; z2 = z + 0.5 * dt * k1z  # noqa: E702
        k2x = sigma * (y2 - x2); k2y = x2 * (rho - z2) - y2; k2z = x2 * y2 - beta * z2  # noqa: E702
        x3 = x + 0.5 * dt * k2x; y3 = y + 0.5 * dt * k2y; z3 = z + 0.5 * dt * k2z  # noqa: E702
        k3x = sigma * (y3 - x3); k3y = x3 * (rho - z3) - y3; k3z = x3 * y3 - beta * z3  # noqa: E702
        x4 = x + dt * k3x; y4 = y + dt * k3y; z4 = z + dt * k3z  # noqa: E702
        k4x = sigma * (y4 - x4); k4y = x4 * (rho - z4) - y4; k4z = x4 * y4 - beta * z4  # noqa: E702
        x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
        y = y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        z = z + dt / 6.0 * (k1z + 2.0 * k2z + 2.0 * k3z + k4z)
    value = x + y + z
    gx = 1.0; gy = 1.0; gz = 1.0; gs = 0.0  # noqa: E702
    for step in range(n_steps - 1, -1, -1):
        x = xs[step]; y = ys[step]; z = zs[step]  # noqa: E702
        # recompute the stages
        k1x = sigma * (y - x); k1y = x * (rho - z) - y; k1z = x * y - beta * z  # noqa: E702
        x2 = x + 0.5 * dt * k1x; y2 = y + 0.5 * dt * k1y; z2 = z + 0.5 * dt * k1z  # noqa: E702
        k2x = sigma * (y2 - x2); k2y = x2 * (rho - z2) - y2; k2z = x2 * y2 - beta * z2  # noqa: E702
        x3 = x + 0.5 * dt * k2x; y3 = y + 0.5 * dt * k2y; z3 = z + 0.5 * dt * k2z  # noqa: E702
        k3x = sigma * (y3 - x3); k3y = x3 * (rho - z3) - y3; k3z = x3 * y3 - beta * z3  # noqa: E702
        x4 = x + dt * k3x; y4 = y + dt * k3y; z4 = z + dt * k3z  # noqa: E702
        # x' = x + dt/6 (k1 + 2 k2 + 2 k3 + k4)
        a1x = dt / 6.0 * gx; a1y = dt / 6.0 * gy; a1z = dt / 6.0 * gz  # noqa: E702
        a2x = dt / 3.0 * gx; a2y = dt / 3.0 * gy; a2z = dt / 3.0 * gz  # noqa: E702
        a3x = a2x; a3y = a2y; a3z = a2z  # noqa: E702
        a4x = a1x; a4y = a1y; a4z = a1z  # noqa: E702
        # k = f(s): transposed Jacobian of (sigma (y - x), x (rho - z) - y, x y - beta z)
        # stage 4 at (x4, y4, z4)
        b4x = -sigma * a4x + (rho - z4) * a4y + y4 * a4z
        b4y = sigma * a4x - a4y + x4 * a4z
        b4z = -x4 * a4y - beta * a4z
        gs += (y4 - x4) * a4x
        gx += b4x; gy += b4y; gz += b4z  # noqa: E702
        a3x += dt * b4x; a3y += dt * b4y; a3z += dt * b4z  # noqa: E702
        # stage 3 at (x3, y3, z3)
        b3x = -sigma * a3x + (rho - z3) * a3y + y3 * a3z
        b3y = sigma * a3x - a3y + x3 * a3z
        b3z = -x3 * a3y - beta * a3z
        gs += (y3 - x3) * a3x
        gx += b3x; gy += b3y; gz += b3z  # noqa: E702
        a2x += 0.5 * dt * b3x; a2y += 0.5 * dt * b3y; a2z += 0.5 * dt * b3z  # noqa: E702
        # stage 2 at (x2, y2, z2)
        b2x = -sigma * a2x + (rho - z2) * a2y + y2 * a2z
        b2y = sigma * a2x - a2y + x2 * a2z
        b2z = -x2 * a2y - beta * a2z
        gs += (y2 - x2) * a2x
        gx += b2x; gy += b2y; gz += b2z  # noqa: E702
        a1x += 0.5 * dt * b2x; a1y += 0.5 * dt * b2y; a1z += 0.5 * dt * b2z  # noqa: E702
        # stage 1 at (x, y, z)
        gs += (y - x) * a1x
        b1x = -sigma * a1x + (rho - z) * a1y + y * a1z
        b1y = sigma * a1x - a1y + x * a1z
        b1z = -x * a1y - beta * a1z
        gx += b1x; gy += b1y; gz += b1z  # noqa: E702
    return value, gx, gy, gz, gs


def heat_grad_by_hand_py(u, c, n_steps):
    """Value and gradient w.r.t. (u0, c): the forward pass keeps every field (n_steps x n floats)."""
    n = u.shape[0]
    us = np.empty((n_steps, n))
    for step in range(n_steps):
        us[step, :] = u
        un = np.zeros(n)
        for i in range(1, n - 1):
            un[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = un
    value = 0.0
    for i in range(n):
        value += u[i] * u[i]
    dun = 2.0 * u
    dc = 0.0
    for step in range(n_steps - 1, -1, -1):
        # un[0] and un[n-1] are constants: their adjoints are dropped.  Gather form (vectorises):
        # du[j] = (1 - 2c) dun[j] + c (dun[j-1] + dun[j+1]) over the interior entries of dun.
        dun[0] = 0.0
        dun[n - 1] = 0.0
        du = np.empty(n)
        du[0] = c * dun[1]
        du[n - 1] = c * dun[n - 2]
        for i in range(1, n - 1):
            du[i] = (1.0 - 2.0 * c) * dun[i] + c * (dun[i - 1] + dun[i + 1])
            dc += dun[i] * (us[step, i - 1] - 2.0 * us[step, i] + us[step, i + 1])
        dun = du
    du = dun
    return value, du, dc


def spring_grad_by_hand_py(x, v, k, dt, n_steps):
    """Value and gradient w.r.t. (x0, v0, k): element loops, one preallocated force buffer; the forward
    pass keeps the positions of every step (the velocities enter linearly: not needed backwards)."""
    n = x.shape[0]
    x = x.copy()
    v = v.copy()
    xs = np.empty((n_steps, n))
    a = np.empty(n)
    for step in range(n_steps):
        xs[step, :] = x
        a[:] = 0.0
        for i in range(n - 1):
            t = k * (x[i + 1] - x[i] - 1.0)
            a[i] += t
            a[i + 1] -= t
        for i in range(n):
            v[i] += dt * a[i]
            x[i] += dt * v[i]
    value = 0.0
    for i in range(n):
        value += x[i] * x[i]
    gx = 2.0 * x
    gv = np.zeros(n)
    gk = 0.0
    ga = np.empty(n)
    for step in range(n_steps - 1, -1, -1):
        for i in range(n):          # x' = x + dt v',  v' = v + dt a(x)
            gv[i] += dt * gx[i]
            ga[i] = dt * gv[i]
        for i in range(n - 1):
            gt = ga[i] - ga[i + 1]
            gk += gt * (xs[step, i + 1] - xs[step, i] - 1.0)
            gx[i + 1] += k * gt
            gx[i] -= k * gt
    return value, gx, gv, gk


def lj_grad_by_hand_py(pos):
    """Value and gradient w.r.t. pos in one pass over the pairs (dE/dr2 per pair)."""
    n = pos.shape[0]
    grad = np.zeros((n, 3))
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            inv6 = 1.0 / (r2 * r2 * r2)
            e += 4.0 * (inv6 * inv6 - inv6)
            de_dr2 = -12.0 * inv6 * (2.0 * inv6 - 1.0) / r2
            fx = 2.0 * de_dr2 * dx
            fy = 2.0 * de_dr2 * dy
            fz = 2.0 * de_dr2 * dz
            grad[i, 0] += fx; grad[i, 1] += fy; grad[i, 2] += fz  # noqa: E702
            grad[j, 0] -= fx; grad[j, 1] -= fy; grad[j, 2] -= fz  # noqa: E702
    return e, grad


def mlp_grad_by_hand_py(W1, b1, W2, b2, x, y):
    """Value and gradient w.r.t. (W1, b1, W2, b2); keeps h, recomputes nothing."""
    h = np.tanh(x @ W1 + b1)
    r = h @ W2 + b2 - y
    value = np.mean(r * r)
    dout = (2.0 / r.size) * r
    dW2 = h.T @ dout
    db2 = np.sum(dout, axis=0)
    dz = (dout @ W2.T) * (1.0 - h * h)
    dW1 = x.T @ dz
    db1 = np.sum(dz, axis=0)
    return value, dW1, db1, dW2, db2


def rnn_grad_by_hand_py(Wx, Wh, b, xs, h0):
    """Value and gradient w.r.t. (Wx, Wh, b): the forward pass keeps every hidden state (T+1 x batch x
    hidden floats), the reverse pass is dz = dh (1 - h^2); dWx += x^T dz; dWh += h_prev^T dz; dh = dz Wh^T."""
    n_steps = xs.shape[0]
    hs = np.empty((n_steps + 1, h0.shape[0], h0.shape[1]))
    hs[0] = h0
    h = h0
    for t in range(n_steps):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        hs[t + 1] = h
    value = np.sum(h)
    dh = np.ones_like(h)
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    WhT = Wh.T
    for t in range(n_steps - 1, -1, -1):
        ht = hs[t + 1]
        dz = dh * (1.0 - ht * ht)
        dWx += xs[t].T @ dz
        dWh += hs[t].T @ dz
        db += np.sum(dz, axis=0)
        dh = dz @ WhT
    return value, dWx, dWh, db


_JIT = {}


def njitted(fn):
    """numba.njit(fn), compiled once per process."""
    if fn not in _JIT:
        import numba

        _JIT[fn] = numba.njit(fn)
    return _JIT[fn]


def _short(text):
    """Error text without this file's directory (keeps table cells short)."""
    return text.replace(os.path.dirname(os.path.abspath(__file__)) + os.sep, "")


def _first_line(exc):
    return _short(f"{type(exc).__name__}: {exc}".splitlines()[0])


def _fail_note(exc):
    return "FAILED: " + _first_line(exc)[:160]


# --------------------------------------------------------------------------------------------------
# The plain call: retrograd's compiled forward against numba.njit of the same function


def bench_call(summary, bench, fn, wrt, args, fwd, repeat, min_time):
    """`rg.differentiate(fn, backend="numba")(*args)` (the compiled forward without tape) against
    `numba.njit(fn)(*args)`, interleaved; their values must agree to 1e-12."""
    try:
        d = rg.differentiate(fn, wrt=wrt, backend="numba")
        got, want = d(*args), fwd(*args)
        if not math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300):
            raise AssertionError(f"f(*args) = {got!r}, numba.njit(f)(*args) = {want!r}")
        n, c = best_of_pair(lambda: fwd(*args), lambda: d(*args), repeat, min_time)
    except Exception as exc:
        summary["calls"].append(dict(workload=bench, error=_first_line(exc)))
        summary["failures"].append((bench + " (plain call)", _first_line(exc)))
        return
    print(f"  plain call: numba.njit {n * 1e3:.3f} ms, retrograd f(*args) {c * 1e3:.3f} ms ({c / n:.2f}x)",
          file=sys.stderr)
    summary["calls"].append(dict(workload=bench, njit_s=n, call_s=c))


def calls_markdown(rows):
    lines = ["| workload | `numba.njit(f)(*args)` (ms) | retrograd `f(*args)`, backend=\"numba\" (ms) | ratio |",
             "|---|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['workload']} | - | FAILED: {r['error'][:120]} | - |")
        else:
            lines.append(f"| {r['workload']} | {r['njit_s'] * 1e3:.3f} | {r['call_s'] * 1e3:.3f} | "
                         f"{r['call_s'] / r['njit_s']:.2f} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Workload 1: Lorenz RK4


def lorenz_fd(fwd, args, eps=1e-6):
    grads = []
    for i in range(len(LORENZ_WRT)):
        h = eps * max(1.0, abs(args[i]))
        plus, minus = list(args), list(args)
        plus[i] += h
        minus[i] -= h
        grads.append((fwd(*plus) - fwd(*minus)) / (2 * h))
    return np.array(grads)


def bench_lorenz(results, summary, n_steps, repeat, min_time, peers):
    bench = f"lorenz-rk4 ({n_steps:,} steps)"
    print(f"\n[{bench}] gradient of x(T)+y(T)+z(T) w.r.t. (x0, y0, z0, sigma)", file=sys.stderr)
    args = lorenz_args(n_steps)
    fwd = njitted(lorenz_final_sum)
    hand = njitted(lorenz_grad_by_hand_py)
    fwd(*args), hand(*args)  # compile

    # The hand-written adjoint against finite differences on a short horizon (the system is chaotic),
    # and loosely on the full one.
    short = lorenz_args(min(n_steps, 1000))
    check_close("hand-written lorenz (1000 steps) vs finite differences", [np.array(hand(*short)[1:])],
                [lorenz_fd(fwd, short)], 1e-5)
    mid = lorenz_args(min(n_steps, 10_000))
    check_close("hand-written lorenz (10000 steps) vs finite differences", [np.array(hand(*mid)[1:])],
                [lorenz_fd(fwd, mid, 1e-7)], 1e-2)
    # Over 100,000 steps (t = 100) the gradient grows like exp(0.9 t): finite differences say nothing
    # there, so the full-length gradients are compared with each other (retrograd, JAX) only.
    ref = np.array(hand(*args)[1:])
    assert np.all(np.isfinite(ref)), "hand-written lorenz gradient is not finite"
    assert math.isclose(hand(*args)[0], fwd(*args), rel_tol=1e-12), "hand-written adjoint value != forward"

    rg_grad = None
    try:
        d = rg.differentiate(lorenz_final_sum, wrt=LORENZ_WRT, backend="numba")
        got = np.array(d.grad(*args))
        check_close("retrograd lorenz vs hand-written adjoint", [got], [ref], 1e-9)
        check_close("retrograd lorenz (1000 steps) vs finite differences", [np.array(d.grad(*short))],
                    [lorenz_fd(fwd, short)], 1e-5)
        value, _ = d.value_and_grad(*args)
        assert math.isclose(value, fwd(*args), rel_tol=1e-12), "value_and_grad value != forward"
        rg_grad = d.grad
    except Exception as exc:
        results.add(bench, "retrograd (numba backend)", note=_fail_note(exc))
        summary["failures"].append((bench, _first_line(exc)))

    if rg_grad is not None:
        f, g = best_of_pair(lambda: fwd(*args), lambda: rg_grad(*args), repeat, min_time)
        results.add(bench, "retrograd (numba backend)", f, g)
    bench_recompute(results, summary, bench, lorenz_final_sum, LORENZ_WRT, args, fwd, list(ref), repeat, min_time)
    bench_call(summary, bench, lorenz_final_sum, LORENZ_WRT, args, fwd, repeat, min_time)
    f, g = best_of_pair(lambda: fwd(*args), lambda: hand(*args), repeat, min_time)
    results.add(bench, "numba, hand-written adjoint", f, g)

    if peers:
        try:
            import jax
            import jax.numpy as jnp

            jax.config.update("jax_enable_x64", True)
            rho, beta, dt = args[4], args[5], args[6]

            def make_jax_loss(n):
                return make_jax_lorenz(jax, rho, beta, dt, n)

            jargs = [jnp.float64(a) for a in args[:4]]
            # Verified on 1,000 steps: over 100,000 steps (t = 100) XLA's rounding (a different order of
            # operations) puts JAX on a different chaotic trajectory, so its gradient there cannot match
            # ours to any tolerance; only its finiteness is checked.
            n_check = min(n_steps, 1000)
            jg_short = jax.jit(jax.grad(make_jax_loss(n_check), argnums=(0, 1, 2, 3)))
            check_close(f"jax lorenz ({n_check} steps) vs hand-written adjoint",
                        [np.array([float(v) for v in jg_short(*jargs)])], [np.array(hand(*short)[1:])], 1e-9)
            jf = jax.jit(make_jax_loss(n_steps))
            jg = jax.jit(jax.grad(make_jax_loss(n_steps), argnums=(0, 1, 2, 3)))
            full_jax = np.array([float(v) for v in jg(*jargs)])
            assert np.all(np.isfinite(full_jax)), "jax lorenz gradient is not finite"
            print(f"  jax lorenz ({n_steps} steps): finite; value {float(jf(*jargs)):.6g} (ours {fwd(*args):.6g}), "
                  f"gradient / hand-written gradient = {np.array2string(full_jax / ref, precision=3)}", file=sys.stderr)
            rep = max(1, min(repeat, 3))
            results.add(bench, f"jax {jax.__version__} (jit(grad) + lax.fori_loop)",
                        best_of(lambda: jf(*jargs).block_until_ready(), rep, min_time),
                        best_of(lambda: [v.block_until_ready() for v in jg(*jargs)], rep, min_time))
        except ImportError:
            results.skip(bench, "jax", "not installed")
        except Exception as exc:
            results.skip(bench, "jax", _why(exc))


def bench_recompute(results, summary, bench, fn, wrt, args, fwd, ref, repeat, min_time, remat="recompute"):
    """The same function with remat="recompute" (loop steps recomputed in the adjoint instead of taped), or
    another setting (remat="store": everything taped, what the default did before it re-ran free loops)."""
    label = f'retrograd (numba backend), remat="{remat}"'
    try:
        d = rg.differentiate(fn, wrt=wrt, backend="numba", remat=remat)
        got = d.grad(*args)
        check_close(f"{label} vs hand-written adjoint", [np.asarray(v) for v in (got if isinstance(got, tuple)
                    else (got,))], [np.asarray(v) for v in ref], 1e-9, atol=1e-300)
    except Exception as exc:
        results.add(bench, label, note=_fail_note(exc))
        summary["failures"].append((bench + f" ({remat})", _first_line(exc)))
        return
    f, g = best_of_pair(lambda: fwd(*args), lambda: d.grad(*args), repeat, min_time)
    results.add(bench, label, f, g, f"tape {d.tape_bytes(*args):,} B")


# --------------------------------------------------------------------------------------------------
# Workload 2: 1-D heat equation


def bench_heat(results, summary, n_points, n_steps, repeat, min_time, peers):
    bench = f"heat-1d ({n_points:,} points, {n_steps} steps)"
    print(f"\n[{bench}] gradient of sum(u*u) w.r.t. (u0, c)", file=sys.stderr)
    args = heat_args(n_points, n_steps)
    fwd = njitted(heat_loss)
    hand = njitted(heat_grad_by_hand_py)
    fwd(*args), hand(*args)

    # The hand-written adjoint against central differences on a few entries of u0 and on c.
    value, du, dc = hand(*args)
    assert math.isclose(value, fwd(*args), rel_tol=1e-12), "hand-written adjoint value != forward"
    u0, c = args[0], args[1]
    for k in (1, n_points // 3, n_points // 2, n_points - 2):
        h = 1e-3  # the loss is quadratic in u0: central differences are exact up to rounding
        up, um = u0.copy(), u0.copy()
        up[k] += h
        um[k] -= h
        fd = (fwd(up, c, n_steps) - fwd(um, c, n_steps)) / (2 * h)
        if not math.isclose(fd, du[k], rel_tol=1e-5, abs_tol=1e-9):
            raise AssertionError(f"hand-written heat adjoint disagrees with finite differences at u[{k}]: {fd} vs {du[k]}")
    fd = (fwd(u0, c + 1e-7, n_steps) - fwd(u0, c - 1e-7, n_steps)) / 2e-7
    if not math.isclose(fd, dc, rel_tol=1e-5):
        raise AssertionError(f"hand-written heat adjoint disagrees with finite differences on c: {fd} vs {dc}")
    print("  verified hand-written heat adjoint against finite differences (4 entries of u0, and c)", file=sys.stderr)
    ref = [du, dc]

    # retrograd's python backend on the same function, on fewer steps (interpreted element loops).
    few = (u0, c, min(n_steps, 20))
    check_close("hand-written heat (20 steps) vs retrograd python backend",
                list(hand(*few)[1:]), rg.differentiate(heat_loss, wrt=HEAT_WRT, backend="python").grad(*few), 1e-9, atol=1e-300)

    for label, fn in (("retrograd (numba backend)", heat_loss),
                      ("retrograd (numba backend), `un` pre-assigned before the loop", heat_loss_preassigned)):
        try:
            d = rg.differentiate(fn, wrt=HEAT_WRT, backend="numba")
            check_close(f"{label} vs hand-written adjoint", d.grad(*args), ref, 1e-9, atol=1e-300)
            rg_grad = d.grad
        except Exception as exc:
            results.add(bench, label, note=_fail_note(exc))
            summary["failures"].append((bench + (" (pre-assigned variant)" if fn is heat_loss_preassigned else ""),
                                        _first_line(exc)))
            continue
        f, g = best_of_pair(lambda: fwd(*args), lambda: rg_grad(*args), repeat, min_time)
        note = "" if fn is heat_loss else "workaround; forward is the unmodified heat_loss"
        results.add(bench, label, f, g, note)
    bench_recompute(results, summary, bench, heat_loss, HEAT_WRT, args, fwd, ref, repeat, min_time)
    bench_call(summary, bench, heat_loss, HEAT_WRT, args, fwd, repeat, min_time)
    f, g = best_of_pair(lambda: fwd(*args), lambda: hand(*args), repeat, min_time)
    results.add(bench, "numba, hand-written adjoint", f, g)

    if peers:
        try:
            import jax
            import jax.numpy as jnp

            jax.config.update("jax_enable_x64", True)

            def jax_loss(u, c):
                def body(_, u):
                    return jnp.zeros_like(u).at[1:-1].set(u[1:-1] + c * (u[:-2] - 2.0 * u[1:-1] + u[2:]))

                u = jax.lax.fori_loop(0, n_steps, body, u)
                return jnp.sum(u * u)

            jf = jax.jit(jax_loss)
            jg = jax.jit(jax.grad(jax_loss, argnums=(0, 1)))
            jargs = [jnp.asarray(u0), jnp.float64(c)]
            check_close("jax heat", [np.asarray(v) for v in jg(*jargs)], ref, 1e-9, atol=1e-300)
            rep = max(1, min(repeat, 5))
            results.add(bench, f"jax {jax.__version__} (jit(grad) + lax.fori_loop, sliced stencil)",
                        best_of(lambda: jf(*jargs).block_until_ready(), rep, min_time),
                        best_of(lambda: [v.block_until_ready() for v in jg(*jargs)], rep, min_time))
        except ImportError:
            results.skip(bench, "jax", "not installed")
        except Exception as exc:
            results.skip(bench, "jax", _why(exc))


# --------------------------------------------------------------------------------------------------
# Workload 3: Lennard-Jones pair energy


def bench_lj(results, summary, n_particles, repeat, min_time, peers):
    bench = f"lennard-jones ({n_particles} particles)"
    print(f"\n[{bench}] gradient of the pair energy w.r.t. positions", file=sys.stderr)
    args = lj_args(n_particles)
    (pos,) = args
    fwd = njitted(lj_energy)
    hand = njitted(lj_grad_by_hand_py)
    fwd(*args), hand(*args)

    value, ref = hand(pos)
    assert np.isfinite(value) and math.isclose(value, fwd(pos), rel_tol=1e-12), "hand-written LJ value != forward"
    rng = np.random.default_rng(1)
    for _ in range(6):
        idx = (int(rng.integers(0, n_particles)), int(rng.integers(0, 3)))
        h = 1e-6
        pp, pm = pos.copy(), pos.copy()
        pp[idx] += h
        pm[idx] -= h
        fd = (fwd(pp) - fwd(pm)) / (2 * h)
        if not math.isclose(fd, ref[idx], rel_tol=1e-5, abs_tol=1e-7):
            raise AssertionError(f"hand-written LJ adjoint disagrees with finite differences at {idx}: {fd} vs {ref[idx]}")
    print("  verified hand-written LJ adjoint against finite differences (6 entries)", file=sys.stderr)

    rg_grad = None
    try:
        d = rg.differentiate(lj_energy, wrt=LJ_WRT, backend="numba")
        check_close("retrograd LJ vs hand-written adjoint", [d.grad(pos)], [ref], 1e-9, atol=1e-12)
        rg_grad = d.grad
    except Exception as exc:
        results.add(bench, "retrograd (numba backend)", note=_fail_note(exc))
        summary["failures"].append((bench, _first_line(exc)))
    if rg_grad is not None:
        f, g = best_of_pair(lambda: fwd(pos), lambda: rg_grad(pos), repeat, min_time)
        results.add(bench, "retrograd (numba backend)", f, g)
    bench_recompute(results, summary, bench, lj_energy, LJ_WRT, (pos,), fwd, [ref], repeat, min_time)
    bench_recompute(results, summary, bench, lj_energy, LJ_WRT, (pos,), fwd, [ref], repeat, min_time, "store")
    bench_call(summary, bench, lj_energy, LJ_WRT, (pos,), fwd, repeat, min_time)
    f, g = best_of_pair(lambda: fwd(pos), lambda: hand(pos), repeat, min_time)
    results.add(bench, "numba, hand-written adjoint", f, g)

    if peers:
        try:
            import jax
            import jax.numpy as jnp

            jax.config.update("jax_enable_x64", True)
            ii, jj = np.triu_indices(n_particles, 1)

            def jax_energy(pos):
                d = pos[ii] - pos[jj]
                r2 = jnp.sum(d * d, axis=1)
                inv6 = 1.0 / (r2 * r2 * r2)
                return jnp.sum(4.0 * (inv6 * inv6 - inv6))

            jf = jax.jit(jax_energy)
            jg = jax.jit(jax.grad(jax_energy))
            jpos = jnp.asarray(pos)
            check_close("jax LJ", [np.asarray(jg(jpos))], [ref], 1e-9, atol=1e-12)
            results.add(bench, f"jax {jax.__version__} (jit(grad), vectorised i<j pair sum)",
                        best_of(lambda: jf(jpos).block_until_ready(), repeat, min_time),
                        best_of(lambda: jg(jpos).block_until_ready(), repeat, min_time))
        except ImportError:
            results.skip(bench, "jax", "not installed")
        except Exception as exc:
            results.skip(bench, "jax", _why(exc))


# --------------------------------------------------------------------------------------------------
# Workloads 4 and 5: two-layer MLP, vanilla RNN (array code: matmuls, tanh, broadcasting, array tapes)


def _fd_check(name, fwd, args, positions, grads, n_entries, eps=1e-6, rtol=1e-5, atol=1e-9, seed=1):
    """Central differences of fwd on `n_entries` random entries of each args[k], k in positions."""
    rng = np.random.default_rng(seed)
    for k, g in zip(positions, grads):
        for _ in range(n_entries):
            idx = tuple(int(rng.integers(0, s)) for s in args[k].shape)
            plus, minus = list(args), list(args)
            plus[k], minus[k] = args[k].copy(), args[k].copy()
            plus[k][idx] += eps
            minus[k][idx] -= eps
            fd = (fwd(*plus) - fwd(*minus)) / (2 * eps)
            if not math.isclose(fd, g[idx], rel_tol=rtol, abs_tol=atol):
                raise AssertionError(f"{name} disagrees with finite differences at argument {k}{list(idx)}: "
                                     f"{fd} vs {g[idx]}")
    print(f"  verified {name} against finite differences ({n_entries * len(positions)} entries)", file=sys.stderr)


def _bench_retrograd_arrays(results, summary, bench, fn, wrt, args, fwd, ref, repeat, min_time):
    """retrograd's numba backend: compiles, matches the python backend to 1e-12 and the hand-written
    adjoint to 1e-9, then is timed against the njit forward."""
    try:
        d = rg.differentiate(fn, wrt=wrt, backend="numba")
        got = d.grad(*args)
        check_close(f"retrograd {fn.__name__} vs hand-written adjoint", got, ref, 1e-9, atol=1e-13)
        # 1e-10, not 1e-12: Numba's `@` calls SciPy's BLAS and the python backend NumPy's, whose different
        # summation orders differ by rounding, amplified over the RNN's steps (observed ~3e-12)
        check_close(f"retrograd {fn.__name__}: numba vs python backend", got,
                    rg.differentiate(fn, wrt=wrt, backend="python").grad(*args), 1e-10, atol=1e-15)
        value, _ = d.value_and_grad(*args)
        assert math.isclose(value, fwd(*args), rel_tol=1e-12), "value_and_grad value != forward"
    except Exception as exc:
        results.add(bench, "retrograd (numba backend)", note=_fail_note(exc))
        summary["failures"].append((bench, _first_line(exc)))
        return
    f, g = best_of_pair(lambda: fwd(*args), lambda: d.grad(*args), repeat, min_time)
    results.add(bench, "retrograd (numba backend)", f, g)


def _bench_array_peers(results, bench, args, wrt_pos, ref, repeat, min_time, jax_loss, ag_loss, torch_loss):
    """JAX jit(grad), autograd and eager PyTorch on the same loss, each checked against `ref` to 1e-9."""
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        loss = jax_loss(jax, jnp)
        jf = jax.jit(loss)
        jg = jax.jit(jax.grad(loss, argnums=wrt_pos))
        jargs = [jnp.asarray(a) for a in args]
        check_close("jax", [np.asarray(v) for v in jg(*jargs)], ref, 1e-9, atol=1e-13)
        f, g = best_of_pair(lambda: jf(*jargs).block_until_ready(),
                            lambda: [v.block_until_ready() for v in jg(*jargs)], repeat, min_time)
        results.add(bench, f"jax {jax.__version__} (jit(grad))", f, g)
    except ImportError:
        results.skip(bench, "jax", "not installed")
    except Exception as exc:
        results.skip(bench, "jax", _why(exc))

    try:
        import autograd
        import autograd.numpy as anp

        loss = ag_loss(anp)
        ag = autograd.grad(lambda *a: loss(*a), argnum=wrt_pos)
        check_close("autograd", ag(*args), ref, 1e-9, atol=1e-13)
        f, g = best_of_pair(lambda: loss(*args), lambda: ag(*args), repeat, min_time)
        results.add(bench, f"autograd {getattr(autograd, '__version__', '')}".strip(), f, g)
    except ImportError:
        results.skip(bench, "autograd", "not installed")
    except Exception as exc:
        results.skip(bench, "autograd", _why(exc))

    try:
        import torch

        loss = torch_loss(torch)
        targs = [torch.from_numpy(np.array(a, copy=True)) for a in args]

        def t_fwd():
            with torch.no_grad():
                return loss(*targs)

        def t_grad():
            leaves = [t.detach().requires_grad_(True) if k in wrt_pos else t for k, t in enumerate(targs)]
            return torch.autograd.grad(loss(*leaves), [leaves[k] for k in wrt_pos])

        check_close("torch", [v.numpy() for v in t_grad()], ref, 1e-9, atol=1e-13)
        f, g = best_of_pair(t_fwd, t_grad, repeat, min_time)
        results.add(bench, f"torch {torch.__version__} (eager, CPU)", f, g)
    except ImportError:
        results.skip(bench, "torch", "not installed")
    except Exception as exc:
        results.skip(bench, "torch", _why(exc))


def bench_mlp(results, summary, batch, width, repeat, min_time, peers):
    bench = f"mlp (batch {batch}, width {width})"
    print(f"\n[{bench}] gradient of mean((tanh(x@W1+b1)@W2+b2 - y)**2) w.r.t. W1, b1, W2, b2", file=sys.stderr)
    args = mlp_args(batch, width)
    fwd = njitted(mlp_loss)
    hand = njitted(mlp_grad_by_hand_py)
    value, *ref = hand(*args)
    assert math.isclose(value, fwd(*args), rel_tol=1e-12), "hand-written MLP value != forward"
    check_close("hand-written numba MLP adjoint vs the numpy one", ref, mlp_grad_by_hand(*args), 1e-12, atol=1e-15)
    # eps 1e-4: the loss sums 131,072 terms, so its rounding over eps = 1e-6 is ~1e-8, near the entries (~1e-4)
    _fd_check("hand-written MLP adjoint", fwd, args, (0, 1, 2, 3), ref, 3, eps=1e-4, rtol=1e-4, atol=1e-8)

    _bench_retrograd_arrays(results, summary, bench, mlp_loss, MLP_WRT, args, fwd, ref, repeat, min_time)
    bench_call(summary, bench, mlp_loss, MLP_WRT, args, fwd, repeat, min_time)
    f, g = best_of_pair(lambda: fwd(*args), lambda: hand(*args), repeat, min_time)
    results.add(bench, "numba, hand-written adjoint", f, g)
    if peers:
        def jax_loss(jax, jnp):
            def loss(W1, b1, W2, b2, x, y):
                h = jnp.tanh(x @ W1 + b1)
                return jnp.mean((h @ W2 + b2 - y) ** 2)
            return loss

        def ag_loss(anp):
            def loss(W1, b1, W2, b2, x, y):
                h = anp.tanh(anp.dot(x, W1) + b1)
                return anp.mean((anp.dot(h, W2) + b2 - y) ** 2)
            return loss

        def torch_loss(torch):
            def loss(W1, b1, W2, b2, x, y):
                h = torch.tanh(x @ W1 + b1)
                return torch.mean((h @ W2 + b2 - y) ** 2)
            return loss

        _bench_array_peers(results, bench, args, (0, 1, 2, 3), ref, repeat, min_time, jax_loss, ag_loss, torch_loss)


def bench_rnn(results, summary, n_steps, batch, repeat, min_time, peers):
    bench = f"rnn ({n_steps} steps, batch {batch}, hidden 64)"
    print(f"\n[{bench}] gradient of sum(h_T), h = tanh(x[t] @ Wx + h @ Wh + b), w.r.t. Wx, Wh, b", file=sys.stderr)
    args = rnn_args(n_steps, batch)
    fwd = njitted(rnn_loss)
    hand = njitted(rnn_grad_by_hand_py)
    value, *ref = hand(*args)
    assert math.isclose(value, fwd(*args), rel_tol=1e-12), "hand-written RNN value != forward"
    _fd_check("hand-written RNN adjoint", fwd, args, (0, 1, 2), ref, 4)

    _bench_retrograd_arrays(results, summary, bench, rnn_loss, RNN_WRT, args, fwd, ref, repeat, min_time)
    bench_call(summary, bench, rnn_loss, RNN_WRT, args, fwd, repeat, min_time)
    f, g = best_of_pair(lambda: fwd(*args), lambda: hand(*args), repeat, min_time)
    results.add(bench, "numba, hand-written adjoint", f, g)
    if peers:
        def jax_loss(jax, jnp):
            def loss(Wx, Wh, b, xs, h0):
                def step(h, x):
                    return jnp.tanh(x @ Wx + h @ Wh + b), None
                h, _ = jax.lax.scan(step, h0, xs)
                return jnp.sum(h)
            return loss

        def ag_loss(anp):
            def loss(Wx, Wh, b, xs, h0):
                h = h0
                for t in range(xs.shape[0]):
                    h = anp.tanh(anp.dot(xs[t], Wx) + anp.dot(h, Wh) + b)
                return anp.sum(h)
            return loss

        def torch_loss(torch):
            def loss(Wx, Wh, b, xs, h0):
                h = h0
                for t in range(xs.shape[0]):
                    h = torch.tanh(xs[t] @ Wx + h @ Wh + b)
                return torch.sum(h)
            return loss

        _bench_array_peers(results, bench, args, (0, 1, 2), ref, repeat, min_time, jax_loss, ag_loss, torch_loss)


# --------------------------------------------------------------------------------------------------
# Workload 6: mass-spring chain in natural array code


def bench_spring(results, summary, n_masses, n_steps, repeat, min_time, peers):
    bench = f"mass-spring ({n_masses:,} masses, {n_steps:,} steps)"
    print(f"\n[{bench}] gradient of sum(x_T * x_T) w.r.t. (x0, v0, k)", file=sys.stderr)
    args = spring_args(n_masses, n_steps)
    fwd = njitted(spring_chain)
    hand = njitted(spring_grad_by_hand_py)
    value, *ref = hand(*args)
    assert math.isclose(value, fwd(*args), rel_tol=1e-12), "hand-written spring value != forward"
    _fd_check("hand-written spring adjoint", fwd, args, (0, 1), ref, 3, eps=1e-4, rtol=1e-5, atol=1e-6)
    h = 1e-3     # the loss is ~3e8: rounding over a smaller step would swamp dL/dk (~0.3)
    fd = (fwd(args[0], args[1], args[2] + h, *args[3:]) - fwd(args[0], args[1], args[2] - h, *args[3:])) / (2 * h)
    if not math.isclose(fd, ref[2], rel_tol=1e-4):
        raise AssertionError(f"hand-written spring adjoint disagrees with finite differences on k: {fd} vs {ref[2]}")

    _bench_retrograd_arrays(results, summary, bench, spring_chain, SPRING_WRT, args, fwd, ref, repeat, min_time)
    bench_recompute(results, summary, bench, spring_chain, SPRING_WRT, args, fwd, ref, repeat, min_time)
    bench_call(summary, bench, spring_chain, SPRING_WRT, args, fwd, repeat, min_time)
    f, g = best_of_pair(lambda: fwd(*args), lambda: hand(*args), repeat, min_time)
    results.add(bench, "numba, hand-written adjoint", f, g)
    if peers:
        try:
            import warp
            import warp_peers
            w = warp_peers.Spring(*args)
            if not math.isclose(w.value(), value, rel_tol=1e-12):
                raise AssertionError(f"warp value {w.value()} != {value}")
            check_close("warp spring", [np.asarray(v) for v in w.grad()], ref, 1e-9, atol=1e-12)
            f, g = best_of_pair(w.value, w.grad, max(1, min(repeat, 3)), min_time)
            results.add(bench, f"warp {warp.__version__} (CPU, wp.Tape, one kernel launch per step)", f, g)
        except ImportError:
            results.skip(bench, "warp", "not installed")
        except Exception as exc:
            results.skip(bench, "warp", _why(exc))


# --------------------------------------------------------------------------------------------------
# Start-up: first call with a cold cache, and a new process with a warm cache

_STARTUP_SCRIPT = r"""
import sys, time, json
t0 = time.perf_counter()
import numpy as np
import retrograd as rg
t1 = time.perf_counter()
sys.path.insert(0, {bench_dir!r})
import bench_numba_backend as B
args = {args_expr}
fn = B.{fn}
t2 = time.perf_counter()
d = rg.differentiate(fn, wrt={wrt!r}, backend="numba")
g = d.grad(*args)
t3 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, first_call_s=t3 - t2, total_s=(t1 - t0) + (t3 - t2))))
"""

STARTUP_CASES = {
    "lorenz": ("lorenz_final_sum", LORENZ_WRT, "B.lorenz_args({n})"),
    "heat": ("heat_loss", HEAT_WRT, "B.heat_args(1000, {n})"),
    "heat-preassigned": ("heat_loss_preassigned", HEAT_WRT, "B.heat_args(1000, {n})"),
    "lj": ("lj_energy", LJ_WRT, "B.lj_args({n})"),
    "mlp": ("mlp_loss", MLP_WRT, "B.mlp_args({n})"),
    "rnn": ("rnn_loss", RNN_WRT, "B.rnn_args({n})"),
    "spring": ("spring_chain", SPRING_WRT, "B.spring_args(1000, {n})"),
}


def _run_startup(case, n, cache_dir):
    fn, wrt, args_expr = STARTUP_CASES[case]
    script = _STARTUP_SCRIPT.format(bench_dir=os.path.dirname(os.path.abspath(__file__)), fn=fn, wrt=wrt,
                                    args_expr=args_expr.format(n=n))
    env = dict(os.environ, RETROGRAD_CACHE_DIR=cache_dir)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        # the exception line: the last line that is not indented (hints follow it indented)
        err = next((ln for ln in reversed(lines) if not ln.startswith(" ")), "unknown error")
        raise RuntimeError(_short(err).replace("retrograd.errors.", ""))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def bench_startup(cases, summary):
    """[(workload, cold dict | error, warm dict | error)] for each (case, size)."""
    rows = []
    for label, case, n in cases:
        print(f"\n[start-up: {label}]", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="retrograd-bench-cache-") as cache:
            try:
                cold = _run_startup(case, n, cache)
                warm = _run_startup(case, n, cache)
            except Exception as exc:
                rows.append(dict(workload=label, error=str(exc)[:160]))
                print(f"  failed: {exc}", file=sys.stderr)
                continue
        print(f"  cold: first call {cold['first_call_s']:.2f} s (import {cold['import_s']:.2f} s); "
              f"warm new process: import + first call {warm['total_s']:.2f} s "
              f"(process wall {warm['process_wall_s']:.2f} s)", file=sys.stderr)
        rows.append(dict(workload=label, cold=cold, warm=warm))
    try:
        t = subprocess.run([sys.executable, "-c", "import time; t=time.perf_counter(); import numba; "
                            "print(time.perf_counter()-t)"], capture_output=True, text=True, timeout=120)
        summary["numba_import_s"] = float(t.stdout.strip())
    except Exception:
        pass
    try:
        summary["numba_floor"] = numba_floor()
    except Exception as exc:
        print(f"  numba floor: failed: {exc}", file=sys.stderr)
    return rows


_FLOOR_MODULE = """
import numpy as np
from numba import njit


@njit(cache=True)
def scalar(x):
    return x * 2.0 + 1.0


@njit(cache=True)
def arrays(a, b):
    return np.sum(np.tanh(a @ b + a[0]))
"""

_FLOOR_SCRIPT = r"""
import sys, time, json
t0 = time.perf_counter()
import numpy as np
import numba
sys.path.insert(0, {d!r})
import rg_floor_mod as M
t1 = time.perf_counter()
M.{fn}({args})
t2 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, call_s=t2 - t1, total_s=t2 - t0)))
"""


def numba_floor():
    """Numba's own start-up with its disk cache populated: a new process imports numpy + numba and calls a
    trivial cached @njit function (a scalar one, and one on 2-D arrays that uses @, tanh and sum).  Best
    of 3 new processes each; what retrograd adds on top of this is its own cost."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="retrograd-bench-floor-") as d:
        with open(os.path.join(d, "rg_floor_mod.py"), "w") as fh:
            fh.write(_FLOOR_MODULE)
        for fn, a in (("scalar", "1.0"), ("arrays", "np.ones((4, 4)), np.ones((4, 4))")):
            times = []
            for k in range(4):   # the first run populates the cache
                proc = subprocess.run([sys.executable, "-c", _FLOOR_SCRIPT.format(d=d, fn=fn, args=a)],
                                      capture_output=True, text=True, timeout=300)
                if proc.returncode != 0:
                    raise RuntimeError(proc.stderr.strip().splitlines()[-1])
                if k:
                    times.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            out[fn] = min(times, key=lambda t: t["total_s"])
    print(f"  numba floor (warm cache, new process, import numpy + numba + first call): "
          f"scalar {out['scalar']['total_s']:.2f} s, arrays {out['arrays']['total_s']:.2f} s", file=sys.stderr)
    return out


def startup_markdown(rows):
    lines = [
        "| workload | first call, cold cache (s) | new process, warm cache: import + differentiate + first grad (s) | (whole process wall, s) |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['workload']} | FAILED: {r['error']} | - | - |")
        else:
            lines.append(f"| {r['workload']} | {r['cold']['first_call_s']:.2f} | {r['warm']['total_s']:.2f} | "
                         f"{r['warm']['process_wall_s']:.2f} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------


def goals(results, startup_rows):
    """Lines comparing the numbers with the numba backend's goals."""
    out = []
    by = {}
    for r in results.rows:
        by.setdefault(r["benchmark"], []).append(r)
    for bench, rows in by.items():
        mine = [r for r in rows if r["implementation"] == "retrograd (numba backend)"]
        alt = [r for r in rows if r["implementation"].startswith("retrograd (numba backend),") and r["gradient_s"]]
        hand = [r for r in rows if r["implementation"].startswith("numba, hand-written") and r["gradient_s"]]
        jax_rows = [r for r in rows if r["implementation"].startswith("jax") and r["gradient_s"]]
        target = mine[0] if mine and mine[0]["gradient_s"] else (alt[0] if alt else None)
        if target is None:
            out.append(f"- {bench}: retrograd failed ({mine[0]['note'] if mine else 'not run'})")
            continue
        tag = "" if target is (mine[0] if mine else None) else " [workaround variant]"
        ratio = target["gradient_s"] / target["forward_s"]
        parts = [f"gradient/forward {ratio:.2f} (goal <= 3: {'met' if ratio <= 3 else 'missed'})"]
        if hand:
            h = target["gradient_s"] / hand[0]["gradient_s"]
            parts.append(f"vs hand-written adjoint {h:.2f}x (goal <= 1.3: {'met' if h <= 1.3 else 'missed'})")
        if jax_rows and bench.startswith(("mlp", "rnn")):
            s = target["gradient_s"] / jax_rows[0]["gradient_s"]
            parts.append(f"{s:.2f}x JAX jit(grad)'s time (goal <= 1.5x: {'met' if s <= 1.5 else 'missed'})")
        elif jax_rows:
            s = jax_rows[0]["gradient_s"] / target["gradient_s"]
            goal = 50.0 if bench.startswith("lorenz") else 1.0
            parts.append(f"{s:.1f}x faster than JAX jit(grad) (goal >= {goal:g}x: {'met' if s >= goal else 'missed'})")
        out.append(f"- {bench}{tag}: " + "; ".join(parts))
    for r in startup_rows:
        if "error" in r:
            out.append(f"- start-up {r['workload']}: failed ({r['error']})")
            continue
        c, w = r["cold"]["first_call_s"], r["warm"]["total_s"]
        out.append(f"- start-up {r['workload']}: first call {c:.2f} s (goal < 3 s: {'met' if c < 3 else 'missed'}); "
                   f"warm-cache start {w:.2f} s (goal < 1 s: {'met' if w < 1 else 'missed'})")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats; 10,000 Lorenz steps, 100 heat steps, 100 particles")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per measurement (best is kept)")
    parser.add_argument("--min-time", type=float, default=None, help="seconds each repeat lasts at least")
    parser.add_argument("--no-peers", action="store_true", help="skip JAX")
    parser.add_argument("--no-startup", action="store_true", help="skip the first-call / warm-start processes")
    parser.add_argument("--only", choices=("lorenz", "heat", "lj", "mlp", "rnn", "spring"), help="run one workload")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the process to one CPU (by default it is, so that JAX/XLA and PyTorch "
                             "cannot use a second core for their matmuls while Numba's BLAS uses one)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    repeat = args.repeat or (3 if args.quick else 7)
    min_time = args.min_time if args.min_time is not None else (0.02 if args.quick else 0.2)
    lorenz_steps = 10_000 if args.quick else 100_000
    heat_points, heat_steps = 1000, (100 if args.quick else 500)
    lj_n = 100 if args.quick else 300
    mlp_batch, mlp_width = (64 if args.quick else 256), 512
    rnn_steps, rnn_batch = (20 if args.quick else 100), 32
    spring_masses, spring_steps = 1000, (100 if args.quick else 1000)
    pinned = None
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        pinned = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {pinned})   # before JAX starts its thread pool; subprocesses inherit it

    env = environment()
    env["pinned_cpu"] = "none" if pinned is None else f"cpu {pinned} (one core for everything)"
    try:
        import numba

        env["numba"] = numba.__version__
    except ImportError:
        print("numba is not installed: pip install -e '.[numba]'", file=sys.stderr)
        return 2
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), file=sys.stderr)
    results = Results()
    summary = {"failures": [], "calls": []}
    peers = not args.no_peers
    if args.only in (None, "lorenz"):
        bench_lorenz(results, summary, lorenz_steps, repeat, min_time, peers)
    if args.only in (None, "heat"):
        bench_heat(results, summary, heat_points, heat_steps, repeat, min_time, peers)
    if args.only in (None, "lj"):
        bench_lj(results, summary, lj_n, repeat, min_time, peers)
    if args.only in (None, "mlp"):
        bench_mlp(results, summary, mlp_batch, mlp_width, repeat, min_time, peers)
    if args.only in (None, "rnn"):
        bench_rnn(results, summary, rnn_steps, rnn_batch, repeat, min_time, peers)
    if args.only in (None, "spring"):
        bench_spring(results, summary, spring_masses, spring_steps, repeat, min_time, peers)

    startup_rows = []
    if not args.no_startup:
        cases = []
        if args.only in (None, "lorenz"):
            cases.append((f"lorenz-rk4 ({lorenz_steps:,} steps)", "lorenz", lorenz_steps))
        if args.only in (None, "heat"):
            cases.append((f"heat-1d ({heat_steps} steps)", "heat", heat_steps))
            cases.append((f"heat-1d ({heat_steps} steps), `un` pre-assigned", "heat-preassigned", heat_steps))
        if args.only in (None, "lj"):
            cases.append((f"lennard-jones ({lj_n} particles)", "lj", lj_n))
        if args.only in (None, "mlp"):
            cases.append((f"mlp (batch {mlp_batch}, width {mlp_width})", "mlp", mlp_batch))
        if args.only in (None, "rnn"):
            cases.append((f"rnn ({rnn_steps} steps, batch {rnn_batch})", "rnn", rnn_steps))
        if args.only in (None, "spring"):
            cases.append((f"mass-spring ({spring_steps} steps)", "spring", spring_steps))
        startup_rows = bench_startup(cases, summary)

    print()
    print(f"retrograd {env['retrograd']}, Numba {env['numba']}, Python {env['python']}, NumPy {env['numpy']}, "
          f"{env['machine']}; best of {repeat} repeats{' (--quick)' if args.quick else ''}")
    print()
    print(results.markdown())
    if summary["calls"]:
        print()
        print(calls_markdown(summary["calls"]))
    if startup_rows:
        print()
        print(startup_markdown(startup_rows))
        if "numba_import_s" in summary:
            print()
            print(f"(`import numba` alone takes {summary['numba_import_s']:.2f} s in a new process; the first call "
                  "includes it, since retrograd imports Numba when the numba backend is first used.)")
        if "numba_floor" in summary:
            fl = summary["numba_floor"]
            print()
            print(f"Numba's own floor, warm cache, new process (import numpy + numba + first call of a trivial "
                  f"cached @njit function): scalar {fl['scalar']['total_s']:.2f} s "
                  f"(call {fl['scalar']['call_s']:.2f} s), 2-D arrays with @/tanh/sum {fl['arrays']['total_s']:.2f} s "
                  f"(call {fl['arrays']['call_s']:.2f} s).")
    print()
    print("Goals:")
    for line in goals(results, startup_rows):
        print(line)
    if summary["failures"]:
        print()
        print("retrograd failures:")
        for bench, err in summary["failures"]:
            print(f"- {bench}: {err}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "quick": args.quick, "repeat": repeat,
                       "sizes": {"lorenz_steps": lorenz_steps, "heat_points": heat_points,
                                 "heat_steps": heat_steps, "lj_particles": lj_n, "mlp_batch": mlp_batch,
                                 "mlp_width": mlp_width, "rnn_steps": rnn_steps, "rnn_batch": rnn_batch},
                       "rows": results.rows, "calls": summary["calls"], "startup": startup_rows, "numba_import_s": summary.get("numba_import_s"),
                       "numba_floor": summary.get("numba_floor"),
                       "failures": summary["failures"]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
