"""The public API: `differentiate` and `Differentiable`, `register_adjoint` (the functional forms are in
functional.py)."""
import copy
import functools
import inspect

import numpy as np

from .analysis.kinds import kind_of_value
from .backends import NAMES as BACKENDS, plain_name, target_of
from . import pipeline
from .errors import BackendError, UsageError
from .frontend.checks import check_function
from .frontend.namespace import Reads, changed_arrays, content_key, contents, rebind
from .frontend.resolve import CUSTOM
from .frontend.source import read_function
from .remat import check_remat
from .reverse.sourcemap import add_note
from .runtime import like, snapshot


class Differentiable:
    """A function together with its generated gradient code.  Calling it runs the original function, or
    where the backend compiles the plain call (Traits.plain_call: numba) its compiled forward (the primal
    without tape: same value, same guards).

    `fn` may be any callable frontend/callables.py accepts (a lambda, a partial, a bound method, ...):
    what it binds (a partial's arguments, a method's `self`) is passed in front of the caller's arguments
    and is not differentiated; `wrt` / `argnums` count the parameters that remain."""

    def __init__(self, fn, wrt=None, backend="python", remat=None, *, argnums=None, has_aux=False):
        from .frontend.callables import normalise
        static = isinstance(fn, staticmethod)
        target = normalise(fn)
        if backend not in BACKENDS:
            raise UsageError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self._target = target_of(backend)     # everything api.py asks of the backend (backends/target.py)
        self._target.check_options(has_aux, bool(target.args or target.kwargs))
        self.fn = fn = target.fn
        self._prefix, self._prefix_kw = tuple(target.args), dict(target.kwargs)
        self.backend = backend
        self.remat = check_remat(remat)
        self.has_aux = bool(has_aux)
        functools.update_wrapper(self, fn)
        if not self._prefix and not self._prefix_kw:   # a helper call to it is a call to `fn` (not if bound)
            self.__wrapped_retrograd__ = fn
        src = read_function(fn)        # refuse what cannot be differentiated now, at decoration
        check_function(src)
        self._signature = (fn.__defaults__, fn.__kwdefaults__, inspect.signature(fn))
        self.params = list(self.signature.parameters)
        self._static = static
        self._wrt_given = wrt is not None or argnums is not None
        self.wrt, self._single = resolve_wrt(wrt, argnums, target.signature, fn)
        self._adjoint_order = [p for p in self.params if p in self.wrt]   # the adjoint returns these
        self._compiled = {}      # argument kinds -> (primal, adjoint, source)
        self._plain = {}         # argument kinds -> the compiled plain call (Traits.plain_call)
        self._call_keys = {}     # plain call: types of positional arguments -> kinds key, or None (run fn)
        self._guards = {}        # argument kinds -> _Guard: what that code read from the user's namespaces
        self._last = None

    @property
    def signature(self):
        """fn's signature, with its defaults as they are now (`fn.__defaults__ = ...` rebinds them)."""
        d, kw, sig = self._signature
        if d is not self.fn.__defaults__ or kw is not self.fn.__kwdefaults__:
            self._signature = d, kw, sig = self.fn.__defaults__, self.fn.__kwdefaults__, inspect.signature(self.fn)
        return sig

    def __set_name__(self, owner, name):
        """Decorated in a class body: by default differentiate the first parameter after `self`."""
        if not self._wrt_given and not self._static and len(self.params) > 1:
            self.wrt, self._single = (self.params[1],), True
            self._adjoint_order = [p for p in self.params if p in self.wrt]

    def __get__(self, instance, owner=None):
        if instance is None or self._static:
            return self
        return _BoundDifferentiable(self, instance)

    def _view(self, prefix, prefix_kw, single):
        """The same generated code (shared caches) with other bound arguments: one variant serves every
        partial of a function and every instance of a class."""
        v = copy.copy(self)
        v._prefix, v._prefix_kw, v._single, v._last = tuple(prefix), dict(prefix_kw), single, None
        if v._prefix or v._prefix_kw:
            v.__dict__.pop("__wrapped_retrograd__", None)
        return v

    def __call__(self, *args, **kwargs):
        if not self._target.traits.plain_call:
            return self.fn(*self._prefix, *args, **{**self._prefix_kw, **kwargs})
        args, sig = self._prefix + args, None
        if not kwargs and not self._prefix_kw and len(args) == len(self.params):
            # the fast path: argument types seen before give their kinds key without binding (binding and
            # kinds cost ~10x a small compiled call); the namespace is re-validated as on every call
            sig = _call_signature(args)
            if sig is not None and sig in self._call_keys:
                key = self._call_keys[sig]
                if key is None or _debug_mode():
                    return self.fn(*args)
                if key in self._compiled:
                    self._revalidate(key)
                if key not in self._compiled:
                    self._compile(dict(key))
                self._last = key
                return self._plain[key](*args)
        kwargs = {**self._prefix_kw, **kwargs}
        bound = self._compiled_call(args, kwargs)
        if sig is not None and not _debug_mode():
            self._call_keys[sig] = self._last if bound is not None else None
        if bound is not None:
            return self._plain[self._last](*bound.args, **bound.kwargs)
        return self.fn(*args, **kwargs)

    def _compiled_call(self, args, kwargs):
        """The bound arguments when the compiled forward can run them; None where only the original
        function can: arguments that do not bind (Python's own TypeError), what the backend does not
        differentiate (integers, or what its Target does not take, in a `wrt` position), or rg.debug_nans()
        (whose checks are the python backend's)."""
        from .debug import mode as debug_mode
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        for name in self.wrt:
            v = bound.arguments[name]
            if (isinstance(v, (bool, int, np.integer)) or not self._target.takes(v) or (
                    isinstance(v, np.ndarray) and not np.issubdtype(v.dtype, np.inexact))):
                return None
        if debug_mode():
            return None
        self._compile(_kinds(bound))
        return bound

    def __repr__(self):
        return f"<retrograd.differentiate {self.fn.__qualname__} wrt={self.wrt}>"

    # ---- compilation ---------------------------------------------------------------------------------
    def _compile(self, kinds=None):
        """Generate and load the code specialised for `kinds` ({param: scalar/array/other})."""
        from .debug import mode as debug_mode
        checks = (kinds or {}).get("__debug__") or debug_mode()   # rg.debug_nans(): code of its own
        if checks:
            if not self._target.debug_checks:
                raise UsageError(f"{self.fn.__name__}: rg.debug_nans() checks the code of the python backend",
                                 hint="differentiate the same function with backend=\"python\" to find the line: "
                                      "rg.differentiate(f, backend=\"python\")")
            kinds = {**(kinds or {}), "__debug__": checks}
        key = tuple(sorted((kinds or {}).items()))
        if key in self._compiled:
            self._revalidate(key)
        if key not in self._compiled:
            self._plain.pop(key, None)
            reads = Reads([self.fn])     # before the transform: the values it will see
            self._guards[key] = _Guard(reads, None, None, None, self._target.freezes_globals)
        hit = self._target.cached_transform(self, kinds) if key not in self._compiled else None
        if hit is not None:                  # a new process skips the transform
            p, a, source, plain = hit
            self._compiled[key], self._plain[key] = (p, a, source), plain
        if key not in self._compiled:
            target = self._target
            plain = {k: v for k, v in (kinds or {}).items() if k != "__debug__"}
            program, primal, adjoint, source = pipeline.generate(
                self.fn, self.wrt, plain, target=self.backend, remat=self.remat, aux=self.has_aux, checks=checks,
                namespace_key=content_key(reads))
            ns = target.load(program, source, pipeline.title_of(self.fn))
            self._guards[key] = _Guard(reads, ns, primal, adjoint, target.freezes_globals)
            target.remember_transform(self, kinds, ns, primal, adjoint, program.line_locations)
            p, a = (target.wrap(ns[n], source, program.line_locations) for n in (primal, adjoint))
            if target.traits.plain_call:
                self._plain[key] = target.wrap(ns[plain_name(primal)], source, program.line_locations)
            self._compiled[key] = (p, a, source)
        self._last = key
        return self._compiled[key]

    def _revalidate(self, key):
        """Per call: is the code for `key` still that of the namespaces as they are now?  Drops it when a
        helper, a module or the type of a value it reads changed; on python, a rebound plain value only
        rebinds the generated code's namespace (see frontend/namespace.py)."""
        guard = self._guards[key]
        new = guard.revalidate()
        if new is None:
            del self._compiled[key], self._guards[key]
        elif new is not guard:
            self._guards[key] = new
            source = self._compiled[key][2]
            self._compiled[key] = tuple(self._target.wrap(new.ns[n], source, {}) for n in (new.primal, new.adjoint)) + (source,)

    @property
    def source(self):
        """The generated primal and adjoint code: exactly the code that ran last (specialised for the
        kinds of its arguments), or the generic code before any call.  A target that generates code of its
        own gives that (Triton: the kernels that ran last through `rg.torch`, or those for tensor arguments
        before any call)."""
        own = self._target.source_of(self)     # a target that generates code of its own (Triton's kernels)
        if own is not None:
            return own
        if self._last is None:
            try:
                return self._compile()[2]
            except BackendError as exc:      # a typed target may need the kinds the generic code lacks
                add_note(exc, "retrograd: before any call, .source is the code for arguments of unknown "
                              "kinds; f.source_for(*args) shows (and checks) the code for given arguments")
                raise
        if self._last not in self._compiled:     # dropped when the namespace changed: regenerate it
            return self._compile(dict(self._last))[2]
        return self._compiled[self._last][2]

    def source_for(self, *args, mode="reverse", **kwargs):
        """The code that runs for these arguments (mode="forward": the tangent code `jvp` runs)."""
        if mode == "forward":
            return TRANSFORMS["forward source"](self, list(self._bind(args, kwargs).args))
        if mode != "reverse":
            raise UsageError(f"mode must be \"reverse\" or \"forward\", got {mode!r}")
        bound = self._bind(args, kwargs)
        return self._compile(_kinds(bound))[2]

    # ---- differentiation -----------------------------------------------------------------------------
    def _bind(self, args, kwargs, containers=False):
        """The bound arguments; `containers`: a container in a `wrt` position is fine (flat_pytrees.py
        flattens it for a target that takes none)."""
        if self._prefix or self._prefix_kw:
            args, kwargs = self._prefix + tuple(args), {**self._prefix_kw, **kwargs}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"{self.fn.__name__}: {exc}") from None
        bound.apply_defaults()
        for name in self.wrt:
            v = bound.arguments[name]
            if isinstance(v, (bool, int, np.integer)) or (isinstance(v, np.ndarray) and
                                                           not np.issubdtype(v.dtype, np.inexact)):
                raise UsageError(f"{self.fn.__name__}: cannot differentiate with respect to `{name}`, "
                                 f"which holds integers ({type(v).__name__})",
                                 hint="pass floats, e.g. 1.0 or np.asarray(x, dtype=float)")
            if not containers and not self._target.takes(v):
                raise self._target.refusal(self.fn.__name__, name, v)
        return bound

    def _split(self, out):
        """(value, aux) of what the primal returned (aux is None without has_aux)."""
        return out if self.has_aux else (out, None)

    def vjp(self, *args, **kwargs):
        """(output, pullback): pullback(cotangent) returns one gradient per `wrt` argument, as a tuple.
        With has_aux=True: (output, pullback, aux)."""
        plugin = _array_plugin(self, args, kwargs)
        if plugin is not None:
            return plugin.vjp(self, args, kwargs)
        flat = _flattened(self, args, kwargs)
        if flat is not None:
            return flat.vjp()
        bound = self._bind(args, kwargs)
        primal, adjoint, _ = self._compile(_kinds(bound))
        guard = self._guards[self._last]
        live = guard.live_state()
        out, saved = primal(*bound.args, **bound.kwargs)
        out, aux = self._split(out)

        def pullback(cotangent):
            _check_cotangent(cotangent, out, self.fn.__name__)
            guard.check_live(live, self.fn.__name__)
            # the adjoint consumes its tape and restores arrays in place: give it a fresh copy each time
            grads = adjoint(_owned(cotangent), _fresh(saved))
            return self._finish(grads, bound)
        return (out, pullback, aux) if self.has_aux else (out, pullback)

    def _jacobian_rows(self, args, kwargs):
        """(output, [(out.size, arg.size) Jacobian per `wrt` argument, in wrt order, with that argument]) by
        the target's batched code in one call (Target.jacobian_rows), or None where it has none for these
        arguments: functional.jacrev then pulls back one output entry at a time."""
        from .backends.target import Target
        from .debug import mode as debug_mode
        from .runtime import is_record
        if type(self._target).jacobian_rows is Target.jacobian_rows:
            return None          # no batched rows on this target (python): nothing to bind or compile here
        values = list(args) + list(kwargs.values()) + list(self._prefix) + list(self._prefix_kw.values())
        if self.has_aux or debug_mode() or any(isinstance(v, (tuple, list, dict)) or is_record(v) for v in values):
            return None
        if _array_plugin(self, args, kwargs) is not None:
            return None
        bound = self._bind(args, kwargs)
        if bound.kwargs:
            return None
        primal, adjoint, _ = self._compile(_kinds(bound))
        positions = [self.params.index(n) for n in self._adjoint_order]
        res = self._target.jacobian_rows(primal, adjoint, list(bound.args), positions)
        if res is None:
            return None
        out, blocks = res
        by_name = dict(zip(self._adjoint_order, blocks))
        return out, [(by_name[n], bound.arguments[n]) for n in self.wrt]

    def __retrograd_target__(self):
        """What frontend/callables.py reduces this to: the function, and the arguments bound in front."""
        from .frontend.callables import Target
        return Target(self.fn, self._prefix, dict(self._prefix_kw))

    def jvp(self, primals, tangents):
        """Forward mode: (output, tangent of the output) at `primals` along `tangents` (tuples, one entry per
        positional argument; None holds an argument constant).  See retrograd.jvp."""
        return TRANSFORMS["jvp"](self, primals, tangents)

    def value_and_grad(self, *args, **kwargs):
        """(value, gradient(s)); with has_aux=True ((value, aux), gradient(s)), as jax.value_and_grad."""
        plugin = _array_plugin(self, args, kwargs)
        if plugin is not None:
            return plugin.value_and_grad(self, args, kwargs)
        flat = _flattened(self, args, kwargs)
        if flat is not None:
            return flat.value_and_grad()
        bound = self._bind(args, kwargs)
        primal, adjoint, _ = self._compile(_kinds(bound))
        out, saved = primal(*bound.args, **bound.kwargs)
        out, aux = self._split(out)
        if isinstance(out, (tuple, list, dict)) or np.ndim(out) != 0:
            hint = "use .vjp(...) for non-scalar outputs"
            if isinstance(out, tuple) and len(out) == 2 and not self.has_aux:
                hint = "to return auxiliary data beside the loss (`return loss, aux`), pass has_aux=True"
            what = (f"a {type(out).__name__} of {len(out)}" if isinstance(out, (tuple, list, dict))
                    else f"a value of shape {np.shape(out)}")
            raise UsageError(f"{self.fn.__name__} returned {what}; grad needs a scalar output", hint=hint)
        seed = np.ones_like(out) if isinstance(out, (np.ndarray, np.generic)) else 1.0
        grads = self._finish(adjoint(seed, saved), bound)
        grads = grads[0] if self._single else grads
        return ((out, aux) if self.has_aux else out), grads

    def _finish(self, grads, bound):
        by_name = dict(zip(self._adjoint_order, grads))
        return tuple(like(by_name[n], bound.arguments[n]) for n in self.wrt)

    def tape_bytes(self, *args, **kwargs):
        """Bytes the forward pass keeps for the backward pass at its peak (the end of the forward pass,
        before the adjoint starts popping): tapes plus the final values the adjoint reads."""
        bound = self._bind(args, kwargs)
        primal, _, _ = self._compile(_kinds(bound))
        _, saved = primal(*bound.args, **bound.kwargs)
        return _nbytes(saved)

    def grad(self, *args, **kwargs):
        """The gradient(s); with has_aux=True (gradient(s), aux), as jax.grad."""
        value, grads = self.value_and_grad(*args, **kwargs)
        return (grads, value[1]) if self.has_aux else grads


