"""Device profiles for the roofline: peak dense FLOP/s per dtype and memory bandwidth.

Each built-in device is one YAML file in this folder, with the source of every number
beside it. A user's own device is a file of the same form, given by path:

.. code-block:: yaml

    flopcount-device: 1          # marks the file as a device profile
    name: my-gpu                 # optional (default: the file name)
    description: my lab's GPU    # optional
    peak_tflops: {fp32: 19.5, tf32: 156, fp16: 312, bf16: 312}   # dense, TFLOP/s; at least one
    bandwidth_gbs: 2039          # memory bandwidth, GB/s (10^9 bytes per second)
    sources: {peak_tflops: "...", bandwidth_gbs: "..."}           # optional, recommended

A dtype a device lacks (the T4 has no TF32 or BF16 math) is left out; asking for it is
a usage error that lists the dtypes the profile has. Problems in a profile file are
reported like spec problems (file:line:col, exit 3), among them a number outside its
plausible range (peak 1e-6 to 1e6 TFLOP/s, bandwidth 1e-3 to 1e7 GB/s: no zero, negative,
denormal, inf or NaN); an unknown name is a usage error (exit 2) with the close matches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, Pos, SpecError, UsageError

#: The dtypes a profile may list, and the bytes one element occupies in memory at that dtype
#: (TF32 is fp32 storage with tensor-core math on a shortened mantissa).
DTYPE_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}
SUFFIXES = (".yaml", ".yml")
_KEYS = ("flopcount-device", "name", "aliases", "description", "peak_tflops", "bandwidth_gbs", "sources")


class ProfileError(SpecError):
    """Problems in a device profile file, reported like a spec's (exit 3)."""

    what = "the device profile"  # the CLI's "N errors in ..." line


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    peak_flops: dict  # dtype -> dense FLOP/s (float)
    bandwidth: float  # bytes per second
    sources: dict = field(default_factory=dict)
    path: str = ""
    aliases: tuple = ()

    def peak(self, dtype: str) -> float:
        """Peak dense FLOP/s at ``dtype``; a usage error when the device lacks it."""
        if dtype not in self.peak_flops:
            raise UsageError(
                f"device profile `{self.name}` has no {dtype} peak (it lists "
                f"{', '.join(self.peak_flops)}); pick one of those with --dtype"
            )
        return self.peak_flops[dtype]

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "peak_flops": dict(self.peak_flops),
            "bandwidth": self.bandwidth,
            "sources": dict(self.sources),
        }


def builtin_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def builtin_profiles() -> dict:
    """Every built-in profile by file stem (``h100``, ``a100-80gb``, ...), in name order."""
    out = {}
    for name in sorted(os.listdir(builtin_dir())):
        stem, ext = os.path.splitext(name)
        if ext in SUFFIXES and not name.startswith("_"):
            out[stem] = read_profile(os.path.join(builtin_dir(), name))
    return out


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith(SUFFIXES) or os.path.isfile(text)


def load_profile(text: str) -> Profile:
    """``h100`` (a built-in name or alias, any case) or the path of a profile YAML file."""
    if _looks_like_path(text):
        if not os.path.exists(text):
            raise UsageError(f"--device-profile: no such file: {text}")
        return read_profile(text)
    profiles = builtin_profiles()
    key = text.lower()
    for stem, prof in profiles.items():
        if key == stem or key in prof.aliases:
            return prof
    from difflib import get_close_matches

    names = list(profiles) + [a for p in profiles.values() for a in p.aliases]
    close = get_close_matches(key, names, n=3, cutoff=0.5)
    hint = (
        f"did you mean {' or '.join(f'`{c}`' for c in close)}?"
        if close
        else f"built-in profiles: {', '.join(profiles)}; or give the path of your own profile YAML"
    )
    raise UsageError(f"unknown device profile `{text}`; {hint}")


#: The plausible range of each number, in the file's units: below it a typo (or a denormal
#: such as 1e-320 that would turn every floor into inf), above it no device that exists.
RANGES = {"peak_tflops": (1e-6, 1e6), "bandwidth_gbs": (1e-3, 1e7)}  # TFLOP/s; GB/s
EXAMPLES = {"peak_tflops": 312, "bandwidth_gbs": 2039}


