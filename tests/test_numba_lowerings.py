"""Hostile programs for the numba lowerings of contractions, joins and picks (backends/numba_contractions.py,
numba_joins.py, numba_picks.py): each is differentiated on numba and checked against float64 central
differences, the plain call's value and the python backend's result (fd.check_vjp does all three).
Negative axes, size-1 axes that broadcast, size-0 axes, repeated einsum indices, implicit outputs and
`...` are the edges; what Numba still cannot do must be a clear BackendError, never a wrong number."""
import os

import numpy as np
import pytest

import retrograd as rg

import fd

pytest.importorskip("numba")
pytestmark = pytest.mark.skipif(
    "numba" not in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(","),
    reason="numba is not in RETROGRAD_TEST_BACKENDS")


# ---- contractions ----------------------------------------------------------------------------------------
def e_matmul(x, y):
    return np.einsum('ij,jk->ik', x, y)


def e_trace(x):
    return np.einsum('ii->', x)


def e_dot(x, y):
    return np.einsum('i,i->', x, y) * 2.0


def e_swap_batched(x):
    return np.einsum('...ij->...ji', x)


def e_implicit(x, y):
    return np.einsum('ij,jk', x, y)


def e_batched(x, y):
    return np.einsum('...ij,...jk->...ik', x, y)


def e_diag(x):
    return np.einsum('ii->i', x) + np.einsum('iij->i', np.stack((x, x), axis=-1))


def e_broadcast_one(x, y):
    return np.einsum('ab,b->a', x, y)


def e_chain(x, y):
    return np.einsum('ij,jk,kl,lm->im', x, y, x, y, optimize=True)


def e_outer3(x, y, z):
    return np.einsum('i,j,k->ijk', x, y, z)


def e_sum_all(x):
    return np.einsum('ij->', x) + np.einsum('i...->...', x).sum()


def t_default(x, y):
    return np.tensordot(x, y)


def t_pairs(x, y):
    return np.tensordot(x, y, axes=([0, 2], [2, 0]))


def t_negative(x, y):
    return np.linalg.tensordot(x, y, axes=(-1, 0))


def t_outer(x, y):
    return np.tensordot(x, y, 0)


def inner_(x, y):
    return np.inner(x, y)


def vdot_(x, y):
    return np.vdot(x, y)


def matvec_(x, y):
    return np.matvec(x, y)


def vecmat_(x, y):
    return np.vecmat(x, y)


def vecdot_(x, y):
    return np.vecdot(x, y)


def vecdot_axis(x, y):
    return np.vecdot(x, y, axis=0)


def kron_(x, y):
    return np.kron(x, y)


def cross_(x, y):
    return np.cross(x, y)


def matrix_power_(x):
    return np.linalg.matrix_power(x, 3) + np.linalg.matrix_power(x, 0)


def matrix_power_neg(x):
    return np.linalg.matrix_power(x, -2)


def multi_dot_(x, y, z):
    return np.linalg.multi_dot([x, y, z])


def convolve_(x, y):
    return np.convolve(x, y)


R = np.random.default_rng(7).standard_normal
W = np.eye(3) + 0.3 * R((2, 3, 3))          # well conditioned: inverses for matrix_power(x, -2)
CONTRACTIONS = [
    (e_matmul, [R((2, 3)), R((3, 4))]), (e_matmul, [R((1, 3)), R((3, 1))]), (e_trace, [R((3, 3))]),
    (e_dot, [R(3), R(3)]), (e_dot, [R(0), R(0)]), (e_swap_batched, [R((2, 1, 3))]), (e_swap_batched, [R((2, 3))]),
    (e_implicit, [R((2, 3)), R((3, 2))]), (e_batched, [R((2, 2, 3)), R((3, 2))]), (e_batched, [R((1, 2, 3)), R((4, 3, 2))]),
    (e_diag, [R((3, 3))]), (e_broadcast_one, [R((2, 3)), R(1)]), (e_chain, [R((2, 2)), R((2, 2))]),
    (e_outer3, [R(2), R(3), R(1)]), (e_sum_all, [R((2, 3))]), (e_sum_all, [R((0, 3))]),
    (t_default, [R((2, 3)), R((2, 3))]), (t_pairs, [R((2, 3, 4)), R((4, 2, 2))]), (t_negative, [R((2, 3)), R((3, 2))]),
    (t_outer, [R(2), R(3)]),
    (inner_, [R((2, 1, 3)), R((1, 3))]), (inner_, [R(()), R(3)]), (vdot_, [R((2, 3)), R((3, 2))]),
    (matvec_, [R((2, 3)), R((2, 1, 3))]), (vecmat_, [R(2), R((2, 2, 3))]),
    (vecdot_, [R(3), R((2, 1, 3))]), (vecdot_axis, [R((3, 2)), R((3, 1))]),
    (kron_, [R((2, 3)), R((2, 2))]), (kron_, [R(3), R((2, 2))]), (cross_, [R((2, 3)), R(3)]),
    (matrix_power_, [R((2, 2, 2))]), (matrix_power_neg, [W]), (multi_dot_, [R(3), R((3, 2)), R(2)]),
    (multi_dot_, [R((2, 3)), R((3, 4)), R((4, 1))]), (convolve_, [R(2), R(5)]), (convolve_, [R(1), R(1)]),
]


