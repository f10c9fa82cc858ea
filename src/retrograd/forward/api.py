"""Forward mode and second order: `jvp`, `jacfwd`, `hvp`, `hessian` (JAX's semantics), and the
`Differentiable.jvp` / `source_for(..., mode="forward")` they are built on.

A tangent function is generated per (function, differentiated parameters, argument kinds), cached on the
Differentiable and regenerated when a global the code reads changes (frontend/namespace.Reads).
`hvp` is forward-over-reverse: the generated gradient (primal + adjoint) is itself transformed forward.
"""
import linecache
import weakref

import numpy as np

from ..analysis.kinds import kind_of_value
from ..api import TRANSFORMS, Differentiable
from ..backends import traits
from ..errors import BackendError, RetrogradError, UsageError

_DIFFERENTIABLES = weakref.WeakKeyDictionary()     # plain function -> its Differentiable (rg.jvp(f, ...))


def _differentiable(f, backend="python"):
    """The Differentiable of plain function `f` on `backend` (one per pair, kept while `f` lives)."""
    per_backend = _DIFFERENTIABLES.setdefault(f, {})
    d = per_backend.get(backend)
    if d is None:
        d = per_backend[backend] = Differentiable(f, backend=backend)
    return d


def _check_backend(d):
    if not traits(d.backend).forward_mode:
        raise BackendError(f"forward mode (jvp, jacfwd, hvp, hessian) does not run on backend={d.backend!r}; "
                           f"{d.fn.__name__} is differentiated with it",
                           construct="backend", hint='use backend="python" or "numba" for forward mode')


# ---- compiling -----------------------------------------------------------------------------------------
class _Compiled:
    def __init__(self, fn, source, tparams, reads, frozen=False):
        from ..frontend.namespace import contents
        self.fn, self.source, self.tparams, self.reads = fn, source, tparams, reads
        # a target that froze the global arrays it read is stale when their contents change in place
        self.contents = contents(reads) if frozen else None

    def valid(self):
        from ..frontend.namespace import changed_arrays
        if self.reads.changed(self.reads.read()):
            return False
        return not (self.contents and changed_arrays(self.contents))


def _load(program, source, title):
    from . import runtime
    from ..reverse import sourcemap
    filename = sourcemap.register(f"<retrograd forward {title}>", source, program.line_locations)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = program.globals_for(runtime)
    exec(compile(source, filename, "exec"), ns)
    return ns


def _compile(d, active, kinds, target=None):
    """The tangent function of `target` (default: d.fn) with parameters `active` differentiated."""
    from ..frontend.namespace import Reads, content_key
    from ..reverse.program import title_of
    from .program import ForwardProgram
    fn = target or d.fn
    cache = d.__dict__.setdefault("_forward", {})
    key = (id(fn), frozenset(active), tuple(sorted(kinds.items())))
    hit = cache.get(key)
    if hit is not None and hit.valid():
        return hit
    reads = Reads([fn])
    program = ForwardProgram(target=d.backend)
    program.namespace_key = content_key(reads)      # a compiled module is keyed by the globals it froze
    title = title_of(d.fn)
    try:
        name, tparams = program.variant(fn, set(active), dict(kinds))
        source = program.source(title)
    except RetrogradError as exc:       # hvp: a refusal at a generated gradient's line names the user's
        from ..reverse.sourcemap import relocate
        raise relocate(exc)
    except RecursionError:
        raise RetrogradError(f"{title}: recursion too deep while generating forward-mode code") from None
    except Exception as exc:  # an internal failure must not surface as a bare KeyError
        raise RetrogradError(f"internal error while generating forward-mode code for {title}: "
                             f"{type(exc).__name__}: {exc}", hint="please report this with the function's source") from exc
    cache[key] = _Compiled(_load_tangent(d, program, source, title, name), source, tparams, reads,
                           traits(d.backend).frozen_globals)
    return cache[key]


def _load_tangent(d, program, source, title, name):
    """The callable tangent function `name`: exec'd here, or by the target's own loader (Traits.load_forward)."""
    load = traits(d.backend).load_forward
    if load is None:
        from ..reverse.sourcemap import located
        return located(_load(program, source, title)[name])
    return load(program, source, title, name)


def _kinds(d, args):
    return {p: kind_of_value(v) for p, v in zip(d.params, args)}


