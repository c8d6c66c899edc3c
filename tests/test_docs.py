"""The README and the documentation keep their promises: links resolve, the site builds strictly, every Python
block runs, and every shell command shown is run here on tiny settings or named with the test that runs it."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
TINY_TRAIN = ["--set", "epochs=1", "--set", "train_frames=64", "--set", "val_frames=32"]


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def blocks(page: Path, languages: tuple[str, ...]) -> list[str]:
    """The bodies of the fenced code blocks of ``page`` in one of ``languages``, in order."""
    return [body for lang, body in FENCE.findall(page.read_text()) if lang in languages]


def shell_commands(page: Path) -> list[str]:
    """Every command line of the page's bash blocks: continuations joined, comments and blank lines dropped."""
    commands = []
    for body in blocks(page, ("bash", "sh", "shell")):
        for line in body.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(" ".join(line.split()))
    return commands


# ----------------------------------------------------------------------------------------------------- links


def _slug(heading: str) -> str:
    """The anchor MkDocs' toc extension (and GitHub) gives a heading, for the headings these pages use."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", text))


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: absolute links are not checked offline
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no {resolved})")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no heading #{anchor} in {resolved.name})")
    assert not broken, f"{page_id(page)} has broken links: {broken}"


def test_readme_is_short_and_links_every_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 12_500, "the README is the PyPI page: keep it under about 12 KB, move the rest to docs/"
    linked = {Path(t.partition("#")[0]).name for t in LINK.findall(readme) if t.startswith("docs/")}
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    missing = pages - linked - {"index.md"}
    assert not missing, f"the README links no {sorted(missing)}"


def test_mkdocs_nav_names_every_page():
    config = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w-]+\.md)\s*$", config, re.M))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert listed == pages, f"mkdocs.yml nav and docs/ differ: {sorted(listed ^ pages)}"


def test_mkdocs_build_is_strict_and_clean(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install 'mmzoo[docs]'")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "benchmarks" / "index.html").is_file()


# ------------------------------------------------------------------------------------------ python blocks

_RUNNER = textwrap.dedent(
    """
    import json, sys, traceback
    blocks = json.loads(sys.argv[1])
    namespace = {"__name__": "__main__"}
    for number, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"<block {number}>", "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            sys.exit(f"python block {number} failed; it starts: {code.strip().splitlines()[0]!r}")
    """
)
# docs/finetune.md's Python blocks use the folder its commands write: tests/test_finetune_tutorial.py runs them all.
PYTHON_PAGES = [page for page in PAGES if blocks(page, ("python",)) and page.name != "finetune.md"]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=page_id)
def test_python_blocks_run(page, tmp_path):
    """A page's blocks run in order in one fresh interpreter (a page is read top to bottom), in an empty folder."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, json.dumps(blocks(page, ("python",)))],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"{page_id(page)}: {result.stderr[-3000:]}"


# ------------------------------------------------------------------------------------------ shell commands


@dataclass(frozen=True)
class Run:
    """Run here, in-process through ``mmzoo.cli.main``, with ``extra`` arguments that make it tiny."""

    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class Elsewhere:
    """Exercised by another test (``path::name``), on tiny settings; ``why`` says how it covers the command."""

    test: str
    why: str = ""


_CI = Elsewhere("tests/test_readme.py::test_ci_runs_the_readme_test_command_verbatim", ".ci/run runs it verbatim")
_HARNESS = Elsewhere("tests/bench/test_harness.py::test_a_row_has_every_column", "the harness on a tiny table")
_SHARDS = Elsewhere("tests/bench/test_harness.py::test_shards_give_the_rows_of_a_sequential_sweep", "RANK/WORLD_SIZE")
_TORCHRUN = Elsewhere("tests/train/test_distributed.py::test_mmzoo_train_under_torchrun", "2 gloo ranks on CPU")
_EXPORT = Elsewhere("tests/test_weights_export.py::test_export_writes_the_three_files_and_the_index")
_DROPOUT = Elsewhere("tests/bench/test_robustness.py::test_the_dropout_comparison_merges_its_shards_into_mean_and_spread")
_FIDELITY = Elsewhere("tests/studies/test_study_scripts.py::test_fidelity_dynamics_counts_the_runs_that_left_ln2")
_TUTORIAL = Elsewhere("tests/test_finetune_tutorial.py::test_the_tutorial_runs_in_order_in_an_empty_folder",
                      "every block of the page, in order, in one folder")
_DOCS = Elsewhere("tests/bench/test_published.py::test_update_docs_script_rewrites_the_pages_from_the_rows")
_CAMPAIGN = Elsewhere("tests/bench/test_zoo_campaign.py::"
                      "test_the_campaign_trains_both_tables_exports_the_best_seeds_and_packs_within_the_limits")

