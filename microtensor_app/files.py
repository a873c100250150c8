"""Output files and folders: a reader never sees half a file or half a folder, a failure keeps
what was there before, and a path that cannot be written is found before any work is done."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .data import UsageError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in `path`'s folder; on success fsync it and rename it over
    `path`, on failure delete it (the old `path`, if any, is untouched)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _default_mode())  # mkstemp makes 0600; a picture should read like any file
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _default_mode(folder: bool = False) -> int:
    """0o666 (0o777 for a folder) less the process umask: the mode `open()` or `mkdir()`
    would have given a new file or folder."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _nearest_existing(path: Path) -> Path:
    """`path` itself or its closest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_ancestors(path: Path, option: str) -> None:
    """The folder that will hold `path` exists as a folder we may write in, or can be made
    inside one."""
    anchor = _nearest_existing(path.parent)
    if not anchor.is_dir():
        raise UsageError(f"{option} {path}: {anchor} is a file, not a folder")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in the folder {anchor} "
                         "(permission denied)")


def check_output_file(path: str | Path, option: str) -> None:
    """Refuse, before any work, an output file path that names a folder or lies where no
    file can be written; `option` (e.g. '--output') names the argument in the message."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    _check_ancestors(path, option)


def check_output_folder(path: str | Path, option: str) -> None:
    """Refuse, before any work, an output folder path that names a file or lies where no
    folder can be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file, not a folder; give a folder name")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {path}: cannot write in this folder (permission denied)")
        return
    _check_ancestors(path, option)


@contextlib.contextmanager
def staged_folder(path: str | Path, option: str, owned: Sequence[str] = (),
                  last: str | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder next to (or inside) the output folder `path`; on
    success move what was written there into `path`, on any failure delete it, so that
    `path` holds either its old contents or a complete new set, never a mix.

    The temporary folder is made on entry, which proves that `path` can be written before
    any long work starts (an OSError there is a UsageError naming `option`). When `path`
    does not exist the finished folder is renamed into place in one step; otherwise its
    files replace their namesakes one by one, `last` (the file that says the set is complete)
    moved last, and the files in `owned` that this run did not write are removed, so that no
    stale picture sits next to a new model.
    """
    path = Path(path)
    check_output_folder(path, option)
    made: list[Path] = []  # the ancestors this call creates, to remove on failure
    try:
        if path.is_dir():
            stage = Path(tempfile.mkdtemp(prefix=".microtensor-", suffix=".tmp", dir=path))
        else:
            missing = path.parent
            while not missing.exists():
                made.append(missing)
                missing = missing.parent
            path.parent.mkdir(parents=True, exist_ok=True)
            stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp",
                                          dir=path.parent))
    except OSError as e:
        _remove_made(made)
        raise UsageError(f"{option} {path}: cannot write there ({e.strerror or e})") from None
    try:
        yield stage
        if not path.exists():
            os.chmod(stage, _default_mode(folder=True))  # mkdtemp makes 0700
            os.rename(stage, path)
            return
        names = sorted(os.listdir(stage), key=lambda name: (name == last, name))
        for name in names:
            os.replace(stage / name, path / name)
        for name in owned:
            if name not in names:
                with contextlib.suppress(FileNotFoundError):
                    (path / name).unlink()
        stage.rmdir()
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        _remove_made(made)
        raise


def _remove_made(made: list[Path]) -> None:
    """Remove the (empty) folders a failed staged_folder created, deepest first."""
    for folder in made:
        with contextlib.suppress(OSError):
            folder.rmdir()
