"""A fake CUDA runtime for the latency tests, on a CPU-only torch: it behaves like CUDA where the
correctness of a measurement depends on it, and says so loudly where code breaks CUDA's rules.

Installed with ``FakeCuda(...).install(monkeypatch)``: it replaces the ``torch.cuda`` pieces that
flopcount.latency uses (is_available, Event, Stream, current_stream, stream, synchronize, graph,
CUDAGraph, get_device_name, get_device_properties, current_device, mem_get_info, empty_cache,
get_arch_list), sets ``torch.version.cuda``, and makes ``flopcount.latency`` put "cuda" tensors on
the CPU (``_tensor_device``), so that real modules run.

Rules enforced, with CUDA's own messages:

* ``Event.elapsed_time`` raises unless both events were recorded ("invalid resource handle") and
  have completed ("device not ready"): an event completes when the host synchronises on it, on a
  later event of its stream, on its stream or on the device, or when ``query()`` finds it done.
* While a graph is being captured: recording a timing event, any synchronise and
  ``elapsed_time`` raise "operation not permitted when stream is capturing"; capturing on the
  default stream raises; an exception inside the capture makes the capture's end raise "operation
  failed due to a previous error during capture" (so the first error is only its ``__context__``,
  as with the real ``torch.cuda.graph``).
* Streams are tracked: each event knows the stream it was recorded on, and ``log`` lists every
  record, synchronise, launch, capture and replay with its stream.
* Errors are injectable: ``fail(point, message)`` raises ``RuntimeError(message)`` at the next
  ``record``, ``synchronize``, ``launch``, ``init`` (is_available is True but the first device
  query fails) or ``capture`` (the capture's start).

Time: with ``clock="fake"`` the host clock is an integer nanosecond counter (also installed as
``flopcount.latency.host_clock``) that only the fake modules (``host(ms)``) and synchronisation
(waiting for the device) move; ``launch(ms)`` queues ``ms`` of device work on the current stream,
which starts when both the host has issued it and the stream is free: so a GPU-bound pass shows
device gaps of the kernels' length, a launch-bound one shows the host's. With ``clock="real"`` the
host clock is ``time.perf_counter_ns`` and device work takes no time beyond the host's (for real
modules run on CPU tensors).
"""

from __future__ import annotations

import contextlib
import time
from types import SimpleNamespace

CAPTURING = "CUDA error: operation not permitted when stream is capturing"
NOT_READY = "CUDA error: device not ready"
BAD_HANDLE = "CUDA error: invalid resource handle"
CAPTURE_FAILED = "CUDA error: operation failed due to a previous error during capture"


class FakeStream:
    def __init__(self, runtime, name: str):
        self.rt, self.name = runtime, name
        self.busy_until = 0  # device time (ns) at which the queued work ends

    def wait_stream(self, other: FakeStream) -> None:
        self.rt.log.append(("wait_stream", self.name, other.name))
        self.busy_until = max(self.busy_until, other.busy_until)

    def synchronize(self) -> None:
        self.rt.check_not_capturing("stream.synchronize")
        self.rt.wait_until(self.busy_until)
        self.rt.log.append(("sync", self.name))
        for e in self.rt.events:
            if e.stream is self:
                e.completed = True

    def __repr__(self) -> str:
        return f"<FakeStream {self.name}>"


