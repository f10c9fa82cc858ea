"""Sensitivity of an ODE solution: reverse-mode AD through a hand-written RK4 loop.

    python examples/ode_sensitivity.py

The Lorenz system

    dx/dt = sigma (y - x),   dy/dt = x (rho - z) - y,   dz/dt = x y - beta z

is integrated with classic fourth-order Runge-Kutta written as an ordinary Python ``for`` loop over
three floats.  retrograd differentiates the loop (it records what the backward pass needs on a tape
while running forward, then replays the steps in reverse), giving the gradient of x(T) + y(T) + z(T)
with respect to the initial state (x0, y0, z0) and the parameter sigma in one backward sweep.  The
result is compared against central finite differences.
"""

import sys

import retrograd as rg


def lorenz_final_sum(x, y, z, sigma, rho, beta, dt, n_steps):
    """x(T) + y(T) + z(T) after n_steps RK4 steps of size dt, starting from (x, y, z)."""
    for step in range(n_steps):
        k1x = sigma * (y - x)
        k1y = x * (rho - z) - y
        k1z = x * y - beta * z

        x2 = x + 0.5 * dt * k1x
        y2 = y + 0.5 * dt * k1y
        z2 = z + 0.5 * dt * k1z
        k2x = sigma * (y2 - x2)
        k2y = x2 * (rho - z2) - y2
        k2z = x2 * y2 - beta * z2

        x3 = x + 0.5 * dt * k2x
        y3 = y + 0.5 * dt * k2y
        z3 = z + 0.5 * dt * k2z
        k3x = sigma * (y3 - x3)
        k3y = x3 * (rho - z3) - y3
        k3z = x3 * y3 - beta * z3

        x4 = x + dt * k3x
        y4 = y + dt * k3y
        z4 = z + dt * k3z
        k4x = sigma * (y4 - x4)
        k4y = x4 * (rho - z4) - y4
        k4z = x4 * y4 - beta * z4

        x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
        y = y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        z = z + dt / 6.0 * (k1z + 2.0 * k2z + 2.0 * k3z + k4z)
    return x + y + z


WRT = ("x", "y", "z", "sigma")


PARAMS = ("x", "y", "z", "sigma", "rho", "beta", "dt", "n_steps")


def central_differences(f, args, names, eps=1e-6):
    """Central differences of f(*args) with respect to each named argument, with a relative step."""
    grads = []
    for name in names:
        i = PARAMS.index(name)
        h = eps * max(1.0, abs(args[i]))
        plus, minus = list(args), list(args)
        plus[i] += h
        minus[i] -= h
        grads.append((f(*plus) - f(*minus)) / (2.0 * h))
    return grads


def main():
    # Classic parameters; integrate to T = 1 (the system is chaotic, so sensitivities grow like
    # exp(0.9 T): long horizons make the finite-difference reference, not the adjoint, unreliable).
    dt, n_steps = 0.01, 100
    args = (1.0, 1.0, 1.0, 10.0, 28.0, 8.0 / 3.0, dt, n_steps)  # x0, y0, z0, sigma, rho, beta, dt, n_steps

    sensitivity = rg.differentiate(lorenz_final_sum, wrt=WRT)
    value, grads = sensitivity.value_and_grad(*args)
    reference = central_differences(lorenz_final_sum, args, WRT)

    print(f"x(T) + y(T) + z(T) = {value:.10f}   (T = {dt * n_steps:g})")
    print(f"{'d/d':>8} {'retrograd':>20} {'finite diff.':>20} {'rel. error':>12}")
    worst = 0.0
    for name, g, ref in zip(WRT, grads, reference):
        rel = abs(g - ref) / max(abs(g), abs(ref), 1e-8)
        worst = max(worst, rel)
        print(f"{name + '0' if name in ('x', 'y', 'z') else name:>8} {g:20.10f} {ref:20.10f} {rel:12.2e}")

    tolerance = 1e-5
    if worst > tolerance:
        print(f"FAIL: max relative error {worst:.2e} > {tolerance:g}", file=sys.stderr)
        return 1
    print(f"OK: max relative error {worst:.2e} <= {tolerance:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
