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


def test_the_core_names_no_backend():
    """frontend/, analysis/, reverse/, remat/ and forward/ read a target's Traits, never its name (the
    frontend may recognise a user's Numba-jitted helper: that is a library, not a target)."""
    offenders = []
    for pkg in ("frontend", "analysis", "reverse", "remat", "forward"):
        for path in (ROOT / "src" / "retrograd" / pkg).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if "__module__" in code:        # recognising a user's object by its library
                    continue
                if re.search(r"""(backend|target)\s*[!=]=|[!=]= *["'](numba|triton)["']|self\.numba\b|backends\.(numba|triton)""", code):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
