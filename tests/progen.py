"""Random NumPy programs for issue 10 (in-place writes, views, aliasing), with an oracle.

`generate(rng)` builds the source text of a small module: a few helpers that return views of, or
write into, their arguments, and ``f(x, w, p)`` that takes views of views (slices with steps and
negative bounds, .T, np.transpose, reshape), writes into them and into its arguments with every
augmented operator and every value-rank / target-rank broadcasting pair, boolean masks, fancy
indices with repeats, rebinds and writes arrays in branches and loops, and returns a scalar.
tests/test_properties.py covers straight-line arithmetic and plain subscript writes into new
arrays; this covers what flows *through memory*.

`check(src, inputs, backend, remat)` is the oracle.  A program is first run plainly: if NumPy
raises or gives a non-finite value the program is discarded ("invalid").  Otherwise retrograd must
either refuse with a RetrogradError subclass ("refused", with the first line of the message) or be
exact: value == plain call (rtol 1e-10), gradient == float64 central differences, caller arrays
untouched by value_and_grad and vjp, and the pullback repeatable.  Anything else is a failure with
a class name (see FAILURE_CLASSES).

Kinks: the generated code has no max/abs; masks and branch conditions compare data with
constants, and the inputs are random, so a comparison sits within an FD step of its threshold with
probability ~1e-6.  When the gradient disagrees, FD is recomputed with a 10x smaller step: if the
two FD estimates disagree with each other, the point is non-smooth and the program is reported as
"fd_unreliable", not as a failure.
"""
import copy
import random
import traceback

import numpy as np

import retrograd as rg

SHAPES = {"x": (4, 6), "w": (6,), "p": (6, 6)}
ARGS = ("x", "w", "p")
OPS = ("=", "+=", "-=", "*=", "/=")
REMATS = {"none": None, "store": "store", "recompute": "recompute", "checkpoint": "checkpoint"}

FAILURE_CLASSES = ("wrong_value", "wrong_grad", "caller_mutated", "pullback_not_repeatable",
                   "grad_structure", "crash")


def remat_mode(name):
    return rg.Checkpoint(snapshots=2) if name == "checkpoint" else REMATS[name]


# ----------------------------------------------------------------------------------------------
# generator
# ----------------------------------------------------------------------------------------------

def _sel_len(n, s):
    return len(range(n)[s])