class FakeEvent:
    def __init__(self, runtime, enable_timing: bool = False, **_):
        self.rt, self.timing = runtime, enable_timing
        self.t = None  # device time (ns) when the stream reaches it
        self.stream = None
        self.completed = False
        runtime.created += 1

    def record(self, stream=None) -> None:
        rt = self.rt
        rt.inject("record")
        if rt.capturing is not None:
            raise RuntimeError(CAPTURING)
        s = stream or rt.current
        self.stream, self.completed = s, False
        self.t = max(rt.now(), s.busy_until)
        s.busy_until = self.t
        rt.events.append(self)
        rt.log.append(("record", s.name, self))

    def synchronize(self) -> None:
        rt = self.rt
        rt.check_not_capturing("event.synchronize")
        rt.inject("synchronize")
        if self.t is None:
            return  # CUDA: synchronising on an event never recorded returns at once
        rt.wait_until(self.t)
        rt.log.append(("sync", self.stream.name, self))
        for e in rt.events:  # a stream runs in order: everything before this event is done too
            if e.stream is self.stream and e.t is not None and e.t <= self.t:
                e.completed = True

    def query(self) -> bool:
        if self.t is not None and self.rt.now() >= self.t:
            self.completed = True
        return self.t is None or self.completed

    def elapsed_time(self, end: FakeEvent) -> float:
        self.rt.check_not_capturing("elapsed_time")
        if not (self.timing and end.timing) or self.t is None or end.t is None:
            raise RuntimeError(BAD_HANDLE)
        if not (self.completed and end.completed):
            raise RuntimeError(NOT_READY)
        self.rt.elapsed_calls += 1
        return (end.t - self.t) / 1e6


class FakeGraph:
    def __init__(self, runtime):
        self.rt = runtime
        self.work_ns = 0
        self.captured = False

    def replay(self) -> None:
        rt = self.rt
        if not self.captured:
            raise RuntimeError("CUDA error: replay of a graph that was never captured")
        s = rt.current
        s.busy_until = max(rt.now(), s.busy_until) + self.work_ns
        rt.log.append(("replay", s.name))


class FakeCuda:
    def __init__(
        self, clock: str = "real", name: str = "Fake H200", l2_bytes: int = 60 * 2**20, free_bytes: int = 100 * 2**30
    ):
        self.fake_clock = clock == "fake"
        self._ns = 0
        self.name, self.l2_bytes, self.free_bytes = name, l2_bytes, free_bytes
        self.default = FakeStream(self, "default")
        self.current = self.default
        self.streams = [self.default]
        self.capturing = None
        self.events: list = []
        self.log: list = []
        self.created = 0
        self.elapsed_calls = 0
        self.failures: dict = {}

    # ---------------------------------------------------------------- time
    def now(self) -> int:
        return self._ns if self.fake_clock else time.perf_counter_ns()

    def host(self, ms: float) -> None:
        """The host spends ``ms`` (a fake module's dispatch cost)."""
        if self.fake_clock:
            self._ns += round(ms * 1e6)

    def wait_until(self, t: int) -> None:
        if self.fake_clock:
            self._ns = max(self._ns, t)

    def launch(self, ms: float) -> None:
        """Queue ``ms`` of device work on the current stream (a kernel)."""
        self.inject("launch")
        ns = round(ms * 1e6)
        if self.capturing is not None:
            self.capturing.work_ns += ns  # captured, not run
            self.log.append(("captured", self.current.name))
            return
        s = self.current
        s.busy_until = max(self.now(), s.busy_until) + (ns if self.fake_clock else 0)
        self.log.append(("launch", s.name))

    # ---------------------------------------------------------------- rules and failures
    def check_not_capturing(self, what: str) -> None:
        if self.capturing is not None:
            self.log.append(("refused", what))
            raise RuntimeError(CAPTURING)

    def fail(self, point: str, message: str, times: int = 1) -> None:
        self.failures[point] = [message, times]

    def inject(self, point: str) -> None:
        f = self.failures.get(point)
        if f and f[1] > 0:
            f[1] -= 1
            raise RuntimeError(f[0])

    # ---------------------------------------------------------------- torch.cuda
    def synchronize(self, device=None) -> None:
        self.check_not_capturing("torch.cuda.synchronize")
        self.inject("synchronize")
        self.wait_until(max(s.busy_until for s in self.streams))
        self.log.append(("sync", "device"))
        for e in self.events:
            e.completed = True

    def Stream(self, *a, **k) -> FakeStream:  # noqa: N802 - torch's name
        s = FakeStream(self, f"side{len(self.streams)}")
        self.streams.append(s)
        return s

    @contextlib.contextmanager
    def stream(self, s):
        before = self.current
        self.current = s
        try:
            yield
        finally:
            self.current = before

    @contextlib.contextmanager
    def graph(self, g, pool=None, stream=None, **_):
        # torch.cuda.graph synchronises first, then captures on a side stream of its own
        self.synchronize()
        self.inject("capture")
        side = stream or self.Stream()
        if side is self.default:
            raise RuntimeError(
                "CUDA error: operation not permitted when stream is capturing (capture on the legacy default stream)"
            )
        before = self.current
        self.current, self.capturing = side, g
        self.log.append(("capture_begin", side.name))
        try:
            yield g
        except BaseException:
            self.current, self.capturing = before, None
            raise RuntimeError(CAPTURE_FAILED)  # noqa: B904 - chained by Python as __context__, like torch
        self.current, self.capturing = before, None
        g.captured = True
        self.log.append(("capture_end", side.name))

    def device_query(self):
        self.inject("init")

    def install(self, monkeypatch):
        import torch

        import flopcount.latency as latency

        cuda = torch.cuda
        rt = self

        def get_device_name(*a):
            rt.device_query()
            return rt.name

        def props(*a):
            rt.device_query()
            return SimpleNamespace(name=rt.name, L2_cache_size=rt.l2_bytes, total_memory=141 * 2**30)

        def mem_get_info(*a):
            rt.device_query()
            return rt.free_bytes, 141 * 2**30

        for name, value in {
            "is_available": lambda: True,
            "Event": lambda **k: FakeEvent(rt, **k),
            "Stream": rt.Stream,
            "current_stream": lambda *a: rt.current,
            "default_stream": lambda *a: rt.default,
            "stream": rt.stream,
            "synchronize": rt.synchronize,
            "graph": rt.graph,
            "CUDAGraph": lambda *a, **k: FakeGraph(rt),
            "get_device_name": get_device_name,
            "get_device_properties": props,
            "current_device": lambda: 0,
            "mem_get_info": mem_get_info,
            "empty_cache": lambda: rt.log.append(("empty_cache",)),
            "get_arch_list": lambda: ["sm_80", "sm_90"],
        }.items():
            monkeypatch.setattr(cuda, name, value, raising=False)
        monkeypatch.setattr(torch.version, "cuda", "12.8")
        monkeypatch.setattr(latency, "_tensor_device", lambda device: "cpu")
        if self.fake_clock:
            monkeypatch.setattr(latency, "host_clock", self.now)
        return self