# ---- tangents: validation ------------------------------------------------------------------------------
def _is_float(v):
    if isinstance(v, np.ndarray):
        return np.issubdtype(v.dtype, np.inexact)
    return isinstance(v, (float, np.floating, complex, np.complexfloating)) and not isinstance(v, bool)


def _differentiable_leaf(v):
    return _is_float(v) or isinstance(v, (tuple, list, dict))


def _check_tangent(name, p, t, path):
    """A tangent has its primal's structure, shape and (real/complex) kind exactly, as in JAX."""
    if isinstance(p, (tuple, list)):
        if not isinstance(t, (tuple, list)) or len(t) != len(p):
            raise UsageError(f"{name}: {path} must be a {type(p).__name__} of {len(p)} entries, got {type(t).__name__}")
        return _sequence_like(p, [_check_tangent(name, a, b, f"{path}[{k}]") for k, (a, b) in enumerate(zip(p, t))])
    if isinstance(p, dict):
        if not isinstance(t, dict) or t.keys() != p.keys():
            raise UsageError(f"{name}: {path} must be a dict with keys {sorted(p)}")
        return {k: _check_tangent(name, p[k], t[k], f"{path}[{k!r}]") for k in p}
    if not _is_float(p):
        if t is None:
            return None
        if np.ndim(t) == np.ndim(p) and np.shape(t) == np.shape(p) and not np.any(t):
            return None              # a zero tangent of an integer (JAX's float0)
        raise UsageError(f"{name}: {path} must be None (or zeros): its primal holds integers, which have no "
                         "derivative", hint="pass None as the tangent of integer arguments")
    if isinstance(t, (bool, str)) or not isinstance(t, (int, float, complex, np.ndarray, np.generic)):
        raise UsageError(f"{name}: {path} must be a number or an array, got {type(t).__name__}")
    if isinstance(t, np.ndarray) and not np.issubdtype(t.dtype, np.inexact):
        raise UsageError(f"{name}: {path} has dtype {t.dtype}; tangents of float arguments are floats",
                         hint="pass e.g. np.asarray(v, dtype=float)")
    if np.iscomplexobj(t) and not np.iscomplexobj(p):
        raise UsageError(f"{name}: {path} is complex, but its primal is real")
    if np.shape(t) != np.shape(p):
        raise UsageError(f"{name}: {path} has shape {np.shape(t)}, but its primal has shape {np.shape(p)}",
                         hint="pass a tangent of exactly the primal's shape")
    return np.array(t, copy=True) if isinstance(t, np.ndarray) else t


def _split(d, primals, tangents, what="jvp"):
    name = d.fn.__name__
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise UsageError(f"{what}: primals and tangents must be tuples with one entry per positional argument "
                         f"of {name}", hint=f"e.g. rg.{what}(f, (x, y), (dx, dy))")
    if len(primals) != len(tangents):
        raise UsageError(f"{what}: {len(primals)} primals but {len(tangents)} tangents for {name}")
    if len(primals) != len(d.params):
        raise UsageError(f"{what}: {name} takes {len(d.params)} arguments ({', '.join(d.params)}), got "
                         f"{len(primals)} primals")
    checked = [_check_tangent(name, p, t, f"the tangent of `{n}`") if t is not None else None
               for n, p, t in zip(d.params, primals, tangents)]
    active = [d.params[k] for k, t in enumerate(checked) if t is not None and _has_float(primals[k])]
    return list(primals), checked, active


def _has_float(v):
    if isinstance(v, (tuple, list)):
        return any(_has_float(e) for e in v)
    if isinstance(v, dict):
        return any(_has_float(e) for e in v.values())
    return _is_float(v)


def _sequence_like(p, items):
    """A tuple/list of `p`'s type holding `items` (a NamedTuple takes them as its fields)."""
    return type(p)(*items) if hasattr(type(p), "_fields") else type(p)(items)


def _zero_tangents(p, t):
    """Containers: None leaves (integers) become zeros, so the generated code can index them."""
    from ..runtime import zeros_like
    if isinstance(p, (tuple, list)):
        return _sequence_like(p, [_zero_tangents(a, b) for a, b in zip(p, t)])
    if isinstance(p, dict):
        return {k: _zero_tangents(p[k], t[k]) for k in p}
    return zeros_like(p) if t is None else t


