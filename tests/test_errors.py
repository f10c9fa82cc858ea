"""Errors: unsupported syntax is refused when the function is decorated, with the line (and column)
of the offending construct in this file; a call to a function with neither a derivative rule nor
Python source raises MissingRuleError lazily, at the first grad / vjp / source use.

Each refused function marks its offending line with a ``# REFUSED`` comment; the expected line
number is computed from this file, so editing the file cannot make the tests stale.
"""
import inspect
import math
import os

import numpy as np
import pytest

import retrograd as rg

THIS_FILE = os.path.basename(__file__)


def marked_line(fn, marker="# REFUSED"):
    """(file line number, line text) of the line of fn's source carrying `marker`."""
    lines, first = inspect.getsourcelines(fn)
    hits = [i for i, line in enumerate(lines) if marker in line]
    assert len(hits) == 1, f"{fn.__name__} must have exactly one {marker!r} line"
    return first + hits[0], lines[hits[0]]


# ----------------------------------------------------------------------------------------------
# refused constructs (never decorated at import time)
# ----------------------------------------------------------------------------------------------

def uses_class(x):
    y = x * 2.0
    class Box:  # REFUSED
        value = 1.0
    return y * Box.value


def uses_lambda(x):
    y = x * 2.0
    if y > 0:
        for i in range(2):
            y = y + 1.0
            sq = lambda t: t * t  # REFUSED
            y = sq(y)
    return y


def uses_yield(x):
    y = x * 2.0
    for i in range(3):
        yield y * i  # REFUSED


def uses_try(x):
    y = x * 2.0
    try:  # REFUSED
        y = y / x
    except ZeroDivisionError:
        y = 0.0
    return y


def uses_with(x):
    y = x + 1.0
    with np.errstate(all="ignore"):  # REFUSED
        y = np.log(y)
    return y


COUNTER = 0.0


def uses_global(x):
    global COUNTER  # REFUSED
    COUNTER = COUNTER + 1.0
    return x * COUNTER


def make_nonlocal():
    scale = 2.0

    def uses_nonlocal(x):
        nonlocal scale  # REFUSED
        scale = scale * 1.0
        return x * scale

    return uses_nonlocal


def uses_varargs(x, *args):  # REFUSED
    return x * 2.0


def uses_list_comprehension(x):
    y = x * 2.0
    z = [y * i for i in range(3)]  # REFUSED
    return z[0] + z[2]


def uses_nested_def(x):
    y = x * 2.0

    def inner(t):  # REFUSED
        return t * t

    return inner(y)


def uses_generator_expression(x):
    return sum(x * i for i in range(3))  # REFUSED


def first_refusal_wins(x):
    y = x * 2.0
    f = lambda t: t  # REFUSED
    z = [t for t in range(2)]
    return f(y) + z[0]


def uses_out_argument(x):
    y = np.zeros(3)
    np.exp(x, out=y)  # REFUSED
    return np.sum(y)


# (function, token whose position on the marked line is the expected column; None: don't check)
REFUSED = [
    (uses_out_argument, "np.exp"),
    (uses_class, "class"),
    (uses_lambda, "lambda"),
    (uses_yield, "yield"),
    (uses_try, "try"),
    (uses_with, "with"),
    (uses_global, "global"),
    (make_nonlocal(), "nonlocal"),
    (uses_varargs, None),
    (uses_list_comprehension, "["),
    (uses_nested_def, "def"),
    (uses_generator_expression, None),
    (first_refusal_wins, "lambda"),
]


@pytest.mark.parametrize("fn,token", REFUSED, ids=[f.__name__ for f, _ in REFUSED])
def test_refused_at_decoration_with_line(fn, token):
    expected_line, text = marked_line(fn)
    with pytest.raises(rg.UnsupportedSyntaxError) as info:
        rg.differentiate(fn)
    err = info.value
    assert isinstance(err, rg.RetrogradError)
    assert err.lineno == expected_line, f"{err.lineno=} != {expected_line} for:\n{text}\n{err}"
    assert err.filename is not None and os.path.basename(err.filename) == THIS_FILE
    assert isinstance(err.col, int)
    if token is not None:
        assert err.col == text.index(token), f"{err.col=} != {text.index(token)} for:\n{text}\n{err}"
    assert err.construct, "the error should name the refused construct"
    assert str(err).startswith(f"{err.filename}:{err.lineno}:{err.col}: "), str(err)


@pytest.mark.parametrize("fn", [uses_lambda, uses_try, uses_list_comprehension],
                         ids=["lambda", "try", "listcomp"])
def test_refused_with_decorator_factory_and_wrt(fn):
    expected_line, _ = marked_line(fn)
    with pytest.raises(rg.UnsupportedSyntaxError) as info:
        rg.differentiate(wrt=0)(fn)
    assert info.value.lineno == expected_line
    with pytest.raises(rg.UnsupportedSyntaxError) as info:
        rg.differentiate(fn, wrt=(0,))
    assert info.value.lineno == expected_line


