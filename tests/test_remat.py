"""Rematerialisation (remat=...): the same gradients as storing everything, with less tape.

Every setting is checked against the store-all gradient to 1e-12 relative (float64) on the construct
corpus of test_constructs, on programs written for checkpointing (state arrays written in place, nested
loops, helpers, branches in the body, values needed before the loop) and on generated programs; the
Revolve schedule is checked against Griewank and Walther's step count.
"""
import math

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import retrograd as rg
from retrograd.remat import revolve as R
from golden_cases import pair_energy
from test_constructs import ARITH_CASES, HELPER_CASES, LOOP_CASES, WHILE_CASES, WRITE_CASES
from test_properties import array_programs, load_function, progdir, scalar_programs  # noqa: F401

SETTINGS = {
    "default": None,            # re-runs only the loops whose re-run keeps no state (see test_default_...)
    "recompute": "recompute",
    "k1": rg.Checkpoint(snapshots=1),
    "k2": rg.Checkpoint(snapshots=2),
    "k5": rg.Checkpoint(snapshots=5),
    "mem": rg.Checkpoint(memory=64),
}


def grads(f, args, wrt, remat):
    g = rg.differentiate(f, wrt=wrt, remat=remat).grad(*args)
    return g if isinstance(g, tuple) else (g,)


def assert_same(g0, g1, rtol=1e-12):
    assert len(g0) == len(g1)
    for a, b in zip(g0, g1):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        scale = max(np.max(np.abs(a), initial=0.0), 1e-300)
        assert np.max(np.abs(a - b), initial=0.0) <= rtol * scale, (a, b)


def same_as_store_all(f, args, wrt, remat):
    assert_same(grads(f, args, wrt, "store"), grads(f, args, wrt, remat))


# ---- the Revolve schedule -----------------------------------------------------------------------------

def run_schedule(n, c):
    """Execute the whole machine on an abstract state; return (advances, most snapshots held)."""
    m = R.start(n, c)
    cur, snaps, advances, reversed_steps = 0, ([0] if n > 1 else []), 0, []
    most = len(snaps)
    while True:
        what, at, count = R.step(m)
        if what == R.DONE:
            break
        if what == R.ADVANCE:
            assert at == cur
            cur, advances = cur + count, advances + count
        elif what == R.SNAPSHOT:
            assert at == cur
            snaps.append(cur)
            most = max(most, len(snaps))
        elif what == R.RESTORE:
            cur = snaps[-1]
            assert cur == at
        elif what == R.DROP:
            snaps.pop()
        else:
            assert at == cur, "a step is reversed from the state it started in"
            reversed_steps.append(at)
    assert reversed_steps == list(range(n - 1, -1, -1))
    return advances, most


def griewank(n, k):
    """r*n - beta(k + 1, r - 1) with r the least integer such that beta(k, r) >= n."""
    r = 0
    while math.comb(k + r, k) < n:
        r += 1
    return r * n - (math.comb(k + r, k + 1) if r >= 1 else 0)


@pytest.mark.parametrize("n,k", [(1, 1), (2, 1), (7, 1), (10, 2), (10, 3), (55, 4), (100, 5), (1000, 10),
                                 (10_000, 20), (10_000, 3), (12_345, 50), (64, 100)])
def test_schedule_is_optimal_and_within_its_snapshots(n, k):
    advances, most = run_schedule(n, k)
    assert advances == griewank(n, k) == R.advances(n, k)
    assert most <= k


def test_schedule_for_the_issue_example():
    assert griewank(10_000, 20) == 37_976     # about 3.80 n, as the issue says
    assert R.advances(10_000, 20) == 37_976


CALLS = {"n": 0}


def tick(x):
    """The identity, counting its calls: a loop body that calls it counts its executions."""
    CALLS["n"] += 1
    return x


@rg.register_adjoint(tick)
def tick_adjoint(g, result, x):
    return (g,)


