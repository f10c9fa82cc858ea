"""Each pass of pipeline.py on its own, on small functions: the facts it establishes, not just that it runs.

The functions below are the inputs (read from this file: their lines are the lines the passes must report).
The passes run in pipeline order up to the one under test (`_prepared`); nothing here compiles or runs
generated code except where a pass's fact is about it (the source map, the lowering).
"""
import inspect

import gast
import numpy
import numpy as np
import pytest

from retrograd import astutil as A
from retrograd import pipeline as P
from retrograd.analysis.activity import int_names
from retrograd.analysis.aliases import memory_model
from retrograd.errors import UnsupportedSyntaxError


def chain(x, y):
    z = x * 2.0
    u = numpy.sin(x * y) + 1.0
    s = 0.0
    for i in range(3):
        s += u[i]
    return s * 2.0


def fill(a):
    a[0] = 1.0


def writes_through_helper(x):
    y = np.zeros(3)
    fill(y)
    unbroadcast = y * x
    return np.sum(unbroadcast)


def halving(x, n):
    k = 0
    while k < n:
        x = x * 0.5
        k = k + 1
    return np.sum(x)


def early_for(x):
    s = 0.0
    for i in range(4):
        if x[i] > 2.0:
            break
        s = s + x[i]
    for j in range(2):
        s = s * 1.5
    return s


def shapes(x, c):
    m = x[None, :]
    t = np.sum(m, axis=0)
    d = x @ x
    idx = np.arange(3)
    b = x > 0.0
    z = np.zeros(3)
    w = c * d
    return np.sum(t) + w + np.sum(z[idx]) + np.sum(np.where(b, x, 0.0))


def view_then_write(x):
    v = x[1:]
    x[0] = 5.0
    return np.sum(v)


def write_through_view(x):
    v = x[1:]
    v[0] = 5.0
    return np.sum(v)


def row_view(M):
    N = M * 1.0
    r = N[0]
    N[0, 1] = 5.0
    return np.sum(r)


def rebound_then_write(x):
    x = x * 2.0
    x[0] = 1.0
    return np.sum(x)


def sines(x):
    for i in range(3):
        x = np.sin(x)
    for j in range(3):
        x = x * 0.5
    return np.sum(x)


def redefs(x, y):
    y = y * 2.0
    a = x * 1.0
    for i in range(2):
        b = x * 3.0
    return a + b + y


def carried(x):
    s = 0.0
    t = 0.0
    for i in range(3):
        s = s + np.sin(t)
        t = x[i] * 2.0
    return s


def first_in_loop(x):
    s = 0.0
    for i in range(3):
        t = np.sin(x[i])
        s = s + t * t
    return s


def with_aux(x):
    y = x * 2.0
    if x[0] > 0:
        return np.sum(y), y
    return np.sum(x), {"y": y}


def no_result(x):
    y = x * 2.0


def star_args(*xs):
    return xs[0]


def reserved_param(unbroadcast):
    return unbroadcast * 2.0


