"""Review session 20: findings in the changes merged on 2026-12-03 (add_tree, np.gradient with coordinates,
rule-call checks).  Each case is checked against float64 central differences and the plain call, or must be
refused at the user's line."""
import numpy as np
import pytest

import retrograd as rg
from fd import check_grad


def P():
    return [np.array([0.3, 0.5]), np.array([1.1, -0.4])]


# ---- add_tree: a list's cotangent from a rule that reads it as one array (finding 1) --------------------
# np.sum(xs) / np.mean(xs) / np.asarray(xs) give an ndarray cotangent; np.stack(xs) a list.  The list came
# first in the adjoint and add_tree raised a raw ValueError (before add_tree, `list + ndarray` broadcast).
def sum_of_list_then_stack(xs):
    return np.sum(sum(xs) ** 2) + np.sum(np.stack(xs))


def mean_of_list_then_stack(xs):
    return np.mean(xs) + np.sum(np.stack(xs) ** 2)


def asarray_then_concatenate(xs):
    return np.sum(np.concatenate(xs) ** 3) + np.sum(np.asarray(xs) * 2.0)


def scalars_list(xs):
    return np.sum(np.array(xs) ** 2) + np.sum(np.stack(xs))


@pytest.mark.parametrize("f", [sum_of_list_then_stack, mean_of_list_then_stack, asarray_then_concatenate],
                         ids=lambda f: f.__name__)
def test_a_list_read_as_an_array_and_as_a_list(f):
    check_grad(f, [P()])


def test_a_list_of_floats_read_as_an_array_and_as_a_list():
    check_grad(scalars_list, [[0.3, 0.5, -1.2]])


def test_add_tree_zero_and_array_against_a_list():
    from retrograd.runtime import add_tree
    a = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    assert add_tree(a, 0.0) is a
    got = add_tree(a, np.array([[10.0, 20.0], [30.0, 40.0]]))
    assert isinstance(got, list) and np.array_equal(got[1], [33.0, 44.0])


# ---- np.gradient differentiated in its spacing or coordinates only (finding 2) -------------------------
# The call was not active (its only differentiated slot, f, is constant), so the check that refuses a
# differentiated value in a slot without derivative was skipped: d/dh and d/dx were silently 0.
F5 = np.array([0.4, -1.0, 2.0, 0.7, 0.3])
X5 = np.array([0.0, 0.3, 1.0, 1.2, 2.5])


def gradient_in_h(h, f):
    return np.sum(np.gradient(f, h) ** 2)


def gradient_in_coordinates(x, f):
    return np.sum(np.gradient(f, x, edge_order=2) ** 2)


def gradient_in_derived_coordinates(s, f):
    x = np.array([0.0, 0.3, 1.0, 1.2, 2.5]) * s
    return np.sum(np.gradient(f, x, axis=0) ** 2)


@pytest.mark.parametrize("f,arg", [(gradient_in_h, 0.7), (gradient_in_coordinates, X5),
                                   (gradient_in_derived_coordinates, 1.3)], ids=lambda v: getattr(v, "__name__", ""))
def test_a_differentiated_spacing_is_refused_at_its_line(f, arg):
    with pytest.raises(rg.MissingRuleError) as err:
        rg.grad(f)(arg, F5)
    assert err.value.filename == __file__ and err.value.lineno is not None
    with pytest.raises(rg.MissingRuleError):
        rg.jvp(f, (arg, F5), (arg, np.zeros(5)))


def test_a_constant_spacing_still_differentiates_in_f():
    check_grad(gradient_in_coordinates, [X5, F5], wrt=1)
    check_grad(gradient_in_h, [0.7, F5], wrt=1)


# ---- a function's defaults or code rebound after differentiation (finding 3) ---------------------------
# The generated code inlines constant defaults and is re-validated per call against the namespaces it read,
# but `f.__defaults__ = ...` (or `f.__code__ = ...`) rebinds an attribute of the same function object: the
# old gradient was returned silently, and api's signature kept binding the old defaults.
def _scaled(v, c=2.0):
    return np.sum(v ** 2 * c)