#: Every shell command the README and docs show, and how it is exercised. A new command needs an entry.
COMMANDS: dict[str, Run | Elsewhere] = {
    # README.md and docs/index.md
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/mmzoo bench --quick": _HARNESS,
    "bash .ci/run": _CI,
    "pip install .": _CI,
    "mmzoo list": Run(),
    "mmzoo bench --quick": _HARNESS,
    # docs/models.md
    "mmzoo info course_intermediate_matmul": Run(),
    # docs/catalogue.md
    "mmzoo list --family catalogue": Run(),
    "mmzoo list --fusion-op film": Run(),
    "mmzoo list --fusion-point 1": Run(),
    "mmzoo list --fusion-point late": Run(),
    # docs/training.md
    "mmzoo recipes": Run(),
    "mmzoo train intermediate_cat --recipe assignment --run-dir runs/cat": Run(tuple(TINY_TRAIN)),
    "mmzoo train intermediate_cat --set epochs=5 --set lr=3e-4 --set lidar_scale=0.02": Run(tuple(TINY_TRAIN)),
    "mmzoo train intermediate_cat --run-dir runs/cat --log mlflow": Elsewhere(
        "tests/train/test_tracking.py::test_mmzoo_train_log_mlflow", "tiny, read back with MlflowClient"),
    "mmzoo bench --quick --log tensorboard": Elsewhere(
        "tests/train/test_tracking.py::test_mmzoo_bench_quick_log_tensorboard", "one row, tiny, read back"),
    "torchrun --standalone --nproc-per-node 4 -m mmzoo train intermediate_cat --run-dir runs/cat": _TORCHRUN,
    "torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint node0:29400 --rdzv-id cat -m mmzoo "
    "train intermediate_cat --run-dir runs/cat": _TORCHRUN,
    "torchrun --standalone --nproc-per-node 2 -m mmzoo train intermediate_cat --device cpu": _TORCHRUN,
    # docs/benchmarks.md
    "mmzoo bench --list": Run(),
    "mmzoo bench --table assignment-scaled": _HARNESS,
    "mmzoo bench --table course --models course_early_fusion course_lidar_only --set train_frames=2000": _HARNESS,
    "mmzoo bench --table assignment --devices cuda:0 cuda:1": _SHARDS,
    "torchrun --nproc-per-node 2 -m mmzoo bench --table assignment": _SHARDS,
    "mmzoo bench --table assignment-scaled --device cuda --seeds-at-once --whole-step-graphs":
        Elsewhere("tests/bench/test_seeds_at_once.py::test_the_bench_command_passes_seeds_at_once_and_the_graphs"),
    "python benchmarks/run_tables.py": _HARNESS,
    "python benchmarks/update_docs.py": _DOCS,
    "python benchmarks/run_tables.py --tables zoo-shapes --threads 1":
        Elsewhere("tests/bench/test_harness.py::test_the_zoo_tables_hold_every_registered_architecture_once"),
    "python benchmarks/run_tables.py --tables zoo-cubes --threads 1":
        Elsewhere("tests/bench/test_harness.py::test_the_zoo_tables_hold_every_registered_architecture_once"),
    **{command: Elsewhere("tests/bench/test_zoo_plateau.py::test_the_study_reports_the_cheapest_budget_all_agree_on")
       for command in ("python benchmarks/zoo_plateau.py --task shapes", "python benchmarks/zoo_plateau.py --task cubes",
                       "python benchmarks/zoo_plateau.py --task cubes --stage probe")},
    **{command: _CAMPAIGN for command in ("python benchmarks/zoo_weights.py",
                                           "python benchmarks/zoo_campaign.py --unpack FILES_AT")},
    "python studies/fidelity_dynamics.py --shard 0/2 &": _FIDELITY,
    "python studies/fidelity_dynamics.py --shard 1/2": _FIDELITY,
    "python studies/fidelity_dynamics.py --report": _FIDELITY,
    "python studies/many_runs.py":
        Elsewhere("tests/studies/test_study_scripts.py::test_many_runs_times_both_ways_on_the_same_runs"),
    "python benchmarks/baselines.py": Elsewhere("tests/bench/test_scripts.py::test_the_input_blind_baseline_is_the_mean_prediction"),
    # docs/pretrained.md
    "mmzoo export intermediate_cat --recipe assignment --tag shapes_v1 --out weights --set lidar_scale=0.02 "
    "--run-dir runs/assignment-scaled/intermediate_cat/seed51": _EXPORT,
    "mmzoo export late_fusion --set train_frames=64 --set val_frames=32 --set epochs=1 --out /tmp/weights": _EXPORT,
    "mmzoo publish weights/intermediate_cat.shapes_v1 --repo-id mmzoo/intermediate_cat.shapes_v1 --dry-run":
        Elsewhere("tests/hub/test_publish_cli.py::test_dry_run_verifies_and_lists_but_sends_nothing"),
    "mmzoo publish weights/intermediate_cat.shapes_v1 --repo-id mmzoo/intermediate_cat.shapes_v1 --pin":
        Elsewhere("tests/hub/test_publish_cli.py::test_committed_weights_round_trip_through_the_hub_and_pin"),
    # docs/data.md (in this order: preview reads what generate wrote)
    "mmzoo data list": Run(),
    "mmzoo data generate shapes --out data/shapes --frames 2000 --seed 0": Run(("--frames", "24", "--quiet")),
    "mmzoo data generate cubes --out data/cubes --frames 10000": Run(("--frames", "24", "--quiet")),
    "mmzoo data preview data/shapes --out shapes.png --n 8": Run(("--n", "2")),
    "python studies/fidelity_lidar_cnn.py --checkpoint PATH/TO/lidar_cnn.pt --frames 2000 --seed 0 --json "
    "studies/results/fidelity-lidar-cnn/results.json":
        Elsewhere("tests/test_docs.py::test_fidelity_script_runs_on_a_stand_in_checkpoint"),
    # docs/robustness.md
    "mmzoo robustness --list": Run(),
    "mmzoo robustness late_fusion_strided.shapes_v1 intermediate_cat_strided.shapes_v1 --frames 32 --out rb":
        Run(("--frames", "8", "--corruptions", "lidar_missing", "--quiet")),
    "python benchmarks/robustness.py --dropout-comparison --shard 0/2 &": _DROPOUT,
    "python benchmarks/robustness.py --dropout-comparison --shard 1/2": _DROPOUT,
    "python benchmarks/robustness.py --dropout-comparison --report": _DROPOUT,
    "python benchmarks/robustness.py --dropout-comparison --budget zoo --models course_late_fusion --dropout 1.0":
        _DROPOUT,
    "python benchmarks/robustness.py --dropout-comparison --budget 1000-steps --models course_late_fusion --dropout "
    "0.8 1.0 --seeds 51 --baseline-runs runs/zoo-shapes/course_rgb_only/seed51-* "
    "runs/zoo-shapes/course_lidar_only/seed51-*": _DROPOUT,
    "python benchmarks/run_tables.py --tables zoo-shapes --models course_rgb_only course_lidar_only --seeds 51 "
    "--threads 1": _HARNESS,
    "python benchmarks/robustness.py":
        Elsewhere("tests/bench/test_robustness.py::test_the_script_runs_the_command_with_the_published_settings"),
    "mmzoo train intermediate_cat --set modality_dropout=0.25 --set corruption_augment=camera_noise,lidar_dropout "
    "--run-dir runs/cat-md": Run(tuple(TINY_TRAIN)),
    "mmzoo robustness --run-dir runs/cat-md --out rb-md": Run(("--frames", "8", "--corruptions", "lidar_missing",
                                                               "--quiet")),
    # docs/contributing.md
    'pip install -e ".[test,docs]"': _CI,
    'python -m pytest -q -m "not slow"': _CI,
    "python -m pytest -q tests/test_docs.py": Elsewhere("tests/test_docs.py::test_every_shown_command_is_listed"),
    "mkdocs build --strict": Elsewhere("tests/test_docs.py::test_mkdocs_build_is_strict_and_clean"),
    # docs/deploy.md
    'pip install "mmzoo[export]"': _CI,
    "mmzoo export-onnx intermediate_cat --pretrained --out cat.onnx":
        Elsewhere("tests/release/test_onnx.py::test_must_show_cli_export_then_onnxruntime_predicts_as_mmzoo"),
    "mmzoo golden --check weights/*":
        Elsewhere("tests/release/test_golden.py::test_recording_changes_nothing_else_and_the_cli_checks"),
    "python benchmarks/inference_speed.py":
        Elsewhere("tests/release/test_inference_speed.py::test_the_script_writes_rows_and_the_machine"),
    # docs/finetune.md: its blocks build on each other (a folder, then a model), so one test runs them all in order
    **{command: _TUTORIAL for command in (
        "mmzoo train late_fusion_strided --pretrained --data-dir my_data --out my_model --freeze encoders --set epochs=20",
        "mmzoo predict local-dir:my_model my_data --split test --out predictions.csv",
        "mmzoo evaluate local-dir:my_model my_data --split test --plot confusion.png",
    )},
    "HF_HUB_OFFLINE=1 nice python benchmarks/finetune.py --threads 1 --out benchmarks/results/finetune":
        Elsewhere("tests/test_finetune_tutorial.py::test_the_benchmark_script_runs_a_tiny_task"),
}


