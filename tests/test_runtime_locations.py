"""An exception raised while generated code runs names the user's file, line and source text (a PEP 678
note and `exc.retrograd_location`), keeps its type (a user's `except IndexError` still catches it), and
for an adjoint or tangent line says whose gradient or tangent failed (reverse/sourcemap.py)."""
import inspect
import os

import numpy as np
import pytest

import retrograd as rg
import runtime_error_cases as cases
import runtime_error_helper as helper
from retrograd.reverse import sourcemap


def _line_of(module, text):
    """(file, line) of the line of `module` whose stripped text is `text`."""
    lines, _ = inspect.getsourcelines(module)
    found = [k + 1 for k, l in enumerate(lines) if l.strip() == text]
    assert len(found) == 1, text
    return os.path.abspath(inspect.getsourcefile(module)), found[0]


def _check(exc, module, text, kind):
    fname, line = _line_of(module, text)
    loc = exc.retrograd_location
    assert (os.path.abspath(loc.filename), loc.lineno, loc.text, loc.kind) == (fname, line, text, kind)
    notes = getattr(exc, "__notes__", [])
    assert len(notes) == 1 and f"`{text}`" in notes[0] and f"{fname}:{line}" in notes[0], notes
    return notes[0]


def test_primal_index_error_names_the_users_line_and_stays_an_index_error():
    with pytest.raises(IndexError) as info:
        rg.grad(cases.out_of_bounds)(np.ones(5))
    note = _check(info.value, cases, "z = y[10]", "primal")
    assert "raised while running" in note
    assert "out of bounds" in str(info.value)       # NumPy's own message is kept


def test_plain_value_error_in_the_primal():
    with pytest.raises(ValueError) as info:
        rg.value_and_grad(cases.mismatched)(np.ones(3), np.ones((4, 2)))
    _check(info.value, cases, "y = x @ M", "primal")


def test_zero_division_of_floats_in_the_primal():
    with pytest.raises(ZeroDivisionError) as info:
        rg.grad(cases.ratio)(1.0, 0.0)
    _check(info.value, cases, "y = x / k", "primal")


def test_adjoint_failure_says_which_lines_gradient_failed():
    A = np.zeros((2, 2))                 # det is 0, fine; its gradient inverts A
    assert cases.singular_det(A) == 0.0
    with pytest.raises(np.linalg.LinAlgError) as info:
        rg.grad(cases.singular_det)(A)
    note = _check(info.value, cases, "d = np.linalg.det(A)", "gradient")
    assert "computing the gradient of" in note


def test_vjp_pullback_failure_is_located_too():
    _, pullback = rg.vjp(cases.singular_det, np.zeros((2, 2)))
    with pytest.raises(np.linalg.LinAlgError) as info:
        pullback(1.0)
    _check(info.value, cases, "d = np.linalg.det(A)", "gradient")


def test_forward_mode_failure_names_the_users_line():
    with pytest.raises(IndexError) as info:
        rg.jvp(cases.out_of_bounds, (np.ones(5),), (np.ones(5),))
    note = _check(info.value, cases, "z = y[10]", "tangent")
    assert "computing the tangent of" in note


def test_hvp_failure_goes_through_the_generated_gradient_to_the_users_line():
    with pytest.raises(np.linalg.LinAlgError) as info:
        rg.hvp(cases.singular_det, (np.zeros((2, 2)),), (np.ones((2, 2)),))
    loc = info.value.retrograd_location
    fname, line = _line_of(cases, "d = np.linalg.det(A)")
    assert (os.path.abspath(loc.filename), loc.lineno) == (fname, line)
    assert loc.kind.startswith("tangent")
    assert not loc.filename.startswith("<retrograd")


def test_helper_from_another_module_names_its_own_file():
    with pytest.raises(IndexError) as info:
        rg.grad(cases.calls_pick)(np.ones(5))
    _check(info.value, helper, "return y[10] * 1.0", "primal")