def _like(t, out):
    from ..runtime import like
    if isinstance(out, (tuple, list)):
        return _sequence_like(out, [_like(a, b) for a, b in zip(t, out)])
    if isinstance(out, dict):
        return {k: _like(t[k], out[k]) for k in out}
    if isinstance(out, (np.ndarray, np.generic, float, int, bool)):
        if isinstance(out, (int, bool, np.integer, np.bool_)) or (isinstance(out, np.ndarray) and not _is_float(out)):
            return np.zeros(np.shape(out)) if isinstance(out, np.ndarray) else 0.0
        return like(t, out)
    return t


# ---- jvp -----------------------------------------------------------------------------------------------
def jvp_of(d, primals, tangents):
    """(out, tangent_out) of Differentiable `d` at `primals` along `tangents` (one per positional argument;
    None for an argument held constant)."""
    _check_backend(d)
    primals, tangents, active = _split(d, primals, tangents)
    from ..flat_pytrees import flat_jvp
    flat = flat_jvp(d, primals, tangents, jvp_of)     # containers on a target that takes none: flattened
    if flat is not None:
        return flat
    compiled = _compile(d, active, _kinds(d, primals))
    kw = {compiled.tparams[p]: _zero_tangents(primals[k], tangents[k])
          for k, p in enumerate(d.params) if p in active}
    out, tout = compiled.fn(*primals, **kw)
    return out, _like(tout, out)


def source_of(d, args):
    _check_backend(d)
    active = [p for p, v in zip(d.params, args) if _has_float(v)]
    return _compile(d, active, _kinds(d, args)).source


