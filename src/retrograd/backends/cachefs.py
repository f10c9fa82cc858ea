"""The backends' on-disk caches, made safe to load from.

A generated module in the cache is executed, so the cache must only ever hold what retrograd wrote:

- a cache directory is used only if it is ours: owned by this uid and not group/world-writable (as ssh and
  pip require); otherwise, or if it cannot be created or written (under a regular file, read-only, disk
  full), one warning and a private `tempfile.mkdtemp` directory instead, and if even that fails the
  module is compiled in memory;
- files are content-addressed: the name carries the sha256 of the exact bytes, checked before they are
  compiled, and the checked bytes (not the file again) are what runs;
- writes go to a unique temp file (pid, thread, random) and are renamed into place atomically; a module
  is registered in `sys.modules` only by the thread holding the lock and removed again if it fails.
"""
import errno
import hashlib
import linecache
import os
import pickle
import re
import secrets
import stat
import sys
import tempfile
import threading
import types
import warnings

from ..errors import CacheWarning

LOCK = threading.RLock()
_DIRS = {}          # backend -> the directory in use (None: in memory)
_WARNED = set()
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def default_root():
    return os.environ.get("RETROGRAD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "retrograd")


def untrusted_reason(path):
    """Why `path` must not be loaded from, or None if it is a directory only this user can write."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"is owned by uid {st.st_uid}, not by this user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def warn_once(backend, msg):
    if backend not in _WARNED:
        _WARNED.add(backend)
        warnings.warn(f"retrograd {backend} cache: {msg}", CacheWarning, stacklevel=4)


def _make_trusted(path):
    """Create `path` (0700) and check it and its parent; returns the reason it cannot be used, or None."""
    root = os.path.dirname(path)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        return f"{path} cannot be created ({exc.strerror or exc})"
    for p in (root, path):
        why = untrusted_reason(p)
        if why:
            return f"{p} {why}"
    return None


def directory(backend):
    """The trusted directory this backend reads and writes, or None: compile in memory."""
    with LOCK:
        root = default_root()
        key = (backend, root)
        if key in _DIRS:
            return _DIRS[key]
        path = os.path.join(root, backend)
        why = _make_trusted(path)
        if why is None:
            _DIRS[key] = path
        else:
            _DIRS[key] = _fallback(backend, why)
        return _DIRS[key]


def _fallback(backend, why):
    try:
        path = tempfile.mkdtemp(prefix=f"retrograd-{backend}-")
        warn_once(backend, f"{why}; using the private directory {path} for this process instead")
        return path
    except OSError as exc:
        warn_once(backend, f"{why}, and no private directory could be made ({exc.strerror}); "
                           "compiling in memory (nothing is cached)")
        return None


def demote(backend, why):
    """The directory in use failed (disk full, gone read-only): move on to a private one, or to memory."""
    with LOCK:
        key = (backend, default_root())
        current = _DIRS.get(key)
        if current is not None and os.path.basename(current).startswith(f"retrograd-{backend}-"):
            _DIRS[key] = None       # the private directory failed too
            warn_once(backend, f"{why}; compiling in memory (nothing is cached)")
        else:
            _DIRS[key] = _fallback(backend, why)
        return _DIRS[key]


def content_name(prefix, data):
    return f"{prefix}{hashlib.sha256(data).hexdigest()[:32]}"


def valid_name(name, prefix):
    """A module name from an index: a plain identifier with our prefix (no separators, no `..`)."""
    return isinstance(name, str) and name.startswith(prefix) and bool(_NAME.match(name))


def inside(dirpath, name, suffix=".py"):
    """The path of `name` + suffix in `dirpath`, or None if it would resolve outside it."""
    path = os.path.realpath(os.path.join(dirpath, name + suffix))
    base = os.path.realpath(dirpath)
    return path if os.path.dirname(path) == base else None


def write_atomic(path, data):
    """Write bytes to `path` through a unique temp file and an atomic rename; no temp file is left."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_verified(path, name, prefix):
    """The bytes at `path` if their sha256 is the hash in `name`, else None (and the file is discarded)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if content_name(prefix, data) != name:
        discard(path)
        return None
    return data


def discard(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _numba_dirs(d):
    """The existing directories from Numba's index directory up to $NUMBA_CACHE_DIR (or its parent)."""
    top = os.environ.get("NUMBA_CACHE_DIR")
    top = os.path.realpath(top) if top else os.path.dirname(os.path.realpath(d))
    p, out = os.path.realpath(d), []
    while True:
        if os.path.isdir(p):
            out.append(p)
        if p == top or os.path.dirname(p) == p or not p.startswith(top):
            return out
        p = os.path.dirname(p)


def guard_numba_caches(module):
    """Numba unpickles each dispatcher's `.nbi` index at its first call.  Where Numba keeps it (next to the
    module, or under $NUMBA_CACHE_DIR) must be trusted like our own directory, else that function is not
    cached; and an index that does not unpickle (a truncated write) would fail every call, so it goes now
    and Numba compiles again."""
    for v in list(module.__dict__.values()):
        cache = getattr(v, "_cache", None)
        index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
        if index is None or getattr(v, "__module__", None) != module.__name__:
            continue
        d = os.path.dirname(index)
        why = next((f"{p} {w}" for p in _numba_dirs(d) for w in [untrusted_reason(p)] if w), None)
        if why:
            from numba.core.caching import NullCache
            warn_once("numba-index", f"Numba's cache directory {why}; not caching compiled code there")
            v._cache = NullCache()
            continue
        try:
            with open(index, "rb") as fh:
                pickle.load(fh)             # Numba's format: the version, then the pickled (stamp, index)
                stamp, overloads = pickle.loads(fh.read())
            if not isinstance(overloads, dict):
                raise ValueError(index)
        except FileNotFoundError:
            pass
        except Exception:
            discard(index)


def load_module(backend, prefix, source, ns, loaded, memory_source=None, name_data=None):
    """Import `source` as a content-addressed module of the backend's cache; returns the module.

    `name_data` (bytes, default the source) is what gets hashed into the name and written to the file;
    `loaded` the backend's dict of modules already imported (checked before sys.modules, which only
    holds complete modules); `memory_source` the text to exec when nothing can be written."""
    data = name_data if name_data is not None else source.encode()
    name = content_name(prefix, data)
    with LOCK:
        if name in loaded:
            return loaded[name]
        path = None
        while True:
            d = directory(backend)
            if d is None:
                break
            path = os.path.join(d, name + ".py")
            if read_verified(path, name, prefix) == data:
                break
            try:
                write_atomic(path, data)
                break
            except OSError as exc:
                path = None
                demote(backend, f"{d} cannot be written ({exc.strerror or exc})")
        module = types.ModuleType(name)
        module.__file__ = path or f"<{name}>"
        for k, v in ns.items():         # the user's globals the code reads; the module keeps its own name
            module.__dict__.setdefault(k, v)
        if path is None:
            text = memory_source if memory_source is not None else data.decode()
            fake = f"<{name}>"
            linecache.cache[fake] = (len(text), None, text.splitlines(True), fake)   # for inspect.getsource
            code = compile(text, fake, "exec")
        else:
            code = compile(data, path, "exec")      # the verified bytes, not the file read again
        sys.modules[name] = module      # Numba's cache looks the module up by name
        try:
            exec(code, module.__dict__)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        if backend == "numba" and path is not None:
            guard_numba_caches(module)
        loaded[name] = module
        return module


def is_disk_error(exc):
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM,
                                                      errno.ENOTDIR, errno.EDQUOT)