class _BoundDifferentiable:
    """`obj.loss` for a method decorated in a class body: the Differentiable with `obj` as its first
    argument (not differentiated).  The generated code is the method's, shared by every instance."""

    def __init__(self, diff, instance):
        self.diff, self.instance = diff, instance

    def __retrograd_target__(self):
        from .frontend.callables import Target, normalise
        inner = normalise(self.diff)
        return Target(inner.fn, inner.args + (self.instance,), inner.kwargs)

    def __call__(self, *args, **kwargs):
        return self.diff(self.instance, *args, **kwargs)

    def grad(self, *args, **kwargs):
        return self.diff.grad(self.instance, *args, **kwargs)

    def value_and_grad(self, *args, **kwargs):
        return self.diff.value_and_grad(self.instance, *args, **kwargs)

    def vjp(self, *args, **kwargs):
        return self.diff.vjp(self.instance, *args, **kwargs)

    def source_for(self, *args, **kwargs):
        return self.diff.source_for(self.instance, *args, **kwargs)

    def tape_bytes(self, *args, **kwargs):
        return self.diff.tape_bytes(self.instance, *args, **kwargs)

    @property
    def source(self):
        return self.diff.source

    def __repr__(self):
        return f"<bound {self.diff!r} of {self.instance!r}>"


