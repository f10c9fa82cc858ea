"""Cotangents of containers add element by element: a list or tuple read whole by two rules (np.stack and
np.concatenate of the same list) gets two cotangent lists, and `+` of two lists concatenates them.  Before
the fix the gradient silently kept only the first contribution.  Each case is checked against float64
central differences and the plain call."""
import numpy as np
import pytest

import retrograd as rg
from fd import check_grad


def P():
    return [np.array([0.3, 0.5]), np.array([1.1, -0.4])]


def stack_and_concatenate(xs):
    a = np.stack(xs)
    b = np.concatenate(xs)
    return np.sum(a * a) + np.sum(np.sin(b))


def hstack_twice(xs):
    return np.sum(np.hstack(xs) ** 2) + np.sum(np.vstack(xs) * 3.0)


def alias_of_the_list(xs):
    ys = xs
    return np.sum(np.stack(ys) ** 3) + np.sum(np.concatenate(xs))


def list_in_a_loop(xs):
    s = 0.0
    for k in range(3):
        s = s + np.sum(np.stack(xs) * (k + 1.0)) + np.sum(np.cos(np.concatenate(xs)))
    return s


def tuple_whole_and_items(t):
    return np.sum(np.stack(t) ** 2) + np.sum(t[0] * t[1]) + np.sum(np.concatenate(t))


def dict_values(d):
    return np.sum(np.stack([d["a"], d["b"]]) ** 2) + np.sum(np.concatenate([d["a"], d["b"]]))


def _stack_helper(xs):
    return np.stack(xs)


def through_a_helper(xs):
    return np.sum(_stack_helper(xs) ** 2) + np.sum(np.concatenate(xs) ** 3)


@pytest.mark.parametrize("f", [stack_and_concatenate, hstack_twice, alias_of_the_list, list_in_a_loop,
                               through_a_helper], ids=lambda f: f.__name__)
def test_a_list_read_whole_twice(f):
    check_grad(f, [P()])


def test_a_tuple_read_whole_and_by_item():
    check_grad(tuple_whole_and_items, [tuple(P())])


def test_a_dict_of_arrays():
    a, b = P()
    check_grad(dict_values, [{"a": a, "b": b}])


def test_the_generated_code_adds_the_lists_not_concatenates():
    src = rg.differentiate(stack_and_concatenate).source_for(P())
    assert "add_tree(dxs, " in src and "dxs + " not in src


def unknown_kind(x):
    a = np.sort(x)       # the sort rule declares no rank: a's cotangent is added with add_tree
    return np.sum(a * a) + np.sum(np.sin(a))


def test_add_tree_on_every_backend(fd_backend):
    assert "add_tree(" in rg.differentiate(unknown_kind).source_for(np.ones(3))
    check_grad(unknown_kind, [np.array([0.3, -0.8, 1.2])])
    check_grad(unknown_kind, [np.array([-0.3, -0.8, 1.2])])


def test_hvp_through_add_tree():
    # forward-over-reverse differentiates the generated adjoint, add_tree included
    x, v, e = np.array([0.3, -0.8, 1.2]), np.array([1.0, 2.0, 3.0]), 1e-5
    g = rg.grad(unknown_kind)
    assert np.allclose(rg.hvp(unknown_kind, (x,), (v,)), (g(x + e * v) - g(x - e * v)) / (2 * e), atol=1e-6)
