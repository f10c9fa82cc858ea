"""Hand-derived values where the new rules choose a convention (ties, repeated eigenvalues, kinks), and
refusals that must name the user's line."""
import numpy as np
import pytest

import retrograd as rg

special = pytest.importorskip("scipy.special")


def sort_weighted(x):
    return np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0]))


def median_of(x):
    return np.median(x)


def eigh_vectors(a):
    w, v = np.linalg.eigh(a)
    return np.sum(v[:, 0])


def eigh_values(a):
    return np.sum(np.linalg.eigvalsh(a) * np.array([1.0, 2.0]))


def einsum_trace(a):
    return np.einsum("ii", a)


def pad_wrap(x):
    return np.pad(x, 1, mode="maximum")


def xlogy_at_zero(x, y):
    return np.sum(special.xlogy(x, y))


def test_sort_ties_go_to_tied_entries_in_order():
    # x = [2, 1, 2]: sorted [1, 2, 2]; the stable order sends slot 2 (weight 2) to x[0], slot 3 to x[2]
    g = rg.differentiate(sort_weighted).grad(np.array([2.0, 1.0, 2.0]))
    np.testing.assert_array_equal(g, [2.0, 1.0, 3.0])


def test_median_of_even_count_splits_between_the_middle_two():
    np.testing.assert_array_equal(rg.differentiate(median_of).grad(np.array([4.0, 1.0, 3.0, 2.0])),
                                  [0.0, 0.0, 0.5, 0.5])


def test_eigenvalues_at_a_repeated_eigenvalue_stay_finite_vectors_do_not():
    a = np.eye(2)
    # eigenvalues alone: the weights on the eigenvector basis numpy returns (one subgradient)
    g = rg.differentiate(eigh_values).grad(a)
    assert np.all(np.isfinite(g))
    with np.errstate(all="ignore"):
        gv = rg.differentiate(eigh_vectors).grad(a)
    assert not np.all(np.isfinite(gv)), "a repeated eigenvalue has no eigenvector derivative: no finite invention"


def test_einsum_trace_is_the_identity():
    np.testing.assert_array_equal(rg.differentiate(einsum_trace).grad(np.arange(9.0).reshape(3, 3)), np.eye(3))


def test_pad_mode_without_a_rule_is_refused_at_the_line():
    with pytest.raises(rg.MissingRuleError) as err:
        rg.differentiate(pad_wrap).grad(np.ones(3))
    assert "mode='maximum'" in str(err.value) and "test_rule_conventions_more.py" in str(err.value)


def test_xlogy_at_x_zero():
    pytest.importorskip("scipy")
    gx, gy = rg.differentiate(xlogy_at_zero, wrt=(0, 1)).grad(np.array([0.0, 0.0, 2.0]), np.array([0.0, 3.0, 4.0]))
    np.testing.assert_array_equal(gy, [0.0, 0.0, 0.5])         # xlogy(0, y) = 0 for every y
    assert gx[1] == np.log(3.0) and gx[2] == np.log(4.0)
