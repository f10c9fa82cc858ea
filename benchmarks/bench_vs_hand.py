"""One workload's retrograd numba gradient against its hand-written Numba adjoint, in CPU time.

    taskset -c 1 nice python benchmarks/bench_vs_hand.py spring 10     # spring | heat | lj | lorenz

Full sizes of bench_numba_backend.py; the two are run interleaved (best of N) and timed with the process's
CPU time (`time.process_time`), which on a machine shared with other jobs moves far less than wall-clock
time (it still counts page faults and cache misses, not the time spent waiting for a core).  Prints the
ratio and the largest difference of the gradients, relative to the largest entry of the hand-written one.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import retrograd as rg  # noqa: E402
import bench_numba_backend as b  # noqa: E402

WORKLOADS = {
    "spring": lambda: (b.spring_chain, b.SPRING_WRT, b.spring_args(1000, 1000), b.spring_grad_by_hand_py),
    "heat": lambda: (b.heat_loss, b.HEAT_WRT, b.heat_args(1000, 500), b.heat_grad_by_hand_py),
    "lj": lambda: (b.lj_energy, b.LJ_WRT, b.lj_args(300), b.lj_grad_by_hand_py),
    "lorenz": lambda: (b.lorenz_final_sum, b.LORENZ_WRT, b.lorenz_args(100000), b.lorenz_grad_by_hand_py),
}


def main(which, reps):
    fn, wrt, args, hand_py = WORKLOADS[which]()
    d = rg.differentiate(fn, wrt=wrt, backend="numba")
    hand = b.njitted(hand_py)
    got, ref = d.grad(*args), hand(*args)[1:]
    got = got if isinstance(got, tuple) else (got,)
    err = max(float(np.max(np.abs(np.asarray(g) - np.asarray(r))) / (np.max(np.abs(np.asarray(r))) + 1e-300))
              for g, r in zip(got, ref))
    ts_r, ts_h = [], []
    for _ in range(reps):
        t = time.process_time()
        d.grad(*args)
        ts_r.append(time.process_time() - t)
        t = time.process_time()
        hand(*args)
        ts_h.append(time.process_time() - t)
    r, h = min(ts_r), min(ts_h)
    print(f"{which}: retrograd {r * 1e3:.3f} ms  hand-written {h * 1e3:.3f} ms  ratio {r / h:.2f}x  "
          f"max rel. difference {err:.1e}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 7)
