"""NVIDIA Warp peers for bench_numba_backend.py (CPU device, `wp.Tape`), imported only when warp-lang is.

Warp kernels are read from their source file, so they live here rather than in closures of the
benchmark script.  The tape replays kernel launches backwards; an array may not be overwritten while the
tape holds it, so each step writes new state arrays (the idiom of Warp's own simulation examples)."""
import numpy as np
import warp as wp

wp.config.quiet = True


@wp.kernel
def spring_step(x: wp.array(dtype=wp.float64), v: wp.array(dtype=wp.float64), k: wp.array(dtype=wp.float64),
                dt: wp.float64, x_out: wp.array(dtype=wp.float64), v_out: wp.array(dtype=wp.float64)):
    i = wp.tid()
    n = x.shape[0]
    a = wp.float64(0.0)
    if i < n - 1:
        a = a + k[0] * ((x[i + 1] - x[i]) - wp.float64(1.0))
    if i > 0:
        a = a - k[0] * ((x[i] - x[i - 1]) - wp.float64(1.0))
    vn = v[i] + dt * a
    v_out[i] = vn
    x_out[i] = x[i] + dt * vn


@wp.kernel
def sum_of_squares(x: wp.array(dtype=wp.float64), loss: wp.array(dtype=wp.float64)):
    i = wp.tid()
    wp.atomic_add(loss, 0, x[i] * x[i])


class Spring:
    """sum(x_T^2) of the mass-spring chain and its gradient w.r.t. (x0, v0, k), as a Warp user writes it."""

    def __init__(self, x0, v0, k, dt, n_steps):
        wp.init()
        self.device = "cpu"
        self.n, self.dt, self.n_steps = x0.shape[0], float(dt), n_steps
        mk = dict(dtype=wp.float64, device=self.device, requires_grad=True)
        self.xs = [wp.array(x0, **mk)] + [wp.zeros(self.n, **mk) for _ in range(n_steps)]
        self.vs = [wp.array(v0, **mk)] + [wp.zeros(self.n, **mk) for _ in range(n_steps)]
        self.k = wp.array(np.array([k]), **mk)
        self.loss = wp.zeros(1, **mk)

    def _forward(self):
        self.loss.zero_()
        for s in range(self.n_steps):
            wp.launch(spring_step, dim=self.n, inputs=[self.xs[s], self.vs[s], self.k, wp.float64(self.dt)],
                      outputs=[self.xs[s + 1], self.vs[s + 1]], device=self.device)
        wp.launch(sum_of_squares, dim=self.n, inputs=[self.xs[-1]], outputs=[self.loss], device=self.device)

    def value(self):
        self._forward()
        return float(self.loss.numpy()[0])

    def grad(self):
        tape = wp.Tape()
        with tape:
            self._forward()
        tape.backward(loss=self.loss)
        out = (self.xs[0].grad.numpy().copy(), self.vs[0].grad.numpy().copy(), float(self.k.grad.numpy()[0]))
        tape.zero()
        return out
