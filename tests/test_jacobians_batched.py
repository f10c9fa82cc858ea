"""jacfwd / jacrev with the basis batched (numba: one compiled driver call loops over the directions,
backends/numba_jacobians.py) against the per-direction loop, central differences of the function, the
other mode, and the plain call; on both backends.  On numba every case that should batch is run with the
per-direction paths made to fail, so a silent fallback to the loop cannot pass for the driver."""
import contextlib
import copy
import os

import numpy as np
import pytest

import retrograd as rg
import retrograd.forward.api as forward_api
import retrograd.functional as functional
import test_forward as TF
from fd import _fresh

BACKENDS = [b for b in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(",") if b in ("python", "numba")]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch, tmp_path_factory):
    if request.param == "numba":
        pytest.importorskip("numba")
        monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    return request.param


@contextlib.contextmanager
def per_direction():
    """The loops the batched drivers replace: one jvp per input entry, one pullback per output entry."""
    old = forward_api.BATCHED, functional.BATCHED
    forward_api.BATCHED = functional.BATCHED = False
    try:
        yield
    finally:
        forward_api.BATCHED, functional.BATCHED = old


@contextlib.contextmanager
def driver_only(monkeypatch, backend):
    """On numba: any per-direction jvp or pullback fails the test (the driver must do all of it)."""
    if backend != "numba":
        yield
        return

    def no_loop(*a, **k):
        raise AssertionError("the per-direction loop ran instead of the batched driver")
    with monkeypatch.context() as m:
        m.setattr(forward_api, "jvp_of", no_loop)
        m.setattr(rg.api.Differentiable, "vjp", no_loop)
        yield


def jac_fd(f, args, k, h=1e-6):
    """Central differences of f w.r.t. args[k], on fresh copies (f may write its arguments)."""
    x = np.asarray(args[k], dtype=float)
    out_shape = np.shape(f(*_fresh(args)))
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        a_p, a_m = _fresh(args), _fresh(args)
        a_p[k] = (x.reshape(-1) + e).reshape(x.shape) if np.ndim(args[k]) else float(x + h)
        a_m[k] = (x.reshape(-1) - e).reshape(x.shape) if np.ndim(args[k]) else float(x - h)
        cols.append((np.asarray(f(*a_p), dtype=float) - np.asarray(f(*a_m), dtype=float)) / (2 * h))
    if not cols:
        return np.zeros(out_shape + np.shape(args[k]))
    return np.stack(cols, axis=-1).reshape(out_shape + np.shape(args[k]))


def check_jacobians(f, args, argnums, backend, monkeypatch, batches=True, rtol=1e-6, atol=1e-8):
    """jacfwd and jacrev of f (batched where the backend batches) against the loops, FD and each other;
    the caller's arguments unchanged; returns the batched (jacfwd, jacrev)."""
    before = copy.deepcopy(list(args))
    many = isinstance(argnums, tuple)
    nums = list(argnums) if many else [argnums]
    with driver_only(monkeypatch, backend) if batches else contextlib.nullcontext():
        jf = rg.jacfwd(f, argnums=argnums, backend=backend)(*args)
        jr = rg.jacrev(f, argnums=argnums, backend=backend)(*args)
    with per_direction():
        jf_loop = rg.jacfwd(f, argnums=argnums, backend=backend)(*args)
        jr_loop = rg.jacrev(f, argnums=argnums, backend=backend)(*args)
    for got in (jf, jr, jf_loop, jr_loop):
        assert isinstance(got, tuple) == many and (not many or len(got) == len(nums))
    plain = f(*_fresh(args))
    for pos, k in enumerate(nums):
        pick = (lambda j: j[pos]) if many else (lambda j: j)
        want_shape = np.shape(plain) + np.shape(args[k])
        fd = jac_fd(f, args, k)
        for name, j in (("jacfwd", jf), ("jacrev", jr), ("jacfwd loop", jf_loop), ("jacrev loop", jr_loop)):
            j = pick(j)
            assert isinstance(j, np.ndarray) and j.shape == want_shape and j.dtype == np.float64, (name, np.shape(j))
            np.testing.assert_allclose(j, fd, rtol=rtol, atol=atol, err_msg=f"{name} w.r.t. argument {k}")
        np.testing.assert_allclose(pick(jf), pick(jf_loop), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(pick(jr), pick(jr_loop), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(pick(jf), pick(jr), rtol=1e-10, atol=1e-12)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)          # no caller array written
    return jf, jr


# ---- the FD suites' Jacobian cases (test_forward.JAC_CASES: constructs' vjp cases, linear algebra) -----
@pytest.mark.parametrize("f,make_args,wrt", TF.JAC_CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(TF.JAC_CASES)])
def test_suite_cases(f, make_args, wrt, backend, monkeypatch):
    if backend == "numba" and f.__name__ in TF.FORWARD_NUMBA_REFUSES:
        pytest.skip("numba refuses it (test_forward checks the refusal)")
    nums = tuple(wrt) if isinstance(wrt, tuple) else wrt
    check_jacobians(f, make_args(), nums, backend, monkeypatch)