class _Guard:
    """The namespace reads of one compiled variant, and what to do when they change.

    Why not read globals live: the generated code runs in a merged copy of the user's globals (helpers
    may come from other modules, closure cells are not globals at all), and Numba freezes globals at
    compile time anyway.  So the code is keyed by every object it reads and re-validated per call."""

    def __init__(self, reads, ns, primal, adjoint, frozen):
        self.reads, self.ns, self.primal, self.adjoint, self.frozen = reads, ns, primal, adjoint, frozen
        # a target that freezes global arrays (Target.freezes_globals): their contents are checked too (an
        # in-place change keeps the identity)
        self.contents = contents(reads) if frozen else None

    def revalidate(self):
        """self when still valid, a rebound guard (python, plain values changed), or None: regenerate."""
        reads = self.reads
        now = reads.read()
        changed = reads.changed(now)
        if not changed:
            if self.contents and changed_arrays(self.contents):
                return None
            return self
        if self.frozen or self.ns is None or not all(reads.plain_change(i, now[i]) for i in changed):
            return None
        names = {}
        for i in changed:
            if reads.is_name(i):
                names[reads.label(i)] = now[i]
        for i in range(len(now)):    # one name, two modules (`from mod import K`), rebound in one only
            if reads.is_name(i) and now[i] is not names.get(reads.label(i), now[i]):
                return None          # the regenerated code refuses it ("means different things")
        reads.values = now          # attribute chains (mymod.K) are read live by the python code
        ns = rebind(self.ns, names) if names else self.ns
        return _Guard(reads, ns, self.primal, self.adjoint, self.frozen)

    def live_state(self):
        """What the code may read live, for a pullback to check that it still holds (a pullback is the
        derivative at its forward pass's point): global arrays' contents (Numba too reads large ones
        through a pointer) and, on python, module attributes."""
        python = not self.frozen
        if not self.reads.arrays() and not (python and self.reads.attrs):
            return None
        return (self.reads.read() if python else None), contents(self.reads)

    def check_live(self, live, name):
        if live is None:
            return
        values, saved = live
        bad = []
        if values is not None:
            now = self.reads.read()
            bad = [self.reads.label(i) for i, (a, b) in enumerate(zip(now, values))
                   if a is not b and not self.reads.is_name(i)]   # names: the pullback's namespace kept them
        bad = bad or changed_arrays(saved)
        if bad:
            raise UsageError(f"{name}: `{bad[0]}` changed between vjp(...) and its pullback; the pullback "
                             "would mix the old forward pass with the new value",
                             hint="call vjp(...) again after changing it")


