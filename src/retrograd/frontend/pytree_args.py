"""Container arguments (pytrees) flattened at the boundary, for targets whose compiled code takes arrays and
numbers only (Traits.container_args is False).

`f(params, x)` called with `params = {"W": W, "b": b}` is differentiated as its *flat twin*
`f(params_W, params_b, x)`: the same function, with each read of a container argument through constant
keys (`params["W"]`, `p.field`, `p[0]`, nested) replaced by the leaf's parameter, and a tuple or list read
whole (`for w in ws`, `ws[i]`, `len(ws)`) replaced by the tuple of its leaves.  The caller's values are
flattened the same way, and the gradients rebuilt into the arguments' structure.  Anything else done with
a container (a dict read with a computed key, a container passed whole to a helper or written into) is
refused at its line, with a hint to use backend="python", which takes pytrees as they are.

The twin is a real function (its signature and globals are the user's; its closure cells are the user's
cells) whose source, for the transform, is the rewritten tree in the user's coordinates: error messages
and `# grad of` comments name the user's own lines.
"""
import copy
import keyword
import re
import types

import gast
import numpy as np

from ..errors import BackendError
from ..runtime import is_record, record_fields


# ---- structure ---------------------------------------------------------------------------------------
def is_container(v):
    return isinstance(v, (tuple, list, dict)) or is_record(v)


class Spec:
    """The structure of one argument: a leaf, or a container with keys and child specs.  `keys` are what a
    constant subscript reads (positions, dict keys); `fields` what an attribute reads (records)."""

    def __init__(self, kind, type_=None, keys=(), children=(), fields=()):
        self.kind, self.type, self.keys, self.children, self.fields = kind, type_, tuple(keys), list(children), tuple(fields)

    @property
    def leaf(self):
        return self.kind == "leaf"

    def key(self):
        """Hashable: the structure the twin is generated for (the leaves' kinds are the compiler's)."""
        if self.leaf:
            return "leaf"
        return (self.kind, self.type, self.keys, self.fields, tuple(c.key() for c in self.children))

    def child(self, step):
        """The child a constant step reads (("item", k) or ("attr", name)), or None."""
        how, k = step
        if how == "attr":
            return self.children[self.fields.index(k)] if k in self.fields else None
        if self.kind in ("tuple", "list", "namedtuple") and isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            n = len(self.children)
            return self.children[k % n] if -n <= k < n else None
        if self.kind == "dict" and k in self.keys:
            return self.children[self.keys.index(k)]
        return None

    def sequence(self):
        return self.kind in ("tuple", "list", "namedtuple")


def spec_of(v):
    if isinstance(v, dict):
        return Spec("dict", dict, list(v), [spec_of(e) for e in v.values()])
    if is_record(v):
        fields = record_fields(v)
        kind = "namedtuple" if isinstance(v, tuple) else "dataclass"
        keys = range(len(fields)) if kind == "namedtuple" else ()
        return Spec(kind, type(v), keys, [spec_of(e) for e in fields.values()], fields=list(fields))
    if isinstance(v, (tuple, list)):
        return Spec(type(v).__name__ if type(v) in (tuple, list) else ("tuple" if isinstance(v, tuple) else "list"),
                    type(v), range(len(v)), [spec_of(e) for e in v])
    return Spec("leaf")


def leaves(v, spec):
    if spec.leaf:
        return [v]
    values = list(record_fields(v).values()) if is_record(v) else list(v.values()) if isinstance(v, dict) else list(v)
    return [x for e, s in zip(values, spec.children) for x in leaves(e, s)]


def rebuild(items, spec, like_value):
    """The gradient of `like_value` (of structure `spec`) from its leaves' gradients, in leaf order."""
    from ..runtime import like
    it = iter(items)

    def build(s):
        if s.leaf:
            return next(it)
        parts = [build(c) for c in s.children]
        if s.kind == "dict":
            return dict(zip(s.keys, parts))
        if s.kind in ("namedtuple", "dataclass"):
            return dict(zip(s.fields, parts))
        return parts
    return like(build(spec), like_value)


