"""The numba backend: the generated primal and adjoint, compiled to native code in nopython mode.

The generated module is written to a real `.py` file in the cache directory and imported under a name
registered in `sys.modules`, so `@njit(cache=True)` can cache compiled code on disk (Numba cannot cache
code exec'd from a string).  The file name is a hash of the generated source, the values of the user's
global constants it reads, and the retrograd and Numba versions: an edited function or a new version
never meets stale compiled code.  Compilation is lazy (at the first call), per argument types.
"""
import hashlib
import os
import re

from ..errors import BackendError
from . import Traits, cache_dir as _cache_dir

_HEADER_LINES = 3


def cache_dir():
    return _cache_dir("numba")


def _lower(tree):
    """What Numba's NumPy lacks, rewritten in each generated function before it is unparsed."""
    from .numba_contractions import lower_contractions
    from .numba_joins import lower_joins
    from .numba_products import lower_products
    from .numba_manipulation import lower_rolls
    from .numba_reductions import lower_reductions
    tree.decorator_list = [_njit()]
    return lower_spellings(lower_joins(lower_rolls(lower_contractions(lower_products(lower_reductions(tree))))))


def _njit():
    import gast
    return gast.Call(func=gast.Name(id="njit", ctx=gast.Load(), annotation=None, type_comment=None),
                     args=[], keywords=[gast.keyword(arg="cache", value=gast.Constant(value=True, kind=None))])


TRAITS = Traits("numba", typed=True, numpy_draws=False, mask_write_rank=1, reversed_range=False, forward_mode=False,
                plain_call=True,
                header="from numba import njit\nfrom retrograd.backends.numba_runtime import *", lower=_lower)


_PREFIX = "retrograd_generated_"
_TRAILER = "\n# retrograd cache key: "
_LOADED = {}


def load(program, source, title):
    import numba

    from .. import __version__
    from . import numba_overloads, numba_runtime  # noqa: F401  (registers every overload)
    ns = program.globals_for(numba_runtime)
    constants = sorted((k, repr(v)) for k, v in ns.items()
                       if isinstance(v, (int, float, complex, str, bool, tuple)) and not k.startswith("__"))
    extra = hashlib.sha256("\n".join([repr(constants), getattr(program, "namespace_key", ""), __version__,
                                       numba.__version__]).encode()).hexdigest()
    return _load_module(source + _TRAILER + extra + "\n", ns)


def _load_module(text, ns):
    """The module of the file whose exact bytes are `text` (generated source + key trailer): content-
    addressed, verified before it runs (cachefs.py)."""
    from . import cachefs
    source = text.split(_TRAILER)[0]
    module = cachefs.load_module("numba", _PREFIX, source, ns, _LOADED, name_data=text.encode(),
                                 memory_source=source.replace("njit(cache=True)", "njit(cache=False)"))
    module.__dict__["__retrograd_source__"] = source
    return module.__dict__


def load_cached_transform(fn, wrt, kinds, options=()):
    """(primal, adjoint, plain call, source, line map) from the on-disk transform cache (see transform_cache.py), or None.

    On a hit neither the transform nor the code generation runs: the generated module that an earlier
    process wrote is imported again, in the namespace the transform would have given it.  The entry's
    module name is checked (an identifier with our prefix) and the file's bytes against the hash in it."""
    from . import cachefs, transform_cache
    d = cache_dir()
    if d is None:
        return None
    k, functions = transform_cache.key(fn, wrt, kinds, "numba", options)
    entry = transform_cache.lookup(d, k)
    if entry is None:
        return None
    name = entry["module"]
    path = cachefs.inside(d, name) if cachefs.valid_name(name, _PREFIX) else None
    data = cachefs.read_verified(path, name, _PREFIX) if path else None
    if data is None:
        transform_cache.discard(d, k)
        return None
    try:
        text = data.decode()
    except UnicodeDecodeError:
        transform_cache.discard(d, k)
        return None
    from . import plain_name
    mod = _load_module(text, _namespace(functions))
    names = [entry["primal"], entry["adjoint"], plain_name(entry["primal"])]
    if not all(n in mod for n in names):
        transform_cache.discard(d, k)
        return None
    return tuple(mod[n] for n in names) + (mod["__retrograd_source__"], _locations(entry.get("lines")))