# ---- hostile cases ---------------------------------------------------------------------------------------
def layer(W, b, x):
    return np.tanh(x @ W + b)                  # rank-2 output


def lorenz(s, sigma, n):
    """n Euler steps of Lorenz (an integer argument; a loop with in-place writes: a tape the adjoint
    consumes, so every jacrev row needs a fresh one)."""
    y = s.copy()
    for _ in range(n):
        dx = sigma * (y[1] - y[0])
        dy = y[0] * (28.0 - y[2]) - y[1]
        dz = y[0] * y[1] - 2.5 * y[2]
        y[0] += 0.01 * dx
        y[1] += 0.01 * dy
        y[2] += 0.01 * dz
    return y


def _bump(v, c):
    return np.sin(v) * c


def branchy(x, i, c):
    """A helper, a branch on a value, a write into the argument itself, a scalar (rank-0) output."""
    if x[i] > 0.0:
        x[i] = x[i] * c
    else:
        x[i] = np.exp(x[i])
    return np.sum(_bump(x, c) ** 2)


def edges(x, y):
    return x * np.sum(y) + np.sin(y[0])


def scalars(a, b):
    return a * np.sin(b) + b * b


def test_rank2_output_tuple_argnums(backend, monkeypatch):
    r = np.random.default_rng(0)
    W, b, x = r.standard_normal((3, 2)), r.standard_normal(2), r.standard_normal((4, 3))
    jf, _ = check_jacobians(layer, (W, b, x), (0, 1, 2), backend, monkeypatch)
    assert [j.shape for j in jf] == [(4, 2, 3, 2), (4, 2, 2), (4, 2, 4, 3)]


def test_loop_inplace_integer_argument_consumed_tape(backend, monkeypatch):
    s = np.array([1.0, 1.5, 20.0])
    jf, jr = check_jacobians(lorenz, (s, 10.0, 25), (0, 1), backend, monkeypatch)
    again = rg.jacrev(lorenz, argnums=(0, 1), backend=backend)(s, 10.0, 25)    # the same on a second call
    for a, b in zip(again, jr):
        np.testing.assert_array_equal(a, b)
    check_jacobians(lorenz, (s, 10.0, 0), 0, backend, monkeypatch)            # no steps: the identity
    np.testing.assert_array_equal(rg.jacrev(lorenz, backend=backend)(s, 10.0, 0), np.eye(3))


def test_branch_helper_write_into_argument_scalar_output(backend, monkeypatch):
    for x in (np.array([0.4, -0.7, 1.1]), np.array([-0.4, 0.7, 1.1])):      # both sides of the branch
        jf, jr = check_jacobians(branchy, (x, 0, 1.3), (0, 2), backend, monkeypatch)
        assert jf[0].shape == (3,) and jf[1].shape == ()


def test_size_zero_and_size_one_arguments(backend, monkeypatch):
    y = np.array([0.3, -1.2])
    jf, jr = check_jacobians(edges, (np.zeros(0), y), (0, 1), backend, monkeypatch)
    assert jf[0].shape == (0, 0) and jf[1].shape == (0, 2)
    check_jacobians(edges, (np.array([0.5]), y), (0, 1), backend, monkeypatch)
    check_jacobians(edges, (np.array([0.5, 2.0]), np.array([0.7])), (0, 1), backend, monkeypatch)


def test_scalar_arguments_and_output(backend, monkeypatch):
    jf, _ = check_jacobians(scalars, (0.7, -0.4), (0, 1), backend, monkeypatch)
    assert all(np.shape(j) == () for j in jf)
    single, _ = check_jacobians(scalars, (0.7, -0.4), 1, backend, monkeypatch)
    np.testing.assert_allclose(single, 0.7 * np.cos(-0.4) - 0.8, rtol=1e-12)


def two_outputs(x):
    return x * 2.0, np.sum(x)


