"""benchmarks/import_coverage.py rewrites docs/import-coverage.md, whose ``## ONNX: `` sections
another script writes (onnx_coverage.py --markdown): the rewrite must carry them over, not drop
them (it did before: a run without names lost both ONNX tables)."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))

import import_coverage as cov  # noqa: E402  (no torch at import: it is imported inside table())

OLD = (
    "# Import coverage\n\nintro\n\n"
    "## Import time, ResNet-50\n\nt\n\n"
    "## ONNX: classification\n\nonnx table 1\n\n"
    "## ONNX: segmentation\n\nonnx table 2\n\n"
    "## classification (80 of 80 exact)\n\nrows\n\n"
    "## timm sample (44 of 48 exact)\n\nmore rows\n"
)


def test_sections_cut_at_level_two_headings_and_join_back():
    parts = cov.sections_of(OLD)
    assert [p.split("\n", 1)[0] for p in parts] == [
        "# Import coverage",
        "## Import time, ResNet-50",
        "## ONNX: classification",
        "## ONNX: segmentation",
        "## classification (80 of 80 exact)",
        "## timm sample (44 of 48 exact)",
    ]
    assert "".join(parts) == OLD


def test_onnx_sections_are_put_back_where_they_were():
    # the script's own page: every section but the ONNX ones, with a count that moved
    new = OLD.replace("## ONNX: classification\n\nonnx table 1\n\n## ONNX: segmentation\n\nonnx table 2\n\n", "")
    new = new.replace("(80 of 80 exact)", "(79 of 80 exact)")
    assert cov.with_kept_sections(new, OLD) == OLD.replace("(80 of 80 exact)", "(79 of 80 exact)")


def test_nothing_doubled_and_nothing_invented():
    assert cov.with_kept_sections(OLD, OLD) == OLD  # the new page has them already
    assert cov.with_kept_sections("# page\n\nx\n", "") == "# page\n\nx\n"  # no old page


def test_kept_sections_go_last_when_nothing_followed_them():
    new = "# Import coverage\n\nintro\n"
    out = cov.with_kept_sections(new, OLD)
    assert (
        out
        == "# Import coverage\n\nintro\n\n## ONNX: classification\n\nonnx table 1\n\n## ONNX: segmentation\n\nonnx table 2\n"
    )
