"""What the numba backend refuses, with a clear BackendError, among the finite-difference tests.

Keys are test ids without the backend (`test_helpers[calls_recursion-5]`); values say why.  Each listed
test must raise a BackendError that names the user's line and says to use backend="python"
(fd._expect_refusal), and a listed test that starts working fails, so this list only shrinks.  Each
entry is work for the numba backend.
"""
_TYPES = "the type of a value first assigned in only one branch, or a tape placeholder, cannot be inferred"
_CONTAINERS = "list, tuple and dict arguments (their cotangents are containers Numba cannot type)"
_SHAPES = "no Numba lowering yet for this NumPy shape function or its adjoint"
_LINALG = "no Numba lowering yet for this np.linalg function's adjoint"

_CASTS = "Numba's astype/asarray take NumPy dtypes only (not int, bool, float or strings)"

_MASK_2D = "Numba writes through a boolean mask only into a 1-D array"

NUMBA_REFUSES = {
    "test_casts[astype_int]": _CASTS,
    "test_casts[astype_bool]": _CASTS,
    "test_casts[asarray_int]": _CASTS,
    "test_casts[float_casts]": _CASTS,
    "test_integer_indices_computed_from_the_input_still_work": _CASTS,
    "test_hstack_of_a_0d_and_a_1d_piece": _SHAPES,
    "test_negative_index_tuple_naming_distinct_elements_is_exact":
        "Numba writes through one integer index array, not a tuple of them",
    "test_broadcast_assignment[c1_mask_and_fancy-<lambda>-0]": _MASK_2D,
    "test_mask_write": _MASK_2D,
    "test_subscript_writes[write_add_at_argument_in_loop-2]":
        "an integer index array created in a loop: its tape placeholder is typed float",
    "test_helpers[calls_recursion-5]": "a recursive helper's saved state has a recursive type",
    "test_container_arguments[tuple_params-0]": _CONTAINERS,
    "test_container_arguments[list_params-1]": _CONTAINERS,
    "test_container_arguments[dict_params-2]": _CONTAINERS,
    "test_container_arguments[tuple_with_float-3]": _CONTAINERS,
    "test_container_arguments[list_of_floats-4]": _CONTAINERS,
    "test_container_arguments[dict_nested-5]": _CONTAINERS,
    "test_linear_algebra_and_shapes_vjp[sh_squeeze]": _SHAPES + " (np.squeeze)",
    "test_np_linalg_vjp[l_det]": _LINALG + " (det: an Ellipsis index)",
    "test_np_linalg_vjp[l_solve_vector]": _LINALG + " (solve)",
    "test_np_linalg_vjp[l_solve_matrix]": _LINALG + " (solve)",
    "test_np_linalg_vjp[l_norm_vector]": _LINALG + " (norm)",
    "test_np_linalg_vjp[l_norm_matrix]": _LINALG + " (norm)",
    "test_np_linalg_vjp[l_norm_axis]": _LINALG + " (norm with an axis)",
    "test_np_linalg_in_scalar_loss": _LINALG,
    "test_rule_against_finite_differences[layout]": _SHAPES + " (np.flip, np.swapaxes)",
    "test_rule_against_finite_differences[layout_methods]": _SHAPES + " (.swapaxes)",
    "test_simulation_loop[transposed_state]":
        "Numba's lowering asserts when a transposed (F-ordered) array meets the tape's C-ordered type "
        "(AssertionError in arrayobj.array_to_array; refused, with no line: review finding 11)",
}


# ---- the rule oracle on numba (test_rule_oracle.test_rule_on_numba): the first form of each rule ------------
# Each listed rule must raise a clear BackendError on numba; one that now passes fails the test (remove it
# here: the list only shrinks), and a refusal of an unlisted rule fails too.  Each reason is Numba's message
# (0.68) on the first form's fixed draw: an unsupported NumPy call, a signature it lacks, or a Python helper
# of the rule's adjoint that has no Numba overload yet ("Untyped global name").
def _untyped(helper):
    return f"Numba: Untyped global name '{helper}' (the adjoint's helper has no Numba overload yet)"


def _unsupported(fn):
    return f"Numba: Use of unsupported NumPy function 'numpy.{fn}'"


NUMBA_RULE_REFUSALS = {
    # linear algebra decompositions (helper numbalin's families)
    "cholesky": _untyped("cholesky_grad"),
    "det": "Numba: no getitem(float64, Tuple(..., none, none)) (an Ellipsis index in det's adjoint)",
    "eig": _untyped("eig_grad"),
    "eigh": _untyped("eigh_grad"),
    "eigvals": "Numba: no eigvals(array(float64, 3d, C)) (a stack of matrices)",
    "eigvalsh": "Numba: no eigvalsh(array(float64, 3d, C)) (a stack of matrices)",
    "norm": _untyped("norm_grad"),
    "pinv": _untyped("pinv_grad"),
    "qr": "Numba: no qr(array(float64, 3d, C)) (a stack of matrices)",
    "slogdet": _untyped("slogdet_grad"),
    "solve": _untyped("solve_grad_a"),
    "svd": _untyped("svd_grad"),
    # statistics (helper numbalin's families)
    "average": _untyped("weighted_grad"),
    "median": _untyped("quantile_grad"),
    "percentile": _untyped("quantile_grad"),
    "quantile": _untyped("quantile_grad"),
    "nanmean": _untyped("nan_count"),
    "nanstd": _untyped("nan_center"),
    "nanvar": _untyped("nan_center"),
    # everything else
    "correlate": _untyped("correlate_grad") + "; Numba's np.correlate takes no mode, which it needs",
    "gradient": _unsupported("gradient"),
    "squeeze": _unsupported("squeeze") + "; without an axis the result's rank depends on the run-time shape, "
               "which Numba cannot type (np.squeeze with an axis is lowered)",
    "unstack": _unsupported("unstack") + "; its tuple's length is the run-time shape[axis], which Numba cannot type",
}