def _positive(value, pos: Pos, what: str, errors: list):
    """``value`` as a float when it is a number within :data:`RANGES` (checked before any float
    conversion, so a huge whole number cannot overflow); else a located error and None."""
    low, high = RANGES[what.split()[0]]
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not low <= value <= high:  # NaN fails every comparison
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        errors.append(
            Diagnostic(
                pos,
                f"{what} must be a positive number from {low:g} to {high:g}, got {shown}",
                f"write e.g. `{what.split()[-1]}: {EXAMPLES[what.split()[0]]}`"
                + (" (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) else ""),
            )
        )
        return None
    return float(value)


def read_profile(path: str) -> Profile:
    """Read and check one profile file; every problem found is reported at once (exit 3)."""
    from ..spec.document import did_you_mean
    from ..spec.yamlload import Map, load_yaml

    doc: Any
    doc, pos = load_yaml(path, what="device profile file")  # Map and Seq carry positions the type checker cannot see
    if not isinstance(doc, Map):
        raise SpecError.at(
            pos,
            "a device profile must be a mapping",
            "write `peak_tflops: {fp32: ...}` and `bandwidth_gbs: ...` (see `flopcount/profiles/`)",
        )
    errors: list = []
    for key in doc:
        if key not in _KEYS:
            errors.append(
                Diagnostic(
                    doc.kpos[key],
                    f"unknown key `{key}` in a device profile",
                    did_you_mean(key, _KEYS) or f"allowed keys: {', '.join(_KEYS)}",
                )
            )
    if "flopcount-device" in doc and doc["flopcount-device"] != 1:
        errors.append(
            Diagnostic(
                doc.at("flopcount-device"),
                f"unsupported device profile format {doc['flopcount-device']!r}",
                "write `flopcount-device: 1`",
            )
        )
    peaks: dict = {}
    raw = doc.get("peak_tflops")
    if raw is None:
        errors.append(
            Diagnostic(
                doc.pos,
                "a device profile needs `peak_tflops:`",
                "add e.g. `peak_tflops: {fp32: 19.5, fp16: 312}` (dense TFLOP/s per dtype)",
            )
        )
    elif not isinstance(raw, Map) or not raw:
        errors.append(
            Diagnostic(
                doc.at("peak_tflops"),
                "`peak_tflops` must map dtypes to TFLOP/s",
                "write e.g. `peak_tflops: {fp32: 19.5, fp16: 312}`",
            )
        )
    else:
        for dtype, value in raw.items():
            if dtype not in DTYPE_BYTES:
                errors.append(
                    Diagnostic(
                        raw.kpos[dtype],
                        f"unknown dtype `{dtype}` in peak_tflops",
                        did_you_mean(dtype, DTYPE_BYTES) or f"dtypes: {', '.join(DTYPE_BYTES)}",
                    )
                )
                continue
            tflops = _positive(value, raw.at(dtype), f"peak_tflops {dtype}", errors)
            if tflops is not None:
                peaks[dtype] = tflops * 1e12
    bandwidth = None
    if "bandwidth_gbs" not in doc:
        errors.append(
            Diagnostic(
                doc.pos,
                "a device profile needs `bandwidth_gbs:`",
                "add the memory bandwidth in GB/s, e.g. `bandwidth_gbs: 2039`",
            )
        )
    else:
        gbs = _positive(doc["bandwidth_gbs"], doc.at("bandwidth_gbs"), "bandwidth_gbs", errors)
        bandwidth = gbs * 1e9 if gbs is not None else None
    aliases = doc.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        errors.append(
            Diagnostic(doc.at("aliases"), "`aliases` must be a list of names", "write e.g. `aliases: [h100-sxm]`")
        )
        aliases = []
    sources = doc.get("sources") or {}
    if isinstance(sources, str):
        sources = {"all": sources}
    if not isinstance(sources, dict):
        errors.append(
            Diagnostic(
                doc.at("sources"),
                "`sources` must be text or a mapping of key to text",
                'write e.g. `sources: {peak_tflops: "datasheet ..."}`',
            )
        )
        sources = {}
    if errors:
        raise ProfileError(errors)
    assert bandwidth is not None  # else an error above
    stem = os.path.splitext(os.path.basename(path))[0]
    return Profile(
        str(doc.get("name") or stem),
        str(doc.get("description") or ""),
        peaks,
        bandwidth,
        {str(k): str(v) for k, v in sources.items()},
        str(path),
        tuple(a.lower() for a in aliases),
    )
