"""Save and load parameters as safetensors files: no pickle, atomic writes, clear errors.

A safetensors file is an 8-byte little-endian header length n, n bytes of JSON (each tensor's
dtype, shape and byte range in the data section, plus optional string `__metadata__`), then
the raw little-endian bytes. Both directions are written here, on the standard library and
NumPy alone, so every byte of a stranger's file is checked by code we can read (nothing in it
is ever evaluated or unpickled) and every refusal names the file, the tensor and the reason.
A save checks everything first, writes a temporary file in the target's folder, flushes and
fsyncs it, then `os.replace`s it over the target: a crash at any moment leaves either the old
file or the new one, whole.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from microtensor import Tensor

from .module import Module

_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header

# the safetensors dtypes NumPy holds as they are (little-endian on disk)
_NUMPY_DTYPES = {
    "BOOL": np.dtype(np.bool_), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
}
_DTYPE_NAMES = {dt.newbyteorder("="): name for name, dt in _NUMPY_DTYPES.items()}
# bytes per element of the dtypes that are loaded by conversion to float32
_CONVERTED = {"BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1}
# dtypes safetensors knows that are refused (packed sub-byte formats, variants whose
# conventions differ in NaN and zero, scale-only formats, complex numbers)
_REFUSED = {"F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
            "C128", "I4", "U4"}


# ---------------------------------------------------------------------- save
def save(obj: Module | Mapping[str, Any], path: str | os.PathLike[str],
         metadata: Mapping[str, str] | None = None) -> None:
    """Write a module's `state_dict()` (or a dict of name -> array or Tensor) to `path` in
    safetensors format, atomically, keeping each array's shape (0-d included), dtype and the
    dict's order. Booleans, integers and float16/32/64 are stored; any other dtype (object,
    string, complex, datetime, float128) is a TypeError naming the key. `metadata` is an
    optional dict of strings stored in the header (read it back with `load_metadata` or
    `load(path, with_metadata=True)`). A symlink is written through (the file it points to is
    replaced, the link kept); a folder, or a link to one, is an IsADirectoryError; a failure
    to write is an OSError naming `path`. Nothing is written unless everything checks out."""
    state = obj.state_dict() if isinstance(obj, Module) else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"save: expected a Module or a dict of arrays, got {type(obj).__name__}")
    arrays = {key: _checked_array(key, value) for key, value in state.items()}
    meta = _checked_metadata(metadata)
    header = _header(arrays, meta)
    target = _target_file(Path(path))
    _write_atomically(target, Path(path), [header, *(a.data for a in arrays.values())])


def _checked_array(key: Any, value: Any) -> np.ndarray:
    """`value` as a C-contiguous little-endian array of a dtype safetensors stores."""
    if not isinstance(key, str):
        raise TypeError(f"save: keys must be strings, got {key!r}")
    if key == "__metadata__":
        raise ValueError("save: '__metadata__' is reserved for the metadata; rename that key")
    arr = value.data if isinstance(value, Tensor) else value
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"save: {key!r} is a {type(value).__name__}, not an array or Tensor")
    if arr.dtype.newbyteorder("=") not in _DTYPE_NAMES:
        raise TypeError(
            f"save: {key!r} has dtype {arr.dtype}, which a safetensors file cannot hold "
            "(booleans, integers and float16/32/64 only; cast it first)"
        )
    # np.require keeps a 0-d array 0-d (np.ascontiguousarray would make it (1,))
    return np.require(arr, dtype=arr.dtype.newbyteorder("<"), requirements="C")


def _checked_metadata(metadata: Mapping[str, str] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise TypeError(f"save: metadata must be a dict of strings, got {type(metadata).__name__}")
    bad = [k for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))]
    if bad:
        raise TypeError(f"save: metadata keys and values must be strings; bad keys: {bad}")
    return dict(metadata)


def _header(arrays: Mapping[str, np.ndarray], meta: dict[str, str] | None) -> bytes:
    """The length prefix and the JSON header, padded with spaces to a multiple of 8 bytes (as
    safetensors does, so that the data starts aligned)."""
    entries: dict[str, Any] = {}
    if meta:
        entries["__metadata__"] = meta
    start = 0
    for key, arr in arrays.items():
        name = _DTYPE_NAMES[arr.dtype.newbyteorder("=")]
        entries[key] = {"dtype": name, "shape": list(arr.shape),
                        "data_offsets": [start, start + arr.nbytes]}
        start += arr.nbytes
    raw = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    if len(raw) > _MAX_HEADER:
        where = ""
        if meta:
            big = max(meta, key=lambda k: len(k) + len(meta[k]))
            where = f" (the largest metadata entry is {big!r}, {len(meta[big]):,} characters)"
        raise ValueError(
            f"save: the header would be {len(raw):,} bytes, over safetensors' limit of "
            f"{_MAX_HEADER:,}{where}; store large data as a tensor, not as metadata"
        )
    return struct.pack("<Q", len(raw)) + raw


def _target_file(path: Path) -> Path:
    """The file a save replaces: `path`, or the file a symlink at `path` points to."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.is_dir():
        link = f" (a symlink to the folder {str(target)!r})" if target != path else ""
        raise IsADirectoryError(f"save: {str(path)!r} is a folder{link}; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"save: folder {str(folder)!r} does not exist (saving {path})")
    return target


def _write_atomically(target: Path, path: Path, chunks: Iterable[Any]) -> None:
    """Write `chunks` to a temporary file next to `target` and rename it over `target`;
    on failure remove the temporary file and raise an error that names `path`."""
    folder = target.parent if str(target.parent) else Path(".")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a saved model reads like any file
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        # the temporary file's name means nothing to the caller: say which save failed
        why = e.strerror or str(e)
        msg = f"save: cannot write {str(path)!r}: {why}"
        raise (type(e)(msg) if e.errno is None else type(e)(e.errno, msg)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
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


# ---------------------------------------------------------------------- load
def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the JSON constant {name} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice")
        out[key] = value
    return out


def _read(path: str | os.PathLike[str]) -> tuple[bytes, int, dict[str, Any]]:
    """The file's bytes, the header length and its parsed JSON header, after checking that
    the file is a safetensors file whose byte ranges fit."""
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
        header = json.loads(data[8:8 + n].decode("utf-8"), parse_constant=_refuse_constant,
                            object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ValueError(f"{where} is not a safetensors file (its header is not JSON: {e})"
                         ) from None
    if not isinstance(header, dict):
        raise ValueError(f"{where} is not a safetensors file (its header is not a JSON object)")
    meta = header.get("__metadata__")
    if meta is not None and not (
        isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())
    ):
        raise ValueError(f"{where}: its __metadata__ is not a dict of strings")
    body = len(data) - 8 - n
    ranges = []
    for key, info in header.items():
        if key == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(_is_int(o) and o >= 0 for o in offsets) and offsets[0] <= offsets[1]):
            raise ValueError(
                f"{where}: entry {key!r} has no valid data_offsets (two whole numbers "
                f"0 <= begin <= end), got {_short(offsets)}"
            )
        if offsets[1] > body:
            raise ValueError(f"{where} is truncated: {key!r} ends at byte {offsets[1]} of a "
                             f"{body}-byte data section")
        ranges.append((offsets[0], offsets[1], key))
    # as safetensors requires: the tensors tile the data section, no overlap and no gap
    start = 0
    for begin, end, key in sorted(ranges):
        if begin != start:
            why = "overlaps another tensor" if begin < start else "leaves a gap before it"
            raise ValueError(f"{where} is not a valid safetensors file: tensor {key!r} "
                             f"(bytes {begin}..{end}) {why}")
        start = end
    if start != body:
        raise ValueError(f"{where} is not a valid safetensors file: its tensors cover "
                         f"{start} bytes of a {body}-byte data section")
    return data, n, header


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode(where: str, key: str, info: dict[str, Any], raw: memoryview) -> np.ndarray:
    """One tensor's array from its header entry and its bytes, checked."""
    dtype, shape = info.get("dtype"), info.get("shape")
    if not (isinstance(shape, list) and all(_is_int(d) and 0 <= d <= sys.maxsize
                                            for d in shape)):
        raise ValueError(f"{where} is not a valid safetensors file: tensor {key!r} has shape "
                         f"{_short(shape)} (a list of whole numbers >= 0 expected)")
    if not isinstance(dtype, str):
        raise ValueError(f"{where} is not a valid safetensors file: tensor {key!r} has dtype "
                         f"{_short(dtype)}")
    if dtype in _REFUSED:
        raise ValueError(
            f"{where}: tensor {key!r} has dtype {dtype}, which microtensor cannot load (it "
            "holds booleans, integers and floats; bf16, F8_E4M3 and F8_E5M2 are converted to "
            "float32)"
        )
    itemsize = _NUMPY_DTYPES[dtype].itemsize if dtype in _NUMPY_DTYPES else _CONVERTED.get(dtype)
    if itemsize is None:
        raise ValueError(f"{where} is not a valid safetensors file: tensor {key!r} has the "
                         f"unknown dtype {_short(dtype)}")
    count = math.prod(shape)
    if count * itemsize != len(raw):
        raise ValueError(
            f"{where} is not a valid safetensors file: tensor {key!r} of shape {shape} and "
            f"dtype {dtype} needs {count * itemsize} bytes, its data_offsets give {len(raw)}"
        )
    try:
        if dtype == "BOOL":  # any nonzero byte is True (NumPy's bool must be 0 or 1)
            flat = np.frombuffer(raw, np.uint8) != 0
        elif dtype in _NUMPY_DTYPES:
            flat = np.frombuffer(raw, _NUMPY_DTYPES[dtype]).astype(
                _NUMPY_DTYPES[dtype].newbyteorder("="))  # a copy, aligned, native order
        else:
            flat = _to_float32(dtype, np.frombuffer(raw, "<u2" if itemsize == 2 else np.uint8))
        return flat.reshape(shape)
    except (ValueError, OverflowError, MemoryError) as e:
        raise ValueError(f"{where}: tensor {key!r} of shape {shape} cannot be made ({e})"
                         ) from None


def _to_float32(dtype: str, bits: np.ndarray) -> np.ndarray:
    """Exact float32 values of bf16 or 8-bit float codes (every one fits in float32)."""
    if dtype == "BF16":  # bf16 is the top half of a float32: shift the bits back
        return (bits.astype(np.uint32) << 16).view(np.float32)
    table = _E4M3_TABLE if dtype == "F8_E4M3" else _E5M2_TABLE
    return table[bits]


def _e4m3_table() -> np.ndarray:
    """float32 value of each E4M3FN code (OCP FP8: sign, 4 exponent bits with bias 7, 3
    mantissa bits; subnormals at exponent 0; no infinities; S.1111.111 is NaN)."""
    out = np.empty(256, dtype=np.float32)
    for b in range(256):
        sign = -1.0 if b & 0x80 else 1.0
        exp, man = (b >> 3) & 0xF, b & 0x7
        if exp == 0xF and man == 0x7:
            out[b] = np.nan
        elif exp == 0:
            out[b] = sign * man * 2.0**-9
        else:
            out[b] = sign * (1 + man / 8) * 2.0 ** (exp - 7)
    out.flags.writeable = False
    return out


def _e5m2_table() -> np.ndarray:
    """float32 value of each E5M2 code: the top byte of an IEEE float16 (same exponent, two
    of its ten mantissa bits), so the float16 with those bits is exact, inf and NaN included."""
    out = (np.arange(256, dtype=np.uint16) << 8).view(np.float16).astype(np.float32)
    out.flags.writeable = False
    return out


_E4M3_TABLE = _e4m3_table()
_E5M2_TABLE = _e5m2_table()


def _parse(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every tensor and the metadata of a safetensors file, fully checked."""
    data, n, header = _read(path)
    where = f"load: {str(path)!r}"
    view = memoryview(data)
    base = 8 + n
    arrays = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arrays[key] = _decode(where, key, info, view[base + begin:base + end])
    return arrays, dict(header.get("__metadata__") or {})


def load(path: str | os.PathLike[str], with_metadata: bool = False) -> Any:
    """Read a safetensors file into a dict of name -> ndarray (pass it to
    `module.load_state_dict`, which matches by name), in the order of the file's header
    (a file written by `save` keeps the order it was given). bf16, F8_E4M3 and F8_E5M2
    tensors are converted exactly to float32; other dtypes NumPy cannot hold are refused.
    With `with_metadata=True`, return `(arrays, metadata)`. A missing file is a
    FileNotFoundError; an empty, truncated or foreign file, a forged header or an unsupported
    dtype is a ValueError naming the path (and the tensor). Nothing is ever evaluated."""
    arrays, metadata = _parse(path)
    return (arrays, metadata) if with_metadata else arrays


def load_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The string metadata stored in a safetensors file by `save(..., metadata=...)`, after
    the same checks as `load` (a file `load` refuses has no metadata to trust)."""
    return _parse(path)[1]
