"""``export_weights``: train (or reuse a finished run), evaluate, and write a publishable weight folder.

One call turns a registered architecture and a recipe into ``<out>/<arch>.<tag>/`` holding
``model.safetensors``, ``config.json`` (architecture, constructor arguments, input spec, file records and the
weight's metadata) and ``README.md`` (the model card), and records the weight in a pretrained index (the
package's ``mmzoo/pretrained/index.json`` when ``out`` is this checkout's ``weights/``). Everything is
deterministic: the same run gives byte-identical files, and CPU training is deterministic for a recipe seed.

This is the publishing layer: it may use the training engine (``mmzoo.train``); nothing below it imports it.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch

from mmzoo.release.golden import record_golden
from mmzoo.pretrained.locate import checkout_weights_dir
from mmzoo.registry.metadata import WeightInfo
from mmzoo.release.weight_files import config_for, folder_texts
from mmzoo.errors import IntegrityError, UnknownModelError
from mmzoo.registry import get_weights, is_model, split_model_name_tag
from mmzoo.pretrained.folder import WEIGHTS_NAME, save_pretrained
from mmzoo.utils.files import atomic_write_text, file_sha256, folder_lock, replace_folder
from mmzoo.train import EngineOptions, device_name, evaluate, fit, get_recipe, is_main_process, recipe_tensors
from mmzoo.train.checkpoint import HISTORY_NAME
from mmzoo.pretrained.index import INDEX_PATH, read_index, update_index

__all__ = ["HUB_ORG", "METRIC_DIGITS", "ExportResult", "default_index_path", "export_weights"]

#: The Hub organisation the zoo's weights are published under: repo ``<HUB_ORG>/<arch>.<tag>``.
HUB_ORG = "mmzoo"
#: Metrics are stored rounded to this many digits, so that float summation order (thread count) cannot
#: change the recorded numbers, and so the files stay byte-identical across re-exports.
METRIC_DIGITS = 6


@dataclass
class ExportResult:
    """What an export wrote."""

    folder: Path
    weight: WeightInfo | None  # None on the ranks other than 0 under torchrun, which write nothing
    index: Path | None
    reused_run: bool


def default_index_path(out: str | Path) -> Path:
    """The package's index when ``out`` is this source checkout's ``weights/``, else ``<out>/pretrained_index.json``
    (so exporting elsewhere never touches the installed package's data)."""
    out = Path(out).expanduser().resolve()
    checkout = checkout_weights_dir()
    return INDEX_PATH if checkout is not None and out == checkout.resolve() else out / INDEX_PATH.name


def _finished(run_dir: Path | None, epochs: int) -> bool:
    try:
        return len(json.loads((run_dir / HISTORY_NAME).read_text())["history"]) >= epochs
    except (TypeError, OSError, ValueError, KeyError):
        return False


def _training_device(history: list[dict], current: str) -> tuple[str, str]:
    """The device a run trained on, and its name. The run's history records CUDA memory only when it trained on
    a GPU but not the device's name, so a run reused on another kind of machine is described as what it was."""
    on_gpu = any("cuda_peak_allocated_mib" in epoch for epoch in history)
    if on_gpu and not current.startswith("cuda"):
        return "cuda", "a CUDA GPU (the run did not record its name)"
    if not on_gpu and current.startswith("cuda"):
        return "cpu", "a CPU (the run did not record its name)"
    return current, device_name(torch.device(current))


def export_weights(
    model_name: str,
    recipe: str = "assignment",
    tag: str = "shapes_v1",
    out: str | Path = "weights",
    *,
    run_dir: str | Path | None = None,
    overrides: Iterable[str] = (),
    options: EngineOptions | None = None,
    model_kwargs: dict[str, Any] | None = None,
    index: str | Path | None | bool = True,
    org: str = HUB_ORG,
    license: str = "apache-2.0",
) -> ExportResult:
    """Train ``model_name`` with ``recipe`` (or reuse the finished run in ``run_dir``), evaluate it on the recipe's
    validation split on CPU, and write ``<out>/<arch>.<tag>/``.

    Args:
        model_name: a registered architecture (default constructor arguments; the recipe sets ``num_outputs``
            and the LiDAR formula, as ``mmzoo train`` does).
        recipe, overrides: a recipe name and ``key=value`` changes (``mmzoo export --set``).
        tag: the pretrained tag (``arch.tag``).
        out: the folder that receives ``<arch>.<tag>/`` (replaced atomically if it exists).
        run_dir: the training run folder: a finished run is reused without training, an unfinished one resumed.
        options: engine options (device...; they change how fast, not what is trained); default: float32
            (``amp=None``, so that the weights reproduce on any CPU) and no progress bar.
        model_kwargs: constructor arguments for the model (e.g. ``{"lidar_scale": 0.02}``); they must be the ones
            the run in ``run_dir`` was trained with, or the engine refuses to resume it.
        index: True for :func:`default_index_path`, a path, or False / None to update no index.
        org: the Hub organisation of the repo id recorded for the weight.
        license: the weights' license, as the Hub names it.
    """
    arch, extra = split_model_name_tag(model_name)
    if extra:
        raise ValueError(f"export takes an architecture name, not {model_name!r}; give the tag with tag=")
    recipe_obj = get_recipe(recipe).override(list(overrides))
    run_path = Path(run_dir) if run_dir is not None else None
    reused = _finished(run_path, recipe_obj.epochs)
    train, val = recipe_tensors(recipe_obj)
    options = options or EngineOptions(progress=False, amp=None)
    result = fit(arch, recipe_obj, data=(train, val), run_dir=run_path, options=options, **(model_kwargs or {}))
    out = Path(out).expanduser()
    index_path = default_index_path(out) if index is True else (Path(index) if index else None)
    if not is_main_process():  # under torchrun every rank trained; rank 0 alone writes
        return ExportResult(out / f"{arch}.{tag}", None, index_path, reused)
    model = result.model.to("cpu", memory_format=torch.contiguous_format).eval()
    weight = _weight_record(model, val, recipe_obj, tag, org, license,
                            _training_record(result, recipe, recipe_obj, arch, tag, model_kwargs))
    final, weight = _write_weight_folder(model, weight, out, index_path)
    return ExportResult(final, weight, index_path, reused)


def _weight_record(model: torch.nn.Module, val, recipe, tag: str, org: str, license: str,
                   training: dict) -> WeightInfo:
    """The weight's metadata: metrics re-measured on the validation split on CPU, and what it was trained with;
    the file's sha256 and size are filled in once it is written."""
    metrics = evaluate(model, val, recipe.task, recipe.loss, device="cpu")
    arch = model.arch_name
    return WeightInfo(
        tag=tag,
        repo_id=f"{org}/{arch}.{tag}",
        revision=None,
        sha256="",
        num_bytes=0,
        num_params=sum(p.numel() for p in model.parameters()),
        dataset=val.metadata.get("dataset", recipe.dataset),
        dataset_version=str(val.metadata.get("version", "")),
        split="val",
        metrics={k: round(v, METRIC_DIGITS) for k, v in sorted(metrics.items())},
        recipe=recipe.name,
        recipe_config=recipe.to_dict(),
        model_kwargs=dict(model.arch_kwargs),
        input_spec=model.input_spec,
        license=license,
        training=training,
        architecture=arch,
    )


def _training_record(result, recipe: str, recipe_obj, arch: str, tag: str, model_kwargs: dict | None) -> dict:
    """How the run went and the command that reproduces it, for the card and the index."""
    base = get_recipe(recipe).to_dict()
    changed = [f"{k}={v}" for k, v in recipe_obj.to_dict().items() if base.get(k) != v]
    device, hardware = _training_device(result.history, result.device)
    return {
        "device": device,
        "device_name": hardware,
        "torch_version": torch.__version__.split("+")[0],
        "precision": result.precision,  # float32 unless the caller's options said otherwise
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "train_time_s": round(result.train_time_s, 1),
        "command": " ".join(
            ["mmzoo export", arch, "--recipe", recipe_obj.name, *(f"--set {c}" for c in changed),
             *(f"--set {k}={json.dumps(v)}" for k, v in sorted((model_kwargs or {}).items())),
             "--tag", tag, "--out weights"]),
        "val_metrics_during_training": {k: round(v, METRIC_DIGITS) for k, v in result.best.items()},
    }


def _write_weight_folder(model: torch.nn.Module, weight: WeightInfo, out: Path,
                         index_path: Path | None) -> tuple[Path, WeightInfo]:
    """Write ``<out>/<arch>.<tag>/`` (weights, config, card) in a staging folder and swap it in whole, then
    record the weight in the index; one exporter at a time per ``out`` (a second is refused, never mixed)."""
    name = weight.name
    with folder_lock(out, "the weights folder", wait_s=600), \
            tempfile.TemporaryDirectory(dir=out, prefix=f".{name}.") as tmp:
        staging = Path(tmp) / name
        # The weight's metadata says which frames its golden record runs on (config.json is rewritten below).
        save_pretrained(model, staging, pretrained_cfg=config_for(weight)["pretrained_cfg"])
        path = staging / WEIGHTS_NAME
        weight = dataclasses.replace(weight, sha256=file_sha256(path), num_bytes=path.stat().st_size)
        _refuse_a_known_name_for_other_bytes(weight)
        golden = record_golden(staging)  # its output on fixed frames, so that later loads can be checked against it
        if index_path is not None:
            previous = read_index(index_path).get(name)
            if previous and previous.get("sha256") == weight.sha256 and previous.get("revision"):
                # The same bytes are already published: keep the pinned repo and revision.
                weight = dataclasses.replace(weight, repo_id=previous["repo_id"], revision=previous["revision"])
        # config.json and the card are written from the weight's record, as `mmzoo weights --write-files` does.
        for filename, text in folder_texts(weight, golden).items():
            atomic_write_text(staging / filename, text)
        for item in staging.iterdir():
            item.chmod(0o644)  # temporary files are private; published artifacts are not
        final = replace_folder(staging, out / name)
        if index_path is not None:
            update_index(weight, index_path)
    return final, weight


def _refuse_a_known_name_for_other_bytes(weight: WeightInfo) -> None:
    """A name of mmzoo's own index (``arch.tag``) means those exact bytes, to every loader: new training or
    changed code under that name would load as the old weight is checked, and fail. Say what to do instead."""
    name = weight.name
    try:
        known = get_weights(name) if is_model(name) else None
    except UnknownModelError:  # the architecture has no such tag yet
        return
    if known is None or not known.sha256 or known.sha256 == weight.sha256:
        return
    where = (f"published on the Hub at revision {known.revision}" if known.revision
             else f"in mmzoo's index ({INDEX_PATH}), not published yet")
    advice = f"export it under a tag of its own (--tag {weight.tag}_2, or any new tag)"
    if not known.revision:
        advice += (f", or, to replace the unpublished weight, delete the {name!r} entry from {INDEX_PATH} and "
                   "export again")
    raise IntegrityError(f"{name} is already a weight {where}, with sha256 {known.sha256}; this export's bytes "
                         f"differ (sha256 {weight.sha256}): {advice}")
