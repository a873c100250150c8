"""Hypothesis profiles: `dev` (default, quick), `ci` (selected by CI=true or
HYPOTHESIS_PROFILE=ci: more examples, no deadline, derandomized so CI is reproducible) and
`thorough` (for a long local sweep)."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(autouse=True)
def _numpy_warnings_are_errors():
    """Any overflow / invalid-value warning inside a test is a failure unless the test says
    otherwise (with np.errstate or pytest.warns)."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield
