"""Where a measurement was made, against which device a roofline is drawn.

``--latency --device cpu --device-profile h100`` measures on this machine's CPU and draws the
roof of an H100: the floor / measured-time ratio ("% of roof") then compares two devices and
reads 0.0%. :func:`elsewhere` says when the measured device is not the profile's, so the
ratio is left out (``Report.efficiency`` returns None), stderr warns, and tables and plots
label what was measured where. Cheap to import: no torch, no profile loading.
"""

from __future__ import annotations


def _is_cpu_profile(profile) -> bool:
    names = [profile.name, *getattr(profile, "aliases", ())]
    return any("cpu" in n.lower() for n in names) or "cpu" in (profile.description or "").lower().split()


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _builtin(profile) -> bool:
    import os

    from ..profiles import builtin_dir

    path = getattr(profile, "path", "") or ""
    return not path or os.path.dirname(os.path.abspath(path)) == os.path.abspath(builtin_dir())


def elsewhere(latency, roofline) -> str | None:
    """A sentence when ``latency`` (records.LatencyResult) was measured on another device than
    ``roofline``'s profile (records.Roofline), else None (or when either is missing).

    A CPU measurement against a GPU profile (or the reverse) always differs. A CUDA measurement
    against a built-in GPU profile differs when the profile's model (``h100``, ``a100``, ``t4``)
    is not in the device's name (``NVIDIA H100 80GB HBM3``); a profile file of your own is
    taken to describe the GPU you measured on."""
    if latency is None or roofline is None:
        return None
    profile = roofline.profile
    on_cpu = latency.device == "cpu"
    if on_cpu == _is_cpu_profile(profile):
        if on_cpu or not _builtin(profile):
            return None
        model = _squash(profile.name.split("-")[0])
        if model and model in _squash(latency.device_name):
            return None
    where = f"{latency.device} ({latency.device_name})" if latency.device_name else latency.device
    return f"measured on {where}, roofline of {profile.description or profile.name}"


def report_elsewhere(report) -> str | None:
    """:func:`elsewhere` of a report's own latency and roofline."""
    return elsewhere(getattr(report, "latency", None), getattr(report, "roofline", None))