def counted(x, a, n):
    for i in range(n):
        u = tick(x)
        x = np.sin(u) * a + 0.1 * u
    return x


@pytest.mark.parametrize("n,k", [(1, 3), (2, 1), (9, 2), (30, 3), (200, 5), (1000, 20)])
def test_generated_code_runs_exactly_the_revolve_steps(n, k):
    """Forward executions of the loop body: the schedule's advances (Griewank's count, the forward sweep
    included) plus one recorded execution per step."""
    f = rg.differentiate(counted, wrt=("x", "a"), remat=rg.Checkpoint(snapshots=k))
    g = f.grad(0.3, 0.9, n)
    CALLS["n"] = 0
    g = f.grad(0.3, 0.9, n)
    assert CALLS["n"] == griewank(n, k) + n
    assert_same(grads(counted, (0.3, 0.9, n), ("x", "a"), None), g)


def test_a_snapshot_per_step_runs_each_step_twice():
    f = rg.differentiate(counted, wrt=("x", "a"), remat=rg.Checkpoint(snapshots=1000))
    f.grad(0.3, 0.9, 50)
    CALLS["n"] = 0
    f.grad(0.3, 0.9, 50)
    assert CALLS["n"] == 2 * 50 - 1      # the last step keeps its tape: it is not re-run


# ---- gradients equal to store-all ---------------------------------------------------------------------

CORPUS = ARITH_CASES + LOOP_CASES + WHILE_CASES + WRITE_CASES + HELPER_CASES


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("f,make_args,wrt", CORPUS, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CORPUS)])
def test_constructs_under_remat(f, make_args, wrt, setting):
    same_as_store_all(f, make_args(), wrt, SETTINGS[setting])


def lorenz(x, y, z, sigma, dt, n):
    for step in range(n):
        k1x = sigma * (y - x)
        k1y = x * (28.0 - z) - y
        k1z = x * y - 8.0 / 3.0 * z
        x2 = x + 0.5 * dt * k1x
        y2 = y + 0.5 * dt * k1y
        z2 = z + 0.5 * dt * k1z
        k2x = sigma * (y2 - x2)
        k2y = x2 * (28.0 - z2) - y2
        k2z = x2 * y2 - 8.0 / 3.0 * z2
        x = x + dt * k2x
        y = y + dt * k2y
        z = z + dt * k2z
    return x + y + z


def heat_in_place(u, c, n):
    """The state array is written element by element: snapshots must be copies."""
    m = u.shape[0]
    for step in range(n):
        left = u[0]
        for j in range(1, m - 1):
            mid = u[j]
            u[j] = mid + c * (left - 2.0 * mid + u[j + 1])
            left = mid
    return np.sum(u * u)


def heat_fresh(u, c, n):
    m = u.shape[0]
    for step in range(n):
        un = np.zeros(m)
        for j in range(1, m - 1):
            un[j] = u[j] + c * (u[j - 1] - 2.0 * u[j] + u[j + 1])
        u = un
    return np.sum(u * u)


def rk_helper(x, v, h):
    a = -np.sin(x)
    return x + h * v, v + h * a


def pendulum_with_helper(x, v, h, n):
    for i in range(n):
        x, v = rk_helper(x, v, h)
    return x * x + v


def damped(x, a):
    return x - 0.1 * np.sin(a * x)


def scalar_helper_loop(x, a, n):
    for i in range(n):
        y = damped(x, a)
        x = y * 0.99 + 0.01 * a
    return x


def branchy(x, a, n):
    for i in range(n):
        if x > 0.0:
            t = np.tanh(a * x)
        else:
            t = np.sin(x) * a
        x = x + 0.1 * t + 0.01 * i
    return x


def needs_entry_value(x, a, n):
    """`t` is read by the adjoint of a statement before the loop and redefined inside it."""
    t = np.exp(x)
    s = t * a
    for i in range(1, n):
        t = np.sin(s) * 0.5
        s = s + t * x
    return s + t


