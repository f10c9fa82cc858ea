"""Central finite-difference checks of retrograd gradients (float64).

Reusable helpers:

``check_grad(f, args, wrt, rtol=1e-6, atol=1e-8)``
    Differentiates ``f`` with ``rg.differentiate(f, wrt=wrt)``, calls ``.grad(*args)`` and compares
    every entry of every gradient with central differences of the *undecorated* ``f``.  Also checks
    that the forward call of the differentiated function equals ``f(*args)``, that each gradient
    has the structure, type, shape and dtype of its argument, and that ``grad`` did not modify the
    caller's arguments.  Returns the analytic gradient(s).

``check_vjp(f, args, wrt, rtol=1e-6, atol=1e-8, seed=0)``
    Calls ``.vjp(*args)``, checks the primal output, draws a random cotangent of the output's shape
    and compares ``pullback(cotangent)`` (always a tuple, one entry per wrt) with central
    differences of ``<cotangent, f(x)>``.  Returns the tuple of gradients.

Arguments may be Python floats, float arrays, or (nested) tuples / lists / dicts of those; ints,
bools, strings, None and integer arrays inside them are treated as constants.  ``wrt`` is an int
position, a parameter name, or a tuple / list of those; ``None`` means "leave wrt to retrograd's
default" (the first argument).

Every evaluation of ``f`` gets fresh deep copies of all arguments, so functions that write into
their arguments are differentiated correctly by the finite differences too.
"""
import copy
import inspect
import os

import numpy as np

import retrograd as rg

EPS = 1e-6


# ----------------------------------------------------------------------------------------------
# pytrees: flatten a nested argument to a float64 vector and rebuild fresh copies of it
# ----------------------------------------------------------------------------------------------

def _is_float_array(x):
    return isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)


def _is_float_scalar(x):
    return isinstance(x, (float, np.floating)) and not isinstance(x, bool)


def flatten(x):
    """Return ``(vector, unflatten)``: the float64 entries of ``x`` and a function rebuilding a fresh
    structure like ``x`` from a vector (constants are deep-copied unchanged)."""
    if _is_float_array(x):
        shape, dtype = x.shape, x.dtype
        return (np.array(x, dtype=np.float64).ravel(),
                lambda v: np.array(np.asarray(v, dtype=np.float64).reshape(shape), dtype=dtype))
    if _is_float_scalar(x):
        kind = type(x)
        return np.array([float(x)]), lambda v: kind(v[0])
    if isinstance(x, (tuple, list)):
        parts = [flatten(e) for e in x]
        return _join(parts, lambda items: type(x)(items))
    if isinstance(x, dict):
        keys = list(x)
        parts = [flatten(x[k]) for k in keys]
        return _join(parts, lambda items: dict(zip(keys, items)))
    return np.zeros(0), lambda v: copy.deepcopy(x)


def _join(parts, build):
    sizes = [p[0].size for p in parts]
    vec = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)

    def unflatten(v):
        items, i = [], 0
        for (_, unflat), n in zip(parts, sizes):
            items.append(unflat(v[i:i + n]))
            i += n
        return build(items)

    return vec, unflatten


def flatten_like(g, x):
    """The entries of gradient ``g`` as a float64 vector, in the order ``flatten(x)`` uses."""
    if _is_float_array(x):
        return np.asarray(g, dtype=np.float64).reshape(-1)
    if _is_float_scalar(x):
        return np.asarray(g, dtype=np.float64).reshape(-1)
    if isinstance(x, (tuple, list)):
        parts = [flatten_like(ge, xe) for ge, xe in zip(g, x)]
        return np.concatenate(parts) if parts else np.zeros(0)
    if isinstance(x, dict):
        parts = [flatten_like(g[k], x[k]) for k in x]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.zeros(0)


def assert_same_structure(g, x, path="gradient"):
    """A gradient has the type and shape of its input: float for a float, an ndarray of the same
    shape and dtype for a float array, and the same tuple / list / dict structure for containers."""
    if _is_float_array(x):
        assert isinstance(g, np.ndarray), f"{path}: expected an ndarray, got {type(g).__name__}: {g!r}"
        assert g.shape == x.shape, f"{path}: expected shape {x.shape}, got {g.shape}"
        assert g.dtype == x.dtype, f"{path}: expected dtype {x.dtype}, got {g.dtype}"
    elif isinstance(x, float):
        assert isinstance(g, float) and not isinstance(g, np.ndarray), \
            f"{path}: expected a float, got {type(g).__name__}: {g!r}"
    elif isinstance(x, np.floating):
        assert isinstance(g, (float, np.floating)) and not isinstance(g, np.ndarray), \
            f"{path}: expected a float scalar, got {type(g).__name__}: {g!r}"
    elif isinstance(x, tuple):
        assert isinstance(g, tuple), f"{path}: expected a tuple, got {type(g).__name__}"
        assert len(g) == len(x), f"{path}: expected {len(x)} entries, got {len(g)}"
        for i, (ge, xe) in enumerate(zip(g, x)):
            assert_same_structure(ge, xe, f"{path}[{i}]")
    elif isinstance(x, list):
        assert isinstance(g, list), f"{path}: expected a list, got {type(g).__name__}"
        assert len(g) == len(x), f"{path}: expected {len(x)} entries, got {len(g)}"
        for i, (ge, xe) in enumerate(zip(g, x)):
            assert_same_structure(ge, xe, f"{path}[{i}]")
    elif isinstance(x, dict):
        assert isinstance(g, dict), f"{path}: expected a dict, got {type(g).__name__}"
        assert set(g) == set(x), f"{path}: expected keys {sorted(x)}, got {sorted(g)}"
        for k in x:
            assert_same_structure(g[k], x[k], f"{path}[{k!r}]")
    # other leaves (ints, bools, ...) are constants: their gradient is not specified