def _helper_with_default(v, c=2.0):
    return v * c


def _calls_helper(v):
    return np.sum(np.sin(_helper_with_default(v)))


def _squares(v):
    return np.sum(v ** 2)


X3 = np.array([0.3, -0.7, 1.1])


@pytest.fixture
def restore():
    saved = [(f, f.__defaults__, f.__code__) for f in (_scaled, _helper_with_default, _squares)]
    yield
    for f, d, c in saved:
        f.__defaults__, f.__code__ = d, c


def test_defaults_rebound_after_the_first_call(restore):
    d = rg.differentiate(_scaled)
    assert np.allclose(d.grad(X3), 4.0 * X3)
    _scaled.__defaults__ = (5.0,)
    assert np.allclose(d.grad(X3), 10.0 * X3) and np.isclose(d(X3), _scaled(X3))
    check_grad(_scaled, [X3])
    assert np.allclose(rg.jvp(_scaled, (X3,), (np.ones(3),))[1], np.sum(10.0 * X3))


def test_a_helpers_defaults_rebound(restore):
    g = rg.grad(_calls_helper)
    assert np.allclose(g(X3), 2.0 * np.cos(2.0 * X3))
    _helper_with_default.__defaults__ = (-3.0,)
    assert np.allclose(g(X3), -3.0 * np.cos(-3.0 * X3))


def test_code_swapped(restore):
    g = rg.grad(_squares)
    assert np.allclose(g(X3), 2.0 * X3)
    _squares.__code__ = _scaled.__code__.replace(co_name="_squares")   # v ** 2 * c, c defaulted below
    _squares.__defaults__ = (3.0,)
    assert np.allclose(g(X3), 6.0 * X3)


def test_the_namespace_key_of_a_function_is_stable():
    from retrograd.frontend.namespace import Reads, content_key
    assert "@" not in content_key(Reads([_scaled])) and content_key(Reads([_scaled])) == content_key(Reads([_scaled]))


# ---- numba: the line recovery read `.loc` of Numba's LLVM struct proxies (finding 4) ------------------
# Their __getattr__ raises KeyError for a missing field: a raw KeyError ("ArrayModel does not have a field
# named 'loc'") replaced the BackendError when Numba failed inside lowering (an 'A'-layout allocation).
A3 = np.array([[0.3, -0.7, 1.1], [2.0, 0.5, -1.5], [0.2, 0.9, -0.4]])


def layouts_unified(a):
    s = a
    for k in range(2):
        t = s.T
        s = t
        s = np.cos(s) * 2.0 if k == 0 else s * s
    return np.sum(s * A3)


def test_a_numba_lowering_crash_is_a_backend_error_at_the_users_line():
    pytest.importorskip("numba")
    d = rg.differentiate(layouts_unified, backend="numba")
    for run in (lambda: d(A3.copy()), lambda: d.grad(A3.copy())):
        with pytest.raises(rg.BackendError) as err:
            run()
        assert err.value.filename == __file__ and err.value.lineno is not None
    check_grad(layouts_unified, [A3.copy()])      # the python backend differentiates it


# ---- `+` / `*` of Python sequences (finding 5: silently wrong gradients) -------------------------------
# `xs + [y]` joins two lists, `[x] * 3` repeats one; the adjoint of `+`/`*` is elementwise, so the
# cotangents were misaligned (np.concatenate([np.ones(2)] + xs) gave xs[0] the constant's cotangent).
W6 = np.arange(6.0)


def prepend_a_constant(xs):
    return np.sum(np.concatenate([np.ones(2)] + xs) * W6)


def append_to_a_tuple(t):
    return np.sum(np.concatenate(t + (np.ones(2),)) * W6)


def local_join(x):
    ys = [x] + [x * 2.0]
    return np.sum(np.concatenate(ys) * np.arange(4.0))


def repeated(x):
    return np.sum(np.concatenate([x] * 3) * W6)


def list_times_an_array(xs):
    return np.sum(np.sum([xs[0], xs[1]] * np.array([[2.0], [3.0]])))     # elementwise: allowed


