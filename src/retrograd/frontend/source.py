"""Read a Python function's source and parse it with gast, remembering where it came from."""
import collections
import copy
import dataclasses
import inspect
import types
import textwrap
from dataclasses import dataclass, field

import gast

from ..errors import RetrogradError, UnsupportedSyntaxError


@dataclass
class FunctionSource:
    """A parsed function plus what is needed to report errors in the user's coordinates."""

    fn: object
    node: gast.FunctionDef
    filename: str
    first_line: int          # file line of the parsed source's line 1
    col_shift: int           # columns removed by dedent
    lines: list              # the function's source lines (dedented)
    namespace: dict = field(default_factory=dict)

    @property
    def name(self):
        return self.node.name

    def where(self, node):
        """(filename, file line, column) of a node of this function's tree."""
        lineno = getattr(node, "lineno", None) or 1
        return self.filename, lineno + self.first_line - 1, (getattr(node, "col_offset", 0) or 0) + self.col_shift

    def line_text(self, node):
        lineno = getattr(node, "lineno", None)
        if lineno is None or not (1 <= lineno <= len(self.lines)):
            return ""
        return self.lines[lineno - 1].strip()

    def error(self, cls, node, message, construct=None, hint=None):
        filename, line, col = self.where(node)
        return cls(message, filename=filename, lineno=line, col=col, construct=construct, hint=hint)


def jit_source_function(obj):
    """The Python function a JIT wrapper compiles (a `@numba.njit` dispatcher's `py_func`), or None: such a
    function is differentiated, and its globals read, from that Python source."""
    py_func = getattr(obj, "py_func", None)
    if type(obj).__module__.split(".")[0] == "numba" and isinstance(py_func, types.FunctionType):
        return py_func
    return None


def namespace_of(fn):
    """The names the function body can see: its module globals plus closure values (captured now)."""
    ns = dict(fn.__globals__)
    code = fn.__code__
    if fn.__closure__:
        for var, cell in zip(code.co_freevars, fn.__closure__):
            try:
                ns[var] = cell.cell_contents
            except ValueError:  # empty cell: defined later in the enclosing scope
                pass
    return ns


_PARSED = collections.OrderedDict()   # id(code) -> (code, parsed function, filename, first line, col shift, lines)
_PARSED_MAX = 256                     # the most recently read functions (a generated adjoint is read once)


def read_function(fn):
    """Parse `fn`'s source into a FunctionSource, or raise a RetrogradError saying why it can't.

    The source of one code object is read and parsed once per process (the decoration check, the
    transform, the inliner and kind inference all ask for it); each caller gets its own copy of the tree
    to rewrite, with `fn`'s constant defaults and its namespace as they are now."""
    given = getattr(fn, "__retrograd_function_source__", None)
    if isinstance(given, FunctionSource):     # a function retrograd wrote in the user's coordinates (pytree_args)
        return dataclasses.replace(given, fn=fn, node=copy.deepcopy(given.node), namespace=dict(given.namespace))
    if not inspect.isfunction(fn):
        raise RetrogradError(
            f"retrograd differentiates Python functions defined with `def`; got {fn!r}",
            hint="decorate a module-level `def` function")
    if fn.__code__.co_name == "<lambda>":
        return _read_lambda(fn)
    code = fn.__code__
    hit = _PARSED.get(id(code))
    if hit is None or hit[0] is not code:     # the entry holds its code object: an id is never reused
        hit = _PARSED[id(code)] = (code,) + _parse(fn)
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    _PARSED.move_to_end(id(code))
    _, parsed, filename, first_line, col_shift, lines = hit
    node = copy.deepcopy(parsed)
    _constant_defaults(fn, node)
    return FunctionSource(fn=fn, node=node, filename=filename, first_line=first_line, col_shift=col_shift,
                          lines=list(lines), namespace=namespace_of(fn))