def test_inlined_writer_from_another_module_names_its_line_and_the_call():
    with pytest.raises(IndexError) as info:
        rg.grad(cases.calls_fill)(np.ones(5))
    note = _check(info.value, helper, "out[7] = x[0]", "primal")
    via = info.value.retrograd_location.via
    assert (via.text, via.lineno) == ("fill(out, x)", _line_of(cases, "fill(out, x)")[1])
    assert "inlined at `fill(out, x)`" in note


def test_retrograd_error_at_run_time_carries_filename_lineno_and_source_line():
    with pytest.raises(rg.RetrogradError) as info:
        rg.grad(cases.repeated_write)(np.ones(2), np.array([1, 1]))
    err = info.value
    fname, line = _line_of(cases, "A[idx] = x")
    assert (os.path.abspath(err.filename), err.lineno, err.source_line) == (fname, line, "A[idx] = x")


def test_the_same_call_succeeds_where_nothing_fails():
    # the wrapper changes nothing else: value and gradient of a call that does not fail
    x = np.linspace(0.1, 1.0, 11)
    v, g = rg.value_and_grad(cases.out_of_bounds)(x)
    assert v == cases.out_of_bounds(x)
    expect = np.zeros(11)
    expect[10] = 2.0 * np.cos(x[10])
    np.testing.assert_allclose(g, expect)


def test_two_modules_with_one_title_keep_their_own_maps():
    # two variants of one function (other argument kinds, debug_nans) load modules of the same title
    loc_a, loc_b = sourcemap.Location("a.py", 1, "a = 1"), sourcemap.Location("b.py", 2, "b = 2")
    first = sourcemap.register("<retrograd t.py:same>", "x = 1\n", {1: loc_a})
    second = sourcemap.register("<retrograd t.py:same>", "x = 2\n", {1: loc_b})
    again = sourcemap.register("<retrograd t.py:same>", "x = 1\n", {1: loc_a})
    assert first != second and again == first
    assert sourcemap.locate(first, 1) == loc_a and sourcemap.locate(second, 1) == loc_b


def test_a_chain_of_generated_modules_ends_at_the_users_line():
    user = sourcemap.Location("user.py", 7, "y = f(x)", kind="gradient")
    gen = sourcemap.register("<retrograd chain-inner>", "a\nb\n", {2: user})
    outer = sourcemap.register("<retrograd chain-outer>", "c\n", {1: sourcemap.Location(gen, 2, "b", kind="tangent")})
    loc = sourcemap.locate(outer, 1)
    assert (loc.filename, loc.lineno, loc.kind) == ("user.py", 7, "tangent of gradient")
    assert "computing the tangent of the gradient of `y = f(x)`" in sourcemap.describe(loc)


# ---- numba: the compiled code checks bounds, and its run-time errors name the user's line --------------

def _numba():
    pytest.importorskip("numba")


def test_numba_out_of_bounds_raises_index_error_at_the_users_line_not_garbage():
    _numba()
    d = rg.differentiate(cases.out_of_bounds, backend="numba")
    for run in (d.grad, d):             # the gradient's primal, and the compiled plain call
        with pytest.raises(IndexError) as info:
            run(np.ones(5))
        _check(info.value, cases, "z = y[10]", "primal")
        assert "index 10 is out of bounds" in str(info.value)   # the python replay's message
    x = np.linspace(0.1, 1.0, 11)       # in bounds: the same value and gradient as the python backend
    np.testing.assert_allclose(d.grad(x), rg.grad(cases.out_of_bounds)(x), rtol=1e-13)


def test_numba_helpers_from_another_module_name_their_lines():
    _numba()
    with pytest.raises(IndexError) as info:
        rg.grad(cases.calls_pick, backend="numba")(np.ones(5))
    _check(info.value, helper, "return y[10] * 1.0", "primal")
    with pytest.raises(IndexError) as info:
        rg.grad(cases.calls_fill, backend="numba")(np.ones(5))
    _check(info.value, helper, "out[7] = x[0]", "primal")


def test_numba_shape_mismatch_and_zero_division_name_the_users_line():
    _numba()
    with pytest.raises(ValueError) as info:
        rg.grad(cases.mismatched, backend="numba")(np.ones(3), np.ones((4, 2)))
    _check(info.value, cases, "y = x @ M", "primal")
    with pytest.raises(ZeroDivisionError) as info:
        rg.grad(cases.ratio, backend="numba")(1.0, 0.0)
    _check(info.value, cases, "y = x / k", "primal")


