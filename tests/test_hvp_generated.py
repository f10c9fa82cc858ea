"""hvp's generated code (forward over the generated adjoint): what it no longer does, and that the results
stay right.  Every hvp here is checked against second central differences of the plain function (no
retrograd in the reference), and against the plain call's value where the output is read.

- the tape placeholders a generated primal starts with (`x2 = None`) do not hide that `x2` is a float,
  so its tangent code has no shape checks (`broadcast_like`);
- tape pushes stay `tape.append(v)` (no helper call per push);
- the output is checked to be a scalar inside the generated gradient, per call, instead of running the
  plain function once more before every hvp.
"""
import numpy as np
import pytest

import retrograd as rg
from retrograd.forward import api as forward_api


def hvp_by_differences(f, args, k, v, h=1e-4):
    """H v of f w.r.t. argument k (a float or float array) by second central differences of f alone."""
    x = np.asarray(args[k], dtype=np.float64)
    out = np.zeros(x.size)

    def at(dx):
        a = list(args)
        a[k] = (x + dx) if isinstance(args[k], np.ndarray) else float(x + dx)
        return f(*a)
    vv = np.asarray(v, dtype=np.float64)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        e = e.reshape(x.shape)
        out[i] = (at(e + h * vv) - at(e - h * vv) - at(-e + h * vv) + at(-e - h * vv)) / (4 * h * h)
    return out.reshape(x.shape) if isinstance(args[k], np.ndarray) else float(out[0])


def hvp_source(f, primals, tangents):
    d = forward_api._differentiable(f)
    primals, tangents, active = forward_api._split(d, primals, tangents, "hvp")
    return forward_api._hvp_compiled(d, primals, active)[0].source


def rk_loop(x, y, a, n):
    for _ in range(n):
        k1 = a * (y - x)
        x2 = x + 0.1 * k1
        k2 = x2 * (1.0 - y)
        y2 = y + 0.1 * k2
        x = x + 0.05 * (k1 + a * (y2 - x2))
        y = y + 0.05 * (k2 + x2 * y2)
    return x * y + np.sin(x)


def array_loop(w, n):
    s = 0.0
    for i in range(n):
        u = np.tanh(w * (i + 1.0))
        s = s + np.sum(u * u * w)
    return s


def _check(f, args, k, v, rtol=1e-5, atol=1e-7):
    tangents = [None] * len(args)
    tangents[k] = v
    hv = rg.hvp(f, tuple(args), tuple(tangents))
    np.testing.assert_allclose(hv, hvp_by_differences(f, args, k, v), rtol=rtol, atol=atol)
    return hv


@pytest.mark.parametrize("n", [0, 1, 7])
def test_scalar_loop_hvp_has_no_shape_checks_and_plain_appends(n):
    args = (0.3, -0.4, 1.7, n)
    for k, v in [(0, 0.7), (1, -1.3), (2, 0.4)]:
        _check(rk_loop, args, k, v)
    src = hvp_source(rk_loop, args, (0.7, None, None, None))
    assert "broadcast_like" not in src and "tape_push" not in src
    assert ".append(" in src


@pytest.mark.parametrize("n", [0, 1, 3])
@pytest.mark.parametrize("shape", [(3,), (1,), (0,), (2, 1)])
def test_array_placeholder_keeps_its_array_kind(shape, n):
    rng = np.random.default_rng(1)
    w = rng.standard_normal(shape)
    v = rng.standard_normal(shape)
    _check(array_loop, (w, n), 0, v)


def branchy(x, c):
    if c > 0:
        r = np.sum(x * x * x)
    else:
        r = x * x
    return r


def loss_and_aux(x):
    return np.sum(x ** 3), x


