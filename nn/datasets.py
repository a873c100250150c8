"""The seed articles' data sets, shipped with the package: nothing is downloaded.

xor()                 the first article's 4 rows: X (with its constant third column), y
iris()                Fisher's 150 irises as a DataFrame with R's column names
hotdogs()             the second article's own 200 "hot dog" / "not hot dog" points (two spirals)
two_spirals(...)      new samples of the same shape, drawn with NumPy
article_weights()     the starting weights the second article's runs used
digits()              1,797 handwritten digits, 8x8 pixels (for the CNN example)
names()               1,205 common English given names (for the character-level RNN example)
"""

# ruff: noqa: N806  (X is the first article's name for its input matrix)

from __future__ import annotations

import math
from importlib import resources
from typing import TYPE_CHECKING, TextIO

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ARTICLE_SAMPLE",
    "ARTICLE_WEIGHT_SHAPES",
    "HOTDOG_CLASSES",
    "IRIS_SPECIES",
    "article_weights",
    "digits",
    "names",
    "hotdogs",
    "iris",
    "two_spirals",
    "xor",
]

IRIS_SPECIES = ("setosa", "versicolor", "virginica")
# R's factor levels, in R's order: the second level is the one the article's y = 1 stands for
HOTDOG_CLASSES = ("not hot dog", "hot dog")

# The article's "random sample of five" (its `sample(nrow(hotdogs), 5)` in the same R session),
# as 0-based positions in hotdogs(): R's rows 28, 36, 103, 160 and 23, printed in that order.
ARTICLE_SAMPLE = (27, 35, 102, 159, 22)

# The article's starting weights: (rows, columns) in its orientation, row 0 multiplying the
# column of ones (the intercept, or bias).
ARTICLE_WEIGHT_SHAPES: dict[str, tuple[int, int]] = {
    "w1_h5": (3, 5),
    "w2_h5": (6, 1),
    "w1_h30": (3, 30),
    "w2_h30": (31, 1),
    "w1_h1": (3, 1),
    "w2_h1": (2, 1),
    "iris_W1": (5, 5),
    "iris_W2": (6, 3),
}


def _open_csv(name: str) -> TextIO:
    return resources.files("nn").joinpath(f"datafiles/{name}").open("r", encoding="utf-8")


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

    with _open_csv("iris.csv") as f:
        df = pd.read_csv(f)
    df["Species"] = pd.Categorical(df["Species"], categories=list(IRIS_SPECIES))
    return df


def hotdogs() -> pd.DataFrame:
    """The second article's 200 "hot dogs": two interleaved spirals, exactly the article's.

    The article made them with its own `two_spirals` under R's `set.seed(42)`; these are
    those numbers, regenerated in R and shipped at full float64 precision in the package's
    `data/hotdogs.csv`. Columns `x1`, `x2` (float64) and `class`, a categorical with R's
    levels "not hot dog", "hot dog" (in that order: the article's y is `class == 'hot dog'`).
    Rows in R's order: 1-100 are the "not hot dog" arm, 101-200 the "hot dog" arm, so R's
    row i is `iloc[i - 1]`. No straight line separates the arms: logistic regression gets
    134 of 200 right, as in the article.
    """
    import pandas as pd  # optional dependency (microtensor[nn])

    with _open_csv("hotdogs.csv") as f:
        df = pd.read_csv(f, dtype={"x1": np.float64, "x2": np.float64, "class": str})
    df["class"] = pd.Categorical(df["class"], categories=list(HOTDOG_CLASSES))
    return df


