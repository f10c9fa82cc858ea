"""Review session 20: findings in the changes merged on 2026-12-03 (add_tree, np.gradient with coordinates,
rule-call checks).  Each case is checked against float64 central differences and the plain call, or must be
refused at the user's line."""
import numpy as np
import pytest

import retrograd as rg
from fd import check_grad


def P():
    return [np.array([0.3, 0.5]), np.array([1.1, -0.4])]


# ---- add_tree: a list's cotangent from a rule that reads it as one array (finding 1) --------------------
# np.sum(xs) / np.mean(xs) / np.asarray(xs) give an ndarray cotangent; np.stack(xs) a list.  The list came
# first in the adjoint and add_tree raised a raw ValueError (before add_tree, `list + ndarray` broadcast).
def sum_of_list_then_stack(xs):
    return np.sum(sum(xs) ** 2) + np.sum(np.stack(xs))


def mean_of_list_then_stack(xs):
    return np.mean(xs) + np.sum(np.stack(xs) ** 2)


def asarray_then_concatenate(xs):
    return np.sum(np.concatenate(xs) ** 3) + np.sum(np.asarray(xs) * 2.0)


def scalars_list(xs):
    return np.sum(np.array(xs) ** 2) + np.sum(np.stack(xs))


@pytest.mark.parametrize("f", [sum_of_list_then_stack, mean_of_list_then_stack, asarray_then_concatenate],
                         ids=lambda f: f.__name__)
def test_a_list_read_as_an_array_and_as_a_list(f):
    check_grad(f, [P()])


def test_a_list_of_floats_read_as_an_array_and_as_a_list():
    check_grad(scalars_list, [[0.3, 0.5, -1.2]])


def test_add_tree_zero_and_array_against_a_list():
    from retrograd.runtime import add_tree
    a = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    assert add_tree(a, 0.0) is a
    got = add_tree(a, np.array([[10.0, 20.0], [30.0, 40.0]]))
    assert isinstance(got, list) and np.array_equal(got[1], [33.0, 44.0])


# ---- np.gradient differentiated in its spacing or coordinates only (finding 2) -------------------------
# The call was not active (its only differentiated slot, f, is constant), so the check that refuses a
# differentiated value in a slot without derivative was skipped: d/dh and d/dx were silently 0.
F5 = np.array([0.4, -1.0, 2.0, 0.7, 0.3])
X5 = np.array([0.0, 0.3, 1.0, 1.2, 2.5])


def gradient_in_h(h, f):
    return np.sum(np.gradient(f, h) ** 2)


def gradient_in_coordinates(x, f):
    return np.sum(np.gradient(f, x, edge_order=2) ** 2)


def gradient_in_derived_coordinates(s, f):
    x = np.array([0.0, 0.3, 1.0, 1.2, 2.5]) * s
    return np.sum(np.gradient(f, x, axis=0) ** 2)


@pytest.mark.parametrize("f,arg", [(gradient_in_h, 0.7), (gradient_in_coordinates, X5),
                                   (gradient_in_derived_coordinates, 1.3)], ids=lambda v: getattr(v, "__name__", ""))
def test_a_differentiated_spacing_is_refused_at_its_line(f, arg):
    with pytest.raises(rg.MissingRuleError) as err:
        rg.grad(f)(arg, F5)
    assert err.value.filename == __file__ and err.value.lineno is not None
    with pytest.raises(rg.MissingRuleError):
        rg.jvp(f, (arg, F5), (arg, np.zeros(5)))


def test_a_constant_spacing_still_differentiates_in_f():
    check_grad(gradient_in_coordinates, [X5, F5], wrt=1)
    check_grad(gradient_in_h, [0.7, F5], wrt=1)