# ---- joins, transposes, flips ----------------------------------------------------------------------------
def transpose_neg(x):
    return np.transpose(x, axes=(-1, 0, 1)) * 2.0


def flips(x):
    return np.flip(x, -1) + np.flip(x, axis=(0, 1)) * 2.0 + np.flip(x)


def cumsum_(x):
    return np.cumsum(x)


def concat_mixed(x, y):
    return np.concatenate([x, y], axis=-1)


def concat_flat(x, y):
    return np.concatenate((x, y), axis=None)


def stack_neg(x, y):
    return np.stack([x, y], axis=-1)


def hstack_(x, y):
    return np.hstack([x, y])


def vstack_mixed(x, y):
    return np.vstack((x, y))


def append_(x, y):
    return np.append(x, y) * 3.0


def append_axis(x, y):
    return np.append(x, y, axis=-1)


def column_stack_(x, y):
    return np.column_stack((x, y))


def dstack_(x, y):
    return np.dstack((x, y))


def real_parts(x):
    return np.conj(x) + np.imag(x) + np.angle(x) + np.real_if_close(x, tol=1000) + x.conj()


JOINS = [
    (transpose_neg, [R((2, 1, 3))]), (flips, [R((2, 3))]), (cumsum_, [R((2, 3))]),
    (concat_mixed, [R((2, 3)), R((2, 1))]), (concat_mixed, [R((2, 0)), R((2, 1))]), (concat_flat, [R((2, 2)), R(3)]),
    (stack_neg, [R((2, 1)), R((2, 1))]), (hstack_, [R(3), R(2)]), (hstack_, [R((2, 3)), R((2, 1))]),
    (vstack_mixed, [R(3), R((1, 3))]), (append_, [R((2, 3)), R(2)]), (append_axis, [R((2, 3)), R((2, 1))]),
    (column_stack_, [R(3), R((3, 2))]), (dstack_, [R((2, 3, 2)), R((2, 3))]), (dstack_, [R(3), R(3)]),
    (real_parts, [R((2, 3))]),
]


# ---- picks ----------------------------------------------------------------------------------------------
def select_(x, y):
    return np.select([x > 0.5, x < -0.5], [x, 2.0 * y])


def select_default(y, z, x):
    return np.select([x > 0], [y], default=z)


def take_along(x):
    return np.take_along_axis(x, np.array([[-1], [0]]), axis=-1)


def take_along_flat(x):
    return np.take_along_axis(x, np.array([0, 0, 3]), axis=None)


def squeeze_(x):
    return np.squeeze(x, (0, 2)) + x.squeeze(axis=0)[:, 0]


def trapezoid_(x):
    return np.trapezoid(x)


def builtin_sum_(x):
    return sum(x)


def array_(x, y):
    return np.array([[x, y], [y, x * y]])


def new_axis_of_a_result(x):
    # its adjoint writes through the new axis (`ddot[..., None] = ...`): an internal SyntaxError before
    return np.dot(np.arange(2.0), x)[..., None] * x.T


