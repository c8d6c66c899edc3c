"""Inference speed on CPU: eager PyTorch vs onnxruntime, latency at batch 1 and throughput at batch 256.

    python benchmarks/inference_speed.py                     # the assignment models -> benchmarks/results/inference/
    python benchmarks/inference_speed.py --models late_fusion --repeats 5 --out /tmp/speed

Both runtimes use ONE thread (torch.set_num_threads(1), onnxruntime intra_op_num_threads=1): the comparison is
per core, and it does not depend on how many cores a shared machine happens to have free. Each row reports the
median and the spread (min, max) over ``--repeats`` timed runs after warm-up; the ONNX file is written by
``mmzoo.export_onnx`` (random initialisation: speed does not depend on the weights' values). Writes
``results.json`` (rows + machine: CPU model from /proc/cpuinfo, torch, onnxruntime and onnx versions) and
``results.md`` (the table docs/deploy.md shows).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import onnxruntime as ort
import torch

import mmzoo
from mmzoo.release.program import as_deployable, example_inputs
from mmzoo.utils.files import atomic_write_json, atomic_write_text

ASSIGNMENT_MODELS = ("late_fusion", "intermediate_cat", "intermediate_add", "intermediate_hadamard")
#: The published table: the assignment networks and the catalogue network with published weights.
DEFAULT_MODELS = (*ASSIGNMENT_MODELS, "intermediate_film")
OUT = Path(__file__).resolve().parent / "results" / "inference"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def timed(run, repeats: int, warmup: int) -> list[float]:
    """Seconds per call of ``run()``, ``repeats`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def measure(name: str, folder: Path, repeats: int, big_batch: int) -> list[dict]:
    model = as_deployable(mmzoo.create(name).eval())
    path = mmzoo.export_onnx(model.model, folder / f"{name}.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    spec = model.input_spec
    rows = []
    for runtime in ("pytorch eager", "onnxruntime"):
        row = {"model": name, "runtime": runtime}
        for batch, key in ((1, "latency_ms"), (big_batch, "throughput_fps")):
            inputs = example_inputs(spec, batch, seed=0)
            feeds = {m: t.numpy() for m, t in zip(spec.modalities, inputs)}
            if runtime == "onnxruntime":
                run = lambda: session.run(None, feeds)  # noqa: E731
            else:
                def run():
                    with torch.inference_mode():
                        model(*inputs)
            times = timed(run, repeats if batch == 1 else max(3, repeats // 10), warmup=3 if batch == 1 else 1)
            if key == "latency_ms":
                row.update(latency_ms=1e3 * statistics.median(times), latency_ms_min=1e3 * min(times),
                           latency_ms_max=1e3 * max(times))
            else:
                row.update(throughput_fps=batch / statistics.median(times), throughput_fps_min=batch / max(times),
                           throughput_fps_max=batch / min(times), batch=batch)
        rows.append(row)
        print(f"{name:24s} {runtime:14s} {row['latency_ms']:8.2f} ms  {row['throughput_fps']:8.0f} frames/s", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    """The Markdown table of ``rows``: medians, and the best run in parentheses (on a shared machine the best run
    is the closer estimate of the uncontended speed; the gap between the two shows the noise)."""
    columns = ("model", "runtime", "latency, batch 1 (ms): median (best)",
               f"throughput, batch {rows[0]['batch']} (frames/s): median (best)")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['runtime']} | {r['latency_ms']:.2f} ({r['latency_ms_min']:.2f}) | "
                     f"{r['throughput_fps']:.0f} ({r['throughput_fps_max']:.0f}) |")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """results.md: the machine line and the table (docs/deploy.md shows the same table)."""
    m = result["machine"]
    return (f"Measured on {m['cpu']}, 1 thread, torch {m['torch']}, onnxruntime {m['onnxruntime']}, "
            f"float32.\n\n{table(result['rows'])}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--repeats", type=int, default=50, help="timed runs at batch 1 (a tenth, at least 3, at 256)")
    parser.add_argument("--batch", type=int, default=256, help="batch size of the throughput measurement")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [row for name in args.models for row in measure(name, Path(tmp), args.repeats, args.batch)]
    machine = {"cpu": cpu_model(), "threads": 1, "torch": torch.__version__.split("+")[0],
               "onnxruntime": ort.__version__, "onnx": __import__("onnx").__version__,
               "python": platform.python_version(), "mmzoo": mmzoo.__version__}
    result = {"machine": machine, "repeats": args.repeats, "dtype": "float32",
              "command": "python benchmarks/inference_speed.py", "rows": rows}
    atomic_write_json(args.out / "results.json", result)
    atomic_write_text(args.out / "results.md", markdown(result))
    print(f"wrote {args.out}/results.json and results.md")


if __name__ == "__main__":
    main()
