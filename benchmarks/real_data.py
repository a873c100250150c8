# ruff: noqa: E402  (BLAS threads are set before NumPy loads)
"""`microtensor train` with default flags on public tables, against scikit-learn.

    python benchmarks/real_data.py [--only NAME ...] [--markdown]

Each table (scikit-learn's bundled breast cancer, wine, digits and diabetes, plus one with
text columns and one with missing values built from them; nothing is downloaded) is split
80/20 (stratified for classes, seed 0) and written as train.csv and test.csv in a temporary
folder. `microtensor train train.csv` runs with default flags (the missing-values table adds
`--missing mean`, since missing values are an error by default) and `microtensor predict`
scores test.csv. scikit-learn's MLPClassifier / MLPRegressor (its defaults, random_state 0)
is fitted on the same training rows, standardized (text one-hot encoded, missing values
filled with the mean, as the CLI does), and scored on the same test rows.

Both run with one BLAS thread (OPENBLAS_NUM_THREADS=1 and friends, set here before NumPy
loads): on a busy 2-core machine, multithreaded BLAS spends ~10x longer on these small
matrix products than one thread does.
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


import argparse
import io
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _frame(loader: Any, target: str = "target") -> pd.DataFrame:
    data = loader()
    df = pd.DataFrame(data.data, columns=[str(c).replace(" ", "_") for c in data.feature_names])
    df[target] = data.target
    return df


def tables() -> dict[str, tuple[pd.DataFrame, str]]:
    """name -> (table, task)."""
    from sklearn import datasets

    cancer = _frame(datasets.load_breast_cancer)
    cancer["target"] = np.where(cancer["target"] == 1, "benign", "malignant")
    wine = _frame(datasets.load_wine)
    wine["target"] = "cultivar_" + wine["target"].astype(str)
    digits = _frame(datasets.load_digits, "digit")
    diabetes = _frame(datasets.load_diabetes, "progression")
    # text columns: wine with two measurements given as words and a label-like grade
    text = wine.copy()
    text["color_intensity"] = pd.cut(text["color_intensity"], 4,
                                     labels=["pale", "light", "deep", "dark"]).astype(str)
    text["hue"] = pd.cut(text["hue"], 3, labels=["brown", "amber", "red"]).astype(str)
    # missing values: breast cancer with 10% of three columns blanked
    missing = cancer.copy()
    rng = np.random.default_rng(0)
    for col in ("mean_radius", "mean_texture", "worst_area"):
        missing.loc[rng.random(len(missing)) < 0.1, col] = np.nan
    return {"breast_cancer": (cancer, "classification"), "wine": (wine, "classification"),
            "digits": (digits, "classification"), "diabetes": (diabetes, "regression"),
            "wine_text_columns": (text, "classification"),
            "cancer_missing_values": (missing, "classification")}


def _split(df: pd.DataFrame, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    y = df[df.columns[-1]]
    train, test = train_test_split(df, test_size=0.2, random_state=0,
                                   stratify=y if task == "classification" else None)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _cli(*args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "microtensor", *args], cwd=cwd,
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "MPLBACKEND": "Agg",
                                 "PYTHONPATH": str(ROOT)})
    if result.returncode != 0:
        raise RuntimeError(f"microtensor {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def sklearn_score(train: pd.DataFrame, test: pd.DataFrame, task: str) -> float:
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    target = train.columns[-1]
    X, y = train.drop(columns=[target]), train[target]
    text = [c for c in X.columns if X[c].dtype.kind not in "biuf"]
    numbers = [c for c in X.columns if c not in text]
    prep = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), numbers),
        (OneHotEncoder(handle_unknown="ignore"), text))
    model = (MLPClassifier(random_state=0) if task == "classification"
             else MLPRegressor(random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at its default max_iter
        pipe = make_pipeline(prep, model).fit(X, y)
    return float(pipe.score(test.drop(columns=[target]), test[target]))


def run_one(name: str, df: pd.DataFrame, task: str, folder: Path) -> dict[str, Any]:
    from sklearn.metrics import r2_score

    train, test = _split(df, task)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    extra = ["--missing", "mean"] if df.isna().any().any() else []
    start = time.perf_counter()
    _cli("train", "train.csv", "--out", "model", *extra, cwd=folder)
    seconds = time.perf_counter() - start
    new = test.copy()
    target = test.columns[-1]
    new[new.columns[:-1]] = new[new.columns[:-1]].fillna(train.mean(numeric_only=True))
    new.to_csv(folder / "test_filled.csv", index=False)
    out = _cli("predict", "model/model.safetensors", "test_filled.csv", cwd=folder)
    pred = pd.read_csv(io.StringIO(out)).iloc[:, 0]
    if task == "classification":
        ours = float(np.mean(pred.astype(str).to_numpy() == test[target].astype(str).to_numpy()))
    else:
        ours = float(r2_score(test[target], pred))
    theirs = sklearn_score(train, test, task)
    return {"table": name, "rows": len(df), "columns": df.shape[1] - 1, "task": task,
            "metric": "accuracy" if task == "classification" else "R2",
            "microtensor": round(ours, 3), "scikit-learn MLP": round(theirs, 3),
            "difference": round(ours - theirs, 3), "train seconds": round(seconds, 1)}


def markdown(table: pd.DataFrame) -> str:
    """The table as GitHub Markdown (no tabulate needed)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the tables, print the results (a Markdown table with --markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="table names to run")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for name, (df, task) in tables().items():
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(run_one(name, df, task, Path(tmp)))
        print(rows[-1], file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    print(markdown(table) if args.markdown else table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