def _debug_mode():
    from .debug import mode
    return mode()


_SCALAR_TYPES = (float, int, bool, np.float64, np.float32, np.int64, np.int32)


def _call_signature(args):
    """What of the positional arguments decides the plain call's kinds key and its fallbacks (a type, and an
    array's rank and dtype), or None where that takes more (containers, other objects)."""
    sig = []
    for a in args:
        t = type(a)
        if t is np.ndarray:
            sig.append((a.ndim, a.dtype))
        elif t in _SCALAR_TYPES:
            sig.append(t)
        else:
            return None
    return tuple(sig)


def _flattened(d, args, kwargs):
    """Container arguments on a target that takes only arrays and numbers: their flat twin (flat_pytrees.py,
    registered when retrograd is imported), or None."""
    flatten = TRANSFORMS.get("flat pytrees")
    return flatten(d, args, kwargs) if flatten is not None else None


# Transforms defined in modules above this one (forward/api.py registers "jvp" and "forward source"), so that a Differentiable
# offers them as methods without this module importing its own users.
TRANSFORMS = {}


# Arrays of another library (torch tensors) are handed to its plugin, the module retrograd.<library>,
# which registers itself here when imported (retrograd/torch.py).  Nothing in the core imports a plugin:
# the first call with such an array loads it by the array type's module name.
ARRAY_PLUGINS = {}