def tree_equal(a, b):
    """Exact equality of two argument structures (used to check the caller's data is unchanged)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b))
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(tree_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and set(a) == set(b) and all(tree_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# ----------------------------------------------------------------------------------------------
# finite differences
# ----------------------------------------------------------------------------------------------

def wrt_positions(f, wrt):
    """Positions of the differentiated arguments and whether a single gradient is expected."""
    names = list(inspect.signature(f).parameters)
    if wrt is None:
        return [0], True
    single = isinstance(wrt, (int, str))
    items = [wrt] if single else list(wrt)
    pos = []
    for w in items:
        if isinstance(w, str):
            pos.append(names.index(w))
        else:
            pos.append(w if w >= 0 else len(names) + w)
    return pos, single


def _fresh(args):
    return [copy.deepcopy(a) for a in args]


def _as_float(value):
    arr = np.asarray(value, dtype=np.float64)
    assert arr.size == 1, f"expected a scalar output, got shape {arr.shape}"
    return float(arr.reshape(()))


def numerical_grad(fun, args, pos, eps=EPS):
    """Central differences of the scalar ``fun(*args)`` with respect to ``args[pos]`` (flattened)."""
    base, unflatten = flatten(args[pos])
    grad = np.zeros_like(base)
    for i in range(base.size):
        h = eps * max(1.0, abs(base[i]))
        plus, minus = base.copy(), base.copy()
        plus[i] += h
        minus[i] -= h
        a = _fresh(args)
        a[pos] = unflatten(plus)
        f_plus = _as_float(fun(*a))
        a = _fresh(args)
        a[pos] = unflatten(minus)
        f_minus = _as_float(fun(*a))
        grad[i] = (f_plus - f_minus) / (plus[i] - minus[i])
    return grad


def numerical_gradient(fun, args, pos, eps=EPS):
    """Like ``numerical_grad`` but shaped like ``args[pos]`` (an array, a float or a container)."""
    _, unflatten = flatten(args[pos])
    return unflatten(numerical_grad(fun, args, pos, eps=eps))


def assert_tree_allclose(actual, expected, rtol=1e-12, atol=1e-12, what="value"):
    """allclose over (nested) outputs of the same structure."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected), \
            f"{what}: expected {len(expected)} entries, got {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_tree_allclose(a, e, rtol, atol, f"{what}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), f"{what}: keys differ"
        for k in expected:
            assert_tree_allclose(actual[k], expected[k], rtol, atol, f"{what}[{k!r}]")
    else:
        assert np.shape(actual) == np.shape(expected), \
            f"{what}: shape {np.shape(actual)} != expected {np.shape(expected)}"
        np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                                   np.asarray(expected, dtype=np.float64),
                                   rtol=rtol, atol=atol, err_msg=what)


# The backend check_grad / check_vjp differentiate with.  The `fd_backend` fixture (conftest.py) sets
# it, and EXPECTED_REFUSAL, for the FD-checked tests it runs on every backend.
BACKEND = "python"
# Why BACKEND refuses the current test (numba_refusals.py), or None: the test must then raise a clear
# BackendError, and is reported as an expected failure.
EXPECTED_REFUSAL = None


def _differentiate(f, wrt, backend=None):
    backend = backend or BACKEND
    if wrt is None:
        return rg.differentiate(f, backend=backend)
    return rg.differentiate(f, wrt=wrt, backend=backend)


def _expect_refusal(f, run):
    """`run()` must raise a BackendError that names a line of `f`'s file and says to use the python
    backend; then the test is an expected failure (listed in numba_refusals.py, with the reason)."""
    import pytest
    try:
        run()
    except rg.BackendError as err:
        assert 'backend="python"' in (err.hint or ""), f"the refusal does not say what to do: {err}"
        if err.lineno is not None and err.filename not in (None, "<unknown>"):
            assert os.path.basename(err.filename) == os.path.basename(inspect.getsourcefile(f)), str(err)
        pytest.xfail(f"{BACKEND} refuses it, as expected: {EXPECTED_REFUSAL}")
    raise AssertionError(f"{BACKEND} now differentiates {f.__name__}: remove it from numba_refusals.py")


def _same_as_python(f, wrt, got, call):
    """Another backend must give the python backend's result, to float64 rounding."""
    if BACKEND != "python":
        expected = call(_differentiate(f, wrt, "python"))
        assert_tree_allclose(got, expected, rtol=1e-10, atol=1e-12,
                             what=f"{BACKEND} against the python backend for {f.__name__}")


def _compare(f, args, positions, grads, numeric_fun, rtol, atol, eps, label):
    names = list(inspect.signature(f).parameters)
    for p, g in zip(positions, grads):
        assert_same_structure(g, args[p], path=f"{label} of {f.__name__} wrt {names[p]!r}")
        analytic = flatten_like(g, args[p])
        numeric = numerical_grad(numeric_fun, args, p, eps=eps)
        np.testing.assert_allclose(
            analytic, numeric, rtol=rtol, atol=atol,
            err_msg=f"{label} of {f.__name__} wrt {names[p]!r} differs from central finite differences")


def check_grad(f, args, wrt=0, rtol=1e-6, atol=1e-8, eps=EPS, check_forward=True):
    """Compare ``rg.differentiate(f, wrt=wrt).grad(*args)`` with central finite differences."""
    args = list(args)
    positions, single = wrt_positions(f, wrt)
    d = _differentiate(f, wrt)
    if EXPECTED_REFUSAL is not None:
        _expect_refusal(f, lambda: d.grad(*_fresh(args)))
    if check_forward:
        assert_tree_allclose(d(*_fresh(args)), f(*_fresh(args)), what=f"forward result of {f.__name__}")
    snapshot = _fresh(args)
    g = d.grad(*args)
    for i, (before, after) in enumerate(zip(snapshot, args)):
        assert tree_equal(before, after), f"grad modified the caller's argument {i} of {f.__name__}"
    if single:
        grads = [g]
    elif len(positions) == 1 and not isinstance(g, tuple):
        grads = [g]  # a 1-element wrt tuple: the API does not pin down tuple-vs-value; accept both
    else:
        assert isinstance(g, tuple), f"grad with wrt={wrt!r} should return a tuple, got {type(g).__name__}"
        assert len(g) == len(positions), f"grad with wrt={wrt!r} returned {len(g)} gradients"
        grads = list(g)
    _compare(f, args, positions, grads, f, rtol, atol, eps, "grad")
    _same_as_python(f, wrt, g, lambda dp: dp.grad(*_fresh(args)))
    return g


def random_like(value, rng):
    """A random cotangent with the structure of an output value."""
    if isinstance(value, (tuple, list)):
        return type(value)(random_like(v, rng) for v in value)
    if isinstance(value, dict):
        return {k: random_like(v, rng) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return rng.standard_normal(value.shape).astype(value.dtype if _is_float_array(value) else np.float64)
    return float(rng.standard_normal())


def inner(a, b):
    """<a, b> summed over all leaves of two output structures."""
    if isinstance(a, (tuple, list)):
        return sum(inner(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return sum(inner(a[k], b[k]) for k in a)
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def check_vjp(f, args, wrt=0, rtol=1e-6, atol=1e-8, eps=EPS, seed=0):
    """Compare ``pullback(c)`` of ``rg.differentiate(f, wrt=wrt).vjp(*args)`` for a random cotangent
    ``c`` with central finite differences of ``<c, f(*args)>``."""
    args = list(args)
    positions, _ = wrt_positions(f, wrt)
    d = _differentiate(f, wrt)
    if EXPECTED_REFUSAL is not None:
        _expect_refusal(f, lambda: d.vjp(*_fresh(args))[1](random_like(f(*_fresh(args)), np.random.default_rng(seed))))
    snapshot = _fresh(args)
    out, pullback = d.vjp(*args)
    expected_out = f(*_fresh(args))
    assert_tree_allclose(out, expected_out, what=f"primal output of {f.__name__}.vjp")
    rng = np.random.default_rng(seed)
    cot = random_like(expected_out, rng)
    grads = pullback(cot)
    for i, (before, after) in enumerate(zip(snapshot, args)):
        assert tree_equal(before, after), f"vjp modified the caller's argument {i} of {f.__name__}"
    assert isinstance(grads, tuple), f"pullback should return a tuple, got {type(grads).__name__}"
    assert len(grads) == len(positions), f"pullback returned {len(grads)} gradients for wrt={wrt!r}"

    def projected(*a):
        return inner(cot, f(*a))

    _compare(f, args, positions, list(grads), projected, rtol, atol, eps, "vjp")
    _same_as_python(f, wrt, grads, lambda dp: dp.vjp(*_fresh(args))[1](cot))
    return grads


def load_module(src, directory, prefix="rgprog"):
    """Write generated program text to a real module file and import it (retrograd reads source with
    inspect, so the functions must come from a file)."""
    import hashlib
    import importlib.util
    import sys
    modname = prefix + "_" + hashlib.sha1(src.encode()).hexdigest()[:20]
    path = directory / f"{modname}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(modname, str(path))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod
