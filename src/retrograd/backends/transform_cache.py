"""An on-disk cache of retrograd's own transform for the numba backend.

A new process that differentiates a function it has seen before should not parse, normalise, analyse
and generate its code again: the numba backend already keeps the generated module (and Numba keeps the
compiled code) on disk.  This cache maps a *key* to the name of that module and the names of its primal
and adjoint, so a warm start goes straight to importing the module.

The key is a hash of everything the generated code is a function of:

- retrograd's own code (the size and modification time of every file of the package) and Numba's version;
- the kinds of the arguments, `wrt`, the target and any further options (e.g. rematerialisation);
- the differentiated function and, recursively, every Python function it can reach through its globals
  (helpers, custom adjoints registered for them): their source text, file, name, defaults and closure;
- the value of every global name those functions read: constants by `repr`, modules by name, NumPy/math
  functions by their qualified name.

If any of these cannot be pinned down (a global holding an array or an arbitrary object, a function
without source), there is no key and the transform simply runs: a stale entry can never be used.
"""
import hashlib
import inspect
import json
import os
import types

_CONSTANT_TYPES = (int, float, complex, str, bytes, bool, type(None))
_PACKAGE_STAMP = None


def _package_stamp():
    """Size and mtime of every source file of retrograd: a development edit invalidates the cache."""
    global _PACKAGE_STAMP
    if _PACKAGE_STAMP is None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        parts = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for f in sorted(filenames):
                if f.endswith(".py"):
                    st = os.stat(os.path.join(dirpath, f))
                    parts.append(f"{os.path.relpath(os.path.join(dirpath, f), root)}:{st.st_size}:{st.st_mtime_ns}")
        from .. import __version__
        parts.append(__version__)
        _PACKAGE_STAMP = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return _PACKAGE_STAMP


class _Uncacheable(Exception):
    pass


def _global_names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def _value(v, out, seen, order):
    """A stable description of a global value, recursing into Python functions."""
    if isinstance(v, _CONSTANT_TYPES):
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ",".join(_value(e, out, seen, order) for e in v) + ")"
    if isinstance(v, types.ModuleType):
        return f"module:{v.__name__}"
    inner = getattr(v, "__wrapped_retrograd__", None)   # a Differentiable used as a helper
    if inner is not None:
        v = inner
    if isinstance(v, types.FunctionType):
        _function(v, out, seen, order)
        return f"function:{v.__module__}.{v.__qualname__}"
    mod = getattr(v, "__module__", None) or getattr(type(v), "__module__", "")
    name = getattr(v, "__qualname__", None) or getattr(v, "__name__", None)
    if name and mod and mod.split(".")[0] in ("numpy", "math", "builtins", "scipy", "operator", "_operator"):
        return f"library:{mod}.{name}"          # np.tanh, math.sin, len, ... (rules are keyed by them)
    if isinstance(v, type) and mod.split(".")[0] in ("numpy", "builtins"):
        return f"type:{mod}.{name}"
    raise _Uncacheable(repr(type(v)))


def _function(fn, out, seen, order):
    if id(fn) in seen:
        return
    seen.add(id(fn))
    order.append(fn)
    try:
        src = inspect.getsource(fn)
        filename = inspect.getsourcefile(fn)
    except (OSError, TypeError):
        raise _Uncacheable(fn.__qualname__) from None
    out.append(f"def {fn.__module__}.{fn.__qualname__} {filename}:{fn.__code__.co_firstlineno}\n{src}")
    if fn.__code__.co_name == "<lambda>":   # two lambdas on one line share their source text: add the columns
        out.append("lambda at " + repr(sorted({p for p in getattr(fn.__code__, "co_positions", tuple)() if None not in p})))
    out.append("defaults:" + _value(tuple(fn.__defaults__ or ()), out, seen, order))
    if fn.__closure__:
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                out.append(f"closure {var}=" + _value(cell.cell_contents, out, seen, order))
            except ValueError:
                out.append(f"closure {var} empty")
    g = fn.__globals__
    for name in sorted(_global_names(fn.__code__)):
        if name in g:
            out.append(f"global {name}=" + _value(g[name], out, seen, order))


def key(fn, wrt, kinds, target, options=()):
    """(key, functions): the cache key of this transform, or None when its inputs cannot be pinned down,
    and the Python functions it depends on, root first (their globals make up the generated module's
    namespace)."""
    import numba
    import numpy
    out = [_package_stamp(), numba.__version__, numpy.__version__, target, repr(sorted(wrt)), repr(sorted((kinds or {}).items())),
           repr(options)]
    seen, order = set(), []
    try:
        _function(fn, out, seen, order)
        # every registered custom adjoint (also those of library functions, reached by name only)
        from ..frontend.resolve import CUSTOM
        for _, (f, adj) in sorted(CUSTOM.items(), key=lambda kv: repr(getattr(kv[1][0], "__qualname__", ""))):
            out.append("custom rule for " + repr(getattr(f, "__qualname__", None)))
            _function(adj, out, seen, order)
    except _Uncacheable:
        return None, order
    from ..frontend.namespace import Reads, content_key
    out.append(content_key(Reads([fn])))   # module attributes (mymod.K) and closures, as the code reads them
    return hashlib.sha256("\n".join(out).encode()).hexdigest()[:24], order


def _path(cache_dir, k):
    return os.path.join(cache_dir, "transforms", k + ".json")


def lookup(cache_dir, k):
    """The stored entry {module, primal, adjoint} for key `k`, or None.  An entry that does not parse or
    whose fields are not plain identifiers (a truncated write, a planted file) is discarded."""
    if k is None:
        return None
    try:
        with open(_path(cache_dir, k), "rb") as fh:
            entry = json.loads(fh.read().decode())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        discard(cache_dir, k)
        return None
    if not (isinstance(entry, dict)
            and all(isinstance(entry.get(f), str) and entry[f].isidentifier() for f in ("module", "primal", "adjoint"))):
        discard(cache_dir, k)
        return None
    return entry


def discard(cache_dir, k):
    try:
        os.unlink(_path(cache_dir, k))
    except OSError:
        pass


def store(cache_dir, k, entry):
    """Record an entry (atomically); a cache that cannot be written only costs the next process a transform."""
    from .cachefs import write_atomic
    if k is None:
        return
    path = _path(cache_dir, k)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        write_atomic(path, json.dumps(entry).encode())
    except OSError:
        pass
