"""Datasets and minibatches, PyTorch's names: `TensorDataset`, `DataLoader`, `random_split`.

    data = nn.data.TensorDataset(X, y)
    train, test = nn.data.random_split(data, [0.8, 0.2], seed=0)
    for xb, yb in nn.data.DataLoader(train, batch_size=64, shuffle=True, seed=0):
        ...

A dataset is anything with `__len__` and `__getitem__(i)` (the `Dataset` protocol; subclass
`Dataset` or not). The loader draws one permutation per epoch from its own generator (`seed`
or `generator`), so a seed repeats the whole sequence of epochs; without either it uses
microtensor's shared generator (`mt.manual_seed`). Batches are collated by stacking: arrays
stay arrays, Tensors become one Tensor, numbers an array, and tuples, lists and dicts are
collated field by field.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

import microtensor as mt
from microtensor import Tensor

__all__ = [
    "DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split",
]


@runtime_checkable
class SizedDataset(Protocol):
    """What a DataLoader needs of a dataset: its length and its i-th sample."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


class Dataset:
    """Base class of map-style datasets: override `__len__` and `__getitem__(index)`."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} defines no __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no __getitem__")


class TensorDataset(Dataset):
    """Samples made of the i-th row of each of `tensors` (Tensors or arrays with the same
    first dimension): `dataset[i] == (tensors[0][i], tensors[1][i], ...)`."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        arrays = []
        for k, given in enumerate(tensors):
            t = given if isinstance(given, Tensor) else np.asarray(given)
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is 0-d; each needs a first "
                                 "dimension to index samples by")
            arrays.append(t)
        sizes = [int(t.shape[0]) for t in arrays]
        if len(set(sizes)) > 1:
            raise ValueError(f"TensorDataset: the tensors' first dimensions differ: {sizes}")
        self.tensors = tuple(arrays)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        return tuple(t[index] for t in self.tensors)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: Tensors into one Tensor (`mt.stack`), arrays
    into one array, numbers into an array, strings into a list; tuples, lists and dicts are
    collated field by field (every sample must have the same fields)."""
    if not batch:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return mt.stack(list(batch))
    if isinstance(elem, np.ndarray):
        return np.stack(batch)
    if isinstance(elem, (bool, np.bool_, numbers.Number)):
        return np.array(batch)
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, Mapping):
        keys = set(elem)
        for k, sample in enumerate(batch):
            if not isinstance(sample, Mapping) or set(sample) != keys:
                raise ValueError(f"default_collate: sample {k} does not have the keys "
                                 f"{sorted(map(str, keys))} of sample 0")
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, (tuple, list)):
        size = len(elem)
        for k, sample in enumerate(batch):
            if not isinstance(sample, (tuple, list)) or len(sample) != size:
                raise ValueError(f"default_collate: sample {k} does not have the {size} "
                                 "fields of sample 0")
        fields = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__} "
                    "(pass a collate_fn)")


def _check_generator(seed: Any, generator: Any, where: str) -> np.random.Generator | None:
    """A generator from `seed` or `generator` (at most one), or None for the shared one."""
    if seed is not None and generator is not None:
        raise ValueError(f"{where}: give seed or generator, not both")
    if seed is not None:
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"{where}: seed must be an integer, got {seed!r}")
        return np.random.default_rng(int(seed))
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{where}: generator must be a numpy.random.Generator, got "
                        f"{type(generator).__name__}")
    return generator


class DataLoader:
    """Minibatches of `dataset`, one epoch per iteration: `batch_size` samples each (the
    last one smaller unless `drop_last`), in order or, with `shuffle`, in a fresh permutation
    per epoch drawn from `seed`/`generator` (reproducible) or from the shared generator.
    `collate_fn` turns a list of samples into a batch (`default_collate` by default);
    `progress=True` shows a tqdm bar over each epoch (tqdm is optional: installed only for
    this). `len(loader)` is the number of batches per epoch."""

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None,
                 generator: np.random.Generator | None = None,
                 collate_fn: Callable[[list[Any]], Any] | None = None,
                 progress: bool = False) -> None:
        where = "DataLoader"
        if not isinstance(dataset, SizedDataset):
            raise TypeError(f"{where}: dataset must have __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if (isinstance(batch_size, (bool, np.bool_))
                or not isinstance(batch_size, numbers.Integral) or batch_size < 1):
            raise ValueError(f"{where}: batch_size must be a whole number >= 1, got "
                             f"{batch_size!r}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last),
                           ("progress", progress)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{where}: {name} must be True or False, got {flag!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"{where}: collate_fn must be a function, got "
                            f"{type(collate_fn).__name__}")
        self._rng = _check_generator(seed, generator, where)
        if progress:
            _tqdm()  # a missing tqdm is an error now, not in the middle of training
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last, self.progress = bool(shuffle), bool(drop_last), progress
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self._rng if self._rng is not None else mt.default_generator()
        return rng.permutation(n)

    def _batches(self) -> Iterator[Any]:
        order = self._order()
        bs = self.batch_size
        stop = len(self) * bs
        # a TensorDataset with the default collate: index every tensor once per batch, the
        # same result as stacking its rows one by one, without the Python loop
        direct = self.collate_fn is None and type(self.dataset) is TensorDataset
        for start in range(0, min(stop, len(order)), bs):
            idx = order[start:start + bs]
            if direct:
                yield tuple(t[idx] for t in self.dataset.tensors)
            else:
                samples = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(samples)

    def __iter__(self) -> Iterator[Any]:
        batches = self._batches()
        if self.progress:
            return iter(_tqdm()(batches, total=len(self), unit="batch"))
        return batches

    def __repr__(self) -> str:
        return (f"DataLoader(batches={len(self)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")


def _tqdm() -> Any:
    """tqdm's progress bar, or an ImportError saying how to get it."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError("DataLoader: progress=True needs the optional package tqdm "
                          "(pip install tqdm)") from None
    return tqdm


def random_split(dataset: Any, lengths: Sequence[float], seed: int | None = None,
                 generator: np.random.Generator | None = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given `lengths` (whole
    numbers summing to len(dataset)), or of the given fractions (summing to 1; the
    remainder of the rounding goes one sample at a time to the first subsets, as in
    PyTorch). `seed` or `generator` makes the split reproducible."""
    where = "random_split"
    rng = _check_generator(seed, generator, where) or mt.default_generator()
    if not isinstance(dataset, SizedDataset):
        raise TypeError(f"{where}: dataset must have __len__ and __getitem__, got "
                        f"{type(dataset).__name__}")
    n = len(dataset)
    values = list(lengths) if isinstance(lengths, (list, tuple)) else None
    if not values or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real)
                         or v < 0 for v in values):
        raise ValueError(f"{where}: lengths must be a non-empty list of numbers >= 0, got "
                         f"{lengths!r}")
    if all(isinstance(v, numbers.Integral) for v in values) and sum(values) == n:
        sizes = [int(v) for v in values]
    elif math.isclose(sum(values), 1.0, abs_tol=1e-9) and all(v <= 1 for v in values):
        sizes = [math.floor(n * v) for v in values]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        raise ValueError(f"{where}: lengths {values} neither sum to the dataset's length "
                         f"{n} nor are fractions summing to 1")
    order = rng.permutation(n)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, order[start:start + size].tolist()))
        start += size
    return out
