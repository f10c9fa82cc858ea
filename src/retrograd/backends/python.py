"""The python backend: the generated source runs as ordinary Python/NumPy code.

The source is registered with `linecache`, so tracebacks and debuggers show the generated lines and a
user can step through the adjoint; its line map is registered too, so an exception raised while it runs
names the user's line (reverse/sourcemap.py: `wrap` adds the note).
"""
import linecache

from .. import runtime
from ..reverse import sourcemap
from .target import Target


def load(program, source, title):
    filename = sourcemap.register(f"<retrograd {title}>", source, program.line_locations)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = program.globals_for(runtime)
    exec(compile(source, filename, "exec"), ns)
    return ns


class PythonTarget(Target):
    name = "python"

    def load(self, program, source, title):
        return load(program, source, title)

    def wrap(self, fn, source, locations):
        return sourcemap.located(fn)


TARGET = PythonTarget()
