"""Refuse what retrograd cannot differentiate, at decoration time, with the user's line and a way out."""
import gast

from ..errors import UnsupportedSyntaxError

# construct -> (what it is, what to write instead)
_REFUSED = {
    gast.ClassDef: ("a class definition", "define classes outside the differentiated function"),
    gast.FunctionDef: ("a nested function definition", "move the helper to module level; retrograd "
                                                        "differentiates module-level helpers it calls"),
    gast.AsyncFunctionDef: ("an async function", "use a plain `def` function"),
    gast.Lambda: ("a lambda", "define a module-level `def` helper instead"),
    gast.Try: ("a try statement", "move error handling outside the differentiated function"),
    gast.With: ("a with statement", "move the `with` block outside the differentiated function"),
    gast.AsyncWith: ("an async with statement", "move it outside the differentiated function"),
    gast.AsyncFor: ("an async for loop", "use a plain `for` loop"),
    gast.Global: ("a global statement", "pass the value in as an argument and return the new value"),
    gast.Nonlocal: ("a nonlocal statement", "pass the value in as an argument and return the new value"),
    gast.Yield: ("a generator (yield)", "return a value or an array instead of yielding"),
    gast.YieldFrom: ("a generator (yield from)", "return a value or an array instead of yielding"),
    gast.Await: ("await", "use synchronous code"),
    gast.ListComp: ("a list comprehension", "write a for loop that fills an array: "
                                           "`y = np.zeros(n)` then `y[i] = ...`"),
    gast.SetComp: ("a set comprehension", "write a for loop"),
    gast.DictComp: ("a dict comprehension", "write a for loop"),
    gast.GeneratorExp: ("a generator expression", "write a for loop, or use a NumPy reduction such as np.sum"),
    gast.Delete: ("a del statement", "drop the del; retrograd manages the lifetime of values"),
    gast.Raise: ("a raise statement", "check inputs before calling the differentiated function"),
    gast.Assert: ("an assert statement", "check inputs before calling the differentiated function"),
    gast.Import: ("an import inside the function", "import at module level"),
    gast.ImportFrom: ("an import inside the function", "import at module level"),
    gast.Starred: ("star-unpacking (*args)", "pass and unpack a fixed number of values explicitly"),
    gast.NamedExpr: ("an assignment expression (:=)", "assign on its own line"),
    gast.JoinedStr: ("an f-string", "format strings outside the differentiated function"),
    gast.Set: ("a set literal", "use a tuple or an array"),
}
if hasattr(gast, "Match"):
    _REFUSED[gast.Match] = ("a match statement", "use if/elif/else")
if hasattr(gast, "TryStar"):
    _REFUSED[gast.TryStar] = ("a try statement", "move error handling outside the differentiated function")

# Methods that mutate a container in place: the adjoint would not see the change.
MUTATING_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "fill",
                    "resize", "update", "setdefault", "popitem", "put", "itemset", "setfield", "partition"}


def check_function(src):
    """Raise UnsupportedSyntaxError for the first construct of `src` retrograd refuses."""
    fn = src.node
    args = fn.args
    if args.vararg is not None or args.kwarg is not None:
        node = args.vararg or args.kwarg
        raise src.error(UnsupportedSyntaxError, node if hasattr(node, "lineno") else fn,
                        "variable arguments (*args / **kwargs) cannot be differentiated",
                        construct="*args", hint="list the parameters explicitly")
    for stmt in fn.body:
        _check(src, stmt)


def _check(src, root):
    for node in gast.walk(root):
        kind = _REFUSED.get(type(node))
        if kind is not None:
            what, instead = kind
            raise src.error(UnsupportedSyntaxError, node, f"{what} is not supported in a differentiated function",
                            construct=type(node).__name__, hint=instead)
        if isinstance(node, (gast.For, gast.While)) and node.orelse:
            raise src.error(UnsupportedSyntaxError, node, "a loop `else:` clause is not supported",
                            construct="for-else", hint="use a flag variable set before `break`")
        if isinstance(node, gast.Assign):
            for t in node.targets:
                _check_target(src, t)
        if isinstance(node, gast.AugAssign):
            _check_target(src, node.target)
            if not isinstance(node.op, (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.MatMult)):
                raise src.error(UnsupportedSyntaxError, node,
                                f"augmented assignment with {type(node.op).__name__} is not supported",
                                construct="AugAssign", hint="write `x = x <op> y`")
        if isinstance(node, gast.AnnAssign):
            raise src.error(UnsupportedSyntaxError, node, "annotated assignment is not supported",
                            construct="AnnAssign", hint="drop the annotation")
        if isinstance(node, gast.Call):
            f = node.func
            if isinstance(f, gast.Attribute) and f.attr in MUTATING_METHODS and not _is_module_like(f.value):
                raise src.error(UnsupportedSyntaxError, node,
                                f"the in-place method .{f.attr}() is not supported",
                                construct=f".{f.attr}()",
                                hint="build a new value instead, e.g. `y = np.concatenate(...)` or write "
                                     "into a preallocated array with `y[i] = ...`")
            for kw in node.keywords:
                if kw.arg == "out":
                    raise src.error(UnsupportedSyntaxError, node, "`out=` writes the result into an existing array, "
                                    "which the adjoint would not see", construct="out=",
                                    hint="assign the result instead: `y = np.exp(x)`, or `y[...] = np.exp(x)` to "
                                         "write into y")
                if kw.arg is None:
                    raise src.error(UnsupportedSyntaxError, node, "**kwargs in a call is not supported",
                                    construct="**kwargs", hint="pass keyword arguments explicitly")


def _is_module_like(node):
    # `np.random.shuffle` etc. are module functions, not methods; let resolution decide.
    return isinstance(node, gast.Name) and node.id in {"np", "numpy", "math"}


def _check_target(src, t):
    if isinstance(t, gast.Attribute):
        raise src.error(UnsupportedSyntaxError, t, "assignment to an attribute is not supported",
                        construct="attribute assignment", hint="use a local variable or an array element")
    if isinstance(t, (gast.Tuple, gast.List)):
        for e in t.elts:
            if isinstance(e, (gast.Tuple, gast.List)):
                raise src.error(UnsupportedSyntaxError, e, "nested tuple unpacking is not supported",
                                construct="nested unpacking", hint="unpack in two steps")
            _check_target(src, e)


def assigned_array(src, s):
    """The variable an assignment `s` (normalized: one target) writes: `x` for `x = ...`, `A` for `A[i] = ...`;
    a chained subscript write (`A[i][j] = v`) or another target is refused at its line."""
    from .. import astutil as A
    target = s.targets[0]
    if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Subscript):
        raise src.error(UnsupportedSyntaxError, target, "writing through a chained subscript (`A[i][j] = v`) is "
                        "not supported", construct="subscript assignment", hint="write `A[i, j] = v`")
    tname = target.id if isinstance(target, gast.Name) else A.subscript_base(target)
    if tname is None:
        raise src.error(UnsupportedSyntaxError, target, "unsupported assignment target", construct="assignment")
    return tname