def _entry(f, what, backend=None):
    """(Differentiable, bound prefix) for any callable the functional API takes: a partial's arguments and
    a bound method's instance come first and are held constant (frontend/callables.py).  `backend`: None
    for a Differentiable's own (python for a plain function)."""
    from ..api import BACKENDS
    from ..frontend.callables import normalise
    if backend is not None and backend not in BACKENDS:
        raise UsageError(f"{what}: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if isinstance(f, Differentiable) and not f._prefix and not f._prefix_kw and backend in (None, f.backend):
        return f, ()
    target = normalise(f)
    if target.kwargs:
        raise UsageError(f"{what}: a functools.partial with keyword arguments is not supported in forward mode",
                         hint="bind them positionally, or pass a lambda")
    if backend is None:
        backend = f.backend if isinstance(f, Differentiable) else "python"
    return _differentiable(target.fn, backend), tuple(target.args)


def _defaults(d, n_given):
    """The default values of the parameters after the first `n_given` (held constant, as a call would)."""
    import inspect
    params = list(inspect.signature(d.fn).parameters.values())[n_given:len(d.params)]
    if any(p.default is inspect.Parameter.empty for p in params):
        return ()
    return tuple(p.default for p in params)


def _tuple(v, what, name):
    if not isinstance(v, (tuple, list)):
        raise UsageError(f"{what}: primals and tangents must be tuples with one entry per positional argument "
                         f"({name} is a {type(v).__name__})", hint=f"e.g. rg.{what}(f, (x, y), (dx, dy))")
    return tuple(v)


def jvp(f, primals, tangents, *, backend=None):
    """Forward mode, like jax.jvp: `(f(*primals), J @ tangents)`, with one tangent per positional argument
    of `f` (of its primal's shape and float dtype; None holds an argument constant).  backend: "python" or
    "numba" (default: a Differentiable's own, else python)."""
    d, prefix = _entry(f, "jvp", backend)
    primals = prefix + _tuple(primals, "jvp", "primals")
    tangents = (None,) * len(prefix) + _tuple(tangents, "jvp", "tangents")
    rest = _defaults(d, len(primals)) if len(primals) == len(tangents) else ()
    return jvp_of(d, primals + rest, tangents + (None,) * len(rest))


def _argnums(argnums, n, what):
    items = argnums if isinstance(argnums, (tuple, list)) else (argnums,)
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise UsageError(f"{what}: argnums entries must be integers, got {a!r}")
        if not -n <= a < n:
            raise UsageError(f"{what}: argnums={a} is out of range for a function of {n} arguments")
        out.append(int(a) % n)
    if len(set(out)) != len(out):
        raise UsageError(f"{what}: argnums lists an argument twice: {argnums!r}")
    return out, isinstance(argnums, (tuple, list))


def _basis(x):
    """The standard basis of x's space, one tangent at a time (a float for a float argument)."""
    size = int(np.size(x))
    for k in range(size):
        e = np.zeros(size)
        e[k] = 1.0
        yield e.reshape(np.shape(x)) if isinstance(x, np.ndarray) else float(e[0])


def _check_jac_arg(x, k, what):
    if not _is_float(x) or isinstance(x, (tuple, list, dict)):
        raise UsageError(f"{what}: argument {k} must be a float or a float array, got {type(x).__name__}",
                         hint="pass floats, e.g. np.asarray(x, dtype=float)")


BATCHED = True      # jacfwd uses the target's batched columns where it has them (False: the loop, to compare)


def _jacobian_columns(d, args, k):
    """(output, (out.size, arg.size) Jacobian) w.r.t. args[k] by the target's batched driver
    (Target.jacobian_columns: one compiled call looping over the basis), or None: the caller loops.
    Only for arrays and numbers (containers go through flat_pytrees' twin, one jvp at a time)."""
    from ..backends.target import Target
    from ..runtime import is_record
    _check_backend(d)
    if len(args) != len(d.params) or any(isinstance(a, (tuple, list, dict)) or is_record(a) for a in args):
        return None
    target = d._target
    compiled = _compile(d, [d.params[k]], _kinds(d, args))
    tparam = compiled.tparams[d.params[k]]
    res = None
    if type(target).jacobian_columns is not Target.jacobian_columns:
        res = target.jacobian_columns(compiled.fn, list(args), k, tparam)
    if res is None:
        res = _tangent_columns(compiled, args, k, tparam)
    if res is None or isinstance(res[0], (tuple, list, dict)):
        return None               # the jvp loop: it refuses a container output with its message
    return res


def _tangent_columns(compiled, args, k, tparam):
    """The loop without its per-direction overhead (checking and copying the tangent, looking the
    compiled code up): the tangent function called once per basis direction, each a fresh array (the
    tangent code may write into it).  The primal re-runs in every call: the tangent code interleaves
    them.  None for a size-0 argument (the loop takes the output's shape from a plain call)."""
    cols, out = [], None
    for e in _basis(args[k]):
        out, tout = compiled.fn(*args, **{tparam: e})
        if isinstance(out, (tuple, list, dict)):
            return out, None
        if not (type(tout) is np.ndarray and type(out) is np.ndarray and tout.shape == out.shape
                and out.dtype == tout.dtype == np.float64):
            tout = _like(tout, out)      # (the common case above is already what _like gives)
        cols.append(np.asarray(tout, dtype=np.float64).reshape(-1))
    if not cols:
        return None
    return out, np.stack(cols, axis=-1)


def jacfwd(f, argnums=0, *, backend=None):
    """Like jax.jacfwd: a function returning the Jacobian of `f` w.r.t. argument(s) `argnums`, of shape
    out.shape + arg.shape (a tuple for a tuple `argnums`).  Where the backend batches the basis
    (numba, for arrays and floats: Target.jacobian_columns) one compiled call pushes every basis direction
    through the compiled tangent code; else one jvp per input entry from here."""
    d, prefix = _entry(f, "jacfwd", backend)

    def jacobian(*args):
        args = prefix + args
        args = args + _defaults(d, len(args))
        nums, many = _argnums(argnums, len(args) - len(prefix), "jacfwd")
        nums = [k + len(prefix) for k in nums]
        jacs = []
        for k in nums:
            _check_jac_arg(args[k], k, "jacfwd")
            batched = _jacobian_columns(d, args, k) if BATCHED else None
            if batched is not None:      # one compile, then the driver's one call or the tangent per direction
                out, jac = batched
                jacs.append(np.reshape(jac, np.shape(out) + np.shape(args[k])))
                continue
            cols, out = [], None
            for e in _basis(args[k]):
                tangents = [None] * len(args)
                tangents[k] = e
                out, tout = jvp_of(d, args, tangents)
                if isinstance(out, (tuple, list, dict)):
                    raise UsageError("jacfwd: the function must return a single array or number")
                cols.append(np.asarray(tout, dtype=np.float64))
            out_shape = np.shape(out) if out is not None else np.shape(d.fn(*args))
            jac = np.stack(cols, axis=-1) if cols else np.zeros(out_shape + (0,))
            jacs.append(jac.reshape(out_shape + np.shape(args[k])))
        return tuple(jacs) if many else jacs[0]
    return jacobian


# ---- second order: forward-over-reverse ----------------------------------------------------------------
_DRIVER = '''def gradient_{name}({params}):
    {out}, {saved} = {primal}({params})
    return {adjoint}({seed}({out}, {title!r}), {saved})
'''


def _gradient_function(d, wrt, kinds):
    """A Python function computing the gradient of `d` w.r.t. `wrt` by calling its generated primal and
    adjoint: the forward transform reads it (and them) like any user code."""
    from ..reverse.program import title_of
    cache = d.__dict__.setdefault("_gradients", {})
    key = (tuple(wrt), tuple(sorted(kinds.items())))
    rev = cache.get(key)
    if rev is None:
        rev = Differentiable(d.fn, wrt=tuple(wrt), backend="python")
        cache[key] = rev
    rev._compile(dict(kinds))
    guard = rev._guards[rev._last]
    ns = guard.ns
    base = d.fn.__name__ if d.fn.__name__.isidentifier() else "lambda"
    name = f"gradient_{base}"
    if getattr(ns.get(name), "_rg_driver_of", None) == (guard.primal, guard.adjoint):
        return ns[name], rev             # the same generated code: the same driver (its tangent is cached)
    title = title_of(d.fn)
    params = ", ".join(d.params)
    from .runtime import scalar_seed      # checks the output is a scalar before the adjoint runs
    seed = "scalar_seed" if ns.get("scalar_seed", scalar_seed) is scalar_seed else _fresh_name(ns, "scalar_seed")
    ns[seed] = scalar_seed
    src = _DRIVER.format(name=base, params=params, out=_fresh_name(ns, "out"), saved=_fresh_name(ns, "saved"),
                         primal=guard.primal, adjoint=guard.adjoint, seed=seed, title=d.fn.__name__)
    filename = f"<retrograd gradient {title} {id(ns)}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    exec(compile(src, filename, "exec"), ns)
    ns[name]._rg_driver_of = (guard.primal, guard.adjoint)
    ns[name]._rg_discards = ns[guard.adjoint]     # hvp reads only the tangent of the gradient (forward/prune.py)
    return ns[name], rev


def _fresh_name(ns, base):
    k, name = 2, base
    while name in ns:
        name, k = f"{base}_{k}", k + 1
    return name


def _hvp_compiled(d, primals, wrt):
    kinds = _kinds(d, primals)
    g, rev = _gradient_function(d, wrt, kinds)
    key = ("hvp", tuple(wrt), tuple(sorted(kinds.items())))
    cache = d.__dict__.setdefault("_hvps", {})
    hit = cache.get(key)
    if hit is None or hit[0] is not g:
        hit = (g, _compile(d, wrt, kinds, target=g))
        cache[key] = hit
    return hit[1], rev


def _check_second_order(d):
    if not traits(d.backend).second_order:
        raise BackendError(f"hvp and hessian (forward mode over the generated adjoint) do not run on "
                           f"backend={d.backend!r}; {d.fn.__name__} is differentiated with it (jvp and jacfwd do)",
                           construct="backend", hint='use backend="python" for hvp and hessian')


def hvp_of(d, primals, tangents):
    _check_backend(d)
    _check_second_order(d)
    primals, tangents, active = _split(d, primals, tangents, "hvp")
    if not active:
        raise UsageError("hvp: give a tangent (not None) for at least one float argument")
    compiled, rev = _hvp_compiled(d, primals, active)
    kw = {compiled.tparams[p]: _zero_tangents(primals[k], tangents[k])
          for k, p in enumerate(d.params) if p in active}
    _, hv = compiled.fn(*primals, **kw)
    by_name = {p: primals[k] for k, p in enumerate(d.params)}
    order = [p for p in d.params if p in active]
    result = tuple(_like(h, by_name[p]) for h, p in zip(hv, order))
    return result[0] if len(result) == 1 else result


def _copy(x):
    return np.array(x, copy=True) if isinstance(x, np.ndarray) else x


def hvp(f, primals, tangents, *, backend=None):
    """Hessian-vector product of a scalar `f` (forward-over-reverse): the derivative of grad f along
    `tangents`.  The gradient is taken w.r.t. the arguments whose tangent is not None (one array when
    that is one argument, else a tuple in argument order)."""
    d, prefix = _entry(f, "hvp", backend)
    primals = prefix + _tuple(primals, "hvp", "primals")
    tangents = (None,) * len(prefix) + _tuple(tangents, "hvp", "tangents")
    rest = _defaults(d, len(primals)) if len(primals) == len(tangents) else ()
    primals, tangents = primals + rest, tangents + (None,) * len(rest)
    _check_backend(d)
    _check_second_order(d)
    return hvp_of(d, primals, tangents)     # the generated gradient checks the output is a scalar


def _scalar_output(d, primals):
    out = d.fn(*[_copy(p) for p in primals])
    if np.ndim(out) != 0 or isinstance(out, (tuple, list, dict)):
        raise UsageError(f"{d.fn.__name__} returned a value of shape {np.shape(out)}; hvp and hessian need a "
                         "scalar output", hint="use jacfwd of a vjp for non-scalar outputs")


def _hvp_caller(d, args, nums):
    """tangents (one per argument) -> {position in nums: H v w.r.t. it, a float64 array}.  With BATCHED,
    the forward-over-reverse code is compiled and looked up once and called per direction (what hvp_of
    does, without re-checking and copying the tangents each time: they are fresh arrays); else hvp_of."""
    from ..runtime import is_record
    order = [p for p in d.params if p in {d.params[k] for k in nums}]     # hvp's results come in this order
    pos = {d.params[k]: k for k in nums}
    if not BATCHED or len(args) != len(d.params) or any(isinstance(a, (tuple, list, dict)) or is_record(a)
                                                           for a in args):
        def call(tangents):
            hv = hvp_of(d, args, tangents)
            hv = hv if len(order) > 1 else (hv,)
            return {pos[p]: np.asarray(h, dtype=np.float64) for p, h in zip(order, hv)}
        return call
    compiled, _ = _hvp_compiled(d, list(args), order)

    def call_compiled(tangents):
        _, hv = compiled.fn(*args, **{compiled.tparams[p]: tangents[pos[p]] for p in order})
        return {pos[p]: np.asarray(_like(h, args[pos[p]]), dtype=np.float64) for p, h in zip(order, hv)}
    return call_compiled


def hessian(f, argnums=0, *, backend=None):
    """Like jax.hessian for a scalar `f`: shape arg.shape + arg.shape (a nested tuple of blocks
    H[i][j] for a tuple `argnums`).  One hvp per input entry (forward over the generated adjoint),
    the hvp code compiled and looked up once per call; each hvp re-runs the primal and the adjoint (the
    basis is not batched through one pass: no tangent with a leading axis yet)."""
    d, prefix = _entry(f, "hessian", backend)

    def hess(*args):
        args = prefix + args
        args = args + _defaults(d, len(args))
        nums, many = _argnums(argnums, len(args) - len(prefix), "hessian")
        nums = [k + len(prefix) for k in nums]
        for k in nums:
            _check_jac_arg(args[k], k, "hessian")
        _check_backend(d)
        _check_second_order(d)
        _scalar_output(d, args)
        hv_of = _hvp_caller(d, args, nums)
        blocks = {}
        for j in nums:
            cols = []
            for e in _basis(args[j]):
                tangents = [None] * len(args)
                for k in nums:
                    tangents[k] = (e if k == j else (np.zeros(np.shape(args[k])) if isinstance(args[k], np.ndarray)
                                                     else 0.0))
                cols.append(hv_of(tangents))
            for i in nums:
                col = [c[i] for c in cols]
                shape = np.shape(args[i]) + np.shape(args[j])
                blocks[(i, j)] = (np.stack(col, axis=-1) if col else np.zeros(shape)).reshape(shape)
        if not many:
            return blocks[(nums[0], nums[0])]
        return tuple(tuple(blocks[(i, j)] for j in nums) for i in nums)
    return hess


TRANSFORMS["jvp"] = jvp_of                  # Differentiable.jvp
TRANSFORMS["forward source"] = source_of    # Differentiable.source_for(..., mode="forward")