class Gen:
    """Generates one program.  Tracks the shape of every array variable (exact, because all
    indices are constants) so every write is valid NumPy broadcasting."""

    def __init__(self, rng, max_stmts=8):
        self.r = rng
        self.max_stmts = max_stmts
        self.vars = dict(SHAPES)        # name -> shape of the arrays f can write / read
        self.scalars = []               # names holding float scalars
        self.helpers = {}               # name -> source
        self.n = 0
        self.features = set()

    # -- small pieces ---------------------------------------------------------------------------
    def fresh(self, stem="a"):
        self.n += 1
        return f"{stem}{self.n}"

    def const(self):
        return self.r.choice(["0.5", "-0.75", "0.3", "1.25", "-0.4", "2.0"])

    def rand_slice(self, n):
        """A slice of an axis of length n with steps and negative bounds; never empty."""
        r = self.r
        for _ in range(20):
            step = r.choice([None, None, 1, 2, -1, -2, 3])
            start = r.choice([None, None] + list(range(-n, n)))
            stop = r.choice([None, None] + list(range(-n, n + 1)))
            s = slice(start, stop, step)
            if _sel_len(n, s) >= 1:
                return self.slice_src(s), _sel_len(n, s)
        return ":", n

    @staticmethod
    def slice_src(s):
        a = "" if s.start is None else str(s.start)
        b = "" if s.stop is None else str(s.stop)
        if s.step is None:
            return f"{a}:{b}"
        return f"{a}:{b}:{s.step}"

    def vars_of_rank(self, k=None, writable=True):
        return [v for v, sh in self.vars.items() if (k is None or len(sh) == k)
                and (not writable or v != "p")]

    # -- values of a given shape that depend on the inputs --------------------------------------
    def value(self, shape, positive=False):
        """Source of an expression of `shape` (a tuple, () for a scalar) that depends on p or on a
        live variable.  positive=True: in [0.5, 2.5] (for /=)."""
        r = self.r
        same = [v for v, sh in self.vars.items() if sh == shape and shape != ()]
        k = r.random()
        if shape == ():
            if k < 0.25:
                e = self.const()
            elif k < 0.5 and self.scalars:
                e = f"np.tanh({r.choice(self.scalars)})"
            else:
                e = f"np.tanh(p[{r.randrange(6)}, {r.randrange(6)}])"
        elif same and k < 0.4:
            e = f"np.sin({r.choice(same)})"
        elif len(shape) == 1:
            n = shape[0]
            if n <= 6:
                i, j = r.randrange(6), r.randrange(0, 7 - n)
                e = f"np.cos(p[{i}, {j}:{j + n}])" if r.random() < 0.5 else f"np.cos(p[{j}:{j + n}, {i}])"
            else:
                e = f"np.cos(p.reshape(-1)[{r.randrange(0, 37 - n)}:][:{n}])"
        elif len(shape) == 2 and shape[0] <= 6 and shape[1] <= 6:
            m, n = shape
            i, j = r.randrange(0, 7 - m), r.randrange(0, 7 - n)
            e = f"np.sin(p[{i}:{i + m}, {j}:{j + n}])"
            if r.random() < 0.3:
                e = f"np.sin(p[{j}:{j + n}, {i}:{i + m}].T)"
        else:
            size = int(np.prod(shape))
            e = f"np.sin(np.resize(p, {shape}))" if size > 36 else \
                f"np.sin(p.reshape(-1)[:{size}].reshape({shape}))"
        if positive:
            return f"(1.5 + {e})"
        return e

    def broadcast_value_shape(self, tshape):
        """A shape that broadcasts to tshape: rank 0..len(tshape) trailing dims, some set to 1,
        occasionally an extra leading 1."""
        r = self.r
        rank = r.randint(0, len(tshape))
        sh = list(tshape[len(tshape) - rank:])
        sh = [1 if (d > 1 and r.random() < 0.3) else d for d in sh]
        if r.random() < 0.1 and len(tshape) >= 1:
            sh = [1] + sh
        self.features.add(f"bcast{rank}->{len(tshape)}")
        return tuple(sh)

    # -- indices --------------------------------------------------------------------------------
    def index(self, name, shape):
        """(index source or None for the whole variable, shape selected or None if data-dependent,
        extra statements to emit first)."""
        r = self.r
        nd = len(shape)
        k = r.random()
        pre = []
        if nd == 0:
            return None, shape, pre
        if k < 0.12:
            return "...", shape, pre
        if k < 0.22:
            return None, shape, pre
        if k < 0.45:    # slices (and ints) on each axis
            parts, sel = [], []
            for d in shape:
                c = r.random()
                if c < 0.25:
                    parts.append(str(r.randrange(-d, d)))
                else:
                    s, n = self.rand_slice(d)
                    parts.append(s)
                    sel.append(n)
            self.features.add("slice_write")
            return ", ".join(parts), tuple(sel), pre
        if k < 0.6:     # boolean mask, threshold a constant (data random: no tie)
            self.features.add("mask_write")
            src = r.choice([v for v, sh in self.vars.items() if sh == shape] or [name])
            thr = r.choice(["0.0", "0.2", "-0.3", "0.5"])
            if nd == 2 and r.random() < 0.4:   # a row mask
                m = self.fresh("m")
                pre.append(f"{m} = {src}[:, {r.randrange(shape[1])}] > {thr}")
                return m, None, pre
            if r.random() < 0.5:
                m = self.fresh("m")
                pre.append(f"{m} = {src} > {thr}")
                return m, "mask", pre
            return f"{src} < {thr}", "mask", pre
        if k < 0.8:     # fancy index with repeats on the first axis
            self.features.add("fancy_write")
            n = shape[0]
            idx = [r.randrange(-n, n) for _ in range(r.randint(1, 4))]
            if r.random() < 0.6 and idx:
                idx.append(idx[0])
            if r.random() < 0.3:
                ix = self.fresh("ix")
                pre.append(f"{ix} = np.array({idx})")
                isrc = ix
            else:
                isrc = str(idx)
            return isrc, (len(idx),) + tuple(shape[1:]), pre
        # integer index on the first axis (row), rest whole
        i = r.randrange(-shape[0], shape[0])
        return (f"{i}" if nd == 1 else f"{i}, :" if r.random() < 0.5 else f"{i}"), tuple(shape[1:]), pre

    # -- statements -----------------------------------------------------------------------------
    def stmt_view(self):
        r = self.r
        cands = [v for v in self.vars]
        src = r.choice(cands)
        sh = self.vars[src]
        k = r.random()
        name = self.fresh("v")
        if len(sh) == 2 and k < 0.2:
            e, nsh = r.choice([f"{src}.T", f"np.transpose({src})"]), (sh[1], sh[0])
            self.features.add("transpose")
        elif len(sh) == 2 and k < 0.5:
            s0, n0 = self.rand_slice(sh[0])
            s1, n1 = self.rand_slice(sh[1])
            e, nsh = f"{src}[{s0}, {s1}]", (n0, n1)
            self.features.add("slice_view")
        elif len(sh) == 2 and k < 0.6:
            i = r.randrange(-sh[0], sh[0])
            e, nsh = f"{src}[{i}]", (sh[1],)
        elif k < 0.75:
            size = int(np.prod(sh))
            opts = [(-1,)] + [(a, size // a) for a in (1, 2, 3, 4, 6) if size % a == 0 and a != size]
            new = r.choice(opts)
            e = f"{src}.reshape({new[0]})" if len(new) == 1 else f"{src}.reshape({new[0]}, {new[1]})"
            nsh = (size,) if new == (-1,) else new
            self.features.add("reshape")
        elif k < 0.85:
            h, nsh = self.helper_view(sh)
            e = f"{h}({src})"
        elif k < 0.93:      # other view spellings: newaxis, ravel, np.reshape, Ellipsis
            opts = [(f"{src}[None]", (1,) + tuple(sh)), (f"np.reshape({src}, -1)", (int(np.prod(sh)),)),
                    (f"{src}.ravel()", (int(np.prod(sh)),))]
            if len(sh) == 1:
                opts.append((f"{src}[:, None]", (sh[0], 1)))
            else:
                opts.append((f"{src}[..., {r.randrange(-sh[1], sh[1])}]", (sh[0],)))
                opts.append((f"np.transpose({src}, (1, 0))", (sh[1], sh[0])))
            e, nsh = r.choice(opts)
            if len(nsh) > 2:        # keep every variable 1-D or 2-D
                e, nsh = f"{src}[None][0]", sh
            self.features.add("view_spelling")
        else:
            s, n = self.rand_slice(sh[0])
            e, nsh = f"{src}[{s}]", (n,) + tuple(sh[1:])
            self.features.add("slice_view")
        self.vars[name] = nsh
        if src in self.vars and src in ("x", "w", "p") or src.startswith("v"):
            self.features.add("view_of_view" if src.startswith("v") else "view_of_arg")
        return [f"{name} = {e}"]

    def helper_view(self, sh):
        r = self.r
        if len(sh) == 2:
            body, nsh = r.choice([("return a.T", (sh[1], sh[0])),
                                  ("return a[::-1, 1:]", (sh[0], sh[1] - 1)),
                                  ("return a[1:]", (sh[0] - 1, sh[1])),
                                  ("return a", sh)])
        else:
            body, nsh = r.choice([("return a[::-2]", (_sel_len(sh[0], slice(None, None, -2)),)),
                                  ("return a[1:-1]", (sh[0] - 2,)),
                                  ("return a", sh)])
        if 0 in nsh:
            body, nsh = "return a", sh
        name = f"view{len(self.helpers)}"
        self.helpers[name] = f"def {name}(a):\n    {body}\n"
        self.features.add("helper_view")
        return name, nsh

    def stmt_new(self):
        r = self.r
        src = r.choice(list(self.vars))
        sh = self.vars[src]
        name = self.fresh("a")
        e = r.choice([f"{src} * 1.0", f"np.tanh({src})", f"{src}.copy()", f"np.zeros_like({src})",
                      f"{src} + {self.value(sh)}", f"np.array({src})"])
        self.vars[name] = sh
        return [f"{name} = {e}"]

    def stmt_scalar(self):
        r = self.r
        src = r.choice(list(self.vars))
        sh = self.vars[src]
        name = self.fresh("s")
        idx = ", ".join(str(r.randrange(-d, d)) for d in sh)
        e = r.choice([f"{src}[{idx}]", f"float({src}[{idx}])", f"np.sum({src})"])
        self.scalars.append(name)
        return [f"{name} = {e}"]

    def write(self, target=None, in_loop_var=None):
        r = self.r
        name = target or r.choice(self.vars_of_rank(writable=True) or ["x"])
        sh = self.vars[name]
        op = r.choice(OPS)
        self.features.add(f"op{op}")
        if name in ARGS:
            self.features.add("write_arg")
        idx, sel, pre = self.index(name, sh)
        if in_loop_var and sh and r.random() < 0.6:
            idx, sel, pre = f"{in_loop_var}", tuple(sh[1:]), []
            self.features.add("loop_index_write")
        if sel == "mask" or sel is None and idx is not None:
            vshape = () if sel == "mask" else (() if r.random() < 0.5 else (sh[1],))
        else:
            vshape = self.broadcast_value_shape(sel)
        val = self.value(vshape, positive=(op == "/="))
        if idx is None:
            if op == "=":       # rebinding, not a write: make it one
                idx = "..."
            else:
                return pre + [f"{name} {op} {val}"]
        return pre + [f"{name}[{idx}] {op} {val}"]

    def stmt_shift_write(self):
        """t[a:b] op= t[c:d]: the value overlaps the target (NumPy buffers the read)."""
        r = self.r
        name = r.choice(self.vars_of_rank(writable=True) or ["x"])
        sh = self.vars[name]
        n = sh[0]
        if n < 2:
            return []
        k = r.randint(1, n - 1)
        op = r.choice(["=", "+=", "-=", "*="])
        self.features.add("overlap_write")
        a, c = r.choice([(0, n - k), (n - k, 0)])
        if r.random() < 0.3:   # reversed overlap
            return [f"{name}[{a}:{a + k}] {op} {name}[{c + k - 1}::-1][:{k}]" if c + k - 1 >= 0 else
                    f"{name}[{a}:{a + k}] {op} {name}[{c}:{c + k}]"]
        return [f"{name}[{a}:{a + k}] {op} {name}[{c}:{c + k}]"]

    def stmt_empty_write(self):
        r = self.r
        name = r.choice(self.vars_of_rank(writable=True) or ["x"])
        self.features.add("empty_write")
        return [f"{name}[2:2] {r.choice(OPS)} {self.value(())}"]

    def stmt_helper_write(self):
        r = self.r
        name = r.choice(self.vars_of_rank(writable=True) or ["x"])
        sh = self.vars[name]
        op = r.choice(OPS)
        hn = f"put{len(self.helpers)}"
        ret = r.random() < 0.5
        body = f"    a[...] {op} v\n" if len(sh) == 1 or r.random() < 0.5 else f"    a[1:] {op} v\n"
        if ret:
            body += "    return a\n"
        self.helpers[hn] = f"def {hn}(a, v):\n{body}"
        tsh = sh if "a[...]" in body else (sh[0] - 1,) + tuple(sh[1:])
        if 0 in tsh:
            return []
        vshape = self.broadcast_value_shape(tsh)
        val = self.value(vshape, positive=(op == "/="))
        self.features.add("helper_write")
        if ret and r.random() < 0.6:
            alias = self.fresh("b")
            self.vars[alias] = sh
            return [f"{alias} = {hn}({name}, {val})"]
        return [f"{hn}({name}, {val})"]

    def stmt_rebind(self):
        r = self.r
        name = r.choice(self.vars_of_rank(writable=True) or ["x"])
        sh = self.vars[name]
        e = r.choice([f"{name} * 0.5 + {self.value(sh)}", f"np.tanh({name})", f"{name}.copy()",
                      f"{name} - {self.value(self.broadcast_value_shape(sh))}"])
        self.features.add("rebind")
        return [f"{name} = {e}"]

    def stmt_branch(self, depth):
        r = self.r
        src = r.choice(list(self.vars))
        cond = f"np.sum({src}) > {r.choice(['0.0', '0.5', '-1.0'])}"
        self.features.add("branch")
        body1 = self.block(r.randint(1, 3), depth + 1, shape_stable=True) or self.write()
        body2 = self.block(r.randint(0, 2), depth + 1, shape_stable=True)
        out = [f"if {cond}:"] + ["    " + s for s in body1]
        if body2:
            out += ["else:"] + ["    " + s for s in body2]
        return out

    def stmt_loop(self, depth):
        r = self.r
        i = f"i{self.n}"
        self.n += 1
        writable = self.vars_of_rank(writable=True)
        tgt = r.choice(writable) if writable else "x"
        n = self.vars[tgt][0] if self.vars[tgt] else 2
        k = r.randint(1, min(n, 4))
        self.features.add("loop")
        body = self.write(tgt, in_loop_var=i)
        body += self.block(r.randint(0, 2), depth + 1, shape_stable=True)
        return [f"for {i} in range({k}):"] + ["    " + s for s in body]

    def block(self, n, depth, shape_stable=False):
        """n statements.  shape_stable: inside branches / loops only writes and shape-preserving
        rebinds, so every variable has one shape after the block whichever path ran."""
        out = []
        for _ in range(n):
            k = self.r.random()
            if shape_stable:
                if k < 0.6:
                    out += self.write()
                elif k < 0.75:
                    out += self.stmt_helper_write_stable()
                else:
                    out += self.stmt_rebind()
                continue
            if k < 0.22:
                out += self.stmt_view()
            elif k < 0.5:
                out += self.write()
            elif k < 0.58:
                out += self.stmt_new()
            elif k < 0.64:
                out += self.stmt_scalar()
            elif k < 0.72:
                out += self.stmt_helper_write()
            elif k < 0.75:
                out += self.stmt_rebind()
            elif k < 0.78:
                out += self.stmt_shift_write() if self.r.random() < 0.8 else self.stmt_empty_write()
            elif k < 0.9 and depth < 1:
                out += self.stmt_branch(depth)
            elif depth < 1:
                out += self.stmt_loop(depth)
        return out

    def stmt_helper_write_stable(self):
        before = dict(self.vars)
        lines = self.stmt_helper_write()
        if set(self.vars) != set(before):        # no new names inside a branch / loop
            self.vars = before
            return [ln.split(" = ", 1)[1] for ln in lines]
        return lines

    def result(self):
        r = self.r
        names = list(self.vars)
        picks = r.sample(names, min(len(names), r.randint(2, 4)))
        for a in ARGS:      # written arguments must reach the output
            if a not in picks and r.random() < 0.5:
                picks.append(a)
        terms = []
        for v in picks:
            terms.append(r.choice([f"np.sum(np.sin({v}))", f"np.sum({v} * {v})", f"np.sum({v})"]))
        terms += [f"np.tanh({s})" for s in self.scalars[:2]]
        return "    return " + " + ".join(terms)

    def program(self):
        body = self.block(self.r.randint(2, self.max_stmts), 0)
        ret = self.result()
        lines = ["import numpy as np", "", ""]
        for h in self.helpers.values():
            lines += [h.rstrip("\n"), "", ""]
        lines.append("def f(x, w, p):")
        lines += ["    " + s for s in body]
        lines.append(ret)
        return "\n".join(lines) + "\n"


def generate(rng, max_stmts=8):
    """(source, inputs dict, feature set) of one random program."""
    g = Gen(rng, max_stmts)
    src = g.program()
    nrng = np.random.default_rng(rng.randrange(2 ** 32))
    inputs = {k: nrng.uniform(-1.0, 1.0, size=sh) for k, sh in SHAPES.items()}
    return src, inputs, g.features


def programs():
    """A hypothesis strategy of (source, inputs, features): draws a seed for `generate`."""
    from hypothesis import strategies as st
    return st.integers(0, 2 ** 32 - 1).map(lambda s: generate(random.Random(s)))


# ----------------------------------------------------------------------------------------------
# oracle
# ----------------------------------------------------------------------------------------------

def _copies(inputs):
    return [np.array(inputs[k]) for k in ARGS]


def _plain(fn, inputs):
    return fn(*_copies(inputs))


def central_fd(fn, inputs, eps):
    """Gradient of the plain fn w.r.t. every argument, by float64 central differences (each
    evaluation on fresh copies, so writes into arguments do not leak between evaluations)."""
    grads = []
    for ai, k in enumerate(ARGS):
        g = np.zeros(SHAPES[k])
        for j in range(g.size):
            args_p, args_m = _copies(inputs), _copies(inputs)
            args_p[ai].reshape(-1)[j] += eps
            args_m[ai].reshape(-1)[j] -= eps
            g.reshape(-1)[j] = (float(fn(*args_p)) - float(fn(*args_m))) / (2 * eps)
        grads.append(g)
    return grads


def _close(a, b, rtol, atol):
    return np.allclose(a, b, rtol=rtol, atol=atol)


class Outcome:
    def __init__(self, kind, detail="", cls=None):
        self.kind = kind        # "ok", "refused", "invalid", "fd_unreliable", "failure"
        self.detail = detail
        self.cls = cls          # failure class or refusal reason

    def __repr__(self):
        return f"Outcome({self.kind}, {self.cls}, {self.detail[:200]!r})"


def plain_ok(fn, inputs):
    """The program is valid NumPy with a finite scalar result."""
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            v = _plain(fn, inputs)
        return np.ndim(v) == 0 and np.isfinite(v)
    except Exception:
        return False


def refusal_reason(exc):
    msg = str(exc).splitlines()[0] if str(exc) else ""
    # drop "file:line:" prefixes so reasons group across programs
    parts = msg.split(": ")
    while parts and (".py" in parts[0] or parts[0].isdigit() or parts[0].startswith("line")):
        parts = parts[1:]
    import re
    msg = re.sub(r"`[^`]*`", "`_`", ": ".join(parts))
    msg = re.sub(r"line \d+", "line N", msg)
    return f"{type(exc).__name__}: " + msg[:150]


def check(fn, inputs, backend="python", remat="none", fd=None, rtol=1e-5, atol=1e-7):
    """Outcome of one program in one configuration.  fd: precomputed central_fd(fn, inputs, 1e-6)
    (shared across configurations)."""
    if not plain_ok(fn, inputs):
        return Outcome("invalid")
    expect = float(_plain(fn, inputs))
    try:
        d = rg.differentiate(fn, wrt=ARGS, backend=backend, remat=remat_mode(remat))
        args = _copies(inputs)
        saved = [a.copy() for a in args]
        value, grads = d.value_and_grad(*args)
        if any(not np.array_equal(a, s) for a, s in zip(args, saved)):
            return Outcome("failure", "value_and_grad changed a caller array", "caller_mutated")
        args = _copies(inputs)
        out, pb = d.vjp(*args)
        g1 = pb(1.0)
        g2 = pb(1.0)
        if any(not np.array_equal(a, s) for a, s in zip(args, saved)):
            return Outcome("failure", "vjp / pullback changed a caller array", "caller_mutated")
    except rg.RetrogradError as exc:
        o = Outcome("refused", str(exc), refusal_reason(exc))
        o.located = getattr(exc, "lineno", None) is not None    # names the user's line (brief)
        return o
    except Exception as exc:
        return Outcome("failure", "".join(traceback.format_exception_only(type(exc), exc)).strip()
                       + "\n" + traceback.format_exc()[-1500:], "crash")
    if not np.isclose(float(value), expect, rtol=1e-10, atol=1e-12):
        return Outcome("failure", f"value {float(value)!r} != plain {expect!r}", "wrong_value")
    if not np.isclose(float(out), expect, rtol=1e-10, atol=1e-12):
        return Outcome("failure", f"vjp value {float(out)!r} != plain {expect!r}", "wrong_value")
    if not isinstance(grads, tuple) or len(grads) != 3 or any(
            np.shape(g) != SHAPES[k] for g, k in zip(grads, ARGS)):
        return Outcome("failure", f"gradient structure {[np.shape(g) for g in grads]}", "grad_structure")
    for a, b in zip(g1, g2):
        if not np.array_equal(np.asarray(a), np.asarray(b)):
            return Outcome("failure", "pullback called twice gives different gradients",
                           "pullback_not_repeatable")
    for a, b in zip(grads, g1):
        if not np.allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-14):
            return Outcome("failure", "vjp gradient != value_and_grad gradient", "wrong_grad")
    fd = fd if fd is not None else central_fd(fn, inputs, 1e-6)
    bad = [k for g, f, k in zip(grads, fd, ARGS) if not _close(np.asarray(g), f, rtol, atol)]
    if bad:
        fd2 = central_fd(fn, inputs, 1e-7)
        if any(not _close(f, f2, 1e-4, 1e-5) for f, f2 in zip(fd, fd2)):
            return Outcome("fd_unreliable", "FD at 1e-6 and 1e-7 disagree (non-smooth point)")
        lines = []
        for g, f, k in zip(grads, fd, ARGS):
            if not _close(np.asarray(g), f, rtol, atol):
                err = np.abs(np.asarray(g) - f)
                j = int(np.argmax(err))
                lines.append(f"d/d{k}: max err {err.max():.3g} at flat {j}: rg {np.asarray(g).reshape(-1)[j]:.8g}"
                             f" fd {f.reshape(-1)[j]:.8g}")
        return Outcome("failure", "; ".join(lines), "wrong_grad")
    return Outcome("ok")


CONFIGS = [(b, m) for b in ("python", "numba") for m in REMATS]