class FakeNet:
    """A stand-in for a built SpecModel: ``layers`` is a list of (host ms, device ms) per layer,
    or a function of the pass number giving that list. On the fake CUDA runtime each layer costs
    its host time, then queues its device time; on the CPU (``runtime`` a FakeClock) it costs
    host + device time on the host clock."""

    def __init__(self, runtime, layers, fail=None):
        self.rt, self.layers, self.fail = runtime, layers, fail
        n = len(layers(0) if callable(layers) else layers)
        self._layer_names = [f"l{i}" for i in range(n)]
        self._mark = None
        self.passes = 0

    def __call__(self, x):
        if self.fail is not None:
            self.fail(self)
        layers = self.layers(self.passes) if callable(self.layers) else self.layers
        mark = self._mark
        if mark is not None:
            mark()
        for host_ms, device_ms in layers:
            if isinstance(self.rt, FakeClock):
                self.rt.host(host_ms + device_ms)
            else:
                self.rt.host(host_ms)
                self.rt.launch(device_ms)
            if mark is not None:
                mark()
        self.passes += 1
        return x


class FakeClock:
    """The CPU's host clock in integer nanoseconds, moved only by ``host(ms)``."""

    def __init__(self):
        self.ns = 0

    def __call__(self) -> int:
        return self.ns

    def host(self, ms: float) -> None:
        self.ns += round(ms * 1e6)

    def install(self, monkeypatch):
        import flopcount.latency as latency

        monkeypatch.setattr(latency, "host_clock", self)
        return self
