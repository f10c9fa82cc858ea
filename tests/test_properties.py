"""Property tests: hypothesis generates random programs as source text (straight-line scalar and
array arithmetic, if/else, for-loops that overwrite variables, augmented assignments, subscript
writes into new arrays and into arguments), writes each to a temporary module file, imports it (so
``inspect.getsource`` works) and checks ``grad`` against central finite differences.

The operations are kept well conditioned (tanh / sin / + / - / *, and divisions guarded as
``a / (1.0 + b * b)``) and the inputs lie in [-1, 1], so finite differences are accurate.  On a
failure hypothesis prints the generated source (``note``), which is a ready-made repro.
"""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import retrograd as rg
from fd import check_grad, check_vjp, load_module

CONSTS = ["0.5", "-0.75", "0.3", "1.0", "-0.9"]
THRESHOLDS = ["-0.3", "0.2", "0.6"]
# FD through a random program of up to a few dozen operations: a little looser than the default.
RTOL, ATOL = 1e-5, 1e-7


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return tmp_path_factory.mktemp("rg_programs")


def load_function(src, directory, name="f"):
    return getattr(load_module(src, directory), name)


# ----------------------------------------------------------------------------------------------
# expression generators
# ----------------------------------------------------------------------------------------------

def gen_expr(draw, leaves, depth):
    """A well-conditioned expression over `leaves` (strings)."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        if draw(st.integers(0, 4)) == 0:
            return draw(st.sampled_from(CONSTS))
        return draw(st.sampled_from(leaves))
    kind = draw(st.sampled_from(["tanh", "sin", "neg", "add", "sub", "mul", "div"]))
    if kind in ("tanh", "sin"):
        return f"np.{kind}({gen_expr(draw, leaves, depth - 1)})"
    if kind == "neg":
        return f"(-{gen_expr(draw, leaves, depth - 1)})"
    a = gen_expr(draw, leaves, depth - 1)
    b = gen_expr(draw, leaves, depth - 1)
    if kind == "div":
        return f"({a} / (1.0 + {b} * {b}))"
    if kind == "mul":
        return f"({a} * {b})"
    # sums are halved so that every expression over leaves in [-1, 1] stays in [-1, 1]: values
    # cannot blow up along a long program and the finite differences stay accurate
    op = {"add": "+", "sub": "-"}[kind]
    return f"(0.5 * ({a} {op} {b}))"


# ----------------------------------------------------------------------------------------------
# scalar programs
# ----------------------------------------------------------------------------------------------

@st.composite
def scalar_programs(draw):
    params = ["x0", "x1", "x2"]
    live = list(params)
    lines = ["import numpy as np", "", "", f"def f({', '.join(params)}):"]
    n_new = 0
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["assign", "overwrite", "aug", "if", "for", "swap",
                                     "elif", "while", "break", "return"]))
        if kind == "assign":
            name = f"v{n_new}"
            n_new += 1
            lines.append(f"    {name} = {gen_expr(draw, live, 3)}")
            live.append(name)
        elif kind == "overwrite":
            target = draw(st.sampled_from(live))
            lines.append(f"    {target} = {gen_expr(draw, live, 3)}")
        elif kind == "aug":
            target = draw(st.sampled_from(live))
            op = draw(st.sampled_from(["+=", "-=", "*="]))
            rhs = f"(0.5 * {gen_expr(draw, live, 2)})"
            if op == "*=":
                rhs = f"np.tanh({rhs})"
            lines.append(f"    {target} {op} {rhs}")
        elif kind == "if":
            cond = gen_expr(draw, live, 2)
            thr = draw(st.sampled_from(THRESHOLDS))
            target = draw(st.sampled_from(live))
            lines.append(f"    if {cond} > {thr}:")
            lines.append(f"        {target} = {gen_expr(draw, live, 2)}")
            if draw(st.booleans()):
                lines.append("    else:")
                lines.append(f"        {target} = {gen_expr(draw, live, 2)}")
        elif kind == "for":
            k = draw(st.integers(0, 3))
            target = draw(st.sampled_from(live))
            body = gen_expr(draw, live + ["(0.25 * i)"], 2)
            rng = draw(st.sampled_from([f"range({k})", f"range({k}, 0, -1)", f"range(1, {k + 1}, 2)"]))
            lines.append(f"    for i in {rng}:")
            lines.append(f"        {target} = np.tanh({body})")
            if draw(st.booleans()):
                other = draw(st.sampled_from(live))
                lines.append(f"        {other} = {other} * 0.5 + {target}")
        elif kind == "swap" and len(live) >= 2:
            a, b = draw(st.lists(st.sampled_from(live), min_size=2, max_size=2, unique=True))
            lines.append(f"    {a}, {b} = {b}, {a}")
        elif kind == "elif":
            target = draw(st.sampled_from(live))
            lines.append(f"    if {gen_expr(draw, live, 1)} > {draw(st.sampled_from(THRESHOLDS))}:")
            lines.append(f"        {target} = {gen_expr(draw, live, 2)}")
            lines.append(f"    elif {gen_expr(draw, live, 1)} < {draw(st.sampled_from(THRESHOLDS))}:")
            lines.append(f"        {target} = {gen_expr(draw, live, 2)}")
            lines.append("    else:")
            lines.append(f"        {target} = {target} * {gen_expr(draw, live, 1)}")
        elif kind == "while":
            counter = f"c{n_new}"
            n_new += 1
            target = draw(st.sampled_from(live))
            lines.append(f"    {counter} = 0")
            lines.append(f"    while {counter} < {draw(st.integers(0, 3))}:")
            lines.append(f"        {target} = np.tanh({gen_expr(draw, live + [f'(0.25 * {counter})'], 2)})")
            lines.append(f"        {counter} += 1")
        elif kind == "break":
            target = draw(st.sampled_from(live))
            lines.append(f"    for i in range({draw(st.integers(1, 4))}):")
            lines.append(f"        {target} = np.sin({gen_expr(draw, live, 2)})")
            lines.append(f"        if {gen_expr(draw, live, 1)} > {draw(st.sampled_from(THRESHOLDS))}:")
            lines.append(f"            {draw(st.sampled_from(['break', 'continue']))}")
            lines.append(f"        {target} = {target} + 0.5")
        elif kind == "return":
            lines.append(f"    if {gen_expr(draw, live, 1)} > {draw(st.sampled_from(THRESHOLDS))}:")
            lines.append(f"        return {gen_expr(draw, live, 2)} + " + " + ".join(live))
    final = gen_expr(draw, live, 2)
    lines.append(f"    return {final} + " + " + ".join(live))
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(src=scalar_programs(), seed=st.integers(0, 2 ** 32 - 1))
def test_random_scalar_programs(progdir, src, seed):
    note(src)
    f = load_function(src, progdir)
    r = np.random.default_rng(seed)
    args = tuple(float(v) for v in r.uniform(-1.0, 1.0, size=3))
    note(f"args = {args!r}")
    check_grad(f, args, (0, 1, 2), rtol=RTOL, atol=ATOL)
    compile(rg.differentiate(f, wrt=(0, 1, 2)).source, "<generated>", "exec")


# ----------------------------------------------------------------------------------------------
# array programs with subscript writes
# ----------------------------------------------------------------------------------------------

N = 4
SLICE_PAIRS = [("1:3", "0:2"), ("::2", "1::2"), ("-2:", ":2"), ("::-1", ":"), (":3", "1:")]


def elem(draw, arrays):
    name = draw(st.sampled_from(arrays))
    idx = draw(st.integers(-N, N - 1))
    return f"{name}[{idx}]"


@st.composite
def array_programs(draw, vector_output=False):
    lines = ["import numpy as np", "", "", "def f(a, b):", f"    y = np.zeros({N})"]
    arrays = ["a", "b"]
    temps = 0
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["temp", "write", "slice", "loop", "augwrite", "argwrite"]))
        readable = arrays + ["y"]
        if kind == "temp":
            name = f"t{temps}"
            temps += 1
            base = draw(st.sampled_from(arrays))
            lines.append(f"    {name} = np.tanh({base} + {gen_expr(draw, readable, 2)})")
            arrays.append(name)
        elif kind == "write":
            leaves = [elem(draw, readable) for _ in range(3)]
            idx = draw(st.integers(-N, N - 1))
            lines.append(f"    y[{idx}] = {gen_expr(draw, leaves, 2)}")
        elif kind == "slice":
            dst, src = draw(st.sampled_from(SLICE_PAIRS))
            base = draw(st.sampled_from(arrays))
            lines.append(f"    y[{dst}] = ({base} * {gen_expr(draw, readable, 2)})[{src}]")
        elif kind == "loop":
            rng, prev = draw(st.sampled_from([(f"range(1, {N})", "i - 1"),
                                              (f"range({N - 2}, -1, -1)", "i + 1")]))
            arr = draw(st.sampled_from(arrays))
            lines.append(f"    for i in {rng}:")
            lines.append(f"        y[i] = np.tanh(y[{prev}] * {arr}[i] + {gen_expr(draw, ['a[i]', 'b[i]'], 1)})")
        elif kind == "augwrite":
            idx = draw(st.integers(-N, N - 1))
            op = draw(st.sampled_from(["+=", "-=", "*="]))
            rhs = gen_expr(draw, [elem(draw, readable) for _ in range(2)], 1)
            if op == "*=":
                rhs = f"np.tanh({rhs})"
            lines.append(f"    y[{idx}] {op} {rhs}")
        elif kind == "argwrite":
            target = draw(st.sampled_from(["a", "b"]))
            idx = draw(st.integers(-N, N - 1))
            rhs = gen_expr(draw, [elem(draw, ["a", "b"]) for _ in range(2)], 1)
            lines.append(f"    {target}[{idx}] = {rhs}")
    weight = gen_expr(draw, arrays + ["y"], 1)
    if vector_output:
        lines.append(f"    return y * {weight} + a * b")
    else:
        lines.append(f"    return np.sum(y * {weight}) + np.sum(np.sin(y)) + np.sum(a * b)")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(src=array_programs(), seed=st.integers(0, 2 ** 32 - 1))
def test_random_array_programs(progdir, src, seed):
    note(src)
    f = load_function(src, progdir)
    r = np.random.default_rng(seed)
    a, b = r.uniform(-1.0, 1.0, size=N), r.uniform(-1.0, 1.0, size=N)
    note(f"a = {a!r}\nb = {b!r}")
    # check_grad also checks that a and b (which the program may write into) are left unchanged
    check_grad(f, (a, b), (0, 1), rtol=RTOL, atol=ATOL)
    compile(rg.differentiate(f, wrt=(0, 1)).source, "<generated>", "exec")


@settings(max_examples=30, deadline=None)
@given(src=array_programs(vector_output=True), seed=st.integers(0, 2 ** 32 - 1))
def test_random_array_programs_vjp(progdir, src, seed):
    note(src)
    f = load_function(src, progdir)
    r = np.random.default_rng(seed)
    a, b = r.uniform(-1.0, 1.0, size=N), r.uniform(-1.0, 1.0, size=N)
    note(f"a = {a!r}\nb = {b!r}")
    check_vjp(f, (a, b), (0, 1), rtol=RTOL, atol=ATOL, seed=seed)


# ----------------------------------------------------------------------------------------------
# a fixed sanity example of the generator machinery (fails loudly if loading breaks)
# ----------------------------------------------------------------------------------------------

def test_program_loader_roundtrip(progdir):
    src = "import numpy as np\n\n\ndef f(x0, x1, x2):\n    v0 = np.tanh(x0 * x1)\n    return v0 + x2\n"
    f = load_function(src, progdir)
    assert np.isclose(f(0.5, 0.4, 1.0), np.tanh(0.2) + 1.0)
    g = check_grad(f, (0.5, 0.4, 1.0), (0, 1, 2))
    assert np.isclose(g[2], 1.0)