def two_spirals(
    n: int = 200,
    radians: float = 3 * math.pi,
    theta0: float = math.pi / 2,
    seed: int | np.random.Generator | None = None,
    labels: tuple[str, str] = HOTDOG_CLASSES,
    noise: float = 1.0,
) -> pd.DataFrame:
    """New two-spiral samples by the article's own formula, drawn with NumPy.

    With n1 = n // 2 and n2 = n - n1, angles theta = theta0 + U(0, 1) * radians (n1 of them),

        arm 1 (labels[0]):  (-theta cos theta + u,   theta sin theta + u')
        arm 2 (labels[1]):  ( theta cos theta + u,  -theta sin theta + u')

    where each u is a fresh U(0, noise) draw, so without the noise arm 2 is arm 1 mirrored
    through the origin. Draw order: the angles, arm 1's x1 then x2 noise, arm 2's x1 then x2
    noise; with an odd n arm 2 has one point more and reuses the first angle again, as R
    recycles it. The same formula as `hotdogs()`, but NumPy's random numbers, not R's: use
    `hotdogs()` for the article's own points. Returns the same columns as `hotdogs()` (rows
    of arm 1 first); deterministic for a given seed.
    """
    if n < 2:
        raise ValueError(f"two_spirals: n must be at least 2, got {n}")
    if len(labels) != 2 or labels[0] == labels[1]:
        raise ValueError(f"two_spirals: labels must be two different names, got {labels!r}")
    import pandas as pd  # optional dependency (microtensor[nn])

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n1 = n // 2
    n2 = n - n1
    theta = theta0 + rng.uniform(size=n1) * radians
    noise1 = noise * rng.uniform(size=(2, n1))
    noise2 = noise * rng.uniform(size=(2, n2))
    t2 = np.resize(theta, n2)  # R recycles the n1 angles over n2 points
    x1 = np.concatenate([-theta * np.cos(theta) + noise1[0], t2 * np.cos(t2) + noise2[0]])
    x2 = np.concatenate([theta * np.sin(theta) + noise1[1], -t2 * np.sin(t2) + noise2[1]])
    classes = np.repeat(np.array(labels, dtype=object), [n1, n2])
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "class": pd.Categorical(classes, categories=list(labels))}
    )


def article_weights() -> dict[str, np.ndarray]:
    """The starting weights of the second article's runs, as it drew them in R.

    A dict of float64 matrices in the article's orientation (inputs down the rows, units
    across; row 0 multiplies the column of ones, i.e. is the bias): `w1_h5` 3x5 and `w2_h5`
    6x1 (hidden = 5), `w1_h30` 3x30 and `w2_h30` 31x1, `w1_h1` 3x1 and `w2_h1` 2x1, and the
    iris network's `iris_W1` 5x5 and `iris_W2` 6x3 (already times 0.01). They are what R's
    `rnorm` gave in the article's session after `set.seed(42)` and the data, read from the
    package's `data/article_init_weights.csv` (long format `name,i,value`, `i` being R's
    1-based column-major index). Each call returns fresh arrays.
    """
    import csv

    values: dict[str, dict[int, float]] = {name: {} for name in ARTICLE_WEIGHT_SHAPES}
    with _open_csv("article_init_weights.csv") as f:
        for row in csv.DictReader(f):
            values[row["name"]][int(row["i"])] = float(row["value"])
    weights = {}
    for name, shape in ARTICLE_WEIGHT_SHAPES.items():
        entries = values[name]
        size = shape[0] * shape[1]
        if sorted(entries) != list(range(1, size + 1)):
            raise ValueError(
                f"article_init_weights.csv: {name} needs entries 1..{size}, got {len(entries)}"
            )
        flat = np.array([entries[i] for i in range(1, size + 1)], dtype=np.float64)
        weights[name] = flat.reshape(shape, order="F")  # R fills matrices column by column
    return weights


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 handwritten digits of the UCI "Optical Recognition of Handwritten Digits"
    data (E. Alpaydin and C. Kaynak, 1998; CC BY 4.0; the copy scikit-learn ships as
    load_digits): images of shape (1797, 8, 8), float64 counts 0..16 (each pixel counts the
    set pixels of a 4x4 block of the 32x32 scan), and labels (1797,) int64 in 0..9, about 180
    per digit. Shipped as nn/datafiles/digits.npz (45 KB), loaded with object arrays refused."""
    with resources.files("nn").joinpath("datafiles/digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as archive:
            images = archive["images"].astype(np.float64)
            labels = archive["labels"].astype(np.int64)
    return images, labels


def names() -> list[str]:
    """The 1,205 common English given names of nn/datafiles/names.txt (lower case, a-z), in
    alphabetical order; the file's '#' header line is left out."""
    text = resources.files("nn").joinpath("datafiles/names.txt").read_text(encoding="utf-8")
    return [s for s in (line.strip() for line in text.splitlines())
            if s and not s.startswith("#")]