def _array_plugin(diff, args, kwargs):
    import importlib
    import importlib.util
    for v in list(args) + list(kwargs.values()):
        lib = type(v).__module__.split(".")[0]
        if lib in ("numpy", "builtins"):
            continue
        if lib not in ARRAY_PLUGINS and importlib.util.find_spec(f"{__package__}.{lib}") is not None:
            importlib.import_module(f"{__package__}.{lib}")
        plugin = ARRAY_PLUGINS.get(lib)
        if plugin is not None and plugin.handles(diff):
            return plugin
    return None


def _kinds(bound):
    return {k: kind_of_value(v) for k, v in bound.arguments.items()}


def _nbytes(v):
    if isinstance(v, np.ndarray):
        return v.nbytes
    if isinstance(v, (tuple, list)) or type(v).__module__.startswith("numba"):
        return sum(_nbytes(e) for e in v)
    if isinstance(v, dict):
        return sum(_nbytes(e) for e in v.values())
    if isinstance(v, (float, int, bool, np.generic)):
        return 8
    return 0


def _check_cotangent(ct, out, name, path="the output"):
    """The cotangent must have the output's structure and shape exactly (as in JAX: no broadcasting);
    a Python or NumPy scalar stands for a 0-d output."""
    if isinstance(out, (tuple, list)):
        if not isinstance(ct, (tuple, list)) or len(ct) != len(out):
            raise UsageError(f"{name}: the cotangent for {path} must be a {type(out).__name__} of {len(out)} "
                             f"entries, got {type(ct).__name__}", hint="pass one cotangent per output entry")
        for k, (c, o) in enumerate(zip(ct, out)):
            _check_cotangent(c, o, name, f"{path}[{k}]")
        return
    if isinstance(out, dict):
        if not isinstance(ct, dict) or ct.keys() != out.keys():
            raise UsageError(f"{name}: the cotangent for {path} must be a dict with keys {sorted(out)}")
        for k in out:
            _check_cotangent(ct[k], out[k], name, f"{path}[{k!r}]")
        return
    if isinstance(ct, (bool, str)) or not isinstance(ct, (int, float, complex, np.ndarray, np.generic)):
        raise UsageError(f"{name}: the cotangent for {path} must be a number or an array, got {type(ct).__name__}")
    if np.iscomplexobj(ct) and not np.iscomplexobj(out):
        raise UsageError(f"{name}: the cotangent for {path} is complex, but {path} is real")
    if np.shape(ct) != np.shape(out):
        raise UsageError(f"{name}: the cotangent for {path} has shape {np.shape(ct)}, but {path} has shape "
                         f"{np.shape(out)}", hint="pass a cotangent of exactly the output's shape")


