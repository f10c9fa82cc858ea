"""What generated code reads from the user's namespaces, and a cheap per-call check that it is unchanged.

The generated module runs in a *copy* of the user's globals (merged over the function and its helpers,
plus closure cells), and Numba freezes every global it reads as a compile-time constant.  So instead of
reading live, every compiled variant carries a `Reads`: one slot per global name, closure cell and
user-module attribute (`mymod.K`) that the function and, recursively, its helpers load (found in their
bytecode), with the object each slot held when the code was generated.  Each call re-reads the slots
(a dict lookup each, about a microsecond in all) and compares identities:

- a changed helper function, module, or a value that changed type or rank: the code is regenerated;
- a changed plain value (float -> float, array -> array of the same rank): on python the namespace is
  updated (a new copy, so outstanding pullbacks keep the values their forward pass used); on numba the
  module is regenerated, since its name and Numba's cache are keyed by `content_key`.

Global arrays mutated in place keep their identity: the python backend reads them live (the copied
namespace holds the same object), and Numba, which would freeze them, has them keyed by content (a
digest in the module name; on every call their bytes are compared with a copy kept at compile time: a
memcmp, O(size), paid only for arrays that are globals).
Attribute chains into library modules (`np.pi`, `np.linalg.norm`) are not slots: they cost nothing.
"""
import builtins
import dis
import hashlib
import operator
import types

import numpy as np

from .source import jit_source_function

_MISSING = object()
_LIBRARY = ("numpy", "math", "builtins", "scipy", "operator", "_operator", "retrograd", "numba")
_PLAIN = (bool, int, float, complex, str, bytes, type(None), np.generic, np.ndarray)
_LOADS_GLOBAL = {"LOAD_GLOBAL", "LOAD_NAME"}
_LOADS_ATTR = {"LOAD_ATTR", "LOAD_METHOD"}


def _is_library_module(v):
    return isinstance(v, types.ModuleType) and v.__name__.split(".")[0] in _LIBRARY


def _user_function(v):
    inner = getattr(v, "__wrapped_retrograd__", None)   # a Differentiable used as a helper
    v = inner if inner is not None else v
    v = jit_source_function(v) or v                     # a @numba.njit helper: its globals count too
    if isinstance(v, types.FunctionType) and (v.__module__ or "").split(".")[0] not in _LIBRARY:
        return v
    return None


def _loads(code):
    """(global names, module attribute chains) that `code` and the code nested in it load."""
    names, chains = set(), set()
    chain = None
    for ins in dis.get_instructions(code):
        if ins.opname in _LOADS_GLOBAL:
            names.add(ins.argval)
            chain = [ins.argval]
            continue
        if ins.opname in _LOADS_ATTR and chain is not None:
            chain.append(ins.argval)
            chains.add(tuple(chain))
            continue
        chain = None
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            n, ch = _loads(c)
            names |= n
            chains |= ch
    return names, chains


def _chain_value(mod, attrs):
    v = mod
    for a in attrs:
        v = getattr(v, a, _MISSING)
        if v is _MISSING:
            return v
    if isinstance(v, types.MethodType):     # a new bound method per read: its function is what counts
        return v.__func__
    return v


def _object_slot(v):
    """A global whose attributes the code reads and that is not a module or data: a namespace object, an
    instance or a class (`CFG.act(x)`, `Acts.act(x)`), whose attributes can be rebound after the first call.
    Arrays and numbers are data: their attributes (`.shape`, `.T`) follow from what is checked already."""
    return not (v is None or isinstance(v, (types.ModuleType, np.ndarray) + _PLAIN) or callable(v) and
                not isinstance(v, type) or isinstance(v, (tuple, list, dict)))