# ---- the twin's source --------------------------------------------------------------------------------
def _ident(text):
    text = re.sub(r"\W", "_", str(text)).strip("_") or "k"
    return text


class _Rewrite(gast.NodeTransformer):
    def __init__(self, src, specs, names):
        # param (or alias of a part of one) -> Spec; -> [leaf names]
        self.src, self.specs, self.names = src, dict(specs), dict(names)
        self.stores = {}
        for n in gast.walk(src.node):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                self.stores[n.id] = self.stores.get(n.id, 0) + 1

    def generic_visit(self, node):
        node = super().generic_visit(node)
        if isinstance(node, (gast.If, gast.For, gast.While, gast.With)) and not node.body:
            node.body = [gast.Pass()]      # its only statement bound an alias
        return node

    def visit_Assign(self, node):
        """`first = t["layers"][0]` (a part of a container argument, bound once): `first` is an alias of
        those leaves, and the statement goes."""
        t = node.targets[0]
        if len(node.targets) == 1 and isinstance(t, gast.Name) and self.stores.get(t.id) == 1 \
                and t.id not in self.specs:
            part = self.part(node.value)
            if part is not None and not part[0].leaf:
                self.specs[t.id], self.names[t.id] = part
                return None
        return self.generic_visit(node)

    def visit_For(self, node):
        """`for w in ws:` over a tuple or list argument is unrolled, one copy of the body per entry (`w = ws_0`,
        ...; an entry that is itself a container is an alias): the entries may differ in shape, as an MLP's
        layers do, which no typed loop over them could express."""
        part = self.part(node.iter)
        if part is None or part[0].leaf or not part[0].sequence() or node.orelse or _jumps(node.body):
            return self.generic_visit(node)
        spec, names = part
        out, i = [], 0
        for child in spec.children:
            n = _count(child)
            leaf_names, i = names[i:i + n], i + n
            out += self.bind(node.target, child, leaf_names, node)
            out += _block(self, copy.deepcopy(node.body))
        return out or [gast.copy_location(gast.Pass(), node)]

    def bind(self, target, spec, leaf_names, at):
        """Statements binding the loop target to one entry (none for an alias)."""
        if isinstance(target, gast.Name) and not spec.leaf and self.stores.get(target.id) == 1:
            self.specs[target.id], self.names[target.id] = spec, leaf_names
            return []
        value = self.whole(at.iter, spec, leaf_names)
        return [gast.copy_location(gast.Assign(targets=[copy.deepcopy(target)], value=value, type_comment=None),
                                   at)]

    def visit_Call(self, node):
        """`len(p)` of a container argument (or a part of one) is a constant."""
        if isinstance(node.func, gast.Name) and node.func.id == "len" and len(node.args) == 1 \
                and not node.keywords and "len" not in self.stores and "len" not in self.src.namespace:
            part = self.part(node.args[0])
            if part is not None and not part[0].leaf:
                return gast.copy_location(gast.Constant(value=len(part[0].children), kind=None), node)
        return self.generic_visit(node)

    def refuse(self, node, what):
        raise self.src.error(BackendError, node, f"{what}; this backend takes container arguments (pytrees) "
                             "only read through constant keys, fields and positions, or a tuple or list as a whole",
                             construct=_unparse(node), hint='use backend="python", which takes pytrees as they are, '
                                                            'or pass the arrays as separate arguments')

    def chain(self, node):
        """(param, steps) when `node` is `p`, `p[k]`, `p.f`, ... with constant keys; else None."""
        steps = []
        while True:
            if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Constant):
                steps.append(("item", node.slice.value))
                node = node.value
            elif isinstance(node, gast.Subscript) and isinstance(node.slice, gast.UnaryOp) and \
                    isinstance(node.slice.op, gast.USub) and isinstance(node.slice.operand, gast.Constant):
                steps.append(("item", -node.slice.operand.value))
                node = node.value
            elif isinstance(node, gast.Attribute):
                steps.append(("attr", node.attr))
                node = node.value
            else:
                break
        if isinstance(node, gast.Name) and node.id in self.specs:
            return node.id, list(reversed(steps))
        return None

    def resolve(self, node):
        """The replacement of a container read at `node`, or None when `node` reads no container argument."""
        part = self.part(node)
        return self.whole(node, *part) if part is not None else None

    def part(self, node):
        """(Spec, leaf names) of the part of a container argument `node` reads through constant steps, or
        None when it reads none (or reads further into what those steps give: `p["W"][0]`)."""
        found = self.chain(node)
        if found is None:
            return None
        p, steps = found
        spec, leaf_names = self.specs[p], list(self.names[p])
        used = 0
        for step in steps:
            if spec.leaf:
                break
            child = spec.child(step)
            if child is None:
                if step[0] == "attr" and spec.kind not in ("namedtuple", "dataclass"):
                    break          # a method of the container itself (`ws.index`): its bare use decides
                self.refuse(node, f"`{_unparse(node)}` reads a key or field the argument `{p}` does not have")
            # the leaves of the children before this one
            k = spec.children.index(child) if step[0] == "attr" else (
                spec.keys.index(step[1]) if spec.kind == "dict" else step[1] % len(spec.children))
            offset = sum(_count(c) for c in spec.children[:k])
            leaf_names = leaf_names[offset:offset + _count(child)]
            spec, used = child, used + 1
        if used < len(steps):
            return None            # the outer steps are read from what the inner ones resolve to
        return spec, leaf_names

    def whole(self, node, spec, leaf_names):
        if spec.leaf:
            return gast.Name(id=leaf_names[0], ctx=gast.Load(), annotation=None, type_comment=None)
        if spec.sequence():
            out, i = [], 0
            for c in spec.children:
                n = _count(c)
                out.append(self.whole(node, c, leaf_names[i:i + n]))
                i += n
            return gast.Tuple(elts=out, ctx=gast.Load())
        self.refuse(node, f"`{_unparse(node)}` uses a {spec.type.__name__} argument as a whole")

    def visit_Name(self, node):
        if node.id in self.specs:
            if not isinstance(node.ctx, gast.Load):
                self.refuse(node, f"`{node.id}` (a container argument) is assigned")
            return gast.copy_location(self.resolve(node), node)
        return node

    def _visit_read(self, node):
        if not isinstance(node.ctx, gast.Load) and self.chain(node) is not None:
            inner = node.value
            part = self.part(inner) if isinstance(node, gast.Subscript) else None
            if part is not None and part[0].leaf:     # `p["W"][0] = v`: a write into a leaf array
                node.value = gast.copy_location(self.whole(inner, *part), inner)
                node.slice = self.visit(node.slice)
                return node
            self.refuse(node, f"`{_unparse(node)}` writes into a container argument")
        new = self.resolve(node)
        if new is not None:
            return gast.copy_location(new, node)
        return self.generic_visit(node)

    visit_Subscript = _visit_read
    visit_Attribute = _visit_read


