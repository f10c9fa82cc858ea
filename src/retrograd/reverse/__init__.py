"""The reverse-mode transform and its rule library."""
from . import rules  # noqa: F401