def test_scalar_output_checked_per_call_inside_the_generated_gradient():
    x, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5, -0.25])
    np.testing.assert_allclose(rg.hvp(branchy, (x, 1.0), (v, None)), 6 * x * v, rtol=1e-12)
    # the same kinds, so the same generated code: the check runs at the call, not once per compile
    with pytest.raises(rg.UsageError, match=r"branchy returned a value of shape \(3,\); hvp and hessian need"):
        rg.hvp(branchy, (x, -1.0), (v, None))
    np.testing.assert_allclose(rg.hvp(branchy, (x, 2.0), (v, None)), 6 * x * v, rtol=1e-12)
    with pytest.raises(rg.UsageError, match="loss_and_aux returned a tuple of 2"):
        rg.hvp(loss_and_aux, (x,), (v,))
    with pytest.raises(rg.UsageError, match="scalar output"):
        rg.hessian(branchy)(x, -1.0)


scalar_seed = 3.0     # a user global with the name of the generated gradient's seed helper


def uses_global_named_like_helper(x):
    return scalar_seed * np.sum(np.cos(x) * x)


def test_user_global_named_like_the_seed_helper():
    x, v = np.array([0.2, 1.1]), np.array([-0.5, 2.0])
    _check(uses_global_named_like_helper, (x,), 0, v)
    assert uses_global_named_like_helper(x) == pytest.approx(3.0 * np.sum(np.cos(x) * x))


def test_zero_d_output_and_float32_seed():
    x = np.array([0.3, 0.9], dtype=np.float32)
    f = lambda x: np.sum(x ** 4)    # noqa: E731  (a numpy float32 scalar output)
    hv = rg.hvp(f, (x,), (np.ones(2, dtype=np.float32),))
    np.testing.assert_allclose(hv, 12 * x.astype(np.float64) ** 2, rtol=1e-5)


def branch_in_loop(x, a, n):
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            t = a * x * x          # defined on even steps only: the tape holds its placeholder first
            s = s + np.sin(t)
        else:
            s = s + t * x
    return s * a


def mixed_kinds(x, n):
    acc = 0.0
    for i in range(n):
        if i == 1:
            u = x * x              # an array on one step...
        else:
            u = 0.5 + 0.0 * acc    # ...a float on the others: the kind stays unknown
        acc = acc + np.sum(np.cos(u + x))
    return acc


def while_loop(x, tol):
    k = 0
    y = x
    while k < 4 and np.sum(y * y) > tol:
        z = y * 0.5
        y = z + np.sin(z)
        k = k + 1
    return np.sum(y ** 3)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_branch_defined_tape_values(n):
    _check(branch_in_loop, (0.7, 1.3, n), 0, 0.9)
    _check(branch_in_loop, (0.7, 1.3, n), 1, -0.4)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_mixed_kind_tape_values(n):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(3)
    _check(mixed_kinds, (x, n), 0, rng.standard_normal(3))


@pytest.mark.parametrize("tol", [0.0, 1e9])
def test_while_loop_tapes(tol):
    x = np.array([0.8, -1.2])
    _check(while_loop, (x, tol), 0, np.array([0.3, 1.0]))


# ---- the gradient an hvp does not read is not computed (forward/prune.py) --------------------------------
def mlp(W1, b1, W2, x, y):
    h = np.tanh(x @ W1 + b1)
    return np.mean((h @ W2 - y) ** 2)


def _mlp_args(rng, n=3, d=4):
    return (rng.standard_normal((d, d)), rng.standard_normal(d), rng.standard_normal((d, 2)),
            rng.standard_normal((n, d)), rng.standard_normal((n, 2)))


