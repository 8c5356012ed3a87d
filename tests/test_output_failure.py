"""A failure while the output is being written (issue 17), planted.

Standard output, ``--format json`` streamed: a document is held until its first 1 MiB is ready
(flopcount.cli_errors.FIRST_WRITE), so a shorter one is written whole or not at all; past that,
a bug that raises mid-document is exit 5 with a message that says standard output holds only
the first N characters, an incomplete document (never valid JSON). ``-o FILE``: the file is
written whole, atomically (a temporary file in the same folder, then renamed): a failure while
the text is made or written leaves the previous file as it was and no temporary file."""

from __future__ import annotations

import errno
import json
import os

import pytest

from flopcount import cli_errors
from flopcount.render import jsondoc

from conftest import run

#: 9,000 3x3 convs: about 1.3 MB of JSON, more than the first write holds
LAYERS = 9000


@pytest.fixture
def big_spec(tmp_path):
    path = tmp_path / "chain.yaml"
    widths = (64, 96)
    body = "".join(f"  - conv3-{widths[i % 2]}\n" for i in range(LAYERS))
    path.write_text(f"flopcount: 1\nname: chain\ninput: [64, 16, 16]\nlayers:\n{body}")
    return str(path)


def plant(monkeypatch, fail_at: str, where: str) -> None:
    """Make the row named ``fail_at`` raise RuntimeError: in the fast row writer (``where`` =
    "writer") or, left to its mapping by the writer, in row_json ("mapping")."""
    real_lines, real_json = jsondoc.row_lines, jsondoc.row_json

    def row_lines(flops=False):
        lines = real_lines(flops)

        def planted(batch):
            if where == "writer" and any(r.name == fail_at for r in batch):
                raise RuntimeError("planted row")
            return [None if r.name == fail_at else t for r, t in zip(batch, lines(batch))]

        return planted

    def row_json(row, *a, **kw):
        if row.name == fail_at:
            raise RuntimeError("planted row")
        return real_json(row, *a, **kw)

    monkeypatch.setattr(jsondoc, "row_lines", row_lines)
    monkeypatch.setattr(jsondoc, "row_json", row_json)
    monkeypatch.delenv("FLOPCOUNT_DEBUG", raising=False)


@pytest.mark.parametrize("where", ["writer", "mapping"])
def test_a_bug_past_the_first_mib_is_said_with_what_was_written(big_spec, monkeypatch, where):
    good = run(f"flopcount report {big_spec} --format json")
    assert good.code == 0 and len(good.out) > cli_errors.FIRST_WRITE
    plant(monkeypatch, f"conv{LAYERS - 10}", where)  # in the last batch of rows
    r = run(f"flopcount report {big_spec} --format json")
    assert r.code == 5
    assert r.err.startswith("internal error: RuntimeError: planted row\nthis is a bug in flopcount")
    # what was written: the first 1 MiB (or a little more) and whole 64 KB batches after it, a
    # prefix of the document that is not JSON; the message counts it
    assert cli_errors.FIRST_WRITE <= len(r.out) < len(good.out)
    assert good.out.startswith(r.out)
    assert r.err.endswith(
        f"standard output holds only the first {len(r.out):,} characters of the document: it is "
        "incomplete (not valid JSON); discard it\n"
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.out)


@pytest.mark.parametrize("where", ["writer", "mapping"])
def test_a_bug_in_a_document_under_a_mib_writes_nothing(monkeypatch, where):
    # vgg-D: 25 rows, 4 KB of JSON: held whole, so a failing row leaves standard output empty
    plant(monkeypatch, "fc2", where)
    r = run("flopcount report vgg-D --format json")
    assert r.code == 5
    assert r.out == ""
    assert r.err.startswith("internal error: RuntimeError: planted row")
    assert "standard output holds" not in r.err


def test_emit_marks_only_what_failed_after_a_write(monkeypatch):
    # the mark is the count of characters written before the failure; none written: no mark
    import io
    import sys

    def pieces(n):
        yield "x" * n
        raise ValueError("boom")

    for n, written in [(10, None), (cli_errors.FIRST_WRITE, cli_errors.FIRST_WRITE)]:
        monkeypatch.setattr(sys, "stdout", io.StringIO())
        with pytest.raises(ValueError) as got:
            cli_errors.emit(pieces(n))
        assert getattr(got.value, cli_errors.PARTIAL, None) == written
        assert sys.stdout.getvalue() == ("" if written is None else "x" * n)


# -- -o FILE: whole or not at all ------------------------------------------------------------------


def _left(folder) -> list:
    return sorted(os.listdir(folder))


def test_snapshot_output_failing_mid_write_keeps_the_previous_file(tmp_path, monkeypatch):
    # the disk fills after half the new text went into the temporary file: exit 4, the previous
    # baseline byte for byte, no temporary file left
    target = tmp_path / "costs.lock.json"
    assert run(f"flopcount snapshot vgg-A -o {target}").code == 0
    before = target.read_bytes()
    real_write = os.write
    calls = []

    def half_then_full(fd, data):
        if fd <= 2:
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_then_full)
    r = run(f"flopcount snapshot vgg-A vgg-B -o {target}")
    assert r.code == 4, r.err
    assert len(calls) == 2  # the half that was written, then the refusal
    assert "No space left on device" in r.err and "the previous file is unchanged" in r.err
    assert target.read_bytes() == before
    assert _left(tmp_path) == ["costs.lock.json"]


def test_snapshot_output_whose_text_fails_keeps_the_previous_file(tmp_path, monkeypatch):
    # a bug while the new baseline's text is made: nothing is opened for writing, exit 5
    from flopcount.baseline import write as baseline_write

    target = tmp_path / "costs.lock.json"
    assert run(f"flopcount snapshot vgg-A -o {target}").code == 0
    before = target.read_bytes()

    def broken(baseline):
        raise RuntimeError("planted")

    monkeypatch.setattr(baseline_write, "dumps", broken)
    monkeypatch.delenv("FLOPCOUNT_DEBUG", raising=False)
    r = run(f"flopcount snapshot vgg-A vgg-B -o {target}")
    assert r.code == 5, r.err
    assert r.err.startswith("internal error: RuntimeError: planted")
    assert target.read_bytes() == before
    assert _left(tmp_path) == ["costs.lock.json"]
