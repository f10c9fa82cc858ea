"""Binomial checkpointing (Revolve, Griewank and Walther 2000) as a small state machine.

A loop of `n` steps is reversed with `c` snapshots of its carried state.  With
beta(s, r) = C(s + r, s) and r the least integer with beta(c, r) >= n, the optimal schedule runs
r*n - beta(c + 1, r - 1) *advance* steps (plain forward steps, no tape) besides the n *recorded* steps
(a forward step with its tape, followed at once by its adjoint).

The schedule is the recursion
    reverse(a, n, c):                 # the state at step a is current and kept in the top snapshot
        while n > 1:
            l = split(n, c)
            ADVANCE l steps from a        # now at a + l
            SNAPSHOT            (if n - l > 1)
            reverse(a + l, n - l, c - 1)
            DROP                (if n - l > 1)
            RESTORE                       # back at a
            n = l
        REVERSE a                         # record step a and run its adjoint
written as a machine over a small int array of frames, so that the generated code (Python or Numba)
asks for one action at a time and the schedule never needs O(n) memory.  The forward sweep is the
first descent of the recursion: the primal takes those snapshots itself (`next_snapshot`), records
the last step, and the adjoint resumes the machine right after it (`resume`).

Everything here uses ints and int64 arrays only, so the Numba backend compiles the same functions.
"""
import numpy as np

ADVANCE, SNAPSHOT, RESTORE, DROP, REVERSE, DONE = 0, 1, 2, 3, 4, 5


def beta(s, r):
    """C(s + r, s): the most steps c = s snapshots reverse with r advances per step (0 for r < 0)."""
    if r < 0:
        return 0
    out = 1
    for j in range(1, r + 1):
        out = out * (s + j) // j
    return out


def repetitions(n, c):
    """The least r with beta(c, r) >= n."""
    r, b = 0, 1
    while b < n:
        r += 1
        b = b * (c + r) // r
    return r


def advances(n, c):
    """Advance steps of the optimal schedule: r*n - beta(c + 1, r - 1) (0 for n <= 1)."""
    if n <= 1:
        return 0
    r = repetitions(n, c)
    return r * n - beta(c + 1, r - 1)


def split(n, c):
    """How far to advance before the next snapshot, reversing n > 1 steps with c snapshots: any l with
    beta(c, r-2) <= l <= beta(c, r-1) and beta(c-1, r-1) <= n - l <= beta(c-1, r) is optimal."""
    if c <= 1:
        return n - 1
    r = repetitions(n, c)
    lo = max(beta(c, r - 2), n - beta(c - 1, r))
    return min(max(lo, 1), n - 1)


def next_snapshot(n, step, left):
    """In the forward sweep, after a snapshot at `step` with `left` snapshots counted from it: the step of
    the next snapshot and the snapshots left there."""
    return step + split(n - step, left), left - 1


def _push(m, a, n, c):
    d = m[0, 0] + 1
    m[0, 0] = d
    m[d, 0], m[d, 1], m[d, 2], m[d, 3], m[d, 4] = a, n, c, 0, 0


def start(n, c):
    """The machine before any action: one frame reverse(0, n, c).  Rows are [a, n, c, pc, l]."""
    m = np.zeros((max(c, 1) + 2, 5), dtype=np.int64)
    if n > 0:
        _push(m, 0, n, max(c, 1))
    return m


def step(m):
    """The next action as (what, step, count): ADVANCE `count` steps from `step`; SNAPSHOT / RESTORE / DROP
    the loop state; REVERSE step `step`; DONE."""
    while True:
        d = m[0, 0]
        if d == 0:
            return DONE, 0, 0
        a, n, c, pc, l = m[d, 0], m[d, 1], m[d, 2], m[d, 3], m[d, 4]
        if pc == 0:                      # loop head
            if n == 1:
                m[0, 0] = d - 1
                return REVERSE, a, 1
            l = split(n, c)
            m[d, 4] = l
            m[d, 3] = 1
            return ADVANCE, a, l
        if pc == 1:
            m[d, 3] = 2
            if n - l > 1:
                return SNAPSHOT, a + l, 0
        elif pc == 2:
            m[d, 3] = 3
            _push(m, a + l, n - l, c - 1)
        elif pc == 3:
            m[d, 3] = 4
            if n - l > 1:
                return DROP, a + l, 0
        else:
            m[d, 1] = l
            m[d, 3] = 0
            return RESTORE, a, 0


def resume(n, c):
    """The machine right after the forward sweep, which took the first descent's snapshots itself and
    recorded the last step: the next action `step` returns is that step's REVERSE."""
    m = start(n, c)
    while m[0, 0] > 0:
        what, _, _ = step(m)
        if what == REVERSE:
            m[0, 0] += 1      # put the step's frame back: the adjoint asks for this REVERSE first
            break
    return m


def budget(nbytes, state_bytes):
    """Snapshots that fit a memory budget (at least 1)."""
    return max(1, nbytes // max(state_bytes, 1))
