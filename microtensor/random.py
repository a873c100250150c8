"""The one random generator behind every random factory (and `nn.init`)."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the shared generator so that rand, randn and nn.init repeat exactly."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The shared `numpy.random.Generator` (reseeded by `manual_seed`)."""
    return _generator
