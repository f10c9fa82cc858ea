"""Generated code sees the user's namespaces as they are at each call (issue 11 item 1).

Each test differentiates once, changes what the function reads (a global, a helper, a closure cell, a
module attribute), and checks value_and_grad again on the *same* Differentiable against the plain call
and central finite differences, on every backend."""
import numpy as np
import pytest

import fd
import ns_module
import retrograd as rg
from conftest import FD_BACKENDS
from retrograd.frontend.namespace import Reads

X = np.array([0.3, -1.2, 0.7])


@pytest.fixture(params=FD_BACKENDS)
def backend(request, monkeypatch, tmp_path_factory):
    if request.param == "numba":
        pytest.importorskip("numba")
        monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    return request.param


@pytest.fixture(autouse=True)
def restore_globals():
    saved = dict(globals())
    saved_mod = dict(vars(ns_module))
    contents = [(a, a.copy()) for a in list(saved.values()) + list(saved_mod.values()) if isinstance(a, np.ndarray)]
    yield
    globals().update(saved)
    vars(ns_module).update(saved_mod)
    for a, c in contents:      # arrays the test mutated in place
        a[...] = c


def check(d, f, *args):
    """value_and_grad of `d` equals the plain call of `f` and central differences of it."""
    value, grad = d.value_and_grad(*args)
    fd.assert_tree_allclose(value, f(*args), what=f"value of {f.__name__}")
    fd.assert_tree_allclose(grad, fd.numerical_gradient(f, list(args), 0), rtol=1e-6, atol=1e-8,
                            what=f"gradient of {f.__name__}")
    out, pullback = d.vjp(*args)
    fd.assert_tree_allclose(out, f(*args), what=f"vjp value of {f.__name__}")
    fd.assert_tree_allclose(pullback(1.0)[0], grad, rtol=1e-12, atol=1e-12, what="pullback")


scale = 1.0
W = np.array([1.0, -2.0, 0.5])


def uses_scale(x):
    return scale * np.sum(x ** 2)


def uses_w(x):
    return np.sum(np.sin(W * x))


def test_rebound_scalar_global(backend):
    global scale
    d = rg.differentiate(uses_scale, backend=backend)
    check(d, uses_scale, X)
    scale = 3.0
    check(d, uses_scale, X)


def test_rebound_global_array(backend):
    global W
    d = rg.differentiate(uses_w, backend=backend)
    check(d, uses_w, X)
    W = np.array([2.0, 0.25, -1.0])
    check(d, uses_w, X)


def test_global_array_mutated_in_place(backend):
    d = rg.differentiate(uses_w, backend=backend)
    check(d, uses_w, X)
    W[1] = 4.0                 # same object, new contents: Numba would have frozen the old ones
    check(d, uses_w, X)
    W[:] = -W
    check(d, uses_w, X)


def square(x):
    return x ** 2


def cube(x):
    return x ** 3


helper = square


def calls_helper(x):
    return np.sum(helper(x) * 2.0)


def test_redefined_helper(backend):
    global helper
    d = rg.differentiate(calls_helper, backend=backend)
    check(d, calls_helper, X)
    helper = cube
    check(d, calls_helper, X)
    helper = rg.differentiate(square)      # a Differentiable as the helper
    check(d, calls_helper, X)


def reads_other_module(x):
    return ns_module.K * np.sum(x ** 2) + ns_module.scaled(x)


def test_constant_in_another_module(backend):
    d = rg.differentiate(reads_other_module, backend=backend)
    check(d, reads_other_module, X)
    ns_module.K = 2.5           # read directly (a module attribute) and by the helper (its global)
    check(d, reads_other_module, X)
    ns_module.W[0] = -3.0       # the helper's global array, mutated in place
    check(d, reads_other_module, X)


def make_closure():
    factor = 1.0

    def closed(x):
        return factor * np.sum(np.cos(x))

    def set_factor(v):
        nonlocal factor
        factor = v
    return closed, set_factor


def test_rebound_closure_cell(backend):
    closed, set_factor = make_closure()
    d = rg.differentiate(closed, backend=backend)
    check(d, closed, X)
    set_factor(-4.0)
    check(d, closed, X)


def scale_inside(x):
    return np.sum(scale * x ** 2)