def test_every_shown_command_is_listed():
    shown = {command: page_id(page) for page in PAGES for command in shell_commands(page)}
    unlisted = sorted(f"{page}: {command}" for command, page in shown.items() if command not in COMMANDS)
    assert not unlisted, "add these commands to COMMANDS (run here or name the test that runs them):\n" + "\n".join(
        unlisted
    )


@pytest.mark.parametrize("entry", sorted({e.test for e in COMMANDS.values() if isinstance(e, Elsewhere)}))
def test_the_tests_named_for_commands_exist(entry):
    path, _, name = entry.partition("::")
    assert (ROOT / path).is_file(), f"{path} is gone; update COMMANDS"
    assert re.search(rf"^\s*def {re.escape(name)}\(", (ROOT / path).read_text(), re.M), f"no {name} in {path}"


RUN_PAGES = [page for page in PAGES if any(isinstance(COMMANDS.get(c), Run) for c in shell_commands(page))]


@pytest.mark.parametrize("page", RUN_PAGES, ids=page_id)
def test_shown_commands_run_on_tiny_settings(page, tmp_path, monkeypatch, capsys):
    """The page's ``mmzoo`` commands in order, in one empty folder, each with the extra arguments of COMMANDS."""
    from mmzoo.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for command in shell_commands(page):
        entry = COMMANDS.get(command)
        if not isinstance(entry, Run):
            continue
        argv = shlex.split(command)
        assert argv[0] == "mmzoo", f"only mmzoo commands run in-process: {command}"
        code = main(argv[1:] + list(entry.extra))
        assert code == 0, f"{command!r} exited {code}: {capsys.readouterr().err[-2000:]}"