def remember_transform(fn, wrt, kinds, module_ns, primal, adjoint, options=(), locations=None):
    """Record a transform just done (with its map of generated lines to the user's), so that the next
    process can skip it."""
    from . import transform_cache
    d = cache_dir()
    if d is None:
        return
    k, _ = transform_cache.key(fn, wrt, kinds, "numba", options)
    lines = [[n] + loc.as_json() for n, loc in sorted((locations or {}).items())]
    transform_cache.store(d, k, {"module": module_ns["__name__"], "primal": primal, "adjoint": adjoint,
                                 "lines": lines})


def _locations(rows):
    """The stored line map back as {line: Location}; anything malformed counts as no map (the errors then
    name no line, nothing else changes)."""
    from ..reverse.sourcemap import Location
    ok = isinstance(rows, list) and all(
        isinstance(r, list) and len(r) == 4 and isinstance(r[0], int) and isinstance(r[1], str)
        and isinstance(r[2], int) and isinstance(r[3], str) for r in rows)
    return {r[0]: Location(r[1], r[2], r[3]) for r in rows} if ok else {}


def _namespace(functions):
    """What Program.globals_for(numba_runtime) gives: the functions' globals (closures included), the
    names the rules' templates use, then the runtime's names."""
    from ..frontend.source import namespace_of
    from ..reverse.rules import registry
    from . import numba_overloads, numba_runtime  # noqa: F401  (registers every overload)
    ns = {}
    for f in functions:
        for k, v in namespace_of(f).items():
            ns.setdefault(k, v)
    ns.update(registry.GLOBALS)
    ns.update((n, getattr(numba_runtime, n)) for n in numba_runtime.__all__)
    return ns


def call(fn, args, source, locations=None):
    """Call a compiled function, turning Numba's compile errors into a BackendError at the user's line."""
    from numba.core.errors import NumbaError
    try:
        return fn(*args)
    except NumbaError as exc:
        raise _backend_error(exc, source, locations) from None
    except ValueError as exc:                 # Numba's np.cross of 2-vectors: a case its NumPy lacks, at run time
        if "numba.np.extensions" not in str(exc):
            raise
        raise _backend_error(exc, source, locations) from None
    except NotImplementedError as exc:        # a lowering Numba's typing accepted but cannot generate
        if "No definition for lowering" not in str(exc) and "layout" not in str(exc):
            raise
        raise _backend_error(exc, source, locations) from None
    except (AttributeError, TypeError, AssertionError, KeyError) as exc:
        if isinstance(exc, TypeError) and str(exc).startswith("can't unbox"):   # a list of mixed arrays
            raise _backend_error(exc, source) from None
        if not _raised_inside_numba(exc):     # Numba's own typing code failing on what it cannot type
            raise
        raise _backend_error(exc, source, locations) from None
    except SystemError as exc:                # a value Numba cannot box (a slice saved for the adjoint)
        cause = exc.__cause__
        while cause is not None and "cannot convert native" not in str(cause):
            cause = cause.__cause__
        if cause is None:
            raise
        raise _backend_error(cause, source, locations) from None


def _raised_inside_numba(exc):
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{os.sep}numba{os.sep}" in tb.tb_frame.f_code.co_filename


def lower_spellings(tree):
    """Spellings Numba lacks: `x[...]` (what `np.copyto(x, v)` becomes) is `x[:]`, and the builtin
    `abs(x)`, which Numba takes for scalars only, is `np.abs(x)`."""
    import gast
    for node in gast.walk(tree):
        if (isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Constant)
                and node.slice.value is Ellipsis):
            node.slice = gast.Slice(lower=None, upper=None, step=None)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "abs":
            node.func = gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None),
                                       attr="abs", ctx=gast.Load())
    return tree


_LINE = re.compile(r'File "[^"]*retrograd_generated_\w+\.py", line (\d+)')


def _backend_error(exc, source, locations=None):
    """A BackendError at the user's line that generated line (Numba names it in its message) came from:
    a primal statement's own line, or the `# grad of` block an adjoint statement is in."""
    text = str(exc)
    lines = source.splitlines()
    found = _LINE.findall(text)
    where, construct = None, None
    if found:
        n = int(found[-1])
        construct = lines[n - 1].strip() if 0 < n <= len(lines) else None
        where = (locations or {}).get(n)
    first = next((l for l in text.splitlines() if l.strip()), text)
    msg = "Numba cannot compile the generated code" + (f" `{construct}`" if construct else "") + f": {first}"
    if where:
        msg += f" (from `{where.text}`)"
    err = BackendError(msg, filename=where.filename if where else None, lineno=where.lineno if where else None,
                       col=0, construct=construct, hint='use backend="python" for this function')
    err.numba_message = text
    return err
