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
# here: the list only shrinks), and a refusal of an unlisted rule fails too.  The reasons are what Numba
# lacks (its NumPy subset, 0.68), not what retrograd chose.
_NO_NP = "Numba's NumPy has no {}"
_LINALG_ADJ = "Numba's np.linalg has no batched or {} form the adjoint's NumPy code uses"
NUMBA_RULE_REFUSALS = {
    # linear algebra decompositions (helper numbalin's families)
    "cholesky": _LINALG_ADJ.format("triangular-solve (scipy.linalg)"),
    "det": "Numba types no Ellipsis index (`[..., None, None]` in det's adjoint)",
    "eig": _LINALG_ADJ.format("complex eigenvector"),
    "eigh": _LINALG_ADJ.format("UPLO="),
    "eigvals": "Numba's np.linalg.eigvals takes 2-D arrays only",
    "eigvalsh": "Numba's np.linalg.eigvalsh takes no UPLO= and 2-D arrays only",
    "norm": "Numba's np.linalg.norm takes no axis=/keepdims= (the adjoint's norm_grad needs them)",
    "pinv": _LINALG_ADJ.format("pinv"),
    "qr": "Numba's np.linalg.qr takes no mode=",
    "slogdet": _LINALG_ADJ.format("slogdet"),
    "solve": _LINALG_ADJ.format("solve"),
    "svd": _LINALG_ADJ.format("svd"),
    # statistics (helper numbalin's families)
    "average": _NO_NP.format("np.average with weights= or axis="),
    "median": _NO_NP.format("quantile interpolation with axis= (quantile_grad)"),
    "percentile": _NO_NP.format("quantile interpolation with axis= (quantile_grad)"),
    "quantile": _NO_NP.format("quantile interpolation with axis= (quantile_grad)"),
    "nanmean": _NO_NP.format("keepdims= on the nan-reductions' counts (unreduce of a nan mask)"),
    "nanstd": _NO_NP.format("keepdims= on the nan-reductions' counts (unreduce of a nan mask)"),
    "nanvar": _NO_NP.format("keepdims= on the nan-reductions' counts (unreduce of a nan mask)"),
    # everything else
    "correlate": "Numba's np.correlate takes no mode (correlate_grad, not lowered yet, correlates unit vectors "
                 "in the call's mode)",
    "gradient": "Numba: Use of unsupported NumPy function 'numpy.gradient'",
    "squeeze": "Numba: Use of unsupported NumPy function 'numpy.squeeze'; without an axis: the result's rank depends on the run-time shape, and Numba fixes "
               "ranks when it compiles (np.squeeze with an axis is lowered)",
    "trapezoid": "the cotangent's helper trapezoid_weights has no Numba overload yet (it builds the weights with "
                 "np.moveaxis/broadcasts at a run-time axis)",
    "unstack": "Numba: Use of unsupported NumPy function 'numpy.unstack' (its tuple's length is the run-time "
               "shape[axis], which Numba cannot type)",
}
