"""Integer lists used as indices (`y[[0, 2]]`, `idx = [0, 2]; y[idx]`, `np.add.at(y, [0, 0, 1], v)`) become
int64 arrays for Numba, which indexes with arrays but not with reflected lists.  Only literal lists of
integers are touched, and only where they index: as a subscript, as the value of a name read only as an index (the
transform's `y_index = [0, 2]` of a fancy write), or as the index argument of the scatter helpers."""
import gast

# helper -> position of its index argument (np.add.at / np.subtract.at / a fancy write's check)
_INDEX_ARGS = {"add_at": 1, "scatter_add": 1, "scatter_sub": 1, "no_repeats": 0}


def _int(e):
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):     # [0, -1]
        e = e.operand
    return isinstance(e, gast.Constant) and type(e.value) is int


def _int_list(node):
    return isinstance(node, gast.List) and bool(node.elts) and all(_int(e) for e in node.elts)


def _as_array(node):
    np_array = gast.Attribute(gast.Name("np", gast.Load(), None, None), "array", gast.Load())
    int64 = gast.Attribute(gast.Name("np", gast.Load(), None, None), "int64", gast.Load())
    return gast.Call(np_array, [node], [gast.keyword("dtype", int64)])


def lower_index_lists(tree):
    class Lower(gast.NodeTransformer):
        def visit_Subscript(self, node):
            self.generic_visit(node)
            if _int_list(node.slice):
                node.slice = _as_array(node.slice)
            elif isinstance(node.slice, gast.Tuple):          # m[:, [2, 2]]
                node.slice.elts = [_as_array(e) if _int_list(e) else e for e in node.slice.elts]
            return node

        def visit_Assign(self, node):
            self.generic_visit(node)
            if len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) and _int_list(node.value) \
                    and node.targets[0].id in indexing:
                node.value = _as_array(node.value)
            return node

        def visit_Call(self, node):
            self.generic_visit(node)
            k = _INDEX_ARGS.get(node.func.id) if isinstance(node.func, gast.Name) else None
            if k is not None and k < len(node.args) and _int_list(node.args[k]):
                node.args[k] = _as_array(node.args[k])
            return node

    # names used only as indices (`y[y_index]`, an index argument of a helper): elsewhere a list and an
    # array differ (`idx * 2` repeats a list), so a name read any other way is left a list
    index_uses = [n.slice for n in gast.walk(tree) if isinstance(n, gast.Subscript)]
    index_uses += [c.args[k] for c in gast.walk(tree) if isinstance(c, gast.Call) and isinstance(c.func, gast.Name)
                   for k in [_INDEX_ARGS.get(c.func.id)] if k is not None and k < len(c.args)]
    as_index = {id(n) for n in index_uses if isinstance(n, gast.Name)}
    as_index |= {id(e) for n in index_uses if isinstance(n, gast.Tuple) for e in n.elts}
    saved = {id(n) for r in gast.walk(tree) if isinstance(r, gast.Return) and r.value is not None
             for n in gast.walk(r.value) if isinstance(n, gast.Name)}     # the primal's saved state: passed on
    as_index |= saved
    loads = [n for n in gast.walk(tree) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)]
    indexing = {n.id for n in loads if id(n) in as_index} - {n.id for n in loads if id(n) not in as_index}
    return Lower().visit(tree)
