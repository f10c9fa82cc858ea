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

    @property
    def source_line(self):
        """The user's source line the error names (stripped), or None."""
        if self.filename is None or self.lineno is None:
            return None
        import linecache
        return linecache.getline(self.filename, self.lineno).strip() or None


class UnsupportedSyntaxError(RetrogradError):
    """A construct of the function's source that retrograd cannot differentiate."""


class MissingRuleError(RetrogradError):
    """A call to a function that has no derivative rule and no Python source to differentiate."""


class UsageError(RetrogradError):
    """The API was called in a way that cannot produce a gradient (bad wrt, non-scalar output, ...)."""


class RuntimeRefusal(UnsupportedSyntaxError):
    """Raised by a check in the generated code when it runs (the compiled code knows the user's line only as
    text: the message starts `file:line: `, which becomes filename and lineno)."""
    construct, hint = None, None

    def __init__(self, message, **kw):
        import re
        m = re.match(r"(.*?):(\d+): (.*)", message, re.S)
        if m and "filename" not in kw:
            kw.update(filename=m.group(1), lineno=int(m.group(2)))
            message = m.group(3)
        kw.setdefault("construct", self.construct)
        kw.setdefault("hint", self.hint)
        super().__init__(message, **kw)


class AliasError(RuntimeRefusal):
    """A value shares memory with an array that is written while the value is still used (the run-time
    half of analysis/aliases.py)."""
    construct, hint = "view", "make an independent copy with .copy()"


class RepeatedIndexError(RuntimeRefusal):
    """An index array names one element twice in a write (`A[idx] = v`: the last write wins)."""
    construct, hint = "index", "write the elements one at a time in a loop, or use np.add.at"


class CastError(RuntimeRefusal):
    """A value being differentiated is written into an array of integers or booleans, which NumPy truncates
    (`A = np.zeros(3, dtype=int); A[0] = x` stores int(x)): a derivative through it would be wrong."""
    construct, hint = "write", ("make the array float (np.zeros(n) or .astype(float)), or cast the value "
                                "explicitly with int(...) / np.floor(...) if the truncation is meant")


class NonFiniteError(RetrogradError):
    """Under `rg.debug_nans()`: the generated code computed a NaN (or an infinity) at the line named."""


class BackendError(RetrogradError):
    """A backend cannot compile the generated code."""


class IndexRangeError(UsageError, IndexError):
    """An index computed at run time (a target `x[t]` of a Triton kernel) is outside its axis."""


class CacheWarning(UserWarning):
    """An on-disk cache could not be used as configured (untrusted or unwritable); retrograd fell back to a
    private directory or to compiling in memory."""
