"""Replace a file with new contents all at once, or not at all.

The new bytes go to a temporary file in the target's directory; only once they
are complete and on disk (``fsync``) does ``os.replace`` put them in the
target's place, and the directory is synced so that the rename survives a
crash too. Whatever fails before that (a full disk, a permission, an exception
from the caller's bytes, a SIGKILL) leaves the previous file as it was.

On Linux the temporary file is opened with ``O_TMPFILE``: it has no name
until it is complete, so a process killed while writing leaves nothing behind.
Where the complete file cannot be given a name (no ``/proc``, or a file system
that refuses), its bytes are copied into a named one first. Elsewhere, or on a
file system without ``O_TMPFILE``, the temporary file is a hidden
``.<name>.<random>.tmp`` that is removed on any exception; only a kill can
leave one there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable

#: What a plain ``open(path, "w")`` creates a file with, before the umask.
_NEW_FILE_MODE = 0o666


def _temporary_name(path: str) -> str:
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")


def _open_unnamed(directory: str) -> int | None:
    """Return an ``O_TMPFILE`` descriptor in ``directory``, or None where there is none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        # Readable too: its bytes may have to be copied into a named file.
        return os.open(directory, flag | os.O_RDWR | os.O_CLOEXEC, _NEW_FILE_MODE)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None  # the file system has no unnamed files: use a named one
        raise


def _open_named(path: str) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    while True:
        name = _temporary_name(path)
        try:
            # The umask applies to this mode, exactly as for a plain open.
            return os.open(name, flags, _NEW_FILE_MODE), name
        except FileExistsError:
            continue


def _link_unnamed(descriptor: int, path: str) -> str | None:
    """Give the complete unnamed file a temporary name beside ``path``, if possible."""
    directory = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        while True:
            name = _temporary_name(path)
            try:
                # A destination directory descriptor makes os.link call linkat
                # with AT_SYMLINK_FOLLOW: it links the file /proc points at.
                os.link(f"/proc/self/fd/{descriptor}", os.path.basename(name), dst_dir_fd=directory)
                return name
            except FileExistsError:
                continue
            except OSError:
                return None
    finally:
        os.close(directory)


def _copy_to_named(descriptor: int, path: str, mode: int | None) -> str:
    """Return a named temporary file beside ``path`` with the unnamed file's bytes."""
    target, name = _open_named(path)
    try:
        size, offset = os.fstat(descriptor).st_size, 0
        while offset < size:
            copied = os.sendfile(target, descriptor, offset, size - offset)
            if copied == 0:
                raise OSError(errno.EIO, "the temporary file shrank while copied", name)
            offset += copied
        if mode is not None:
            os.fchmod(target, mode)
        os.fsync(target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    finally:
        os.close(target)
    return name


def _sync_directory(directory: str) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return  # Windows: directories cannot be opened, and a rename is durable without it
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        # Some file systems cannot sync a directory; the rename is done either way.
        if error.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(descriptor)


def _existing_mode(path: str) -> int | None:
    """Permission bits of the file being replaced (a plain open keeps them)."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
    if not os.access(path, os.W_OK):
        # A plain open would refuse too; replacing the file would not.
        raise PermissionError(errno.EACCES, "Permission denied", path)
    return stat.S_IMODE(status.st_mode)


def _write_all(descriptor: int, chunk) -> None:
    # Unbuffered: what was written is in the file, and a short write goes on.
    view = memoryview(chunk).cast("B")
    while view:
        view = view[os.write(descriptor, view) :]


def write_atomically(path, chunks: Iterable[bytes]) -> None:
    """Write the concatenated ``chunks`` to ``path``, replacing it atomically.

    A new file gets the permission bits a plain ``open`` would give (0o666
    less the umask); a replaced file keeps its own. On any exception the
    previous file is untouched and no temporary file remains.
    """
    path = os.path.abspath(os.fspath(path))
    mode = _existing_mode(path)
    descriptor = _open_unnamed(os.path.dirname(path))
    name = None
    if descriptor is None:
        descriptor, name = _open_named(path)
    try:
        for chunk in chunks:
            _write_all(descriptor, chunk)
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(descriptor, mode)
        os.fsync(descriptor)
        if name is None:
            name = _link_unnamed(descriptor, path) or _copy_to_named(descriptor, path, mode)
        os.replace(name, path)
    except BaseException:
        if name is not None:
            with contextlib.suppress(OSError):
                os.unlink(name)
        raise
    finally:
        os.close(descriptor)
    _sync_directory(os.path.dirname(path))