BACKENDS = {"numba": "retrograd_generated_", "triton": "retrograd_triton_"}


def _ours(backend, dirpath):
    """The files of `dirpath` that retrograd wrote for `backend`: generated modules, their Numba/Python
    caches, transform-cache entries.  Nothing else is counted or removed (the root may be any folder)."""
    prefix = BACKENDS[backend]
    out = []
    for sub, keep in (("", lambda f: f.startswith(prefix) and (f.endswith(".py") or f.endswith(".tmp"))),
                      ("__pycache__", lambda f: f.startswith(prefix)),
                      ("transforms", lambda f: f.endswith(".json") or f.endswith(".tmp"))):
        d = os.path.join(dirpath, sub)
        try:
            names = os.listdir(d)
        except OSError:
            continue
        out += [os.path.join(d, f) for f in sorted(names) if keep(f) and os.path.isfile(os.path.join(d, f))]
    return out


def info(backend):
    """{location, trusted, reason, size, modules, entries} of a backend's configured cache location."""
    path = os.path.join(default_root(), backend)
    exists = os.path.lexists(path)
    why = untrusted_reason(path) if exists else None
    files = _ours(backend, path) if os.path.isdir(path) else []
    size = sum(os.path.getsize(f) for f in files if os.path.exists(f))
    return {"location": path, "exists": exists, "trusted": why is None, "reason": why, "size": size,
            "modules": sum(f.endswith(".py") for f in files),
            "entries": sum(os.path.basename(os.path.dirname(f)) == "transforms" for f in files)}


def clear(backend):
    """Remove what retrograd wrote in a backend's cache location; returns the number of files removed."""
    path = os.path.join(default_root(), backend)
    n = 0
    for f in _ours(backend, path):
        try:
            os.unlink(f)
            n += 1
        except OSError:
            pass
    return n
