"""Jacobians on the numba backend in one compiled call: a generated driver loops over the basis inside
Numba instead of Python calling the compiled code once per direction.

jacfwd: the driver calls the compiled tangent function once per input entry (basis direction k) and
writes column k of a preallocated (out.size, arg.size) array.  jacrev: it runs the compiled primal and
adjoint once per output entry (unit cotangent i) and writes row i of one such array per differentiated
argument; the adjoint consumes its tape, so each row re-runs the primal for a fresh one (what the Python
loop does by copying the saved state, which Numba's typed tapes do not allow generically).

Each driver is generated source, loaded as a content-addressed module of the cache (like the code it
calls, numba.py), so that `njit(cache=True)` keeps it across processes; its text names the module of
the functions it calls, so a changed callee is a new driver file.  Where the driver cannot be compiled
for these argument types (a complex output, a construct the callee's own compile refuses), `columns` /
`rows` return None and the caller runs its per-direction loop, which raises the callee's own error if
there is one: a driver never gives a result the loop would not.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from . import numba_forward

_DRIVERS = {}      # (kind, id of the compiled callee(s), position/wrt) -> (callees kept alive, driver)
_FAILED = set()    # (driver key, argument types) whose compile failed: the loop runs, without retrying


# ---- helpers the drivers call (plain Python bodies, lowered by the overloads below) ---------------------
def size_of(v):
    return int(np.size(v))


def basis_direction(x, k):
    """Entry k of the standard basis of x's space (all zeros for k < 0), of x's shape, float64."""
    if isinstance(x, np.ndarray):
        e = np.zeros(x.size)
        if k >= 0:
            e[k] = 1.0
        return e.reshape(x.shape)
    return 1.0 if k == 0 else 0.0


def unit_cotangent(out, i):
    """Entry i of the standard basis of the output's space, as functional._unit gives it."""
    if isinstance(out, np.ndarray):
        e = np.zeros(out.shape, dtype=out.dtype if np.issubdtype(out.dtype, np.inexact) else np.float64)
        e.flat[i] = 1.0
        return e
    return 1.0


def store_column(jac, k, t):
    jac[:, k] = np.ravel(t)


def store_row(jac, i, g):
    jac[i, :] = np.ravel(g)


def _real(ty):
    return isinstance(ty, (types.Float, types.Integer, types.Boolean))


@overload(size_of)
def _size_of(v):
    if isinstance(v, types.Array):
        return lambda v: v.size
    if _real(v):
        return lambda v: 1
    return None


@overload(basis_direction)
def _basis_direction(x, k):
    if isinstance(x, types.Array):
        def impl(x, k):
            e = np.zeros(x.size)
            if k >= 0:
                e[k] = 1.0
            return e.reshape(x.shape)
        return impl
    if isinstance(x, types.Float):
        return lambda x, k: 1.0 if k == 0 else 0.0
    return None


@overload(unit_cotangent)
def _unit_cotangent(out, i):
    if isinstance(out, types.Array) and isinstance(out.dtype, types.Float):
        def impl(out, i):
            e = np.zeros(out.size, dtype=out.dtype)
            e[i] = 1.0
            return e.reshape(out.shape)
        return impl
    if isinstance(out, types.Array) and isinstance(out.dtype, (types.Integer, types.Boolean)):
        def impl_int(out, i):
            e = np.zeros(out.size)
            e[i] = 1.0
            return e.reshape(out.shape)
        return impl_int
    if _real(out):
        return lambda out, i: 1.0
    return None          # complex outputs: no driver (the loop handles them)


def _storer(by_column):
    def store(jac, k, t):
        if isinstance(t, types.Array) and _real(t.dtype):
            if by_column:
                def impl(jac, k, t):
                    j = 0
                    for v in t.flat:      # any layout (a transposed tangent), in C order as ravel
                        jac[j, k] = v
                        j += 1
            else:
                def impl(jac, k, t):
                    j = 0
                    for v in t.flat:
                        jac[k, j] = v
                        j += 1
            return impl
        if _real(t):
            if by_column:
                def impl_scalar(jac, k, t):
                    jac[0, k] = t
            else:
                def impl_scalar(jac, k, t):
                    jac[k, 0] = t
            return impl_scalar
        return None       # complex tangents: no driver
    return store


overload(store_column)(_storer(True))
overload(store_row)(_storer(False))


# ---- generating and loading the drivers ----------------------------------------------------------------
_JACFWD = '''@njit(cache=True)
def jacfwd_driver({params}):
    """The Jacobian of {callee} w.r.t. `{arg}`: one tangent per basis direction, column by column."""
    n = size_of({arg})
    out, t = tangent({params}, {tparam}=basis_direction({arg}, 0 if n > 0 else -1))
    jac = np.zeros((size_of(out), n))
    if n > 0:
        store_column(jac, 0, broadcast_like(t, out))
    for k in range(1, n):
        out, t = tangent({params}, {tparam}=basis_direction({arg}, k))
        store_column(jac, k, broadcast_like(t, out))
    return out, jac
'''

