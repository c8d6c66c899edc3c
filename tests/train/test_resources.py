"""Device memory as NVML reports it: the process's own figure, found by process id or, inside a container where
NVML sees the host's ids, as the GPU's only compute process; and host memory that CPU training steps reuse."""
from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from mmzoo.bench.report import markdown_table, summarize
from mmzoo.train.resources import _process_mib, nvml_process_mib, peak_memory


class FakeNVML:
    def __init__(self, processes):
        self.processes = processes
        self.asked = []

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self.asked.append(uuid)
        return uuid

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return self.processes


def proc(pid, mib):
    return SimpleNamespace(pid=pid, usedGpuMemory=None if mib is None else mib * 2**20)


def test_the_process_is_found_by_its_id():
    nvml = FakeNVML([proc(10, 500), proc(11, 773)])
    assert _process_mib(nvml, "GPU-abc", 11) == 773 and nvml.asked == ["GPU-abc"]


def test_a_containers_only_process_is_this_one_and_ambiguity_gives_none():
    assert _process_mib(FakeNVML([proc(999, 640)]), "GPU-abc", 11) == 640  # host pid, the GPU's only process
    assert _process_mib(FakeNVML([proc(998, 600), proc(999, 640)]), "GPU-abc", 11) is None
    assert _process_mib(FakeNVML([proc(11, None)]), "GPU-abc", 11) is None  # NVML cannot attribute memory
    assert _process_mib(FakeNVML([]), "GPU-abc", 11) is None


def test_cpu_has_no_device_memory():
    assert nvml_process_mib(torch.device("cpu")) is None
    assert set(peak_memory(torch.device("cpu"))) == {"peak_rss_mib"}


def test_the_gpu_table_shows_nvml_only_when_measured():
    row = {"model": "m", "variant": "", "loop": "engine", "seed": 1, "params": 10, "cuda_peak_allocated_mib": 100.0,
           "cuda_peak_reserved_mib": 120.0}
    plain = markdown_table(summarize([row]), "classification")
    assert "GPU MiB alloc / reserved |" in plain and "| 100 / 120 |" in plain
    measured = markdown_table(summarize([{**row, "nvml_process_mib": 640.0}]), "classification")
    assert "GPU MiB alloc / reserved / process (NVML) |" in measured and "| 100 / 120 / 640 |" in measured


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_nvml_counts_more_than_torch_reserves():
    pytest.importorskip("pynvml")
    device = torch.device("cuda")
    torch.ones(1 << 20, device=device)
    used = nvml_process_mib(device)
    assert used is None or used >= torch.cuda.memory_reserved(device) / 2**20  # the context comes on top


_FAULTS_PER_STEP = """
import resource, sys
import torch
from torch import nn
import mmzoo
from mmzoo.train.resources import keep_freed_memory
torch.set_num_threads(1)
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
model = mmzoo.create("intermediate_cat_strided").to(memory_format=torch.channels_last)
rgb, lidar = (torch.rand(32, 4, 64, 64).contiguous(memory_format=torch.channels_last) for _ in range(2))
optimizer = torch.optim.Adam(model.parameters())
def step():
    optimizer.zero_grad(set_to_none=True)
    nn.functional.binary_cross_entropy_with_logits(model(rgb, lidar), torch.ones(32, 1)).backward()
    optimizer.step()
for _ in range(3):
    step()
faults = []
for _ in range(7):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, sorted(faults)[len(faults) // 2])  # the median step: a rare burst (the VM, the kernel) is not the rule
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings exist on Linux only")
def test_keeping_freed_memory_stops_steps_faulting_their_pages_in():
    """Each run in a fresh process (the setting is process-wide): glibc's defaults fault a step's activations in
    anew every step; kept memory is reused."""
    def faults(mode: str) -> tuple[str, float]:
        out = subprocess.run([sys.executable, "-c", _FAULTS_PER_STEP, mode], capture_output=True, text=True,
                             check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        applied, per_step = out.stdout.split()
        return applied, float(per_step)

    default, kept = faults("default"), faults("keep")
    if default[1] < 1000:
        pytest.skip(f"this C library does not fault a step's pages in afresh ({default[1]:.0f} faults per step)")
    assert kept[0] == "True"
    assert kept[1] < default[1] / 10, (default, kept)
