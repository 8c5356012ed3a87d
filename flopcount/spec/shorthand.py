"""The short layer notation of the papers: ``conv3-64``, ``conv7/2-64``, ``conv3-256*3``,
``conv1x7-128``, ``M``, ``maxpool3/2``, ``fc-4096``, ``relu``, ``dropout``.

Grammar: ``OP[K[xK]][/S][-ARG][*REPEAT]``. K goes to the op's kernel parameter, S to its
stride, ARG to its main argument (channels for conv and fc), REPEAT repeats the layer.
"""

from __future__ import annotations

from ..errors import excerpt
from ..ops.base import OpError, lookup

_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789")


def _run(text: str, i: int, chars: frozenset) -> int:
    """The end of the run of ``chars`` that starts at ``i``."""
    n = len(text)
    while i < n and text[i] in chars:
        i += 1
    return i


def _head(head: str):
    """``(op, k, s)`` of ``OP[K[xK]][/S]`` (k and s None when absent), or None when ``head``
    is not of that form: the pattern r"^(?P<op>[A-Za-z_]+?)(?P<k>[0-9]+(?:x[0-9]+)?)?(?:/(?P<s>[0-9]+))?$"
    with string methods (compiling it cost every run more than all the matching)."""
    i = _run(head, 0, _LETTERS)
    if i == 0:
        return None
    op, k, s = head[:i], None, None
    j = _run(head, i, _DIGITS)
    if j > i:
        if head[j : j + 1] == "x" and (e := _run(head, j + 1, _DIGITS)) > j + 1:
            j = e
        k, i = head[i:j], j
    if head[i : i + 1] == "/":
        j = _run(head, i + 1, _DIGITS)
        if j == i + 1:
            return None
        s, i = head[i + 1 : j], j
    if i == len(head) or (i == len(head) - 1 and head[i] == "\n"):
        return op, k, s
    return None


MAX_DIGITS = 19  # 2**62, the largest size an attribute takes, has 19 digits


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # `²`.isdigit() is true, but int() refuses it


def _int(digits: str, text: str) -> int:
    """A run of digits from the short form, refused before int() when absurdly long."""
    if len(digits) > MAX_DIGITS:
        raise OpError(
            f"`{digits[:20]}...` in `{excerpt(text)}` has {len(digits):,} digits, over the limit of "
            "2**62 for a size or count",
            "write a realistic number",
        )
    return int(digits)


def _refuse_non_ascii_digits(text: str) -> None:
    """``conv3-٣`` or ``conv３-64``: a digit the short form does not read (only 0-9 count),
    named instead of the puzzling "not a layer"."""
    for ch in text:
        if not ch.isascii() and (ch.isdigit() or ch.isnumeric()):
            raise OpError(
                f"`{excerpt(text)}` holds the digit-like character `{ch}` (U+{ord(ch):04X}); the short "
                "form reads only the ASCII digits 0-9",
                "write the number with the digits 0-9",
            )


def parse(text: str, is_block=lambda name: False):
    """Return ``(op_name, attrs, repeat)`` (op_name canonical when it is a registered op); raise OpError with a hint when it does not parse."""
    if not text.isascii():
        _refuse_non_ascii_digits(text)
    body = text.strip()
    repeat = 1
    if "*" in body:
        body, _, rep = body.rpartition("*")
        if not _digits(rep.strip()):
            raise OpError(f"`*{excerpt(rep)}` in `{excerpt(text)}` is not a repeat count", "write e.g. `conv3-256*3`")
        repeat = _int(rep.strip(), text)
    head, dash, arg = body.partition("-")
    head = head.strip()
    attrs: dict = {}
    if lookup(head) is not None or is_block(head):
        op_name = head
        k = s = None
    else:
        m = _head(head)
        if m is None:
            raise OpError(
                f"`{excerpt(text)}` is not a layer", "write e.g. `conv3-64`, `M`, `fc-4096`, or a mapping with `op:`"
            )
        op_name, k, s = m
    op = lookup(op_name)
    if op is None:
        return op_name, attrs, repeat  # unknown op or a block: the caller decides
    if k is not None:
        if op.short_k is None:
            raise OpError(f"`{op_name}` takes no kernel size, but `{excerpt(text)}` gives {k}", f"write `{op_name}`")
        kh, _, kw = k.partition("x")
        attrs[op.short_k] = _int(kh, text) if not kw else [_int(kh, text), _int(kw, text)]
    if s is not None:
        if op.short_s is None:
            raise OpError(f"`{op_name}` takes no stride, but `{excerpt(text)}` gives /{s}", f"write `{op_name}`")
        attrs[op.short_s] = _int(s, text)
    if dash:
        if op.short_arg is None:
            raise OpError(
                f"`{op_name}` takes no `-ARG`, but `{excerpt(text)}` gives -{excerpt(arg)}",
                f"write `{op_name}` or use the long form {{op: {op_name}, ...}}",
            )
        arg = arg.strip()
        if not _digits(arg):
            raise OpError(
                f"`-{excerpt(arg)}` in `{excerpt(text)}` is not a whole number",
                f"write e.g. `{op_name}-64`; use `${{...}}` for a computed value",
            )
        attrs[op.short_arg] = _int(arg, text)
    return op.name, attrs, repeat
