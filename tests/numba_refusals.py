"""What the numba backend refuses, with a clear BackendError, among the finite-difference tests.

Keys are test ids without the backend (`test_helpers[calls_recursion-5]`); values say why.  Each listed
test must raise a BackendError that names the user's line and says to use backend="python"
(fd._expect_refusal), and a listed test that starts working fails, so this list only shrinks.  Each
entry is work for the numba backend.
"""
_CONTAINERS = ("a list of arrays of different shapes indexed by a loop variable (container arguments are "
               "flattened, and a tuple of different types has no element type)")
_SQUEEZE = ("np.squeeze without an axis: the result's rank depends on the run-time shape, which Numba cannot "
            "type (np.squeeze with an axis is lowered)")

_MASK_2D = "Numba writes through a boolean mask only into a 1-D array"

NUMBA_REFUSES = {
    "test_broadcast_assignment[c1_mask_and_fancy-<lambda>-0]": _MASK_2D,
    "test_mask_write": _MASK_2D,
    "test_subscript_reads[read_new_axes_of_an_element-2]":
        "`x[1][None, ...]` of a NumPy scalar (x 1-D): Numba indexes no scalar, and only `[..., None]` is lowered",
    "test_helpers[calls_recursion-5]": "a recursive helper's saved state has a recursive type",
    "test_container_arguments[list_params-1]": _CONTAINERS,
    "test_linear_algebra_and_shapes_vjp[sh_squeeze]": _SQUEEZE,
}


# ---- the rule oracle on numba (test_rule_oracle.test_rule_on_numba): the first form of each rule ------------
# Each listed rule must raise a clear BackendError on numba; one that now passes fails the test (remove it
# here: the list only shrinks), and a refusal of an unlisted rule fails too.  Each reason is Numba's message
# (0.68) on the first form's fixed draw: an unsupported NumPy call or a signature it lacks.
def _unsupported(fn):
    return f"Numba: Use of unsupported NumPy function 'numpy.{fn}'"


NUMBA_RULE_REFUSALS = {
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
_RANK_CROSS = ("Numba's np.cross takes 3-vectors only, and the cross product of two 2-vectors has one axis less: "
               "its rank depends on the run-time shape, which Numba cannot type")

# generated from a RETROGRAD_ORACLE_NUMBA_ALL=1 run (Numba 0.68), then edited by hand
NUMBA_FORM_REFUSALS = {
    ('cross', 0): _RANK_CROSS,
    ('squeeze', 0): _RANK_SQUEEZE,
    ('unstack', 0): _RANK_UNSTACK,
    ('unstack', 1): _RANK_UNSTACK,
}
NUMBA_FORM_GAPS = {
}
NUMBA_FORM_BROKEN = {
}
NUMBA_FORWARD_FORM_REFUSALS = {
    ('cross', 0): _RANK_CROSS,
    ('squeeze', 0): _RANK_SQUEEZE,
    ('unstack', 0): _RANK_UNSTACK,
    ('unstack', 1): _RANK_UNSTACK,
}
NUMBA_FORWARD_FORM_GAPS = {
}
NUMBA_FORWARD_FORM_BROKEN = {
}
