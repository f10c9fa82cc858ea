"""Numba-backend regressions for patterns found by the benchmarks (element loops over fresh arrays)."""
import numpy as np
import pytest

pytest.importorskip("numba")

import retrograd as rg  # noqa: E402
from fd import check_grad  # noqa: E402
import fd  # noqa: E402


def stencil_fresh_array(u, c, n_steps):
    n = u.shape[0]
    for step in range(n_steps):
        un = np.zeros(n)                 # a fresh array each step, written element by element
        for i in range(1, n - 1):
            un[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = un
    return np.sum(u * u)


def map_fresh_like(u, n_steps):
    for step in range(n_steps):
        un = np.zeros_like(u)
        for i in range(len(u)):
            un[i] = 2.0 * np.sin(u[i])
        u = un
    return np.sum(u)


@pytest.fixture(autouse=True)
def numba_everywhere(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    monkeypatch.setattr(fd, "BACKEND", "numba")


@pytest.mark.parametrize("f,args,wrt", [
    (stencil_fresh_array, (np.linspace(0.1, 0.9, 7), 0.2, 3), (0, 1)),
    (map_fresh_like, (np.linspace(0.1, 0.5, 4), 3), 0),
])
def test_numba_element_loops_over_fresh_arrays(f, args, wrt):
    check_grad(f, args, wrt)
    py = rg.differentiate(f, wrt=wrt).grad(*args)
    nb = rg.differentiate(f, wrt=wrt, backend="numba").grad(*args)
    for a, b in zip(py if isinstance(py, tuple) else (py,), nb if isinstance(nb, tuple) else (nb,)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def rnn_loop(Wx, Wh, b, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)   # h is 2-D; the bias b is 1-D and broadcasts
    return np.sum(h)


def mlp_batched(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    return np.mean((h @ W2 + b2 - y) ** 2)


def test_kinds_of_a_loop_carried_array_with_a_broadcast_bias():
    # The rank of `h @ Wh` must not be guessed from the 1-D bias alone while `h` is still unknown: the
    # numba backend needs it to type the placeholder of the tape (it refused this loop before).
    from retrograd.analysis.kinds import kind_of_value
    from retrograd.pipeline import new_program
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=(2, 5, 3)),
            np.zeros((5, 4)))
    program = new_program("numba")
    _, _, tf = program.variant(rnn_loop, {"Wx", "Wh", "b"}, {p: kind_of_value(a) for p, a in
                                                              zip(("Wx", "Wh", "b", "xs", "h0"), args)})
    assert tf.kinds["h"] == "array:2"
    assert all(tf.kinds[n] == "array:2" for n in tf.kinds if n.startswith(("h_at", "xs_at")))


@pytest.mark.parametrize("f,args,wrt", [
    (rnn_loop, (np.linspace(-0.5, 0.5, 6).reshape(3, 2), np.linspace(0.3, -0.2, 4).reshape(2, 2),
                np.array([0.1, -0.1]), np.linspace(-1.0, 1.0, 12).reshape(2, 2, 3), np.zeros((2, 2))), (0, 1, 2)),
    (mlp_batched, (np.linspace(-0.5, 0.5, 6).reshape(3, 2), np.array([0.1, -0.2]),
                   np.linspace(0.3, -0.2, 4).reshape(2, 2), np.array([0.05, 0.0]),
                   np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.linspace(0.0, 1.0, 8).reshape(4, 2)), (0, 1, 2, 3)),
])
def test_numba_matmul_layers(f, args, wrt):
    check_grad(f, args, wrt)
    py = rg.differentiate(f, wrt=wrt).grad(*args)
    nb = rg.differentiate(f, wrt=wrt, backend="numba").grad(*args)
    for a, b in zip(py, nb):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def reductions_over_axes(x, t):
    """Reductions Numba's NumPy lacks (keepdims, axis= for mean/max/min/var/std/prod), in one function."""
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    p = e / np.sum(e, axis=-1, keepdims=True)
    s = np.mean(x, axis=0) * np.min(x, axis=1).sum() + np.var(x, axis=1).sum() + x.std(axis=0).sum()
    q = np.prod(1.0 + 0.1 * t, axis=0)
    return np.sum(p * x) + np.sum(s) + np.sum(q * q) + np.sum(np.mean(t, axis=1, keepdims=True) * t)


def test_numba_lowers_reductions_over_axes():
    r = np.random.default_rng(7)
    args = (r.normal(size=(4, 5)), r.normal(size=(3, 4)))
    nb = rg.differentiate(reductions_over_axes, wrt=("x", "t"), backend="numba")
    assert "reduce_max(x, -1, True)" in nb.source_for(*args)
    expected = rg.differentiate(reductions_over_axes, wrt=("x", "t")).grad(*args)
    for g, e in zip(nb.grad(*args), expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)
    fd.check_grad(reductions_over_axes, args, ("x", "t"))


def reduce_by(x, axis, keep):
    return np.sum(np.mean(x, axis=axis, keepdims=keep) ** 2) + np.sum(np.max(x, axis=axis) * x.sum(axis))


def test_numba_compiles_an_axis_passed_as_an_argument():
    # the generated function is compiled once per axis / keepdims value (numba.literally)
    x = np.random.default_rng(3).normal(size=(3, 4))
    nb = rg.differentiate(reduce_by, backend="numba")
    for axis in (0, 1, -1):
        for keep in (False, True):
            np.testing.assert_allclose(nb.grad(x, axis, keep), rg.differentiate(reduce_by).grad(x, axis, keep),
                                       rtol=1e-12, atol=1e-14)
    fd.check_grad(reduce_by, (x, 1, True), 0)


def test_numba_refuses_a_runtime_tuple_axis_clearly():
    def reduce_over(x, axes):
        return np.sum(np.mean(x, axis=axes))
    with pytest.raises(rg.BackendError) as info:
        rg.differentiate(reduce_over, backend="numba").grad(np.ones((2, 3, 2)), (0, 2))
    assert 'backend="python"' in info.value.hint


def batched_products(A, B, W):
    """Batched `@` (3-D with 3-D, 3-D with 2-D, 2-D with 3-D, a batch of one broadcast), which Numba's `@`
    lacks: lowered to loops of 2-D products."""
    C = np.tanh(A @ B)                       # (4, 2, 3) @ (4, 3, 2)
    D = C @ W                                # (4, 2, 2) @ (2, 5)
    E = W.T @ C                              # (5, 2) @ (4, 2, 2)
    F = A[:1] @ B                            # (1, 2, 3) @ (4, 3, 2): the batch of one broadcasts
    return np.sum(D * D) + np.sum(np.sin(E)) + np.sum(F * C)


def integer_products(x, M):
    """`@` with integer operands: an integer matrix times a float vector, and two integer matrices."""
    K = M @ M.T
    return np.sum(np.sin(M @ x)) + np.sum(K @ (M @ x)) + x @ (M.T @ M) @ x


def test_numba_lowers_batched_and_integer_matmul():
    r = np.random.default_rng(5)
    check_grad(batched_products, (r.normal(size=(4, 2, 3)), r.normal(size=(4, 3, 2)), r.normal(size=(2, 5))),
               (0, 1, 2))
    M = np.array([[1, -2, 0], [3, 1, 2]])
    check_grad(integer_products, (r.normal(size=3), M), 0)
    src = rg.differentiate(integer_products, backend="numba").source_for(r.normal(size=3), M)
    code = "\n".join(line.split("#")[0] for line in src.splitlines())     # comments quote the user's `@`
    assert "matmul(M, x)" in code and " @ " not in code


def sum_of_an_element(x):
    y = np.log(x)
    return np.sum(y[2]) * 3.0 + np.mean(y[1])      # reductions of a scalar (once: "cannot compile")


def test_numba_reduction_of_a_scalar_element():
    x = np.linspace(0.1, 1.0, 5)
    check_grad(sum_of_an_element, (x,), 0)
    np.testing.assert_allclose(rg.grad(sum_of_an_element, backend="numba")(x), rg.grad(sum_of_an_element)(x),
                               rtol=1e-12)


def tuple_unpacked(x):
    t = (x, x * 2, np.sin(x))
    a, b, c = t                      # the tuple's cotangent was joined with `+` on numba: a zero gradient
    return np.sum(a * b + c)


def tuple_aliased(x):
    t = (x, x * 2)
    t2 = t
    a, b = t2
    c, e = t
    return np.sum(a * e + b * c)


def tuple_of_scalars(x):
    t = (x[0], x[1] * 2.0)
    a, b = t
    return a * b + t[0]


@pytest.mark.parametrize("f", [tuple_unpacked, tuple_aliased, tuple_of_scalars])
def test_numba_tuple_cotangents_add_item_by_item(f):
    x = np.array([0.1, 0.7, 0.35])
    check_grad(f, (x,), 0)
    np.testing.assert_allclose(rg.grad(f, backend="numba")(x), rg.grad(f)(x), rtol=1e-12)


def list_index_write(x):
    y = x.copy()
    y[[0, 2]] = y[[1, 1]] * 3              # a literal list index (Numba indexes with arrays, not lists)
    return np.sum(y ** 2)


def list_index_add_at(x):
    y = x.copy()
    np.add.at(y, [0, 0, 1], x[:3])
    return np.sum(y ** 2)


def list_index_subtract_at(x):
    y = x.copy()
    np.subtract.at(y, [0, 0, -1], x[1:4] ** 2)     # np.subtract.at's helper takes the list too
    return np.sum(y ** 2)


def list_index_negative_augmented(x):
    y = np.zeros(4)
    y[[0, -1]] += x[[1, 2]]
    return np.sum(y * y)


def list_index_read_as_a_list_too(x):
    idx = [0, 3]
    z = x[idx]
    return np.sum(z ** 2) + len(idx * 2)    # `idx * 2` repeats the list: it must stay a list


@pytest.mark.parametrize("f", [list_index_write, list_index_add_at, list_index_subtract_at,
                               list_index_negative_augmented])
def test_numba_literal_list_indices(f):
    x = np.array([0.1, 0.7, 0.35, 0.9, 0.2, 0.55])
    check_grad(f, (x,), 0)
    np.testing.assert_allclose(rg.grad(f, backend="numba")(x), rg.grad(f)(x), rtol=1e-12)


def test_numba_list_read_otherwise_stays_a_list():
    x = np.array([0.1, 0.7, 0.35, 0.9, 0.2, 0.55])
    try:
        value, g = rg.value_and_grad(list_index_read_as_a_list_too, backend="numba")(x)
    except rg.BackendError as e:          # Numba cannot index with a list: refused at the user's line
        assert e.lineno is not None
        return
    assert value == list_index_read_as_a_list_too(x)
    np.testing.assert_allclose(g, rg.grad(list_index_read_as_a_list_too)(x), rtol=1e-12)
