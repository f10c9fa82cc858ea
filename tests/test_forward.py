"""Forward mode (rg.jvp, jacfwd, hvp, hessian): every case of the construct and NumPy-rule suites, checked
against central differences along a random direction and against the reverse transform (forward_check)."""
import inspect
import os
import zlib

import numpy as np
import pytest

import retrograd as rg
import test_constructs as C
import test_numpy_rules as N
from forward_check import check_hvp, check_jvp
from numba_refusals import NUMBA_REFUSES

CONSTRUCT_CASES = C.ALL_CASES
RULE_CASES = N.BINARY + N.BROADCAST + N.LINALG + N.LINALG_MODULE

# jvp runs on python and numba (RETROGRAD_TEST_BACKENDS narrows them); on numba the tangent code is compiled
BACKENDS = [b for b in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(",") if b in ("python", "numba")]

# What numba refuses in forward mode (by the differentiated function's name), each with a BackendError that
# names the user's line and says to use backend="python".  The same constructs its reverse mode refuses
# (tests/numba_refusals.py); a listed case that starts working fails, so the list only shrinks.
FORWARD_NUMBA_REFUSES = {
    "sh_squeeze": NUMBA_REFUSES["test_linear_algebra_and_shapes_vjp[sh_squeeze]"],
    "chained_methods": "Numba reshapes only contiguous arrays (`x.T.reshape(-1)`)",
    "draws_once": "np.random.default_rng in nopython mode",
    "list_params": "a list of arrays of different shapes indexed by a loop variable (a tuple of different types)",
    "read_new_axes_of_an_element": NUMBA_REFUSES["test_subscript_reads[read_new_axes_of_an_element-2]"],
}


# each numba case compiles its tangent code (2-6 s): CI runs a fixed third of them, chosen by test id;
# RETROGRAD_FORWARD_NUMBA_FULL=1 runs them all
NUMBA_FULL = bool(os.environ.get("RETROGRAD_FORWARD_NUMBA_FULL"))


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch, tmp_path_factory):
    if request.param == "numba":
        pytest.importorskip("numba")
        if not NUMBA_FULL and zlib.crc32(request.node.nodeid.encode()) % 3:
            pytest.skip("numba forward-mode sample: RETROGRAD_FORWARD_NUMBA_FULL=1 runs this case")
        monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    return request.param


def jvp_on(backend, f, args, wrt, seed, **kw):
    """check_jvp on `backend`; a case numba refuses must raise a clear BackendError at the user's line."""
    reason = FORWARD_NUMBA_REFUSES.get(f.__name__) if backend == "numba" else None
    if reason is None:
        return check_jvp(f, args, wrt, seed=seed, backend=backend, **kw)
    with pytest.raises(rg.BackendError) as err:
        check_jvp(f, args, wrt, seed=seed, backend=backend, **kw)
    assert 'backend="python"' in (err.value.hint or ""), str(err.value)
    assert err.value.lineno is not None and os.path.basename(err.value.filename) == \
        os.path.basename(inspect.getsourcefile(f)), str(err.value)
    pytest.xfail(f"numba refuses it, as expected: {reason}")


@pytest.mark.parametrize("f,make_args,wrt", CONSTRUCT_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CONSTRUCT_CASES)])
def test_jvp_constructs(f, make_args, wrt, backend):
    jvp_on(backend, f, make_args(), wrt, seed=3)


@pytest.mark.parametrize("f,make_args,wrt", RULE_CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(RULE_CASES)])
def test_jvp_numpy_rules(f, make_args, wrt, backend):
    jvp_on(backend, f, make_args(), wrt, seed=5)


@pytest.mark.parametrize("f,domain", N.UNARY, ids=[u[0].__name__ for u in N.UNARY])
def test_jvp_unary(f, domain, backend):
    jvp_on(backend, f, (N.unary_input(domain, 1),), 0, seed=7)


# ---- second order: hvp (forward over the generated adjoint) against differences of the gradient ----------
def _scalar_cases(cases):
    out = []
    for c in cases:
        out_value = c[0](*c[1]())
        if np.ndim(out_value) == 0 and not isinstance(out_value, (tuple, list, dict)):
            out.append(c)
    return out


HVP_CASES = _scalar_cases(CONSTRUCT_CASES + N.BINARY + N.LINALG + N.LINALG_MODULE)


