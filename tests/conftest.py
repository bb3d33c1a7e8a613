import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["cxops.testing.plugin"]

# Property tests: `default` keeps `make test` quick; `ci` (HYPOTHESIS_PROFILE=ci) tries more.
# No deadline: the machine is shared, and the bounds under test are checked by the tests.
settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
