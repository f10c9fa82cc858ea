"""Pytree arguments on backend="numba": flattened at the boundary (flat_pytrees.py, frontend/pytree_args.py).

Every gradient is checked against central differences (fd.numerical_gradient, float64) and against the
python backend, which takes pytrees as they are; jvp against directional differences (forward_check);
what the flattening cannot express is a BackendError at the user's line that says backend="python"."""
import copy
import dataclasses
import inspect
from typing import NamedTuple

import numpy as np
import pytest

import retrograd as rg
from fd import assert_tree_allclose, numerical_gradient, tree_equal
from forward_check import check_jvp

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _cache_dir(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def rs(shape, seed, scale=1.0):
    return np.random.default_rng(seed).normal(size=shape) * scale


class Pair(NamedTuple):
    W: np.ndarray
    b: np.ndarray


@dataclasses.dataclass
class Cfg:
    w: np.ndarray
    steps: int
    gain: float


@dataclasses.dataclass(frozen=True)
class Frozen:
    v: np.ndarray


def _records_as_dicts(t):
    """For fd's tree helpers, which take tuples, lists and dicts: records as dicts of their fields."""
    if dataclasses.is_dataclass(t) and not isinstance(t, type):
        return {f.name: _records_as_dicts(getattr(t, f.name)) for f in dataclasses.fields(t)}
    if isinstance(t, tuple) and hasattr(type(t), "_fields"):
        return {k: _records_as_dicts(v) for k, v in zip(t._fields, t)}
    if isinstance(t, (tuple, list)):
        return type(t)(_records_as_dicts(e) for e in t)
    if isinstance(t, dict):
        return {k: _records_as_dicts(v) for k, v in t.items()}
    return t


def check_numba_grad(f, args, argnums=0):
    """grad on numba == grad on python (rounding) == central differences; same structure and types; the
    caller's arguments untouched."""
    before = copy.deepcopy(args)
    g = rg.grad(f, argnums=argnums, backend="numba")(*args)
    assert all(tree_equal(_records_as_dicts(a), _records_as_dicts(b)) for a, b in zip(args, before)), \
        "the caller's arguments changed"
    gp = rg.grad(f, argnums=argnums)(*copy.deepcopy(args))
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    gs, gps = (g, gp) if isinstance(argnums, tuple) else ((g,), (gp,))
    for k, a, b in zip(nums, gs, gps):
        assert _same_types(a, b), f"{type(a).__name__} against python's {type(b).__name__}"
        assert_tree_allclose(_records_as_dicts(a), _records_as_dicts(b), rtol=1e-10, atol=1e-12,
                             what=f"numba against python for {f.__name__}")
        template = args[k]

        def plain(*a, k=k, template=template):     # the records as dicts, for fd's tree helpers
            a = list(a)
            a[k] = _from_dicts(template, a[k])
            return f(*a)
        flat_args = [copy.deepcopy(x) for x in args]
        flat_args[k] = _records_as_dicts(flat_args[k])
        numeric = _ints_zero(numerical_gradient(plain, flat_args, k), flat_args[k])   # fd's convention
        assert_tree_allclose(_records_as_dicts(a), numeric, rtol=1e-6, atol=1e-8,
                             what=f"{f.__name__} against differences")
    return g


def _ints_zero(g, x):
    if isinstance(x, (bool, int, np.integer)):
        return 0.0
    if isinstance(x, (tuple, list)):
        return type(x)(_ints_zero(a, b) for a, b in zip(g, x))
    if isinstance(x, dict):
        return {k: _ints_zero(g[k], x[k]) for k in x}
    return g


def _from_dicts(template, t):
    if dataclasses.is_dataclass(template) and not isinstance(template, type):
        return dataclasses.replace(template, **{f.name: _from_dicts(getattr(template, f.name), t[f.name])
                                                for f in dataclasses.fields(template)})
    if isinstance(template, tuple) and hasattr(type(template), "_fields"):
        return type(template)(*[_from_dicts(v, t[n]) for n, v in zip(template._fields, template)])
    if isinstance(template, (tuple, list)):
        return type(template)(_from_dicts(a, b) for a, b in zip(template, t))
    if isinstance(template, dict):
        return {k: _from_dicts(template[k], t[k]) for k in template}
    return t


def _same_types(a, b):
    if type(a) is not type(b) and not (isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating))):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same_types(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_types(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(_same_types(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return True


# ---- what the flattening covers ------------------------------------------------------------------------
def negative_and_nested(t, x):
    inner = t[0]["k"]                       # an alias of a part: bound once, read later
    return np.sum(np.tanh(x * inner[-1]) + inner[0]) * t[-1] ** 2


def namedtuple_mixed(p, x):
    W, b = p                                 # unpacked, indexed and read by field
    return np.sum(np.tanh(x @ W + p[1])) + np.sum(p.b * b) + np.sum(p[-2])


def record_with_an_int(c, x):
    s = 0.0
    for _ in range(c.steps):                 # an int field: a constant
        s = s + np.sum(np.sin(x * c.w)) * c.gain
    return s


def loop_over_a_list(ws, x):
    h = x
    for w in ws:                             # same shapes: a tuple Numba iterates
        h = np.tanh(w @ h)
    return np.sum(h * h) + len(ws)


def mlp_layers(layers, x):
    h = x
    for layer in layers:                     # unrolled: the layers differ in shape
        h = np.tanh(h @ layer["W"] + layer["b"])
    return np.mean(h ** 2) + np.sum(layers[-1]["b"] * layer["b"])   # `layer`: the last entry, as in Python


def index_in_a_loop(ws, x):
    s = 0.0
    for i in range(len(ws)):
        s = s + np.sum(ws[i] * x) * (i + 1)
    return s


def frozen_inside(t, x):
    return np.sum(t["f"].v * x) + np.sum(t["p"].W @ x)


def mixed_argnums(params, x):
    return np.sum(np.tanh(x @ params["W"] + params["b"]) ** 2) * np.sum(x)


CASES = [
    (negative_and_nested, lambda: (({"k": (rs(3, 1), rs(3, 2))}, 1.3), rs(3, 3)), 0),
    (namedtuple_mixed, lambda: (Pair(rs((3, 2), 4, 0.5), rs(2, 5)), rs((4, 3), 6)), 0),
    (record_with_an_int, lambda: (Cfg(rs(3, 7), 3, 0.8), rs(3, 8)), 0),
    (loop_over_a_list, lambda: ([rs((3, 3), 9, 0.5), rs((3, 3), 10, 0.5), rs((3, 3), 11, 0.5)], rs(3, 12)), 0),
    (mlp_layers, lambda: ([{"W": rs((3, 4), 25, 0.5), "b": rs(4, 26)}, {"W": rs((4, 2), 27, 0.5), "b": rs(2, 28)}],
                          rs((5, 3), 29)), 0),
    (frozen_inside, lambda: ({"f": Frozen(rs(3, 18)), "p": Pair(rs((2, 3), 19), rs(2, 20))}, rs(3, 21)), 0),
    (mixed_argnums, lambda: ({"W": rs((3, 2), 22), "b": rs(2, 23)}, rs((4, 3), 24)), (0, 1)),
]


@pytest.mark.parametrize("f,make_args,argnums", CASES, ids=[c[0].__name__ for c in CASES])
def test_numba_pytree_gradients(f, make_args, argnums):
    check_numba_grad(f, make_args(), argnums)


def test_a_loop_index_into_a_tuple_argument_is_refused_in_reverse_mode():
    """`ws[i]` with a loop index reads a tuple of the leaves with a computed index: jvp runs it (see
    test_numba_jvp_of_pytrees), the typed adjoint cannot type it yet: a clear refusal."""
    with pytest.raises(rg.BackendError) as err:
        rg.grad(index_in_a_loop, backend="numba")((rs(4, 13), rs(4, 14)), rs(4, 15))
    assert 'backend="python"' in err.value.hint and err.value.filename == inspect.getsourcefile(index_in_a_loop)


def test_value_and_grad_vjp_and_has_aux_of_a_pytree():
    p, x = {"W": rs((3, 2), 1), "b": rs(2, 2)}, rs((4, 3), 3)
    v, g = rg.value_and_grad(mixed_argnums, backend="numba")(p, x)
    assert np.isclose(v, mixed_argnums(p, x), rtol=1e-12)
    out, pullback = rg.vjp(mixed_argnums, p, x, backend="numba")
    gp, gx = pullback(2.0)
    assert_tree_allclose(gp, {k: 2.0 * v_ for k, v_ in g.items()}, rtol=1e-12, atol=1e-14)
    assert_tree_allclose(gx, 2.0 * rg.grad(mixed_argnums, argnums=1)(p, x), rtol=1e-10, atol=1e-12)

    def with_aux(p, x):
        y = np.sum(x[0] @ p["W"]) ** 2
        return y, x[0] * 2.0
    (gw, aux) = rg.grad(with_aux, has_aux=True, backend="numba")(p, x)
    assert_tree_allclose(gw, rg.grad(with_aux, has_aux=True)(p, x)[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(aux, x[0] * 2.0)


def test_a_new_structure_gets_its_own_twin():
    def f(p, x):
        return np.sum(p["W"] * x) * len(p)
    x = rs(3, 1)
    a = rg.grad(f, backend="numba")({"W": rs(3, 2), "b": 1.0}, x)
    b = rg.grad(f, backend="numba")({"W": rs(3, 2), "b": 1.0, "c": rs(2, 3)}, x)
    assert set(a) == {"W", "b"} and set(b) == {"W", "b", "c"}
    np.testing.assert_allclose(b["c"], np.zeros(2))
    np.testing.assert_allclose(a["W"], 2 * x)
    np.testing.assert_allclose(b["W"], 3 * x)


def test_closures_and_globals_are_read_by_the_twin():
    scale = 3.0

    def f(p, x):
        return np.sum(p[0] * x) * scale + np.sum(p[1])
    x = rs(3, 1)
    g = rg.grad(f, backend="numba")((rs(3, 2), rs(2, 3)), x)
    np.testing.assert_allclose(g[0], 3.0 * x)
    np.testing.assert_allclose(g[1], np.ones(2))
    scale = 5.0      # a closure cell rebound: the code is regenerated (the cell is the user's)
    g = rg.grad(f, backend="numba")((rs(3, 2), rs(2, 3)), x)
    np.testing.assert_allclose(g[0], 5.0 * x)


# ---- forward mode: jvp of container primals -------------------------------------------------------------
def tuple_jvp(t, x):
    a, s = t
    return np.sin(a * x) * s + s ** 2


def dict_jvp(p, x):
    return np.tanh(x @ p["W"] + p["b"]) * p["g"]


@pytest.mark.parametrize("f,args", [
    (tuple_jvp, ((rs(3, 1), 0.6), rs(3, 2))),
    (dict_jvp, ({"W": rs((3, 2), 3), "b": rs(2, 4), "g": 1.5}, rs((4, 3), 5))),
    (index_in_a_loop, ((rs(4, 13), rs(4, 14)), rs(4, 15))),
], ids=["tuple", "dict", "index_in_a_loop"])
def test_numba_jvp_of_pytrees(f, args):
    check_jvp(f, args, (0, 1), seed=3, backend="numba")


# ---- refusals: a BackendError at the user's line, saying backend="python" -------------------------------
def helper(p, x):
    return np.sum(p["W"] * x)


def dict_to_a_helper(p, x):
    return helper(p, x) * 2.0


def computed_key(p, x):
    k = "W"
    return np.sum(p[k] * x)


def rebinds_an_entry(p, x):
    p["W"] = p["W"] * 2.0
    return np.sum(p["W"] * x)


def rebinds_the_argument(p, x):
    p = {"W": x}
    return np.sum(p["W"])


def missing_key(p, x):
    return np.sum(p["nope"] * x) if x[0] > 100.0 else np.sum(x)


@pytest.mark.parametrize("f,needle", [
    (dict_to_a_helper, "return helper("), (computed_key, "p[k]"), (rebinds_an_entry, 'p["W"] = '),
    (rebinds_the_argument, "p = {"), (missing_key, '"nope"'),
], ids=["dict_to_a_helper", "computed_key", "rebinds_an_entry", "rebinds_the_argument", "missing_key"])
def test_what_cannot_be_flattened_is_refused_at_its_line(f, needle):
    p, x = {"W": rs(3, 1)}, rs(3, 2)
    with pytest.raises(rg.BackendError) as err:
        rg.grad(f, backend="numba")(p, x)
    lines, first = inspect.getsourcelines(f)
    assert err.value.lineno == first + next(i for i, l in enumerate(lines) if needle in l), str(err.value)
    assert err.value.filename == inspect.getsourcefile(f)
    assert 'backend="python"' in err.value.hint
    with pytest.raises(rg.BackendError):      # forward mode flattens alike, and refuses alike
        rg.jvp(f, (p, x), ({"W": np.ones(3)}, None), backend="numba")


def namedtuple_jvp(p, x):
    return np.sum(p.W * x) * p.b + np.sum(p[0] ** 2)


def test_jvp_of_a_namedtuple():
    """numba flattens the NamedTuple; python's forward mode refuses its fields clearly (no raw TypeError)."""
    p, x = Pair(rs(3, 1), 0.7), rs(3, 2)
    t = Pair(rs(3, 3), -1.3)
    out, tout = rg.jvp(namedtuple_jvp, (p, x), (t, None), backend="numba")
    h = 1e-6
    plus = namedtuple_jvp(Pair(p.W + h * t.W, p.b + h * t.b), x)
    minus = namedtuple_jvp(Pair(p.W - h * t.W, p.b - h * t.b), x)
    assert np.isclose(out, namedtuple_jvp(p, x), rtol=1e-12)
    assert np.isclose(tout, (plus - minus) / (2 * h), rtol=1e-6)
    with pytest.raises(rg.RetrogradError):
        rg.jvp(namedtuple_jvp, (p, x), (t, None))