def test_numba_forward_mode_names_the_users_line():
    _numba()
    with pytest.raises(IndexError) as info:
        rg.jvp(rg.differentiate(cases.out_of_bounds, backend="numba"), (np.ones(5),), (np.ones(5),))
    _check(info.value, cases, "z = y[10]", "tangent")


def test_numba_adjoint_failure_keeps_its_type_and_says_where_to_look():
    _numba()
    with pytest.raises(np.linalg.LinAlgError) as info:
        rg.grad(cases.singular_det, backend="numba")(np.zeros((2, 2)))
    notes = getattr(info.value, "__notes__", [])
    assert any("adjoint_singular_det" in n and 'backend="python"' in n for n in notes), notes


@pytest.mark.parametrize("f,shape,text,hint", [
    (cases.wide_qr, (2, 3), "q, r = np.linalg.qr(a)", "transpose a wide matrix"),
    (cases.full_svd, (3, 2), "u, s, vt = np.linalg.svd(a, full_matrices=True)", "pass full_matrices=False")])
def test_numba_guard_in_the_compiled_adjoint_names_the_users_line(f, shape, text, hint):
    # the rule's guard raises MissingRuleError in compiled code, with constant arguments only (no line): it is
    # named at the one user line whose generated code calls the function its message names
    _numba()
    a = np.random.default_rng(3).normal(size=shape)
    with pytest.raises(rg.MissingRuleError) as info:
        rg.grad(f, backend="numba")(a)
    err = info.value
    fname, line = _line_of(cases, text)
    assert (os.path.abspath(err.filename), err.lineno, err.source_line, err.hint) == (fname, line, text, hint)
    assert "; hint:" not in err.detail


def test_numba_line_map_survives_the_transform_cache(tmp_path):
    _numba()
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent('''
        import numpy as np, retrograd as rg, runtime_error_cases as c
        try:
            rg.grad(c.calls_fill, backend="numba")(np.ones(5))
        except IndexError as e:
            loc = e.retrograd_location
            print("AT", loc.lineno, loc.text, loc.kind, loc.via.text)
    ''')
    _, line = _line_of(helper, "out[7] = x[0]")
    env = dict(os.environ, RETROGRAD_CACHE_DIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join([os.path.dirname(__file__)] + sys.path))
    for _ in range(2):                  # the second process loads the transform (and its map) from disk
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert f"AT {line} out[7] = x[0] primal fill(out, x)" in out.stdout, out.stderr[-2000:]
    assert any(f.endswith(".json") for _, _, fs in os.walk(tmp_path) for f in fs)


def test_hvp_refusal_names_the_users_line_not_the_generated_gradients():
    # hvp transforms the generated gradient: a refusal there is at one of its lines, which map to the user's
    with pytest.raises(rg.MissingRuleError) as info:
        rg.hvp(cases.product, (np.ones(3),), (np.ones(3),))
    err = info.value
    fname, line = _line_of(cases, "p = np.prod(x)")
    assert (os.path.abspath(err.filename), err.lineno, err.source_line) == (fname, line, "p = np.prod(x)")
    assert str(err).startswith(f"{err.filename}:{line}:") and "<retrograd" not in str(err).splitlines()[0]
    assert any("<retrograd" in n and "gradient of `p = np.prod(x)`" in n for n in getattr(err, "__notes__", []))


def test_numba_source_before_a_call_says_to_use_source_for():
    # the generic code (unknown kinds) is refused on numba where the code for an array argument is not
    _numba()
    d = rg.differentiate(cases.pair_loop, backend="numba")
    pos = np.arange(6.0).reshape(3, 2)
    try:
        d.source          # once type inference types the generic code, it is not refused at all
    except rg.BackendError as exc:
        assert any("source_for(*args)" in n for n in getattr(exc, "__notes__", []))
    assert "def adjoint_pair_loop" in d.source_for(pos)