def loop_variable_after_loop(x, n):
    i = 0
    for i in range(n):
        x = x * 0.9 + np.sin(x) * 0.1
    return x * (i + 1.0)


def two_loops(x, y, n):
    for i in range(n):
        x = np.cos(x + y)
    y = y * x
    for j in range(2, n + 2):
        y = y + 0.5 * np.sin(y * j * 0.1)
    return x + y


def rnn(W, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h * h)


def gelu_loss(x, w):
    u = x * x * x
    v = x + 0.044715 * u
    t = np.tanh(0.7978845608 * v)
    y = 0.5 * x * (1.0 + t)
    return np.sum(y * w)


def mlp(W1, b1, W2, x, y):
    h = np.tanh(x @ W1 + b1)
    err = h @ W2 - y          # `y` is read again when `err` is recomputed: it must reach the adjoint
    return np.mean(err ** 2)


def _mlp_args():
    r = np.random.default_rng(0)
    return (r.normal(size=(5, 7)), r.normal(size=7), r.normal(size=(7, 3)), r.normal(size=(6, 5)),
            r.normal(size=(6, 3)))


PROGRAMS = [
    (lorenz, lambda: (1.0, 1.0, 1.05, 10.0, 0.01, 37), ("x", "y", "z", "sigma")),
    (lorenz, lambda: (1.0, 1.0, 1.05, 10.0, 0.01, 1), ("x", "y", "z", "sigma")),
    (lorenz, lambda: (1.0, 1.0, 1.05, 10.0, 0.01, 0), ("x", "y", "z", "sigma")),
    (heat_in_place, lambda: (np.linspace(0.0, 1.0, 9) ** 2, 0.2, 12), ("u", "c")),
    (heat_fresh, lambda: (np.linspace(0.0, 1.0, 9) ** 2, 0.2, 12), ("u", "c")),
    (pendulum_with_helper, lambda: (0.5, 0.1, 0.05, 23), ("x", "v", "h")),
    (scalar_helper_loop, lambda: (0.5, 1.3, 19), ("x", "a")),
    (branchy, lambda: (0.3, -1.2, 17), ("x", "a")),
    (needs_entry_value, lambda: (0.3, 0.7, 9), ("x", "a")),
    (needs_entry_value, lambda: (0.3, 0.7, 1), ("x", "a")),
    (loop_variable_after_loop, lambda: (0.4, 11), ("x",)),
    (two_loops, lambda: (0.4, 0.2, 13), ("x", "y")),
    (gelu_loss, lambda: (np.linspace(-2.0, 2.0, 11), np.cos(np.arange(11.0))), ("x", "w")),
    (mlp, _mlp_args, ("W1", "b1", "W2")),
    (rnn, lambda: (np.random.default_rng(0).normal(size=(4, 4)) * 0.5, np.ones(4) * 0.1,
                   np.random.default_rng(1).normal(size=(15, 4))), ("W", "h", "xs")),
]


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("f,make_args,wrt", PROGRAMS, ids=[f"{p[0].__name__}-{i}" for i, p in enumerate(PROGRAMS)])
def test_loop_programs_under_remat(f, make_args, wrt, setting):
    same_as_store_all(f, make_args(), wrt, SETTINGS[setting])


def test_programs_match_finite_differences_when_checkpointed():
    import fd
    for f, make_args, wrt in PROGRAMS[:2] + PROGRAMS[3:10]:
        args = make_args()
        g = grads(f, args, wrt, rg.Checkpoint(snapshots=3))
        ref = grads(f, args, wrt, None)
        assert_same(ref, g)
    fd.check_grad(pendulum_with_helper, (0.5, 0.1, 0.05, 23), ("x", "v", "h"))


