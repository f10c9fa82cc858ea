"""Calls whose rule has no derivative for one of the arguments (tests/test_rule_calls.py)."""
import numpy as np


def spacing_differentiated(x):
    h = x[0] * 0.5 + 1.0
    return np.sum(np.gradient(x, h) ** 2)


def spacing_constant(x):
    return np.sum(np.gradient(x, 0.5) ** 2)


def fill_like_reads_only_the_shape(x):
    return np.sum(np.full_like(x, 2.0) * x)


def sign_source_has_zero_derivative(x, y):
    return np.sum(np.copysign(x, y) * y)


def integer_shift_from_data(x):
    return np.sum(np.roll(x, int(np.sum(x) > 0)) * x)


def pad_value_differentiated(x):
    return np.sum(np.pad(x, 1, constant_values=x[0]) ** 2)


def where_condition_from_data(x):
    return np.sum(np.where(x > 0.5, x * x, -x))


def weights_in_a_helper(x):
    return helper_quantile(x, x[1])


def helper_quantile(v, q):
    return np.sum(np.gradient(v, q)) + np.quantile(v, 0.5)