def _jumps(stmts):
    """Does a `break` or `continue` of this loop occur in its body (not in a loop nested in it)?"""
    for s in stmts:
        if isinstance(s, (gast.Break, gast.Continue)):
            return True
        if isinstance(s, (gast.If, gast.With, gast.Try)):
            if any(_jumps(getattr(s, f, None) or []) for f in ("body", "orelse", "finalbody")):
                return True
            if isinstance(s, gast.Try) and any(_jumps(h.body) for h in s.handlers):
                return True
    return False


def _block(rewrite, stmts):
    """The statements rewritten (an alias's binding is dropped: a block left empty gets a `pass`)."""
    out = []
    for s in stmts:
        new = rewrite.visit(s)
        out += new if isinstance(new, list) else [new] if new is not None else []
    return out or [gast.Pass()]


def _count(spec):
    return 1 if spec.leaf else sum(_count(c) for c in spec.children)


def _unparse(node):
    from ..astutil import unparse
    try:
        return unparse(node).strip()[:60]
    except Exception:  # noqa: BLE001  (only for a message)
        return type(node).__name__


def _leaf_names(spec, base, taken):
    out = []

    def walk(s, name):
        if s.leaf:
            n, k = name, 2
            while n in taken or keyword.iskeyword(n):
                n, k = f"{name}_{k}", k + 1
            taken.add(n)
            out.append(n)
            return
        labels = s.fields if s.kind in ("namedtuple", "dataclass") else s.keys
        for c, lab in zip(s.children, labels):
            walk(c, f"{name}_{_ident(lab)}")
    walk(spec, base)
    return out