def test_hvp_code_computes_no_gradient_it_discards():
    rng = np.random.default_rng(7)
    args = _mlp_args(rng)
    tangents = (rng.standard_normal((4, 4)), rng.standard_normal(4), rng.standard_normal((4, 2)), None, None)
    src = hvp_source(mlp, args, tangents)
    adjoint = src.split("def tangent_adjoint")[1].split("\ndef ")[0]
    assert "return (None, (" in adjoint
    for gone in ("    dW1 = ", "    dW2 = ", "    db1 = "):
        assert gone not in adjoint, gone
    assert "ddW1 = " in adjoint and "ddW2 = " in adjoint
    hv = rg.hvp(mlp, args, tangents)
    for k in range(3):       # each block of H v against second differences, one argument at a time
        t = [None] * 5
        t[k] = tangents[k]
        np.testing.assert_allclose(rg.hvp(mlp, args, tuple(t)), hvp_by_differences(mlp, args, k, tangents[k]),
                                   rtol=1e-5, atol=1e-7)
    # the full hvp is the sum of the per-argument ones (H is linear in the tangent)
    parts = [rg.hvp(mlp, args, tuple(tangents[j] if j == k else (np.zeros_like(args[j]) if j < 3 else None)
                                     for j in range(5))) for k in range(3)]
    for i in range(3):
        np.testing.assert_allclose(hv[i], sum(p[i] for p in parts), rtol=1e-12, atol=1e-14)


def repeated_gather(x):
    y = x[np.array([0, 0, 2, 1, 0])]        # repeated indices: the adjoint accumulates with add_at
    return np.sum(y ** 3) + np.sum(np.sin(x) * y[:3])


def square_sum(v):
    return np.sum(v * v)


def calls_helper(x, a):
    s = 0.0
    for i in range(3):
        s = s + square_sum(x * a + i)      # a user helper: its adjoint is a function of its own
    return s * np.sum(x)


def test_pruned_hvp_keeps_in_place_accumulation_and_helpers():
    x = np.array([0.3, -0.8, 1.1])
    v = np.array([1.0, -2.0, 0.5])
    _check(repeated_gather, (x,), 0, v)
    _check(calls_helper, (x, 1.7), 0, v)
    _check(calls_helper, (x, 1.7), 1, 0.6)
    src = hvp_source(repeated_gather, (x,), (v,))
    assert "add_at" in src.split("def tangent_adjoint")[1]


# ---- inputs held constant carry no tangent work in the adjoint (structural zeros of the saved tuple) ----
def constant_reassigned(x, c):
    c = c * x              # a parameter held constant, reassigned with a differentiated value: not a zero
    return np.sum(c * x * x)


def broadcast_against_constant(w, X):
    return np.sum((w - X) ** 2 * np.tanh(w))    # X (5, 3) is larger than w (3,): the tangent is spread


def int_and_tape(x, n, scale):
    s = 0.0
    for i in range(n):
        s = s + np.sum(np.sin(x * (i + 1))) * scale
    return s * s


def test_mlp_hvp_adjoint_does_no_work_for_the_data():
    rng = np.random.default_rng(3)
    args = _mlp_args(rng)
    tangents = (rng.standard_normal((4, 4)), rng.standard_normal(4), rng.standard_normal((4, 2)), None, None)
    adjoint = hvp_source(mlp, args, tangents).split("def tangent_adjoint")[1].split("\ndef ")[0]
    assert "    dx = " not in adjoint and "    dy = " not in adjoint      # x and y are data: no tangents
    code = "\n".join(line for line in adjoint.splitlines() if not line.strip().startswith("#"))
    assert code.count("matmul_grad_b(") == 3           # ddW2: two products, ddW1: one (x has no tangent)


@pytest.mark.parametrize("shape", [(3,), (1,), (0,)])
def test_constant_inputs_reassigned_or_broadcast(shape):
    rng = np.random.default_rng(5)
    x, c = rng.standard_normal(shape), rng.standard_normal(shape)
    _check(constant_reassigned, (x, c), 0, rng.standard_normal(shape))
    w, X = rng.standard_normal(3), rng.standard_normal((5, 3))
    _check(broadcast_against_constant, (w, X), 0, rng.standard_normal(3))
    _check(broadcast_against_constant, (w, X), 1, rng.standard_normal((5, 3)))


@pytest.mark.parametrize("n", [0, 2])
def test_int_and_float_constants_in_the_saved_tuple(n):
    x = np.array([0.4, -0.3])
    _check(int_and_tape, (x, n, 1.5), 0, np.array([0.7, 0.2]))
    _check(int_and_tape, (x, n, 1.5), 2, 0.3)
