"""The numba backend: the generated primal and adjoint, compiled to native code in nopython mode.

The generated module is written to a real `.py` file in the cache directory and imported under a name
registered in `sys.modules`, so `@njit(cache=True)` can cache compiled code on disk (Numba cannot cache
code exec'd from a string).  The file name is a hash of the generated source, the values of the user's
global constants it reads, and the retrograd and Numba versions: an edited function or a new version
never meets stale compiled code.  Compilation is lazy (at the first call), per argument types.
"""
import functools
import hashlib
import os
import re

from ..errors import BackendError, RetrogradError
from . import Traits, cache_dir as _cache_dir
from .target import Target

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
    from .numba_linalg import lower_linalg
    from .numba_tuples import lower_tuple_writes
    from .numba_gradient import lower_statistics
    from .numba_indices import lower_index_lists
    from .numba_orderstats import lower_quantiles
    from .numba_average import lower_average
    from .numba_sorting import lower_sorting
    from .numba_casts import lower_casts
    tree.decorator_list = [_njit()]
    from .numba_shape_calls import lower_shape_calls      # first: the later passes see its calls
    tree = lower_shape_calls(tree)
    tree = lower_index_lists(lower_linalg(lower_tuple_writes(lower_statistics(lower_sorting(lower_average(
        lower_quantiles(tree)))))))
    from .numba_takes import lower_takes
    tree = lower_takes(tree)
    from .numba_traces import lower_traces
    tree = lower_traces(tree)
    from .numba_layouts import lower_layout_calls
    tree = lower_layout_calls(tree)
    from .numba_dots import lower_dots
    tree = lower_dots(tree)
    return lower_layouts(lower_spellings(lower_joins(lower_rolls(lower_contractions(lower_products(lower_reductions(
        lower_casts(tree))))))))


_RELAYOUT = {"T", "transpose", "swapaxes", "moveaxis", "rollaxis"}


def _may_change_layout(value):
    """The value may be a strided (F- or A-ordered) view: a transpose or a sliced subscript."""
    import gast
    if isinstance(value, gast.Attribute):
        return value.attr in _RELAYOUT
    if isinstance(value, gast.Call):
        f = value.func
        return isinstance(f, gast.Attribute) and f.attr in _RELAYOUT
    if isinstance(value, gast.Subscript):
        idx = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        return any(isinstance(i, gast.Slice) for i in idx)
    return False


def lower_layouts(tree):
    """A typed tape holds arrays of its placeholder's layout (C-ordered): a variable that is sometimes a
    transposed or sliced view is pushed as a C-ordered copy (Numba asserts on appending an F- or
    A-ordered array to a list of C-ordered ones)."""
    import gast
    strided = {s.targets[0].id for s in gast.walk(tree)
               if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
               and _may_change_layout(s.value)}
    for node in gast.walk(tree):
        if (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "append"
                and isinstance(node.func.value, gast.Name) and node.func.value.id.endswith("_tape")
                and len(node.args) == 1 and isinstance(node.args[0], gast.Name) and node.args[0].id in strided):
            node.args = [gast.Call(func=gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None,
                                                                         type_comment=None),
                                                       attr="ascontiguousarray", ctx=gast.Load()),
                                   args=node.args, keywords=[])]
    return tree


def _njit():
    """`njit(cache=True, boundscheck=True)`: Numba does not check indices by default, and an index outside
    its axis (`y[10]` of 5 elements) would read or write whatever memory is there, a silently wrong
    result where NumPy raises IndexError (the cost is measured in docs/benchmarks.md).  The option is in
    the source, so it is in the compiled module's key."""
    import gast
    return gast.Call(func=gast.Name(id="njit", ctx=gast.Load(), annotation=None, type_comment=None),
                     args=[], keywords=[gast.keyword(arg="cache", value=gast.Constant(value=True, kind=None)),
                                        gast.keyword(arg="boundscheck", value=gast.Constant(value=True, kind=None))])


TRAITS = Traits("numba", typed=True, numpy_draws=False, mask_write_rank=1, reversed_range=False, forward_mode=True,
                plain_call=True, keyword_only=False, frozen_globals=True, second_order=False,
                container_args=False, load_forward=lambda *a: load_forward(*a),
                header="from numba import njit\nfrom retrograd.backends.numba_runtime import *", lower=_lower)