@pytest.mark.parametrize("f,arg", [(prepend_a_constant, P()), (append_to_a_tuple, tuple(P())),
                                   (local_join, np.array([0.5, -1.0])), (repeated, np.array([0.5, -1.0]))],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_joining_sequences_is_refused_at_its_line(f, arg):
    with pytest.raises(rg.UnsupportedSyntaxError) as err:
        rg.grad(f)(arg)
    assert err.value.filename == __file__ and err.value.lineno is not None


def test_a_list_display_times_an_array_is_elementwise():
    check_grad(list_times_an_array, [P()])


def join_two_list_names(xs):
    return np.sum(np.stack(xs + xs) ** 2 * np.arange(4.0)[:, None])


def repeat_a_list_name(xs):
    return np.sum(np.concatenate(xs * 2) * np.arange(8.0))


@pytest.mark.parametrize("f", [join_two_list_names, repeat_a_list_name], ids=lambda f: f.__name__)
def test_joining_list_names(f):
    # was silently wrong: the kinds now tell a container argument (kind "other") from a bool ("bool"), so
    # `xs + xs` and `xs * 2` of a list argument are refused at their line like list displays
    with pytest.raises(rg.UnsupportedSyntaxError) as err:
        rg.grad(f)(P())
    assert err.value.filename == __file__ and err.value.lineno == f.__code__.co_firstlineno + 1


def bool_flag_arithmetic(x, flag):
    return np.sum(x * flag) + np.sum((x + flag) ** 2) + np.sum(x[flag] * x)


@pytest.mark.parametrize("flag", [True, False, np.True_])
def test_a_bool_argument_in_arithmetic_is_not_a_container(flag):
    check_grad(bool_flag_arithmetic, [np.array([0.3, -0.7, 1.1]), flag])


# ---- NumPy's positional `out` in a call whose result is dropped (finding 6: silently wrong) ------------
# `np.exp(v, buf)` as a statement: the template does not bind it, and the bind error was left to "when
# the rule is applied", which never happens for an expression statement; buf's dependence on v was lost.
X3b = np.array([0.3, -0.7, 1.1])


def exp_into(v):
    buf = np.zeros(3)
    np.exp(v, buf)
    return np.sum(buf * v)


def multiply_into(v):
    buf = np.zeros(3)
    np.multiply(v, v, buf)
    return np.sum(buf * v)


def clip_into(v):
    buf = np.zeros(3)
    np.clip(v, 0.0, 1.0, buf)
    return np.sum(buf * v)


def dot_into(v):
    buf = np.zeros(())
    np.dot(v, v, buf)
    return np.sum(buf * v)


def concatenate_into(v):
    buf = np.zeros(6)
    np.concatenate((v, v), 0, buf)
    return np.sum(buf * np.arange(6.0))


def add_into_where(v):
    buf = np.zeros(3)
    np.add(v, 1.0, buf, where=v > 0)
    return np.sum(buf * v)


def constant_into(v):
    buf = np.zeros(3)
    np.exp(np.arange(3.0), buf)      # reads nothing differentiated: allowed
    return np.sum(buf * v)


@pytest.mark.parametrize("f", [exp_into, multiply_into, clip_into, dot_into, concatenate_into, add_into_where],
                         ids=lambda f: f.__name__)
def test_positional_out_of_a_dropped_call_is_refused(f):
    with pytest.raises(rg.UnsupportedSyntaxError) as err:
        rg.grad(f)(X3b.copy())
    assert err.value.filename == __file__ and err.value.lineno is not None


def test_positional_out_of_a_constant_call():
    check_grad(constant_into, [X3b.copy()])


def test_defaults_rebound_on_numba(restore):
    # numba's compiled plain call bound the decoration-time defaults too: d(x) itself was stale
    pytest.importorskip("numba")
    d = rg.differentiate(_scaled, backend="numba")
    assert np.isclose(d(X3), _scaled(X3)) and np.allclose(d.grad(X3), 4.0 * X3)
    _scaled.__defaults__ = (5.0,)
    assert np.isclose(d(X3), _scaled(X3)) and np.allclose(d.grad(X3), 10.0 * X3)
