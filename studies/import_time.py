"""How long ``import mmzoo`` takes in a fresh interpreter, next to ``import torch`` alone (mmzoo's floor), and
what it loads. Runs the two imports in turn, ``--runs`` times each, and writes the medians.

    python studies/import_time.py --runs 7 --out studies/results/import-time/results.json
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mmzoo.utils.files import atomic_write_json

PROBE = "import json, sys; import {module}; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in " \
        "('huggingface_hub', 'matplotlib', 'timm', 'torchvision'))))"


def timed_import(module: str) -> tuple[float, list[str]]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True,
                         check=True)
    return time.perf_counter() - start, json.loads(out.stdout)


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", default="studies/results/import-time/results.json")
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {"torch": [], "mmzoo": []}
    heavy: list[str] = []
    timed_import("torch")  # warm the file cache once, so that neither side pays the first read
    for _ in range(args.runs):
        for module in times:
            seconds, loaded = timed_import(module)
            times[module].append(round(seconds, 3))
            heavy = loaded if module == "mmzoo" else heavy
    import torch

    result = {
        "machine": {"cpu": cpu_name(), "python": platform.python_version(), "torch": torch.__version__.split("+")[0]},
        "runs": times,
        "median_s": {module: statistics.median(values) for module, values in times.items()},
        "mmzoo_over_torch_s": round(statistics.median(times["mmzoo"]) - statistics.median(times["torch"]), 3),
        "heavy_modules_loaded_by_import_mmzoo": heavy,
    }
    atomic_write_json(args.out, result)
    print(json.dumps(result["median_s"]), "extra for mmzoo:", result["mmzoo_over_torch_s"], "s")
    return result


if __name__ == "__main__":
    main()