def _parse(fn):
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise RetrogradError(
            f"cannot read the source of {fn.__qualname__}: {exc}",
            hint="retrograd needs the function's source file; define it in a .py file, not in an interactive "
                 "session or with exec()") from None
    raw = "".join(lines)
    dedented = textwrap.dedent(raw)
    first_src_line = next((l for l in lines if l.strip()), "")
    col_shift = len(first_src_line) - len(first_src_line.lstrip()) if dedented != raw else 0
    filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    try:
        module = gast.parse(dedented)
    except SyntaxError as exc:
        raise UnsupportedSyntaxError(
            f"cannot parse the source of {fn.__qualname__}: {exc.msg}", filename=filename,
            lineno=(exc.lineno or 1) + first_line - 1, col=exc.offset) from None
    funcs = [n for n in module.body if isinstance(n, gast.FunctionDef)]
    if not funcs:
        raise UnsupportedSyntaxError(
            f"{fn.__qualname__} is not a plain `def` function (lambdas cannot be differentiated)",
            filename=filename, lineno=first_line, col=0, construct="lambda",
            hint="write the function with `def name(...):` at module level")
    node = funcs[0]
    node.decorator_list = []
    return node, filename, first_line, col_shift, tuple(dedented.splitlines())


def _read_lambda(fn):
    """A lambda's source is an expression inside some other statement: parse its whole file and find the
    lambda whose body spans the positions of `fn`'s bytecode (two lambdas on one line are told apart by
    column), then present it as `def lambda(params): return body`, in the file's own coordinates."""
    import linecache
    code = fn.__code__
    filename = inspect.getsourcefile(fn) or code.co_filename
    lines = linecache.getlines(filename, fn.__globals__)
    where = dict(filename=filename, lineno=code.co_firstlineno, col=0, construct="lambda")
    if not lines:
        raise RetrogradError(f"cannot read the source of the lambda at {filename}:{code.co_firstlineno}",
                             hint="retrograd needs the function's source file; define it in a .py file", **where)
    try:
        module = gast.parse("".join(lines))
    except SyntaxError as exc:
        raise UnsupportedSyntaxError(f"cannot parse {filename}: {exc.msg}", **where) from None
    params = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    positions = code.co_positions() if hasattr(code, "co_positions") else ()    # Python >= 3.11
    spots = [(l, c) for l, _, c, e in positions if l is not None and c is not None and e is not None
             and (l, c) != (code.co_firstlineno, 0)]
    found = []
    for node in gast.walk(module):
        if not isinstance(node, gast.Lambda) or node.lineno != code.co_firstlineno:
            continue
        a = node.args
        if [x.id for x in a.posonlyargs + a.args + a.kwonlyargs] != params:
            continue
        body = node.body
        start, end = (body.lineno, body.col_offset), (body.end_lineno, body.end_col_offset)
        if all(start <= s < end for s in spots):
            found.append(node)
    # a lambda inside another one: the innermost lambda that holds all the positions is this one
    found.sort(key=lambda n: (n.end_lineno - n.lineno, n.end_col_offset - n.col_offset))
    if not found:
        raise UnsupportedSyntaxError(f"cannot find the source of the lambda at {filename}:{code.co_firstlineno}",
                                     hint="write it as a `def`", **where)
    if len(found) > 1 and not spots:
        raise UnsupportedSyntaxError(f"cannot tell apart the lambdas on {filename}:{code.co_firstlineno}",
                                     hint="put them on separate lines, or write a `def`", **where)
    lam = found[0]
    ret = gast.Return(value=lam.body)
    gast.copy_location(ret, lam.body)
    node = gast.FunctionDef(name="lambda", args=lam.args, body=[ret], decorator_list=[], returns=None,
                            type_comment=None, **({"type_params": []} if "type_params" in gast.FunctionDef._fields
                                                  else {}))
    gast.copy_location(node, lam)
    _constant_defaults(fn, node)
    return FunctionSource(fn=fn, node=node, filename=filename, first_line=1, col_shift=0,
                          lines=[l.rstrip("\n") for l in lines], namespace=namespace_of(fn))


def _constant_defaults(fn, node):
    """Defaults that are plain numbers or strings are written as their values: the expression
    (`lambda v, k=k: ...` in a loop, `c=scale` of an enclosing function) names something the generated
    module cannot see, and the value is what the function uses anyway."""
    plain = (bool, int, float, complex, str, bytes, type(None))
    args = node.args
    values = list(fn.__defaults__ or ())
    if len(values) == len(args.defaults):
        args.defaults = [gast.copy_location(gast.Constant(value=v, kind=None), d) if isinstance(v, plain) else d
                         for d, v in zip(args.defaults, values)]
    kw = fn.__kwdefaults__ or {}
    args.kw_defaults = [gast.copy_location(gast.Constant(value=kw[a.id], kind=None), d)
                        if d is not None and isinstance(kw.get(a.id, ()), plain) else d
                        for a, d in zip(args.kwonlyargs, args.kw_defaults)]
