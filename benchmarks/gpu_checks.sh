#!/usr/bin/env bash
# Every GPU check and measurement of the speed work, prepared for one call of a lent GPU machine (its image has
# torch, timm, safetensors, huggingface_hub, onnx and pytest). From the repository root:
#
#     bash benchmarks/gpu_checks.sh            # writes into $OUT (the device tool's folder) or ./gpu-out
#
# 1. the tests that skip without CUDA (CUDA graphs, whole-step graphs, NVML memory);
# 2. intermediate_cat on the full assignment recipe: the notebook-style loop, the engine with forward/backward
#    graphs and with whole-step graphs, each in a fresh process, taking turns (benchmarks/engine_speed.py);
# 3. K runs at once against one after the other on the GPU (benchmarks/many_runs.py);
# 4. the scaled assignment table on the GPU, whose rows record NVML's, torch's allocated and reserved memory.
# Each step writes its log and JSON as it finishes, so a run cut short keeps what finished.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
ln -sfn ../weights mmzoo/_weights  # where an installed package finds the shipped weights
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt"

timeout 240 python3 -m pytest -q -rs -p no:cacheprovider \
    tests/train/test_whole_step.py tests/train/test_acceleration.py tests/train/test_resources.py \
    2>&1 | tee "$out/gpu-tests.log"

timeout 300 python3 benchmarks/engine_speed.py --device cuda --lidar-scale 0.02 \
    --configs reference cuda-graphs whole-step --out "$out/engine-speed" 2>&1 | tee "$out/engine-speed.log"

timeout 200 python3 benchmarks/many_runs.py --device cuda --epochs 20 --train-frames 1600 --val-frames 400 \
    --json "$out/many-runs.json" 2>&1 | tee "$out/many-runs.log"

timeout 300 python3 benchmarks/run_tables.py --tables assignment-scaled --machine gpu-h200 \
    2>&1 | tee "$out/assignment-scaled.log"
tar czf "$out/gpu-h200-results.tgz" benchmarks/results/gpu-h200 2>/dev/null || true
