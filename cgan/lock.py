"""One process at a time in a run folder: an exclusive, non-blocking lock on a file inside it.

`flock` where the OS has it (`msvcrt.locking` on Windows). The OS drops the lock when its process ends, however
it ends, so a killed run never blocks the next one. The lock file holds the holder's PID, for the message
another process gets.
"""
from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from cgan.errors import RunError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


def make_folder(path: Path) -> list[Path]:
    """Create `path` and its missing parents; returns the folders it made, deepest first."""
    created = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        created.append(folder)
    path.mkdir(parents=True, exist_ok=True)
    return created


def acquire_lock(path: Path, folder: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        if not _try_lock(fd, folder):
            holder = _holder(fd)
            os.close(fd)
            raise RunError(f"{folder} is in use by another cgan process ({holder}); wait for it to end "
                           f"or pass another --out")
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder removed the file between our open and our lock: lock the one there now
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:  # a full disk: the lock holds all the same, only its message cannot name the PID
        pass
    return fd


def _try_lock(fd: int, folder: Path) -> bool:
    """Lock without waiting; False where another process holds the lock."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP):
            print(f"cgan: the file system of {folder} has no file locks, so nothing keeps a second process "
                  f"out of it", file=sys.stderr)
            return True
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, errno.EDEADLK):
            return False
        raise
    return True


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        pid = os.read(fd, 32).decode().strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"PID {pid}" if pid.isdigit() else "its PID is not written yet"


def _same_file(fd: int, path: Path) -> bool:
    try:
        opened, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)


def release_lock(fd: int, path: Path) -> None:
    """Remove the lock file while still holding it (a process waiting on it then locks a new one), then unlock."""
    try:
        if _same_file(fd, path):
            path.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)
