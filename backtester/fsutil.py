"""File-system primitives shared by the store and the reports folder: temp names that say which process
made them (so a later run can remove a killed process's leftovers, never a live one's), an atomic swap of
two folders, and the translation of OSError into the one-line error contract.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import tempfile
from pathlib import Path

from .errors import DataError

_TMP = re.compile(r"^\..*\.p(\d+)\.[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?$")


def temp_prefix(name: str) -> str:
    """Prefix of a hidden temp file/folder for ``name``, tagged with this process id."""
    return f".{name}.p{os.getpid()}."


def mkstemp(path: Path, mode: str = "wb"):
    """(file object, temp path) beside ``path``, hidden and tagged with this process id."""
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(Path(path).name), suffix=".tmp", dir=Path(path).parent)
    return os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})), Path(tmp)


@contextlib.contextmanager
def atomic_output(path, fix: str | None = None, *, param=None):
    """Yield a temp path beside ``path`` (same suffix, so writers pick the right format); on success it is
    fsynced and renamed onto ``path``, on any failure removed: ``path`` is never left half-written. An
    OSError becomes the one-line DataError (a missing folder, a full or read-only disk, ...)."""
    path = Path(path)
    tmp = None
    clean_stale(path.parent, path.name)  # a killed writer's temp of this same file
    try:
        fd, name = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp" + path.suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise os_error(e, f"cannot write {path}", fix, param=param) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def mkdtemp(parent: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=temp_prefix(name), suffix=".tmp", dir=parent))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(folder: Path, name: str | None = None) -> list[str]:
    """Remove temp files and folders (ours: ``.NAME.p<pid>.XXXX.tmp``) whose process is gone (only those
    of ``name`` when given: a user's export folder is not swept beyond the file being written)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = _TMP.match(e.name)
        if not m or _alive(int(m.group(1))) or (name is not None and not e.name.startswith(f".{name}.p")):
            continue
        with contextlib.suppress(OSError):
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path)
            else:
                os.unlink(e.path)
            removed.append(e.name)
    return removed


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


def swap_in(new: Path, final: Path) -> Path | None:
    """Put folder ``new`` at ``final`` in one step. Returns where the previous ``final`` now is (a temp
    name, for the caller to delete) or None when there was none. Linux: ``renameat2(RENAME_EXCHANGE)``,
    atomic for every reader; elsewhere two renames (the old folder is moved aside first)."""
    new, final = Path(new), Path(final)
    if not final.exists() and not final.is_symlink():
        os.rename(new, final)
        return None
    fn = _renameat2()
    if fn is not None:
        rc = fn(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(final), _RENAME_EXCHANGE)
        if rc == 0:
            return new
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(final))
    aside = Path(tempfile.mkdtemp(prefix=temp_prefix(final.name), suffix=".tmp", dir=final.parent))
    os.rmdir(aside)
    os.rename(final, aside)
    os.rename(new, final)
    return aside


def os_error(e: OSError, what: str, fix: str | None = None, *, param=None) -> DataError:
    """An OSError as the one-line contract: what failed, why (in words) and how to fix it."""
    code = e.errno
    where = f" ({e.filename})" if e.filename and str(e.filename) not in what else ""
    why = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a path component is a file, not a folder",
        errno.EISDIR: "a folder is where a file should be",
        errno.ENOENT: "no such file or folder",
        errno.ELOOP: "too many symbolic links",
        errno.ENAMETOOLONG: "the name is too long",
    }.get(code, e.strerror or type(e).__name__)
    if fix is None:
        fix = {
            errno.ENOSPC: "free some disk space, then run the command again",
            errno.EDQUOT: "free some disk space, then run the command again",
            errno.EROFS: "use a folder on a writable disk",
            errno.EACCES: "fix the permissions or use another folder",
            errno.EPERM: "fix the permissions or use another folder",
            errno.ENOTDIR: "point the option at a folder, or move the file away",
            errno.EISDIR: "remove or rename that folder, then run the command again",
            errno.ENOENT: "create the folder first, or check the path",
        }.get(code, "check the path and the disk, then run the command again")
    return DataError(f"{what}: {why}{where}", fix, param=param)
