"""Turn benchmark rows into the published artifacts: a JSON file, a CSV, a Markdown table and PNG curves.

Rows (one model x variant x seed x loop each) are kept as they were measured; the tables aggregate them per
model and loop over seeds (mean and sample standard deviation). Every file is written atomically.

Two rules keep the published numbers honest:

- "% of peak" is the training rate over the matrix-multiply ceiling measured in the same process. A value above
  100% means the ceiling was measured under heavier load than the training (the machine was shared), so the
  pair is not comparable: such a row's value is marked invalid and never published, and neither is a mean
  that includes it.
- The speed ratio against the notebook-style loop pairs each reference row with the engine row of the SAME
  seed (same model, data and recipe); averaging engine seeds against one reference seed would compare unlike
  runs.
"""
from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any, Iterable

from mmzoo.bench.verdict import VERDICT_COLUMN, best_baseline, single_modality_verdicts
from mmzoo.utils.files import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = [
    "CSV_COLUMNS", "PEAK_LIMIT", "INVALID", "summarize", "markdown_table", "render_markdown", "write_reports",
    "save_figure",
    "plot_curves", "speed_ratio", "epochs_text", "write_result",
]

#: Columns of the CSV (one line per row); the JSON also keeps each row's per-epoch history.
CSV_COLUMNS = (
    "table", "model", "variant", "loop", "seed", "recipe", "params", "best_epoch", "val_loss", "val_accuracy",
    "val_position_error", "val_mse", "train_time_s", "epoch_time_s", "train_samples_per_s", "train_gflops_per_sample",
    "achieved_gflops_s", "matmul_gflops_s", "fraction_of_peak", "inference_gflops_per_sample",
    "inference_samples_per_s", "latency_ms", "peak_rss_mib", "cuda_peak_allocated_mib", "cuda_peak_reserved_mib",
    "nvml_process_mib", "device", "torch", "dtype", "precision", "channels_last", "accelerations",
)
#: A fraction of peak above this is physically impossible for one measurement pair: the row is invalid.
PEAK_LIMIT = 1.0
#: What a table shows in place of an invalid "% of peak".
INVALID = "invalid"
_PEAK_NOTE = (
    f"*{INVALID}*: the row trained faster than the matrix-multiply ceiling measured in its own process, so the "
    "ceiling was measured under other load; its \"% of peak\" is not published."
)
_MEAN_KEYS = (
    "params", "val_loss", "val_accuracy", "val_position_error", "val_mse", "train_time_s", "epoch_time_s",
    "train_samples_per_s", "train_gflops_per_sample", "achieved_gflops_s", "fraction_of_peak",
    "inference_samples_per_s", "latency_ms", "peak_rss_mib", "cuda_peak_allocated_mib", "cuda_peak_reserved_mib",
    "nvml_process_mib",
)


def _group_key(row: dict[str, Any]) -> tuple:
    return row["model"], row["variant"], row["loop"]


