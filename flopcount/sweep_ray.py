"""``flopcount sweep --backend ray``: chunks of combinations counted by Ray tasks, rows in order.

Ray is an optional extra (``pip install ray``, or the ``ray`` extra of setup.cfg); it is
imported only here. With ``--ray-address`` (or Ray's own ``RAY_ADDRESS``) the sweep joins that
cluster; otherwise it starts a Ray instance on this machine with ``--jobs`` CPUs (never more
than the combinations or the cores), and stops it when the sweep is done. A Ray instance the
caller already started (``ray.init(...)`` before ``flopcount.sweep.sweep``) is used as it is.

Each task counts one chunk of (model, combination) pairs with the local backend's own
worker function, so the rows, their order and their errors are the local backend's; a worker
keeps each model's read spec (and its expansions) between the chunks it is given. Chunks are
submitted a window at a time and read back in submission order, so rows stream back in order
and the progress bar moves as chunks finish. The workers read the spec from the same path:
on a cluster of several machines, built-in names work everywhere, spec files must be at the
same path on every node (or shipped with Ray's ``runtime_env``).
"""

from __future__ import annotations

import os
from collections import deque

from .errors import EnvironmentProblem

#: chunks per CPU in flight at once, and the most pairs one task counts
_WINDOW_PER_CPU = 4
_MAX_CHUNK = 2_000


def _chunk(tasks: list) -> list:
    """Ray task: count each (model, combination) of the chunk as the local backend does."""
    from .sweep import _work

    return [_work(t) for t in tasks]


def _ray():
    try:
        import ray
    except ImportError:
        raise EnvironmentProblem(
            "--backend ray needs Ray, which is not installed: pip install ray (or use --backend local)"
        ) from None
    return ray


def chunk_size(tasks: int, cpus: int) -> int:
    """Pairs per Ray task: about eight tasks per CPU, at most ``_MAX_CHUNK`` pairs each."""
    return max(1, min(_MAX_CHUNK, -(-tasks // (max(1, cpus) * 8))))


def run_ray(tasks: list, address: str | None, jobs: int):
    """Yield the local backend's result of each task, in order, counted by Ray tasks."""
    from .sweep import workers

    ray = _ray()
    started = False
    if not ray.is_initialized():
        kwargs: dict = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
        if address or os.environ.get("RAY_ADDRESS"):
            kwargs["address"] = address or os.environ["RAY_ADDRESS"]
        else:
            kwargs["num_cpus"] = workers(jobs, len(tasks))
        try:
            ray.init(**kwargs)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
            where = f"the Ray cluster at {kwargs['address']}" if "address" in kwargs else "a local Ray instance"
            raise EnvironmentProblem(f"--backend ray: could not start or join {where}: {exc}") from None
        started = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
        size = chunk_size(len(tasks), cpus)
        remote = ray.remote(_chunk)
        pending: deque = deque()
        starts = iter(range(0, len(tasks), size))
        window = cpus * _WINDOW_PER_CPU

        def submit() -> bool:
            start = next(starts, None)
            if start is None:
                return False
            pending.append(remote.remote(tasks[start : start + size]))
            return True

        while len(pending) < window and submit():
            pass
        while pending:
            try:
                results = ray.get(pending.popleft())
            except ray.exceptions.RayError as exc:  # a worker or node lost, not a count that failed
                raise EnvironmentProblem(f"--backend ray: a Ray task failed: {str(exc)[:2000]}") from None
            submit()
            yield from results
    finally:
        if started:
            ray.shutdown()
