"""Helpers the generated code calls: the seam a backend replaces.

Generated code refers to these by their bare names (`unbroadcast(g, x)`, `zeros_like(x)`), so a backend
provides a module with the same names.  Keep each one small: it is what a reader of `f.source` looks up.
"""
import numpy as np

__all__ = ["not_a_view", "no_repeats", "float_target", "unbroadcast", "zeros_like", "reset_zeros", "snapshot", "add_into", "add_tree", "add_field", "add_at", "scatter_add", "scatter_sub", "unreduce", "reduce_shape",
           "matmul_grad_a", "matmul_grad_b", "select_grad", "np", "math", "nbytes_of",
           "shape_token", "from_token",
           "revolve_resume", "revolve_step", "revolve_next_snapshot", "revolve_budget",
           "ADVANCE", "SNAPSHOT", "RESTORE", "DROP", "REVERSE", "DONE"]

import math  # noqa: E402  (generated code and rule bodies use `math.` and `np.`)


def unbroadcast(g, x):
    """Sum the cotangent `g` of a broadcast result down to the shape of operand `x`.

    `g` may have lower rank than `x`: an assignment `A[I] = v` accepts a `v` with extra leading
    length-1 axes (NumPy drops them, `w[1:3] = p[1:2, 3:4]`), so the target's cotangent is seen with
    those axes added back; a zero (reset) cotangent of lower rank is spread over `x`'s shape."""
    shape = np.shape(x)
    gshape = np.shape(g)
    if gshape == shape:
        return g
    if not shape:
        return np.sum(g)
    lead = len(gshape) - len(shape)
    if lead < 0:
        g = np.reshape(g, (1,) * -lead + gshape)
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        out = np.sum(g, axis=axes, keepdims=True) if axes else g
        return out if out.shape == shape else np.zeros(shape) + out    # a lower-rank zero: spread it
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
    out = np.sum(g, axis=axes, keepdims=True) if axes else g
    return np.reshape(out, shape) if lead or axes else out


def zeros_like(x):
    """A zero cotangent with the structure of `x` (floats stay floats; containers become mutable)."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=x.dtype if np.issubdtype(x.dtype, np.inexact) else np.float64)
    if is_record(x):
        return Fields({f: zeros_like(v) for f, v in record_fields(x).items()})
    if isinstance(x, (tuple, list)):
        return [zeros_like(e) for e in x]
    if isinstance(x, dict):        # a Fields (a record's cotangent) stays one: its positions still work
        return type(x)({k: zeros_like(v) for k, v in x.items()}) if isinstance(x, Fields) else \
            {k: zeros_like(v) for k, v in x.items()}
    if isinstance(x, np.generic):
        return x.dtype.type(0) if np.issubdtype(x.dtype, np.inexact) else 0.0
    return 0.0


def reset_zeros(buf, x):
    """`zeros_like(x)`, made by zeroing `buf` in place when it already has that shape and dtype: `buf` is a
    loop step's cotangent buffer that nothing reads any more (reverse/simplify.reuse_zero_buffers)."""
    if (isinstance(buf, np.ndarray) and isinstance(x, np.ndarray) and buf.shape == x.shape and buf.ndim
            and np.issubdtype(x.dtype, np.inexact) and buf.dtype == x.dtype):
        buf.fill(0.0)
        return buf
    return zeros_like(x)


def snapshot(x):
    """An independent copy of a value saved on the tape (arrays and containers are copied)."""
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, list):
        return list(x)
    if isinstance(x, dict):
        return dict(x)
    return x


def add_into(acc, g):
    """`acc + g` for a cotangent updated in place: arrays add in place, containers element by element."""
    if isinstance(acc, np.ndarray) and acc.ndim:
        acc += g
        return acc
    if isinstance(acc, list):
        for k, e in enumerate(g):
            acc[k] = add_into(acc[k], e)
        return acc
    if isinstance(acc, dict):
        for k, e in g.items():
            acc[k] = add_into(acc[k], e)
        return acc
    return acc + g


