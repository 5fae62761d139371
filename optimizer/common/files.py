"""Files that appear whole or not at all: atomic renames for single files and whole folders.

A crash, a full disk or a kill between two writes must never leave a half-written
report over an earlier good one, nor a folder that mixes old and new files.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import glob
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from optimizer.common.problems import OutputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename over it only if the block succeeds.

    A crash, a full disk or a read-only folder leaves any earlier file intact.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise OutputError(f"cannot write {path}: not a regular file (left as it is)")
        _remove_stale_temps(path)
        prefix = f".{path.name}.{os.getpid()}."
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write to {path.parent}: {exc.strerror or exc}") from exc
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a new, empty temporary folder beside `path`; if the block succeeds, it takes the
    place of `path` as a whole, in one step.

    Readers see the old folder or the new one, never a mix: the swap is one
    `renameat2(RENAME_EXCHANGE)` on Linux (a plain rename when `path` does not
    exist yet). Where the kernel has no exchange, the old folder is moved aside,
    the new one renamed in, the old one removed, and a folder left aside by a
    killed writer is put back the next time. The temporary folder of a writer
    that died is removed the next time the folder is written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise OutputError(f"cannot write {path}: not a folder (left as it is)")
        _remove_stale_temps(path, folders=True)
        _restore_set_aside(path)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        )
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a report folder is not
    except OSError as exc:
        raise OutputError(f"cannot write to {path.parent}: {exc.strerror or exc}") from exc
    try:
        yield tmp
        _swap_in(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # after an exchange it holds the old folder


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: renameat2(2) flag: swap the two paths atomically (Linux 3.15+, glibc 2.28+).
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step; False where the system cannot (then nothing happened)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # this file system cannot
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(new: Path, path: Path) -> None:
    """Put folder `new` at `path`; afterwards `new` holds the old folder (or nothing)."""
    if not path.exists():
        os.rename(new, path)
        return
    if _exchange(new, path):
        return
    aside = path.with_name(f".{path.name}.{os.getpid()}.old")
    os.rename(path, aside)
    os.rename(new, path)
    os.rename(aside, new)  # removed by the caller


def _restore_set_aside(path: Path) -> None:
    """After a writer died between its two renames (no exchange): put the old folder back."""
    if path.exists():
        return
    for aside in path.parent.glob(glob.escape(f".{path.name}.") + "*.old"):
        with contextlib.suppress(OSError):
            os.rename(aside, path)
            return


def _remove_stale_temps(path: Path, folders: bool = False) -> None:
    """Delete temporary files (or folders) of `path` whose writer died before renaming."""
    prefix = f".{path.name}."
    for tmp in path.parent.glob(glob.escape(prefix) + "*.tmp"):
        pid = tmp.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                if folders and tmp.is_dir() and not tmp.is_symlink():
                    shutil.rmtree(tmp)
                else:
                    tmp.unlink()


def _alive(pid: int) -> bool:
    """Whether a process exists (always True where signal 0 cannot be sent safely)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
