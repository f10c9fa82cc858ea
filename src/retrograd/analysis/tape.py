"""What the tape must hold: the values the adjoint reads that the forward pass overwrites.

The adjoint runs the statements backwards and, at each definition it passes, restores the overwritten
value when an earlier statement's adjoint still needs it ("restore on reverse").  So a definition of `x`
must save the old `x` exactly when some adjoint *use* of `x` can reach it along a path with no other
definition of `x` in between: a forward may-analysis of exposed adjoint uses.  Whatever is still exposed
at the end of the function is handed to the adjoint as the final state instead of being taped.

Uses come from the transform, per statement:
  op_uses    values read by the statement's adjoint as they were before it ran (its operands),
  res_uses   values read as they are after it ran (its result, a call's saved state),
  exit_uses  for if/for/while: values the adjoint reads when it reaches the statement's end
             (branch tests, loop bounds, trip counters).
Partial definitions (`A[i] = v`) save `A[i]` but do not end the exposure of `A`.

A rematerialised loop (`remat.loops`) is different: each step is re-run from a snapshot of its carried
state just before its adjoint, so a step's adjoint never needs values that later steps overwrote.  Its body
is planned once as straight-line code (no back edge), starting from what is exposed at the loop's entry,
and the variables the re-runs read are exposed at its end (they must hold their loop values there).
"""
from dataclasses import dataclass, field, replace

import gast

from .. import astutil as A
from .activity import walk_stmts
from .aliases import memory_model


@dataclass
class TapePlan:
    taped: set = field(default_factory=set)          # (id(stmt), name): save the old value here
    loop_targets: set = field(default_factory=set)   # id(for): save the loop variable once around it
    saved: set = field(default_factory=set)          # names handed to the adjoint at the end
    maybe_unbound: set = field(default_factory=set)  # names that may be read before any assignment
    definite: set = field(default_factory=set)       # names certainly assigned at the end
    remat: dict = field(default_factory=dict)        # id(for) -> remat.loops.LoopRemat, for those kept
    locals: set = field(default_factory=set)
    aliases: dict = field(default_factory=dict)      # id(A[i] = v) -> names that may share A's memory there
    memory: object = None                            # aliases.MemoryModel: what may be written, where


def plan_tape(fn, info, params, remat_loops=None, callees=None):
    plan = TapePlan()
    plan.remat.update(remat_loops or {})
    plan.locals = set(params) | A.assigned_names(fn.body)
    plan.memory = memory_model(fn, plan.locals, params, callees)
    plan.aliases = plan.memory.at_write
    exposed, definite = _flow(fn.body, set(), set(params), info, plan)
    plan.saved = exposed
    plan.definite = definite
    plan.maybe_unbound |= {n for n in exposed if n not in definite}
    return plan


def _flow(stmts, exposed, definite, info, plan):
    for s in stmts:
        exposed, definite = _flow_stmt(s, exposed, definite, info, plan)
    return exposed, definite


def _flow_stmt(s, exposed, definite, info, plan):
    u = info.get(id(s))
    if isinstance(s, gast.If):
        e1, d1 = _flow(s.body, set(exposed), set(definite), info, plan)
        e2, d2 = _flow(s.orelse, set(exposed), set(definite), info, plan)
        return e1 | e2 | (u.exit_uses if u else set()), d1 & d2
    if id(s) in plan.remat:
        return _flow_remat(s, exposed, definite, info, plan)
    if isinstance(s, (gast.For, gast.While)):
        target = s.target.id if isinstance(s, gast.For) else None
        if target and target in exposed:
            plan.loop_targets.add(id(s))
        head = set(exposed)
        body_def = set(definite) | ({target} if target else set())
        while True:
            inner = head - {target} if target else set(head)
            out, _ = _flow(s.body, inner, set(body_def), info, plan)
            if target:   # in-body uses of the index are served by the reversed loop, which re-creates it
                out = out - {target}
            new_head = head | out
            if new_head == head:
                break
            head = new_head
        return head | (u.exit_uses if u else set()), definite
    if u is None:
        return exposed, definite
    before = exposed | u.op_uses
    for name in u.defs:
        if name in before:
            plan.taped.add((id(s), name))
            if name not in definite:
                plan.maybe_unbound.add(name)
    restored = set()
    for name in u.partial_defs:   # a write through `v = A` (or a view) changes A's memory too
        if name in before or plan.aliases.get(id(s), set()) & before:
            plan.taped.add((id(s), name))
            restored.add(name)    # the restore writes into A as it is after the write: the adjoint needs it
    return (before - u.defs) | u.res_uses | restored, definite | u.defs


def _loop_fixpoint(s, exposed, definite, info, plan):
    target = s.target.id if isinstance(s, gast.For) else None
    head = set(exposed)
    body_def = set(definite) | ({target} if target else set())
    while True:
        inner = head - {target} if target else set(head)
        out, _ = _flow(s.body, inner, set(body_def), info, plan)
        if target:
            out = out - {target}
        new_head = head | out
        if new_head == head:
            return head
        head = new_head