def test_global_changes_kind(backend):
    global scale
    d = rg.differentiate(scale_inside, backend=backend)
    check(d, scale_inside, X)
    scale = np.array([1.0, 2.0, -1.0])        # float -> array: regenerated
    check(d, scale_inside, X)
    scale = np.array([[1.0], [3.0]])          # rank 1 -> rank 2 (broadcast against x)
    check(d, scale_inside, X)
    scale = 0.5
    check(d, scale_inside, X)


# ---- hostile variants -------------------------------------------------------------------------------

def inner_scaled(x):
    return scale * np.tanh(x)


def only_helper_reads(x):
    return np.sum(inner_scaled(x) ** 2)


def test_global_read_only_by_a_helper(backend):
    global scale
    d = rg.differentiate(only_helper_reads, backend=backend)
    check(d, only_helper_reads, X)
    scale = -2.0
    check(d, only_helper_reads, X)


def sin_scaled(x):
    return np.sum(np.sin(scale * x))      # the adjoint reads `scale` again: cos(scale * x) * scale


def test_global_read_by_the_adjoint(backend):
    global scale
    d = rg.differentiate(sin_scaled, backend=backend)
    check(d, sin_scaled, X)
    scale = 5.0
    check(d, sin_scaled, X)


def shadowed(x):
    scale = 2.0
    return scale * np.sum(x ** 2)


def test_global_shadowed_by_a_local(backend):
    global scale
    d = rg.differentiate(shadowed, backend=backend)
    check(d, shadowed, X)
    scale = np.array([9.0, 9.0, 9.0])
    check(d, shadowed, X)
    assert "scale" not in [n for _, n in Reads([shadowed]).globals]


def uses_pi(x):
    return np.sum(np.sin(np.pi * x)) + np.sqrt(np.sum(x ** 2))


def library_chains(x):
    return np.linalg.norm(x) * np.pi + np.random.default_rng(0).random()


def test_library_attribute_chains_are_not_slots(backend):
    d = rg.differentiate(uses_pi, backend=backend)
    check(d, uses_pi, X)
    for fn in (uses_pi, library_chains):       # np.pi, np.linalg.norm: nothing to re-read per call
        reads = Reads([fn])
        assert reads.attrs == [] and [n for _, n in reads.globals] == ["np"]


def test_pullback_keeps_its_forward_namespace():
    global scale
    d = rg.differentiate(sin_scaled)
    out, pullback = d.vjp(X)
    scale = 7.0
    d.vjp(X)                                   # the namespace of new calls is rebound ...
    expected = fd.numerical_gradient(lambda x: np.sum(np.sin(1.0 * x)), [X], 0)
    fd.assert_tree_allclose(pullback(1.0)[0], expected, rtol=1e-6, atol=1e-8)   # ... not the old pullback's


def test_pullback_refuses_an_array_mutated_after_vjp(backend):
    d = rg.differentiate(uses_w, backend=backend)
    _, pullback = d.vjp(X)
    W[0] += 10.0
    with pytest.raises(rg.UsageError, match="`W` changed between vjp"):
        pullback(1.0)


def test_pullback_refuses_a_module_attribute_changed_after_vjp():
    d = rg.differentiate(reads_other_module)
    _, pullback = d.vjp(X)
    ns_module.K = -1.0
    with pytest.raises(rg.UsageError, match="ns_module.K"):
        pullback(1.0)


def test_custom_rule_registered_after_first_call():
    # python only: on numba the primal would call the plain Python `square` in nopython mode
    d = rg.differentiate(calls_helper)
    check(d, calls_helper, X)

    def wrong_on_purpose(dresult, result, x):
        return (dresult * 0.0,)
    rg.register_adjoint(square)(wrong_on_purpose)
    try:
        assert np.all(d.grad(X) == 0.0)        # the new rule is used, not the code generated before it
    finally:
        from retrograd.frontend.resolve import CUSTOM
        del CUSTOM[id(square)]
    check(d, calls_helper, X)


def reads_module_constant(x):
    return ns_module.K * np.sum(np.cos(x))