def _owned(x):
    return np.array(x, copy=True) if isinstance(x, np.ndarray) else x


def _fresh(saved):
    """A deep copy of saved state that one run of the adjoint may consume (tapes) or restore in place
    (arrays), so that a pullback gives the same answer every time.  Arrays that share memory in `saved` (a
    saved `x` and its saved view `x.reshape(1, 4)`, tape entries that are views) share it in the copy too:
    the adjoint's restore into one must reach the other, as it does in the original.  Arrays are grouped by
    overlapping byte ranges (Numba's results have no common NumPy base to follow), each group's range is
    copied once and the arrays are rebuilt on the copy with their offsets and strides."""
    arrays, items = [], {}
    _collect(saved, arrays, items)
    new = {}
    spans = sorted((_byte_bounds(a), k) for k, a in enumerate(arrays) if a.size)
    group = []
    for (lo, hi), k in spans + [((None, None), None)]:
        if group and (lo is None or lo >= group_hi):
            _copy_group(group, arrays, new)
            group = []
        if lo is None:
            break
        group_hi = hi if not group else max(group_hi, hi)
        group.append((lo, k))
    return _rebuild(saved, {id(a): new.get(k, a) for k, a in enumerate(arrays)}, items)


def _byte_bounds(a):
    lo = hi = a.__array_interface__["data"][0]
    for n, st in zip(a.shape, a.strides):
        if st < 0:
            lo += (n - 1) * st
        else:
            hi += (n - 1) * st
    return lo, hi + a.itemsize


