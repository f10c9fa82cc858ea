"""The rule oracle on numba, every form of every rule (test_rule_oracle.FORMS), in both modes.

test_rule_oracle.test_rule_on_numba runs only the first form of each rule; here each form (k >= 0) is
differentiated on numba in reverse mode (the vjp against central differences and the python backend's
result, fd.check_vjp) and in forward mode (the jvp against directional differences and the python
backend's, forward_check.check_jvp), on a draw of each of the form's shapes (zeros in every other one,
where its domain has them).  A form numba cannot compile for Numba's own reasons is listed in
numba_refusals.NUMBA_FORM_REFUSALS (reverse) / NUMBA_FORWARD_FORM_REFUSALS (forward), keyed by
(rule, form index), each with Numba's reason; one refused for want of a lowering of ours (work to do) in
NUMBA_FORM_GAPS / NUMBA_FORWARD_FORM_GAPS.  Either must raise a BackendError that names the user's line and
says to use backend="python"; a listed form that starts working fails (the lists only shrink), and an
unlisted refusal fails too.  NUMBA_FORM_BROKEN / NUMBA_FORWARD_FORM_BROKEN name the forms that fail
otherwise (a raw error, not a refusal): bugs, expected to fail until fixed (strict xfail).

Each form compiles a primal, an adjoint and a tangent function (5-15 s): CI runs a fixed sample of about
one case in SAMPLE (crc32 of the test id); RETROGRAD_ORACLE_NUMBA_ALL=1 (or RETROGRAD_ORACLE_FULL=1) runs
them all, RETROGRAD_ORACLE_NUMBA_SAMPLE=n another fraction.
"""
import inspect
import os
import zlib

import numpy as np
import pytest

import retrograd as rg

import fd
from numba_refusals import (NUMBA_FORM_BROKEN, NUMBA_FORM_GAPS, NUMBA_FORM_REFUSALS, NUMBA_FORWARD_FORM_BROKEN,
                            NUMBA_FORWARD_FORM_GAPS, NUMBA_FORWARD_FORM_REFUSALS)
from test_rule_oracle import CASES, FORMS, forms_module, _check  # noqa: F401  (forms_module: a fixture)

pytest.importorskip("numba")

ALL = bool(os.environ.get("RETROGRAD_ORACLE_NUMBA_ALL") or os.environ.get("RETROGRAD_ORACLE_FULL"))
SAMPLE = int(os.environ.get("RETROGRAD_ORACLE_NUMBA_SAMPLE", "120"))
ON_NUMBA = "numba" in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(",")
RUN = [c for c in CASES if FORMS[c[0]][c[1]].refuse is None]      # a MissingRuleError form refuses on python too
IDS = [f"{n}-{k}" for n, k in RUN]


def _sampled(mode, ident):
    return ALL or zlib.crc32(f"{mode}[{ident}]".encode()) % SAMPLE == 0


@pytest.fixture(autouse=True)
def _numba_only(monkeypatch, tmp_path_factory):
    if not ON_NUMBA:
        pytest.skip("numba is not in RETROGRAD_TEST_BACKENDS")
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def _draws(form):
    """One draw per entry of the form's shape lists (size-1, size-0 and 0-d shapes, broadcasting pairs), every
    other one with zeros where its domain has them."""
    n = len(form.args.args)
    kinds = max(len(a.shapes) for a in form.args.args)
    return [form.args.make([i] * n, 7 + i, i % 2 == 1) for i in range(kinds)]


def _broken(table, key):
    """A form known to fail with something other than a clear refusal: run it, it must still fail."""
    if key in table:
        pytest.xfail(f"known bug on numba: {table[key]}")


def _refused(f, listed, err, reason_table, key):
    assert 'backend="python"' in (err.hint or ""), f"the refusal does not say what to do: {err}"
    assert err.lineno is not None and os.path.basename(err.filename or "") == \
        os.path.basename(inspect.getsourcefile(f)), f"the refusal does not name the user's line: {err}"
    assert listed, f"numba refuses {key}, not listed in numba_refusals.{reason_table}: {err}"
    pytest.xfail(f"numba refuses it, as listed: {listed}")


@pytest.mark.parametrize("name,k", RUN, ids=IDS)
def test_form_vjp_on_numba(forms_module, name, k, monkeypatch):
    if not _sampled("vjp", f"{name}-{k}"):
        pytest.skip("numba oracle sample: RETROGRAD_ORACLE_NUMBA_ALL=1 runs this form")
    form, f = FORMS[name][k], getattr(forms_module, f"{name}_{k}")
    listed = NUMBA_FORM_REFUSALS.get((name, k)) or NUMBA_FORM_GAPS.get((name, k))
    monkeypatch.setattr(fd, "BACKEND", "numba")
    try:
        for args in _draws(form):
            _check(f, form, args)
    except rg.BackendError as err:
        _refused(f, listed, err, "NUMBA_FORM_REFUSALS (or _GAPS)", (name, k))
    except Exception:
        _broken(NUMBA_FORM_BROKEN, (name, k))
        raise
    assert (name, k) not in NUMBA_FORM_BROKEN, f"{(name, k)} now works: remove it from NUMBA_FORM_BROKEN"
    assert listed is None, f"numba now differentiates {form.expr!r}: remove {(name, k)} from NUMBA_FORM_REFUSALS"


@pytest.mark.parametrize("name,k", RUN, ids=IDS)
def test_form_jvp_on_numba(forms_module, name, k):
    from forward_check import check_jvp
    if not _sampled("jvp", f"{name}-{k}"):
        pytest.skip("numba oracle sample: RETROGRAD_ORACLE_NUMBA_ALL=1 runs this form")
    form, f = FORMS[name][k], getattr(forms_module, f"{name}_{k}")
    listed = NUMBA_FORWARD_FORM_REFUSALS.get((name, k)) or NUMBA_FORWARD_FORM_GAPS.get((name, k))
    try:
        for seed, args in enumerate(_draws(form)):
            check_jvp(f, args, wrt=form.wrt, seed=seed, backend="numba")
    except rg.BackendError as err:
        _refused(f, listed, err, "NUMBA_FORWARD_FORM_REFUSALS (or _GAPS)", (name, k))
    except Exception:
        _broken(NUMBA_FORWARD_FORM_BROKEN, (name, k))
        raise
    assert (name, k) not in NUMBA_FORWARD_FORM_BROKEN, f"{(name, k)} now works: remove it from NUMBA_FORWARD_FORM_BROKEN"
    assert listed is None, \
        f"numba now differentiates {form.expr!r} forward: remove {(name, k)} from NUMBA_FORWARD_FORM_REFUSALS"


def test_form_refusals_name_forms():
    """Each listed (rule, form index) is a form the oracle runs, with a reason."""
    for table in (NUMBA_FORM_REFUSALS, NUMBA_FORWARD_FORM_REFUSALS, NUMBA_FORM_GAPS, NUMBA_FORWARD_FORM_GAPS,
                  NUMBA_FORM_BROKEN, NUMBA_FORWARD_FORM_BROKEN):
        stale = sorted(key for key in table if key not in RUN)
        assert not stale, f"refusals name forms the oracle does not run: {stale}"
        assert all(isinstance(r, str) and r for r in table.values())
    for a, b in ((NUMBA_FORM_REFUSALS, NUMBA_FORM_GAPS), (NUMBA_FORWARD_FORM_REFUSALS, NUMBA_FORWARD_FORM_GAPS)):
        assert not set(a) & set(b), f"listed both as Numba's limit and as our gap: {sorted(set(a) & set(b))}"
