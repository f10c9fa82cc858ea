"""The pipeline's modules have no import cycles, counting imports inside functions (they hide a cycle from
Python, not from a reader), and the core names no backend."""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_no_import_cycles():
    sys.path.insert(0, str(ROOT / "tools"))
    import import_graph
    cycles = import_graph.cycles(import_graph.edges(import_graph.modules()))
    assert cycles == [], f"import cycles: {cycles}"


_BRANCH = re.compile(r"""(backend|target)\s*[!=]=|[!=]= *["'](numba|triton)["']|self\.numba\b|backends\.(numba|triton)""")
# the public API also names no backend in code at all: no literal "numba" (one inside another string, a hint
# such as `backend=\"numba\"`, is text), no import of a backend module
_NAMED = re.compile(r"""(?<!\\)["'](numba|triton)["']|from \.+backends import .*\b(numba|triton|python)\b""")


def _offenders(path, patterns):
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("#")[0]
        if "__module__" in code:        # recognising a user's object by its library
            continue
        if any(p.search(code) for p in patterns):
            out.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}:{n}: {line.strip()}")
    return out


def test_the_core_names_no_backend():
    """frontend/, analysis/, reverse/, remat/ and forward/ read a target's Traits, never its name (the
    frontend may recognise a user's Numba-jitted helper: that is a library, not a target)."""
    offenders = []
    for pkg in ("frontend", "analysis", "reverse", "remat", "forward"):
        for path in (ROOT / "src" / "retrograd" / pkg).rglob("*.py"):
            offenders += _offenders(path, [_BRANCH])
    assert not offenders, "\n".join(offenders)


def test_the_api_calls_backends_through_their_target():
    """api.py and functional.py call a backend through its Target (backends/target.py), never by name."""
    offenders = []
    for name in ("api.py", "functional.py", "pipeline.py"):
        path = ROOT / "src" / "retrograd" / name
        if path.exists():
            offenders += _offenders(path, [_BRANCH, _NAMED])
    assert not offenders, "\n".join(offenders)


def test_the_backend_checks_catch_what_they_are_for(tmp_path):
    """The checks above flag the spellings they exist for (a check that cannot fail proves nothing)."""
    bad = tmp_path / "probe.py"
    lines = ['if self.backend == "numba":', 'if backend != "triton":', 'from .backends import numba as nb',
             'x = _backend("numba")', 'self.numba = 1', 'from .backends.numba import call']
    ok = ['hint = "use backend=\\"numba\\" here"', 'if type(v).__module__.startswith("numba"):',
          'x = 1  # backend == "numba" in a comment']
    bad.write_text("\n".join(lines + ok) + "\n")
    found = _offenders(bad, [_BRANCH, _NAMED])
    assert [f.split(": ", 1)[1] for f in found] == lines


def test_every_backend_declares_its_target():
    """api.py reaches each backend it accepts through that backend module's TARGET, whose traits are the
    module's TRAITS (what the core reads)."""
    from retrograd.backends import NAMES, target_of, traits
    from retrograd.backends.target import Target
    for name in NAMES:
        t = target_of(name)
        assert isinstance(t, Target) and t.name == name and t.traits == traits(name)
    assert target_of("numba").freezes_globals and not target_of("python").freezes_globals