_PREFIX = "retrograd_generated_"
_TRAILER = "\n# retrograd cache key: "
_LOADED = {}


def load(program, source, title, runtime=None):
    """The generated module's namespace; `runtime`: the module whose names it runs with (numba_runtime,
    or numba_forward's for tangent code)."""
    import numba

    from .. import __version__
    from . import numba_overloads, numba_runtime, transform_cache  # noqa: F401  (registers every overload)
    memo = {}
    ns = {k: _compiled_helper(v, memo) for k, v in program.globals_for(runtime or numba_runtime).items()}
    constants = sorted((k, repr(v)) for k, v in ns.items()
                       if isinstance(v, (int, float, complex, str, bool, tuple)) and not k.startswith("__"))
    # the package stamp too: Numba's cache of the module keys on its file alone, not on the overloads it
    # calls, so an edited runtime (same version) would run the old machine code
    extra = hashlib.sha256("\n".join([repr(constants), getattr(program, "namespace_key", ""), __version__,
                                       numba.__version__, transform_cache._package_stamp()]).encode()).hexdigest()
    return _load_module(source + _TRAILER + extra + "\n", ns)


def _load_module(text, ns):
    """The module of the file whose exact bytes are `text` (generated source + key trailer): content-
    addressed, verified before it runs (cachefs.py)."""
    from . import cachefs
    source = text.split(_TRAILER)[0]
    module = cachefs.load_module("numba", _PREFIX, source, ns, _LOADED, name_data=text.encode(),
                                 memory_source=source.replace("njit(cache=True", "njit(cache=False"))
    module.__dict__["__retrograd_source__"] = source
    return module.__dict__


def load_forward(program, source, title, name):
    """Forward mode's compiled tangent function `name` of `source`, run with numba_forward's names (the
    runtime's and the helpers only tangent code calls): a callable taking the primals positionally and the
    tangents by keyword, like the python backend's, whose compile errors name the user's line."""
    from . import numba_forward
    ns = load(program, source, title, runtime=numba_forward)
    return functools.partial(_call, ns[name], source, dict(program.line_locations))


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
    if not isinstance(rows, list):
        return {}
    out = {}
    for r in rows:
        loc = Location.from_json(r[1:]) if isinstance(r, list) and r and isinstance(r[0], int) else None
        if loc is None:
            return {}
        out[r[0]] = loc
    return out


def _namespace(functions):
    """What Program.globals_for(numba_runtime) gives: the functions' globals (closures included), the
    names the rules' templates use, then the runtime's names."""
    from ..frontend.source import namespace_of
    from ..reverse.rules import registry
    from . import numba_overloads, numba_runtime  # noqa: F401  (registers every overload)
    ns, memo = {}, {}
    for f in functions:
        for k, v in namespace_of(f).items():
            ns.setdefault(k, _compiled_helper(v, memo))
    ns.update(registry.GLOBALS)
    ns.update((n, getattr(numba_runtime, n)) for n in numba_runtime.__all__)
    return ns


def _compiled_helper(v, memo):
    """A user's Python function called with no differentiated argument (`w = weights(n)`) runs inside the
    compiled code: a lazily compiled njit of it (it compiles on its first call only; what Numba cannot compile
    is refused at the calling line), whose own calls of user functions are njits of them too (`memo`: one per
    loaded module, so recursion ends and a rebound global is seen by the next load).  Library functions stay
    as they are: Numba knows np.mean by identity."""
    import types as pytypes
    module = getattr(v, "__module__", None) or ""
    if (not isinstance(v, pytypes.FunctionType) or module.split(".")[0] in _LIBRARIES
            or getattr(v, "__closure__", None)):
        return v
    if v in memo:
        return memo[v]
    from numba import njit
    scope = dict(v.__globals__)      # the helper's names, with the user functions it calls compiled as well
    copy = pytypes.FunctionType(v.__code__, scope, v.__name__, v.__defaults__)
    copy.__kwdefaults__ = v.__kwdefaults__
    memo[v] = compiled = njit(copy)
    for name in v.__code__.co_names:
        if name in scope:
            scope[name] = _compiled_helper(scope[name], memo)
    return compiled


