"""Hypothesis profiles, chosen by HYPOTHESIS_PROFILE (default: `ci` when CI is set, else `dev`):

- `dev`: quick local runs (25 examples per property);
- `ci`: more examples (60), what CI runs;
- `thorough`: a long local sweep (1,000 examples per property; tests/test_torch_fuzz.py then
  runs 15,000 programs against PyTorch): `HYPOTHESIS_PROFILE=thorough pytest tests/...`;
- `explore`: `thorough`'s size with fresh random examples on every run, to hunt for new bugs
  (a failure prints a reproduction blob; `--hypothesis-seed=N` repeats a sweep).

`dev`, `ci` and `thorough` are derandomized: the same examples on every run and every machine,
so a test passes or fails deterministically (a bug found by `explore` gets an @example).
No deadline anywhere: the machines are shared, timings are noise. Hypothesis's own `default`
profile is `dev` here (its 200 ms deadline fails on a busy machine).
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "dev", max_examples=25, deadline=None, derandomize=True, suppress_health_check=_QUIET
)
settings.register_profile("default", parent=settings.get_profile("dev"))
settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=_QUIET,
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=_QUIET,
)
settings.register_profile(
    "explore", parent=settings.get_profile("thorough"), derandomize=False
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(autouse=True)
def _numpy_warnings_are_errors():
    """Any overflow / invalid-value warning inside a test is a failure unless the test says
    otherwise (with np.errstate or pytest.warns)."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield
