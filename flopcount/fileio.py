"""Reading and writing the user's files safely.

READ side (owner: loader): :func:`read_user_file` reads a file named by the user (a spec, an
import, a lock file, a device profile) without ever blocking or reading without end: the path
is checked with ``stat`` first (a FIFO, a character or block device, a socket or a folder is
refused at once), opened with ``O_NONBLOCK`` (a FIFO swapped in after the check cannot block
the open), checked again with ``fstat`` on the open descriptor, and read to at most
``limit + 1`` bytes. Every refusal is a :class:`UserFileError` that names what was refused,
why, and the limit (and the environment variable that raises it).

WRITE side (owner: baseline): below the READ section.
"""
from __future__ import annotations

import os
import stat as _stat

from .errors import EXIT_USAGE, FlopcountError

# ============================================================================================
# READ side: safe reading of user files
# ============================================================================================


class UserFileError(FlopcountError):
    """A user file that cannot or must not be read. ``reason`` and ``hint`` are plain text
    (callers turn them into a located spec error, a usage error, ...); the path is not
    repeated in ``reason``."""

    exit_code = EXIT_USAGE

    def __init__(self, path: str, reason: str, hint: str | None = None):
        self.path = str(path)
        self.reason = reason
        self.hint = hint
        super().__init__(f"{self.path}: {reason}" + (f" ({hint})" if hint else ""))


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if _stat.S_ISREG(mode):
        return None
    if _stat.S_ISDIR(mode):
        return "a folder"
    if _stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if _stat.S_ISCHR(mode):
        return "a character device"
    if _stat.S_ISBLK(mode):
        return "a block device"
    if _stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return f"cannot read it: {exc.strerror or type(exc).__name__}"


def read_user_file(path, what: str = "file", limit: int = 16 * 1024 * 1024,
                   limit_env: str | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    ``what`` names the file in messages ("spec file", "lock file", ...); ``limit_env`` is the
    environment variable that raises ``limit`` (named in the refusal). Raises
    :class:`UserFileError`; never blocks on a FIFO or a device, never reads more than
    ``limit + 1`` bytes.
    """
    raise_hint = f"; or raise {limit_env}" if limit_env else ""
    try:
        st = os.stat(path)
    except ValueError:  # a NUL byte in the path
        raise UserFileError(path, "not a valid path (it holds a NUL byte)", "remove the NUL byte") from None
    except OSError as exc:
        raise UserFileError(path, _os_reason(exc), "check the path and its permissions") from None
    kind = _kind(st.st_mode)
    if kind is not None:
        raise UserFileError(path, f"it is {kind}, not a {what}", f"give the path of a regular {what}")
    if st.st_size > limit:
        raise UserFileError(path, f"the file is {st.st_size:,} bytes, over the limit of {limit:,}",
                            f"use a smaller {what}{raise_hint}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UserFileError(path, _os_reason(exc), "check the path and its permissions") from None
    try:
        kind = _kind(os.fstat(fd).st_mode)  # swapped for a FIFO or device after the stat above
        if kind is not None:
            raise UserFileError(path, f"it is {kind}, not a {what}", f"give the path of a regular {what}")
        chunks = []
        got = 0
        while got <= limit:
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            except BlockingIOError:  # pragma: no cover - regular files do not block
                break
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except OSError as exc:
        raise UserFileError(path, _os_reason(exc), "check the path and its permissions") from None
    finally:
        os.close(fd)
    if got > limit:  # it grew after the stat
        raise UserFileError(path, f"the file is over the limit of {limit:,} bytes",
                            f"use a smaller {what}{raise_hint}")
    return b"".join(chunks)


# ============================================================================================
# WRITE side: atomic writes, temporary-file cleanup (owner: baseline)
# ============================================================================================
