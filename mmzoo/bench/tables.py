"""The benchmark tables as data: which models, with which constructor arguments, recipe, seeds and loops.

``assignment`` and ``course`` are the notebooks' comparisons on their exact recipes and architectures.
``assignment-scaled`` is the same comparison with LiDAR x, y, z scaled by 1/50 inside the model
(``lidar_scale=0.02``), the one change that lets the notebook's recipe train on mmzoo's synthetic frames (the two
tables side by side in ``docs/benchmarks.md`` are the evidence). ``quick`` is the README's main command: the four assignment
architectures on a short version of the same recipe, plus the notebook-style loop on one of them.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Any

from mmzoo.registry import list_models

__all__ = ["BenchTable", "TABLES", "get_table", "registered_models", "ASSIGNMENT_MODELS", "COURSE_MODELS",
           "CATALOGUE_MODELS", "ZOO_MODELS",
           "ZOO_SHAPES_RECIPE", "ZOO_CUBES_RECIPE", "UNIMODAL_BASELINES"]

ASSIGNMENT_MODELS = (
    "late_fusion", "intermediate_cat", "intermediate_add", "intermediate_hadamard",
    "late_fusion_strided", "intermediate_cat_strided", "intermediate_add_strided", "intermediate_hadamard_strided",
)
COURSE_MODELS = (
    "course_early_fusion", "course_late_fusion", "course_intermediate_cat", "course_intermediate_matmul",
    "course_rgb_only", "course_lidar_only",
)
#: mmzoo's own architectures (``family="mmzoo"``): the fusion operators of ``docs/catalogue.md``, in the zoo
#: tables' row order. An architecture missing here still enters the zoo tables (:func:`registered_models`).
CATALOGUE_MODELS = (
    "intermediate_film", "intermediate_gated", "intermediate_lmf", "intermediate_mlb", "intermediate_tokens",
    "bevfusion_conv", "mmtm", "transfuser_tiny", "multistage_film",
    "late_film", "late_gated", "late_lmf", "late_mlb",
    "timm_resnet18_late", "timm_resnet18_film",
)


def registered_models() -> tuple[str, ...]:
    """Every registered architecture, in the zoo tables' row order: the notebooks' and the catalogue's as listed
    above, then any other (a new architecture, a plugin's) by name, so that adding one needs no entry here.

    >>> registered_models()[:2]
    ('late_fusion', 'intermediate_cat')
    """
    known, registered = ASSIGNMENT_MODELS + COURSE_MODELS + CATALOGUE_MODELS, list_models()
    return tuple(m for m in known if m in registered) + tuple(m for m in registered if m not in known)


#: Every architecture registered when this module was imported; :func:`get_table` reads the registry again.
ZOO_MODELS = registered_models()
SCALED = {"lidar_scale": 0.02}
#: The 100-step shortening the first zoo tables used (kept by the robustness table until it is rerun).
ZOO_SHORTENING = ("train_frames=640", "val_frames=320", "epochs=5")
#: The zoo tables' recipes, the same for every architecture, chosen by ``benchmarks/zoo_plateau.py``: the cheapest
#: budget at which the measured networks' figure after N and after 2N steps agree within the seeds' spread.
#: Cube vs sphere: the assignment recipe with 10 epochs of 1,600 frames (500 steps), validated on 400.
ZOO_SHAPES_RECIPE = ("train_frames=1600", "val_frames=400", "epochs=10")
#: Three-cube positions: the course recipe with the assignment's schedule (Adam 1e-3 cosine-annealed to 1e-6; after
#: the same 1,000 steps the course's 1e-4 constant leaves about 2-3 times the validation MSE, the study's probe
#: shows) on 3,200 frames for 10 epochs, validated on 320.
ZOO_CUBES_RECIPE = ("train_frames=3200", "val_frames=320", "epochs=10", "lr=0.001", "schedule=cosine", "min_lr=1e-06")
#: The single-modality baselines the zoo tables judge every fusion row against.
UNIMODAL_BASELINES = ("course_rgb_only", "course_lidar_only")


@dataclass(frozen=True)
class BenchTable:
    """One comparison table.

    Attributes:
        name: the table's name (``mmzoo bench --table NAME``; also its results folder).
        title, caption: the Markdown heading and the sentence under it.
        recipe: a built-in recipe name; ``overrides`` are ``key=value`` changes to it.
        models: registered architectures, one table line each.
        model_kwargs: constructor arguments given to every model (recorded as the row's ``variant``).
        seeds: recipe seeds (initialisation and shuffling); the data stays the same.
        reference: models also trained by the notebook-style loop (first seed only) for the speed ratio.
        inference: also measure inference throughput and latency per row (the zoo tables leave them to
            ``benchmarks/inference_speed.py`` and spend the time on training).
        amp: the engine rows' precision unless the caller sets one: None (float32, on every machine: the
            published comparisons reproduce on any CPU and compare with the notebooks' float32) or ``"bf16"``
            (bf16 autocast, an explicit opt-in that the rows' identity records).
        baselines: single-modality models of ``models``; the report then says of every other row whether it
            beats the best of them beyond the seeds' spread (:mod:`mmzoo.bench.verdict`).
        every_registered: ``models`` is every registered architecture (:func:`registered_models`), read from
            the registry again by :func:`get_table` (the zoo tables).
    """

    name: str
    title: str
    caption: str
    recipe: str
    models: tuple[str, ...]
    seeds: tuple[int, ...] = (51,)
    overrides: tuple[str, ...] = ()
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    reference: tuple[str, ...] = ()
    inference: bool = True
    amp: str | None = None
    baselines: tuple[str, ...] = ()
    every_registered: bool = False

    @property
    def variant(self) -> str:
        """The constructor arguments as a short label (empty for the registered defaults)."""
        return ",".join(f"{key}={value}" for key, value in sorted(self.model_kwargs.items()))

    def jobs(self) -> list[dict[str, Any]]:
        """Every row this table needs, in the order they run: all models of one seed, then the next seed;
        reference runs after the engine runs of the first seed."""
        jobs = [
            {"model": model, "seed": seed, "loop": "engine"} for seed in self.seeds for model in self.models
        ]
        reference = [{"model": model, "seed": self.seeds[0], "loop": "reference"} for model in self.reference]
        return jobs[: len(self.models)] + reference + jobs[len(self.models):]


ASSIGNMENT = BenchTable(
    name="assignment",
    title="Assignment comparison, exact notebook recipe and architectures",
    caption=(
        "Adam 1e-3 cosine-annealed per step to 1e-6, batch 32, 20 epochs, BCE with logits, best validation "
        "loss kept; 1,600 training and 400 validation frames of mmzoo's synthetic `shapes` v1.0 set; "
        "mean ± standard deviation over the seeds."
    ),
    recipe="assignment",
    models=ASSIGNMENT_MODELS,
    seeds=(51, 52, 53),
)
ASSIGNMENT_SCALED = replace(
    ASSIGNMENT,
    name="assignment-scaled",
    title="Assignment comparison, notebook recipe, LiDAR xyz scaled by 1/50 inside the model",
    caption=(
        "As `assignment`, with `lidar_scale=0.02` (a fixed gain on x, y, z; same parameters); "
        "mean ± standard deviation over the seeds."
    ),
    seeds=(51, 52, 53),
    model_kwargs=SCALED,
    reference=("intermediate_cat",),
)
ASSIGNMENT_SCALED_BF16 = replace(
    ASSIGNMENT_SCALED,
    name="assignment-scaled-bf16",
    title=ASSIGNMENT_SCALED.title + ", bf16 autocast",
    caption=ASSIGNMENT_SCALED.caption + " bf16 autocast (`amp=\"bf16\"`).",
    reference=(),  # the notebook-style loop trains in float32 only: its row is the float32 table's
    amp="bf16",
)
QUICK = replace(
    ASSIGNMENT_SCALED,
    name="quick",
    title="Quick comparison: the four assignment architectures, short recipe",
    caption=(
        "The assignment recipe (Adam 1e-3 cosine to 1e-6, batch 32, BCE, seed 51) shortened to 5 epochs "
        "of 640 training frames in float32, validated on 320; synthetic `shapes` v1.0 data; `lidar_scale=0.02`. "
        "The notebook-style loop trains intermediate_cat on the identical recipe for the speed ratio."
    ),
    overrides=("train_frames=640", "val_frames=320", "epochs=5"),
    models=ASSIGNMENT_MODELS[:4],
    seeds=(51,),
)
COURSE = BenchTable(
    name="course",
    title="Course comparison: position regression of three coloured cubes",
    caption=(
        "The course recipe (Adam 1e-4 constant, MSE, batch 32, 20 epochs) on mmzoo's synthetic `cubes` "
        "v1.0 set; position error = mean distance between predicted and true cube centres (scene units)."
    ),
    recipe="course",
    models=COURSE_MODELS,
)
ZOO_SHAPES = BenchTable(
    name="zoo-shapes",
    title="The zoo: every architecture on cube vs sphere, at the measured plateau",
    caption=(
        "Every registered architecture with `lidar_scale=0.02` (the same input gain for all), the assignment "
        "recipe (Adam 1e-3 cosine to 1e-6, batch 32, BCE) for 10 epochs of 1,600 training frames (500 steps, "
        "the plateau `benchmarks/zoo_plateau.py` measured), validated on 400; synthetic `shapes` v1.0 data; "
        "mean ± standard deviation over 3 seeds; the single-modality baselines `course_rgb_only` and "
        "`course_lidar_only` trained alike."
    ),
    recipe="assignment",
    models=ZOO_MODELS,
    every_registered=True,
    seeds=(51, 52, 53),
    overrides=ZOO_SHAPES_RECIPE,
    model_kwargs=SCALED,
    inference=False,
    baselines=UNIMODAL_BASELINES,
)
ZOO_CUBES = replace(
    ZOO_SHAPES,
    name="zoo-cubes",
    title="The zoo: every architecture on the three-cube positions, at the measured plateau",
    caption=(
        "Every registered architecture with `lidar_scale=0.02` and a 9-output head, the course recipe (MSE, "
        "batch 32) with Adam 1e-3 cosine-annealed to 1e-6 for 10 epochs of 3,200 training frames (1,000 steps, "
        "chosen with `benchmarks/zoo_plateau.py`), validated on 320; synthetic `cubes` v1.0 data; "
        "position error in scene units; mean ± standard deviation over 3 seeds; the single-modality baselines "
        "`course_rgb_only` and `course_lidar_only` trained alike."
    ),
    recipe="course",
    overrides=ZOO_CUBES_RECIPE,
)
TABLES: dict[str, BenchTable] = {
    table.name: table
    for table in (QUICK, ASSIGNMENT_SCALED, ASSIGNMENT_SCALED_BF16, ASSIGNMENT, COURSE, ZOO_SHAPES, ZOO_CUBES)
}


def get_table(name: str) -> BenchTable:
    """The table called ``name`` (a zoo table with every architecture registered now); an unknown name lists the
    close matches."""
    if name not in TABLES:
        close = difflib.get_close_matches(name, TABLES, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"tables: {', '.join(sorted(TABLES))}"
        raise ValueError(f"unknown benchmark table {name!r}; {hint}")
    table = TABLES[name]
    return replace(table, models=registered_models()) if table.every_registered else table
