"""Command-line interface: ``retrograd show path/to/file.py:function``.

Prints the Python source that retrograd generates (primal + adjoint) for one function of a file::

    retrograd show examples/quickstart.py:loss
    retrograd show model.py:layer --wrt W b
    python -m retrograd show model.py:layer --wrt W --wrt b --backend python

Exit codes: 0 on success, 1 when retrograd refuses the function (a ``RetrogradError``: unsupported
syntax, missing derivative rule, bad ``--wrt``, ...) or the file fails while being imported, 2 for a
bad command line, a missing file or a missing function.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import traceback

PROG = "retrograd"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class _CliError(Exception):
    """A problem with what the user asked for (exit code 2)."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="retrograd: source-to-source reverse-mode automatic differentiation.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    cache = sub.add_parser(
        "cache",
        help="show or clear the on-disk caches of the numba and triton backends",
        description="`cache info`: where each backend's cache lives, whether it is trusted, its size and "
                    "entries. `cache clear`: remove the files retrograd wrote there.",
    )
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--backend", choices=["numba", "triton"], default=None,
                       help="only this backend (default: both)")

    show = sub.add_parser(
        "show",
        help="print the generated primal + adjoint source of a function",
        description=(
            "Load FILE.py as a module, differentiate FUNCTION with retrograd and print the generated "
            "primal + adjoint Python source."
        ),
    )
    show.add_argument(
        "target",
        metavar="FILE.py:FUNCTION",
        help="path to a Python file and the name of a module-level function in it",
    )
    show.add_argument(
        "--wrt",
        action="extend",
        nargs="+",
        metavar="NAME",
        default=None,
        help=(
            "argument(s) to differentiate with respect to, by name or position; may be repeated "
            "(default: the first argument)"
        ),
    )
    show.add_argument(
        "--args",
        default=None,
        metavar="EXPR",
        help=(
            "example arguments, a Python expression evaluated with numpy as np (e.g. "
            "\"1.0, np.ones(3)\"): show the code specialised for their kinds (scalar / array rank), "
            "as a call with them runs it; without it the generic code is shown"
        ),
    )
    show.add_argument(
        "--backend",
        default="python",
        help="code-generation backend (default: python)",
    )
    show.add_argument(
        "--remat",
        default=None,
        metavar="SETTING",
        help=(
            "rematerialisation: 'store', 'recompute', 'snapshots=K' (Revolve checkpointing with K snapshots) "
            "or 'memory=BYTES' (default: store, except loops whose re-run keeps no state)"
        ),
    )
    return parser


def _parse_remat(text):
    if text is None or text in ("store", "recompute"):
        return text
    import retrograd as rg

    key, _, value = text.partition("=")
    if key in ("snapshots", "memory") and value.isdigit():
        return rg.Checkpoint(**{key: int(value)})
    raise _CliError(f"--remat expects store, recompute, snapshots=K or memory=BYTES, got {text!r}")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("retrograd")
    except Exception:  # not installed (e.g. run from a source tree with PYTHONPATH=src)
        return "0.1.0"


def _split_target(target: str) -> tuple[str, str]:
    path, sep, func = target.rpartition(":")
    if not sep or not path or not func:
        raise _CliError(f"expected FILE.py:FUNCTION, got {target!r}")
    return path, func


