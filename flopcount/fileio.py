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


#: (device, inode) -> (what, path) of each file read_user_file read in this process: an output
#: named by the user is refused when it is one of them (write_target's ``keep_read``)
READ: dict = {}


def read_user_file(path, what: str = "file", limit: int = 16 * 1024 * 1024, limit_env: str | None = None) -> bytes:
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
        raise UserFileError(
            path, f"the file is {st.st_size:,} bytes, over the limit of {limit:,}", f"use a smaller {what}{raise_hint}"
        )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UserFileError(path, _os_reason(exc), "check the path and its permissions") from None
    try:
        st = os.fstat(fd)
        kind = _kind(st.st_mode)  # swapped for a FIFO or device after the stat above
        if kind is not None:
            raise UserFileError(path, f"it is {kind}, not a {what}", f"give the path of a regular {what}")
        READ[(st.st_dev, st.st_ino)] = (what, os.fspath(path))
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
        raise UserFileError(path, f"the file is over the limit of {limit:,} bytes", f"use a smaller {what}{raise_hint}")
    return b"".join(chunks)


# ============================================================================================
# WRITE side: atomic writes, temporary-file cleanup (owner: baseline)
# ============================================================================================

from .errors import EXIT_ENV  # noqa: E402 - the WRITE side's own import

# Temporary files are named after the file they replace and the writing process, so that one
# left by a killed process (SIGKILL gives no chance to clean up) is recognised, and removed by
# the next write into that folder once its process is gone: ``.costs.lock.json.flopcount-tmp-1234``.
TEMP_MARK = ".flopcount-tmp-"


class WriteError(FlopcountError):
    """A file that could not be written: the previous one, if any, is unchanged (exit 4)."""

    exit_code = EXIT_ENV


def temp_name(path: str, pid: int | None = None) -> str:
    """The temporary file that a write of ``path`` goes through (same folder)."""
    folder, base = os.path.split(path)
    return os.path.join(folder, f".{base}{TEMP_MARK}{os.getpid() if pid is None else pid}")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale_temps(path: str) -> list:
    """Remove the temporary files of earlier writes of ``path`` whose process is dead (a write
    killed by SIGKILL); returns what was removed. Never fails: a folder that cannot be listed,
    or a file that cannot be removed, is left as it is."""
    folder, base = os.path.split(path)
    prefix = f".{base}{TEMP_MARK}"
    removed: list = []
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix) :]
        if not (pid.isascii() and pid.isdigit()) or len(pid) > 10 or (int(pid) != os.getpid() and _alive(int(pid))):
            continue
        stale = os.path.join(folder, name)
        try:
            if _stat.S_ISREG(os.lstat(stale).st_mode):
                os.unlink(stale)
                removed.append(stale)
        except OSError:
            pass
    return removed


#: the file named in the fix when a folder is given where a file is written, by ``what``
_EXAMPLES = {"baseline": "costs.lock.json", "spec": "model.yaml"}


def refuse_read(path: str, st=None, allow: tuple = ()) -> None:
    """Raise :class:`WriteError` when ``path`` (``st``: its stat, when taken) is a file this run
    read (:data:`READ`) as anything but one of ``allow`` (a baseline rewritten in place reads
    the "lock file" it replaces)."""
    if st is None:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return
    got = READ.get((st.st_dev, st.st_ino))
    if got is None or got[0] in allow:
        return
    kind, name = got
    same = "" if os.path.abspath(name) == os.path.abspath(path) else f" ({name})"
    raise WriteError(
        f"cannot write {path}: it is the {kind} this run read{same}, which the output would replace; "
        "name another file; nothing was changed"
    )


def write_target(path: str, what: str = "file", keep_read: bool = False) -> str:
    """The file a write of ``path`` really replaces: a symbolic link is followed (once, to its
    final target: the link stays a link and its target gets the new bytes). Refused at once,
    with :class:`WriteError`: a folder, a FIFO, a device or a socket, a folder that does not
    exist, a link loop; with ``keep_read``, a file this run read (:data:`READ`: ``report
    net.yaml -o net.yaml`` would replace the spec with its own report)."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError) as exc:
        raise WriteError(f"cannot write {path}: {exc}") from None
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except ValueError:
        raise WriteError(f"cannot write {path}: the path holds a NUL byte") from None
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {_os_reason(exc)}; nothing was changed") from None
    if st is not None:
        kind = _kind(st.st_mode)
        if kind is not None:
            fix = (
                f" name a file inside it, e.g. {os.path.join(path, _EXAMPLES.get(what, 'out.txt'))}"
                if kind == "a folder"
                else f" name a regular {what}"
            )
            raise WriteError(f"cannot write {path}: it is {kind}, not a {what};{fix}; nothing was changed")
    if st is not None and keep_read:
        refuse_read(path, st)
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise WriteError(f"cannot write {path}: the folder {folder} does not exist; create it first")
    return real


def write_atomic(path: str, text: str, shown: str | None = None) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` through a temporary file in the same
    folder (:func:`temp_name`), flushed to disk and renamed over the old file: the old file stays
    intact unless the new one is complete. Its permission bits are kept.

    No temporary file survives a failure, SIGINT or SIGTERM: the write runs under handlers that
    remove it, after which SIGINT exits with status 130 and SIGTERM with 143 (128 + signal). A
    SIGKILL may leave one; :func:`remove_stale_temps` (called here first) removes it on the next
    write. ``path`` must be a real target (see :func:`write_target`); ``shown`` is the name used
    in messages (the path the user gave)."""
    import errno
    import signal
    import threading

    shown = shown or path
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(path)
    try:
        mode = _stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    tmp = temp_name(path)
    data = text.encode("utf-8")
    caught: list = []
    armed = [True]

    class _Interrupted(BaseException):
        pass

    def on_signal(signum, frame):
        caught.append(signum)
        if armed[0]:
            armed[0] = False
            raise _Interrupted()

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                handlers[sig] = signal.signal(sig, on_signal)
            except (ValueError, OSError):  # pragma: no cover - not settable here
                pass
    created = False
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            try:
                fd = os.open(tmp, flags, 0o600)
            except FileExistsError:  # left by an earlier process that had this pid
                os.unlink(tmp)
                fd = os.open(tmp, flags, 0o600)
            created = True
            try:
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            created = False
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                reason += " (a read-only place?)"
            old = "the previous file is unchanged" if os.path.exists(path) else "nothing was written"
            raise WriteError(f"cannot write {shown}: {reason}; {old}") from None
    except _Interrupted:
        pass
    finally:
        armed[0] = False  # from here a signal is only recorded: the cleanup runs to its end
        if created:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        for sig, old_handler in handlers.items():
            signal.signal(sig, old_handler)
    if caught:
        raise SystemExit(128 + caught[0])
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
