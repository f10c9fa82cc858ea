"""Backends lower the one adjoint program: `python` runs it as NumPy code, `numba` compiles it, `triton`
turns it into GPU kernels."""
import os


def cache_dir(backend):
    """Where a backend keeps the generated modules it loads from real files: $RETROGRAD_CACHE_DIR/<backend>
    (default ~/.cache/retrograd/<backend>)."""
    root = os.environ.get("RETROGRAD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "retrograd")
    path = os.path.join(root, backend)
    os.makedirs(path, exist_ok=True)
    return path
