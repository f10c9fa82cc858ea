"""Errors retrograd raises on purpose.

Every error names where in the *user's* code the problem is (file, line, column, construct) and says
what to do instead.  Internal failures are never shown raw as the only message.
"""


class RetrogradError(Exception):
    """Base class of every error retrograd raises on purpose."""

    def __init__(self, message, *, filename=None, lineno=None, col=None, construct=None, hint=None):
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.construct = construct
        self.hint = hint
        self.detail = message
        where = ""
        if filename is not None and lineno is not None:
            where = f"{filename}:{lineno}:{col if col is not None else 0}: "
        text = where + message
        if hint:
            text += "\n  hint: " + hint
        super().__init__(text)


class UnsupportedSyntaxError(RetrogradError):
    """A construct of the function's source that retrograd cannot differentiate."""


class MissingRuleError(RetrogradError):
    """A call to a function that has no derivative rule and no Python source to differentiate."""


class UsageError(RetrogradError):
    """The API was called in a way that cannot produce a gradient (bad wrt, non-scalar output, ...)."""


class BackendError(RetrogradError):
    """A backend cannot compile the generated code."""


class CacheWarning(UserWarning):
    """An on-disk cache could not be used as configured (untrusted or unwritable); retrograd fell back to a
    private directory or to compiling in memory."""
