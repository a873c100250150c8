"""The seed articles' data sets, shipped with the package: nothing is downloaded.

xor()                        the first article's 4 rows: X (with its constant third column), y
iris()                       Fisher's 150 irises as a DataFrame with R's column names
hotdogs(n=200, seed=1)       2-D "hot dog" / "not hot dog" points like the second article's
"""

# ruff: noqa: N806  (X is the first article's name for its input matrix)

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HOTDOG_CLASSES", "IRIS_SPECIES", "hotdogs", "iris", "xor"]

IRIS_SPECIES = ("setosa", "versicolor", "virginica")
HOTDOG_CLASSES = ("hot dog", "not hot dog")

# Radii of the hot-dog ring and the size of the sample space; the gaps either side of the ring
# give the boundary a margin, so a wide enough network can classify every point.
_RING = (3.5, 7.5)
_INNER = 2.5
_OUTER = (8.5, 12.0)


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The first article's training data: X is 4 x 3 (its third column is a constant 1, which
    acts as a bias the network has no other way to learn) and y = [0, 1, 1, 0] = XOR of the
    first two columns. Both float64."""
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0], dtype=np.float64)
    return X, y


def iris() -> pd.DataFrame:
    """Fisher's iris data (150 rows), as R's `iris`: columns `Sepal.Length`, `Sepal.Width`,
    `Petal.Length`, `Petal.Width` (cm, float64) and `Species`, a categorical with the levels
    setosa, versicolor, virginica. Read from the package's `data/iris.csv`."""
    import pandas as pd  # optional dependency (microtensor[nn]): only these loaders need it

    with resources.files("nn").joinpath("data/iris.csv").open("r", encoding="utf-8") as f:
        df = pd.read_csv(f)
    df["Species"] = pd.Categorical(df["Species"], categories=list(IRIS_SPECIES))
    return df


def _annulus(rng: np.random.Generator, n: int, r_min: float, r_max: float) -> np.ndarray:
    """n points spread evenly over the area of the ring r_min <= r <= r_max."""
    r = np.sqrt(rng.uniform(r_min**2, r_max**2, size=n))
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def hotdogs(n: int = 200, seed: int = 1) -> pd.DataFrame:
    """Two-dimensional "hot dog" / "not hot dog" data shaped like the second article's sample.

    Returns a DataFrame with float columns `x1`, `x2` (within -12..12) and `class`, a
    categorical with levels "hot dog", "not hot dog", rows in random order. Hot dogs lie in a
    ring (radius 3.5 to 7.5); the others lie inside it (radius < 2.5) or around it (8.5 to 12),
    and exactly a third of the points (rounded down) are hot dogs. No straight line separates
    a ring from its inside and outside, so, as in the article, logistic regression does little
    better than calling everything "not hot dog": two thirds right (the article: 134 of 200).
    With the article's recipe (standard-normal weights, learning rate 1e-2 on the summed
    cross-entropy; 5000 iterations suffice where the article ran 1e5) one hidden unit does no
    better than logistic regression (67%; article: 68%), five do clearly better (85% to 95%
    depending on the start, measured for seeds 1 to 3; article: 76%) and thirty classify
    every point (article: 100%). Deterministic for a given (n, seed).
    """
    if n < 3:
        raise ValueError(f"hotdogs: n must be at least 3, got {n}")
    import pandas as pd  # optional dependency (microtensor[nn])

    rng = np.random.default_rng(seed)
    n_hot = n // 3
    n_not = n - n_hot
    # Split the not-hot-dogs between the disc and the outer ring in proportion to their areas.
    inner_area = _INNER**2
    outer_area = _OUTER[1] ** 2 - _OUTER[0] ** 2
    n_inner = int(round(n_not * inner_area / (inner_area + outer_area)))
    points = np.vstack(
        [
            _annulus(rng, n_hot, *_RING),
            _annulus(rng, n_inner, 0.0, _INNER),
            _annulus(rng, n_not - n_inner, *_OUTER),
        ]
    )
    labels = np.array([HOTDOG_CLASSES[0]] * n_hot + [HOTDOG_CLASSES[1]] * n_not)
    order = rng.permutation(n)
    return pd.DataFrame(
        {
            "x1": points[order, 0],
            "x2": points[order, 1],
            "class": pd.Categorical(labels[order], categories=list(HOTDOG_CLASSES)),
        }
    )
