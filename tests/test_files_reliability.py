"""Files: saves are atomic, loads reject every damaged or foreign file, nothing uses pickle.

- A process killed (SIGKILL) in the middle of a save, between writing the temporary file and
  renaming it, or at a random moment of a loop of large saves, leaves the target file whole:
  the old contents or the new, always loadable.
- `nn.load` rejects truncated files, forged header lengths, unknown dtype strings, shapes that
  do not match the byte count, non-safetensors files (pickle, .npy, text, PNG, empty) with a
  ValueError whose message names the path; `load_network` rejects a safetensors file without
  the model metadata it needs.
- The source of `microtensor/` and `nn/` never calls pickle, `torch.load`, or `np.load`
  without `allow_pickle=False`.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import nn

ROOT = Path(__file__).resolve().parents[1]


def small_state(seed: int = 0) -> dict[str, np.ndarray]:
    """A small state dict with float64, float32 and int64 entries."""
    rng = np.random.default_rng(seed)
    return {
        "w": rng.normal(size=(3, 4)),
        "b": rng.normal(size=4).astype(np.float32),
        "steps": np.arange(5, dtype=np.int64),
    }


def assert_same_state(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    """Same keys, dtypes, shapes and values."""
    assert sorted(got) == sorted(want)
    for k, w in want.items():
        assert got[k].dtype == w.dtype, k
        np.testing.assert_array_equal(got[k], w)


def forge(path: Path, header: dict, body: bytes, header_len: int | None = None) -> Path:
    """Write a safetensors-shaped file by hand: 8-byte length, JSON header, body."""
    raw = json.dumps(header).encode()
    n = len(raw) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", n) + raw + body)
    return path


def assert_rejected(path: Path, match: str = "") -> None:
    """nn.load raises a ValueError naming the path (and matching `match`)."""
    with pytest.raises(ValueError) as info:
        nn.load(path)
    msg = str(info.value)
    assert str(path) in msg, f"the error does not name the path: {msg}"
    if match:
        assert re.search(match, msg, re.IGNORECASE), msg


# ------------------------------------------------------------------------- atomic saves
CHILD_SLEEP_BEFORE_RENAME = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    import nn

    def stalled_replace(src, dst):
        print("WRITTEN", src, flush=True)
        time.sleep(120)  # killed here: after the write and fsync, before the rename

    os.replace = stalled_replace
    rng = np.random.default_rng(1)
    nn.save({"w": rng.normal(size=(1000, 1000))}, sys.argv[1])
    """
)


