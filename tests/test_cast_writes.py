"""A differentiated value written into an integer or boolean array is truncated by NumPy: its derivative
through the write is 0, not the cotangent of the stored value.  Such writes are refused at run time with
a CastError at the user's line (as PyTorch refuses an in-place float write into an integer tensor); writes
into float arrays are unaffected, and the check is not emitted where the target is certainly float."""
import inspect
import os

import numpy as np
import pytest

import cast_write_cases as c
import retrograd as rg
from conftest import FD_BACKENDS
from fd import check_grad

X = np.array([0.7, 1.3, 2.2, 0.4])


@pytest.fixture(params=FD_BACKENDS)
def backend(request, monkeypatch, tmp_path_factory):
    if request.param == "numba":
        pytest.importorskip("numba")
        monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    return request.param


REFUSED = {
    "int_zeros": (1.7,),
    "int_arange_augmented": (1.3,),
    "astype_int": (X[:3].copy(),),
    "int_argument": (X[:2].copy(), np.array([0, 1])),
    "bool_array": (X.copy(),),
    "in_a_loop": (X[:3].copy(),),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_float_written_into_integers_is_refused_at_its_line(name, backend):
    fn = getattr(c, name)
    args = REFUSED[name]
    before = [np.copy(a) for a in args]
    with pytest.raises(rg.CastError) as err:
        rg.differentiate(fn, backend=backend).grad(*args)
    lines, first = inspect.getsourcelines(fn)
    writes = [first + k for k, l in enumerate(lines) if "] = " in l or "] += " in l]
    assert os.path.basename(err.value.filename) == "cast_write_cases.py" and err.value.lineno in writes
    assert "float" in err.value.hint
    for b, a in zip(before, args):
        np.testing.assert_array_equal(b, a)            # the caller's arrays are untouched


def test_a_constant_written_into_integers_is_fine(fd_backend):
    check_grad(c.constant_into_int_is_fine, [X.copy(), np.array([0, 3, 1])])


def test_float_targets_are_fine(fd_backend):
    check_grad(c.float_targets_are_fine, [X[:3].copy(), np.ones(3)])


def test_no_check_where_the_target_is_certainly_float():
    src = rg.differentiate(c.float_targets_are_fine).source
    assert "float_target(B" not in src and "float_target(C" not in src and "float_target(D" not in src
    assert "float_target(E" not in src          # E = y * 1.0 is float whatever y is
