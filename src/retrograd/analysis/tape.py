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
"""
from dataclasses import dataclass, field

import gast


@dataclass
class TapePlan:
    taped: set = field(default_factory=set)          # (id(stmt), name): save the old value here
    loop_targets: set = field(default_factory=set)   # id(for): save the loop variable once around it
    saved: set = field(default_factory=set)          # names handed to the adjoint at the end
    maybe_unbound: set = field(default_factory=set)  # names that may be read before any assignment
    definite: set = field(default_factory=set)       # names certainly assigned at the end


def plan_tape(fn, info, params):
    plan = TapePlan()
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
    for name in u.partial_defs:
        if name in before:
            plan.taped.add((id(s), name))
    return (before - u.defs) | u.res_uses, definite | u.defs