_LIBRARIES = {"numpy", "scipy", "math", "numba", "retrograd", "builtins", "functools", "operator"}


_RUN_TIME = (IndexError, ArithmeticError)      # ZeroDivisionError, FloatingPointError, ...


def call(fn, args, source, locations=None):
    """Call a compiled function, turning Numba's compile errors into a BackendError at the user's line,
    and naming the user's line of an error the compiled code raised while it ran (`_run_time_error`)."""
    import numpy as np
    from numba.core.errors import NumbaError
    try:
        return fn(*args)
    except RetrogradError as exc:             # a rule's guard in compiled code (Numba raises it without a line)
        raise _locate_refusal(exc, fn, args, source, locations) from None
    except (_RUN_TIME + (np.linalg.LinAlgError,)) as exc:
        if _while_compiling(exc):        # Numba's compiler crashing on what it cannot type: not the user's run
            raise _backend_error(exc, source, locations) from None
        raise _run_time_error(exc, fn, args, locations) from None
    except NumbaError as exc:
        raise _backend_error(exc, source, locations) from None
    except ValueError as exc:                 # Numba's np.cross of 2-vectors: a case its NumPy lacks, at run time
        if "numba.np.extensions" not in str(exc) and not str(exc).startswith("cross: the numba backend"):
            raise _run_time_error(exc, fn, args, locations) from None     # shapes that do not match, ...
        raise _runtime_error(source, locations, "cross(", "Numba's np.cross takes 3-vectors only (the rank of the "
                             "cross product of 2-vectors depends on the run-time shape, which Numba cannot type)",
                             "np.cross", 'use backend="python" for this function') from None
    except NotImplementedError as exc:        # a lowering Numba's typing accepted but cannot generate
        if "incompatible shape for array" in str(exc):
            raise _reshape_error(source, locations) from None
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


def _run_time_error(exc, fn, args, locations):
    """`exc` (raised by compiled code, whose message names no line: `index is out of bounds`) with the
    user's line it came from: the function's Python code (`py_func`, the same generated source) runs again
    on the same arguments, and the generated line its own exception is raised at names the user's line
    (reverse/sourcemap.py).  The replay's exception is raised when it is of the same type (NumPy's message
    says more: which index, which axis); the type is kept either way.  An adjoint is not replayed: it has
    consumed its tape (the arguments it was given); its note says so."""
    from ..reverse import sourcemap
    kwargs = {}
    if isinstance(fn, functools.partial):
        fn, kwargs = fn.func, fn.keywords
    py = getattr(fn, "py_func", None)
    if py is None or getattr(exc, "retrograd_location", None) is not None:
        return exc
    if py.__name__.startswith("adjoint_"):
        sourcemap.add_note(exc, f"retrograd: raised while the compiled gradient `{py.__name__}` ran; its line is "
                     "not known on the numba backend: run it with backend=\"python\" to see the line")
        return exc
    module = py.__globals__
    compiled = {k: v for k, v in module.items() if getattr(getattr(v, "py_func", None), "__code__", None) is not None
                and v.py_func.__code__.co_filename == py.__code__.co_filename}
    try:        # the module's other generated functions (helpers' variants) replay as Python too
        module.update((k, v.py_func) for k, v in compiled.items())
        py(*args, **kwargs)
    except Exception as again:
        loc, tb = None, again.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == py.__code__.co_filename:
                loc = (locations or {}).get(tb.tb_lineno, loc)
            tb = tb.tb_next
        if loc is not None:
            # the replay's own traceback shows the generated Python line it failed at
            return sourcemap.annotate(again if type(again) is type(exc) else exc, loc)
    finally:
        module.update(compiled)
    return exc


