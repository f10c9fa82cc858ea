"""Pytree arguments on a target whose compiled code takes only arrays and numbers (Traits.container_args
is False: numba): `grad`, `value_and_grad`, `vjp` and `jvp` differentiate the function's flat twin
(frontend/pytree_args.py) at the flattened arguments, and give the gradients (tangents) the structure of
the arguments again.  The twin's Differentiable is cached on the user's, per container structure.
"""
import numpy as np

from .api import TRANSFORMS, Differentiable
from .backends import traits
from .frontend.pytree_args import is_container, rebuild, twin_for


def _containers(d, bound):
    return {p: v for p, v in bound.arguments.items() if is_container(v)}


def _flat(d, bound):
    """(twin, flat Differentiable, flat arguments) for `d` at `bound`, or None when no argument in a `wrt`
    position is a container (other containers are passed as leaves too: the code cannot take them whole)."""
    if not any(is_container(bound.arguments[n]) for n in d.wrt):
        return None
    cache = d.__dict__.setdefault("_flat_twins", {})
    twin = twin_for(cache, d.fn, _containers(d, bound))
    wrt = []
    for n in d.wrt:
        wrt += [l for l, v in zip(twin.names[n], _leaf_values(twin, n, bound)) if _is_float(v)] \
            if n in twin.specs else [n]
    key = ("flat", tuple(wrt))
    flat = twin.__dict__.setdefault("_differentiables", {}).get(key)
    if flat is None:
        # with no float leaf to differentiate, the twin still differentiates one (its gradient is dropped)
        flat = Differentiable(twin.fn, wrt=tuple(wrt) or (twin.params[0],), backend=d.backend, remat=d.remat,
                              has_aux=d.has_aux)
        twin._differentiables[key] = flat
    return twin, flat, twin.flat_args(bound.arguments)


def _leaf_values(twin, param, bound):
    from .frontend.pytree_args import leaves
    return leaves(bound.arguments[param], twin.specs[param])


def _is_float(v):
    if isinstance(v, np.ndarray):
        return np.issubdtype(v.dtype, np.inexact)
    return isinstance(v, (float, np.floating)) and not isinstance(v, bool)


def _grads(d, twin, flat, flat_grads, bound):
    """The user's gradients (one per `wrt` argument, in d.wrt order) from the twin's."""
    from .runtime import zeros_like
    by_name = dict(zip(flat.wrt, flat_grads))
    out = []
    for n in d.wrt:
        v = bound.arguments[n]
        if n not in twin.specs:
            out.append(by_name[n])
            continue
        from .frontend.pytree_args import leaves
        items = [by_name[l] if l in by_name else zeros_like(x)
                 for l, x in zip(twin.names[n], leaves(v, twin.specs[n]))]
        out.append(rebuild(items, twin.specs[n], v))
    return tuple(out)


class _Flattened:
    """What Differentiable.vjp / value_and_grad return for container arguments, through the flat twin."""

    def __init__(self, d, bound, found):
        self.d, self.bound = d, bound
        self.twin, self.flat, self.args = found

    def vjp(self):
        res = self.flat.vjp(*self.args)
        out, pullback = res[0], res[1]

        def pullback_tree(cotangent):
            return _grads(self.d, self.twin, self.flat, pullback(cotangent), self.bound)
        return (out, pullback_tree, res[2]) if self.d.has_aux else (out, pullback_tree)

    def value_and_grad(self):
        value, grads = self.flat.value_and_grad(*self.args)
        grads = (grads,) if self.flat._single else grads
        grads = _grads(self.d, self.twin, self.flat, grads, self.bound)
        return value, (grads[0] if self.d._single else grads)


def flattened(d, args, kwargs):
    """A _Flattened for `d` at these arguments, or None (the target takes them as they are)."""
    if traits(d.backend).container_args:
        return None
    bound = d._bind(args, kwargs, containers=True)
    found = _flat(d, bound)
    return _Flattened(d, bound, found) if found is not None else None


def flat_jvp(d, primals, tangents, jvp_of):
    """jvp of `d` at container primals through its twin: the tangents flattened alike (None leaves: held
    constant), the output's tangent as it comes (the twin returns what `d` returns).  None: no container."""
    import inspect
    if traits(d.backend).container_args or not any(is_container(p) for p in primals):
        return None
    names = list(inspect.signature(d.fn).parameters)[:len(primals)]
    containers = {n: p for n, p in zip(names, primals) if is_container(p)}
    twin = twin_for(d.__dict__.setdefault("_flat_twins", {}), d.fn, containers)
    flat_d = twin.__dict__.setdefault("_differentiables", {}).get("jvp")
    if flat_d is None:
        flat_d = twin._differentiables["jvp"] = Differentiable(twin.fn, backend=d.backend)
    from .frontend.pytree_args import leaves
    fp, ft = [], []
    for n, p, t in zip(names, primals, tangents):
        if n in twin.specs:
            fp += leaves(p, twin.specs[n])
            ft += leaves(t, twin.specs[n]) if t is not None else [None] * len(twin.names[n])
        else:
            fp.append(p)
            ft.append(t)
    return jvp_of(flat_d, tuple(fp), tuple(ft))


TRANSFORMS["flat pytrees"] = flattened
TRANSFORMS["flat jvp"] = flat_jvp
