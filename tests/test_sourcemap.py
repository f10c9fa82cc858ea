"""reverse/sourcemap.py: every line of the generated module knows the user line it came from, and the
errors a target raises for a generated line (a Numba typing failure) name that user line."""
import inspect
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import retrograd as rg
import sourcemap_cases as cases
from retrograd.pipeline import new_program

HEADER = re.compile(r"# grad of: (.*)  \((.+):(\d+)\)$")


def _program(fn, active):
    program = new_program("python")
    program.variant(fn, set(active))
    text = program.source("test")
    return program, text.splitlines()


def _user_lines(fn):
    lines, first = inspect.getsourcelines(fn)
    return {first + k: l.strip() for k, l in enumerate(lines)}


def test_primal_lines_map_to_the_statement_they_copy():
    program, lines = _program(cases.looped, ["x", "c"])
    user = {**_user_lines(cases.looped), **_user_lines(cases.helper)}
    checked = 0
    for n, text in enumerate(lines, 1):
        stripped = text.strip()
        if stripped in user.values() and not stripped.startswith(("def ", "return")):
            loc = program.line_locations.get(n)
            assert loc is not None, f"generated line {n} `{stripped}` has no user location"
            assert loc.text == stripped and user[loc.lineno] == stripped
            assert os.path.basename(loc.filename) == "sourcemap_cases.py"
            checked += 1
    assert checked >= 4


def test_adjoint_lines_map_to_their_grad_of_block():
    program, lines = _program(cases.looped, ["x", "c"])
    header, checked = None, 0
    in_adjoint = False
    for n, text in enumerate(lines, 1):
        if text.startswith("def "):
            in_adjoint, header = text.startswith("def adjoint_"), None
            continue
        m = HEADER.search(text)
        if m:
            header = (m.group(1), int(m.group(3)))
            continue
        loc = program.line_locations.get(n)
        if in_adjoint and header and text.strip() and not text.strip().startswith(("#", "for ", "if ", "while ",
                                                                                   "else", "return")):
            assert loc is not None, f"adjoint line {n} `{text.strip()}` has no user location"
            # the statement belongs to the block it sits in, or (a recomputed primal line) to its own line
            assert (loc.text, loc.lineno) == header or loc.text == text.strip(), (n, text, loc, header)
            checked += 1
    assert checked >= 6


def test_quoted_code_has_no_position_of_its_own():
    from retrograd import astutil as A
    (s,) = A.quote("y = f(x) + 1")
    assert all(getattr(n, "lineno", None) is None for n in __import__("gast").walk(s))
    A.copy_loc(s, type("Node", (), {"lineno": 7, "col_offset": 3})())
    assert s.lineno == 7 and s.value.lineno == 7


@pytest.mark.skipif("numba" not in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba"), reason="numba")
def test_numba_failure_names_the_user_line_in_this_and_a_new_process(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    fn = cases.numba_cannot_compile
    line = next(n for n, t in _user_lines(fn).items() if "np.squeeze" in t)
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path))
    with pytest.raises(rg.BackendError) as err:
        rg.differentiate(fn, backend="numba").grad(np.linspace(0.1, 1.0, 4))
    assert (os.path.basename(err.value.filename), err.value.lineno) == ("sourcemap_cases.py", line)
    assert err.value.source_line == "s = np.squeeze(A[0:1] * 2.0)"
    # a new process takes the transform from the on-disk cache: the map comes with it
    script = textwrap.dedent(f'''
        import numpy as np, retrograd as rg, sourcemap_cases as c
        try:
            rg.differentiate(c.numba_cannot_compile, backend="numba").grad(np.linspace(0.1, 1.0, 4))
        except rg.BackendError as e:
            print("AT", e.lineno, e.source_line)
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__)] + sys.path))
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert f"AT {line} s = np.squeeze(A[0:1] * 2.0)" in out.stdout, out.stderr[-2000:]
    assert any(f.endswith(".json") for _, _, fs in os.walk(tmp_path) for f in fs)   # it was a cache hit


@pytest.mark.skipif("numba" not in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba"), reason="numba")
def test_an_adjoints_zero_initialisation_names_the_line_that_assigns_the_variable():
    # `dd = zeros_like(d)` opens the adjoint, before any `# grad of` block: a failure there (Numba types no
    # dict) names the user's `d = {...}`, not nothing
    pytest.importorskip("numba")
    fn = cases.dict_on_numba
    line = next(n for n, t in _user_lines(fn).items() if t.startswith("d = {"))
    with pytest.raises(rg.BackendError) as err:
        rg.differentiate(fn, backend="numba").grad(np.linspace(0.1, 1.0, 4))
    assert (os.path.basename(err.value.filename), err.value.lineno) == ("sourcemap_cases.py", line)


def test_reversed_loop_and_branch_headers_map_to_the_users_loop_and_if():
    # the adjoint's `for i in range(n - 1, -1, -1):` is the user's loop, not the block before it
    program, lines = _program(cases.looped, ["x", "c"])
    user = _user_lines(cases.looped)
    in_adjoint, checked = False, 0
    for n, text in enumerate(lines, 1):
        if text.startswith("def "):
            in_adjoint = text.startswith("def adjoint_")
            continue
        head = text.strip()
        if in_adjoint and head.startswith(("for ", "if ")):
            loc = program.line_locations.get(n)
            assert loc is not None and user[loc.lineno].startswith(head.split()[0] + " "), (head, loc)
            checked += 1
    assert checked >= 1
