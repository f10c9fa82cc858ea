"""Calls at their edges (issue 11): random draws made once, casts to integers, calls and subscripted
objects without a rule refused, pullback cotangents checked.  Gradients against central differences
(fd.check_grad: also the value against the plain call and unchanged caller arrays) on both backends."""
import numpy as np
import pytest

import fd
import retrograd as rg

RNG = np.random.default_rng(0)


# ---- random draws: made once, in the forward pass, and the adjoint uses what was drawn ----------------

def legacy_draw(x):
    return np.sum(x * np.random.normal(size=x.shape))


def dropout(x):
    return np.sum(x * (RNG.random(x.shape) > 0.5) * 2.0)


def local_generator(x):
    rng = np.random.default_rng(7)
    noise = rng.normal(size=x.shape)
    return np.sum(np.sin(x) * noise + x * (rng.random(x.shape) < 0.3))


def draw_in_loop(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(x * np.random.uniform(0.5, 1.5, size=x.shape)) * (i + 1)
    return s


def noisy(x):
    return x * np.random.standard_normal(x.shape)


def draw_in_helper(x):
    return np.sum(noisy(x) ** 2)


def _expected(f, x, reseed):
    """The derivative of the value actually computed: central differences with the same draws."""
    def at(v):
        reseed()
        return f(v)
    return fd.numerical_grad(lambda v: at(v), [x.copy()], 0)


def _reseed():
    global RNG
    np.random.seed(3)
    RNG = np.random.default_rng(3)


@pytest.mark.parametrize("f", [legacy_draw, dropout, local_generator, draw_in_loop, draw_in_helper])
@pytest.mark.parametrize("remat", [None, "recompute"])
def test_draws_are_made_once(f, remat):
    x = np.array([0.4, -1.2, 2.0, 0.7])
    _reseed()
    plain = f(x.copy())
    after_plain = np.random.random(), RNG.random()
    _reseed()
    value, grad = rg.differentiate(f, remat=remat).value_and_grad(x.copy())
    assert (np.random.random(), RNG.random()) == after_plain, "grad drew more (or fewer) numbers than the plain call"
    assert value == pytest.approx(plain, rel=1e-12)
    np.testing.assert_allclose(grad, _expected(f, x, _reseed), rtol=1e-6, atol=1e-8)


def checkpointed_draw(x):
    for i in range(4):
        x = np.sin(x) + 0.1 * np.random.normal(size=x.shape)
    return np.sum(x)


def test_draw_in_a_checkpointed_loop_is_refused():
    with pytest.raises(rg.UnsupportedSyntaxError) as e:
        rg.differentiate(checkpointed_draw, remat=rg.Checkpoint(snapshots=2)).grad(np.ones(3))
    assert e.value.lineno == checkpointed_draw.__code__.co_firstlineno + 2


def scalar_draw(x):
    return x * np.random.normal(0.0, 1.0)


def test_draws_refused_on_numba():
    pytest.importorskip("numba")
    with pytest.raises(rg.BackendError) as e:
        rg.differentiate(scalar_draw, backend="numba").grad(1.5)
    assert e.value.lineno == scalar_draw.__code__.co_firstlineno + 1 and 'backend="python"' in e.value.hint


# ---- casts: to integers and booleans the derivative is 0, between floats it is kept ------------------

def astype_int(x):
    return np.sum(x.astype(np.int64) * x) + np.sum(x.astype(int) * x ** 2)


def astype_bool(x):
    return np.sum(x.astype(bool) * x) + np.sum(x.astype("int32") * x)


def asarray_int(x):
    return np.sum(np.asarray(x, dtype=int) * x) + np.sum(np.array(x, dtype=np.int32) * x)


def float_casts(x):
    return np.sum(x.astype(np.float64) * x) + np.sum(np.asarray(x, dtype=float) ** 2) + np.sum(np.array(x, np.float64))


def rounding(x):
    return np.sum(np.floor(x) * x + np.round(x) * np.ceil(x) * x + np.trunc(x) + np.sign(x) * x)


@pytest.mark.parametrize("f", [astype_int, astype_bool, asarray_int, float_casts, rounding])
def test_casts(fd_backend, f):
    fd.check_grad(f, (np.array([0.3, 1.7, -2.2, 2.6]),))


def cast_to_variable(x, t):
    return np.sum(x.astype(t) * x)


def test_cast_to_a_dtype_unknown_in_the_source_is_refused():
    with pytest.raises(rg.UnsupportedSyntaxError) as e:
        rg.differentiate(cast_to_variable).grad(np.ones(2), np.int64)
    assert e.value.lineno == cast_to_variable.__code__.co_firstlineno + 1


def complex_cast(x):
    return np.sum(np.real(x.astype(complex)))


def test_complex_cast_is_refused():
    with pytest.raises(rg.UnsupportedSyntaxError):
        rg.differentiate(complex_cast).grad(np.ones(2))


# ---- no rule: refused, never taken as a constant ---------------------------------------------------------

def r_join(x):
    return np.sum(np.r_[x, 2 * x] ** 2)


def c_join(x):
    y = 2.0 * x
    return np.sum(np.c_[x, y] ** 2)


def sort_call(x):         # (np.sort has a rule now: np.interp has none)
    return np.sum(np.interp(x, [0.0, 1.0, 2.0], [0.0, 1.0, 4.0]) * np.arange(3.0))


def flat_attr(x):
    return np.sum(x.flat[0] * x)


@pytest.mark.parametrize("f, construct", [(r_join, "np.r_[...]"), (c_join, "np.c_[...]"),
                                          (sort_call, "np.interp"), (flat_attr, ".flat")])
def test_calls_without_a_rule_are_refused(f, construct):
    with pytest.raises(rg.RetrogradError) as e:
        rg.differentiate(f).grad(np.array([0.3, 1.7, 2.2]))
    assert e.value.lineno is not None and e.value.lineno > f.__code__.co_firstlineno
    assert construct in (e.value.construct or "") + str(e.value)


def index_by_computed_ints(x):
    k = int(np.argmax(x))
    idx = (x * 2).astype(int) % 3
    return x[k] * np.sum(x[idx])


def test_integer_indices_computed_from_the_input_still_work(fd_backend):
    fd.check_grad(index_by_computed_ints, (np.array([0.3, 1.7, 0.9]),))


# ---- pullback cotangents: exactly the output's structure and shape --------------------------------------

def vector_out(x):
    return np.sin(x) * 2.0


def pair_out(x):
    return np.sum(x), x * 3.0


def scalar_out(x):
    return np.sum(x ** 2)


def test_pullback_checks_the_cotangent():
    x = np.array([0.1, 0.2, 0.3])
    _, pb = rg.differentiate(vector_out).vjp(x)
    for bad in (np.ones(2), np.ones((3, 1)), np.ones(()), 1.0, "1", None, [1.0, 1.0, 1.0], np.ones(3) * 1j):
        with pytest.raises(rg.UsageError):
            pb(bad)
    np.testing.assert_allclose(pb(np.ones(3))[0], 2.0 * np.cos(x))
    _, pb = rg.differentiate(scalar_out).vjp(x)
    np.testing.assert_allclose(pb(1.0)[0], 2 * x)
    np.testing.assert_allclose(pb(np.float64(2.0))[0], 4 * x)
    with pytest.raises(rg.UsageError):
        pb(np.ones(1))
    _, pb = rg.differentiate(pair_out).vjp(x)
    with pytest.raises(rg.UsageError):
        pb((1.0,))
    with pytest.raises(rg.UsageError):
        pb((1.0, np.ones(2)))
    np.testing.assert_allclose(pb((1.0, np.ones(3)))[0], np.ones(3) * 4.0)


def hstack_scalar_pieces(a):
    return np.sum(np.hstack([a[0, 0], a[1]]) * np.arange(4.0))


def test_hstack_of_a_0d_and_a_1d_piece(fd_backend):
    """Found by the review: the cotangent of a 0-d piece of np.hstack (a raw IndexError before)."""
    fd.check_grad(hstack_scalar_pieces, (np.arange(6.0).reshape(2, 3) * 0.5 + 0.1,))


def median_overwritten(x):
    return np.sum(np.median(x, axis=-1, overwrite_input=True))


def quantile_overwritten(x):
    return np.sum(np.quantile(x, 0.3, axis=-1, overwrite_input=True))


def percentile_overwritten(x):
    return np.sum(np.percentile(x, 30.0, overwrite_input=True))


@pytest.mark.parametrize("f", [median_overwritten, quantile_overwritten, percentile_overwritten])
def test_overwrite_input_true_is_refused_and_the_argument_is_kept(fd_backend, f):
    # NumPy partitions x in place: the caller's array would change and the adjoint would read the partition
    x = np.random.default_rng(1).normal(size=(4, 5))
    keep = x.copy()
    with pytest.raises(rg.MissingRuleError, match="overwrite_input=True") as err:
        rg.differentiate(f, backend=fd_backend).grad(x)
    assert err.value.lineno is not None and "leave overwrite_input=False" in err.value.hint
    np.testing.assert_array_equal(x, keep)
