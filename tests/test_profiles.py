"""Device profiles (flopcount/profiles): a number outside its plausible range is a located error
(exit 3), never a floor of inf or 0 ms, never a crash."""

import pytest

from conftest import run

#: (bandwidth_gbs as written in YAML, what the error shows)
BAD = [
    ("1.0e-320", "1e-320"),  # a denormal: every floor_ms would be about 1e308
    ("4.9e-324", "5e-324"),  # the smallest denormal
    ("0", "0"),
    ("-2039", "-2039"),
    (".inf", "inf"),
    (".nan", "nan"),
    ("1.0e+400", "inf"),  # YAML reads it as inf
    ("1" + "0" * 60, "1000000000000000000000000000000000000..."),  # a whole number float() cannot hold
    ("1.0e+8", "100000000.0"),  # 100 PB/s: no such device
    ("true", "True"),
    ("1e-3", "'1e-3'"),  # YAML 1.1 reads an exponent without a dot as text
]


@pytest.mark.parametrize("value, shown", BAD)
def test_bad_bandwidth_is_located(tmp_path, value, shown):
    p = tmp_path / "dev.yaml"
    p.write_text(f"flopcount-device: 1\npeak_tflops: {{fp32: 19.5}}\nbandwidth_gbs: {value}\n")
    r = run(f"flopcount report vgg-A --device-profile {p}")
    assert r.code == 3, r.err
    # line 3, column 16: the value after `bandwidth_gbs: ` (15 characters)
    assert f"{p}:3:16: error: bandwidth_gbs must be a positive number from 0.001 to 1e+07, got {shown}\n" in r.err
    assert "fix: write e.g. `bandwidth_gbs: 2039`" in r.err


@pytest.mark.parametrize("value", ["1.0e-320", "0", ".nan", "-1", "1.0e+7"])
def test_bad_peak_is_located(tmp_path, value):
    p = tmp_path / "dev.yaml"
    p.write_text(f"flopcount-device: 1\npeak_tflops: {{fp32: 19.5, fp16: {value}}}\nbandwidth_gbs: 900\n")
    r = run(f"flopcount report vgg-A --device-profile {p}")
    assert r.code == 3, r.err
    # line 2, column 33: after `peak_tflops: {fp32: 19.5, fp16: ` (32 characters)
    assert f"{p}:2:33: error: peak_tflops fp16 must be a positive number from 1e-06 to 1e+06" in r.err


def test_the_edges_of_the_ranges_are_accepted(tmp_path):
    p = tmp_path / "dev.yaml"
    p.write_text("flopcount-device: 1\npeak_tflops: {fp32: 1.0e-6, fp16: 1.0e+6}\nbandwidth_gbs: 1.0e-3\n")
    r = run(f"flopcount report vgg-A --device-profile {p} --format json")
    assert r.code == 0, r.err
    r = run(f"flopcount report vgg-A --device-profile {p} --dtype fp16 --format json")
    assert r.code == 0, r.err


def test_a_folder_given_as_profile_is_named_a_profile_not_a_spec(tmp_path):
    r = run(f"flopcount report vgg-A --device-profile {tmp_path}")
    assert r.code == 3, r.err
    assert "it is a folder, not a device profile file" in r.err and "spec file" not in r.err