def _spawn(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_save_killed_before_rename_keeps_old_file(tmp_path):
    """SIGKILL between writing the new temporary file and renaming it: the target still holds
    the old contents, loadable, and the temporary file is the only leftover (in the same
    folder, a dot file, never the target's name)."""
    target = tmp_path / "model.safetensors"
    old = small_state(0)
    nn.save(old, target)
    child = _spawn(CHILD_SLEEP_BEFORE_RENAME, str(target))
    try:
        line = child.stdout.readline()
        assert line.startswith("WRITTEN"), (line, child.stderr.read() if child.poll() else "")
        tmp = Path(line.split(maxsplit=1)[1].strip())
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.stat().st_size > 8e6
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert_same_state(nn.load(target), old)
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == sorted(["model.safetensors", tmp.name])


CHILD_SAVE_LOOP = textwrap.dedent(
    """
    import sys
    import numpy as np
    import nn

    big = {"a": np.full((4096, 4096), 1.0), "b": np.full((4096, 2048), 1.0)}  # 192 MiB
    print("READY", flush=True)
    i = 0
    while True:
        i += 1
        big["a"][0, 0] = big["b"][0, 0] = i  # every save is recognisably whole
        nn.save(big, sys.argv[1], metadata={"i": str(i)})
        print("SAVED", i, flush=True)
    """
)


@pytest.mark.slow
def test_save_killed_mid_large_save_file_stays_whole(tmp_path):
    """A process saving 192 MiB files in a loop is SIGKILLed at a moment that falls inside a
    save (after at least one save completed): the target is one complete save, loadable, its
    two arrays from the same save as its metadata says."""
    target = tmp_path / "big.safetensors"
    child = _spawn(CHILD_SAVE_LOOP, str(target))
    try:
        assert child.stdout.readline().startswith("READY")
        assert child.stdout.readline().startswith("SAVED 1")
        time.sleep(0.3)  # well inside the next save (each takes about a second)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        out = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.stderr.close()
    completed = 1 + out.count("SAVED")
    arrays, meta = nn.load(target, with_metadata=True)
    i = int(meta["i"])
    assert completed <= i <= completed + 1  # the last finished save (or the one in its rename)
    assert arrays["a"].shape == (4096, 4096) and arrays["b"].shape == (4096, 2048)
    assert arrays["a"][0, 0] == arrays["b"][0, 0] == i
    assert arrays["a"][1:].min() == arrays["a"][1:].max() == 1.0


def test_save_error_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    """A save that fails after the temporary file was written (here: the rename raises) keeps
    the old file and removes its temporary file."""
    target = tmp_path / "m.safetensors"
    old = small_state(0)
    nn.save(old, target)

    def broken_replace(src, dst):
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk went away"):
        nn.save(small_state(1), target)
    monkeypatch.undo()
    assert_same_state(nn.load(target), old)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_save_roundtrip_module(tmp_path):
    """A module saved and loaded into a fresh module of the same shape gives equal
    parameters (the baseline the rejection tests below depart from)."""
    a = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    b = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    nn.save(a, tmp_path / "a.safetensors")
    b.load(tmp_path / "a.safetensors")
    for (ka, pa), (kb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert ka == kb
        np.testing.assert_array_equal(pa.data, pb.data)


def test_module_load_mismatched_file_changes_nothing(tmp_path):
    """Loading a file whose shapes do not fit the model raises a ValueError and leaves every
    parameter as it was."""
    nn.save(nn.Sequential(nn.Linear(3, 5)), tmp_path / "other.safetensors")
    model = nn.Sequential(nn.Linear(3, 4))
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match="shape"):
        model.load(tmp_path / "other.safetensors")
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


# ------------------------------------------------------------------------- damaged files
@pytest.fixture
def saved(tmp_path) -> Path:
    """A valid file holding small_state(0)."""
    path = tmp_path / "good.safetensors"
    nn.save(small_state(0), path, metadata={"note": "fine"})
    return path


@pytest.mark.parametrize("keep", [0, 3, 7, 8, 20, "header-1", "body/2", "size-1"])
def test_load_rejects_truncated_file(saved, keep):
    """A file cut anywhere (inside the length, the header or the data) is a ValueError naming
    the path."""
    data = saved.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    cut = {"header-1": 8 + n - 1, "body/2": 8 + n + (len(data) - 8 - n) // 2,
           "size-1": len(data) - 1}.get(keep, keep)
    bad = saved.with_name("cut.safetensors")
    bad.write_bytes(data[:cut])
    assert_rejected(bad)


@pytest.mark.parametrize("claimed", [2**63, 2**64 - 1, 10**12, "eof+1", "all"])
def test_load_rejects_forged_header_length(saved, claimed):
    """A header length that is huge or points past the end of the file is rejected before
    anything is allocated for it."""
    data = bytearray(saved.read_bytes())
    n = {"eof+1": len(data) - 8 + 1, "all": len(data) - 8}.get(claimed, claimed)
    data[:8] = struct.pack("<Q", n)
    bad = saved.with_name("forged.safetensors")
    bad.write_bytes(bytes(data))
    assert_rejected(bad)


def test_load_rejects_header_length_too_short(saved):
    """A header length one byte short makes the header invalid JSON: rejected."""
    data = bytearray(saved.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    data[:8] = struct.pack("<Q", n - 1)
    bad = saved.with_name("short.safetensors")
    bad.write_bytes(bytes(data))
    assert_rejected(bad)


@pytest.mark.parametrize(
    "dtype",
    [
        "F99", "complex128", "O", "", "f8", None, 7,
        "C64",
    ],
)
def test_load_rejects_wrong_dtype(tmp_path, dtype):
    """An unknown or malformed dtype string is a ValueError naming the path."""
    header = {"x": {"dtype": dtype, "shape": [2], "data_offsets": [0, 16]}}
    assert_rejected(forge(tmp_path / "dtype.safetensors", header, bytes(16)))


@pytest.mark.parametrize(
    "shape, offsets, size",
    [
        ([3, 3], [0, 32], 32),  # 9 float32 need 36 bytes
        ([2, 2], [0, 32], 32),  # 4 float32 are 16 bytes, not 32
        ([-1], [0, 4], 4),
        ([2], [8, 0], 8),  # offsets backwards
        ([2], [0, 8], 4),  # points past the data section
        ("2", [0, 8], 8),
        ([2], None, 8),
    ],
)
def test_load_rejects_shape_not_matching_bytes(tmp_path, shape, offsets, size):
    """Shapes and offsets that disagree with the byte count are rejected."""
    info = {"dtype": "F32", "shape": shape}
    if offsets is not None:
        info["data_offsets"] = offsets
    assert_rejected(forge(tmp_path / "shape.safetensors", {"x": info}, bytes(size)))


def test_load_rejects_overlapping_tensors(tmp_path):
    """Two tensors claiming the same bytes (a hole-and-overlap layout) are rejected."""
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    assert_rejected(forge(tmp_path / "overlap.safetensors", header, bytes(12)))


@pytest.mark.parametrize("meta", [{"k": 1}, ["a"], "text", {"k": None}])
def test_load_rejects_bad_metadata(tmp_path, meta):
    """A `__metadata__` that is not a dict of strings is rejected."""
    header = {"__metadata__": meta, "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    assert_rejected(forge(tmp_path / "meta.safetensors", header, bytes(4)))


DAMAGED = {
    "header-short": None,  # made from a good file below
    "dtype-F99": ({"x": {"dtype": "F99", "shape": [2], "data_offsets": [0, 16]}}, 16),
    "shape-vs-bytes": ({"x": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 32]}}, 32),
    "overlap": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, 12),
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_load_metadata_rejects_what_load_rejects(saved, tmp_path, kind):
    """nn.load_metadata refuses the damaged files nn.load refuses (a header-only check would
    vouch for a file whose tensors cannot be read)."""
    path = tmp_path / f"{kind}.safetensors"
    if DAMAGED[kind] is None:
        data = bytearray(saved.read_bytes())
        (n,) = struct.unpack("<Q", data[:8])
        assert data[8 + n - 1:8 + n] == b" "  # safetensors pads its header with spaces
        data[:8] = struct.pack("<Q", n - 1)
        path.write_bytes(bytes(data))
    else:
        header, size = DAMAGED[kind]
        forge(path, header, bytes(size))
    assert_rejected(path)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        nn.load_metadata(path)


def test_load_network_rejects_missing_metadata(saved, tmp_path):
    """A valid safetensors file without the NeuralNetwork metadata (what nn.save writes for a
    plain state dict) cannot be loaded as a network: a ValueError naming the path."""
    from nn.estimator_io import load_network

    with pytest.raises(ValueError) as info:
        load_network(saved)
    assert str(saved) in str(info.value)
    assert "metadata" in str(info.value)


def test_load_network_rejects_damaged_metadata(tmp_path):
    """A network file whose metadata claims the format but holds broken JSON is rejected with
    a ValueError naming the path."""
    from nn.estimator_io import FORMAT, VERSION, load_network

    path = tmp_path / "net.safetensors"
    nn.save({"w": np.ones(2)}, path,
            metadata={"format": FORMAT, "version": VERSION, "network": "{not json"})
    with pytest.raises(ValueError) as info:
        load_network(path)
    assert str(path) in str(info.value)


FOREIGN = {
    "pickle": lambda: pickle.dumps({"w": np.ones(3)}),
    "pickle-protocol0": lambda: pickle.dumps({"w": [1.0, 2.0]}, protocol=0),
    "npy": None,  # written by np.save below
    "text": lambda: b"w,b\n1,2\n3,4\n",
    "png": lambda: b"\x89PNG\r\n\x1a\n" + bytes(64),
    "zip": lambda: b"PK\x03\x04" + bytes(60),
    "json-only": lambda: b'{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}',
    "empty": lambda: b"",
    "zeros": lambda: bytes(4096),
    "random": lambda: np.random.default_rng(0).bytes(4096),
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_load_rejects_foreign_file(tmp_path, kind):
    """Files that are not safetensors (including pickles, which must never be unpickled) are a
    ValueError naming the path."""
    path = tmp_path / f"foreign-{kind}.safetensors"
    if kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    else:
        path.write_bytes(FOREIGN[kind]())
    assert_rejected(path)


def test_load_refuses_pickle_that_would_run_code(tmp_path):
    """A malicious pickle (whose unpickling would create a file) is rejected and never run."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Evil()))
    assert_rejected(path)
    assert not marker.exists()


def test_load_missing_file_and_directory(tmp_path):
    """A missing path is a FileNotFoundError, a folder a ValueError; both name the path."""
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        nn.load(missing)
    with pytest.raises(ValueError, match=re.escape(str(tmp_path))):
        nn.load(tmp_path)


# ------------------------------------------------------------------------- no pickle
SOURCES = sorted(
    p for folder in ("microtensor", "nn") for p in (ROOT / folder).rglob("*.py")
)


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """Non-comment source lines (docstrings included: cheap, and a mention there is rare)."""
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.split("#", 1)[0]
        if stripped.strip():
            out.append((i, stripped))
    return out


def test_source_never_uses_pickle():
    """No module of microtensor/ or nn/ imports or calls pickle (or cPickle, dill, joblib,
    shelve, marshal), torch.load, or np.load without allow_pickle=False."""
    assert SOURCES, "no sources found"
    bad = []
    forbidden = re.compile(
        r"\bimport\s+(c?pickle|dill|joblib|shelve|marshal)\b|\bfrom\s+(c?pickle|dill|joblib|"
        r"shelve|marshal)\b|\bpickle\.|\btorch\.load\s*\(|pd\.read_pickle|\.to_pickle\s*\("
    )
    for path in SOURCES:
        for i, line in _code_lines(path):
            if forbidden.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
            if re.search(r"\bnp\.load\s*\(|\bnumpy\.load\s*\(", line) and (
                "allow_pickle=False" not in line
            ):
                bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not bad, "pickle-capable calls:\n" + "\n".join(bad)


# ------------------------------------------------------------------------- divergence
def _regression_data() -> tuple[np.ndarray, np.ndarray]:
    """A small linear regression problem: far too large a learning rate makes it diverge."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    return X, X @ np.array([1.0, 2.0, 3.0]) + 0.5


def _network() -> nn.NeuralNetwork:
    X, y = _regression_data()
    return nn.NeuralNetwork(X, y, hidden=(4,), random_state=0)


def _assert_diverged_and_kept(net: nn.NeuralNetwork, err: BaseException) -> None:
    """The error names the iteration i at which the loss stopped being finite, and the network
    holds the parameters it had entering that iteration: finite, and equal to those of an
    identical network trained for i - 1 iterations."""
    found = re.search(r"iteration (\d+)", str(err))
    assert found, f"the message does not name the iteration: {err}"
    i = int(found.group(1))
    assert i >= 2
    assert all(np.isfinite(w).all() for w in net.weights)
    assert len(net.loss_history_) == i - 1 and np.isfinite(net.loss_history_).all()
    again = _network()
    with np.errstate(all="ignore"):
        again.train(i - 1, learn_rate=1e3, tolerance=0.0, trace=0)
    for got, want in zip(net.weights, again.weights):
        np.testing.assert_array_equal(got, want)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_training_divergence_stops_naming_iteration_keeps_last_finite_parameters():
    """A run whose loss becomes inf/nan (learning rate 1e3 on a regression) raises
    FloatingPointError naming the iteration, and keeps the last finite parameters."""
    net = _network()
    with np.errstate(all="warn"):  # NumPy's default mode, as in a user's session
        with pytest.raises(FloatingPointError) as info:
            net.train(200, learn_rate=1e3, tolerance=0.0, trace=0)
    _assert_diverged_and_kept(net, info.value)


def test_training_divergence_in_raise_mode_names_iteration():
    """Under np.errstate(over/invalid/divide="raise") the divergence error still names the
    iteration, and the parameters are the last finite ones."""
    net = _network()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        with pytest.raises(FloatingPointError) as info:
            net.train(200, learn_rate=1e3, tolerance=0.0, trace=0)
    _assert_diverged_and_kept(net, info.value)


def _cli_diverge(tmp_path: Path) -> subprocess.CompletedProcess:
    """Run `microtensor train DATA --lr 1e6` on a regression CSV it cannot fit at that rate."""
    import pandas as pd

    X, y = _regression_data()
    data = tmp_path / "reg.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}).to_csv(data, index=False)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "microtensor", "train", str(data), "--lr", "1e6",
         "--iterations", "200", "--preset", "article", "--out", str(tmp_path / "out")],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    return proc


def test_cli_train_divergence_exits_2_with_one_error_line(tmp_path):
    """`microtensor train DATA --lr 1e6` exits with status 2 and exactly one error line,
    naming the iteration, and no traceback."""
    proc = _cli_diverge(tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in re.split(r"[\r\n]", proc.stderr) if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    assert len(errors) == 1, lines
    assert re.search(r"iteration \d+", errors[0]), errors[0]


def test_cli_train_divergence_stderr_has_no_numpy_warnings(tmp_path):
    """Apart from the 'training ...' header and the progress bar, the divergence error is the
    only thing the CLI writes to stderr: no NumPy warning, no source line."""
    proc = _cli_diverge(tmp_path)
    lines = [ln for ln in re.split(r"[\r\n]", proc.stderr) if ln.strip()]
    other = [ln for ln in lines if not ln.startswith(("training ", "train:", "microtensor: error"))]
    assert other == [], other
