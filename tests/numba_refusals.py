"""What the numba backend refuses, with a clear BackendError, among the finite-difference tests.

Keys are test ids without the backend (`test_helpers[calls_recursion-5]`); values say why.  Each listed
test must raise a BackendError that names the user's line and says to use backend="python"
(fd._expect_refusal), and a listed test that starts working fails, so this list only shrinks.  Each
entry is work for the numba backend.
"""
_TYPES = "the type of a value first assigned in only one branch, or a tape placeholder, cannot be inferred"
_CONTAINERS = ("a list of arrays of different shapes indexed by a loop variable (container arguments are "
               "flattened, and a tuple of different types has no element type)")
_SHAPES = "no Numba lowering yet for this NumPy shape function or its adjoint"

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
    "test_container_arguments[list_params-1]": _CONTAINERS,
    "test_linear_algebra_and_shapes_vjp[la_inner]": "np.inner",
    "test_linear_algebra_and_shapes_vjp[sh_transpose]": _SHAPES + " (np.transpose's adjoint)",
    "test_linear_algebra_and_shapes_vjp[sh_transpose_axes]": _SHAPES + " (np.transpose's adjoint)",
    "test_linear_algebra_and_shapes_vjp[sh_squeeze]": _SHAPES + " (np.squeeze)",
    "test_linear_algebra_and_shapes_vjp[sh_concatenate]": _SHAPES + " (np.concatenate of a list)",
    "test_linear_algebra_and_shapes_vjp[sh_concatenate_axis1]": _SHAPES + " (split_like)",
    "test_linear_algebra_and_shapes_vjp[sh_stack]": _SHAPES + " (np.stack of a list)",
    "test_linear_algebra_and_shapes_vjp[sh_hstack]": _SHAPES + " (np.hstack of a list)",
    "test_linear_algebra_and_shapes_vjp[sh_vstack]": _SHAPES + " (np.vstack of a list)",
    "test_rule_against_finite_differences[layout]": _SHAPES + " (np.flip, np.swapaxes)",
    "test_rule_against_finite_differences[layout_methods]": _SHAPES + " (.swapaxes)",
    "test_rule_against_finite_differences[cumulative]": _SHAPES + " (np.flip in cumsum's adjoint)",
    "test_rule_against_finite_differences[vector_products]": "np.vdot",
    "test_simulation_loop[transposed_state]": _SHAPES + " (np.transpose's adjoint, untranspose)",
}
