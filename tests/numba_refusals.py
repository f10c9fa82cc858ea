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
    "test_broadcast_assignment[c1_mask_and_fancy-<lambda>-0]": _MASK_2D,
    "test_mask_write": _MASK_2D,
    "test_subscript_writes[write_add_at_argument_in_loop-2]":
        "an integer index array created in a loop: its tape placeholder is typed float",
    "test_helpers[calls_recursion-5]": "a recursive helper's saved state has a recursive type",
    "test_container_arguments[list_params-1]": _CONTAINERS,
    "test_linear_algebra_and_shapes_vjp[sh_squeeze]": _SHAPES + " (np.squeeze)",
    "test_rule_against_finite_differences[layout]": _SHAPES + " (np.flip, np.swapaxes)",
    "test_rule_against_finite_differences[layout_methods]": _SHAPES + " (.swapaxes)",
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
    "correlate": _untyped("correlate_grad") + "; Numba's np.correlate takes no mode, which it needs",
    "squeeze": _unsupported("squeeze") + "; without an axis the result's rank depends on the run-time shape, "
               "which Numba cannot type (np.squeeze with an axis is lowered)",
    "unstack": _unsupported("unstack") + "; its tuple's length is the run-time shape[axis], which Numba cannot type",
}


# ---- every form of every rule on numba (test_rule_oracle_numba.py), keyed by (rule, form index) -------------
# Reverse mode (NUMBA_FORM_REFUSALS) and forward mode (NUMBA_FORWARD_FORM_REFUSALS): each listed form must
# raise a BackendError naming the user's line; one that now works fails the test.  Only Numba's own limits
# belong here (what Numba cannot type or has no lowering for that we could not write); a form refused for
# want of a lowering of ours is a bug to fix, not an entry.
_RANK_SQUEEZE = NUMBA_RULE_REFUSALS["squeeze"]
_RANK_UNSTACK = NUMBA_RULE_REFUSALS["unstack"]
_CORRELATE = NUMBA_RULE_REFUSALS["correlate"]
_RANK_CROSS = ("Numba's np.cross takes 3-vectors only, and the cross product of two 2-vectors has one axis less: "
               "its rank depends on the run-time shape, which Numba cannot type")

