"""Scatter loops split by offset: the adjoint of a stencil without read-modify-write chains between steps.

The adjoint of `un[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])` (an element loop) scatters each
step's cotangent to three neighbours:

    for i in range(n - 2, 0, -1):
        dun_i = dun[i]
        dun[i] = 0.0
        du[i] += dun_i
        dc = dc + dun_i * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        dun_1 = dun_i * c
        du[i - 1] += dun_1
        du[i] += -dun_1 * 2.0
        du[i + 1] += dun_1

Step `i` writes `du[i - 1]`, which step `i - 1` reads and writes again: a chain through memory that keeps
the loop from being vectorised.  Split into one loop per (array, offset) and one per scalar sum, each loop
touches every element once, and its steps are independent:

    for i in ...: du[i] += dun[i]; du[i] += -(dun[i] * c) * 2.0
    for i in ...: dc = dc + dun[i] * (...)
    for i in ...: du[i - 1] += dun[i] * c
    for i in ...: dun_i = dun[i]; dun[i] = 0.0; du[i + 1] += dun_i * c     (the zeroing last)

(the temporaries recomputed in each loop that reads them).  Only sums are reordered: every element
receives the same contributions, added in another order (float rounding may differ in the last bits).

A loop is split only when its body is exactly this shape: scalar temporaries of plain arithmetic, reads
`D[i]` of cotangents that the body zeroes (`D[i] = 0.0`, after those reads), accumulations `X[i + k] += e`
into arrays the body reads nowhere else, and scalar sums `s = s + e` the body reads nowhere else; and only
when it scatters into one array at two or more offsets (else there is no chain to break).  For typed
targets, whose compiled loops this speeds up; interpreted Python would only pay for the extra loops.
"""
import copy

import gast

from .. import astutil as A


def split_scatter_loops(stmts):
    out = []
    for s in stmts:
        if isinstance(s, (gast.For, gast.While, gast.If)):
            s.body = split_scatter_loops(s.body)
            s.orelse = split_scatter_loops(s.orelse)
        if isinstance(s, gast.For):
            split = _split(s, stmts)
            if split:
                out += split
                continue
        out.append(s)
    return out


def _offset(index, i):
    """k for an index `i`, `i + k` or `i - k` (k an int constant), else None."""
    if isinstance(index, gast.Name) and index.id == i:
        return 0
    if (isinstance(index, gast.BinOp) and isinstance(index.op, (gast.Add, gast.Sub))
            and isinstance(index.left, gast.Name) and index.left.id == i and isinstance(index.right, gast.Constant)
            and isinstance(index.right.value, int) and not isinstance(index.right.value, bool)):
        return index.right.value if isinstance(index.op, gast.Add) else -index.right.value
    return None


def _plain(expr):
    """Arithmetic of names, constants and subscripts only (cheap to recompute, no calls)."""
    return all(isinstance(n, (gast.BinOp, gast.UnaryOp, gast.Name, gast.Constant, gast.Subscript, gast.Load,
                              gast.operator, gast.unaryop, gast.Tuple, gast.Slice))
               for n in gast.walk(expr))


def _is_comment(s):
    return (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and isinstance(s.value.value, str)
            and s.value.value.startswith("__rg_comment_"))


def _split(loop, siblings):
    if not isinstance(loop.target, gast.Name) or loop.orelse:
        return None
    i = loop.target.id
    temps, zeroed, scatters, sums, order = {}, [], {}, {}, []
    for k, s in enumerate(loop.body):
        if _is_comment(s):
            continue
        if isinstance(s, gast.AugAssign) and isinstance(s.op, (gast.Add, gast.Sub)) \
                and isinstance(s.target, gast.Subscript) and isinstance(s.target.value, gast.Name):
            off = _offset(s.target.slice, i)
            if off is None or not _plain(s.value):
                return None
            key = ("scatter", s.target.value.id, off)
            scatters.setdefault(s.target.value.id, set()).add(off)
        elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
            t = s.targets[0]
            if not (isinstance(t.value, gast.Name) and _offset(t.slice, i) == 0 and isinstance(s.value, gast.Constant)
                    and s.value.value == 0.0):
                return None
            zeroed.append((k, t.value.id))
            continue
        elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and _plain(s.value):
            name = s.targets[0].id
            v = s.value
            if (isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Sub)) and isinstance(v.left, gast.Name)
                    and v.left.id == name and name not in A.loaded_names(v.right)):
                key = ("sum", name, None)
                if name in sums or name in temps:
                    return None
                sums[name] = k
            else:
                if name in temps or name in sums or name == i or name in A.loaded_names(v):
                    return None
                temps[name] = k
                continue
        else:
            return None
        order.append((key, k))
    if not any(len(offs) >= 2 for offs in scatters.values()):
        return None
    written = set(scatters) | {d for _, d in zeroed}
    if A.loaded_names(loop.iter) & (written | set(temps) | set(sums)) or i in sums:
        return None                  # each split loop evaluates the range again
    for k, s in enumerate(loop.body):
        if _is_comment(s):
            continue
        value = s.value
        for n in gast.walk(value):
            # arrays the body writes are read only as `D[i]` of a zeroed D, before its zeroing
            if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and n.value.id in written:
                d = n.value.id
                zk = [zk for zk, z in zeroed if z == d]
                if d in scatters or _offset(n.slice, i) != 0 or not zk or k > zk[0]:
                    return None
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                if n.id in sums and not (sums[n.id] == k and n is value.left):
                    return None          # a sum read by another statement: its value depends on the order
                if n.id in temps and temps[n.id] > k:
                    return None          # read before its definition in the step: carried across steps
                if n.id in written and not any(n is sub.value for sub in gast.walk(value)
                                               if isinstance(sub, gast.Subscript)):
                    return None          # a whole written array
        if isinstance(s, gast.AugAssign) and A.loaded_names(s.target.slice) - {i}:
            return None
    # the temporaries must not be read after the loop (each split loop re-creates them)
    after = siblings[siblings.index(loop) + 1:] if loop in siblings else []
    if any(A.loaded_names(st) & set(temps) for st in after) or len(zeroed) != len({d for _, d in zeroed}):
        return None
    groups = {}                       # (kind, name, offset) -> statement positions, in first-seen order
    for key, k in order:
        groups.setdefault(key, []).append(k)
    loops = []
    for n, ks in enumerate(groups.values()):
        last = n == len(groups) - 1
        needed = _needed_temps(loop.body, ks, temps, zeroed if last else [])
        keep = sorted(set(ks) | needed | ({zk for zk, _ in zeroed} if last else set()))
        new = gast.For(target=copy.deepcopy(loop.target), iter=copy.deepcopy(loop.iter),
                       body=[copy.deepcopy(loop.body[k]) for k in keep], orelse=[], type_comment=None)
        A.copy_loc([new], loop)
        loops.append(new)
    comments = [copy.deepcopy(s) for s in loop.body if _is_comment(s)]
    loops[0].body = comments + loops[0].body
    return loops


def _needed_temps(body, ks, temps, zeroed):
    need, work = set(), list(ks) + [zk for zk, _ in zeroed]
    while work:
        s = body[work.pop()]
        for n in A.loaded_names(s.value):
            if n in temps and temps[n] not in need:
                need.add(temps[n])
                work.append(temps[n])
    return need