def test_vjp_pullback_can_run_twice_with_checkpoints():
    f = rg.differentiate(lorenz, wrt=("x", "sigma"), remat=rg.Checkpoint(snapshots=2))
    out, pullback = f.vjp(1.0, 1.0, 1.05, 10.0, 0.01, 20)
    assert_same(pullback(1.0), pullback(1.0))
    assert_same(pullback(2.0), tuple(2 * g for g in pullback(1.0)))


# ---- what is rematerialised, and the memory it saves ---------------------------------------------------

def test_tape_shrinks_with_checkpointing():
    args = (1.0, 1.0, 1.05, 10.0, 0.001, 2000)
    full = rg.differentiate(lorenz, wrt=("x", "y", "z", "sigma")).tape_bytes(*args)
    every_step = rg.differentiate(lorenz, wrt=("x", "y", "z", "sigma"), remat="recompute").tape_bytes(*args)
    k10 = rg.differentiate(lorenz, wrt=("x", "y", "z", "sigma"), remat=rg.Checkpoint(snapshots=10))
    assert every_step < 0.51 * full       # 3 floats per step (x, y, z) instead of 6 (plus x2, y2, z2)
    assert k10.tape_bytes(*args) < full / 100
    assert k10.tape_bytes(*args) == k10.tape_bytes(*args[:-1], 4000)   # independent of the step count


def test_memory_budget_picks_the_snapshot_count():
    f = rg.differentiate(lorenz, wrt=("x",), remat=rg.Checkpoint(memory=24 * 7))   # 7 states of 3 floats
    src = f.source_for(1.0, 1.0, 1.05, 10.0, 0.01, 50)
    assert "revolve_budget(168, nbytes_of(x) + nbytes_of(y) + nbytes_of(z))" in src
    assert R.budget(168, 24) == 7


def test_generated_source_shows_the_schedule():
    f = rg.differentiate(lorenz, wrt=("x",), remat=rg.Checkpoint(snapshots=4))
    src = f.source_for(1.0, 1.0, 1.05, 10.0, 0.01, 50)
    for text in ("step_snapshots = 4", "x_snaps.append(x)", "revolve_resume(n, step_snapshots)",
                 "if what == ADVANCE:", "elif what == SNAPSHOT:", "elif what == RESTORE:", "elif what == DROP:",
                 "# run steps at to at + count - 1 of the loop, without tape", "# re-run this step of the loop at line"):
        assert text in src, text
    rec = rg.differentiate(lorenz, wrt=("x",), remat="recompute").source_for(1.0, 1.0, 1.05, 10.0, 0.01, 50)
    assert "# remat: the loop at line" in rec and "x = x_snaps.pop()" in rec and "x2_tape" not in rec


def test_recompute_drops_cheap_values_and_keeps_expensive_ones():
    x, w = np.linspace(-2.0, 2.0, 1000), np.cos(np.arange(1000.0))
    full = rg.differentiate(gelu_loss, wrt=("x",)).tape_bytes(x, w)
    f = rg.differentiate(gelu_loss, wrt=("x",), remat="recompute")
    assert f.tape_bytes(x, w) == 2 * x.nbytes < full          # only the parameters x and w reach the adjoint
    src = f.source_for(x, w)
    assert "# remat: recompute u, v, t, y (cheaper than keeping them)" in src
    mlp_src = rg.differentiate(mlp, wrt=("W1",), remat="recompute").source_for(*_mlp_args())
    assert "h = np.tanh(" in mlp_src.split("def adjoint_mlp")[1]      # from the kept x @ W1
    assert "x_at_W1 = x @ W1" not in mlp_src.split("def adjoint_mlp")[1]  # a matrix product is never redone


def test_recompute_reruns_nested_loops_and_keeps_no_useless_state():
    pos = np.random.default_rng(3).uniform(0.0, 3.0, size=(9, 2))
    same_as_store_all(pair_energy, (pos,), ("pos",), "recompute")
    f = rg.differentiate(pair_energy, wrt=("pos",), remat="recompute")
    src = f.source_for(pos)
    assert "_snaps" not in src          # `e` is summed, never read by the adjoint: nothing to snapshot
    assert "dx_tape" not in src.split("def adjoint_pair_energy")[1]   # the pair values are recomputed
    assert f.tape_bytes(pos) < rg.differentiate(pair_energy, wrt=("pos",), remat="store").tape_bytes(pos) / 5