class Reads:
    """The slots read by functions `fns` (and their helpers), with the values they hold now."""

    def __init__(self, fns):
        from .resolve import CUSTOM
        self._custom = CUSTOM
        self.globals = []     # (globals dict, name)
        self.cells = []       # (name, cell)
        self.attrs = []       # (label, module, attrs)
        self.customs = []     # ids of user functions whose custom rule (or its absence) counts
        self.functions = []   # the user functions themselves: `f.__defaults__ = ...` or `f.__code__ = ...`
        self._seen = set()    # rebinds an attribute of the same object, which the code was generated from
        for fn in fns:
            self._visit(fn)
        self._n_globals = len(self.globals)
        self._gets = [(g.get, n) for g, n in self.globals]
        self.values = self.read()

    # ---- collection (once per generated variant) ------------------------------------------------------
    def _visit(self, fn):
        if id(fn) in self._seen:
            return
        self._seen.add(id(fn))
        g = fn.__globals__
        names, chains = _loads(fn.__code__)
        for name in sorted(names):
            if (id(g), name) not in self._seen:        # helpers of one module share its globals
                self._seen.add((id(g), name))
                self.globals.append((g, name))
                self._follow(g.get(name, getattr(builtins, name, None)))
        if fn.__closure__:
            for var, cell in zip(fn.__code__.co_freevars, fn.__closure__):
                self.cells.append((var, cell))
                try:
                    self._follow(cell.cell_contents)
                except ValueError:
                    pass
        for root, *attrs in sorted(chains):
            mod = g.get(root)
            if _object_slot(mod):       # CFG.act, Acts.act: an attribute of a user object or class
                self.attrs.append((".".join([root] + attrs), mod, tuple(attrs)))
                self._follow(_chain_value(mod, attrs))
                continue
            path = []
            for a in attrs:          # pkg.sub.K: the slot is the first non-module along the chain
                if not isinstance(mod, types.ModuleType) or _is_library_module(mod):
                    break
                path.append(a)
                nxt = getattr(mod, a, _MISSING)
                if not isinstance(nxt, types.ModuleType) or _is_library_module(nxt):
                    self.attrs.append((".".join([root] + path), g[root], tuple(path)))
                    self._follow(nxt)
                    break
                mod = nxt
        self.customs.append(id(fn))
        self.functions.append(fn)
        if id(fn) in self._custom:
            self._visit(self._custom[id(fn)][1])

    def _follow(self, v):
        if isinstance(v, tuple):
            for e in v:
                self._follow(e)
            return
        f = _user_function(v)
        if f is not None:
            self._visit(f)
        elif id(v) in self._custom:          # a library function given a custom rule
            self._visit(self._custom[id(v)][1])

    # ---- the per-call check --------------------------------------------------------------------------
    def read(self):
        """The current value of every slot, as a list (identities are compared, never values)."""
        missing = _MISSING
        out = [get(n, missing) for get, n in self._gets]
        for _, cell in self.cells:
            try:
                out.append(cell.cell_contents)
            except ValueError:
                out.append(missing)
        if self.attrs:
            out += [_chain_value(m, a) for _, m, a in self.attrs]
        out += map(self._custom.get, self.customs)     # a rule registered (or replaced) later
        for f in self.functions:                       # the same function with new defaults or code
            out += (f.__code__, f.__defaults__, f.__kwdefaults__)
        return out

    def changed(self, now):
        """Indices of the slots whose object differs from the one the code was generated with."""
        if all(map(operator.is_, now, self.values)):
            return ()
        return [i for i, (a, b) in enumerate(zip(now, self.values)) if a is not b]

    def label(self, i):
        if i < self._n_globals:
            return self.globals[i][1]
        i -= self._n_globals
        if i < len(self.cells):
            return self.cells[i][0]
        i -= len(self.cells)
        if i < len(self.attrs):
            return self.attrs[i][0]
        i -= len(self.attrs)
        if i < len(self.customs):
            return "a custom rule"
        return f"the code or defaults of {self.functions[(i - len(self.customs)) // 3].__qualname__}"

    def is_name(self, i):
        """Whether slot i is a global or closure name (held in the generated code's namespace)."""
        return i < self._n_globals + len(self.cells)

    def plain_change(self, i, new):
        """A changed value the generated code does not depend on structurally (same type and rank)."""
        old = self.values[i]
        if i >= self._n_globals + len(self.cells) + len(self.attrs):
            return False
        return _same_shape_of_data(old, new)

    def arrays(self, values=None):
        """(label, array) for every global array (also inside global tuples) the code reads."""
        values = self.values if values is None else values
        out = []
        for i, v in enumerate(values[: self._n_globals + len(self.cells) + len(self.attrs)]):
            _collect_arrays(self.label(i), v, out)
        return out