def _locate_refusal(exc, fn, args, source, locations):
    """A RetrogradError a compiled guard raised (`MissingRuleError(_QR_WIDE)`: Numba's exceptions take constant
    arguments only, so it names no line) at the user's line: the replay of a primal or tangent function
    (`_run_time_error`), else the one user line whose generated code calls the function its message names
    (`np.linalg.qr`: `linalg_qr(`, `qr_grad(`); with several such lines, a note lists them."""
    from ..reverse import sourcemap
    if exc.lineno is not None:
        return exc
    if exc.hint is None and "; hint: " in (exc.detail or ""):      # the compiled guard's one string, split
        message, hint = exc.detail.split("; hint: ", 1)
        exc = type(exc)(message, construct=exc.construct, hint=hint)
    exc = _run_time_error(exc, fn, args, locations)
    named = re.search(r"\bnp\.(?:\w+\.)*(\w+)", exc.detail or "")
    if exc.lineno is not None or named is None:
        return exc
    call = re.compile(rf"\b(?:\w+_)?{named.group(1)}(?:_\w+)?\(")
    where = []
    for n, line in enumerate(source.splitlines(), 1):
        loc = (locations or {}).get(n)
        if loc is not None and call.search(line) and (loc.filename, loc.lineno) not in [(w.filename, w.lineno)
                                                                                          for w in where]:
            where.append(loc)
    if len(where) == 1:
        return sourcemap.annotate(exc, where[0])
    if where:
        sourcemap.add_note(exc, "retrograd: raised for one of lines " + ", ".join(f"{w.filename}:{w.lineno}"
                                                                               for w in where))
    return exc


def _reshape_error(source, locations):
    """Numba's reshape of a non-contiguous array (a transpose, a strided slice) fails at run time, where
    its message names no line: name the user's lines that reshape (the one, when there is one)."""
    return _runtime_error(source, locations, "reshape(", "Numba reshapes only contiguous arrays, and a transposed "
                          "or strided array is reshaped here", "reshape", 'use backend="python" for this function, '
                          'or reshape np.ascontiguousarray(x)')


def _runtime_error(source, locations, marker, msg, construct, hint):
    """A BackendError for an error Numba raises at run time, naming no line: the user's lines whose
    generated code contains `marker` (the one, when there is one)."""
    where = []
    for n, line in enumerate(source.splitlines(), 1):
        loc = (locations or {}).get(n)
        if marker in line and loc is not None and loc not in where:
            where.append(loc)
    if len(where) > 1:
        msg += " (at one of lines " + ", ".join(str(w.lineno) for w in where) + ")"
    first = where[0] if where else None
    return BackendError(msg + (f": `{first.text}`" if first and len(where) == 1 else ""),
                        filename=first.filename if first else None, lineno=first.lineno if first else None, col=0,
                        construct=construct, hint=hint)


def _while_compiling(exc):
    """`exc` was raised by Numba's compiler (its typing or lowering frames are on the traceback), not by
    the compiled code as it ran."""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if f"{os.sep}numba{os.sep}core{os.sep}" in name and ("compiler" in name or "typeinfer" in name):
            return True
        tb = tb.tb_next
    return False


def _raised_inside_numba(exc):
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{os.sep}numba{os.sep}" in tb.tb_frame.f_code.co_filename


def lower_spellings(tree):
    """Spellings Numba lacks: `x[...]` (what `np.copyto(x, v)` becomes) is `x[:]`, the builtin
    `abs(x)`, which Numba takes for scalars only, is `np.abs(x)`, the method `x.round(d)` is
    `np.round(x, d)` (np.trace is numba_traces' trace_axes)."""
    import gast
    for node in gast.walk(tree):
        if (isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Constant)
                and node.slice.value is Ellipsis):
            node.slice = gast.Slice(lower=None, upper=None, step=None)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "abs":
            node.func = gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None),
                                       attr="abs", ctx=gast.Load())
        if (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "round"
                and not (isinstance(node.func.value, gast.Name) and node.func.value.id in ("np", "math"))):
            node.args = [node.func.value] + node.args
            node.func = gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None),
                                       attr="round", ctx=gast.Load())
    return tree


_LINE = re.compile(r'File "[^"]*retrograd_generated_\w+\.py", line (\d+)')


def _generated_lines_in_traceback(exc):
    """The generated lines Numba was typing when its own code crashed (an internal AttributeError names
    no line in its message): its constraint-propagation frames hold the statement's `ir.Loc`."""
    lines, tb = [], exc.__traceback__
    while tb is not None:
        for v in list(tb.tb_frame.f_locals.values()):
            if type(v).__name__ == "FunctionIR":        # its loc is the `def` line
                continue
            loc = v if type(v).__name__ == "Loc" else _loc_attribute(v)
            if type(loc).__name__ == "Loc" and "retrograd_generated_" in str(getattr(loc, "filename", "")):
                lines.append(int(loc.line))
        tb = tb.tb_next
    return lines[:1]     # the outermost: the user's statement, not a line inside an inlined overload