def test_default_reruns_a_loop_that_keeps_no_state_and_tapes_the_others():
    pos = np.random.default_rng(4).uniform(0.0, 3.0, size=(7, 2))
    f = rg.differentiate(pair_energy, wrt=("pos",))
    src = f.source_for(pos)
    assert "keeps nothing per step" in src and "_tape" not in src and "_snaps" not in src
    assert f.tape_bytes(pos) < rg.differentiate(pair_energy, wrt=("pos",), remat="store").tape_bytes(pos) / 5
    same_as_store_all(pair_energy, (pos,), ("pos",), None)
    # Lorenz carries its state from step to step: re-running would need a snapshot per step, so it is taped
    lorenz_src = rg.differentiate(lorenz, wrt=("x",)).source_for(1.0, 1.0, 1.05, 10.0, 0.01, 50)
    assert "# remat:" not in lorenz_src and "x_tape" in lorenz_src
    rerun = {h.__name__ for h, args in _DEFAULT_HOSTILE
             if "keeps nothing per step" in rg.differentiate(h, wrt=(0,)).source_for(*args)}
    assert rerun == {"_branchy_pairs", "_inner_bound_from_data"}
    for hostile, args in _DEFAULT_HOSTILE:
        same_as_store_all(hostile, args, (0,), None)
        fd_check(hostile, args)


def _branchy_pairs(x):
    # the re-run must take the branch each step took (the test reads only the step's own values)
    e = 0.0
    for i in range(x.shape[0]):
        for j in range(i):
            d = x[i] - x[j]
            r = d * d
            if d > 0.1:
                e = e + r * np.cos(r)
            else:
                e = e - np.sin(d)
    return e


def _pairs_with_carried_product(x):
    # p is carried and read by the adjoint (p * ...): not free, keeps the tape
    p = 1.0
    for i in range(x.shape[0]):
        t = np.cos(x[i])
        p = p * t
    return p


def _inner_bound_from_data(x, n):
    e = 0.0
    for i in range(n):
        k = i % 3
        for j in range(k, x.shape[0]):
            u = x[j] * x[i % x.shape[0]]
            e = e + u * u
    return e


def _sum_of_squares(x):      # one statement, one scalar pushed per step: free, re-run
    e = 0.0
    for i in range(x.shape[0]):
        e = e + x[i] * x[i]
    return e


_DEFAULT_HOSTILE = [
    (_branchy_pairs, (np.array([0.3, -0.2, 0.9, 0.1, 0.15]),)),
    (_pairs_with_carried_product, (np.array([0.3, -0.2, 0.9]),)),
    (_inner_bound_from_data, (np.array([0.3, -0.2, 0.9, 0.5]), 5)),
    (_inner_bound_from_data, (np.array([0.3]), 0)),
    (_sum_of_squares, (np.array([0.3, -0.2]),)),
    (_sum_of_squares, (np.zeros(0),)),
]


def fd_check(f, args):
    from fd import check_grad
    check_grad(f, args, 0)


def test_recompute_keeps_the_tape_of_expensive_or_unprofitable_loops():
    args = (np.eye(3) * 0.5, np.ones(3), np.ones((4, 3)))
    src = rg.differentiate(rnn, wrt=("W",), remat="recompute").source_for(*args)
    assert "_snaps" not in src                     # a matrix product per step: stored, not recomputed
    src = rg.differentiate(heat_fresh, wrt=("u",), remat="recompute").source_for(np.ones(5), 0.1, 3)
    assert "_snaps" not in src                     # the state is the whole tape already