def test_fidelity_script_runs_on_a_stand_in_checkpoint(tmp_path, repo_script):
    """The fidelity command, with a randomly initialised classifier of the right shape in place of the course's."""
    import torch

    module = repo_script("studies/fidelity_lidar_cnn.py")
    torch.manual_seed(0)
    torch.save(module.build_lidar_cnn().state_dict(), tmp_path / "lidar_cnn.pt")
    out = tmp_path / "fidelity.json"
    assert module.main(["--checkpoint", str(tmp_path / "lidar_cnn.pt"), "--frames", "8", "--seed", "0",
                        "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["frames"] == 8 and 0.0 <= result["accuracy"] <= 1.0


def test_fidelity_numbers_in_the_data_page_are_the_result_file():
    result = json.loads((ROOT / "studies" / "results" / "fidelity-lidar-cnn" / "results.json").read_text())
    text = " ".join((ROOT / "docs" / "data.md").read_text().split())  # phrases may wrap across lines
    per_class, hits = result["per_class_accuracy"], result["hit_beams_per_frame"]
    expected = [
        f"**{100 * result['accuracy']:.2f} %** accuracy",
        f"cube {100 * per_class['cube']:.2f} %, sphere {100 * per_class['sphere']:.2f} %",
        f"{result['frames']:,} frames, seed {result['seed']}",
        f"dataset version {result['version']}",
        f"{hits['mean']:.0f} hit beams per frame on average ({hits['min']} to {hits['max']})",
    ]
    missing = [phrase for phrase in expected if phrase not in text]
    assert not missing, f"docs/data.md disagrees with studies/results/fidelity-lidar-cnn/results.json: expected {missing}"


def test_weights_table_in_the_docs_is_mmzoo_weights_output():
    import mmzoo
    from mmzoo.cli.export import WEIGHT_COLUMNS, weight_rows
    from mmzoo.cli.models import format_table

    table = format_table(WEIGHT_COLUMNS, weight_rows(mmzoo.list_models(pretrained=True)))
    assert table in (ROOT / "docs" / "pretrained.md").read_text(), (
        "regenerate it: mmzoo weights --update-readme docs/pretrained.md"
    )


def test_the_recipes_described_are_the_recipes():
    from mmzoo.train import get_recipe

    text = " ".join((ROOT / "docs" / "training.md").read_text().split())
    for name in ("assignment", "course"):
        r = get_recipe(name)
        lr = f"{r.lr:.0e}".replace("e-0", "e-")
        phrase = (f"`{name}`: Adam {lr} " + ("cosine-annealed per step to " + f"{r.min_lr:.0e}".replace("e-0", "e-")
                                              if r.schedule == "cosine" else "constant"))
        assert phrase in text, f"docs/training.md misdescribes {name}: expected {phrase!r}"
        assert f"batch {r.batch_size}, {r.epochs} epochs" in text
        assert f"{r.train_frames:,} / {r.val_frames:,} frames" in text
        assert f"of the synthetic `{r.dataset}` set" in text or f"of `{r.dataset}`" in text