def test_new_differentiate_after_a_module_constant_changed(backend):
    # a fresh Differentiable (as in a new process) must not reuse the module generated for the old K:
    # numba's on-disk transform cache and module names are keyed by the values read, not "module:ns_module"
    check(rg.differentiate(reads_module_constant, backend=backend), reads_module_constant, X)
    ns_module.K = -0.75
    check(rg.differentiate(reads_module_constant, backend=backend), reads_module_constant, X)


K = ns_module.K          # the same object as ns_module's K, under the same name


def both_modules_k(x):
    return K * ns_module.scaled(x)


def test_one_name_two_modules_rebound_in_one():
    d = rg.differentiate(both_modules_k)
    check(d, both_modules_k, X)
    ns_module.K = 4.0       # now `K` means two things: the generated code has one namespace for both
    with pytest.raises(rg.RetrogradError, match="means different things"):
        d.grad(X)


N_STEPS = 3
AXIS = 0
FLAG = True
SHAPE = (2, 3)


def loop_n(x):
    s = 0.0
    for i in range(N_STEPS):
        s = s + np.sum(np.sin(x * i))
    return s


def reduce_axis(x):
    return np.sum(np.max(x, axis=AXIS) ** 2)


def branch_on_flag(x):
    if FLAG:
        y = x * 2.0
    else:
        y = np.cos(x)
    return np.sum(y ** 2)


def reshape_to(x):
    return np.sum(np.cumsum(x.reshape(SHAPE), axis=1) ** 2)


X2 = np.array([[0.3, -1.2, 0.7], [1.1, 0.2, -0.4]])
STRUCTURAL = [(reduce_axis, X2, "AXIS", [1, -1, 0]), (branch_on_flag, X, "FLAG", [False, True])]
# python only: Numba refuses these functions whatever the globals (loop placeholder, cumsum adjoint)
STRUCTURAL_PY = [(loop_n, X, "N_STEPS", [5, 0, 1]), (reshape_to, np.linspace(-1, 1, 6), "SHAPE", [(3, 2), (6, 1)])]


@pytest.mark.parametrize("fn, x, name, values", STRUCTURAL, ids=lambda v: getattr(v, "__name__", None))
def test_globals_that_shape_the_computation(backend, fn, x, name, values):
    d = rg.differentiate(fn, backend=backend)
    check(d, fn, x)
    for v in values:             # a loop bound, an axis, a branch, a shape: read as the code runs
        globals()[name] = v
        check(d, fn, x)


@pytest.mark.parametrize("fn, x, name, values", STRUCTURAL_PY, ids=lambda v: getattr(v, "__name__", None))
def test_globals_that_shape_the_computation_python(fn, x, name, values):
    test_globals_that_shape_the_computation("python", fn, x, name, values)


from ns_module import scaled as imported_scaled  # noqa: E402  (a helper imported by name)


def calls_imported_helper(x):
    return imported_scaled(x) * 2.0


def test_imported_helper_whose_module_global_changes(backend):
    d = rg.differentiate(calls_imported_helper, backend=backend)
    check(d, calls_imported_helper, X)
    ns_module.K = 0.125        # read only by the helper, in its own module
    check(d, calls_imported_helper, X)
    ns_module.W = np.array([0.5, 0.5, -2.0])
    check(d, calls_imported_helper, X)


def test_source_after_a_refused_regeneration():
    d = rg.differentiate(both_modules_k)
    d.grad(X)
    ns_module.K = 4.0
    with pytest.raises(rg.RetrogradError, match="means different things"):
        d.grad(X)
    with pytest.raises(rg.RetrogradError, match="means different things"):   # not a KeyError
        d.source
    ns_module.K = K
    assert "def adjoint_both_modules_k" in d.source


ADJ_SCALE = 1.0


def scaled_square(x):
    return ADJ_SCALE * x ** 2


@rg.register_adjoint(scaled_square)
def scaled_square_adjoint(dresult, result, x):
    return (dresult * 2.0 * ADJ_SCALE * x,)      # a global read only by a custom adjoint


def calls_custom(x):
    return np.sum(scaled_square(x))


def test_global_read_by_a_custom_adjoint():
    # python only: on numba the primal would call the plain Python `scaled_square` in nopython mode
    global ADJ_SCALE
    d = rg.differentiate(calls_custom)
    check(d, calls_custom, X)
    ADJ_SCALE = -3.0
    check(d, calls_custom, X)