def test_while_loops_keep_their_tape():
    def f(x, a):
        i = 0
        while i < 6:
            x = np.sin(x) * a
            i += 1
        return x
    d = rg.differentiate(f, wrt=("x", "a"), remat=rg.Checkpoint(snapshots=2))
    assert "_snaps" not in d.source_for(0.5, 1.1)
    same_as_store_all(f, (0.5, 1.1), ("x", "a"), rg.Checkpoint(snapshots=2))


@pytest.mark.parametrize("bad", [dict(), dict(snapshots=2, memory=10), dict(snapshots=0), dict(memory=-1),
                                 dict(snapshots=2.5)])
def test_checkpoint_arguments_are_checked(bad):
    with pytest.raises(rg.UsageError):
        rg.Checkpoint(**bad)


def test_unknown_remat_setting_is_refused():
    with pytest.raises(rg.UsageError, match="remat"):
        rg.differentiate(lorenz, remat="everything")


# ---- generated programs -------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(src=scalar_programs(), seed=st.integers(0, 2 ** 32 - 1), setting=st.sampled_from(list(SETTINGS)))
def test_random_scalar_programs_under_remat(progdir, src, seed, setting):
    note(src)
    f = load_function(src, progdir)
    args = tuple(float(v) for v in np.random.default_rng(seed).uniform(-1.0, 1.0, size=3))
    same_as_store_all(f, args, (0, 1, 2), SETTINGS[setting])


@settings(max_examples=40, deadline=None)
@given(src=array_programs(), seed=st.integers(0, 2 ** 32 - 1), setting=st.sampled_from(list(SETTINGS)))
def test_random_array_programs_under_remat(progdir, src, seed, setting):
    note(src)
    f = load_function(src, progdir)
    r = np.random.default_rng(seed)
    args = (r.uniform(-1.0, 1.0, size=4), r.uniform(-1.0, 1.0, size=4))
    same_as_store_all(f, args, (0, 1), SETTINGS[setting])


# ---- the numba backend runs the same schedules --------------------------------------------------------

NUMBA_CASES = [
    (lorenz, lambda: (1.0, 1.0, 1.05, 10.0, 0.01, 37), ("x", "y", "z", "sigma"), rg.Checkpoint(snapshots=3)),
    (lorenz, lambda: (1.0, 1.0, 1.05, 10.0, 0.01, 37), ("x", "y", "z", "sigma"), "recompute"),
    (heat_in_place, lambda: (np.linspace(0.0, 1.0, 9) ** 2, 0.2, 12), ("u", "c"), rg.Checkpoint(memory=200)),
    (scalar_helper_loop, lambda: (0.5, 1.3, 19), ("x", "a"), rg.Checkpoint(snapshots=2)),
    (pendulum_with_helper, lambda: (0.5, 0.1, 0.05, 23), ("x", "v", "h"), rg.Checkpoint(snapshots=3)),
    (pair_energy, lambda: (np.random.default_rng(3).uniform(0.0, 3.0, size=(9, 2)),), ("pos",), "recompute"),
]


