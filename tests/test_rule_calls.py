"""A differentiated value passed to a rule parameter that has no derivative is refused at its line, never
taken as a constant (analysis/rule_calls.py); parameters whose derivative is 0 (a condition, a sign, an
array read for its shape) stay accepted, and constant arguments in those slots are fine."""
import inspect
import os

import numpy as np
import pytest

import retrograd as rg
import rule_call_cases as c
from fd import check_grad

X = np.array([0.7, -1.3, 2.2, 0.4])


@pytest.mark.parametrize("name,param", [("spacing_differentiated", "varargs"), ("weights_in_a_helper", "varargs")])
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_a_differentiated_value_in_a_slot_without_derivative_is_refused(name, param, mode):
    fn = getattr(c, name)
    with pytest.raises(rg.MissingRuleError) as err:
        if mode == "grad":
            rg.differentiate(fn).grad(X.copy())
        else:
            rg.jvp(fn, (X.copy(),), (np.ones(4),))
    assert f"`{param}`" in str(err.value) and os.path.basename(err.value.filename) == "rule_call_cases.py"
    assert "np.gradient" in err.value.source_line


@pytest.mark.parametrize("name,args,wrt", [
    ("fill_like_reads_only_the_shape", [X], 0),
    ("sign_source_has_zero_derivative", [X, np.array([1.0, -2.0, 3.0, -0.5])], (0, 1)),
    ("integer_shift_from_data", [X], 0),
    ("pad_value_differentiated", [X], 0),
    ("where_condition_from_data", [X], 0),
])
def test_zero_derivative_and_constant_slots_still_work(name, args, wrt, fd_backend):
    check_grad(getattr(c, name), [a.copy() for a in args], wrt=wrt)


def test_a_constant_spacing_is_fine():
    check_grad(c.spacing_constant, [X.copy()])        # python: Numba has no np.gradient


def trapezoid_with_x_and_dx(y, h):
    xs = np.array([0.0, 0.5, 1.5, 2.0])
    return np.trapezoid(y * y, x=xs, dx=h) + np.trapezoid(y, dx=h) * h


def test_trapezoid_ignores_dx_when_x_is_given():
    """NumPy ignores dx when x is given: its derivative through that call is 0 (reverse and forward)."""
    y, h = np.array([0.3, -1.2, 0.8, 2.0]), 0.7
    check_grad(trapezoid_with_x_and_dx, [y, h], wrt=(0, 1))
    _, t = rg.jvp(trapezoid_with_x_and_dx, (y, h), (None, 1.0))
    np.testing.assert_allclose(t, 2 * h * np.trapezoid(y), rtol=1e-12)