def _same_shape_of_data(old, new):
    if type(old) is not type(new):
        return False
    if isinstance(old, tuple):
        return len(old) == len(new) and all(_same_shape_of_data(a, b) for a, b in zip(old, new))
    if isinstance(old, np.ndarray):
        return old.ndim == new.ndim and old.dtype == new.dtype
    return isinstance(old, _PLAIN)


def _collect_arrays(label, v, out):
    if isinstance(v, np.ndarray):
        out.append((label, v))
    elif isinstance(v, tuple):
        for e in v:
            _collect_arrays(label, e, out)


def digest(a):
    """A digest of an array's dtype, shape and bytes."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(np.ascontiguousarray(a)).cast("B"))
    return h.digest()


def contents(reads, values=None):
    """(label, array, shape, dtype, bytes) of each global array read: an exact copy, since comparing
    bytes is a memcmp, ~15x faster than hashing them (0.1 us for 16 floats, 1.5 ms for 1e6)."""
    return [(label, a, a.shape, a.dtype, a.tobytes()) for label, a in reads.arrays(values)]


def changed_arrays(saved):
    """Labels of the arrays of `saved` (a `contents` result) whose contents changed since."""
    return [label for label, a, shape, dtype, data in saved
            if a.shape != shape or a.dtype != dtype or a.tobytes() != data]


def content_key(reads):
    """A stable text of every value the code reads (for keys that must hold across processes): scalars by
    repr, arrays by digest, functions and modules by name (their source is keyed elsewhere)."""
    parts = []
    for i, v in enumerate(reads.values):
        parts.append(f"{reads.label(i)}={_describe(v)}")
    return "\n".join(parts)


def _describe(v):
    if isinstance(v, np.ndarray):
        return "array:" + digest(v).hex()
    if isinstance(v, tuple):
        return "(" + ",".join(_describe(e) for e in v) + ")"
    if v is _MISSING:
        return "<missing>"
    if isinstance(v, _PLAIN):
        return f"{type(v).__name__}:{v!r}"
    if isinstance(v, types.ModuleType):
        return "module:" + v.__name__
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):     # keyword-only defaults
        return "{" + ",".join(f"{k}:{_describe(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, types.CodeType):        # a function's code (its source is keyed elsewhere)
        return f"code:{v.co_filename}:{v.co_firstlineno}:{v.co_qualname}:{hashlib.sha256(v.co_code).hexdigest()[:16]}"
    name = getattr(v, "__qualname__", None) or getattr(v, "__name__", None)
    if name:
        return f"{type(v).__name__}:{getattr(v, '__module__', '')}.{name}"
    return f"{type(v).__name__}@{id(v)}"      # not stable across processes: such keys simply miss


def rebind(ns, names):
    """A copy of a generated module's namespace with `names` ({name: value}) rebound; the functions it
    defined are re-created over the copy, so code already handed out (a pullback) keeps the old one."""
    new = dict(ns)
    new.update(names)
    for k, v in ns.items():
        if isinstance(v, types.FunctionType) and v.__globals__ is ns:
            f = types.FunctionType(v.__code__, new, v.__name__, v.__defaults__, v.__closure__)
            f.__kwdefaults__ = v.__kwdefaults__
            f.__dict__.update(v.__dict__)
            new[k] = f
    return new