def _copy_group(group, arrays, new):
    import ctypes
    start = group[0][0]
    end = max(_byte_bounds(arrays[k])[1] for _, k in group)
    buf = np.frombuffer((ctypes.c_char * (end - start)).from_address(start), dtype=np.uint8).copy()
    for lo, k in group:
        a = arrays[k]
        offset = a.__array_interface__["data"][0] - start
        new[k] = np.ndarray(a.shape, a.dtype, buffer=buf, offset=offset, strides=a.strides)


def _collect(v, out, items):
    """The arrays in `v`, in order; `items`: id(typed list) -> its elements (each read of a typed list's
    element boxes a new array object: read them once)."""
    if isinstance(v, np.ndarray):
        out.append(v)
    elif isinstance(v, (list, tuple)):
        for e in v:
            _collect(e, out, items)
    elif isinstance(v, dict):
        for e in v.values():
            _collect(e, out, items)
    elif type(v).__module__.startswith("numba"):
        items[id(v)] = list(v)
        for e in items[id(v)]:
            _collect(e, out, items)


def _rebuild(v, copies, items):
    if isinstance(v, np.ndarray):
        c = copies.get(id(v), v)
        return v.copy() if c is v else c      # a size-0 array: a copy of its own
    if isinstance(v, list):
        return [_rebuild(e, copies, items) for e in v]
    if isinstance(v, tuple):
        return tuple(_rebuild(e, copies, items) for e in v)
    if isinstance(v, dict):
        return {k: _rebuild(e, copies, items) for k, e in v.items()}
    if type(v).__module__.startswith("numba"):   # a Numba typed list (a tape): copy its elements too
        out = v.copy()
        for k, e in enumerate(items[id(v)]):
            out[k] = _rebuild(e, copies, items)
        return out
    return snapshot(v)


