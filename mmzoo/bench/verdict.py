"""Does a fusion network beat the best single modality? The question users ask of every fusion codebase.

A table that names its single-modality baselines (``BenchTable.baselines``) gets one more column: for each fusion
row, whether its mean over seeds is better than the best baseline's mean by more than the two standard deviations
together (``"yes"``), within them (``"no"``: the difference is noise at these seeds) or worse beyond them
(``"worse"``). The best baseline is the one with the better mean in the same table (same recipe, same seeds).

    >>> summary = [{"model": "rgb", "val_accuracy": 0.70, "val_accuracy_sd": 0.01},
    ...            {"model": "lidar", "val_accuracy": 0.90, "val_accuracy_sd": 0.01},
    ...            {"model": "fused", "val_accuracy": 0.99, "val_accuracy_sd": 0.005}]
    >>> single_modality_verdicts(summary, ("rgb", "lidar"), "classification")
    {'fused': 'yes'}
"""
from __future__ import annotations

from typing import Any, Iterable

__all__ = ["VERDICT_COLUMN", "metric_of", "best_baseline", "verdict", "single_modality_verdicts"]

#: The column's heading in the published tables.
VERDICT_COLUMN = "beats best single modality"


def metric_of(task: str) -> tuple[str, bool]:
    """The summary key a table ranks by, and whether higher is better: accuracy, or position error."""
    return ("val_accuracy", True) if task == "classification" else ("val_position_error", False)


def best_baseline(summary: Iterable[dict[str, Any]], baselines: Iterable[str], task: str) -> dict[str, Any] | None:
    """The summary entry of the baseline with the best mean (None if no baseline row is measured yet)."""
    key, higher = metric_of(task)
    found = [entry for entry in summary if entry["model"] in set(baselines) and entry.get(key) is not None]
    if not found:
        return None
    return max(found, key=lambda entry: entry[key] if higher else -entry[key])


def verdict(entry: dict[str, Any], baseline: dict[str, Any], task: str) -> str:
    """``"yes"``, ``"no"`` or ``"worse"`` for one fusion entry against the best baseline (see the module's text);
    ``"-"`` when either has fewer than two seeds (no spread to judge by)."""
    key, higher = metric_of(task)
    spreads = (entry.get(f"{key}_sd"), baseline.get(f"{key}_sd"))
    if entry.get(key) is None or None in spreads:
        return "-"
    gain = (entry[key] - baseline[key]) * (1 if higher else -1)
    margin = sum(spreads)
    return "yes" if gain > margin else "worse" if gain < -margin else "no"


def single_modality_verdicts(summary: list[dict[str, Any]], baselines: Iterable[str], task: str) -> dict[str, str]:
    """``{model: verdict}`` for every non-baseline model of ``summary`` (empty when no baseline is measured)."""
    baselines = tuple(baselines)
    best = best_baseline(summary, baselines, task)
    if best is None:
        return {}
    return {entry["model"]: verdict(entry, best, task) for entry in summary if entry["model"] not in baselines}
