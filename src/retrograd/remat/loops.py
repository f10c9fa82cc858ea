"""Which loops are rematerialised, and what state each keeps per snapshot.

A loop qualifies when it is a `for` over `range(stop)` or `range(start, stop)` at the top level of the
function (so it runs once per call) and cannot stop early (no `break`/`return` in it: its trip count is
known at entry).  `while` loops, loops that stop early, loops with a stride and nested loops keep the
ordinary tape (a nested loop is re-run as part of its enclosing step): storing is always correct.

The *carried state* of a loop is what a step needs from the steps before it: the variables the body
reads before assigning them, plus those whose value at the loop's entry an earlier statement's adjoint
still needs (the body's first assignment saves that value, so it must be right in every re-run).  A
snapshot holds the carried state; a step re-run from it re-creates every other value of that step.

Under remat="recompute" a loop is rematerialised only when that pays: its body is cheap (scalar and
elementwise arithmetic, no matrix products, reductions or helper calls) and its carried state is smaller
than what the ordinary tape keeps per step.

By default (remat=None) a loop is rematerialised only when that costs nothing in memory and little in time:
the body is cheap, the re-runs need no state kept per step (a pair loop summing an energy: `e = e + ...` is
carried, but no adjoint value depends on it), and the ordinary tape would push a scalar per step for at least
every other statement of the body (re-running the step costs about what pushing and popping those scalars
does, and the tape is gone).  analysis/tape.py decides, once the carried state is known (`LoopRemat.auto`).
"""
from dataclasses import dataclass, field

import gast

from .. import astutil as A
from ..analysis.activity import walk_stmts
from . import Checkpoint


@dataclass
class LoopRemat:
    loop: gast.For
    snapshots: int = None        # k, or None: one snapshot per step (remat="recompute")
    memory: int = None           # a byte budget for the snapshots instead of k
    carried: list = field(default_factory=list)   # filled by analysis.tape (needs the entry exposure)
    copied: set = field(default_factory=set)      # carried arrays the body writes into: snapshot by copy
    unused: list = field(default_factory=list)    # carried, but nothing the adjoint reads depends on it
    nested: bool = False         # inside another rematerialised loop: its snapshots live in the adjoint only
    auto: bool = False           # chosen by the default (remat=None): kept only when no state is kept per step
    per_step: set = field(default_factory=set)    # (id(stmt), name) the ordinary tape would push per step
    is_scalar: object = None     # auto: name -> whether it holds a scalar (the tape's per-step cost)

    @property
    def revolve(self):
        return self.snapshots is not None or self.memory is not None


def candidates(fn):
    """Top-level `for i in range(stop)` / `range(start, stop)` loops without early exit whose bounds the
    body does not change (steps are then numbered 0, 1, ... from `start`)."""
    return _range_loops(fn.body)


def _range_loops(stmts):
    out = []
    for s in stmts:
        if (isinstance(s, gast.For) and not getattr(s, "_rg_trips", None) and isinstance(s.iter, gast.Call)
                and isinstance(s.iter.func, gast.Name) and s.iter.func.id == "range"
                and 1 <= len(s.iter.args) <= 2 and not s.iter.keywords
                and isinstance(s.target, gast.Name) and not s.orelse
                and not A.loaded_names(s.iter) & A.assigned_names(s.body)):
            out.append(s)
    return out


def plan_loops(fn, remat, is_cheap, check_rerun=None, is_scalar=None):
    """{id(loop): LoopRemat} for the loops `remat` applies to.  `is_cheap(stmt)` says whether a simple
    statement is cheap to recompute, `check_rerun(loop, stmt)` refuses a statement that must not run
    twice (a random draw), `is_scalar(name)` whether a variable holds a scalar; all come from the
    transform, which knows the callees and the kinds."""
    auto = remat is None
    if remat == "store" or (auto and is_scalar is None):
        return {}
    out = {}
    for loop in candidates(fn):
        partial = _partially_written(loop.body)
        if isinstance(remat, Checkpoint):
            for s in walk_stmts(loop.body):
                if check_rerun and not isinstance(s, (gast.If, gast.For, gast.While)):
                    check_rerun(loop, s)
            out[id(loop)] = LoopRemat(loop, snapshots=remat.snapshots, memory=remat.memory, copied=partial)
        elif not partial and all(is_cheap(s) for s in walk_stmts(loop.body)
                                 if not isinstance(s, (gast.If, gast.For, gast.While))):
            out[id(loop)] = LoopRemat(loop, auto=auto, is_scalar=is_scalar)
            inner = _range_loops(loop.body)
            while inner:   # loops directly inside a re-run step are re-run step by step too
                s = inner.pop()
                if not _partially_written(s.body):
                    out[id(s)] = LoopRemat(s, nested=True, auto=auto)
                    inner += _range_loops(s.body)
    return out


def upward_exposed(stmts, defined=frozenset()):
    """Names the statements read (or write into) before assigning them on some path."""
    exposed = set()

    def flow(stmts, defined):
        defined = set(defined)
        for s in stmts:
            if isinstance(s, gast.If):
                exposed.update(A.loaded_names(s.test) - defined)
                d1, d2 = flow(s.body, defined), flow(s.orelse, defined)
                defined = d1 & d2
            elif isinstance(s, (gast.For, gast.While)):
                head = s.iter if isinstance(s, gast.For) else s.test
                exposed.update(A.loaded_names(head) - defined)
                inner = defined | ({s.target.id} if isinstance(s, gast.For) else set())
                flow(s.body, inner)
            elif isinstance(s, gast.Assign):
                exposed.update(A.loaded_names(s.value) - defined)
                t = s.targets[0]
                if isinstance(t, gast.Name):
                    defined.add(t.id)
                else:   # a write into an array reads the rest of it
                    exposed.update(A.loaded_names(t) - defined)
            else:
                exposed.update(A.loaded_names(s) - defined)
        return defined
    flow(stmts, defined)
    return exposed


def _partially_written(stmts):
    return {A.subscript_base(s.targets[0]) for s in walk_stmts(stmts)
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript)}