def test_pytree_output_falls_back_to_the_loop(backend):
    """What the driver cannot compile (a tuple output) is the loop's: jacrev gives the structured
    Jacobian, jacfwd its refusal, as without batching."""
    x = np.array([0.5, -1.0])
    _, pullback = rg.vjp(two_outputs, x, backend=backend)      # numba once added the tuple's cotangent
    np.testing.assert_allclose(pullback((np.array([1.0, 0.0]), 0.5))[0], [2.5, 0.5])   # by concatenation
    jr = rg.jacrev(two_outputs, backend=backend)(x)
    np.testing.assert_allclose(jr[0], 2.0 * np.eye(2))
    np.testing.assert_allclose(jr[1], np.ones(2))
    with pytest.raises(rg.UsageError, match="single array"):
        rg.jacfwd(two_outputs, backend=backend)(x)


def test_float32_argument_is_the_loops(backend, monkeypatch):
    """Only float64 arrays and floats batch (the loop's basis and Jacobian dtype); others still work."""
    x = np.array([0.5, -1.0], dtype=np.float32)
    jf = rg.jacfwd(lambda v: np.sin(v) * 2.0, backend=backend)(x)
    np.testing.assert_allclose(jf, np.diag(2.0 * np.cos(x.astype(float))), rtol=1e-6)


# ---- hessian (python: the forward-over-reverse code compiled once, one call per direction) --------------
def fd_hessian(f, args, i, j, h=1e-5):
    """Central differences, w.r.t. args[j], of the reverse-mode gradient w.r.t. args[i] (independent of
    the forward-over-reverse code the Hessian runs)."""
    g = rg.grad(f, argnums=i)
    return jac_fd(lambda *a: np.asarray(g(*a), dtype=float), args, j, h)


def quartic(x, y, n):
    acc = 0.0
    for k in range(n):                        # a loop and an integer argument
        acc = acc + np.sum(np.sin(x * (k + 1)) * y) + np.sum(x * x) * np.sum(y * y * y)
    return acc


def check_hessian(f, args, argnums):
    many = isinstance(argnums, tuple)
    nums = list(argnums) if many else [argnums]
    before = copy.deepcopy(list(args))
    H = rg.hessian(f, argnums=argnums)(*args)
    with per_direction():
        H_loop = rg.hessian(f, argnums=argnums)(*args)
    for a, ia in enumerate(nums):
        for b, ib in enumerate(nums):
            got = H[a][b] if many else H
            loop = H_loop[a][b] if many else H_loop
            assert got.shape == np.shape(args[ia]) + np.shape(args[ib]) and got.dtype == np.float64
            np.testing.assert_allclose(got, loop, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(got, fd_hessian(f, args, ia, ib), rtol=1e-5, atol=1e-6)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    return H


def test_hessian_blocks_in_argnums_order():
    """argnums=(1, 0) of two arguments of one shape: block [0][0] is w.r.t. argument 1 (the hvp results
    come in parameter order; they were once indexed in argnums order, which swapped the blocks)."""
    x, y = np.array([0.3, -0.5]), np.array([1.1, 0.4])
    H = check_hessian(quartic, (x, y, 2), (1, 0))
    H01 = check_hessian(quartic, (x, y, 2), (0, 1))
    np.testing.assert_array_equal(H[0][0], H01[1][1])
    np.testing.assert_array_equal(H[0][1], H01[1][0])


def test_hessian_hostile_shapes():
    check_hessian(quartic, (np.array([0.3]), np.array([0.7, -0.2]), 1), (0, 1))      # size 1
    H = check_hessian(quartic, (np.zeros(0), np.array([0.7]), 1), (0, 1))             # size 0
    assert H[0][0].shape == (0, 0) and H[0][1].shape == (0, 1)
    check_hessian(scalars, (0.7, -0.4), (0, 1))                                        # floats
    check_hessian(lambda a: np.sum(a @ a.T), (np.arange(6.0).reshape(2, 3) / 5,), 0)   # rank-2 argument
    check_hessian(branchy, (np.array([0.4, -0.7, 1.1]), 0, 1.3), (0, 2))               # writes its argument


def transposed(A):
    return (A * A).T


def zero_d(x):
    return x * 2.0 + np.sin(x)


def test_strided_and_zero_d_arrays(backend, monkeypatch):
    """A transposed (F-ordered) argument and output: the driver writes entries in C order, as ravel;
    a 0-d array argument and output."""
    A = (np.arange(6.0).reshape(2, 3) / 3).T
    jf, _ = check_jacobians(transposed, (A,), 0, backend, monkeypatch)
    assert jf.shape == (2, 3, 3, 2)
    jf, jr = check_jacobians(zero_d, (np.array(0.7),), 0, backend, monkeypatch)
    assert jf.shape == jr.shape == ()