def _flow_remat(s, exposed, definite, info, plan):
    rm = plan.remat[id(s)]
    if not rm.auto or rm.nested:
        return _flow_rematerialised(s, exposed, definite, info, plan)
    # the default's choice: plan the loop as re-run on a copy, keep that only if it costs no state per step
    trial = replace(plan, taped=set(plan.taped), loop_targets=set(plan.loop_targets),
                    maybe_unbound=set(plan.maybe_unbound), remat=dict(plan.remat))
    result = _flow_rematerialised(s, exposed, definite, info, trial)
    if id(s) in trial.remat and _free(rm, s):
        plan.taped, plan.loop_targets, plan.maybe_unbound, plan.remat = (
            trial.taped, trial.loop_targets, trial.maybe_unbound, trial.remat)
        return result
    _drop_remat(s, plan)
    return _flow_stmt(s, exposed, definite, info, plan)


def _free(rm, s):
    """A default re-run loop pays: nothing kept per step, and the scalars the tape would push per step are at
    least half the body's simple statements (a re-run of each costs about a push and a pop)."""
    simple = [b for b in walk_stmts(s.body) if not isinstance(b, (gast.If, gast.For, gast.While))]
    return (not rm.carried and all(rm.is_scalar(n) for _, n in rm.per_step)
            and 2 * len(rm.per_step) >= len(simple))


def _drop_remat(s, plan):
    del plan.remat[id(s)]      # keep the ordinary tape (and so do the loops inside)
    for b in walk_stmts(s.body):
        if id(b) in plan.remat and plan.remat[id(b)].nested:
            del plan.remat[id(b)]


def _flow_rematerialised(s, exposed, definite, info, plan):
    from ..remat.loops import upward_exposed
    rm = plan.remat[id(s)]
    target = s.target.id
    assigned = A.assigned_names(s.body)
    rm.carried = sorted(((upward_exposed(s.body, {target}) | exposed) & assigned) - {target})
    # a snapshot must be a copy when the steps may write into the value it holds: a name written into, or
    # one whose value outlives its rebinding in a view that is written (`A, B = A + B, A; B[...] = ...`)
    rm.copied |= set(rm.carried) & plan.memory.written
    rm.copied |= {b.targets[0].id for b in walk_stmts(s.body) if isinstance(b, gast.Assign)
                  and isinstance(b.targets[0], gast.Name) and plan.memory.old_value_written(b, b.targets[0].id)}
    # what the ordinary tape would keep per step, to decide whether recomputation pays
    scratch = TapePlan()
    head = _loop_fixpoint(s, exposed, definite, info, scratch)
    body_ids = {id(b) for b in walk_stmts(s.body)}
    per_step = {k for k in scratch.taped if k[0] in body_ids}
    rm.per_step = per_step
    if not rm.revolve and (len(rm.carried) >= len(per_step) or set(rm.carried) & rm.copied):
        _drop_remat(s, plan)      # nothing to gain
        return _flow_stmt(s, exposed, definite, info, plan)
    if target in exposed:         # an earlier statement's adjoint reads the loop variable's old value
        plan.loop_targets.add(id(s))
    for name in rm.carried:
        if name not in definite:
            plan.maybe_unbound.add(name)
    body_def = set(definite) | {target}
    _flow(s.body, set(exposed) - {target}, body_def, info, plan)
    for b in walk_stmts(s.body):   # a helper's saved state is pushed after its call, popped before its adjoint
        call = getattr(b, "_rg_call", None)
        if call:
            plan.taped.add((id(b), call[1]))
    # keep only the state the adjoint's values depend on (`e = e + f(x)` summed over the steps is not)
    needed = {n for (sid, n) in plan.taped if sid in body_ids}
    deps = {}
    for b in walk_stmts(s.body):
        u = info.get(id(b))
        if u:
            needed |= u.op_uses | u.res_uses | u.exit_uses
        if isinstance(b, gast.If):        # a re-run must take the branches the step took
            needed |= A.loaded_names(b.test)
        elif isinstance(b, gast.While):
            needed |= A.loaded_names(b.test)
        elif isinstance(b, gast.For):
            needed |= A.loaded_names(b.iter)
        if isinstance(b, gast.Assign):
            t = b.targets[0]
            base = t.id if isinstance(t, gast.Name) else A.subscript_base(t)
            reads = A.loaded_names(b.value) | A.loaded_names(t)
            deps.setdefault(base, set()).update(reads)
            call = getattr(b, "_rg_call", None)
            if call:                      # a helper's saved state depends on all its arguments
                deps.setdefault(call[1], set()).update(reads)
    work = list(needed)
    while work:
        for n in deps.get(work.pop(), ()):
            if n not in needed:
                needed.add(n)
                work.append(n)
    rm.unused = [c for c in rm.carried if c not in needed]   # still handed to the adjoint, never snapshotted
    rm.carried = [c for c in rm.carried if c in needed]
    u = info.get(id(s))
    rerun_reads = (A.loaded_names(gast.Module(body=s.body, type_ignores=[])) & plan.locals) - assigned - {target}
    return head | rerun_reads | (u.exit_uses if u else set()), definite
