"""The functional API, as JAX spells it: `grad`, `value_and_grad`, `vjp`, `jacrev` / `jacobian`.

Each takes any callable frontend/callables.py accepts (def, lambda, closure, partial, bound method, numba
dispatcher, ...) and returns a function (or, for `vjp`, the result) computed by a `Differentiable`.
Differentiables are cached per (function, what is differentiated, options), so `rg.grad(f)` called in a
loop, or `rg.vjp(f, x)` per step, generates the code once; a partial or a bound method shares the code of
its function and passes what it binds as non-differentiated arguments.  A fresh lambda per call is a
fresh function (its closure cells are its own), so define it once outside the loop.
"""
import collections
import functools

import numpy as np

from .api import Differentiable, resolve_wrt
from .errors import UsageError
from .frontend.callables import normalise

_CACHE = collections.OrderedDict()     # (fn, wrt names, has_aux, backend, remat) -> Differentiable
_CACHE_SIZE = 128
BATCHED = True         # jacrev uses the target's batched rows where it has them (False: the row loop, to compare)


def _differentiable(fn, wrt=None, argnums=None, has_aux=False, backend="python", remat=None):
    target = normalise(fn)
    names, single = resolve_wrt(wrt, argnums, target.signature, target.fn)
    key = (target.fn, names, bool(has_aux), backend, repr(remat))
    d = _CACHE.get(key)
    if d is None:
        d = Differentiable(target.fn, wrt=names, backend=backend, remat=remat, has_aux=has_aux)
        _CACHE[key] = d
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return d._view(target.args, target.kwargs, single)


def _wraps(fn, g):
    try:
        return functools.wraps(fn)(g)
    except (AttributeError, TypeError):
        return g


def grad(fn, argnums=None, has_aux=False, *, wrt=None, backend="python", remat=None):
    """A function returning the gradient of scalar-valued `fn` (like jax.grad): w.r.t. the first
    argument by default, a tuple for a tuple `argnums`; with has_aux=True it returns (gradient, aux)."""
    d = _differentiable(fn, wrt, argnums, has_aux, backend, remat)
    return _wraps(fn, d.grad)


def value_and_grad(fn, argnums=None, has_aux=False, *, wrt=None, backend="python", remat=None):
    """A function returning (value, gradient); with has_aux=True ((value, aux), gradient)."""
    d = _differentiable(fn, wrt, argnums, has_aux, backend, remat)
    return _wraps(fn, d.value_and_grad)


def vjp(fn, *primals, has_aux=False, backend="python", remat=None):
    """(fn(*primals), pullback), and aux with has_aux=True, as jax.vjp: pullback(cotangent) returns a
    tuple with one cotangent per primal, each of its primal's structure."""
    if not primals:
        raise UsageError("vjp needs the primal values to differentiate at: rg.vjp(f, x, ...)")
    d = _differentiable(fn, None, tuple(range(len(primals))), has_aux, backend, remat)
    if len(d.wrt) != len(primals):
        raise UsageError(f"vjp got {len(primals)} primals for {d.fn.__name__}, which takes {len(d.wrt)}")
    return d.vjp(*primals)


def jacrev(fn, argnums=0, has_aux=False, *, backend="python", remat=None):
    """A function returning the Jacobian of `fn` by reverse mode (like jax.jacrev): for an output of shape
    S and an argument of shape T, an array of shape S + T (nested as output structure, then argument
    structure, for containers); a tuple over a tuple `argnums`.

    Where the backend batches the rows (numba, for arrays and floats: Target.jacobian_rows) one compiled
    call loops over the output entries, re-running the compiled primal for each adjoint's tape; else one
    forward pass here, then one pullback per output element (each on its own copy of the saved state)."""
    d = _differentiable(fn, None, argnums, has_aux, backend, remat)

    def jacobian_fn(*args, **kwargs):
        batched = d._jacobian_rows(args, kwargs) if BATCHED else None
        if batched is not None:      # the target's driver pulled back every row in one call
            out, blocks = batched
            jac = tuple(np.reshape(b, np.shape(out) + np.shape(x)) for b, x in blocks)
            return jac[0] if d._single else jac
        res = d.vjp(*args, **kwargs)
        out, pullback = res[0], res[1]
        jac = _jacobian(out, pullback, d)
        jac = jac[0] if d._single else jac
        return (jac, res[2]) if has_aux else jac
    return _wraps(fn, jacobian_fn)


jacobian = jacrev


def _jacobian(out, pullback, d):
    """Pull back each element of the output's basis (the path of targets without batched rows, and of
    pytrees).  The generated adjoint is written for one cotangent of the output's shape (its broadcasting
    and reductions are shape-specific), so the rows are separate calls of the same adjoint from Python;
    the forward pass runs once."""
    leaves, rebuild = _flatten(out)
    n_args = len(d.wrt)
    per_leaf = []
    for k, leaf in enumerate(leaves):
        shape = np.shape(leaf)
        rows = []
        for i in range(int(np.prod(shape, dtype=np.int64))):
            basis = [_zeros(e) for e in leaves]
            basis[k] = _unit(leaf, i)
            rows.append(pullback(rebuild(basis)))
        empty = not rows
        if empty:   # no output elements: a zero pullback gives the structure of the (empty) Jacobian
            rows = [pullback(rebuild([_zeros(e) for e in leaves]))]
        per_leaf.append([_stack([r[a] for r in rows], shape, empty) for a in range(n_args)])
    # structure: output structure outside, argument structure inside; one such tree per argument
    return tuple(rebuild([per_leaf[k][a] for k in range(len(leaves))]) for a in range(n_args))


def _stack(rows, out_shape, empty):
    """Rows (gradients of one argument, one per output element) -> arrays of shape out_shape + leaf shape,
    keeping the argument's structure."""
    first = rows[0]
    if isinstance(first, (tuple, list)):
        items = [_stack([r[i] for r in rows], out_shape, empty) for i in range(len(first))]
        return type(first)(*items) if hasattr(first, "_fields") else type(first)(items)
    if isinstance(first, dict):
        return {k: _stack([r[k] for r in rows], out_shape, empty) for k in first}
    if empty:
        return np.zeros(tuple(out_shape) + np.shape(first))
    arr = np.stack([np.asarray(r) for r in rows])
    return arr.reshape(tuple(out_shape) + arr.shape[1:])


def _flatten(tree):
    """(leaves, rebuild) for the output pytrees the transform returns: tuples, lists, dicts, arrays, floats."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(e) for e in tree]
        return _join(parts, lambda items: type(tree)(items))
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[k]) for k in keys]
        return _join(parts, lambda items: dict(zip(keys, items)))
    return [tree], lambda items: items[0]


def _join(parts, build):
    counts = [len(p[0]) for p in parts]

    def rebuild(leaves):
        items, i = [], 0
        for (_, r), n in zip(parts, counts):
            items.append(r(leaves[i:i + n]))
            i += n
        return build(items)
    return [l for p in parts for l in p[0]], rebuild


def _zeros(leaf):
    if isinstance(leaf, np.ndarray):
        return np.zeros(leaf.shape, dtype=leaf.dtype if np.issubdtype(leaf.dtype, np.inexact) else np.float64)
    return 0.0


def _unit(leaf, i):
    if isinstance(leaf, np.ndarray):
        e = _zeros(leaf)
        e.flat[i] = 1.0
        return e
    return 1.0

