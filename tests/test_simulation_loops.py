"""Simulation loops written as people write them, on every backend, against central differences."""
import numpy as np
import pytest

import simulation_loops as sl
from fd import check_grad

rng = np.random.default_rng(3)
U = rng.uniform(0.1, 1.0, 6)
M = rng.uniform(-1.0, 1.0, (3, 4))

CASES = {
    "heat_copy": ([U, 0.1], (0, 1)),
    "heat_laplacian": ([U, 0.1], (0, 1)),
    "pair_energy": ([U], 0),
    "zipped": ([U, U + 1.0], (0, 1)),
    "rows_enumerated": ([M], 0),
    "abs_of_a_sum": ([U], 0),
    "spring_chain": ([U, 0.5 * U], (0, 1)),
    "reductions_keep_rank": ([M], 0),
    "transposed_state": ([M[:3, :3].copy()], 0),
    "strided_view_state": ([M], 0),
    "strided_view_state_1d": ([U], 0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_simulation_loop(name, fd_backend):
    args, wrt = CASES[name]
    check_grad(getattr(sl, name), [a.copy() if isinstance(a, np.ndarray) else a for a in args], wrt=wrt)


def test_rank_rules():
    """The declared shape rules (registry.Rank) against NumPy's own results."""
    from retrograd.reverse.rules.registry import reduced, same_rank
    r = reduced()
    for shape in [(3,), (2, 3), (2, 1, 3)]:
        a = np.ones(shape)
        n = a.ndim
        for axis in [None, 0, -1, (0,), tuple(range(n))]:
            for keep in (False, True):
                want = np.sum(a, axis=axis, keepdims=keep)
                want = "scalar" if np.ndim(want) == 0 else f"array:{np.ndim(want)}"
                got = r({"a": f"array:{n}"}, {"axis": axis, "keepdims": keep})
                assert got == want, (shape, axis, keep)
    assert r({"a": "array:2"}, {"keepdims": False}) is None            # axis not a literal: unknown
    assert r({"a": None}, {"axis": None, "keepdims": False}) is None
    assert r({"a": "array:1"}, {"axis": (0, 1), "keepdims": False}) is None   # NumPy raises: no claim
    assert same_rank("a")({"a": "array:3"}, {}) == "array:3" and same_rank("a")({"a": None}, {}) is None


@pytest.mark.parametrize("name", ["rank_keepdims_broadcast", "rank_new_axis_of_a_copy", "rank_slice_mean_in_a_loop",
                                  "rank_transpose_cast_column"])
def test_shape_rules_at_size_one_axes(name, fd_backend):
    check_grad(getattr(sl, name), [M.copy(), rng.standard_normal(4)], wrt=(0, 1))
