"""Writing files so that a kill or a power cut leaves either the old version or the new one, never a mix."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) and rename the result onto `path`, durably.

    The temporary file is fsynced before the rename (else a power cut can leave the new name pointing at
    empty or partial data), and the folder after it (else the rename itself can be lost). A file it replaces
    keeps its permissions; a new one gets the umask's (mkstemp makes 0600 files; results are meant to be shared).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(os.stat(path).st_mode) if path.is_file() else 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix="".join(path.suffixes) or ".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        fsync(tmp)
        os.replace(tmp, path)
        fsync(path.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fsync(path) -> None:
    """Flush a file's or a folder's contents to disk (folders: only where the OS can open them, not Windows)."""
    if os.name == "nt" and os.path.isdir(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def existing_ancestor(path) -> Path:
    """`path` itself where it exists, else the nearest folder above it that does (where it would be made)."""
    path = Path(path)
    return next(p for p in (path, *path.parents) if p.exists())


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def file_sha256(path) -> str:
    """The SHA-256 of a file, read in blocks (a generator file may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