@pytest.mark.parametrize("f,make_args,wrt,remat", NUMBA_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(NUMBA_CASES)])
def test_numba_backend_under_remat(f, make_args, wrt, remat, tmp_path_factory, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    args = make_args()
    nb = rg.differentiate(f, wrt=wrt, backend="numba", remat=remat)
    assert_same(grads(f, args, wrt, None), nb.grad(*args) if isinstance(nb.grad(*args), tuple) else (nb.grad(*args),))
    assert "@njit(cache=True, boundscheck=True)" in nb.source and ("# remat:" in nb.source or "# Revolve" in nb.source)


def test_cli_shows_the_checkpointed_code(capsys):
    from retrograd import cli
    path = __file__
    assert cli.main(["show", f"{path}:lorenz", "--wrt", "x", "--remat", "snapshots=4"]) == 0
    out = capsys.readouterr().out
    assert "step_snapshots = 4" in out and "revolve_resume" in out
    assert cli.main(["show", f"{path}:lorenz", "--wrt", "x", "--remat", "store"]) == 0
    assert "x_tape" in capsys.readouterr().out
    assert cli.main(["show", f"{path}:lorenz", "--remat", "sometimes"]) == 2
    assert "--remat expects" in capsys.readouterr().err


# ---- regressions from an adversarial review -----------------------------------------------------------

import remat_review_cases as R2  # noqa: E402

_X4, _W4 = np.linspace(0.1, 0.9, 4), np.cos(np.arange(4.0))
REVIEW = [
    ("loop variable's old value read by an earlier adjoint", R2.A_loopvar, (0.3, 6), ("x",), rg.Checkpoint(snapshots=2)),
    ("same, under recompute", R2.A_loopvar_rc, (0.3, 6), ("x",), "recompute"),
    ("nested loop variable", R2.H_nested_loopvar, (0.3, 4), ("x",), "recompute"),
    ("state read only by a while test", R2.B_while, (0.3, 5), ("x",), rg.Checkpoint(snapshots=2)),
    ("state read only by a helper call", R2.C_helper_state, (0.3, 5), ("x",), rg.Checkpoint(snapshots=2)),
    ("parameter written in place later", R2.E_param_written, (_X4, _W4), ("x", "w"), "recompute"),
    ("parameter reassigned once", R2.F_param_reassigned, (0.3, _W4), ("x", "w"), "recompute"),
    ("parameter reassigned from itself", R2.F2_self_ref, (_X4, _W4), ("x", "w"), "recompute"),
    ("outer loop kept, inner loop not", R2.G_outer_dropped, (0.3, 0.1, 0.2, 0.3, 0.1, 0.1, 4), ("x", "y"),
     "recompute"),
]


@pytest.mark.parametrize("what,f,args,wrt,remat", REVIEW, ids=[r[0] for r in REVIEW])
def test_review_findings(what, f, args, wrt, remat):
    copy = lambda: tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)  # noqa: E731
    assert_same(grads(f, copy(), wrt, None), grads(f, copy(), wrt, remat))


def test_random_draws_in_a_checkpointed_loop_are_refused():
    with pytest.raises(rg.UnsupportedSyntaxError, match="draw different numbers") as info:
        rg.differentiate(R2.D_random, wrt=("x",), remat=rg.Checkpoint(snapshots=2)).grad(0.3, 6)
    assert info.value.lineno is not None and "before the loop" in info.value.hint


def test_numba_array_temporaries_under_recompute(tmp_path_factory, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    args = (np.linspace(0.0, 1.0, 6) ** 2, 0.2, 7)
    g = rg.differentiate(R2.I_numba_arrays, wrt=("u", "c"), remat="recompute", backend="numba").grad(*args)
    assert_same(grads(R2.I_numba_arrays, args, ("u", "c"), None), g)


def test_write_through_an_alias_restores_the_shared_memory():
    """`v = y; v[0] = 0` after `z = y * w`: the adjoint of `z` needs y[0] as it was (every setting)."""
    import fd
    for remat in (None, "recompute"):
        f = rg.differentiate(R2.alias_write, wrt=("x", "w"), remat=remat)
        assert_same(f.grad(_X4.copy(), _W4.copy()), fd_grads(R2.alias_write, (_X4, _W4), ("x", "w")), rtol=1e-6)
    fd.check_grad(R2.alias_write, (_X4, _W4), ("x", "w"))


def fd_grads(f, args, wrt, eps=1e-6):
    out = []
    for k in [0, 1]:
        base = [a.copy() for a in args]
        g = np.zeros_like(base[k])
        for i in range(base[k].size):
            p = [a.copy() for a in base]
            m = [a.copy() for a in base]
            p[k].flat[i] += eps
            m[k].flat[i] -= eps
            g.flat[i] = (f(*p) - f(*m)) / (2 * eps)
        out.append(g)
    return tuple(out)