def _module_name_for(path: str) -> str:
    """A module name derived from the file stem; prefixed when the stem is taken or not an identifier."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name = re.sub(r"\W", "_", stem) or "module"
    if name[0].isdigit():
        name = "_" + name
    existing = sys.modules.get(name)
    if existing is not None:
        existing_file = getattr(existing, "__file__", None)
        if existing_file is None or os.path.abspath(existing_file) != os.path.abspath(path):
            name = f"_retrograd_cli_{name}"
    return name


def load_module(path: str):
    """Import the Python file at ``path`` as a module registered in ``sys.modules``."""
    if not os.path.exists(path):
        raise _CliError(f"no such file: {path}")
    if os.path.isdir(path):
        raise _CliError(f"{path} is a directory, expected a Python file")
    path = os.path.abspath(path)
    name = _module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise _CliError(f"cannot load {path} as a Python module (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    # Registered before executing so that the module's helpers, dataclasses, pickling and
    # inspect.getsource (used by the frontend) all resolve the module by name.
    sys.modules[name] = module
    # Like `python FILE.py`: the file's folder is importable, so sibling modules resolve.
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _find_function(module, func: str, path: str):
    obj = module
    for part in func.split("."):
        if not hasattr(obj, part):
            available = sorted(
                n
                for n, v in vars(module).items()
                if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
            )
            msg = f"{path} has no function {func!r}"
            if available:
                msg += " (functions defined there: " + ", ".join(available) + ")"
            raise _CliError(msg)
        obj = getattr(obj, part)
    if not callable(obj):
        raise _CliError(f"{path}:{func} is not a function (it is a {type(obj).__name__})")
    return obj


def _parse_wrt(values):
    if not values:
        return None
    out = []
    for v in values:
        for item in v.split(","):
            item = item.strip()
            if not item:
                continue
            out.append(int(item) if re.fullmatch(r"-?\d+", item) else item)
    return tuple(out) if out else None


def _user_frames(tb):
    """The traceback from the first frame outside this module and importlib (the user's code)."""
    start = tb
    while start is not None:
        filename = start.tb_frame.f_code.co_filename
        if filename != __file__ and not filename.startswith("<frozen"):
            return start
        start = start.tb_next
    return tb


class _UserModuleError(Exception):
    """The user's file raised while being imported (exit code 1, with its traceback)."""


def _show(args) -> int:
    path, func = _split_target(args.target)
    try:
        module = load_module(path)
    except _CliError:
        raise
    except Exception as exc:
        raise _UserModuleError(path) from exc
    obj = _find_function(module, func, path)

    import retrograd as rg

    wrt = _parse_wrt(args.wrt)
    remat = _parse_remat(args.remat)
    if wrt is None and args.backend == "python" and remat is None and isinstance(getattr(obj, "source", None), str):
        # Already decorated with @rg.differentiate(...) in the file: show it with the file's own options.
        d = obj
    else:
        fn = getattr(obj, "__wrapped__", obj)
        kwargs = {"backend": args.backend, "remat": remat}
        if wrt is not None:
            kwargs["wrt"] = wrt
        d = rg.differentiate(fn, **kwargs)
    if args.args is not None:
        import numpy as np

        try:
            example = eval(args.args, {"np": np, "numpy": np})
        except Exception as exc:
            raise _CliError(f"--args: cannot evaluate {args.args!r}: {exc}") from None
        source = d.source_for(*(example if isinstance(example, tuple) else (example,)))
    else:
        source = d.source
    sys.stdout.write(source if source.endswith("\n") else source + "\n")
    sys.stdout.flush()
    return EXIT_OK


def _cache(args) -> int:
    from retrograd.backends import cachefs
    for backend in [args.backend] if args.backend else list(cachefs.BACKENDS):
        if args.action == "clear":
            print(f"{backend}: removed {cachefs.clear(backend)} files from {cachefs.info(backend)['location']}")
            continue
        i = cachefs.info(backend)
        trust = ("not created yet (made 0700 at first use)" if not i["exists"] else "trusted" if i["trusted"] else f"NOT trusted ({i['reason']}; a private temp dir is used instead)")
        print(f"{backend}: {i['location']}\n  {trust}\n  {i['size']} bytes, {i['modules']} generated modules, "
              f"{i['entries']} transform-cache entries")
    return EXIT_OK


def main(argv=None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad command line (argparse already printed)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)

    try:
        if args.command == "show":
            return _show(args)
        if args.command == "cache":
            return _cache(args)
        print(f"{PROG}: error: unknown command {args.command!r}", file=sys.stderr)
        return EXIT_USAGE
    except _CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _UserModuleError as exc:
        cause = exc.__cause__
        print(f"{PROG}: error while importing {exc}:", file=sys.stderr)
        traceback.print_exception(type(cause), cause, _user_frames(cause.__traceback__), file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # e.g. `retrograd show f.py:g | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except Exception as exc:
        from retrograd.errors import RetrogradError

        if isinstance(exc, RetrogradError):
            print(f"{PROG}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