def test_functional_grad_refuses_unsupported_syntax():
    expected_line, _ = marked_line(uses_with)
    with pytest.raises(rg.UnsupportedSyntaxError) as info:
        rg.grad(uses_with)(1.5)
    assert info.value.lineno == expected_line


def test_supported_function_is_not_refused():
    # control: the same shapes of code without the refused construct are accepted
    d = rg.differentiate(no_refusal)
    assert np.isclose(d.grad(1.5), 2.0 * (1.5 * 2.0) * 2.0)


def no_refusal(x):
    y = x * 2.0
    for i in range(2):
        pass
    return y * y


# ----------------------------------------------------------------------------------------------
# MissingRuleError: lazily, at first grad / vjp / source, naming the function
# ----------------------------------------------------------------------------------------------

def uses_lgamma(x):
    y = x * 2.0
    return math.remainder(y, 7.0) * x  # MISSING


def uses_ldexp(x):
    return np.sum(np.interp(x, [0.0, 1.0], [0.0, 2.0]) * x)  # MISSING (np.ldexp has a rule now)


def lgamma_helper(v):
    return math.remainder(v, 7.0) + v  # MISSING


def calls_lgamma_helper(x):
    return lgamma_helper(x * x) * 3.0


@pytest.mark.parametrize("use", ["grad", "value_and_grad", "vjp", "source"])
def test_missing_rule_is_lazy_and_names_the_function(use):
    d = rg.differentiate(uses_lgamma)  # must not raise: the rule is only needed when differentiating
    assert np.isclose(d(1.5), math.remainder(3.0, 7.0) * 1.5)  # the forward call works without a rule
    with pytest.raises(rg.MissingRuleError) as info:
        if use == "source":
            d.source
        elif use == "vjp":
            d.vjp(1.5)
        else:
            getattr(d, use)(1.5)
    err = info.value
    msg = str(err)
    assert "remainder" in msg, msg
    assert "register_adjoint" in msg, msg
    line, _ = marked_line(uses_lgamma, "# MISSING")
    assert err.lineno == line, f"{err.lineno=} != {line}\n{msg}"
    assert os.path.basename(err.filename) == THIS_FILE
    assert msg.startswith(f"{err.filename}:{err.lineno}:{err.col}: "), msg
    assert isinstance(err, rg.RetrogradError)


def test_missing_rule_for_numpy_ufunc():
    x = np.array([0.5, 1.5])
    d = rg.differentiate(uses_ldexp)
    with pytest.raises(rg.MissingRuleError) as info:
        d.grad(x)
    assert "interp" in str(info.value)
    assert "register_adjoint" in str(info.value)


def test_missing_rule_inside_helper():
    d = rg.differentiate(calls_lgamma_helper)
    with pytest.raises(rg.MissingRuleError) as info:
        d.grad(1.5)
    assert "remainder" in str(info.value)
    line, _ = marked_line(lgamma_helper, "# MISSING")
    assert info.value.lineno == line


# ----------------------------------------------------------------------------------------------
# calls made for their effect: retrograd understands np.add.at, np.subtract.at and np.copyto; any
# other such call could write into an array unseen, so it is refused (these gave silently wrong
# gradients before: the call was kept in the forward pass and ignored by the adjoint)
# ----------------------------------------------------------------------------------------------

def effect_put(x):
    y = x * 1.0
    np.put(y, [0], 5.0)  # REFUSED
    return np.sum(y * x)


def effect_fill_diagonal(x):
    y = np.outer(x, x)
    np.fill_diagonal(y, 0.0)  # REFUSED
    return np.sum(y)


def effect_multiply_at(x):
    y = np.ones(3)
    np.multiply.at(y, [0, 1, 1], x)  # REFUSED
    return np.sum(y)


@pytest.mark.parametrize("fn,label", [(effect_put, "np.put"), (effect_fill_diagonal, "np.fill_diagonal"),
                                      (effect_multiply_at, "np.multiply.at")])
def test_calls_made_for_their_effect_are_refused(fn, label):
    expected_line, _ = marked_line(fn)
    with pytest.raises(rg.UnsupportedSyntaxError) as info:
        rg.grad(fn)(np.array([0.3, 0.5, 0.9]))
    err = info.value
    assert err.lineno == expected_line and os.path.basename(err.filename) == THIS_FILE
    assert err.construct == label and "np.add.at" in err.hint


def test_pure_and_constant_calls_for_effect_are_kept(capsys):
    def f(x):
        print("x is", x[0])
        np.sin(x)                     # pure: harmless
        return np.sum(x * x)
    assert np.allclose(rg.grad(f)(np.array([1.0, 2.0])), [2.0, 4.0])
    assert "x is 1.0" in capsys.readouterr().out