class Twin:
    """The flat twin of `fn` for the container structure `specs` ({param: Spec} of its container
    arguments): `fn` (a real function), `params` (its parameter names) and `names` ({param: leaf names})."""

    def __init__(self, user_fn, specs):
        from .. import astutil as A
        from .source import read_function
        src = read_function(user_fn)
        node = src.node
        taken = A.all_names(node) | set(specs)
        self.specs = specs
        self.names = {p: _leaf_names(s, p, taken) for p, s in specs.items()}
        args = node.args
        params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        node.body = _block(_Rewrite(src, specs, self.names), node.body)
        flat = []
        for p in params:
            flat += self.names[p] if p in specs else [p]
        self.params = flat
        node.args = gast.arguments(args=[gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
                                         for p in flat], posonlyargs=[], vararg=None, kwonlyargs=[],
                                   kw_defaults=[], kwarg=None, defaults=[])
        self.src = src
        self.fn = _function(node, user_fn, src)
        self.fn.__retrograd_function_source__ = src       # read_function hands out copies of this tree

    def flat_args(self, bound_args):
        """The twin's positional arguments from the user's bound arguments ({param: value})."""
        out = []
        for p, v in bound_args.items():
            out += leaves(v, self.specs[p]) if p in self.specs else [v]
        return out


def _function(node, user_fn, src):
    """A real function of the rewritten tree: the user's globals and (by name) closure cells."""
    free = list(user_fn.__code__.co_freevars)
    fdef = copy.deepcopy(node)
    fdef.decorator_list = []
    if free:     # compiled inside a function binding the same names, so they are free variables again
        outer = gast.FunctionDef(name="__rg_outer__", args=gast.arguments(args=[], posonlyargs=[], vararg=None,
                                 kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
                                 body=[gast.Assign(targets=[gast.Name(id=v, ctx=gast.Store(), annotation=None,
                                                                      type_comment=None)],
                                                   value=gast.Constant(value=None, kind=None), type_comment=None)
                                       for v in free] + [fdef],
                                 decorator_list=[], returns=None, type_comment=None,
                                 **({"type_params": []} if "type_params" in gast.FunctionDef._fields else {}))
        module = gast.Module(body=[outer], type_ignores=[])
    else:
        module = gast.Module(body=[fdef], type_ignores=[])
    tree = gast.gast_to_ast(module)
    import ast
    ast.fix_missing_locations(tree)
    code = compile(tree, src.filename, "exec")
    if free:
        code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    fcode = next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == node.name)
    cells = dict(zip(user_fn.__code__.co_freevars, user_fn.__closure__ or ()))
    closure = tuple(cells[v] for v in fcode.co_freevars) or None
    fn = types.FunctionType(fcode, user_fn.__globals__, user_fn.__name__, None, closure)
    fn.__qualname__ = user_fn.__qualname__
    fn.__module__ = user_fn.__module__
    return fn


def twin_for(cache, user_fn, containers):
    """The Twin of `user_fn` for these container arguments ({param: value}), cached in `cache` by structure."""
    specs = {p: spec_of(v) for p, v in containers.items()}
    key = tuple(sorted((p, s.key()) for p, s in specs.items()))
    twin = cache.get(key)
    if twin is None:
        twin = cache[key] = Twin(user_fn, specs)
    return twin
