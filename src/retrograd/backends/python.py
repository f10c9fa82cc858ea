"""The python backend: the generated source runs as ordinary Python/NumPy code.

The source is registered with `linecache`, so tracebacks and debuggers show the generated lines and a
user can step through the adjoint.
"""
import linecache

from .. import runtime
from .target import Target


def load(program, source, title):
    filename = f"<retrograd {title}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = program.globals_for(runtime)
    exec(compile(source, filename, "exec"), ns)
    return ns


class PythonTarget(Target):
    name = "python"

    def load(self, program, source, title):
        return load(program, source, title)


TARGET = PythonTarget()
