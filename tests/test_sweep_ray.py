"""`flopcount sweep --backend ray`: the same bytes as `--backend local` (issue 17, acceptance 2).

Ray runs here as a one-CPU local instance started by the test (``ray.init(num_cpus=1)``), which
the sweep uses as it is; the 1,000 designs go out as several chunks (``chunk_size``), so the
rows' order across chunks is checked. Skipped where Ray is not installed (``pip install ray``).
"""

import pytest

from flopcount.sweep_ray import chunk_size

from conftest import run

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install ray): --backend ray not tested")

# VGG-16 at 100 inputs x 10 batches: 1,000 designs (docs/benchmarks.md's sweep)
THOUSAND = "flopcount sweep vgg-D --set input=224:323 --set batch=1:10"


@pytest.fixture(scope="module")
def one_cpu_ray():
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def test_chunks_of_the_thousand():
    # 1,000 pairs on one CPU: ceil(1000 / 8) = 125 pairs a task, 8 tasks
    assert chunk_size(1000, 1) == 125


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_ray_equals_local_on_1000_designs(one_cpu_ray, fmt):
    local = run(f"{THOUSAND} --format {fmt}")
    remote = run(f"{THOUSAND} --format {fmt} --backend ray")
    assert local.code == remote.code == 0
    if fmt == "csv":
        assert len(local.out.splitlines()) == 1 + 1000  # a header, then one row per design
    assert remote.out == local.out


def test_ray_error_is_the_local_error(one_cpu_ray):
    # width=True is not a number: the second combination fails, with the same message and exit code
    line = "flopcount sweep efficientnet-b0 --set width=1,True"
    local, remote = run(line), run(f"{line} --backend ray")
    assert local.code == remote.code == 3
    assert "at width=True" in local.err
    assert remote.err == local.err and remote.out == local.out
