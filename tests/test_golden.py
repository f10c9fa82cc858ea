"""Golden tests of the generated source: any change to the code retrograd writes shows up in review.

Regenerate after an intended change with `RETROGRAD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`
and read the diff of tests/golden/ before committing it.
"""
import os
import pathlib

import numpy as np
import pytest

import retrograd as rg

import golden_cases as gc

GOLDEN = pathlib.Path(__file__).parent / "golden"
R = np.random.default_rng(0)

CASES = {
    "mlp_loss": (gc.mlp_loss, ("W1", "b1", "W2", "b2"),
                 (R.normal(size=(3, 4)), R.normal(size=4), R.normal(size=(4, 2)), R.normal(size=2),
                  R.normal(size=(5, 3)), R.normal(size=(5, 2)))),
    "lorenz_step_sum": (gc.lorenz_step_sum, ("x", "y", "z", "sigma"), (1.0, 1.0, 1.0, 10.0, 0.01, 5)),
    "stencil": (gc.stencil, ("u", "c"), (R.normal(size=6), 0.1, 3)),
    "newton_sqrt": (gc.newton_sqrt, ("a",), (2.0,)),
    "piecewise": (gc.piecewise, ("x",), (0.5,)),
    # rematerialisation: the per-step re-run, and the Revolve schedule
    "pair_energy_recompute": (gc.pair_energy, ("pos",), (R.normal(size=(4, 2)),), "recompute"),
    "lorenz_step_sum_checkpoint": (gc.lorenz_step_sum, ("x", "y", "z", "sigma"), (1.0, 1.0, 1.0, 10.0, 0.01, 5),
                                   rg.Checkpoint(snapshots=3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_matches_golden(name):
    fn, wrt, args, *remat = CASES[name]
    f = rg.differentiate(fn, wrt=wrt, remat=remat[0] if remat else None)
    f.grad(*args)                      # specialise on these argument kinds, as a user's first call does
    src = f.source
    compile(src, name, "exec")
    path = GOLDEN / f"{name}.py"
    if os.environ.get("RETROGRAD_UPDATE_GOLDEN"):
        path.write_text(src)
    assert path.exists(), f"no golden file for {name}; run with RETROGRAD_UPDATE_GOLDEN=1"
    assert src == path.read_text(), f"generated source of {name} changed; review and regenerate the golden file"


@pytest.mark.parametrize("name", ["mlp_loss", "lorenz_step_sum", "stencil"])
def test_forward_source_matches_golden(name):
    """The tangent code jvp runs (source_for(..., mode="forward")), kept as tests/golden/forward_<name>.py."""
    fn, _, args, *_ = CASES[name]
    src = rg.differentiate(fn).source_for(*args, mode="forward")
    compile(src, name, "exec")
    path = GOLDEN / f"forward_{name}.py"
    if os.environ.get("RETROGRAD_UPDATE_GOLDEN"):
        path.write_text(src)
    assert path.exists(), f"no golden file for forward_{name}; run with RETROGRAD_UPDATE_GOLDEN=1"
    assert src == path.read_text(), f"generated tangent source of {name} changed; review and regenerate"


def test_golden_sources_are_lean():
    """The properties the brief asks of generated code, checked on the golden sources."""
    lorenz = (GOLDEN / "lorenz_step_sum.py").read_text()
    assert "unbroadcast" not in lorenz          # scalar code needs no broadcasting bookkeeping
    assert "# grad of: x = x + dt * dx" in lorenz
    stencil = (GOLDEN / "stencil.py").read_text()
    assert ".copy()" not in stencil              # element writes save elements, not whole arrays
    mlp = (GOLDEN / "mlp_loss.py").read_text()
    assert "dW1" in mlp and "dW2" in mlp         # adjoint names come from the user's names
