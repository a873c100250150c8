"""nn.save / nn.load: safetensors round trips, metadata, atomic writes, clear errors for
missing, empty, truncated, foreign and forged files."""

import json
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
import nn


def _model(dtype=np.float64):
    mt.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4, dtype=dtype), nn.Tanh(), nn.Linear(4, 2, dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip_bit_exact(tmp_path, dtype):
    src = _model(dtype)
    path = tmp_path / "model.safetensors"
    nn.save(src, path)
    state = nn.load(path)
    assert sorted(state) == sorted(n for n, _ in src.named_parameters())
    for name, p in src.named_parameters():
        arr = state[name]
        assert arr.dtype == dtype and arr.shape == p.shape and arr.tobytes() == p.data.tobytes()
    dst = nn.Sequential(nn.Linear(3, 4, dtype=dtype), nn.Tanh(), nn.Linear(4, 2, dtype=dtype))
    dst.load_state_dict(state)
    x = mt.Tensor(np.ones((2, 3), dtype=dtype))
    assert dst(x).data.tobytes() == src(x).data.tobytes()


def test_module_save_and_load_methods_with_metadata(tmp_path):
    src, dst = _model(), nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    path = str(tmp_path / "m.safetensors")
    src.save(path, metadata={"epoch": "3", "note": "xor"})
    assert dst.load(path) is dst
    assert dst.state_dict().keys() == src.state_dict().keys()
    assert all(np.array_equal(a, dst.state_dict()[k]) for k, a in src.state_dict().items())
    assert nn.load_metadata(path) == {"epoch": "3", "note": "xor"}
    arrays, meta = nn.load(path, with_metadata=True)
    assert meta["epoch"] == "3" and set(arrays) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_save_plain_dicts_of_arrays_and_tensors(tmp_path):
    path = tmp_path / "d.safetensors"
    data = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": mt.tensor([1.0, 2.0]),
            "c": np.asfortranarray(np.ones((2, 2))), "empty": np.zeros((0, 3))}
    nn.save(data, path)
    back = nn.load(path)
    assert back["a"].dtype == np.int32 and np.array_equal(back["a"], data["a"])
    assert np.array_equal(back["b"], [1.0, 2.0]) and back["empty"].shape == (0, 3)
    assert nn.load_metadata(path) == {}


def test_save_rejects_bad_input(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="keys must be strings"):
        nn.save({1: np.ones(1)}, path)
    with pytest.raises(TypeError, match="not an array"):
        nn.save({"a": [1.0]}, path)
    with pytest.raises(TypeError, match="metadata"):
        nn.save({"a": np.ones(1)}, path, metadata={"n": 3})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nn.save({"a": np.ones(1)}, tmp_path / "nope" / "x.safetensors")
    assert not path.exists()


def test_save_failure_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    nn.save(_model(), path)
    before = path.read_bytes()

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    other = nn.Sequential(nn.Linear(3, 4))
    with pytest.raises(OSError, match="disk full"):
        nn.save(other, path)
    monkeypatch.undo()
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        nn.save(other, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temp left


def test_load_missing_file_is_file_not_found_with_path(tmp_path):
    path = tmp_path / "missing.safetensors"
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        nn.load(path)
    with pytest.raises(ValueError, match="not a file"):
        nn.load(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"),
     (b"abc", "truncated"),
     (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "truncated or not a safetensors"),
     (b"hello, this is a text file and not a model at all\n", "truncated or not a safetensors"),
     (struct.pack("<Q", 5) + b"xxxxx", "not JSON"),
     (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
     (struct.pack("<Q", 2**63) + b"{}", "header claims"),
     (struct.pack("<Q", 1000) + b"{}", "header claims")],
)
def test_load_foreign_and_forged_files_are_value_errors_with_path(tmp_path, content, message):
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as e:
        nn.load(path)
    assert "bad.bin" in str(e.value)
    with pytest.raises(ValueError):
        nn.load_metadata(path)


def test_load_forged_offsets_and_dtypes_are_value_errors(tmp_path):
    def write(header, body=b""):
        raw = json.dumps(header).encode()
        path = tmp_path / "forged.safetensors"
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
        return path

    with pytest.raises(ValueError, match="truncated"):
        nn.load(write({"w": {"dtype": "F64", "shape": [4], "data_offsets": [0, 32]}}, b"\0" * 8))
    with pytest.raises(ValueError, match="__metadata__"):
        nn.load_metadata(write({"__metadata__": [1, 2]}))
    with pytest.raises(ValueError, match="data_offsets"):
        nn.load(write({"w": {"dtype": "F64", "shape": [1]}}, b"\0" * 8))
    with pytest.raises(ValueError, match="not a valid safetensors"):
        nn.load(write({"w": {"dtype": "F64", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8))
    with pytest.raises(ValueError, match="not a valid safetensors"):
        nn.load(write({"w": {"dtype": "Q99", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 10_000))
def test_load_truncated_file_is_value_error(tmp_path, cut):
    path = tmp_path / "full.safetensors"
    if not path.exists():
        nn.save(_model(), path, metadata={"k": "v"})
    full = path.read_bytes()
    cut = cut % len(full)
    short = tmp_path / "short.safetensors"
    short.write_bytes(full[:cut])
    with pytest.raises(ValueError, match="short.safetensors"):
        nn.load(short)