def resolve_wrt(wrt, argnums, signature, fn):
    """(parameter names, single): what to differentiate, and whether one gradient (not a tuple) comes back.

    wrt: names or positions among all the parameters the caller sees; one entry gives one gradient.
    argnums (JAX's): an int (one gradient) or a tuple of ints (a tuple) among the positional parameters,
    negative counting from the end.  Neither: the first parameter."""
    params = list(signature.parameters)
    if wrt is not None and argnums is not None:
        raise UsageError("pass either wrt= or argnums=, not both",
                         hint="argnums=(0, 2) counts positional parameters like JAX; wrt= also takes names")
    if argnums is not None:
        positional = [p for p, par in signature.parameters.items()
                      if par.kind in (par.POSITIONAL_ONLY, par.POSITIONAL_OR_KEYWORD)]
        single = not isinstance(argnums, (tuple, list))
        items = [argnums] if single else list(argnums)
        if not items:
            raise UsageError("argnums=() selects no argument to differentiate")
        names = []
        for a in items:
            if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
                raise UsageError(f"argnums entries must be ints (positions), got {a!r}",
                                 hint="use wrt= to name parameters")
            if not -len(positional) <= a < len(positional):
                raise UsageError(f"argnums={a} is out of range: {fn.__name__} takes {len(positional)} positional "
                                 f"argument{'s' if len(positional) != 1 else ''}"
                                 + (f" ({', '.join(positional)})" if positional else ""))
            names.append(positional[a])
        if len(set(names)) != len(names):
            raise UsageError(f"argnums lists a parameter twice: {argnums!r}")
        return tuple(names), single
    if wrt is None:
        if not params:
            raise UsageError(f"{fn.__name__} has no parameters to differentiate")
        return (params[0],), True
    items = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
    out = []
    for w in items:
        if isinstance(w, (int, np.integer)) and not isinstance(w, bool):
            if not -len(params) <= w < len(params):
                raise UsageError(f"wrt={w} is out of range: {fn.__name__} has {len(params)} parameters")
            out.append(params[w])
        elif isinstance(w, str):
            if w not in params:
                raise UsageError(f"wrt names `{w}`, which is not a parameter of {fn.__name__} "
                                 f"(parameters: {', '.join(params)})")
            out.append(w)
        else:
            raise UsageError(f"wrt entries must be parameter names or positions, got {w!r}")
    if len(set(out)) != len(out):
        raise UsageError(f"wrt lists a parameter twice: {wrt!r}")
    return tuple(out), len(out) == 1


def differentiate(fn=None, *, wrt=None, argnums=None, has_aux=False, backend="python", remat=None):
    """Decorator (with or without arguments) and plain call: returns a `Differentiable`.

    wrt: parameter names or positions; argnums: JAX's positions (an int, or a tuple for a tuple of
    gradients); has_aux: `fn` returns `value, aux` and `aux` comes back undifferentiated.
    remat: None (store what the adjoint needs, except that a cheap loop whose re-run keeps no state per step
    is re-run in the adjoint instead of taped), "store" (store everything), "recompute" (loops of cheap
    arithmetic keep only their
    state per step and recompute the rest) or `Checkpoint(snapshots=k)` / `Checkpoint(memory=BYTES)`
    (loops are reversed by binomial checkpointing); see `retrograd.remat`."""
    options = dict(wrt=wrt, argnums=argnums, has_aux=has_aux, backend=backend, remat=remat)
    if fn is None:
        return lambda f: Differentiable(f, **options)
    return Differentiable(fn, **options)


def register_adjoint(fn):
    """Register a custom adjoint for `fn`:

        @register_adjoint(softclip)
        def softclip_adjoint(dresult, result, x, limit):
            return dresult * (1.0 - (result / limit) ** 2), None
    """
    def register(adjoint_fn):
        CUSTOM[id(fn)] = (fn, adjoint_fn)
        return adjoint_fn
    return register