@pytest.mark.parametrize("f,make_args,wrt", HVP_CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(HVP_CASES)])
def test_hvp(f, make_args, wrt):
    check_hvp(f, make_args(), wrt, seed=1)


# ---- Jacobians and Hessians -------------------------------------------------------------------------------
def jac_reverse(f, args, k):
    """The Jacobian by reverse mode, one vjp per output entry (independent of forward mode)."""
    out, pb = rg.differentiate(f, wrt=k).vjp(*args)
    rows = []
    for e in np.eye(max(np.size(out), 1))[:np.size(out)]:
        rows.append(np.asarray(pb(e.reshape(np.shape(out)) if np.ndim(out) else float(e[0]))[0]))
    return np.array(rows).reshape(np.shape(out) + np.shape(args[k]))


def jac_fd(f, args, k, h=1e-6):
    x = np.asarray(args[k], dtype=float)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        a_p, a_m = list(args), list(args)
        a_p[k] = (x.reshape(-1) + e).reshape(x.shape) if np.ndim(args[k]) else float(x + h)
        a_m[k] = (x.reshape(-1) - e).reshape(x.shape) if np.ndim(args[k]) else float(x - h)
        cols.append((np.asarray(f(*a_p)) - np.asarray(f(*a_m))) / (2 * h))
    out_shape = np.shape(f(*args))
    return np.stack(cols, axis=-1).reshape(out_shape + np.shape(args[k]))


JAC_CASES = [c for c in C.VJP_CASES] + [c for c in N.LINALG if not isinstance(c[0](*c[1]()), tuple)][:6]


