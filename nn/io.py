"""Save and load parameters as safetensors files: no pickle, atomic writes, clear errors.

safetensors is a JSON header (names, dtypes, shapes, byte offsets, optional string metadata)
followed by raw little-endian bytes, so loading a file from a stranger cannot run code. A save
writes a temporary file in the target's folder, flushes and fsyncs it, then `os.replace`s it
over the target: a crash at any moment leaves either the old file or the new one, whole.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from microtensor import Tensor

from .module import Module

_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


def save(obj: Module | Mapping[str, Any], path: str | os.PathLike[str],
         metadata: Mapping[str, str] | None = None) -> None:
    """Write a module's `state_dict()` (or a dict of name -> array or Tensor) to `path` in
    safetensors format, atomically. `metadata` is an optional dict of strings stored in the
    header (read it back with `load_metadata` or `load(path, with_metadata=True)`)."""
    from safetensors.numpy import save as _to_bytes

    path = Path(path)
    state = obj.state_dict() if isinstance(obj, Module) else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"save: expected a Module or a dict of arrays, got {type(obj).__name__}")
    arrays = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"save: keys must be strings, got {key!r}")
        arr = value.data if isinstance(value, Tensor) else value
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"save: {key!r} is a {type(value).__name__}, not an array or Tensor")
        arrays[key] = np.ascontiguousarray(arr)
    meta = None
    if metadata is not None:
        bad = [k for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))]
        if bad:
            raise TypeError(f"save: metadata keys and values must be strings; bad keys: {bad}")
        meta = dict(metadata)
    payload = _to_bytes(arrays, metadata=meta)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"save: folder {str(folder)!r} does not exist (saving {path})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a saved model reads like any new file
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read(path: str | os.PathLike[str]) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and its parsed JSON header, after checking that the file is whole."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"load: no such file: {str(p)!r}")
    if not p.is_file():
        raise ValueError(f"load: {str(p)!r} is not a file")
    data = p.read_bytes()
    where = f"load: {str(p)!r}"
    if len(data) == 0:
        raise ValueError(f"{where} is empty (not a safetensors file)")
    if len(data) < 8:
        raise ValueError(f"{where} is truncated or not a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise ValueError(
            f"{where} is truncated or not a safetensors file: its header claims {n} bytes but "
            f"the file has {len(data)}"
        )
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{where} is not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise ValueError(f"{where} is not a safetensors file (its header is not a JSON object)")
    meta = header.get("__metadata__")
    if meta is not None and not (
        isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())
    ):
        raise ValueError(f"{where}: its __metadata__ is not a dict of strings")
    body = len(data) - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            end = int(info["data_offsets"][1])
        except (TypeError, KeyError, IndexError, ValueError):
            raise ValueError(f"{where}: entry {key!r} has no valid data_offsets") from None
        if end > body:
            raise ValueError(
                f"{where} is truncated: {key!r} ends at byte {end} of a {body}-byte data section"
            )
    return data, header


def _parse(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every tensor and the metadata of a safetensors file, fully checked: the header, the
    byte ranges (by safetensors itself) and the dtypes (real numbers or booleans only)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as _from_bytes

    data, header = _read(path)
    try:
        arrays = _from_bytes(data)
    except (SafetensorError, ValueError, TypeError) as e:
        raise ValueError(f"load: {str(path)!r} is not a valid safetensors file ({e})") from None
    for key, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise ValueError(
                f"load: {str(path)!r}: tensor {key!r} has dtype {value.dtype}, which microtensor "
                "cannot hold (real numbers or booleans only)"
            )
    arrays = {k: np.array(v, copy=True) for k, v in arrays.items()}
    return arrays, dict(header.get("__metadata__") or {})


def load(path: str | os.PathLike[str], with_metadata: bool = False) -> Any:
    """Read a safetensors file into a dict of name -> ndarray (pass it to
    `module.load_state_dict`, which matches by name: the keys come in the file's order, which
    safetensors sorts, not in the model's). With `with_metadata=True`, return `(arrays, metadata)`.
    A missing file is a FileNotFoundError; an empty, truncated or foreign file (or a forged
    header, or a complex or other non-real dtype) a ValueError naming the path."""
    arrays, metadata = _parse(path)
    return (arrays, metadata) if with_metadata else arrays


def load_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The string metadata stored in a safetensors file by `save(..., metadata=...)`, after
    the same checks as `load` (a file `load` refuses has no metadata to trust)."""
    return _parse(path)[1]
