"""Golden outputs: every published weight records what it outputs for a fixed input, so that no refactor of the
model code can change a published model silently.

segmentation_models_pytorch does this for its Hub checkpoints (a stored input/output pair per checkpoint, checked
by a test). Here the input is not stored: it is rendered again by the data generator (``mmzoo.data.generate``)
from the weight's dataset and a fixed seed, converted as the weight's input spec says (``to_tensors``), and its
sha256 is recorded so that a change of the generator is reported as such, not as a changed model. Real frames
(not noise) keep the recorded outputs in the range the weights were trained for, where they mean something (the
recorded logits are the weights' actual predictions) and float32 rounding stays far under the tolerance. The
record lives in the weight folder's ``config.json`` under ``"golden"``::

    {"dataset": "shapes", "seed": 0, "batch": 4, "inputs": "mmzoo.data.generate + to_tensors",
     "input_sha256": "...", "atol": 1e-05, "output": [[...], ...], "torch_version": "2.14.1"}

``mmzoo export`` writes it for new weights; ``mmzoo golden weights/*`` (re)records it for existing folders and
``mmzoo golden --check weights/*`` checks them.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mmzoo.data import generate, to_tensors
from mmzoo.errors import GoldenOutputError
from mmzoo.pretrained.folder import CONFIG_NAME, load_pretrained
from mmzoo.registry.metadata import InputSpec
from mmzoo.release.program import as_deployable
from mmzoo.utils.files import atomic_write_json

__all__ = [
    "GOLDEN_KEY",
    "GOLDEN_SEED",
    "GOLDEN_BATCH",
    "GOLDEN_ATOL",
    "golden_inputs",
    "golden_record",
    "check_golden",
    "read_golden",
    "record_golden",
    "check_golden_folder",
]

GOLDEN_KEY = "golden"
GOLDEN_SEED = 0
#: A few samples, so that a bug mixing up samples within a batch also shows.
GOLDEN_BATCH = 4
#: Tolerance of the check: well above float32 summation-order noise (thread counts, CPU kernels), far below
#: any change that alters what a model computes.
GOLDEN_ATOL = 1e-5
#: Recorded outputs are rounded to this many decimals (an error of at most 5e-8, far under ``GOLDEN_ATOL``) so
#: that re-recording on another thread count rarely changes the file's bytes.
OUTPUT_DECIMALS = 7
_INPUTS = "mmzoo.data.generate + to_tensors"


def golden_inputs(
    spec: InputSpec, dataset: str, seed: int = GOLDEN_SEED, batch: int = GOLDEN_BATCH
) -> tuple[torch.Tensor, ...]:
    """The fixed inputs golden records are computed on: ``batch`` frames of ``dataset`` rendered from ``seed``,
    converted as ``spec`` says (RGB float in [0, 1]; xyza with the spec's formula, or raw depth), one tensor per
    modality of ``spec`` in order."""
    lidar = spec.lidar_format
    data = to_tensors(generate(dataset, batch, seed=seed), lidar=lidar, formula=spec.xyza_formula or "assignment",
                      rgb_channels=spec.rgb_channels)
    rgb, lidar_tensor, _ = data.batch(slice(None))
    named = {"rgb": rgb, "lidar": lidar_tensor}
    return tuple(named[modality] for modality in spec.modalities)


def _dataset_of(model: nn.Module) -> str:
    weight = getattr(model, "pretrained_cfg", None)
    if weight is None or not getattr(weight, "dataset", ""):
        raise ValueError("golden records are for published weights: load the model with mmzoo.create(name, "
                         "pretrained=True) or from a weight folder, or pass dataset= (e.g. 'shapes')")
    return weight.dataset


def _inputs_sha256(inputs: tuple[torch.Tensor, ...]) -> str:
    digest = hashlib.sha256()
    for tensor in inputs:
        digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def _run(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    wrapped = as_deployable(model.to("cpu"))
    return wrapped(*inputs).to(torch.float32)


def golden_record(
    model: nn.Module, *, dataset: str | None = None, seed: int = GOLDEN_SEED, batch: int = GOLDEN_BATCH
) -> dict[str, Any]:
    """The golden record of ``model`` (built by ``mmzoo.create``; run on CPU in eval mode) on frames of
    ``dataset`` (default: the dataset its pretrained weights were trained on)."""
    dataset = dataset or _dataset_of(model)
    inputs = golden_inputs(as_deployable(model).input_spec, dataset, seed, batch)
    output = _run(model, inputs)
    return {
        "dataset": dataset,
        "seed": seed,
        "batch": batch,
        "inputs": _INPUTS,
        "input_sha256": _inputs_sha256(inputs),
        "atol": GOLDEN_ATOL,
        "output": [[round(float(v), OUTPUT_DECIMALS) for v in row] for row in output.tolist()],
        "torch_version": torch.__version__.split("+")[0],
    }


def check_golden(model: nn.Module, record: dict[str, Any], label: str = "model") -> float:
    """Check that ``model`` still gives the recorded output; returns the largest absolute difference.

    Raises:
        GoldenOutputError: the output differs by more than the record's ``atol``, has another shape, or the
            regenerated input is not the recorded one (then the input generator changed, not the model).
    """
    missing = {"dataset", "seed", "batch", "input_sha256", "output"} - set(record)
    if missing:
        raise GoldenOutputError(f"{label}: the golden record lacks {sorted(missing)}; re-record it with `mmzoo golden`")
    inputs = golden_inputs(as_deployable(model).input_spec, record["dataset"], record["seed"], record["batch"])
    if _inputs_sha256(inputs) != record["input_sha256"]:
        raise GoldenOutputError(
            f"{label}: the {record['dataset']!r} frames rendered from seed {record['seed']} are not the recorded "
            f"input, so the data generator changed (a new dataset version?), not necessarily the model; check the "
            "model against the old generator, then re-record with `mmzoo golden`"
        )
    output = _run(model, inputs)
    expected = torch.tensor(record["output"], dtype=torch.float32)
    if output.shape != expected.shape:
        raise GoldenOutputError(f"{label}: output shape {tuple(output.shape)}, recorded {tuple(expected.shape)}")
    diff = float((output - expected).abs().max())
    atol = float(record.get("atol", GOLDEN_ATOL))
    if not diff <= atol:  # also catches nan
        raise GoldenOutputError(
            f"{label}: output differs from its golden record by {diff:.3g} (> atol {atol:g}); the model code "
            "changed what these published weights compute. Fix the change, or publish new weights"
        )
    return diff


def read_golden(folder: str | Path) -> dict[str, Any]:
    """The golden record in ``folder``/config.json; a GoldenOutputError if there is none."""
    path = Path(folder) / CONFIG_NAME
    record = json.loads(path.read_text()).get(GOLDEN_KEY)
    if not isinstance(record, dict):
        raise GoldenOutputError(f"{path} has no {GOLDEN_KEY!r} record; write one with `mmzoo golden {folder}`")
    return record


def record_golden(folder: str | Path, *, seed: int = GOLDEN_SEED, batch: int = GOLDEN_BATCH) -> dict[str, Any]:
    """Load the weight folder ``folder`` (verified, strictly), compute its golden record and write it into its
    config.json under ``"golden"`` (atomically; nothing else in the file changes). Returns the record."""
    folder = Path(folder)
    model = load_pretrained(folder, pretrained=True).eval()
    record = golden_record(model, seed=seed, batch=batch)
    path = folder / CONFIG_NAME
    config = json.loads(path.read_text())
    config[GOLDEN_KEY] = record
    atomic_write_json(path, config)
    return record


def check_golden_folder(folder: str | Path) -> float:
    """Load the weight folder ``folder`` and :func:`check_golden` it against its own record."""
    folder = Path(folder)
    model = load_pretrained(folder, pretrained=True).eval()
    return check_golden(model, read_golden(folder), label=str(folder))