def _loc_attribute(v):
    """`v.loc`, or None: a frame's locals include Numba's LLVM struct proxies, whose __getattr__ raises a
    KeyError for a field they lack (a raw KeyError replaced the BackendError)."""
    try:
        return getattr(v, "loc", None) if hasattr(v, "__dict__") else None
    except Exception:
        return None


def _backend_error(exc, source, locations=None):
    """A BackendError at the user's line that generated line (Numba names it in its message) came from:
    a primal statement's own line, or the `# grad of` block an adjoint statement is in."""
    text = str(exc)
    lines = source.splitlines()
    found = [int(n) for n in _LINE.findall(text)] or _generated_lines_in_traceback(exc)
    where, construct = None, None
    if found:
        n = found[-1]
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


# ---- the Target api.py calls ------------------------------------------------------------------------------

def _options(d):
    """Options besides fn/wrt/kinds that change the generated code: part of the transform cache key."""
    return tuple((k, repr(getattr(d, k))) for k in ("remat", "has_aux") if hasattr(d, k))


def _call(fn, source, locations, *args, **kwargs):
    return call(functools.partial(fn, **kwargs) if kwargs else fn, args, source, locations)   # keyword-only parameters


def _is_container(v):
    from ..runtime import is_record
    return isinstance(v, (tuple, list, dict)) or is_record(v)


def _load_driver(source, ns):
    """A Jacobian driver's module (numba_jacobians.py), content-addressed in the cache like generated code."""
    from . import cachefs
    return cachefs.load_module("numba", _PREFIX, source, ns, _LOADED,
                               memory_source=source.replace("njit(cache=True)", "njit(cache=False)")).__dict__


def _unwrap(wrapped):
    """The compiled function inside a call wrapper of this module (functools.partial(_call, fn, ...))."""
    if isinstance(wrapped, functools.partial) and wrapped.func is _call and wrapped.args:
        return wrapped.args[0]
    return None


def _jacobian_hooks():
    from .numba_jacobians import Hooks
    return Hooks(_load_driver, call, _unwrap)


class NumbaTarget(Target):
    name = "numba"
    traits = TRAITS
    freezes_globals = True     # Numba freezes globals at compile time, global arrays' contents too
    debug_checks = False

    def load(self, program, source, title):
        return load(program, source, title)

    def wrap(self, fn, source, locations):
        """Compile errors surface at the first call: report them at the user's line."""
        return functools.partial(_call, fn, source, locations)

    def cached_transform(self, diff, kinds):
        hit = load_cached_transform(diff.fn, diff.wrt, kinds, _options(diff))
        if hit is None:
            return None
        p, a, plain, source, locations = hit
        return (self.wrap(p, source, locations), self.wrap(a, source, locations), source,
                self.wrap(plain, source, locations))

    def remember_transform(self, diff, kinds, ns, primal, adjoint, locations):
        remember_transform(diff.fn, diff.wrt, kinds, ns, primal, adjoint, _options(diff), locations)

    def takes(self, value):
        return not _is_container(value)

    def jacobian_columns(self, tangent, args, position, tparam):
        from . import numba_jacobians      # a driver compiled once loops over the basis (numba_jacobians.py)
        return numba_jacobians.columns(_jacobian_hooks(), tangent, args, position, tparam)

    def jacobian_rows(self, primal, adjoint, args, positions):
        from . import numba_jacobians
        return numba_jacobians.rows(_jacobian_hooks(), primal, adjoint, args, positions)

    def refusal(self, fn_name, param, value):
        return BackendError(f"{fn_name}: backend=\"numba\" differentiates with respect to arrays "
                            f"and floats; `{param}` is a {type(value).__name__}",
                            hint="pass its arrays as separate arguments, or use backend=\"python\", which "
                                 "takes tuples, lists, dicts, NamedTuples and dataclasses (pytrees)")


TARGET = NumbaTarget()