# generated from a RETROGRAD_ORACLE_NUMBA_ALL=1 run (Numba 0.68), then edited by hand
NUMBA_FORM_REFUSALS = {
    ('correlate', 0): _CORRELATE,
    ('correlate', 1): _CORRELATE,
    ('correlate', 2): _CORRELATE,
    ('cross', 0): _RANK_CROSS,
    ('squeeze', 0): _RANK_SQUEEZE,
    ('unstack', 0): _RANK_UNSTACK,
    ('unstack', 1): _RANK_UNSTACK,
}
NUMBA_FORM_GAPS = {
    ('array', 1): 'no lowering yet: `dx = unarray(dasarray_x, x)`',
    ('array', 2): 'no lowering yet: `array_x = np.array(x, dtype=np.float64)`',
    ('astype', 1): 'no lowering yet: `x_astype = x.astype(dtype=np.float64)`',
    ('clip', 4): 'no lowering yet: `clip_x_y = np.clip(x, y, z)`',
    ('clip', 5): 'no lowering yet: `clip_x_y = np.clip(x, y, 3.0)`',
    ('compress', 1): 'no lowering yet: `compress_x = np.compress([False, True], x, axis=1)`',
    ('cross', 1): 'no lowering yet: `cross_x_y = np.cross(x, y, axisa=0, axisb=-1, axisc=0)`',
    ('cross', 2): 'no lowering yet: `cross_x_y = np.cross(x, y, axis=0)`',
    ('cumprod', 1): 'no lowering yet: `cumprod_x = np.cumprod(x, axis=-1)`',
    ('cumprod', 2): 'no lowering yet: `x_cumprod = x.cumprod(axis=0)`',
    ('cumprod', 3): 'no lowering yet: `cumprod_x = np.cumprod(x, dtype=np.float64)`',
    ('delete', 1): 'no lowering yet: `delete_x = np.delete(x, [0, 2], axis=-1)`',
    ('diag', 0): 'no lowering yet: `dx = undiag(ddiag_x, x, 0)`',
    ('diag', 1): 'no lowering yet: `dx = undiag(ddiag_x, x, 1)`',
    ('diag', 2): 'no lowering yet: `dx = undiag(ddiag_x, x, -1)`',
    ('diff', 1): 'no lowering yet: `diff_x = np.diff(x, 2, axis=0)`',
    ('diff', 3): 'no lowering yet: `diff_x = np.diff(x, prepend=y, append=z)`',
    ('diff', 4): 'no lowering yet: `diff_x = np.diff(x, axis=-1, prepend=0.0, append=y)`',
    ('dot', 0): 'no lowering yet: `dot_x_y = np.dot(x, y)`',
    ('flip', 0): 'no lowering yet: `dx = np.flip(dflip_x)`',
    ('fmod', 1): 'no lowering yet: `fmod_x_y = math.fmod(x, y)`',
    ('full', 2): 'no lowering yet: `full_x = np.full((2, 3), x, dtype=np.float64)`',
    ('gradient', 4): 'no lowering yet: `gradient_x_array = gradient_along(x, array)`',
    ('gradient', 5): 'no lowering yet: `gradient_x_array = gradient_along(x, array, edge_order=2)`',
    ('gradient', 6): 'no lowering yet: `gradient_x_array = gradient_along(x, array, axis=-1)`',
    ('gradient', 7): 'no lowering yet: `gradient_x_array = gradient_along(x, array, axis=0, edge_order=2)`',
    ('kron', 0): 'no lowering yet: `kron_x_y = np.kron(x, y)`',
    ('log_softmax', 0): 'no lowering yet: `log_softmax_x = special.log_softmax(x)`',
    ('logsumexp', 0): 'no lowering yet: `logsumexp_x = special.logsumexp(x)`',
    ('math_log', 1): 'no lowering yet: `log_x_y = math.log(x, y)`',
    ('max_', 0): 'no lowering yet: `dx = select_grad(dmax_x, x, max_x, None, False)`',
    ('max_', 1): 'no lowering yet: `dx = select_grad(dmax_x, x, max_x, -1, False)`',
    ('max_', 2): 'no lowering yet: `dx = select_grad(dmax_x, x, max_x, (0, 1), True)`',
    ('max_', 3): 'no lowering yet: `dx = select_grad(dmax_x, x, max_x, 0, False)`',
    ('max_', 5): 'no lowering yet: `dx = select_grad(dx_max, x, x_max, 0, True)`',
    ('max_', 6): 'no lowering yet: `amax_x = np.amax(x, axis=0)`',
    ('min_', 0): 'no lowering yet: `dx = select_grad(dmin_x, x, min_x, None, False)`',
    ('min_', 1): 'no lowering yet: `dx = select_grad(dmin_x, x, min_x, -1, False)`',
    ('min_', 2): 'no lowering yet: `dx = select_grad(dmin_x, x, min_x, (0, 1), True)`',
    ('min_', 3): 'no lowering yet: `dx = select_grad(dmin_x, x, min_x, 0, False)`',
    ('min_', 5): 'no lowering yet: `dx = select_grad(dx_min, x, x_min, 0, True)`',
    ('min_', 6): 'no lowering yet: `dx = select_grad(damin_x, x, amin_x, None, False)`',
    ('nancumsum', 1): 'no lowering yet: `nancumsum_x = np.nancumsum(x, axis=-1, dtype=np.float64)`',
    ('partition', 1): "no lowering yet: `partition_x = np.partition(x, (0, 2), axis=0, kind='introselect', order=None)`",
    ('prod', 1): 'no lowering yet: `dx = unreduce(dprod_x, x, prod_x_1, False) * prod_others(x, prod_x_1)`',
    ('prod', 2): 'no lowering yet: `dx = unreduce(dprod_x, x, prod_x_1, True) * prod_others(x, prod_x_1)`',
    ('prod', 3): 'no lowering yet: `dx = unreduce(dprod_x, x, 0, False) * prod_others(x, 0)`',
    ('prod', 5): 'no lowering yet: `dx = unreduce(dx_prod, x, 0, True) * prod_others(x, 0)`',
    ('ptp', 1): 'no lowering yet: `ptp_x = np.ptp(x, axis=-1, keepdims=True)`',
    ('quantile', 3): "no lowering yet: `quantile_x_y = np.quantile(x, y, method='linear', overwrite_input=False)`",
    ('ravel', 3): "no lowering yet: `ravel_x = np.ravel(x, order='F')`",
    ('repeat', 1): 'no lowering yet: `repeat_x = np.repeat(x, [0, 2, 1], axis=-1)`',
    ('repeat', 2): 'no lowering yet: `x_repeat = x.repeat(3, axis=0)`',
    ('repeat', 3): 'no lowering yet: `repeat_x = np.repeat(x, repeats=2, axis=1)`',
    ('reshape', 2): "no lowering yet: `reshape_x = np.reshape(x, shape=(3, 2), order='F')`",
    ('roll', 2): 'no lowering yet: `roll_x = roll_axis(x, (1, 2), axis=(0, 1))`',
    ('rot90', 2): 'no lowering yet: `rot90_x = np.rot90(x, k=-1, axes=(1, 2))`',
    ('softmax', 0): 'no lowering yet: `softmax_x = special.softmax(x)`',
    ('sort', 3): 'no lowering yet: `sort_x = np.sort(x, stable=True, order=None)`',
    ('swapaxes', 1): 'no lowering yet: `x_swapaxes = x.swapaxes(0, 1)`',
    ('take', 3): "no lowering yet: `x_take = x.take([3, -4], axis=0, mode='wrap')`",
    ('take', 4): "no lowering yet: `take_x = np.take(x, [5, -1], mode='clip')`",
    ('trace', 0): 'no lowering yet: `trace_x = np.trace(x)`',
    ('trace', 1): 'no lowering yet: `x_trace = x.trace()`',
    ('trace', 3): 'no lowering yet: `trace_x = np.trace(x, -1, dtype=np.float64)`',
    ('trace', 4): 'no lowering yet: `trace_x = np.trace(x, offset=-1, axis1=2, axis2=0)`',
    ('trace', 5): 'no lowering yet: `x_trace = x.trace(axis1=-1, axis2=-2)`',
    ('trapezoid', 1): 'no lowering yet: `trapezoid_x = np.trapezoid(x, dx=y, axis=0)`',
}
NUMBA_FORM_BROKEN = {
    ('diff', 0): 'fails with a raw error, not a refusal: ValueError: total size of new array must be unchanged',
    ('nanvar', 1): "the draw leaves one non-NaN entry in a column: nanvar(ddof=1) is NaN there, so are all the "
                   "differences of the summed output, while the gradient is NaN only in that column (not a numba error)",
    ('take', 2): 'fails with a raw error, not a refusal: ValueError: cannot assign slice of shape (2,) from input of shape (2, 2)',
    ('transpose', 0): 'fails with a raw error, not a refusal: ValueError: cannot broadcast a non-scalar to a scalar array',
    ('transpose', 4): 'fails with a raw error, not a refusal: ValueError: cannot broadcast a non-scalar to a scalar array',
}
NUMBA_FORWARD_FORM_REFUSALS = {
    ('cross', 0): _RANK_CROSS,
    ('squeeze', 0): _RANK_SQUEEZE,
    ('unstack', 0): _RANK_UNSTACK,
    ('unstack', 1): _RANK_UNSTACK,
}
NUMBA_FORWARD_FORM_GAPS = {
    ('array', 1): 'no lowering yet: `dasarray_x = np.array(dx, dtype=np.float64)`',
    ('array', 2): 'no lowering yet: `array_x = np.array(x, dtype=np.float64)`',
    ('astype', 1): 'no lowering yet: `x_astype = x.astype(dtype=np.float64)`',
    ('average', 0): 'no lowering yet: `daverage_x = average_tangent(dx, x, average_x, None, None, False, 0)`',
    ('clip', 4): 'no lowering yet: `clip_x_y = np.clip(x, y, z)`',
    ('clip', 5): 'no lowering yet: `clip_x_y = np.clip(x, y, 3.0)`',
    ('compress', 1): 'no lowering yet: `compress_x = np.compress([False, True], x, axis=1)`',
    ('cross', 1): 'no lowering yet: `cross_x_y = np.cross(x, y, axisa=0, axisb=-1, axisc=0)`',
    ('cross', 2): 'no lowering yet: `cross_x_y = np.cross(x, y, axis=0)`',
    ('cumprod', 0): 'no lowering yet: `dcumprod_x = cumprod_tangent(dx, x, None)`',
    ('cumprod', 1): 'no lowering yet: `dcumprod_x = cumprod_tangent(dx, x, -1)`',
    ('cumprod', 2): 'no lowering yet: `dx_cumprod = cumprod_tangent(dx, x, 0)`',
    ('cumprod', 3): 'no lowering yet: `dcumprod_x = cumprod_tangent(dx, x, None)`',
    ('delete', 0): 'no lowering yet: `ddelete_x = np.delete(dx, 1, None)`',
    ('delete', 1): 'no lowering yet: `delete_x = np.delete(x, [0, 2], axis=-1)`',
    ('diff', 1): 'no lowering yet: `ddiff_x = diff_part(dx, x, 2, 0, None, None, 1)`',
    ('diff', 3): 'no lowering yet: `ddiff_x = diff_part(dx, x, 1, -1, y, z, 1) + diff_part(dy, x, 1, -1, y, z, 0) + diff_part(`',
    ('diff', 4): 'no lowering yet: `ddiff_x = diff_part(dx, x, 1, -1, 0.0, y, 1) + diff_part(dy, x, 1, -1, 0.0, y, 2)`',
    ('dot', 0): 'no lowering yet: `dot_x_y = np.dot(x, y)`',
    ('fmod', 1): 'no lowering yet: `fmod_x_y = math.fmod(x, y)`',
    ('full', 2): 'no lowering yet: `full_x = np.full((2, 3), x, dtype=np.float64)`',
    ('gradient', 4): 'no lowering yet: `gradient_x_array = gradient_along(x, array)`',
    ('gradient', 5): 'no lowering yet: `gradient_x_array = gradient_along(x, array, edge_order=2)`',
    ('gradient', 6): 'no lowering yet: `gradient_x_array = gradient_along(x, array, axis=-1)`',
    ('gradient', 7): 'no lowering yet: `gradient_x_array = gradient_along(x, array, axis=0, edge_order=2)`',
    ('kron', 0): 'no lowering yet: `kron_x_y = np.kron(x, y)`',
    ('log_softmax', 0): 'no lowering yet: `log_softmax_x = special.log_softmax(x)`',
    ('logsumexp', 0): 'no lowering yet: `dlogsumexp_x = lse_tangent(dx, x, logsumexp_x, None, None, False)`',
    ('math_log', 1): 'no lowering yet: `log_x_y = math.log(x, y)`',
    ('max_', 0): 'no lowering yet: `dmax_x = np.sum(dx * select_weights(x, max_x, None, False))`',
    ('max_', 2): 'no lowering yet: `dmax_x = reduce_sum(dx * select_weights(x, max_x, (0, 1), True), (0, 1), True)`',
    ('max_', 6): 'no lowering yet: `amax_x = np.amax(x, axis=0)`',
    ('min_', 0): 'no lowering yet: `dmin_x = np.sum(dx * select_weights(x, min_x, None, False))`',
    ('min_', 2): 'no lowering yet: `dmin_x = reduce_sum(dx * select_weights(x, min_x, (0, 1), True), (0, 1), True)`',
    ('min_', 6): 'no lowering yet: `damin_x = np.sum(dx * select_weights(x, amin_x, None, False))`',
    ('nan_to_num', 0): 'no lowering yet: `dx = broadcast_like(np.where(t, zeros_like(np.nan), dx), x)`',
    ('nancumsum', 0): 'no lowering yet: `dx = broadcast_like(np.where(t, zeros_like(np.nan), dx), x)`',
    ('nancumsum', 1): 'no lowering yet: `nancumsum_x = np.nancumsum(x, axis=-1, dtype=np.float64)`',
    ('nansum', 0): 'no lowering yet: `dx = broadcast_like(np.where(t, zeros_like(np.nan), dx), x)`',
    ('partition', 1): 'no lowering yet: `dpartition_x = sort_tangent(dx, x, partition_x, 0)`',
    ('prod', 1): 'no lowering yet: `dprod_x = reduce_sum(dx * prod_others(x, -1), -1, False)`',
    ('prod', 2): 'no lowering yet: `dprod_x = reduce_sum(dx * prod_others(x, (0, 1)), (0, 1), True)`',
    ('prod', 3): 'no lowering yet: `dprod_x = reduce_sum(dx * prod_others(x, 0), 0, False)`',
    ('prod', 5): 'no lowering yet: `dx_prod = reduce_sum(dx * prod_others(x, 0), 0, True)`',
    ('ptp', 1): 'no lowering yet: `ptp_x = np.ptp(x, axis=-1, keepdims=True)`',
    ('quantile', 3): "no lowering yet: `quantile_x_y = np.quantile(x, y, method='linear', overwrite_input=False)`",
    ('ravel', 3): "no lowering yet: `ravel_x = np.ravel(x, order='F')`",
    ('repeat', 0): 'no lowering yet: `drepeat_x = np.repeat(dx, 2, None)`',
    ('repeat', 1): 'no lowering yet: `repeat_x = np.repeat(x, [0, 2, 1], axis=-1)`',
    ('repeat', 2): 'no lowering yet: `x_repeat = x.repeat(3, axis=0)`',
    ('repeat', 3): 'no lowering yet: `repeat_x = np.repeat(x, repeats=2, axis=1)`',
    ('reshape', 2): "no lowering yet: `reshape_x = np.reshape(x, shape=(3, 2), order='F')`",
    ('roll', 2): 'no lowering yet: `roll_x = roll_axis(x, (1, 2), axis=(0, 1))`',
    ('rot90', 2): 'no lowering yet: `rot90_x = np.rot90(x, k=-1, axes=(1, 2))`',
    ('select', 0): 'no lowering yet: `select = np.select(t, (x, 2.0 * y))`',
    ('select', 1): 'no lowering yet: `select = np.select(t, (y,), default=z)`',
    ('softmax', 0): 'no lowering yet: `softmax_x = special.softmax(x)`',
    ('sort', 3): 'no lowering yet: `dsort_x = sort_tangent(dx, x, sort_x, -1)`',
    ('swapaxes', 1): 'no lowering yet: `x_swapaxes = x.swapaxes(0, 1)`',
    ('take', 3): "no lowering yet: `x_take = x.take([3, -4], axis=0, mode='wrap')`",
    ('take', 4): "no lowering yet: `take_x = np.take(x, [5, -1], mode='clip')`",
    ('trace', 0): 'no lowering yet: `trace_x = np.trace(x)`',
    ('trace', 1): 'no lowering yet: `x_trace = x.trace()`',
    ('trace', 3): 'no lowering yet: `trace_x = np.trace(x, -1, dtype=np.float64)`',
    ('trace', 4): 'no lowering yet: `trace_x = np.trace(x, offset=-1, axis1=2, axis2=0)`',
    ('trace', 5): 'no lowering yet: `x_trace = x.trace(axis1=-1, axis2=-2)`',
    ('trapezoid', 1): 'no lowering yet: `trapezoid_x = np.trapezoid(x, dx=y, axis=0)`',
}
NUMBA_FORWARD_FORM_BROKEN = {
    ('take', 2): 'fails with a raw error, not a refusal: ValueError: cannot assign slice of shape (2,) from input of shape (2, 2)',
}
