"""Backends lower the one adjoint program: `python` runs it as NumPy code."""