@pytest.mark.parametrize("f,make_args,wrt", JAC_CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(JAC_CASES)])
def test_jacfwd_against_reverse_and_fd(f, make_args, wrt, backend):
    args = make_args()
    nums = list(wrt) if isinstance(wrt, tuple) else [wrt]
    nums = [n if isinstance(n, int) else list(__import__("inspect").signature(f).parameters).index(n) for n in nums]
    if backend == "numba" and f.__name__ in FORWARD_NUMBA_REFUSES:
        pytest.skip("numba refuses it (test_jvp_numpy_rules checks the refusal)")
    jacs = rg.jacfwd(f, argnums=tuple(nums), backend=backend)(*args)
    assert isinstance(jacs, tuple) and len(jacs) == len(nums)
    for J, k in zip(jacs, nums):
        np.testing.assert_allclose(J, jac_reverse(f, args, k), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(J, jac_fd(f, args, k), rtol=1e-5, atol=1e-6)
    single = rg.jacfwd(f, argnums=nums[0], backend=backend)(*args)
    np.testing.assert_array_equal(single, jacs[0])


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mlp(W, b, x, y):
    h = np.tanh(x @ W + b)
    return np.mean((h - y) ** 2)


def two_args(x, s):
    return np.sum(np.sin(x) * s) + s ** 3 * np.sum(x * x)


def test_hessian_of_rosenbrock_is_symmetric_and_matches_fd():
    x = np.array([0.3, -0.8, 1.2, 0.5])
    H = rg.hessian(rosen)(x)
    g = rg.grad(rosen)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(H, jac_fd(g, [x], 0, h=1e-5), rtol=1e-5, atol=1e-4)
    # the analytic Hessian of the 4-d Rosenbrock function at x, by hand for one entry
    assert np.isclose(H[0, 0], 1200 * x[0] ** 2 - 400 * x[1] + 2)


def test_hessian_tuple_argnums_blocks():
    x, s = np.array([0.3, -0.7, 1.1]), 0.6
    Hs = rg.hessian(two_args, argnums=(0, 1))(x, s)
    gx = lambda x_, s_: rg.differentiate(two_args, wrt=(0, 1)).grad(x_, s_)[0]  # noqa: E731
    gs = lambda x_, s_: rg.differentiate(two_args, wrt=(0, 1)).grad(x_, s_)[1]  # noqa: E731
    np.testing.assert_allclose(Hs[0][0], jac_fd(gx, [x, s], 0, h=1e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Hs[0][1], jac_fd(gx, [x, s], 1, h=1e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Hs[1][0], jac_fd(gs, [x, s], 0, h=1e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Hs[1][1], jac_fd(gs, [x, s], 1, h=1e-5), rtol=1e-5, atol=1e-6)
    assert np.shape(Hs[0][1]) == (3,) and np.shape(Hs[1][1]) == ()


def logistic(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0.0, -y * z)) + 0.05 * np.sum(w * w)


def newton_cg_step(f, w, args, iters=20):
    """Solve H p = -g by conjugate gradients with one hvp per iteration (the README's example)."""
    g = rg.grad(f)(w, *args)
    p, r = np.zeros_like(w), -g
    q = r.copy()
    for _ in range(iters):
        Hq = rg.hvp(f, (w, *args), (q, *[None] * len(args)))
        alpha = (r @ r) / (q @ Hq)
        p, r_new = p + alpha * q, r - alpha * Hq
        if np.linalg.norm(r_new) < 1e-12:
            break
        q, r = r_new + (r_new @ r_new) / (r @ r) * q, r_new
    return w + p


def test_hvp_and_hessian_of_an_mlp_agree():
    r = np.random.default_rng(0)
    W, b, x, y = r.normal(size=(3, 4)) * 0.5, np.zeros(4), r.normal(size=(16, 3)), r.normal(size=(16, 4)) * 0.3
    g = rg.grad(mlp)(W, b, x, y)
    H = rg.hessian(mlp)(W, b, x, y).reshape(12, 12)
    hv = rg.hvp(mlp, (W, b, x, y), (g, None, None, None))
    np.testing.assert_allclose(hv.reshape(-1), H @ g.reshape(-1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


def test_newton_cg_step_on_logistic_regression():
    r = np.random.default_rng(1)
    X = r.normal(size=(40, 5))
    y = np.sign(X @ r.normal(size=5) + 0.3 * r.normal(size=40))
    w = np.zeros(5)
    H = rg.hessian(logistic)(w, X, y)
    g = rg.grad(logistic)(w, X, y)
    w1 = newton_cg_step(logistic, w, (X, y))
    np.testing.assert_allclose(w1, w - np.linalg.solve(H, g), rtol=1e-8, atol=1e-10)
    w2 = newton_cg_step(logistic, w1, (X, y))
    assert logistic(w2, X, y) < logistic(w1, X, y) < logistic(w, X, y)
    g2 = np.linalg.norm(rg.grad(logistic)(w2, X, y))
    g3 = np.linalg.norm(rg.grad(logistic)(newton_cg_step(logistic, w2, (X, y)), X, y))
    g0 = np.linalg.norm(g)
    assert g2 < 10 * g0 ** 2 and g3 < 10 * g2 ** 2     # Newton's quadratic convergence


# ---- the API: JAX's semantics and its refusals ------------------------------------------------------------
def test_jvp_api_forms_agree():
    x, v = np.array([0.3, 0.9]), np.array([1.0, -2.0])
    out, t = rg.jvp(rosen, (x,), (v,))
    d = rg.differentiate(rosen)
    out2, t2 = d.jvp((x,), (v,))
    assert out == out2 == rosen(x) and t == t2
    assert np.isclose(t, rg.grad(rosen)(x) @ v, rtol=1e-12)
    src = d.source_for(x, mode="forward")
    assert "def tangent_rosen(x, *, dx):" in src and "# tangent of: return" in src


def test_jvp_refuses_bad_tangents():
    x = np.ones(3)
    with pytest.raises(rg.UsageError, match="shape"):
        rg.jvp(rosen, (x,), (np.ones(4),))
    with pytest.raises(rg.UsageError, match="dtype"):
        rg.jvp(rosen, (x,), (np.ones(3, dtype=int),))
    with pytest.raises(rg.UsageError, match="tuples"):
        rg.jvp(rosen, x, np.ones(3))
    with pytest.raises(rg.UsageError, match="1 primals but 2 tangents"):
        rg.jvp(rosen, (x,), (x, x))
    with pytest.raises(rg.UsageError, match="complex"):
        rg.jvp(rosen, (x,), (np.ones(3) * 1j,))
    with pytest.raises(rg.UsageError, match="integers"):
        rg.jvp(int_arg, (x, 3), (x, 1.0))
    out, t = rg.jvp(int_arg, (x, 3), (x, None))      # None (or zeros) for an integer argument
    assert np.isclose(t, 3 * np.sum(2 * x * x))


def int_arg(x, n):
    return n * np.sum(x * x)


def custom_inner(x):
    return np.sum(x ** 2)


@rg.register_adjoint(custom_inner)
def _custom_inner_adj(g, r, x):
    return (2 * x * g,)


def uses_custom(x):
    y = custom_inner(x)
    return y * 2.0


def uses_prod(x):
    return np.prod(x)


def test_forward_refusals_name_the_line():
    with pytest.raises(rg.MissingRuleError, match="custom adjoint") as err:
        rg.jvp(uses_custom, (np.ones(2),), (np.ones(2),))
    assert err.value.filename.endswith("test_forward.py") and err.value.lineno is not None
    # jvp of np.prod works; its second derivative is refused, clearly
    out, t = rg.jvp(uses_prod, (np.array([1.0, 2.0, 3.0]),), (np.ones(3),))
    assert np.isclose(t, 6.0 + 3.0 + 2.0)
    with pytest.raises(rg.MissingRuleError, match="second derivative of np.prod"):
        rg.hvp(uses_prod, (np.array([1.0, 2.0, 3.0]),), (np.ones(3),))
    with pytest.raises(rg.BackendError, match="does not run on backend='triton'"):
        rg.differentiate(rosen, backend="triton").jvp((np.ones(3),), (np.ones(3),))
    with pytest.raises(rg.UsageError, match="scalar output"):
        rg.hessian(np.sin)(np.ones(2)) if False else rg.hvp(vec_out, (np.ones(2),), (np.ones(2),))


def vec_out(x):
    return x * 2.0


# ---- hostile: aliasing between tangents, draws, casts, writes ---------------------------------------------
def alias_then_write(x):
    y = x + 0.0          # y's tangent is x's: a write into x must not reach it
    x[0] = 5.0
    return np.sum(y * y) + np.sum(x)


def row_view_write(A):
    B = A * 1.0
    r = B[1] * 1.0
    B[1, 0] = 0.0
    return np.sum(r * B)


def draws_once(x):
    rng = np.random.default_rng(0)
    noise = rng.normal(size=x.shape)
    return np.sum(x * noise + rng.normal() * x)


def int_cast(x):
    k = int(x[0] * 10.0)
    y = x.astype(np.int64)
    return x[1] * k + np.sum(y) + np.sum(x.astype(np.float64) ** 2)


def repeated_fancy_write(x, w):
    idx = np.array([0, 2, 0, 1])
    a = np.zeros(3)
    a[idx] = w
    a[1:] += x[:2] * a[:2]
    return np.sum(np.sin(a) * x)


def masked_write(x):
    y = x * 2.0
    y[y > 0.5] = np.tanh(x[y > 0.5])
    return np.sum(y ** 3)


@pytest.mark.parametrize("f,args,wrt", [
    (alias_then_write, (np.array([0.5, -1.0, 2.0]),), 0),
    (row_view_write, (np.arange(6.0).reshape(2, 3) / 7,), 0),
    (draws_once, (np.array([0.5, -1.0, 2.0]),), 0),
    (int_cast, (np.array([0.33, -1.2, 2.1]),), 0),
    (repeated_fancy_write, (np.array([0.3, -0.4, 0.8]), np.array([1.0, 2.0, 3.0, 4.0])), (0, 1)),
    (masked_write, (np.array([0.1, 0.7, -0.3, 0.9]),), 0),
], ids=["alias_then_write", "row_view_write", "draws_once", "int_cast", "repeated_fancy_write", "masked_write"])
def test_hostile_jvp(f, args, wrt, backend):
    jvp_on(backend, f, args, wrt, seed=2, reverse=f is not repeated_fancy_write)   # reverse refuses the repeats


def test_random_draws_are_made_once_and_match_the_plain_call():
    x = np.array([0.5, -1.0, 2.0])
    out, t = rg.jvp(draws_once, (x,), (np.ones(3),))
    assert out == draws_once(x)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=3)
    assert np.isclose(t, np.sum(noise) + 3 * rng.normal())


# ---- random in-place / view programs (tests/progen.py) ----------------------------------------------------
PROGEN_SEEDS = [900_000 + i for i in range(int(__import__("os").environ.get("RETROGRAD_FORWARD_PROGEN", "25")))]


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return tmp_path_factory.mktemp("rg_forward_progen")


NUMBA_PROGEN_SEEDS = PROGEN_SEEDS[:int(__import__("os").environ.get("RETROGRAD_FORWARD_PROGEN_NUMBA", "10"))]


@pytest.mark.parametrize("backend,seed", [("python", s) for s in PROGEN_SEEDS] +
                         [("numba", s) for s in NUMBA_PROGEN_SEEDS if "numba" in BACKENDS])
def test_jvp_of_random_programs(progdir, backend, seed):
    """jvp of a progen program is exact (FD along a random direction, the vjp identity, callers' arrays
    untouched, on numba the python backend's result) or refused with a RetrogradError; never wrong."""
    import random
    import progen
    from fd import load_module
    src, inputs, _ = progen.generate(random.Random(seed))
    f = load_module(src, progdir, prefix="rgfwprogen").f
    if not progen.plain_ok(f, inputs):
        pytest.skip("not a valid NumPy program")
    args = [np.array(inputs[k]) for k in progen.ARGS]
    try:
        rg.differentiate(f, wrt=tuple(range(len(args)))).grad(*[a.copy() for a in args])
        reverse = True
    except rg.RetrogradError:
        reverse = False          # reverse mode refuses it: forward mode must be exact or refuse too
    try:
        check_jvp(f, args, wrt=tuple(range(len(args))), seed=seed, reverse=reverse, backend=backend)
    except rg.RetrogradError as err:
        assert not isinstance(err, rg.UsageError), f"{err}\n{src}"


try:
    from hypothesis import given, note, settings
except ImportError:     # pragma: no cover - hypothesis is a test dependency
    pass
else:
    import progen as _progen

    @settings(max_examples=15, deadline=None)
    @given(prog=_progen.programs())
    def test_jvp_of_random_programs_hypothesis(progdir, prog):
        """The same oracle, with programs drawn by hypothesis (HYPOTHESIS_PROFILE=explore for fresh ones)."""
        from fd import load_module
        src, inputs, _ = prog
        note(src)
        f = load_module(src, progdir, prefix="rgfwprogen").f
        if not _progen.plain_ok(f, inputs):
            return
        args = [np.array(inputs[k]) for k in _progen.ARGS]
        try:
            check_jvp(f, args, wrt=(0, 1, 2), seed=0, reverse=False)
        except rg.RetrogradError as err:
            assert not isinstance(err, rg.UsageError), f"{err}\n{src}"


def test_default_keywords_are_dropped_only_where_they_are_the_callee_default():
    """A tangent template's `axis=axis` may be left out of the generated call only when the rule's default
    is also the default of the function called (np.trapezoid's axis is -1, np.sum's None)."""
    import gast
    from retrograd.forward.transform import _is_callee_default
    func = gast.parse("np.sum").body[0].value
    kw = lambda name, value: gast.keyword(arg=name, value=gast.Constant(value=value, kind=None))  # noqa: E731
    assert _is_callee_default(func, kw("axis", None)) and _is_callee_default(func, kw("keepdims", False))
    assert not _is_callee_default(func, kw("axis", -1)) and not _is_callee_default(func, kw("keepdims", True))


# ---- a method called on a call's result (the normaliser names the call; the method must read that name) -----
def where_reshape_sum(x):
    return np.where(x > 0, x, 0).reshape(-1).sum()


def take_argsort_sum(x):
    return np.take(x, np.argsort(x)).sum() * x[0]


def chained_methods(A):
    return (np.tanh(A) * A).T.reshape(-1).sum() + np.exp(A).sum(axis=0).max()


@pytest.mark.parametrize("f,args", [
    (where_reshape_sum, (np.array([0.3, -0.2, 1.5, -2.0]),)),
    (where_reshape_sum, (np.array([[0.3, -0.2], [1.5, 0.4]]),)),
    (take_argsort_sum, (np.array([0.3, -0.2, 1.5, 0.9]),)),
    (chained_methods, (np.array([[0.3, -0.2, 0.1], [1.5, 0.4, -0.7]]),)),
], ids=["where_reshape_sum", "where_reshape_sum_2d", "take_argsort_sum", "chained_methods"])
def test_method_on_a_call_result(f, args, backend):
    jvp_on(backend, f, args, 0, seed=4)
    if f is chained_methods and backend == "python":
        check_hvp(f, args, 0, seed=4)
