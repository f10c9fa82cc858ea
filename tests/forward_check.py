"""Checks of forward mode against independent references (float64):

``check_jvp(f, args, wrt)``: `rg.jvp` along a random direction of the `wrt` arguments (None tangents
elsewhere) against central differences of the plain `f` along that direction, and against the reverse
transform: <c, J v> == <J^T c, v> for a random cotangent c (an identity that holds to rounding, so a wrong
tangent cannot hide inside the finite-difference tolerance).  Also: the primal output equals f(*args), the
caller's arguments are unchanged, and the tangent has the output's structure and shape.
"""
import copy

import numpy as np

import retrograd as rg
from fd import assert_tree_allclose, flatten, flatten_like, inner, random_like, tree_equal, wrt_positions

H = 1e-6


def _fresh(args):
    return [copy.deepcopy(a) for a in args]


def random_tangents(args, positions, rng):
    """(tangents for rg.jvp, flat directions per position)."""
    tangents, dirs = [None] * len(args), {}
    for p in positions:
        base, unflatten = flatten(args[p])
        v = rng.standard_normal(base.size)
        dirs[p] = v
        tangents[p] = _rebuild_tangent(args[p], unflatten(v))
    return tangents, dirs


def _rebuild_tangent(x, t):
    """The tangent has the primal's structure; where the primal holds integers (constants) it holds None."""
    if isinstance(x, (tuple, list)):
        return type(x)(_rebuild_tangent(a, b) for a, b in zip(x, t))
    if isinstance(x, dict):
        return {k: _rebuild_tangent(x[k], t[k]) for k in x}
    if isinstance(x, np.ndarray) and not np.issubdtype(x.dtype, np.floating):
        return None
    if isinstance(x, (int, bool, str)) or x is None:
        return None
    return t


def directional_difference(f, args, dirs, h=H):
    bases = {p: flatten(args[p]) for p in dirs}
    scale = h * max([1.0] + [float(np.max(np.abs(b))) for b, _ in bases.values() if b.size])

    def at(sign):
        a = _fresh(args)
        for p, v in dirs.items():
            base, unflatten = bases[p]
            a[p] = unflatten(base + sign * scale * v)
        return f(*a)
    plus, minus = at(1), at(-1)
    return _tree_map2(lambda u, w: (np.asarray(u, dtype=np.float64) - np.asarray(w, dtype=np.float64)) / (2 * scale),
                      plus, minus)


def _tree_map2(fn, a, b):
    if isinstance(a, (tuple, list)):
        return type(a)(_tree_map2(fn, x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: _tree_map2(fn, a[k], b[k]) for k in a}
    return fn(a, b)


def check_jvp(f, args, wrt=0, seed=0, rtol=1e-5, atol=1e-7, reverse=True, backend="python"):
    """`backend`: where rg.jvp runs; off python its result must also equal the python backend's to
    float64 rounding (the references, differences and the reverse transform, stay on python)."""
    args = list(args)
    positions, _ = wrt_positions(f, wrt)
    rng = np.random.default_rng(seed)
    tangents, dirs = random_tangents(args, positions, rng)
    before = _fresh(args)
    tangents_before = copy.deepcopy(tangents)
    out, tout = rg.jvp(f, tuple(args), tuple(tangents), backend=backend)
    for i, (b, a) in enumerate(zip(before, args)):
        assert tree_equal(b, a), f"jvp modified the caller's argument {i} of {f.__name__}"
    for i, (b, a) in enumerate(zip(tangents_before, tangents)):
        assert b is None or tree_equal(b, a), f"jvp modified the caller's tangent {i} of {f.__name__}"
    assert_tree_allclose(out, f(*_fresh(args)), what=f"primal output of jvp({f.__name__})")
    if backend != "python":
        out_py, tout_py = rg.jvp(f, tuple(_fresh(args)), tuple(tangents), backend="python")
        assert_tree_allclose(out, out_py, rtol=1e-10, atol=1e-12, what=f"{backend} primal against python's")
        assert_tree_allclose(tout, tout_py, rtol=1e-10, atol=1e-12, what=f"{backend} jvp against python's")
    numeric = directional_difference(f, args, dirs)
    assert_tree_allclose(tout, numeric, rtol=rtol, atol=atol, what=f"jvp of {f.__name__} against central differences")
    if reverse:
        cot = random_like(out, np.random.default_rng(seed + 1))
        grads = rg.differentiate(f, wrt=tuple(positions)).vjp(*_fresh(args))[1](cot)
        lhs = inner(cot, tout)
        rhs = sum(float(np.dot(flatten_like(g, args[p]), dirs[p])) for g, p in zip(grads, positions))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-10,
                                   err_msg=f"<c, J v> != <J^T c, v> for {f.__name__}: jvp and vjp disagree")
    return out, tout


def check_hvp(f, args, wrt=0, seed=0, rtol=1e-5, atol=1e-6):
    """rg.hvp against central differences of the reverse-mode gradient along the same direction."""
    args = list(args)
    positions, _ = wrt_positions(f, wrt)
    tangents, dirs = random_tangents(args, positions, np.random.default_rng(seed))
    before = _fresh(args)
    hv = rg.hvp(f, tuple(args), tuple(tangents))
    for i, (b, a) in enumerate(zip(before, args)):
        assert tree_equal(b, a), f"hvp modified the caller's argument {i} of {f.__name__}"
    grad = rg.differentiate(f, wrt=tuple(positions))

    def g(*a):
        return grad.grad(*a)
    numeric = directional_difference(g, args, dirs, h=1e-5)
    assert_tree_allclose(hv, numeric, rtol=rtol, atol=atol, what=f"hvp of {f.__name__} against differences of its gradient")
    return hv
