#!/usr/bin/env bash
# Every GPU check and measurement of the speed work, prepared for one call of a lent GPU machine (its image has
# torch, timm, safetensors, huggingface_hub, onnx and pytest). From the repository root:
#
#     bash studies/gpu_checks.sh            # writes into $OUT (the device tool's folder) or ./gpu-out
#
# The whole script keeps to GPU_CHECKS_BUDGET_S seconds (default 420, so that a lease of 15 minutes leaves time
# for the machine's start and a short rerun). The steps run most important first, each within what is left:
# 1. the tests that skip without CUDA (whole-step graphs against eager training, for one run and, separately,
#    for fit_many's group, whose graphs the later steps use only if that test passes; CUDA graphs; NVML memory);
# 2. intermediate_cat on the full assignment recipe: the notebook-style loop, the engine with forward/backward
#    graphs and with whole-step graphs, each in a fresh process, taking turns (studies/engine_speed.py);
# 3. the scaled assignment table (8 models x 3 seeds) with each model's seeds at once, as whole-step graphs; its
#    rows' training times add up to the sweep's (benchmarks/results/gpu-h200-seeds-at-once/);
# 4. intermediate_cat's rows of the scaled assignment table, which record NVML's, torch's allocated and reserved
#    memory (the notebook saw 773 MB for it);
# 5. K runs at once against one after the other on the GPU, as whole-step graphs (studies/many_runs.py).
# Each step writes its log and results as it finishes, so a run cut short keeps what finished.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
deadline=$((SECONDS + ${GPU_CHECKS_BUDGET_S:-420}))

# step NAME MAX_SECONDS COMMAND...: run COMMAND for at most MAX_SECONDS or what is left, logging to $out/NAME.log
step() {
    local name=$1 most=$2 left=$((deadline - SECONDS))
    shift 2
    if ((left < 15)); then
        echo "skipped: no time left" | tee "$out/$name.log"
        return
    fi
    echo "== $name (at most $((left < most ? left : most)) s)"
    timeout $((left < most ? left : most)) "$@" 2>&1 | tee "$out/$name.log"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt"
# GPU_CHECKS_ZOO=1 (with GPU_CHECKS_BUDGET_S=480): this call is the zoo campaign alone, both zoo tables and weights.
[[ -n ${GPU_CHECKS_ZOO:-} ]] && { step zoo-campaign 480 python3 benchmarks/zoo_campaign.py --out "$out" --budget-s $((deadline - SECONDS - 15)); exit; }

step gpu-tests 100 python3 -m pytest -q -rs -p no:cacheprovider \
    tests/train/test_whole_step.py tests/train/test_acceleration.py tests/train/test_resources.py
# fit_many's whole-step graphs on the GPU: the sweep below replays them only if they match eager training.
graphs=()
if step group-graphs-test 60 python3 -m pytest -q -rs -p no:cacheprovider tests/train/test_many_graphs.py; then
    graphs=(--whole-step-graphs)
fi
step engine-speed 120 python3 studies/engine_speed.py --device cuda --lidar-scale 0.02 \
    --configs reference cuda-graphs whole-step --out "$out/engine-speed"
step seeds-at-once 120 python3 benchmarks/run_tables.py --tables assignment-scaled --machine gpu-h200-seeds-at-once \
    --seeds-at-once "${graphs[@]}"
step memory-rows 60 python3 benchmarks/run_tables.py --tables assignment-scaled --machine gpu-h200 \
    --models intermediate_cat --seeds 51
step many-runs 80 python3 studies/many_runs.py --device cuda --epochs 20 --train-frames 1600 --val-frames 400 \
    --rounds 3 "${graphs[@]}" --json "$out/many-runs.json"
tar czf "$out/gpu-h200-results.tgz" benchmarks/results/gpu-h200* 2>/dev/null || true
echo "finished in $SECONDS s"