def add_tree(a, b):
    """`a + b` for two cotangents of the same structure: containers add element by element (a list's `+`
    would concatenate them), arrays and scalars add as themselves; a scalar zero (a cotangent not yet
    written) takes the other's structure."""
    if isinstance(b, (list, tuple, dict)) and not isinstance(a, (list, tuple, dict)) and np.ndim(a) == 0 \
            and a == 0:
        return b
    if isinstance(a, (list, tuple)) and not isinstance(a, np.ndarray):
        if np.ndim(b) == 0 and not isinstance(b, (list, tuple, dict)) and b == 0:
            return a
        if isinstance(b, np.ndarray):   # a rule that read the list as one array (np.sum(xs), np.mean(xs))
            b = list(b)
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            raise ValueError(f"add_tree: cotangents of different structure ({len(a)} items and {b!r})")
        return [add_tree(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict):
        out = type(a)(a)
        for k, e in b.items():
            out[k] = add_tree(out[k], e) if k in out else e
        return out
    return a + b


def add_field(acc, name, g):
    """`acc.name += g` for the cotangent of a NamedTuple or dataclass (`p.W` read in the function)."""
    acc[name] = add_into(acc[name], g)
    return acc


class Fields(dict):
    """The cotangent of a NamedTuple or dataclass: its fields' cotangents by name; a position also works
    (`W, b = p` unpacks a NamedTuple)."""

    def _key(self, k):
        return list(self)[k] if isinstance(k, (int, np.integer)) else k

    def __getitem__(self, k):
        return dict.__getitem__(self, self._key(k))

    def __setitem__(self, k, v):
        dict.__setitem__(self, self._key(k), v)


def is_record(x):
    """A NamedTuple or dataclass instance: a container whose fields are read as attributes."""
    import dataclasses
    return (isinstance(x, tuple) and hasattr(type(x), "_fields")) or \
        (dataclasses.is_dataclass(x) and not isinstance(x, type))


def record_fields(x):
    """{field: value} of a NamedTuple or dataclass instance."""
    import dataclasses
    if isinstance(x, tuple):
        return dict(zip(type(x)._fields, x))
    return {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}


def record_like(x, values):
    """A NamedTuple or dataclass like `x` holding `values` ({field: value}); a dataclass is copied and its
    fields set (its __init__ and __post_init__ do not run again)."""
    import copy
    if isinstance(x, tuple):
        return type(x)(**values)
    out = copy.copy(x)
    for f, v in values.items():
        object.__setattr__(out, f, v)     # frozen dataclasses too
    return out


def add_at(a, idx, g):
    """`a[idx] += g` that also accumulates repeated indices (fancy indexing); returns `a`."""
    if isinstance(a, np.ndarray):
        np.add.at(a, idx, g)
    else:
        a[idx] = a[idx] + g
    return a


def scatter_add(a, idx, x):
    """`np.add.at(a, idx, x)` as a value: a copy of `a` with `x` added at `idx` (repeated indices add up)."""
    out = np.array(a, copy=True)
    np.add.at(out, idx, x)
    return out


def scatter_sub(a, idx, x):
    """`np.subtract.at(a, idx, x)` as a value."""
    out = np.array(a, copy=True)
    np.subtract.at(out, idx, x)
    return out


def reduce_shape(x, axis):
    """Shape of `x` reduced over `axis` with keepdims."""
    shape = list(np.shape(x))
    if axis is None:
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        shape[a] = 1
    return tuple(shape)


def unreduce(g, x, axis=None, keepdims=False):
    """Broadcast the cotangent of a reduction over `axis` back to the shape of `x`."""
    if not keepdims:
        g = np.reshape(g, reduce_shape(x, axis))
    return np.broadcast_to(g, np.shape(x))


def matmul_grad_a(g, a, b):
    """Cotangent of `a` in `a @ b` (1-D, 2-D and batched operands)."""
    if np.ndim(b) == 1:
        ga = g * b if np.ndim(a) == 1 else np.asarray(g)[..., None] * b
    elif np.ndim(a) == 1:
        ga = np.matmul(b, np.asarray(g)[..., None])[..., 0]
    else:
        ga = g @ np.swapaxes(b, -1, -2)
    return unbroadcast(ga, a)


def matmul_grad_b(g, a, b):
    """Cotangent of `b` in `a @ b`."""
    if np.ndim(a) == 1:
        gb = g * a if np.ndim(b) == 1 else a[:, None] * np.asarray(g)[..., None, :]
    elif np.ndim(b) == 1:
        gb = np.matmul(np.swapaxes(a, -1, -2), np.asarray(g)[..., None])[..., 0]
    else:
        gb = np.swapaxes(a, -1, -2) @ g
    return unbroadcast(gb, b)


def select_grad(g, x, result, axis=None, keepdims=False):
    """Cotangent of max/min: `g` flows to the selected entries (split evenly between ties)."""
    g = np.reshape(g, reduce_shape(x, axis)) if not keepdims else g
    r = np.reshape(result, reduce_shape(x, axis)) if not keepdims else result
    mask = (x == r)
    return g * mask / np.sum(mask, axis=axis, keepdims=True)


def like(grad, x):
    """Give a finished gradient the type and structure of the argument it belongs to."""
    if isinstance(grad, float) and (isinstance(x, (tuple, list, dict)) or is_record(x)):
        grad = zeros_like(x)      # the adjoint's 0.0 for a container the output does not depend on
    if is_record(x):
        fields = record_fields(x)
        if isinstance(grad, (tuple, list)):
            grad = dict(zip(fields, grad))
        return record_like(x, {f: like(grad[f], v) for f, v in fields.items()})
    if isinstance(x, tuple):
        return tuple(like(g, e) for g, e in zip(grad, x))
    if isinstance(x, list):
        return [like(g, e) for g, e in zip(grad, x)]
    if isinstance(x, dict):
        return {k: like(grad[k], v) for k, v in x.items()}
    if isinstance(x, (bool, int, np.integer, np.bool_)) or (isinstance(x, np.ndarray) and x.dtype.kind in "biu"):
        # an integer leaf of a container is a constant (arguments that are integers are refused)
        return np.zeros(x.shape) if isinstance(x, np.ndarray) else 0.0
    if isinstance(x, np.ndarray):
        dtype = x.dtype if np.issubdtype(x.dtype, np.inexact) else np.float64
        out = np.asarray(grad, dtype=dtype)
        if out.shape != x.shape:
            out = np.broadcast_to(out, x.shape).copy() if out.size == 1 or out.ndim < x.ndim else out
        return out
    if isinstance(x, np.generic):
        return x.dtype.type(grad) if np.issubdtype(x.dtype, np.inexact) else float(grad)
    if isinstance(x, (float, int, bool)):
        return float(np.asarray(grad).reshape(()) if np.ndim(grad) == 0 else grad)
    return grad


def not_a_view(value, array, message):
    """Refuse a value that shares memory with `array` when `array` is written while the value is still in
    use (a row `A[i]`, a helper's result: see aliases.py).  `message` starts with the user's `file:line: `."""
    if isinstance(value, np.ndarray) and isinstance(array, np.ndarray) and np.may_share_memory(value, array):
        from .errors import AliasError
        raise AliasError(message)


def float_target(array, message):
    """Refuse writing a differentiated value into an array of integers or booleans, which NumPy would
    truncate (analysis/dtypes.py).  `message` starts with the user's `file:line: `."""
    if isinstance(array, np.ndarray) and array.dtype.kind not in "fc":
        from .errors import CastError
        raise CastError(message)


def no_repeats(index, message, target=None):
    """Refuse an index array that names one element of `target` twice in a write (the last write would
    win).  Negative entries are elements too: `[3, -3]` names one element of a length-6 axis twice."""
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [np.asarray(p) for p in parts if isinstance(p, (list, np.ndarray))]
    ints = [a for a in arrays if a.dtype.kind in "iu"]
    # Several index arrays name one element twice only where their broadcast entries repeat together
    # (`y[[0, 1], [2, 2]]` writes two elements): count the elements written, exactly.
    if target is not None and (len(ints) > 1 or any(np.any(a < 0) for a in ints)):
        cells = np.arange(np.size(target)).reshape(np.shape(target))[index]   # the elements written, exactly
        repeated = np.size(cells) != np.unique(cells).size
    else:
        repeated = any(a.size != np.unique(a).size for a in ints)
    if repeated:
        from .errors import RepeatedIndexError
        raise RepeatedIndexError(message)


# ---- checkpointed loops (remat.revolve): the schedule of snapshots and recomputation --------------------
from .remat.revolve import ADVANCE, DONE, DROP, RESTORE, REVERSE, SNAPSHOT  # noqa: E402,F401
from .remat.revolve import budget as revolve_budget, next_snapshot as revolve_next_snapshot  # noqa: E402,F401
from .remat.revolve import resume as revolve_resume, step as revolve_step  # noqa: E402,F401


def shape_token(x):
    """What a tape keeps of an array the adjoint reads for its shape only (reverse/shape_tapes.py): here a
    read-only array of its shape and dtype that holds one element's memory."""
    x = np.asarray(x)
    return np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)


def from_token(token, like):
    """The array a shape token stands for: any array of that shape (its values are never read)."""
    return token


def nbytes_of(x):
    """Bytes of one value of a loop's state (a snapshot holds one per carried variable)."""
    return x.nbytes if isinstance(x, np.ndarray) else 8
