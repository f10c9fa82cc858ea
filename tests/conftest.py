"""Shared pytest configuration for the retrograd test suite.

* Puts this directory on ``sys.path`` so test modules can ``import fd`` (the finite-difference
  checker) and the small helper modules that live next to the tests.
* Registers hypothesis profiles.  The default profile ("ci") is derandomized, keeps no example
  database and does not shrink failures (shrinking random programs can take minutes; the failing
  program is printed as it is), so a CI run is reproducible and fast.  Set
  ``HYPOTHESIS_PROFILE=explore`` to search with fresh random programs and shrink failures to
  minimal repros.
* Hypothesis keeps its files (constants cache, failure patches) in a temporary directory, not in
  the repository.
* Runs every finite-difference-checked test of the modules that ask for it (`fd_backend`) once per
  backend: `[python]` and `[numba]` in the test ids.  On numba, the gradient must also equal the python
  backend's to float64 rounding; a test listed in numba_refusals.py must instead raise a clear
  BackendError and is reported as an expected failure (xfail).  RETROGRAD_TEST_BACKENDS=python (a comma
  list) narrows the backends.
* Compiles with NUMBA_OPT=0 unless NUMBA_OPT is set: the tests check what the generated code computes,
  and LLVM's optimisation level does not change that (no fast-math), but it is half of the compile time.
  Numba's own cache then goes to a temporary directory (NUMBA_CACHE_DIR): its keys ignore the level.
"""
import atexit
import inspect
import os
import shutil
import sys
import tempfile

if "NUMBA_OPT" not in os.environ:              # before anything imports numba
    os.environ["NUMBA_OPT"] = "0"
    # Numba's cache keys do not include the optimisation level: keep the opt-0 machine code of the
    # runtime's cache=True helpers out of the package's __pycache__, where a user's program would load it
    _numba_cache = tempfile.mkdtemp(prefix="retrograd-numba-opt0-")
    atexit.register(shutil.rmtree, _numba_cache, ignore_errors=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache)

import pytest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

try:
    import hypothesis.configuration
    from hypothesis import HealthCheck, Phase, settings
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass
else:
    _home = tempfile.mkdtemp(prefix="retrograd-hypothesis-")
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
    hypothesis.configuration.set_hypothesis_home_dir(_home)
    settings.register_profile(
        "ci", derandomize=True, database=None, deadline=None, report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile(
        "explore", derandomize=False, database=None, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


FD_BACKENDS = [b for b in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(",") if b]


def pytest_generate_tests(metafunc):
    if "fd_backend" in metafunc.fixturenames:
        src = inspect.getsource(metafunc.function)
        uses_fd = "check_grad" in src or "check_vjp" in src     # other tests choose their backend themselves
        metafunc.parametrize("fd_backend", FD_BACKENDS if uses_fd else ["python"], indirect=True)


@pytest.fixture
def fd_backend(request, monkeypatch, tmp_path_factory):
    """The backend fd.check_grad / check_vjp differentiate with, for this run of the test."""
    import fd
    backend = request.param
    if backend == "numba":
        pytest.importorskip("numba")
        from numba_refusals import NUMBA_REFUSES
        monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
        key = request.node.name.replace("[numba-", "[").replace("[numba]", "")
        monkeypatch.setattr(fd, "EXPECTED_REFUSAL", NUMBA_REFUSES.get(key))
    monkeypatch.setattr(fd, "BACKEND", backend)
    return backend


# CI time is bounded (2 cores, well under 10 minutes), and three quarters of it was Numba compiling a primal,
# an adjoint and a plain forward for each numba case.  So CI runs a fixed sample of the numba cases, chosen by
# the crc32 of the test id:
# * a third of the cases parametrized by backend (`fd_backend` or `backend`) that run on numba; their python
#   cases all run, and so do the cases of numba_refusals.NUMBA_REFUSES (the ledger only shrinks) and the
#   cache tests;
# * of the numba-only files below, the given fraction of their parametrized cases (a plain test always runs).
# RETROGRAD_NUMBA_FULL=1 runs every case: the soak to run before a merge (the README's Development section).
_FD_NUMBA_SAMPLE = 3
_NUMBA_SAMPLED = {"test_numba_tangents.py": 3, "test_numba_shape_tapes.py": 2, "test_numba_stat_axes.py": 2,
                  "test_jacobians_batched.py": 2, "test_numba_patterns.py": 2, "test_numba_lowerings.py": 2,
                  "test_numba_linalg_stats.py": 2, "test_numba_pytrees.py": 2, "test_numba_runtime.py": 2,
                  "test_numba_extrema.py": 3, "test_numba_scans.py": 2}


def _numba_fraction(item):
    """1/n of such cases run in CI (n), or None: this case always runs."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "numba" in (params.get("fd_backend"), params.get("backend")) and item.fspath.basename != "test_caches.py":
        from numba_refusals import NUMBA_REFUSES
        key = item.name.replace("[numba-", "[").replace("[numba]", "")
        return None if key in NUMBA_REFUSES else _FD_NUMBA_SAMPLE
    n = _NUMBA_SAMPLED.get(os.path.basename(str(item.fspath)))
    if n is None or not params or (item.fspath.basename == "test_jacobians_batched.py" and "numba" not in item.nodeid):
        return None
    return n


def pytest_collection_modifyitems(config, items):
    import zlib
    if os.environ.get("RETROGRAD_NUMBA_FULL"):
        return
    skip = pytest.mark.skip(reason="numba CI sample: RETROGRAD_NUMBA_FULL=1 runs this case")
    for item in items:
        n = _numba_fraction(item)
        if n and zlib.crc32(item.nodeid.encode()) % n:
            item.add_marker(skip)
