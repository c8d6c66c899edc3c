"""The robustness table: trained fusion models on clean and corrupted frames of an unseen data seed.

For every model (a pretrained weight ``arch.tag`` or a training run folder) and every registered corruption
(:mod:`mmzoo.data.corruptions`) at severities 0 (clean) to 5, the model is evaluated with
:func:`mmzoo.train.metrics.evaluate` on the same validation frames. Per model the table reports, following
ImageNet-C (Hendrycks & Dietterich 2019) and MultiBench (Liang et al. 2021):

- the clean metric ``f_0`` (accuracy, or position error for regression) and the *mean corrupted* metric, the mean
  of ``f_{c,s}`` over corruptions ``c`` and severities ``s = 1..5``;
- *relative robustness* per corruption, MultiBench's area under the metric-vs-noise-level curve, with the noise
  level ``s / 5`` on [0, 1]: ``RR_c = sum_{s=0..4} (f_{c,s} + f_{c,s+1}) / 2 * 0.2``;
- *effective robustness* per corruption, how much better the model holds up than a baseline model ``b``
  (MultiBench uses late fusion) predicts: ``ER_c = mean_{s=1..5} [(f_{c,s} - f_0) - (b_{c,s} - b_0)]`` (MultiBench
  sums over its levels; the mean keeps the unit of the metric). For an error metric both differences change
  sign, so a positive ER always means "degrades less than the baseline".
MultiBench then min-max normalises both across the methods of a table; mmzoo reports the raw values, which do
not change when models are added.

Evaluation only: frames are generated once per dataset, corrupted once per (corruption, severity) and shared by
every model that reads the same input format.
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from mmzoo.bench.report import save_figure
from mmzoo.data.corruptions import SEVERITIES, corrupt_frames, get_corruption, list_corruptions
from mmzoo.data.frames import Frames
from mmzoo.data.sets import generate
from mmzoo.data.tensors import FusionTensors, to_tensors
from mmzoo.pretrained.factory import create
from mmzoo.registry import get_weights
from mmzoo.train.checkpoint import load_checkpoint
from mmzoo.train.metrics import evaluate, primary_metric
from mmzoo.utils.files import atomic_write_bytes, atomic_write_json

__all__ = [
    "CLEAN",
    "CSV_COLUMNS",
    "Subject",
    "load_subject",
    "evaluate_robustness",
    "summarize_robustness",
    "markdown_tables",
    "plot_robustness",
    "write_robustness_reports",
]

#: The corruption name of the clean rows (severity 0).
CLEAN = "clean"


@dataclass
class Subject:
    """A trained model and what it needs to be evaluated: its task, loss, dataset and input format."""

    name: str
    model: nn.Module
    task: str
    loss: str
    dataset: str
    data_seed: int
    xyza_formula: str
    rgb_channels: int
    lidar: str

    @property
    def input_key(self) -> tuple[str, str, int]:
        """Subjects with the same key read the same tensors."""
        return self.lidar, self.xyza_formula, self.rgb_channels


def _subject(name: str, model: nn.Module, recipe: dict[str, Any]) -> Subject:
    spec = model.input_spec
    # channels_last: oneDNN's preferred layout on CPU (and cuDNN's), the same maths, faster evaluation.
    model = model.eval().to(memory_format=torch.channels_last)
    return Subject(
        name=name, model=model, task=recipe["task"], loss=recipe["loss"], dataset=recipe["dataset"],
        data_seed=int(recipe.get("data_seed", 0)), xyza_formula=spec.xyza_formula or recipe["lidar_formula"],
        rgb_channels=spec.rgb_channels, lidar=spec.lidar_format,
    )


def load_subject(name_or_run: str | Path) -> Subject:
    """A pretrained weight (``arch.tag``, or a bare ``arch`` for its default tag) or a run folder written by
    ``mmzoo train --run-dir`` (its selected epoch's weights), ready to evaluate on CPU.

    >>> load_subject("late_fusion_strided.shapes_v1").task
    'classification'
    """
    path = Path(name_or_run)
    if path.is_dir():
        state = load_checkpoint(path)
        if state is None:
            raise FileNotFoundError(f"{path} holds no checkpoint.pt; pass a run folder of `mmzoo train --run-dir`")
        identity = state["identity"]
        model = create(identity["architecture"], **identity["kwargs"])
        model.load_state_dict(state["best_state"])
        return _subject(f"{identity['architecture']}@{path.name}", model, identity["recipe"])
    weights = get_weights(str(name_or_run))
    if weights is None:
        raise ValueError(f"{name_or_run!r} has no pretrained weights; pick one of mmzoo.list_pretrained() or a run folder")
    return _subject(weights.name, create(weights.name, pretrained=True), weights.recipe_config)


def _check_unseen(subjects: list[Subject], seed: int) -> None:
    trained_on = sorted({s.name for s in subjects if s.data_seed == seed})
    if trained_on:
        raise ValueError(
            f"data seed {seed} generated the training frames of {', '.join(trained_on)}; evaluate robustness on "
            "frames of another seed (e.g. --seed 1)"
        )


def _conditions(corruptions: Iterable[str]) -> list[tuple[str, int]]:
    return [(CLEAN, 0)] + [(name, severity) for name in corruptions for severity in SEVERITIES]


def evaluate_robustness(
    subjects: list[Subject],
    frames: int = 256,
    seed: int = 1,
    corruptions: Iterable[str] | None = None,
    batch_size: int = 256,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per subject, corruption and severity (plus the clean row): the metrics of ``evaluate``.

    Frames ``0 .. frames - 1`` of each subject's dataset are generated with ``seed`` (which must differ from the
    seed of the frames the subject was trained on); each corruption draws from its own stream of ``seed``.
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1; got {frames}")
    corruptions = list(list_corruptions() if corruptions is None else corruptions)
    for name in corruptions:
        get_corruption(name)  # an unknown name fails before any evaluation
    _check_unseen(subjects, seed)
    rows: list[dict[str, Any]] = []
    for dataset in sorted({s.dataset for s in subjects}):
        group = [s for s in subjects if s.dataset == dataset]
        clean = generate(dataset, frames, seed=seed)
        for corruption, severity in _conditions(corruptions):
            if progress is not None:
                progress(f"{dataset}: {corruption} severity {severity}")
            rows.extend(_evaluate_condition(group, clean, corruption, severity, seed, batch_size))
    return rows


def _evaluate_condition(
    group: list[Subject], clean: Frames, corruption: str, severity: int, seed: int, batch_size: int
) -> list[dict[str, Any]]:
    shown = clean if corruption == CLEAN else corrupt_frames(clean, corruption, severity, seed=seed)
    tensors: dict[tuple, FusionTensors] = {}
    rows = []
    for subject in group:
        if subject.input_key not in tensors:
            target = "labels" if subject.task == "classification" else "positions"
            tensors[subject.input_key] = to_tensors(
                shown, lidar=subject.lidar, formula=subject.xyza_formula, rgb_channels=subject.rgb_channels,
                target=target,
            )
        metrics = evaluate(subject.model, tensors[subject.input_key], subject.task, subject.loss, batch_size,
                           memory_format=torch.channels_last)
        spec = None if corruption == CLEAN else get_corruption(corruption)
        rows.append({
            "model": subject.name, "task": subject.task, "metric": primary_metric(subject.task)[0],
            "corruption": corruption, "modality": "none" if spec is None else spec.modality, "severity": severity,
            "level": "" if spec is None else str(spec.level(severity)), **metrics,
            "frames": len(clean), "dataset": clean.metadata.get("dataset"), "seed": seed,
        })
    return rows


def _curves(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """model -> corruption -> [metric at severity 0..5] (severity 0 = the clean value)."""
    clean = {r["model"]: r[r["metric"]] for r in rows if r["corruption"] == CLEAN}
    curves: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        if row["corruption"] == CLEAN:
            continue
        curve = curves.setdefault(row["model"], {}).setdefault(row["corruption"], [clean[row["model"]]] + [None] * 5)
        curve[row["severity"]] = row[row["metric"]]
    return curves


def _relative(curve: list[float]) -> float:
    return sum((a + b) / 2 * (1 / len(SEVERITIES)) for a, b in zip(curve, curve[1:]))


def _effective(curve: list[float], base: list[float], higher_is_better: bool) -> float:
    sign = 1.0 if higher_is_better else -1.0
    return statistics.fmean(sign * ((f - curve[0]) - (b - base[0])) for f, b in zip(curve[1:], base[1:]))


def summarize_robustness(rows: list[dict[str, Any]], baseline: str | None = None) -> list[dict[str, Any]]:
    """Per model: ``clean``, ``mean_corrupted``, per corruption ``<c>`` (mean over severities 1..5),
    ``<c>@5`` (severity 5), ``relative_<c>`` / ``effective_<c>`` and their means ``relative_robustness`` /
    ``effective_robustness`` (None without a ``baseline`` model among the rows, or for the baseline itself
    when it is the only model)."""
    curves = _curves(rows)
    tasks = {r["model"]: (r["task"], r["metric"]) for r in rows}
    if baseline is not None and baseline not in curves:
        raise ValueError(f"baseline {baseline!r} is not among the evaluated models: {', '.join(curves)}")
    summary = []
    for model, per_corruption in curves.items():
        task, metric = tasks[model]
        higher = primary_metric(task)[1]
        entry: dict[str, Any] = {"model": model, "task": task, "metric": metric, "baseline": baseline}
        entry["clean"] = next(iter(per_corruption.values()))[0]
        entry["mean_corrupted"] = statistics.fmean(v for c in per_corruption.values() for v in c[1:])
        for name, curve in per_corruption.items():
            entry[name] = statistics.fmean(curve[1:])
            entry[f"{name}@5"] = curve[5]
            entry[f"relative_{name}"] = _relative(curve)
            base = curves[baseline].get(name) if baseline is not None else None
            entry[f"effective_{name}"] = None if base is None else _effective(curve, base, higher)
        entry["relative_robustness"] = statistics.fmean(entry[f"relative_{c}"] for c in per_corruption)
        effective = [entry[f"effective_{c}"] for c in per_corruption]
        entry["effective_robustness"] = None if None in effective else statistics.fmean(effective)
        summary.append(entry)
    return summary


# ---------------------------------------------------------------------------------------------------------------
# Reports: results.csv (one line per row), results.json (rows, summary, settings), results.md, robustness.png.

#: Columns of ``results.csv``, one line per model, corruption and severity.
CSV_COLUMNS = (
    "model", "task", "metric", "corruption", "modality", "severity", "level", "accuracy", "position_error", "mse",
    "loss", "frames", "dataset", "seed",
)


def _cell(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown_tables(summary: list[dict[str, Any]], corruptions: list[str]) -> str:
    """The headline table (clean, mean corrupted, each sensor lost, relative and effective robustness) and the
    per-corruption table (mean over severities 1..5), one line per model."""
    baseline = summary[0]["baseline"] if summary else None
    header = ["model", "metric", "clean", "mean corrupted", "camera lost", "LiDAR lost", "relative robustness",
              f"effective robustness (vs {baseline or '-'})"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for e in summary:
        cells = [e["model"], e["metric"], _cell(e["clean"]), _cell(e["mean_corrupted"]),
                 _cell(e.get("camera_missing@5")), _cell(e.get("lidar_missing@5")), _cell(e["relative_robustness"]),
                 _cell(e["effective_robustness"], 4)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| model | " + " | ".join(corruptions) + " |", "|" + "---|" * (len(corruptions) + 1)]
    for e in summary:
        lines.append(f"| {e['model']} | " + " | ".join(_cell(e.get(c)) for c in corruptions) + " |")
    return "\n".join(lines) + "\n"


def plot_robustness(rows: list[dict[str, Any]], path: Path) -> bool:
    """Metric against severity, one panel per corruption, one line per model (PNG). False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    curves = _curves(rows)
    names = list(next(iter(curves.values()))) if curves else []
    cols = 4
    fig, axes = plt.subplots(-(-len(names) // cols), cols, figsize=(4 * cols, 3 * -(-len(names) // cols)),
                             squeeze=False, sharey=True)
    for ax, name in zip(axes.flat, names):
        for model, per_corruption in curves.items():
            ax.plot(range(len(SEVERITIES) + 1), per_corruption[name], marker="o", markersize=3, label=model)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("severity")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes[0][0].set_ylabel(rows[0]["metric"].replace("_", " ") if rows else "")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize=8)
    save_figure(fig, path, dpi=90)
    return True


def write_robustness_reports(
    out_dir: str | Path, rows: list[dict[str, Any]], summary: list[dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv``, ``results.md`` and ``robustness.png`` into ``out_dir``.

    ``settings`` (frames, seed, machine, torch version, the command) goes into the JSON and the Markdown header.
    """
    out_dir = Path(out_dir)
    corruptions = list(dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != CLEAN))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: row.get(key) for key in CSV_COLUMNS} for row in rows)
    text = (
        "# Robustness to failing sensors\n\n"
        f"{settings.get('frames')} validation frames of data seed {settings.get('seed')} per model; "
        f"machine: {settings.get('machine')}, torch {settings.get('torch')}.\n\n" + markdown_tables(summary, corruptions)
    )
    paths = {"json": out_dir / "results.json", "csv": out_dir / "results.csv", "md": out_dir / "results.md"}
    levels = {c: [str(level) for level in get_corruption(c).levels] for c in corruptions}
    atomic_write_json(paths["json"], {"settings": settings, "levels": levels, "summary": summary, "rows": rows})
    atomic_write_bytes(paths["csv"], buffer.getvalue().encode())
    atomic_write_bytes(paths["md"], text.encode())
    if plot_robustness(rows, out_dir / "robustness.png"):
        paths["png"] = out_dir / "robustness.png"
    return paths
