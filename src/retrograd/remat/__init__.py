"""Rematerialisation: what the adjoint stores and what it recomputes.

    remat=None                       the default: store what the adjoint needs, except in loops whose
                                     re-run keeps no state per step and costs about what their tape does
                                     (a pair loop summing an energy: the adjoint re-runs each step)
    remat="store"                    store what the adjoint needs, everywhere
    remat="recompute"                loops of cheap arithmetic keep only their carried state per step and
                                     recompute each step's values in the adjoint
    remat=Checkpoint(snapshots=k)    loops with a trip count known at entry keep k snapshots of their
                                     carried state and are reversed by binomial checkpointing (Revolve)
    remat=Checkpoint(memory=BYTES)   the same, with k chosen from a memory budget for the snapshots

`loops.plan_loops` decides which loops; the transform emits the schedule (see `revolve`).
"""
from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True)
class Checkpoint:
    """Binomial checkpointing of loops: keep `snapshots` copies of a loop's state, or as many as fit in
    `memory` bytes, and recompute the steps in between during the backward pass."""
    snapshots: int = None
    memory: int = None

    def __post_init__(self):
        if (self.snapshots is None) == (self.memory is None):
            raise UsageError("Checkpoint takes either snapshots=k or memory=BYTES",
                             hint="e.g. rg.Checkpoint(snapshots=20) or rg.Checkpoint(memory=2**20)")
        for what in ("snapshots", "memory"):
            v = getattr(self, what)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise UsageError(f"Checkpoint({what}={v!r}): expected a positive integer")


def check_remat(remat):
    """The remat setting, validated: None, "store", "recompute" or a Checkpoint."""
    if remat is None or remat in ("store", "recompute") or isinstance(remat, Checkpoint):
        return remat
    raise UsageError(f"unknown remat setting {remat!r}",
                     hint='use remat=None, remat="store", remat="recompute" or remat=rg.Checkpoint(snapshots=k)')