def summarize(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (model, variant, loop): ``<key>`` = mean over seeds, ``<key>_sd`` = standard deviation."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_group_key(row), []).append(row)
    out = []
    for (model, variant, loop), members in groups.items():
        entry: dict[str, Any] = {"model": model, "variant": variant, "loop": loop, "seeds": sorted(r["seed"] for r in members)}
        for key in _MEAN_KEYS:
            values = [r[key] for r in members if r.get(key) is not None]
            if values:
                entry[key] = statistics.fmean(values)
                entry[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else None
        for key in ("device", "torch", "dtype", "recipe"):
            entry[key] = members[0].get(key)
        if any((r.get("fraction_of_peak") or 0.0) > PEAK_LIMIT for r in members):
            entry["fraction_of_peak"] = entry["fraction_of_peak_sd"] = None
            entry["fraction_of_peak_invalid"] = True
        out.append(entry)
    return out


def speed_ratio(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """For every reference row: its train time over the engine's at the same model, variant and seed.

    Returns one entry per reference row that has an engine partner, with both times and throughputs, the
    ``seed`` and ``speedup`` (how many times faster the engine trained).
    """
    rows = list(rows)
    engine = {(r["model"], r["variant"], r["seed"]): r for r in rows if r["loop"] == "engine"}
    ratios = []
    for ref in (r for r in rows if r["loop"] == "reference"):
        partner = engine.get((ref["model"], ref["variant"], ref["seed"]))
        if partner is None:
            continue
        ratios.append({
            "model": ref["model"], "variant": ref["variant"], "seed": ref["seed"],
            "engine_time_s": partner["train_time_s"], "reference_time_s": ref["train_time_s"],
            "speedup": ref["train_time_s"] / partner["train_time_s"],
            "engine_samples_per_s": partner["train_samples_per_s"],
            "reference_samples_per_s": ref["train_samples_per_s"],
            "engine_metric": partner.get("val_accuracy", partner.get("val_position_error")),
            "reference_metric": ref.get("val_accuracy", ref.get("val_position_error")),
        })
    return ratios


def _fmt(value: Any, digits: int, sd: Any = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return f"{text} ± {sd:.{digits}f}" if sd is not None else text


_OPTIONAL_COLUMNS = ("infer samples/s", "latency ms")


def markdown_table(summary: list[dict[str, Any]], task: str, verdicts: dict[str, str] | None = None) -> str:
    """The comparison table, one line per model and loop, in the order the rows were first measured; with
    ``verdicts`` (:func:`mmzoo.bench.verdict.single_modality_verdicts`) a last column says whether each fusion
    row beats the best single modality beyond the seeds' spread."""
    metric = ("val acc", "val_accuracy", 3) if task == "classification" else ("pos. error", "val_position_error", 3)
    gpu = any(entry.get("cuda_peak_allocated_mib") is not None for entry in summary)
    nvml = any(entry.get("nvml_process_mib") is not None for entry in summary)
    memory = "peak RSS MiB (CPU)" if not gpu else "GPU MiB alloc / reserved" + (" / process (NVML)" if nvml else "")
    header = ["model", "variant", "loop", "seeds", "params", "val loss", metric[0], "train s", "s / epoch",
              "train samples/s", "% of peak", "infer samples/s", "latency ms", "train GFLOP/sample", memory]
    body = []
    for e in summary:
        if gpu:
            mem = f"{_fmt(e.get('cuda_peak_allocated_mib'), 0)} / {_fmt(e.get('cuda_peak_reserved_mib'), 0)}"
            mem += f" / {_fmt(e.get('nvml_process_mib'), 0)}" if nvml else ""
        else:
            mem = _fmt(e.get("peak_rss_mib"), 0)
        peak = e.get("fraction_of_peak")
        peak_cell = INVALID if e.get("fraction_of_peak_invalid") else "-" if peak is None else f"{100 * peak:.0f}%"
        cells = [
            e["model"], e["variant"] or "-", e["loop"], str(len(e["seeds"])), _fmt(int(e["params"]), 0),
            _fmt(e.get("val_loss"), 3, e.get("val_loss_sd")), _fmt(e.get(metric[1]), metric[2], e.get(f"{metric[1]}_sd")),
            _fmt(e.get("train_time_s"), 1), _fmt(e.get("epoch_time_s"), 2), _fmt(e.get("train_samples_per_s"), 0),
            peak_cell, _fmt(e.get("inference_samples_per_s"), 0),
            _fmt(e.get("latency_ms"), 2), _fmt(e.get("train_gflops_per_sample"), 3), mem,
        ]
        if verdicts is not None:
            cells.append(verdicts.get(e["model"], "baseline"))
        body.append(cells)
    if verdicts is not None:
        header.append(VERDICT_COLUMN)
    # A table measured without inference (BenchTable.inference=False) shows no empty inference columns.
    keep = [i for i, name in enumerate(header)
            if name not in _OPTIONAL_COLUMNS or any(cells[i] != "-" for cells in body)]
    lines = ["| " + " | ".join(header[i] for i in keep) + " |", "|" + "---|" * len(keep)]
    lines += ["| " + " | ".join(cells[i] for i in keep) + " |" for cells in body]
    if any(e.get("fraction_of_peak_invalid") for e in summary):
        lines += ["", _PEAK_NOTE]
    return "\n".join(lines) + "\n"


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key) for key in CSV_COLUMNS})
    return buffer.getvalue()


def plot_curves(rows: list[dict[str, Any]], path: Path, task: str) -> bool:
    """Validation loss and metric per epoch for every engine row, as one PNG. False if matplotlib is missing or
    no row has a history (nothing to draw)."""
    if not any(row.get("history") for row in rows):
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    metric = "val_accuracy" if task == "classification" else "val_position_error"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for row in rows:
        if not row.get("history"):
            continue
        label = f"{row['model']}{'[' + row['variant'] + ']' if row['variant'] else ''} s{row['seed']} {row['loop']}"
        epochs = [r["epoch"] for r in row["history"]]
        style = "--" if row["loop"] == "reference" else "-"
        axes[0].plot(epochs, [r["train_loss"] for r in row["history"]], style, label=label)
        axes[1].plot(epochs, [r["val_loss"] for r in row["history"]], style, label=label)
        axes[2].plot(epochs, [r.get(metric) for r in row["history"]], style, label=label)
    for ax, title in zip(axes, ("train loss", "validation loss", metric.replace("_", " ")), strict=True):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    axes[2].legend(fontsize=6, loc="best")
    save_figure(fig, path, dpi=110)
    return True


def save_figure(fig, path: str | Path, dpi: int) -> Path:
    """Lay out ``fig``, write it as a PNG atomically (a reader never sees half an image) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def render_markdown(table: dict[str, Any], rows: list[dict[str, Any]], title: bool = True) -> str:
    """One table as Markdown: title (optional), caption, the recipe and machine as run, the table, the ratios.

    This is the one writer of published tables: ``results.md`` and the documentation's copies both come from it.
    """
    text = f"# {table['title']}\n\n" if title else ""
    text += f"{table.get('caption', '')}\n\n"
    if rows:
        fields = {k: v for k, v in rows[0]["recipe_fields"].items() if k not in ("name", "seed")}
        text += f"Recipe `{rows[0]['recipe']}` as run: " + ", ".join(f"{k}={v}" for k, v in fields.items()) + ".  \n"
        engine = next((row for row in rows if row["loop"] == "engine"), rows[0])
        settings = ", ".join(
            part for part in (engine.get("precision", engine["dtype"]), "channels_last" if engine.get("channels_last") else "NCHW",
                              engine.get("accelerations")) if part
        )
        text += f"Machine: {engine['device']}, torch {engine['torch']}; engine: {settings}.\n\n"
    summary = summarize(rows)
    task = table.get("task", "classification")
    verdicts = single_modality_verdicts(summary, table["baselines"], task) if table.get("baselines") else None
    text += markdown_table(summary, task, verdicts or None)
    best = best_baseline(summary, table.get("baselines") or (), task)
    if verdicts:
        text += (f"\n*{VERDICT_COLUMN}*: yes where the fusion row's mean beats the best single-modality row "
                 f"(here `{best['model']}`) by more than the two standard deviations together, no within them, "
                 "worse beyond them on the wrong side; - with fewer than two seeds.\n")
    for ratio in speed_ratio(rows):
        text += (
            f"\nEngine vs notebook-style loop on {ratio['model']}, seed {ratio['seed']} for both: "
            f"{ratio['engine_time_s']:.1f} s vs {ratio['reference_time_s']:.1f} s for the same recipe, "
            f"**{ratio['speedup']:.2f}x faster** ({ratio['engine_samples_per_s']:.0f} vs "
            f"{ratio['reference_samples_per_s']:.0f} training samples/s; measured one after the other, "
            "not interleaved).\n"
        )
    return text


def write_reports(out_dir: Path, table: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv``, ``results.md`` and ``curves.png`` for one table into ``out_dir``."""
    out_dir = Path(out_dir)
    task = table.get("task", "classification")
    paths = {"json": out_dir / "results.json", "csv": out_dir / "results.csv", "md": out_dir / "results.md"}
    atomic_write_json(
        paths["json"], {"table": table, "summary": summarize(rows), "speed_ratio": speed_ratio(rows), "rows": rows}
    )
    atomic_write_bytes(paths["csv"], _csv_text(rows).encode())
    atomic_write_bytes(paths["md"], render_markdown(table, rows).encode())
    if plot_curves(rows, out_dir / "curves.png", task):
        paths["png"] = out_dir / "curves.png"
    return paths


def epochs_text(epochs: Iterable[int | None], digits: int | None = None) -> str:
    """A table cell listing one number per seed, ``-`` where there is none (a run that never left ln 2).

    >>> epochs_text([None, 5, 6]), epochs_text([0.5, 0.1234], digits=3)
    ('-, 5, 6', '0.500, 0.123')
    """
    return ", ".join("-" if e is None else (str(e) if digits is None else f"{e:.{digits}f}") for e in epochs)


def write_result(folder: str | Path, data: dict[str, Any], markdown: str) -> str:
    """A measurement script's published pair, ``folder/results.json`` and ``folder/results.md``, each written
    atomically (an interrupted script leaves the previous pair whole); returns ``markdown``."""
    atomic_write_json(Path(folder) / "results.json", data)
    atomic_write_text(Path(folder) / "results.md", markdown)
    return markdown
