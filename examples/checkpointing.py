"""Trading recomputation for memory: the same gradient with 1x, 1/4x and 1/10,000x of the tape.

    python -m pip install -q -e . && python examples/checkpointing.py
    python examples/checkpointing.py --backend numba --steps 1000000      # native speed (needs numba)

A long simulation is the classic case where reverse mode runs out of memory: the backward pass visits the
steps in reverse order, so by default every step keeps what its adjoint needs (here 12 floats of the RK4
stages).  retrograd can keep less and recompute the rest:

* ``remat="recompute"`` keeps only the loop's state (x, y, z) per step and recomputes each step's RK
  stages just before its adjoint: one extra forward pass, a quarter of the tape here;
* ``remat=rg.Checkpoint(snapshots=k)`` keeps k snapshots of the state in all and reverses the loop by
  binomial checkpointing (Revolve): the memory no longer grows with the number of steps, and the
  recomputation grows slowly with it (about 7 extra forward steps per step for 1,000,000 steps, k = 20).

The Lorenz RK4 loop is the one of examples/ode_sensitivity.py. The script prints the tape, the time and
the gradient for each setting (the gradients agree to the last bit: the recomputed steps repeat the forward
arithmetic exactly), then the part of the generated code that shows the checkpointing schedule.
"""
import argparse
import time

import retrograd as rg
from ode_sensitivity import lorenz_final_sum as lorenz   # the RK4 loop of the ODE example


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--backend", default="python", choices=["python", "numba"])
    a = p.parse_args()
    args = (1.0, 1.0, 1.05, 10.0, 28.0, 8.0 / 3.0, 0.001, a.steps)
    print(f"Lorenz RK4, {a.steps:,} steps, gradient w.r.t. (x0, y0, z0, sigma), backend={a.backend!r}\n")
    print(f"{'remat':<28}{'tape':>14}{'time (s)':>11}   gradient")
    settings = [("None (store all)", None), ('"recompute"', "recompute"),
                ("Checkpoint(snapshots=20)", rg.Checkpoint(snapshots=20)),
                ("Checkpoint(memory=1024)", rg.Checkpoint(memory=1024))]
    reference = None
    for label, remat in settings:
        f = rg.differentiate(lorenz, wrt=("x", "y", "z", "sigma"), backend=a.backend, remat=remat)
        f.grad(*args[:-1], 10)                  # generate (and compile) the code first
        t = time.perf_counter()
        g = f.grad(*args)
        dt = time.perf_counter() - t
        reference = reference or g
        worst = max(abs(u - v) / abs(u) for u, v in zip(reference, g))
        print(f"{label:<28}{f.tape_bytes(*args):>12,} B{dt:>11.3f}   "
              f"({', '.join(f'{v:.6f}' for v in g)})  max rel. diff {worst:.0e}")
        assert worst < 1e-12, "rematerialisation must not change the gradient"
    f = rg.differentiate(lorenz, wrt=("x", "y", "z", "sigma"), remat=rg.Checkpoint(snapshots=20))
    src = f.source_for(*args)
    start = src.index("    schedule = revolve_resume")
    print("\nThe checkpointed loop's reverse sweep, from f.source (step bodies elided):\n")
    adjoint_shown = False
    for line in src[start:].splitlines():
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 12 and text.startswith("for "):
            print(line + "\n" + " " * 16 + "...  (the loop body, without tape)")
        elif indent == 12 and text.startswith("# grad of"):
            if not adjoint_shown:
                print(line.replace(text, "# the step's adjoint: " + text[2:] + " ..."))
            adjoint_shown = True
        elif indent <= 8 or (indent == 12 and (text.startswith(("#", "if ", "step =")) or "snaps" in text)):
            print(line)
        elif indent == 16 and text.startswith("# re-run"):
            print(line.replace(text, "...  " + text))

        if text.startswith("what, at, count = revolve_step") and indent == 8:
            break

if __name__ == "__main__":
    main()
