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
"""
import atexit
import os
import shutil
import sys
import tempfile

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