def _line(fn, text):
    """The file line of the first line of `fn` that contains `text`."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


def _assigns(node):
    return {s.targets[0].id: s for s in gast.walk(node) if isinstance(s, gast.Assign)
            and isinstance(s.targets[0], gast.Name)}


def _normalised(fn):
    src = P.read(fn)
    P.inline(src)
    unit = P.normalise(src)
    P.finish_return(unit)
    P.count_trips(unit)
    return unit


def _prepared(fn, active, kinds, target="python", remat=None, until="analyse"):
    tf = P.FunctionTransform(P.new_program(target, remat), _normalised(fn), "primal_f", "adjoint_f")
    P.analyse(tf, set(active), kinds)
    if until != "analyse":
        P.statements(tf)
        P.plan_tape(tf, P.plan_loops(tf))
    return tf


# ---- read -----------------------------------------------------------------------------------------------

def test_read_keeps_the_users_file_and_lines():
    src = P.read(chain)
    assert src.filename == __file__
    assigns = _assigns(src.node)
    for name, text in (("z", "z = x * 2.0"), ("u", "u = numpy.sin"), ("s", "s = 0.0")):
        fname, line, _ = src.where(assigns[name])
        assert (fname, line) == (__file__, _line(chain, text))
    assert src.line_text(assigns["u"]).strip() == "u = numpy.sin(x * y) + 1.0"


def test_read_parses_once_and_hands_out_copies(monkeypatch):
    from retrograd.frontend import source
    parsed = []
    parse = source._parse
    monkeypatch.setattr(source, "_parse", lambda fn: parsed.append(fn) or parse(fn))

    def scaled(x, k=2.0):       # a new code object: nobody parsed it before
        return x * k
    first = P.read(scaled)
    first.node.body = []        # a pass rewrites its copy ...
    again = P.read(scaled)
    assert parsed == [scaled] and len(again.node.body) == 1    # ... the next reader gets the source's tree
    assert again.where(again.node.body[0])[1] == _line(scaled, "return x * k")
    scaled.__defaults__ = (3.0,)  # constant defaults are written in as the function has them now
    assert P.read(scaled).node.args.defaults[0].value == 3.0 and parsed == [scaled]


def test_read_refuses_at_the_users_line():
    with pytest.raises(UnsupportedSyntaxError) as exc:
        P.read(star_args)
    assert exc.value.lineno == _line(star_args, "def star_args") and "*args" in str(exc.value)


# ---- inline ---------------------------------------------------------------------------------------------

def test_inline_makes_a_writing_helpers_write_the_callers():
    src = P.read(writes_through_helper)
    P.inline(src)
    calls = {A.unparse(n.func) for n in gast.walk(src.node) if isinstance(n, gast.Call)}
    assert "fill" not in calls
    writes = [s for s in gast.walk(src.node) if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript)]
    assert [A.unparse(s.targets[0]) for s in writes] == ["y[0]"]
    # the inlined write still names the user's line of the call
    assert src.where(writes[0])[1] == _line(writes_through_helper, "fill(y)")


def test_inline_renames_locals_that_hide_generated_names():
    src = P.read(writes_through_helper)
    P.inline(src)
    names = A.all_names(src.node)
    assert "unbroadcast" not in names and "unbroadcast_" in names
    with pytest.raises(UnsupportedSyntaxError, match="`unbroadcast`"):
        P.inline(P.read(reserved_param))


# ---- split_aux ----------------------------------------------------------------------------------------

def test_split_aux_returns_only_the_value():
    src = P.read(with_aux)
    P.inline(src)
    aux = P.split_aux(src)
    returns = [s for s in gast.walk(src.node) if isinstance(s, gast.Return)]
    assert len(returns) == 2 and all(isinstance(r.value, gast.Name) for r in returns)
    value = returns[0].value.id
    assert value != aux and {r.value.id for r in returns} == {value}
    assigned = {A.unparse(s).strip() for s in gast.walk(src.node) if isinstance(s, gast.Assign)}
    assert {f"{value} = np.sum(y)", f"{aux} = y", f"{value} = np.sum(x)", f"{aux} = {{'y': y}}"} <= assigned
    # the user's line of each return is kept by its parts
    split = [s for s in gast.walk(src.node) if isinstance(s, gast.Assign) and s.targets[0].id == aux]
    assert sorted(src.where(s)[1] for s in split) == [_line(with_aux, "return np.sum(y), y"),
                                                _line(with_aux, 'return np.sum(x), {"y": y}')]


# ---- normalise, finish_return, count_trips ---------------------------------------------------------------

def test_normalise_leaves_the_core_language():
    unit = _normalised(shapes)
    body = unit.node.body
    for s in gast.walk(unit.node):
        assert not isinstance(s, (gast.AugAssign, gast.Break, gast.Continue))
        if isinstance(s, gast.Assign):
            assert len(s.targets) == 1 and isinstance(s.targets[0], (gast.Name, gast.Subscript))
            # a call with a derivative is the whole right-hand side of its own assignment, never nested
            inner = [n for n in gast.walk(s.value) if isinstance(n, gast.Call) and n is not s.value]
            assert inner == [], A.unparse(s)
    assert sum(isinstance(s, gast.Return) for s in gast.walk(unit.node)) == 1 and isinstance(body[-1], gast.Return)
    # the return's four calls each got a named assignment, at the user's line of the return
    ret_line = _line(shapes, "return np.sum(t)")
    hoisted = [s for s in body if isinstance(s, gast.Assign) and unit.src.where(s)[1] == ret_line]
    assert sum(isinstance(s.value, gast.Call) for s in hoisted) == 4


def test_normalise_rewrites_augmented_assignments_and_spellings():
    unit = _normalised(chain)
    loop = next(s for s in unit.node.body if isinstance(s, gast.For))
    step = loop.body[0]
    assert A.unparse(step).strip() == "s = s + u[i]" and step._rg_inplace   # `s += e` may write in place
    # one spelling for the library: `numpy.sin` (this module imports numpy unaliased) is `np.sin`
    calls = {A.unparse(n.func) for n in gast.walk(unit.node) if isinstance(n, gast.Call)}
    assert "np.sin" in calls and "numpy.sin" not in calls
    # a statement split in two keeps the user's line in both parts
    src, assigns = unit.src, _assigns(unit.node)
    sin_tmp = next(n for n, s in assigns.items() if isinstance(s.value, gast.Call) and A.unparse(s.value.func) == "np.sin")
    assert A.unparse(assigns["u"].value) == f"{sin_tmp} + 1.0"
    assert src.where(assigns[sin_tmp])[1] == src.where(assigns["u"])[1] == _line(chain, "u = numpy.sin")
    assert unit.params == ["x", "y"]
    assert {"z", "u", "s", "i", sin_tmp} <= unit.locals


def test_finish_return_returns_a_name():
    unit = _normalised(chain)
    ret = unit.node.body[-1]
    assert isinstance(ret, gast.Return) and isinstance(ret.value, gast.Name) and ret.value.id == unit.result
    defining = unit.node.body[-2]
    assert defining.targets[0].id == unit.result and A.unparse(defining.value) == "s * 2.0"
    assert unit.result in unit.locals
    with pytest.raises(UnsupportedSyntaxError, match="must end by returning a value") as exc:
        _normalised(no_result)
    assert exc.value.lineno == _line(no_result, "y = x * 2.0")


def test_count_trips_counts_only_loops_that_may_stop_early():
    unit = _normalised(halving)
    loop = next(s for s in unit.node.body if isinstance(s, gast.While))
    trips = loop._rg_trips
    assert trips in unit.locals
    assert A.unparse(loop.body[0]).strip() == f"{trips} = {trips} + 1" and loop.body[0]._rg_trip_count
    inits = [s for s in unit.node.body if isinstance(s, gast.Assign) and s.targets[0].id == trips]
    assert len(inits) == 1 and A.unparse(inits[0].value) == "0"

    unit = _normalised(early_for)
    loops = [s for s in unit.node.body if isinstance(s, gast.For)]
    assert len(loops) == 2
    assert getattr(loops[0], "_rg_trips", None) is not None     # has a break
    assert getattr(loops[1], "_rg_trips", None) is None         # runs all its trips


# ---- analyse --------------------------------------------------------------------------------------------

def test_activity_follows_what_reaches_the_result():
    tf = _prepared(chain, {"x"}, {"x": "array:1", "y": "array:1"})
    sin_tmp = (tf.active - {"x", "u", "s", tf.result}).pop()
    assert tf.active == {"x", sin_tmp, "u", "s", tf.result}
    assert "z" in tf.varied and "z" not in tf.active        # depends on x, never reaches the result
    assert "y" not in tf.varied and "i" not in tf.varied
    assert tf.active_params == ["x"]

    tf = _prepared(chain, {"y"}, {"x": "array:1", "y": "array:1"})
    assert "y" in tf.active and "x" not in tf.active and "z" not in tf.varied
    assert int_names(tf.node) == {"i"}


def test_activity_of_no_differentiated_parameter_is_empty():
    tf = _prepared(chain, set(), {"x": "array:1", "y": "array:1"})
    assert tf.active == set() and tf.varied == set() and tf.active_params == []


def test_kinds_and_dtypes():
    tf = _prepared(shapes, {"x"}, {"x": "array:1", "c": "scalar"})
    k = tf.kinds
    assert (k["m"], k["t"], k["d"], k["w"], k["idx"], k["z"]) == ("array:2", "array:1", "scalar", "scalar",
                                                                   "array:1", "array:1")
    assert {"x", "m", "t", "z", "d", "w"} <= tf.float_arrays
    assert "idx" not in tf.float_arrays and "b" not in tf.float_arrays   # integers and booleans
    # the argument kinds decide: a 2-d x makes m 3-d and x @ x a matrix
    k2 = _prepared(shapes, {"x"}, {"x": "array:2", "c": "scalar"}).kinds
    assert k2["m"] == "array:3" and k2.get("d") in (None, "array:2")


def test_redefinitions_and_first_definitions():
    unit = _normalised(halving)
    assigns = [s for s in gast.walk(unit.node) if isinstance(s, gast.Assign)]
    by_text = {A.unparse(s).strip(): s for s in assigns}
    trips = next(s for s in unit.node.body if isinstance(s, gast.While))._rg_trips
    assert P.redefined_names(unit.node.body, unit.params) == {"x", "k", trips}
    first = P.first_definitions(unit.node.body, unit.params)
    assert id(by_text["k = 0"]) in first and id(by_text[f"{trips} = 0"]) in first
    assert id(by_text["k = k + 1"]) not in first and id(by_text["x = x * 0.5"]) not in first
    result_def = next(s for s in assigns if s.targets[0].id == unit.result)
    assert id(result_def) in first and unit.result not in P.redefined_names(unit.node.body, unit.params)


def test_redefinitions_count_parameters_and_loop_bodies():
    unit = _normalised(redefs)
    redefined = P.redefined_names(unit.node.body, unit.params)
    assert {"y", "b"} <= redefined          # a parameter's older value; a loop body's previous trip
    assert "a" not in redefined and "x" not in redefined
    first = {s.targets[0].id for s in gast.walk(unit.node) if isinstance(s, gast.Assign) and
             id(s) in P.first_definitions(unit.node.body, unit.params)}
    assert "a" in first and "y" not in first and "b" not in first


def test_inplace_cotangents():
    tf = _prepared(chain, {"x"}, {"x": "array:1", "y": "array:1"})
    assert tf.inplace == {"u"}        # u[i] is read: its cotangent is updated through an index


# ---- aliases ----------------------------------------------------------------------------------------------

def test_aliases_refuse_a_view_read_after_a_write_to_its_memory():
    with pytest.raises(UnsupportedSyntaxError, match="`v` shares memory with `x`") as exc:
        _prepared(view_then_write, {"x"}, {"x": "array:1"})
    assert exc.value.lineno == _line(view_then_write, "v = x[1:]")
    assert f"line {_line(view_then_write, 'x[0] = 5.0')}" in str(exc.value)


def test_aliases_leave_a_maybe_view_to_a_run_time_check():
    # N[0] is a view of a 2-d N, a number of a 1-d one: checked when it runs, not refused
    tf = _prepared(row_view, {"M"}, {"M": "array:2"})
    stmts = {id(s): A.unparse(s).strip() for s in gast.walk(tf.node) if isinstance(s, gast.stmt)}
    assert {stmts[k]: pairs for k, pairs in tf.view_checks.items()} == {"r = N[0]": [("r", "N")]}
    assert _prepared(chain, {"x"}, {"x": "array:1", "y": "array:1"}).view_checks == {}


def test_memory_model_knows_which_parameters_a_write_reaches():
    unit = _normalised(write_through_view)
    assert memory_model(unit.node, unit.locals, unit.params).params_written == {"x"}
    unit = _normalised(rebound_then_write)                # x is rebound to a new array before the write
    assert memory_model(unit.node, unit.locals, unit.params).params_written == set()


# ---- tape exposure ----------------------------------------------------------------------------------------

def test_tape_saves_an_overwritten_value_only_where_its_adjoint_reads_it():
    tf = _prepared(sines, {"x"}, {"x": "array:1"}, until="plan_tape")
    loops = [s for s in tf.node.body if isinstance(s, gast.For)]
    sin_steps = [s for s in gast.walk(loops[0]) if isinstance(s, gast.Assign)]
    half_steps = [s for s in gast.walk(loops[1]) if isinstance(s, gast.Assign)]
    taped = tf.plan.taped
    # np.sin's adjoint reads its operand: the old x is pushed before the sine overwrites it
    assert any((id(s), "x") in taped for s in sin_steps)
    # x * 0.5's adjoint reads nothing of x: no push in the second loop
    assert not any(i == id(s) for s in half_steps for (i, _) in taped)
    assert tf.plan.memory.params_written == set()


def _taped(tf):
    stmts = {id(s): A.unparse(s).strip() for s in gast.walk(tf.node) if isinstance(s, gast.Assign)}
    return {(stmts[i], n) for i, n in tf.plan.taped}


def test_tape_exposure_across_loop_trips():
    # the sine of the previous trip's t: the old t is pushed where the next trip overwrites it
    tf = _prepared(carried, {"x"}, {"x": "array:1"}, until="plan_tape")
    assert _taped(tf) == {("t = x[i] * 2.0", "t")}
    assert tf.plan.maybe_unbound == set()       # t = 0.0 binds it before the loop
    # t first bound inside the loop: the first trip's push reads a t that may be unbound (a placeholder)
    tf = _prepared(first_in_loop, {"x"}, {"x": "array:1"}, until="plan_tape")
    assert _taped(tf) == {("t = np.sin(x[i])", "t")}
    assert tf.plan.maybe_unbound == {"t"}
    assert {"t", "x"} <= tf.plan.saved          # the last trip's t, and x for np.sin's adjoint


def test_tape_hands_over_final_values_instead_of_taping_them():
    tf = _prepared(chain, {"x"}, {"x": "array:1", "y": "array:1"}, until="plan_tape")
    assert tf.plan.taped == set()            # nothing the adjoint reads is overwritten
    assert {"x", "y"} <= tf.plan.saved       # np.sin(x * y)'s adjoint reads both operands
    assert "z" not in tf.plan.saved


# ---- emission, remat, assembly --------------------------------------------------------------------------

def test_recompute_trades_saved_values_for_recomputation():
    kinds = {"x": "array:1", "y": "array:1"}
    stored = P.transform_function(P.new_program("python"), chain, {"x"}, "primal_f", "adjoint_f", kinds)
    again = P.transform_function(P.new_program("python", "recompute"), chain, {"x"}, "primal_f", "adjoint_f", kinds)

    def saved(tf):
        return {e.id for e in tf.primal_def.body[-1].value.elts[1].elts}
    assert stored._recomputed == []
    recomputed = {s.targets[0].id for s in again._recomputed}
    assert "u" in recomputed and "u" in saved(stored)      # u = sin(x * y) + 1: cheap, from x and y
    assert saved(again) == saved(stored) - recomputed and {"x", "y"} <= saved(again)
    # the adjoint recomputes them before its first use, from what it receives
    adjoint_assigns = [A.unparse(st).strip() for st in again.adjoint_def.body if isinstance(st, gast.Assign)]
    assert "u = sin + 1.0" in adjoint_assigns


def test_transform_function_builds_the_named_functions():
    tf = P.transform_function(P.new_program("python"), chain, {"x"}, "primal_f", "adjoint_f",
                              {"x": "array:1", "y": "array:1"})
    assert (tf.primal_def.name, tf.adjoint_def.name, tf.plain_def) == ("primal_f", "adjoint_f", None)
    assert [a.id for a in tf.adjoint_def.args.args] == [tf.adjoint_def.args.args[0].id, "saved"]
    tf = P.transform_function(P.new_program("numba"), chain, {"x"}, "primal_f", "adjoint_f",
                              {"x": "array:1", "y": "array:1"})
    assert tf.plain_def is not None and tf.plain_def.name == "plain_f"   # Traits.plain_call


# ---- the whole program: source map and lowering -----------------------------------------------------------

def test_source_map_names_the_users_line_of_each_generated_line():
    program, primal, adjoint, source = P.generate(chain, ("x",), {"x": "array:1", "y": "array:1"},
                                                  target="python")
    lines = source.splitlines()
    locs = program.line_locations
    sin_line = _line(chain, "u = numpy.sin")
    first, last = _line(chain, "def chain"), _line(chain, "return s * 2.0")
    primal_sin = next(n for n, text in enumerate(lines, 1) if "np.sin(" in text)
    assert locs[primal_sin].lineno == sin_line and locs[primal_sin].filename == __file__
    assert locs[primal_sin].text == "u = numpy.sin(x * y) + 1.0"
    # the adjoint of np.sin (np.cos in it) is in the block of the same user line
    adjoint_cos = next(n for n, text in enumerate(lines, 1) if "np.cos(" in text)
    assert locs[adjoint_cos].lineno == sin_line
    assert all(first <= loc.lineno <= last for loc in locs.values())
    # a primal statement is at its own user line, the loop's rewritten `s += u[i]` too
    step = next(n for n, text in enumerate(lines, 1) if text.strip() == "s = s + u[i]")
    assert locs[step].lineno == _line(chain, "s += u[i]")
    # each `# grad of` header names the user line that the statements of its block map to
    headers = [(n, text) for n, text in enumerate(lines, 1) if "# grad of:" in text]
    assert len(headers) >= 3
    for n, text in headers:
        named = int(text.rsplit(":", 1)[1].rstrip(")"))
        assert locs[n + 1].lineno == named, (text, lines[n])


def test_lower_runs_the_targets_lowering():
    pytest.importorskip("numba")
    _, _, _, python_src = P.generate(chain, ("x",), {"x": "array:1", "y": "array:1"}, target="python")
    _, _, _, numba_src = P.generate(chain, ("x",), {"x": "array:1", "y": "array:1"}, target="numba")
    assert "njit" not in python_src
    defs = [l for l in numba_src.splitlines() if l.startswith("def ")]
    decorated = [l for l in numba_src.splitlines() if l == "@njit(cache=True, boundscheck=True)"]
    assert len(defs) == 3 and len(decorated) == 3      # primal, adjoint, plain call
