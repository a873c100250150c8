"""nn.data: TensorDataset, DataLoader (batches, shuffles, collate, progress), random_split."""

import collections
import sys

import numpy as np
import pytest

import microtensor as mt
import nn
from nn.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


def _data(n=10):
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    y = np.arange(n)
    return x, y


@pytest.mark.parametrize("n, bs, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                              (10, 1, False), (10, 20, False), (10, 20, True)])
def test_loader_batches_shapes_and_len(n, bs, drop_last):
    x, y = _data(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // bs if drop_last else -(-n // bs))
    sizes = [len(b[1]) for b in batches]
    assert all(s == bs for s in sizes[:-1])
    if drop_last:
        assert all(s == bs for s in sizes)
    if batches:
        assert batches[0][0].shape == (sizes[0], 3)
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]),
                                      y[:sum(sizes)])  # in order without shuffle


def test_loader_shuffle_covers_every_index_once_per_epoch_and_is_reproducible():
    x, y = _data(23)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=7)
    epochs = [np.concatenate([b[1] for b in loader]) for _ in range(3)]
    for e in epochs:
        np.testing.assert_array_equal(np.sort(e), y)  # exact coverage
    assert not np.array_equal(epochs[0], epochs[1])  # a fresh permutation per epoch
    again = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=7)
    for e in epochs:
        np.testing.assert_array_equal(np.concatenate([b[1] for b in again]), e)
    gen = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True,
                     generator=np.random.default_rng(7))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in gen]), epochs[0])
    mt.manual_seed(3)
    a = np.concatenate([b[1] for b in DataLoader(TensorDataset(x, y), 5, shuffle=True)])
    mt.manual_seed(3)
    b = np.concatenate([b[1] for b in DataLoader(TensorDataset(x, y), 5, shuffle=True)])
    np.testing.assert_array_equal(a, b)  # the shared generator, reseeded by manual_seed


def test_loader_rows_stay_paired_and_tensors_stay_tensors():
    x, y = _data(12)
    loader = DataLoader(TensorDataset(mt.Tensor(x), y), batch_size=5, shuffle=True, seed=0)
    for xb, yb in loader:
        assert isinstance(xb, mt.Tensor) and isinstance(yb, np.ndarray)
        np.testing.assert_array_equal(xb.data[:, 0], yb * 3)


class _Dicts(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, float(i)), "label": i, "meta": (i, [float(i), 1.0], "s")}


def test_default_collate_recurses_into_dicts_tuples_lists_and_generic_datasets():
    batch = next(iter(DataLoader(_Dicts(), batch_size=3)))
    assert batch["x"].shape == (3, 2)
    np.testing.assert_array_equal(batch["label"], [0, 1, 2])
    ids, pair, names = batch["meta"]
    np.testing.assert_array_equal(ids, [0, 1, 2])
    assert isinstance(pair, list) and pair[0].tolist() == [0.0, 1.0, 2.0]
    assert names == ["s", "s", "s"]
    point = collections.namedtuple("point", "a b")
    out = default_collate([point(1, np.zeros(2)), point(2, np.ones(2))])
    assert isinstance(out, point) and out.b.shape == (2, 2)
    tensors = default_collate([mt.ones(2), mt.zeros(2)])
    assert isinstance(tensors, mt.Tensor) and tensors.shape == (2, 2)


def test_custom_collate_fn_and_tensor_dataset_fast_path_agree():
    x, y = _data(7)
    ds = TensorDataset(x, y)
    fast = list(DataLoader(ds, batch_size=3, shuffle=True, seed=1))
    slow = list(DataLoader(ds, batch_size=3, shuffle=True, seed=1, collate_fn=default_collate))
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    sizes = list(DataLoader(ds, batch_size=3, collate_fn=len))
    assert sizes == [3, 3, 1]


def test_collate_errors_name_the_problem():
    with pytest.raises(ValueError, match="sample 1 does not have the keys"):
        default_collate([{"a": 1}, {"b": 2}])
    with pytest.raises(ValueError, match="sample 1 does not have the 2 fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        default_collate([object(), object()])


def test_loader_errors_name_the_argument():
    ds = TensorDataset(*_data(4))
    for kw, exc, name in [({"batch_size": 0}, ValueError, "batch_size"),
                          ({"batch_size": 2.5}, ValueError, "batch_size"),
                          ({"batch_size": True}, ValueError, "batch_size"),
                          ({"shuffle": "yes"}, TypeError, "shuffle"),
                          ({"drop_last": 1}, TypeError, "drop_last"),
                          ({"seed": 1.5}, TypeError, "seed"),
                          ({"generator": 3}, TypeError, "generator"),
                          ({"seed": 1, "generator": np.random.default_rng()}, ValueError,
                           "seed or generator"),
                          ({"collate_fn": 3}, TypeError, "collate_fn")]:
        with pytest.raises(exc, match=name):
            DataLoader(ds, **kw)
    with pytest.raises(TypeError, match="dataset must have __len__ and __getitem__"):
        DataLoader(object())
    with pytest.raises(ValueError, match="first dimensions differ"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="tensor 1 is 0-d"):
        TensorDataset(np.zeros(3), np.float64(1.0))


def test_progress_bar_shows_and_missing_tqdm_is_a_clear_error(monkeypatch, capsys):
    ds = TensorDataset(*_data(6))
    pytest.importorskip("tqdm")
    batches = list(DataLoader(ds, batch_size=2, progress=True))
    assert len(batches) == 3
    assert "3/3" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"progress=True needs the optional package tqdm"):
        DataLoader(ds, batch_size=2, progress=True)
    assert len(list(DataLoader(ds, batch_size=2))) == 3  # without progress, no tqdm needed


def test_random_split_lengths_fractions_and_reproducibility():
    x, y = _data(10)
    ds = TensorDataset(x, y)
    parts = random_split(ds, [7, 3], seed=0)
    assert [len(p) for p in parts] == [7, 3] and all(isinstance(p, Subset) for p in parts)
    seen = sorted(int(p[i][1]) for p in parts for i in range(len(p)))
    assert seen == list(range(10))  # disjoint and complete
    again = random_split(ds, [7, 3], seed=0)
    assert [p.indices for p in parts] == [p.indices for p in again]
    assert [len(p) for p in random_split(ds, [0.5, 0.3, 0.2], seed=1)] == [5, 3, 2]
    assert [len(p) for p in random_split(TensorDataset(*_data(11)), [0.34, 0.33, 0.33],
                                         seed=1)] == [4, 4, 3]  # PyTorch's rounding
    loader = DataLoader(parts[0], batch_size=4)
    assert [len(b[1]) for b in loader] == [4, 3]
    for bad in ([5, 4], [0.5, 0.6], [], [-1, 11], "abc"):
        with pytest.raises(ValueError, match="lengths"):
            random_split(ds, bad, seed=0)


def test_nn_exposes_data():
    assert nn.data.DataLoader is DataLoader