PICKS = [
    (select_, [R((2, 3)), R(3)], (0, 1)), (select_default, [R((2, 3)), R((2, 1)), R(3)], (0, 1)),
    (select_default, [R(3), 0.7, R((2, 3))], (0, 1)),
    (take_along, [R((2, 3))], 0), (take_along_flat, [R((2, 2))], 0), (squeeze_, [R((1, 3, 1))], 0),
    (trapezoid_, [R((2, 3))], 0), (trapezoid_, [R(1)], 0), (builtin_sum_, [R((2, 3))], 0), (builtin_sum_, [R(1)], 0), (array_, [0.3, -1.2], (0, 1)),
    (new_axis_of_a_result, [R((2, 3))], 0),
]

CASES = [(f, a, tuple(range(len(a)))) for f, a in CONTRACTIONS + JOINS] + PICKS


@pytest.mark.parametrize("k", range(len(CASES)),
                         ids=[f"{c[0].__name__}-{'x'.join(str(np.shape(a)) for a in c[1])}" for c in CASES])
def test_lowering_on_numba(k, monkeypatch):
    # each case compiles a primal and an adjoint: CI runs every other one, RETROGRAD_NUMBA_FULL=1 all
    if k % 2 and not os.environ.get("RETROGRAD_NUMBA_FULL"):
        pytest.skip("numba lowering sample: RETROGRAD_NUMBA_FULL=1 runs this case")
    f, args, wrt = CASES[k]
    monkeypatch.setattr(fd, "BACKEND", "numba")
    fd.check_vjp(f, args, wrt=wrt)


# ---- what Numba still cannot do: a clear refusal, or NumPy's own error ---------------------------------
def cross_2d(x, y):
    return np.cross(x, y)


def e_mismatch(x, y):
    return np.einsum('ij,jk->ik', x, y)


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")
def test_two_vector_cross_is_refused_clearly():
    """Numba's np.cross takes 3-vectors only (it raises at run time): a BackendError, not its ValueError."""
    d = rg.differentiate(cross_2d, wrt=(0, 1), backend="numba")
    with pytest.raises(rg.BackendError) as err:
        d.vjp(np.ones(2), np.ones(2))
    assert 'backend="python"' in err.value.hint
    assert rg.differentiate(cross_2d, wrt=(0, 1)).vjp(np.ones(2), np.ones(2))[0] == 0.0


def test_einsum_shapes_that_do_not_broadcast_raise():
    d = rg.differentiate(e_mismatch, wrt=(0, 1), backend="numba")
    with pytest.raises(ValueError, match="broadcast"):
        d.vjp(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError):
        np.einsum('ij,jk->ik', np.ones((2, 3)), np.ones((2, 2)))


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_trapezoid_of_one_sample_has_zero_gradient(backend):
    """np.trapezoid of a single sample is the constant 0 (the weights were dx/4 before: a wrong gradient)."""
    assert np.trapezoid(np.array([2.0])) == 0.0
    g = rg.differentiate(trapezoid_, backend=backend).grad(np.array([2.0]))
    np.testing.assert_array_equal(g, [0.0])


def sum_axis_out_of_range(x):
    return np.sum(np.sum(x, axis=3) ** 2)


def max_axis_repeated(x):
    return np.sum(np.max(x, axis=(0, -2)) ** 2)


def sum_axis_of_0d(x):
    return np.sum(np.sum(x, axis=1) * 2.0)


def sum_axis_0_of_0d(x):
    return np.sum(np.max(x, axis=0) * 2.0) + np.sum(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("f,shape", [(sum_axis_out_of_range, (2, 3)), (max_axis_repeated, (2, 3)),
                                     (sum_axis_of_0d, ())])
def test_constant_axis_out_of_range_or_repeated_is_refused_not_wrapped(f, shape):
    # NumPy raises (AxisError / duplicate value in 'axis'); a wrapped axis (3 % 2 == 1) would be a number
    x = np.arange(float(np.prod(shape))).reshape(shape)
    with pytest.raises((ValueError, IndexError)):
        f(x)
    with pytest.raises(rg.BackendError) as err:
        rg.differentiate(f, backend="numba").grad(x)
    assert err.value.lineno is not None


def test_int_axis_0_of_a_0d_array_reduces_nothing_as_numpy_does():
    x = np.array(0.7)
    assert rg.differentiate(sum_axis_0_of_0d, backend="numba")(x) == sum_axis_0_of_0d(x)
    assert rg.differentiate(sum_axis_0_of_0d, backend="numba").grad(x) == 3.0