_JACREV = '''@njit(cache=True)
def jacrev_driver({params}):
    """The Jacobian of {callee} w.r.t. {wrt}: one adjoint per output entry, row by row (each on a
    fresh tape: the adjoint consumes the one it is given)."""
    out, saved = primal({params})
    m = size_of(out)
{allocs}
    for i in range(m):
        if i > 0:
            out, saved = primal({params})
        grads = adjoint(unit_cotangent(out, i), saved)
{stores}
    return out, {jacs}
'''


def _name(fn):
    return getattr(getattr(fn, "py_func", fn), "__name__", "?")


def _header(callees):
    where = ", ".join(f"{_name(c)} of {getattr(getattr(c, 'py_func', c), '__module__', '?')}" for c in callees)
    return ("from numba import njit\nimport numpy as np\n"
            f"# retrograd Jacobian driver calling {where}\n")


class Hooks:
    """What numba.py gives this module (which must not import it back): `load(source, ns)` -> the loaded
    module's namespace, `call(fn, args, source)` (compile errors as a BackendError), `unwrap(wrapped)` -> the
    compiled function inside its call wrapper, or None."""

    def __init__(self, load, call, unwrap):
        self.load, self.call, self.unwrap = load, call, unwrap


def _namespace(**callees):
    ns = {n: getattr(numba_forward, n) for n in ("broadcast_like",)}
    ns.update(size_of=size_of, basis_direction=basis_direction, unit_cotangent=unit_cotangent,
              store_column=store_column, store_row=store_row, np=np, njit=njit)
    ns.update(callees)
    return ns


def _params(n):
    return [f"a{k}" for k in range(n)]


def _jacfwd_driver(hooks, tangent, n_args, position, tparam):
    key = ("jacfwd", id(tangent), n_args, position, tparam)
    hit = _DRIVERS.get(key)
    if hit is None:
        params = _params(n_args)
        src = _header([tangent]) + "\n\n" + _JACFWD.format(
            params=", ".join(params), arg=params[position], tparam=tparam, callee=_name(tangent))
        hit = _DRIVERS[key] = ((tangent,), hooks.load(src, _namespace(tangent=tangent))["jacfwd_driver"], src)
    return key, hit[1], hit[2]


def _jacrev_driver(hooks, primal, adjoint, n_args, positions):
    key = ("jacrev", id(primal), id(adjoint), n_args, tuple(positions))
    hit = _DRIVERS.get(key)
    if hit is None:
        params = _params(n_args)
        jacs = [f"jac{j}" for j in range(len(positions))]
        allocs = "\n".join(f"    {j} = np.zeros((m, size_of({params[p]})))" for j, p in zip(jacs, positions))
        stores = "\n".join(f"        store_row({j}, i, broadcast_like(grads[{g}], {params[p]}))"
                           for g, (j, p) in enumerate(zip(jacs, positions)))
        src = _header([primal, adjoint]) + "\n\n" + _JACREV.format(
            params=", ".join(params), callee=_name(primal), wrt=", ".join(params[p] for p in positions),
            allocs=allocs, stores=stores, jacs=", ".join(jacs) + ("," if len(jacs) == 1 else ""))
        hit = _DRIVERS[key] = ((primal, adjoint), hooks.load(src, _namespace(primal=primal, adjoint=adjoint))["jacrev_driver"],
                               src)
    return key, hit[1], hit[2]


def _run(hooks, key, driver, source, args):
    """The driver's result, or None where it does not compile for these types (remembered: the loop runs)."""
    from numba import typeof

    from ..errors import BackendError
    try:
        sig = (key, tuple(typeof(a) for a in args))
    except (ValueError, TypeError):
        return None
    if sig in _FAILED:
        return None
    try:
        return hooks.call(driver, args, source)
    except BackendError:
        _FAILED.add(sig)
        return None


def _batchable(args, positions):
    """Every differentiated argument a float64 array or a float (what the loop's basis is made of, and a
    Jacobian of float64 entries, as the loop gives it)."""
    for p in positions:
        x = args[p]
        if isinstance(x, np.ndarray):
            if x.dtype != np.float64:
                return False
        elif not isinstance(x, float):
            return False
    return True


def columns(hooks, tangent, args, position, tparam):
    """(output, Jacobian as an (out.size, arg.size) array) of the compiled tangent function `tangent`
    w.r.t. args[position] in one call, or None (the caller loops)."""
    fn = hooks.unwrap(tangent)
    if fn is None or not _batchable(args, [position]):
        return None
    key, driver, source = _jacfwd_driver(hooks, fn, len(args), position, tparam)
    return _run(hooks, key, driver, source, tuple(args))


def rows(hooks, primal, adjoint, args, positions):
    """(output, [Jacobian as an (out.size, arg.size) array per position in `positions`, the adjoint's
    order]) by the compiled primal and adjoint in one call, or None (the caller loops)."""
    p, a = hooks.unwrap(primal), hooks.unwrap(adjoint)
    if p is None or a is None or not _batchable(args, positions):
        return None
    key, driver, source = _jacrev_driver(hooks, p, a, len(args), positions)
    res = _run(hooks, key, driver, source, tuple(args))
    return None if res is None else (res[0], list(res[1:]))
