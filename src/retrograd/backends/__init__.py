"""Backends lower the one adjoint program: `python` runs it as NumPy code, `numba` compiles it, `triton`
turns it into GPU kernels."""


def cache_dir(backend):
    """Where a backend keeps the generated modules it loads from real files: $RETROGRAD_CACHE_DIR/<backend>
    (default ~/.cache/retrograd/<backend>) if that is a directory only this user can write, else a private
    temp directory, or None (compile in memory); see cachefs.py."""
    from . import cachefs
    return cachefs.directory(backend)
