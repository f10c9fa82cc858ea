"""Narrow rows for the triton backend: a row program run on 2-D tiles of [ROWS, BLOCK] (ROWS rows at once).

A one-block row body (backends/triton.py) computes one row as a block of BLOCK columns: blocks are [BLOCK]
vectors, per-row scalars are 0-d, reductions are `tl.sum(..., axis=0)`.  When rows are short (D = 128), one
row per step leaves most of a program idle, so the same body is rewritten for a tile of ROWS rows: `cols`
is [1, BLOCK], `rows` is [ROWS, 1], blocks are [ROWS, BLOCK], per-row scalars are [ROWS, 1] and every
reduction is `axis=1, keep_dims=True`.  Per-row loads and stores (targets, cotangents of per-row outputs,
saved statistics) read and write `ptr + rows` under `rmask` (the rows of the tile that exist), and every
other load is masked by `rmask` too: a tile's rows past the last are never read or written.

Everything here works on source lines; nothing imports the rest of the backend.
"""
import ast

_REDUCE = {"sum", "max", "min"}


def _is(node, text):
    return ast.unparse(node) == text


class _Tile(ast.NodeTransformer):
    def visit_Name(self, n):
        if n.id == "row":
            return ast.copy_location(ast.Name("rows", n.ctx), n)
        return n

    def visit_Call(self, n):
        self.generic_visit(n)
        f = n.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "tl":
            if f.attr in _REDUCE:
                n.keywords = [k for k in n.keywords if k.arg not in ("axis", "keep_dims")] + [
                    ast.keyword("axis", ast.Constant(1)), ast.keyword("keep_dims", ast.Constant(True))]
            elif f.attr in ("zeros", "full") and n.args and _is(n.args[0], "[BLOCK]"):
                n.args[0] = ast.parse("[ROWS, BLOCK]", mode="eval").body
            elif f.attr == "load":
                masks = [k for k in n.keywords if k.arg == "mask"]
                if not masks:               # a per-row load `tl.load(t_ptr + rows)`
                    n.keywords += [ast.keyword("mask", ast.Name("rmask")), ast.keyword("other", ast.Constant(0))]
                elif not _is(masks[0].value, "mask"):       # `mask` holds rmask already
                    masks[0].value = ast.BinOp(ast.Name("rmask"), ast.BitAnd(), masks[0].value)
            elif f.attr == "store":
                masks = [k for k in n.keywords if k.arg == "mask"]
                if not masks:               # a per-row store
                    n.keywords.append(ast.keyword("mask", ast.Name("rmask")))
                elif not _is(masks[0].value, "mask"):
                    masks[0].value = ast.BinOp(ast.Name("rmask"), ast.BitAnd(), masks[0].value)
                ptr = n.args[0]
                if not {"rows", "offs", "cols"} & {x.id for x in ast.walk(ptr) if isinstance(x, ast.Name)}:
                    # the same flag for every row of the tile (an index error): a pointer per row
                    n.args[0] = ast.BinOp(ptr, ast.Add(), ast.parse("rows * 0", mode="eval").body)
        return n


def tile_lines(lines):
    """The one-block row body `lines` (statements and comments) for a [ROWS, BLOCK] tile."""
    out = []
    for line in lines:
        if line.startswith("#"):
            out.append(line)
            continue
        tree = _Tile().visit(ast.parse(line))
        out.append(ast.unparse(ast.fix_missing_locations(tree)))
    return out


def tile_loop(body):
    """The loop over a program's tiles of ROWS rows (rows_per_program is a multiple of ROWS)."""
    return ["first = pid * rows_per_program",
            "last = tl.minimum(first + rows_per_program, n_rows)",
            "for tile in range(first, last, ROWS):",
            "    rows = tile + tl.arange(0, ROWS)[:, None]",
            "    rmask = rows < last",
            "    mask = rmask & cmask",
            "    row_start = tl.cast(rows, tl.int64) * n_cols",
            "    offs = row_start + cols"] + ["    " + line if line else line for line in tile_lines(body)]
