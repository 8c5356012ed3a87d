"""One error handler for every command, and the one way commands write to standard output.

Whatever a command raises ends here as one message on stderr and a documented exit code,
never a traceback (``FLOPCOUNT_DEBUG=1`` shows it for internal errors):

====  ==========================================================================================
0     success
1     a check found a difference (``check``, ``verify``)
2     usage error: a bad option or environment variable value, an unknown config name
3     invalid spec (or device profile, or baseline): every problem, each at file:line:col
4     environment problem: torch, fvcore, matplotlib or CUDA missing; a file or standard output
      that cannot be written (a folder, a read-only place, a full disk), with the path and why
5     internal error: a bug in flopcount
130   interrupted (Ctrl-C)
141   standard output closed early (``flopcount report vgg-D | head -1``): silent, the
      conventional code of a process ended by SIGPIPE, so ``set -o pipefail`` still sees it
====  ==========================================================================================
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

import click

from .errors import EXIT_ENV, EXIT_INTERNAL, FlopcountError, SpecError

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


class StdoutFailure(FlopcountError):
    """Standard output cannot be written (a full disk, ``> /dev/full``, an I/O error)."""

    exit_code = EXIT_ENV


#: what emit holds before its first write (characters): a document up to this size (a report of
#: about 7,000 layers) is written whole or not at all; a longer one then goes out 64 KB at a time
FIRST_WRITE = 1 << 20

#: the attribute emit sets on an exception raised after part of a document was written: how many
#: characters of it standard output holds (describe says so)
PARTIAL = "flopcount_written"


def emit(text: str | Iterable[str]) -> None:
    """Write ``text`` (and a final newline) to standard output, flushed, so that a failure to
    write it surfaces here and not at interpreter exit. ``text`` may come in pieces (an
    iterable of str, as ``--format json`` streams a report: flopcount.render.jsonfmt): written
    as they come, the first 1 MiB at once and then about 64 KB at a time, so a long document is
    never held whole (issue 17).

    A piece that cannot be made (a bug: the pieces are made as they are written) after some were
    written: standard output cannot be taken back, so the failure is made explicit rather than
    avoided. The document is held until its first 1 MiB is ready, so one under 1 MiB (nearly
    every report) is written whole or not at all; past that, the exception gets ``PARTIAL`` (the
    characters written) and :func:`describe` adds to its message that standard output holds an
    incomplete document. What was written is then never valid JSON (a document's last piece
    closes its top-level object), and the exit code stays the failure's (5 for a bug). Holding
    every piece before the first write would make even that impossible, at the cost of the
    whole text in memory (14 MB for a 100,000-layer report); ``-o FILE`` outputs are written
    whole and atomically (flopcount.fileio.write_atomic)."""
    written = 0
    try:
        last = ""
        for piece in (text,) if isinstance(text, str) else _batches(text, first=FIRST_WRITE):
            if piece:
                _write(piece)
                written += len(piece)
                last = piece
        if not last.endswith("\n"):
            _write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise StdoutFailure(f"cannot write to standard output: {_reason(exc)}") from None
    except BaseException as exc:  # noqa: BLE001 - re-raised: only marked
        if written:
            try:
                setattr(exc, PARTIAL, written)
            except AttributeError:  # pragma: no cover - an exception without a __dict__
                pass
        raise


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:  # a cp1252 console: what it cannot encode is written as \u2192
        enc = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.encode(enc, "backslashreplace").decode(enc))


def _batches(pieces: Iterable[str], size: int = 1 << 16, first: int | None = None) -> Iterator[str]:
    """``pieces`` joined into batches of at least ``size`` characters (the first: ``first``)."""
    buf: list = []
    n = 0
    want = size if first is None else first
    for p in pieces:
        buf.append(p)
        n += len(p)
        if n >= want:
            yield "".join(buf)
            buf.clear()
            n = 0
            want = size
    if buf:
        yield "".join(buf)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _say(message: str) -> None:
    # an error quotes user text: control characters shown, no line may start a ::command
    from .render.escape import terminal_block

    try:
        click.echo(terminal_block(message), err=True)
    except OSError:  # stderr itself is gone: the exit code is all that is left
        pass


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except Exception:  # noqa: BLE001 - no real stdout (a test runner), or no /dev/null
        pass


def _os_error(exc: OSError, ctx: click.Context) -> str:
    from .cli_options import OUTPUT_KEY

    target = ctx.meta.get(OUTPUT_KEY)
    name = exc.filename
    if target and (
        name is None
        or os.path.dirname(os.path.abspath(str(name)))
        in (os.path.abspath(target), os.path.dirname(os.path.abspath(target)))
    ):
        return f"error: cannot write {target}: {_reason(exc)}"  # its temp file or the target itself
    if name is not None:
        return f"error: {name}: {_reason(exc)}"
    # no file named, no -o given: what a command writes without a name is its standard output
    # (click's help and messages, rich's tables); e.g. `flopcount report --help > /dev/full`
    return f"error: cannot write to standard output: {_reason(exc)}"


def describe(exc: BaseException, ctx: click.Context) -> tuple[str | None, int]:
    """(the message for stderr or None, the exit code) of an exception a command raised; one
    raised while :func:`emit` wrote a document says that standard output holds part of it."""
    message, code = _describe(exc, ctx)
    written = getattr(exc, PARTIAL, None)
    if message is not None and written:
        message += (
            f"\nstandard output holds only the first {written:,} characters of the document: it is "
            "incomplete (not valid JSON); discard it"
        )
    return message, code


def _describe(exc: BaseException, ctx: click.Context) -> tuple[str | None, int]:
    if isinstance(exc, SpecError):
        return exc.report(getattr(exc, "what", "the spec")), exc.exit_code  # capped: first N, "and K more"
    if isinstance(exc, FlopcountError):
        return f"error: {exc}", exc.exit_code
    if isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
        return None, EXIT_BROKEN_PIPE
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(exc, RecursionError):
        return "error: the spec nests too deeply to analyse (RecursionError)", 3
    if isinstance(exc, MemoryError):
        return "error: out of memory while analysing the spec", 3
    if isinstance(exc, OSError):
        return _os_error(exc, ctx), EXIT_ENV
    return (
        f"internal error: {type(exc).__name__}: {exc}\n"
        "this is a bug in flopcount; set FLOPCOUNT_DEBUG=1 for the traceback and please report it"
    ), EXIT_INTERNAL


def _finish_stdout() -> int | None:
    """Flush stdout; an exit code when that fails (the command's own code otherwise stands)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        _say(f"error: cannot write to standard output: {_reason(exc)}")
        return EXIT_ENV
    except ValueError:  # stdout already closed
        return None
    return None


class Group(click.Group):
    """A click group whose every command goes through :func:`describe` on failure."""

    def invoke(self, ctx: click.Context) -> Any:
        fileio = sys.modules.get("flopcount.fileio")
        if fileio is not None:  # the files an earlier command of this process read (cli.main again)
            fileio.READ.clear()
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
            message, code = describe(exc, ctx)
            if code == EXIT_INTERNAL and os.environ.get("FLOPCOUNT_DEBUG"):
                raise
            if code == EXIT_BROKEN_PIPE:
                _quiet_stdout()
            elif message is not None:
                _say(message)
            _exit(code)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, **kwargs)
        except SystemExit as exc:
            if exc.code == 1 and "PacifyFlushWrapper" in type(sys.stdout).__name__:
                _exit(EXIT_BROKEN_PIPE)  # click's own broken-pipe exit (help, usage): ours is 141
            failed = _finish_stdout() if exc.code != EXIT_BROKEN_PIPE else None
            if failed is not None:
                _exit(failed)
            raise
        except OSError as exc:  # --help, --version or a usage message could not be written
            if exc.errno == errno.EPIPE:
                _quiet_stdout()
                _exit(EXIT_BROKEN_PIPE)
            _say(f"error: cannot write to standard output: {_reason(exc)}")
            _exit(EXIT_ENV)
        failed = _finish_stdout()  # standalone_mode=False returns here
        if failed is not None:
            _exit(failed)
        return result


def _exit(code: int) -> NoReturn:
    sys.exit(code)
